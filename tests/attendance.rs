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
