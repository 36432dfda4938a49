//! `POST /chat/lineworks`: the LINE WORKS bot's callback. The request is verified first
//! (`X-WORKS-BotId` names our bot, `X-WORKS-Signature` is the body's HMAC under the Bot Secret:
//! `chat::lineworks::verify`); one that fails, or the same message again (a replay, or the
//! platform resending it), gets 401 and changes nothing. A user's text message is decided with
//! the same rules as mail (source `chat`); the request is answered 200 at once, and the answer
//! to the teleworker goes through the outbox, delivered right after the commit by a task of its
//! own (LINE WORKS expects the callback answered quickly; the token and the API call may take
//! longer). Events that are not a user's text (joins, postbacks, stickers) get 200 and are not
//! recorded.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{App, WebResult, log_text};
use crate::chat::lineworks::{read_callback, verify};
use crate::error::Error;
use crate::ingest::{Disposition, Ingestor};

fn refused(why: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "error": why }))).into_response()
}

pub async fn callback(State(app): State<App>, headers: HeaderMap, body: Bytes) -> WebResult {
    let Some(lw) = &app.cfg.chat.lineworks else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(e) = verify(
        lw,
        header("x-works-botid"),
        header("x-works-signature"),
        &body,
    ) {
        tracing::warn!(reason = %e, "lineworks callback refused");
        return Ok(refused(&e.to_string()));
    }
    let now = app.now();
    let Some(msg) = read_callback(lw, &body, now) else {
        return Ok(StatusCode::OK.into_response());
    };
    let mut ing = Ingestor::new(&app.store, &app.cfg, &app.channels).await?;
    let (tx, mut outcomes) = ing.store_chat(std::slice::from_ref(&msg), now).await?;
    let outcome = outcomes.remove(0);
    if outcome.reason == Disposition::Duplicate {
        tx.rollback().await.map_err(Error::from)?;
        tracing::warn!(user = %log_text(&msg.sender), "lineworks callback replayed: refused");
        return Ok(refused("this message was taken before (replay)"));
    }
    tx.commit().await.map_err(Error::from)?;
    app.changed();
    tracing::info!(user = %log_text(&msg.sender), reason = outcome.reason.as_str(), "lineworks message");
    tokio::spawn(deliver(app.clone(), now));
    Ok(StatusCode::OK.into_response())
}

/// Sends what the message caused (its answer, a notice to the department's room) now, not at
/// the next tick; the outbox's leases keep a daemon delivering at the same time from sending
/// it twice. A failure is logged, and the row waits for the next delivery.
async fn deliver(app: App, now: chrono::DateTime<chrono::Utc>) {
    match crate::mail::transport::Transport::for_mail(&app.cfg.mail) {
        Ok(t) => crate::outbox::deliver_now(&app.store, &t, &app.channels, &app.cfg, now).await,
        Err(e) => {
            tracing::error!(error = %log_text(&e.to_string()), "outbox: no transport; the answer waits for the next tick")
        }
    }
}
