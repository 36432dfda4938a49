//! How fast a Maildir backlog is taken in, end to end, on SQLite: parse, classify, match, store
//! and queue the acknowledgement, for 100,000 messages — against mail-parser alone parsing the
//! same messages (the yardstick: within 3x of it).
//!
//! `cargo bench --bench ingest` writes the backlog into a temporary Maildir (not timed) from the
//! real-encoder corpus in `tests/fixtures/mail` (ISO-2022-JP, Shift_JIS, base64, quoted-printable,
//! HTML, auto-replies, strangers; each copy with its own Message-ID), then times:
//! 1. mail-parser alone: read each file, parse it, decode the subject and the text body;
//! 2. `zaitaku ingest --maildir` as a library call, acknowledgements queued in the outbox.
//!
//! Run as a test (`cargo test --all-targets`, without `--bench`) it does the same on 2,000
//! messages, so that CI keeps it working without spending minutes on it.
//!
//! For counting instructions under callgrind (docs/benchmarks.md, "What the hardening costs"):
//! `ZAITAKU_BENCH_MESSAGES=N` sets the backlog's size, and `ZAITAKU_BENCH_PHASES=setup` (the
//! register and the backlog only) or `=parse` (and mail-parser alone) stops early, so that each
//! phase's count is the difference between two runs.
//!
//! `ZAITAKU_BENCH_ORDERS=N` times `orders import` of N rows instead (issue 18: what the audit
//! trail costs an import): a register of ⌈N / 58⌉ teleworkers over the 46 departments, each
//! with an ID (`licensed_ids` as many), ordered on every working day of January to March 2021,
//! one file of N rows, imported into an empty register of orders. `ZAITAKU_BENCH_PHASES=setup`
//! stops before the import, so that the import's count is the difference.

use std::path::{Path, PathBuf};
use std::time::Instant;

use zaitaku::config::Config;
use zaitaku::store::Store;
use zaitaku::{ingest, register};

/// The corpus mails that make up the backlog: a realistic mix, most of them reports.
const MIX: &[&str] = &[
    "01-start-iso2022jp.eml",
    "02-end-nippo-sjis-8bit.eml",
    "03-start-utf8-base64.eml",
    "04-start-utf8-qp-qsubject.eml",
    "05-start-multipart-alternative.eml",
    "06-start-html-only.eml",
    "08-end-reply-gmail-quote.eml",
    "09-end-reply-outlook-original.eml",
    "10-end-reply-outlook-ja-header.eml",
    "13-unclassified-english.eml",
    "15-leave-jikankyu-sjis-base64.eml",
    "19-start-no-order.eml",
    "20-start-unknown-sender.eml",
    "22-start-late.eml",
    "25-end-attachment-pdf.eml",
    "27-auto-submitted.eml",
    "31-auto-bounce-mailer-daemon.eml",
];

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU time the process has used, all threads, in seconds (`/proc/self/stat`, 100 ticks/s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let ticks = |i: usize| rest.get(i)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(0.0)
}

fn write_backlog(maildir: &Path, n: usize) -> Vec<PathBuf> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let bases: Vec<String> = MIX
        .iter()
        .map(|f| {
            String::from_utf8_lossy(&std::fs::read(fixtures.join(f)).expect("fixture")).into_owned()
        })
        .collect();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    (0..n)
        .map(|i| {
            let base = &bases[i % bases.len()];
            // Same message, its own Message-ID: a backlog of distinct mails.
            let text = match base
                .to_ascii_lowercase()
                .find("\nmessage-id:")
                .and_then(|at| base[at..].find('<').map(|lt| at + lt + 1))
            {
                Some(at) => format!("{}bench{i}.{}", &base[..at], &base[at..]),
                None => base.clone(),
            };
            let p = maildir
                .join("new")
                .join(format!("{}.M{i}P1.bench", 1_610_400_000 + i));
            std::fs::write(&p, text).expect("write");
            p
        })
        .collect()
}

/// `ZAITAKU_BENCH_ORDERS=N`: the import of N order rows, timed (see the module's comment).
async fn orders_bench(n: usize, phases: &str) {
    use zaitaku::store::audit::Actor;
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display();
    let mut cfg = Config::embedded();
    cfg.database = format!("sqlite://{d}/bench.db");
    let first = zaitaku::calendar::parse_date("2021-01-04").expect("date");
    let last = zaitaku::calendar::parse_date("2021-03-31").expect("date");
    let days: Vec<_> = first
        .iter_days()
        .take_while(|day| *day <= last)
        .filter(|day| cfg.calendar.closed_reason(*day).is_none())
        .collect();
    let people = n.div_ceil(days.len());
    cfg.service.licensed_ids = people as u32;
    let store = Store::open(&cfg.database).await.expect("open the database");
    register::init(&store, &cfg).await.expect("init");
    let depts: Vec<String> = cfg.departments.iter().map(|d| d.name.clone()).collect();
    let mut staff = String::from("employee_id,name,email,department,role\n");
    for (i, dept) in depts.iter().enumerate() {
        staff.push_str(&format!(
            "S{i:03},所属長{i},s{i}@city.example.lg.jp,{dept},supervisor\n"
        ));
    }
    for t in 0..people {
        let dept = &depts[t % depts.len()];
        staff.push_str(&format!(
            "T{t:05},職員{t},t{t}@city.example.lg.jp,{dept},teleworker\n"
        ));
    }
    let staff_csv = dir.path().join("staff.csv");
    std::fs::write(&staff_csv, staff).expect("staff");
    register::import_employees(&store, &staff_csv, chrono::Utc::now())
        .await
        .expect("employees");
    for (i, dept) in depts.iter().enumerate() {
        let users: Vec<String> = (0..people)
            .filter(|t| t % depts.len() == i)
            .map(|t| format!("T{t:05}"))
            .collect();
        if users.is_empty() {
            continue;
        }
        let app = register::ApplicationArgs {
            department: dept.clone(),
            fiscal_year: 2020,
            pc: format!("PC{i:03}"),
            users,
            emergency: false,
        };
        register::add_application(&store, &cfg, app, chrono::DateTime::UNIX_EPOCH)
            .await
            .expect("application");
    }
    // Each its own ID, without `ids assign` choosing among all held (quadratic in people).
    let actor = Actor::cli();
    for t in 0..people {
        let h = zaitaku::ids::Held {
            id_no: t as u32 + 1,
            employee: format!("T{t:05}"),
            from: first,
            to: last,
        };
        assert!(
            store
                .insert_assignment(&h, 2020, chrono::DateTime::UNIX_EPOCH, &actor)
                .await
                .expect("id")
        );
    }
    let mut csv = String::from("employee_id,date,start,end,content,approved_by,shifted\n");
    let mut rows = 0;
    'rows: for day in &days {
        for t in 0..people {
            if rows == n {
                break 'rows;
            }
            let sup = t % depts.len();
            csv.push_str(&format!("T{t:05},{day},,,資料作成,S{sup:03},\n"));
            rows += 1;
        }
    }
    let orders = dir.path().join("orders.csv");
    std::fs::write(&orders, csv).expect("orders");
    println!(
        "register: {people} teleworkers, {} days, {n} order rows",
        days.len()
    );
    if phases == "setup" {
        store.close().await;
        return;
    }
    let t = Instant::now();
    let imported = register::import_orders(&store, &cfg, &orders, chrono::DateTime::UNIX_EPOCH)
        .await
        .expect("orders import");
    let secs = t.elapsed().as_secs_f64();
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'order'")
        .fetch_one(&mut *store.conn().await.expect("connection"))
        .await
        .expect("count");
    assert_eq!(imported, n);
    println!(
        "orders import: {n} rows in {secs:.2} s ({:.0} rows/s), {entries} audit entries",
        n as f64 / secs
    );
    store.close().await;
}

#[tokio::main]
async fn main() {
    if let Some(n) = std::env::var("ZAITAKU_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let phases = std::env::var("ZAITAKU_BENCH_PHASES").unwrap_or_default();
        return orders_bench(n, &phases).await;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let n = std::env::var("ZAITAKU_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 2_000 });
    let phases = std::env::var("ZAITAKU_BENCH_PHASES").unwrap_or_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display();
    let mut cfg = Config::embedded();
    cfg.database = format!("sqlite://{d}/bench.db");
    cfg.mail.transport = format!("file:{d}/sent");
    // The backlog is a dozen people's mails over and over: the loop breaker would stop
    // answering after ten each, and the run would format far fewer mails than a city's day.
    cfg.mail.max_answers_per_address_per_day = u32::MAX;
    let store = Store::open(&cfg.database).await.expect("open the database");
    register::init(&store, &cfg).await.expect("init");
    let staff = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/register/employees.csv");
    register::import_employees(&store, &staff, chrono::Utc::now())
        .await
        .expect("employees");
    let app = register::ApplicationArgs {
        department: "情報管理課".into(),
        fiscal_year: 2020,
        pc: "JOHO-PC01".into(),
        users: vec!["E1001".into(), "E1002".into()],
        emergency: false,
    };
    register::add_application(&store, &cfg, app, chrono::DateTime::UNIX_EPOCH)
        .await
        .expect("application");
    let from = zaitaku::calendar::parse_date("2021-01-04").expect("date");
    for e in ["E1001", "E1002"] {
        register::assign_id(&store, &cfg, e, from, None, chrono::Utc::now())
            .await
            .expect("id");
    }
    let orders = dir.path().join("orders.csv");
    std::fs::write(
        &orders,
        "employee_id,date,start,end,content,approved_by,shifted\nE1001,2021-01-12,,,a,E2001,\nE1002,2021-01-12,,,b,E2001,\n",
    )
    .expect("orders");
    register::import_orders(&store, &cfg, &orders, chrono::DateTime::UNIX_EPOCH)
        .await
        .expect("orders");

    let maildir = dir.path().join("inbox");
    let t = Instant::now();
    let files = write_backlog(&maildir, n);
    // Written to disk before anything is timed: otherwise the kernel's writeback of 126 MB
    // takes a core from whichever run comes first.
    let _ = std::process::Command::new("sync").status();
    let bytes: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "backlog: {n} messages, {:.1} MB, written in {:.1} s (not timed)",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    if phases == "setup" {
        store.close().await;
        return;
    }

    // 1. mail-parser alone, on the same files.
    let t = Instant::now();
    let mut chars = 0usize;
    for p in &files {
        let raw = std::fs::read(p).expect("read");
        if let Some(m) = mail_parser::MessageParser::default().parse(&raw) {
            chars += m.subject().map(str::len).unwrap_or(0)
                + m.body_text(0).map(|b| b.len()).unwrap_or(0);
        }
    }
    let parse_only = t.elapsed().as_secs_f64();
    std::hint::black_box(chars);
    let rss_before = peak_rss_kib();
    if phases == "parse" {
        store.close().await;
        return;
    }

    // 2. End to end.
    let now = chrono::Utc::now();
    let cpu = cpu_seconds();
    let t = Instant::now();
    let summary = ingest::ingest_maildir(
        &store,
        &cfg,
        &zaitaku::chat::channels(&cfg),
        &maildir,
        now,
        false,
    )
    .await
    .expect("ingest");
    let end_to_end = t.elapsed().as_secs_f64();
    let end_to_end_cpu = cpu_seconds() - cpu;
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&mut *store.conn().await.expect("connection"))
        .await
        .expect("count");
    assert_eq!(summary.processed, n, "every message processed: {summary}");

    println!("{summary}");
    println!();
    println!("| what | time | messages/s |");
    println!("| --- | --- | --- |");
    println!(
        "| mail-parser alone (read + parse + decode) | {parse_only:.2} s | {:.0} |",
        n as f64 / parse_only
    );
    println!(
        "| ingest --maildir end to end ({queued} acks queued) | {end_to_end:.2} s | {:.0} |",
        n as f64 / end_to_end
    );
    println!();
    println!(
        "end to end / mail-parser alone: {:.2}x",
        end_to_end / parse_only
    );
    println!(
        "CPU time of the end-to-end run, all threads: {end_to_end_cpu:.2} s ({:.2} cores busy)",
        end_to_end_cpu / end_to_end
    );
    println!(
        "peak resident memory: {} MiB before ingest, {} MiB after",
        rss_before / 1024,
        peak_rss_kib() / 1024
    );
    store.close().await;
}
