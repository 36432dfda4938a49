//! Queries of the web register: accounts, sessions, API tokens, failed logins, the audit of
//! refused attempts, the register's views of orders, and the counts `/metrics` shows. Tokens
//! arrive here already hashed; nothing in this module sees a password or a token.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{OrderRow, Store, Tx, epoch, epoch_ms, instant, instant_ms};
use crate::error::Result;
use crate::order::WorkOrder;

/// An order as the register shows it: the board's row plus the digital stamp and the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    pub order: OrderRow,
    pub approved_at: Option<DateTime<Utc>>,
    pub requested_by: Option<String>,
    pub requested_at: Option<DateTime<Utc>>,
    /// 差戻し: why, by whom and when (while the order is sent back).
    pub sent_back_reason: Option<String>,
    pub sent_back_by: Option<String>,
    pub sent_back_at: Option<DateTime<Utc>>,
    /// 代決: the supervisor `approved_by` stood in for.
    pub deputy_by: Option<String>,
    /// The second step's stamp (部長), when `[approval] steps` has one.
    pub division_by: Option<String>,
    pub division_at: Option<DateTime<Utc>>,
    pub division_deputy: Option<String>,
}

const REGISTER_SELECT: &str =
    "SELECT o.id, o.employee_id, o.date, o.start_min, o.end_min, o.content, o.approved_by,
    o.shifted, o.leave_spans, o.status, e.name, e.department, o.holiday_ok, o.deputy_by,
    o.division_by, o.approved_at, o.requested_by, o.requested_at, o.sent_back_reason,
    o.sent_back_by, o.sent_back_at, o.deputy_by, o.division_by, o.division_at, o.division_deputy
    FROM orders o JOIN employees e ON e.employee_id = o.employee_id";

impl RegisterRow {
    fn from_row(r: &AnyRow) -> Self {
        RegisterRow {
            order: OrderRow::from_row(r),
            approved_at: r.get::<Option<i64>, _>(15).map(instant),
            requested_by: r.get(16),
            requested_at: r.get::<Option<i64>, _>(17).map(instant),
            sent_back_reason: r.get(18),
            sent_back_by: r.get(19),
            sent_back_at: r.get::<Option<i64>, _>(20).map(instant),
            deputy_by: r.get(21),
            division_by: r.get(22),
            division_at: r.get::<Option<i64>, _>(23).map(instant),
            division_deputy: r.get(24),
        }
    }
}

/// What a teleworker's page is kept under (`web::my_cache`): everyone's change counter and
/// theirs (`person_changes`, migration 0025). The page is good while both stand still.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp(pub i64, pub i64);

/// A session found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub employee_id: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// An API token as IT sees it (the token itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub employee_id: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
}

/// At most this many characters of what a refused request named are kept in the audit.
pub const AUDIT_TARGET_CHARS: usize = 200;
/// The same for the audit's short fields (who, which action, which outcome).
pub const AUDIT_WORD_CHARS: usize = 64;

/// The first `max` characters of `s`, and when that is not all of it, how long it was: a
/// bounded summary of a text of any length (`E1001…（全 2097152 文字）`).
pub fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}…（全 {} 文字）", &s[..cut], s.chars().count()),
    }
}

/// A refused attempt, for IT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub employee_id: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

impl Store {
    /// `SELECT 1`: `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    // ---- accounts ----

    pub async fn set_password_hash(
        &self,
        employee_id: &str,
        hash: &str,
        now: DateTime<Utc>,
        actor: &super::audit::Actor,
    ) -> Result<()> {
        let now = epoch(now);
        let mut tx = self.begin().await?;
        // The audit trail says a password was set, never which.
        super::audit::append_account(&mut tx, actor, now, "password", employee_id, "set", None)
            .await?;
        sqlx::query(
            "INSERT INTO users (employee_id, password_hash, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, employee_id) DO UPDATE SET password_hash = excluded.password_hash,
             updated_at = excluded.updated_at",
        )
        .bind(employee_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // A new password ends every session opened with the old one.
        sqlx::query("DELETE FROM sessions WHERE employee_id = $1")
            .bind(employee_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn password_hash(&self, employee_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM users WHERE employee_id = $1")
                .bind(employee_id)
                .fetch_optional(&mut *self.conn().await?)
                .await?,
        )
    }

    /// The employee a login names: an employee ID, else one of their e-mail addresses. One
    /// query either way, so a name that exists costs the same round trips as one that does not.
    pub async fn login_employee(&self, login: &str) -> Result<Option<String>> {
        let login = login.trim();
        Ok(sqlx::query_scalar(
            "SELECT employee_id FROM (
                 SELECT employee_id, 0 AS pref FROM employees WHERE employee_id = $1 AND active = 1
                 UNION ALL
                 SELECT m.employee_id, 1 AS pref FROM employee_emails m
                 JOIN employees e ON e.employee_id = m.employee_id WHERE m.email = $2 AND e.active = 1
             ) found ORDER BY pref LIMIT 1",
        )
        .bind(login)
        .bind(login.to_lowercase())
        .fetch_optional(&mut *self.conn().await?)
        .await?)
    }

    // ---- sessions ----

    pub async fn insert_session(
        &self,
        token_hash: &str,
        employee_id: &str,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        // Expired sessions go whenever someone logs in (and at the web server's sweep).
        self.purge_sessions(now).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, employee_id, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(employee_id)
        .bind(csrf)
        .bind(epoch(now))
        .bind(epoch(expires_at))
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    pub async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT employee_id, csrf, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(epoch(now))
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.map(|r| SessionRow {
            employee_id: r.get(0),
            csrf: r.get(1),
            expires_at: instant(r.get(2)),
        }))
    }

    /// The session and its employee in one query: every page asks, so one round trip. With
    /// them, the employee's change stamp (`person_changes`, migration 0025: everyone's row and
    /// theirs, the tenant's own on PostgreSQL, 0 before the first write) read before anything
    /// else the request reads: what 自分の在宅勤務 keeps is good while it has not moved.
    pub async fn session_employee(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(SessionRow, super::Employee, Stamp)>> {
        // On PostgreSQL the rows are looked up by their keys, tenant first: row-level security
        // would add the tenant, but for a role that bypasses it (a superuser) no index fits
        // without it, and every page's session would scan the sessions and the staff.
        let sql = match self.backend {
            super::Backend::Sqlite => {
                "SELECT e.employee_id, e.name, e.department, e.role, e.active, s.csrf, s.expires_at,
                     COALESCE((SELECT n FROM person_changes WHERE employee_id = ''), 0),
                     COALESCE((SELECT n FROM person_changes WHERE employee_id = e.employee_id), 0)
                 FROM sessions s JOIN employees e ON e.employee_id = s.employee_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND e.active = 1"
            }
            super::Backend::Postgres => {
                "SELECT e.employee_id, e.name, e.department, e.role, e.active, s.csrf, s.expires_at,
                     COALESCE((SELECT n FROM person_changes WHERE tenant = current_setting('zaitaku.tenant')
                               AND employee_id = ''), 0),
                     COALESCE((SELECT n FROM person_changes WHERE tenant = current_setting('zaitaku.tenant')
                               AND employee_id = e.employee_id), 0)
                 FROM sessions s JOIN employees e
                     ON e.tenant = s.tenant AND e.employee_id = s.employee_id
                 WHERE s.tenant = current_setting('zaitaku.tenant') AND s.token_hash = $1
                     AND s.expires_at > $2 AND e.active = 1"
            }
        };
        let row = sqlx::query(sql)
            .bind(token_hash)
            .bind(epoch(now))
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(row.map(|r| {
            let e = super::Employee::from_row(&r);
            let s = SessionRow {
                employee_id: e.employee_id.clone(),
                csrf: r.get(5),
                expires_at: instant(r.get(6)),
            };
            (s, e, Stamp(r.get(7), r.get(8)))
        }))
    }

    /// The sum of every change counter of `person_changes`: it moves with any write a page
    /// shows (counters only grow), so the pages kept ready need no look while it stands still.
    pub async fn changes_total(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM person_changes")
                .fetch_one(&mut *self.conn().await?)
                .await?,
        )
    }

    /// The people with an approved order on `day` (the pages `web::my_cache` keeps ready), as
    /// their sessions would read them (active only), with their change stamps: one value, as
    /// `store::person` reads.
    pub async fn stamps_of_the_day(&self, day: NaiveDate) -> Result<Vec<(super::Employee, Stamp)>> {
        let people = match self.backend {
            super::Backend::Sqlite => {
                "json_group_array(json_array(e.employee_id, e.name, e.department, e.role, COALESCE(p.n, 0)))"
            }
            super::Backend::Postgres => {
                "COALESCE(json_agg(json_build_array(e.employee_id, e.name, e.department, e.role, COALESCE(p.n, 0))), '[]')::text"
            }
        };
        // The tenant named on PostgreSQL, as in `session_employee`.
        let (tenant, p_tenant) = match self.backend {
            super::Backend::Sqlite => ("", ""),
            super::Backend::Postgres => (
                "tenant = current_setting('zaitaku.tenant') AND",
                "AND p.tenant = current_setting('zaitaku.tenant')",
            ),
        };
        let sql = format!(
            "SELECT {people},
                 COALESCE((SELECT n FROM person_changes WHERE {tenant} employee_id = ''), 0)
             FROM (SELECT DISTINCT employee_id FROM orders
                   WHERE {tenant} date = $1 AND status = 'approved') o
             JOIN employees e ON e.employee_id = o.employee_id AND e.active = 1
             LEFT JOIN person_changes p ON p.employee_id = o.employee_id {p_tenant}"
        );
        let row = sqlx::query(&sql)
            .bind(day.to_string())
            .fetch_one(&mut *self.conn().await?)
            .await?;
        let everyone: i64 = row.try_get(1)?;
        let people: Vec<(String, String, String, String, i64)> =
            super::json_rows("the day's teleworkers", &row.try_get::<String, _>(0)?)?;
        Ok(people
            .into_iter()
            .map(|(employee_id, name, department, role, n)| {
                let e = super::Employee {
                    employee_id,
                    name,
                    department,
                    role: super::Role::parse(&role).unwrap_or(super::Role::Teleworker),
                    emails: Vec::new(),
                    chat_ids: Default::default(),
                    active: true,
                };
                (e, Stamp(everyone, n))
            })
            .collect())
    }

    /// One employee's e-mail addresses.
    pub async fn emails_of(&self, employee_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT email FROM employee_emails WHERE employee_id = $1 ORDER BY email",
        )
        .bind(employee_id)
        .fetch_all(&mut *self.conn().await?)
        .await?)
    }

    /// The e-mail addresses of a department's staff.
    pub async fn department_emails(&self, department: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT m.email FROM employee_emails m JOIN employees e ON e.employee_id = m.employee_id
             WHERE e.department = $1 AND e.active = 1",
        )
        .bind(department)
        .fetch_all(&mut *self.conn().await?)
        .await?)
    }

    /// Deletes the sessions expired at `now`; how many went.
    pub async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(epoch(now))
            .execute(&mut *self.conn().await?)
            .await?
            .rows_affected())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    // ---- API tokens ----

    pub async fn insert_api_token(
        &self,
        token_hash: &str,
        employee_id: &str,
        label: &str,
        now: DateTime<Utc>,
        actor: &super::audit::Actor,
    ) -> Result<()> {
        let now = epoch(now);
        let mut tx = self.begin().await?;
        let after = serde_json::json!({ "label": label });
        super::audit::append_account(
            &mut tx,
            actor,
            now,
            "token",
            employee_id,
            "create",
            Some(after),
        )
        .await?;
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, employee_id, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(employee_id)
        .bind(label)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn api_token_employee(&self, token_hash: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT employee_id FROM api_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut *self.conn().await?)
                .await?,
        )
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRow>> {
        let rows = sqlx::query(
            "SELECT employee_id, label, created_at FROM api_tokens ORDER BY employee_id, created_at",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ApiTokenRow {
                employee_id: r.get(0),
                label: r.get(1),
                created_at: instant(r.get(2)),
            })
            .collect())
    }

    /// Deletes an employee's tokens (those with `label` only, when given); how many went.
    pub async fn revoke_api_tokens(
        &self,
        employee_id: &str,
        label: Option<&str>,
        now: DateTime<Utc>,
        actor: &super::audit::Actor,
    ) -> Result<u64> {
        let now = epoch(now);
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "DELETE FROM api_tokens WHERE employee_id = $1 AND ($2 = '' OR label = $2)",
        )
        .bind(employee_id)
        .bind(label.unwrap_or(""))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            let after = serde_json::json!({ "label": label, "revoked": n });
            super::audit::append_account(
                &mut tx,
                actor,
                now,
                "token",
                employee_id,
                "revoke",
                Some(after),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    // ---- failed logins ----
    // `login_failures.at` is in epoch milliseconds (see `web::auth::login_wait`).

    /// How many times this login failed since `since`, and when it last did.
    pub async fn login_failures(
        &self,
        login: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>)> {
        let row = sqlx::query(
            "SELECT COUNT(*), MAX(at) FROM login_failures WHERE login = $1 AND at >= $2",
        )
        .bind(login)
        .bind(epoch_ms(since))
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok((row.get(0), row.get::<Option<i64>, _>(1).map(instant_ms)))
    }

    /// Records a failure of `login` (a key of fixed size, see `web::auth::throttle_key`) and
    /// deletes every failure from before `expired` (older than the window, counting for nothing):
    /// each failed login clears up after the ones before it, so a flood of them stays bounded.
    pub async fn record_login_failure(
        &self,
        login: &str,
        now: DateTime<Utc>,
        expired: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (login, at) VALUES ($1, $2)")
            .bind(login)
            .bind(epoch_ms(now))
            .execute(&mut *self.conn().await?)
            .await?;
        self.purge_login_failures(expired).await?;
        Ok(())
    }

    /// Deletes the failed logins from before `before`; how many went.
    pub async fn purge_login_failures(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(epoch_ms(before))
            .execute(&mut *self.conn().await?)
            .await?
            .rows_affected())
    }

    /// After a successful login, that name's failures; old rows of anyone go too (only the recent
    /// ones count).
    pub async fn clear_login_failures(&self, login: &str, before: DateTime<Utc>) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE login = $1 OR at < $2")
            .bind(login)
            .bind(epoch_ms(before))
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    // ---- audit ----

    /// Keeps a refused attempt. What the request named is kept as a bounded summary
    /// (`AUDIT_TARGET_CHARS`, see `bounded`): a refused form with megabytes in a field must not
    /// grow the table, nor IT's 管理 page that lists it.
    pub async fn audit(&self, a: &AuditRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO web_audit (at, employee_id, action, target, outcome) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(epoch(a.at))
        .bind(bounded(&a.employee_id, AUDIT_WORD_CHARS))
        .bind(bounded(&a.action, AUDIT_WORD_CHARS))
        .bind(bounded(&a.target, AUDIT_TARGET_CHARS))
        .bind(bounded(&a.outcome, AUDIT_WORD_CHARS))
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT at, employee_id, action, target, outcome FROM web_audit ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AuditRow {
                at: instant(r.get(0)),
                employee_id: r.get(1),
                action: r.get(2),
                target: r.get(3),
                outcome: r.get(4),
            })
            .collect())
    }

    // ---- the register ----

    pub async fn register_order(&self, id: i64) -> Result<Option<RegisterRow>> {
        let row = sqlx::query(&format!("{REGISTER_SELECT} WHERE o.id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(row.as_ref().map(RegisterRow::from_row))
    }

    /// Every order of a day (drafts and cancelled ones too), of one department or all.
    pub async fn register_day(
        &self,
        date: NaiveDate,
        department: Option<&str>,
    ) -> Result<Vec<RegisterRow>> {
        let rows = sqlx::query(&format!(
            "{REGISTER_SELECT} WHERE o.date = $1 AND ($2 = '' OR e.department = $2)
             ORDER BY e.department, o.employee_id"
        ))
        .bind(date.to_string())
        .bind(department.unwrap_or(""))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(RegisterRow::from_row).collect())
    }

    /// The register's orders that meet `condition` (SQL, `$1` the first day), by day.
    pub(crate) async fn register_where(
        &self,
        condition: &str,
        from: NaiveDate,
    ) -> Result<Vec<RegisterRow>> {
        let rows = sqlx::query(&format!(
            "{REGISTER_SELECT} WHERE {condition} ORDER BY o.date, e.department, o.employee_id"
        ))
        .bind(from.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(RegisterRow::from_row).collect())
    }

    /// Drafts waiting for approval, of one department or all, from a day on.
    pub async fn drafts(
        &self,
        department: Option<&str>,
        from: NaiveDate,
    ) -> Result<Vec<RegisterRow>> {
        let rows = sqlx::query(&format!(
            "{REGISTER_SELECT} WHERE o.status = 'draft' AND o.date >= $1 AND ($2 = '' OR e.department = $2)
             ORDER BY o.date, e.department, o.employee_id"
        ))
        .bind(from.to_string())
        .bind(department.unwrap_or(""))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(RegisterRow::from_row).collect())
    }

    /// One employee's orders in a range of days, every status.
    pub async fn orders_of(
        &self,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<RegisterRow>> {
        let rows = sqlx::query(&format!(
            "{REGISTER_SELECT} WHERE o.employee_id = $1 AND o.date >= $2 AND o.date <= $3 ORDER BY o.date"
        ))
        .bind(employee)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(RegisterRow::from_row).collect())
    }

    // ---- metrics ----

    /// (kind, outcome, count) of every report recorded.
    pub async fn report_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, reason, COUNT(*) FROM reports GROUP BY kind, reason ORDER BY kind, reason",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// (chain kind, count) of escalation steps sent.
    pub async fn escalations_sent(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) FROM escalations WHERE status = 'sent' GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

/// A teleworker's request: a draft with no approver yet. An approved order of that day is never
/// turned back into a draft (returns false then); an earlier draft or a cancelled order is
/// replaced.
pub async fn save_draft(
    tx: &mut Tx<'_>,
    o: &WorkOrder,
    requested_by: &str,
    now: DateTime<Utc>,
    actor: &super::audit::Actor,
) -> Result<bool> {
    let now = super::epoch(now);
    let (before, department) = super::order_before(tx, &o.employee, o.date).await?;
    let leave = crate::order::format_leave(&o.leave);
    let n = sqlx::query(
        "INSERT INTO orders (employee_id, date, start_min, end_min, content, approved_by, approved_at, shifted,
                             leave_spans, status, cancelled_at, holiday_ok, requested_by, requested_at)
         VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7, 'draft', NULL, $8, $9, $10)
         ON CONFLICT (tenant, employee_id, date) DO UPDATE SET start_min = excluded.start_min, end_min = excluded.end_min,
             content = excluded.content, approved_by = NULL, approved_at = NULL, shifted = excluded.shifted,
             leave_spans = excluded.leave_spans, status = 'draft', cancelled_at = NULL,
             holiday_ok = excluded.holiday_ok, requested_by = excluded.requested_by,
             requested_at = excluded.requested_at, sent_back_reason = NULL, sent_back_by = NULL,
             sent_back_at = NULL
         WHERE orders.status NOT IN ('approved', 'reviewed')",
    )
    .bind(&o.employee)
    .bind(o.date.to_string())
    .bind(i64::from(o.start.0))
    .bind(i64::from(o.end.0))
    .bind(&o.content)
    .bind(o.shifted as i64)
    .bind(leave)
    .bind(o.holiday_ok as i64)
    .bind(requested_by)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Ok(false);
    }
    // The request is on the record as the teleworker's, like the supervisor's stamp after it.
    let (after, _) = super::order_before(tx, &o.employee, o.date).await?;
    if after != before {
        let change = super::audit::Change {
            entity: "order",
            entity_id: super::order_entity_id(&o.employee, o.date),
            department,
            action: "request",
            before,
            after,
        };
        super::audit::append(tx, actor, now, &[change]).await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_kept_as_its_beginning_and_its_length() {
        assert_eq!(bounded("order=12", 200), "order=12");
        assert_eq!(bounded("", 3), "");
        assert_eq!(bounded("あいう", 3), "あいう");
        assert_eq!(bounded("あいうえ", 3), "あいう…（全 4 文字）");
        let flood = "x".repeat(2 * 1024 * 1024);
        assert!(bounded(&flood, AUDIT_TARGET_CHARS).len() < 250);
    }
}
