//! The queries behind a J-LIS survey (`survey::compile`). Counting that needs no rule is done
//! here in SQL (escalations by kind); the approved orders of the period come back as compact
//! rows, one per order, streamed so that a million of them never sit in memory at once, for
//! `survey` to judge with the timing rules.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Backend, Store};
use crate::error::Result;

/// One approved order with the arrival of its first matched start report and last matched end
/// report (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub employee_id: String,
    /// `YYYY-MM-DD`, as stored.
    pub date: String,
    pub start_min: i64,
    pub end_min: i64,
    /// `13:00-15:00;16:00-17:00`, empty when no hourly leave.
    pub leave_spans: String,
    pub first_start: Option<i64>,
    pub last_end: Option<i64>,
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

// Phone contacts are reports too (source `phone`), so they count as received.
const ORDERS_SQLITE: &str = "SELECT o.employee_id, o.date, o.start_min, o.end_min, o.leave_spans,
    (SELECT MIN(r.received_at) FROM reports r
      WHERE r.order_id = o.id AND r.kind = 'start' AND r.reason = 'matched'),
    (SELECT MAX(r.received_at) FROM reports r
      WHERE r.order_id = o.id AND r.kind = 'end' AND r.reason = 'matched')
    FROM orders o WHERE o.status = 'approved' AND o.date >= $1 AND o.date <= $2";

const ORDERS_POSTGRES: &str = "SELECT o.employee_id, o.date, o.start_min, o.end_min, o.leave_spans,
    r.first_start, r.last_end
    FROM orders o LEFT JOIN (
        SELECT order_id,
               MIN(CASE WHEN kind = 'start' THEN received_at END) AS first_start,
               MAX(CASE WHEN kind = 'end' THEN received_at END) AS last_end
        FROM reports
        WHERE reason = 'matched' AND kind IN ('start', 'end') AND order_id IS NOT NULL
          AND day >= $1 AND day <= $2
        GROUP BY order_id) r ON r.order_id = o.id
    WHERE o.status = 'approved' AND o.date >= $1 AND o.date <= $2";

impl Store {
    /// How many approved orders the period holds (for a progress bar).
    pub async fn survey_order_count(&self, from: NaiveDate, to: NaiveDate) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE status = 'approved' AND date >= $1 AND date <= $2",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(n.max(0) as u64)
    }

    /// Calls `each` for every approved order of `from..=to`, in no particular order.
    pub async fn survey_orders(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        mut each: impl FnMut(OrderFacts),
    ) -> Result<()> {
        // SQLite answers the two correlated look-ups from the covering index of 0003_survey;
        // PostgreSQL would run them once per order, so it gets one aggregate and a hash join.
        let sql = match self.backend {
            Backend::Sqlite => ORDERS_SQLITE,
            Backend::Postgres => ORDERS_POSTGRES,
        };
        let mut rows = sqlx::query(sql).bind(from.to_string()).bind(to.to_string()).fetch(self.pool());
        while let Some(r) = rows.try_next().await? {
            each(OrderFacts {
                employee_id: r.get(0),
                date: r.get(1),
                start_min: r.get(2),
                end_min: r.get(3),
                leave_spans: r.get(4),
                first_start: r.get(5),
                last_end: r.get(6),
            });
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
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
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
