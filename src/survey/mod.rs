//! The J-LIS usage survey (SPEC §6): every figure IT reports for a wave, and the four ways to
//! hand it over (Markdown to paste, JSON for scripts, CSV for Excel, an SVG chart).
//!
//! `compile` asks the store for plain rows and judges report timing with the same functions as
//! the board (`order::expected_hours`, `timing::start_status`/`end_status`), so a survey can
//! never disagree with what `status` showed on the day. It imports no `sqlx`: the queries live
//! in `store::survey`. `Tally` (in `tally`) does the counting; the renderers are pure functions
//! of a `Survey`, one module each (`markdown`, `json`, `csv`, `svg`), chosen by a `Format`.
//!
//! Definitions (over the approved orders whose day lies in the wave, both ends included):
//! - order days: approved orders (one per employee and day); cancelled and draft orders do
//!   not count. Teleworkers: distinct employees among them. A department or division is active
//!   when one of its employees (by the department the register holds now) has such an order.
//! - reports: an order's start report is its first matched `start` report (mail, chat or a
//!   phone contact a supervisor recorded), its end report the last matched `end` report.
//!   `*_on_time` counts status `on_time` only; `early` and `late` are counted apart and are
//!   still received. `missing_*` is an order with no such report at all.
//! - ordered hours: end − start of the order; working hours: that less hourly leave.
//! - hourly leave: the leave spans written on the approved orders.
//! - ID use: IDs held on at least one day of the wave (`assigned`), by how many employees
//!   (`holders`), and the most IDs held on one day (`peak_concurrent`, first such day).
//! - escalations: per kind, the chains (an order's missing start, a report's incident notice)
//!   whose day is in the wave, the steps actually sent, and the chains resolved.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::calendar::parse_date;
use crate::config::{Config, Wave};
use crate::error::{Error, Result};
use crate::store::Store;

mod csv;
mod format;
mod json;
mod markdown;
mod svg;
mod tally;
pub mod tenants;

pub use csv::render_csv;
pub use format::{Encoding, Format};
pub use json::render_json;
pub use markdown::render_markdown;
pub use svg::render_svg;
pub use tally::{Raw, Tally};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Survey {
    pub wave: String,
    pub from: String,
    pub to: String,
    pub order_days: u64,
    pub teleworkers: u64,
    /// Days the city hall was open in the wave (weekdays less holidays and closed days).
    pub working_days: u64,
    pub active_departments: u64,
    pub active_divisions: u64,
    pub divisions: Vec<DivisionRow>,
    pub departments: Vec<DepartmentRow>,
    pub months: Vec<MonthRow>,
    pub ids: Ids,
    pub reports: Reports,
    /// By kind: `missing_start`, `missing_end`, `no_order`, `incident` (always present), and any
    /// other kind found.
    #[serde(serialize_with = "as_map")]
    pub escalations: Vec<(String, Chains)>,
    /// `null` when the wave has no order.
    pub average_ordered_hours: Option<f64>,
    pub average_working_hours: Option<f64>,
    pub hourly_leave: HourlyLeave,
    /// The `[timing]` windows the reports were judged by.
    pub windows: Windows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Windows {
    pub early_minutes: i64,
    pub grace_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DivisionRow {
    pub division: String,
    pub departments: u64,
    pub order_days: u64,
    pub teleworkers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentRow {
    pub division: String,
    pub department: String,
    pub order_days: u64,
    pub teleworkers: u64,
    /// Working days (開庁日) of the wave on which someone of the department teleworked.
    pub telework_days: u64,
    /// `telework_days` as a share of the wave's working days (0.0–1.0).
    pub share_of_working_days: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthRow {
    /// `YYYY-MM`
    pub month: String,
    pub order_days: u64,
    pub teleworkers: u64,
    pub departments: u64,
    /// Order days of each active division of the wave, in the order of `divisions`.
    pub by_division: Vec<DivisionDays>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DivisionDays {
    pub division: String,
    pub order_days: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ids {
    pub licensed: u64,
    pub assigned: u64,
    pub holders: u64,
    pub peak_concurrent: u64,
    pub peak_date: Option<String>,
    /// The most approved orders on one day (people teleworking at once), and the first such day.
    pub peak_teleworkers: u64,
    pub peak_teleworkers_date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reports {
    pub start_received: u64,
    pub start_on_time: u64,
    pub start_early: u64,
    pub start_late: u64,
    pub end_received: u64,
    pub end_on_time: u64,
    pub end_early: u64,
    pub end_late: u64,
    pub missing_start: u64,
    pub missing_end: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Chains {
    pub cases: u64,
    pub steps_sent: u64,
    pub resolved: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlyLeave {
    /// Orders with at least one span.
    pub orders: u64,
    pub spans: u64,
    pub hours: f64,
}

fn as_map<S: serde::Serializer>(
    v: &[(String, Chains)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(v.len()))?;
    for (k, c) in v {
        m.serialize_entry(k, c)?;
    }
    m.end()
}

/// The escalation kinds of SPEC §5, in chain order, with the words the survey shows.
pub const ESCALATION_KINDS: [(&str, &str); 4] = [
    ("missing_start", "開始報告なし"),
    ("missing_end", "終了報告なし"),
    ("no_order", "命令のない日の報告"),
    ("incident", "事故・災害の報告"),
];

/// The configured wave called `name`.
pub fn find_wave<'a>(cfg: &'a Config, name: &str) -> Result<&'a Wave> {
    cfg.waves
        .iter()
        .find(|w| w.name == name.trim())
        .ok_or_else(|| {
            let names: Vec<&str> = cfg.waves.iter().map(|w| w.name.as_str()).collect();
            Error::bad(
                "WAVE",
                format!("expected one of {}, got {name:?}", names.join(", ")),
            )
        })
}

/// Every figure of the survey for the wave called `wave`.
pub async fn compile(store: &Store, cfg: &Config, wave: &str) -> Result<Survey> {
    compile_with_progress(store, cfg, wave, None).await
}

/// `compile`, telling `progress(done, total)` how many orders were read (for a progress bar;
/// counting them first costs a query, so only when asked).
pub async fn compile_with_progress(
    store: &Store,
    cfg: &Config,
    wave: &str,
    progress: Option<&mut (dyn FnMut(u64, u64) + Send)>,
) -> Result<Survey> {
    Ok(compile_detailed(store, cfg, wave, progress).await?.0)
}

/// `compile_with_progress`, with what a roll-up across municipalities recomputes its peaks,
/// averages and day counts from (`tenants::roll_up`).
pub async fn compile_detailed(
    store: &Store,
    cfg: &Config,
    wave: &str,
    mut progress: Option<&mut (dyn FnMut(u64, u64) + Send)>,
) -> Result<(Survey, Detail)> {
    let w = find_wave(cfg, wave)?.clone();
    let departments: Vec<Dept> = store
        .departments()
        .await?
        .into_iter()
        .map(|d| Dept {
            name: d.name,
            division: d.division,
            no: d.no,
        })
        .collect();
    let employees = store.survey_staff().await?;
    let mut tally = Tally::new(&w, &departments, &employees, cfg.timezone, cfg.timing);
    let total = match progress.as_mut() {
        Some(p) => {
            let n = store.survey_order_count(w.from, w.to).await?;
            p(0, n);
            n
        }
        None => 0,
    };
    let mut done = 0u64;
    store
        .survey_orders(w.from, w.to, |o| {
            tally.add(&o);
            done += 1;
            if done.is_multiple_of(16_384)
                && let Some(p) = progress.as_mut()
            {
                p(done, total.max(done));
            }
        })
        .await?;
    if let Some(p) = progress.as_mut() {
        p(done, total.max(done));
    }
    let held: Vec<(u32, String, NaiveDate, NaiveDate)> = store
        .held_ids()
        .await?
        .into_iter()
        .map(|h| (h.held.id_no, h.held.employee, h.held.from, h.held.to))
        .collect();
    let escalations = store.survey_escalations(w.from, w.to).await?;
    // Issue #10: the working days of the wave, and each department's telework days (working
    // days with at least one of its staff at home) as a share of them. Counted from the orders
    // just read: a second query over them cost a survey across 455 cities a third of its time.
    let department_dates = tally.department_dates(|d| cfg.calendar.is_working_day(d));
    let (mut survey, raw) = tally.finish_with_raw(cfg.service.licensed_ids, &held, &escalations);
    survey.working_days = u64::from(cfg.calendar.working_days(w.from, w.to));
    for d in &mut survey.departments {
        d.telework_days = department_dates
            .get(&d.department)
            .map_or(0, |s| s.len() as u64);
        d.share_of_working_days = if survey.working_days == 0 {
            0.0
        } else {
            round3(d.telework_days as f64 / survey.working_days as f64)
        };
    }
    let working_dates = w
        .from
        .iter_days()
        .take_while(|d| *d <= w.to)
        .filter(|d| cfg.calendar.is_working_day(*d))
        .collect();
    let detail = Detail {
        raw,
        working_dates,
        department_dates,
    };
    Ok((survey, detail))
}

/// What `compile_detailed` knows beyond the `Survey`: the per-day figures and day sets that
/// do not add up across municipalities and must be recomputed over their union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub raw: tally::Raw,
    /// The wave's working days (開庁日) in this city's calendar.
    pub working_dates: std::collections::BTreeSet<NaiveDate>,
    /// Per department, the working days someone of it teleworked.
    pub department_dates: std::collections::HashMap<String, std::collections::BTreeSet<NaiveDate>>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A department as the survey needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dept {
    pub name: String,
    pub division: String,
    pub no: Option<i64>,
}

// Words the renderers share.

fn ja_date(s: &str) -> String {
    match parse_date(s) {
        Some(d) => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        None => s.to_string(),
    }
}

fn ja_month(ym: &str) -> String {
    match ym
        .split_once('-')
        .map(|(y, m)| (y.parse::<i32>(), m.parse::<u32>()))
    {
        Some((Ok(y), Ok(m))) => format!("{y}年{m}月"),
        _ => ym.to_string(),
    }
}

fn kind_label(kind: &str) -> &str {
    ESCALATION_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| *l)
        .unwrap_or(kind)
}

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests {
    use super::testdata::*;
    use super::*;
    use crate::config::Timing;
    #[test]
    fn an_empty_wave_still_renders() {
        let t = Tally::new(
            &wave(),
            &depts(),
            &staff(),
            chrono_tz::Asia::Tokyo,
            Timing::default(),
        );
        let s = t.finish(50, &[], &[]);
        assert_eq!(s.average_ordered_hours, None);
        assert_eq!(s.months.len(), 2);
        assert!(render_markdown(&s).contains("対象期間に在宅勤務はありません"));
        assert!(render_svg(&s).contains("対象期間に在宅勤務はありません"));
        assert_eq!(
            serde_json::to_value(&s).unwrap()["ids"]["peak_date"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn every_character_of_the_texts_exists_in_shift_jis() {
        // encoding_rs writes an unmappable character as `&#NNNN;`: a 〜 (U+301C) or an em dash
        // would reach Excel as digits.
        let empty = Tally::new(
            &wave(),
            &depts(),
            &staff(),
            chrono_tz::Asia::Tokyo,
            Timing::default(),
        )
        .finish(50, &[], &[]);
        for s in [sample(), empty] {
            for bytes in [
                render_csv(&s, Encoding::ShiftJis),
                Encoding::ShiftJis.encode(&render_markdown(&s)),
            ] {
                let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
                assert!(!bad && !text.contains("&#"), "{text}");
            }
        }
    }

    #[test]
    fn an_unknown_wave_names_the_known_ones() {
        let cfg = Config::embedded();
        let err = find_wave(&cfg, "2021-03").unwrap_err();
        assert!(err.is_bad_input());
        assert_eq!(
            err.to_string(),
            "WAVE: expected one of 2021-02, 2021-07, 2022-01, got \"2021-03\""
        );
    }
}
