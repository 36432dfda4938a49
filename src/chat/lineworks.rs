//! LINE WORKS (SPEC §10, Bot API 2.0). Out: a department's notices, escalation steps and
//! digests are a text message to its message room (`POST /v1.0/bots/{botId}/channels/{channelId}
//! /messages`), the answer to a report a message to the teleworker (`…/users/{userId}/messages`),
//! or to the room the report was written in. In: the bot's callback (`POST /chat/lineworks`,
//! `web::lineworks`), signed with the Bot Secret, read here (`verify`, `read_callback`).
//!
//! The API takes a bearer token that the app gets with its service account: a JWT signed RS256
//! with the account's private key, exchanged at `{auth_base}/oauth2/v2.0/token`. The token and
//! its expiry are kept in `chat_state`, so every process on the database uses one token, and a
//! new one is fetched a little before it runs out (or at once when the API answers 401).
//!
//! An outbox row's `envelope_to` is `channel:{channelId}` or `user:{userId}`; its `raw` is the
//! request body (`{"content":{"type":"text","text":…}}`), or, for a text longer than one
//! message may be, a JSON array of such bodies, posted in order.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::http::{self, encode_segment};
use crate::config::{Config, LineWorksConfig};
use crate::ingest::{ChatMessage, ReplyVia};
use crate::mail::transport::SendError;
use crate::outbox::OutRow;
use crate::outbox::channel::{Channel, ChannelKind, Outgoing, ReplyTarget, Sent};
use crate::store::chat::save_chat_state;
use crate::store::{ChatPlatform, Store};

/// The longest text one message may carry ("Text": `text`, maximum length 2,000 characters).
/// Counted in UTF-16 units: the documentation does not say whether an emoji counts once or
/// twice, and counting twice is never over.
pub const TEXT_LIMIT: usize = 2000;

/// At most this many messages for one text (a digest of a very large department); what is
/// left after them is cut, with a note that the mail has all of it.
pub const MAX_PARTS: usize = 8;

/// The JWT's lifetime: the token endpoint takes at most 60 minutes; it is used at once.
const JWT_LIFETIME: TimeDelta = TimeDelta::minutes(30);

/// A token is replaced this long before it runs out, so a request never carries one that
/// expires on the way.
const TOKEN_MARGIN: TimeDelta = TimeDelta::minutes(10);

/// RFC 7523's grant type for a JWT bearer assertion.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The LINE WORKS channel.
pub struct LineWorks(LineWorksConfig);

impl LineWorks {
    pub fn new(lw: LineWorksConfig) -> LineWorks {
        LineWorks(lw)
    }
}

impl Channel for LineWorks {
    fn kind(&self) -> ChannelKind {
        ChannelKind::LineWorks
    }

    fn department_row(
        &self,
        cfg: &Config,
        cause: &str,
        department: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow> {
        let channel = self.0.channels.get(department)?;
        row(cfg, cause, &format!("channel:{channel}"), text, now)
    }

    /// A department without a LINE WORKS room: each supervisor with a `lineworks_id` gets the
    /// message as the bot's direct message (cause per person, so each is queued once).
    fn supervisor_rows(
        &self,
        cfg: &Config,
        cause: &str,
        supervisors: &[&crate::store::Employee],
        text: &str,
        now: DateTime<Utc>,
    ) -> Vec<OutRow> {
        supervisors
            .iter()
            .filter_map(|e| {
                let user = e.chat_id(ChatPlatform::LineWorks)?;
                let cause = format!("{cause}.{}", e.employee_id);
                row(cfg, &cause, &format!("user:{user}"), text, now)
            })
            .collect()
    }

    /// `target.room` is where the report was written: `channel:{channelId}` when it came from
    /// a message room, else `user:{userId}` (see `read_callback`). LINE WORKS has neither
    /// threads nor replies to a message, so the answer is a new message there; `target.message`
    /// (the callback's key) and `target.thread` (empty) are not used.
    fn reply_row(
        &self,
        cfg: &Config,
        cause: &str,
        target: &ReplyTarget,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow> {
        row(cfg, cause, &target.room, text, now)
    }

    fn send<'a>(&'a self, store: &'a Store, row: Outgoing<'a>) -> Sent<'a> {
        Box::pin(async move { deliver(store, &self.0, row).await.map(|()| None) })
    }
}

/// An outbox row that posts `text` to `to` (`channel:…` or `user:…`); `None` for no text.
fn row(cfg: &Config, cause: &str, to: &str, text: &str, now: DateTime<Utc>) -> Option<OutRow> {
    let bodies: Vec<Value> = parts(text).iter().map(|t| body(t)).collect();
    let raw = match bodies.as_slice() {
        [] => return None,
        [one] => one.to_string(),
        _ => Value::Array(bodies).to_string(),
    };
    Some(crate::outbox::chat_row(
        cfg,
        ChannelKind::LineWorks,
        cause,
        to,
        text,
        raw.into_bytes(),
        now,
    ))
}

/// The request body of a text message.
pub fn body(text: &str) -> Value {
    json!({ "content": { "type": "text", "text": text } })
}

/// LINE WORKS reads `<m userId="…">` in a text as a mention, and `<m userId="all">` notifies
/// everyone in the room. Subjects, order content and work summaries come from staff, so a `<`
/// in a text becomes the full-width `＜`: it shows nearly the same and is never markup. (The
/// documentation names no escape.) The outbox row's subject, what the board shows, keeps it.
pub fn defuse(text: &str) -> String {
    text.replace('<', "＜")
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The text as messages of at most `TEXT_LIMIT` units each, cut between lines where it can
/// be (a line longer than a message is cut inside it), at most `MAX_PARTS` of them.
pub fn parts(text: &str) -> Vec<String> {
    let text = defuse(text.trim_end());
    if text.trim().is_empty() {
        return vec![];
    }
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        if units(&cur) + units(line) > TEXT_LIMIT && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        for c in line.chars() {
            if units(&cur) + c.len_utf16() > TEXT_LIMIT {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
    }
    out.push(cur);
    let mut out: Vec<String> = out
        .into_iter()
        .map(|p| p.trim_end().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if out.len() > MAX_PARTS {
        const NOTE: &str = "\n…（以下省略。全文はメールをご覧ください）";
        out.truncate(MAX_PARTS);
        let last = &mut out[MAX_PARTS - 1];
        while units(last) + units(NOTE) > TEXT_LIMIT {
            last.pop();
        }
        last.push_str(NOTE);
    }
    out
}

fn transient(message: String) -> SendError {
    SendError {
        permanent: false,
        message,
    }
}

fn permanent(message: String) -> SendError {
    SendError {
        permanent: true,
        message,
    }
}

/// The API path a row's `envelope_to` names.
fn api_url(lw: &LineWorksConfig, to: &str) -> Option<String> {
    let (kind, id) = to.split_once(':')?;
    let kind = match kind {
        "channel" => "channels",
        "user" => "users",
        _ => return None,
    };
    (!id.is_empty()).then(|| {
        format!(
            "{}/v1.0/bots/{}/{kind}/{}/messages",
            lw.api_base,
            encode_segment(&lw.bot_id),
            encode_segment(id)
        )
    })
}

/// The bodies a row holds: one, or an array of the parts of a long text.
fn bodies(raw: &[u8]) -> Option<Vec<Value>> {
    match serde_json::from_slice(raw).ok()? {
        Value::Array(list) if !list.is_empty() => Some(list),
        v @ Value::Object(_) => Some(vec![v]),
        _ => None,
    }
}

/// Which parts of a long text were posted already: kept in `chat_state` while the row is
/// being sent, so that a retry after a failed part does not post the earlier ones again.
fn progress_key(message_id: &str) -> String {
    format!("lineworks.sent:{message_id}")
}

/// Delivers an outbox row: each body in order, with the bot's token.
async fn deliver(store: &Store, lw: &LineWorksConfig, row: Outgoing<'_>) -> Result<(), SendError> {
    let url = api_url(lw, row.to)
        .ok_or_else(|| permanent(format!("not a LINE WORKS target: {:?}", row.to)))?;
    let bodies =
        bodies(row.raw).ok_or_else(|| permanent("not a LINE WORKS message body".into()))?;
    let db = |e: crate::error::Error| transient(format!("database: {e}"));
    let key = progress_key(row.message_id);
    let done = if bodies.len() > 1 {
        let saved = store.chat_state(&key).await.map_err(db)?;
        saved.and_then(|s| s.parse::<usize>().ok()).unwrap_or(0)
    } else {
        0
    };
    for (i, body) in bodies.iter().enumerate().skip(done) {
        let sent = post(store, lw, &url, body.to_string().as_bytes(), row.now).await;
        if let Err(e) = sent {
            if e.permanent && bodies.len() > 1 {
                let _ = store.forget_chat_state(&key).await;
            }
            return Err(e);
        }
        if bodies.len() > 1 && i + 1 < bodies.len() {
            let mut tx = store.begin().await.map_err(db)?;
            save_chat_state(&mut tx, &key, &(i + 1).to_string(), row.now)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(|e| db(e.into()))?;
        }
    }
    if bodies.len() > 1 {
        store.forget_chat_state(&key).await.map_err(db)?;
    }
    Ok(())
}

/// One message. 2xx (the API answers 201) is sent; 401 makes the next try fetch a new token;
/// 408, 429 and 5xx are worth a retry; any other 4xx is a refusal for good (a room the bot
/// is not in, a user that does not exist).
async fn post(
    store: &Store,
    lw: &LineWorksConfig,
    url: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SendError> {
    let token = access_token(store, lw, now).await?;
    let auth = format!("Bearer {token}");
    let r = http::request(
        "POST",
        url,
        &[("Authorization", &auth)],
        Some(body),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| transient(e.0))?;
    let why = || format!("HTTP {} {}", r.status, error_code(&r.body));
    match r.status {
        200..=299 => Ok(()),
        401 => {
            let _ = store.forget_chat_state(&token_key(lw)).await;
            Err(transient(why()))
        }
        408 | 429 => Err(transient(why())),
        400..=499 => Err(permanent(why())),
        _ => Err(transient(why())),
    }
}

/// The API's error, `{"code": …, "description": …}`, for the board.
fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = v["code"].as_str().or(v["error"].as_str()).unwrap_or("");
    let text = v["description"]
        .as_str()
        .or(v["error_description"].as_str())
        .unwrap_or("");
    crate::text::for_log(format!("{code} {text}").trim(), 200)
}

fn token_key(lw: &LineWorksConfig) -> String {
    format!("lineworks.token:{}:{}", lw.client_id, lw.service_account)
}

/// The bot's access token: the saved one while it has more than `TOKEN_MARGIN` to run
/// (judged at `now`, the delivery's clock), else a new one, saved for every process.
async fn access_token(
    store: &Store,
    lw: &LineWorksConfig,
    now: DateTime<Utc>,
) -> Result<String, SendError> {
    let db = |e: crate::error::Error| transient(format!("database: {e}"));
    let saved = store.chat_state(&token_key(lw)).await.map_err(db)?;
    if let Some(v) = saved.and_then(|s| serde_json::from_str::<Value>(&s).ok())
        && let (Some(t), Some(until)) = (
            v["access_token"].as_str(),
            // Kept as epoch seconds in its JSON, like the server's `expires_in`.
            v["expires_at"]
                .as_i64()
                .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0)),
        )
        && until
            .checked_sub_signed(TOKEN_MARGIN)
            .is_some_and(|u| u > now)
    {
        return Ok(t.to_string());
    }
    let (token, lifetime) = fetch_token(lw).await?;
    let saved =
        json!({ "access_token": token, "expires_at": now.timestamp().saturating_add(lifetime) });
    let mut tx = store.begin().await.map_err(db)?;
    save_chat_state(&mut tx, &token_key(lw), &saved.to_string(), now)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(|e| db(e.into()))?;
    tracing::info!(client_id = %lw.client_id, expires_in_s = lifetime, "lineworks: new access token");
    Ok(token)
}

/// Exchanges a new JWT for a token: `(access_token, expires_in seconds)`. A refusal is
/// retried like an unreachable server: the city may mend the credentials, and the messages
/// should then go, not have failed meanwhile.
async fn fetch_token(lw: &LineWorksConfig) -> Result<(String, i64), SendError> {
    // The JWT's times are checked by the LINE WORKS server against its clock: they are the
    // wall clock's, even in a `tick --now` rehearsal.
    let assertion = jwt(lw, Utc::now())?;
    let form = serde_urlencoded::to_string([
        ("assertion", assertion.as_str()),
        ("grant_type", GRANT_TYPE),
        ("client_id", lw.client_id.as_str()),
        ("client_secret", lw.client_secret.as_str()),
        ("scope", "bot"),
    ])
    .map_err(|e| permanent(e.to_string()))?;
    let r = http::request(
        "POST",
        &format!("{}/oauth2/v2.0/token", lw.auth_base),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| transient(format!("token: {}", e.0)))?;
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    // `expires_in` comes as a string ("86400") in the documented answer; a number is taken too.
    let lifetime = match &v["expires_in"] {
        Value::String(s) => s.trim().parse().ok(),
        n => n.as_i64(),
    };
    match (r.status, v["access_token"].as_str(), lifetime) {
        (200, Some(t), Some(secs)) if !t.is_empty() && secs > 0 => Ok((t.to_string(), secs)),
        _ => Err(transient(format!(
            "token request refused: HTTP {} {}",
            r.status,
            error_code(&r.body)
        ))),
    }
}

/// The service account's JWT: `{"alg":"RS256","typ":"JWT"}`, claims `iss` (the Client ID),
/// `sub` (the service account), `iat` and `exp`, signed RSASSA-PKCS1-v1_5 with SHA-256.
pub fn jwt(lw: &LineWorksConfig, iat: DateTime<Utc>) -> Result<String, SendError> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = json!({
        "iss": lw.client_id,
        "sub": lw.service_account,
        "iat": iat.timestamp(),
        "exp": (iat + JWT_LIFETIME).timestamp(),
    });
    let input = format!(
        "{header}.{}",
        URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
    );
    let key = &lw.private_key;
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| permanent("the private key cannot sign".into()))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Why a callback is refused (answered 401, recorded nowhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no X-WORKS-Signature")]
    Unsigned,
    #[error("X-WORKS-BotId names another bot")]
    OtherBot,
    #[error("the signature does not match the body")]
    Forged,
}

/// `X-WORKS-Signature` of a body: base64 of its HMAC-SHA256 under the Bot Secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(mac(secret, body))
}

fn mac(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// Checks a callback's headers against its raw body; the signature in constant time.
pub fn verify(
    lw: &LineWorksConfig,
    bot_id: Option<&str>,
    sig: Option<&str>,
    body: &[u8],
) -> Result<(), Refused> {
    let sig = sig.map(str::trim).filter(|s| !s.is_empty());
    let sig = sig.ok_or(Refused::Unsigned)?;
    if bot_id.map(str::trim) != Some(lw.bot_id.as_str()) {
        return Err(Refused::OtherBot);
    }
    let given = STANDARD.decode(sig).map_err(|_| Refused::Forged)?;
    let expected = mac(&lw.bot_secret, body);
    if given.len() == expected.len() && bool::from(given.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(Refused::Forged)
    }
}

/// A verified callback as a chat message: a `message` event of content type `text` from a
/// user. `None` for anything else (a join, a postback, a sticker), and, in a department's
/// room, for what does not read as a report (the supervisors talking).
///
/// The callback names no message ID, so the key that makes it unique is a hash of who wrote
/// what where, and when (`issuedTime`, in milliseconds): a callback sent again is the same
/// key, a duplicate, even if its JSON were written differently.
pub fn read_callback(lw: &LineWorksConfig, body: &[u8], now: DateTime<Utc>) -> Option<ChatMessage> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if v["type"] != "message" || v["content"]["type"] != "text" {
        return None;
    }
    let user = v["source"]["userId"].as_str().filter(|u| !u.is_empty())?;
    let channel = v["source"]["channelId"].as_str().filter(|c| !c.is_empty());
    let text = v["content"]["text"].as_str()?;
    let issued = v["issuedTime"].as_str().unwrap_or("");
    if let Some(c) = channel
        && lw.channels.values().any(|d| d == c)
        && crate::classify::classify("", text).kind == crate::classify::Kind::Unclassified
    {
        return None;
    }
    let mut h = Sha256::new();
    for part in [user, channel.unwrap_or(""), issued, text] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let key = format!("lineworks:{}", hex::encode(h.finalize()));
    let room = match channel {
        Some(c) => format!("channel:{c}"),
        None => format!("user:{user}"),
    };
    // The platform's time, as mail's arrival is the server's: a callback retried later still
    // counts when it was written.
    let at = DateTime::parse_from_rfc3339(issued)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    Some(ChatMessage {
        key: key.clone(),
        source: "chat",
        platform: ChatPlatform::LineWorks,
        signed_in: false,
        sender: user.to_string(),
        text: text.to_string(),
        at,
        in_reply_to: vec![],
        reply: ReplyVia::Chat(ReplyTarget {
            channel: ChannelKind::LineWorks,
            room,
            message: key,
            thread: String::new(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration with a key made now by `openssl` (never a committed key).
    fn lw() -> LineWorksConfig {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&key)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "{out:?}");
        let toml = format!(
            "[chat.lineworks]\nbot_id = 2000001\nbot_secret = \"bot-secret-0123\"\nclient_id = \"cid\"\n\
             client_secret = \"cs\"\nservice_account = \"sa.serviceaccount@city\"\nprivate_key_file = \"{}\"\n\
             [chat.lineworks.channels]\n\"情報管理課\" = \"room-joho\"\n",
            key.display()
        );
        std::fs::write(dir.path().join("zaitaku.toml"), toml).unwrap();
        Config::load(dir.path()).unwrap().chat.lineworks.unwrap()
    }

    #[test]
    fn a_long_digest_becomes_messages_the_api_takes() {
        let line = "あ".repeat(90);
        let text = vec![line.as_str(); 50].join("\n");
        let p = parts(&text);
        assert!(p.len() > 1);
        assert!(p.iter().all(|x| units(x) <= TEXT_LIMIT), "{p:?}");
        assert_eq!(p.join("\n"), text, "cut between lines, nothing lost");
        let huge = "い".repeat(TEXT_LIMIT * 20);
        let p = parts(&huge);
        assert_eq!(p.len(), MAX_PARTS);
        assert!(p.iter().all(|x| units(x) <= TEXT_LIMIT));
        assert!(p[MAX_PARTS - 1].ends_with("全文はメールをご覧ください）"));
        let emoji = "😀".repeat(1500);
        assert!(parts(&emoji).iter().all(|x| units(x) <= TEXT_LIMIT));
        assert!(parts("  \n").is_empty());
        assert_eq!(parts("業務開始\n"), vec!["業務開始".to_string()]);
    }

    #[test]
    fn a_mention_in_staff_text_arrives_as_text() {
        assert_eq!(
            defuse("<m userId=\"all\"> 手順書"),
            "＜m userId=\"all\"> 手順書"
        );
        let v = body(&parts("<m userId=\"all\">")[0]);
        assert_eq!(v["content"]["type"], "text");
        assert!(!v.to_string().contains("<m"));
    }

    #[test]
    fn the_signature_is_base64_hmac_sha256_of_the_body() {
        let cfg = lw();
        let body = "{\"type\":\"message\",\"source\":{\"userId\":\"c72af563-0f21-4736-11e4-045237113344\",\"domainId\":40029600},\"issuedTime\":\"2021-01-11T23:27:00.000Z\",\"content\":{\"type\":\"text\",\"text\":\"開始\"}}";
        // Written with Python's hmac, hashlib and base64.
        let expected = "NRSk75J5cMX/yYJBmoPzJRqDqa7JdzHVW0a+qd/4PdM=";
        assert_eq!(signature("bot-secret-0123", body.as_bytes()), expected);
        let b = body.as_bytes();
        assert_eq!(verify(&cfg, Some("2000001"), Some(expected), b), Ok(()));
        assert_eq!(
            verify(&cfg, Some("2000002"), Some(expected), b),
            Err(Refused::OtherBot)
        );
        assert_eq!(
            verify(&cfg, Some("2000001"), None, b),
            Err(Refused::Unsigned)
        );
        assert_eq!(
            verify(&cfg, Some("2000001"), Some("eA=="), b),
            Err(Refused::Forged)
        );
        let tampered = body.replace("開始", "終了");
        assert_eq!(
            verify(&cfg, Some("2000001"), Some(expected), tampered.as_bytes()),
            Err(Refused::Forged)
        );
        let m = read_callback(&cfg, b, Utc::now()).unwrap();
        assert_eq!(m.sender, "c72af563-0f21-4736-11e4-045237113344");
        assert_eq!(m.at.timestamp(), 1610407620);
        assert!(
            matches!(&m.reply, ReplyVia::Chat(t) if t.room == "user:c72af563-0f21-4736-11e4-045237113344")
        );
        assert_eq!(read_callback(&cfg, b, Utc::now()).unwrap().key, m.key);
    }

    #[test]
    fn only_text_messages_are_taken_and_a_departments_room_gives_only_reports() {
        let cfg = lw();
        let ev = |t: &str, channel: Option<&str>, text: &str| {
            let mut v = json!({"type": t, "source": {"userId": "u1"}, "issuedTime": "2021-01-11T23:27:00.000Z",
                               "content": {"type": "text", "text": text}});
            if let Some(c) = channel {
                v["source"]["channelId"] = c.into();
            }
            v.to_string()
        };
        for t in ["join", "leave", "joined", "left", "postback"] {
            assert!(read_callback(&cfg, ev(t, None, "開始").as_bytes(), Utc::now()).is_none());
        }
        let sticker = json!({"type": "message", "source": {"userId": "u1"},
                             "content": {"type": "sticker", "packageId": "1", "stickerId": "2"}});
        assert!(read_callback(&cfg, sticker.to_string().as_bytes(), Utc::now()).is_none());
        let room = ev("message", Some("room-joho"), "了解です");
        assert!(read_callback(&cfg, room.as_bytes(), Utc::now()).is_none());
        let report = ev("message", Some("room-joho"), "業務開始");
        let m = read_callback(&cfg, report.as_bytes(), Utc::now()).unwrap();
        assert!(matches!(&m.reply, ReplyVia::Chat(t) if t.room == "channel:room-joho"));
        let elsewhere = ev("message", Some("room-other"), "おはようございます");
        assert!(read_callback(&cfg, elsewhere.as_bytes(), Utc::now()).is_some());
    }

    #[test]
    fn a_row_names_its_target_and_holds_the_api_body() {
        let cfg = lw();
        let c = LineWorks::new(cfg.clone());
        let mut conf = Config::embedded();
        conf.chat.lineworks = Some(cfg.clone());
        let r = c
            .department_row(&conf, "digest.1", "情報管理課", "在宅勤務状況", Utc::now())
            .unwrap();
        assert_eq!(r.envelope_to, "channel:room-joho");
        let v: Value = serde_json::from_slice(&r.raw).unwrap();
        assert_eq!(v, body("在宅勤務状況"));
        assert!(
            c.department_row(&conf, "x", "財政課", "t", Utc::now())
                .is_none()
        );
        assert_eq!(
            api_url(&cfg, "user:u 1").unwrap(),
            "https://www.worksapis.com/v1.0/bots/2000001/users/u%201/messages"
        );
        assert!(api_url(&cfg, "room:x").is_none());
        let jwt = jwt(&cfg, DateTime::from_timestamp(1_700_000_000, 0).unwrap()).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "cid");
        assert_eq!(claims["sub"], "sa.serviceaccount@city");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            JWT_LIFETIME.num_seconds()
        );
    }
}
