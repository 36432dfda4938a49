//! Approval routes (SPEC §11, issue 18), the same for every front end: a draft sent back to its
//! teleworker (差戻し) with a mail in the same transaction, and the resubmission.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::template::Templates;
use crate::notice::Notice;
use crate::order::WorkOrder;
use crate::outbox::{self, OutMail};
use crate::store::audit::Actor;
use crate::store::web::RegisterRow;
use crate::store::{Employee, Role, Store};

/// 差戻しの理由: at most this many characters (it is mailed and shown on 自分の在宅勤務).
pub const REASON_CHARS: usize = 500;

/// The reason as typed, trimmed; refused when empty, too long or holding control characters
/// other than line breaks.
pub fn check_reason(reason: &str) -> Result<String> {
    let r = reason.trim().replace("\r\n", "\n");
    if r.is_empty() {
        return Err(Error::bad(
            "reason",
            "expected the reason for sending it back",
        ));
    }
    let n = r.chars().count();
    if n > REASON_CHARS {
        return Err(Error::bad(
            "reason",
            format!("expected at most {REASON_CHARS} characters, got {n}"),
        ));
    }
    if r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::bad(
            "reason",
            "expected text without control characters",
        ));
    }
    Ok(r)
}

/// Sends `r` (a draft, or an order waiting for the division head) back to its teleworker with
/// `reason` (already `check_reason`ed), and queues the mail that tells them, in one
/// transaction. False when its status had changed since `r` was read.
pub async fn send_back(
    store: &Store,
    cfg: &Config,
    r: &RegisterRow,
    reason: &str,
    by: &Employee,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<bool> {
    let Some(emp) = store.employee(&r.order.employee_id).await? else {
        return Ok(false);
    };
    let ctx = minijinja::context! {
        name => &emp.name,
        date => r.order.date.to_string(),
        start => r.order.start.to_string(),
        end => r.order.end.to_string(),
        content => &r.order.content,
        reason => reason,
        by_name => &by.name,
    };
    let text = Templates::layered(cfg.template_dirs()).render(Notice::SentBack.template(), ctx)?;
    let mut tx = store.begin().await?;
    let sent = crate::store::approval::send_back(
        &mut tx,
        r.order.id,
        r.order.status,
        reason,
        &by.employee_id,
        now,
        actor,
    )
    .await?;
    if sent.is_none() {
        return Ok(false);
    }
    let mail = OutMail::generated(
        Notice::SentBack.purpose(),
        format!("sent_back.{}.{}", r.order.id, now.timestamp()),
        emp.emails.first().cloned().into_iter().collect(),
        text,
    );
    outbox::enqueue(&mut tx, cfg, &mail, now).await?;
    tx.commit().await?;
    tracing::info!(order = r.order.id, employee = %emp.employee_id, by = %by.employee_id, "draft sent back");
    Ok(true)
}

/// The teleworker's edited order, a draft again. False when it was not sent back (any more).
pub async fn resubmit(
    store: &Store,
    o: &WorkOrder,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let done = crate::store::approval::resubmit(&mut tx, o, now, actor).await?;
    tx.commit().await?;
    Ok(done)
}

/// `zaitaku deputies add` and the supervisor's form: `deputy` may approve `supervisor`'s
/// department's orders from `from` to `to` (both included). Checked before anything is written.
pub async fn add_deputy(
    store: &Store,
    supervisor: &str,
    deputy: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<crate::store::approval::Deputy> {
    let sup = store.employee(supervisor).await?;
    let Some(sup) = sup.filter(|e| matches!(e.role, Role::Supervisor | Role::DivisionHead)) else {
        return Err(Error::bad(
            "--supervisor",
            format!(
                "expected the employee ID of a supervisor (所属長) or division head (部長), got {supervisor:?}"
            ),
        ));
    };
    let Some(dep) = store.employee(deputy).await? else {
        return Err(Error::bad(
            "--deputy",
            format!("expected a registered employee ID, got {deputy:?}"),
        ));
    };
    if dep.employee_id == sup.employee_id {
        return Err(Error::bad(
            "--deputy",
            format!("{deputy} cannot be their own deputy"),
        ));
    }
    if to < from {
        return Err(Error::bad(
            "--to",
            format!("expected a date on or after --from {from}, got {to}"),
        ));
    }
    let id = store
        .add_deputy(&sup.employee_id, &dep.employee_id, from, to, now, actor)
        .await?;
    Ok(crate::store::approval::Deputy {
        id,
        supervisor: sup.employee_id,
        supervisor_name: sup.name,
        supervisor_role: sup.role.as_str().into(),
        department: sup.department,
        deputy: dep.employee_id,
        deputy_name: dep.name,
        from,
        to,
    })
}

/// Who an approval by `who` on `day` is stamped as, for an order of `department`: their own
/// (a supervisor of it), or 代決 for a supervisor of it who named them deputy for that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The supervisor (決裁権者): `approved_by`.
    pub approver: String,
    /// Who pressed the button for them (代決), if not the supervisor.
    pub deputy: Option<String>,
}

pub async fn stamp_for(
    store: &Store,
    who: &Employee,
    department: &str,
    day: chrono::NaiveDate,
) -> Result<Option<Stamp>> {
    if who.role == Role::Supervisor && who.department == department {
        return Ok(Some(Stamp {
            approver: who.employee_id.clone(),
            deputy: None,
        }));
    }
    let ships = store.deputyships(&who.employee_id, day).await?;
    Ok(ships
        .into_iter()
        .find(|d| d.department == department && d.supervisor_role == Role::Supervisor.as_str())
        .map(|d| Stamp {
            approver: d.supervisor,
            deputy: Some(who.employee_id.clone()),
        }))
}

/// The departments of the division `who` heads (none unless they are a division head).
pub async fn division_departments(store: &Store, who: &Employee) -> Result<Vec<String>> {
    if who.role != Role::DivisionHead {
        return Ok(vec![]);
    }
    let depts = store.departments().await?;
    let Some(division) = depts
        .iter()
        .find(|d| d.name == who.department)
        .map(|d| d.division.clone())
    else {
        return Ok(vec![]);
    };
    Ok(depts
        .into_iter()
        .filter(|d| d.division == division)
        .map(|d| d.name)
        .collect())
}

/// The second step's stamp (部長) for an order of `department` by `who` on `day`: their own
/// (the division head of its division), or 代決 for a division head who named them deputy.
pub async fn division_stamp_for(
    store: &Store,
    who: &Employee,
    department: &str,
    day: chrono::NaiveDate,
) -> Result<Option<Stamp>> {
    if division_departments(store, who)
        .await?
        .iter()
        .any(|d| d == department)
    {
        return Ok(Some(Stamp {
            approver: who.employee_id.clone(),
            deputy: None,
        }));
    }
    for d in store.deputyships(&who.employee_id, day).await? {
        let Some(head) = store.employee(&d.supervisor).await? else {
            continue;
        };
        if division_departments(store, &head)
            .await?
            .iter()
            .any(|x| x == department)
        {
            return Ok(Some(Stamp {
                approver: head.employee_id,
                deputy: Some(who.employee_id.clone()),
            }));
        }
    }
    Ok(None)
}

/// The status a supervisor's stamp gives an order: approved, or waiting for the division head
/// when `[approval] steps` has the second step.
pub fn after_supervisor(cfg: &Config) -> crate::order::OrderStatus {
    if cfg.approval.division_head {
        crate::order::OrderStatus::Reviewed
    } else {
        crate::order::OrderStatus::Approved
    }
}

/// The division head's stamp (or their deputy's) on an order waiting for it.
pub async fn approve_division(
    store: &Store,
    id: i64,
    stamp: &Stamp,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let done = crate::store::approval::approve_division(
        &mut tx,
        id,
        &stamp.approver,
        stamp.deputy.as_deref(),
        now,
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}
