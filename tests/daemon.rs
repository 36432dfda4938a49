//! `zaitaku run` against real servers on 127.0.0.1: Dovecot for IMAP (IDLE) and an aiosmtpd
//! SMTP server. Nothing lost, nothing processed or answered twice — through a backlog, a
//! SIGKILL in the middle of it, an IMAP server restart and an SMTP server that is down.

mod helpers;

use std::collections::HashSet;
use std::process::{Child, Stdio};

use helpers::servers::{Dovecot, SmtpSink, SmtpTarpit, eventually};
use helpers::{Backend, Zt, fixture};

const DAY: &str = "12-Jan-2021 08:27:41 +0900";

/// A register with E1001 ordered for 2021-01-12, and the config pointed at the servers.
/// The backlogs are one teleworker's mail many times over: the loop breaker is set out of the
/// way (tests/isolation.rs tests it).
fn world(backend: Backend, imap: &Dovecot, smtp: &SmtpSink) -> Zt {
    let zt = Zt::new(backend);
    std::fs::write(
        zt.path("config/zaitaku.toml"),
        format!(
            "database = \"{}\"\n[mail]\nsource = \"{}\"\ntransport = \"{}\"\npoll_seconds = 1\nretry_base_seconds = 1\ndelivery_lease_seconds = 2\nmax_answers_per_address_per_day = 1000000\n\
             [daemon]\ntick = \"* * * * * *\"\n",
            zt.db,
            imap.url(),
            smtp.url()
        ),
    )
    .unwrap();
    zt.with_staff().with_orders_0112();
    zt
}

fn start(zt: &Zt) -> (Child, std::path::PathBuf) {
    zt.start_run(None)
}

fn stop(zt: &Zt, daemon: (Child, std::path::PathBuf)) {
    let (status, log) = zt.stop_run(daemon);
    assert!(
        status.success(),
        "zaitaku run should exit 0 after SIGTERM, got {status}\n{log}"
    );
    assert!(
        log.contains("mailbox connected"),
        "the log says when the mailbox connects:\n{log}"
    );
}

/// The fixture with its Message-ID made unique: a backlog of distinct mails.
fn variant(i: usize) -> Vec<u8> {
    let text = std::fs::read(fixture("mail/01-start-iso2022jp.eml")).unwrap();
    let text = String::from_utf8(text).unwrap();
    text.replacen(
        "Message-ID: <20210112082735.1001@",
        &format!("Message-ID: <backlog{i}.20210112082735.1001@"),
        1,
    )
    .into_bytes()
}

fn write_variants(zt: &Zt, n: usize) -> Vec<std::path::PathBuf> {
    let dir = zt.path("backlog");
    std::fs::create_dir_all(&dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("{i}.eml"));
            std::fs::write(&p, variant(i)).unwrap();
            p
        })
        .collect()
}

fn report_count(zt: &Zt) -> usize {
    let b = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
    b["teleworkers"][0]["reports"]
        .as_array()
        .map(|r| r.len())
        .unwrap_or(0)
}

fn ack_ids(sink: &SmtpSink) -> Vec<String> {
    sink.received()
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn idle_delivers_a_new_message_and_its_acknowledgement() {
    let imap = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(dir.path());
    let zt = world(Backend::Sqlite, &imap, &smtp);
    let d = start(&zt);
    std::thread::sleep(std::time::Duration::from_millis(500));
    imap.append(
        &std::fs::read(fixture("mail/01-start-iso2022jp.eml")).unwrap(),
        DAY,
    );
    eventually(20, "the acknowledgement at the SMTP server", || {
        !smtp.received().is_empty()
    });
    let ack = &smtp.received()[0];
    assert!(
        ack.contains("In-Reply-To: <20210112082735.1001@pc01.city.example.lg.jp>"),
        "{ack}"
    );
    let b = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
    // INTERNALDATE is the arrival time.
    assert_eq!(
        b["teleworkers"][0]["start"]["at"],
        "2021-01-12T08:27:41+09:00"
    );
    assert_eq!(b["teleworkers"][0]["start"]["source"], "imap");
    eventually(10, "the message flagged \\Seen", || imap.counts() == (1, 1));
    stop(&zt, d);
}

#[test]
fn a_backlog_present_at_start_is_processed_once() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        let zt = world(b, &imap, &smtp);
        imap.append_many(&write_variants(&zt, 40), DAY);
        let d = start(&zt);
        eventually(60, "40 acknowledgements", || smtp.received().len() >= 40);
        stop(&zt, d);
        // Restarted: nothing is read or answered again.
        let d = start(&zt);
        std::thread::sleep(std::time::Duration::from_secs(2));
        stop(&zt, d);
        assert_eq!(report_count(&zt), 40);
        assert_eq!(smtp.received().len(), 40);
    }
}

#[test]
fn killed_in_the_middle_of_a_backlog_nothing_is_lost_or_doubled() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        let zt = world(b, &imap, &smtp);
        let n = 600;
        imap.append_many(&write_variants(&zt, n), DAY);
        let (mut d, _) = start(&zt);
        eventually(60, "the first acknowledgements", || {
            !smtp.received().is_empty()
        });
        d.kill().unwrap(); // SIGKILL: no chance to finish anything
        d.wait().unwrap();
        assert!(
            smtp.received().len() < n,
            "killed before the backlog was done; make it longer"
        );
        let d = start(&zt);
        eventually(120, "every message answered", || {
            ack_ids(&smtp).into_iter().collect::<HashSet<_>>().len() >= n
        });
        stop(&zt, d);
        assert_eq!(report_count(&zt), n, "{b:?}: each message is one report");
        let ids = ack_ids(&smtp);
        let distinct: HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), n);
        // A mail accepted by the server but not yet marked sent when killed may go once more,
        // with the same Message-ID; never more than the batch in flight.
        assert!(ids.len() - n <= 200, "{} resent", ids.len() - n);
    }
}

#[test]
fn the_imap_server_restarting_does_not_stop_the_daemon() {
    let mut imap = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(dir.path());
    let zt = world(Backend::Sqlite, &imap, &smtp);
    let d = start(&zt);
    imap.append(&variant(1), DAY);
    eventually(20, "the first acknowledgement", || {
        smtp.received().len() == 1
    });
    imap.down();
    std::thread::sleep(std::time::Duration::from_secs(1));
    imap.up();
    imap.append(&variant(2), DAY);
    eventually(40, "the second acknowledgement after the restart", || {
        smtp.received().len() == 2
    });
    stop(&zt, d);
    assert_eq!(report_count(&zt), 2);
}

#[test]
fn mail_waits_while_the_smtp_server_is_down_and_goes_once_when_it_returns() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let mut smtp = SmtpSink::start(dir.path());
        let zt = world(b, &imap, &smtp);
        smtp.down();
        let d = start(&zt);
        imap.append_many(&write_variants(&zt, 3), DAY);
        eventually(20, "three reports recorded while SMTP is down", || {
            report_count(&zt) == 3
        });
        std::thread::sleep(std::time::Duration::from_secs(2));
        assert!(smtp.received().is_empty());
        smtp.up();
        eventually(60, "three acknowledgements once SMTP is back", || {
            smtp.received().len() == 3
        });
        std::thread::sleep(std::time::Duration::from_secs(3));
        stop(&zt, d);
        let ids: HashSet<_> = ack_ids(&smtp).into_iter().collect();
        assert_eq!(
            (smtp.received().len(), ids.len()),
            (3, 3),
            "none lost, none twice"
        );
    }
}

#[test]
fn a_maildir_source_is_polled_and_answered() {
    let zt = Zt::new(Backend::Sqlite);
    let inbox = zt.path("inbox");
    std::fs::write(
        zt.path("config/zaitaku.toml"),
        format!(
            "database = \"{}\"\n[mail]\nsource = \"maildir:{}\"\ntransport = \"file:{}\"\npoll_seconds = 1\n",
            zt.db,
            inbox.display(),
            zt.path("sent").display()
        ),
    )
    .unwrap();
    zt.with_staff().with_orders_0112();
    let mut d = zt
        .cmd(&["run"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually(10, "the maildir created", || inbox.join("new").is_dir());
    std::fs::copy(
        fixture("mail/01-start-iso2022jp.eml"),
        inbox.join("tmp/1610407661.M1P1.mx"),
    )
    .unwrap();
    std::fs::rename(
        inbox.join("tmp/1610407661.M1P1.mx"),
        inbox.join("new/1610407661.M1P1.mx"),
    )
    .unwrap();
    eventually(20, "the acknowledgement in sent/", || zt.sent().len() == 1);
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(d.id().to_string())
        .status();
    assert!(d.wait().unwrap().success());
    assert!(inbox.join("cur/1610407661.M1P1.mx:2,S").exists());
}

#[test]
fn a_refused_mail_is_marked_failed_shown_on_the_board_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start_rejecting(dir.path(), &["yamada@city.example.lg.jp"]);
    let zt = Zt::new(Backend::Sqlite);
    std::fs::write(
        zt.path("config/zaitaku.toml"),
        format!(
            "database = \"{}\"\n[mail]\ntransport = \"{}\"\nretry_base_seconds = 1\n",
            zt.db,
            smtp.url()
        ),
    )
    .unwrap();
    zt.with_staff().with_orders_0112();
    let out = zt.ok(&[
        "ingest",
        fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        fixture("mail/03-start-utf8-base64.eml").to_str().unwrap(),
    ]);
    assert!(out.contains("1 sent") && out.contains("1 failed"), "{out}");
    let b = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
    assert_eq!(b["outbox"]["failed"], 1);
    assert_eq!(
        b["outbox"]["failures"][0]["to"],
        "yamada@city.example.lg.jp"
    );
    assert!(
        b["outbox"]["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("550"),
        "{b}"
    );
    let text = zt.ok(&[
        "status",
        "--date",
        "2021-01-12",
        "--now",
        "2021-01-12T12:00:00+09:00",
    ]);
    assert!(text.contains("送信できなかったメール 1 通"), "{text}");
    // Later ticks do not try it again.
    zt.ok(&["tick", "--now", "2021-01-12T13:00:00+09:00"]);
    let received = smtp.received();
    assert!(
        received.iter().all(|m| !m.contains("To: yamada@")),
        "the refused mail is not tried again"
    );
    assert!(received.iter().any(|m| m.contains("To: sato@")));
    assert_eq!(
        zt.status_json("2021-01-12", "2021-01-12T13:00:00+09:00")["outbox"]["failed"],
        1
    );
}

/// Like `world`, but with the shipped defaults for retries, leases and the tick (a delivery
/// lease of 120 s, retries after 30 s doubling, the tick once a minute): what a city runs.
fn world_with_defaults(backend: Backend, imap: &Dovecot, smtp: &SmtpSink) -> Zt {
    let zt = Zt::new(backend);
    std::fs::write(
        zt.path("config/zaitaku.toml"),
        format!(
            "database = \"{}\"\n[mail]\nsource = \"{}\"\ntransport = \"{}\"\npoll_seconds = 1\n",
            zt.db,
            imap.url(),
            smtp.url()
        ),
    )
    .unwrap();
    zt.with_staff().with_orders_0112();
    zt
}

/// A server on the SMTP sink's port that accepts connections and never says a word: a daemon
/// that has claimed mail hangs there, holding the claim, until it is killed.
struct Stall {
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stall {
    fn on(port: u16) -> Stall {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (a, s) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((c, _)) => {
                        held.push(c);
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        });
        Stall {
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes the port and every connection it held.
    fn close(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

#[test]
fn a_daemon_killed_while_holding_claimed_mail_sends_it_within_30s_of_its_restart() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let mut smtp = SmtpSink::start(dir.path());
        let zt = world_with_defaults(b, &imap, &smtp);
        smtp.down();
        let stall = Stall::on(smtp.port);
        let (mut d, _) = start(&zt);
        let n = 5;
        imap.append_many(&write_variants(&zt, n), DAY);
        // The daemon connects only after its claim is committed: once it is in the stalled
        // conversation, the acknowledgements are leased to it.
        eventually(30, "the daemon in an SMTP conversation", || {
            stall.accepted() > 0
        });
        assert_eq!(report_count(&zt), n);
        d.kill().unwrap(); // SIGKILL with the claim in hand
        d.wait().unwrap();
        stall.close();
        smtp.up();
        let restarted = std::time::Instant::now();
        let d = start(&zt);
        eventually(
            30,
            "every acknowledgement within 30 s of the restart",
            || ack_ids(&smtp).into_iter().collect::<HashSet<_>>().len() >= n,
        );
        eprintln!(
            "{b:?}: all acknowledged {:?} after the restart",
            restarted.elapsed()
        );
        stop(&zt, d);
        let ids = ack_ids(&smtp);
        let distinct: HashSet<_> = ids.iter().collect();
        assert_eq!((ids.len(), distinct.len()), (n, n), "{b:?}: each once");
    }
}

#[test]
fn after_a_five_second_smtp_outage_everything_goes_within_10s_of_its_return() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let mut smtp = SmtpSink::start(dir.path());
        let zt = world_with_defaults(b, &imap, &smtp);
        let d = start(&zt);
        imap.append(&variant(100), DAY);
        eventually(20, "the first acknowledgement", || {
            smtp.received().len() == 1
        });
        smtp.down();
        let down = std::time::Instant::now();
        // Reports keep coming during the outage; each answer fails at its own moment.
        let files = write_variants(&zt, 4);
        for f in &files {
            imap.append(&std::fs::read(f).unwrap(), DAY);
            std::thread::sleep(std::time::Duration::from_millis(700));
        }
        eventually(20, "the reports recorded while SMTP is down", || {
            report_count(&zt) == 5
        });
        if let Some(rest) = std::time::Duration::from_secs(5).checked_sub(down.elapsed()) {
            std::thread::sleep(rest);
        }
        assert_eq!(smtp.received().len(), 1, "nothing accepted while down");
        smtp.up();
        let back = std::time::Instant::now();
        eventually(
            10,
            "every acknowledgement within 10 s of the server's return",
            || smtp.received().len() >= 5,
        );
        eprintln!(
            "{b:?}: all acknowledged {:?} after the return",
            back.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        stop(&zt, d);
        let ids: HashSet<_> = ack_ids(&smtp).into_iter().collect();
        assert_eq!(
            (smtp.received().len(), ids.len()),
            (5, 5),
            "{b:?}: none lost, none twice"
        );
    }
}

/// `run --now T` rehearses a past day: the daemon's one clock starts at T, so the scheduler
/// fires that morning's escalation at its time by that clock, and the mail it sends is dated
/// by it. With the wall clock (2026) nothing of 2021-01-12 would ever be due.
#[test]
fn run_with_now_rehearses_a_day_on_the_daemons_one_clock() {
    for b in helpers::backends() {
        let zt = Zt::new(b);
        std::fs::write(
            zt.path("config/zaitaku.toml"),
            format!(
                "database = \"{}\"\n[mail]\nsource = \"maildir:{}\"\ntransport = \"file:{}\"\npoll_seconds = 1\n[daemon]\ntick = \"* * * * * *\"\n",
                zt.db,
                zt.path("inbox").display(),
                zt.path("sent").display()
            ),
        )
        .unwrap();
        zt.with_staff().with_orders_0112();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        let acks = zt.sent().len();
        let daemon =
            zt.start_run_with(&["run", "--now", "2021-01-12T08:44:57+09:00"], Some("info"));
        // 佐藤 (E1002) never reported: the first step of the chain is due at 08:45 that day.
        let reminder = |sent: &[String]| {
            sent.iter()
                .filter(|m| m.contains("To: sato@city.example.lg.jp"))
                .cloned()
                .collect::<Vec<_>>()
        };
        eventually(30, "the 08:45 reminder by the daemon's clock", || {
            !reminder(&zt.sent()).is_empty()
        });
        let (status, log) = zt.stop_run(daemon);
        assert!(status.success(), "{b:?}: {status}\n{log}");
        let sent = zt.sent();
        let r = reminder(&sent);
        assert_eq!(r.len(), 1, "{b:?}: one reminder\n{log}");
        assert!(
            r[0].contains("Date: Tue, 12 Jan 2021 08:45:")
                || r[0].contains("Date: Tue, 12 Jan 2021 08:46:"),
            "{b:?}: dated by the daemon's clock:\n{}",
            r[0]
        );
        assert_eq!(sent.len(), acks + 1, "{b:?}: nothing else sent\n{log}");
    }
}

/// Issue 21's stall, as a class. An ingest batch held its transaction while it took a second
/// connection from the pool; with every connection held so, the daemon stood still until the
/// pool's 30 s timeout. On a pool of one connection (`database_connections = 1`) anything in
/// the daemon that does so waits for itself: here the daemon takes in a backlog over IMAP,
/// answers it, fires the 08:45 reminder on its tick, records a report from the browser and
/// serves the board, all on one connection, with no wait for one in its log.
#[test]
fn the_whole_daemon_works_on_one_database_connection() {
    const PW: &str = "correct horse battery";
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        let zt = world(b, &imap, &smtp);
        zt.set_passwords(&["E1002", "E2001"], PW);
        let listen = format!("127.0.0.1:{}", helpers::servers::free_port());
        let cfg = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
        zt.write(
            "config/zaitaku.toml",
            &format!("database_connections = 1\n{cfg}[web]\nlisten = \"{listen}\"\n"),
        );
        imap.append_many(&write_variants(&zt, 40), DAY);
        let d = zt.start_run_with(&["run", "--now", "2021-01-12T08:44:57+09:00"], Some("info"));
        eventually(60, "40 acknowledgements", || {
            ack_ids(&smtp).into_iter().collect::<HashSet<_>>().len() >= 40
        });
        eventually(30, "佐藤's 08:45 reminder", || {
            smtp.received()
                .iter()
                .any(|m| m.contains("To: sato@city.example.lg.jp"))
        });
        let mut sato = helpers::http::Client::new(&listen);
        sato.login("E1002", PW).expect(303);
        let csrf = sato.session_csrf();
        let r = sato.post("/my/report", &[("csrf", &csrf), ("kind", "start")]);
        r.expect(200);
        assert!(
            r.body.contains("業務開始の連絡を受け付けました"),
            "{b:?}: {}",
            r.body
        );
        let mut suzuki = helpers::http::Client::new(&listen);
        suzuki.login("E2001", PW).expect(303);
        let board = suzuki.get("/board");
        board.expect(200);
        assert!(board.body.contains("佐藤"), "{}", board.body);
        suzuki.get("/escalations").expect(200);
        let (status, log) = zt.stop_run(d);
        assert!(status.success(), "{b:?}: {status}\n{log}");
        assert!(
            !log.contains("pool timed out"),
            "{b:?}: something waited for a connection:\n{log}"
        );
        let sato = zt.teleworker("2021-01-12", "2021-01-12T12:00:00+09:00", "E1002");
        assert_eq!(sato["start"]["source"], "web", "{b:?}: {sato}");
        assert_eq!(report_count(&zt), 40, "{b:?}");
    }
}

#[test]
fn a_relay_that_takes_the_connection_and_never_answers_delays_the_answer_not_for_ever() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        // The first connection is swallowed: no greeting, ever. Later ones reach the server.
        let tarpit = SmtpTarpit::start(1, smtp.port);
        let zt = world(b, &imap, &smtp);
        let cfg = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
        zt.write(
            "config/zaitaku.toml",
            &cfg.replace(&smtp.url(), &tarpit.url()).replace(
                "delivery_lease_seconds = 2\n",
                "delivery_lease_seconds = 30\nsmtp_timeout_seconds = 2\n",
            ),
        );
        let d = start(&zt);
        imap.append(
            &std::fs::read(fixture("mail/01-start-iso2022jp.eml")).unwrap(),
            DAY,
        );
        eventually(30, "the acknowledgement past the silent connection", || {
            !smtp.received().is_empty()
        });
        assert!(
            tarpit.accepted() >= 2,
            "{b:?}: it went on a second connection"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        let (status, log) = zt.stop_run(d);
        assert!(status.success(), "{log}");
        assert!(
            log.contains("no answer within 2 s"),
            "{b:?}: the log says why:\n{log}"
        );
        assert_eq!(smtp.received().len(), 1, "{b:?}: answered once");
    }
}

/// The daemon keeps the staff directory between mails (issue 21); a change made meanwhile by
/// another process — IT importing a new address — counts from the next mail.
#[test]
fn an_address_imported_while_the_daemon_runs_counts_from_the_next_mail() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        let zt = world(b, &imap, &smtp);
        let d = start(&zt);
        imap.append(&variant(1), DAY);
        eventually(20, "the first mail answered", || smtp.received().len() == 1);
        // 山田 has a new address, imported by the CLI while the daemon runs.
        let csv = std::fs::read_to_string(fixture("register/employees.csv"))
            .unwrap()
            .replace(
                "yamada@city.example.lg.jp",
                "taro.yamada@city.example.lg.jp",
            );
        zt.write("staff-new-address.csv", &csv);
        zt.ok(&[
            "employees",
            "import",
            zt.path("staff-new-address.csv").to_str().unwrap(),
        ]);
        let from_new = String::from_utf8(variant(2)).unwrap().replace(
            "<yamada@city.example.lg.jp>",
            "<taro.yamada@city.example.lg.jp>",
        );
        imap.append(from_new.as_bytes(), DAY);
        eventually(
            20,
            "the mail from the new address recorded as 山田's",
            || report_count(&zt) == 2,
        );
        stop(&zt, d);
    }
}

/// An IMAP server that stops answering in the middle of a command (here its first UID
/// SEARCH) costs the mailbox `imap_timeout_seconds`, then the session is opened again and the
/// mail is answered; it never holds the mailbox until the connection dies.
#[test]
fn an_imap_server_silent_in_the_middle_of_a_command_costs_a_reconnect_not_the_mailbox() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        let freeze = helpers::servers::ImapFreeze::start(imap.port, "UID SEARCH");
        let zt = world(b, &imap, &smtp);
        let cfg = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
        zt.write(
            "config/zaitaku.toml",
            &cfg.replace(
                &format!("127.0.0.1:{}/", imap.port),
                &format!("127.0.0.1:{}/", freeze.port),
            )
            .replace(
                "poll_seconds = 1\n",
                "poll_seconds = 1\nimap_timeout_seconds = 2\n",
            ),
        );
        imap.append(&variant(1), DAY);
        let d = start(&zt);
        eventually(30, "the mail answered on a second session", || {
            smtp.received().len() == 1
        });
        let (status, log) = zt.stop_run(d);
        assert!(status.success(), "{log}");
        assert!(
            log.contains("UID SEARCH: no answer within 2 s"),
            "{b:?}: the log says why:\n{log}"
        );
    }
}

type Daemon = (Child, std::path::PathBuf);

fn log_of(d: &Daemon) -> String {
    std::fs::read_to_string(&d.1).unwrap_or_default()
}

/// Two daemons on one database and mailbox: the first reading it, the second standing by.
fn reader_and_standby(zt: &Zt) -> (Daemon, Daemon) {
    let reader = zt.start_run(Some("info"));
    eventually(30, "the first daemon reading the mailbox", || {
        log_of(&reader).contains("mailbox connected")
    });
    let standby = zt.start_run(Some("info"));
    eventually(30, "the second daemon standing by", || {
        log_of(&standby).contains("this one stands by")
    });
    (reader, standby)
}

/// Two daemons on one database and one mailbox (a stand-by for the city's daemon): only the
/// lease holder reads it, so each mail is fetched and stored once; when the holder stops, the
/// other reads the mailbox at once and answers the next mail. Before the leases both read
/// every mail and the second lost each one on the unique key.
#[test]
fn a_standby_daemon_reads_nothing_until_the_first_stops_then_takes_over_at_once() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        let zt = world(b, &imap, &smtp);
        let cfg = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
        zt.write(
            "config/zaitaku.toml",
            &cfg.replacen("[mail]\n", "[mail]\nmailbox_lease_seconds = 3\n", 1),
        );
        let (first, second) = reader_and_standby(&zt);
        imap.append(&variant(1), DAY);
        eventually(20, "the first mail answered", || smtp.received().len() == 1);
        let (status, one) = zt.stop_run(first);
        assert!(status.success(), "{one}");
        eventually(10, "the second daemon reading the mailbox", || {
            log_of(&second).contains("mailbox connected")
        });
        imap.append(&variant(2), DAY);
        eventually(20, "the second mail answered", || {
            smtp.received().len() == 2
        });
        std::thread::sleep(std::time::Duration::from_secs(2));
        let (status, two) = zt.stop_run(second);
        assert!(status.success(), "{two}");
        let batches = |l: &str| l.matches("mailbox batch done").count();
        assert_eq!(
            (batches(&one), batches(&two)),
            (1, 1),
            "{b:?}: each mail fetched by one daemon\n--- first ---\n{one}\n--- second ---\n{two}"
        );
        assert_eq!(smtp.received().len(), 2, "{b:?}: one answer a mail");
        assert_eq!(report_count(&zt), 2, "{b:?}");
    }
}

/// The daemon standing by must not race the reader for the city's answers: each city's
/// answers are sent by the daemon reading its mailbox. Two daemons that both sent them fought
/// over the same rows, and answered a backlog at half one daemon's rate. Here the reader is
/// paused (SIGSTOP: alive, its lease still good) while an answer is queued; the daemon
/// standing by leaves it, and the reader sends it when it goes on.
#[test]
fn the_daemon_standing_by_leaves_the_readers_answers_to_the_reader() {
    for b in helpers::backends() {
        let imap = Dovecot::start();
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(dir.path());
        let zt = world(b, &imap, &smtp);
        let (reader, standby) = reader_and_standby(&zt);
        let pid = reader.0.id().to_string();
        let signal = |sig: &str| {
            std::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
        };
        signal("-STOP");
        let mail = zt.write("late.eml", std::str::from_utf8(&variant(7)).unwrap());
        zt.ok(&["ingest", "--no-send", mail.to_str().unwrap()]);
        // The standing-by daemon's delivery loop looks every 5 s.
        std::thread::sleep(std::time::Duration::from_secs(8));
        let early = smtp.received().len();
        signal("-CONT");
        eventually(20, "the answer sent by the reader", || {
            smtp.received().len() == 1
        });
        std::thread::sleep(std::time::Duration::from_secs(2));
        let (status, two) = zt.stop_run(standby);
        assert!(status.success(), "{two}");
        let (status, one) = zt.stop_run(reader);
        assert!(status.success(), "{one}");
        assert_eq!(
            early, 0,
            "{b:?}: the daemon standing by sent the reader's answer\n--- standing by ---\n{two}"
        );
        assert_eq!(smtp.received().len(), 1, "{b:?}: one answer");
    }
}
