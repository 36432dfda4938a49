//! Queries about reports: the day's reports for the board, and storing a processed message
//! together with the mail it causes (one transaction, so a crash never leaves one without the
//! other).

use chrono::NaiveDate;
use sqlx::Row;

use super::{Store, Tx};
use crate::board::ReportRow;
use crate::error::Result;

/// A processed message, ready to store.
#[derive(Debug, Clone, Default)]
pub struct NewReport {
    pub message_key: String,
    pub message_id: Option<String>,
    pub source: String,
    pub received_at: i64,
    pub date_header: Option<i64>,
    pub day: String,
    pub sender: String,
    pub employee_id: Option<String>,
    pub kind: String,
    pub reason: String,
    pub order_id: Option<i64>,
    pub leave_noted: bool,
    pub incident: bool,
    pub subject: String,
    pub summary: String,
    /// Kept only for mail we could not use, so that IT can look at it.
    pub raw: Option<Vec<u8>>,
    /// The supervisor who recorded a phone contact.
    pub recorded_by: Option<String>,
}

impl Store {
    pub async fn reports_on(&self, date: NaiveDate) -> Result<Vec<ReportRow>> {
        let rows = sqlx::query(
            "SELECT id, order_id, employee_id, sender, kind, reason, source, received_at, leave_noted, incident,
                    summary, subject
             FROM reports WHERE day = $1 ORDER BY received_at, id",
        )
        .bind(date.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| ReportRow {
                id: r.get(0),
                order_id: r.get(1),
                employee_id: r.get(2),
                sender: r.get(3),
                kind: r.get(4),
                reason: r.get(5),
                source: r.get(6),
                received_at: r.get(7),
                leave_noted: r.get::<i64, _>(8) != 0,
                incident: r.get::<i64, _>(9) != 0,
                summary: r.get(10),
                subject: r.get(11),
            })
            .collect())
    }

    pub async fn seen_message(&self, key: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reports WHERE message_key = $1")
            .bind(key)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }
}

/// Inserts the report unless its message was processed before; `None` for a duplicate.
pub async fn insert_report(tx: &mut Tx<'_>, r: &NewReport) -> Result<Option<i64>> {
    Ok(insert_reports(tx, &[r]).await?.get(&r.message_key).copied())
}

/// Inserts a batch of reports, several rows per statement. Returns the id of each report that
/// was new, by message key; a message processed before is left out (a duplicate).
pub async fn insert_reports(
    tx: &mut Tx<'_>,
    reports: &[&NewReport],
) -> Result<std::collections::HashMap<String, i64>> {
    let mut ids = std::collections::HashMap::with_capacity(reports.len());
    // 17 values a row: well inside SQLite's 32,766 variables a statement.
    for chunk in reports.chunks(500) {
        let sql = super::multi_row_insert(
            tx,
            "INSERT INTO reports (message_key, message_id, source, received_at, date_header, day, sender, employee_id,
                                  kind, reason, order_id, leave_noted, incident, subject, summary, raw, recorded_by)",
            17,
            chunk.len(),
            "ON CONFLICT (message_key) DO NOTHING RETURNING id, message_key",
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(&r.message_key)
                .bind(r.message_id.clone())
                .bind(&r.source)
                .bind(r.received_at)
                .bind(r.date_header)
                .bind(&r.day)
                .bind(&r.sender)
                .bind(r.employee_id.clone())
                .bind(&r.kind)
                .bind(&r.reason)
                .bind(r.order_id)
                .bind(r.leave_noted as i64)
                .bind(r.incident as i64)
                .bind(&r.subject)
                .bind(&r.summary)
                .bind(r.raw.clone())
                .bind(r.recorded_by.clone());
        }
        for row in q.fetch_all(&mut **tx).await? {
            ids.insert(row.get::<String, _>(1), row.get::<i64, _>(0));
        }
    }
    Ok(ids)
}
