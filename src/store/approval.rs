//! Queries of the approval routes (SPEC §11, issue 18): sending a draft back (差戻し) and its
//! resubmission, deputies (代決), the second step (部長). Each change writes its audit entry in
//! the caller's transaction; a change conditioned on the order's status (an UPDATE … WHERE
//! status = …) happens once even when two people press the button at the same moment.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::audit::{self, Actor, Change};
use super::{Tx, day, order_before, order_entity_id};
use crate::error::Result;
use crate::order::{OrderStatus, WorkOrder};

/// Sends the order `id` back with `reason` when its status is still `from`: a draft (the
/// supervisor's send-back) or one the supervisor stamped (the division head's, whose send-back
/// voids that stamp: the order is stamped again after it is resubmitted). Returns the order's
/// (employee, date) when it is now sent back; `None` when its status had moved on (approved,
/// cancelled, sent back by someone else), and then nothing changed.
pub async fn send_back(
    tx: &mut Tx<'_>,
    id: i64,
    from: OrderStatus,
    reason: &str,
    by: &str,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Option<(String, NaiveDate)>> {
    let now = super::epoch(now);
    let key = sqlx::query("SELECT employee_id, date FROM orders WHERE id = $1 AND status = $2")
        .bind(id)
        .bind(from.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(k) = key else { return Ok(None) };
    let (employee, date): (String, String) = (k.get(0), k.get(1));
    let date = day(&date);
    let (before, department) = order_before(tx, &employee, date).await?;
    let n = sqlx::query(
        "UPDATE orders SET status = 'sent_back', sent_back_reason = $1, sent_back_by = $2,
             sent_back_at = $3, approved_by = NULL, approved_at = NULL, deputy_by = NULL
         WHERE id = $4 AND status = $5",
    )
    .bind(reason)
    .bind(by)
    .bind(now)
    .bind(id)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Ok(None);
    }
    let (after, _) = order_before(tx, &employee, date).await?;
    let after = after.map(|mut a| {
        a["reason"] = reason.into();
        a
    });
    let change = Change {
        entity: "order",
        entity_id: order_entity_id(&employee, date),
        department,
        action: "send_back",
        before,
        after,
    };
    audit::append(tx, actor, now, &[change]).await?;
    Ok(Some((employee, date)))
}

/// The teleworker's edit of an order sent back to them: it is a draft again, with the new
/// fields, and the reason is cleared. False when it is not (or no longer) sent back.
pub async fn resubmit(
    tx: &mut Tx<'_>,
    o: &WorkOrder,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<bool> {
    let now = super::epoch(now);
    let (before, department) = order_before(tx, &o.employee, o.date).await?;
    let leave = crate::order::format_leave(&o.leave);
    let n = sqlx::query(
        "UPDATE orders SET start_min = $1, end_min = $2, content = $3, shifted = $4, leave_spans = $5,
             holiday_ok = $6, status = 'draft', requested_by = $7, requested_at = $8,
             sent_back_reason = NULL, sent_back_by = NULL, sent_back_at = NULL
         WHERE employee_id = $9 AND date = $10 AND status = 'sent_back'",
    )
    .bind(i64::from(o.start.0))
    .bind(i64::from(o.end.0))
    .bind(&o.content)
    .bind(o.shifted as i64)
    .bind(&leave)
    .bind(o.holiday_ok as i64)
    .bind(&o.employee)
    .bind(now)
    .bind(&o.employee)
    .bind(o.date.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Ok(false);
    }
    let (after, _) = order_before(tx, &o.employee, o.date).await?;
    let change = Change {
        entity: "order",
        entity_id: order_entity_id(&o.employee, o.date),
        department,
        action: "resubmit",
        before,
        after,
    };
    audit::append(tx, actor, now, &[change]).await?;
    Ok(true)
}

/// A supervisor's deputy (代決者) over a range of days, both ends included.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deputy {
    pub id: i64,
    pub supervisor: String,
    pub supervisor_name: String,
    /// `supervisor` or `division_head`: which step the deputy stamps.
    pub supervisor_role: String,
    /// The supervisor's department: the orders the deputy may approve.
    pub department: String,
    pub deputy: String,
    pub deputy_name: String,
    #[serde(serialize_with = "day_text")]
    pub from: NaiveDate,
    #[serde(serialize_with = "day_text")]
    pub to: NaiveDate,
}

/// A day as JSON: `YYYY-MM-DD`.
fn day_text<S: serde::Serializer>(d: &NaiveDate, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(d)
}

const DEPUTY_SELECT: &str = "SELECT d.id, d.supervisor, s.name, s.department, d.deputy, p.name,
    d.from_date, d.to_date, s.role
    FROM deputies d JOIN employees s ON s.employee_id = d.supervisor
    JOIN employees p ON p.employee_id = d.deputy";

fn deputy_row(r: &sqlx::any::AnyRow) -> Deputy {
    Deputy {
        id: r.get(0),
        supervisor: r.get(1),
        supervisor_name: r.get(2),
        department: r.get(3),
        deputy: r.get(4),
        deputy_name: r.get(5),
        from: day(&r.get::<String, _>(6)),
        to: day(&r.get::<String, _>(7)),
        supervisor_role: r.get(8),
    }
}

impl super::Store {
    /// Names `deputy` for `supervisor` from `from` to `to`, with its audit entry.
    pub async fn add_deputy(
        &self,
        supervisor: &str,
        deputy: &str,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<i64> {
        let now = super::epoch(now);
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO deputies (supervisor, deputy, from_date, to_date, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(supervisor)
        .bind(deputy)
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let department: Option<String> =
            sqlx::query_scalar("SELECT department FROM employees WHERE employee_id = $1")
                .bind(supervisor)
                .fetch_optional(&mut *tx)
                .await?;
        let change = Change {
            entity: "deputy",
            entity_id: id.to_string(),
            department,
            action: "create",
            before: None,
            after: Some(serde_json::json!({
                "supervisor": supervisor, "deputy": deputy,
                "from": from.to_string(), "to": to.to_string(),
            })),
        };
        audit::append(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every deputy named, by supervisor and first day.
    pub async fn deputies(&self) -> Result<Vec<Deputy>> {
        let rows = sqlx::query(&format!(
            "{DEPUTY_SELECT} ORDER BY d.supervisor, d.from_date, d.id"
        ))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(deputy_row).collect())
    }

    /// Whom `deputy` stands in for on `on`.
    pub async fn deputyships(&self, deputy: &str, on: NaiveDate) -> Result<Vec<Deputy>> {
        let rows = sqlx::query(&format!(
            "{DEPUTY_SELECT} WHERE d.deputy = $1 AND d.from_date <= $2 AND d.to_date >= $2
             ORDER BY d.supervisor"
        ))
        .bind(deputy)
        .bind(on.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(deputy_row).collect())
    }
}

/// The second step (部長): the order `id`, stamped by its supervisor, is approved by the division
/// head `by` (or by `deputy` for them, 代決). False when it was not waiting for this step (any
/// more), and then nothing changed.
pub async fn approve_division(
    tx: &mut Tx<'_>,
    id: i64,
    by: &str,
    deputy: Option<&str>,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<bool> {
    let now = super::epoch(now);
    let key = sqlx::query(
        "UPDATE orders SET status = 'approved', division_by = $1, division_at = $2,
             division_deputy = $3
         WHERE id = $4 AND status = 'reviewed' RETURNING employee_id, date",
    )
    .bind(by)
    .bind(now)
    .bind(deputy)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(k) = key else { return Ok(false) };
    let (employee, date): (String, String) = (k.get(0), k.get(1));
    let date = day(&date);
    let (after, department) = order_before(tx, &employee, date).await?;
    let before = after.clone().map(|mut b| {
        b["status"] = "reviewed".into();
        b
    });
    let after = after.map(|mut a| {
        a["division_by"] = by.into();
        if let Some(d) = deputy {
            a["deputy"] = d.into();
        }
        a
    });
    let change = Change {
        entity: "order",
        entity_id: order_entity_id(&employee, date),
        department,
        action: "approve",
        before,
        after,
    };
    audit::append(tx, actor, now, &[change]).await?;
    Ok(true)
}

impl super::Store {
    /// Orders stamped by their supervisor and waiting for the division head, from a day on.
    pub async fn awaiting_division(&self, from: NaiveDate) -> Result<Vec<super::web::RegisterRow>> {
        self.register_where("o.status = 'reviewed' AND o.date >= $1", from)
            .await
    }
}
