//! Reporting from the browser (SPEC §9, issue 20): the 業務開始 / 業務終了 buttons of 自分の
//! 在宅勤務 (`POST /my/report`, CSRF-protected) and `POST /api/reports` for scripts and kiosks
//! (a bearer token of that employee). The same intake as mail and chat decides it (the same
//! `decide()`, timing and notices), recorded with source `web` and answered on the page or in
//! the response, never by mail. A second press of the same button on the same day is
//! recognised as such and changes nothing.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::{ApiUser, Session};
use super::{App, WebResult};
use crate::error::{Error, Result};
use crate::ingest::{ChatMessage, Disposition, Ingestor, ReplyVia};
use crate::register::ContactKind;
use crate::store::ChatPlatform;

/// A day's summary (日報) is a few lines; a body far over this is not one.
pub const SUMMARY_CHARS: usize = 2000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportForm {
    pub csrf: String,
    pub kind: String,
    pub summary: String,
}

/// What became of a report from the web.
pub struct Taken {
    /// As `ingest --json`'s reason, or `duplicate` for a second press.
    pub reason: Disposition,
    /// What the page (or the API's caller) is told.
    pub answer: String,
}

/// Takes `employee`'s report through the intake, at the server's clock.
pub async fn take(app: &App, employee: &str, kind: ContactKind, summary: &str) -> Result<Taken> {
    let now = app.now();
    let day = crate::calendar::local_date(now, app.cfg.timezone);
    // The button is the subject and the 日報 the body, as in a mail (`ChatMessage::signed_in`).
    let text = match (kind, summary.trim()) {
        (ContactKind::Start, _) => "業務開始".to_string(),
        (ContactKind::End, s) => format!("業務終了\n{s}"),
    };
    let msg = ChatMessage {
        // One report of each kind a day: the second press is the same message.
        key: format!("web:{employee}:{day}:{}", kind.as_str()),
        source: "web",
        platform: ChatPlatform::Chat,
        signed_in: true,
        sender: employee.to_string(),
        text,
        at: now,
        in_reply_to: vec![],
        reply: ReplyVia::Inline,
    };
    let mut ing = Ingestor::new(&app.store, &app.cfg, &app.channels).await?;
    let (tx, mut outcomes) = ing.store_chat(std::slice::from_ref(&msg), now).await?;
    let outcome = outcomes.remove(0);
    if outcome.reason == Disposition::Duplicate {
        tx.rollback().await.map_err(Error::from)?;
        let what = match kind {
            ContactKind::Start => "業務開始",
            ContactKind::End => "業務終了",
        };
        return Ok(Taken {
            reason: Disposition::Duplicate,
            answer: format!("{day} の{what}の連絡はすでに受け付けています。"),
        });
    }
    tx.commit().await.map_err(Error::from)?;
    app.changed();
    tracing::info!(employee = %employee, kind = kind.as_str(), reason = outcome.reason.as_str(), "report from the web");
    Ok(Taken {
        reason: outcome.reason,
        answer: outcome
            .reply
            .unwrap_or_else(|| "受け付けました。".to_string()),
    })
}

/// `POST /my/report`: a button on 自分の在宅勤務; the answer is shown on the page.
pub async fn my_report(State(app): State<App>, s: Session, Form(f): Form<ReportForm>) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "report").await);
    }
    let date = super::api::today(&app);
    let mut errors = super::pages::Errors::new();
    let kind = ContactKind::parse(&f.kind).ok();
    if kind.is_none() {
        errors.insert("kind", "業務開始か業務終了を選んでください".into());
    }
    if f.summary.chars().count() > SUMMARY_CHARS {
        errors.insert(
            "summary",
            format!("日報は {SUMMARY_CHARS} 文字までにしてください"),
        );
    }
    let (Some(kind), true) = (kind, errors.is_empty()) else {
        return super::pages::my_page_with(&app, &s, date, None, errors, None).await;
    };
    let taken = take(&app, &s.user.employee_id, kind, &f.summary).await?;
    super::pages::my_page_with(&app, &s, date, None, errors, Some(taken.answer)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportRequest {
    pub kind: String,
    pub summary: String,
}

/// `POST /api/reports` (`{"kind": "start", "summary": "…"}`): the caller's own report.
/// 200 with the reason and the answer; 409 for a second report of the kind that day; 400 for
/// a kind that is neither start nor end.
pub async fn api_report(
    State(app): State<App>,
    ApiUser(u): ApiUser,
    body: axum::body::Bytes,
) -> WebResult {
    let bad =
        |msg: &str| Ok((StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response());
    let Ok(r) = serde_json::from_slice::<ReportRequest>(&body) else {
        return bad("expected JSON like {\"kind\": \"start\", \"summary\": \"…\"}");
    };
    let Ok(kind) = ContactKind::parse(&r.kind) else {
        return bad("expected kind start or end");
    };
    if r.summary.chars().count() > SUMMARY_CHARS {
        return bad("summary: too long");
    }
    let taken = take(&app, &u.employee_id, kind, &r.summary).await?;
    let status = if taken.reason == Disposition::Duplicate {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "reason": taken.reason.as_str(), "answer": taken.answer })),
    )
        .into_response())
}
