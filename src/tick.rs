//! Everything due at one moment. `zaitaku tick --now T` and the daemon call this same function;
//! the daemon only decides when.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::error::Result;
use crate::outbox::{self, Delivery};
use crate::store::Store;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub delivery: Delivery,
}

impl fmt::Display for TickReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.delivery)
    }
}

pub async fn tick(store: &Store, cfg: &Config, now: DateTime<Utc>) -> Result<TickReport> {
    let delivery = outbox::deliver_due(store, cfg, now).await?;
    Ok(TickReport { delivery })
}
