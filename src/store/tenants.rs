//! The municipalities of a PostgreSQL database (SPEC §13, migration 0017): the `tenants`
//! table, and the checks `Store::open_as` makes before a pool serves one tenant. Isolation
//! itself is not done here: the row-level security policies do it beneath every query.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Backend, Store};
use crate::error::{Error, Result};
use crate::tenant::TenantCode;

/// Every table that carries a tenant, parents before children (the order `--adopt` renames
/// in). Migration 0017 lists the same tables.
pub const TENANT_TABLES: &[&str] = &[
    "departments",
    "employees",
    "employee_emails",
    "applications",
    "application_users",
    "id_assignments",
    "orders",
    "reports",
    "outbox",
    "escalations",
    "digests",
    "mailbox_state",
    "mailbox_leases",
    "users",
    "sessions",
    "api_tokens",
    "login_failures",
    "web_audit",
    "chat_state",
    "answer_counts",
    "chat_identities",
    "audit_log",
    "audit_head",
    "deputies",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub code: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

fn single_tenant() -> Error {
    Error::bad(
        "--db",
        "a SQLite database is single-tenant; several municipalities need PostgreSQL (--db postgres://…)",
    )
}

impl Store {
    /// The municipalities of the database, by code. The list is not behind row-level security:
    /// codes and names are public, and `tenants list` shows them all.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        if self.backend == Backend::Sqlite {
            return Err(single_tenant());
        }
        let rows = sqlx::query("SELECT code, name, created_at FROM tenants ORDER BY code")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Tenant {
                code: r.get(0),
                name: r.get(1),
                created_at: super::instant(r.get(2)),
            })
            .collect())
    }

    /// How many municipalities the database holds when a command without `--tenant` would
    /// act for tenant '' and that holds nothing (a database that has tenants and no city of
    /// its own, or whose own city was adopted): such a command most likely forgot `--tenant`.
    /// `None` on SQLite, on a database without tenants, and while tenant '' has departments.
    pub async fn tenant_forgotten(&self) -> Result<Option<i64>> {
        if self.backend == Backend::Sqlite {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM tenants),
                    EXISTS (SELECT 1 FROM departments WHERE tenant = '')",
        )
        .fetch_one(&mut *self.conn().await?)
        .await?;
        let (n, own): (i64, bool) = (row.get(0), row.get(1));
        Ok((n > 0 && !own).then_some(n))
    }

    pub(super) async fn tenant_exists(&self, code: &TenantCode) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE code = $1")
            .bind(code.as_str())
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(n > 0)
    }

    /// Row-level security does not bind a superuser nor a role with BYPASSRLS: such a role
    /// would see every city whatever the tenant. Refused before anything is read.
    pub(super) async fn check_not_bypassing(&self) -> Result<()> {
        let row = sqlx::query(
            "SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&mut *self.conn().await?)
        .await?;
        let (role, bypass): (String, bool) = (row.get(0), row.get(1));
        if bypass {
            self.close().await;
            return Err(Error::bad(
                "--tenant",
                format!(
                    "the database role {role} is a superuser or has BYPASSRLS, so row-level security would not keep the municipalities apart; connect as a role without either (docs/architecture.md, \"Tenants\")"
                ),
            ));
        }
        Ok(())
    }

    /// Records a municipality and starts its audit chain. With `adopt`, the rows of tenant ''
    /// (those of the single-city database this was before migration 0017) become this
    /// tenant's, in the same transaction; tenant '' starts again empty.
    pub async fn add_tenant(
        &self,
        code: &TenantCode,
        name: &str,
        now: DateTime<Utc>,
        adopt: bool,
    ) -> Result<()> {
        if self.backend == Backend::Sqlite {
            return Err(single_tenant());
        }
        if name.trim().is_empty() {
            return Err(Error::bad(
                "--name",
                "expected the municipality's name, got nothing",
            ));
        }
        let mut tx = self.begin().await?;
        let added = sqlx::query(
            "INSERT INTO tenants (code, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(code.as_str())
        .bind(name.trim())
        .bind(super::epoch(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 0 {
            return Err(Error::bad(
                "--code",
                format!("tenant {code} exists already (see `zaitaku tenants list`)"),
            ));
        }
        // For this transaction only: the new rows below default to the new tenant.
        sqlx::query("SELECT set_config('zaitaku.tenant', $1, true)")
            .bind(code.as_str())
            .execute(&mut *tx)
            .await?;
        if adopt {
            // The rows change tenant, which no policy allows (USING sees the old tenant, WITH
            // CHECK the new): the owner lifts FORCE for this transaction only. The ALTERs take
            // each table's exclusive lock, so no other session ever sees the tables unforced;
            // a role that does not own the tables is refused here by PostgreSQL.
            for t in TENANT_TABLES {
                sqlx::query(&format!("ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY"))
                    .execute(&mut *tx)
                    .await?;
            }
            // Departments first: the foreign keys carry the new tenant to the employees and
            // from them to everything that names an employee (ON UPDATE CASCADE).
            for t in TENANT_TABLES {
                sqlx::query(&format!("UPDATE {t} SET tenant = $1 WHERE tenant = ''"))
                    .bind(code.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO audit_head (tenant, id, last_id, hash) VALUES ('', 1, 0, '')")
                .execute(&mut *tx)
                .await?;
            for t in TENANT_TABLES {
                sqlx::query(&format!("ALTER TABLE {t} FORCE ROW LEVEL SECURITY"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query(
            "INSERT INTO audit_head (id, last_id, hash) VALUES (1, 0, '') ON CONFLICT DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
