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
