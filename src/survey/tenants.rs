//! The survey across municipalities (SPEC §13, `survey WAVE --all-tenants`): each city's own
//! survey, computed under its own tenant and configuration, and a total over all of them.
//!
//! The total is not a field-by-field sum. Counts of distinct things add up, because no
//! employee, order, ID or department belongs to two municipalities; figures that are a maximum
//! or a share do not, and are recomputed over the combined data (`Detail`):
//!
//! | figure | total |
//! |---|---|
//! | `order_days`, `teleworkers`, `active_departments`, `active_divisions` | sum |
//! | `working_days` | days that were a working day in at least one city's calendar |
//! | `divisions[]`, `departments[]` | rows of the same name merged; counts summed |
//! | `departments[].telework_days` | days of the union of the cities' days for that name |
//! | `departments[].share_of_working_days` | `telework_days` / the total's `working_days` |
//! | `months[]` | per month: sums (`by_division` merged by name) |
//! | `ids.licensed`, `assigned`, `holders` | sum (each city has its own pool) |
//! | `ids.peak_concurrent`, `peak_date` | max over days of the sum of IDs held that day |
//! | `ids.peak_teleworkers`, `peak_teleworkers_date` | max over days of the sum of orders that day |
//! | `reports.*`, `escalations.*`, `hourly_leave.orders`, `spans` | sum |
//! | `hourly_leave.hours` | summed minutes / 60 |
//! | `average_ordered_hours`, `average_working_hours` | summed minutes / summed order days |
//! | `windows` | the shared configuration's `[timing]` (each city shows its own) |
//! | `from`, `to` | the earliest start and latest end of the cities' waves |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;

use super::{
    Chains, DepartmentRow, Detail, DivisionDays, DivisionRow, ESCALATION_KINDS, Encoding, Format,
    HourlyLeave, Ids, MonthRow, Reports, Survey, Windows,
};

/// One municipality's survey and what the total recomputes from.
pub struct Part {
    pub code: String,
    pub name: String,
    pub survey: Survey,
    pub detail: Detail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantSurvey {
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub survey: Survey,
}

/// `{"wave", "from", "to", "tenants": [{"code", "name", …}], "total": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllTenants {
    pub wave: String,
    pub from: String,
    pub to: String,
    pub tenants: Vec<TenantSurvey>,
    pub total: Survey,
}

/// The roll-up of `parts` (in the order given). `wave` (name, from, to) and `windows` come from
/// the shared configuration and stand when there is no part.
pub fn roll_up(
    wave: (&str, NaiveDate, NaiveDate),
    windows: Windows,
    parts: Vec<Part>,
) -> AllTenants {
    let total = total(wave, windows, &parts);
    AllTenants {
        wave: total.wave.clone(),
        from: total.from.clone(),
        to: total.to.clone(),
        total,
        tenants: parts
            .into_iter()
            .map(|p| TenantSurvey {
                code: p.code,
                name: p.name,
                survey: p.survey,
            })
            .collect(),
    }
}

fn total(wave: (&str, NaiveDate, NaiveDate), windows: Windows, parts: &[Part]) -> Survey {
    let from = parts
        .iter()
        .map(|p| p.detail.raw.from)
        .min()
        .unwrap_or(wave.1);
    let to = parts
        .iter()
        .filter_map(|p| super::parse_date(&p.survey.to))
        .max()
        .unwrap_or(wave.2);
    let sum = |f: &dyn Fn(&Survey) -> u64| parts.iter().map(|p| f(&p.survey)).sum::<u64>();

    let working: BTreeSet<NaiveDate> = parts
        .iter()
        .flat_map(|p| p.detail.working_dates.iter().copied())
        .collect();
    let working_days = working.len() as u64;

    let (departments, divisions) = merged_departments(parts, working_days);

    let months = merged_months(parts, &divisions);

    let ids_peak = busiest_day(parts, &|d| &d.raw.ids_per_day);
    let busiest = busiest_day(parts, &|d| &d.raw.teleworkers_per_day);
    let ids = Ids {
        licensed: sum(&|s| s.ids.licensed),
        assigned: sum(&|s| s.ids.assigned),
        holders: sum(&|s| s.ids.holders),
        peak_concurrent: ids_peak.0,
        peak_date: ids_peak.1.map(|d| d.to_string()),
        peak_teleworkers: busiest.0,
        peak_teleworkers_date: busiest.1.map(|d| d.to_string()),
    };

    let (reports, escalations) = summed_reports(parts);

    let order_days = sum(&|s| s.order_days);
    let ordered: u64 = parts.iter().map(|p| p.detail.raw.ordered_minutes).sum();
    let leave: u64 = parts.iter().map(|p| p.detail.raw.leave_minutes).sum();
    let avg =
        |minutes: u64| (order_days > 0).then(|| round2(minutes as f64 / 60.0 / order_days as f64));
    Survey {
        wave: wave.0.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        order_days,
        teleworkers: sum(&|s| s.teleworkers),
        working_days,
        active_departments: sum(&|s| s.active_departments),
        active_divisions: sum(&|s| s.active_divisions),
        divisions,
        departments,
        months,
        ids,
        reports,
        escalations,
        average_ordered_hours: avg(ordered),
        // Each city's working minutes are its ordered minutes less its leave, never below 0.
        average_working_hours: avg(parts
            .iter()
            .map(|p| {
                p.detail.raw.ordered_minutes
                    - p.detail.raw.leave_minutes.min(p.detail.raw.ordered_minutes)
            })
            .sum()),
        hourly_leave: HourlyLeave {
            orders: sum(&|s| s.hourly_leave.orders),
            spans: sum(&|s| s.hourly_leave.spans),
            hours: round2(leave as f64 / 60.0),
        },
        windows,
    }
}

/// Departments and divisions merged by name, in the order first seen; a department's telework
/// days are the union of its cities' days, as a share of the total's working days.
fn merged_departments(parts: &[Part], working_days: u64) -> (Vec<DepartmentRow>, Vec<DivisionRow>) {
    let mut departments: Vec<(DepartmentRow, BTreeSet<NaiveDate>)> = Vec::new();
    let mut divisions: Vec<DivisionRow> = Vec::new();
    for p in parts {
        for d in &p.survey.departments {
            let days = p.detail.department_dates.get(&d.department);
            let i = match departments
                .iter()
                .position(|(r, _)| r.division == d.division && r.department == d.department)
            {
                Some(i) => i,
                None => {
                    let mut row = d.clone();
                    (row.order_days, row.teleworkers) = (0, 0);
                    departments.push((row, BTreeSet::new()));
                    departments.len() - 1
                }
            };
            let (row, set) = &mut departments[i];
            row.order_days += d.order_days;
            row.teleworkers += d.teleworkers;
            set.extend(days.into_iter().flatten().copied());
        }
        for d in &p.survey.divisions {
            match divisions.iter_mut().find(|r| r.division == d.division) {
                Some(r) => {
                    r.departments += d.departments;
                    r.order_days += d.order_days;
                    r.teleworkers += d.teleworkers;
                }
                None => divisions.push(d.clone()),
            }
        }
    }
    let departments: Vec<DepartmentRow> = departments
        .into_iter()
        .map(|(mut row, days)| {
            row.telework_days = days.len() as u64;
            row.share_of_working_days = if working_days == 0 {
                0.0
            } else {
                super::round3(row.telework_days as f64 / working_days as f64)
            };
            row
        })
        .collect();

    (departments, divisions)
}

/// Per month, the cities' figures summed (`by_division` merged by name).
fn merged_months(parts: &[Part], divisions: &[DivisionRow]) -> Vec<MonthRow> {
    let mut months: BTreeMap<String, MonthRow> = BTreeMap::new();
    for m in parts.iter().flat_map(|p| &p.survey.months) {
        let row = months.entry(m.month.clone()).or_insert_with(|| MonthRow {
            month: m.month.clone(),
            order_days: 0,
            teleworkers: 0,
            departments: 0,
            by_division: divisions
                .iter()
                .map(|d| DivisionDays {
                    division: d.division.clone(),
                    order_days: 0,
                })
                .collect(),
        });
        row.order_days += m.order_days;
        row.teleworkers += m.teleworkers;
        row.departments += m.departments;
        for d in &m.by_division {
            if let Some(slot) = row
                .by_division
                .iter_mut()
                .find(|s| s.division == d.division)
            {
                slot.order_days += d.order_days;
            }
        }
    }

    months.into_values().collect()
}

/// The busiest day after adding the cities' figures day by day: (its figure, the day); the
/// first such day, as the single-city survey picks it.
fn busiest_day(parts: &[Part], f: &dyn Fn(&Detail) -> &Vec<u64>) -> (u64, Option<NaiveDate>) {
    let mut days: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    for p in parts {
        for (i, n) in f(&p.detail).iter().enumerate() {
            *days
                .entry(p.detail.raw.from + chrono::Duration::days(i as i64))
                .or_default() += n;
        }
    }
    // The first day with the most, as the single-city survey picks it.
    days.into_iter().fold(
        (0u64, None),
        |best, (d, n)| {
            if n > best.0 { (n, Some(d)) } else { best }
        },
    )
}

/// The report and escalation counts summed, every kind listed even when no city had one.
fn summed_reports(parts: &[Part]) -> (Reports, Vec<(String, Chains)>) {
    let mut reports = Reports::default();
    for r in parts.iter().map(|p| &p.survey.reports) {
        reports.start_received += r.start_received;
        reports.start_on_time += r.start_on_time;
        reports.start_early += r.start_early;
        reports.start_late += r.start_late;
        reports.end_received += r.end_received;
        reports.end_on_time += r.end_on_time;
        reports.end_early += r.end_early;
        reports.end_late += r.end_late;
        reports.missing_start += r.missing_start;
        reports.missing_end += r.missing_end;
    }
    let mut escalations: Vec<(String, Chains)> = ESCALATION_KINDS
        .iter()
        .map(|(k, _)| (k.to_string(), Chains::default()))
        .collect();
    for (kind, c) in parts.iter().flat_map(|p| &p.survey.escalations) {
        let i = match escalations.iter().position(|(k, _)| k == kind) {
            Some(i) => i,
            None => {
                escalations.push((kind.clone(), Chains::default()));
                escalations.len() - 1
            }
        };
        let slot = &mut escalations[i].1;
        slot.cases += c.cases;
        slot.steps_sent += c.steps_sent;
        slot.resolved += c.resolved;
    }

    (reports, escalations)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The roll-up in one of the survey's four formats.
pub fn render(a: &AllTenants, format: Format, enc: Encoding) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut j = serde_json::to_string_pretty(a).expect("a survey is plain data");
            j.push('\n');
            j.into_bytes()
        }
        Format::Markdown => enc.encode(&render_markdown(a)),
        Format::Csv => render_csv(a, enc),
        // One chart: the total (a city's own chart is `--tenant CODE survey WAVE --format svg`).
        Format::Svg => super::render_svg(&a.total).into_bytes(),
    }
}

/// A table of the municipalities, then the total's survey and each city's, a heading apiece
/// (every city's headings one level down).
pub fn render_markdown(a: &AllTenants) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# 自治体テレワーク推進実証実験 利用状況調査（{}）団体別・合計\n",
        a.wave
    );
    let _ = writeln!(
        o,
        "対象期間: {} ～ {}（{} 団体）\n",
        super::ja_date(&a.from),
        super::ja_date(&a.to),
        a.tenants.len()
    );
    let _ = writeln!(
        o,
        "| 団体コード | 団体名 | 在宅勤務日数 | 職員 | 同時在宅の最多 | ID 同時使用の最多 |\n|---|---|---:|---:|---:|---:|"
    );
    for (code, name, s) in rows(a) {
        let _ = writeln!(
            o,
            "| {code} | {} | {} | {} | {} | {} |",
            name.replace('|', "｜"),
            s.order_days,
            s.teleworkers,
            s.ids.peak_teleworkers,
            s.ids.peak_concurrent
        );
    }
    for (code, name, s) in rows(a) {
        let _ = writeln!(o, "\n## {} {}\n", code, name);
        for line in super::render_markdown(s).lines().skip(1) {
            if line.starts_with('#') {
                o.push('#');
            }
            o.push_str(line);
            o.push('\n');
        }
    }
    o
}

/// The total first (code `合計`), then the cities in order.
fn rows(a: &AllTenants) -> Vec<(&str, &str, &Survey)> {
    std::iter::once(("合計", "全団体", &a.total))
        .chain(
            a.tenants
                .iter()
                .map(|t| (t.code.as_str(), t.name.as_str(), &t.survey)),
        )
        .collect()
}

/// The single-city CSV of the total and of each city in turn, each after a `団体コード,団体名`
/// row and a blank line.
pub fn render_csv(a: &AllTenants, enc: Encoding) -> Vec<u8> {
    let mut out = String::new();
    if enc == Encoding::Utf8 {
        out.push('\u{feff}');
    }
    for (i, (code, name, s)) in rows(a).into_iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut w = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .from_writer(Vec::new());
        w.write_record(["団体コード", "団体名"])
            .and_then(|_| w.write_record([code, name]))
            .expect("CSV into a Vec cannot fail");
        let head = w.into_inner().expect("CSV into a Vec cannot fail");
        out.push_str(&String::from_utf8_lossy(&head));
        out.push_str("\r\n");
        let body = super::render_csv(s, Encoding::Utf8);
        let body = String::from_utf8_lossy(&body);
        out.push_str(body.trim_start_matches('\u{feff}'));
    }
    match enc {
        Encoding::Utf8 => out.into_bytes(),
        Encoding::ShiftJis => enc.encode(&out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::Raw;
    use crate::survey::testdata::sample;

    fn d(s: &str) -> NaiveDate {
        crate::calendar::parse_date(s).unwrap()
    }

    fn part(code: &str, teleworkers: Vec<u64>, ids: Vec<u64>, working: &[&str]) -> Part {
        Part {
            code: code.into(),
            name: code.into(),
            survey: sample(),
            detail: Detail {
                raw: Raw {
                    from: d("2021-01-11"),
                    teleworkers_per_day: teleworkers,
                    ids_per_day: ids,
                    ordered_minutes: 2100,
                    leave_minutes: 240,
                },
                working_dates: working.iter().map(|s| d(s)).collect(),
                department_dates: Default::default(),
            },
        }
    }

    const WINDOWS: Windows = Windows {
        early_minutes: 30,
        grace_minutes: 15,
    };

    #[test]
    fn peaks_are_the_busiest_combined_day_not_the_sum_of_peaks() {
        let a = part("131016", vec![0, 2, 1], vec![3, 3, 1], &["2021-01-11"]);
        let b = part("271004", vec![2, 0, 1], vec![1, 0, 3], &["2021-01-12"]);
        let t = roll_up(
            ("2021-02", d("2021-01-01"), d("2021-01-31")),
            WINDOWS,
            vec![a, b],
        )
        .total;
        // 01-11: 2, 01-12: 2, 01-13: 2 (first day wins); IDs 4, 3, 4.
        assert_eq!(
            (
                t.ids.peak_teleworkers,
                t.ids.peak_teleworkers_date.as_deref()
            ),
            (2, Some("2021-01-11"))
        );
        assert_eq!(
            (t.ids.peak_concurrent, t.ids.peak_date.as_deref()),
            (4, Some("2021-01-11"))
        );
        assert_eq!(t.order_days, 2 * sample().order_days);
        assert_eq!(t.working_days, 2);
        assert_eq!(t.average_ordered_hours, Some(round2(4200.0 / 60.0 / 8.0)));
        assert_eq!(t.hourly_leave.hours, 8.0);
        assert_eq!(
            t.escalations[0].1.steps_sent,
            2 * sample().escalations[0].1.steps_sent
        );
    }

    #[test]
    fn no_municipality_gives_an_empty_total_over_the_shared_wave() {
        let all = roll_up(
            ("2021-02", d("2021-01-01"), d("2021-01-31")),
            WINDOWS,
            vec![],
        );
        assert_eq!(
            (all.from.as_str(), all.to.as_str()),
            ("2021-01-01", "2021-01-31")
        );
        assert_eq!(all.total.average_ordered_hours, None);
        assert_eq!(all.total.ids.peak_date, None);
        assert_eq!(all.total.escalations.len(), ESCALATION_KINDS.len());
        let md = render_markdown(&all);
        assert!(md.contains("（0 団体）"), "{md}");
        let csv = render_csv(&all, Encoding::ShiftJis);
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&csv);
        assert!(!bad && !text.contains("&#"), "{text}");
    }
}
