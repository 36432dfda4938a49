//! The city's calendar through the real binary, on SQLite and PostgreSQL: a month of orders with
//! a national holiday in it, the one line that names the holiday, the supervisor's explicit
//! approval, ticks on closed days, and `zaitaku calendar`.

mod helpers;

use helpers::{Backend, Zt, backends, fixture};

const MONTH: &str = "calendar/orders-2021-02.csv";
const HOLIDAY_ROW: &str = "E1001,2021-02-11,,,テレワーク運用手順書の作成,E2001,,";

fn month_with(zt: &Zt, holiday_row: &str) -> String {
    let csv = std::fs::read_to_string(fixture(MONTH)).unwrap();
    assert!(
        csv.contains(HOLIDAY_ROW),
        "the fixture orders 建国記念の日 like any day"
    );
    let p = zt.write("orders-2021-02.csv", &csv.replace(HOLIDAY_ROW, holiday_row));
    p.to_str().unwrap().to_string()
}

#[test]
fn a_month_with_a_holiday_is_refused_until_a_supervisor_approves_that_day() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff();
        let month = fixture(MONTH);
        zt.run(&["orders", "import", month.to_str().unwrap()])
            .expect_bad_input(&[
                "orders-2021-02.csv:10: date",
                "2021-02-11 は建国記念の日です",
                "holiday_ok=true",
            ]);
        // All-or-nothing: the working days before it were not written either.
        let board = zt.status_json("2021-02-01", "2021-02-01T08:00:00+09:00");
        assert!(
            board["teleworkers"].as_array().unwrap().is_empty(),
            "{b:?}: {board}"
        );

        // One flag alone is not the approval.
        let p = month_with(
            &zt,
            "E1001,2021-02-11,,,テレワーク運用手順書の作成,E2001,true,",
        );
        zt.run(&["orders", "import", &p])
            .expect_bad_input(&[":10: date", "建国記念の日"]);
        let p = month_with(
            &zt,
            "E1001,2021-02-11,,,テレワーク運用手順書の作成,E2001,,true",
        );
        zt.run(&["orders", "import", &p])
            .expect_bad_input(&[":10: date", "建国記念の日"]);
        let p = month_with(
            &zt,
            "E1001,2021-02-11,,,テレワーク運用手順書の作成,E2001,true,maybe",
        );
        zt.run(&["orders", "import", &p])
            .expect_bad_input(&[":10: holiday_ok", "true, false or empty"]);

        let p = month_with(
            &zt,
            "E1001,2021-02-11,,,テレワーク運用手順書の作成,E2001,true,true",
        );
        let out = zt.ok(&["orders", "import", &p]);
        assert!(out.contains("19 orders imported"), "{b:?}: {out}");
        let board = zt.status_json("2021-02-11", "2021-02-11T08:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["holiday_ok"], true, "{board}");
        assert_eq!(board["teleworkers"][0]["shifted"], true);
        let board = zt.status_json("2021-02-12", "2021-02-12T08:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["holiday_ok"], false);
    }
}

#[test]
fn weekends_and_the_year_end_closure_are_named_too() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff();
    for (date, name) in [
        ("2021-02-13", "2021-02-13 は土曜日です"),
        ("2021-02-14", "2021-02-14 は日曜日です"),
        ("2021-01-11", "2021-01-11 は成人の日です"),
    ] {
        let p = zt.write(
            "o.csv",
            &format!("employee_id,date,start,end,content,approved_by,shifted\nE1001,{date},,,資料作成,E2001,\n"),
        );
        zt.run(&["orders", "import", p.to_str().unwrap()])
            .expect_bad_input(&["o.csv:2: date", name]);
    }
    // The city's own closed day, from [calendar] extra_closed.
    let toml = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
    zt.write(
        "config/zaitaku.toml",
        &format!("{toml}[calendar]\nextra_closed = [\"2021-02-15\"]\n"),
    );
    let p = zt.write("o.csv", "employee_id,date,start,end,content,approved_by,shifted\nE1001,2021-02-15,,,資料作成,E2001,\n");
    zt.run(&["orders", "import", p.to_str().unwrap()])
        .expect_bad_input(&["o.csv:2: date", "2021-02-15 は閉庁日です"]);
}

#[test]
fn ticks_on_closed_days_chase_only_orders_approved_for_them() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff();
        let p = zt.write(
            "orders.csv",
            "employee_id,date,start,end,content,approved_by,shifted,holiday_ok\n\
             E1001,2021-02-11,,,システム更新の立会い,E2001,true,true\n\
             E1003,2021-02-12,,,予算資料の作成,E2002,,\n",
        );
        zt.ok(&["orders", "import", p.to_str().unwrap()]);

        // 建国記念の日, with an order a supervisor approved for it: that work is chased and reported.
        let out = zt.ok(&["tick", "--now", "2021-02-11T12:00:00+09:00"]);
        assert!(
            out.contains("escalations: 3 sent") && out.contains("digests: 1"),
            "{b:?}: {out}"
        );
        let sent = zt.sent();
        assert!(
            sent.iter()
                .any(|m| m.contains("To: yamada@city.example.lg.jp")),
            "the reminder"
        );
        assert!(
            sent.iter()
                .any(|m| m.contains("To: suzuki@city.example.lg.jp")
                    && m.contains("zaitaku.digest."))
        );

        // The city then closes the 12th (a snowstorm): E1003's order stays, but nobody is chased
        // and no digest goes out for it.
        let toml = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
        zt.write(
            "config/zaitaku.toml",
            &format!("{toml}[calendar]\nextra_closed = [{{ date = \"2021-02-12\", name = \"大雪による閉庁\" }}]\n"),
        );
        let before = zt.sent().len();
        let out = zt.ok(&["tick", "--now", "2021-02-12T19:00:00+09:00"]);
        assert!(
            out.contains("escalations: 0 sent") && out.contains("digests: 0"),
            "{b:?}: {out}"
        );
        assert_eq!(zt.sent().len(), before, "nothing for the closed 12th");
        let board = zt.status_json("2021-02-12", "2021-02-12T19:00:00+09:00");
        assert!(
            board["teleworkers"][0]["escalations"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{board}"
        );

        // 天皇誕生日 with no order: nothing at all.
        let out = zt.ok(&["tick", "--now", "2021-02-23T18:00:00+09:00"]);
        assert!(
            out.contains("escalations: 0 sent") && out.contains("digests: 0"),
            "{out}"
        );
    }
}

#[test]
fn calendar_lists_a_years_closed_days_with_their_names() {
    let zt = Zt::new(Backend::Sqlite);
    let out = zt.ok(&["calendar", "--year", "2021"]);
    for line in [
        "2021-01-01\t金\t元日",
        "2021-01-02\t土\t年末年始",
        "2021-02-11\t木\t建国記念の日",
        "2021-07-22\t木\t海の日",
        "2021-07-23\t金\tスポーツの日",
        "2021-08-08\t日\t山の日",
        "2021-08-09\t月\t振替休日",
        "2021-12-29\t水\t年末年始",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "{line:?} missing from:\n{out}"
        );
    }
    assert_eq!(out.lines().count(), 22, "{out}");
    assert!(!out.contains("土曜日"), "ordinary weekends only with --all");
    let all = zt.ok(&["calendar", "--year", "2021", "--all"]);
    assert!(all.lines().any(|l| l == "2021-07-24\t土\t土曜日"), "{all}");
    let v: serde_json::Value =
        serde_json::from_str(&zt.ok(&["calendar", "--year", "2020", "--json"])).unwrap();
    let closed = v["closed"].as_array().unwrap();
    let find = |d: &str| {
        closed
            .iter()
            .find(|x| x["date"] == d)
            .map(|x| x["name"].as_str().unwrap().to_string())
    };
    assert_eq!(find("2020-07-23").as_deref(), Some("海の日"));
    assert_eq!(find("2020-07-24").as_deref(), Some("スポーツの日"));
    assert_eq!(find("2020-08-10").as_deref(), Some("山の日"));
    assert_eq!(find("2020-05-06").as_deref(), Some("振替休日"));
    assert!(v["working_days"].as_u64().unwrap() > 240);
    // A year past the table is computed from the holidays law, and said so once.
    let r = zt.run(&["calendar", "--year", "2031"]);
    r.expect_code(0);
    assert!(
        r.stdout.contains("2031-01-13\t月\t成人の日"),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stderr,
        "warning: national holidays for 2031 are computed from the holidays law (the shipped holidays.csv lists 2019–2026; add the Cabinet Office's rows for the computed years once published)\n"
    );
    // A year the law's present form does not reach is still refused.
    zt.run(&["calendar", "--year", "2100"])
        .expect_bad_input(&["--year", "2019–2026"]);
}

#[test]
fn the_cabinet_offices_file_dropped_into_the_config_folder_replaces_the_shipped_table() {
    let zt = Zt::new(Backend::Sqlite);
    let shipped = zt.ok(&["calendar", "--year", "2021"]);
    // The file as downloaded: Shift_JIS, YYYY/M/D, its own header, both kinds of rest day 「休日」.
    let mut official = String::from("国民の祝日・休日月日,国民の祝日・休日名称\r\n");
    let ours = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/holidays.csv"))
        .unwrap();
    for line in ours.lines().filter(|l| l.starts_with("20")) {
        let (date, name) = line.split_once(',').unwrap();
        let mut ymd = date.split('-').map(|p| p.parse::<u32>().unwrap());
        let (y, m, d) = (
            ymd.next().unwrap(),
            ymd.next().unwrap(),
            ymd.next().unwrap(),
        );
        let name = if name == "振替休日" || name == "国民の休日" {
            "休日"
        } else {
            name
        };
        official.push_str(&format!("{y}/{m}/{d},{name}\r\n"));
    }
    // And the city added a day the Cabinet Office never would: it shows that this file is read.
    official.push_str("2021/6/1,テスト用の祝日\r\n");
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&official);
    std::fs::write(zt.path("config/holidays.csv"), &sjis).unwrap();
    let replaced = zt.ok(&["calendar", "--year", "2021"]);
    assert_eq!(
        replaced.replace("2021-06-01\t火\tテスト用の祝日\n", ""),
        shipped
    );
    assert!(replaced.contains("2021-08-09\t月\t振替休日"));

    // A table that stops short of the service period still replaces the shipped one whole: the
    // years it lacks (2020 and 2022 of the default period) are computed and warned, naming it.
    std::fs::write(
        zt.path("config/holidays.csv"),
        "date,name\n2021-01-01,元日\n",
    )
    .unwrap();
    let r = zt.run(&["calendar", "--year", "2021"]);
    r.expect_code(0);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| !l.ends_with("年末年始"))
            .count(),
        1,
        "{}",
        r.stdout
    );
    let table = zt.path("config/holidays.csv");
    assert_eq!(
        r.stderr,
        format!(
            "warning: national holidays for 2020, 2022 are computed from the holidays law ({} lists 2021–2021; add the Cabinet Office's rows for the computed years once published)\n",
            table.display()
        )
    );
    // Before the law's present form (2020), a year the table lacks still stops every command.
    let toml = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
    zt.write(
        "config/zaitaku.toml",
        &format!("{toml}[service]\nfrom = \"2019-04-01\"\n"),
    );
    zt.run(&["calendar", "--year", "2021"]).expect_bad_input(&[
        "holidays.csv",
        "2021–2021 only",
        "2019 can be computed",
    ]);
}

/// A city extending the pilot to 2027-03-31, past the shipped table (2019–2026): before, every
/// command refused to start ("lists national holidays for 2019–2026 only"), `init` included.
#[test]
fn a_service_period_past_the_holiday_table_never_stops_a_command() {
    for b in backends() {
        let zt = Zt::new(b);
        let toml = std::fs::read_to_string(zt.path("config/zaitaku.toml")).unwrap();
        zt.write(
            "config/zaitaku.toml",
            &format!("{toml}[service]\nto = \"2027-03-31\"\n"),
        );
        let warning = "warning: national holidays for 2027 are computed from the holidays law (the shipped holidays.csv lists 2019–2026; add the Cabinet Office's rows for the computed years once published)\n";
        for args in [
            &["init"][..],
            &[
                "status",
                "--date",
                "2027-01-11",
                "--now",
                "2027-01-11T09:00:00+09:00",
            ],
            &["calendar", "--year", "2027"],
        ] {
            let r = zt.run(args);
            r.expect_code(0);
            assert_eq!(r.stderr, warning, "{b:?} {args:?}: once, and nothing else");
        }
        let out = zt.ok(&["calendar", "--year", "2027"]);
        assert!(out.contains("2027-01-11\t月\t成人の日"), "{out}");
        assert!(out.contains("2027-03-22\t月\t振替休日"), "{out}");
        // 成人の日 2027 is closed: an order for it is refused like any holiday's.
        zt.with_staff();
        let p = zt.write(
            "o.csv",
            "employee_id,date,start,end,content,approved_by,shifted\nE1001,2027-01-11,,,資料作成,E2001,\n",
        );
        let r = zt.run(&["orders", "import", p.to_str().unwrap()]);
        r.expect_code(2);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines[0], warning.trim_end(), "{b:?}");
        assert!(
            lines.len() == 2
                && lines[1].contains("o.csv:2: date")
                && lines[1].contains("2027-01-11 は成人の日です"),
            "{b:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn the_survey_counts_working_days_and_each_departments_share_of_them() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff();
        let p = zt.write(
            "orders.csv",
            "employee_id,date,start,end,content,approved_by,shifted\n\
             E1001,2021-01-12,,,a,E2001,\nE1002,2021-01-12,,,b,E2001,\nE1001,2021-01-13,,,c,E2001,\n",
        );
        zt.ok(&["orders", "import", p.to_str().unwrap()]);
        let v: serde_json::Value =
            serde_json::from_str(&zt.ok(&["survey", "2021-02", "--format", "json"])).unwrap();
        // January 2021: 31 days less 10 weekend days, 元日 (Fri 1st) and 成人の日 (Mon 11th).
        assert_eq!(v["working_days"], 19, "{b:?}");
        let joho = v["departments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["department"] == "情報管理課")
            .unwrap();
        assert_eq!(joho["order_days"], 3);
        assert_eq!(
            joho["telework_days"], 2,
            "two distinct days with someone at home"
        );
        assert_eq!(joho["share_of_working_days"], 0.105);
        let md = zt.ok(&["survey", "2021-02"]);
        assert!(md.contains("| 期間中の開庁日 | 19 日 |"), "{md}");
        assert!(md.contains("2 日（10.5%）"), "{md}");
    }
}
