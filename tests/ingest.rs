//! Taking report mail in through the real binary: the corpus of real-encoder mails under
//! `tests/fixtures/mail` (see its README and expected.csv), acknowledgements in the outbox,
//! Maildir and stdin sources, duplicates and unusable mail — on SQLite and PostgreSQL.

mod helpers;

use helpers::{Backend, Zt, backends, fixture};
use serde_json::Value;

struct Expected {
    file: String,
    kind: String,
    reason: String,
    arrival: String,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(fixture("mail/expected.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Expected {
                file: rec[0].into(),
                kind: rec[2].into(),
                reason: rec[3].into(),
                arrival: rec[4].into(),
            }
        })
        .collect()
}

fn ingest_json(zt: &Zt, args: &[&str]) -> Value {
    let mut all = vec!["ingest", "--json"];
    all.extend(args);
    let out = zt.ok(&all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("ingest --json is not JSON ({e}):\n{out}"))
}

#[test]
fn every_corpus_mail_gets_the_expected_kind_reason_and_arrival() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.without_loop_breaker().with_staff().with_orders_0112();
        let exp = expected();
        // 38 has no Received header: its arrival is --received-at, given separately below.
        let files: Vec<String> = exp
            .iter()
            .filter(|e| !e.file.starts_with("38-"))
            .map(|e| fixture(&format!("mail/{}", e.file)).display().to_string())
            .collect();
        let mut args: Vec<&str> = vec!["--no-send"];
        args.extend(files.iter().map(String::as_str));
        let v = ingest_json(&zt, &args);
        let msgs = v["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), files.len());
        let mut wrong = Vec::new();
        for (m, e) in msgs
            .iter()
            .zip(exp.iter().filter(|e| !e.file.starts_with("38-")))
        {
            assert!(m["file"].as_str().unwrap().ends_with(&e.file));
            let arrival_ok = e.arrival.is_empty() || m["at"] == e.arrival.as_str();
            if m["kind"] != e.kind.as_str() || m["reason"] != e.reason.as_str() || !arrival_ok {
                wrong.push(format!(
                    "{}: got {}/{} at {}, expected {}/{} at {}",
                    e.file, m["kind"], m["reason"], m["at"], e.kind, e.reason, e.arrival
                ));
            }
        }
        assert!(wrong.is_empty(), "{b:?}:\n{}", wrong.join("\n"));
        assert_eq!(v["duplicates"], 1);

        let v = ingest_json(
            &zt,
            &[
                "--no-send",
                "--received-at",
                "2021-01-12T08:26:00+09:00",
                fixture("mail/38-start-no-received.eml").to_str().unwrap(),
            ],
        );
        assert_eq!(v["messages"][0]["reason"], "matched");
        assert_eq!(v["messages"][0]["at"], "2021-01-12T08:26:00+09:00");
    }
}

#[test]
fn an_acknowledgement_answers_the_report_and_no_one_else_is_answered() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let files = [
            "01-start-iso2022jp.eml",
            "20-start-unknown-sender.eml",
            "27-auto-submitted.eml",
            "31-auto-bounce-mailer-daemon.eml",
        ];
        let paths: Vec<String> = files
            .iter()
            .map(|f| fixture(&format!("mail/{f}")).display().to_string())
            .collect();
        let mut args = vec!["ingest"];
        args.extend(paths.iter().map(String::as_str));
        let out = zt.ok(&args);
        assert!(out.contains("1 sent"), "{out}");
        let sent = zt.sent();
        assert_eq!(sent.len(), 1, "only the teleworker is answered: {sent:#?}");
        let ack = &sent[0];
        assert!(
            ack.contains("In-Reply-To: <20210112082735.1001@pc01.city.example.lg.jp>"),
            "{ack}"
        );
        assert!(
            ack.contains("References: <20210112082735.1001@pc01.city.example.lg.jp>"),
            "{ack}"
        );
        assert!(ack.contains("Auto-Submitted: auto-replied"), "{ack}");
        assert!(ack.contains("To: yamada@city.example.lg.jp"), "{ack}");
        assert!(!ack.contains("stranger@example.com"));
        // The same mail again (a re-run of the pipe): processed once, answered once.
        let out = zt.ok(&args);
        assert!(
            out.contains("4 duplicate(s) skipped") && out.contains("0 mail(s) queued"),
            "{out}"
        );
        assert_eq!(zt.sent().len(), 1);
        // The board shows the report and the unmatched mail.
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        let t = &board["teleworkers"][0];
        assert_eq!(t["start"]["status"], "on_time");
        assert_eq!(t["start"]["at"], "2021-01-12T08:27:41+09:00");
        assert_eq!(t["start"]["source"], "file");
        assert_eq!(t["reports"][0]["kind"], "start");
        let reasons: Vec<&str> = board["unmatched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["reason"].as_str().unwrap())
            .collect();
        assert_eq!(
            reasons,
            ["auto_reply", "unknown_sender", "auto_reply"],
            "{board}"
        );
    }
}

#[test]
fn late_early_and_the_work_summary_show_on_the_board() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let files = [
            "22-start-late.eml",
            "23-end-early.eml",
            "01-start-iso2022jp.eml",
            "02-end-nippo-sjis-8bit.eml",
        ];
        let paths: Vec<String> = files
            .iter()
            .map(|f| fixture(&format!("mail/{f}")).display().to_string())
            .collect();
        let mut args = vec!["ingest", "--no-send"];
        args.extend(paths.iter().map(String::as_str));
        zt.ok(&args);
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        let by_id = |id: &str| {
            board["teleworkers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["employee_id"] == id)
                .unwrap()
                .clone()
        };
        let sato = by_id("E1002");
        assert_eq!(
            (
                sato["start"]["status"].as_str(),
                sato["end"]["status"].as_str()
            ),
            (Some("late"), Some("early"))
        );
        let yamada = by_id("E1001");
        assert_eq!(yamada["end"]["status"], "on_time");
        let summary = yamada["summary"].as_str().unwrap();
        assert!(
            summary.contains('表'),
            "the Shift_JIS 日報 decodes, 0x5C trail byte included: {summary}"
        );
    }
}

#[test]
fn no_order_answers_the_sender_and_tells_the_supervisor() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff().with_orders_0112();
    zt.ok(&[
        "ingest",
        fixture("mail/19-start-no-order.eml").to_str().unwrap(),
    ]);
    let sent = zt.sent();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent.iter()
            .any(|m| m.contains("To: tanaka@city.example.lg.jp"))
    );
    assert!(sent.iter().any(|m| m.contains("To: ito@city.example.lg.jp")
        && m.contains("Auto-Submitted: auto-generated")));
    let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
    assert_eq!(board["unmatched"][0]["reason"], "no_order");
    assert_eq!(board["unmatched"][0]["from"], "tanaka@city.example.lg.jp");
}

#[test]
fn unusable_mail_is_kept_and_shown_never_dropped() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff();
    let r = zt.run(&[
        "ingest",
        "--received-at",
        "2021-01-12T09:00:00+09:00",
        fixture("mail/40-garbage-binary.eml").to_str().unwrap(),
    ]);
    r.expect_code(0);
    assert!(r.stdout.contains("1 unparseable"), "{}", r.stdout);
    let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
    assert_eq!(board["unmatched"][0]["reason"], "unparseable");
}

#[test]
fn a_procmail_pipe_on_stdin_is_a_report() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff().with_orders_0112();
    let bytes = std::fs::read(fixture("mail/03-start-utf8-base64.eml")).unwrap();
    let r = zt.run_stdin(&["ingest", "-"], &bytes);
    r.expect_code(0);
    let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
    assert_eq!(board["teleworkers"][1]["start"]["source"], "stdin");
}

#[test]
fn a_maildir_backlog_is_processed_once_and_moved_to_cur() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let inbox = zt.path("inbox");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(inbox.join(sub)).unwrap();
        }
        for (i, f) in [
            "01-start-iso2022jp.eml",
            "03-start-utf8-base64.eml",
            "38-start-no-received.eml",
        ]
        .iter()
        .enumerate()
        {
            // 38 has no Received header: the Maildir name's delivery time (08:26:00 JST) counts.
            std::fs::copy(
                fixture(&format!("mail/{f}")),
                inbox.join(format!("new/{}.M{i}P1.mail", 1610407560 + i)),
            )
            .unwrap();
        }
        let out = zt.ok(&["ingest", "--maildir", inbox.to_str().unwrap()]);
        assert!(out.contains("3 message(s) processed"), "{out}");
        assert_eq!(std::fs::read_dir(inbox.join("new")).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(inbox.join("cur")).unwrap().count(), 3);
        let out = zt.ok(&["ingest", "--maildir", inbox.to_str().unwrap()]);
        assert!(out.contains("0 message(s) processed"), "{out}");
        assert_eq!(zt.sent().len(), 3);
    }
}

#[test]
fn a_missing_file_is_bad_input_and_nothing_is_processed() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff().with_orders_0112();
    let good = fixture("mail/01-start-iso2022jp.eml");
    zt.run(&["ingest", good.to_str().unwrap(), "nope.eml"])
        .expect_bad_input(&["nope.eml", "no such file"]);
    let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
    assert!(
        board["teleworkers"][0]["reports"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    zt.run(&[
        "ingest",
        "--received-at",
        "yesterday",
        good.to_str().unwrap(),
    ])
    .expect_bad_input(&["--received-at", "RFC 3339"]);
}

/// The test city opened in this process: its store, config and chat channels, and the
/// moment its start mails arrive (2021-01-12 08:20 in Tokyo).
async fn opened(
    zt: &Zt,
) -> (
    zaitaku::store::Store,
    zaitaku::config::Config,
    zaitaku::outbox::channel::Channels,
    chrono::DateTime<chrono::Utc>,
) {
    let store = zaitaku::store::Store::open(&zt.db).await.unwrap();
    let cfg = zaitaku::cli::load_config_for(Some(&zt.path("config")), None).unwrap();
    let channels = zaitaku::chat::channels(&cfg);
    let at = chrono::DateTime::parse_from_rfc3339("2021-01-12T08:20:00+09:00")
        .unwrap()
        .to_utc();
    (store, cfg, channels, at)
}

/// The attack on the pool: more batches of mail at once than the database pool has
/// connections (4 on SQLite, 8 on PostgreSQL), in one process, as a daemon's mailboxes, chat
/// and web reports are. Each batch holds its transaction while it looks its senders' orders
/// and answer counts up; when the look-up took a second connection from the pool, every
/// connection ended up held by a batch waiting for one more, until the pool's 30 s timeout
/// failed them all. Each must be stored, well within that timeout.
#[test]
fn more_batches_at_once_than_the_pool_has_connections_are_all_stored() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let mails: Vec<_> = expected()
            .into_iter()
            .filter(|e| e.reason == "matched")
            .take(9)
            .map(|e| fixture(&format!("mail/{}", e.file)))
            .collect();
        assert_eq!(mails.len(), 9, "the corpus has 9 matched mails");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (store, cfg, channels, at) = opened(&zt).await;
            let batches = mails.iter().map(|m| {
                zaitaku::ingest::ingest_files(
                    &store,
                    &cfg,
                    &channels,
                    std::slice::from_ref(m),
                    Some(at),
                    at,
                    false,
                )
            });
            let done = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                futures_util::future::join_all(batches),
            )
            .await
            .unwrap_or_else(|_| panic!("{b:?}: 9 batches on the pool waited on each other (20 s)"));
            for (m, got) in mails.iter().zip(done) {
                let s = got.unwrap_or_else(|e| panic!("{b:?}: {}: {e}", m.display()));
                assert_eq!(s.processed, 1, "{b:?}: {}: {s:?}", m.display());
            }
            store.close().await;
        });
    }
}

/// The attack on the batch's look-ups: a batch of mails from several teleworkers, taken in as
/// the daemon takes an IMAP mailbox's new mail (one `store_batch`), must find their orders and
/// the loop breaker's counts with the batch (a statement per day), not with a statement per
/// mail. The IMAP reader handed its batches over unparsed, so the look-up saw none of their
/// senders and every mail read its order and its count alone: 45,500 statements for the
/// rush's 22,750 mails, the count's at 0.8 ms each on a plan made for an empty table (stop 33).
#[test]
fn a_batch_of_mail_finds_its_orders_and_counts_with_the_batch_not_one_mail_at_a_time() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let mails: Vec<Vec<u8>> = expected()
            .into_iter()
            .filter(|e| e.reason == "matched")
            .take(9)
            .map(|e| std::fs::read(fixture(&format!("mail/{}", e.file))).unwrap())
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (store, cfg, channels, at) = opened(&zt).await;
            let raws: Vec<zaitaku::ingest::Raw> = mails
                .into_iter()
                .map(|bytes| zaitaku::ingest::Raw::read(bytes, "imap", Some(at), None, None))
                .collect();
            let mut ing = zaitaku::ingest::Ingestor::new(&store, &cfg, &channels)
                .await
                .unwrap();
            ing.store_batch(&raws, at)
                .await
                .unwrap()
                .commit()
                .await
                .unwrap();
            assert_eq!(ing.summary.processed, 9, "{b:?}: {:?}", ing.summary);
            assert_eq!(
                ing.summary.by_reason.get("matched"),
                Some(&9),
                "{b:?}: {:?}",
                ing.summary
            );
            assert_eq!(
                ing.looked_up_alone(),
                0,
                "{b:?}: orders and answer counts read one mail at a time instead of with the batch"
            );
            store.close().await;
        });
    }
}

/// The attack on plans kept from an empty table (PostgreSQL): a daemon's connections live for
/// many statements, and PostgreSQL, after five runs of a prepared statement, may keep one
/// generic plan for it. Made while a city's reports were few, that plan reads the whole table,
/// every city's rows, once it has filled: the rush bench read the day's reports (each city's
/// tick) at 6.9 ms a statement instead of 0.08 ms, and the outbox (each city's delivery loop)
/// at 12.5 ms (stop 33). What a city's tick and delivery loop read again and again is to be
/// planned for the tables as they are (`store::KEEP_POLLED`), so none of it may have run on a
/// kept plan; inserts have no plan to go wrong. (SQLite plans without the table's
/// statistics, from its indexes alone.)
#[test]
fn no_statement_runs_on_a_plan_kept_from_when_its_table_was_small() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let zt = Zt::new(Backend::Postgres);
    zt.with_staff().with_orders_0112();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // One connection, so that every statement below is prepared on it.
        let store = zaitaku::store::Store::open_sized(&zt.db, None, Some(1))
            .await
            .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2021, 1, 12).unwrap();
        let cfg = zaitaku::cli::load_config_for(Some(&zt.path("config")), None).unwrap();
        let channels = zaitaku::chat::channels(&cfg);
        let transport = zaitaku::mail::transport::Transport::for_mail(&cfg.mail).unwrap();
        // The day's tick at 10:00, after the start deadlines: its reads of the day's board.
        let now = chrono::DateTime::parse_from_rfc3339("2021-01-12T10:00:00+09:00")
            .unwrap()
            .to_utc();
        for _ in 0..8 {
            store.reports_on(day).await.unwrap();
            zaitaku::outbox::next_due(&store).await.unwrap();
            zaitaku::tick::tick_with(&store, &cfg, (&transport, &channels), now, false)
                .await
                .unwrap();
        }
        let mut c = store.conn().await.unwrap();
        // A statement without parameters always runs on its one plan: those the daemon polls
        // (`next_due`) are not kept prepared at all.
        let kept: Vec<(String, i64)> = sqlx::query_as(
            "SELECT statement, generic_plans FROM pg_prepared_statements
             WHERE generic_plans > 0 AND statement NOT LIKE '%pg_prepared_statements%'
             AND statement NOT LIKE 'INSERT%'
             AND (cardinality(parameter_types) > 0 OR statement LIKE '%outbox%')",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap();
        assert!(
            kept.is_empty(),
            "statements run on a plan kept from earlier runs: {kept:?}"
        );
        drop(c);
        store.close().await;
    });
}
