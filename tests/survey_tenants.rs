//! `zaitaku survey WAVE --all-tenants [--prefecture NN]` (SPEC §13, issue 21): three cities in
//! two prefectures on one PostgreSQL database, read as the application's role (row-level
//! security applies). Each city's object must be exactly what `--tenant CODE survey` says, and
//! the total must recompute its peaks over the combined days: the cities teleworked and held
//! their IDs on different days, so a sum of their peaks is wrong. PostgreSQL only; skipped
//! without ZAITAKU_TEST_PG, except the SQLite refusal.

mod helpers;

use helpers::{Backend, Zt, fixture, fresh_pg_database_as_app_role, pg_admin_url};
use serde_json::Value;

const A: &str = "131016"; // 千代田区 (東京都, 13)
const B: &str = "271004"; // 大阪市 (大阪府, 27)
const C: &str = "272035"; // 豊中市 (大阪府, 27)

fn ok(zt: &Zt, code: &str, args: &[&str]) -> String {
    let mut all = vec!["--tenant", code];
    all.extend_from_slice(args);
    zt.ok(&all)
}

/// A city with the fixture's staff, IDs for `users` over `from..=to`, and `orders` as
/// `(employee, date)`.
fn load_city(zt: &Zt, code: &str, users: &[&str], from: &str, to: &str, orders: &[(&str, &str)]) {
    ok(zt, code, &["init"]);
    let staff = fixture("register/employees.csv");
    ok(zt, code, &["employees", "import", staff.to_str().unwrap()]);
    ok(
        zt,
        code,
        &[
            "applications",
            "add",
            "--department",
            "情報管理課",
            "--fiscal-year",
            "2020",
            "--pc",
            "PC-1",
            "--users",
            &users.join(","),
        ],
    );
    for e in users {
        ok(
            zt,
            code,
            &["ids", "assign", "--employee", e, "--from", from, "--to", to],
        );
    }
    let mut csv = String::from("employee_id,date,start,end,content,approved_by,shifted\n");
    for (e, d) in orders {
        // `E1001@12` (大阪市 on 01-20): a morning only, 09:00–12:00.
        let (e, hours) = match e.split_once('@') {
            Some((e, _)) => (e, "09:00,12:00"),
            None => (*e, ","),
        };
        csv.push_str(&format!("{e},{d},{hours},資料作成,E2001,\n"));
    }
    let file = zt.write(&format!("orders-{code}.csv"), &csv);
    ok(zt, code, &["orders", "import", file.to_str().unwrap()]);
}

/// 千代田区 teleworks 2 on 01-12 with 2 IDs until 01-15; 大阪市 3 on 01-19 and 1 on 01-20 with 3
/// IDs from 01-18; 豊中市 (its own `[timing]`) 1 on 01-12 with 1 ID all month.
/// Per day, teleworkers: 01-12 3, 01-19 3, 01-20 1 (peak 3 on 01-12; the peaks sum to 6);
/// IDs held: 3 until 01-15, 4 from 01-18 (peak 4 on 01-18; the peaks sum to 6).
/// Ordered hours: 8.75 everywhere but 大阪市's 3-hour morning on 01-20.
fn three_cities() -> Option<Zt> {
    pg_admin_url()?;
    let zt = Zt::with_db(Backend::Postgres, fresh_pg_database_as_app_role());
    std::fs::create_dir_all(zt.path(&format!("config/tenants/{C}"))).unwrap();
    zt.write(
        &format!("config/tenants/{C}/zaitaku.toml"),
        "[timing]\nearly_minutes = 45\ngrace_minutes = 5\n",
    );
    zt.ok(&["tenants", "add", "--code", A, "--name", "千代田区"]);
    zt.ok(&["tenants", "add", "--code", B, "--name", "大阪市"]);
    zt.ok(&["tenants", "add", "--code", C, "--name", "豊中市"]);
    load_city(
        &zt,
        A,
        &["E1001", "E1002"],
        "2021-01-04",
        "2021-01-15",
        &[("E1001", "2021-01-12"), ("E1002", "2021-01-12")],
    );
    load_city(
        &zt,
        B,
        &["E1001", "E1002", "E1004"],
        "2021-01-18",
        "2021-03-31",
        &[
            ("E1001", "2021-01-19"),
            ("E1002", "2021-01-19"),
            ("E1004", "2021-01-19"),
            ("E1001@12", "2021-01-20"),
        ],
    );
    load_city(
        &zt,
        C,
        &["E1001"],
        "2021-01-04",
        "2021-03-31",
        &[("E1001", "2021-01-12")],
    );
    // 千代田区's 山田 reports his start: the total's reports add each city's.
    let mail = fixture("mail/01-start-iso2022jp.eml");
    ok(&zt, A, &["ingest", mail.to_str().unwrap()]);
    Some(zt)
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap()
}

#[test]
fn each_city_is_its_own_survey_and_the_total_recomputes_the_peaks() {
    let Some(zt) = three_cities() else { return };
    let all = json(&zt.ok(&["survey", "2021-02", "--all-tenants", "--format", "json"]));
    assert_eq!(
        (&all["wave"], &all["from"], &all["to"]),
        (
            &Value::from("2021-02"),
            &Value::from("2021-01-01"),
            &Value::from("2021-01-31")
        )
    );
    let tenants = all["tenants"].as_array().unwrap();
    let codes: Vec<&str> = tenants
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, [A, B, C]);
    assert_eq!(tenants[1]["name"], "大阪市");
    for t in tenants {
        let code = t["code"].as_str().unwrap();
        let own = json(&ok(&zt, code, &["survey", "2021-02", "--format", "json"]));
        let mut t = t.clone();
        let o = t.as_object_mut().unwrap();
        o.remove("code");
        o.remove("name");
        assert_eq!(t, own, "{code}");
    }
    // 豊中市's own `[timing]`, not the shared one.
    assert_eq!(tenants[2]["windows"]["early_minutes"], 45);
    assert_eq!(tenants[0]["windows"]["early_minutes"], 30);

    let total = &all["total"];
    // Counts add up.
    assert_eq!(total["order_days"], 2 + 4 + 1);
    assert_eq!(total["teleworkers"], 2 + 3 + 1);
    assert_eq!(total["ids"]["licensed"], 3 * 50);
    assert_eq!(total["ids"]["assigned"], 2 + 3 + 1);
    assert_eq!(total["ids"]["holders"], 2 + 3 + 1);
    assert_eq!(total["reports"]["start_received"], 1);
    assert_eq!(total["reports"]["missing_start"], 6);
    // Peaks are recomputed over the combined days (each city's peaks sum to 6 and 6).
    let peaks: Vec<i64> = tenants
        .iter()
        .map(|t| t["ids"]["peak_teleworkers"].as_i64().unwrap())
        .collect();
    assert_eq!(peaks, [2, 3, 1]);
    assert_eq!(total["ids"]["peak_teleworkers"], 3);
    assert_eq!(total["ids"]["peak_teleworkers_date"], "2021-01-12");
    assert_eq!(total["ids"]["peak_concurrent"], 4);
    assert_eq!(total["ids"]["peak_date"], "2021-01-18");
    // Rows of the same department merge; its telework days are the union of the cities' days.
    let depts = total["departments"].as_array().unwrap();
    assert_eq!(depts.len(), 1, "{depts:?}");
    assert_eq!(depts[0]["department"], "情報管理課");
    assert_eq!(depts[0]["order_days"], 7);
    assert_eq!(depts[0]["teleworkers"], 6);
    assert_eq!(depts[0]["telework_days"], 3); // 01-12, 01-19, 01-20
    assert_eq!(total["working_days"], tenants[0]["working_days"]);
    assert_eq!(total["active_departments"], 3);
    assert_eq!(total["months"][0]["order_days"], 7);
    // Averages are recomputed from the minutes and order days, not averaged:
    // (6 × 525 + 180) / 7 minutes = 7.93 h, where the cities' averages are 8.75, 7.31, 8.75.
    assert_eq!(tenants[1]["average_ordered_hours"], 7.31);
    assert_eq!(total["average_ordered_hours"], 7.93);
    assert_eq!(total["escalations"]["missing_start"]["cases"], 0);
    assert_eq!(total["windows"]["early_minutes"], 30);
}

#[test]
fn a_prefecture_keeps_its_cities_and_recomputes_its_own_total() {
    let Some(zt) = three_cities() else { return };
    let osaka = json(&zt.ok(&[
        "survey",
        "2021-02",
        "--all-tenants",
        "--prefecture",
        "27",
        "--format",
        "json",
    ]));
    let codes: Vec<&str> = osaka["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, [B, C]);
    let total = &osaka["total"];
    assert_eq!(total["order_days"], 5);
    // 01-12: 豊中市 1; 01-19: 大阪市 3.
    assert_eq!(total["ids"]["peak_teleworkers"], 3);
    assert_eq!(total["ids"]["peak_teleworkers_date"], "2021-01-19");
    let none = json(&zt.ok(&[
        "survey",
        "2021-02",
        "--all-tenants",
        "--prefecture",
        "01",
        "--format",
        "json",
    ]));
    assert_eq!(none["tenants"].as_array().unwrap().len(), 0);
    assert_eq!(none["total"]["order_days"], 0);
    assert_eq!(none["total"]["ids"]["peak_date"], Value::Null);
}

#[test]
fn the_four_formats_render_every_city_and_the_total() {
    let Some(zt) = three_cities() else { return };
    let md = zt.ok(&["survey", "2021-02", "--all-tenants"]);
    assert!(md.starts_with("# 自治体テレワーク推進実証実験 利用状況調査（2021-02）団体別・合計"));
    for heading in [
        "## 合計 全団体",
        "## 131016 千代田区",
        "## 271004 大阪市",
        "## 272035 豊中市",
    ] {
        assert!(md.contains(heading), "{heading}\n{md}");
    }
    assert!(md.contains("### 概要"), "{md}");
    let csv_path = zt.path("all.csv");
    zt.ok(&[
        "survey",
        "2021-02",
        "--all-tenants",
        "--format",
        "csv",
        "--encoding",
        "shift_jis",
        "--output",
        csv_path.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&csv_path).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    // encoding_rs writes a character Shift_JIS lacks as `&#NNNN;`.
    assert!(!bad && !text.contains("&#"), "{text}");
    assert!(
        text.starts_with("団体コード,団体名\r\n合計,全団体\r\n"),
        "{text}"
    );
    assert!(
        text.contains("\r\n団体コード,団体名\r\n272035,豊中市\r\n"),
        "{text}"
    );
    let sjis_md = zt
        .cmd(&[
            "survey",
            "2021-02",
            "--all-tenants",
            "--encoding",
            "shift_jis",
        ])
        .output()
        .unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis_md.stdout);
    assert!(
        !bad && !text.contains("&#") && text.contains("団体別・合計"),
        "{text}"
    );
    let utf8 = zt.ok(&["survey", "2021-02", "--all-tenants", "--format", "csv"]);
    assert!(utf8.starts_with('\u{feff}'));
    assert_eq!(utf8.matches('\u{feff}').count(), 1);
    let svg = zt.ok(&["survey", "2021-02", "--all-tenants", "--format", "svg"]);
    assert!(svg.trim_start().starts_with("<svg") || svg.trim_start().starts_with("<?xml"));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn wrong_flags_and_sqlite_are_refused_with_exit_2() {
    let sqlite = Zt::new(Backend::Sqlite);
    sqlite.ok(&["init"]);
    sqlite
        .run(&["survey", "2021-02", "--all-tenants"])
        .expect_bad_input(&["single-tenant"]);
    sqlite
        .run(&["survey", "2021-02", "--prefecture", "13"])
        .expect_bad_input(&["--prefecture", "--all-tenants"]);
    for bad in ["48", "00", "1", "131", "ab"] {
        sqlite
            .run(&["survey", "2021-02", "--all-tenants", "--prefecture", bad])
            .expect_bad_input(&["--prefecture", "01–47"]);
    }
    let Some(zt) = three_cities() else { return };
    zt.run(&["--tenant", A, "survey", "2021-02", "--all-tenants"])
        .expect_bad_input(&["--all-tenants", "--tenant"]);
    zt.run(&["survey", "2021-13", "--all-tenants"])
        .expect_bad_input(&["WAVE"]);
    // A city whose own configuration lacks the wave is named.
    zt.write(
        &format!("config/tenants/{C}/zaitaku.toml"),
        "[[survey.wave]]\nname = \"2021-07\"\nfrom = \"2021-02-01\"\nto = \"2021-06-30\"\n",
    );
    zt.run(&["survey", "2021-02", "--all-tenants"])
        .expect_bad_input(&[&format!("tenant {C}"), "WAVE", "2021-07"]);
    zt.run(&[
        "survey",
        "2021-02",
        "--all-tenants",
        "--format",
        "json",
        "--encoding",
        "shift_jis",
    ])
    .expect_bad_input(&["--encoding"]);
}
