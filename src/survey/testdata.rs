//! A small survey for the unit tests of the tally and the renderers: three departments, four
//! staff, four orders over two months (leave, a late start, a missing report), four IDs.

use chrono::NaiveDate;

use super::{Dept, Survey, Tally};
use crate::calendar::{Minutes, parse_date};
use crate::config::{Timing, Wave};
use crate::store::survey::{EscalationCount, OrderFacts};

pub fn d(s: &str) -> NaiveDate {
    parse_date(s).unwrap()
}

pub fn wave() -> Wave {
    Wave {
        name: "2021-02".into(),
        from: d("2021-01-01"),
        to: d("2021-02-28"),
    }
}

pub fn depts() -> Vec<Dept> {
    vec![
        Dept {
            name: "財政課".into(),
            division: "総合政策部".into(),
            no: Some(3),
        },
        Dept {
            name: "情報管理課".into(),
            division: "総務部".into(),
            no: Some(8),
        },
        Dept {
            name: "人事課".into(),
            division: "総務部".into(),
            no: Some(7),
        },
    ]
}

pub fn staff() -> Vec<(String, String)> {
    [
        ("E1", "情報管理課"),
        ("E2", "情報管理課"),
        ("E3", "財政課"),
        ("E4", "人事課"),
    ]
    .iter()
    .map(|(e, d)| (e.to_string(), d.to_string()))
    .collect()
}

/// The moment of a Tokyo wall-clock time.
pub fn jst(date: &str, hm: &str) -> chrono::DateTime<chrono::Utc> {
    Minutes::parse(hm)
        .unwrap()
        .on(d(date), chrono_tz::Asia::Tokyo)
        .with_timezone(&chrono::Utc)
}

pub fn order(
    emp: &'static str,
    date: &'static str,
    start: &str,
    end: &str,
    leave: &'static str,
    s: Option<&str>,
    e: Option<&str>,
) -> OrderFacts<'static> {
    OrderFacts {
        employee_id: emp,
        date,
        start_min: i64::from(Minutes::parse(start).unwrap().0),
        end_min: i64::from(Minutes::parse(end).unwrap().0),
        leave_spans: leave,
        first_start: s.map(|t| jst(date, t)),
        last_end: e.map(|t| jst(date, t)),
    }
}

pub fn sample() -> Survey {
    let mut t = Tally::new(
        &wave(),
        &depts(),
        &staff(),
        chrono_tz::Asia::Tokyo,
        Timing::default(),
    );
    for o in [
        order(
            "E1",
            "2021-01-12",
            "08:30",
            "17:15",
            "",
            Some("08:27"),
            Some("17:10"),
        ),
        order(
            "E2",
            "2021-01-12",
            "08:30",
            "17:15",
            "13:00-15:00",
            Some("08:50"),
            None,
        ),
        // Leave over the start: the start report is expected at 10:30.
        order(
            "E1",
            "2021-01-13",
            "08:30",
            "17:15",
            "08:30-10:30",
            Some("10:20"),
            Some("16:00"),
        ),
        order(
            "E3",
            "2021-02-01",
            "09:00",
            "17:45",
            "",
            None,
            Some("17:45"),
        ),
    ] {
        t.add(&o);
    }
    let held = vec![
        (1, "E1".to_string(), d("2021-01-04"), d("2021-03-31")),
        (2, "E2".to_string(), d("2021-01-10"), d("2021-01-20")),
        (3, "E3".to_string(), d("2021-01-12"), d("2021-01-12")),
        (4, "E4".to_string(), d("2021-03-01"), d("2021-03-31")),
    ];
    let esc = vec![EscalationCount {
        kind: "missing_start".into(),
        cases: 1,
        steps_sent: 3,
        resolved: 1,
    }];
    t.finish(50, &held, &esc)
}
