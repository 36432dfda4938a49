//! Matrix (SPEC §10): the bot follows its rooms and direct messages with the client-server
//! API's `/sync` long-poll, takes `開始` / `終了` messages in as reports with the same rules as
//! mail (source `chat`), and answers in the message's thread. Escalation steps and digests of a
//! department with a room are posted there. Everything it says goes through the outbox as a
//! `PUT …/send/m.room.message/{txnId}` whose transaction ID is the outbox row's fixed
//! Message-ID, so a resend after a crash is the same event to the homeserver, not a second one.
//!
//! Exactly once on the way in: each event is a report keyed by its event ID, and the `/sync`
//! position is saved in the transaction that stores the events it covers. A crash before the
//! commit re-reads the same events (already stored ones are skipped); after it, the next
//! `/sync` starts behind them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::http::{self, encode_segment};
use crate::config::{Config, MatrixConfig};
use crate::error::{Error, Result};
use crate::ingest::{ChatMessage, Ingestor, ReplyVia};
use crate::mail::transport::{SendError, Transport};
use crate::outbox::OutRow;
use crate::outbox::channel::{Channel, ChannelKind, Channels, Outgoing, ReplyTarget, Sent};
use crate::store::chat::save_chat_state;
use crate::store::{ChatPlatform, Store};

/// The device the bot logs in as with a password: the same device every time, so that the
/// homeserver recognises a resent transaction ID.
const DEVICE_ID: &str = "ZAITAKU";

/// What a `/sync` asks for: room messages only, many per room (a restart after a busy hour
/// must not find the timeline cut short), no presence or typing.
const SYNC_FILTER: &str = r#"{"presence":{"types":[]},"account_data":{"types":[]},"room":{"timeline":{"limit":1000,"types":["m.room.message","m.room.encrypted"]},"state":{"lazy_load_members":true,"types":[]},"ephemeral":{"types":[]},"account_data":{"types":[]}}}"#;

fn since_key(m: &MatrixConfig) -> String {
    format!("matrix.since:{}", m.user)
}

fn token_key(m: &MatrixConfig) -> String {
    format!("matrix.token:{}", m.user)
}

/// An outbox row that posts `content` to `room`.
fn row(cfg: &Config, cause: &str, room: &str, content: Value, now: DateTime<Utc>) -> OutRow {
    let text = content["body"].as_str().unwrap_or("").to_string();
    crate::outbox::chat_row(
        cfg,
        ChannelKind::Matrix,
        cause,
        room,
        &text,
        content.to_string().into_bytes(),
        now,
    )
}

/// A message for a department's room. `None` when Matrix is not configured or the department
/// has no room.
pub fn room_row(
    cfg: &Config,
    cause: &str,
    department: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Option<OutRow> {
    let room = cfg.chat.matrix.as_ref()?.rooms.get(department)?;
    Some(row(
        cfg,
        cause,
        room,
        json!({
            "msgtype": "m.text",
            "body": text,
            "format": "org.matrix.custom.html",
            "formatted_body": html_body(text),
        }),
        now,
    ))
}

/// The HTML of a message's `formatted_body`: the plain text with `&<>"'` escaped and line breaks
/// as `<br>`. A client that renders HTML shows staff text (a subject, an order's content, a work
/// summary) as written, never as markup or a link under another name; and it renders this
/// body rather than guessing at markup in the plain one.
pub fn html_body(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// An answer in the thread of the message `event` (whose thread root is `thread`).
pub fn reply_row(
    cfg: &Config,
    cause: &str,
    room: &str,
    event: &str,
    thread: &str,
    text: &str,
    now: DateTime<Utc>,
) -> OutRow {
    let content = json!({
        "msgtype": "m.notice",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": html_body(text),
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": event },
        },
    });
    row(cfg, cause, room, content, now)
}

/// The Matrix channel: rooms from `[chat.matrix.rooms]`, answers in the message's thread.
pub struct Matrix(MatrixConfig);

impl Matrix {
    pub fn new(m: MatrixConfig) -> Matrix {
        Matrix(m)
    }
}

impl Channel for Matrix {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Matrix
    }

    fn department_row(
        &self,
        cfg: &Config,
        cause: &str,
        department: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow> {
        room_row(cfg, cause, department, text, now)
    }

    fn reply_row(
        &self,
        cfg: &Config,
        cause: &str,
        target: &ReplyTarget,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow> {
        Some(reply_row(
            cfg,
            cause,
            &target.room,
            &target.message,
            &target.thread,
            text,
            now,
        ))
    }

    fn send<'a>(&'a self, store: &'a Store, row: Outgoing<'a>) -> Sent<'a> {
        Box::pin(async move {
            send(store, &self.0, row.to, row.message_id, row.raw, row.now)
                .await
                .map(Some)
        })
    }
}

fn transient(message: String) -> SendError {
    SendError {
        permanent: false,
        message,
    }
}

/// The bot's access token: the configured one, else the one a password login saved, else a
/// new login (saved for next time, stamped `now` by the caller's clock).
async fn access_token(
    store: &Store,
    m: &MatrixConfig,
    now: DateTime<Utc>,
) -> std::result::Result<String, SendError> {
    if let Some(t) = &m.access_token {
        return Ok(t.clone());
    }
    let db = |e: Error| transient(format!("database: {e}"));
    if let Some(t) = store.chat_state(&token_key(m)).await.map_err(db)? {
        return Ok(t);
    }
    let password = m.password.as_deref().unwrap_or_default();
    let body = json!({
        "type": "m.login.password",
        "identifier": { "type": "m.id.user", "user": m.user },
        "password": password,
        "device_id": DEVICE_ID,
        "initial_device_display_name": "zaitaku",
    })
    .to_string();
    let r = http::request(
        "POST",
        &format!("{}/_matrix/client/v3/login", m.homeserver),
        &[],
        Some(body.as_bytes()),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| transient(e.0))?;
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let token = match (r.status, v["access_token"].as_str()) {
        (200, Some(t)) => t.to_string(),
        _ => {
            return Err(transient(format!(
                "login as {} refused: HTTP {} {}",
                m.user,
                r.status,
                v["errcode"].as_str().unwrap_or("")
            )));
        }
    };
    let mut tx = store.begin().await.map_err(db)?;
    // Stamped by the process's clock, like the sync position and LINE WORKS's token: the
    // stamp is a record for people, nothing compares it with the homeserver's time.
    save_chat_state(&mut tx, &token_key(m), &token, now)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(|e| db(e.into()))?;
    tracing::info!(user = %m.user, "matrix: logged in");
    Ok(token)
}

/// A token the homeserver no longer accepts: forget a saved one, so the next try logs in.
async fn token_refused(store: &Store, m: &MatrixConfig) {
    // A database away now cannot hold the old token either way: the next try logs in or fails.
    if m.access_token.is_none()
        && let Ok(mut conn) = store.conn().await
    {
        let _ = sqlx::query("DELETE FROM chat_state WHERE name = $1")
            .bind(token_key(m))
            .execute(&mut *conn)
            .await;
    }
}

/// One request to the client-server API with the bot's token (a new login is stamped `now`).
async fn call(
    store: &Store,
    (m, now): (&MatrixConfig, DateTime<Utc>),
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::result::Result<(u16, Value), SendError> {
    let token = access_token(store, m, now).await?;
    let auth = format!("Bearer {token}");
    let r = http::request(
        method,
        &format!("{}{path}", m.homeserver),
        &[("Authorization", &auth)],
        body,
        timeout,
    )
    .await
    .map_err(|e| transient(e.0))?;
    if r.status == 401 {
        token_refused(store, m).await;
    }
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    Ok((r.status, v))
}

/// Delivers an outbox row: `raw` is the event content, the Message-ID its transaction ID.
/// Returns the event's ID.
pub async fn send(
    store: &Store,
    m: &MatrixConfig,
    room: &str,
    txn: &str,
    content: &[u8],
    now: DateTime<Utc>,
) -> std::result::Result<String, SendError> {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
        encode_segment(room),
        encode_segment(txn)
    );
    let (status, v) = call(
        store,
        (m, now),
        "PUT",
        &path,
        Some(content),
        Duration::from_secs(30),
    )
    .await?;
    match status {
        200..=299 => Ok(v["event_id"].as_str().unwrap_or_default().to_string()),
        // A bad token may be mended (new token in the config, a new login): keep trying.
        401 | 408 | 429 => Err(transient(format!("HTTP {status} {}", errcode(&v)))),
        400..=499 => Err(SendError {
            permanent: true,
            message: format!("HTTP {status} {}", errcode(&v)),
        }),
        _ => Err(transient(format!("HTTP {status} {}", errcode(&v)))),
    }
}

fn errcode(v: &Value) -> String {
    match (v["errcode"].as_str(), v["error"].as_str()) {
        (Some(c), Some(e)) => format!("{c}: {e}"),
        (Some(c), None) => c.to_string(),
        _ => String::new(),
    }
}

/// The messages of one `/sync` answer worth taking in, oldest first, and the rooms the bot
/// is invited to.
#[derive(Debug, Default, PartialEq)]
pub struct SyncBatch {
    pub next_batch: String,
    pub messages: Vec<ChatMessage>,
    pub invites: Vec<String>,
    /// Rooms whose timeline was cut short, with the token to page back from.
    pub limited: Vec<(String, String)>,
    /// Messages the bot cannot read (end-to-end encrypted): kept, and their senders told.
    pub encrypted: Vec<Encrypted>,
}

/// An end-to-end encrypted message: the bot has no keys, so it cannot be a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    pub room: String,
    pub event: String,
    pub sender: String,
    pub at: DateTime<Utc>,
}

fn encrypted(m: &MatrixConfig, room: &str, ev: &Value) -> Option<Encrypted> {
    if ev["type"] != "m.room.encrypted" || ev["sender"] == m.user.as_str() {
        return None;
    }
    Some(Encrypted {
        room: room.to_string(),
        event: ev["event_id"].as_str()?.to_string(),
        sender: ev["sender"].as_str()?.to_string(),
        at: DateTime::<Utc>::from_timestamp_millis(ev["origin_server_ts"].as_i64()?)?,
    })
}

/// An encrypted message is kept as one the bot could not read (shown on the board), and a
/// known sender is told, in its thread, to write in a room without encryption.
async fn keep_encrypted(
    tx: &mut crate::store::Tx<'_>,
    cfg: &Config,
    ing: &Ingestor<'_>,
    e: &Encrypted,
    now: DateTime<Utc>,
) -> Result<()> {
    let employee = ing.employee_by_chat(ChatPlatform::Chat, &e.sender);
    let r = crate::store::reports::NewReport {
        message_key: format!("matrix:{}", e.event),
        source: "chat".into(),
        received_at: e.at,
        day: crate::calendar::local_date(e.at, cfg.timezone).to_string(),
        sender: e.sender.clone(),
        employee_id: employee.map(|x| x.employee_id.clone()),
        kind: crate::classify::Kind::Unclassified,
        reason: crate::report::Reason::Unparseable,
        subject: "(暗号化されたメッセージ)".into(),
        ..Default::default()
    };
    let Some(id) = crate::store::reports::insert_report(tx, &r).await? else {
        return Ok(());
    };
    tracing::warn!(room = %e.room, sender = %crate::text::for_log(&e.sender, 254), "matrix: an encrypted message cannot be read; kept");
    if let Some(emp) = employee {
        let text = format!(
            "{} さん\n\nこのルームのメッセージは暗号化されているため、在宅勤務連絡システムでは読めません。\n             暗号化をオフにしたルーム（ダイレクトメッセージは作成時に暗号化をオフ）で、\n             「開始」または「終了」と送ってください。\n\n（在宅勤務連絡システム zaitaku の自動応答）",
            emp.name
        );
        let row = reply_row(
            cfg,
            &format!("encrypted.{id}"),
            &e.room,
            &e.event,
            &e.event,
            &text,
            now,
        );
        crate::outbox::insert_rows(tx, &[row]).await?;
    }
    Ok(())
}

/// Reads a `/sync` answer. Pure, for the tests.
pub fn read_sync(m: &MatrixConfig, v: &Value) -> Option<SyncBatch> {
    let mut b = SyncBatch {
        next_batch: v["next_batch"].as_str()?.to_string(),
        ..SyncBatch::default()
    };
    if let Some(inv) = v["rooms"]["invite"].as_object() {
        b.invites = inv.keys().cloned().collect();
    }
    if let Some(join) = v["rooms"]["join"].as_object() {
        for (room, r) in join {
            let tl = &r["timeline"];
            if tl["limited"].as_bool() == Some(true)
                && let Some(prev) = tl["prev_batch"].as_str()
            {
                b.limited.push((room.clone(), prev.to_string()));
            }
            for ev in tl["events"].as_array().into_iter().flatten() {
                b.messages.extend(message(m, room, ev));
                b.encrypted.extend(encrypted(m, room, ev));
            }
        }
    }
    Some(b)
}

/// One timeline event as a chat message: a text message from someone else than the bot, not
/// an edit. In a department's room (the supervisors' room) only what reads as a report, or
/// resolves a post of ours it answers, is taken: the rest is the staff talking.
fn message(m: &MatrixConfig, room: &str, ev: &Value) -> Option<ChatMessage> {
    if ev["type"] != "m.room.message" || ev["sender"] == m.user.as_str() {
        return None;
    }
    let c = &ev["content"];
    if c["msgtype"] != "m.text" || c["m.relates_to"]["rel_type"] == "m.replace" {
        return None;
    }
    let event = ev["event_id"].as_str()?;
    let text = c["body"].as_str()?.to_string();
    // The events it answers: the thread's root and the message replied to.
    let rel = &c["m.relates_to"];
    let refs: Vec<String> = [&rel["event_id"], &rel["m.in_reply_to"]["event_id"]]
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    // In a department's room only reports, and answers that resolve what we posted, are taken.
    let answers_a_post = !refs.is_empty() && crate::classify::is_resolution(&text);
    if m.rooms.values().any(|r| r == room)
        && !answers_a_post
        && crate::classify::classify("", &text).kind == crate::classify::Kind::Unclassified
    {
        return None;
    }
    let thread = match c["m.relates_to"]["rel_type"].as_str() {
        Some("m.thread") => c["m.relates_to"]["event_id"].as_str().unwrap_or(event),
        _ => event,
    };
    let at = DateTime::<Utc>::from_timestamp_millis(ev["origin_server_ts"].as_i64()?)?;
    Some(ChatMessage {
        key: format!("matrix:{event}"),
        source: "chat",
        platform: ChatPlatform::Chat,
        signed_in: false,
        sender: ev["sender"].as_str()?.to_string(),
        text,
        at,
        in_reply_to: refs,
        reply: ReplyVia::Chat(ReplyTarget {
            channel: ChannelKind::Matrix,
            room: room.to_string(),
            message: event.to_string(),
            thread: thread.to_string(),
        }),
    })
}

/// Events of `room` before `from` (a timeline cut short), oldest first; one page.
async fn backfill(
    store: &Store,
    m: &MatrixConfig,
    room: &str,
    from: &str,
    now: DateTime<Utc>,
) -> std::result::Result<Vec<ChatMessage>, SendError> {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1000&from={}&filter={}",
        encode_segment(room),
        encode_segment(from),
        encode_segment(r#"{"types":["m.room.message","m.room.encrypted"]}"#)
    );
    let (status, v) = call(store, (m, now), "GET", &path, None, Duration::from_secs(60)).await?;
    if status != 200 {
        return Err(transient(format!(
            "messages: HTTP {status} {}",
            errcode(&v)
        )));
    }
    let mut out: Vec<ChatMessage> = v["chunk"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ev| message(m, room, ev))
        .collect();
    out.reverse();
    Ok(out)
}

/// One `/sync` long-poll.
async fn sync(
    store: &Store,
    m: &MatrixConfig,
    since: Option<&str>,
    now: DateTime<Utc>,
) -> std::result::Result<SyncBatch, SendError> {
    let mut path = format!(
        "/_matrix/client/v3/sync?timeout={}&filter={}",
        m.sync_timeout_seconds * 1000,
        encode_segment(SYNC_FILTER)
    );
    if let Some(s) = since {
        path.push_str(&format!("&since={}", encode_segment(s)));
    }
    let wait = Duration::from_secs(m.sync_timeout_seconds + 30);
    let (status, v) = call(store, (m, now), "GET", &path, None, wait).await?;
    if status != 200 {
        return Err(transient(format!("sync: HTTP {status} {}", errcode(&v))));
    }
    read_sync(m, &v).ok_or_else(|| transient("sync: no next_batch in the answer".into()))
}

/// The daemon's Matrix task: `/sync`, take the messages in, answer; until told to stop.
pub async fn run(
    store: Store,
    cfg: Config,
    transport: Arc<Transport>,
    channels: Channels,
    clock: crate::clock::Clock,
    health: crate::health::SharedHealth,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let Some(m) = cfg.chat.matrix.clone() else {
        return Ok(());
    };
    let mut backoff = Duration::from_secs(1);
    let mut up: Option<bool> = None;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let since = match store.chat_state(&since_key(&m)).await {
            Ok(s) => s,
            // The database away for a moment must not end the daemon: try again shortly.
            Err(e) => {
                tracing::error!(error = %e, "matrix: cannot read the sync position; will try again");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        // Only the wait for the homeserver is cut short by a stop; what it answered is stored.
        let answer = tokio::select! {
            r = sync(&store, &m, since.as_deref(), clock.now()) => r,
            _ = stop.changed() => return Ok(()),
        };
        let batch = match answer {
            Ok(b) => b,
            Err(e) => {
                if up != Some(false) {
                    tracing::warn!(homeserver = %m.homeserver, error = %e.message, "matrix disconnected");
                    health.set_matrix_connected(false);
                    up = Some(false);
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        if up != Some(true) {
            tracing::info!(homeserver = %m.homeserver, user = %m.user, "matrix connected");
            health.set_matrix_connected(true);
            up = Some(true);
        }
        backoff = Duration::from_secs(1);
        if let Err(e) = take_in(&store, &cfg, (&channels, clock), &m, since.is_some(), batch).await
        {
            // The position was not saved: the same events come again at the next /sync.
            tracing::error!(error = %e, "matrix: storing messages failed; will read them again");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return Ok(()),
            }
            continue;
        }
        crate::outbox::deliver_now(&store, &transport, &channels, &cfg, clock.now()).await;
    }
}

/// Stores one `/sync` answer: joins the rooms the bot was invited to, then takes the messages
/// in and saves the new position in one transaction.
async fn take_in(
    store: &Store,
    cfg: &Config,
    (channels, clock): (&Channels, crate::clock::Clock),
    m: &MatrixConfig,
    resumed: bool,
    mut batch: SyncBatch,
) -> Result<()> {
    for room in &batch.invites {
        let path = format!("/_matrix/client/v3/join/{}", encode_segment(room));
        match call(
            store,
            (m, clock.now()),
            "POST",
            &path,
            Some(b"{}"),
            Duration::from_secs(30),
        )
        .await
        {
            Ok((200, _)) => tracing::info!(room = %room, "matrix: joined a room on invitation"),
            Ok((s, v)) => {
                tracing::warn!(room = %room, status = s, error = %errcode(&v), "matrix: cannot join")
            }
            Err(e) => tracing::warn!(room = %room, error = %e.message, "matrix: cannot join"),
        }
    }
    // The very first /sync (a new bot, or a new database) shows the rooms' recent history:
    // what is older than a day is not a report for anyone's working day, and answering it
    // would only puzzle people. Later, after any absence, everything is taken.
    if !resumed {
        let before = batch.messages.len();
        // The homeserver's timestamps are wall time, whatever the process's clock reads (a
        // rehearsal with `run --now` in the past must still skip yesterday's real history):
        // compared with them, the system's own time, not the process's clock.
        let since = Utc::now() - chrono::Duration::hours(24);
        batch.messages.retain(|msg| msg.at >= since);
        if batch.messages.len() < before {
            tracing::info!(
                skipped = before - batch.messages.len(),
                "matrix: first sync; messages older than a day left as history"
            );
        }
    }
    // A timeline cut short after a long absence: the page before it, so nothing is missed.
    // (The very first /sync has nothing to catch up with: it starts the bot's history.)
    if resumed {
        for (room, prev) in std::mem::take(&mut batch.limited) {
            match backfill(store, m, &room, &prev, clock.now()).await {
                Ok(mut older) => {
                    tracing::warn!(room = %room, messages = older.len(), "matrix: timeline was cut short; read the page before it");
                    older.append(&mut batch.messages);
                    batch.messages = older;
                }
                Err(e) => {
                    return Err(Error::Mail(format!(
                        "matrix: reading the messages before a gap in {room}: {}",
                        e.message
                    )));
                }
            }
        }
    }
    // What a message answers, as the rules know it: the Message-ID of the escalation (or other
    // message) we posted as that event.
    for msg in &mut batch.messages {
        if !msg.in_reply_to.is_empty() {
            msg.in_reply_to = crate::outbox::message_ids_of_remote(store, &msg.in_reply_to)
                .await?
                .into_iter()
                .map(|id| id.replacen("zaitaku.matrix.", "zaitaku.", 1))
                .collect();
        }
    }
    let now = clock.now();
    let mut ing = Ingestor::new(store, cfg, channels).await?;
    let (mut tx, outcomes) = if batch.messages.is_empty() {
        (store.begin().await?, vec![])
    } else {
        ing.store_chat(&batch.messages, now).await?
    };
    for e in &batch.encrypted {
        keep_encrypted(&mut tx, cfg, &ing, e, now).await?;
    }
    save_chat_state(&mut tx, &since_key(m), &batch.next_batch, now).await?;
    tx.commit().await?;
    for (msg, o) in batch.messages.iter().zip(&outcomes) {
        tracing::info!(key = %crate::text::for_log(&msg.key, 254), sender = %crate::text::for_log(&msg.sender, 254), reason = o.reason.as_str(), "matrix message");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MatrixConfig {
        MatrixConfig {
            homeserver: "http://127.0.0.1:8008".into(),
            user: "@zaitaku:test.local".into(),
            access_token: Some("t".into()),
            password: None,
            rooms: [("情報管理課".to_string(), "!sup:test.local".to_string())].into(),
            sync_timeout_seconds: 30,
        }
    }

    fn ev(id: &str, sender: &str, body: &str, extra: Value) -> Value {
        let mut content = json!({"msgtype": "m.text", "body": body});
        if let Value::Object(x) = extra {
            content.as_object_mut().unwrap().extend(x);
        }
        json!({"type": "m.room.message", "event_id": id, "sender": sender,
               "origin_server_ts": 1610407620000_i64, "content": content})
    }

    #[test]
    fn a_sync_answer_becomes_messages_answered_in_their_thread() {
        let v = json!({
            "next_batch": "s72_1",
            "rooms": {
                "invite": {"!dm:test.local": {}},
                "join": {
                    "!tw:test.local": {"timeline": {"limited": false, "events": [
                        ev("$1", "@yamada:test.local", "開始します", json!({})),
                        ev("$2", "@zaitaku:test.local", "受付", json!({})),
                        ev("$3", "@yamada:test.local", "終了", json!({"m.relates_to": {"rel_type": "m.thread", "event_id": "$1"}})),
                        ev("$4", "@yamada:test.local", "* 終了", json!({"m.relates_to": {"rel_type": "m.replace", "event_id": "$3"}})),
                    ]}},
                    "!sup:test.local": {"timeline": {"limited": true, "prev_batch": "p1", "events": [
                        ev("$5", "@boss:test.local", "了解です", json!({})),
                        ev("$6", "@boss:test.local", "業務開始", json!({})),
                        {"type": "m.room.encrypted", "event_id": "$7", "sender": "@boss:test.local",
                         "origin_server_ts": 1610407680000_i64, "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
                    ]}}
                }
            }
        });
        let b = read_sync(&cfg(), &v).unwrap();
        assert_eq!(b.next_batch, "s72_1");
        assert_eq!(b.invites, vec!["!dm:test.local".to_string()]);
        assert_eq!(
            b.limited,
            vec![("!sup:test.local".to_string(), "p1".to_string())]
        );
        let keys: Vec<&str> = b.messages.iter().map(|m| m.key.as_str()).collect();
        // Not the bot's own message, not an edit, not the supervisors' conversation.
        assert_eq!(keys, ["matrix:$6", "matrix:$1", "matrix:$3"]);
        assert_eq!(
            b.encrypted,
            vec![Encrypted {
                room: "!sup:test.local".into(),
                event: "$7".into(),
                sender: "@boss:test.local".into(),
                at: DateTime::<Utc>::from_timestamp(1610407680, 0).unwrap(),
            }]
        );
        let third = b.messages.iter().find(|m| m.key == "matrix:$3").unwrap();
        assert_eq!(
            third.reply,
            ReplyVia::Chat(ReplyTarget {
                channel: ChannelKind::Matrix,
                room: "!tw:test.local".into(),
                message: "$3".into(),
                thread: "$1".into()
            })
        );
        assert_eq!(third.at.timestamp(), 1610407620);
        assert!(read_sync(&cfg(), &json!({})).is_none());
    }

    #[test]
    fn a_thread_reply_names_the_thread_and_the_message() {
        let c = crate::config::Config::embedded();
        let r = reply_row(
            &c,
            "ack.7",
            "!r:x",
            "$e",
            "$root",
            "受け付けました",
            Utc::now(),
        );
        let v: Value = serde_json::from_slice(&r.raw).unwrap();
        assert_eq!(v["m.relates_to"]["rel_type"], "m.thread");
        assert_eq!(v["m.relates_to"]["event_id"], "$root");
        assert_eq!(v["m.relates_to"]["m.in_reply_to"]["event_id"], "$e");
        assert_eq!(v["body"], "受け付けました");
        assert_eq!(v["format"], "org.matrix.custom.html");
        assert_eq!(v["formatted_body"], "受け付けました");
        assert_eq!(
            (r.channel, r.envelope_to.as_str()),
            (ChannelKind::Matrix, "!r:x")
        );
        assert!(room_row(&c, "x", "情報管理課", "t", Utc::now()).is_none());
    }

    #[test]
    fn the_html_body_shows_staff_text_as_written() {
        assert_eq!(
            html_body("<a href=\"https://evil.example\">職員ポータル</a> & 'x'\r\n2行目"),
            "&lt;a href=&quot;https://evil.example&quot;&gt;職員ポータル&lt;/a&gt; &amp; &#39;x&#39;<br>2行目"
        );
    }
}
