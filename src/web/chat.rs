//! `POST /chat/slash`: a slash command from Slack or Mattermost (`/zaitaku 開始`,
//! `/zaitaku 終了 本日の作業…`), or a Rocket.Chat outgoing webhook (JSON, trigger word `zaitaku`). The request is verified first (`chat::slash`); one that fails,
//! or a replay of one already taken, gets 401 and changes nothing. A verified one is decided
//! with the same rules as mail (source `chat`), and the answer is the HTTP response, shown to
//! the teleworker alone (`ephemeral`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{App, WebResult};
use crate::chat::slash::{Credentials, fields, verify};
use crate::ingest::{ChatMessage, Disposition, Ingestor, ReplyVia};
use crate::report::Reason;

const USAGE: &str = "使い方: /zaitaku 開始 （業務開始の連絡）、/zaitaku 終了 本日の作業… （業務終了と日報）。\
時間休は「時間休」、事故・災害は「事故」と書いてください。";

fn answer(text: &str) -> Response {
    Json(json!({ "response_type": "ephemeral", "text": text })).into_response()
}

fn refused(why: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "error": why }))).into_response()
}

pub async fn slash(State(app): State<App>, headers: HeaderMap, body: Bytes) -> WebResult {
    let Some(cfg) = &app.cfg.chat.slash else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let form = fields(header("content-type"), &body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let token = header("authorization")
        .and_then(|a| a.strip_prefix("Token "))
        .or_else(|| field("token"));
    let creds = Credentials {
        timestamp: header("x-slack-request-timestamp"),
        signature: header("x-slack-signature"),
        token,
    };
    let now = app.now();
    let key = match verify(cfg, &creds, &body, now) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(reason = %super::log_text(&e.to_string()), "slash command refused");
            return Ok(refused(&e.to_string()));
        }
    };
    let (Some(user), text) = (field("user_id"), field("text").unwrap_or("").trim()) else {
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "no user_id" })),
        )
            .into_response());
    };
    if text.is_empty() || matches!(text, "help" | "ヘルプ" | "使い方") {
        return Ok(answer(USAGE));
    }
    let msg = ChatMessage {
        key,
        source: "chat",
        platform: crate::store::ChatPlatform::Chat,
        signed_in: false,
        sender: user.to_string(),
        text: text.to_string(),
        at: now,
        in_reply_to: vec![],
        reply: ReplyVia::Inline,
    };
    let mut ing = Ingestor::new(&app.store, &app.cfg, &app.channels).await?;
    let (tx, mut outcomes) = ing.store_chat(std::slice::from_ref(&msg), now).await?;
    let outcome = outcomes.remove(0);
    if outcome.reason == Disposition::Duplicate {
        tx.rollback().await.map_err(crate::error::Error::from)?;
        tracing::warn!(user = %super::log_text(user), "slash command replayed: refused");
        return Ok(refused("this request was taken before (replay)"));
    }
    tx.commit().await.map_err(crate::error::Error::from)?;
    app.changed();
    tracing::info!(user = %super::log_text(user), reason = outcome.reason.as_str(), "slash command");
    Ok(answer(&match (outcome.reply, outcome.reason) {
        (Some(r), _) => r,
        // The ID is said back as stored: without the control characters a request may carry.
        (None, Disposition::Stored(Reason::UnknownSender)) => format!(
            "このチャットのアカウント（{}）は在宅勤務連絡システムに登録されていません。\
             情報担当に chat_id の登録を依頼してください。",
            crate::text::clean_line(user)
        ),
        (None, _) => "受け付けました。".to_string(),
    }))
}
