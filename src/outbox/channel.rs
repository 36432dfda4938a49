//! The outbound seam (issue 16): what a chat server is to the rest of zaitaku. Mail is the
//! outbox's own channel; every other one (Matrix, an incoming webhook, …) is a `Channel`:
//! it turns a notice for a department, or an answer in a conversation, into an outbox row,
//! and it sends a row. The channels are registered once, where the daemon, the web and the
//! CLI start (`chat::channels`), and handed down as a `Channels`: the intake, the tick and the
//! outbox never name a chat server.
//!
//! To add a channel: write one file under `chat/` that implements `Channel`, add its config
//! section, add a `ChannelKind`, and register it in `chat::channels`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::mail::transport::SendError;
use crate::outbox::OutRow;
use crate::store::{Employee, Store};

/// Which way an outbox row goes. The database keeps `as_str()`; the code converts once, at the
/// store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    /// A mail through the configured transport (SMTP or a folder).
    Mail,
    /// A Matrix room (`PUT …/send/m.room.message/{txnId}`).
    Matrix,
    /// An incoming webhook (Slack, Mattermost, Rocket.Chat).
    Webhook,
    /// Microsoft Teams: a Workflows webhook posting an Adaptive Card to a department's channel.
    Teams,
    /// LINE WORKS Bot API 2.0: a message to a channel or a user.
    LineWorks,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Mail,
        ChannelKind::Matrix,
        ChannelKind::Webhook,
        ChannelKind::Teams,
        ChannelKind::LineWorks,
    ];

    /// The name in the outbox's `channel` column and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Mail => "mail",
            ChannelKind::Matrix => "matrix",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Teams => "teams",
            ChannelKind::LineWorks => "lineworks",
        }
    }

    /// The kind a stored `channel` names; `None` for a name this version does not know (a row
    /// written by a newer version, or by hand).
    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a chat a message was said, so the answer goes to the same place: the room (or
/// conversation), the message, and the thread it belongs to (its root; the message itself
/// when it starts one). What each part means is the channel's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub channel: ChannelKind,
    pub room: String,
    pub message: String,
    pub thread: String,
}

/// A row claimed for sending, as a channel sees it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Where: a room ID, a webhook URL, …
    pub to: &'a str,
    /// The row's fixed Message-ID: a channel that can make a resend idempotent uses it
    /// (Matrix: the transaction ID).
    pub message_id: &'a str,
    /// What the channel made of the notice when the row was queued.
    pub raw: &'a [u8],
    /// The delivery's clock (`tick --now`, or the daemon's): a channel that keeps credentials
    /// with an expiry (LINE WORKS) judges them by it.
    pub now: DateTime<Utc>,
}

/// What `Channel::send` returns: the ID the chat server gave the message (kept, so an answer
/// to it finds the row), or why it failed (permanent or worth a retry).
pub type Sent<'a> = Pin<Box<dyn Future<Output = Result<Option<String>, SendError>> + Send + 'a>>;

/// A chat server zaitaku posts to.
pub trait Channel: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// The row that posts `text` to `department`'s room; `None` when the department has none
    /// on this channel. `cause` makes it unique (queued once per channel).
    fn department_row(
        &self,
        cfg: &Config,
        cause: &str,
        department: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow>;

    /// When the department has no room on this channel (`department_row` gave none): a row
    /// for each of its supervisors this channel can reach directly (LINE WORKS: a message to
    /// the user). Default: none.
    fn supervisor_rows(
        &self,
        _cfg: &Config,
        _cause: &str,
        _supervisors: &[&Employee],
        _text: &str,
        _now: DateTime<Utc>,
    ) -> Vec<OutRow> {
        Vec::new()
    }

    /// The row that answers the message at `target` with `text`; `None` when this channel
    /// cannot answer in place (an incoming webhook only posts).
    fn reply_row(
        &self,
        cfg: &Config,
        cause: &str,
        target: &ReplyTarget,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow>;

    /// Sends a row this channel made.
    fn send<'a>(&'a self, store: &'a Store, row: Outgoing<'a>) -> Sent<'a>;
}

/// The channels registered where the process starts. Empty: mail only.
#[derive(Clone, Default)]
pub struct Channels(Vec<Arc<dyn Channel>>);

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|c| c.kind()))
            .finish()
    }
}

impl Channels {
    pub fn new(list: Vec<Arc<dyn Channel>>) -> Channels {
        Channels(list)
    }

    /// The channel that sends rows of `kind`.
    pub fn get(&self, kind: ChannelKind) -> Option<&dyn Channel> {
        self.0.iter().find(|c| c.kind() == kind).map(|c| &**c)
    }

    /// The chat messages for a department on every channel — its room, or where it has none,
    /// its `supervisors` one by one on a channel that reaches people directly — queued like
    /// mail: the same cause is queued once per channel and person. Their Message-IDs are the
    /// mail's `mail_id` with the channel (`outbox::chat_message_id`), so an answer in the room
    /// finds what the mail announced; a second row of a channel gets `.2`, `.3`, … Empty when
    /// the department has no room and no supervisor is reachable.
    #[allow(clippy::too_many_arguments)]
    pub fn department_rows(
        &self,
        cfg: &Config,
        mail_id: &str,
        cause: &str,
        department: &str,
        supervisors: &[&Employee],
        text: &str,
        now: DateTime<Utc>,
    ) -> Vec<OutRow> {
        let mut rows = Vec::new();
        for c in &self.0 {
            match c.department_row(cfg, cause, department, text, now) {
                Some(r) => rows.push(r),
                None => rows.extend(c.supervisor_rows(cfg, cause, supervisors, text, now)),
            }
        }
        let mut seen: std::collections::HashMap<ChannelKind, usize> = Default::default();
        for r in &mut rows {
            let id = crate::outbox::chat_message_id(r.channel, mail_id);
            let n = seen.entry(r.channel).or_default();
            *n += 1;
            r.message_id = match (*n, id.split_once('@')) {
                (1, _) => id,
                (n, Some((local, domain))) => format!("{local}.{n}@{domain}"),
                (n, None) => format!("{id}.{n}"),
            };
        }
        rows
    }

    /// The answer to a chat message, on the channel it came from.
    pub fn reply_row(
        &self,
        cfg: &Config,
        cause: &str,
        target: &ReplyTarget,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow> {
        self.get(target.channel)?
            .reply_row(cfg, cause, target, text, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        // Each kind exactly once: a kind missing here would make its rows fail as unknown.
        let all = ChannelKind::ALL;
        for k in all {
            assert_eq!(ChannelKind::parse(k.as_str()), Some(k));
            // The match below has no wildcard: a new kind fails to build until it is in ALL.
            let i = match k {
                ChannelKind::Mail => 0,
                ChannelKind::Matrix => 1,
                ChannelKind::Webhook => 2,
                ChannelKind::Teams => 3,
                ChannelKind::LineWorks => 4,
            };
            assert_eq!(all[i], k);
        }
        assert_eq!(all.len(), 5);
        assert_eq!(ChannelKind::parse("pigeon"), None);
    }
}
