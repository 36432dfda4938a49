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
        assert_eq!(first["action"], "create");
        assert_eq!(first["via"], "cli");
        assert!(
            first["actor"].as_str().unwrap().starts_with("cli:"),
            "{first}"
        );
        assert_eq!(first["entity_id"], "E1001:2021-01-12");
        assert_eq!(first["department"], "情報管理課");
        assert!(first["before"].is_null());
        assert_eq!(first["after"]["content"], "手順書作成");
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
        assert!(text.contains("手順書作成"), "{text}");
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
        assert!(!bad && back.contains("手順書作成"));
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
