//! The outbox: every mail is first a row, written in the same transaction as the decision that
//! causes it, then delivered with retries. Each row keeps its cause (unique: enqueuing the same
//! thing twice is a no-op) and a Message-ID made once, when the row is created, from the cause
//! and 128 random bits: a resend after a crash is recognisable by mail clients as the same
//! message, and nobody who has not seen a mail can name it in a forged reply.
//!
//! One bad row never stops the rest: a recipient the transport refuses is stored as a failed
//! row of its own (shown on the board) while the others get the mail, and a row that cannot be
//! sent is marked failed while the round goes on.

pub mod channel;

use std::fmt;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use lettre::address::{Address, Envelope};
use sqlx::Row;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::transport::{SendError, Transport};
use crate::store::{Store, Tx, epoch, instant};
use channel::{ChannelKind, Channels, Outgoing};

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

/// A new Message-ID for a mail caused by `cause`: the readable cause, then 128 random bits
/// (32 hex digits). Each call gives another one, so it is made once, when the row (and the
/// escalation or digest that points at it) is created, and kept with them: replies are matched
/// against the stored value, and a resend after a crash carries the same one. The random part
/// is what makes a forged reply unable to name an escalation it never received.
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
    format!("zaitaku.{safe}.{}@{domain}", hex::encode(random_16()))
}

/// 16 random bytes from the operating system, taken from a buffer each thread refills 32 IDs'
/// worth at a time: one `getrandom` call per Message-ID was 3 % of the ingest's own task on
/// the city bench (issue 22). The bytes are the operating system's all the same.
fn random_16() -> [u8; 16] {
    const IDS: usize = 32;
    thread_local! {
        static BUF: std::cell::RefCell<([u8; 16 * IDS], usize)> =
            const { std::cell::RefCell::new(([0; 16 * IDS], 16 * IDS)) };
    }
    BUF.with_borrow_mut(|(buf, used)| {
        if *used == buf.len() {
            getrandom::getrandom(buf).expect("the operating system provides random bytes");
            *used = 0;
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&buf[*used..*used + 16]);
        // Handed out once: what is left in the buffer is never given again.
        buf[*used..*used + 16].fill(0);
        *used += 16;
        out
    })
}

/// The Message-ID of the copy of a mail posted to a chat `channel`: the mail's, with the
/// channel after `zaitaku.`, so an answer in the chat (`chat::matrix` maps the event back by
/// removing the channel) finds the escalation the mail belongs to.
pub fn chat_message_id(channel: ChannelKind, mail_id: &str) -> String {
    match mail_id.strip_prefix("zaitaku.") {
        Some(rest) => format!("zaitaku.{channel}.{rest}"),
        None => format!("zaitaku.{channel}.{mail_id}"),
    }
}

fn address(s: &str) -> Result<Address> {
    s.parse::<Address>()
        .map_err(|e| Error::Mail(format!("address {s:?}: {e}")))
}

/// A formatted mail, ready to store.
#[derive(Debug, Clone)]
pub struct OutRow {
    /// Mail, or a chat channel (envelope_to is the room or URL, raw what the channel sends).
    pub channel: ChannelKind,
    pub message_id: String,
    /// What caused the row: the same cause is queued once.
    pub cause: String,
    /// Recipients the transport refuses (an address an old import let in, with a line break),
    /// with why: stored as a failed row of their own, shown on the board; the others still get
    /// the mail, and a mail left with nobody is only that failed row.
    pub refused: Vec<(String, String)>,
    pub purpose: String,
    pub report_id: Option<i64>,
    pub envelope_from: String,
    pub envelope_to: String,
    pub subject: String,
    pub raw: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Formats the mail (RFC 5322 bytes, a new Message-ID). `None` when it has no recipient.
pub fn build(cfg: &Config, m: &OutMail, now: DateTime<Utc>) -> Result<Option<OutRow>> {
    build_with_id(cfg, m, message_id(cfg, &m.cause), now)
}

/// Formats the mail with a Message-ID made before (the one its escalation or digest records).
pub fn build_with_id(
    cfg: &Config,
    m: &OutMail,
    message_id: String,
    now: DateTime<Utc>,
) -> Result<Option<OutRow>> {
    Ok(draft(cfg, m, now)?.map(|d| d.row_with_id(message_id, &m.cause, m.report_id)))
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
    created_at: DateTime<Utc>,
    refused: Vec<(String, String)>,
}

impl Draft {
    /// The row to store, with a new Message-ID for `cause`.
    pub fn row(self, cfg: &Config, cause: &str, report_id: Option<i64>) -> OutRow {
        self.row_with_id(message_id(cfg, cause), cause, report_id)
    }

    /// The row to store, with a Message-ID made before (`message_id`): the one the escalation
    /// this mail announces records, so that a reply to the mail finds it.
    pub fn row_with_id(self, mid: String, cause: &str, report_id: Option<i64>) -> OutRow {
        OutRow {
            channel: ChannelKind::Mail,
            raw: self.text.with_id(&mid),
            message_id: mid,
            cause: cause.to_string(),
            refused: self.refused,
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
    // An address the transport refuses fails for that recipient alone (see `OutRow::refused`);
    // it never reaches a header.
    let mut to = Vec::with_capacity(m.to.len());
    let mut refused = Vec::new();
    for t in &m.to {
        match address(t) {
            Ok(_) => to.push(t.clone()),
            Err(e) => refused.push((t.clone(), e.to_string())),
        }
    }
    let text = crate::mail::format::plain(&crate::mail::format::Plain {
        from_name: "在宅勤務連絡システム",
        from: from.as_ref(),
        to: &to,
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
        to,
        subject: m.subject.clone(),
        text,
        created_at: now,
        refused,
    }))
}

/// Stores formatted mails inside the caller's transaction, several rows per statement. A mail
/// whose cause was queued before is skipped. Returns how many were queued; recipients the
/// transport refuses are stored as failed rows (not counted).
pub async fn insert_rows(tx: &mut Tx<'_>, rows: &[OutRow]) -> Result<usize> {
    let mut queued = 0;
    let mut failed = Vec::new();
    let mut sendable = Vec::with_capacity(rows.len());
    for r in rows {
        if !r.refused.is_empty() {
            failed.push(Failed {
                cause: format!("{}.refused", r.cause),
                message_id: format!("refused.{}", r.message_id),
                purpose: r.purpose.clone(),
                report_id: r.report_id,
                to: r
                    .refused
                    .iter()
                    .map(|(a, _)| a.escape_debug().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                subject: r.subject.clone(),
                error: r
                    .refused
                    .iter()
                    .map(|(_, e)| e.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                at: r.created_at,
            });
        }
        if !(r.channel == ChannelKind::Mail && r.envelope_to.is_empty()) {
            sendable.push(r);
        }
    }
    insert_failed(tx, &failed).await?;
    for chunk in sendable.chunks(500) {
        let sql = crate::store::multi_row_insert(
            tx,
            "INSERT INTO outbox (message_id, purpose, report_id, envelope_from, envelope_to, subject, raw, created_at,
                                 next_attempt_at, channel, cause)",
            11,
            chunk.len(),
            // Either key: the cause (queued before) or, never in practice, the Message-ID.
            "ON CONFLICT DO NOTHING",
        );
        let mut q = sqlx::query(&sql).persistent(crate::store::keep_prepared(chunk.len(), 500));
        for r in chunk {
            q = q
                .bind(&r.message_id)
                .bind(&r.purpose)
                .bind(r.report_id)
                .bind(&r.envelope_from)
                .bind(&r.envelope_to)
                .bind(&r.subject)
                .bind(&r.raw)
                .bind(epoch(r.created_at))
                .bind(epoch(r.created_at))
                .bind(r.channel.as_str())
                .bind(&r.cause);
        }
        // A row skipped by the conflict clause is not counted, on SQLite and PostgreSQL.
        queued += q.execute(&mut **tx).await?.rows_affected() as usize;
    }
    Ok(queued)
}

/// A mail that could not even be queued (a template that does not render, an address the
/// transport refuses): kept as a failed outbox row with the reason, so the board, `/metrics`
/// and IT's summary show it like a mail the server refused.
#[derive(Debug, Clone)]
pub struct Failed {
    pub cause: String,
    pub message_id: String,
    pub purpose: String,
    pub report_id: Option<i64>,
    pub to: String,
    pub subject: String,
    pub error: String,
    pub at: DateTime<Utc>,
}

/// Stores failed rows inside the caller's transaction; a cause stored before is skipped.
pub async fn insert_failed(tx: &mut Tx<'_>, rows: &[Failed]) -> Result<()> {
    for f in rows {
        sqlx::query(
            "INSERT INTO outbox (message_id, purpose, report_id, envelope_from, envelope_to, subject, raw, created_at,
                                 next_attempt_at, channel, cause, failed_at, last_error)
             VALUES ($1, $2, $3, '', $4, $5, $6, $7, $7, 'mail', $8, $7, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&f.message_id)
        .bind(&f.purpose)
        .bind(f.report_id)
        .bind(&f.to)
        .bind(&f.subject)
        .bind(Vec::<u8>::new())
        .bind(epoch(f.at))
        .bind(&f.cause)
        .bind(&f.error)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// An outbox row for a chat channel (made by its `Channel`): `raw` is what is sent to `to`,
/// `text` what the board shows of it (its first line). Its cause is the channel and `cause`,
/// so the same cause is queued once per channel; its Message-ID a new one.
pub fn chat_row(
    cfg: &Config,
    channel: ChannelKind,
    cause: &str,
    to: &str,
    text: &str,
    raw: Vec<u8>,
    now: DateTime<Utc>,
) -> OutRow {
    OutRow {
        channel,
        message_id: message_id(cfg, &format!("{channel}.{cause}")),
        cause: format!("{channel}.{cause}"),
        refused: vec![],
        purpose: "chat".into(),
        report_id: None,
        envelope_from: channel.as_str().into(),
        envelope_to: to.to_string(),
        subject: text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
        raw,
        created_at: now,
    }
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
const GIVE_UP: TimeDelta = TimeDelta::hours(24);

/// While the mail server cannot be reached, the mail waiting for it is tried again this often
/// (or after `retry_base_seconds` when that is shorter), whatever each mail's own backoff: a
/// refused connection costs the server nothing, and the mail goes out within seconds of its
/// return instead of when the backoff of the mail that failed first runs out.
const PROBE: TimeDelta = TimeDelta::seconds(5);

/// `secs` seconds after `at`; the latest moment there is for a configured length too long to
/// mean anything.
fn after(at: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Delivers every row due at `now`: mail through the configured transport, chat rows through
/// their channel.
pub async fn deliver_due(
    store: &Store,
    cfg: &Config,
    channels: &Channels,
    now: DateTime<Utc>,
) -> Result<Delivery> {
    let transport = Transport::for_mail(&cfg.mail)?;
    deliver_with(store, &transport, channels, cfg, now).await
}

/// Delivers what the messages just taken in caused (their answers go out at once, not at the
/// next tick); a failure is logged, and the delivery loop or the tick retries.
pub async fn deliver_now(
    store: &Store,
    transport: &Transport,
    channels: &Channels,
    cfg: &Config,
    now: DateTime<Utc>,
) {
    match deliver_with(store, transport, channels, cfg, now).await {
        Ok(d) if d.attempted > 0 => tracing::info!(
            sent = d.sent,
            retrying = d.retrying,
            failed = d.failed,
            "outbox"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "outbox delivery failed"),
    }
}

/// Mails claimed (and later marked sent) per transaction over SMTP
/// (`Transport::claim_chunk`, 500 for the `file:` transport). Each transaction is an fsync on
/// SQLite; one per mail would make delivery the bottleneck of a backlog. The cost: after a
/// crash, up to this many mails the server had accepted may go once more (same Message-ID).
pub const CLAIM_CHUNK: usize = crate::mail::transport::SMTP_CLAIM_CHUNK;

struct Claimed {
    id: i64,
    from: String,
    to: String,
    raw: Vec<u8>,
    created_at: DateTime<Utc>,
    attempts: i64,
    /// `None`: a channel this version does not know (the row fails, alone).
    channel: Option<ChannelKind>,
    message_id: String,
    server_wait: bool,
}

impl Claimed {
    /// The SMTP envelope; a row whose addresses the transport refuses (stored by an older
    /// version, or edited by hand) fails for good, alone.
    fn envelope(&self) -> std::result::Result<Envelope, SendError> {
        let refuse = |e: Error| SendError {
            permanent: true,
            message: e.to_string(),
        };
        Envelope::new(
            Some(address(&self.from).map_err(refuse)?),
            self.to
                .split(',')
                .filter(|s| !s.is_empty())
                .map(address)
                .collect::<Result<Vec<_>>>()
                .map_err(refuse)?,
        )
        .map_err(|e| SendError {
            permanent: true,
            message: e.to_string(),
        })
    }
}

/// The turn to deliver a municipality's mail in this process. Per municipality, not per
/// process: with `run --all-tenants` one city's relay hanging, or the 455 cities' deliveries
/// of a morning rush, must not make every other city's answers wait in one queue (issue 21).
fn turn_of(tenant: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static TURNS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    // A std Mutex: held only to look the city up, never across an await.
    let mut turns = TURNS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    turns.entry(tenant.to_string()).or_default().clone()
}

/// Delivers every row due at `now`. When the server accepts a mail that had waited for it to
/// come back, the rest of the mail that waited is made due and sent in the same call.
pub async fn deliver_with(
    store: &Store,
    transport: &Transport,
    channels: &Channels,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Delivery> {
    // One delivery at a time for a city in a process: the daemon's delivery loop, the answers
    // sent after each batch and the tick would otherwise each hold a chunk of claimed mail,
    // and a process killed then would leave three chunks to be sent once more instead of one.
    let turn = turn_of(store.shared_tenant().unwrap_or(""));
    let _turn = turn.lock().await;
    let mut total = Delivery::default();
    // Bounded: the second round finds no mail marked as waiting (the first cleared the marks).
    for _ in 0..3 {
        let (d, again) = round(store, transport, channels, cfg, now).await?;
        total.attempted += d.attempted;
        total.sent += d.sent;
        total.retrying += d.retrying;
        total.failed += d.failed;
        if !again {
            break;
        }
    }
    Ok(total)
}

/// One pass over the rows due at `now`; true when the server is back and mail that waited
/// for it was made due again.
async fn round(
    store: &Store,
    transport: &Transport,
    channels: &Channels,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<(Delivery, bool)> {
    // Whole seconds, as every time the outbox keeps.
    let now = now.trunc_subsecs(0);
    let mut r = Round {
        store,
        channels,
        cfg,
        now,
        probe_at: after(now, cfg.mail.retry_base_seconds).min(now + PROBE),
        sender: transport.sender(),
        d: Delivery::default(),
        unreachable: false,
        server_back: false,
        chunk: transport.claim_chunk(),
    };
    // The rows of this round are fixed first, so a failing mail is not retried within the round.
    let due: Vec<(i64, bool)> = sqlx::query(
        "SELECT id, channel FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY id",
    )
    .persistent(crate::store::KEEP_POLLED)
    .bind(epoch(r.now))
    .fetch_all(&mut *store.conn().await?)
    .await?
    .iter()
    .map(|row| (row.get::<i64, _>(0), row.get::<String, _>(1) == "mail"))
    .collect();
    for chunk in due.chunks(transport.claim_chunk()) {
        // Once the server is found away, only the chat rows of the round are still tried.
        let chunk: Vec<i64> = chunk
            .iter()
            .filter(|(_, is_mail)| !(r.unreachable && *is_mail))
            .map(|(id, _)| *id)
            .collect();
        if !chunk.is_empty() {
            r.chunk(&chunk).await?;
        }
    }
    let Round {
        sender,
        d,
        unreachable,
        server_back,
        now,
        ..
    } = r;
    sender.close().await;
    let mut again = false;
    if server_back && !unreachable {
        // The server accepts mail again: what waited for it goes now, not after its backoff.
        let n = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1, server_wait = 0
             WHERE server_wait = 1 AND channel = 'mail' AND sent_at IS NULL AND failed_at IS NULL",
        )
        .bind(epoch(now))
        .execute(&mut *store.conn().await?)
        .await?
        .rows_affected();
        if n > 0 {
            tracing::info!(
                waiting = n,
                "mail server reachable again: sending what waited"
            );
            again = true;
        }
    }
    Ok((d, again))
}

/// A delivery round in progress: the mail server's connection and what it has found so far.
struct Round<'a> {
    store: &'a Store,
    channels: &'a Channels,
    cfg: &'a Config,
    /// The round's clock, in whole seconds.
    now: DateTime<Utc>,
    /// When mail that waits for an absent server is tried again.
    probe_at: DateTime<Utc>,
    sender: crate::mail::transport::Sender<'a>,
    d: Delivery,
    /// The mail server did not answer in this round.
    unreachable: bool,
    /// It accepted a mail that had waited for it.
    server_back: bool,
    /// Rows claimed per transaction (`Transport::claim_chunk`).
    chunk: usize,
}

impl Round<'_> {
    /// Claims, sends and settles one chunk of rows.
    async fn chunk(&mut self, ids: &[i64]) -> Result<()> {
        let was_unreachable = self.unreachable;
        let claimed = self.claim(ids).await?;
        let mut sent = Vec::with_capacity(claimed.len());
        let mut given_back = Vec::new();
        for c in claimed {
            let is_mail = c.channel == Some(ChannelKind::Mail);
            if self.unreachable && is_mail {
                // The server did not answer: give the rest back, to wait for it.
                given_back.push(c.id);
                continue;
            }
            self.d.attempted += 1;
            match self.send(&c).await {
                Ok(remote_id) => {
                    self.server_back |= is_mail && c.server_wait;
                    sent.push((c.id, remote_id));
                    self.d.sent += 1;
                    tracing::debug!(outbox_id = c.id, "mail delivered");
                }
                Err(e) => self.failed(&c, e).await?,
            }
        }
        self.settle(sent, given_back).await?;
        if self.unreachable && !was_unreachable {
            // All mail waiting for the server waits for the next probe, not each for its own
            // turn (and a delivery loop that wakes for the earliest due mail does not spin).
            sqlx::query(
                "UPDATE outbox SET server_wait = 1,
                 next_attempt_at = CASE WHEN next_attempt_at < $1 THEN $1 ELSE next_attempt_at END
                 WHERE channel = 'mail' AND sent_at IS NULL AND failed_at IS NULL
                 AND (lease_until IS NULL OR lease_until < $2)",
            )
            .bind(epoch(self.probe_at))
            .bind(epoch(self.now))
            .execute(&mut *self.store.conn().await?)
            .await?;
        }
        Ok(())
    }

    /// Claims with a conditional UPDATE: of two daemons, only the one whose UPDATE changed the
    /// row sends it. The lease test is repeated because the row may have changed since (and a
    /// mail the server's absence pushed back is no longer due). The lease outlives a chunk's
    /// conversations; it names this process, so that after a crash a daemon started again on
    /// this host takes the rows back at once (`release_dead_leases`).
    async fn claim(&self, ids: &[i64]) -> Result<Vec<Claimed>> {
        // One statement for the chunk: each is a round trip to the database thread.
        let sql = format!(
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1, lease_owner = $2
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $3
             AND (lease_until IS NULL OR lease_until < $3) AND id IN ({})
             RETURNING id, envelope_from, envelope_to, raw, created_at, attempts, channel, message_id, server_wait",
            crate::store::in_list(4, ids.len())
        );
        let mut q = sqlx::query(&sql)
            .persistent(crate::store::keep_prepared(ids.len(), self.chunk))
            .bind(epoch(after(self.now, self.cfg.mail.delivery_lease_seconds)))
            .bind(instance_id())
            .bind(epoch(self.now));
        for &id in ids {
            q = q.bind(id);
        }
        let mut tx = self.store.begin().await?;
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut claimed: Vec<Claimed> = rows
            .iter()
            .map(|r| Claimed {
                id: r.get(0),
                from: r.get(1),
                to: r.get(2),
                raw: r.get(3),
                created_at: instant(r.get(4)),
                attempts: r.get(5),
                channel: ChannelKind::parse(&r.get::<String, _>(6)),
                message_id: r.get(7),
                server_wait: r.get::<i64, _>(8) != 0,
            })
            .collect();
        // In the order they were queued, as before (RETURNING's order is the database's).
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Sends one row: mail through the transport, any other kind through its channel.
    async fn send(&mut self, c: &Claimed) -> std::result::Result<Option<String>, SendError> {
        match c.channel {
            Some(ChannelKind::Mail) => {
                let envelope = c.envelope()?;
                self.sender.send_raw(&envelope, &c.raw).await.map(|()| None)
            }
            Some(kind) => match self.channels.get(kind) {
                Some(channel) => {
                    let row = Outgoing {
                        to: &c.to,
                        message_id: &c.message_id,
                        raw: &c.raw,
                        // The round's clock; whole seconds, as every time the outbox keeps.
                        now: self.now,
                    };
                    channel.send(self.store, row).await
                }
                // Configured when it was queued, not now.
                None => Err(SendError {
                    permanent: true,
                    message: format!("[chat.{kind}] is not configured"),
                }),
            },
            None => Err(SendError {
                permanent: true,
                message: "a channel this version does not know".into(),
            }),
        }
    }

    /// Records a failed attempt: a retry after the backoff, or failed for good.
    async fn failed(&mut self, c: &Claimed, e: SendError) -> Result<()> {
        let is_mail = c.channel == Some(ChannelKind::Mail);
        // The server is unreachable: the rest of this round would fail the same way.
        let down = is_mail && !e.permanent && !self.sender.connected();
        self.unreachable |= down;
        let give_up = e.permanent || self.now - c.created_at > GIVE_UP;
        let backoff = if down {
            self.probe_at - self.now
        } else {
            TimeDelta::seconds(
                ((self.cfg.mail.retry_base_seconds as i64) << (c.attempts - 1).clamp(0, 7))
                    .min(3600),
            )
        };
        sqlx::query(
            "UPDATE outbox SET lease_until = NULL, lease_owner = NULL, last_error = $1, next_attempt_at = $2,
             failed_at = CASE WHEN $3 = 1 THEN $4 ELSE NULL END, server_wait = $5 WHERE id = $6",
        )
        .bind(&e.message)
        .bind(epoch(self.now + backoff))
        .bind(give_up as i64)
        .bind(epoch(self.now))
        .bind(down as i64)
        .bind(c.id)
        .execute(&mut *self.store.conn().await?)
        .await?;
        if give_up {
            self.d.failed += 1;
            tracing::error!(outbox_id = c.id, error = %e.message, "mail delivery failed for good");
        } else {
            self.d.retrying += 1;
            tracing::warn!(outbox_id = c.id, error = %e.message, retry_in_s = backoff.num_seconds(), "mail delivery failed; will retry");
        }
        Ok(())
    }

    /// Marks the chunk's sent rows sent and gives back what waits for the server, in one
    /// transaction.
    async fn settle(&self, sent: Vec<(i64, Option<String>)>, given_back: Vec<i64>) -> Result<()> {
        let mut tx = self.store.begin().await?;
        // Mail has no remote ID: its rows are marked in one statement.
        let (plain, remote): (Vec<_>, Vec<_>) = sent.into_iter().partition(|(_, r)| r.is_none());
        if !plain.is_empty() {
            let sql = format!(
                "UPDATE outbox SET sent_at = $1, lease_until = NULL, lease_owner = NULL, last_error = NULL,
                 server_wait = 0, remote_id = NULL WHERE id IN ({})",
                crate::store::in_list(2, plain.len())
            );
            let mut q = sqlx::query(&sql)
                .persistent(crate::store::keep_prepared(plain.len(), self.chunk))
                .bind(epoch(self.now));
            for (id, _) in &plain {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        for (id, remote_id) in remote {
            sqlx::query(
                "UPDATE outbox SET sent_at = $1, lease_until = NULL, lease_owner = NULL, last_error = NULL,
                 server_wait = 0, remote_id = $2 WHERE id = $3",
            )
            .bind(epoch(self.now))
            .bind(remote_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        if !given_back.is_empty() {
            let sql = format!(
                "UPDATE outbox SET lease_until = NULL, lease_owner = NULL, attempts = attempts - 1,
                 next_attempt_at = $1, server_wait = 1 WHERE id IN ({})",
                crate::store::in_list(2, given_back.len())
            );
            let mut q = sqlx::query(&sql)
                .persistent(false)
                .bind(epoch(self.probe_at));
            for id in &given_back {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// When the delivery loop has something to do next: the earliest time a waiting row is due
/// (or its lease, held by a process that died, runs out). `None` when nothing waits.
/// Planned afresh at each call (`store::KEEP_POLLED`).
pub async fn next_due(store: &Store) -> Result<Option<DateTime<Utc>>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at
                         THEN lease_until ELSE next_attempt_at END)
         FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
    )
    .persistent(crate::store::KEEP_POLLED)
    .fetch_one(&mut *store.conn().await?)
    .await?;
    Ok(at.map(instant))
}

/// This process as its leases name it: host (with its PID namespace), boot, process id and
/// the process's start time, so that another process that later gets the same id (after a
/// restart or a reboot) is not taken for it.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let pid = std::process::id();
        format!(
            "{} {} {pid} {}",
            host(),
            boot_id(),
            proc_start(pid).unwrap_or_else(|| "-".into())
        )
    })
}

fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let pid_ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "-".into());
    format!("{name}/{pid_ns}").replace(' ', "_")
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "-".into())
}

/// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot); `None` when no such
/// process runs (or this is not Linux).
fn proc_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19).map(str::to_string)
}

/// Whether the process that `owner` names is known to have ended: same host, and it runs no
/// more (the host was rebooted, or no process with that id and start time exists). A process
/// on another host, or one we cannot tell about, is presumed alive: its leases run out.
pub fn is_dead(owner: &str) -> bool {
    let parts: Vec<&str> = owner.split(' ').collect();
    let [h, boot, pid, start] = parts.as_slice() else {
        return false;
    };
    if *h != host() || *boot == "-" || *start == "-" || boot_id() == "-" {
        return false;
    }
    if *boot != boot_id() {
        return true;
    }
    match pid.parse::<u32>() {
        Ok(pid) => proc_start(pid).is_none_or(|s| s != *start),
        Err(_) => false,
    }
}

/// Gives back at once the rows claimed by processes of this host that have ended (a daemon
/// killed in the middle of a round), instead of leaving them until their lease runs out: a
/// restarted daemon sends them within seconds. A row the server had accepted before the kill
/// goes once more, with the same Message-ID. Returns how many rows were given back.
pub async fn release_dead_leases(store: &Store, now: DateTime<Utc>) -> Result<u64> {
    // Every city's tick runs this (`store::KEEP_POLLED`).
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT lease_owner FROM outbox
         WHERE lease_owner IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL AND lease_until >= $1",
    )
    .persistent(crate::store::KEEP_POLLED)
    .bind(epoch(now))
    .fetch_all(&mut *store.conn().await?)
    .await?;
    let mut released = 0;
    for owner in owners.iter().filter(|o| is_dead(o)) {
        // Conditional on the owner: a row another process claimed since is left alone.
        released += sqlx::query(
            "UPDATE outbox SET lease_until = NULL, lease_owner = NULL
             WHERE lease_owner = $1 AND sent_at IS NULL AND failed_at IS NULL",
        )
        .bind(owner)
        .execute(&mut *store.conn().await?)
        .await?
        .rows_affected();
        tracing::info!(owner = %owner, "took back the mail a process that ended had claimed");
    }
    Ok(released)
}

/// The Message-IDs of sent messages that the receiving server knows by these IDs (Matrix
/// event IDs), in any order.
pub async fn message_ids_of_remote(store: &Store, remote: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for r in remote {
        let found: Option<String> =
            sqlx::query_scalar("SELECT message_id FROM outbox WHERE remote_id = $1")
                .bind(r)
                .fetch_optional(&mut *store.conn().await?)
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
    .persistent(crate::store::KEEP_POLLED)
    .fetch_all(&mut *store.conn().await?)
    .await?;
    let failures = rows
        .iter()
        .map(|r| crate::board::Failure {
            to: r.get(0),
            subject: r.get(1),
            error: r.get(2),
            at: crate::board::rfc3339(instant(r.get(3)), tz),
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
    .persistent(crate::store::KEEP_POLLED)
    .fetch_one(&mut *store.conn().await?)
    .await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffered random parts: never the same twice, never all zeros, across refills.
    #[test]
    fn random_parts_are_new_each_time_across_refills() {
        let parts: std::collections::HashSet<[u8; 16]> = (0..1000).map(|_| random_16()).collect();
        assert_eq!(parts.len(), 1000);
        assert!(!parts.contains(&[0u8; 16]));
    }

    #[test]
    fn a_message_id_names_its_cause_and_128_random_bits_new_each_time() {
        let cfg = Config::embedded();
        let a = message_id(&cfg, "escalation.order-2-missing-start-2");
        let b = message_id(&cfg, "escalation.order-2-missing-start-2");
        assert_ne!(a, b);
        let (local, _) = a.rsplit_once('@').unwrap();
        let (readable, random) = local.rsplit_once('.').unwrap();
        assert_eq!(readable, "zaitaku.escalation.order-2-missing-start-2");
        assert_eq!(random.len(), 32);
        assert!(random.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn a_chat_copy_maps_back_to_the_mails_message_id() {
        let cfg = Config::embedded();
        let mail = message_id(&cfg, "escalation.order-2-missing-start-2");
        let chat = chat_message_id(ChannelKind::Matrix, &mail);
        assert_ne!(chat, mail);
        // What chat::matrix does with the Message-ID of the event a reply answers.
        assert_eq!(chat.replacen("zaitaku.matrix.", "zaitaku.", 1), mail);
    }

    #[test]
    fn this_process_is_alive_and_a_process_that_never_ran_is_not() {
        let me = instance_id();
        assert!(!is_dead(me), "{me}");
        let parts: Vec<&str> = me.split(' ').collect();
        if parts[3] != "-" {
            // Same host and boot, a start time no process of ours has.
            let gone = format!("{} {} {} 1", parts[0], parts[1], parts[2]);
            assert!(is_dead(&gone), "{gone}");
        }
        assert!(
            !is_dead("another-host/pid:[1] boot 1 1"),
            "other hosts: unknown"
        );
    }
}
