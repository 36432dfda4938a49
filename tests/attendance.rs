//! `zaitaku attendance export` (issue 18, SPEC §11) through the real binary, on SQLite and
//! PostgreSQL: one row per employee per day with an order, in the default layout or one of
//! `config/exports.toml`, UTF-8 with a BOM or Shift_JIS.

mod helpers;

use helpers::{Zt, backends, fixture};

const NOW: &str = "2021-01-12T18:00:00+09:00";

fn export(zt: &Zt, extra: &[&str]) -> String {
    let out = zt.path("attendance.csv");
    zt.ok(&[
        &[
            "attendance",
            "export",
            "--month",
            "2021-01",
            "--now",
            NOW,
            "--output",
        ][..],
        &[out.to_str().unwrap()],
        extra,
    ]
    .concat());
    let bytes = std::fs::read(&out).unwrap();
    match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => String::from_utf8(rest.to_vec()).unwrap(),
        None => encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned(),
    }
}

#[test]
fn a_month_of_orders_is_one_row_per_employee_per_day_in_the_layout_asked_for() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        zt.ok(&[
            "contact",
            "--employee",
            "E1002",
            "--date",
            "2021-01-12",
            "--kind",
            "start",
            "--at",
            "08:35",
            "--by",
            "E2001",
        ]);
        let csv = export(&zt, &[]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "employee_id,name,department,date,order_start,order_end,start_at,start_status,end_at,end_status,leave,escalations",
            "{b:?}"
        );
        assert_eq!(lines.len(), 3, "{b:?}: two orders in January: {csv}");
        assert!(
            lines[1].starts_with("E1001,山田太郎,情報管理課,2021-01-12,08:30,17:15,08:"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("E1002,佐藤花子,情報管理課,2021-01-12,08:30,17:15,08:35,"),
            "{}",
            lines[2]
        );
        // Another department has no rows, only the header.
        assert_eq!(export(&zt, &["--department", "財政課"]).lines().count(), 1);
        // A city's own layout: labels, a date format, Shift_JIS.
        std::fs::write(
            zt.path("config/exports.toml"),
            "[layouts.kyuyo]\ncolumns = [\"employee_id\", \"date\", \"start_at\", \"start_source\"]\n\
             headers = [\"職員番号\", \"日付\", \"開始\", \"連絡手段\"]\ndate_format = \"%Y/%m/%d\"\n",
        )
        .unwrap();
        let sjis = export(&zt, &["--layout", "kyuyo", "--encoding", "shift_jis"]);
        let rows: Vec<&str> = sjis.lines().collect();
        assert_eq!(rows[0], "職員番号,日付,開始,連絡手段", "{b:?}");
        assert!(rows[1].starts_with("E1001,2021/01/12,08:"), "{sjis}");
        assert!(rows[1].ends_with(",file"), "{sjis}");
        assert!(sjis.contains("E1002,2021/01/12,08:35,phone"), "{sjis}");
        zt.run(&["attendance", "export", "--month", "2021-13"])
            .expect_bad_input(&["--month", "expected YYYY-MM"]);
        zt.run(&[
            "attendance",
            "export",
            "--month",
            "2021-01",
            "--layout",
            "nope",
        ])
        .expect_bad_input(&["--layout", "\"nope\""]);
    }
}

const PW: &str = "correct horse battery";

/// The January of the test above, with web logins, and `zaitaku web` on its evening.
fn on_the_web(b: helpers::Backend) -> (Zt, helpers::http::WebServer) {
    let zt = Zt::new(b);
    zt.with_staff().with_orders_0112();
    zt.ok(&[
        "ingest",
        fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
    ]);
    zt.ok(&[
        "contact",
        "--employee",
        "E1002",
        "--date",
        "2021-01-12",
        "--kind",
        "start",
        "--at",
        "08:35",
        "--by",
        "E2001",
    ]);
    zt.set_passwords(&["E1001", "E1002", "E2001", "E3001", "E9001"], PW);
    let web = helpers::http::WebServer::start_with(&zt, &["--now", NOW]);
    (zt, web)
}

fn login(web: &helpers::http::WebServer, who: &str) -> helpers::http::Client {
    let mut c = web.client();
    c.login(who, PW).expect(303);
    c
}

/// IT and HR download the month from the web: the same file as `attendance export` (month,
/// layout, encoding, department); a bad field is shown at the field; nobody else may.
#[test]
fn it_and_hr_download_the_attendance_export_from_the_web() {
    for b in backends() {
        let (zt, web) = on_the_web(b);
        let cli = export(&zt, &[]);
        for who in ["E9001", "E3001"] {
            let mut c = login(&web, who);
            let form = c.get("/attendance");
            form.expect(200);
            assert!(
                form.body.contains("action=\"/attendance/export\"")
                    && form.body.contains(">勤務実績</a>"),
                "{}",
                form.body
            );
            let r = c.get("/attendance/export?month=2021-01&layout=default&encoding=utf-8");
            r.expect(200);
            assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
            assert_eq!(
                r.header("content-disposition"),
                Some("attachment; filename=\"attendance-2021-01.csv\"")
            );
            let body = r.body.strip_prefix('\u{feff}').expect("a BOM");
            assert_eq!(body, cli, "{b:?} {who}: the command's file");
        }
        let mut it = login(&web, "E9001");
        let sjis = it.get("/attendance/export?month=2021-01&encoding=shift_jis");
        sjis.expect(200);
        assert_eq!(
            sjis.header("content-type"),
            Some("text/csv; charset=Shift_JIS")
        );
        assert!(!sjis.body.contains("山田"), "not UTF-8");
        let zaisei = it.get("/attendance/export?month=2021-01&department=財政課");
        assert_eq!(zaisei.body.lines().count(), 1, "{}", zaisei.body);
        for (query, field) in [
            ("month=2021-13", "month"),
            ("month=2021-01&encoding=latin1", "encoding"),
            ("month=2021-01&layout=nope", "layout"),
            ("month=2021-01&department=どこか", "department"),
        ] {
            let r = it.get(&format!("/attendance/export?{query}"));
            r.expect(400);
            assert!(
                r.body.contains(&format!("id=\"error-{field}\"")),
                "{query}: {}",
                r.body
            );
        }
        for who in ["E2001", "E1001"] {
            let mut c = login(&web, who);
            c.get("/attendance").expect(403);
            c.get("/attendance/export?month=2021-01").expect(403);
            assert!(!c.get("/my").body.contains(">勤務実績</a>"));
        }
    }
}

/// The part of 自分の在宅勤務 that is the month's record.
fn month_part(body: &str) -> &str {
    let at = body
        .find("id=\"month-heading\"")
        .unwrap_or_else(|| panic!("no month on the page:\n{body}"));
    &body[at..]
}

/// 自分の在宅勤務 shows a person's own month (a row per day with an order: times as reported
/// or by phone, timing), with the months before and after.
#[test]
fn a_teleworker_reads_their_own_month_on_their_page() {
    for b in backends() {
        let (_zt, web) = on_the_web(b);
        let mut yamada = login(&web, "E1001");
        let page = yamada.get("/my");
        page.expect(200);
        let month = month_part(&page.body);
        assert!(month.contains("2021年1月の勤務実績"), "{month}");
        assert_eq!(month.matches("data-label=\"日付\"").count(), 1, "{month}");
        assert!(month.contains(">2021-01-12<") && month.contains("08:30〜17:15"));
        assert!(
            month.contains("href=\"/my?month=2020-12#month\""),
            "{month}"
        );
        assert!(
            month.contains("href=\"/my?month=2021-02#month\""),
            "{month}"
        );
        let feb = yamada.get("/my?month=2021-02");
        let feb = month_part(&feb.body);
        assert!(feb.contains("2021年2月の勤務実績"), "{feb}");
        assert!(feb.contains("この月の在宅勤務命令はありません"), "{feb}");
        // 佐藤's start came by phone.
        let mut sato = login(&web, "E1002");
        let page = sato.get("/my?month=2021-01");
        let month = month_part(&page.body);
        assert!(
            month.contains("08:35") && month.contains("（電話）"),
            "{month}"
        );
        assert_eq!(month.matches("data-label=\"日付\"").count(), 1);
    }
}
