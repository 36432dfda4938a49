//! Intake that never stalls and never loops (SPEC §4), through the real binary on SQLite and
//! PostgreSQL, each test written as the attack: a NUL in a Message-ID, a subject or a body; a
//! file in the Maildir nobody can read; a mail loop; a forged supervisor's reply. After each, a
//! well-formed report is still processed and acknowledged once.

mod helpers;

use helpers::{Zt, backends, fixture};
use serde_json::Value;

/// A plain start or end mail from `from`, received at `hhmm` on 2021-01-12.
fn mail(from: &str, id: &str, subject: &str, body: &str, hhmm: &str) -> Vec<u8> {
    format!(
        "Received: from mx by mail.city.example.lg.jp; Tue, 12 Jan 2021 {hhmm}:00 +0900\r\n\
         From: {from}\r\nTo: telework@city.example.lg.jp\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\nDate: Tue, 12 Jan 2021 {hhmm}:00 +0900\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn deliver(zt: &Zt, name: &str, bytes: &[u8]) {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(zt.path(&format!("inbox/{sub}"))).unwrap();
    }
    std::fs::write(zt.path(&format!("inbox/new/{name}")), bytes).unwrap();
}

fn new_count(zt: &Zt) -> usize {
    std::fs::read_dir(zt.path("inbox/new")).unwrap().count()
}

fn unmatched(board: &Value) -> Vec<(String, String)> {
    board["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["reason"].as_str().unwrap().to_string(),
                u["from"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn acks_to<'a>(sent: &'a [String], addr: &str) -> Vec<&'a String> {
    sent.iter()
        .filter(|m| m.contains(&format!("To: {addr}")))
        .collect()
}

/// The good report every attack is followed by: 佐藤 starts at 08:29.
fn good_start() -> Vec<u8> {
    mail(
        "sato@city.example.lg.jp",
        "good-start@pc02",
        "業務開始",
        "本日の在宅勤務を開始します。",
        "08:29",
    )
}

#[test]
fn a_nul_in_a_message_id_subject_or_body_sets_that_message_aside_and_the_rest_go_on() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        // A NUL in the Message-ID, an encoded word that decodes to NUL, a NUL in an end
        // report's work summary, and one from a stranger.
        deliver(
            &zt,
            "1610407600.A.mail",
            &mail(
                "yamada@city.example.lg.jp",
                "a\0b@x",
                "業務開始",
                "開始します",
                "08:20",
            ),
        );
        deliver(
            &zt,
            "1610407610.B.mail",
            &mail(
                "kobayashi@city.example.lg.jp",
                "nul-subject@pc04",
                "=?UTF-8?B?5qWt5YuZAOmWi+Wniw==?=",
                "x",
                "08:21",
            ),
        );
        deliver(
            &zt,
            "1610407620.C.mail",
            &mail(
                "yamada@city.example.lg.jp",
                "nul-body@pc01",
                "業務終了",
                "本日の業務を終了します。\0\x1b[2J日報: 手順書",
                "08:22",
            ),
        );
        deliver(
            &zt,
            "1610407630.D.mail",
            &mail("evil@attacker.example", "e@x", "業務開始\0", "\0", "08:23"),
        );
        deliver(&zt, "1610407740.E.mail", &good_start());
        let r = zt.run(&["ingest", "--maildir", zt.path("inbox").to_str().unwrap()]);
        r.expect_code(0);
        assert!(
            r.stdout.contains("5 message(s) processed"),
            "{b:?}: {}",
            r.stdout
        );
        assert_eq!(new_count(&zt), 0, "{b:?}: every message left new/");
        let sent = zt.sent();
        let sato = acks_to(&sent, "sato@city.example.lg.jp");
        assert_eq!(sato.len(), 1, "{b:?}: the good report is answered once");
        assert!(
            sato[0].contains("In-Reply-To: <good-start@pc02>"),
            "{}",
            sato[0]
        );
        for m in &sent {
            assert!(
                !m.contains('\0') && !m.contains('\x1b'),
                "{b:?}: a control character reached an outgoing mail:\n{m:?}"
            );
        }
        assert!(acks_to(&sent, "evil@attacker.example").is_empty());
        // Nothing was lost: the board shows every message, the summary without the NUL.
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        let yamada = board["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1001")
            .unwrap();
        assert_eq!(yamada["reports"].as_array().unwrap().len(), 2, "{board}");
        let summary = yamada["summary"].as_str().unwrap_or_default();
        assert!(
            summary.contains("日報: 手順書") && !summary.contains('\0'),
            "{summary:?}"
        );
        assert!(
            unmatched(&board).contains(&(
                "unknown_sender".to_string(),
                "evil@attacker.example".to_string()
            )),
            "{board}"
        );
        // Again: nothing is processed twice, nothing is answered twice.
        for name in ["1610407600.A.mail", "1610407740.E.mail"] {
            let cur = zt.path(&format!("inbox/cur/{name}:2,S"));
            std::fs::rename(&cur, zt.path(&format!("inbox/new/{name}"))).unwrap();
        }
        zt.ok(&["ingest", "--maildir", zt.path("inbox").to_str().unwrap()]);
        assert_eq!(
            zt.sent().len(),
            sent.len(),
            "{b:?}: a re-read answers nothing"
        );
    }
}

#[test]
fn files_and_stdin_with_a_nul_are_kept_and_do_not_stop_the_next_message() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let bad = zt.path("bad.eml");
        std::fs::write(
            &bad,
            mail(
                "yamada@city.example.lg.jp",
                "x\0y@pc01",
                "業務開始",
                "開始\0",
                "08:20",
            ),
        )
        .unwrap();
        let good = zt.path("good.eml");
        std::fs::write(&good, good_start()).unwrap();
        zt.ok(&["ingest", bad.to_str().unwrap(), good.to_str().unwrap()]);
        let r = zt.run_stdin(
            &["ingest", "-"],
            &mail("kobayashi@city.example.lg.jp", "k\0@x", "\0", "\0", "08:25"),
        );
        r.expect_code(0);
        let sent = zt.sent();
        assert_eq!(acks_to(&sent, "sato@city.example.lg.jp").len(), 1, "{b:?}");
        assert_eq!(
            acks_to(&sent, "yamada@city.example.lg.jp").len(),
            1,
            "{b:?}"
        );
    }
}

#[test]
fn a_file_in_new_that_cannot_be_read_is_quarantined_and_reported_and_the_rest_go_on() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        deliver(&zt, "1610407740.E.mail", &good_start());
        // A link to a folder: every read fails (as a file the daemon's user may not read does).
        std::os::unix::fs::symlink(zt.path("config"), zt.path("inbox/new/1610407600.X.mail"))
            .unwrap();
        let r = zt.run(&[
            "ingest",
            "--json",
            "--maildir",
            zt.path("inbox").to_str().unwrap(),
        ]);
        r.expect_code(0);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let reasons: Vec<&str> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons, ["unparseable", "matched"], "{b:?}: {v}");
        assert_eq!(new_count(&zt), 0);
        assert!(
            zt.path("inbox/quarantine/1610407600.X.mail")
                .symlink_metadata()
                .is_ok(),
            "the unreadable file is kept in quarantine/"
        );
        assert_eq!(
            acks_to(&zt.sent(), "sato@city.example.lg.jp").len(),
            1,
            "{b:?}"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        let u = &board["unmatched"][0];
        assert_eq!(u["reason"], "unparseable", "{board}");
        // Again: the quarantined file is not read again.
        zt.ok(&["ingest", "--maildir", zt.path("inbox").to_str().unwrap()]);
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        assert_eq!(board["unmatched"].as_array().unwrap().len(), 1);
    }
}

/// A Maildir backlog longer than one batch (2,000): the loop breaker's counts, looked up for a
/// whole batch at once and kept only for the batch's days, still hold across batches, and a
/// good report of the second batch is matched to its order (issue 22).
#[test]
fn the_loop_breaker_holds_across_the_batches_of_a_long_backlog() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        for i in 0..2010 {
            let at = format!("08:{:02}", 10 + i % 40);
            let m = mail(
                "yamada@city.example.lg.jp",
                &format!("backlog-{i}@responder"),
                "Re: 業務開始",
                "業務開始",
                &at,
            );
            deliver(&zt, &format!("{}.M{i:05}P1.mail", 1610406000 + i), &m);
        }
        // After the first batch: a good report, in the second.
        deliver(&zt, "1610409000.M99999P1.mail", &good_start());
        zt.ok(&["ingest", "--maildir", zt.path("inbox").to_str().unwrap()]);
        let sent = zt.sent();
        assert_eq!(
            acks_to(&sent, "yamada@city.example.lg.jp").len(),
            10,
            "{b:?}: at most [mail] max_answers_per_address_per_day answers over both batches"
        );
        assert_eq!(acks_to(&sent, "sato@city.example.lg.jp").len(), 1, "{b:?}");
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        let limited = unmatched(&board)
            .iter()
            .filter(|(r, _)| r == "rate_limited")
            .count();
        assert_eq!(limited, 2000, "{b:?}");
    }
}

#[test]
fn the_loop_breaker_answers_one_address_ten_times_a_day_whatever_the_mail_looks_like() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        // A mail loop with an auto-responder that carries none of the marks: each of its
        // mails reads as a start report.
        let files: Vec<String> = (0..12)
            .map(|i| {
                let p = zt.path(&format!("loop-{i:02}.eml"));
                let at = format!("08:{:02}", 10 + i);
                std::fs::write(
                    &p,
                    mail(
                        "yamada@city.example.lg.jp",
                        &format!("loop-{i}@responder"),
                        "Re: 業務開始",
                        "業務開始",
                        &at,
                    ),
                )
                .unwrap();
                p.display().to_string()
            })
            .collect();
        // Two runs, so the count is kept in the database, not in one process.
        let (first, second) = files.split_at(7);
        for part in [first, second] {
            let mut args = vec!["ingest"];
            args.extend(part.iter().map(String::as_str));
            zt.ok(&args);
        }
        let sent = zt.sent();
        assert_eq!(
            acks_to(&sent, "yamada@city.example.lg.jp").len(),
            10,
            "{b:?}: at most [mail] max_answers_per_address_per_day answers"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        let limited = unmatched(&board)
            .iter()
            .filter(|(r, _)| r == "rate_limited")
            .count();
        assert_eq!(limited, 2, "{b:?}: {board}");
        // IT's daily summary says so once, with the count, not a line per mail.
        zt.ok(&["tick", "--now", "2021-01-12T17:46:00+09:00"]);
        let sent = zt.sent();
        let it = acks_to(&sent, "nakamura@city.example.lg.jp");
        let it: Vec<_> = it
            .into_iter()
            .filter(|m| m.contains("it_summary") || m.contains("it-summary"))
            .collect();
        assert_eq!(it.len(), 1, "{b:?}: IT's summary: {it:#?}");
        let text = mail_parser::MessageParser::default()
            .parse(it[0].as_bytes())
            .unwrap()
            .body_text(0)
            .unwrap()
            .into_owned();
        assert_eq!(
            text.matches("yamada@city.example.lg.jp").count(),
            1,
            "{b:?}: {text}"
        );
        assert!(text.contains("返信せず記録した 2 通"), "{b:?}: {text}");
        // Another address is still answered.
        let good = zt.path("good.eml");
        std::fs::write(&good, good_start()).unwrap();
        zt.ok(&["ingest", good.to_str().unwrap()]);
        let answered = zt
            .sent()
            .iter()
            .filter(|m| m.contains("In-Reply-To: <good-start@pc02>"))
            .count();
        assert_eq!(answered, 1, "{b:?}");
    }
}

/// The trusted server's verdict, as a city's Postfix with OpenDMARC writes it.
fn authenticated(raw: &[u8], verdict: &str) -> Vec<u8> {
    let mut out =
        format!("Authentication-Results: mx.city.example.lg.jp; {verdict}\r\n").into_bytes();
    out.extend_from_slice(raw);
    out
}

fn trust(zt: &Zt, extra: &str) {
    let cfg = zt.path("config/zaitaku.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[mail]\n",
        &format!("[mail]\ntrust_authentication_results = \"mx.city.example.lg.jp\"\n{extra}"),
    );
    std::fs::write(&cfg, text).unwrap();
}

/// The Message-ID of the step-2 escalation mail to 鈴木 (the supervisor), as sent.
fn escalation_id(zt: &Zt) -> String {
    let sent = zt.sent();
    let m = acks_to(&sent, "suzuki@city.example.lg.jp")
        .into_iter()
        .find(|m| m.contains("Message-ID:"))
        .expect("an escalation to the supervisor");
    let line = m
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .unwrap();
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .trim_matches(['<', '>'])
        .to_string()
}

fn supervisor_reply(id: &str, msg_id: &str) -> Vec<u8> {
    format!(
        "Received: from mx by mail.city.example.lg.jp; Tue, 12 Jan 2021 09:10:00 +0900\r\n\
         From: suzuki@city.example.lg.jp\r\nTo: telework@city.example.lg.jp\r\n\
         Subject: Re: escalation\r\nMessage-ID: <{msg_id}>\r\nIn-Reply-To: <{id}>\r\n\
         References: <{id}>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nok\r\n"
    )
    .into_bytes()
}

fn escalation_statuses(board: &Value, employee: &str) -> Vec<String> {
    board["teleworkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["employee_id"] == employee)
        .unwrap()["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_forged_supervisors_reply_does_not_silence_the_chain_a_vouched_one_does() {
    for b in backends() {
        let zt = Zt::new(b);
        trust(&zt, "");
        zt.with_staff().with_orders_0112();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        zt.ok(&["tick", "--now", "2021-01-12T09:00:00+09:00"]);
        let id = escalation_id(&zt);
        // From outside: the supervisor's From, and the city's server found dmarc=fail.
        let forged = zt.path("forged.eml");
        std::fs::write(
            &forged,
            authenticated(
                &supervisor_reply(&id, "forged@attacker.example"),
                "spf=fail smtp.mailfrom=attacker.example; dkim=none; dmarc=fail (p=none) header.from=city.example.lg.jp",
            ),
        )
        .unwrap();
        let v: Value =
            serde_json::from_str(&zt.ok(&["ingest", "--json", forged.to_str().unwrap()])).unwrap();
        assert_eq!(v["messages"][0]["reason"], "unauthenticated", "{b:?}: {v}");
        let board = zt.status_json("2021-01-12", "2021-01-12T09:30:00+09:00");
        assert!(
            !escalation_statuses(&board, "E1002")
                .iter()
                .any(|s| s.starts_with("resolved")),
            "{b:?}: {board}"
        );
        assert!(
            unmatched(&board)
                .iter()
                .any(|(r, _)| r == "unauthenticated"),
            "IT sees the attempt: {board}"
        );
        // The real reply, vouched for by the city's server, resolves it.
        let real = zt.path("real.eml");
        std::fs::write(
            &real,
            authenticated(
                &supervisor_reply(&id, "real@pc11"),
                "spf=pass smtp.mailfrom=city.example.lg.jp; dkim=pass header.d=city.example.lg.jp; dmarc=pass header.from=city.example.lg.jp",
            ),
        )
        .unwrap();
        let v: Value =
            serde_json::from_str(&zt.ok(&["ingest", "--json", real.to_str().unwrap()])).unwrap();
        assert_eq!(v["messages"][0]["reason"], "resolution", "{b:?}: {v}");
        let board = zt.status_json("2021-01-12", "2021-01-12T09:30:00+09:00");
        assert!(
            escalation_statuses(&board, "E1002")
                .iter()
                .any(|s| s == "resolved_reply"),
            "{b:?}: {board}"
        );
    }
}

#[test]
fn with_required_authentication_an_unvouched_report_is_recorded_and_answered_to_nobody() {
    for b in backends() {
        let zt = Zt::new(b);
        trust(&zt, "require_authenticated_reports = true\n");
        zt.with_staff().with_orders_0112();
        let forged = zt.path("forged.eml");
        std::fs::write(
            &forged,
            authenticated(&good_start(), "spf=fail smtp.mailfrom=attacker.example; dmarc=fail header.from=city.example.lg.jp"),
        )
        .unwrap();
        let real = zt.path("real.eml");
        std::fs::write(
            &real,
            authenticated(
                &mail(
                    "yamada@city.example.lg.jp",
                    "y@pc01",
                    "業務開始",
                    "",
                    "08:27",
                ),
                "dmarc=pass header.from=city.example.lg.jp",
            ),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&zt.ok(&[
            "ingest",
            "--json",
            forged.to_str().unwrap(),
            real.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(v["messages"][0]["reason"], "unauthenticated", "{b:?}: {v}");
        assert_eq!(v["messages"][1]["reason"], "matched", "{b:?}: {v}");
        let sent = zt.sent();
        assert!(
            acks_to(&sent, "sato@city.example.lg.jp").is_empty(),
            "{b:?}"
        );
        assert_eq!(acks_to(&sent, "yamada@city.example.lg.jp").len(), 1);
    }
}

#[test]
fn requiring_authentication_without_a_trusted_server_is_one_line_and_exit_2() {
    let zt = Zt::new(helpers::Backend::Sqlite);
    let cfg = zt.path("config/zaitaku.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[mail]\n", "[mail]\nrequire_authenticated_reports = true\n");
    std::fs::write(&cfg, text).unwrap();
    zt.run(&["init"]).expect_bad_input(&[
        "zaitaku.toml",
        "mail.require_authenticated_reports",
        "trust_authentication_results",
    ]);
}

#[test]
fn property_hostile_mail_on_any_file_source_never_keeps_a_later_report_from_its_one_answer() {
    use helpers::hostile::{draw, hostile, runner};
    for b in backends() {
        let zt = Zt::new(b);
        let cfg = zt.path("config/zaitaku.toml");
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "[mail]\n",
            "[mail]\nmax_answers_per_address_per_day = 10000\n",
        );
        std::fs::write(&cfg, text).unwrap();
        zt.with_staff().with_orders_0112();
        let mut runner = runner();
        let batch = proptest::collection::vec(hostile(), 1..6);
        for case in 0..12 {
            let msgs = draw(&batch, &mut runner);
            let id = format!("good-{case}@pc02");
            let good = mail(
                "sato@city.example.lg.jp",
                &id,
                "業務開始",
                "開始します",
                "08:29",
            );
            let source = ["files", "stdin", "maildir"][case % 3];
            match source {
                "files" => {
                    let mut paths = Vec::new();
                    for (i, m) in msgs.iter().chain([&good]).enumerate() {
                        let p = zt.path(&format!("case-{case}-{i}.eml"));
                        std::fs::write(&p, m).unwrap();
                        paths.push(p.display().to_string());
                    }
                    let mut args = vec!["ingest"];
                    args.extend(paths.iter().map(String::as_str));
                    zt.run(&args).expect_code(0);
                }
                "stdin" => {
                    for m in &msgs {
                        zt.run_stdin(&["ingest", "-"], m).expect_code(0);
                    }
                    zt.run_stdin(&["ingest", "-"], &good).expect_code(0);
                }
                _ => {
                    for (i, m) in msgs.iter().chain([&good]).enumerate() {
                        deliver(&zt, &format!("16104076{case:02}.{i}.mail"), m);
                    }
                    zt.run(&["ingest", "--maildir", zt.path("inbox").to_str().unwrap()])
                        .expect_code(0);
                    assert_eq!(new_count(&zt), 0, "{b:?} case {case}");
                }
            }
            let answers = zt
                .sent()
                .iter()
                .filter(|m| m.contains(&format!("In-Reply-To: <{id}>")))
                .count();
            assert_eq!(
                answers, 1,
                "{b:?} {source} case {case}: the report after {msgs:?} is answered once"
            );
            for m in zt.sent() {
                assert!(
                    !m.bytes()
                        .any(|c| c < 0x20 && c != b'\r' && c != b'\n' && c != b'\t'),
                    "{b:?}: a control character reached a header or body: {m:?}"
                );
            }
        }
    }
}

#[test]
fn a_slash_command_with_a_nul_is_a_report_without_it_and_the_next_one_is_answered() {
    use helpers::http::{WebServer, form};
    const MM_TOKEN: &str = "mm-command-token-1234";
    for b in backends() {
        let zt = Zt::new(b);
        let cfg = zt.path("config/zaitaku.toml");
        let mut toml = std::fs::read_to_string(&cfg).unwrap();
        toml.push_str(&format!("[chat.slash]\ntoken = \"{MM_TOKEN}\"\n"));
        std::fs::write(&cfg, toml).unwrap();
        let staff = zt.staff_with_chat_ids(&[("E1001", "mm-yamada"), ("E1002", "mm-sato")]);
        zt.with_staff_from(&staff).with_orders_0112();
        let web = WebServer::start_with(&zt, &["--now", "2021-01-12T17:20:00+09:00"]);
        let mut c = web.client();
        let mut post = |user: &str, text: &str, trigger: &str| {
            let body = form(&[
                ("token", MM_TOKEN),
                ("user_id", user),
                ("command", "/zaitaku"),
                ("text", text),
                ("trigger_id", trigger),
            ]);
            c.send(
                "POST",
                "/chat/slash",
                Some("application/x-www-form-urlencoded"),
                body,
            )
        };
        let r = post("mm-yamada", "終了 x\0\u{1b}[31m 日報", "t-nul\0");
        r.expect(200);
        let r = post("mm-sato", "終了 本日の作業: 仕様書", "t-2");
        r.expect(200);
        assert!(
            r.json()["text"]
                .as_str()
                .unwrap()
                .contains("業務終了の連絡を受け付けました"),
            "{b:?}"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        let yamada = board["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1001")
            .unwrap();
        assert_eq!(yamada["end"]["source"], "chat", "{b:?}: {board}");
        assert!(!yamada.to_string().contains("\\u0000"), "{yamada}");
    }
}

#[test]
fn over_imap_a_message_with_a_nul_is_kept_and_the_daemon_answers_the_next_one() {
    use helpers::servers::{Dovecot, SmtpSink, eventually};
    for b in backends() {
        let imap = Dovecot::start();
        let out = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(out.path());
        let zt = Zt::new(b);
        std::fs::write(
            zt.path("config/zaitaku.toml"),
            format!(
                "database = \"{}\"\n[mail]\nsource = \"{}\"\ntransport = \"{}\"\npoll_seconds = 1\n\
                 retry_base_seconds = 1\n[daemon]\ntick = \"* * * * * *\"\n",
                zt.db,
                imap.url(),
                smtp.url()
            ),
        )
        .unwrap();
        zt.with_staff().with_orders_0112();
        // An end report whose subject decodes to a NUL, then a good start in the same batch.
        imap.append(
            &mail(
                "yamada@city.example.lg.jp",
                "imap-nul@pc01",
                "=?UTF-8?B?5qWt5YuZ57WC5LqGAA==?=",
                "終了\0",
                "08:20",
            ),
            "12-Jan-2021 08:20:00 +0900",
        );
        imap.append(&good_start(), "12-Jan-2021 08:29:00 +0900");
        let run = zt.start_run(Some("info"));
        eventually(60, "both answered", || smtp.received().len() >= 2);
        let mut child = run.0;
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        assert!(child.wait().unwrap().success());
        let got = smtp.received();
        assert_eq!(got.len(), 2, "{b:?}: {got:#?}");
        assert!(
            got.iter()
                .any(|m| m.contains("In-Reply-To: <good-start@pc02>"))
        );
        assert!(got.iter().all(|m| !m.contains('\0')));
    }
}

#[test]
fn an_encoded_line_break_in_a_subject_cannot_split_the_answers_template() {
    use base64::Engine;
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let subject = format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD
                .encode("業務開始\r\nBcc: evil@attacker.example\r\n\r\nInjected body")
        );
        let p = zt.path("crlf.eml");
        std::fs::write(
            &p,
            mail(
                "sato@city.example.lg.jp",
                "crlf@pc02",
                &subject,
                "開始します",
                "08:29",
            ),
        )
        .unwrap();
        zt.ok(&["ingest", p.to_str().unwrap()]);
        let sent = zt.sent();
        let ack = acks_to(&sent, "sato@city.example.lg.jp");
        assert_eq!(ack.len(), 1, "{b:?}");
        let m = mail_parser::MessageParser::default()
            .parse(ack[0].as_bytes())
            .unwrap();
        assert!(m.header("Bcc").is_none(), "{b:?}: {}", ack[0]);
        let subject = m.subject().unwrap_or_default();
        assert!(subject.contains("Injected body"), "{b:?}: {subject}");
        let body = m.body_text(0).unwrap_or_default();
        assert!(!body.contains("Injected"), "{b:?}: {body}");
    }
}
