//! The outbox: every mail is first a row, written in the same transaction as the decision that
//! causes it, then delivered with retries. The Message-ID is fixed at enqueue time and derived
//! from what caused the mail, so enqueuing the same thing twice is a no-op and a resend after a
//! crash is recognisable by mail clients as the same message.

use std::fmt;

use chrono::{DateTime, Utc};
use lettre::address::{Address, Envelope};
use sqlx::Row;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::transport::Transport;
use crate::store::{Store, Tx};

/// A mail to send.
#[derive(Debug, Clone)]
pub struct OutMail {
    /// What the mail is for: `ack`, `unclassified`, `no_order`, `notify_no_order`, `notify_incident`, …
    pub purpose: String,
    pub report_id: Option<i64>,
    /// Unique per cause: the Message-ID is built from it.
    pub cause: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// The message this answers (without angle brackets), for In-Reply-To and References.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// `Auto-Submitted: auto-replied` for answers to a person's mail, `auto-generated` otherwise.
    pub auto_submitted: &'static str,
}

impl OutMail {
    /// A mail the system writes on its own (`Auto-Submitted: auto-generated`), from a template.
    pub fn generated(
        purpose: impl Into<String>,
        cause: impl Into<String>,
        to: Vec<String>,
        r: crate::mail::template::Rendered,
    ) -> OutMail {
        OutMail {
            purpose: purpose.into(),
            report_id: None,
            cause: cause.into(),
            to,
            subject: r.subject,
            body: r.body,
            in_reply_to: None,
            references: vec![],
            auto_submitted: "auto-generated",
        }
    }
}

pub fn message_id(cfg: &Config, cause: &str) -> String {
    let domain = cfg
        .bot_address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    let safe: String = cause
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("zaitaku.{safe}@{domain}")
}

fn address(s: &str) -> Result<Address> {
    s.parse::<Address>()
        .map_err(|e| Error::Mail(format!("address {s:?}: {e}")))
}

/// A formatted mail, ready to store.
#[derive(Debug, Clone)]
pub struct OutRow {
    /// `mail`, or `webhook` (envelope_to is the URL, raw the JSON body).
    pub channel: &'static str,
    pub message_id: String,
    pub purpose: String,
    pub report_id: Option<i64>,
    pub envelope_from: String,
    pub envelope_to: String,
    pub subject: String,
    pub raw: Vec<u8>,
    pub created_at: i64,
}

/// Formats the mail (RFC 5322 bytes, fixed Message-ID). `None` when it has no recipient.
pub fn build(cfg: &Config, m: &OutMail, now: DateTime<Utc>) -> Result<Option<OutRow>> {
    Ok(draft(cfg, m, now)?.map(|d| d.row(cfg, &m.cause, m.report_id)))
}

/// A mail formatted but for its Message-ID: the cause (and so the ID) of an answer is known
/// once its report is stored, and formatting meanwhile keeps both cores busy.
#[derive(Debug, Clone)]
pub struct Draft {
    purpose: String,
    envelope_from: String,
    to: Vec<String>,
    subject: String,
    text: crate::mail::format::Formatted,
    created_at: i64,
}

impl Draft {
    /// The row to store, with the Message-ID of `cause`.
    pub fn row(self, cfg: &Config, cause: &str, report_id: Option<i64>) -> OutRow {
        let mid = message_id(cfg, cause);
        OutRow {
            channel: "mail",
            raw: self.text.with_id(&mid),
            message_id: mid,
            purpose: self.purpose,
            report_id,
            envelope_from: self.envelope_from,
            envelope_to: self.to.join(","),
            subject: self.subject,
            created_at: self.created_at,
        }
    }
}

/// Formats the mail but for `cause` and `report_id` (see `Draft`). `None` when it has no
/// recipient.
pub fn draft(cfg: &Config, m: &OutMail, now: DateTime<Utc>) -> Result<Option<Draft>> {
    if m.to.is_empty() {
        return Ok(None);
    }
    let from = address(&cfg.bot_address)?;
    for t in &m.to {
        address(t)?;
    }
    let text = crate::mail::format::plain(&crate::mail::format::Plain {
        from_name: "在宅勤務連絡システム",
        from: from.as_ref(),
        to: &m.to,
        subject: &m.subject,
        date: now.with_timezone(&cfg.timezone),
        auto_submitted: m.auto_submitted,
        in_reply_to: m.in_reply_to.as_deref(),
        references: &m.references,
        body: &m.body,
    });
    Ok(Some(Draft {
        purpose: m.purpose.clone(),
        envelope_from: from.to_string(),
        to: m.to.clone(),
        subject: m.subject.clone(),
        text,
        created_at: now.timestamp(),
    }))
}

/// Stores formatted mails inside the caller's transaction, several rows per statement. A mail
/// whose Message-ID was queued before is skipped. Returns how many were queued.
pub async fn insert_rows(tx: &mut Tx<'_>, rows: &[OutRow]) -> Result<usize> {
    let mut queued = 0;
    for chunk in rows.chunks(500) {
        let sql = crate::store::multi_row_insert(
            tx,
            "INSERT INTO outbox (message_id, purpose, report_id, envelope_from, envelope_to, subject, raw, created_at,
                                 next_attempt_at, channel)",
            10,
            chunk.len(),
            "ON CONFLICT (message_id) DO NOTHING",
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(&r.message_id)
                .bind(&r.purpose)
                .bind(r.report_id)
                .bind(&r.envelope_from)
                .bind(&r.envelope_to)
                .bind(&r.subject)
                .bind(&r.raw)
                .bind(r.created_at)
                .bind(r.created_at)
                .bind(r.channel);
        }
        // A row skipped by the conflict clause is not counted, on SQLite and PostgreSQL.
        queued += q.execute(&mut **tx).await?.rows_affected() as usize;
    }
    Ok(queued)
}

/// The chat messages for a department's rooms (an incoming webhook, a Matrix room), queued
/// like mail: the same cause is queued once. Empty when the department has no room.
pub fn chat_rows(
    cfg: &Config,
    cause: &str,
    department: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Vec<OutRow> {
    let mut rows: Vec<OutRow> = webhook_row(cfg, cause, department, text, now)
        .into_iter()
        .collect();
    rows.extend(crate::chat::matrix::room_row(
        cfg, cause, department, text, now,
    ));
    rows
}

/// An outbox row for a chat server (`channel` is `webhook` or `matrix`): `raw` is what is sent
/// to `to`, `text` what the board shows of it (its first line). The Message-ID comes from the
/// channel and the cause, so the same cause is queued once per channel.
pub fn chat_row(
    cfg: &Config,
    channel: &'static str,
    cause: &str,
    to: &str,
    text: &str,
    raw: Vec<u8>,
    now: DateTime<Utc>,
) -> OutRow {
    OutRow {
        channel,
        message_id: message_id(cfg, &format!("{channel}.{cause}")),
        purpose: "chat".into(),
        report_id: None,
        envelope_from: channel.into(),
        envelope_to: to.to_string(),
        subject: text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
        raw,
        created_at: now.timestamp(),
    }
}

fn webhook_row(
    cfg: &Config,
    cause: &str,
    department: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Option<OutRow> {
    let url = cfg.chat.webhooks.get(department)?;
    Some(chat_row(
        cfg,
        "webhook",
        cause,
        url,
        text,
        crate::chat::webhook::payload(text),
        now,
    ))
}

/// Formats the mail and queues it inside the caller's transaction. Returns false when a mail
/// with the same cause was queued before (or it has no recipient).
pub async fn enqueue(
    tx: &mut Tx<'_>,
    cfg: &Config,
    m: &OutMail,
    now: DateTime<Utc>,
) -> Result<bool> {
    match build(cfg, m, now)? {
        Some(row) => Ok(insert_rows(tx, std::slice::from_ref(&row)).await? == 1),
        None => Ok(false),
    }
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempted: usize,
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outbox: {} sent, {} to retry, {} failed",
            self.sent, self.retrying, self.failed
        )
    }
}

/// After this long of transient failures a mail is given up and shown as failed.
const GIVE_UP_SECS: i64 = 24 * 3600;

/// Delivers every mail due at `now` through the configured transport.
pub async fn deliver_due(store: &Store, cfg: &Config, now: DateTime<Utc>) -> Result<Delivery> {
    let transport = Transport::from_config(&cfg.mail.transport)?;
    deliver_with(store, &transport, cfg, now).await
}

/// Mails claimed (and later marked sent) per transaction. Each transaction is an fsync on
/// SQLite; one per mail would make delivery the bottleneck of a backlog. The cost: after a
/// crash, up to this many mails the server had accepted may go once more (same Message-ID).
const CLAIM_CHUNK: usize = 50;

struct Claimed {
    id: i64,
    from: String,
    to: String,
    raw: Vec<u8>,
    created_at: i64,
    attempts: i64,
    channel: String,
    message_id: String,
}

pub async fn deliver_with(
    store: &Store,
    transport: &Transport,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Delivery> {
    let mail = &cfg.mail;
    let mut d = Delivery::default();
    let mut sender = transport.sender();
    let now_s = now.timestamp();
    // The rows of this round are fixed first, so a failing mail is not retried within the round.
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY id",
    )
    .bind(now_s)
    .fetch_all(store.pool())
    .await?;
    let mut unreachable = false;
    for chunk in due.chunks(CLAIM_CHUNK) {
        // Claim with a conditional UPDATE: of two daemons, only the one whose UPDATE changed the
        // row sends it. The lease test is repeated because the row may have changed since. The
        // lease outlives a chunk's conversations; after a crash the mail is retried when it ends.
        let mut claimed = Vec::with_capacity(chunk.len());
        let mut tx = store.begin().await?;
        for &id in chunk {
            let row = sqlx::query(
                "UPDATE outbox SET lease_until = $1, attempts = attempts + 1
                 WHERE id = $2 AND sent_at IS NULL AND failed_at IS NULL AND (lease_until IS NULL OR lease_until < $3)
                 RETURNING envelope_from, envelope_to, raw, created_at, attempts, channel, message_id",
            )
            .bind(now_s + mail.delivery_lease_seconds as i64)
            .bind(id)
            .bind(now_s)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                claimed.push(Claimed {
                    id,
                    from: r.get(0),
                    to: r.get(1),
                    raw: r.get(2),
                    created_at: r.get(3),
                    attempts: r.get(4),
                    channel: r.get(5),
                    message_id: r.get(6),
                });
            }
        }
        tx.commit().await?;
        let mut sent = Vec::with_capacity(claimed.len());
        for c in claimed {
            let is_mail = c.channel == "mail";
            if unreachable && is_mail {
                // The server did not answer: give the rest back for the next round.
                sqlx::query(
                    "UPDATE outbox SET lease_until = NULL, attempts = attempts - 1 WHERE id = $1",
                )
                .bind(c.id)
                .execute(store.pool())
                .await?;
                continue;
            }
            d.attempted += 1;
            let result = if is_mail {
                let envelope = Envelope::new(
                    Some(address(&c.from)?),
                    c.to.split(',')
                        .filter(|s| !s.is_empty())
                        .map(address)
                        .collect::<Result<Vec<_>>>()?,
                )
                .map_err(|e| Error::Mail(e.to_string()))?;
                sender.send_raw(&envelope, &c.raw).await.map(|()| None)
            } else if c.channel == "matrix" {
                crate::chat::matrix::send(store, cfg, &c.to, &c.message_id, &c.raw)
                    .await
                    .map(Some)
            } else {
                crate::chat::webhook::post(&c.to, &c.raw)
                    .await
                    .map(|()| None)
            };
            match result {
                Ok(remote_id) => {
                    sent.push((c.id, remote_id));
                    d.sent += 1;
                    tracing::debug!(outbox_id = c.id, "mail delivered");
                }
                Err(e) => {
                    let give_up = e.permanent || now_s - c.created_at > GIVE_UP_SECS;
                    let backoff = ((mail.retry_base_seconds as i64)
                        << (c.attempts - 1).clamp(0, 7))
                    .min(3600);
                    sqlx::query(
                        "UPDATE outbox SET lease_until = NULL, last_error = $1, next_attempt_at = $2,
                         failed_at = CASE WHEN $3 = 1 THEN $4 ELSE NULL END WHERE id = $5",
                    )
                    .bind(&e.message)
                    .bind(now_s + backoff)
                    .bind(give_up as i64)
                    .bind(now_s)
                    .bind(c.id)
                    .execute(store.pool())
                    .await?;
                    if give_up {
                        d.failed += 1;
                        tracing::error!(outbox_id = c.id, error = %e.message, "mail delivery failed for good");
                    } else {
                        d.retrying += 1;
                        tracing::warn!(outbox_id = c.id, error = %e.message, retry_in_s = backoff, "mail delivery failed; will retry");
                    }
                    // The server is unreachable: the rest of this round would fail the same way.
                    unreachable |= is_mail && !e.permanent && !sender.connected();
                }
            }
        }
        let mut tx = store.begin().await?;
        for (id, remote_id) in sent {
            sqlx::query("UPDATE outbox SET sent_at = $1, lease_until = NULL, last_error = NULL, remote_id = $2 WHERE id = $3")
                .bind(now_s)
                .bind(remote_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    sender.close().await;
    Ok(d)
}

/// The Message-IDs of sent messages that the receiving server knows by these IDs (Matrix
/// event IDs), in any order.
pub async fn message_ids_of_remote(store: &Store, remote: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for r in remote {
        let found: Option<String> =
            sqlx::query_scalar("SELECT message_id FROM outbox WHERE remote_id = $1")
                .bind(r)
                .fetch_optional(store.pool())
                .await?;
        out.extend(found);
    }
    Ok(out)
}

/// What the board shows of the outbox: counts, and the mails that failed for good (newest
/// 20), with the server's answer.
pub async fn state(store: &Store, tz: chrono_tz::Tz) -> Result<crate::board::OutboxState> {
    let (queued, sent, failed) = counts(store).await?;
    let rows = sqlx::query(
        "SELECT envelope_to, subject, COALESCE(last_error, ''), failed_at FROM outbox
         WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC LIMIT 20",
    )
    .fetch_all(store.pool())
    .await?;
    let failures = rows
        .iter()
        .map(|r| crate::board::Failure {
            to: r.get(0),
            subject: r.get(1),
            error: r.get(2),
            at: crate::board::rfc3339(r.get(3), tz),
        })
        .collect();
    Ok(crate::board::OutboxState {
        queued,
        sent,
        failed,
        failures,
    })
}

/// Counts for the board and metrics: queued, sent, failed.
pub async fn counts(store: &Store) -> Result<(i64, i64, i64)> {
    let row = sqlx::query(
        "SELECT
            COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0)
         FROM outbox",
    )
    .fetch_one(store.pool())
    .await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}
