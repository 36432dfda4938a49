//! The city's calendar: on which days the city hall is closed, and why — 土曜日・日曜日, Japan's
//! national holidays (国民の祝日, 振替休日, 国民の休日), the year-end closure (年末年始) and the
//! city's own closed days. Orders, escalation chains, digests and the survey ask it.
//!
//! The national holidays are a table, `config/holidays.csv` (the Cabinet Office's list), never a
//! formula of ours: the law moves them (the 2020 and 2021 Olympic years did) and the equinoxes
//! are announced a year ahead. Pure: built from text and config values; no file is read here.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};

use crate::error::{Error, Result};

/// The shipped table, compiled in; `holidays.csv` in the config folder replaces it as a whole.
pub const EMBEDDED_HOLIDAYS_CSV: &str = include_str!("../config/holidays.csv");

/// `[calendar] closed` by default: 29 December to 3 January.
pub const DEFAULT_CLOSED: [&str; 6] = ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"];

pub const YEAR_END: &str = "年末年始";
/// The name of a closed day the config gives without one.
pub const CLOSED_DAY: &str = "閉庁日";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeMap<NaiveDate, String>,
    /// Closed every year: (month, day) → name.
    annual: BTreeMap<(u32, u32), String>,
    /// The city's one-off closed days.
    extra: BTreeMap<NaiveDate, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedDay {
    pub date: NaiveDate,
    pub name: String,
}

impl Calendar {
    pub fn new(
        holidays: BTreeMap<NaiveDate, String>,
        annual: BTreeMap<(u32, u32), String>,
        extra: BTreeMap<NaiveDate, String>,
    ) -> Calendar {
        Calendar {
            holidays,
            annual,
            extra,
        }
    }

    /// The shipped holidays and the default year-end closure.
    pub fn embedded() -> Calendar {
        let holidays = parse_holidays("(built-in) holidays.csv", EMBEDDED_HOLIDAYS_CSV.as_bytes())
            .expect("the shipped holidays.csv is valid (checked by a unit test)");
        let annual = DEFAULT_CLOSED
            .iter()
            .map(|s| {
                let md = parse_month_day(s).expect("valid default");
                (md, default_annual_name(md).to_string())
            })
            .collect();
        Calendar::new(holidays, annual, BTreeMap::new())
    }

    /// Why the city hall is closed that day, or `None` on a working day. A day with several
    /// reasons gives the most telling: a holiday's name before 年末年始 before 土曜日.
    pub fn closed_reason(&self, d: NaiveDate) -> Option<String> {
        if let Some(name) = self.holidays.get(&d).or_else(|| self.extra.get(&d)) {
            return Some(name.clone());
        }
        if let Some(name) = self.annual.get(&(d.month(), d.day())) {
            return Some(name.clone());
        }
        match d.weekday() {
            Weekday::Sat => Some("土曜日".into()),
            Weekday::Sun => Some("日曜日".into()),
            _ => None,
        }
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.closed_reason(d).is_none()
    }

    /// Working days from `from` to `to`, both included (0 when `to` is before `from`).
    pub fn working_days(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .count() as u32
    }

    /// The closed days from `from` to `to`, both included; ordinary weekends only when asked.
    pub fn closed_days(&self, from: NaiveDate, to: NaiveDate, weekends: bool) -> Vec<ClosedDay> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter_map(|date| {
                let name = self.closed_reason(date)?;
                let plain_weekend = matches!(name.as_str(), "土曜日" | "日曜日");
                (weekends || !plain_weekend).then_some(ClosedDay { date, name })
            })
            .collect()
    }

    /// The first and last year the holiday table lists; a year outside it would silently have no
    /// holidays, so callers refuse it.
    pub fn years(&self) -> (i32, i32) {
        let first = self.holidays.keys().next().map_or(0, |d| d.year());
        let last = self.holidays.keys().next_back().map_or(0, |d| d.year());
        (first, last)
    }

    pub fn covers(&self, year: i32) -> bool {
        let (first, last) = self.years();
        first <= year && year <= last
    }
}

/// 月 火 水 木 金 土 日.
pub fn weekday_ja(d: NaiveDate) -> &'static str {
    ["月", "火", "水", "木", "金", "土", "日"][d.weekday().num_days_from_monday() as usize]
}

/// `12-29` → (12, 29). February 29 is accepted (closed in leap years only).
pub fn parse_month_day(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    NaiveDate::from_ymd_opt(2024, m, d)?; // a leap year, so that 02-29 passes
    Some((m, d))
}

/// 年末年始 for a day of 29 December – 3 January, else 閉庁日.
pub fn default_annual_name((m, d): (u32, u32)) -> &'static str {
    if (m == 12 && d >= 29) || (m == 1 && d <= 3) {
        YEAR_END
    } else {
        CLOSED_DAY
    }
}

/// Reads a holiday table: our `config/holidays.csv` (`YYYY-MM-DD,name`, `#` comments) or the
/// Cabinet Office's `syukujitsu.csv` as downloaded (Shift_JIS, `YYYY/M/D`, its own header).
pub fn parse_holidays(file: &str, bytes: &[u8]) -> Result<BTreeMap<NaiveDate, String>> {
    let text = crate::csvin::decode(bytes);
    let mut table = BTreeMap::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let at = |field: &str| format!("{file}:{}: {field}", i + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (day, name) = line.split_once(',').unwrap_or((line, ""));
        let (day, name) = (day.trim(), name.trim());
        if !header_seen && (day == "date" || day.starts_with("国民の祝日")) {
            header_seen = true;
            continue;
        }
        header_seen = true;
        let Some(date) = parse_table_date(day) else {
            return Err(Error::bad(
                at("date"),
                format!("expected a date YYYY-MM-DD or YYYY/M/D, got {day:?}"),
            ));
        };
        if name.is_empty() {
            return Err(Error::bad(
                at("name"),
                "expected the holiday's name, got nothing",
            ));
        }
        if table.insert(date, name.to_string()).is_some() {
            return Err(Error::bad(at("date"), format!("{date} is listed twice")));
        }
    }
    if table.is_empty() {
        return Err(Error::bad(
            file,
            "expected rows date,name of national holidays, got none",
        ));
    }
    // The Cabinet Office calls both kinds 「休日」; a day between two holidays is a 国民の休日
    // (Art. 3(3)), any other a 振替休日 (Art. 3(2)). Only the label is derived, never a date.
    let bare: Vec<NaiveDate> = table
        .iter()
        .filter(|(_, n)| n.as_str() == "休日")
        .map(|(d, _)| *d)
        .collect();
    for d in bare {
        let between = [d.pred_opt(), d.succ_opt()]
            .iter()
            .all(|x| x.is_some_and(|x| table.contains_key(&x)));
        let name = if between {
            "国民の休日"
        } else {
            "振替休日"
        };
        table.insert(d, name.to_string());
    }
    Ok(table)
}

fn parse_table_date(s: &str) -> Option<NaiveDate> {
    if let Some(d) = crate::calendar::parse_date(s) {
        return Some(d);
    }
    let mut parts = s.split('/');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1000..=9999).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::calendar::parse_date(s).unwrap()
    }

    fn reason(c: &Calendar, s: &str) -> Option<String> {
        c.closed_reason(d(s))
    }

    #[test]
    fn the_olympic_years_moved_three_holidays() {
        let c = Calendar::embedded();
        let table = [
            // 2020: 海の日 and スポーツの日 beside the planned opening, 山の日 after the closing.
            ("2020-07-23", "海の日"),
            ("2020-07-24", "スポーツの日"),
            ("2020-08-10", "山の日"),
            // 2021, the postponed Games.
            ("2021-07-22", "海の日"),
            ("2021-07-23", "スポーツの日"),
            ("2021-08-08", "山の日"),
            ("2021-08-09", "振替休日"),
        ];
        for (date, name) in table {
            assert_eq!(reason(&c, date).as_deref(), Some(name), "{date}");
        }
        // Where the holidays would have been without the moves: ordinary working days.
        for date in [
            "2020-07-20",
            "2020-10-12",
            "2020-08-11",
            "2021-07-19",
            "2021-10-11",
            "2021-08-11",
        ] {
            assert!(c.is_working_day(d(date)), "{date}: {:?}", reason(&c, date));
        }
        // 2022 is back to the rule: 海の日 the third Monday of July, 山の日 11 August.
        assert_eq!(reason(&c, "2022-07-18").as_deref(), Some("海の日"));
        assert_eq!(reason(&c, "2022-08-11").as_deref(), Some("山の日"));
        assert_eq!(reason(&c, "2022-10-10").as_deref(), Some("スポーツの日"));
    }

    #[test]
    fn a_sunday_holiday_gives_a_substitute_holiday() {
        let c = Calendar::embedded();
        for date in [
            "2020-02-24",
            "2020-05-06",
            "2021-08-09",
            "2023-01-02",
            "2024-09-23",
        ] {
            assert_eq!(reason(&c, date).as_deref(), Some("振替休日"), "{date}");
        }
    }

    #[test]
    fn a_day_between_two_holidays_is_a_national_day_of_rest() {
        let c = Calendar::embedded();
        // None in 2020–2022; 2019's Golden Week and 2026's Silver Week have them.
        let in_period = c.closed_days(d("2020-01-01"), d("2022-12-31"), true);
        assert!(
            !in_period.iter().any(|x| x.name == "国民の休日"),
            "{in_period:?}"
        );
        assert_eq!(reason(&c, "2019-04-30").as_deref(), Some("国民の休日"));
        assert_eq!(reason(&c, "2026-09-22").as_deref(), Some("国民の休日"));
    }

    #[test]
    fn the_year_end_closure_runs_29_december_to_3_january() {
        let c = Calendar::embedded();
        assert!(c.is_working_day(d("2020-12-28")));
        for date in [
            "2020-12-29",
            "2020-12-30",
            "2020-12-31",
            "2021-01-02",
            "2021-01-03",
        ] {
            assert_eq!(reason(&c, date).as_deref(), Some(YEAR_END), "{date}");
        }
        // 元日 is named for itself; 4 January is a working day again.
        assert_eq!(reason(&c, "2021-01-01").as_deref(), Some("元日"));
        assert!(c.is_working_day(d("2021-01-04")));
    }

    #[test]
    fn the_citys_own_closed_days_and_weekends_are_named() {
        let mut extra = BTreeMap::new();
        extra.insert(d("2021-05-06"), "市の休日".to_string());
        let base = Calendar::embedded();
        let c = Calendar::new(base.holidays.clone(), base.annual.clone(), extra);
        assert_eq!(reason(&c, "2021-05-06").as_deref(), Some("市の休日"));
        assert!(base.is_working_day(d("2021-05-06")));
        assert_eq!(reason(&c, "2021-07-24").as_deref(), Some("土曜日"));
        assert_eq!(reason(&c, "2021-07-25").as_deref(), Some("日曜日"));
        // A holiday on a Sunday is named for the holiday.
        assert_eq!(reason(&c, "2021-08-08").as_deref(), Some("山の日"));
    }

    #[test]
    fn working_days_count_what_is_left() {
        let c = Calendar::embedded();
        // February 2021: 20 weekdays less 建国記念の日 (Thu 11) and 天皇誕生日 (Tue 23).
        assert_eq!(c.working_days(d("2021-02-01"), d("2021-02-28")), 18);
        // January 2021: 21 weekdays less 元日 and 成人の日 (2 and 3 January are a weekend).
        assert_eq!(c.working_days(d("2021-01-01"), d("2021-01-31")), 19);
        assert_eq!(c.working_days(d("2021-02-11"), d("2021-02-11")), 0);
        assert_eq!(c.working_days(d("2021-02-12"), d("2021-02-11")), 0);
        let listed = c.closed_days(d("2021-02-01"), d("2021-02-28"), false);
        let names: Vec<&str> = listed.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["建国記念の日", "天皇誕生日"]);
        assert_eq!(
            c.closed_days(d("2021-02-01"), d("2021-02-28"), true).len(),
            10
        );
    }

    #[test]
    fn the_cabinet_office_file_reads_as_downloaded() {
        let text = "国民の祝日・休日月日,国民の祝日・休日名称\r\n2021/8/8,山の日\r\n2021/8/9,休日\r\n\
                    2026/9/21,敬老の日\r\n2026/9/22,休日\r\n2026/9/23,秋分の日\r\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let t = parse_holidays("syukujitsu.csv", &sjis).unwrap();
        assert_eq!(t[&d("2021-08-09")], "振替休日");
        assert_eq!(t[&d("2026-09-22")], "国民の休日");
        assert_eq!(t[&d("2021-08-08")], "山の日");
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn a_bad_holiday_row_names_its_line() {
        let err = parse_holidays(
            "h.csv",
            "date,name\n2021-07-22,海の日\n2021-7-32,x\n".as_bytes(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("h.csv:3: date: expected a date"),
            "{err}"
        );
        let err = parse_holidays("h.csv", b"date,name\n2021-07-22,\n").unwrap_err();
        assert!(err.to_string().starts_with("h.csv:2: name"), "{err}");
        let err = parse_holidays("h.csv", "2021-07-22,海の日\n2021/7/22,海の日\n".as_bytes())
            .unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
        assert!(parse_holidays("h.csv", b"# nothing\ndate,name\n").is_err());
    }

    #[test]
    fn the_shipped_table_covers_the_service_period_and_reads_cleanly() {
        let c = Calendar::embedded();
        assert_eq!(c.years(), (2019, 2026));
        // 16 holidays a year at least (2019 had 22 with the enthronement days).
        for y in 2019..=2026 {
            let n = c.holidays.keys().filter(|d| d.year() == y).count();
            assert!((16..=22).contains(&n), "{y}: {n}");
        }
        assert!(c.holidays.values().all(|n| n != "休日"));
    }

    #[test]
    fn month_days_parse_strictly() {
        assert_eq!(parse_month_day("12-29"), Some((12, 29)));
        assert_eq!(parse_month_day("02-29"), Some((2, 29)));
        for bad in ["12-32", "1-03", "13-01", "2021-05-06", ""] {
            assert_eq!(parse_month_day(bad), None, "{bad}");
        }
        assert_eq!(default_annual_name((1, 3)), YEAR_END);
        assert_eq!(default_annual_name((8, 15)), CLOSED_DAY);
    }
}
