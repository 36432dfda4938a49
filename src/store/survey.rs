//! The queries behind a J-LIS survey (`survey::compile`). Counting that needs no rule is done
//! here in SQL (escalations by kind); the approved orders of the period come back as compact
//! rows, one per order, streamed so that a million of them never sit in memory at once, for
//! `survey` to judge with the timing rules.

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Backend, Store};
use crate::error::{Error, Result};

/// One approved order with the arrival of its first matched start report and last matched end
/// report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFacts<'a> {
    pub employee_id: &'a str,
    /// `YYYY-MM-DD`, as stored.
    pub date: &'a str,
    pub start_min: i64,
    pub end_min: i64,
    /// `13:00-15:00;16:00-17:00`, empty when no hourly leave.
    pub leave_spans: &'a str,
    pub first_start: Option<DateTime<Utc>>,
    pub last_end: Option<DateTime<Utc>>,
}

/// Escalations of one kind whose day is in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationCount {
    pub kind: String,
    /// Distinct chains (an order's missing start, a report's incident notice …).
    pub cases: i64,
    /// Steps whose mail was sent (not those recorded as expired).
    pub steps_sent: i64,
    /// Chains a supervisor resolved (a reply, a phone contact).
    pub resolved: i64,
}

// The orders come back one row per day, each order packed into a record
// `start end first_start last_end leave<US>employee_id` and the records joined with RS (the
// ASCII unit and record separators, which no ID or leave span holds). A row per order would cost
// more in the driver (about a microsecond per column and row) than the whole query costs SQLite.
// Phone contacts are reports too (source `phone`), so they count as received.
const ORDERS_SQLITE: &str = "SELECT o.date, COUNT(*), group_concat(
        CAST(o.start_min AS TEXT) || ' ' || CAST(o.end_min AS TEXT) || ' ' ||
        (SELECT COALESCE(CAST(MIN(CASE WHEN r.kind = 'start' THEN r.received_at END) AS TEXT), '-')
                || ' ' || COALESCE(CAST(MAX(CASE WHEN r.kind = 'end' THEN r.received_at END) AS TEXT), '-')
           FROM reports r WHERE r.order_id = o.id AND r.reason = 'matched')
        || ' ' || o.leave_spans || char(31) || o.employee_id, char(30))
    FROM orders o WHERE o.status = 'approved' AND o.date >= $1 AND o.date <= $2
    GROUP BY o.date";

const ORDERS_POSTGRES: &str = "SELECT o.date, COUNT(*), string_agg(
        CAST(o.start_min AS TEXT) || ' ' || CAST(o.end_min AS TEXT) || ' ' ||
        COALESCE(CAST(r.first_start AS TEXT), '-') || ' ' || COALESCE(CAST(r.last_end AS TEXT), '-')
        || ' ' || o.leave_spans || chr(31) || o.employee_id, chr(30))
    FROM orders o LEFT JOIN (
        SELECT order_id,
               MIN(CASE WHEN kind = 'start' THEN received_at END) AS first_start,
               MAX(CASE WHEN kind = 'end' THEN received_at END) AS last_end
        FROM reports
        WHERE reason = 'matched' AND kind IN ('start', 'end') AND order_id IS NOT NULL
          AND day >= $1 AND day <= $2
        GROUP BY order_id) r ON r.order_id = o.id
    WHERE o.status = 'approved' AND o.date >= $1 AND o.date <= $2
    GROUP BY o.date";

/// The orders of one day, as packed by the queries above.
fn unpack<'a>(
    date: &'a str,
    packed: &'a str,
    count: i64,
    each: &mut impl FnMut(OrderFacts<'a>),
) -> Result<()> {
    let bad = |what: &str| {
        Error::Db(sqlx::Error::Protocol(format!(
            "survey: orders of {date}: {what}"
        )))
    };
    let mut n = 0;
    for record in packed.split('\x1e') {
        let (head, employee_id) = record
            .split_once('\x1f')
            .ok_or_else(|| bad("a record without an employee"))?;
        let mut f = head.splitn(5, ' ');
        let mut num = |opt: bool| -> Result<Option<i64>> {
            match f.next() {
                Some("-") if opt => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| bad(&format!("expected a number, got {v:?}"))),
                None => Err(bad("a short record")),
            }
        };
        let (start_min, end_min) = (num(false)?.unwrap_or(0), num(false)?.unwrap_or(0));
        // Epoch seconds as stored; one out of chrono's range counts as no report.
        let at = |t: Option<i64>| t.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0));
        let (first_start, last_end) = (at(num(true)?), at(num(true)?));
        let leave_spans = f.next().ok_or_else(|| bad("a short record"))?;
        each(OrderFacts {
            employee_id,
            date,
            start_min,
            end_min,
            leave_spans,
            first_start,
            last_end,
        });
        n += 1;
    }
    if n != count {
        // Only an employee ID holding a separator character could do this.
        return Err(bad(&format!("expected {count} orders, unpacked {n}")));
    }
    Ok(())
}

impl Store {
    /// Every employee in the register (active or not) with their department: whom the survey
    /// counts under which department. One statement, where `employees()` needs three.
    pub async fn survey_staff(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT employee_id, department FROM employees")
                .fetch_all(&mut *self.conn().await?)
                .await?,
        )
    }

    /// How many approved orders the period holds (for a progress bar).
    pub async fn survey_order_count(&self, from: NaiveDate, to: NaiveDate) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE status = 'approved' AND date >= $1 AND date <= $2",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(n.max(0) as u64)
    }

    /// Calls `each` for every approved order of `from..=to`, day by day.
    pub async fn survey_orders(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        mut each: impl FnMut(OrderFacts<'_>),
    ) -> Result<()> {
        // SQLite answers the correlated look-up from the covering index of 0003_survey;
        // PostgreSQL would run it once per order, so it gets one aggregate and a hash join.
        let sql = match self.backend {
            Backend::Sqlite => ORDERS_SQLITE,
            Backend::Postgres => ORDERS_POSTGRES,
        };
        let mut conn = self.conn().await?;
        // Not kept prepared: PostgreSQL plans a kept statement for any tenant and period after
        // five runs (a generic plan), and guessed that a year of a city's reports was a few
        // rows, read them through `reports_day` one heap page each (1 s a city instead of
        // 30 ms). Planned for its own values each time, it costs a millisecond more.
        let mut rows = sqlx::query(sql)
            .persistent(false)
            .bind(from.to_string())
            .bind(to.to_string())
            .fetch(&mut *conn);
        while let Some(r) = rows.try_next().await? {
            let date: String = r.get(0);
            let count: i64 = r.get(1);
            let packed: String = r.get(2);
            unpack(&date, &packed, count, &mut each)?;
        }
        Ok(())
    }

    /// Escalations by kind whose day is in `from..=to`.
    pub async fn survey_escalations(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EscalationCount>> {
        // A chain is the steps of one order (or one report) and kind; COALESCE keeps the
        // grouping the same on both backends, where NULLs would otherwise group differently.
        let rows = sqlx::query(
            "SELECT kind, COUNT(*), CAST(SUM(sent) AS BIGINT), CAST(SUM(resolved) AS BIGINT) FROM (
                SELECT kind, COALESCE(order_id, -1) AS o, COALESCE(report_id, -1) AS r,
                       SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS sent,
                       MAX(CASE WHEN resolved_at IS NULL THEN 0 ELSE 1 END) AS resolved
                FROM escalations WHERE day >= $1 AND day <= $2
                GROUP BY kind, COALESCE(order_id, -1), COALESCE(report_id, -1)) chains
             GROUP BY kind ORDER BY kind",
        )
        .persistent(false)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .iter()
            .map(|r| EscalationCount {
                kind: r.get(0),
                cases: r.get(1),
                steps_sent: r.get(2),
                resolved: r.get(3),
            })
            .collect())
    }
}
