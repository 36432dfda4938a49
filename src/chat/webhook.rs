//! Incoming webhooks (Slack, Mattermost, Rocket.Chat): `POST {"text": …}` to the department's
//! URL, with the small client of `chat::http`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::mail::transport::SendError;
use crate::outbox::OutRow;
use crate::outbox::channel::{Channel, ChannelKind, Outgoing, ReplyTarget, Sent};
use crate::store::Store;

/// The incoming-webhook channel: a department's URL is in `[chat.webhook]`; a row carries its
/// URL, so it needs no state of its own.
pub struct Webhook;

impl Channel for Webhook {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }

    fn department_row(
        &self,
        cfg: &Config,
        cause: &str,
        department: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<OutRow> {
        let url = cfg.chat.webhooks.get(department)?;
        Some(crate::outbox::chat_row(
            cfg,
            ChannelKind::Webhook,
            cause,
            url,
            text,
            payload(text),
            now,
        ))
    }

    /// An incoming webhook only posts: it has no conversation to answer in.
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
        Box::pin(async move { post(row.to, row.raw).await.map(|()| None) })
    }
}

/// The JSON body of a message: `{"text": "…"}`, the text escaped for the chat's markup.
pub fn payload(text: &str) -> Vec<u8> {
    serde_json::json!({ "text": escape(text) })
        .to_string()
        .into_bytes()
}

/// Slack reads `&`, `<` and `>` as control characters (`<!channel>` pings everyone,
/// `<https://…|label>` is a link under another name) and asks for exactly these three as HTML
/// entities in text that should show as written ("Formatting text for app surfaces", Escaping);
/// Mattermost and Rocket.Chat read Slack's format the same way. Subjects, order content and work
/// summaries come from staff mail, so every text is escaped here, where it becomes a payload;
/// the outbox row's `subject` (what the board shows) stays as written.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Posts the body; 2xx is success, 4xx (but 408 and 429) a permanent refusal, anything else
/// (5xx, no connection, a timeout) worth retrying.
pub async fn post(url: &str, body: &[u8]) -> Result<(), SendError> {
    if super::http::target(url).is_none() {
        return Err(SendError {
            permanent: true,
            message: "not an http(s) URL".into(),
        });
    }
    let r = super::http::request("POST", url, &[], Some(body), Duration::from_secs(30))
        .await
        .map_err(|e| SendError {
            permanent: false,
            message: e.0,
        })?;
    outcome(r.status)
}

/// What an HTTP status means for an outbox row.
pub fn outcome(status: u16) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        408 | 429 => Err(SendError {
            permanent: false,
            message: format!("HTTP {status}"),
        }),
        400..=499 => Err(SendError {
            permanent: true,
            message: format!("HTTP {status}"),
        }),
        _ => Err(SendError {
            permanent: false,
            message: format!("HTTP {status}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_slack_json() {
        assert_eq!(
            payload("業務開始 \"A\""),
            r#"{"text":"業務開始 \"A\""}"#.as_bytes().to_vec()
        );
    }

    #[test]
    fn mentions_and_disguised_links_arrive_as_text() {
        assert_eq!(
            escape("<!channel> <https://evil.example|職員ポータル> & <@U123>"),
            "&lt;!channel&gt; &lt;https://evil.example|職員ポータル&gt; &amp; &lt;@U123&gt;"
        );
        // Escaped once: an entity written by a person shows as written, not as its character.
        assert_eq!(escape("&lt;"), "&amp;lt;");
        let v: serde_json::Value =
            serde_json::from_slice(&payload("業務終了 <!here>\n'\"")).unwrap();
        assert_eq!(v["text"], "業務終了 &lt;!here&gt;\n'\"");
    }

    #[test]
    fn refusals_are_permanent_but_busy_servers_are_retried() {
        assert!(outcome(200).is_ok());
        assert!(outcome(404).unwrap_err().permanent);
        assert!(!outcome(429).unwrap_err().permanent);
        assert!(!outcome(503).unwrap_err().permanent);
    }
}
