//! `Tally`: the survey's figures, accumulated one approved order at a time and finished into a
//! `Survey`. Pure: `compile` feeds it the store's rows; nothing here reads a database or a clock.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{
    Chains, DepartmentRow, Dept, DivisionDays, DivisionRow, ESCALATION_KINDS, HourlyLeave, Ids,
    MonthRow, Reports, Survey, Windows,
};
use crate::calendar::{Minutes, parse_date};
use crate::config::{Timing, Wave};
use crate::order::{expected_hours, parse_leave};
use crate::store::survey::{EscalationCount, OrderFacts};
use crate::timing::{Status, end_status, start_status};

/// The figures behind a `Survey` that a roll-up across municipalities needs and the survey
/// itself shows only rounded or as a maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// The wave's first day: index 0 of the per-day vectors.
    pub from: NaiveDate,
    /// Approved orders on each day of the wave.
    pub teleworkers_per_day: Vec<u64>,
    /// IDs held on each day of the wave.
    pub ids_per_day: Vec<u64>,
    pub ordered_minutes: u64,
    pub leave_minutes: u64,
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
    /// Per department, bit `d` set: someone of it in the register had an order on the wave's
    /// day `d` (the survey's `telework_days`, counted from the same rows as everything else).
    dept_days: Vec<Vec<u64>>,
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
            dept_days: Vec::new(),
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
        self.dept_days
            .push(vec![0; self.per_day.len().div_ceil(64)]);
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
            Some(w) => {
                self.dept_days[w.dept][day / 64] |= 1 << (day % 64);
                w
            }
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
        // Judged after the wave: an order with no report by now is missing, never pending.
        let now = DateTime::<Utc>::MAX_UTC;
        let r = &mut self.reports;
        match start_status(exp_start, o.first_start, now, &self.timing) {
            Status::OnTime => r.start_on_time += 1,
            Status::Early => r.start_early += 1,
            Status::Late => r.start_late += 1,
            Status::Missing | Status::Pending => r.missing_start += 1,
        }
        match end_status(exp_end, o.last_end, now, &self.timing) {
            Status::OnTime => r.end_on_time += 1,
            Status::Early => r.end_early += 1,
            Status::Late => r.end_late += 1,
            Status::Missing | Status::Pending => r.missing_end += 1,
        }
    }

    /// Per department (by name), the days of the wave on which at least one of its staff in
    /// the register had an approved order, keeping those `working` says are working days; a
    /// department with none is left out.
    pub fn department_dates(
        &self,
        working: impl Fn(NaiveDate) -> bool,
    ) -> HashMap<String, BTreeSet<NaiveDate>> {
        let mut out = HashMap::new();
        for (dept, bits) in self.depts.iter().zip(&self.dept_days) {
            let days: BTreeSet<NaiveDate> = (0..self.per_day.len())
                .filter(|d| bits[d / 64] & (1 << (d % 64)) != 0)
                .map(|d| self.wave.from + chrono::Days::new(d as u64))
                .filter(|d| working(*d))
                .collect();
            if !days.is_empty() {
                out.insert(dept.name.clone(), days);
            }
        }
        out
    }

    /// The survey, given the ID assignments `(id_no, employee, from, to)` and the escalation
    /// counts of the wave.
    pub fn finish(
        self,
        licensed: u32,
        held: &[(u32, String, NaiveDate, NaiveDate)],
        escalations: &[EscalationCount],
    ) -> Survey {
        self.finish_with_raw(licensed, held, escalations).0
    }

    /// `finish`, with the unrounded figures a roll-up across municipalities recomputes from
    /// (`survey::tenants`): people teleworking and IDs held per day of the wave, and the minutes
    /// behind the averages.
    pub fn finish_with_raw(
        self,
        licensed: u32,
        held: &[(u32, String, NaiveDate, NaiveDate)],
        escalations: &[EscalationCount],
    ) -> (Survey, Raw) {
        let raw = Raw {
            from: self.wave.from,
            teleworkers_per_day: self.per_day.clone(),
            ids_per_day: self.ids_per_day(held),
            ordered_minutes: self.ordered_minutes,
            leave_minutes: self.leave_minutes,
        };
        let (divisions, departments, months) = self.rows();
        let ids = self.ids(licensed, held);
        let mut reports = self.reports.clone();
        reports.start_received = reports.start_on_time + reports.start_early + reports.start_late;
        reports.end_received = reports.end_on_time + reports.end_early + reports.end_late;

        let n = self.order_days;
        let avg = |minutes: u64| (n > 0).then(|| round2(minutes as f64 / 60.0 / n as f64));
        let survey = Survey {
            wave: self.wave.name.clone(),
            from: self.wave.from.to_string(),
            to: self.wave.to.to_string(),
            order_days: n,
            teleworkers: self.workers.values().filter(|w| w.any).count() as u64,
            working_days: 0,
            active_departments: departments.len() as u64,
            active_divisions: divisions.len() as u64,
            divisions,
            departments,
            months,
            ids,
            reports,
            escalations: chains(escalations),
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
        };
        (survey, raw)
    }

    /// IDs held on each day of the wave (an assignment counts on every day it covers, as
    /// `ids::peak` counts them).
    fn ids_per_day(&self, held: &[(u32, String, NaiveDate, NaiveDate)]) -> Vec<u64> {
        let wave = &self.wave;
        let mut days = vec![0u64; self.per_day.len()];
        for h in held.iter().filter(|h| h.2 <= wave.to && wave.from <= h.3) {
            let first = (h.2.max(wave.from) - wave.from).num_days() as usize;
            let last = ((h.3.min(wave.to) - wave.from).num_days() as usize).min(days.len() - 1);
            for n in &mut days[first..=last] {
                *n += 1;
            }
        }
        days
    }

    /// Teleworkers (employees with an order in the wave) per department and per month.
    fn worker_counts(&self) -> (Vec<u64>, Vec<u64>) {
        let mut dept_workers = vec![0u64; self.depts.len()];
        let mut month_workers = vec![0u64; self.months.len()];
        for w in self.workers.values().filter(|w| w.any) {
            dept_workers[w.dept] += 1;
            for (m, n) in month_workers.iter_mut().enumerate() {
                if w.months[m / 64] & (1 << (m % 64)) != 0 {
                    *n += 1;
                }
            }
        }
        (dept_workers, month_workers)
    }

    /// The rows per division, per department and per month, of the active departments only.
    fn rows(&self) -> (Vec<DivisionRow>, Vec<DepartmentRow>, Vec<MonthRow>) {
        let depts = &self.depts;
        let (dept_workers, month_workers) = self.worker_counts();
        let dept_days: Vec<u64> = self.dept_month.iter().map(|ms| ms.iter().sum()).collect();

        // Divisions in the order of their first department.
        let mut division_names: Vec<&str> = Vec::new();
        for d in depts {
            if !division_names.contains(&d.division.as_str()) {
                division_names.push(&d.division);
            }
        }
        let active: Vec<usize> = (0..depts.len()).filter(|&i| dept_days[i] > 0).collect();
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
        let months = self.month_rows(&active, &month_workers, &divisions);
        (divisions, departments, months)
    }

    fn month_rows(
        &self,
        active: &[usize],
        month_workers: &[u64],
        divisions: &[DivisionRow],
    ) -> Vec<MonthRow> {
        let (depts, dept_month) = (&self.depts, &self.dept_month);
        self.months
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
            .collect()
    }

    /// ID use over the wave, and the busiest day of telework.
    fn ids(&self, licensed: u32, held: &[(u32, String, NaiveDate, NaiveDate)]) -> Ids {
        let wave = &self.wave;
        let in_wave: Vec<_> = held
            .iter()
            .filter(|h| h.2 <= wave.to && wave.from <= h.3)
            .collect();
        let peak = crate::ids::peak(
            in_wave
                .iter()
                .map(|h| (h.2.max(wave.from), h.3.min(wave.to))),
        );
        let busiest = self
            .per_day
            .iter()
            .enumerate()
            .fold(
                (0u64, None),
                |best, (i, &n)| {
                    if n > best.0 { (n, Some(i)) } else { best }
                },
            );
        Ids {
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
        }
    }
}

/// Every kind of `ESCALATION_KINDS` (zero when none happened), then any other kind found.
fn chains(escalations: &[EscalationCount]) -> Vec<(String, Chains)> {
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
    esc
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::testdata::sample;

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
}
