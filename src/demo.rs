//! `zaitaku demo`: a self-contained tour on the built-in defaults. It builds a small register
//! (two departments, their staff, applications, IDs and a week of orders), then plays
//! 2021-01-12: morning reports arrive in a Maildir, the board is shown, evening reports arrive,
//! the acknowledgements are written to the outbox folder. Everything lives under one folder,
//! recreated on each run, so the tour can be repeated and its files looked at.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::calendar::parse_instant;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::maildir;
use crate::store::Store;
use crate::usecase::board::load as status_board;
use crate::{ingest, register, tick};

const EMPLOYEES: &str = include_str!("../config/demo/employees.csv");
const ORDERS: &str = include_str!("../config/demo/orders.csv");

/// The demo's mail, with the moment each reaches the Maildir (its Received time).
const MORNING: &[(&str, &[u8])] = &[
    (
        "01-start-iso2022jp.eml",
        include_bytes!("../config/demo/mail/01-start-iso2022jp.eml"),
    ),
    (
        "03-start-utf8-base64.eml",
        include_bytes!("../config/demo/mail/03-start-utf8-base64.eml"),
    ),
    (
        "19-start-no-order.eml",
        include_bytes!("../config/demo/mail/19-start-no-order.eml"),
    ),
    (
        "20-start-unknown-sender.eml",
        include_bytes!("../config/demo/mail/20-start-unknown-sender.eml"),
    ),
    (
        "27-auto-submitted.eml",
        include_bytes!("../config/demo/mail/27-auto-submitted.eml"),
    ),
];
const EVENING: &[(&str, &[u8])] = &[
    (
        "02-end-nippo-sjis-8bit.eml",
        include_bytes!("../config/demo/mail/02-end-nippo-sjis-8bit.eml"),
    ),
    (
        "26-end-forward-tensou.eml",
        include_bytes!("../config/demo/mail/26-end-forward-tensou.eml"),
    ),
];

/// The demo's web logins: (employee, who they are). All share `DEMO_PASSWORD`.
const WEB_LOGINS: &[(&str, &str)] = &[
    (
        "E2001",
        "鈴木一郎（情報管理課の所属長: 承認・電話連絡・督促の解決）",
    ),
    (
        "E1001",
        "山田太郎（情報管理課のテレワーク職員: 自分の命令と勤務申請）",
    ),
    ("E9001", "中村誠（情報担当: 職員・申請・ID・集計）"),
    ("E3001", "渡辺健（人事課: 全課の状況を閲覧）"),
];
const DEMO_PASSWORD: &str = "zaitaku-demo";
/// The web board's clock in the demo: the evening of the demo's day.
const WEB_CLOCK: &str = "2021-01-12T17:50:00+09:00";

/// The tour; with `web`, then the register and board on that address until `shutdown`.
pub async fn run(
    dir: &Path,
    web: Option<std::net::SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    fresh_dir(dir)?;
    let d = dir.display();
    let mut cfg = Config::embedded();
    cfg.database = format!("sqlite://{d}/zaitaku.db");
    cfg.mail.source = format!("maildir:{d}/inbox");
    cfg.mail.transport = format!("file:{d}/outbox");
    let store = Store::open(&cfg.database).await?;
    let mut result = tour(dir, &cfg, &store, web.is_some()).await;
    if let (Ok(()), Some(addr)) = (&result, web) {
        result = serve_web(&cfg, &store, addr, shutdown).await;
    }
    store.close().await;
    result
}

/// `demo --web`: logins for four roles, then the web register on the demo's day.
async fn serve_web(
    cfg: &Config,
    store: &Store,
    addr: std::net::SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let now = parse_instant("demo", WEB_CLOCK)?;
    for (employee, _) in WEB_LOGINS {
        crate::web::auth::set_password(store, employee, DEMO_PASSWORD, now).await?;
    }
    let listener = crate::web::bind(addr).await?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io(Path::new("web listener"), e))?;
    heading("8. ブラウザで見る (zaitaku web)");
    println!(
        "  http://{bound}/ を開いてください。時計は {WEB_CLOCK} から進みます。Ctrl-C で終了します。"
    );
    println!("  ログイン（パスワードはすべて {DEMO_PASSWORD}）:");
    for (employee, who) in WEB_LOGINS {
        println!("    {employee}  {who}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let channels = crate::chat::channels(cfg);
    crate::web::serve(
        cfg.clone(),
        store.clone(),
        channels,
        listener,
        shutdown,
        (
            crate::clock::Clock::starting_at(Some(now)),
            crate::health::Health::unwatched(),
        ),
    )
    .await
}

async fn tour(dir: &Path, cfg: &Config, store: &Store, web: bool) -> Result<()> {
    let inbox = dir.join("inbox");
    maildir::ensure(&inbox)?;
    let at = |s: &str| parse_instant("demo", s);

    prepare_register(dir, cfg, store).await?;
    let channels = &crate::chat::channels(cfg);
    let transport = &crate::mail::transport::Transport::for_mail(&cfg.mail)?;

    heading("2. 2021-01-12 朝: 開始連絡が届く (zaitaku ingest --maildir)");
    deliver(&inbox, MORNING)?;
    let s = ingest::ingest_maildir(
        store,
        cfg,
        channels,
        &inbox,
        at("2021-01-12T08:40:00+09:00")?,
        false,
    )
    .await?;
    println!("  {s}");
    let t = tick::tick(
        store,
        cfg,
        transport,
        channels,
        at("2021-01-12T08:40:00+09:00")?,
    )
    .await?;
    println!("  {t}  → {}", dir.join("outbox").display());
    board(store, cfg, "2021-01-12T08:40:00+09:00").await?;

    heading("3. 09:30 連絡のない職員への督促 (zaitaku tick: 本人へ確認 → 所属長へ → 人事課へ)");
    let t = tick::tick(
        store,
        cfg,
        transport,
        channels,
        at("2021-01-12T09:30:00+09:00")?,
    )
    .await?;
    println!("  {t}");
    board(store, cfg, "2021-01-12T09:30:00+09:00").await?;

    heading("4. 09:40 所属長が小林さんと電話で連絡 (zaitaku contact): 督促はここで止まる");
    let contact = register::Contact {
        employee: "E1004".into(),
        date: crate::calendar::parse_date("2021-01-12").expect("valid date"),
        kind: register::ContactKind::Start,
        at: "09:35".into(),
        by: "E2001".into(),
        note: Some("自宅回線の不調で連絡が遅れた".into()),
    };
    let when = at("2021-01-12T09:40:00+09:00")?;
    let actor = crate::store::audit::Actor::web("E2001", None);
    register::record_contact(store, cfg, contact, when, &actor).await?;
    println!("  電話連絡を記録しました: 小林直子 業務開始 09:35（記録: 鈴木一郎）");
    let t = tick::tick(
        store,
        cfg,
        transport,
        channels,
        at("2021-01-12T10:00:00+09:00")?,
    )
    .await?;
    println!("  10:00 の tick: {t}");
    println!("  （10:00 は所属長あての在宅勤務状況メール（ダイジェスト）の時刻です）");

    heading("5. 2021-01-12 夕方: 終了連絡と日報が届く");
    deliver(&inbox, EVENING)?;
    let evening = at("2021-01-12T17:30:00+09:00")?;
    let s = ingest::ingest_maildir(store, cfg, channels, &inbox, evening, false).await?;
    println!("  {s}");
    let t = tick::tick(
        store,
        cfg,
        transport,
        channels,
        at("2021-01-12T18:00:00+09:00")?,
    )
    .await?;
    println!("  {t}");
    board(store, cfg, "2021-01-12T18:00:00+09:00").await?;

    show_outbox(dir, store).await?;

    heading("7. J-LIS 利用アンケート 第1回（2021-02: 2021年1月分）の集計 (zaitaku survey 2021-02)");
    let survey = crate::survey::compile(store, cfg, "2021-02").await?;
    for line in crate::survey::render_markdown(&survey).lines() {
        println!("  {line}");
    }

    next_steps(dir, web);
    Ok(())
}

/// Step 1 of the tour: the register of departments, staff, applications, IDs and orders.
async fn prepare_register(dir: &Path, cfg: &Config, store: &Store) -> Result<()> {
    heading(
        "1. 台帳の準備 (zaitaku init / employees import / applications add / ids assign / orders import)",
    );
    let n = register::init(store, cfg).await?;
    println!("  テレワーク対象部署 {n} 課を読み込みました（config/departments.toml）");
    let employees = write(dir, "employees.csv", EMPLOYEES)?;
    let now = parse_instant("demo", "2021-01-04T09:00:00+09:00")?;
    let n = register::import_employees(store, &employees, now).await?;
    println!("  職員 {n} 名を登録しました（{}）", employees.display());
    for (dept, pc, users) in [
        ("情報管理課", "JOHO-PC01", "E1001,E1002,E1004"),
        ("財政課", "ZAISEI-PC01", "E1003,E1005"),
    ] {
        let a = register::add_application(
            store,
            cfg,
            register::ApplicationArgs {
                department: dept.into(),
                fiscal_year: 2020,
                pc: pc.into(),
                users: users.split(',').map(str::to_string).collect(),
                emergency: false,
            },
            now,
        )
        .await?;
        println!(
            "  テレワーク申請: {} 令和2年度 PC {} 利用者 {}",
            a.department,
            a.pc_name,
            a.users.join(",")
        );
    }
    for e in ["E1001", "E1002", "E1003", "E1004", "E1005"] {
        let from = crate::calendar::parse_date("2021-01-04").expect("valid date");
        let h = register::assign_id(store, cfg, e, from, None, now).await?;
        println!(
            "  テレワーク用ID {:>2} → {} ({}〜{})",
            h.id_no, h.employee, h.from, h.to
        );
    }
    let orders = write(dir, "orders.csv", ORDERS)?;
    let n = register::import_orders(store, cfg, &orders, now).await?;
    println!(
        "  在宅勤務命令 {n} 件を登録しました（{}）",
        orders.display()
    );
    Ok(())
}

/// Step 6 of the tour: every mail sent, addressee and subject.
async fn show_outbox(dir: &Path, store: &Store) -> Result<()> {
    heading("6. 送信したメール (outbox)");
    let subjects = sqlx::query_scalar::<_, String>(
        "SELECT envelope_to || '  ' || subject FROM outbox ORDER BY id",
    )
    .fetch_all(&mut *store.conn().await?)
    .await?;
    println!(
        "  {} 通（宛先と件名）: .eml は {}",
        subjects.len(),
        dir.join("outbox").display()
    );
    for s in subjects {
        println!("  - {s}");
    }
    Ok(())
}

/// What to try after the tour.
fn next_steps(dir: &Path, web: bool) {
    heading("次に試すこと");
    println!(
        "  cargo run --release -- --db sqlite://{}/zaitaku.db status --date 2021-01-12 --now 2021-01-12T12:00:00+09:00",
        dir.display()
    );
    println!("  ls {}   (受付メール .eml)", dir.join("outbox").display());
    println!(
        "  README.md の「Getting started with your own data」: 自分の職員 CSV と勤務命令 CSV で始める手順"
    );
    if !web {
        println!(
            "  cargo run --release -- demo --web   (同じ一日をブラウザの命令簿・状況ボードで見る: http://127.0.0.1:8080/)"
        );
    }
}

fn heading(s: &str) {
    println!("\n== {s}");
}

async fn board(store: &Store, cfg: &Config, now: &str) -> Result<()> {
    let now: DateTime<Utc> = parse_instant("demo", now)?;
    let date = crate::calendar::local_date(now, cfg.timezone);
    let b = status_board(store, cfg, date, now).await?;
    println!();
    for line in b.render_text().lines() {
        println!("  {line}");
    }
    Ok(())
}

/// Drops the mails into the Maildir as a delivery agent would, named by their arrival time.
fn deliver(inbox: &Path, mails: &[(&str, &[u8])]) -> Result<()> {
    for (i, (name, bytes)) in mails.iter().enumerate() {
        let when = crate::mail::parse::parse(bytes)
            .ok()
            .and_then(|m| m.received)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let stem = name.trim_end_matches(".eml");
        maildir::deliver(inbox, &format!("{when}.M{i}P0.demo-{stem}"), bytes)?;
    }
    Ok(())
}

fn write(dir: &Path, name: &str, text: &str) -> Result<std::path::PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    Ok(p)
}

/// The demo folder is the demo's own: only its known contents are removed, so pointing
/// `--dir` at a folder holding other files is refused rather than emptied.
fn fresh_dir(dir: &Path) -> Result<()> {
    const OURS: &[&str] = &[
        "zaitaku.db",
        "zaitaku.db-wal",
        "zaitaku.db-shm",
        "inbox",
        "outbox",
        "employees.csv",
        "orders.csv",
    ];
    if dir.exists() {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io(dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !OURS.contains(&name.as_str()) {
                return Err(Error::bad(
                    dir.display().to_string(),
                    format!("holds {name:?}, which the demo did not make; choose another --dir"),
                ));
            }
        }
        for name in OURS {
            let p = dir.join(name);
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if let Err(e) = r.or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }) {
                return Err(Error::io(&p, e));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}
