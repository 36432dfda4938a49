//! The audit trail (SPEC §11, issue 18): who changed what in the register, when and from
//! where, with the fields before and after. An entry is written in the transaction of the
//! change it records, so there is never a change without its entry nor an entry without its
//! change. Entries are hash-chained: each one's hash covers its fields and the hash of the one
//! before, and `audit_head` keeps the last, so a row changed, removed or slipped in by hand is
//! found by `verify`. Nothing in zaitaku updates or deletes an entry.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, Tx};
use crate::error::Result;

/// Who made a change, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// An employee ID (the web), `cli:USER` (the OS user of the CLI), `mail:ADDRESS` or
    /// `chat:ID` (the bot acting on a message).
    pub who: String,
    /// `web`, `cli` or `daemon`.
    pub via: &'static str,
    /// The web client's address, when known.
    pub client: Option<String>,
}

impl Actor {
    /// The CLI, as the operating system's user who runs it.
    pub fn cli() -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Actor {
            who: format!("cli:{}", crate::text::clean_line(&user)),
            via: "cli",
            client: None,
        }
    }

    /// The bot, acting on a message: `mail:ADDRESS` or `chat:ID`.
    pub fn bot(who: String) -> Actor {
        Actor {
            who: crate::text::clean_line(&who).into_owned(),
            via: "daemon",
            client: None,
        }
    }

    /// A long-running process (`zaitaku run`, `zaitaku web`, the tick's retention) as the
    /// operating system's user who started it.
    pub fn process() -> Actor {
        Actor {
            via: "daemon",
            ..Actor::cli()
        }
    }

    /// A signed-in web user.
    pub fn web(employee_id: &str, client: Option<String>) -> Actor {
        Actor {
            who: employee_id.to_string(),
            via: "web",
            client,
        }
    }
}

/// One change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `employee`, `order`, `contact`, `application`, `id`, `password`, `token`, `escalation`.
    pub entity: &'static str,
    pub entity_id: String,
    /// The department the entity belongs to (a supervisor reads their own department's).
    pub department: Option<String>,
    /// `create`, `update`, `approve`, `cancel`, `import`, `record`, `set`, `revoke`, …
    pub action: &'static str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: i64,
    /// Seconds since the epoch, as stored and hashed into the chain (`Entry::at` when printed).
    #[serde(skip)]
    pub at_epoch: i64,
    pub actor: String,
    pub via: String,
    pub client: Option<String>,
    pub entity: String,
    pub entity_id: String,
    pub department: Option<String>,
    pub action: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    #[serde(skip)]
    before_json: Option<String>,
    #[serde(skip)]
    after_json: Option<String>,
    #[serde(skip)]
    prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// When the change was made; `None` for a stored time out of chrono's range.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        DateTime::<Utc>::from_timestamp(self.at_epoch, 0)
    }
}

/// Feeds what is written into a SHA-256.
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The hash of an entry: SHA-256 over the previous entry's hash and every field, as one JSON
/// array (unambiguous however the fields are written). The array is written straight into the
/// hash (the same bytes as `json!([…]).to_string()`, without building them first).
#[allow(clippy::too_many_arguments)]
fn hash(
    prev: &str,
    at: i64,
    actor: &str,
    via: &str,
    client: Option<&str>,
    entity: &str,
    entity_id: &str,
    department: Option<&str>,
    action: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> String {
    let fields = (
        prev, at, actor, via, client, entity, entity_id, department, action, before, after,
    );
    let mut h = Hashing(Sha256::new());
    // Writing into a hash cannot fail, nor can serialising strings and numbers.
    let _ = serde_json::to_writer(&mut h, &fields);
    hex::encode(h.0.finalize())
}

/// Entries per INSERT statement: an import of 100,000 orders is 200 statements for its
/// trail, not 100,000 (each statement is a round trip to the database's thread).
const APPEND_CHUNK: usize = 500;

/// `append` for a caller above the store: the changes made at `at`.
pub async fn record(
    tx: &mut Tx<'_>,
    actor: &Actor,
    at: DateTime<Utc>,
    changes: &[Change],
) -> Result<()> {
    append(tx, actor, super::epoch(at), changes).await
}

/// Appends `changes` inside the caller's transaction. The head row is updated first, which
/// takes its lock: two transactions append one after the other, never both after the same
/// entry. The chain is computed here and the entries inserted several to a statement, in
/// order (so their IDs follow the chain).
pub async fn append(tx: &mut Tx<'_>, actor: &Actor, at: i64, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE audit_head SET last_id = last_id WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let head = sqlx::query("SELECT last_id, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let (mut last_id, mut prev): (i64, String) = (head.get(0), head.get(1));
    // (change, before, after, prev_hash, hash)
    let mut rows = Vec::with_capacity(changes.len());
    for c in changes {
        let before = c.before.as_ref().map(Value::to_string);
        let after = c.after.as_ref().map(Value::to_string);
        let h = hash(
            &prev,
            at,
            &actor.who,
            actor.via,
            actor.client.as_deref(),
            c.entity,
            &c.entity_id,
            c.department.as_deref(),
            c.action,
            before.as_deref(),
            after.as_deref(),
        );
        let linked = std::mem::replace(&mut prev, h.clone());
        rows.push((c, before, after, linked, h));
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(APPEND_CHUNK).collect();
        let sql = super::multi_row_insert(
            tx,
            "INSERT INTO audit_log (at, actor, via, client, entity, entity_id, department, action,
                                    before_json, after_json, prev_hash, hash)",
            12,
            chunk.len(),
            "RETURNING id",
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for (c, before, after, linked, h) in chunk {
            q = q
                .bind(at)
                .bind(&actor.who)
                .bind(actor.via)
                .bind(actor.client.as_deref())
                .bind(c.entity)
                .bind(&c.entity_id)
                .bind(c.department.as_deref())
                .bind(c.action)
                .bind(before)
                .bind(after)
                .bind(linked)
                .bind(h);
        }
        let ids = q.fetch_all(&mut **tx).await?;
        last_id = ids.into_iter().max().unwrap_or(last_id);
    }
    sqlx::query("UPDATE audit_head SET last_id = $1, hash = $2 WHERE id = 1")
        .bind(last_id)
        .bind(&prev)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One change about an employee's account (a password, a token): the employee's department
/// is read in the transaction. `after` names what changed, never a secret.
pub async fn append_account(
    tx: &mut Tx<'_>,
    actor: &Actor,
    at: i64,
    entity: &'static str,
    employee_id: &str,
    action: &'static str,
    after: Option<Value>,
) -> Result<()> {
    let department: Option<String> =
        sqlx::query_scalar("SELECT department FROM employees WHERE employee_id = $1")
            .bind(employee_id)
            .fetch_optional(&mut **tx)
            .await?;
    let change = Change {
        entity,
        entity_id: employee_id.to_string(),
        department,
        action,
        before: None,
        after,
    };
    append(tx, actor, at, &[change]).await
}

impl Store {
    /// Appends `change` unless the last entry of its entity and ID already says the same
    /// (`after`); that entry's `after` becomes this one's `before`. The head's lock is taken
    /// first, so two processes starting together write one entry. True when one was written.
    pub async fn append_if_changed(
        &self,
        actor: &Actor,
        at: DateTime<Utc>,
        mut change: Change,
    ) -> Result<bool> {
        let at = super::epoch(at);
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE audit_head SET last_id = last_id WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let last: Option<Option<String>> = sqlx::query_scalar(
            "SELECT after_json FROM audit_log WHERE entity = $1 AND entity_id = $2
             ORDER BY id DESC LIMIT 1",
        )
        .bind(change.entity)
        .bind(&change.entity_id)
        .fetch_optional(&mut *tx)
        .await?;
        let last: Option<Value> = last.flatten().and_then(|s| serde_json::from_str(&s).ok());
        if last.is_some() && last == change.after {
            return Ok(false);
        }
        change.before = last;
        append(&mut tx, actor, at, &[change]).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// What `audit list` and `audit export` select.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    /// The actor, or the entity when it is an employee or an order of that employee.
    pub employee: Option<String>,
    pub department: Option<String>,
    pub entity: Option<String>,
}

const SELECT: &str = "SELECT id, at, actor, via, client, entity, entity_id, department, action,
    before_json, after_json, prev_hash, hash FROM audit_log";

fn entry(r: &sqlx::any::AnyRow) -> Entry {
    let before_json: Option<String> = r.get(9);
    let after_json: Option<String> = r.get(10);
    let parse = |s: &Option<String>| s.as_deref().and_then(|s| serde_json::from_str(s).ok());
    Entry {
        id: r.get(0),
        at_epoch: r.get(1),
        actor: r.get(2),
        via: r.get(3),
        client: r.get(4),
        entity: r.get(5),
        entity_id: r.get(6),
        department: r.get(7),
        action: r.get(8),
        before: parse(&before_json),
        after: parse(&after_json),
        before_json,
        after_json,
        prev_hash: r.get(11),
        hash: r.get(12),
    }
}

/// What `Filter` selects, its values bound as `$1`…`$5` by `bind_filter`.
const WHERE: &str = "WHERE ($1 = -1 OR at >= $1) AND ($2 = -1 OR at < $2)
     AND ($3 = '' OR actor = $3 OR (entity_id = $3 AND entity = 'employee')
          OR entity_id LIKE $3 || ':%')
     AND ($4 = '' OR department = $4) AND ($5 = '' OR entity = $5)";

fn bind_filter<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    f: &Filter,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(f.from.map_or(-1, super::epoch))
        .bind(f.to.map_or(-1, super::epoch))
        .bind(f.employee.clone().unwrap_or_default())
        .bind(f.department.clone().unwrap_or_default())
        .bind(f.entity.clone().unwrap_or_default())
}

impl Store {
    /// The entries `f` selects, oldest first.
    pub async fn audit_entries(&self, f: &Filter) -> Result<Vec<Entry>> {
        let sql = format!("{SELECT} {WHERE} ORDER BY id");
        let rows = bind_filter(sqlx::query(&sql), f)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        Ok(rows.iter().map(entry).collect())
    }

    /// A page of the entries `f` selects, newest first (`limit` from the `offset`th), and how
    /// many it selects in all (the 監査ログ page).
    pub async fn audit_page(
        &self,
        f: &Filter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Entry>, i64)> {
        let count = format!("SELECT COUNT(*) FROM audit_log {WHERE}");
        let total: i64 = bind_filter(sqlx::query(&count), f)
            .fetch_one(&mut *self.conn().await?)
            .await?
            .get(0);
        let sql = format!("{SELECT} {WHERE} ORDER BY id DESC LIMIT $6 OFFSET $7");
        let rows = bind_filter(sqlx::query(&sql), f)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        Ok((rows.iter().map(entry).collect(), total))
    }

    /// Walks the chain. `None` when it is intact; else the first entry that breaks it and why.
    pub async fn audit_verify(&self) -> Result<Option<(i64, String)>> {
        let rows = sqlx::query(&format!("{SELECT} ORDER BY id"))
            .fetch_all(&mut *self.conn().await?)
            .await?;
        let mut prev = String::new();
        let mut last = 0;
        for r in &rows {
            let e = entry(r);
            if e.prev_hash != prev {
                return Ok(Some((
                    e.id,
                    "the entry before it was changed or removed (its link does not match)".into(),
                )));
            }
            let h = hash(
                &e.prev_hash,
                e.at_epoch,
                &e.actor,
                &e.via,
                e.client.as_deref(),
                &e.entity,
                &e.entity_id,
                e.department.as_deref(),
                &e.action,
                e.before_json.as_deref(),
                e.after_json.as_deref(),
            );
            if h != e.hash {
                return Ok(Some((e.id, "its content was changed".into())));
            }
            prev = e.hash;
            last = e.id;
        }
        let head = sqlx::query("SELECT last_id, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *self.conn().await?)
            .await?;
        let (head_id, head_hash): (i64, String) = (head.get(0), head.get(1));
        if head_id != last || head_hash != prev {
            return Ok(Some((
                head_id,
                format!("the last entries were removed (the chain ends at entry {last})"),
            )));
        }
        Ok(None)
    }
}

/// What a purge blanks (or would): reports whose 日報 or kept mail goes, and sent mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub reports: u64,
    pub mails: u64,
}

impl Store {
    /// Blanks the 日報 text and kept mail of reports of days before `before`, and the bodies
    /// of mail sent (or failed for good) before its first second `cutoff`, recorded in the
    /// audit trail; with `dry_run`, only counts. What is still to be sent is never touched.
    pub async fn purge_bodies(
        &self,
        before: chrono::NaiveDate,
        cutoff: DateTime<Utc>,
        dry_run: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Purged> {
        let (cutoff, now) = (super::epoch(cutoff), super::epoch(now));
        let mut tx = self.begin().await?;
        let purged = blank_bodies(&mut tx, before, cutoff, dry_run).await?;
        if dry_run {
            return Ok(purged);
        }
        let change = Change {
            entity: "retention",
            entity_id: before.to_string(),
            department: None,
            action: "purge",
            before: None,
            after: Some(serde_json::json!({
                "before": before.to_string(), "reports_blanked": purged.reports,
                "mails_blanked": purged.mails,
            })),
        };
        append(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// `[retention] bodies_days` (the daemon's tick): `purge_bodies` once a day, whichever
    /// process ticks first. The day is claimed by the entry itself, written even when nothing
    /// was left to blank (the trail shows that the rule ran): the head's lock, taken first,
    /// makes a rival process wait and then find today's entry. `None` when today's was there.
    pub async fn expire_bodies(
        &self,
        before: chrono::NaiveDate,
        cutoff: DateTime<Utc>,
        (today, tomorrow): (DateTime<Utc>, DateTime<Utc>),
        bodies_days: u32,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Purged>> {
        let (cutoff, now) = (super::epoch(cutoff), super::epoch(now));
        let (today, tomorrow) = (super::epoch(today), super::epoch(tomorrow));
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE audit_head SET last_id = last_id WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let done: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE at >= $1 AND at < $2
             AND entity = 'retention' AND action = 'expire'",
        )
        .bind(today)
        .bind(tomorrow)
        .fetch_one(&mut *tx)
        .await?;
        if done > 0 {
            return Ok(None);
        }
        let purged = blank_bodies(&mut tx, before, cutoff, false).await?;
        let change = Change {
            entity: "retention",
            entity_id: before.to_string(),
            department: None,
            action: "expire",
            before: None,
            after: Some(serde_json::json!({
                "before": before.to_string(), "bodies_days": bodies_days,
                "reports_blanked": purged.reports, "mails_blanked": purged.mails,
            })),
        };
        append(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(Some(purged))
    }
}

/// Counts, and unless `dry_run` blanks, in the caller's transaction: the 日報 text and kept
/// mail of reports of days before `before`, and the bodies of mail sent (or failed for good)
/// before `cutoff`. What is still to be sent is never touched.
async fn blank_bodies(
    tx: &mut Tx<'_>,
    before: chrono::NaiveDate,
    cutoff: i64,
    dry_run: bool,
) -> Result<Purged> {
    let day = before.to_string();
    let reports = "FROM reports WHERE day < $1 AND (summary <> '' OR raw IS NOT NULL)";
    let mails =
        "FROM outbox WHERE created_at < $1 AND (sent_at IS NOT NULL OR failed_at IS NOT NULL)
                 AND length(raw) > 0";
    let count = |sql: &str| format!("SELECT COUNT(*) {sql}");
    let r: i64 = sqlx::query_scalar(&count(reports))
        .bind(&day)
        .fetch_one(&mut **tx)
        .await?;
    let m: i64 = sqlx::query_scalar(&count(mails))
        .bind(cutoff)
        .fetch_one(&mut **tx)
        .await?;
    let purged = Purged {
        reports: r as u64,
        mails: m as u64,
    };
    if dry_run || (r == 0 && m == 0) {
        return Ok(purged);
    }
    sqlx::query(&format!(
        "UPDATE reports SET summary = '', raw = NULL WHERE id IN (SELECT id {reports})"
    ))
    .bind(&day)
    .execute(&mut **tx)
    .await?;
    sqlx::query(&format!(
        "UPDATE outbox SET raw = $2 WHERE id IN (SELECT id {mails})"
    ))
    .bind(cutoff)
    .bind(Vec::<u8>::new())
    .execute(&mut **tx)
    .await?;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries written before the hash was streamed are verified the same: the bytes hashed
    /// are those of `json!([…]).to_string()`.
    #[test]
    fn the_hash_is_over_the_same_bytes_as_the_json_array() {
        let old = |f: &[Option<&str>; 9], at: i64| {
            let v = serde_json::json!([
                f[0],
                at,
                f[1],
                f[2],
                f[3],
                f[4],
                f[5],
                f[6],
                f[7],
                f[8],
                None::<&str>
            ]);
            hex::encode(Sha256::digest(v.to_string().as_bytes()))
        };
        let f = [
            Some("ab12"),
            Some("cli:山田"),
            Some("cli"),
            None,
            Some("order"),
            Some("E1001:2021-01-12"),
            Some("情報管理課"),
            Some("update"),
            Some(r#"{"content":"手順書 \"改訂\"\n","start":"08:30"}"#),
        ];
        let new = hash(
            f[0].unwrap(),
            1_610_400_000,
            f[1].unwrap(),
            f[2].unwrap(),
            f[3],
            f[4].unwrap(),
            f[5].unwrap(),
            f[6],
            f[7].unwrap(),
            f[8],
            None,
        );
        assert_eq!(new, old(&f, 1_610_400_000));
    }
}
