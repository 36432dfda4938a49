//! `zaitaku attendance export --month YYYY-MM` (SPEC §11, issue 18): per employee per day with
//! an order, what payroll and the 庶務事務システム take from the register — the order, the
//! start and end as reported (or by phone), their timing, hourly leave, escalations — in a
//! column layout of `config/exports.toml` (the built-in `default` when none is named).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Deserialize;

use crate::board::Teleworker;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;

/// The columns a layout may name.
const COLUMNS: &[&str] = &[
    "employee_id",
    "name",
    "department",
    "date",
    "order_start",
    "order_end",
    "start_at",
    "start_status",
    "start_source",
    "end_at",
    "end_status",
    "end_source",
    "leave",
    "escalations",
    "summary",
];

/// The default layout's columns (SPEC §11).
const DEFAULT: &[&str] = &[
    "employee_id",
    "name",
    "department",
    "date",
    "order_start",
    "order_end",
    "start_at",
    "start_status",
    "end_at",
    "end_status",
    "leave",
    "escalations",
];

/// A column layout: which columns, under which header labels, dates and times written how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub columns: Vec<String>,
    pub headers: Vec<String>,
    pub date_format: String,
    pub time_format: String,
}

impl Layout {
    fn default_layout() -> Layout {
        Layout {
            columns: DEFAULT.iter().map(|c| c.to_string()).collect(),
            headers: DEFAULT.iter().map(|c| c.to_string()).collect(),
            date_format: "%Y-%m-%d".into(),
            time_format: "%H:%M".into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    layouts: BTreeMap<String, RawLayout>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    columns: Vec<String>,
    headers: Option<Vec<String>>,
    date_format: Option<String>,
    time_format: Option<String>,
}

/// The layout called `name`: `default`, or one of `exports.toml` in the config folder. A
/// layout that names a column this version does not know, or whose headers do not match its
/// columns, is one line and exit 2.
pub fn layout(config_dir: Option<&Path>, name: &str) -> Result<Layout> {
    let file = config_dir.map(|d| d.join("exports.toml"));
    let raw = match file.as_deref().filter(|f| f.exists()) {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
            toml::from_str::<RawFile>(&text)
                .map_err(|e| Error::bad(f.display().to_string(), e.message().to_string()))?
        }
        None => RawFile::default(),
    };
    let shown = file
        .as_deref()
        .map_or_else(|| "exports.toml".to_string(), |f| f.display().to_string());
    let Some(r) = raw
        .layouts
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, r)| r)
    else {
        if name == "default" {
            return Ok(Layout::default_layout());
        }
        return Err(Error::bad(
            "--layout",
            format!("expected default or a layout of {shown}, got {name:?}"),
        ));
    };
    let at = |k: &str| format!("{shown}: layouts.{name}.{k}");
    if let Some(c) = r.columns.iter().find(|c| !COLUMNS.contains(&c.as_str())) {
        return Err(Error::bad(
            at("columns"),
            format!("expected one of {}, got {c:?}", COLUMNS.join(", ")),
        ));
    }
    let headers = r.headers.unwrap_or_else(|| r.columns.clone());
    if headers.len() != r.columns.len() {
        return Err(Error::bad(
            at("headers"),
            format!(
                "expected one label per column ({}), got {}",
                r.columns.len(),
                headers.len()
            ),
        ));
    }
    Ok(Layout {
        columns: r.columns,
        headers,
        date_format: r.date_format.unwrap_or_else(|| "%Y-%m-%d".into()),
        time_format: r.time_format.unwrap_or_else(|| "%H:%M".into()),
    })
}

/// The layouts one may name: `default` and those of `exports.toml` in the config folder
/// (the web's export form lists them).
pub fn layout_names(config_dir: Option<&Path>) -> Result<Vec<String>> {
    let mut names = vec!["default".to_string()];
    if let Some(f) = config_dir
        .map(|d| d.join("exports.toml"))
        .filter(|f| f.exists())
    {
        let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
        let raw = toml::from_str::<RawFile>(&text)
            .map_err(|e| Error::bad(f.display().to_string(), e.message().to_string()))?;
        names.extend(raw.layouts.into_keys().filter(|n| n != "default"));
    }
    Ok(names)
}

/// The months before and after the one starting on `first` (`YYYY-MM`).
pub fn neighbours(first: NaiveDate) -> (String, String) {
    let prev = first - Duration::days(1);
    let next = first + Duration::days(32);
    (
        prev.format("%Y-%m").to_string(),
        next.format("%Y-%m").to_string(),
    )
}

/// `YYYY-MM` → the month's first and last day.
pub fn month(s: &str) -> Result<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
        .map_err(|_| Error::bad("--month", format!("expected YYYY-MM, got {s:?}")))?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    Ok((first, next - Duration::days(1)))
}

fn time(rfc3339: Option<&str>, format: &str) -> String {
    rfc3339
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

fn cell(t: &Teleworker, day: NaiveDate, column: &str, l: &Layout) -> String {
    let hm = |s: &str| {
        crate::calendar::Minutes::parse(s)
            .and_then(|m| NaiveDate::MIN.and_hms_opt(m.0 / 60, m.0 % 60, 0))
            .map(|t| t.format(&l.time_format).to_string())
            .unwrap_or_else(|| s.to_string())
    };
    match column {
        "employee_id" => t.employee_id.clone(),
        "name" => t.name.clone(),
        "department" => t.department.clone(),
        "date" => day.format(&l.date_format).to_string(),
        "order_start" => hm(&t.order.start),
        "order_end" => hm(&t.order.end),
        "start_at" => time(t.start.at.as_deref(), &l.time_format),
        "start_status" => t.start.status.to_string(),
        "start_source" => t.start.source.clone().unwrap_or_default(),
        "end_at" => time(t.end.at.as_deref(), &l.time_format),
        "end_status" => t.end.status.to_string(),
        "end_source" => t.end.source.clone().unwrap_or_default(),
        "leave" => t
            .leave
            .iter()
            .map(|s| format!("{}-{}", hm(&s.from), hm(&s.to)))
            .collect::<Vec<_>>()
            .join(";"),
        "escalations" => t
            .escalations
            .iter()
            .map(|e| format!("{}#{}", e.kind, e.step))
            .collect::<Vec<_>>()
            .join(";"),
        "summary" => t.summary.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The month's rows as CSV text (header first): one per employee per day with an order, the
/// day's board judged at `now`.
pub async fn export(
    store: &Store,
    cfg: &Config,
    (first, last): (NaiveDate, NaiveDate),
    department: Option<&str>,
    layout: &Layout,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| Error::bad("attendance export", e.to_string());
    w.write_record(&layout.headers).map_err(bad)?;
    let keep = |t: &Teleworker| department.is_none_or(|d| t.department == d);
    for (day, t) in rows(store, cfg, days(first, last), keep, now).await? {
        let row: Vec<String> = layout
            .columns
            .iter()
            .map(|c| cell(&t, day, c, layout))
            .collect();
        w.write_record(&row).map_err(bad)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::bad("attendance export", e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::bad("attendance export", e.to_string()))
}

/// Every day from `first` to `last`.
pub fn days(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// The rows of the attendance record on `days`: each day's board judged at `now`, the
/// teleworkers `keep` keeps (a department's, one person's), in the board's order.
pub async fn rows(
    store: &Store,
    cfg: &Config,
    days: Vec<NaiveDate>,
    keep: impl Fn(&Teleworker) -> bool,
    now: DateTime<Utc>,
) -> Result<Vec<(NaiveDate, Teleworker)>> {
    let mut out = Vec::new();
    for day in days {
        let board = crate::usecase::board::load(store, cfg, day, now).await?;
        out.extend(
            board
                .teleworkers
                .into_iter()
                .filter(|t| keep(t))
                .map(|t| (day, t)),
        );
    }
    Ok(out)
}

/// One person's rows of `days` (their approved orders in the range), judged as the day's
/// board judges them, from their orders' reports and steps alone: three queries for a month,
/// not a city's board for each day (自分の在宅勤務 at the 08:30 rush: `cargo bench --bench phone`).
async fn person_rows(
    store: &Store,
    cfg: &Config,
    employee: &str,
    (first, last): (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
) -> Result<Vec<(NaiveDate, Teleworker)>> {
    let orders = store.orders_from(employee, first, last).await?;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let reports = store.reports_of_orders(&ids).await?;
    let escalations = store.escalations_of_orders(&ids).await?;
    Ok(judge_orders(
        cfg,
        orders.iter(),
        &reports,
        &escalations,
        now,
    ))
}

/// The rows of some approved orders of one person, each judged at `now` as its day's board
/// judges it, from the orders' own reports (`reports`, by arrival) and steps.
pub fn judge_orders<'a>(
    cfg: &Config,
    orders: impl Iterator<Item = &'a crate::store::OrderRow>,
    reports: &[crate::board::ReportRow],
    escalations: &[crate::board::EscalationRow],
    now: DateTime<Utc>,
) -> Vec<(NaiveDate, Teleworker)> {
    let mut out = Vec::new();
    for o in orders {
        let reports: Vec<_> = reports
            .iter()
            .filter(|r| r.order_id == Some(o.id))
            .cloned()
            .collect();
        let escalations: Vec<_> = escalations
            .iter()
            .filter(|e| e.order_id == o.id)
            .cloned()
            .collect();
        let board = crate::board::build(crate::board::BoardInput {
            date: o.date,
            orders: std::slice::from_ref(o),
            reports: &reports,
            escalations: &escalations,
            now,
            tz: cfg.timezone,
            timing: &cfg.timing,
        });
        out.extend(board.teleworkers.into_iter().map(|t| (o.date, t)));
    }
    out
}

/// One day of a person's month (自分の在宅勤務).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HistoryDay {
    pub date: String,
    pub order: crate::board::Hours,
    pub start: crate::board::Slot,
    pub end: crate::board::Slot,
    /// Hourly leave, `13:00〜15:00、16:00〜17:15`.
    pub leave: String,
    pub escalations: usize,
}

/// A person's month: a row per day with an approved order (the order, the start and end as
/// reported or by phone and their timing, hourly leave, escalations), and the months before
/// and after (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct History {
    pub month: String,
    /// `2021年1月`.
    pub label: String,
    pub rows: Vec<HistoryDay>,
    pub prev: String,
    pub next: String,
}

/// The month shown: `month` (its first and last day), by default the month of `date`.
pub fn month_or(month: Option<(NaiveDate, NaiveDate)>, date: NaiveDate) -> (NaiveDate, NaiveDate) {
    month.unwrap_or_else(|| {
        let first = date.with_day(1).unwrap_or(date);
        let last = (first + Duration::days(32))
            .with_day(1)
            .map_or(first, |n| n - Duration::days(1));
        (first, last)
    })
}

/// `employee`'s attendance in `month` (the first and last day), by default the month of
/// `date`; judged at `now`. Only the days they were ordered are built: a month is a few
/// boards, not thirty.
pub async fn history(
    store: &Store,
    cfg: &Config,
    employee: &str,
    month: Option<(NaiveDate, NaiveDate)>,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<History> {
    let (first, last) = month_or(month, date);
    let rows = person_rows(store, cfg, employee, (first, last), now).await?;
    Ok(history_of(first, rows))
}

/// The month starting on `first`, from its judged rows (`judge_orders`).
pub fn history_of(first: NaiveDate, rows: Vec<(NaiveDate, Teleworker)>) -> History {
    let (prev, next) = neighbours(first);
    History {
        month: first.format("%Y-%m").to_string(),
        label: format!("{}年{}月", first.year(), first.month()),
        rows: rows
            .into_iter()
            .map(|(day, t)| HistoryDay {
                date: day.to_string(),
                order: t.order,
                start: t.start,
                end: t.end,
                leave: t
                    .leave
                    .iter()
                    .map(|l| format!("{}〜{}", l.from, l.to))
                    .collect::<Vec<_>>()
                    .join("、"),
                escalations: t.escalations.len(),
            })
            .collect(),
        prev,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_its_first_and_last_day() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(month("2021-01").unwrap(), (d(2021, 1, 1), d(2021, 1, 31)));
        assert_eq!(month("2020-02").unwrap(), (d(2020, 2, 1), d(2020, 2, 29)));
        assert_eq!(month("2021-12").unwrap(), (d(2021, 12, 1), d(2021, 12, 31)));
        assert!(month("2021-13").is_err());
        assert!(month("01-2021").is_err());
        assert_eq!(
            neighbours(d(2021, 1, 1)),
            ("2020-12".to_string(), "2021-02".to_string())
        );
        assert_eq!(days(d(2021, 2, 27), d(2021, 3, 1)).len(), 3);
    }

    #[test]
    fn a_layout_names_known_columns_with_a_label_each() {
        let dir = std::env::temp_dir().join(format!("zaitaku-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(layout(Some(&dir), "default").unwrap().columns, DEFAULT);
        std::fs::write(
            dir.join("exports.toml"),
            "[layouts.kyuyo]\ncolumns = [\"employee_id\", \"date\", \"start_at\"]\n\
             headers = [\"職員番号\", \"日付\", \"開始\"]\ndate_format = \"%Y/%m/%d\"\n\
             [layouts.bad]\ncolumns = [\"salary\"]\n\
             [layouts.short]\ncolumns = [\"date\", \"name\"]\nheaders = [\"日付\"]\n",
        )
        .unwrap();
        assert_eq!(
            layout_names(Some(&dir)).unwrap(),
            ["default", "bad", "kyuyo", "short"]
        );
        let k = layout(Some(&dir), "kyuyo").unwrap();
        assert_eq!(k.headers, ["職員番号", "日付", "開始"]);
        assert_eq!(k.date_format, "%Y/%m/%d");
        let e = layout(Some(&dir), "bad").unwrap_err().to_string();
        assert!(
            e.contains("layouts.bad.columns") && e.contains("\"salary\""),
            "{e}"
        );
        let e = layout(Some(&dir), "short").unwrap_err().to_string();
        assert!(e.contains("layouts.short.headers"), "{e}");
        assert!(layout(Some(&dir), "nope").unwrap_err().is_bad_input());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
