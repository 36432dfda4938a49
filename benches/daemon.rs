//! `zaitaku run` against real servers on 127.0.0.1, timed from outside the way a user sees it:
//!
//! - latency: one report at a time is APPENDed to Dovecot while the daemon waits in IDLE; the
//!   time from just before the APPEND to the moment the SMTP server accepted the matching
//!   acknowledgement (matched by `In-Reply-To`);
//! - backlog: the daemon is stopped, 10,000 reports are put in the mailbox, the daemon is
//!   started again; the time until all 10,000 reports are committed in the database, and until
//!   all 10,000 acknowledgements are accepted by the SMTP server; and the daemon's peak RSS;
//! - recovery after kills: 500 reports in the mailbox, the daemon SIGKILLed three times in the
//!   middle of the backlog and started again at once each time; the time from the last start
//!   until every report's acknowledgement was accepted (and how many went twice), per run;
//! - recovery after an outage: the SMTP server goes away for 5 seconds while reports keep
//!   coming; the time from its return until every acknowledgement was accepted, per run.
//!
//! `cargo bench --bench daemon` (the release binary, which cargo builds for the bench). Run as a
//! test (`cargo test --all-targets`, without `--bench`) it does the same with a few messages, so
//! that CI keeps it working. Needs `dovecot` (as `cargo test --test daemon` does) and runs as
//! root like those tests (Dovecot's mail belongs to `nobody`).
//!
//! The servers: Dovecot with its own configuration in a temp dir (`tests/helpers/servers.rs`,
//! shared with the daemon tests) and, in this file, a minimal SMTP server that speaks a real
//! SMTP conversation with zaitaku (EHLO, MAIL, RCPT, DATA, QUIT) and keeps, for each message it
//! accepts, the `In-Reply-To` header and the moment just before it answered `250`. It keeps
//! nothing on disk: the figures are zaitaku's, not an MTA's.

#[path = "../tests/helpers/servers.rs"]
mod servers;
#[path = "support/smtp.rs"]
mod smtp;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use servers::{Dovecot, IMAP_PASS, IMAP_USER};

/// The arrival time of every message (INTERNALDATE): on time for E1001's order of 2021-01-12.
const INTERNALDATE: &str = "12-Jan-2021 08:27:41 +0900";
const INTERNALDATE_UNIX: u64 = 1_610_407_661;
const FIXTURE: &str = "tests/fixtures/mail/01-start-iso2022jp.eml";
const FIXTURE_ID: &str = "20210112082735.1001@pc01.city.example.lg.jp";

/// The binary under test: the one cargo built for this bench, or `ZAITAKU_BENCH_BIN` (to time
/// another build with the same bench).
fn zaitaku_bin() -> PathBuf {
    std::env::var_os("ZAITAKU_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_zaitaku").into())
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture with its Message-ID made unique (`<{prefix}.20210112082735.1001@…>`).
fn variant(template: &str, prefix: &str) -> (String, Vec<u8>) {
    let id = format!("{prefix}.{FIXTURE_ID}");
    let text = template.replacen(
        &format!("Message-ID: <{FIXTURE_ID}>"),
        &format!("Message-ID: <{id}>"),
        1,
    );
    assert!(text.contains(&id), "the fixture's Message-ID header moved");
    (id, text.into_bytes())
}

// ---- the SMTP sink -------------------------------------------------------------------------

struct Accepted {
    at: Instant,
    in_reply_to: String,
}

#[derive(Default)]
struct SinkLog {
    accepted: Mutex<Vec<Accepted>>,
    changed: Condvar,
    /// While set, the port refuses connections and open sessions are cut (an outage).
    down: std::sync::atomic::AtomicBool,
}

impl SinkLog {
    /// The server goes away: its port refuses connections, open sessions end.
    fn go_down(&self, port: u16) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so that it closes the port now.
        let _ = TcpStream::connect(("127.0.0.1", port));
        while TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The server is back: returns once its port accepts connections again.
    fn come_back(&self, port: u16) -> Instant {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
        Instant::now()
    }

    /// How many distinct messages the acknowledgements accepted since `from` answer.
    fn distinct_since(&self, from: usize) -> usize {
        let v = self.accepted.lock().unwrap();
        v[from..]
            .iter()
            .map(|a| a.in_reply_to.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// When the acknowledgements accepted since `from` first answered `n` distinct messages,
    /// waiting up to `timeout`.
    fn wait_for_distinct(&self, from: usize, n: usize, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        let mut v = self.accepted.lock().unwrap();
        loop {
            let mut seen = std::collections::HashSet::new();
            for a in &v[from..] {
                seen.insert(a.in_reply_to.as_str());
                if seen.len() >= n {
                    return Some(a.at);
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            v = self.changed.wait_timeout(v, left).unwrap().0;
        }
    }

    fn count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    /// When the message answering `id` was accepted, waiting up to `timeout` for it.
    fn wait_for_reply_to(&self, id: &str, from: usize, timeout: Duration) -> Option<Instant> {
        let want = format!("<{id}>");
        let deadline = Instant::now() + timeout;
        let mut v = self.accepted.lock().unwrap();
        loop {
            if let Some(a) = v[from..].iter().find(|a| a.in_reply_to == want) {
                return Some(a.at);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            v = self.changed.wait_timeout(v, left).unwrap().0;
        }
    }

    /// When the `n`th message was accepted, waiting up to `timeout`.
    fn wait_for_count(&self, n: usize, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        let mut v = self.accepted.lock().unwrap();
        loop {
            if v.len() >= n {
                return Some(v[n - 1].at);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            v = self.changed.wait_timeout(v, left).unwrap().0;
        }
    }
}

/// Listens on a free port of 127.0.0.1; one thread per connection. While the log says
/// `down`, the port is closed (connections are refused, as from a server that is not running).
fn start_sink(log: Arc<SinkLog>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut listener = Some(listener);
        loop {
            let Some(l) = &listener else {
                if log.is_down() {
                    std::thread::sleep(Duration::from_millis(1));
                } else {
                    listener = TcpListener::bind(("127.0.0.1", port)).ok();
                }
                continue;
            };
            let Ok((conn, _)) = l.accept() else { continue };
            if log.is_down() {
                listener = None; // drop the port: from now on, connection refused
                continue;
            }
            let log = log.clone();
            std::thread::spawn(move || {
                let _ = smtp_session(conn, &log);
            });
        }
    });
    port
}

fn smtp_session(conn: TcpStream, log: &SinkLog) -> std::io::Result<()> {
    // An outage cuts the session.
    smtp::session(
        conn,
        || log.is_down(),
        |in_reply_to| {
            let mut v = log.accepted.lock().unwrap();
            v.push(Accepted {
                at: Instant::now(),
                in_reply_to,
            });
            log.changed.notify_all();
        },
    )
}

// ---- a small IMAP client (APPEND, SELECT) ------------------------------------------------------

struct Imap {
    r: BufReader<TcpStream>,
    w: TcpStream,
    tag: u32,
}

impl Imap {
    fn connect(port: u16) -> Imap {
        let conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_nodelay(true).unwrap();
        let w = conn.try_clone().unwrap();
        let mut imap = Imap {
            r: BufReader::new(conn),
            w,
            tag: 0,
        };
        let greeting = imap.line();
        assert!(greeting.starts_with("* OK"), "IMAP greeting: {greeting}");
        imap.command(&format!("LOGIN {IMAP_USER} {IMAP_PASS}"));
        imap
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.r.read_line(&mut s).unwrap();
        assert!(!s.is_empty(), "the IMAP server closed the connection");
        s
    }

    /// Reads up to the tagged answer; returns the untagged lines. Panics unless it is OK.
    fn finish(&mut self, tag: &str) -> Vec<String> {
        let mut untagged = Vec::new();
        loop {
            let l = self.line();
            if let Some(rest) = l.strip_prefix(tag) {
                assert!(rest.trim_start().starts_with("OK"), "IMAP: {l}");
                return untagged;
            }
            untagged.push(l);
        }
    }

    fn command(&mut self, cmd: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("b{} ", self.tag);
        self.w
            .write_all(format!("{tag}{cmd}\r\n").as_bytes())
            .unwrap();
        self.finish(&tag)
    }

    /// APPEND with a synchronising literal, as any client does.
    fn append(&mut self, message: &[u8]) {
        let crlf = to_crlf(message);
        self.tag += 1;
        let tag = format!("b{} ", self.tag);
        self.w
            .write_all(
                format!(
                    "{tag}APPEND INBOX \"{INTERNALDATE}\" {{{}}}\r\n",
                    crlf.len()
                )
                .as_bytes(),
            )
            .unwrap();
        let go = self.line();
        assert!(go.starts_with('+'), "APPEND: {go}");
        self.w.write_all(&crlf).unwrap();
        self.w.write_all(b"\r\n").unwrap();
        self.finish(&tag);
    }

    /// SELECT INBOX (Dovecot takes in new Maildir files here); returns EXISTS.
    fn select_inbox(&mut self) -> usize {
        let lines = self.command("SELECT INBOX");
        lines
            .iter()
            .find_map(|l| {
                l.strip_prefix("* ")
                    .and_then(|l| l.trim_end().strip_suffix(" EXISTS"))
                    .and_then(|n| n.parse().ok())
            })
            .expect("SELECT answers EXISTS")
    }
}

/// A bare IDLE client beside the daemon: when Dovecot told it of each new message (`* N EXISTS`).
/// This is the server's share of the latency, which no client can shorten.
#[derive(Default)]
struct IdleWatch {
    exists: Mutex<Vec<(usize, Instant)>>,
    changed: Condvar,
}

impl IdleWatch {
    fn start(port: u16) -> Arc<IdleWatch> {
        let watch = Arc::new(IdleWatch::default());
        let mut imap = Imap::connect(port);
        imap.select_inbox();
        imap.w.write_all(b"w IDLE\r\n").unwrap();
        let go = imap.line();
        assert!(go.starts_with('+'), "IDLE: {go}");
        let w = watch.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while imap.r.read_line(&mut line).is_ok_and(|n| n > 0) {
                if let Some(n) = line
                    .strip_prefix("* ")
                    .and_then(|l| l.trim_end().strip_suffix(" EXISTS"))
                    .and_then(|n| n.parse().ok())
                {
                    w.exists.lock().unwrap().push((n, Instant::now()));
                    w.changed.notify_all();
                }
                line.clear();
            }
        });
        watch
    }

    /// When the mailbox was first reported to hold `n` messages.
    fn wait_for(&self, n: usize, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        let mut v = self.exists.lock().unwrap();
        loop {
            if let Some((_, at)) = v.iter().find(|(k, _)| *k >= n) {
                return Some(*at);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            v = self.changed.wait_timeout(v, left).unwrap().0;
        }
    }
}

fn to_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 40);
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

// ---- zaitaku ---------------------------------------------------------------------------------

struct World {
    dir: tempfile::TempDir,
    db_path: PathBuf,
}

impl World {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(zaitaku_bin());
        c.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.dir.path().join("config"))
            .args(args);
        c.env_remove("ZAITAKU_LOG"); // the daemon's default: info, one line per report and per batch
        c
    }

    fn ok(&self, args: &[&str]) {
        let o = self.cmd(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            o.status.success(),
            "zaitaku {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// The register of the daemon tests (`Zt::with_staff().with_orders_0112()`), through the CLI.
    fn new(imap_url: &str, smtp_port: u16) -> World {
        let dir = tempfile::Builder::new()
            .prefix("zt-bench")
            .tempdir()
            .unwrap();
        let db_path = dir.path().join("zaitaku.db");
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(
            dir.path().join("config/zaitaku.toml"),
            format!(
                "database = \"sqlite://{}\"\n[mail]\nsource = \"{imap_url}\"\ntransport = \"smtp://127.0.0.1:{smtp_port}\"\nmax_answers_per_address_per_day = 1000000\n",
                db_path.display()
            ),
        )
        .unwrap();
        let w = World { dir, db_path };
        w.ok(&["init"]);
        w.ok(&[
            "employees",
            "import",
            manifest()
                .join("tests/fixtures/register/employees.csv")
                .to_str()
                .unwrap(),
        ]);
        w.ok(&[
            "applications",
            "add",
            "--department",
            "情報管理課",
            "--fiscal-year",
            "2020",
            "--pc",
            "JOHO-PC01",
            "--users",
            "E1001,E1002,E1004",
        ]);
        w.ok(&[
            "applications",
            "add",
            "--department",
            "財政課",
            "--fiscal-year",
            "2020",
            "--pc",
            "ZAISEI-PC01",
            "--users",
            "E1003,E1005",
        ]);
        for e in ["E1001", "E1002", "E1003", "E1004", "E1005"] {
            w.ok(&["ids", "assign", "--employee", e, "--from", "2021-01-04"]);
        }
        let orders = w.dir.path().join("orders.csv");
        std::fs::write(
            &orders,
            "employee_id,date,start,end,content,approved_by,shifted\n\
             E1001,2021-01-12,,,手順書作成,E2001,\n\
             E1002,2021-01-12,,,仕様書作成,E2001,\n",
        )
        .unwrap();
        w.ok(&["orders", "import", orders.to_str().unwrap()]);
        w
    }

    /// Starts `zaitaku run`, its log in a file; returns once the mailbox is connected.
    fn start(&self, name: &str) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let child = self
            .cmd(&["run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child,
            log,
            started: Instant::now(),
        }
    }

    /// A connection to the daemon's database, for counting (WAL: readers never block it).
    fn counter(&self) -> Counter {
        use sqlx::Connection;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("sqlite://{}", self.db_path.display());
        let conn = rt.block_on(sqlx::SqliteConnection::connect(&url)).unwrap();
        Counter { rt, conn }
    }
}

struct Counter {
    rt: tokio::runtime::Runtime,
    conn: sqlx::SqliteConnection,
}

impl Counter {
    fn reports(&mut self) -> usize {
        let n: i64 = self
            .rt
            .block_on(sqlx::query_scalar("SELECT COUNT(*) FROM reports").fetch_one(&mut self.conn))
            .unwrap();
        n as usize
    }
}

struct Daemon {
    child: Child,
    log: PathBuf,
    started: Instant,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_connected(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains("mailbox connected") {
            assert!(
                Instant::now() < deadline,
                "the daemon did not connect to Dovecot:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// VmHWM (peak resident set) in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// SIGTERM, and insists on exit 0.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        // The daemon's own log (one line per report and per batch, with times), when asked.
        if let Some(dir) = std::env::var_os("ZAITAKU_BENCH_LOGS") {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::copy(
                &self.log,
                Path::new(&dir).join(self.log.file_name().unwrap()),
            );
        }
        assert!(
            status.success(),
            "zaitaku run exited with {status}:\n{}",
            self.log()
        );
    }
}

// ---- the measurements ------------------------------------------------------------------------

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Latency {
    /// APPEND sent → acknowledgement accepted.
    total: Vec<Duration>,
    /// APPEND sent → APPEND answered OK.
    append: Vec<Duration>,
    /// APPEND sent → a bare IDLE client told of the message (Dovecot's share).
    notified: Vec<Duration>,
    /// IDLE client told → acknowledgement accepted (zaitaku's share, SMTP included).
    zaitaku: Vec<Duration>,
}

fn measure_latency(
    imap_port: u16,
    sink: &SinkLog,
    template: &str,
    warmup: usize,
    n: usize,
) -> Latency {
    let watch = IdleWatch::start(imap_port);
    let mut imap = Imap::connect(imap_port);
    let mut l = Latency {
        total: vec![],
        append: vec![],
        notified: vec![],
        zaitaku: vec![],
    };
    for i in 0..warmup + n {
        let (id, msg) = variant(template, &format!("lat{i}"));
        let seen = sink.count();
        let t0 = Instant::now();
        imap.append(&msg);
        let appended = t0.elapsed();
        let acked = sink
            .wait_for_reply_to(&id, seen, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("no acknowledgement for <{id}> within 30 s"));
        let notified = watch
            .wait_for(i + 1, Duration::from_secs(30))
            .expect("the IDLE client is told of each message");
        if i >= warmup {
            l.total.push(acked - t0);
            l.append.push(appended);
            l.notified.push(notified - t0);
            l.zaitaku.push(acked.saturating_duration_since(notified));
        }
        // Dovecot tells an IDLE client of a change 500 ms after it sees one (NOTIFY_DELAY_MSECS
        // in its src/lib-storage/mailbox-watch.c), counting from the first change since the
        // last notice. The daemon's own \Seen flags are such a change for the bare IDLE client:
        // wait until that notice is out, or the next sample's notice would come early.
        std::thread::sleep(Duration::from_millis(600));
    }
    l
}

/// Puts `n` messages straight into Dovecot's Maildir (`new/`, mtime = INTERNALDATE, owned like
/// the folder: Dovecot runs as `nobody`), as a local delivery agent would; the next SELECT takes
/// them in.
fn deliver_backlog(maildir: &Path, template: &str, round: usize, n: usize) {
    use std::os::unix::fs::MetadataExt;
    let new = maildir.join("new");
    let owner = std::fs::metadata(&new)
        .unwrap_or_else(|e| panic!("Dovecot's Maildir {}: {e}", new.display()));
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(INTERNALDATE_UNIX);
    let pid = std::process::id();
    for i in 0..n {
        let (_, msg) = variant(template, &format!("backlog{round}-{i}"));
        let name = format!("{INTERNALDATE_UNIX}.M{round}0{i}P{pid}.zt-bench");
        let tmp = maildir.join("tmp").join(&name);
        let f = std::fs::File::create(&tmp).unwrap();
        (&f).write_all(&msg).unwrap();
        f.set_modified(mtime).unwrap();
        drop(f);
        std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid())).unwrap();
        std::fs::rename(&tmp, new.join(&name)).unwrap();
    }
}

struct Backlog {
    /// Daemon started → the last report committed.
    reports: Duration,
    /// Daemon started → the last acknowledgement accepted.
    acks: Duration,
    batches: usize,
    rss_kib: u64,
    /// Not timed: writing the files and Dovecot's SELECT taking them in.
    setup: Duration,
}

/// One round: the daemon is stopped, `n` messages arrive, the daemon is started and timed until
/// every report is committed and every acknowledgement accepted.
fn measure_backlog(
    world: &World,
    imap: &Dovecot,
    sink: &SinkLog,
    counter: &mut Counter,
    template: &str,
    round: usize,
    n: usize,
) -> Backlog {
    let maildir = imap.dir.path().join("mail").join(IMAP_USER);
    let t = Instant::now();
    let reports_before = counter.reports();
    deliver_backlog(&maildir, template, round, n);
    let exists = Imap::connect(imap.port).select_inbox();
    assert_eq!(exists, reports_before + n, "Dovecot sees the backlog");
    let setup = t.elapsed();
    let acks_before = sink.count();
    let d = world.start(&format!("backlog{round}"));
    // Where the daemon's time goes, when asked: `perf report -i FILE`.
    let perf = std::env::var_os("ZAITAKU_BENCH_PERF").map(|out| {
        let mut out = PathBuf::from(out).into_os_string();
        out.push(format!(".{round}"));
        Command::new("perf")
            .args(["record", "-g", "-q", "-o"])
            .arg(out)
            .args(["-p", &d.child.id().to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("perf is installed")
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let reports = loop {
        assert!(
            Instant::now() < deadline,
            "backlog not done in 10 minutes:\n{}",
            d.log()
        );
        if counter.reports() >= reports_before + n {
            break d.started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let acked_at = sink
        .wait_for_count(acks_before + n, Duration::from_secs(600))
        .unwrap_or_else(|| {
            panic!(
                "only {} of {n} acknowledgements:\n{}",
                sink.count() - acks_before,
                d.log()
            )
        });
    if let Some(mut p) = perf {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(p.id().to_string())
            .status();
        let _ = p.wait();
    }
    std::thread::sleep(Duration::from_millis(300)); // no more mail may come
    let rss_kib = d.peak_rss_kib();
    let batches = d.log().matches("mailbox batch done").count();
    let started = d.started;
    d.stop();
    assert_eq!(
        counter.reports(),
        reports_before + n,
        "each message is one report"
    );
    assert_eq!(
        sink.count() - acks_before,
        n,
        "each report one acknowledgement, none twice"
    );
    Backlog {
        reports,
        acks: acked_at - started,
        batches,
        rss_kib,
        setup,
    }
}

struct KillRun {
    /// The last start → every report acknowledged.
    after_restart: Duration,
    /// Acknowledgements that went twice (same Message-ID: claimed in a killed round).
    resent: usize,
    /// Reports still without an acknowledgement when the last kill came.
    pending_at_last_kill: usize,
}

/// `n` reports in the mailbox; the daemon is started, SIGKILLed `kills` times in the middle of
/// the backlog (for 3 kills: once an eighth, a quarter, three eighths of the acknowledgements
/// are out: early enough that a fast catch-up still has work left at the kill) and started
/// again at once each time; timed from the last start until every report has its
/// acknowledgement.
#[allow(clippy::too_many_arguments)]
fn measure_kills(
    world: &World,
    imap: &Dovecot,
    sink: &SinkLog,
    counter: &mut Counter,
    template: &str,
    run: usize,
    n: usize,
    kills: usize,
) -> KillRun {
    let maildir = imap.dir.path().join("mail").join(IMAP_USER);
    let reports_before = counter.reports();
    Imap::connect(imap.port).select_inbox(); // Dovecot makes the Maildir on first use
    deliver_backlog(&maildir, template, 1000 + run, n);
    let exists = Imap::connect(imap.port).select_inbox();
    assert_eq!(exists, reports_before + n, "Dovecot sees the backlog");
    let acks_before = sink.count();
    let mut d = world.start(&format!("kills{run}-0"));
    let mut pending_at_last_kill = 0;
    for k in 1..=kills {
        let threshold = (n * k / (2 * (kills + 1))).max(1);
        sink.wait_for_distinct(acks_before, threshold, Duration::from_secs(300))
            .unwrap_or_else(|| panic!("run {run}: not {threshold} acknowledgements:\n{}", d.log()));
        d.child.kill().unwrap(); // SIGKILL: whatever it had claimed stays claimed
        d.child.wait().unwrap();
        pending_at_last_kill = n - sink.distinct_since(acks_before).min(n);
        d = world.start(&format!("kills{run}-{k}"));
    }
    let restarted = d.started;
    let done = sink
        .wait_for_distinct(acks_before, n, Duration::from_secs(600))
        .unwrap_or_else(|| panic!("run {run}: not every acknowledgement:\n{}", d.log()));
    std::thread::sleep(Duration::from_millis(300));
    d.stop();
    assert_eq!(
        counter.reports(),
        reports_before + n,
        "each message one report"
    );
    KillRun {
        after_restart: done.saturating_duration_since(restarted),
        resent: sink.count() - acks_before - n,
        pending_at_last_kill,
    }
}

/// The daemon runs; the SMTP server goes away for `outage` while `n` reports arrive (spread
/// over the outage's first four fifths); timed from the server's return until every report has
/// its acknowledgement.
#[allow(clippy::too_many_arguments)]
fn measure_outage(
    world: &World,
    imap: &Dovecot,
    sink: &SinkLog,
    counter: &mut Counter,
    smtp_port: u16,
    template: &str,
    run: usize,
    n: usize,
    outage: Duration,
) -> Duration {
    let d = world.start(&format!("outage{run}"));
    d.wait_connected();
    std::thread::sleep(Duration::from_millis(500));
    let reports_before = counter.reports();
    let acks_before = sink.count();
    sink.go_down(smtp_port);
    let down = Instant::now();
    let mut client = Imap::connect(imap.port);
    for i in 0..n {
        let (_, msg) = variant(template, &format!("outage{run}-{i}"));
        client.append(&msg);
        let next = down + outage.mul_f64(0.8 * (i + 1) as f64 / n as f64);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while counter.reports() < reports_before + n {
        assert!(
            Instant::now() < deadline,
            "run {run}: reports not recorded:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(rest) = (down + outage).checked_duration_since(Instant::now()) {
        std::thread::sleep(rest);
    }
    assert_eq!(
        sink.count(),
        acks_before,
        "nothing accepted while the server was away"
    );
    let back = sink.come_back(smtp_port);
    let done = sink
        .wait_for_distinct(acks_before, n, Duration::from_secs(600))
        .unwrap_or_else(|| panic!("run {run}: not every acknowledgement:\n{}", d.log()));
    std::thread::sleep(Duration::from_millis(300));
    d.stop();
    assert_eq!(
        sink.count() - acks_before,
        n,
        "run {run}: each acknowledgement once"
    );
    done.saturating_duration_since(back)
}

fn recovery_table(what: &str, target: Duration, v: &[Duration]) {
    let mut sorted = v.to_vec();
    sorted.sort();
    let within = v.iter().filter(|d| **d <= target).count();
    println!(
        "| {what} | {} | {} of {} | {:.2} s | {:.2} s | {:.2} s |",
        target.as_secs(),
        within,
        v.len(),
        percentile(&sorted, 50.0).as_secs_f64(),
        sorted.last().unwrap().as_secs_f64(),
        sorted[0].as_secs_f64()
    );
}

/// The recovery measurements (after the latency and backlog ones: their counts of messages in
/// the mailbox start from an empty one).
#[allow(clippy::too_many_arguments)]
fn recovery(
    world: &World,
    imap: &Dovecot,
    sink: &SinkLog,
    smtp_port: u16,
    template: &str,
    recovery_runs: usize,
    kill_backlog: usize,
    outage_reports: usize,
) {
    if recovery_runs > 0 {
        let mut counter = world.counter();
        let mut kills = Vec::new();
        let mut resent = Vec::new();
        let mut pending = Vec::new();
        let mut outages = Vec::new();
        for run in 1..=recovery_runs {
            let k = measure_kills(
                world,
                imap,
                sink,
                &mut counter,
                template,
                run,
                kill_backlog,
                3,
            );
            kills.push(k.after_restart);
            resent.push(k.resent);
            pending.push(k.pending_at_last_kill);
            outages.push(measure_outage(
                world,
                imap,
                sink,
                &mut counter,
                smtp_port,
                template,
                run,
                outage_reports,
                Duration::from_secs(5),
            ));
            eprintln!(
                "recovery run {run}: kills {:.2} s after the last restart ({} pending at the last kill, {} resent), outage {:.2} s after the return",
                k.after_restart.as_secs_f64(),
                k.pending_at_last_kill,
                k.resent,
                outages.last().unwrap().as_secs_f64()
            );
        }
        println!();
        println!(
            "| recovery, {recovery_runs} runs | target (s) | runs within it | median | max | min |"
        );
        println!("| --- | --- | --- | --- | --- | --- |");
        recovery_table(
            &format!("{kill_backlog} reports, 3 SIGKILLs: last restart → every acknowledgement"),
            Duration::from_secs(30),
            &kills,
        );
        recovery_table(
            &format!(
                "{outage_reports} reports during a 5 s SMTP outage: return → every acknowledgement"
            ),
            Duration::from_secs(10),
            &outages,
        );
        println!(
            "Reports without an acknowledgement when the last SIGKILL came, per run: {pending:?}"
        );
        println!(
            "Acknowledgements sent twice (same Message-ID) after the kills, per run: {resent:?}"
        );
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not.
    let full = std::env::args().any(|a| a == "--bench");
    let (warmup, samples, backlog, rounds) = if full {
        (10, 200, 10_000, 3)
    } else {
        (1, 5, 300, 1)
    };
    let env_n = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (samples, backlog, rounds) = (
        env_n("ZAITAKU_BENCH_SAMPLES", samples).max(1),
        env_n("ZAITAKU_BENCH_BACKLOG", backlog).max(1),
        env_n("ZAITAKU_BENCH_ROUNDS", rounds).max(1),
    );
    // Recovery: runs of the kill and the outage measurements (0 leaves them out).
    let (recovery_runs, kill_backlog, outage_reports) =
        if full { (20, 500, 50) } else { (1, 100, 5) };
    let recovery_runs = env_n("ZAITAKU_BENCH_RECOVERY_RUNS", recovery_runs);
    // Only the recovery measurements (`ZAITAKU_BENCH_ONLY=recovery`), to repeat them quickly.
    let only_recovery = std::env::var("ZAITAKU_BENCH_ONLY").is_ok_and(|v| v == "recovery");
    let template = std::fs::read_to_string(manifest().join(FIXTURE)).unwrap();

    let imap = Dovecot::start();
    let sink = Arc::new(SinkLog::default());
    let smtp_port = start_sink(sink.clone());
    let world = World::new(&imap.url(), smtp_port);
    println!(
        "zaitaku: {}\nDovecot on 127.0.0.1:{}, SMTP sink on 127.0.0.1:{smtp_port}, {} CPU(s)",
        zaitaku_bin().display(),
        imap.port,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    if only_recovery {
        recovery(
            &world,
            &imap,
            &sink,
            smtp_port,
            &template,
            recovery_runs,
            kill_backlog,
            outage_reports,
        );
        return;
    }

    // 1. Latency, with the daemon in IDLE.
    let d = world.start("latency");
    d.wait_connected();
    std::thread::sleep(Duration::from_millis(500)); // first (empty) fetch done, IDLE issued
    let lat = measure_latency(imap.port, &sink, &template, warmup, samples);
    let latency_rss = d.peak_rss_kib();
    d.stop();
    let sorted = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let (total, append, notified, zaitaku) = (
        sorted(&lat.total),
        sorted(&lat.append),
        sorted(&lat.notified),
        sorted(&lat.zaitaku),
    );
    let mut counter = world.counter();
    assert_eq!(
        counter.reports(),
        warmup + samples,
        "one report per message"
    );

    // 2. Backlog, a few rounds (the disk's fsync time varies from run to run).
    let rounds: Vec<Backlog> = (1..=rounds)
        .map(|r| measure_backlog(&world, &imap, &sink, &mut counter, &template, r, backlog))
        .collect();

    let rate = |d: Duration| backlog as f64 / d.as_secs_f64();
    println!();
    let row = |what: &str, v: &[Duration]| {
        println!(
            "| {what} | {} | {} | {} | {} | {} |",
            ms(percentile(v, 50.0)),
            ms(percentile(v, 90.0)),
            ms(percentile(v, 99.0)),
            ms(*v.last().unwrap()),
            ms(v[0])
        );
    };
    println!(
        "| latency, {} samples | median | p90 | p99 | max | min |",
        total.len()
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    row(
        "**APPEND → acknowledgement accepted by SMTP** (zaitaku in IDLE)",
        &total,
    );
    row("APPEND → APPEND answered", &append);
    row(
        "APPEND → a bare IDLE client told `* N EXISTS` (Dovecot)",
        &notified,
    );
    row(
        "IDLE client told → acknowledgement accepted (zaitaku)",
        &zaitaku,
    );
    println!();
    println!(
        "| backlog of {backlog} | start → all reports committed | start → all acknowledgements accepted | batches | peak RSS (VmHWM) | not timed: into the Maildir + SELECT |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (i, b) in rounds.iter().enumerate() {
        println!(
            "| round {} | {:.2} s, **{:.0} messages/s** | {:.2} s, **{:.0} messages/s** | {} | {} MiB | {:.1} s |",
            i + 1,
            b.reports.as_secs_f64(),
            rate(b.reports),
            b.acks.as_secs_f64(),
            rate(b.acks),
            b.batches,
            b.rss_kib / 1024,
            b.setup.as_secs_f64()
        );
    }
    let mut r: Vec<Duration> = rounds.iter().map(|b| b.reports).collect();
    let mut a: Vec<Duration> = rounds.iter().map(|b| b.acks).collect();
    r.sort();
    a.sort();
    println!(
        "| median | {:.0} messages/s | {:.0} messages/s | | | |",
        rate(percentile(&r, 50.0)),
        rate(percentile(&a, 50.0))
    );
    println!();
    println!(
        "Peak RSS of `zaitaku run` in the latency run (VmHWM): {} MiB.",
        latency_rss / 1024
    );
    recovery(
        &world,
        &imap,
        &sink,
        smtp_port,
        &template,
        recovery_runs,
        kill_backlog,
        outage_reports,
    );
}
