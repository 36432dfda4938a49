//! Chat positions and credentials (`chat_state`): the Matrix `/sync` token and a logged-in
//! access token, the LINE WORKS access token and the parts of a long message already posted.

use super::{Store, Tx};
use crate::error::Result;

impl Store {
    pub async fn chat_state(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM chat_state WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *self.conn().await?)
                .await?,
        )
    }

    /// Forgets a value (a token the server refused, a finished message's progress).
    pub async fn forget_chat_state(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM chat_state WHERE name = $1")
            .bind(name)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }
}

/// Saves a value inside the caller's transaction (the `/sync` position goes with the
/// messages it covers).
pub async fn save_chat_state(
    tx: &mut Tx<'_>,
    name: &str,
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO chat_state (name, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(super::epoch(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
