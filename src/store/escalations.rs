//! Queries about escalation steps, phone contacts and digests.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{Store, Tx};
use crate::board::EscalationRow;
use crate::error::Result;

#[derive(Debug, Clone, Default)]
pub struct NewEscalation {
    pub key: String,
    pub order_id: Option<i64>,
    pub report_id: Option<i64>,
    pub day: String,
    pub kind: String,
    pub step: i64,
    pub due_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    pub recipients: Vec<String>,
    pub status: crate::escalation::StepStatus,
    pub message_id: Option<String>,
    /// 0 for a step's first sending; 1, 2, … for its repeats (`repeat_minutes`).
    pub repeat_no: i64,
}

/// What the chains need to know about the orders of some days.
#[derive(Debug, Default)]
pub struct ChainFacts {
    /// (order id, report kind) pairs that have a matched report.
    pub reported: HashSet<(i64, String)>,
    /// (order id, chain kind) → steps recorded.
    pub fired: HashMap<(i64, String), HashSet<u32>>,
    /// (order id, chain kind) → step → its last repeat recorded.
    pub repeated: HashMap<(i64, String), HashMap<u32, u32>>,
    /// (order id, chain kind) resolved by a supervisor.
    pub resolved: HashSet<(i64, String)>,
}

const BOARD_ESCALATIONS: &str =
    "SELECT order_id, kind, step, recipients, fired_at, status, resolved_at, resolution,
    repeat_no FROM escalations";

fn board_escalation(r: &sqlx::any::AnyRow) -> EscalationRow {
    let resolved: Option<i64> = r.get(6);
    let how: Option<String> = r.get(7);
    EscalationRow {
        order_id: r.get(0),
        kind: r.get(1),
        step: r.get(2),
        to: r
            .get::<String, _>(3)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        at: super::instant(r.get(4)),
        status: match (resolved, how) {
            (Some(_), Some(h)) => format!("resolved_{h}"),
            _ => r.get(5),
        },
        repeat: r.get(8),
    }
}

impl Store {
    pub async fn chain_facts(&self, from: NaiveDate, to: NaiveDate) -> Result<ChainFacts> {
        let mut f = ChainFacts::default();
        let rows = sqlx::query(
            "SELECT DISTINCT order_id, kind FROM reports
             WHERE day >= $1 AND day <= $2 AND reason = 'matched' AND order_id IS NOT NULL",
        )
        .persistent(super::KEEP_POLLED)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        for r in rows {
            f.reported.insert((r.get(0), r.get(1)));
        }
        let rows = sqlx::query(
            "SELECT order_id, kind, step, resolved_at, repeat_no FROM escalations
             WHERE day >= $1 AND day <= $2 AND order_id IS NOT NULL",
        )
        .persistent(super::KEEP_POLLED)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        for r in rows {
            let key: (i64, String) = (r.get(0), r.get(1));
            f.fired
                .entry(key.clone())
                .or_default()
                .insert(r.get::<i64, _>(2) as u32);
            let repeat = r.get::<i64, _>(4) as u32;
            if repeat > 0 {
                let last = f
                    .repeated
                    .entry(key.clone())
                    .or_default()
                    .entry(r.get::<i64, _>(2) as u32)
                    .or_default();
                *last = (*last).max(repeat);
            }
            if r.get::<Option<i64>, _>(3).is_some() {
                f.resolved.insert(key);
            }
        }
        Ok(f)
    }

    pub async fn escalations_on(&self, date: NaiveDate) -> Result<Vec<EscalationRow>> {
        let rows = sqlx::query(&format!(
            "{BOARD_ESCALATIONS} WHERE day = $1 AND order_id IS NOT NULL ORDER BY fired_at, id"
        ))
        .persistent(super::KEEP_POLLED)
        .bind(date.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(board_escalation).collect())
    }

    /// The steps of some orders (a person's month).
    pub async fn escalations_of_orders(&self, orders: &[i64]) -> Result<Vec<EscalationRow>> {
        let mut out = Vec::new();
        for chunk in orders.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "{BOARD_ESCALATIONS} WHERE order_id IN ({}) ORDER BY fired_at, id",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(
                q.fetch_all(&mut *self.conn().await?)
                    .await?
                    .iter()
                    .map(board_escalation),
            );
        }
        Ok(out)
    }

    /// Steps recorded as failed (their mail could not be made), by chain kind.
    pub async fn escalations_failed(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) FROM escalations WHERE status = 'failed' GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

/// The open escalation an answered mail belongs to: (order id, chain kind, department), read
/// on the caller's connection (the ingest's transaction: see `store::orders_for`).
pub async fn escalation_by_message_id(
    conn: &mut sqlx::AnyConnection,
    ids: &[String],
) -> Result<Option<(i64, String, String)>> {
    for id in ids {
        let row = sqlx::query(
            "SELECT x.order_id, x.kind, e.department FROM escalations x
             JOIN orders o ON o.id = x.order_id JOIN employees e ON e.employee_id = o.employee_id
             WHERE x.message_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = row {
            return Ok(Some((r.get(0), r.get(1), r.get(2))));
        }
    }
    Ok(None)
}

/// Records a step; `None` when another tick or daemon recorded it first (then send nothing).
pub async fn insert_escalation(tx: &mut Tx<'_>, e: &NewEscalation) -> Result<Option<i64>> {
    Ok(insert_escalations(tx, std::slice::from_ref(e))
        .await?
        .into_iter()
        .next())
}

/// Marks a step just recorded as failed, with why (its mail could not be made): the board
/// shows it, and the chain goes on to its next step at that one's time.
pub async fn set_failed(tx: &mut Tx<'_>, id: i64, error: &str) -> Result<()> {
    sqlx::query("UPDATE escalations SET status = $3, error = $1 WHERE id = $2")
        .bind(error)
        .bind(id)
        .bind(crate::escalation::StepStatus::Failed.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks every step of an order's chain resolved (by a reply or a phone contact).
pub async fn resolve(
    tx: &mut Tx<'_>,
    order_id: i64,
    kind: &str,
    by: &str,
    how: &str,
    at: i64,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE escalations SET resolved_at = $1, resolved_by = $2, resolution = $3
         WHERE order_id = $4 AND kind = $5 AND resolved_at IS NULL",
    )
    .bind(at)
    .bind(by)
    .bind(how)
    .bind(order_id)
    .bind(kind)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// `resolve`, and when it resolved a step, the audit entry (entity `escalation`, ID
/// `E1001:2021-01-12:missing_start`: the order's employee and day, and the chain) in the same
/// transaction. `by` and `how` are the supervisor and the way (`reply`, `phone`, `web`); the
/// actor is whoever made the change (the web user, the CLI's user, the sender of a mail or a
/// chat message the bot acted on).
pub async fn resolve_audited(
    tx: &mut Tx<'_>,
    order_id: i64,
    kind: &str,
    (by, how): (&str, &str),
    at: DateTime<Utc>,
    actor: &super::audit::Actor,
) -> Result<u64> {
    let at = super::epoch(at);
    let n = resolve(tx, order_id, kind, by, how, at).await?;
    if n == 0 {
        return Ok(0);
    }
    let order = sqlx::query(
        "SELECT o.employee_id, o.date, e.department FROM orders o
         JOIN employees e ON e.employee_id = o.employee_id WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?;
    let (entity_id, department) = match order {
        Some(r) => (
            format!(
                "{}:{kind}",
                super::order_entity_id(&r.get::<String, _>(0), super::day(&r.get::<String, _>(1)))
            ),
            r.get(2),
        ),
        None => (format!("{order_id}:{kind}"), None),
    };
    let change = super::audit::Change {
        entity: "escalation",
        entity_id,
        department,
        action: "resolve",
        before: Some(serde_json::json!({"status": "open", "steps": n})),
        after: Some(serde_json::json!({
            "status": "resolved", "steps": n, "resolved_by": by, "resolution": how,
        })),
    };
    super::audit::append(tx, actor, at, &[change]).await?;
    Ok(n)
}

/// Claims a digest slot for a department; false when it was sent before.
pub async fn claim_digest(
    tx: &mut Tx<'_>,
    day: &str,
    slot: &str,
    department: &str,
    now: DateTime<Utc>,
    message_id: &str,
) -> Result<bool> {
    let now = super::epoch(now);
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO digests (day, slot, department, sent_at, message_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(day)
    .bind(slot)
    .bind(department)
    .bind(now)
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(id.is_some())
}

/// Records escalations, several rows per statement; returns the ids of the rows that were
/// new (a key recorded before, by this or another process, is skipped).
pub async fn insert_escalations(tx: &mut Tx<'_>, list: &[NewEscalation]) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(list.len());
    for chunk in list.chunks(500) {
        let sql = super::multi_row_insert(
            tx,
            "INSERT INTO escalations (key, order_id, report_id, day, kind, step, due_at, fired_at, recipients, status, message_id,
                                      repeat_no)",
            12,
            chunk.len(),
            "ON CONFLICT DO NOTHING RETURNING id",
        );
        let mut q =
            sqlx::query_scalar::<_, i64>(&sql).persistent(super::keep_prepared(chunk.len(), 500));
        for e in chunk {
            q = q
                .bind(&e.key)
                .bind(e.order_id)
                .bind(e.report_id)
                .bind(&e.day)
                .bind(&e.kind)
                .bind(e.step)
                .bind(super::epoch(e.due_at))
                .bind(super::epoch(e.fired_at))
                .bind(e.recipients.join(","))
                .bind(e.status.as_str())
                .bind(e.message_id.clone())
                .bind(e.repeat_no);
        }
        ids.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(ids)
}
