//! The IMAP position: UIDVALIDITY and the last committed UID of each mailbox.

use sqlx::Row;

use super::{Store, Tx};
use crate::error::Result;

impl Store {
    /// (uid_validity, last_uid) of a mailbox, if it was read before.
    pub async fn mailbox_state(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        let row =
            sqlx::query("SELECT uid_validity, last_uid FROM mailbox_state WHERE mailbox = $1")
                .bind(mailbox)
                .fetch_optional(&mut *self.conn().await?)
                .await?;
        Ok(row.map(|r| (r.get::<i64, _>(0) as u32, r.get::<i64, _>(1) as u32)))
    }
}

/// Moves the mailbox position forward, inside the transaction that stored the batch.
pub async fn save_mailbox_state(
    tx: &mut Tx<'_>,
    mailbox: &str,
    uid_validity: u32,
    last_uid: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO mailbox_state (mailbox, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant, mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid,
         updated_at = excluded.updated_at",
    )
    .bind(mailbox)
    .bind(i64::from(uid_validity))
    .bind(i64::from(last_uid))
    .bind(super::epoch(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A daemon's row in `daemons` (migration 0024), as another daemon reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub id: String,
    /// How many mailboxes it reads when it holds its part, and how many it holds.
    pub serves: i64,
    pub holds: i64,
}

impl Store {
    /// Takes `mailbox`'s lease for `me` until `until` (epoch seconds) when nobody has it yet or
    /// it ran out before `free_before`. `None` when `me` holds it now; otherwise the holder
    /// (empty when it was given back), who keeps it.
    pub async fn claim_mailbox(
        &self,
        mailbox: &str,
        me: &str,
        until: i64,
        free_before: i64,
    ) -> Result<Option<String>> {
        let mut c = self.conn().await?;
        let took = sqlx::query(
            "INSERT INTO mailbox_leases (mailbox, owner, lease_until) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, mailbox) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
             WHERE mailbox_leases.lease_until < $4",
        )
        .bind(mailbox)
        .bind(me)
        .bind(until)
        .bind(free_before)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if took == 1 {
            return Ok(None);
        }
        let owner: Option<String> =
            sqlx::query_scalar("SELECT owner FROM mailbox_leases WHERE mailbox = $1")
                .bind(mailbox)
                .fetch_optional(&mut *c)
                .await?;
        // Gone between the two statements (never deleted today): free, say so by no owner.
        Ok(Some(owner.unwrap_or_default()))
    }

    /// Takes `mailbox`'s lease from `owner` (a daemon known to have ended); false when another
    /// took it first.
    pub async fn take_mailbox_from(
        &self,
        mailbox: &str,
        owner: &str,
        me: &str,
        until: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE mailbox_leases SET owner = $1, lease_until = $2 WHERE mailbox = $3 AND owner = $4",
        )
        .bind(me)
        .bind(until)
        .bind(mailbox)
        .bind(owner)
        .execute(&mut *self.conn().await?)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Moves `me`'s lease on `mailbox` to `until`. False when `me` holds it no longer.
    pub async fn renew_mailbox(&self, mailbox: &str, me: &str, until: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE mailbox_leases SET lease_until = $1 WHERE mailbox = $2 AND owner = $3",
        )
        .bind(until)
        .bind(mailbox)
        .bind(me)
        .execute(&mut *self.conn().await?)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Gives `me`'s lease on `mailbox` back, run out at `at` and held by nobody: a daemon within
    /// its part takes it at its next look (`me` too, but only then, not at once).
    pub async fn release_mailbox(&self, mailbox: &str, me: &str, at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE mailbox_leases SET owner = '', lease_until = $1 WHERE mailbox = $2 AND owner = $3",
        )
        .bind(at)
        .bind(mailbox)
        .bind(me)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Says `me` runs until `alive_until`, reading `holds` of the `serves` mailboxes it would
    /// read, and returns every daemon alive at `now`, `me` included. Rows of daemons gone for a
    /// day are removed on the way.
    pub async fn daemon_beat(
        &self,
        me: &Daemon,
        alive_until: i64,
        now: i64,
    ) -> Result<Vec<Daemon>> {
        let mut c = self.conn().await?;
        sqlx::query(
            "INSERT INTO daemons (id, alive_until, serves, holds) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until,
             serves = excluded.serves, holds = excluded.holds",
        )
        .bind(&me.id)
        .bind(alive_until)
        .bind(me.serves)
        .bind(me.holds)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM daemons WHERE alive_until < $1")
            .bind(now - 86_400)
            .execute(&mut *c)
            .await?;
        let rows = sqlx::query(
            "SELECT id, serves, holds FROM daemons WHERE alive_until >= $1 ORDER BY id",
        )
        .bind(now)
        .fetch_all(&mut *c)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Daemon {
                id: r.get(0),
                serves: r.get(1),
                holds: r.get(2),
            })
            .collect())
    }

    /// `id` has stopped: the others share its part from their next beat.
    pub async fn daemon_gone(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM daemons WHERE id = $1")
            .bind(id)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }
}
