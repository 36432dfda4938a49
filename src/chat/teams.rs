//! Microsoft Teams (SPEC §10). Out: a department's notices, escalation steps and digests are
//! posted to its channel's Workflows webhook ("When a Teams webhook request is received") as a
//! message with one Adaptive Card; the retired Office 365 connectors' MessageCard is not used.
//! In: a Teams outgoing webhook (`@zaitaku 開始` in a channel) is `POST /chat/teams`, signed
//! `Authorization: HMAC <base64>`, the HMAC-SHA256 of the raw body under the decoded security
//! token; the answer is the response to that request (Teams waits 5 seconds for it).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::Config;
use crate::outbox::OutRow;
use crate::outbox::channel::{Channel, ChannelKind, Outgoing, ReplyTarget, Sent};
use crate::store::Store;

/// Teams refuses a message over about 28 KB; a card's text is cut well below that (a digest of
/// a large department), with a note that the mail has all of it.
const CARD_TEXT_CHARS: usize = 8000;

/// The Workflows channel: a row carries its flow's URL, so it needs no state of its own.
pub struct Teams;

impl Channel for Teams {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Teams
    }

    fn department_row(
        &self,
        cfg: &Config,
        cause: &str,
        department: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow> {
        let url = cfg.chat.teams.as_ref()?.workflows.get(department)?;
        Some(crate::outbox::chat_row(
            cfg,
            ChannelKind::Teams,
            cause,
            url,
            text,
            card_message(text).to_string().into_bytes(),
            now,
        ))
    }

    /// A report from Teams is answered in the outgoing webhook's own response, never later.
    fn reply_row(
        &self,
        _: &Config,
        _: &str,
        _: &ReplyTarget,
        _: &str,
        _: DateTime<Utc>,
    ) -> Option<OutRow> {
        None
    }

    fn send<'a>(&'a self, _: &'a Store, row: Outgoing<'a>) -> Sent<'a> {
        // Workflows answers 202 Accepted; 4xx but 408/429 is a refusal for good.
        Box::pin(async move { super::webhook::post(row.to, row.raw).await.map(|()| None) })
    }
}

/// The message a Workflows flow posts: one Adaptive Card (schema 1.4, what the flow's "Post
/// card in a chat or channel" renders) whose text blocks are the notice's lines. The first
/// line (the subject) is the card's bold heading. Adaptive Cards' TextBlock reads a subset of
/// Markdown, so staff text is escaped (`markdown_escape`): an order's content shows as written,
/// never as a link under another name.
pub fn card_message(text: &str) -> Value {
    let text: String = if text.chars().count() > CARD_TEXT_CHARS {
        let cut: String = text.chars().take(CARD_TEXT_CHARS).collect();
        format!("{cut}\n…（続きはメールをご覧ください）")
    } else {
        text.to_string()
    };
    let mut lines = text.lines();
    let heading = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.collect();
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": markdown_escape(heading),
        "weight": "Bolder",
        "wrap": true,
    })];
    let rest = rest.join("\n").trim().to_string();
    if !rest.is_empty() {
        // Line breaks inside a TextBlock need Markdown's blank line or "\n\n"; one block per
        // paragraph keeps a digest's table of names readable.
        for para in rest.split("\n\n") {
            body.push(json!({
                "type": "TextBlock",
                "text": markdown_escape(para).replace('\n', "\n\n"),
                "wrap": true,
            }));
        }
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

/// Escapes with a backslash what an Adaptive Card TextBlock's Markdown subset reads as markup:
/// `[text](url)` (a link under another name), `*` and `_` (emphasis), `` ` `` and the backslash
/// itself. Lists and bare URLs stay as they are: they show what was written. The card renders
/// no HTML, so `<` and `&` need nothing.
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Why a request to `POST /chat/teams` is refused (401, recorded nowhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no Authorization: HMAC header")]
    Unsigned,
    #[error("the HMAC does not match the body")]
    Forged,
}

/// Checks `Authorization: HMAC <base64>` against the raw body, in constant time.
pub fn verify(key: &[u8], authorization: Option<&str>, body: &[u8]) -> Result<(), Refused> {
    use base64::Engine;
    let given = authorization
        .and_then(|a| a.trim().strip_prefix("HMAC "))
        .ok_or(Refused::Unsigned)?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(given.trim())
        .map_err(|_| Refused::Forged)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| Refused::Forged)
}

/// A message an outgoing webhook delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The activity's ID: unique per message, so a replayed request is recognised.
    pub id: String,
    /// The sender's Azure AD object ID (`from.aadObjectId`), matched against `teams_id`.
    pub aad_object_id: String,
    /// The text without the bot's @mention and markup.
    pub text: String,
    pub at: Option<DateTime<Utc>>,
}

/// Reads the activity Teams posts (a Bot Framework `message` activity). `None` for anything
/// else (another type, no sender, no ID).
pub fn read_activity(v: &Value) -> Option<Activity> {
    if v["type"].as_str() != Some("message") {
        return None;
    }
    let id = v["id"].as_str().filter(|s| !s.is_empty())?.to_string();
    let aad_object_id = v["from"]["aadObjectId"]
        .as_str()
        .filter(|s| !s.is_empty())?
        .to_string();
    let at = v["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Some(Activity {
        id,
        aad_object_id,
        text: plain_text(v["text"].as_str().unwrap_or("")),
        at,
    })
}

/// The text of a Teams message: the `<at>…</at>` mention of the bot removed, then its HTML
/// (Teams sends `&nbsp;`, `<p>`, `<br>`) as plain text.
pub fn plain_text(html: &str) -> String {
    let mut rest = html;
    let mut out = String::with_capacity(html.len());
    while let Some(i) = rest.find("<at>") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</at>") {
            Some(j) => rest = &rest[i + j + "</at>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    crate::mail::parse::html::to_text(&out).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn a_notice_is_one_adaptive_card_with_the_subject_as_its_heading() {
        let m = card_message(
            "【督促 第2段階】佐藤花子 [x](https://evil.example)\n勤務命令 08:30〜17:15",
        );
        assert_eq!(m["type"], "message");
        let a = &m["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["version"], "1.4");
        let body = a["content"]["body"].as_array().unwrap();
        assert_eq!(body[0]["weight"], "Bolder");
        assert_eq!(
            body[0]["text"],
            "【督促 第2段階】佐藤花子 \\[x\\](https://evil.example)"
        );
        assert_eq!(body[1]["text"], "勤務命令 08:30〜17:15");
    }

    #[test]
    fn the_hmac_is_checked_on_the_raw_body() {
        let key = b"0123456789abcdef0123";
        let body = br#"{"type":"message","text":"x"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(verify(key, Some(&format!("HMAC {sig}")), body), Ok(()));
        assert_eq!(
            verify(key, Some(&format!("HMAC {sig}")), b"{}"),
            Err(Refused::Forged)
        );
        assert_eq!(verify(key, None, body), Err(Refused::Unsigned));
        assert_eq!(verify(key, Some("Bearer x"), body), Err(Refused::Unsigned));
        assert_eq!(verify(key, Some("HMAC !!"), body), Err(Refused::Forged));
    }

    #[test]
    fn the_bots_mention_and_the_markup_are_not_the_report() {
        assert_eq!(plain_text("<at>zaitaku</at>&nbsp;開始します"), "開始します");
        assert_eq!(
            plain_text("<p><at>在宅 bot</at> 終了</p><p>本日の作業: 資料作成</p>"),
            "終了\n本日の作業: 資料作成"
        );
        let v = json!({"type": "message", "id": "1485983408511", "timestamp": "2021-01-12T00:01:00.000Z",
            "from": {"id": "29:1x", "name": "山田", "aadObjectId": "aad-yamada"},
            "text": "<at>zaitaku</at> 開始"});
        let a = read_activity(&v).unwrap();
        assert_eq!(
            (a.id.as_str(), a.aad_object_id.as_str(), a.text.as_str()),
            ("1485983408511", "aad-yamada", "開始")
        );
        assert_eq!(a.at.unwrap().to_rfc3339(), "2021-01-12T00:01:00+00:00");
        assert!(read_activity(&json!({"type": "conversationUpdate", "id": "1"})).is_none());
        assert!(read_activity(&json!({"type": "message", "id": "1", "from": {}})).is_none());
    }
}
