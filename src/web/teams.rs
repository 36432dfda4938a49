//! `POST /chat/teams`: a Teams outgoing webhook (`@zaitaku 開始` in a channel). The HMAC is
//! checked first (`chat::teams::verify`); an unsigned, forged or replayed request gets 401 and
//! changes nothing. A verified one is decided with the same rules as mail (source `chat`), the
//! sender matched by `from.aadObjectId` against the employees' `teams_id`, and the answer is
//! this request's response: `{"type": "message", "text": …}`, shown in the channel's thread.
//! A sender who is not registered is recorded and gets no answer (an empty 200). The notices a
//! report causes (the department's channel, the supervisors' mail) are outbox rows, sent by
//! the daemon's delivery loop within seconds, as after a slash command.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{App, WebResult};
use crate::chat::teams::{read_activity, verify};
use crate::ingest::{ChatMessage, Disposition, Ingestor, ReplyVia};
use crate::report::Reason;
use crate::store::ChatPlatform;

fn refused(why: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "error": why }))).into_response()
}

fn message(text: &str) -> Response {
    Json(json!({ "type": "message", "text": text })).into_response()
}

pub async fn outgoing(State(app): State<App>, headers: HeaderMap, body: Bytes) -> WebResult {
    let Some(key) = app
        .cfg
        .chat
        .teams
        .as_ref()
        .and_then(|t| t.outgoing_key.as_ref())
    else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if let Err(e) = verify(key, auth, &body) {
        tracing::warn!(reason = %e, "teams request refused");
        return Ok(refused(&e.to_string()));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(a) = read_activity(&v) else {
        // Signed, but not a message from a person (Teams sends only messages today).
        return Ok(StatusCode::OK.into_response());
    };
    let now = app.now();
    let msg = ChatMessage {
        key: format!("teams:{}", a.id),
        source: "chat",
        platform: ChatPlatform::Teams,
        signed_in: false,
        sender: a.aad_object_id.clone(),
        text: a.text,
        at: a.at.unwrap_or(now),
        in_reply_to: vec![],
        reply: ReplyVia::Inline,
    };
    let mut ing = Ingestor::new(&app.store, &app.cfg, &app.channels).await?;
    let (tx, mut outcomes) = ing.store_chat(std::slice::from_ref(&msg), now).await?;
    let outcome = outcomes.remove(0);
    if outcome.reason == Disposition::Duplicate {
        tx.rollback().await.map_err(crate::error::Error::from)?;
        tracing::warn!(activity = %super::log_text(&a.id), "teams request replayed: refused");
        return Ok(refused("this message was taken before (replay)"));
    }
    tx.commit().await.map_err(crate::error::Error::from)?;
    app.changed();
    tracing::info!(sender = %super::log_text(&a.aad_object_id), reason = outcome.reason.as_str(), "teams message");
    Ok(match (outcome.reply, outcome.reason) {
        (Some(r), _) => message(&r),
        // Never answered: an unknown sender learns nothing, and nothing is posted.
        (None, Disposition::Stored(Reason::UnknownSender)) => StatusCode::OK.into_response(),
        (None, _) => message("受け付けました。"),
    })
}
