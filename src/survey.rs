//! The J-LIS usage survey (SPEC §6): every figure IT reports for a wave, and the four ways to
//! hand it over (Markdown to paste, JSON for scripts, CSV for Excel, an SVG chart).
//!
//! `compile` asks the store for plain rows and judges report timing with the same functions as
//! the board (`order::expected_hours`, `timing::start_status`/`end_status`), so a survey can
//! never disagree with what `status` showed on the day. It imports no `sqlx`: the queries live
//! in `store::survey`. The renderers are pure functions of a `Survey`.
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

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::{Minutes, parse_date};
use crate::config::{Config, Timing, Wave};
use crate::error::{Error, Result};
use crate::order::{expected_hours, parse_leave};
use crate::store::Store;
use crate::store::survey::{EscalationCount, OrderFacts};
use crate::timing::{Status, end_status, start_status};

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
    mut progress: Option<&mut (dyn FnMut(u64, u64) + Send)>,
) -> Result<Survey> {
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
    let employees: Vec<(String, String)> = store
        .employees()
        .await?
        .into_values()
        .map(|e| (e.employee_id, e.department))
        .collect();
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
    let mut survey = tally.finish(cfg.service.licensed_ids, &held, &escalations);
    // Issue #10: the working days of the wave, and each department's telework days (working
    // days with at least one of its staff at home) as a share of them.
    survey.working_days = u64::from(cfg.calendar.working_days(w.from, w.to));
    let days = store
        .survey_department_days(w.from, w.to, &cfg.calendar)
        .await?;
    for d in &mut survey.departments {
        d.telework_days = days.get(&d.department).copied().unwrap_or(0);
        d.share_of_working_days = if survey.working_days == 0 {
            0.0
        } else {
            round3(d.telework_days as f64 / survey.working_days as f64)
        };
    }
    Ok(survey)
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

/// What one employee did in the wave.
struct Worker {
    dept: usize,
    /// Bit `m` set: an order in the wave's month `m`.
    months: Vec<u64>,
    any: bool,
}

struct Day {
    date: NaiveDate,
    index: usize,
    month: usize,
}

/// Accumulates the figures one order at a time (a wave can hold a million orders: nothing per
/// order is kept). Pure: the caller feeds it rows.
pub struct Tally {
    wave: Wave,
    tz: Tz,
    timing: Timing,
    depts: Vec<Dept>,
    dept_index: HashMap<String, usize>,
    workers: HashMap<String, Worker>,
    months: Vec<(i32, u32)>,
    days: HashMap<String, Day>,
    instants: HashMap<(NaiveDate, u32), DateTime<Utc>>,
    /// Order days per department and month.
    dept_month: Vec<Vec<u64>>,
    per_day: Vec<u64>,
    order_days: u64,
    ordered_minutes: u64,
    leave_minutes: u64,
    leave_spans: u64,
    leave_orders: u64,
    reports: Reports,
}

impl Tally {
    pub fn new(
        wave: &Wave,
        departments: &[Dept],
        employees: &[(String, String)],
        tz: Tz,
        timing: Timing,
    ) -> Tally {
        let mut depts = departments.to_vec();
        // The annex order (`no`), so that rows come out as the survey lists them.
        depts.sort_by(|a, b| (a.no.is_none(), a.no, &a.name).cmp(&(b.no.is_none(), b.no, &b.name)));
        let mut months = Vec::new();
        let (mut y, mut m) = (wave.from.year(), wave.from.month());
        while (y, m) <= (wave.to.year(), wave.to.month()) {
            months.push((y, m));
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        let mut t = Tally {
            wave: wave.clone(),
            tz,
            timing,
            dept_index: HashMap::new(),
            workers: HashMap::new(),
            dept_month: Vec::new(),
            per_day: vec![0; (wave.to - wave.from).num_days().max(0) as usize + 1],
            months,
            depts: Vec::new(),
            days: HashMap::new(),
            instants: HashMap::new(),
            order_days: 0,
            ordered_minutes: 0,
            leave_minutes: 0,
            leave_spans: 0,
            leave_orders: 0,
            reports: Reports::default(),
        };
        for d in depts {
            t.dept(&d.name, &d.division, d.no);
        }
        for (emp, dept) in employees {
            let d = t.dept(dept, "（部不明）", None);
            let words = t.months.len().div_ceil(64);
            t.workers.insert(
                emp.clone(),
                Worker {
                    dept: d,
                    months: vec![0; words],
                    any: false,
                },
            );
        }
        t
    }

    fn dept(&mut self, name: &str, division: &str, no: Option<i64>) -> usize {
        if let Some(&i) = self.dept_index.get(name) {
            return i;
        }
        self.depts.push(Dept {
            name: name.into(),
            division: division.into(),
            no,
        });
        self.dept_month.push(vec![0; self.months.len()]);
        self.dept_index.insert(name.into(), self.depts.len() - 1);
        self.depts.len() - 1
    }

    fn day(&mut self, s: &str) -> Option<(NaiveDate, usize, usize)> {
        if let Some(d) = self.days.get(s) {
            return Some((d.date, d.index, d.month));
        }
        let date = parse_date(s)?;
        if date < self.wave.from || date > self.wave.to {
            return None;
        }
        let index = (date - self.wave.from).num_days() as usize;
        let month = self
            .months
            .iter()
            .position(|&ym| ym == (date.year(), date.month()))?;
        self.days.insert(s.to_string(), Day { date, index, month });
        Some((date, index, month))
    }

    fn instant(&mut self, date: NaiveDate, m: Minutes) -> DateTime<Utc> {
        let tz = self.tz;
        *self
            .instants
            .entry((date, m.0))
            .or_insert_with(|| m.on(date, tz).with_timezone(&Utc))
    }

    /// One approved order of the wave. An order outside the wave (which the query never
    /// returns) is ignored.
    pub fn add(&mut self, o: &OrderFacts<'_>) {
        let Some((date, day, month)) = self.day(o.date) else {
            return;
        };
        let words = self.months.len().div_ceil(64);
        let worker = match self.workers.get_mut(o.employee_id) {
            Some(w) => w,
            None => {
                // Not in the register any more: still counted, under an unknown department.
                let d = self.dept("（所属不明）", "（部不明）", None);
                self.workers
                    .entry(o.employee_id.to_string())
                    .or_insert(Worker {
                        dept: d,
                        months: vec![0; words],
                        any: false,
                    })
            }
        };
        worker.any = true;
        worker.months[month / 64] |= 1 << (month % 64);
        let dept = worker.dept;
        self.dept_month[dept][month] += 1;
        self.per_day[day] += 1;
        self.order_days += 1;

        let (start, end) = (
            Minutes(o.start_min.max(0) as u32),
            Minutes(o.end_min.max(0) as u32),
        );
        self.ordered_minutes += u64::from(end.0.saturating_sub(start.0));
        let leave = if o.leave_spans.trim().is_empty() {
            Vec::new()
        } else {
            parse_leave(o.leave_spans).unwrap_or_default()
        };
        if !leave.is_empty() {
            self.leave_orders += 1;
            self.leave_spans += leave.len() as u64;
            self.leave_minutes += leave
                .iter()
                .map(|(f, t)| u64::from(t.0.saturating_sub(f.0)))
                .sum::<u64>();
        }
        let (exp_start, exp_end) = expected_hours(start, end, &leave);
        let (exp_start, exp_end) = (self.instant(date, exp_start), self.instant(date, exp_end));
        let at = |t: Option<i64>| t.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0));
        // Judged after the wave: an order with no report by now is missing, never pending.
        let now = DateTime::<Utc>::MAX_UTC;
        let r = &mut self.reports;
        match start_status(exp_start, at(o.first_start), now, &self.timing) {
            Status::OnTime => r.start_on_time += 1,
            Status::Early => r.start_early += 1,
            Status::Late => r.start_late += 1,
            Status::Missing | Status::Pending => r.missing_start += 1,
        }
        match end_status(exp_end, at(o.last_end), now, &self.timing) {
            Status::OnTime => r.end_on_time += 1,
            Status::Early => r.end_early += 1,
            Status::Late => r.end_late += 1,
            Status::Missing | Status::Pending => r.missing_end += 1,
        }
    }

    /// The survey, given the ID assignments `(id_no, employee, from, to)` and the escalation
    /// counts of the wave.
    pub fn finish(
        self,
        licensed: u32,
        held: &[(u32, String, NaiveDate, NaiveDate)],
        escalations: &[EscalationCount],
    ) -> Survey {
        let Tally {
            wave,
            depts,
            workers,
            months,
            dept_month,
            per_day,
            mut reports,
            ..
        } = self;
        let nd = depts.len();
        let mut dept_workers = vec![0u64; nd];
        let mut month_workers = vec![0u64; months.len()];
        for w in workers.values().filter(|w| w.any) {
            dept_workers[w.dept] += 1;
            for (m, n) in month_workers.iter_mut().enumerate() {
                if w.months[m / 64] & (1 << (m % 64)) != 0 {
                    *n += 1;
                }
            }
        }
        let dept_days: Vec<u64> = dept_month.iter().map(|ms| ms.iter().sum()).collect();

        // Divisions in the order of their first department.
        let mut division_names: Vec<&str> = Vec::new();
        for d in &depts {
            if !division_names.contains(&d.division.as_str()) {
                division_names.push(&d.division);
            }
        }
        let active: Vec<usize> = (0..nd).filter(|&i| dept_days[i] > 0).collect();
        let departments: Vec<DepartmentRow> = active
            .iter()
            .map(|&i| DepartmentRow {
                division: depts[i].division.clone(),
                department: depts[i].name.clone(),
                order_days: dept_days[i],
                teleworkers: dept_workers[i],
                telework_days: 0,
                share_of_working_days: 0.0,
            })
            .collect();
        let divisions: Vec<DivisionRow> = division_names
            .iter()
            .map(|&div| {
                let mine = active.iter().filter(|&&i| depts[i].division == div);
                DivisionRow {
                    division: div.to_string(),
                    departments: mine.clone().count() as u64,
                    order_days: mine.clone().map(|&i| dept_days[i]).sum(),
                    // An employee belongs to one department, so the sums are distinct counts.
                    teleworkers: mine.map(|&i| dept_workers[i]).sum(),
                }
            })
            .filter(|d| d.order_days > 0)
            .collect();
        let month_rows: Vec<MonthRow> = months
            .iter()
            .enumerate()
            .map(|(m, &(y, mo))| MonthRow {
                month: format!("{y:04}-{mo:02}"),
                order_days: active.iter().map(|&i| dept_month[i][m]).sum(),
                teleworkers: month_workers[m],
                departments: active.iter().filter(|&&i| dept_month[i][m] > 0).count() as u64,
                by_division: divisions
                    .iter()
                    .map(|div| DivisionDays {
                        division: div.division.clone(),
                        order_days: active
                            .iter()
                            .filter(|&&i| depts[i].division == div.division)
                            .map(|&i| dept_month[i][m])
                            .sum(),
                    })
                    .collect(),
            })
            .collect();

        let in_wave: Vec<_> = held
            .iter()
            .filter(|h| h.2 <= wave.to && wave.from <= h.3)
            .collect();
        let peak = crate::ids::peak(
            in_wave
                .iter()
                .map(|h| (h.2.max(wave.from), h.3.min(wave.to))),
        );
        let busiest = per_day
            .iter()
            .enumerate()
            .fold(
                (0u64, None),
                |best, (i, &n)| {
                    if n > best.0 { (n, Some(i)) } else { best }
                },
            );
        let ids = Ids {
            licensed: u64::from(licensed),
            assigned: in_wave.iter().map(|h| h.0).collect::<BTreeSet<_>>().len() as u64,
            holders: in_wave
                .iter()
                .map(|h| h.1.as_str())
                .collect::<BTreeSet<_>>()
                .len() as u64,
            peak_concurrent: peak.map(|p| p.0 as u64).unwrap_or(0),
            peak_date: peak.map(|p| p.1.to_string()),
            peak_teleworkers: busiest.0,
            peak_teleworkers_date: busiest
                .1
                .map(|i| (wave.from + chrono::Duration::days(i as i64)).to_string()),
        };

        reports.start_received = reports.start_on_time + reports.start_early + reports.start_late;
        reports.end_received = reports.end_on_time + reports.end_early + reports.end_late;

        let mut esc: Vec<(String, Chains)> = ESCALATION_KINDS
            .iter()
            .map(|(k, _)| (k.to_string(), Chains::default()))
            .collect();
        for e in escalations {
            let c = Chains {
                cases: e.cases.max(0) as u64,
                steps_sent: e.steps_sent.max(0) as u64,
                resolved: e.resolved.max(0) as u64,
            };
            match esc.iter_mut().find(|(k, _)| *k == e.kind) {
                Some((_, slot)) => *slot = c,
                None => esc.push((e.kind.clone(), c)),
            }
        }

        let n = self.order_days;
        let avg = |minutes: u64| (n > 0).then(|| round2(minutes as f64 / 60.0 / n as f64));
        Survey {
            wave: wave.name.clone(),
            from: wave.from.to_string(),
            to: wave.to.to_string(),
            order_days: n,
            teleworkers: workers.values().filter(|w| w.any).count() as u64,
            working_days: 0,
            active_departments: departments.len() as u64,
            active_divisions: divisions.len() as u64,
            divisions,
            departments,
            months: month_rows,
            ids,
            reports,
            escalations: esc,
            average_ordered_hours: avg(self.ordered_minutes),
            average_working_hours: avg(
                self.ordered_minutes - self.leave_minutes.min(self.ordered_minutes)
            ),
            hourly_leave: HourlyLeave {
                orders: self.leave_orders,
                spans: self.leave_spans,
                hours: round2(self.leave_minutes as f64 / 60.0),
            },
            windows: Windows {
                early_minutes: self.timing.early.num_minutes(),
                grace_minutes: self.timing.grace.num_minutes(),
            },
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Text encodings for CSV (and Markdown): Excel opens UTF-8 only with a BOM, and older Excel
/// and the J-LIS forms expect Shift_JIS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    ShiftJis,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Encoding> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "utf_8" | "utf8" => Some(Encoding::Utf8),
            "shift_jis" | "sjis" | "cp932" | "windows_31j" => Some(Encoding::ShiftJis),
            _ => None,
        }
    }

    /// The bytes of `text`; a character Shift_JIS lacks becomes `&#NNNN;` rather than a loss.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::ShiftJis => encoding_rs::SHIFT_JIS.encode(text).0.into_owned(),
        }
    }
}

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

fn hours(h: Option<f64>) -> String {
    h.map(|h| format!("{h:.2}")).unwrap_or_else(|| "－".into())
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "－".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Markdown table cell: a `|` would end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The summary as IT pastes it into the survey: headings and tables, names not codes.
pub fn render_markdown(s: &Survey) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# 自治体テレワーク推進実証実験 利用状況調査（{}）\n",
        cell(&s.wave)
    );
    let _ = writeln!(o, "対象期間: {} ～ {}\n", ja_date(&s.from), ja_date(&s.to));

    let _ = writeln!(o, "## 概要\n");
    let _ = writeln!(o, "| 項目 | 値 |\n|---|---:|");
    let _ = writeln!(
        o,
        "| 在宅勤務日数（承認済みの在宅勤務命令） | {} 日 |",
        s.order_days
    );
    let _ = writeln!(o, "| 期間中の開庁日 | {} 日 |", s.working_days);
    let _ = writeln!(o, "| 在宅勤務をした職員 | {} 人 |", s.teleworkers);
    let _ = writeln!(
        o,
        "| 在宅勤務をした課 | {} 課（{} 部） |",
        s.active_departments, s.active_divisions
    );
    let _ = writeln!(
        o,
        "| 命令1件あたりの平均勤務時間 | {} 時間 |",
        hours(s.average_ordered_hours)
    );
    let _ = writeln!(
        o,
        "| 同（時間休を除く） | {} 時間 |",
        hours(s.average_working_hours)
    );
    let _ = writeln!(
        o,
        "| 時間単位の年次有給休暇 | {} 回・{:.2} 時間（命令 {} 件） |",
        s.hourly_leave.spans, s.hourly_leave.hours, s.hourly_leave.orders
    );

    let _ = writeln!(o, "\n## 部別\n");
    if s.divisions.is_empty() {
        let _ = writeln!(o, "対象期間に在宅勤務はありません。");
    } else {
        let _ = writeln!(
            o,
            "| 部 | 課数 | 在宅勤務日数 | 職員数 |\n|---|---:|---:|---:|"
        );
        for d in &s.divisions {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                cell(&d.division),
                d.departments,
                d.order_days,
                d.teleworkers
            );
        }
        let _ = writeln!(
            o,
            "| **合計** | **{}** | **{}** | **{}** |",
            s.active_departments, s.order_days, s.teleworkers
        );
    }

    let _ = writeln!(o, "\n## 課別\n");
    if s.departments.is_empty() {
        let _ = writeln!(o, "対象期間に在宅勤務はありません。");
    } else {
        let _ = writeln!(
            o,
            "| 部 | 課 | 在宅勤務日数 | 職員数 | 在宅勤務のあった開庁日（割合） |\n|---|---|---:|---:|---:|"
        );
        for d in &s.departments {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} 日（{:.1}%） |",
                cell(&d.division),
                cell(&d.department),
                d.order_days,
                d.teleworkers,
                d.telework_days,
                d.share_of_working_days * 100.0
            );
        }
    }

    let _ = writeln!(o, "\n## 月別\n");
    let _ = writeln!(
        o,
        "| 月 | 在宅勤務日数 | 職員数 | 課数 |\n|---|---:|---:|---:|"
    );
    for m in &s.months {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            ja_month(&m.month),
            m.order_days,
            m.teleworkers,
            m.departments
        );
    }

    let _ = writeln!(o, "\n## テレワーク用IDの利用\n");
    let _ = writeln!(o, "| 項目 | 値 |\n|---|---:|");
    let _ = writeln!(o, "| 契約ID数 | {} |", s.ids.licensed);
    let _ = writeln!(o, "| 期間中に割り当てたID | {} |", s.ids.assigned);
    let _ = writeln!(o, "| IDを保有した職員 | {} 人 |", s.ids.holders);
    let on = |d: &Option<String>| {
        d.as_deref()
            .map(|d| format!("（{}）", ja_date(d)))
            .unwrap_or_default()
    };
    let _ = writeln!(
        o,
        "| 同時に割り当てたIDの最大 | {}{} |",
        s.ids.peak_concurrent,
        on(&s.ids.peak_date)
    );
    let _ = writeln!(
        o,
        "| 1日の在宅勤務者の最大 | {} 人{} |",
        s.ids.peak_teleworkers,
        on(&s.ids.peak_teleworkers_date)
    );

    let r = &s.reports;
    let _ = writeln!(o, "\n## 開始・終了の報告\n");
    let _ = writeln!(o, "| | 開始報告 | 終了報告 |\n|---|---:|---:|");
    let _ = writeln!(
        o,
        "| 受信 | {} （{}） | {} （{}） |",
        r.start_received,
        percent(r.start_received, s.order_days),
        r.end_received,
        percent(r.end_received, s.order_days)
    );
    let _ = writeln!(o, "| うち定刻 | {} | {} |", r.start_on_time, r.end_on_time);
    let _ = writeln!(o, "| うち早い | {} | {} |", r.start_early, r.end_early);
    let _ = writeln!(o, "| うち遅れ | {} | {} |", r.start_late, r.end_late);
    let _ = writeln!(o, "| 未着 | {} | {} |", r.missing_start, r.missing_end);

    let _ = writeln!(o, "\n## エスカレーション\n");
    let _ = writeln!(
        o,
        "| 種類 | 件数 | 送信した通知 | 解決済み |\n|---|---:|---:|---:|"
    );
    for (k, c) in &s.escalations {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            cell(kind_label(k)),
            c.cases,
            c.steps_sent,
            c.resolved
        );
    }

    let _ = writeln!(
        o,
        "\n---\n在宅勤務日数は承認済みの在宅勤務命令の件数（職員1人1日1件）、職員数はその実人数です。\
         課・部は職員の現在の所属によります。開始報告は最初の開始報告、終了報告は最後の終了報告で判定し、\
         「定刻」は開始の{early}分前から{grace}分後まで、終了の{early}分前から{grace}分後までに届いたもの、\
         「早い」「遅れ」はその前後に届いたもの（いずれも受信に含む）、「未着」は報告がなかったものです。\
         電話連絡として記録したものも報告に含みます。",
        early = s.windows.early_minutes,
        grace = s.windows.grace_minutes
    );
    o
}

/// CSV a spreadsheet user can read: titled sections, each with its own header row.
pub fn render_csv(s: &Survey, enc: Encoding) -> Vec<u8> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row =
        |cells: &[&dyn ToString]| rows.push(cells.iter().map(|c| c.to_string()).collect());
    let opt = |h: Option<f64>| h.map(|h| format!("{h:.2}")).unwrap_or_default();
    row(&[&"自治体テレワーク推進実証実験 利用状況調査", &s.wave]);
    row(&[&"対象期間", &s.from, &s.to]);
    row(&[]);
    row(&[&"概要"]);
    row(&[&"項目", &"値"]);
    row(&[&"在宅勤務日数", &s.order_days]);
    row(&[&"在宅勤務をした職員数", &s.teleworkers]);
    row(&[&"在宅勤務をした課の数", &s.active_departments]);
    row(&[&"在宅勤務をした部の数", &s.active_divisions]);
    row(&[&"平均勤務時間（時間）", &opt(s.average_ordered_hours)]);
    row(&[
        &"平均勤務時間・時間休を除く（時間）",
        &opt(s.average_working_hours),
    ]);
    row(&[&"時間休の回数", &s.hourly_leave.spans]);
    row(&[&"時間休の時間", &format!("{:.2}", s.hourly_leave.hours)]);
    row(&[&"時間休のあった命令", &s.hourly_leave.orders]);
    row(&[]);
    row(&[&"部別"]);
    row(&[&"部", &"課数", &"在宅勤務日数", &"職員数"]);
    for d in &s.divisions {
        row(&[&d.division, &d.departments, &d.order_days, &d.teleworkers]);
    }
    row(&[]);
    row(&[&"課別"]);
    row(&[
        &"部",
        &"課",
        &"在宅勤務日数",
        &"職員数",
        &"在宅勤務のあった開庁日",
        &"開庁日に占める割合",
    ]);
    for d in &s.departments {
        let share = format!("{:.1}%", d.share_of_working_days * 100.0);
        row(&[
            &d.division,
            &d.department,
            &d.order_days,
            &d.teleworkers,
            &d.telework_days,
            &share,
        ]);
    }
    row(&[]);
    row(&[&"月別"]);
    let mut head: Vec<String> = vec![
        "月".into(),
        "在宅勤務日数".into(),
        "職員数".into(),
        "課数".into(),
    ];
    head.extend(
        s.divisions
            .iter()
            .map(|d| format!("{}（日数）", d.division)),
    );
    rows.push(head);
    for m in &s.months {
        let mut r = vec![
            m.month.clone(),
            m.order_days.to_string(),
            m.teleworkers.to_string(),
            m.departments.to_string(),
        ];
        r.extend(m.by_division.iter().map(|d| d.order_days.to_string()));
        rows.push(r);
    }
    let mut row =
        |cells: &[&dyn ToString]| rows.push(cells.iter().map(|c| c.to_string()).collect());
    row(&[]);
    row(&[&"テレワーク用ID"]);
    row(&[&"項目", &"値", &"日付"]);
    row(&[&"契約ID数", &s.ids.licensed]);
    row(&[&"期間中に割り当てたID", &s.ids.assigned]);
    row(&[&"IDを保有した職員数", &s.ids.holders]);
    row(&[
        &"同時に割り当てたIDの最大",
        &s.ids.peak_concurrent,
        &s.ids.peak_date.clone().unwrap_or_default(),
    ]);
    row(&[
        &"1日の在宅勤務者の最大",
        &s.ids.peak_teleworkers,
        &s.ids.peak_teleworkers_date.clone().unwrap_or_default(),
    ]);
    row(&[]);
    let r = &s.reports;
    row(&[&"開始・終了の報告"]);
    row(&[&"項目", &"開始報告", &"終了報告"]);
    row(&[&"受信", &r.start_received, &r.end_received]);
    row(&[&"うち定刻", &r.start_on_time, &r.end_on_time]);
    row(&[&"うち早い", &r.start_early, &r.end_early]);
    row(&[&"うち遅れ", &r.start_late, &r.end_late]);
    row(&[&"未着", &r.missing_start, &r.missing_end]);
    row(&[]);
    row(&[&"エスカレーション"]);
    row(&[&"種類", &"件数", &"送信した通知", &"解決済み"]);
    for (k, c) in &s.escalations {
        row(&[&kind_label(k), &c.cases, &c.steps_sent, &c.resolved]);
    }

    let mut text = String::new();
    if enc == Encoding::Utf8 {
        text.push('\u{feff}');
    }
    for r in &rows {
        let line: Vec<String> = r.iter().map(|c| csv_field(c)).collect();
        text.push_str(&line.join(","));
        text.push_str("\r\n");
    }
    enc.encode(&text)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Colours told apart by most people, colour-blind ones included (Tableau 10), and two more.
const PALETTE: [&str; 12] = [
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
    "#9C755F", "#BAB0AC", "#17BECF", "#8C6D31",
];

/// Fonts a Japanese desktop has (macOS, Windows, Linux), tried in order; nothing is embedded.
const FONTS: &str = "'Hiragino Kaku Gothic ProN', 'Hiragino Sans', 'Yu Gothic UI', 'Yu Gothic', YuGothic, \
    Meiryo, 'Noto Sans CJK JP', 'Noto Sans JP', 'Source Han Sans JP', 'IPAexGothic', 'IPAGothic', \
    'TakaoGothic', 'VL Gothic', sans-serif";

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// 174259 → 「174,259」, for the chart.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// About how wide a text is drawn, in pixels: Japanese characters are square, Latin ones and
/// digits about half as wide. The SVG is laid out with this, since it cannot measure its fonts.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum::<f64>()
        * size
}

/// A round axis step giving about five grid lines.
fn nice_step(max: u64) -> u64 {
    let raw = (max as f64 / 5.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (step.round() as u64).max(1)
}

/// Telework days per month, stacked by division.
pub fn render_svg(s: &Survey) -> String {
    let max = s.months.iter().map(|m| m.order_days).max().unwrap_or(0);
    let step = nice_step(max);
    let ymax = (max.div_ceil(step).max(1) * step) as f64;
    // Sized to fit the text: the widest axis number on the left, the widest legend entry on
    // the right, and as many legend rows as there are divisions.
    let legend: Vec<String> = s
        .divisions
        .iter()
        .map(|d| format!("{}（{} 日）", d.division, grouped(d.order_days)))
        .collect();
    let legend_w = legend
        .iter()
        .map(|l| text_width(l, 13.0))
        .fold(0.0, f64::max)
        + 20.0;
    let (top, bottom, pw) = (78.0, 64.0, 520.0);
    let left = text_width(&grouped(ymax as u64), 12.0) + 20.0;
    let w = (left + pw + 28.0 + legend_w + 16.0).ceil();
    let h = 480.0_f64.max(top + 14.0 + 22.0 * legend.len() as f64 + bottom);
    let ph = h - top - bottom;
    let y = |v: f64| top + ph - v / ymax * ph;
    let n = s.months.len().max(1) as f64;
    let slot = pw / n;
    let bar = (slot * 0.62).min(72.0);

    let mut o = String::new();
    let title = "在宅勤務日数（月別・部別）";
    let sub = format!(
        "利用状況調査 {}　対象期間 {} ～ {}",
        s.wave,
        ja_date(&s.from),
        ja_date(&s.to)
    );
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="t d" lang="ja">"#
    );
    let _ = writeln!(o, "<title id=\"t\">{}</title>", xml(title));
    let _ = writeln!(
        o,
        "<desc id=\"d\">{}。合計 {} 日、職員 {} 人、{} 課。</desc>",
        xml(&sub),
        s.order_days,
        s.teleworkers,
        s.active_departments
    );
    let _ = writeln!(
        o,
        "<style>text {{ font-family: {FONTS}; fill: #222; }} .sub {{ fill: #555; }} .axis {{ fill: #555; font-size: 12px; }} \
         .grid {{ stroke: #e3e3e3; stroke-width: 1; }} .base {{ stroke: #888; stroke-width: 1; }}</style>"
    );
    let _ = writeln!(o, "<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>");
    let _ = writeln!(
        o,
        "<text x=\"{left}\" y=\"32\" font-size=\"20\" font-weight=\"bold\">{}</text>",
        xml(title)
    );
    let _ = writeln!(
        o,
        "<text class=\"sub\" x=\"{left}\" y=\"54\" font-size=\"13\">{}</text>",
        xml(&sub)
    );

    // Grid and the value axis.
    let mut v = 0;
    while v as f64 <= ymax {
        let yy = y(v as f64);
        let _ = writeln!(
            o,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\"/>",
            left + pw
        );
        let _ = writeln!(
            o,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            yy + 4.0,
            grouped(v)
        );
        v += step;
    }
    let _ = writeln!(
        o,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"start\">（日）</text>",
        left - 40.0,
        top - 12.0
    );

    // Bars: one stack per month, divisions bottom-up in survey order.
    for (i, m) in s.months.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut acc = 0.0;
        let _ = writeln!(o, "<g>");
        for (k, d) in m
            .by_division
            .iter()
            .enumerate()
            .filter(|(_, d)| d.order_days > 0)
        {
            let (y1, y0) = (y(acc + d.order_days as f64), y(acc));
            let _ = writeln!(
                o,
                "<rect x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}: {} 日</title></rect>",
                (y0 - y1).max(0.5),
                PALETTE[k % PALETTE.len()],
                xml(&ja_month(&m.month)),
                xml(&d.division),
                grouped(d.order_days)
            );
            acc += d.order_days as f64;
        }
        if m.order_days > 0 {
            let _ = writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\">{}</text>",
                x + bar / 2.0,
                y(acc) - 6.0,
                grouped(m.order_days)
            );
        }
        let _ = writeln!(o, "</g>");
        // 「7月」 under each bar; the year under the first bar and under each January.
        let (yr, mo) = m.month.split_once('-').unwrap_or((&m.month, ""));
        let cx = x + bar / 2.0;
        let _ = writeln!(
            o,
            "<text class=\"axis\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}月</text>",
            top + ph + 18.0,
            mo.trim_start_matches('0')
        );
        if i == 0 || mo == "01" {
            let _ = writeln!(
                o,
                "<text class=\"axis\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{yr}年</text>",
                top + ph + 34.0
            );
        }
    }
    let _ = writeln!(
        o,
        "<line class=\"base\" x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        top + ph,
        left + pw,
        top + ph
    );
    if s.order_days == 0 {
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"15\" class=\"sub\">対象期間に在宅勤務はありません</text>",
            left + pw / 2.0,
            top + ph / 2.0
        );
    }

    // Legend, top to bottom as the stacks read top to bottom.
    let lx = left + pw + 28.0;
    let _ = writeln!(
        o,
        "<text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">部</text>",
        top
    );
    for (j, (k, label)) in legend.iter().enumerate().rev().enumerate() {
        let ly = top + 14.0 + j as f64 * 22.0;
        let _ = writeln!(
            o,
            "<rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"14\" height=\"14\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\">{}</text>",
            PALETTE[k % PALETTE.len()],
            lx + 20.0,
            ly + 12.0,
            xml(label)
        );
    }
    let _ = writeln!(o, "</svg>");
    o
}

/// Pretty JSON (SPEC §7 names the fields).
pub fn render_json(s: &Survey) -> String {
    let mut j = serde_json::to_string_pretty(s).expect("a survey is plain data");
    j.push('\n');
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn wave() -> Wave {
        Wave {
            name: "2021-02".into(),
            from: d("2021-01-01"),
            to: d("2021-02-28"),
        }
    }

    fn depts() -> Vec<Dept> {
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

    fn staff() -> Vec<(String, String)> {
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

    /// Epoch seconds of a Tokyo wall-clock time.
    fn jst(date: &str, hm: &str) -> i64 {
        Minutes::parse(hm)
            .unwrap()
            .on(d(date), chrono_tz::Asia::Tokyo)
            .timestamp()
    }

    fn order(
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

    fn sample() -> Survey {
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

    #[test]
    fn figures_add_up_by_department_division_and_month() {
        let s = sample();
        assert_eq!(
            (
                s.order_days,
                s.teleworkers,
                s.active_departments,
                s.active_divisions
            ),
            (4, 3, 2, 2)
        );
        let rows: Vec<(&str, &str, u64, u64)> = s
            .departments
            .iter()
            .map(|d| {
                (
                    d.division.as_str(),
                    d.department.as_str(),
                    d.order_days,
                    d.teleworkers,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("総合政策部", "財政課", 1, 1),
                ("総務部", "情報管理課", 3, 2)
            ]
        );
        assert_eq!(
            s.divisions[1],
            DivisionRow {
                division: "総務部".into(),
                departments: 1,
                order_days: 3,
                teleworkers: 2
            }
        );
        let months: Vec<(&str, u64, u64)> = s
            .months
            .iter()
            .map(|m| (m.month.as_str(), m.order_days, m.teleworkers))
            .collect();
        assert_eq!(months, [("2021-01", 3, 2), ("2021-02", 1, 1)]);
        assert_eq!(
            s.months[0].by_division[1],
            DivisionDays {
                division: "総務部".into(),
                order_days: 3
            }
        );
    }

    #[test]
    fn report_timing_uses_the_board_rules_with_leave_moving_the_start() {
        let r = sample().reports;
        assert_eq!(
            (
                r.start_received,
                r.start_on_time,
                r.start_late,
                r.missing_start
            ),
            (3, 2, 1, 1)
        );
        assert_eq!(
            (r.end_received, r.end_on_time, r.end_early, r.missing_end),
            (3, 2, 1, 1)
        );
    }

    #[test]
    fn id_use_counts_only_the_wave_and_finds_the_peak_day() {
        let ids = sample().ids;
        assert_eq!((ids.licensed, ids.assigned, ids.holders), (50, 3, 3));
        assert_eq!(
            (ids.peak_concurrent, ids.peak_date.as_deref()),
            (3, Some("2021-01-12"))
        );
        assert_eq!(
            (ids.peak_teleworkers, ids.peak_teleworkers_date.as_deref()),
            (2, Some("2021-01-12"))
        );
    }

    #[test]
    fn hours_and_hourly_leave() {
        let s = sample();
        // 525 + 525 + 525 + 525 minutes over 4 orders; 240 minutes of leave in 2 spans.
        assert_eq!(s.average_ordered_hours, Some(8.75));
        assert_eq!(s.average_working_hours, Some(7.75));
        assert_eq!(
            s.hourly_leave,
            HourlyLeave {
                orders: 2,
                spans: 2,
                hours: 4.0
            }
        );
    }

    #[test]
    fn every_escalation_kind_is_listed_even_when_none_happened() {
        let s = sample();
        let kinds: Vec<&str> = s.escalations.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            ["missing_start", "missing_end", "no_order", "incident"]
        );
        assert_eq!(
            s.escalations[0].1,
            Chains {
                cases: 1,
                steps_sent: 3,
                resolved: 1
            }
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["escalations"]["missing_start"]["cases"], 1);
        assert_eq!(v["escalations"]["incident"]["cases"], 0);
        for key in [
            "wave",
            "from",
            "to",
            "order_days",
            "teleworkers",
            "departments",
            "months",
            "ids",
            "reports",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }

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
    fn markdown_names_departments_and_kinds_not_codes() {
        let md = render_markdown(&sample());
        assert!(
            md.starts_with("# 自治体テレワーク推進実証実験 利用状況調査（2021-02）"),
            "{md}"
        );
        assert!(md.contains("対象期間: 2021年1月1日 ～ 2021年2月28日"));
        assert!(md.contains("| 総務部 | 情報管理課 | 3 | 2 |"), "{md}");
        assert!(md.contains("| 2021年1月 | 3 | 2 | 1 |"), "{md}");
        assert!(md.contains("| 開始報告なし | 1 | 3 | 1 |"), "{md}");
        assert!(
            md.contains("| 同時に割り当てたIDの最大 | 3（2021年1月12日） |"),
            "{md}"
        );
        assert!(!md.contains("missing_start") && !md.contains("E1"), "{md}");
    }

    #[test]
    fn csv_has_a_bom_by_default_and_decodes_from_shift_jis() {
        let s = sample();
        let utf8 = render_csv(&s, Encoding::Utf8);
        assert!(utf8.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(utf8).unwrap();
        assert!(text.contains("総務部,情報管理課,3,2,0,0.0%\r\n"), "{text}");
        assert!(text.contains("2021-01,3,2,1,0,3\r\n"), "{text}");
        let sjis = render_csv(&s, Encoding::ShiftJis);
        assert!(!sjis.starts_with(b"\xEF\xBB\xBF"));
        let (back, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!bad);
        assert_eq!(back, text.trim_start_matches('\u{feff}'));
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
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("情報管理課"), "情報管理課");
    }

    #[test]
    fn svg_is_text_with_japanese_fonts_and_a_bar_per_month() {
        let svg = render_svg(&sample());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(
            svg.contains("Hiragino") && svg.contains("Noto Sans CJK JP") && svg.contains("Meiryo")
        );
        assert!(!svg.contains("@font-face") && !svg.contains("base64"));
        assert!(
            svg.contains(">1月</text>")
                && svg.contains(">2月</text>")
                && svg.contains(">2021年</text>")
        );
        assert!(svg.contains(">総務部（3 日）</text>"), "{svg}");
        assert!(
            svg.contains("<title>2021年1月 総務部: 3 日</title>"),
            "{svg}"
        );
        // Well-formed enough for a browser: every opened element is closed.
        assert_eq!(svg.matches("<g>").count(), svg.matches("</g>").count());
        // The background, one segment per month here, and two legend keys.
        assert_eq!(svg.matches("<rect").count(), 1 + 2 + 2, "{svg}");
    }

    #[test]
    fn the_chart_is_wide_enough_for_its_longest_legend_entry() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(174259), "174,259");
        assert_eq!(grouped(1000000), "1,000,000");
        let mut s = sample();
        s.divisions[0].division = "行政委員会事務局".into();
        s.divisions[0].order_days = 1_234_567;
        let svg = render_svg(&s);
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let legend_x: f64 = svg
            .split("font-weight=\"bold\">部</text>")
            .next()
            .unwrap()
            .rsplit("x=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            legend_x + 20.0 + text_width("行政委員会事務局（1,234,567 日）", 13.0) <= width,
            "{svg}"
        );
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(0), 1);
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(48), 10);
        assert_eq!(nice_step(1234), 250);
    }

    #[test]
    fn encodings_parse_as_people_write_them() {
        assert_eq!(Encoding::parse("UTF-8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::parse("shift_jis"), Some(Encoding::ShiftJis));
        assert_eq!(Encoding::parse("Shift-JIS"), Some(Encoding::ShiftJis));
        assert_eq!(Encoding::parse("latin1"), None);
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
