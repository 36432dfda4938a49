//! Escalation chains, phone contacts and digests through `zaitaku tick --now`, on SQLite and
//! PostgreSQL: every boundary by the injected clock, each step sent once, and two daemons'
//! worth of ticks at the same moment sending nothing twice.

mod helpers;

use helpers::http::WebServer;
use helpers::{Backend, Zt, backends, fixture, sql_exec};
use serde_json::Value;

fn tick(zt: &Zt, now: &str) -> String {
    zt.ok(&["tick", "--now", now])
}

fn mails_to<'a>(sent: &'a [String], addr: &str) -> Vec<&'a String> {
    sent.iter()
        .filter(|m| m.contains(&format!("To: {addr}")))
        .collect()
}

fn escalations(board: &Value, employee: &str) -> Vec<(String, i64, String)> {
    board["teleworkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["employee_id"] == employee)
        .unwrap()["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["step"].as_i64().unwrap(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// E1001 reported at 08:27; E1002 (佐藤, sato@) never did.
fn morning(b: Backend) -> Zt {
    let zt = Zt::new(b);
    zt.with_staff().with_orders_0112();
    zt.ok(&[
        "ingest",
        fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
    ]);
    zt
}

#[test]
fn the_missing_start_chain_fires_each_step_once_at_its_time() {
    for b in backends() {
        let zt = morning(b);
        let acks = zt.sent().len();
        assert!(tick(&zt, "2021-01-12T08:44:59+09:00").contains("escalations: 0 sent"));
        let out = tick(&zt, "2021-01-12T08:45:00+09:00");
        assert!(out.contains("escalations: 1 sent"), "{b:?}: {out}");
        let sent = zt.sent();
        let reminders = mails_to(&sent, "sato@city.example.lg.jp");
        assert_eq!(reminders.len(), 1, "{sent:#?}");
        assert!(reminders[0].contains("Auto-Submitted: auto-generated"));
        // The same moment again, or a minute later: nothing new.
        assert!(tick(&zt, "2021-01-12T08:45:00+09:00").contains("escalations: 0 sent"));
        assert!(tick(&zt, "2021-01-12T08:59:00+09:00").contains("escalations: 0 sent"));
        assert!(tick(&zt, "2021-01-12T09:00:00+09:00").contains("escalations: 1 sent"));
        let sent = zt.sent();
        assert_eq!(
            mails_to(&sent, "suzuki@city.example.lg.jp").len(),
            1,
            "step 2 goes to the department's supervisor"
        );
        assert!(tick(&zt, "2021-01-12T10:45:00+09:00").contains("escalations: 1 sent"));
        let sent = zt.sent();
        assert_eq!(
            mails_to(&sent, "watanabe@city.example.lg.jp").len(),
            1,
            "step 3 goes to HR"
        );
        assert_eq!(
            sent.len(),
            acks + 3 + 1,
            "three steps and the 10:00 digest, nothing for E1001: {sent:#?}"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T11:00:00+09:00");
        assert_eq!(
            escalations(&board, "E1002"),
            [
                ("missing_start".into(), 1, "sent".into()),
                ("missing_start".into(), 2, "sent".into()),
                ("missing_start".into(), 3, "sent".into())
            ]
        );
        assert!(escalations(&board, "E1001").is_empty());
    }
}

#[test]
fn a_late_tick_fires_overdue_steps_once_in_order_and_a_later_day_expires_them() {
    for b in backends() {
        let zt = morning(b);
        let out = tick(&zt, "2021-01-12T12:00:00+09:00");
        assert!(out.contains("escalations: 3 sent"), "{out}");
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        let steps: Vec<i64> = escalations(&board, "E1002").iter().map(|e| e.1).collect();
        assert_eq!(steps, [1, 2, 3]);
        // The next morning: the missing ends of the 12th are recorded as expired, nothing is sent.
        let before = zt.sent().len();
        let out = tick(&zt, "2021-01-13T08:00:00+09:00");
        assert!(out.contains("escalations: 0 sent, 6 expired"), "{out}");
        assert_eq!(zt.sent().len(), before);
        assert!(tick(&zt, "2021-01-13T08:05:00+09:00").contains("0 sent, 0 expired"));
    }
}

#[test]
fn a_phone_contact_stops_the_chain_and_shows_as_phone() {
    for b in backends() {
        let zt = morning(b);
        tick(&zt, "2021-01-12T09:00:00+09:00");
        zt.ok(&[
            "contact",
            "--employee",
            "E1002",
            "--date",
            "2021-01-12",
            "--kind",
            "start",
            "--at",
            "09:05",
            "--by",
            "E2001",
            "--note",
            "体調不良で連絡が遅れた",
        ]);
        let out = tick(&zt, "2021-01-12T10:45:00+09:00");
        assert!(
            out.contains("escalations: 0 sent"),
            "no HR step after the contact: {out}"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T11:00:00+09:00");
        let sato = board["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1002")
            .unwrap();
        assert_eq!(sato["start"]["source"], "phone");
        assert_eq!(sato["start"]["status"], "late");
        assert_eq!(sato["start"]["at"], "2021-01-12T09:05:00+09:00");
        assert_eq!(escalations(&board, "E1002")[1].2, "resolved_phone");
        // Only a supervisor of the department may record it; bad flags are one line.
        zt.run(&[
            "contact",
            "--employee",
            "E1002",
            "--date",
            "2021-01-12",
            "--kind",
            "end",
            "--at",
            "17:00",
            "--by",
            "E2002",
        ])
        .expect_bad_input(&["--by", "supervisor of 情報管理課"]);
        zt.run(&[
            "contact",
            "--employee",
            "E1002",
            "--date",
            "2021-01-12",
            "--kind",
            "lunch",
            "--at",
            "12:00",
            "--by",
            "E2001",
        ])
        .expect_bad_input(&["--kind", "start or end"]);
        zt.run(&[
            "contact",
            "--employee",
            "E1003",
            "--date",
            "2021-01-12",
            "--kind",
            "start",
            "--at",
            "09:00",
            "--by",
            "E2002",
        ])
        .expect_bad_input(&["--date", "no approved order"]);
    }
}

/// The fixture's reply (a supervisor's 確認済) names the escalation by its old, predictable
/// Message-ID; this is the same reply naming `real_id` instead.
fn reply_to(zt: &Zt, real_id: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("escalation/reply-kakuninzumi.eml")).unwrap();
    let forged = "zaitaku.escalation.order-2-missing-start-2@city.example.lg.jp";
    assert!(text.contains(forged));
    zt.write("reply.eml", &text.replace(forged, real_id))
}

/// The Message-ID (without brackets) of the one mail in `sent` to `addr` whose subject part
/// `marker` names.
fn message_id_of(sent: &[String], addr: &str) -> String {
    let m = mails_to(sent, addr);
    assert_eq!(m.len(), 1, "{sent:#?}");
    m[0].lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .and_then(|l| l.strip_suffix('>'))
        .expect("a Message-ID header")
        .to_string()
}

#[test]
fn escalation_message_ids_carry_a_random_part_not_derivable_from_the_order() {
    for b in backends() {
        let zt = morning(b);
        tick(&zt, "2021-01-12T09:00:00+09:00");
        let sent = zt.sent();
        let reminder = message_id_of(&sent, "sato@city.example.lg.jp");
        let supervisors = message_id_of(&sent, "suzuki@city.example.lg.jp");
        let mut randoms = Vec::new();
        for id in [&reminder, &supervisors] {
            // zaitaku.escalation.order-2-missing-start-N.<32 hex>@city.example.lg.jp
            let (local, domain) = id.rsplit_once('@').unwrap();
            assert_eq!(domain, "city.example.lg.jp");
            let (readable, random) = local.rsplit_once('.').unwrap();
            assert!(readable.starts_with("zaitaku.escalation.order-"), "{id}");
            assert_eq!(random.len(), 32, "{id}: 128 random bits in hex");
            assert!(random.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
            randoms.push(random.to_string());
        }
        assert_ne!(randoms[0], randoms[1], "each mail has its own");
        assert_ne!(
            supervisors, "zaitaku.escalation.order-2-missing-start-2@city.example.lg.jp",
            "not the id a forger would compute"
        );
    }
}

#[test]
fn a_forged_reply_naming_the_predictable_id_does_not_silence_the_chain() {
    for b in backends() {
        let zt = morning(b);
        tick(&zt, "2021-01-12T09:00:00+09:00");
        // Anyone who knows the scheme and guesses the order id can write this reply; the
        // From: of a supervisor is no proof.
        let v: Value = serde_json::from_str(
            &zt.ok(&[
                "ingest",
                "--json",
                fixture("escalation/reply-kakuninzumi.eml")
                    .to_str()
                    .unwrap(),
            ]),
        )
        .unwrap();
        assert_ne!(v["messages"][0]["reason"], "resolution", "{b:?}: {v}");
        let out = tick(&zt, "2021-01-12T10:45:00+09:00");
        assert!(
            out.contains("escalations: 1 sent"),
            "{b:?}: HR is still told: {out}"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T11:00:00+09:00");
        assert_eq!(escalations(&board, "E1002")[1].2, "sent");
    }
}

#[test]
fn a_supervisors_reply_resolves_the_escalation() {
    for b in backends() {
        let zt = morning(b);
        tick(&zt, "2021-01-12T09:00:00+09:00");
        // The reply names the Message-ID of the mail the supervisor received.
        let real = message_id_of(&zt.sent(), "suzuki@city.example.lg.jp");
        let reply = reply_to(&zt, &real);
        let v: Value =
            serde_json::from_str(&zt.ok(&["ingest", "--json", reply.to_str().unwrap()])).unwrap();
        assert_eq!(v["messages"][0]["reason"], "resolution", "{v}");
        assert_eq!(
            v["mails_queued"], 0,
            "a supervisor's resolution is not answered"
        );
        assert!(tick(&zt, "2021-01-12T10:45:00+09:00").contains("escalations: 0 sent"));
        let board = zt.status_json("2021-01-12", "2021-01-12T11:00:00+09:00");
        assert_eq!(escalations(&board, "E1002")[1].2, "resolved_reply");
        assert!(board["unmatched"].as_array().unwrap().is_empty(), "{board}");
    }
}

#[test]
fn cancellation_and_hourly_leave_change_what_is_due() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff();
    let p = zt.write(
        "orders.csv",
        "employee_id,date,start,end,content,approved_by,shifted,leave\n\
         E1001,2021-01-12,,,a,E2001,,08:30-10:00\n\
         E1002,2021-01-12,,,b,E2001,,\n",
    );
    zt.ok(&["orders", "import", p.to_str().unwrap()]);
    zt.ok(&[
        "orders",
        "cancel",
        "--employee",
        "E1002",
        "--date",
        "2021-01-12",
    ]);
    // E1001's start is expected at 10:00, after the leave: nothing at 08:45, the reminder at 10:15.
    assert!(tick(&zt, "2021-01-12T10:14:00+09:00").contains("escalations: 0 sent"));
    assert!(tick(&zt, "2021-01-12T10:15:00+09:00").contains("escalations: 1 sent"));
    let sent = zt.sent();
    assert!(
        mails_to(&sent, "sato@city.example.lg.jp").is_empty(),
        "a cancelled order is never escalated"
    );
}

#[test]
fn digests_go_to_each_ordered_departments_supervisors_once_per_cron_time() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        zt.ok(&[
            "ingest",
            "--no-send",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        assert!(tick(&zt, "2021-01-12T09:59:00+09:00").contains("digests: 0"));
        assert!(tick(&zt, "2021-01-12T10:00:00+09:00").contains("digests: 1"));
        assert!(tick(&zt, "2021-01-12T10:30:00+09:00").contains("digests: 0"));
        let sent = zt.sent();
        let digests: Vec<_> = sent
            .iter()
            .filter(|m| m.contains("zaitaku.digest."))
            .collect();
        assert_eq!(digests.len(), 1);
        assert!(digests[0].contains("To: suzuki@city.example.lg.jp"));
        assert!(
            mails_to(&sent, "ito@city.example.lg.jp").is_empty(),
            "財政課 has no orders that day: no digest"
        );
        // A tick long after 17:45 catches up with the evening digest.
        ingest_end(&zt);
        assert!(tick(&zt, "2021-01-12T19:30:00+09:00").contains("digests: 1"));
        // Saturday: none.
        assert!(tick(&zt, "2021-01-16T10:00:00+09:00").contains("digests: 0"));
    }
}

fn ingest_end(zt: &Zt) {
    zt.ok(&[
        "ingest",
        "--no-send",
        fixture("mail/02-end-nippo-sjis-8bit.eml").to_str().unwrap(),
    ]);
}

#[test]
fn the_digest_shows_times_statuses_and_the_work_summary() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff().with_orders_0112();
    zt.ok(&[
        "ingest",
        "--no-send",
        fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
    ]);
    ingest_end(&zt);
    zt.ok(&["tick", "--now", "2021-01-12T17:45:00+09:00"]);
    let out = zt.path("sent");
    let digest = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .find(|m| String::from_utf8_lossy(m).contains("zaitaku.digest."))
        .expect("a digest was written");
    let parsed = mail_parser::MessageParser::default()
        .parse(&digest)
        .unwrap();
    let body = parsed.body_text(0).unwrap();
    assert!(body.contains("山田太郎（E1001）"), "{body}");
    assert!(body.contains("開始連絡: 08:27 定時"), "{body}");
    assert!(body.contains("終了連絡: 17:10 定時"), "{body}");
    assert!(
        body.contains("佐藤花子（E1002）") && body.contains("開始連絡: 未着"),
        "{body}"
    );
    assert!(body.contains("日報:"), "{body}");
    assert!(parsed.subject().unwrap().contains("情報管理課"));
}

#[test]
fn rival_daemons_ticking_at_the_same_moment_send_each_step_once() {
    for b in backends() {
        let zt = morning(b);
        let before = zt.sent().len();
        let children: Vec<_> = (0..4)
            .map(|_| {
                zt.cmd(&["tick", "--now", "2021-01-12T12:00:00+09:00"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let sent = zt.sent();
        // Three steps for E1002 and the 10:00 digest: each exactly once.
        assert_eq!(sent.len() - before, 4, "{b:?}: {:#?}", &sent[before..]);
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        assert_eq!(escalations(&board, "E1002").len(), 3);
    }
}

#[test]
fn it_gets_the_days_unmatched_mail_with_the_last_digest_once() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff().with_orders_0112();
    let stranger = fixture("mail/20-start-unknown-sender.eml");
    let auto = fixture("mail/27-auto-submitted.eml");
    zt.ok(&[
        "ingest",
        "--no-send",
        stranger.to_str().unwrap(),
        auto.to_str().unwrap(),
    ]);
    tick(&zt, "2021-01-12T10:00:00+09:00");
    assert!(
        mails_to(&zt.sent(), "nakamura@city.example.lg.jp").is_empty(),
        "not with the morning digest"
    );
    tick(&zt, "2021-01-12T17:45:00+09:00");
    tick(&zt, "2021-01-12T18:30:00+09:00");
    let sent = zt.sent();
    let summaries = mails_to(&sent, "nakamura@city.example.lg.jp");
    assert_eq!(summaries.len(), 1, "IT (role it) gets one summary a day");
    let body = mail_parser::MessageParser::default()
        .parse(summaries[0].as_bytes())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(
        body.contains("stranger@example.com") && body.contains("未登録の差出人"),
        "{body}"
    );
    assert!(body.contains("自動応答"), "{body}");
    // The stranger was never answered.
    assert!(mails_to(&sent, "stranger@example.com").is_empty());
}

#[test]
fn shifted_hours_move_the_deadlines() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff();
    let p = zt.write(
        "orders.csv",
        "employee_id,date,start,end,content,approved_by,shifted\nE1001,2021-01-12,07:30,16:15,早出,E2001,true\n",
    );
    zt.ok(&["orders", "import", p.to_str().unwrap()]);
    assert!(tick(&zt, "2021-01-12T07:44:00+09:00").contains("escalations: 0 sent"));
    assert!(tick(&zt, "2021-01-12T07:45:00+09:00").contains("escalations: 1 sent"));
    // The end chain counts from 16:15 + 15 min, not from the standard 17:15.
    assert!(
        tick(&zt, "2021-01-12T16:29:00+09:00").contains("escalations: 2 sent"),
        "steps 2 and 3 of the start chain"
    );
    assert!(tick(&zt, "2021-01-12T16:30:00+09:00").contains("escalations: 1 sent"));
}

/// 財政課's supervisor has an address the transport refuses (a line break an old import let
/// in); `orders` for 2021-01-12.
fn broken_supervisor(b: Backend, orders: &str) -> Zt {
    let zt = Zt::new(b);
    zt.with_staff();
    let p = zt.write(
        "orders.csv",
        &format!("employee_id,date,start,end,content,approved_by,shifted\n{orders}"),
    );
    zt.ok(&["orders", "import", p.to_str().unwrap()]);
    sql_exec(
        &zt,
        "UPDATE employee_emails SET email = 'ito@city.example.lg.jp\r\nBcc: evil@example.com'
         WHERE employee_id = 'E2002'",
    );
    zt
}

#[test]
fn a_refused_supervisor_address_fails_that_step_alone_and_the_tick_goes_on() {
    for b in backends() {
        // 情報管理課 and 財政課 each have a teleworker who never reports.
        let zt = broken_supervisor(
            b,
            "E1001,2021-01-12,,,手順書作成,E2001,\nE1003,2021-01-12,,,予算資料,E2002,\n",
        );
        // Both chains' steps 1 and 2 are due, and the 10:00 digests.
        let out = tick(&zt, "2021-01-12T10:00:00+09:00");
        assert!(out.contains("escalations: 3 sent"), "{b:?}: {out}");
        assert!(out.contains("digests: 1"), "{b:?}: {out}");
        assert!(out.contains("2 failed"), "{b:?}: {out}");
        let sent = zt.sent();
        assert_eq!(
            mails_to(&sent, "yamada@city.example.lg.jp").len(),
            1,
            "the reminder to 情報管理課's teleworker"
        );
        assert_eq!(
            mails_to(&sent, "tanaka@city.example.lg.jp").len(),
            1,
            "the reminder to 財政課's teleworker"
        );
        assert_eq!(
            mails_to(&sent, "suzuki@city.example.lg.jp").len(),
            2,
            "情報管理課's supervisor: the step and the digest"
        );
        assert!(
            sent.iter().all(|m| !m.contains("evil@example.com")),
            "the broken address never reaches a header"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T10:00:00+09:00");
        assert_eq!(
            escalations(&board, "E1003"),
            [
                ("missing_start".into(), 1, "sent".into()),
                ("missing_start".into(), 2, "failed".into())
            ]
        );
        let failures = board["outbox"]["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 2, "the step and the digest: {board}");
        for f in failures {
            assert!(f["to"].as_str().unwrap().contains("ito@"), "{f}");
            assert!(f["error"].as_str().unwrap().contains("address"), "{f}");
        }
        let text = zt.ok(&[
            "status",
            "--date",
            "2021-01-12",
            "--now",
            "2021-01-12T10:00:00+09:00",
        ]);
        assert!(text.contains("送信できなかったメール 2 通"), "{text}");
        let web = WebServer::start(&zt);
        let metrics = web.client().get("/metrics");
        for line in [
            "zaitaku_escalations_failed_total{kind=\"missing_start\"} 1",
            "zaitaku_outbox_messages{state=\"failed\"} 2",
        ] {
            assert!(
                metrics.body.lines().any(|l| l == line),
                "{line:?} missing:\n{}",
                metrics.body
            );
        }
        drop(web);
        // Set aside, not retried every minute; the chain goes on to HR at its time.
        let out = tick(&zt, "2021-01-12T10:01:00+09:00");
        assert!(
            out.contains("escalations: 0 sent") && !out.contains("failed (see"),
            "{out}"
        );
        let out = tick(&zt, "2021-01-12T10:45:00+09:00");
        assert!(out.contains("escalations: 2 sent"), "HR for both: {out}");
    }
}

#[test]
fn ingest_with_a_refused_supervisor_address_answers_and_marks_the_notice_failed() {
    for b in backends() {
        // 田中 (財政課) has no order that day: his start mail is a notice to 財政課's supervisor.
        let zt = broken_supervisor(b, "E1001,2021-01-12,,,手順書作成,E2001,\n");
        let v: Value = serde_json::from_str(&zt.ok(&[
            "ingest",
            "--json",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
            fixture("mail/19-start-no-order.eml").to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(v["mails_queued"], 2, "{b:?}: the two answers: {v}");
        let sent = zt.sent();
        assert_eq!(mails_to(&sent, "yamada@city.example.lg.jp").len(), 1);
        assert_eq!(
            mails_to(&sent, "tanaka@city.example.lg.jp").len(),
            1,
            "the sender without an order is answered"
        );
        assert!(sent.iter().all(|m| !m.contains("evil@example.com")));
        let board = zt.status_json("2021-01-12", "2021-01-12T10:00:00+09:00");
        assert_eq!(board["outbox"]["failed"], 1, "{board}");
        assert!(
            board["outbox"]["failures"][0]["to"]
                .as_str()
                .unwrap()
                .contains("ito@"),
            "{board}"
        );
    }
}

#[test]
fn a_template_that_does_not_render_fails_its_step_alone() {
    for b in backends() {
        let zt = Zt::new(b);
        // The city's own copy of the supervisors' text, edited by hand with a typo.
        let tpl = zt.path("tpl");
        std::fs::create_dir_all(&tpl).unwrap();
        std::fs::write(
            tpl.join("escalation_supervisors.txt"),
            "Subject: {{ name | no_such_filter }}\n\n{{ department }}\n",
        )
        .unwrap();
        let cfg = zt.path("config/zaitaku.toml");
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, format!("templates = \"{}\"\n{text}", tpl.display())).unwrap();
        zt.with_staff().with_orders_0112();
        let out = tick(&zt, "2021-01-12T10:00:00+09:00");
        // Per teleworker: the reminder goes, the supervisors' step fails; the digest goes.
        assert!(out.contains("escalations: 2 sent"), "{b:?}: {out}");
        assert!(out.contains("digests: 1"), "{b:?}: {out}");
        assert!(out.contains("2 failed"), "{b:?}: {out}");
        let sent = zt.sent();
        assert_eq!(mails_to(&sent, "yamada@city.example.lg.jp").len(), 1);
        assert_eq!(mails_to(&sent, "sato@city.example.lg.jp").len(), 1);
        assert_eq!(
            mails_to(&sent, "suzuki@city.example.lg.jp").len(),
            1,
            "the digest"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T10:00:00+09:00");
        assert_eq!(escalations(&board, "E1002")[1].2, "failed");
        let failures = board["outbox"]["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 2, "{board}");
        assert!(
            failures.iter().all(|f| f["error"]
                .as_str()
                .unwrap()
                .contains("escalation_supervisors.txt")),
            "{board}"
        );
    }
}
