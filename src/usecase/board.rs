//! The day's board as every front end shows it: `zaitaku status`, the web board and
//! `/api/status`, the tick's digests and the demo all load it here, so they show the same
//! thing. The rows come from the store, the judging is `board::build` (pure, `now` passed in).

use chrono::{DateTime, NaiveDate, Utc};

use crate::board::{self, Board};
use crate::config::Config;
use crate::error::Result;
use crate::store::Store;

/// The board of `date` judged at `now` (pending vs missing), with the outbox's state.
pub async fn load(
    store: &Store,
    cfg: &Config,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Board> {
    let orders = store.orders_on(date).await?;
    let reports = store.reports_on(date).await?;
    let escalations = store.escalations_on(date).await?;
    let mut b = board::build(board::BoardInput {
        date,
        orders: &orders,
        reports: &reports,
        escalations: &escalations,
        now,
        tz: cfg.timezone,
        timing: &cfg.timing,
    });
    b.outbox = crate::outbox::state(store, cfg.timezone).await?;
    Ok(b)
}
