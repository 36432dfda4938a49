//! The audit trail (issue 18, SPEC §11), through the real binary on SQLite and PostgreSQL:
//! each change to the register is one entry with who, via, what, before and after; the entries
//! are hash-chained, and `audit verify` names the first one an SQL edit or delete broke.

mod helpers;

use helpers::{Zt, backends, sql_exec, sql_i64};
use serde_json::Value;

fn orders(zt: &Zt, content: &str) {
    let p = zt.write(
        "orders.csv",
        &format!(
            "employee_id,date,start,end,content,approved_by,shifted\n\
             E1001,2021-01-12,,,{content},E2001,\n\
             E1002,2021-01-12,,,仕様書作成,E2001,\n"
        ),
    );
    zt.ok(&["orders", "import", p.to_str().unwrap()]);
}

fn list(zt: &Zt, args: &[&str]) -> Vec<Value> {
    let out = zt.ok(&[&["audit", "list", "--json"][..], args].concat());
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_change_is_one_chained_entry_and_verify_names_the_one_an_sql_edit_broke() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff();
        orders(&zt, "手順書作成");
        // The same file again changes nothing, and so records nothing.
        orders(&zt, "手順書作成");
        orders(&zt, "手順書の改訂");
        zt.ok(&[
            "contact",
            "--employee",
            "E1001",
            "--date",
            "2021-01-12",
            "--kind",
            "start",
            "--at",
            "08:35",
            "--by",
            "E2001",
        ]);
        zt.run_stdin(
            &["users", "set-password", "--employee", "E2001"],
            b"correct horse battery staple\n",
        )
        .expect_code(0);
        let token = zt.ok(&[
            "tokens",
            "create",
            "--employee",
            "E9001",
            "--label",
            "dashboard",
        ]);
        zt.ok(&["tokens", "revoke", "--employee", "E9001"]);
        let all = list(&zt, &[]);
        // Accounts: that a password or a token changed, never the secret itself.
        let accounts: Vec<(&str, &str)> = all
            .iter()
            .filter(|e| e["entity"] == "password" || e["entity"] == "token")
            .map(|e| (e["entity"].as_str().unwrap(), e["action"].as_str().unwrap()))
            .collect();
        assert_eq!(
            accounts,
            [
                ("password", "set"),
                ("token", "create"),
                ("token", "revoke")
            ],
            "{b:?}"
        );
        let dump = serde_json::to_string(&all).unwrap();
        assert!(
            !dump.contains(token.trim()) && !dump.contains("argon2") && !dump.contains("battery")
        );
        let order_entries: Vec<&Value> = all.iter().filter(|e| e["entity"] == "order").collect();
        assert_eq!(order_entries.len(), 3, "{b:?}: {all:#?}");
        let first = order_entries[0];
        // An import is one entry per employee it creates orders for: the days, and the file;
        // a change to an order already there is one entry of its own.
        assert_eq!(first["action"], "import");
        assert_eq!(first["via"], "cli");
        assert!(
            first["actor"].as_str().unwrap().starts_with("cli:"),
            "{first}"
        );
        assert_eq!(first["entity_id"], "E1001:2021-01-12");
        assert_eq!(first["department"], "情報管理課");
        assert!(first["before"].is_null());
        assert_eq!(first["after"]["dates"], serde_json::json!(["2021-01-12"]));
        assert_eq!(first["after"]["status"], "approved");
        assert!(
            first["after"]["file"]
                .as_str()
                .unwrap()
                .ends_with("orders.csv"),
            "{first}"
        );
        assert!(first["after"]["bytes"].as_u64().unwrap() > 0, "{first}");
        assert_eq!(order_entries[1]["entity_id"], "E1002:2021-01-12");
        let edit = order_entries[2];
        assert_eq!(edit["action"], "update");
        assert_eq!(edit["before"]["content"], "手順書作成");
        assert_eq!(edit["after"]["content"], "手順書の改訂");
        for key in [
            "id",
            "at",
            "actor",
            "via",
            "entity",
            "entity_id",
            "action",
            "hash",
        ] {
            assert!(!edit[key].is_null(), "{key} in {edit}");
        }
        assert!(all.iter().any(|e| e["entity"] == "contact"
            && e["entity_id"] == "E1001:2021-01-12:start"
            && e["after"]["by"] == "E2001"));
        assert!(
            all.iter()
                .any(|e| e["entity"] == "employee" && e["action"] == "create")
        );
        // Filters: one employee's, one kind of entity.
        let yamada = list(&zt, &["--employee", "E1001", "--entity", "order"]);
        assert_eq!(yamada.len(), 2, "{yamada:#?}");
        assert!(list(&zt, &["--from", "2030-01-01"]).is_empty());

        let ok = zt.run(&["audit", "verify"]);
        ok.expect_code(0);
        // An entry edited by hand: verify names it and exits 1.
        let id = edit["id"].as_i64().unwrap();
        sql_exec(
            &zt,
            &format!(
                "UPDATE audit_log SET after_json = '{{\"content\":\"改ざん\"}}' WHERE id = {id}"
            ),
        );
        let r = zt.run(&["audit", "verify"]);
        r.expect_code(1);
        assert!(
            r.stderr.contains(&format!("entry {id}:")),
            "{b:?}: {}",
            r.stderr
        );
        // Put back, then delete an entry in the middle: the one after it is named.
        sql_exec(
            &zt,
            &format!(
                "UPDATE audit_log SET after_json = '{}' WHERE id = {id}",
                edit["after"].to_string().replace('\'', "''")
            ),
        );
        zt.run(&["audit", "verify"]).expect_code(0);
        let first_id = first["id"].as_i64().unwrap();
        sql_exec(&zt, &format!("DELETE FROM audit_log WHERE id = {first_id}"));
        let r = zt.run(&["audit", "verify"]);
        r.expect_code(1);
        let next = sql_i64(
            &zt,
            &format!("SELECT MIN(id) FROM audit_log WHERE id > {first_id}"),
        );
        assert!(
            r.stderr.contains(&format!("entry {next}:")),
            "{b:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn the_export_is_csv_with_a_bom_or_shift_jis() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff();
        orders(&zt, "手順書作成");
        let out = zt.path("audit.csv");
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .format("%Y-%m-%d")
            .to_string();
        zt.ok(&[
            "audit",
            "export",
            "--from",
            &today,
            "--to",
            &today,
            "--output",
            out.to_str().unwrap(),
        ]);
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{b:?}: a BOM");
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(text.starts_with(
            "id,at,actor,via,client,entity,entity_id,department,action,before,after,hash"
        ));
        assert!(text.contains("山田太郎"), "{text}");
        let sjis = zt.path("audit-sjis.csv");
        zt.ok(&[
            "audit",
            "export",
            "--from",
            &today,
            "--to",
            &today,
            "--encoding",
            "shift_jis",
            "--output",
            sjis.to_str().unwrap(),
        ]);
        let raw = std::fs::read(&sjis).unwrap();
        let (back, _, bad) = encoding_rs::SHIFT_JIS.decode(&raw);
        assert!(!bad && back.contains("山田太郎"));
        zt.run(&[
            "audit",
            "export",
            "--from",
            &today,
            "--to",
            &today,
            "--encoding",
            "latin1",
        ])
        .expect_bad_input(&["--encoding", "expected utf-8 or shift_jis"]);
    }
}

/// `purge --before DATE`: the 日報 and mail text of older days are blanked (the audit trail
/// says so), `--dry-run` only counts, and a date inside the current fiscal year is refused.
#[test]
fn purge_blanks_old_text_only_outside_the_current_fiscal_year() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        zt.ok(&[
            "ingest",
            helpers::fixture("mail/02-end-nippo-sjis-8bit.eml")
                .to_str()
                .unwrap(),
        ]);
        let summary = |zt: &Zt| {
            zt.status_json("2021-01-12", "2021-01-12T20:00:00+09:00")["teleworkers"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| t["summary"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        };
        assert_eq!(summary(&zt).len(), 1, "{b:?}: a 日報 to purge");
        let later = "2021-06-01T09:00:00+09:00";
        zt.run(&["purge", "--before", "2021-05-01", "--now", later])
            .expect_bad_input(&["--before", "2021-04-01"]);
        let dry = zt.ok(&[
            "purge",
            "--before",
            "2021-02-01",
            "--now",
            later,
            "--dry-run",
        ]);
        assert!(
            dry.contains("would blank") && dry.contains("1 report(s)"),
            "{dry}"
        );
        assert_eq!(summary(&zt).len(), 1, "{b:?}: a dry run changes nothing");
        let done = zt.ok(&["purge", "--before", "2021-02-01", "--now", later]);
        assert!(done.starts_with("blanked"), "{done}");
        assert!(
            summary(&zt).iter().all(String::is_empty),
            "{b:?}: {:?}",
            summary(&zt)
        );
        let entries = list(&zt, &["--entity", "retention"]);
        assert_eq!(entries.len(), 1, "{entries:#?}");
        assert_eq!(entries[0]["after"]["reports_blanked"], 1);
        zt.run(&["audit", "verify"]).expect_code(0);
    }
}

/// The entries added by `f`: the trail's length before and after.
fn added(zt: &Zt, f: impl FnOnce()) -> Vec<Value> {
    let n = list(zt, &[]).len();
    f();
    list(zt, &[])[n..].to_vec()
}

fn assert_cli_actor(e: &Value) {
    assert_eq!(e["via"], "cli", "{e}");
    assert!(e["actor"].as_str().unwrap().starts_with("cli:"), "{e}");
}

/// Issue 18's rest of the trail, through the command line: a department's application, each
/// telework-ID assignment and release (a release from the first day removes it: `after` is
/// null), each one entry with the fields before and after.
#[test]
fn applications_and_telework_ids_are_each_one_entry_with_before_and_after() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff();
        let apps = list(&zt, &["--entity", "application"]);
        assert_eq!(apps.len(), 2, "{b:?}: {apps:#?}");
        let a = &apps[0];
        assert_cli_actor(a);
        assert_eq!(a["action"], "create");
        assert_eq!(a["entity_id"], "情報管理課:2020");
        assert_eq!(a["department"], "情報管理課");
        assert!(a["before"].is_null());
        assert_eq!(a["after"]["pc_name"], "JOHO-PC01");
        assert_eq!(
            a["after"]["users"],
            serde_json::json!(["E1001", "E1002", "E1004"])
        );
        let ids = list(&zt, &["--entity", "id"]);
        assert_eq!(ids.len(), 5, "{b:?}: {ids:#?}");
        assert_cli_actor(&ids[0]);
        assert_eq!(ids[0]["action"], "assign");
        assert_eq!(ids[0]["entity_id"], "E1001:2021-01-04");
        assert_eq!(ids[0]["department"], "情報管理課");
        assert!(ids[0]["before"].is_null());
        assert_eq!(
            ids[0]["after"],
            serde_json::json!({"id_no": 1, "from": "2021-01-04", "to": "2021-03-31"})
        );

        let new = added(&zt, || {
            zt.ok(&[
                "ids",
                "release",
                "--employee",
                "E1005",
                "--on",
                "2021-02-01",
            ]);
        });
        assert_eq!(new.len(), 1, "{b:?}: {new:#?}");
        let r = &new[0];
        assert_cli_actor(r);
        assert_eq!(
            (
                &r["entity"],
                &r["action"],
                &r["entity_id"],
                &r["department"]
            ),
            (
                &"id".into(),
                &"release".into(),
                &"E1005:2021-01-04".into(),
                &"財政課".into()
            )
        );
        assert_eq!(r["before"]["to"], "2021-03-31");
        assert_eq!(r["after"]["to"], "2021-01-31");
        assert_eq!(r["before"]["id_no"], r["after"]["id_no"]);
        // Released from its first day: the assignment is gone, and the entry says so.
        let gone = added(&zt, || {
            zt.ok(&[
                "ids",
                "release",
                "--employee",
                "E1004",
                "--on",
                "2021-01-04",
            ]);
        });
        assert_eq!(gone.len(), 1, "{b:?}: {gone:#?}");
        assert_eq!(gone[0]["before"]["from"], "2021-01-04");
        assert!(gone[0]["after"].is_null(), "{}", gone[0]);
        // A refused release writes nothing.
        let none = added(&zt, || {
            zt.run(&[
                "ids",
                "release",
                "--employee",
                "E1004",
                "--on",
                "2021-01-05",
            ])
            .expect_code(2);
        });
        assert!(none.is_empty(), "{none:#?}");
        // `--employee` finds an employee's assignments.
        assert_eq!(
            list(&zt, &["--employee", "E1005", "--entity", "id"]).len(),
            2
        );
        zt.ok(&["audit", "verify"]);
    }
}

/// The Message-ID (without brackets) of the one mail in `sent` to `addr`.
fn message_id_to(sent: &[String], addr: &str) -> String {
    let m: Vec<&String> = sent
        .iter()
        .filter(|m| m.contains(&format!("To: {addr}")))
        .collect();
    assert_eq!(m.len(), 1, "{sent:#?}");
    m[0].lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .and_then(|l| l.strip_suffix('>'))
        .expect("a Message-ID header")
        .to_string()
}

/// An escalation resolved by the supervisor's reply is the bot's doing on that mail (actor
/// `mail:ADDRESS`, via `daemon`); by a phone contact, the CLI user's (with the contact's own
/// entry). Each is one `escalation` entry with the chain open before and resolved after.
#[test]
fn escalation_resolutions_by_reply_and_by_phone_are_each_one_entry() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        zt.ok(&[
            "ingest",
            helpers::fixture("mail/01-start-iso2022jp.eml")
                .to_str()
                .unwrap(),
        ]);
        // 佐藤 (E1002) never reported: the supervisors are told at 09:00.
        zt.ok(&["tick", "--now", "2021-01-12T09:00:00+09:00"]);
        let real = message_id_to(&zt.sent(), "suzuki@city.example.lg.jp");
        let text = std::fs::read_to_string(helpers::fixture("escalation/reply-kakuninzumi.eml"))
            .unwrap()
            .replace(
                "zaitaku.escalation.order-2-missing-start-2@city.example.lg.jp",
                &real,
            );
        let reply = zt.write("reply.eml", &text);
        let new = added(&zt, || {
            zt.ok(&["ingest", reply.to_str().unwrap()]);
        });
        assert_eq!(new.len(), 1, "{b:?}: {new:#?}");
        let e = &new[0];
        assert_eq!(e["entity"], "escalation");
        assert_eq!(e["action"], "resolve");
        assert_eq!(e["entity_id"], "E1002:2021-01-12:missing_start");
        assert_eq!(e["department"], "情報管理課");
        assert_eq!(e["actor"], "mail:suzuki@city.example.lg.jp");
        assert_eq!(e["via"], "daemon");
        assert_eq!(e["before"]["status"], "open");
        assert_eq!(e["after"]["status"], "resolved");
        assert_eq!(e["after"]["resolution"], "reply");
        assert_eq!(e["after"]["resolved_by"], "E2001");
        assert_eq!(e["before"]["steps"], e["after"]["steps"]);
        // The same reply again (a duplicate) changes nothing and writes nothing.
        let dup = added(&zt, || {
            zt.ok(&["ingest", reply.to_str().unwrap()]);
        });
        assert!(dup.is_empty(), "{dup:#?}");

        // The evening: no end report from 山田, chased from 17:30; the supervisor phones.
        zt.ok(&["tick", "--now", "2021-01-12T17:31:00+09:00"]);
        let new = added(&zt, || {
            zt.ok(&[
                "contact",
                "--employee",
                "E1001",
                "--date",
                "2021-01-12",
                "--kind",
                "end",
                "--at",
                "17:40",
                "--by",
                "E2001",
            ]);
        });
        let kinds: Vec<&str> = new.iter().map(|e| e["entity"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["escalation", "contact"], "{b:?}: {new:#?}");
        let e = &new[0];
        assert_cli_actor(e);
        assert_eq!(e["entity_id"], "E1001:2021-01-12:missing_end");
        assert_eq!(e["after"]["resolution"], "phone");
        assert_eq!(e["before"]["status"], "open");
        zt.ok(&["audit", "verify"]);
    }
}

fn config_entries(zt: &Zt) -> Vec<Value> {
    list(zt, &["--entity", "config"])
}

fn add_to_config(zt: &Zt, text: &str) {
    let p = zt.path("config/zaitaku.toml");
    let mut cfg = std::fs::read_to_string(&p).unwrap();
    cfg.push_str(text);
    std::fs::write(&p, cfg).unwrap();
}

/// `zaitaku web` and `zaitaku run` record the configuration they start with, once per change:
/// a fingerprint of each file and a summary, never a secret; the earlier one is `before`.
#[test]
fn the_configuration_is_recorded_at_start_when_it_changed_never_its_secrets() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff();
        add_to_config(
            &zt,
            "[chat.slash]\nsigning_secret = \"s3cr3t-do-not-show\"\n",
        );
        assert!(config_entries(&zt).is_empty(), "the CLI records none");
        let started = |zt: &Zt| {
            // Serving (and so listening for SIGTERM) before it is stopped.
            let web = helpers::http::WebServer::start(zt);
            web.client().get("/healthz").expect(200);
        };
        started(&zt);
        let first = config_entries(&zt);
        assert_eq!(first.len(), 1, "{b:?}: {first:#?}");
        let e = &first[0];
        assert_eq!(
            (&e["action"], &e["via"]),
            (&"load".into(), &"daemon".into())
        );
        assert!(e["actor"].as_str().unwrap().starts_with("cli:"), "{e}");
        assert!(e["before"].is_null());
        let files = &e["after"]["files"];
        assert_eq!(files["zaitaku.toml"].as_str().unwrap().len(), 64, "{e}");
        assert!(e["after"]["retention_bodies_days"].is_null());
        // The same configuration again: nothing new.
        started(&zt);
        assert_eq!(config_entries(&zt).len(), 1);

        // Changed, then the daemon starts: one entry, the one before as `before`.
        add_to_config(&zt, "[retention]\nbodies_days = 400\n");
        let (mut run, log) = zt.start_run(None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while config_entries(&zt).len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        std::process::Command::new("kill")
            .args(["-TERM", &run.id().to_string()])
            .status()
            .unwrap();
        let status = run.wait().unwrap();
        assert!(
            status.success(),
            "{status}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let all = config_entries(&zt);
        assert_eq!(all.len(), 2, "{b:?}: {all:#?}");
        assert_eq!(all[1]["before"], all[0]["after"]);
        assert_eq!(all[1]["after"]["retention_bodies_days"], 400);
        assert_ne!(
            all[1]["after"]["files"]["zaitaku.toml"],
            all[0]["after"]["files"]["zaitaku.toml"]
        );
        let dump = zt.ok(&["audit", "list", "--json"]);
        assert!(!dump.contains("s3cr3t"), "a secret in the trail: {dump}");
        zt.ok(&["audit", "verify"]);
    }
}

/// `[retention] bodies_days`: the tick (the daemon's periodic work) blanks old 日報 and mail
/// text once a day, each run one entry; never what the current fiscal year still needs.
#[test]
fn retention_blanks_old_text_once_a_day_but_never_the_current_fiscal_years() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        zt.ok(&[
            "ingest",
            helpers::fixture("mail/02-end-nippo-sjis-8bit.eml")
                .to_str()
                .unwrap(),
        ]);
        let summaries = |zt: &Zt| {
            zt.status_json("2021-01-12", "2021-01-12T20:00:00+09:00")["teleworkers"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| t["summary"].as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .count()
        };
        assert_eq!(summaries(&zt), 1, "{b:?}: a 日報 to keep or blank");
        add_to_config(&zt, "[retention]\nbodies_days = 30\n");
        // 2021-03-01: the 日報 is 48 days old, but fiscal year 2020 still needs it.
        zt.ok(&["tick", "--now", "2021-03-01T09:00:00+09:00"]);
        assert_eq!(summaries(&zt), 1, "{b:?}: kept inside the fiscal year");
        let runs = list(&zt, &["--entity", "retention"]);
        assert_eq!(runs.len(), 1, "{b:?}: {runs:#?}");
        assert_eq!(runs[0]["action"], "expire");
        assert_eq!(runs[0]["via"], "daemon");
        assert_eq!(runs[0]["after"]["before"], "2020-04-01");
        assert_eq!(runs[0]["after"]["reports_blanked"], 0);
        // Later the same day: it ran today already.
        zt.ok(&["tick", "--now", "2021-03-01T15:00:00+09:00"]);
        assert_eq!(list(&zt, &["--entity", "retention"]).len(), 1);
        // The next fiscal year: blanked, and the trail says so.
        let out = zt.ok(&["tick", "--now", "2021-05-06T09:00:00+09:00"]);
        assert!(out.contains("retention: the text of 1 report(s)"), "{out}");
        assert_eq!(summaries(&zt), 0, "{b:?}: blanked");
        let runs = list(&zt, &["--entity", "retention"]);
        assert_eq!(runs.len(), 2, "{b:?}: {runs:#?}");
        assert_eq!(runs[1]["after"]["before"], "2021-04-01");
        assert_eq!(runs[1]["after"]["reports_blanked"], 1);
        assert_eq!(runs[1]["after"]["bodies_days"], 30);
        zt.ok(&["audit", "verify"]);

        // A value that is no number of days: one line, exit 2, for every command.
        let p = zt.path("config/zaitaku.toml");
        let cfg = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, cfg.replace("bodies_days = 30", "bodies_days = 0")).unwrap();
        zt.run(&["tick", "--now", "2021-05-07T09:00:00+09:00"])
            .expect_bad_input(&["retention.bodies_days", "1 or more"]);
        assert_eq!(list_raw(&zt), 2, "nothing ran");
    }
}

/// The retention entries, read with a configuration that loads (the test's own was broken).
fn list_raw(zt: &Zt) -> i64 {
    helpers::sql_i64(
        zt,
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'retention'",
    )
}

// ---- the web: 監査ログ, escalations resolved there, the attendance record ----

const PW: &str = "correct horse battery";

/// The register of `with_staff` with web logins, and approved orders for 山田 (情報管理課)
/// and 田中 (財政課) on every workday of January to March 2021: enough entries for pages.
fn web_register(b: helpers::Backend) -> Zt {
    let zt = Zt::new(b);
    zt.with_staff();
    zt.set_passwords(&["E1001", "E2001", "E2002", "E3001", "E9001"], PW);
    let closed = ["2021-01-11", "2021-02-11", "2021-02-23"];
    let mut csv = String::from("employee_id,date,start,end,content,approved_by,shifted\n");
    let mut day = chrono::NaiveDate::from_ymd_opt(2021, 1, 4).unwrap();
    let last = chrono::NaiveDate::from_ymd_opt(2021, 3, 31).unwrap();
    while day <= last {
        use chrono::Datelike;
        if day.weekday().num_days_from_monday() < 5 && !closed.contains(&day.to_string().as_str()) {
            csv.push_str(&format!("E1001,{day},,,資料作成,E2001,\n"));
            csv.push_str(&format!("E1003,{day},,,予算資料,E2002,\n"));
        }
        day = day.succ_opt().unwrap();
    }
    let p = zt.write("orders-q4.csv", &csv);
    zt.ok(&["orders", "import", p.to_str().unwrap()]);
    // The same orders with their content revised: one entry per order changed.
    let p = zt.write(
        "orders-q4-revised.csv",
        &csv.replace("資料作成", "資料の改訂")
            .replace("予算資料", "予算資料の改訂"),
    );
    zt.ok(&["orders", "import", p.to_str().unwrap()]);
    zt
}

fn web_login(web: &helpers::http::WebServer, who: &str) -> helpers::http::Client {
    let mut c = web.client();
    c.login(who, PW).expect(303);
    c
}

/// The rows of the 監査ログ page: the entries' IDs, in page order.
fn page_entries(body: &str) -> Vec<i64> {
    body.match_indices("<tr id=\"entry-")
        .map(|(at, m)| {
            body[at + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .collect()
}

/// 監査ログ: IT and HR read every entry with `audit list`'s filters, a page at a time, newest
/// first; a supervisor their own department's orders whatever they ask for; a teleworker
/// nothing. No request on the web changes the trail.
#[test]
fn the_audit_page_shows_each_role_its_part_and_changes_nothing() {
    for b in backends() {
        let zt = web_register(b);
        let web = helpers::http::WebServer::start(&zt);
        let all = list(&zt, &[]);
        let total = all.len();
        assert!(total > 100, "{total}: pages to turn");

        let mut it = web_login(&web, "E9001");
        let p1 = it.get("/audit");
        p1.expect(200);
        assert!(p1.body.contains(">監査ログ</a>"), "the menu links it");
        let ids = page_entries(&p1.body);
        assert_eq!(ids.len(), 50, "{b:?}");
        assert_eq!(
            ids[0],
            all[total - 1]["id"].as_i64().unwrap(),
            "newest first"
        );
        assert!(
            p1.body.contains(&format!("{total} 件中 1〜50 件目")),
            "{}",
            p1.body
        );
        assert!(p1.body.contains("page=2"), "a link to the next page");
        let last_page = it.get(&format!("/audit?page={}", total.div_ceil(50)));
        let oldest = page_entries(&last_page.body);
        assert_eq!(*oldest.last().unwrap(), all[0]["id"].as_i64().unwrap());
        // The filters of `audit list`.
        for (query, args) in [
            ("entity=application", vec!["--entity", "application"]),
            (
                "employee=E1003&entity=order",
                vec!["--employee", "E1003", "--entity", "order"],
            ),
            (
                "department=財政課&from=2021-01-01&to=2099-12-31",
                vec![
                    "--department",
                    "財政課",
                    "--from",
                    "2021-01-01",
                    "--to",
                    "2099-12-31",
                ],
            ),
        ] {
            let want = list(&zt, &args).len();
            let page = it.get(&format!("/audit?{query}"));
            page.expect(200);
            assert!(
                page.body.contains(&format!("{want} 件中")),
                "{b:?} {query}: {want} expected"
            );
        }
        let bad = it.get("/audit?from=2021-13-01");
        bad.expect(400);
        assert!(bad.body.contains("id=\"error-from\""), "{}", bad.body);

        let mut hr = web_login(&web, "E3001");
        assert!(hr.get("/audit").body.contains(&format!("{total} 件中")));

        // A supervisor: their department's orders only, even when asking for more.
        let mut sup = web_login(&web, "E2001");
        let own = list(&zt, &["--department", "情報管理課", "--entity", "order"]).len();
        for q in [
            "",
            "?department=財政課&entity=application",
            "?entity=employee",
        ] {
            let page = sup.get(&format!("/audit{q}"));
            page.expect(200);
            assert!(page.body.contains(&format!("{own} 件中")), "{b:?} {q}");
            assert!(!page.body.contains("E1003:"), "another department's order");
        }
        // A teleworker: refused, and no link.
        let mut tw = web_login(&web, "E1001");
        tw.get("/audit").expect(403);
        assert!(!tw.get("/my").body.contains(">監査ログ</a>"));

        // Nothing on the web writes to the trail.
        let csrf = it.session_csrf();
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let body = (method == "POST").then(|| format!("csrf={csrf}&id=1"));
            let r = it.request(method, "/audit", body);
            assert_eq!(r.status, 405, "{method} /audit");
        }
        assert_eq!(list(&zt, &[]).len(), total, "{b:?}");
        zt.ok(&["audit", "verify"]);
    }
}

/// An escalation resolved on the web is one entry by the supervisor, via `web`.
#[test]
fn an_escalation_resolved_on_the_web_is_one_entry() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        zt.run_stdin(
            &["users", "set-password", "--employee", "E2001"],
            format!("{PW}\n").as_bytes(),
        )
        .expect_code(0);
        zt.ok(&["tick", "--now", "2021-01-12T09:01:00+09:00"]);
        let web = helpers::http::WebServer::start(&zt);
        let mut sup = web_login(&web, "E2001");
        let page = sup.get("/escalations?date=2021-01-12");
        let at = page.body.find("name=\"order_id\" value=\"").unwrap();
        let order: String = page.body[at + 23..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let csrf = page.csrf();
        let new = added(&zt, || {
            sup.post(
                "/escalations/resolve",
                &[
                    ("csrf", &csrf),
                    ("order_id", &order),
                    ("kind", "missing_start"),
                ],
            )
            .expect(303);
        });
        assert_eq!(new.len(), 1, "{b:?}: {new:#?}");
        let e = &new[0];
        assert_eq!(
            (&e["entity"], &e["action"]),
            (&"escalation".into(), &"resolve".into())
        );
        assert_eq!((&e["actor"], &e["via"]), (&"E2001".into(), &"web".into()));
        assert_eq!(e["after"]["resolution"], "web");
        assert_eq!(e["before"]["status"], "open");
        assert!(
            e["entity_id"]
                .as_str()
                .unwrap()
                .ends_with(":2021-01-12:missing_start")
        );
        // Resolving it again changes nothing, and records nothing.
        let again = added(&zt, || {
            sup.post(
                "/escalations/resolve",
                &[
                    ("csrf", &csrf),
                    ("order_id", &order),
                    ("kind", "missing_start"),
                ],
            )
            .expect(303);
        });
        assert!(again.is_empty(), "{again:#?}");
    }
}
