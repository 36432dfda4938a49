//! Chat (SPEC §10): teleworkers report by chat as well as by mail (Matrix `/sync`, a
//! Slack/Mattermost slash command), and the departments' rooms get escalations and digests
//! (Matrix rooms, Slack-compatible incoming webhooks). Like mail, every chat message is an
//! outbox row first, delivered with retries, exactly once.
//!
//! Each chat server zaitaku posts to is a `channel::Channel`; `channels` registers them, once,
//! where a process starts.

pub mod http;
pub mod lineworks;
pub mod matrix;
pub mod slash;
pub mod teams;
pub mod webhook;

use std::sync::Arc;

use crate::config::Config;
use crate::outbox::channel::Channels;

/// The chat channels of this configuration: incoming webhooks always (a row names its URL),
/// Matrix when `[chat.matrix]` is set, Teams when `[chat.teams]` is.
pub fn channels(cfg: &Config) -> Channels {
    let mut list: Vec<Arc<dyn crate::outbox::channel::Channel>> = vec![Arc::new(webhook::Webhook)];
    // LINE WORKS when `[chat.lineworks]` is set.
    if let Some(lw) = &cfg.chat.lineworks {
        list.push(Arc::new(lineworks::LineWorks::new(lw.clone())));
    }
    if let Some(m) = &cfg.chat.matrix {
        list.push(Arc::new(matrix::Matrix::new(m.clone())));
    }
    if cfg.chat.teams.is_some() {
        list.push(Arc::new(teams::Teams));
    }
    Channels::new(list)
}
