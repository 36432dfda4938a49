//! Ingest at a real city's scale (issue 22): a register of 2,000 teleworkers over the 46
//! departments, about 56,000 approved orders over three months of working days, and 100,000
//! distinct mails written by real encoders, taken in by the release `zaitaku ingest --maildir`,
//! against mail-parser alone on the same files in the same run, and against a straightforward
//! Python implementation of the same work.
//!
//! `cargo bench --bench city`:
//!
//! 1. The data set comes from `benches/city_mail.py` (Python's `email` package: ISO-2022-JP,
//!    UTF-8 in base64 and quoted-printable, multipart/alternative; quotes, full-width text,
//!    strangers, days without an order, auto-replies, re-deliveries), run on a JSON spec this
//!    bench writes (seed, sizes, the departments and the working days of zaitaku's own
//!    calendar). It is cached under `target/bench-city/<hash of spec and script>/`
//!    (`ZAITAKU_BENCH_CITY_DIR` for another place): a second run does not generate it again.
//!    Delete the folder to free the space (about 400 MB on disk for 100,000 mails).
//! 2. The register is imported through the library's own commands (`employees import`,
//!    `applications add`, `ids assign`, `orders import`), with `licensed_ids = 2000`: a city
//!    ordering 900 teleworkers a day holds more than the programme's 50 IDs.
//! 3. Each case copies the mail into a fresh Maildir's `new/` and a fresh database with the
//!    register (not timed), writes both to disk (`sync`), then times mail-parser alone on those
//!    files (read, parse, decode the subject and the text body), then the child process:
//!    - `ext4`: `zaitaku ingest --no-send --maildir`, SQLite and Maildir in the cache folder;
//!    - `tmpfs`: the same with both on `/dev/shm` (`ZAITAKU_BENCH_TMPFS` for another);
//!    - `send`: `zaitaku ingest --maildir` on ext4, the answers delivered to the `file:`
//!      transport (one `.eml` per answer);
//!    - `pg`: `--no-send` on PostgreSQL, when `ZAITAKU_BENCH_PG=postgres://…` names a database
//!      the bench may empty (it drops and re-creates its `public` schema), Maildir on ext4;
//!    - `python`: `benches/city_python.py` (`email` + `sqlite3`, no delivery) on ext4.
//!
//!    `ZAITAKU_BENCH_CITY_CASES=ext4,pg` picks cases; `ZAITAKU_BENCH_BIN` times another build;
//!    `ZAITAKU_BENCH_PERF=FILE` runs zaitaku under `perf record -g -o FILE`;
//!    `ZAITAKU_BENCH_CITY_LIMIT=N` takes only the oldest N mails (memory against backlog);
//!    `ZAITAKU_BENCH_CITY_REGISTER=FILE` keeps a copy of the SQLite register.
//!    Wall, user and system time and the peak resident memory are the child's (`wait4`).
//!
//! Run as a test (`cargo test --all-targets`, without `--bench`) it does the same on 2,000
//! mails and 200 teleworkers, so that CI keeps it working.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

#[path = "support/register.rs"]
mod register_support;
use zaitaku::config::Config;
use zaitaku::register;
use zaitaku::store::{Role, Store};

/// The generator; its text is part of the cache key, so a change to it generates again.
const GENERATOR: &str = include_str!("city_mail.py");
/// The first and last day of the three months: January to March 2021, inside one fiscal year
/// (2020), so that one application and one ID per teleworker cover them.
const FIRST_DAY: &str = "2021-01-04";
const LAST_DAY: &str = "2021-03-31";
const FISCAL_YEAR: i32 = 2020;

struct Sizes {
    teleworkers: usize,
    orders: usize,
    mails: usize,
    auto_replies: usize,
    redeliveries: usize,
}

const FULL: Sizes = Sizes {
    teleworkers: 2000,
    orders: 56_000,
    mails: 100_000,
    auto_replies: 1000,
    redeliveries: 500,
};
const SMALL: Sizes = Sizes {
    teleworkers: 200,
    orders: 2000,
    mails: 2000,
    auto_replies: 20,
    redeliveries: 10,
};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The spec `city_mail.py` reads: everything the data set depends on.
fn spec(cfg: &Config, s: &Sizes) -> serde_json::Value {
    let first = zaitaku::calendar::parse_date(FIRST_DAY).expect("date");
    let last = zaitaku::calendar::parse_date(LAST_DAY).expect("date");
    // The city hall's working days, from zaitaku's calendar: weekends, national holidays and
    // the year-end closure are skipped.
    let days: Vec<String> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| cfg.calendar.is_working_day(*d))
        .map(|d| d.to_string())
        .collect();
    let departments: Vec<&str> = cfg.departments.iter().map(|d| d.name.as_str()).collect();
    serde_json::json!({
        "seed": 22,
        "teleworkers": s.teleworkers,
        "supervisors_per_department": 2,
        "orders": s.orders,
        "mails": s.mails,
        "stranger_percent": 1,
        "no_order_percent": 1,
        "auto_replies": s.auto_replies,
        "redeliveries": s.redeliveries,
        "encodings": { "jis": 30, "b64": 30, "qp": 30 },
        "quote_percent": 33,
        "departments": departments,
        "days": days,
        "domain": "city.example.lg.jp",
        "bot": cfg.bot_address,
    })
}

/// The data set for `spec`: from the cache, or generated into it.
fn dataset(root: &Path, spec: &serde_json::Value) -> PathBuf {
    let text = serde_json::to_string(spec).expect("spec");
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    h.update(GENERATOR.as_bytes());
    let key = hex::encode(&h.finalize()[..8]);
    let dir = root.join(&key);
    if dir.join("manifest.json").is_file() {
        println!("data set: {} (cached)", dir.display());
        return dir;
    }
    let partial = root.join(format!("{key}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).expect("cache folder");
    let spec_file = partial.join("spec.json");
    std::fs::write(&spec_file, &text).expect("spec");
    let t = Instant::now();
    let ok = Command::new("python3")
        .arg(manifest_dir().join("benches/city_mail.py"))
        .arg(&spec_file)
        .arg(&partial)
        .status()
        .expect("python3 runs");
    assert!(ok.success(), "city_mail.py failed");
    // Complete or absent: an interrupted generation never looks like a cached one.
    std::fs::rename(&partial, &dir).expect("cache");
    println!(
        "data set: {} (generated in {:.1} s)",
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    dir
}

/// The bench's configuration folder: the shipped defaults but for the ID pool, the transport
/// and the templates.
fn config_dir(dir: &Path, sent: &Path) -> (PathBuf, Config) {
    let cfg_dir = dir.join("config");
    std::fs::create_dir_all(&cfg_dir).expect("config folder");
    std::fs::write(
        cfg_dir.join("zaitaku.toml"),
        format!(
            "templates = {:?}\n\n[mail]\ntransport = \"file:{}\"\n\n[service]\nlicensed_ids = {}\n",
            manifest_dir().join("templates").display().to_string(),
            sent.display(),
            FULL.teleworkers
        ),
    )
    .expect("zaitaku.toml");
    let cfg = Config::load(&cfg_dir).expect("the bench's config loads");
    (cfg_dir, cfg)
}

/// Imports the data set's register into `url` through the register commands.
async fn build_register(url: &str, cfg: &Config, data: &Path) -> Duration {
    let t = Instant::now();
    let store = Store::open(url).await.expect("open the database");
    register::init(&store, cfg).await.expect("init");
    register::import_employees(&store, &data.join("employees.csv"), chrono::Utc::now())
        .await
        .expect("employees");
    let employees = store.employees().await.expect("employees");
    let mut teleworkers: Vec<_> = employees
        .values()
        .filter(|e| e.role == Role::Teleworker)
        .collect();
    teleworkers.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
    let teleworkers: Vec<(String, String)> = teleworkers
        .iter()
        .map(|e| (e.employee_id.clone(), e.department.clone()))
        .collect();
    register_support::apply_assign_and_order(
        &store,
        cfg,
        &teleworkers,
        FISCAL_YEAR,
        FIRST_DAY,
        &data.join("orders.csv"),
    )
    .await;
    store.close().await;
    t.elapsed()
}

/// An empty PostgreSQL database at `url`: its `public` schema dropped and created again.
async fn empty_pg(url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("ZAITAKU_BENCH_PG");
    for sql in ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;
}

/// Copies the data set's mail into `maildir/new/` (a Maildir of its own), returns the files.
fn fill_maildir(data: &Path, maildir: &Path) -> Vec<PathBuf> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let mut names: Vec<_> = std::fs::read_dir(data.join("mail"))
        .expect("mail")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    names.truncate(limit());
    let files: Vec<PathBuf> = names
        .iter()
        .map(|n| {
            let to = maildir.join("new").join(n);
            std::fs::copy(data.join("mail").join(n), &to).expect("copy");
            to
        })
        .collect();
    // On disk before anything is timed: the kernel's writeback of the copies would otherwise
    // take a core from whichever run comes first.
    let _ = Command::new("sync").status();
    files
}

/// `ZAITAKU_BENCH_CITY_LIMIT=N`: only the first N mails (the oldest), to see whether memory
/// depends on the backlog's length; the decisions then differ from the whole set's.
fn limit() -> usize {
    std::env::var("ZAITAKU_BENCH_CITY_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Wall, user and system time and peak resident memory of one timed piece of work.
#[derive(Clone, Copy, Default)]
struct Cost {
    wall: f64,
    user: f64,
    sys: f64,
    peak_kib: u64,
}

fn secs(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

fn self_usage() -> (f64, f64) {
    // SAFETY: getrusage writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    (secs(u.ru_utime), secs(u.ru_stime))
}

/// mail-parser alone: read each file, parse it, decode the subject and the text body.
fn mail_parser_alone(files: &[PathBuf]) -> Cost {
    let (u0, s0) = self_usage();
    let t = Instant::now();
    let mut chars = 0usize;
    for p in files {
        let raw = std::fs::read(p).expect("read");
        if let Some(m) = mail_parser::MessageParser::default().parse(&raw) {
            chars += m.subject().map(str::len).unwrap_or(0)
                + m.body_text(0).map(|b| b.len()).unwrap_or(0);
        }
    }
    let wall = t.elapsed().as_secs_f64();
    std::hint::black_box(chars);
    let (u1, s1) = self_usage();
    Cost {
        wall,
        user: u1 - u0,
        sys: s1 - s0,
        peak_kib: 0,
    }
}

/// Runs a child to its end; its own wall, user, system time and peak RSS (`wait4`).
// The child is reaped by `libc::wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_child(cmd: &mut Command) -> (Cost, String) {
    let out = tempfile::NamedTempFile::new().expect("stdout file");
    let t = Instant::now();
    let child = cmd
        .stdout(out.reopen().expect("stdout"))
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: wait4 on our own child, into structs it writes.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut u) };
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4");
    let stdout = std::fs::read_to_string(out.path()).unwrap_or_default();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed (status {status}): {stdout}"
    );
    let cost = Cost {
        wall,
        user: secs(u.ru_utime),
        sys: secs(u.ru_stime),
        peak_kib: u.ru_maxrss as u64,
    };
    (cost, stdout)
}

fn zaitaku_bin() -> PathBuf {
    std::env::var_os("ZAITAKU_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_zaitaku").into())
}

struct Row {
    case: String,
    parser: Cost,
    run: Cost,
    note: String,
}

/// The decisions a run printed, by reason: zaitaku's summary line (`1990 message(s)
/// processed, 20 auto_reply, 1930 matched, …, 10 duplicate(s) skipped; …`) or the Python
/// yardstick's JSON.
fn decisions(stdout: &str) -> std::collections::BTreeMap<String, u64> {
    if let Ok(v) = serde_json::from_str(stdout.trim()) {
        return v;
    }
    let line = stdout.lines().next().unwrap_or("");
    let head = line.split(';').next().unwrap_or("");
    let mut out = std::collections::BTreeMap::new();
    for part in head.split(", ").skip(1) {
        if let Some((n, what)) = part.split_once(' ') {
            let what = if what.starts_with("duplicate") {
                "duplicate"
            } else {
                what
            };
            out.insert(what.to_string(), n.parse().unwrap_or(0));
        }
    }
    out
}

/// What every case shares: the data set, the SQLite register to copy, what to expect.
struct World {
    data: PathBuf,
    template_db: PathBuf,
    n: usize,
    expected: std::collections::BTreeMap<String, u64>,
    /// The full size (`--bench`): decisions that differ from the generator's are reported;
    /// on the small data set they fail the run.
    full: bool,
}

/// What a case runs and where.
struct Case<'a> {
    name: &'static str,
    /// The filesystem the Maildir (and a SQLite database) goes on.
    place: &'a Path,
    /// PostgreSQL instead of SQLite.
    pg: Option<&'a str>,
    /// Deliver the answers to the `file:` transport (no `--no-send`).
    send: bool,
    /// The Python yardstick instead of zaitaku.
    python: bool,
}

/// One case: a fresh Maildir under `place` and a fresh database, mail-parser alone on its
/// files, then the child.
async fn run_case(w: &World, c: &Case<'_>) -> Row {
    let (name, n) = (c.name, w.n);
    let dir = tempfile::Builder::new()
        .prefix("zaitaku-city-")
        .tempdir_in(c.place)
        .expect("run folder");
    let sent = dir.path().join("sent");
    let (cfg_dir, cfg) = config_dir(dir.path(), &sent);
    let (url, register_note) = match c.pg {
        Some(url) => {
            empty_pg(url).await;
            let took = build_register(url, &cfg, &w.data).await;
            (
                url.to_string(),
                format!("register imported in {:.1} s", took.as_secs_f64()),
            )
        }
        None => {
            let db = dir.path().join("city.db");
            std::fs::copy(&w.template_db, &db).expect("copy the register");
            (format!("sqlite://{}", db.display()), String::new())
        }
    };
    let maildir = dir.path().join("inbox");
    let files = fill_maildir(&w.data, &maildir);
    assert_eq!(files.len(), n, "the data set's mail");
    let parser = mail_parser_alone(&files);
    let (run, stdout) = if c.python {
        let db = url.trim_start_matches("sqlite://");
        run_child(
            Command::new("python3")
                .arg(manifest_dir().join("benches/city_python.py"))
                .arg(db)
                .arg(&maildir),
        )
    } else {
        // `ZAITAKU_BENCH_PERF=FILE`: the run under `perf record -g` (its times then include
        // perf's own work).
        let mut cmd = match std::env::var_os("ZAITAKU_BENCH_PERF") {
            Some(out) => {
                let mut c = Command::new("perf");
                c.args(["record", "-g", "-o"]).arg(out).arg("--");
                c.arg(zaitaku_bin());
                c
            }
            None => Command::new(zaitaku_bin()),
        };
        cmd.arg("--config")
            .arg(&cfg_dir)
            .arg("--db")
            .arg(&url)
            .arg("ingest")
            .arg("--maildir")
            .arg(&maildir);
        if !c.send {
            cmd.arg("--no-send");
        }
        run_child(&mut cmd)
    };
    let decided = decisions(&stdout);
    if decided != w.expected {
        println!(
            "{name}: decisions differ from the generator's: {decided:?} against {:?}",
            w.expected
        );
    }
    // The small data set is checked exactly, so that CI notices a rule or generator change.
    assert!(
        w.full || limit() < usize::MAX || decided == w.expected,
        "{name}: decisions"
    );
    assert_eq!(count_files(&maildir.join("new")), 0, "{name}: new/ emptied");
    assert_eq!(count_files(&maildir.join("cur")), n, "{name}: all in cur/");
    let mut note = stdout.trim().replace('\n', "; ");
    if c.send {
        note = format!("{note}; {} answers in sent/", count_files(&sent));
    }
    if !register_note.is_empty() {
        note = format!("{note} ({register_note})");
    }
    println!(
        "{name}: mail-parser {:.2} s, run {:.2} s wall, {:.2} s user, {:.2} s sys, {} MiB: {note}",
        parser.wall,
        run.wall,
        run.user,
        run.sys,
        run.peak_kib / 1024
    );
    Row {
        case: name.to_string(),
        parser,
        run,
        note,
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not.
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { FULL } else { SMALL };
    let root = std::env::var_os("ZAITAKU_BENCH_CITY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target/bench-city"));
    std::fs::create_dir_all(&root).expect("cache folder");
    let tmpfs = std::env::var_os("ZAITAKU_BENCH_TMPFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"));
    let pg = std::env::var("ZAITAKU_BENCH_PG")
        .ok()
        .filter(|u| !u.is_empty());
    let cases: Vec<String> = std::env::var("ZAITAKU_BENCH_CITY_CASES")
        .unwrap_or_else(|_| "ext4,tmpfs,send,pg,python".into())
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();

    let spec = spec(&Config::embedded(), &sizes);
    let data = dataset(&root, &spec);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("manifest.json")).expect("manifest"))
            .expect("manifest");
    let n = (manifest["mails"].as_u64().expect("mails") as usize).min(limit());
    println!(
        "{} employees ({} teleworkers), {} orders over {} working days {FIRST_DAY}..{LAST_DAY}, {} mails ({:.0} MB)",
        manifest["employees"],
        manifest["teleworkers"],
        manifest["orders"],
        manifest["days"],
        n,
        manifest["bytes"].as_f64().unwrap_or(0.0) / 1e6
    );
    println!("written: {}", manifest["written"]);
    println!("expected: {}", manifest["expected_reasons"]);

    // The SQLite register, imported once and copied for each case.
    let reg = tempfile::Builder::new()
        .prefix("zaitaku-city-register-")
        .tempdir_in(&root)
        .expect("register folder");
    let template_db = reg.path().join("register.db");
    let (_, cfg) = config_dir(reg.path(), &reg.path().join("sent"));
    let took = build_register(&format!("sqlite://{}", template_db.display()), &cfg, &data).await;
    println!(
        "register imported into SQLite in {:.1} s (not timed below)",
        took.as_secs_f64()
    );
    // ZAITAKU_BENCH_CITY_REGISTER=FILE keeps a copy of it, for runs by hand (an A/B of two
    // builds on the same register, `/usr/bin/time zaitaku ingest …`).
    if let Some(keep) = std::env::var_os("ZAITAKU_BENCH_CITY_REGISTER") {
        std::fs::copy(&template_db, &keep).expect("ZAITAKU_BENCH_CITY_REGISTER");
        println!("register copied to {}", PathBuf::from(keep).display());
    }

    let world = World {
        data,
        template_db,
        n,
        expected: serde_json::from_value(manifest["expected_reasons"].clone())
            .expect("expected reasons"),
        full,
    };
    let mut rows = Vec::new();
    for name in &cases {
        let ext4 = Case {
            name: "SQLite, ext4",
            place: &root,
            pg: None,
            send: false,
            python: false,
        };
        let c = match name.as_str() {
            "ext4" => ext4,
            "tmpfs" => Case {
                name: "SQLite, tmpfs",
                place: &tmpfs,
                ..ext4
            },
            "send" => Case {
                name: "SQLite, ext4, answers delivered to file:",
                send: true,
                ..ext4
            },
            "pg" => match &pg {
                Some(url) => Case {
                    name: "PostgreSQL, Maildir on ext4",
                    pg: Some(url),
                    ..ext4
                },
                None => {
                    println!(
                        "pg: skipped (set ZAITAKU_BENCH_PG=postgres://… to a database it may empty)"
                    );
                    continue;
                }
            },
            "python" => Case {
                name: "Python email + sqlite3, ext4",
                python: true,
                ..ext4
            },
            other => panic!("unknown case {other:?} in ZAITAKU_BENCH_CITY_CASES"),
        };
        rows.push(run_case(&world, &c).await);
    }

    println!();
    println!(
        "| case | mail-parser alone | wall | user | sys | ratio to mail-parser | messages/s | peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2}x | {:.0} | {} MiB |",
            r.case,
            r.parser.wall,
            r.run.wall,
            r.run.user,
            r.run.sys,
            r.run.wall / r.parser.wall,
            n as f64 / r.run.wall,
            r.run.peak_kib / 1024
        );
    }
    for r in &rows {
        println!("{}: {}", r.case, r.note);
    }
}
