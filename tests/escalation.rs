//! Escalation chains, phone contacts and digests through `zaitaku tick --now`, on SQLite and
//! PostgreSQL: every boundary by the injected clock, each step sent once, and two daemons'
//! worth of ticks at the same moment sending nothing twice.

mod helpers;

use helpers::{Backend, Zt, backends, fixture};
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

#[test]
fn a_supervisors_reply_resolves_the_escalation() {
    for b in backends() {
        let zt = morning(b);
        tick(&zt, "2021-01-12T09:00:00+09:00");
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
