//! One teleworker's rows for 自分の在宅勤務 (issue 20) in one statement: their orders, the
//! reports and escalation steps of their approved orders in the month and on the day shown,
//! the day's mail from their addresses that matched no order, and whom they stand in for.
//!
//! Why one statement of five JSON arrays, not five statements of rows: at 08:30 a city's
//! teleworkers open the page together, and each first load was bound by how rows leave the
//! database, not by what the database does with them. Through sqlx's SQLite driver every
//! statement is a round trip to its worker thread and every row crosses by itself (futex waits
//! and wakes), then is copied into an `AnyRow`; the 80 rows of one person cost more CPU than
//! reading them. Aggregated in SQL (`json_group_array` on SQLite, `json_agg` on PostgreSQL)
//! they cross once, as one text, and are decoded straight into the page's rows. On
//! PostgreSQL it is one round trip instead of four.
//!
//! The order list is read with the rest, so which orders' reports and steps are read is said
//! in SQL (`mine`: approved, in the month or on the day) instead of as a list of ids.
//!
//! Only what the page shows is read: the orders of the month and the day, and of the service
//! period those still to come or waiting for someone (申請中, 部長決裁待ち, 差戻し), not the
//! whole year's; and the 日報 and subject of the day's reports only (the month's rows show
//! times and timing, never the text). A cold first load is what the 08:30 rush is made of, and
//! it was spending a third of its time building, decoding and rendering rows nobody looked at.

use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::Row;

use super::approval::Deputy;
use super::web::RegisterRow;
use super::{Backend, OrderRow, Store, day};
use crate::board::{EscalationRow, ReportRow};
use crate::error::{Error, Result};

/// Which of one person's rows to read.
#[derive(Debug, Clone, Copy)]
pub struct PersonQuery<'a> {
    pub employee: &'a str,
    /// The service period: of its days, their orders still to come (after `today`) or
    /// waiting for someone (draft, reviewed, sent back), of any status.
    pub orders: (NaiveDate, NaiveDate),
    /// The reports and steps of their approved orders of these days…
    pub month: (NaiveDate, NaiveDate),
    /// …and of this day, with the day's mail from their addresses that matched no order.
    pub day: NaiveDate,
    /// Whom they stand in for on this day.
    pub today: NaiveDate,
}

/// One person's rows as stored, not yet judged (`usecase::my_page::Person` judges them).
#[derive(Debug, Default)]
pub struct PersonRows {
    /// Their orders (any status) of the month and the day, and of the service period those
    /// after today or waiting for someone, by day.
    pub orders: Vec<RegisterRow>,
    /// The reports of their approved orders in the month and on the day, by arrival; the
    /// 日報 and subject only of the day's (empty for the month's other days).
    pub reports: Vec<ReportRow>,
    /// The day's mail from their addresses that was counted for no order, by arrival.
    pub unmatched: Vec<ReportRow>,
    /// The escalation steps of the same orders, by sending.
    pub escalations: Vec<EscalationRow>,
    /// Whom they stand in for today (代決), by supervisor.
    pub deputyships: Vec<Deputy>,
}

/// `json_group_array` / `json_agg` of `columns` (an array each); `[]` for no rows. On
/// PostgreSQL in `order`; on SQLite in no particular order, sorted by `PersonRows::sort`
/// instead: an aggregate's `ORDER BY` costs SQLite a temporary b-tree per array and per
/// statement (created, filled, sorted, dropped; 8 % of a first load's instructions under
/// callgrind, docs/benchmarks.md), while the rows of one person sort in Rust for next to
/// nothing. PostgreSQL keeps its `ORDER BY`: its text order follows the database's collation,
/// which a sort of bytes would not repeat, and the sorting is the server's work, not ours.
fn array_of(backend: Backend, columns: &str, order: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({columns}))"),
        Backend::Postgres => {
            format!("COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]')::text")
        }
    }
}

const REPORT_COLUMNS: &str = "r.id, r.order_id, r.employee_id, r.sender, r.kind, r.reason, \
    r.source, r.received_at, r.leave_noted, r.incident, r.summary, r.subject";

/// As `REPORT_COLUMNS`, the text (日報, subject) only of the day's (`$6`) orders' reports.
const MONTH_REPORT_COLUMNS: &str = "r.id, r.order_id, r.employee_id, r.sender, r.kind, \
    r.reason, r.source, r.received_at, r.leave_noted, r.incident, \
    CASE WHEN m.date = $6 THEN r.summary ELSE '' END, \
    CASE WHEN m.date = $6 THEN r.subject ELSE '' END";

/// The statement: `$1` the employee, `$2`..`$3` the earliest and latest day of any order
/// read (the index's range), `$4`..`$5` the month, `$6` the day, `$7` today, `$8`..`$9` the
/// service period. Built once per backend.
fn statement(backend: Backend) -> String {
    let orders = array_of(
        backend,
        "o.id, o.date, o.start_min, o.end_min, o.content, o.approved_by, o.shifted, \
         o.leave_spans, o.status, o.holiday_ok, o.deputy_by, o.division_by, \
         o.approved_at, o.requested_by, o.requested_at, o.sent_back_reason, o.sent_back_by, \
         o.sent_back_at, o.division_at, o.division_deputy",
        "o.date",
    );
    let reports = array_of(backend, MONTH_REPORT_COLUMNS, "r.received_at, r.id");
    let unmatched = array_of(backend, REPORT_COLUMNS, "r.received_at, r.id");
    let escalations = array_of(
        backend,
        "x.order_id, x.kind, x.step, x.recipients, x.fired_at, x.status, x.resolved_at, \
         x.resolution, x.repeat_no, x.id",
        "x.fired_at, x.id",
    );
    // The name and department every order row carries, read once rather than joined to each
    // order (34 a year on the bench's register, in the JSON built and decoded again).
    let person = match backend {
        Backend::Sqlite => "json_array(e.name, e.department)",
        Backend::Postgres => "json_build_array(e.name, e.department)::text",
    };
    let deputies = array_of(
        backend,
        "d.id, d.supervisor, s.name, s.department, d.deputy, p.name, d.from_date, d.to_date, s.role",
        "d.supervisor, d.id",
    );
    // `mine`, the approved orders of the month and the day, is joined to their reports and
    // steps rather than asked for with `IN (SELECT …)`, which SQLite answers by building a
    // temporary b-tree of the ids first (ids are unique: the same rows). Addresses are kept
    // in lower case (`employee_emails`), and so are senders (`mail::parse`); the unmatched
    // mail is found through the partial index `reports_unmatched` (migration 0018). That one
    // stays an `IN`: joined to the addresses, SQLite reads every report of the day instead.
    //
    // On PostgreSQL every table is read by its tenant as well, named here: row-level security
    // adds it for the application's role, but a role that bypasses it (a superuser, as a
    // single city's server may use) would otherwise find no index that fits (each leads with
    // the tenant) and read every report (57 ms a page on the bench's register instead of 1).
    let t = |alias: &str| match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres => format!("{alias}.tenant = current_setting('zaitaku.tenant') AND "),
    };
    let (to, tm, tr, tx, td, ts, tp, te, tq) = (
        t("o"),
        t("m"),
        t("r"),
        t("x"),
        t("d"),
        t("s"),
        t("p"),
        t("e"),
        t("q"),
    );
    let mine = format!(
        "{tm}m.employee_id = $1 AND m.status = 'approved' \
         AND ((m.date >= $4 AND m.date <= $5) OR m.date = $6)"
    );
    format!(
        "SELECT
             (SELECT {orders} FROM orders o
              WHERE {to}o.employee_id = $1 AND o.date >= $2 AND o.date <= $3
              AND ((o.date >= $4 AND o.date <= $5) OR o.date = $6
                   OR (o.date >= $8 AND o.date <= $9
                       AND (o.date > $7 OR o.status IN ('draft', 'reviewed', 'sent_back'))))),
             (SELECT {reports} FROM orders m JOIN reports r ON {tr}r.order_id = m.id
              WHERE {mine}),
             (SELECT {unmatched} FROM reports r WHERE {tr}r.day = $6
              AND r.reason NOT IN ('matched', 'resolution')
              AND r.sender IN (SELECT q.email FROM employee_emails q
                               WHERE {tq}q.employee_id = $1)),
             (SELECT {escalations} FROM orders m JOIN escalations x ON {tx}x.order_id = m.id
              WHERE {mine}),
             (SELECT {deputies} FROM deputies d
              JOIN employees s ON {ts}s.employee_id = d.supervisor
              JOIN employees p ON {tp}p.employee_id = d.deputy
              WHERE {td}d.deputy = $1 AND d.from_date <= $7 AND d.to_date >= $7),
             (SELECT {person} FROM employees e WHERE {te}e.employee_id = $1)"
    )
}

// The arrays' rows, decoded by position (serde reads a struct from a JSON array in field
// order), each string allocated once and moved into the page's row.

#[derive(Deserialize)]
struct OrderJson {
    id: i64,
    date: String,
    start_min: i64,
    end_min: i64,
    content: String,
    approved_by: Option<String>,
    shifted: i64,
    leave_spans: String,
    status: String,
    holiday_ok: i64,
    deputy_by: Option<String>,
    division_by: Option<String>,
    approved_at: Option<i64>,
    requested_by: Option<String>,
    requested_at: Option<i64>,
    sent_back_reason: Option<String>,
    sent_back_by: Option<String>,
    sent_back_at: Option<i64>,
    division_at: Option<i64>,
    division_deputy: Option<String>,
}

#[derive(Deserialize)]
struct ReportJson {
    id: i64,
    order_id: Option<i64>,
    employee_id: Option<String>,
    sender: String,
    kind: String,
    reason: String,
    source: String,
    received_at: i64,
    leave_noted: i64,
    incident: i64,
    summary: String,
    subject: String,
}

#[derive(Deserialize)]
struct EscalationJson {
    order_id: i64,
    kind: String,
    step: i64,
    recipients: String,
    fired_at: i64,
    status: String,
    resolved_at: Option<i64>,
    resolution: Option<String>,
    repeat_no: i64,
    /// Only to sort by (`fired_at`, `id`), as the escalation steps are everywhere.
    id: i64,
}

#[derive(Deserialize)]
struct DeputyJson {
    id: i64,
    supervisor: String,
    supervisor_name: String,
    department: String,
    deputy: String,
    deputy_name: String,
    from: String,
    to: String,
    supervisor_role: String,
}

impl OrderJson {
    fn row(self, employee: &str, (name, department): &(String, String)) -> RegisterRow {
        RegisterRow {
            order: OrderRow {
                id: self.id,
                employee_id: employee.to_string(),
                date: day(&self.date),
                start: crate::calendar::Minutes(self.start_min as u32),
                end: crate::calendar::Minutes(self.end_min as u32),
                content: self.content,
                approved_by: self.approved_by,
                shifted: self.shifted != 0,
                leave: crate::order::parse_leave(&self.leave_spans).unwrap_or_default(),
                status: crate::order::OrderStatus::from_stored(&self.status),
                employee_name: name.clone(),
                department: department.clone(),
                holiday_ok: self.holiday_ok != 0,
                deputy_by: self.deputy_by.clone(),
                division_by: self.division_by.clone(),
            },
            approved_at: self.approved_at.map(super::instant),
            requested_by: self.requested_by,
            requested_at: self.requested_at.map(super::instant),
            sent_back_reason: self.sent_back_reason,
            sent_back_by: self.sent_back_by,
            sent_back_at: self.sent_back_at.map(super::instant),
            deputy_by: self.deputy_by,
            division_by: self.division_by,
            division_at: self.division_at.map(super::instant),
            division_deputy: self.division_deputy,
        }
    }
}

impl From<ReportJson> for ReportRow {
    fn from(r: ReportJson) -> Self {
        ReportRow {
            // As `reports::board_report`: a name this version does not know reads as the
            // defaults (unclassified, unparseable).
            id: r.id,
            order_id: r.order_id,
            employee_id: r.employee_id,
            sender: r.sender,
            kind: crate::classify::Kind::parse(&r.kind).unwrap_or_default(),
            reason: crate::report::Reason::parse(&r.reason).unwrap_or_default(),
            source: r.source,
            received_at: super::instant(r.received_at),
            leave_noted: r.leave_noted != 0,
            incident: r.incident != 0,
            summary: r.summary,
            subject: r.subject,
        }
    }
}

impl From<EscalationJson> for EscalationRow {
    fn from(x: EscalationJson) -> Self {
        // As `escalations::board_escalation`.
        EscalationRow {
            order_id: x.order_id,
            kind: x.kind,
            step: x.step,
            to: x
                .recipients
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            at: super::instant(x.fired_at),
            status: match (x.resolved_at, x.resolution) {
                (Some(_), Some(h)) => format!("resolved_{h}"),
                _ => x.status,
            },
            repeat: x.repeat_no,
        }
    }
}

impl From<DeputyJson> for Deputy {
    fn from(d: DeputyJson) -> Self {
        Deputy {
            id: d.id,
            supervisor: d.supervisor,
            supervisor_name: d.supervisor_name,
            supervisor_role: d.supervisor_role,
            department: d.department,
            deputy: d.deputy,
            deputy_name: d.deputy_name,
            from: day(&d.from),
            to: day(&d.to),
        }
    }
}

/// One column's array, decoded. A column that is not one is the database's doing (a value of
/// another type than the schema's), reported as a decoding error that names the column.
fn decode<'a, J: Deserialize<'a>>(what: &str, text: &'a str) -> Result<Vec<J>> {
    super::json_rows(&format!("自分の在宅勤務's {what}"), text)
}

impl Store {
    /// `q`'s rows, in one statement on one connection.
    pub async fn person_rows(&self, q: &PersonQuery<'_>) -> Result<PersonRows> {
        static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = match self.backend {
            Backend::Sqlite => SQLITE.get_or_init(|| statement(Backend::Sqlite)),
            Backend::Postgres => POSTGRES.get_or_init(|| statement(Backend::Postgres)),
        };
        let first = q.orders.0.min(q.month.0).min(q.day);
        let last = q.orders.1.max(q.month.1).max(q.day);
        let row = sqlx::query(sql)
            .bind(q.employee)
            .bind(first.to_string())
            .bind(last.to_string())
            .bind(q.month.0.to_string())
            .bind(q.month.1.to_string())
            .bind(q.day.to_string())
            .bind(q.today.to_string())
            .bind(q.orders.0.to_string())
            .bind(q.orders.1.to_string())
            .fetch_one(&mut *self.conn().await?)
            .await?;
        let text = |i: usize| -> Result<String> { Ok(row.try_get::<String, _>(i)?) };
        let mut orders = decode::<OrderJson>("orders", &text(0)?)?;
        let mut reports = decode::<ReportJson>("reports", &text(1)?)?;
        let mut unmatched = decode::<ReportJson>("unmatched mail", &text(2)?)?;
        let mut escalations = decode::<EscalationJson>("escalation steps", &text(3)?)?;
        let mut deputies = decode::<DeputyJson>("deputies", &text(4)?)?;
        // No such employee: no orders, as when they were joined to the employee's row.
        let who: Option<(String, String)> = match row.try_get::<Option<String>, _>(5)? {
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| {
                Error::Db(sqlx::Error::Decode(
                    format!("自分の在宅勤務's name: {e}").into(),
                ))
            })?),
            None => None,
        };
        if self.backend == Backend::Sqlite {
            // The order `array_of` leaves to us on SQLite, as its `ORDER BY` gave it: text
            // compared byte by byte (its BINARY collation); every key is unique.
            orders.sort_unstable_by(|a, b| a.date.cmp(&b.date));
            let by_arrival =
                |a: &ReportJson, b: &ReportJson| (a.received_at, a.id).cmp(&(b.received_at, b.id));
            reports.sort_unstable_by(by_arrival);
            unmatched.sort_unstable_by(by_arrival);
            escalations.sort_unstable_by_key(|x| (x.fired_at, x.id));
            deputies.sort_unstable_by(|a, b| (&a.supervisor, a.id).cmp(&(&b.supervisor, b.id)));
        }
        Ok(PersonRows {
            orders: match &who {
                Some(who) => orders.into_iter().map(|o| o.row(q.employee, who)).collect(),
                None => Vec::new(),
            },
            reports: reports.into_iter().map(Into::into).collect(),
            unmatched: unmatched.into_iter().map(Into::into).collect(),
            escalations: escalations.into_iter().map(Into::into).collect(),
            deputyships: deputies.into_iter().map(Into::into).collect(),
        })
    }
}
