//! What a distributed PostgreSQL (Citus) needs to shard zaitaku's schema by `tenant` (issue 21,
//! docs/scaling.md), read from the catalog of a database freshly migrated by the real binary.
//! Citus itself is not run here (no package on this machine's registries): these tests check
//! the schema's side of its rules, each as Citus states it:
//!
//! - a distributed table has the distribution column, and its primary keys and unique
//!   indexes include it ("Cannot create uniqueness constraint", Citus docs, common errors);
//! - a foreign key between two distributed tables has the distribution column on both sides at
//!   the same position, and no `ON UPDATE CASCADE`/`SET NULL`/`SET DEFAULT` (Citus's
//!   `foreign_constraint.c`: "cascading update operation would require re-partitioning");
//! - a table without a tenant is a reference table (copied to every node), or stays local to
//!   the coordinator;
//! - sequences smaller than BIGINT fail on workers (Citus docs, SQL workarounds);
//! - triggers on distributed tables are not supported without `citus.enable_unsafe_triggers`;
//!
//! and the isolation zaitaku itself relies on: `tenant` NOT NULL with the connection's
//! `zaitaku.tenant` as default, row-level security ENABLEd and FORCEd, a policy keyed on it.
//!
//! Where the schema does not meet a rule today, the test names the objects in an explicit list
//! below (and docs/scaling.md names them too), so that it fails both when a new gap appears and
//! when a listed one is fixed without the list (and the doc) saying so. PostgreSQL only: skipped
//! with ZAITAKU_TEST_PG=skip, and it says so.

mod helpers;

use helpers::{Backend, Zt, fresh_pg_database_as_app_role, pg_admin_url};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Tables that carry no tenant on purpose. `tenants` is the list of municipalities itself (read
/// by `tenants list` and `survey --all-tenants` across all of them): on Citus a reference table.
/// `_sqlx_migrations` is the migrator's bookkeeping: it stays a local table on the coordinator,
/// where migrations run. `daemons` (0024) is the daemons' beat: a process name, a time and two
/// counts, no city's data; on Citus a local table on the coordinator, which every daemon reaches.
const WITHOUT_TENANT: &[&str] = &["_sqlx_migrations", "daemons", "tenants"];

/// Which of them Citus would hold as reference tables (a copy on every node).
const REFERENCE_TABLES: &[&str] = &["tenants"];

/// Unique keys without the tenant: none. Citus refuses to distribute a table whose primary key
/// lacks the distribution column; the keys of generated IDs and token hashes that migration
/// 0017 left alone are `(tenant, …)` since 0020 (docs/scaling.md).
const KEYS_WITHOUT_TENANT: &[&str] = &[];

/// Foreign keys between tenant tables without the tenant: none (an application's users point
/// at `applications (tenant, id)` since 0020).
const FOREIGN_KEYS_WITHOUT_TENANT: &[&str] = &[];

/// GAP: every tenant-keyed foreign key is `ON UPDATE CASCADE`, so that `tenants add --adopt`
/// can rename tenant '' to a code parents first (0017). Citus refuses CASCADE on update when the
/// distribution column is in the key, and refuses any update of a distribution column: on
/// Citus a single-city database is adopted before it is distributed, and the keys become
/// `ON UPDATE NO ACTION`.
const FOREIGN_KEYS_ON_UPDATE_CASCADE: &[&str] = &[
    "api_tokens.api_tokens_tenant_employee_id_fkey",
    "application_users.application_users_tenant_application_id_fkey",
    "application_users.application_users_tenant_employee_id_fkey",
    "applications.applications_tenant_department_fkey",
    "chat_identities.chat_identities_tenant_employee_id_fkey",
    "deputies.deputies_tenant_deputy_fkey",
    "deputies.deputies_tenant_supervisor_fkey",
    "employee_emails.employee_emails_tenant_employee_id_fkey",
    "employees.employees_tenant_department_fkey",
    "id_assignments.id_assignments_tenant_employee_id_fkey",
    "orders.orders_tenant_approved_by_fkey",
    "orders.orders_tenant_employee_id_fkey",
    "sessions.sessions_tenant_employee_id_fkey",
    "users.users_tenant_employee_id_fkey",
];

/// GAP: the triggers that bump the tenant's change counter (0018, 0019), one per statement on
/// the tables a teleworker's page shows. Citus does not run triggers on distributed tables
/// unless `citus.enable_unsafe_triggers` is on; then each fires on the worker that holds the
/// shard, and `changes` is co-located by tenant, so the counter's row is on the same node.
/// Not run on Citus (docs/scaling.md).
/// Likewise the three that bump the tenant's directory counter (0023, `directory_changes`), and
/// the fifteen that bump the people's counters of 自分の在宅勤務 (0025, `person_changes`).
const TRIGGERS: &[&str] = &[
    "chat_identities.chat_identities_directory_changed",
    "deputies.deputies_changed",
    "deputies.deputies_everyone",
    "employee_emails.employee_emails_changed",
    "employee_emails.employee_emails_directory_changed",
    "employee_emails.employee_emails_everyone",
    "employees.employees_changed",
    "employees.employees_directory_changed",
    "employees.employees_everyone",
    "escalations.escalations_changed",
    "escalations.escalations_person_d",
    "escalations.escalations_person_i",
    "escalations.escalations_person_t",
    "escalations.escalations_person_u",
    "orders.orders_changed",
    "orders.orders_person_d",
    "orders.orders_person_i",
    "orders.orders_person_t",
    "orders.orders_person_u",
    "reports.reports_changed",
    "reports.reports_person_d",
    "reports.reports_person_i",
    "reports.reports_person_t",
    "reports.reports_person_u",
];

/// A database migrated by the binary itself (as the application's role: neither superuser nor
/// BYPASSRLS), made once for all the tests of this file; None without PostgreSQL.
fn migrated() -> Option<&'static str> {
    static DB: OnceLock<Option<String>> = OnceLock::new();
    let db = DB
        .get_or_init(|| {
            pg_admin_url()?;
            let zt = Zt::with_db(Backend::Postgres, fresh_pg_database_as_app_role());
            // Opening the store migrates; `tenants list` writes nothing else.
            zt.ok(&["tenants", "list"]);
            Some(zt.db.clone())
        })
        .as_deref();
    if db.is_none() {
        eprintln!("ZAITAKU_TEST_PG=skip: the catalog checks for Citus (tests/scaling.rs) not run");
    }
    db
}

/// Rows of a catalog query, every column as text (NULL as "").
fn rows(db: &str, query: &str) -> Vec<Vec<String>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::{Connection, Row};
        let mut c = sqlx::PgConnection::connect(db).await.unwrap();
        let out = sqlx::query(query)
            .fetch_all(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        out.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<Option<String>, _>(i).unwrap_or_default())
                    .collect()
            })
            .collect()
    })
}

/// The tables of the schema (`public`), by name.
fn tables(db: &str) -> Vec<String> {
    rows(
        db,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect()
}

/// The tables Citus would distribute by `tenant`: all but [`WITHOUT_TENANT`].
fn tenant_tables(db: &str) -> Vec<String> {
    tables(db)
        .into_iter()
        .filter(|t| !WITHOUT_TENANT.contains(&t.as_str()))
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Fails naming every offender, one a line, unless `found` is exactly the `allowed` gap list.
fn assert_only_listed(what: &str, found: &[(String, String)], allowed: &[&str]) {
    let names: BTreeSet<String> = found.iter().map(|(name, _)| name.clone()).collect();
    let allowed = set(allowed);
    let new: Vec<&(String, String)> = found.iter().filter(|(n, _)| !allowed.contains(n)).collect();
    let fixed: Vec<&String> = allowed.difference(&names).collect();
    for (name, def) in found {
        let tag = if allowed.contains(name) {
            "known gap"
        } else {
            "NEW"
        };
        eprintln!("{what}: {tag}: {name}: {def}");
    }
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{what}:\n  not in the list (fix the schema, or list it and say why in docs/scaling.md):\n{}\n  listed but no longer found (take it off the list and out of docs/scaling.md):\n{}",
        new.iter()
            .map(|(n, d)| format!("    {n}: {d}"))
            .collect::<Vec<_>>()
            .join("\n"),
        fixed
            .iter()
            .map(|n| format!("    {n}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

#[test]
fn every_table_but_the_tenant_list_carries_a_not_null_tenant_defaulting_to_the_connections() {
    let Some(db) = migrated() else { return };
    let all = tables(db);
    for t in WITHOUT_TENANT {
        assert!(
            all.iter().any(|a| a == t),
            "expected table {t}; tables: {all:?}"
        );
    }
    // Something to check: the register's tables are there (a migration that moved them to
    // another schema would make every check below pass on nothing).
    for t in ["orders", "reports", "employees", "outbox", "audit_log"] {
        assert!(
            all.iter().any(|a| a == t),
            "expected table {t}; tables: {all:?}"
        );
    }
    let mut bad = Vec::new();
    for t in tenant_tables(db) {
        let col = rows(
            db,
            &format!(
                "SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
                        pg_get_expr(d.adbin, d.adrelid)
                 FROM pg_attribute a
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attrelid = 'public.{t}'::regclass AND a.attname = 'tenant'
                   AND NOT a.attisdropped"
            ),
        );
        match col.first() {
            None => bad.push(format!("{t}: no tenant column")),
            Some(c) => {
                if c[0] != "text" {
                    bad.push(format!(
                        "{t}.tenant: type {} (every table's must be text, one co-location group)",
                        c[0]
                    ));
                }
                if c[1] != "true" {
                    bad.push(format!("{t}.tenant: nullable"));
                }
                if c[2] != "current_setting('zaitaku.tenant'::text)" {
                    bad.push(format!(
                        "{t}.tenant: default {:?}, not the connection's zaitaku.tenant",
                        c[2]
                    ));
                }
            }
        }
    }
    // The reverse: a table outside the list that has no tenant would be caught above; a table
    // in the list that grew one would be a table to distribute.
    for t in WITHOUT_TENANT {
        let n = rows(
            db,
            &format!(
                "SELECT count(*)::text FROM pg_attribute WHERE attrelid = 'public.{t}'::regclass
                 AND attname = 'tenant' AND NOT attisdropped"
            ),
        );
        if n[0][0] != "0" {
            bad.push(format!(
                "{t}: has a tenant column but is listed as a table without one"
            ));
        }
    }
    assert!(bad.is_empty(), "tenant columns:\n{}", bad.join("\n"));
    eprintln!(
        "distributed by tenant ({}): {}",
        tenant_tables(db).len(),
        tenant_tables(db).join(", ")
    );
}

#[test]
fn tables_without_a_tenant_are_the_reference_table_and_the_migrators_own() {
    let Some(db) = migrated() else { return };
    let without: Vec<String> = tables(db)
        .into_iter()
        .filter(|t| {
            rows(
                db,
                &format!(
                    "SELECT count(*)::text FROM pg_attribute WHERE attrelid = 'public.{t}'::regclass
                     AND attname = 'tenant' AND NOT attisdropped"
                ),
            )[0][0]
                == "0"
        })
        .collect();
    assert_eq!(
        without.iter().cloned().collect::<BTreeSet<_>>(),
        set(WITHOUT_TENANT),
        "tables without a tenant column"
    );
    for t in REFERENCE_TABLES {
        eprintln!("reference table (a copy on every node): {t}");
    }
    for t in WITHOUT_TENANT
        .iter()
        .filter(|t| !REFERENCE_TABLES.contains(t))
    {
        eprintln!("local to the coordinator: {t}");
    }
    // Nothing with a tenant points at a table without one: no foreign key would have to go from
    // a distributed table to a local one (Citus allows distributed -> reference only).
    let fks = rows(
        db,
        "SELECT l.relname || '.' || c.conname, r.relname::text FROM pg_constraint c
         JOIN pg_class l ON l.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
         WHERE c.contype = 'f' ORDER BY 1",
    );
    let to_local: Vec<String> = fks
        .iter()
        .filter(|r| {
            WITHOUT_TENANT.contains(&r[1].as_str()) && !REFERENCE_TABLES.contains(&r[1].as_str())
        })
        .map(|r| format!("{} -> {}", r[0], r[1]))
        .collect();
    assert!(
        to_local.is_empty(),
        "foreign keys to a local table: {to_local:?}"
    );
}

#[test]
fn primary_keys_and_unique_indexes_include_the_tenant_but_the_listed_generated_ids() {
    let Some(db) = migrated() else { return };
    let tenant_tables = tenant_tables(db);
    let found: Vec<(String, String)> = rows(
        db,
        "SELECT t.relname::text, ic.relname::text, pg_get_indexdef(i.indexrelid),
                EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) k
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k
                        WHERE a.attname = 'tenant')::text
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'public' AND i.indisunique ORDER BY 1, 2",
    )
    .into_iter()
    .filter(|r| tenant_tables.contains(&r[0]) && r[3] != "true")
    .map(|r| (format!("{}.{}", r[0], r[1]), r[2].clone()))
    .collect();
    assert_only_listed("unique key without tenant", &found, KEYS_WITHOUT_TENANT);
}

/// The attack behind migration 0022: with an index on `escalations (day)` alone, the generic
/// plan PostgreSQL keeps for a prepared statement read every city's steps of the day range
/// and dropped all but one city's through the row-level security filter, for each of 455
/// cities. Every index of a tenant's table leads with the tenant, so that whatever plan is
/// kept, a city's look-up reads its own entries (and Citus's shards keep their indexes whole).
#[test]
fn every_index_of_a_tenant_table_leads_with_the_tenant() {
    let Some(db) = migrated() else { return };
    let tenant_tables = tenant_tables(db);
    let found: Vec<(String, String)> = rows(
        db,
        "SELECT t.relname::text, ic.relname::text, pg_get_indexdef(i.indexrelid), a.attname::text
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE n.nspname = 'public' ORDER BY 1, 2",
    )
    .into_iter()
    .filter(|r| tenant_tables.contains(&r[0]) && r[3] != "tenant")
    .map(|r| (format!("{}.{}", r[0], r[1]), r[2].clone()))
    .collect();
    assert_only_listed("index not led by the tenant", &found, &[]);
}

#[test]
fn foreign_keys_between_tenant_tables_pair_tenant_with_tenant_but_the_listed_one() {
    let Some(db) = migrated() else { return };
    let fks = rows(
        db,
        "SELECT l.relname || '.' || c.conname, pg_get_constraintdef(c.oid),
                EXISTS (SELECT 1 FROM unnest(c.conkey, c.confkey) AS k(lk, rk)
                        JOIN pg_attribute la ON la.attrelid = c.conrelid AND la.attnum = k.lk
                        JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.rk
                        WHERE la.attname = 'tenant' AND ra.attname = 'tenant')::text,
                c.confupdtype::text, c.confdeltype::text
         FROM pg_constraint c
         JOIN pg_class l ON l.oid = c.conrelid
         JOIN pg_class r ON r.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = l.relnamespace
         WHERE n.nspname = 'public' AND c.contype = 'f' ORDER BY 1",
    );
    assert!(
        fks.len() >= 10,
        "expected the register's foreign keys, found {fks:?}"
    );
    // `unnest(conkey, confkey)` pairs the columns by position: Citus wants the distribution
    // column "in the same ordinal in the both tables".
    let without: Vec<(String, String)> = fks
        .iter()
        .filter(|r| r[2] != "true")
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_only_listed(
        "foreign key without tenant on both sides",
        &without,
        FOREIGN_KEYS_WITHOUT_TENANT,
    );
    // With the tenant in the key, Citus refuses ON UPDATE CASCADE / SET NULL / SET DEFAULT,
    // and ON DELETE SET NULL / SET DEFAULT ('a' no action, 'r' restrict, 'c' cascade, 'n' set
    // null, 'd' set default).
    let cascading: Vec<(String, String)> = fks
        .iter()
        .filter(|r| r[2] == "true" && ((r[3] != "a" && r[3] != "r") || r[4] == "n" || r[4] == "d"))
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_only_listed(
        "foreign key on tenant with an update/delete action Citus refuses",
        &cascading,
        FOREIGN_KEYS_ON_UPDATE_CASCADE,
    );
}

#[test]
fn every_tenant_table_has_row_level_security_enabled_forced_and_keyed_on_zaitaku_tenant() {
    let Some(db) = migrated() else { return };
    let mut bad = Vec::new();
    for t in tenant_tables(db) {
        let rls = rows(
            db,
            &format!(
                "SELECT relrowsecurity::text, relforcerowsecurity::text FROM pg_class
                 WHERE oid = 'public.{t}'::regclass"
            ),
        );
        if rls[0][0] != "true" {
            bad.push(format!("{t}: row-level security not enabled"));
        }
        if rls[0][1] != "true" {
            bad.push(format!(
                "{t}: row-level security not forced (the owner passes)"
            ));
        }
        let policies = rows(
            db,
            &format!(
                "SELECT polname::text, polcmd::text, polpermissive::text,
                        pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
                 FROM pg_policy WHERE polrelid = 'public.{t}'::regclass ORDER BY 1"
            ),
        );
        let keyed = "(tenant = current_setting('zaitaku.tenant'::text, true))";
        match policies.as_slice() {
            [p] if p[1] == "*" && p[2] == "true" && p[3] == keyed && p[4] == keyed => {}
            other => bad.push(format!(
                "{t}: expected one policy for all commands, USING and WITH CHECK {keyed}; found {other:?}"
            )),
        }
    }
    assert!(bad.is_empty(), "row-level security:\n{}", bad.join("\n"));
}

#[test]
fn generated_ids_are_bigint_and_the_listed_triggers_are_the_only_ones() {
    let Some(db) = migrated() else { return };
    // Citus makes a sequence's values unique across nodes by putting the node in its high
    // bits, which only BIGINT has room for.
    let ids = rows(
        db,
        "SELECT table_name || '.' || column_name, data_type::text FROM information_schema.columns
         WHERE table_schema = 'public'
           AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')
         ORDER BY 1",
    );
    assert!(!ids.is_empty(), "expected generated IDs (orders.id …)");
    for r in &ids {
        eprintln!("generated ID: {} {}", r[0], r[1]);
    }
    let narrow: Vec<&Vec<String>> = ids.iter().filter(|r| r[1] != "bigint").collect();
    assert!(
        narrow.is_empty(),
        "generated IDs narrower than BIGINT: {narrow:?}"
    );

    let triggers: Vec<(String, String)> = rows(
        db,
        "SELECT t.relname || '.' || g.tgname, pg_get_triggerdef(g.oid) FROM pg_trigger g
         JOIN pg_class t ON t.oid = g.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'public' AND NOT g.tgisinternal ORDER BY 1",
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].clone()))
    .collect();
    assert_only_listed("trigger on a table to distribute", &triggers, TRIGGERS);
}
