//! The J-LIS survey through the real binary, on SQLite and PostgreSQL: a register built from
//! the fixtures under `tests/fixtures/survey` (orders across months and departments, with
//! hourly leave, shifted hours and a cancellation; report mails with their arrival in the
//! `Received:` header; a phone contact; escalation steps), and every figure of two waves
//! compared with a count made here, from the fixture files alone.

mod helpers;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use helpers::{Backend, Zt, backends, fixture, sql};
use serde_json::{Value, json};

// ---- the fixture, read without the library ----

#[derive(Debug, Clone)]
struct Order {
    employee: String,
    date: NaiveDate,
    start: u32,
    end: u32,
    leave: Vec<(u32, u32)>,
}

fn minutes(s: &str) -> u32 {
    let (h, m) = s.split_once(':').unwrap();
    h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The order the test cancels after the import.
const CANCELLED: (&str, &str) = ("E1004", "2021-01-28");
/// The phone contact the test records: E1005's start on 2021-01-28 at 09:05, by E2002.
const CONTACT: (&str, &str, &str, &str) = ("E1005", "2021-01-28", "09:05", "E2002");

fn orders() -> Vec<Order> {
    let text = std::fs::read_to_string(fixture("survey/orders.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    r.records()
        .map(|rec| rec.unwrap())
        .filter(|rec| (&rec[0], &rec[1]) != CANCELLED)
        .map(|rec| Order {
            employee: rec[0].to_string(),
            date: day(&rec[1]),
            start: if rec[2].is_empty() {
                8 * 60 + 30
            } else {
                minutes(&rec[2])
            },
            end: if rec[3].is_empty() {
                17 * 60 + 15
            } else {
                minutes(&rec[3])
            },
            leave: rec[7]
                .split(';')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let (a, b) = s.split_once('-').unwrap();
                    (minutes(a), minutes(b))
                })
                .collect(),
        })
        .collect()
}

/// (employee, kind, arrival) of every report: the mails, and the phone contact.
fn reports() -> Vec<(String, String, DateTime<FixedOffset>)> {
    let text = std::fs::read_to_string(fixture("survey/reports.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let mut out: Vec<_> = r
        .records()
        .map(|rec| rec.unwrap())
        .map(|rec| {
            (
                rec[1].to_string(),
                rec[2].to_string(),
                DateTime::parse_from_rfc3339(&rec[3]).unwrap(),
            )
        })
        .collect();
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    let at =
        day(CONTACT.1).and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(minutes(CONTACT.2).into());
    out.push((
        CONTACT.0.to_string(),
        "start".into(),
        jst.from_local_datetime(&at).unwrap(),
    ));
    out
}

/// Department and division of each teleworker (the register fixture and the annex).
fn department(employee: &str) -> (&'static str, &'static str) {
    match employee {
        "E1001" | "E1002" | "E1004" => ("総務部", "情報管理課"),
        "E1003" | "E1005" => ("総合政策部", "財政課"),
        other => panic!("no department for {other}"),
    }
}

/// The telework IDs `with_staff` assigns (from 2021-01-04 to the end of fiscal 2020), after the
/// test takes E1005's back from 2021-02-01.
fn held() -> Vec<(&'static str, NaiveDate, NaiveDate)> {
    ["E1001", "E1002", "E1003", "E1004", "E1005"]
        .iter()
        .map(|&e| {
            (
                e,
                day("2021-01-04"),
                if e == "E1005" {
                    day("2021-01-31")
                } else {
                    day("2021-03-31")
                },
            )
        })
        .collect()
}

/// SPEC §4: early before expected − 30 min, on time up to expected + 15 min, late after.
fn judge(expected: DateTime<FixedOffset>, got: Option<DateTime<FixedOffset>>) -> &'static str {
    match got {
        None => "missing",
        Some(t) if t < expected - Duration::minutes(30) => "early",
        Some(t) if t <= expected + Duration::minutes(15) => "on_time",
        Some(_) => "late",
    }
}

/// Every figure of the wave `from..=to`, counted from the fixture.
fn expected(wave: &str, from: &str, to: &str, escalations: Value) -> Value {
    let (from, to) = (day(from), day(to));
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    let os: Vec<Order> = orders()
        .into_iter()
        .filter(|o| from <= o.date && o.date <= to)
        .collect();
    let reps = reports();
    let people: BTreeSet<&str> = os.iter().map(|o| o.employee.as_str()).collect();

    let mut depts: BTreeMap<(&str, &str), (u64, BTreeSet<&str>)> = BTreeMap::new();
    // Working days, counted here from the law's list for the first half of 2021 (not from the
    // product's calendar): weekdays that are not 国民の祝日 or 年末年始.
    const HOLIDAYS: [&str; 9] = [
        "2021-01-01",
        "2021-01-11",
        "2021-02-11",
        "2021-02-23",
        "2021-03-20",
        "2021-04-29",
        "2021-05-03",
        "2021-05-04",
        "2021-05-05",
    ];
    let is_working = |d: NaiveDate| {
        use chrono::Datelike;
        d.weekday().number_from_monday() <= 5 && !HOLIDAYS.contains(&d.to_string().as_str())
    };
    let mut working_days = 0u64;
    let mut w = from;
    while w <= to {
        working_days += u64::from(is_working(w));
        w += Duration::days(1);
    }
    let mut dept_dates: BTreeMap<&str, BTreeSet<NaiveDate>> = BTreeMap::new();
    let mut months: BTreeMap<String, (u64, BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    let mut m = from;
    while m <= to {
        months.entry(m.format("%Y-%m").to_string()).or_default();
        m += Duration::days(1);
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    let (mut ordered, mut leave_min, mut leave_spans, mut leave_orders) = (0u32, 0u32, 0u64, 0u64);
    for o in &os {
        let (division, dept) = department(&o.employee);
        if is_working(o.date) {
            dept_dates.entry(dept).or_default().insert(o.date);
        }
        let d = depts.entry((division, dept)).or_default();
        d.0 += 1;
        d.1.insert(&o.employee);
        let mo = months.get_mut(&o.date.format("%Y-%m").to_string()).unwrap();
        mo.0 += 1;
        mo.1.insert(&o.employee);
        mo.2.insert(dept);
        *per_day.entry(o.date).or_default() += 1;
        ordered += o.end - o.start;
        if !o.leave.is_empty() {
            leave_orders += 1;
            leave_spans += o.leave.len() as u64;
            leave_min += o.leave.iter().map(|(a, b)| b - a).sum::<u32>();
        }
        // Hourly leave over the start moves the expected start to its end; over the end, the
        // expected end to its start.
        let (mut s, mut e) = (o.start, o.end);
        for &(a, b) in &o.leave {
            if a <= s && s < b {
                s = b;
            }
        }
        for &(a, b) in o.leave.iter().rev() {
            if a < e && e <= b {
                e = a;
            }
        }
        let at = |m: u32| {
            jst.from_local_datetime(
                &(o.date.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(m.into())),
            )
            .unwrap()
        };
        let mine = |kind: &str| {
            reps.iter()
                .filter(|(emp, k, t)| *emp == o.employee && k == kind && t.date_naive() == o.date)
                .map(|r| r.2)
                .collect::<Vec<_>>()
        };
        let first_start = mine("start").into_iter().min();
        let last_end = mine("end").into_iter().max();
        for (side, status) in [
            ("start", judge(at(s), first_start)),
            ("end", judge(at(e), last_end)),
        ] {
            let key = match status {
                "missing" => format!("missing_{side}"),
                other => format!("{side}_{other}"),
            };
            *counts.entry(key).or_default() += 1;
            if status != "missing" {
                *counts.entry(format!("{side}_received")).or_default() += 1;
            }
        }
    }
    let c = |k: &str| counts.get(k).copied().unwrap_or(0);

    // Divisions in annex order: 総合政策部 (財政課 is row 3) before 総務部 (情報管理課).
    let mut divisions: Vec<Value> = Vec::new();
    for div in ["総合政策部", "総務部"] {
        let mine: Vec<_> = depts.iter().filter(|((d, _), _)| *d == div).collect();
        if mine.is_empty() {
            continue;
        }
        divisions.push(json!({
            "division": div,
            "departments": mine.len(),
            "order_days": mine.iter().map(|(_, v)| v.0).sum::<u64>(),
            "teleworkers": mine.iter().map(|(_, v)| v.1.len() as u64).sum::<u64>(),
        }));
    }
    let departments: Vec<Value> = ["財政課", "情報管理課"]
        .iter()
        .filter_map(|name| depts.iter().find(|((_, d), _)| d == name))
        .map(|((div, d), v)| {
            let days = dept_dates.get(d).map(|s| s.len() as u64).unwrap_or(0);
            let share = (days as f64 / working_days as f64 * 1000.0).round() / 1000.0;
            json!({"division": div, "department": d, "order_days": v.0, "teleworkers": v.1.len(),
                   "telework_days": days, "share_of_working_days": share})
        })
        .collect();
    let month_rows: Vec<Value> = months
        .iter()
        .map(|(m, (n, who, ds))| {
            let by_division: Vec<Value> = divisions
                .iter()
                .map(|d| {
                    let div = d["division"].as_str().unwrap();
                    let days = os
                        .iter()
                        .filter(|o| o.date.format("%Y-%m").to_string() == *m && department(&o.employee).0 == div)
                        .count();
                    json!({"division": div, "order_days": days})
                })
                .collect();
            json!({"month": m, "order_days": n, "teleworkers": who.len(), "departments": ds.len(), "by_division": by_division})
        })
        .collect();

    let in_wave: Vec<_> = held()
        .into_iter()
        .filter(|h| h.1 <= to && from <= h.2)
        .collect();
    let (mut peak, mut peak_day) = (0u64, None);
    let mut d = from;
    while d <= to {
        let n = in_wave.iter().filter(|h| h.1 <= d && d <= h.2).count() as u64;
        if n > peak {
            (peak, peak_day) = (n, Some(d.to_string()));
        }
        d += Duration::days(1);
    }
    let (mut busiest, mut busiest_day) = (0u64, None);
    for (d, n) in &per_day {
        if *n > busiest {
            (busiest, busiest_day) = (*n, Some(d.to_string()));
        }
    }
    let n = os.len() as f64;
    let avg = |min: u32| {
        if os.is_empty() {
            Value::Null
        } else {
            json!(((min as f64 / 60.0 / n) * 100.0).round() / 100.0)
        }
    };
    json!({
        "wave": wave,
        "from": from.to_string(),
        "to": to.to_string(),
        "order_days": os.len(),
        "teleworkers": people.len(),
        "working_days": working_days,
        "active_departments": depts.len(),
        "active_divisions": divisions.len(),
        "divisions": divisions,
        "departments": departments,
        "months": month_rows,
        "ids": {
            "licensed": 50,
            "assigned": in_wave.len(),
            "holders": in_wave.len(),
            "peak_concurrent": peak,
            "peak_date": peak_day,
            "peak_teleworkers": busiest,
            "peak_teleworkers_date": busiest_day,
        },
        "reports": {
            "start_received": c("start_received"),
            "start_on_time": c("start_on_time"),
            "start_early": c("start_early"),
            "start_late": c("start_late"),
            "end_received": c("end_received"),
            "end_on_time": c("end_on_time"),
            "end_early": c("end_early"),
            "end_late": c("end_late"),
            "missing_start": c("missing_start"),
            "missing_end": c("missing_end"),
        },
        "escalations": escalations,
        "average_ordered_hours": avg(ordered),
        "average_working_hours": avg(ordered - leave_min),
        "hourly_leave": {"orders": leave_orders, "spans": leave_spans, "hours": leave_min as f64 / 60.0},
        "windows": {"early_minutes": 30, "grace_minutes": 15},
    })
}

// ---- the register, built through the binary ----

/// Escalation steps as `tick` records them (the chains have tests of their own), so that the
/// figures are known. The no-order notice of 2021-01-12 is recorded by `ingest` itself.
fn insert_escalations(zt: &Zt) {
    sql(zt, async |pool| {
        let order = async |emp: &str, date: &str| -> i64 {
            sqlx::query_scalar("SELECT id FROM orders WHERE employee_id = $1 AND date = $2")
                .bind(emp)
                .bind(date)
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        let rows: Vec<(i64, &str, &str, i64, &str)> = vec![
            (
                order("E1005", "2021-01-15").await,
                "2021-01-15",
                "missing_start",
                1,
                "sent",
            ),
            (
                order("E1005", "2021-01-15").await,
                "2021-01-15",
                "missing_start",
                2,
                "sent",
            ),
            (
                order("E1005", "2021-01-15").await,
                "2021-01-15",
                "missing_start",
                3,
                "sent",
            ),
            (
                order("E1005", "2021-01-28").await,
                "2021-01-28",
                "missing_start",
                1,
                "sent",
            ),
            (
                order("E1005", "2021-01-28").await,
                "2021-01-28",
                "missing_start",
                2,
                "sent",
            ),
            (
                order("E1002", "2021-01-12").await,
                "2021-01-12",
                "missing_end",
                1,
                "sent",
            ),
            (
                order("E1002", "2021-01-12").await,
                "2021-01-12",
                "missing_end",
                2,
                "expired",
            ),
            (
                order("E1003", "2021-03-10").await,
                "2021-03-10",
                "missing_end",
                1,
                "sent",
            ),
        ];
        for (o, d, kind, step, status) in rows {
            sqlx::query(
                "INSERT INTO escalations (key, order_id, day, kind, step, due_at, fired_at, status)
                 VALUES ($1, $2, $3, $4, $5, 0, 0, $6)",
            )
            .bind(format!("order:{o}:{kind}:{step}"))
            .bind(o)
            .bind(d)
            .bind(kind)
            .bind(step)
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
        }
    });
}

/// What the rows above make of each wave (the contact resolves E1005's chain of 2021-01-28).
fn escalations(wave: &str) -> Value {
    let none = json!({"cases": 0, "steps_sent": 0, "resolved": 0});
    match wave {
        "2021-02" => json!({
            "missing_start": {"cases": 2, "steps_sent": 5, "resolved": 1},
            "missing_end": {"cases": 1, "steps_sent": 1, "resolved": 0},
            "no_order": {"cases": 1, "steps_sent": 1, "resolved": 0},
            "incident": none,
        }),
        _ => json!({
            "missing_start": none,
            "missing_end": {"cases": 1, "steps_sent": 1, "resolved": 0},
            "no_order": none,
            "incident": none,
        }),
    }
}

fn build(b: Backend) -> Zt {
    let zt = Zt::new(b);
    zt.with_staff();
    zt.ok(&[
        "orders",
        "import",
        fixture("survey/orders.csv").to_str().unwrap(),
    ]);
    zt.ok(&[
        "orders",
        "cancel",
        "--employee",
        CANCELLED.0,
        "--date",
        CANCELLED.1,
    ]);
    zt.ok(&[
        "ids",
        "release",
        "--employee",
        "E1005",
        "--on",
        "2021-02-01",
    ]);
    let mut mails: Vec<String> = std::fs::read_dir(fixture("survey/mail"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    mails.sort();
    let mut args = vec!["ingest", "--no-send"];
    args.extend(mails.iter().map(String::as_str));
    let out = zt.ok(&args);
    assert!(
        out.contains(&format!("{} message(s) processed", mails.len())),
        "{out}"
    );
    insert_escalations(&zt);
    let (emp, date, at, by) = CONTACT;
    zt.ok(&[
        "contact",
        "--employee",
        emp,
        "--date",
        date,
        "--kind",
        "start",
        "--at",
        at,
        "--by",
        by,
    ]);
    zt
}

fn survey_json(zt: &Zt, wave: &str) -> Value {
    let out = zt.ok(&["survey", wave, "--format", "json"]);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("survey --format json is not JSON ({e}):\n{out}"))
}

/// Field by field, so that a failure names the figure.
fn assert_figures(b: Backend, got: &Value, want: &Value) {
    let mut wrong = Vec::new();
    for (k, v) in want.as_object().unwrap() {
        if &got[k] != v {
            wrong.push(format!("{k}: got {}, counted {}", got[k], v));
        }
    }
    assert!(wrong.is_empty(), "{b:?}:\n{}", wrong.join("\n"));
}

#[test]
fn every_figure_matches_a_count_of_the_fixture_on_both_backends() {
    for b in backends() {
        let zt = build(b);
        for (wave, from, to) in [
            ("2021-02", "2021-01-01", "2021-01-31"),
            ("2021-07", "2021-02-01", "2021-06-30"),
        ] {
            let got = survey_json(&zt, wave);
            let want = expected(wave, from, to, escalations(wave));
            assert_figures(b, &got, &want);
        }
        // The fixture is built to exercise each rule; make sure it still does.
        let jan = survey_json(&zt, "2021-02");
        let r = &jan["reports"];
        for k in [
            "start_on_time",
            "start_early",
            "start_late",
            "missing_start",
            "end_on_time",
            "end_early",
            "end_late",
            "missing_end",
        ] {
            assert!(r[k].as_u64().unwrap() > 0, "the fixture has no {k}: {r}");
        }
        assert_eq!(
            jan["order_days"], 8,
            "cancelled and February orders left out"
        );
        // The last wave has no order: it still answers, with zeros.
        let empty = survey_json(&zt, "2022-01");
        assert_eq!(empty["order_days"], 0);
        assert_eq!(empty["average_ordered_hours"], Value::Null);
        assert_eq!(empty["months"].as_array().unwrap().len(), 6);
    }
}

#[test]
fn markdown_is_a_report_with_names_not_codes() {
    let zt = build(Backend::Sqlite);
    let md = zt.ok(&["survey", "2021-02"]);
    assert!(
        md.starts_with("# 自治体テレワーク推進実証実験 利用状況調査（2021-02）"),
        "{md}"
    );
    for heading in [
        "## 概要",
        "## 部別",
        "## 課別",
        "## 月別",
        "## テレワーク用IDの利用",
        "## 開始・終了の報告",
        "## エスカレーション",
    ] {
        assert!(md.contains(heading), "{heading} missing:\n{md}");
    }
    assert!(md.contains("| 総務部 | 情報管理課 | 5 | 3 |"), "{md}");
    assert!(md.contains("| 総合政策部 | 財政課 | 3 | 2 |"), "{md}");
    assert!(md.contains("| 開始報告なし | 2 | 5 | 1 |"), "{md}");
    for code in ["E100", "E200", "missing_start", "no_order", "on_time"] {
        assert!(!md.contains(code), "raw identifier {code} in:\n{md}");
    }
    // Shift_JIS is allowed for Markdown too.
    let out = zt.path("survey.md");
    zt.ok(&[
        "survey",
        "2021-02",
        "--encoding",
        "shift_jis",
        "--output",
        out.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&out).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    assert_eq!(text, md);
}

#[test]
fn csv_is_utf8_with_a_bom_or_shift_jis_for_excel() {
    let zt = build(Backend::Sqlite);
    let utf8 = zt.path("survey-utf8.csv");
    zt.ok(&[
        "survey",
        "2021-02",
        "--format",
        "csv",
        "--output",
        utf8.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&utf8).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 CSV starts with a BOM"
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("総務部,情報管理課,5,3,"), "{text}");

    let sjis = zt.path("survey-sjis.csv");
    zt.ok(&[
        "survey",
        "2021-02",
        "--format",
        "csv",
        "--encoding",
        "shift_jis",
        "--output",
        sjis.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&sjis).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "Shift_JIS bytes, not UTF-8"
    );
    let (decoded, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!had_errors);
    assert!(!decoded.starts_with('\u{feff}'));
    let row = decoded
        .lines()
        .find(|l| l.contains("情報管理課"))
        .expect("a row for 情報管理課");
    assert_eq!(row, "総務部,情報管理課,5,3,4,21.1%");
    assert!(decoded.lines().any(|l| l == "在宅勤務日数,8"), "{decoded}");
    assert_eq!(decoded, text.trim_start_matches('\u{feff}'));
}

#[test]
fn svg_is_a_chart_of_months_by_division_with_japanese_text() {
    let zt = build(Backend::Sqlite);
    let svg = zt.ok(&["survey", "2021-07", "--format", "svg"]);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains("font-family")
            && svg.contains("Noto Sans CJK JP")
            && svg.contains("Yu Gothic")
    );
    assert!(!svg.contains("@font-face"), "no font is embedded");
    for label in [
        ">2月</text>",
        ">3月</text>",
        ">6月</text>",
        ">2021年</text>",
        "在宅勤務日数（月別・部別）",
    ] {
        assert!(svg.contains(label), "{label} missing:\n{svg}");
    }
    assert!(
        svg.contains("<title>2021年3月 総合政策部: 1 日</title>"),
        "{svg}"
    );
}

#[test]
fn an_unknown_wave_or_encoding_is_one_line_and_exit_2() {
    let zt = Zt::new(Backend::Sqlite);
    zt.ok(&["init"]);
    zt.run(&["survey", "2021-03"]).expect_bad_input(&[
        "WAVE",
        "2021-02, 2021-07, 2022-01",
        "2021-03",
    ]);
    zt.run(&["survey", "2021-02", "--encoding", "latin1"])
        .expect_bad_input(&["--encoding", "shift_jis"]);
    zt.run(&[
        "survey",
        "2021-02",
        "--format",
        "json",
        "--encoding",
        "shift_jis",
    ])
    .expect_bad_input(&["--encoding"]);
    zt.run(&["survey", "2021-02", "--format", "pdf"])
        .expect_bad_input(&["pdf"]);
}

#[test]
fn waves_come_from_the_config_when_it_lists_them() {
    let zt = Zt::new(Backend::Sqlite);
    let cfg = zt.path("config/zaitaku.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "[[survey.wave]]\nname = \"2021-04\"\nfrom = \"2021-01-01\"\nto = \"2021-03-31\"\n",
    );
    std::fs::write(&cfg, text).unwrap();
    zt.with_staff();
    zt.ok(&[
        "orders",
        "import",
        fixture("survey/orders.csv").to_str().unwrap(),
    ]);
    let v = survey_json(&zt, "2021-04");
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str()),
        (Some("2021-01-01"), Some("2021-03-31"))
    );
    assert_eq!(v["order_days"], 12);
    zt.run(&["survey", "2021-02"])
        .expect_bad_input(&["expected one of 2021-04"]);
}

/// A register whose division and department names hold what each format must escape: a comma
/// and quotes (CSV), `<`, `&` and quotes (SVG), a `|` (Markdown tables).
const ODD_DIVISION: &str = "総務部, \"本庁\" <A&B> | 1";
const ODD_DEPARTMENT: &str = "情報,管理\"課\" <x> | y";

fn build_odd(b: Backend) -> Zt {
    let zt = Zt::new(b);
    let annex = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/departments.toml"),
    )
    .unwrap();
    let toml_str = |s: &str| format!("\"{}\"", s.replace('"', "\\\""));
    let depts = annex
        .replace(
            "division = \"総務部\"",
            &format!("division = {}", toml_str(ODD_DIVISION)),
        )
        .replace(
            "name = \"情報管理課\"",
            &format!("name = {}", toml_str(ODD_DEPARTMENT)),
        );
    zt.write("config/departments.toml", &depts);
    let staff = std::fs::read_to_string(fixture("register/employees.csv"))
        .unwrap()
        .replace(
            "情報管理課",
            &format!("\"{}\"", ODD_DEPARTMENT.replace('"', "\"\"")),
        );
    let staff = zt.write("employees.csv", &staff);
    zt.ok(&["init"]);
    zt.ok(&["employees", "import", staff.to_str().unwrap()]);
    for (dept, pc, users) in [
        (ODD_DEPARTMENT, "JOHO-PC01", "E1001,E1002,E1004"),
        ("財政課", "ZAISEI-PC01", "E1003,E1005"),
    ] {
        zt.ok(&[
            "applications",
            "add",
            "--department",
            dept,
            "--fiscal-year",
            "2020",
            "--pc",
            pc,
            "--users",
            users,
        ]);
    }
    for e in ["E1001", "E1002", "E1003", "E1004", "E1005"] {
        zt.ok(&["ids", "assign", "--employee", e, "--from", "2021-01-04"]);
    }
    zt.ok(&[
        "orders",
        "import",
        fixture("survey/orders.csv").to_str().unwrap(),
    ]);
    zt
}

#[test]
fn names_that_need_escaping_survive_every_format_on_both_backends() {
    for b in backends() {
        let zt = build_odd(b);
        let out = zt.path("survey.csv");
        let path = out.to_str().unwrap();
        zt.ok(&["survey", "2021-02", "--format", "csv", "--output", path]);
        let csv = String::from_utf8(std::fs::read(&out).unwrap()).unwrap();
        // Quoted where needed, quotes doubled, CRLF; a blank line between sections stays blank
        // (the csv crate writes an empty record as `""`).
        for line in [
            "\r\n\"総務部, \"\"本庁\"\" <A&B> | 1\",1,6,3\r\n",
            "\r\n\"総務部, \"\"本庁\"\" <A&B> | 1\",\"情報,管理\"\"課\"\" <x> | y\",6,3,5,26.3%\r\n",
            ",総合政策部（日数）,\"総務部, \"\"本庁\"\" <A&B> | 1（日数）\"\r\n",
            ",2021-01-31\r\n\r\n概要\r\n",
        ] {
            assert!(csv.contains(line), "{b:?}: {line:?} missing:\n{csv}");
        }
        assert!(!csv.contains("\"\"\r\n"), "{b:?}: an empty record:\n{csv}");
        assert_eq!(csv.matches("\r\n\r\n").count(), 7, "{b:?}:\n{csv}");
        // And Excel (here: the csv crate reading it) gets the names back as they were.
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert!(
            rows.iter()
                .any(|r| r.get(0) == Some(ODD_DIVISION) && r.get(1) == Some(ODD_DEPARTMENT)),
            "{b:?}: {rows:?}"
        );
        zt.ok(&[
            "survey",
            "2021-02",
            "--format",
            "csv",
            "--encoding",
            "shift_jis",
            "--output",
            path,
        ]);
        let bytes = std::fs::read(&out).unwrap();
        let (sjis, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        assert_eq!(sjis, csv.trim_start_matches('\u{feff}'), "{b:?}");

        let svg = zt.ok(&["survey", "2021-02", "--format", "svg"]);
        assert!(
            svg.contains(
                "<title>2021年1月 総務部, &quot;本庁&quot; &lt;A&amp;B&gt; | 1: 6 日</title>"
            ),
            "{b:?}:\n{svg}"
        );
        assert!(
            !svg.contains("<A&B>") && !svg.contains("<x>"),
            "{b:?}:\n{svg}"
        );
        let md = zt.ok(&["survey", "2021-02"]);
        assert!(
            md.contains(
                "| 総務部, \"本庁\" <A&B> \\| 1 | 情報,管理\"課\" <x> \\| y | 6 | 3 | 5 日（26.3%） |"
            ),
            "{b:?}:\n{md}"
        );
        let v = survey_json(&zt, "2021-02");
        assert_eq!(v["departments"][1]["division"], ODD_DIVISION, "{b:?}");
        assert_eq!(v["departments"][1]["department"], ODD_DEPARTMENT, "{b:?}");
    }
}
