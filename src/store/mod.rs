//! The database: connection (SQLite by default, PostgreSQL for several instances), migrations,
//! and the queries. SQL is written once for both backends (`$N`, `ON CONFLICT`, `RETURNING`),
//! through sqlx's runtime `Any` driver so that building never needs a database. Rules are not
//! decided here; this module only reads and writes what the rules decided.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};

use crate::calendar::Minutes;
use crate::config::DepartmentDef;
use crate::error::{Error, Result};
use crate::ids::Held;

pub mod approval;
pub mod audit;
pub mod chat;
pub mod escalations;
pub mod mailbox;
pub mod person;
pub mod reports;
pub mod staff;
pub mod survey;
pub mod tenants;
pub mod web;

pub use crate::tenant::TenantCode;

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// A moment as the database keeps it: epoch seconds (both backends compare and index plain
/// integers). Times are `DateTime<Utc>` everywhere above the store; they change form here.
pub fn epoch(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

/// A stored moment (epoch seconds) read back; a value out of chrono's range reads as 1970.
pub fn instant(epoch: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(epoch, 0).unwrap_or_default()
}

/// The few times kept in milliseconds (the login throttle's: a wait of a second must not be
/// over at once).
pub fn epoch_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn instant_ms(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A file imported into the register, as the audit trail names it. (Its SHA-256 was in the
/// entry once: hashing a 100,000-row file was 2 % of the import on a CPU without SHA
/// instructions, and the days and the name say what a reader needs.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFile {
    /// The path as given on the command line.
    pub name: String,
    /// Its size.
    pub bytes: u64,
}

impl ImportedFile {
    /// The file at `path` whose content is `bytes` (as read once, for the import itself).
    pub fn new(path: &std::path::Path, bytes: &[u8]) -> ImportedFile {
        ImportedFile {
            name: path.display().to_string(),
            bytes: bytes.len() as u64,
        }
    }
}

/// Sorted days as runs of consecutive days: `2021-01-04..2021-01-08` for a week of orders,
/// `2021-01-12` alone. An import entry of a quarter is a dozen runs, not sixty days.
pub fn day_runs(days: &[NaiveDate]) -> Vec<String> {
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &d in days {
        match runs.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(d) => *last = d,
            Some((_, last)) if *last == d => {}
            _ => runs.push((d, d)),
        }
    }
    runs.into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}..{b}")
            }
        })
        .collect()
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// `Some(code)` when the pool serves several municipalities (`Store::open_shared`): each
    /// connection this handle takes is set to its tenant first (`Store::conn`). `None` when the
    /// pool is this handle's alone and its connections were set once, when they were opened.
    shared: Option<std::sync::Arc<str>>,
    pub backend: Backend,
    /// The staff directory last read through this handle (`Store::staff`).
    staff: staff::Kept,
}

/// A connection of the store's pool, set to the store's tenant.
pub type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

/// Sets a connection's tenant: for the session (`local` false) or the transaction.
const SET_TENANT: &str = "SELECT set_config('zaitaku.tenant', $1, $2)";

impl std::fmt::Debug for Store {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn no_tenant(code: &TenantCode) -> Error {
    Error::bad(
        "--tenant",
        format!(
            "no tenant {code} in this database (see `zaitaku tenants list`; add it with `zaitaku tenants add --code {code} --name NAME`)"
        ),
    )
}

/// Every migration, listed once: `("NNNN", "name")` stands for `migrations/sqlite/NNNN_name.sql`
/// and `migrations/postgres/NNNN_name.sql`, version NNNN, described as `name`. Each dialect keeps
/// its own file even where the two are byte-identical, so that changing one never touches the
/// other; adding a migration is its two files and one line here.
macro_rules! migrations {
    ($(($n:literal, $name:literal)),* $(,)?) => {
        const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[$((
            version($n),
            $name,
            include_str!(concat!("../../migrations/sqlite/", $n, "_", $name, ".sql")),
        )),*];
        const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[$((
            version($n),
            $name,
            include_str!(concat!("../../migrations/postgres/", $n, "_", $name, ".sql")),
        )),*];
    };
}

migrations![
    ("0001", "register"),
    ("0002", "escalations"),
    ("0003", "survey"),
    ("0004", "calendar"),
    ("0005", "mailbox"),
    ("0006", "web"),
    ("0007", "chat"),
    ("0008", "chat_state"),
    ("0009", "outbox_remote"),
    ("0010", "fewer_indexes"),
    ("0011", "answer_counts"),
    ("0012", "delivery"),
    ("0013", "chat_identities"),
    ("0014", "audit"),
    ("0015", "directory"),
    ("0016", "approval"),
    ("0017", "tenants"),
    ("0018", "changes"),
    ("0019", "tenant_changes"),
    ("0020", "tenant_keys"),
    ("0021", "tenant_first_indexes"),
    ("0022", "tenant_first_lookups"),
    ("0023", "directory_changes"),
    ("0024", "mailbox_leases"),
    ("0025", "person_changes"),
    ("0026", "answer_counts_one_tree"),
];

/// `"0011"` → 11, when compiling: a file number that is not all digits stops the build.
const fn version(n: &str) -> i64 {
    let digits = n.as_bytes();
    assert!(!digits.is_empty(), "a migration number has digits");
    let mut v = 0i64;
    let mut i = 0;
    while i < digits.len() {
        assert!(
            digits[i].is_ascii_digit(),
            "a migration number is digits only"
        );
        v = v * 10 + (digits[i] - b'0') as i64;
        i += 1;
    }
    v
}

/// The URL sqlx opens for `--db URL` (a SQLite file is created with its folder) and its
/// backend; one line naming the flag for a URL it cannot use, or `--tenant` on SQLite.
fn driver_url(url: &str, tenant: Option<&TenantCode>) -> Result<(String, Backend)> {
    let (url, backend) = if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let file = path.split('?').next().unwrap_or("");
        if file.is_empty() {
            return Err(Error::bad(
                "--db",
                format!("expected sqlite://PATH, got {url:?}"),
            ));
        }
        if file != ":memory:"
            && let Some(parent) = std::path::Path::new(file)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let url = if path.contains("mode=") {
            format!("sqlite://{path}")
        } else if path.contains('?') {
            format!("sqlite://{path}&mode=rwc")
        } else {
            format!("sqlite://{path}?mode=rwc")
        };
        if tenant.is_some() {
            return Err(Error::bad(
                "--tenant",
                "a SQLite database is single-tenant; several municipalities need PostgreSQL (--db postgres://…)",
            ));
        }
        (url, Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (url.to_string(), Backend::Postgres)
    } else {
        return Err(Error::bad(
            "--db",
            format!(
                "expected sqlite://PATH or postgres://…, got {:?}",
                redact(url)
            ),
        ));
    };
    Ok((url, backend))
}

impl Store {
    /// Connects and brings the schema up to date. `sqlite://PATH` creates the file (and its
    /// folder) when missing; `postgres://…` expects the database to exist. On PostgreSQL the
    /// connections are those of tenant '' (the database's own city, SPEC §13).
    pub async fn open(url: &str) -> Result<Store> {
        Self::open_as(url, None).await
    }

    /// [`Store::open`] for one municipality of a PostgreSQL database (`--tenant CODE`): every
    /// connection of the pool sets `zaitaku.tenant` to the code before it is used, and the
    /// row-level security policies of migration 0017 then show and accept that tenant's rows
    /// only. The code must be one `tenants add` recorded; SQLite has no tenants.
    pub async fn open_as(url: &str, tenant: Option<&TenantCode>) -> Result<Store> {
        Self::open_with(url, tenant, false, None).await
    }

    /// [`Store::open_as`] with at most `connections` connections (`database_connections` in
    /// zaitaku.toml); `None` keeps the default: 4 on SQLite, 8 on PostgreSQL. One is enough for
    /// everything zaitaku does: nothing holds a connection while it waits for another
    /// (tests/daemon.rs runs the whole daemon on one).
    pub async fn open_sized(
        url: &str,
        tenant: Option<&TenantCode>,
        connections: Option<u32>,
    ) -> Result<Store> {
        Self::open_with(url, tenant, false, connections).await
    }

    /// One pool for every municipality of a PostgreSQL database (`run --all-tenants`, `survey
    /// --all-tenants`), of at most `connections` connections: the handle returned acts for
    /// tenant '' (the database's own city), and [`Store::for_tenant`] gives a handle per
    /// municipality on the same connections, each setting its tenant on every connection it
    /// takes. A pool per city would need 455 × its size of the server's connections (100 by
    /// default). The role must not bypass row-level security, as for `--tenant`.
    pub async fn open_shared(url: &str, connections: u32) -> Result<Store> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::bad(
                "--db",
                "several municipalities at once need PostgreSQL (--db postgres://…); a SQLite database is single-tenant",
            ));
        }
        Self::open_with(url, None, true, Some(connections.max(1))).await
    }

    /// This municipality's handle on a pool opened by [`Store::open_shared`]; exit 2 when the
    /// database has no such tenant.
    pub async fn for_tenant(&self, code: &TenantCode) -> Result<Store> {
        if self.shared.is_none() {
            return Err(Error::bad(
                "--tenant",
                "this database connection serves one municipality; open it with Store::open_shared to act for several",
            ));
        }
        if !self.tenant_exists(code).await? {
            return Err(no_tenant(code));
        }
        Ok(Store {
            shared: Some(code.as_str().into()),
            // Another city's directory is not this one's.
            staff: staff::Kept::default(),
            ..self.clone()
        })
    }

    /// The municipality this handle acts for on a shared pool (`None` on a pool of its own).
    pub fn shared_tenant(&self) -> Option<&str> {
        self.shared.as_deref()
    }

    /// `shared`: a pool [`Store::open_shared`] opens, for every tenant; `connections`: its size,
    /// `None` for the backend's default.
    async fn open_with(
        url: &str,
        tenant: Option<&TenantCode>,
        shared: bool,
        connections: Option<u32>,
    ) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (url, backend) = driver_url(url, tenant)?;
        let setting = tenant.map_or(String::new(), |t| t.as_str().to_string());
        let pool = AnyPoolOptions::new()
            .max_connections(match (backend, connections) {
                (_, Some(n)) => n.max(1),
                (Backend::Sqlite, None) => 4,
                (Backend::Postgres, None) => 8,
            })
            // A SQLite file cannot hang up: pinging it before each use is a hand-off to its
            // worker thread for nothing, on every statement (issue 20's first loads).
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                let setting = setting.clone();
                Box::pin(async move {
                    if backend == Backend::Postgres {
                        // For the session, before anything else runs on it: the tenant the
                        // row-level security policies and the `tenant` columns' default read.
                        sqlx::query("SELECT set_config('zaitaku.tenant', $1, false)")
                            .bind(setting)
                            .execute(&mut *conn)
                            .await?;
                    }
                    if backend == Backend::Sqlite {
                        // WAL lets the CLI read and write while the daemon runs; the busy timeout
                        // makes a writer wait for the other instead of failing at once.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        // Statement journals in memory, not in a file under /var/tmp: each
                        // multi-row insert of a batch keeps the pages it changes, to undo that
                        // statement alone if it fails, and on the city bench that file's writes
                        // were a tenth of SQLite's thread (issue 22, docs/benchmarks.md). A
                        // statement's journal is its own pages, a few MB at most.
                        sqlx::query("PRAGMA temp_store = MEMORY")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let store = Store {
            pool,
            shared: shared.then(|| "".into()),
            backend,
            staff: staff::Kept::default(),
        };
        if shared {
            store.check_not_bypassing().await?;
            store.migrate().await?;
        } else if let Some(code) = tenant {
            store.check_not_bypassing().await?;
            store.migrate().await?;
            if !store.tenant_exists(code).await? {
                store.close().await;
                return Err(no_tenant(code));
            }
        } else {
            store.migrate().await?;
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let list = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations: Vec<Migration> = list
            .iter()
            .map(|&(v, d, sql)| {
                Migration::new(
                    v,
                    Cow::Borrowed(d),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// A connection for one or a few statements, showing this store's tenant only. The pool
    /// is never handed out: on a shared pool a connection used without being set would still
    /// carry the tenant of whoever had it before.
    pub async fn conn(&self) -> Result<Conn> {
        let mut conn = self.pool.acquire().await?;
        if let Some(tenant) = &self.shared {
            sqlx::query(SET_TENANT)
                .bind(&**tenant)
                .bind(false)
                .execute(&mut *conn)
                .await?;
        }
        Ok(conn)
    }

    pub async fn begin(&self) -> Result<Tx<'static>> {
        let mut tx = self.pool.begin().await?;
        if let Some(tenant) = &self.shared {
            // For the transaction only: whatever the connection is set to afterwards, every
            // later user sets it again.
            sqlx::query(SET_TENANT)
                .bind(&**tenant)
                .bind(true)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// [`Store::begin`] for a transaction that reads before it writes, on its own connection
    /// (the ingest's batches): on SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// because a deferred transaction that has read cannot start writing once another one
    /// has written meanwhile (`SQLITE_BUSY_SNAPSHOT`, which no busy timeout waits out).
    pub async fn begin_write(&self) -> Result<Tx<'static>> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => self.begin().await,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- departments ----

    pub async fn sync_departments(&self, defs: &[DepartmentDef]) -> Result<usize> {
        let mut tx = self.begin().await?;
        for d in defs {
            sqlx::query(
                "INSERT INTO departments (name, division, note, target, no) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, name) DO UPDATE SET division = excluded.division, note = excluded.note,
                 target = excluded.target, no = excluded.no",
            )
            .bind(&d.name)
            .bind(&d.division)
            .bind(d.note.clone())
            .bind(d.target as i64)
            .bind(d.no.map(i64::from))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(defs.len())
    }

    pub async fn departments(&self) -> Result<Vec<Department>> {
        let rows = sqlx::query(
            "SELECT name, division, note, target, no FROM departments ORDER BY no, name",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(Department::from_row).collect())
    }

    // ---- employees ----

    pub async fn employees(&self) -> Result<HashMap<String, Employee>> {
        let rows = sqlx::query("SELECT employee_id, name, department, role, active FROM employees")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        let mut map: HashMap<String, Employee> = rows
            .iter()
            .map(Employee::from_row)
            .map(|e| (e.employee_id.clone(), e))
            .collect();
        let emails = sqlx::query("SELECT email, employee_id FROM employee_emails ORDER BY email")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        for r in emails {
            let id: String = r.get(1);
            if let Some(e) = map.get_mut(&id) {
                e.emails.push(r.get(0));
            }
        }
        let ids = sqlx::query("SELECT employee_id, platform, identity FROM chat_identities")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        for r in ids {
            let id: String = r.get(0);
            if let (Some(e), Some(p)) = (
                map.get_mut(&id),
                ChatPlatform::parse(&r.get::<String, _>(1)),
            ) {
                e.chat_ids.insert(p, r.get(2));
            }
        }
        Ok(map)
    }

    pub async fn employee(&self, id: &str) -> Result<Option<Employee>> {
        let row = sqlx::query(
            "SELECT employee_id, name, department, role, active FROM employees WHERE employee_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut e = Employee::from_row(&row);
        e.emails = sqlx::query_scalar(
            "SELECT email FROM employee_emails WHERE employee_id = $1 ORDER BY email",
        )
        .bind(id)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        let ids =
            sqlx::query("SELECT platform, identity FROM chat_identities WHERE employee_id = $1")
                .bind(id)
                .fetch_all(&mut *self.conn().await?)
                .await?;
        for r in ids {
            if let Some(p) = ChatPlatform::parse(&r.get::<String, _>(0)) {
                e.chat_ids.insert(p, r.get(1));
            }
        }
        Ok(Some(e))
    }

    /// Replaces each listed employee (and their addresses) in one transaction.
    pub async fn upsert_employees(
        &self,
        list: &[Employee],
        now: DateTime<Utc>,
        actor: &audit::Actor,
    ) -> Result<()> {
        let now = epoch(now);
        self.write_employees(list, &BTreeMap::new(), now, actor)
            .await
    }

    /// The directory's view of the listed employees (`employees sync --ldap`, a login
    /// checked by the directory), in one transaction: each is stored with the DN `dns` gives
    /// it, a leaver (`active: false`) stays with their history.
    pub async fn sync_employees(
        &self,
        list: &[Employee],
        dns: &BTreeMap<String, String>,
        now: DateTime<Utc>,
        actor: &audit::Actor,
    ) -> Result<()> {
        let now = epoch(now);
        self.write_employees(list, dns, now, actor).await
    }

    /// Employee ID → the directory entry it was last read from, for those that came from one.
    pub async fn directory_dns(&self) -> Result<BTreeMap<String, String>> {
        let rows = sqlx::query(
            "SELECT employee_id, directory_dn FROM employees WHERE directory_dn IS NOT NULL",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The directory entry one employee was last read from, if they came from one.
    pub async fn directory_dn(&self, employee_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT directory_dn FROM employees WHERE employee_id = $1")
                .bind(employee_id)
                .fetch_optional(&mut *self.conn().await?)
                .await?
                .flatten(),
        )
    }

    async fn write_employees(
        &self,
        list: &[Employee],
        dns: &BTreeMap<String, String>,
        now: i64,
        actor: &audit::Actor,
    ) -> Result<()> {
        let existing = self.employees().await?;
        let changes: Vec<audit::Change> = list
            .iter()
            .filter_map(|e| {
                let old = existing.get(&e.employee_id);
                let before = old.map(Employee::audit_json);
                let after = e.audit_json();
                let action = match old {
                    None => "create",
                    Some(o) if o.active && !e.active => "deactivate",
                    Some(o) if !o.active && e.active => "reactivate",
                    Some(_) => "update",
                };
                (before.as_ref() != Some(&after)).then(|| audit::Change {
                    entity: "employee",
                    entity_id: e.employee_id.clone(),
                    department: Some(e.department.clone()),
                    action,
                    before,
                    after: Some(after),
                })
            })
            .collect();
        let mut tx = self.begin().await?;
        audit::append(&mut tx, actor, now, &changes).await?;
        for e in list {
            sqlx::query(
                "INSERT INTO employees (employee_id, name, department, role, active) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, employee_id) DO UPDATE SET name = excluded.name, department = excluded.department,
                 role = excluded.role, active = excluded.active",
            )
            .bind(&e.employee_id)
            .bind(&e.name)
            .bind(&e.department)
            .bind(e.role.as_str())
            .bind(i64::from(e.active))
            .execute(&mut *tx)
            .await?;
            if let Some(dn) = dns.get(&e.employee_id) {
                sqlx::query("UPDATE employees SET directory_dn = $1 WHERE employee_id = $2")
                    .bind(dn)
                    .bind(&e.employee_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM chat_identities WHERE employee_id = $1")
                .bind(&e.employee_id)
                .execute(&mut *tx)
                .await?;
            for (p, identity) in &e.chat_ids {
                // An ID another employee had moves to this one (the import checked the file
                // holds it once).
                sqlx::query(
                    "INSERT INTO chat_identities (platform, identity, employee_id) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant, platform, identity) DO UPDATE SET employee_id = excluded.employee_id",
                )
                .bind(p.as_str())
                .bind(identity)
                .bind(&e.employee_id)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM employee_emails WHERE employee_id = $1")
                .bind(&e.employee_id)
                .execute(&mut *tx)
                .await?;
            for m in &e.emails {
                sqlx::query(
                    "INSERT INTO employee_emails (email, employee_id) VALUES ($1, $2)
                     ON CONFLICT (tenant, email) DO UPDATE SET employee_id = excluded.employee_id",
                )
                .bind(m.to_lowercase())
                .bind(&e.employee_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn employee_by_email(&self, email: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT employee_id FROM employee_emails WHERE email = $1")
                .bind(email.to_lowercase())
                .fetch_optional(&mut *self.conn().await?)
                .await?,
        )
    }

    pub async fn supervisors_of(&self, department: &str) -> Result<Vec<Employee>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT employee_id FROM employees WHERE department = $1 AND role = 'supervisor' AND active = 1 ORDER BY employee_id",
        )
        .bind(department)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(e) = self.employee(&id).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    // ---- applications ----

    pub async fn application(
        &self,
        department: &str,
        fiscal_year: i32,
    ) -> Result<Option<Application>> {
        let row = sqlx::query(
            "SELECT id, department, fiscal_year, pc_name, emergency FROM applications
             WHERE department = $1 AND fiscal_year = $2",
        )
        .bind(department)
        .bind(i64::from(fiscal_year))
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.get(0);
        let users: Vec<String> =
            sqlx::query_scalar("SELECT employee_id FROM application_users WHERE application_id = $1 ORDER BY employee_id")
                .bind(id)
                .fetch_all(&mut *self.conn().await?)
                .await?;
        Ok(Some(Application {
            id,
            department: row.get(1),
            fiscal_year: row.get::<i64, _>(2) as i32,
            pc_name: row.get(3),
            emergency: row.get::<i64, _>(4) != 0,
            users,
        }))
    }

    pub async fn applications(&self) -> Result<Vec<Application>> {
        let keys: Vec<(String, i64)> = sqlx::query(
            "SELECT department, fiscal_year FROM applications ORDER BY fiscal_year, department",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
        let mut out = Vec::new();
        for (d, fy) in keys {
            out.extend(self.application(&d, fy as i32).await?);
        }
        Ok(out)
    }

    /// Records an application, and its audit entry in the same transaction.
    pub async fn insert_application(
        &self,
        a: &Application,
        now: DateTime<Utc>,
        actor: &audit::Actor,
    ) -> Result<i64> {
        let now = epoch(now);
        let mut tx = self.begin().await?;
        let change = audit::Change {
            entity: "application",
            entity_id: format!("{}:{}", a.department, a.fiscal_year),
            department: Some(a.department.clone()),
            action: "create",
            before: None,
            after: Some(serde_json::json!({
                "pc_name": a.pc_name, "emergency": a.emergency, "users": a.users,
            })),
        };
        audit::append(&mut tx, actor, now, &[change]).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO applications (department, fiscal_year, pc_name, emergency, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&a.department)
        .bind(i64::from(a.fiscal_year))
        .bind(&a.pc_name)
        .bind(a.emergency as i64)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for u in &a.users {
            sqlx::query(
                "INSERT INTO application_users (application_id, employee_id) VALUES ($1, $2)",
            )
            .bind(id)
            .bind(u)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    // ---- ID pool ----

    pub async fn held_ids(&self) -> Result<Vec<HeldRow>> {
        let rows = sqlx::query(
            "SELECT id, id_no, employee_id, from_date, to_date FROM id_assignments ORDER BY from_date, id_no",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .iter()
            .map(|r| HeldRow {
                row_id: r.get(0),
                held: Held {
                    id_no: r.get::<i64, _>(1) as u32,
                    employee: r.get(2),
                    from: day(&r.get::<String, _>(3)),
                    to: day(&r.get::<String, _>(4)),
                },
            })
            .collect())
    }

    /// Inserts an assignment unless, inside the same transaction, the chosen ID turned out to be
    /// taken meanwhile (another process): returns false then, and the caller chooses again.
    pub async fn insert_assignment(
        &self,
        h: &Held,
        fiscal_year: i32,
        now: DateTime<Utc>,
        actor: &audit::Actor,
    ) -> Result<bool> {
        let now = epoch(now);
        // Serialise pool changes across processes: the overlap check below and the insert must
        // not interleave with another assignment. SQLite takes the write lock at BEGIN (a
        // deferred transaction that reads first could not upgrade while another one writes).
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE id_assignments IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let clash: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM id_assignments WHERE (id_no = $1 OR employee_id = $2)
             AND from_date <= $3 AND $4 <= to_date",
        )
        .bind(i64::from(h.id_no))
        .bind(&h.employee)
        .bind(h.to.to_string())
        .bind(h.from.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if clash > 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO id_assignments (id_no, employee_id, from_date, to_date, fiscal_year) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(i64::from(h.id_no))
        .bind(&h.employee)
        .bind(h.from.to_string())
        .bind(h.to.to_string())
        .bind(i64::from(fiscal_year))
        .execute(&mut *tx)
        .await?;
        let change = assignment_change(&mut tx, h, "assign", None, Some(h)).await?;
        audit::append(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends each assignment the day before `on`; one starting on `on` or later is removed. One
    /// transaction, each change with its audit entry.
    pub async fn release_assignments(
        &self,
        rows: &[&HeldRow],
        on: NaiveDate,
        now: DateTime<Utc>,
        actor: &audit::Actor,
    ) -> Result<()> {
        let now = epoch(now);
        let mut tx = self.begin().await?;
        let mut changes = Vec::with_capacity(rows.len());
        for r in rows {
            let held = &r.held;
            let after = if on <= held.from {
                sqlx::query("DELETE FROM id_assignments WHERE id = $1")
                    .bind(r.row_id)
                    .execute(&mut *tx)
                    .await?;
                None
            } else {
                let last = on.pred_opt().unwrap_or(on);
                sqlx::query("UPDATE id_assignments SET to_date = $1 WHERE id = $2")
                    .bind(last.to_string())
                    .bind(r.row_id)
                    .execute(&mut *tx)
                    .await?;
                Some(Held {
                    to: last,
                    ..held.clone()
                })
            };
            changes.push(
                assignment_change(&mut tx, held, "release", Some(held), after.as_ref()).await?,
            );
        }
        audit::append(&mut tx, actor, now, &changes).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- orders ----

    /// Writes an imported file's orders, all or none. The trail of a file is one `import` entry
    /// per employee whose orders it creates: the file's name and SHA-256 and the days created
    /// (the file is the fields' record, and its hash proves which file it was); and one entry
    /// per order it changes, with the fields before and after, as an edit on the web. An entry
    /// with the fields of every created row cost a third of the import again, one a row as much
    /// as the import itself (docs/benchmarks.md, "What the audit trail costs").
    pub async fn upsert_orders(
        &self,
        list: &[crate::order::WorkOrder],
        file: &ImportedFile,
        now: DateTime<Utc>,
        actor: &audit::Actor,
    ) -> Result<()> {
        let now = epoch(now);
        let mut tx = self.begin().await?;
        // What the audit trail needs of the orders before: one query for the file, not one a row.
        let Known {
            orders: mut before,
            departments,
        } = orders_before(&mut tx, list).await?;
        let status = crate::order::OrderStatus::Approved;
        let mut changes = Vec::new();
        let mut created: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
        for o in list {
            // A new quarter's file finds nothing there: no key to build for each of its rows.
            let b = if before.is_empty() {
                None
            } else {
                before.remove(&(o.employee.clone(), o.date))
            };
            match b {
                None => created.entry(o.employee.as_str()).or_default().push(o.date),
                Some(b) => changes.extend(order_change(
                    o,
                    status,
                    Some(b),
                    departments.get(&o.employee).cloned(),
                    None,
                )),
            }
            upsert_order_row(&mut tx, o, status, now, None).await?;
        }
        let mut created: Vec<_> = created.into_iter().collect();
        created.sort_unstable_by_key(|(employee, _)| *employee);
        for (employee, mut dates) in created {
            dates.sort_unstable();
            let entity_id = match (dates.first(), dates.last()) {
                (Some(first), Some(last)) if first != last => format!("{employee}:{first}..{last}"),
                (Some(first), _) => format!("{employee}:{first}"),
                _ => continue,
            };
            changes.push(audit::Change {
                entity: "order",
                entity_id,
                department: departments.get(employee).cloned(),
                action: "import",
                before: None,
                after: Some(serde_json::json!({
                    "file": file.name,
                    "bytes": file.bytes,
                    "status": status.as_str(),
                    "dates": day_runs(&dates),
                })),
            });
        }
        // The file's entries in one append: a few statements, not one a row.
        audit::append(&mut tx, actor, now, &changes).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn order(&self, employee: &str, date: NaiveDate) -> Result<Option<OrderRow>> {
        order_in(&mut *self.conn().await?, employee, date).await
    }

    pub async fn orders_on(&self, date: NaiveDate) -> Result<Vec<OrderRow>> {
        let rows = sqlx::query(&format!(
            "{ORDER_SELECT} WHERE o.date = $1 AND o.status = 'approved' ORDER BY e.department, o.employee_id"
        ))
        .persistent(KEEP_POLLED)
        .bind(date.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(OrderRow::from_row).collect())
    }

    /// Approved orders of an employee on or after a day (an ID cannot be released under them).
    pub async fn orders_from(
        &self,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<OrderRow>> {
        let rows = sqlx::query(&format!(
            "{ORDER_SELECT} WHERE o.employee_id = $1 AND o.date >= $2 AND o.date <= $3 AND o.status = 'approved'
             ORDER BY o.date"
        ))
        .bind(employee)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(OrderRow::from_row).collect())
    }

    pub async fn cancel_order(
        &self,
        id: i64,
        now: DateTime<Utc>,
        actor: &audit::Actor,
    ) -> Result<()> {
        let now = epoch(now);
        let mut tx = self.begin().await?;
        let key = sqlx::query("SELECT employee_id, date FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(k) = key {
            let (employee, date): (String, String) = (k.get(0), k.get(1));
            let date = day(&date);
            let (before, department) = order_before(&mut tx, &employee, date).await?;
            let mut after = before.clone();
            if let Some(a) = after.as_mut() {
                a["status"] = "cancelled".into();
            }
            let change = audit::Change {
                entity: "order",
                entity_id: order_entity_id(&employee, date),
                department,
                action: "cancel",
                before,
                after,
            };
            audit::append(&mut tx, actor, now, &[change]).await?;
        }
        sqlx::query("UPDATE orders SET status = 'cancelled', cancelled_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// An order's fields as the audit trail shows them before and after a change.
#[derive(serde::Serialize)]
struct OrderFields<'a> {
    start: String,
    end: String,
    content: &'a str,
    approved_by: Option<&'a str>,
    shifted: bool,
    leave: String,
    status: &'a str,
    holiday_ok: bool,
}

impl OrderFields<'_> {
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The order of (employee, date) as it stands in the transaction, for the audit trail, and the
/// employee's department.
pub(crate) async fn order_before(
    tx: &mut Tx<'_>,
    employee: &str,
    date: NaiveDate,
) -> Result<(Option<serde_json::Value>, Option<String>)> {
    let r = sqlx::query(
        "SELECT e.department, o.start_min, o.end_min, o.content, o.approved_by, o.shifted, o.leave_spans,
                o.status, o.holiday_ok
         FROM employees e LEFT JOIN orders o ON o.employee_id = e.employee_id AND o.date = $2
         WHERE e.employee_id = $1",
    )
    .bind(employee)
    .bind(date.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = r else { return Ok((None, None)) };
    let before = r.get::<Option<i64>, _>(1).map(|start| {
        OrderFields {
            start: Minutes(start as u32).to_string(),
            end: Minutes(r.get::<i64, _>(2) as u32).to_string(),
            content: &r.get::<String, _>(3),
            approved_by: r.get::<Option<String>, _>(4).as_deref(),
            shifted: r.get::<i64, _>(5) != 0,
            leave: r.get::<String, _>(6),
            status: &r.get::<String, _>(7),
            holiday_ok: r.get::<i64, _>(8) != 0,
        }
        .json()
    });
    Ok((before, Some(r.get(0))))
}

/// What the audit trail of an import needs to know before it writes.
struct Known {
    /// The fields of the orders already there on the file's days, by (employee, day).
    orders: HashMap<(String, NaiveDate), serde_json::Value>,
    /// Every employee's department.
    departments: HashMap<String, String>,
}

/// `order_before` for the orders of `list`, in one query over their days (a new quarter's
/// file finds none), and the departments, in one more.
async fn orders_before(tx: &mut Tx<'_>, list: &[crate::order::WorkOrder]) -> Result<Known> {
    let departments: HashMap<String, String> =
        sqlx::query("SELECT employee_id, department FROM employees")
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let mut orders = HashMap::new();
    let (Some(from), Some(to)) = (
        list.iter().map(|o| o.date).min(),
        list.iter().map(|o| o.date).max(),
    ) else {
        return Ok(Known {
            orders,
            departments,
        });
    };
    let rows = sqlx::query(
        "SELECT employee_id, date, start_min, end_min, content, approved_by, shifted, leave_spans,
                status, holiday_ok FROM orders WHERE date >= $1 AND date <= $2",
    )
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(&mut **tx)
    .await?;
    for r in rows {
        let key = (r.get::<String, _>(0), day(&r.get::<String, _>(1)));
        let fields = OrderFields {
            start: Minutes(r.get::<i64, _>(2) as u32).to_string(),
            end: Minutes(r.get::<i64, _>(3) as u32).to_string(),
            content: &r.get::<String, _>(4),
            approved_by: r.get::<Option<String>, _>(5).as_deref(),
            shifted: r.get::<i64, _>(6) != 0,
            leave: r.get::<String, _>(7),
            status: &r.get::<String, _>(8),
            holiday_ok: r.get::<i64, _>(9) != 0,
        }
        .json();
        orders.insert(key, fields);
    }
    Ok(Known {
        orders,
        departments,
    })
}

/// The audit entry of a telework-ID assignment (entity `id`, ID `E1001:2021-01-04`: the
/// holder and the first day, as an order's is the employee and the day); the holder's
/// department is read in the transaction.
async fn assignment_change(
    tx: &mut Tx<'_>,
    key: &Held,
    action: &'static str,
    before: Option<&Held>,
    after: Option<&Held>,
) -> Result<audit::Change> {
    let department: Option<String> =
        sqlx::query_scalar("SELECT department FROM employees WHERE employee_id = $1")
            .bind(&key.employee)
            .fetch_optional(&mut **tx)
            .await?;
    let json = |h: &Held| serde_json::json!({"id_no": h.id_no, "from": h.from.to_string(), "to": h.to.to_string()});
    Ok(audit::Change {
        entity: "id",
        entity_id: format!("{}:{}", key.employee, key.from),
        department,
        action,
        before: before.map(json),
        after: after.map(json),
    })
}

/// The audit trail's ID of an order: its employee and day (`E1001:2021-01-12`).
pub fn order_entity_id(employee: &str, date: NaiveDate) -> String {
    format!("{employee}:{date}")
}

pub(crate) async fn upsert_order(
    tx: &mut Tx<'_>,
    o: &crate::order::WorkOrder,
    status: crate::order::OrderStatus,
    now: DateTime<Utc>,
    actor: &audit::Actor,
) -> Result<i64> {
    upsert_order_by(tx, o, status, now, actor, None).await
}

/// `upsert_order`, stamped by `deputy` (代決) for `o.approved_by` when given: the audit entry's
/// `after` names the deputy, and the register shows both.
pub(crate) async fn upsert_order_by(
    tx: &mut Tx<'_>,
    o: &crate::order::WorkOrder,
    status: crate::order::OrderStatus,
    now: DateTime<Utc>,
    actor: &audit::Actor,
    deputy: Option<&str>,
) -> Result<i64> {
    let now = epoch(now);
    let (before, department) = order_before(tx, &o.employee, o.date).await?;
    let stamp = Stamp {
        before,
        department,
        deputy,
    };
    upsert_order_audited(tx, o, status, now, actor, stamp).await
}

/// What `upsert_order_audited` needs besides the order: the order before the change, its
/// department, and the deputy who stamped it (代決), if one did.
#[derive(Default)]
struct Stamp<'a> {
    before: Option<serde_json::Value>,
    department: Option<String>,
    deputy: Option<&'a str>,
}

/// `upsert_order` with the order before the change (and the department) already read.
async fn upsert_order_audited(
    tx: &mut Tx<'_>,
    o: &crate::order::WorkOrder,
    status: crate::order::OrderStatus,
    now: i64,
    actor: &audit::Actor,
    stamp: Stamp<'_>,
) -> Result<i64> {
    let Stamp {
        before,
        department,
        deputy,
    } = stamp;
    if let Some(change) = order_change(o, status, before, department, deputy) {
        audit::append(tx, actor, now, &[change]).await?;
    }
    upsert_order_row(tx, o, status, now, deputy).await
}

/// The fields of `o` with `status` as the audit trail keeps them.
fn order_fields(o: &crate::order::WorkOrder, status: crate::order::OrderStatus) -> OrderFields<'_> {
    OrderFields {
        start: o.start.to_string(),
        end: o.end.to_string(),
        content: &o.content,
        approved_by: Some(&o.approved_by),
        shifted: o.shifted,
        leave: crate::order::format_leave(&o.leave),
        status: status.as_str(),
        holiday_ok: o.holiday_ok,
    }
}

/// The audit entry of writing `o` with `status` over `before` (stamped by `deputy`, 代決, if
/// one did); none when nothing changes.
fn order_change(
    o: &crate::order::WorkOrder,
    status: crate::order::OrderStatus,
    before: Option<serde_json::Value>,
    department: Option<String>,
    deputy: Option<&str>,
) -> Option<audit::Change> {
    let mut after = order_fields(o, status).json();
    if let Some(d) = deputy {
        after["deputy"] = d.into();
    }
    let action = match (&before, status) {
        (None, _) => "create",
        (Some(b), crate::order::OrderStatus::Approved) if b["status"] == "draft" => "approve",
        // The supervisor's stamp when a division head's step follows.
        (Some(b), crate::order::OrderStatus::Reviewed) if b["status"] == "draft" => "approve_step",
        _ => "update",
    };
    (before.as_ref() != Some(&after)).then(|| audit::Change {
        entity: "order",
        entity_id: order_entity_id(&o.employee, o.date),
        department,
        action,
        before,
        after: Some(after),
    })
}

/// Inserts or replaces the order of `o`'s employee and day.
async fn upsert_order_row(
    tx: &mut Tx<'_>,
    o: &crate::order::WorkOrder,
    status: crate::order::OrderStatus,
    now: i64,
    deputy: Option<&str>,
) -> Result<i64> {
    let leave = crate::order::format_leave(&o.leave);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (employee_id, date, start_min, end_min, content, approved_by, approved_at, shifted,
                             leave_spans, status, cancelled_at, holiday_ok, deputy_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)
         ON CONFLICT (tenant, employee_id, date) DO UPDATE SET start_min = excluded.start_min, end_min = excluded.end_min,
             content = excluded.content, approved_by = excluded.approved_by, approved_at = excluded.approved_at,
             shifted = excluded.shifted, leave_spans = excluded.leave_spans, status = excluded.status,
             cancelled_at = NULL, holiday_ok = excluded.holiday_ok, deputy_by = excluded.deputy_by,
             sent_back_reason = NULL, sent_back_by = NULL, sent_back_at = NULL
         RETURNING id",
    )
    .bind(&o.employee)
    .bind(o.date.to_string())
    .bind(i64::from(o.start.0))
    .bind(i64::from(o.end.0))
    .bind(&o.content)
    .bind(&o.approved_by)
    .bind(now)
    .bind(o.shifted as i64)
    .bind(leave)
    .bind(status.as_str())
    .bind(o.holiday_ok as i64)
    .bind(deputy)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// An order's columns with its employee's name and department, in the order `StoredOrder`
/// reads them (a macro, so that `concat!` can build `ORDER_SELECT` from it).
macro_rules! order_columns {
    () => {
        "o.id, o.employee_id, o.date, o.start_min, o.end_min, o.content, o.approved_by,
        o.shifted, o.leave_spans, o.status, e.name, e.department, o.holiday_ok, o.deputy_by,
        o.division_by"
    };
}
const ORDER_SELECT: &str = concat!(
    "SELECT ",
    order_columns!(),
    " FROM orders o JOIN employees e ON e.employee_id = o.employee_id"
);

/// `INSERT … VALUES (…), (…) tail` for `rows` rows of `cols` values: one statement for a
/// batch, because each statement is a round trip to the database thread. PostgreSQL gets `$N`
/// placeholders; SQLite gets anonymous `?`, because looking up a numbered parameter's name is
/// linear in SQLite, which makes binding thousands of them quadratic.
pub fn multi_row_insert(tx: &Tx<'_>, head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let numbered = tx.backend_name() != "SQLite";
    multi_row_sql(numbered, head, cols, rows, tail)
}

/// Whether a statement of `rows` rows (or values) is kept prepared in the connection's cache:
/// only the full chunks, whose text comes back batch after batch. A shorter one (the rest of
/// a batch) has a text of its own nearly every time; cached, each would keep its prepared
/// form (up to a megabyte for 500 rows) until the cache's 100 places were full, so memory
/// would grow with the backlog.
pub fn keep_prepared(rows: usize, full: usize) -> bool {
    rows == full
}

/// `persistent` for the statements that every city's tick and delivery loop run again and
/// again (the day's board, the outbox's polls): `false`, planned afresh at each call. On
/// PostgreSQL a kept statement runs on one plan: always, when it has no parameters, and after
/// five runs, when the generic plan looks no dearer. Made while a city's tables were empty (a
/// new city, 455 new cities at once, the bench's fresh database), that plan reads the whole
/// table, every city's rows, until the next ANALYZE (a minute or more with autovacuum, never
/// without it). The rush bench measured 6.9 ms a call for the day's reports, 12.5 ms for
/// `next_due` and 91 ms for `release_dead_leases` where a fresh plan takes 0.03–0.08 ms
/// (stop 33; tests/ingest.rs `no_statement_runs_on_a_plan_kept_from_when_its_table_was_small`).
/// Planning one of these costs tens of microseconds. (`plan_cache_mode = force_custom_plan` on
/// every connection did the same, and planned the web's person statement at each first load
/// too: 0.43 ms.) SQLite plans without the tables' statistics, from its indexes alone.
pub const KEEP_POLLED: bool = false;

/// The placeholders of `IN (…)` for `n` values, numbered from `first`: `$first, …`. Numbered
/// on SQLite too, because sqlx binds an anonymous `?` by its own count, not after the `$N`
/// before it (a few hundred names are cheap for SQLite to look up).
pub fn in_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn multi_row_sql(numbered: bool, head: &str, cols: usize, rows: usize, tail: &str) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * cols * 5);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            if numbered {
                let _ = write!(sql, "${}", r * cols + c + 1);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// A day stored by us; a malformed one would be a bug in this module, not user input.
fn day(s: &str) -> NaiveDate {
    crate::calendar::parse_date(s).unwrap_or_default()
}

/// The URL without its password, for messages and logs: `postgres://zaitaku:***@db/zaitaku`.
/// Text the `url` crate does not take for `scheme://…` (a bad port or host, a missing slash:
/// the very URLs an error message shows), or that has an `@` after the host (a password with
/// a `/` in it, not percent-encoded, ends the host early), keeps only its scheme and what
/// follows its last `@`, so no password slips out.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) if u.has_authority() && !u[url::Position::BeforePath..].contains('@') => {
            url.to_string()
        }
        _ => match (url.split_once("://"), url.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, after))) => format!("{scheme}://***@{after}"),
            (None, Some((_, after))) => format!("***@{after}"),
            (_, None) => url.to_string(),
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub name: String,
    pub division: String,
    pub note: Option<String>,
    pub target: bool,
    pub no: Option<i64>,
}

impl Department {
    fn from_row(r: &AnyRow) -> Self {
        Department {
            name: r.get(0),
            division: r.get(1),
            note: r.get(2),
            target: r.get::<i64, _>(3) != 0,
            no: r.get(4),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Teleworker,
    Supervisor,
    It,
    Hr,
    /// 部長: the second approval step for every department of their division, when
    /// `[approval] steps` has it.
    DivisionHead,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "teleworker" => Some(Role::Teleworker),
            "supervisor" => Some(Role::Supervisor),
            "it" => Some(Role::It),
            "hr" => Some(Role::Hr),
            "division_head" => Some(Role::DivisionHead),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Teleworker => "teleworker",
            Role::Supervisor => "supervisor",
            Role::It => "it",
            Role::Hr => "hr",
            Role::DivisionHead => "division_head",
        }
    }
}

/// A chat platform an employee has an identity on (table `chat_identities`; a CSV column each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChatPlatform {
    /// The CSV's `chat_id`: a Matrix user ID (`@yamada:city.example`) or a Slack/Mattermost
    /// user ID, for the Matrix bot and the slash command.
    Chat,
    /// `teams_id`: the Azure AD object ID Teams sends as `from.aadObjectId`.
    Teams,
    /// `lineworks_id`: the LINE WORKS user ID a bot callback names as `source.userId`.
    LineWorks,
}

impl ChatPlatform {
    pub const ALL: [ChatPlatform; 3] = [
        ChatPlatform::Chat,
        ChatPlatform::Teams,
        ChatPlatform::LineWorks,
    ];

    /// The name stored in `chat_identities.platform`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatPlatform::Chat => "chat",
            ChatPlatform::Teams => "teams",
            ChatPlatform::LineWorks => "lineworks",
        }
    }

    /// The employees CSV's column.
    pub fn column(self) -> &'static str {
        match self {
            ChatPlatform::Chat => "chat_id",
            ChatPlatform::Teams => "teams_id",
            ChatPlatform::LineWorks => "lineworks_id",
        }
    }

    pub fn parse(s: &str) -> Option<ChatPlatform> {
        ChatPlatform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    pub employee_id: String,
    pub name: String,
    pub department: String,
    pub role: Role,
    pub emails: Vec<String>,
    /// The employee's ID on each chat platform they use (one each).
    pub chat_ids: BTreeMap<ChatPlatform, String>,
    /// `false`: left (the directory no longer has them). Kept with their history; cannot log
    /// in, is given no new order and is sent no notice.
    pub active: bool,
}

impl Employee {
    fn from_row(r: &AnyRow) -> Self {
        Employee {
            employee_id: r.get(0),
            name: r.get(1),
            department: r.get(2),
            role: Role::parse(&r.get::<String, _>(3)).unwrap_or(Role::Teleworker),
            emails: Vec::new(),
            chat_ids: BTreeMap::new(),
            active: r.get::<i64, _>(4) != 0,
        }
    }

    /// The fields the audit trail shows before and after a change.
    pub fn audit_json(&self) -> serde_json::Value {
        let chat: std::collections::BTreeMap<&str, &str> = self
            .chat_ids
            .iter()
            .map(|(p, id)| (p.column(), id.as_str()))
            .collect();
        let mut v = serde_json::json!({
            "name": self.name, "department": self.department, "role": self.role.as_str(),
            "emails": self.emails, "chat_ids": chat,
        });
        // Written only for a leaver, so that the entries of everyone else read as before.
        if !self.active {
            v["active"] = false.into();
        }
        v
    }

    /// The employee's ID on `platform`.
    pub fn chat_id(&self, platform: ChatPlatform) -> Option<&str> {
        self.chat_ids.get(&platform).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: i64,
    pub department: String,
    pub fiscal_year: i32,
    pub pc_name: String,
    pub emergency: bool,
    pub users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub row_id: i64,
    pub held: Held,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub id: i64,
    pub employee_id: String,
    pub date: NaiveDate,
    pub start: Minutes,
    pub end: Minutes,
    pub content: String,
    pub approved_by: Option<String>,
    pub shifted: bool,
    pub leave: Vec<(Minutes, Minutes)>,
    pub status: crate::order::OrderStatus,
    pub employee_name: String,
    pub department: String,
    /// Approved for a day the city hall is closed (`orders import` column holiday_ok).
    pub holiday_ok: bool,
    /// 代決: who stamped for `approved_by`.
    pub deputy_by: Option<String>,
    /// The second step's stamp (部長), when `[approval] steps` has it.
    pub division_by: Option<String>,
}

impl OrderRow {
    fn from_row(r: &AnyRow) -> Self {
        StoredOrder(
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
            r.get(7),
            r.get(8),
            r.get(9),
            r.get(10),
            r.get(11),
            r.get(12),
            r.get(13),
            r.get(14),
        )
        .row()
    }
}

/// An employee's order on a day, whatever its status, read on `conn` (a transaction's, when
/// the caller holds one: see `orders_for`).
pub async fn order_in(
    conn: &mut sqlx::AnyConnection,
    employee: &str,
    date: NaiveDate,
) -> Result<Option<OrderRow>> {
    let row = sqlx::query(&format!(
        "{ORDER_SELECT} WHERE o.employee_id = $1 AND o.date = $2"
    ))
    .bind(employee)
    .bind(date.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(OrderRow::from_row))
}

/// The orders of some employees on one day, whatever their status, in one statement (the
/// ingest looks a batch's orders up at once, not message by message).
///
/// The employees go in as one JSON array and the rows come back as one (`json_group_array`,
/// `json_agg`), as `person` does for the web: the text of the statement is the same for every
/// batch (kept prepared on SQLite), and the rows cross from sqlx's SQLite worker as one value
/// instead of one by one, each copied into an `AnyRow`. Row by row, the city bench's 56,000
/// look-ups took 1.7 s of its 10.8 s (issue 22, docs/benchmarks.md).
///
/// Read on the caller's connection, not the pool's: the ingest holds its batch's transaction
/// while it looks up, and a second connection taken from the pool then could never come when
/// as many batches as the pool has connections wait for one each (455 cities on one pool of
/// 16 did, in issue 21's morning rush).
pub async fn orders_for(
    conn: &mut sqlx::AnyConnection,
    date: NaiveDate,
    employees: &[&str],
) -> Result<Vec<OrderRow>> {
    let sqlite = conn.backend_name() == "SQLite";
    let sql = if sqlite {
        concat!(
            "SELECT json_group_array(json_array(",
            order_columns!(),
            ")) FROM orders o JOIN employees e ON e.employee_id = o.employee_id \
             WHERE o.date = $1 AND o.employee_id IN (SELECT value FROM json_each($2))"
        )
    } else {
        concat!(
            "SELECT COALESCE(json_agg(json_build_array(",
            order_columns!(),
            ")), '[]')::text FROM orders o JOIN employees e ON e.employee_id = o.employee_id \
             WHERE o.date = $1 AND o.employee_id IN (SELECT json_array_elements_text($2::json))"
        )
    };
    let list = serde_json::to_string(employees).expect("a list of strings is JSON");
    let text: String = sqlx::query_scalar(sql)
        // On PostgreSQL planned afresh for each batch: a plan kept from an empty register
        // would read every order (`KEEP_POLLED`).
        .persistent(sqlite)
        .bind(date.to_string())
        .bind(list)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<StoredOrder> = json_rows("the orders of a batch", &text)?;
    Ok(rows.into_iter().map(StoredOrder::row).collect())
}

/// An order as stored, `order_columns!` by position: from an `AnyRow` (`OrderRow::from_row`)
/// or from an element of `orders_for`'s JSON array, turned into an `OrderRow` in one place.
#[derive(serde::Deserialize)]
struct StoredOrder(
    i64,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
);

impl StoredOrder {
    fn row(self) -> OrderRow {
        let StoredOrder(
            id,
            employee_id,
            date,
            start,
            end,
            content,
            approved_by,
            shifted,
            leave,
            status,
            employee_name,
            department,
            holiday_ok,
            deputy_by,
            division_by,
        ) = self;
        OrderRow {
            id,
            employee_id,
            date: day(&date),
            start: Minutes(start as u32),
            end: Minutes(end as u32),
            content,
            approved_by,
            shifted: shifted != 0,
            leave: crate::order::parse_leave(&leave).unwrap_or_default(),
            status: crate::order::OrderStatus::from_stored(&status),
            employee_name,
            department,
            holiday_ok: holiday_ok != 0,
            deputy_by,
            division_by,
        }
    }
}

/// Rows aggregated into one JSON array by the database, decoded. A value that does not decode
/// is the database's doing (another type than the schema's), reported as a decoding error that
/// names what was read.
pub(crate) fn json_rows<'a, J: serde::Deserialize<'a>>(
    what: &str,
    text: &'a str,
) -> Result<Vec<J>> {
    serde_json::from_str(text)
        .map_err(|e| Error::Db(sqlx::Error::Decode(format!("{what}: {e}").into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_entry_names_its_days_as_runs_of_consecutive_days() {
        let d = |s: &str| crate::calendar::parse_date(s).unwrap();
        let days = [
            d("2021-01-04"),
            d("2021-01-05"),
            d("2021-01-06"),
            d("2021-01-08"),
            d("2021-01-12"),
            d("2021-01-13"),
            d("2021-01-31"),
            d("2021-02-01"),
        ];
        assert_eq!(
            day_runs(&days),
            [
                "2021-01-04..2021-01-06",
                "2021-01-08",
                "2021-01-12..2021-01-13",
                "2021-01-31..2021-02-01"
            ]
        );
        assert!(day_runs(&[]).is_empty());
        assert_eq!(day_runs(&[d("2021-01-12")]), ["2021-01-12"]);
    }

    /// A SQLite connection keeps its statement journals in memory (issue 22): every
    /// connection of the pool, not only the first.
    #[tokio::test]
    async fn sqlite_connections_keep_statement_journals_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let (mut a, mut b) = (store.conn().await.unwrap(), store.conn().await.unwrap());
        for conn in [&mut a, &mut b] {
            let mode: i64 = sqlx::query_scalar("PRAGMA temp_store")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(mode, 2, "temp_store = MEMORY");
        }
    }

    #[test]
    fn multi_row_inserts_number_their_placeholders() {
        assert_eq!(
            multi_row_sql(true, "INSERT INTO t (a, b)", 2, 2, "RETURNING id"),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) RETURNING id"
        );
        assert_eq!(
            multi_row_sql(false, "INSERT INTO t (a)", 1, 2, ""),
            "INSERT INTO t (a) VALUES (?), (?) "
        );
    }

    #[test]
    fn every_migration_file_is_listed_in_order_for_both_dialects() {
        for (dialect, list) in [
            ("sqlite", SQLITE_MIGRATIONS),
            ("postgres", POSTGRES_MIGRATIONS),
        ] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f.ends_with(".sql"))
                .collect();
            files.sort();
            let listed: Vec<String> = list
                .iter()
                .map(|(v, name, _)| format!("{v:04}_{name}.sql"))
                .collect();
            assert_eq!(listed, files, "{dialect}");
            // Increasing, not necessarily contiguous: branches worked on side by side are given
            // numbers ahead of time (issue 18's approval routes took 0016 while 0015 was another's).
            let versions: Vec<i64> = list.iter().map(|m| m.0).collect();
            assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://zaitaku:s3cret@127.0.0.1/db"),
            "postgres://zaitaku:***@127.0.0.1/db"
        );
        assert_eq!(redact("sqlite://data/z.db"), "sqlite://data/z.db");
        assert_eq!(
            redact("imaps://bot%40city:p@ss@[::1]:993/INBOX"),
            "imaps://bot%40city:***@[::1]:993/INBOX"
        );
        assert_eq!(redact("smtp://relay:25"), "smtp://relay:25");
        // Not a URL the parser takes (a bad port): nothing before the last `@` is shown.
        assert_eq!(redact("smtp://bot:s3cret@h:x25"), "smtp://***@h:x25");
        assert_eq!(redact("imap://bot:pa#ss@h/INBOX"), "imap://***@h/INBOX");
        assert_eq!(redact("smtp:/bot:s3cret@h"), "***@h");
        assert_eq!(
            redact("imap://bot:2021/s3cret@h/INBOX"),
            "imap://***@h/INBOX"
        );
        assert_eq!(
            redact("maildir:/var/mail/telework"),
            "maildir:/var/mail/telework"
        );
    }
}
