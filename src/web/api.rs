//! Machine endpoints: `GET /api/status?date=D` (the `status --json` object, cut to what the
//! caller's role may read), `GET /healthz`, `GET /metrics` (Prometheus text format).

use std::fmt::Write;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::auth::ApiUser;
use super::roles::{Scope, User, can_see_department, filter_board, scope};
use super::{App, WebResult};
use crate::error::Result;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusQuery {
    pub date: Option<String>,
    /// Judge pending vs missing at this moment, RFC 3339 (as `status --now`).
    pub now: Option<String>,
    pub department: Option<String>,
}

fn bad_request(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": msg })),
    )
        .into_response()
}

pub fn today(app: &App) -> NaiveDate {
    app.now().with_timezone(&app.cfg.timezone).date_naive()
}

/// The scope a request reads: the person's own, or one department they may see (a department
/// they may not see is refused by the caller before this).
pub fn requested_scope(u: &User, department: Option<&str>) -> Scope {
    match department.filter(|d| !d.is_empty()) {
        Some(d) => Scope::Department(d.to_string()),
        None => scope(u),
    }
}

/// The board of a day as a scope may read it. `now`: judge pending vs missing at this moment
/// (`/api/status?now=`, as `status --now`); `None`: at the clock, from the shared board of the
/// moment (`App::board_at_clock`).
pub async fn scoped_board(
    app: &App,
    date: NaiveDate,
    now: Option<chrono::DateTime<Utc>>,
    sc: &Scope,
) -> Result<crate::board::Board> {
    let emails: Vec<String> = match sc {
        Scope::All => vec![],
        Scope::Department(d) => app.store.department_emails(d).await?,
        Scope::Own(id) => app.store.emails_of(id).await?,
    };
    Ok(match now {
        Some(now) => filter_board(
            crate::usecase::board::load(&app.store, &app.cfg, date, now).await?,
            sc,
            &emails,
        ),
        // The shared board of the clock: only the part this person reads is copied.
        None => crate::web::roles::scoped(&*app.board_at_clock(date).await?, sc, &emails),
    })
}

pub async fn status(
    State(app): State<App>,
    ApiUser(u): ApiUser,
    Query(q): Query<StatusQuery>,
) -> WebResult {
    let date = match q.date.as_deref() {
        None | Some("") => today(&app),
        Some(s) => match crate::calendar::parse_date(s) {
            Some(d) => d,
            None => return Ok(bad_request("date: expected YYYY-MM-DD")),
        },
    };
    let now = match q.now.as_deref() {
        None | Some("") => None,
        Some(s) => match crate::calendar::parse_instant("now", s) {
            Ok(t) => Some(t),
            Err(_) => return Ok(bad_request("now: expected an RFC 3339 time")),
        },
    };
    if let Some(d) = q.department.as_deref().filter(|d| !d.is_empty())
        && !can_see_department(&u, d)
    {
        app.record_denial(&u, "api_status", &format!("department={d} date={date}"))
            .await;
        return Ok((
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "error": "forbidden" })),
        )
            .into_response());
    }
    let sc = requested_scope(&u, q.department.as_deref());
    let b = scoped_board(&app, date, now, &sc).await?;
    Ok(Json(b).into_response())
}

pub async fn healthz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %super::log_text(&e.to_string()), "healthz: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn metrics(State(app): State<App>) -> WebResult {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP zaitaku_reports_total Reports recorded, by kind and outcome."
    );
    let _ = writeln!(out, "# TYPE zaitaku_reports_total counter");
    for (kind, outcome, n) in app.store.report_counts().await? {
        let _ = writeln!(
            out,
            "zaitaku_reports_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
            label(&kind),
            label(&outcome)
        );
    }
    let _ = writeln!(
        out,
        "# HELP zaitaku_escalations_sent_total Escalation steps sent, by chain."
    );
    let _ = writeln!(out, "# TYPE zaitaku_escalations_sent_total counter");
    for (kind, n) in app.store.escalations_sent().await? {
        let _ = writeln!(
            out,
            "zaitaku_escalations_sent_total{{kind=\"{}\"}} {n}",
            label(&kind)
        );
    }
    let _ = writeln!(
        out,
        "# HELP zaitaku_escalations_failed_total Escalation steps whose mail could not be made (a template, a refused address), by chain."
    );
    let _ = writeln!(out, "# TYPE zaitaku_escalations_failed_total counter");
    for (kind, n) in app.store.escalations_failed().await? {
        let _ = writeln!(
            out,
            "zaitaku_escalations_failed_total{{kind=\"{}\"}} {n}",
            label(&kind)
        );
    }
    let (queued, sent, failed) = crate::outbox::counts(&app.store).await?;
    let _ = writeln!(
        out,
        "# HELP zaitaku_outbox_messages Mail in the outbox, by state."
    );
    let _ = writeln!(out, "# TYPE zaitaku_outbox_messages gauge");
    let _ = writeln!(out, "zaitaku_outbox_messages{{state=\"queued\"}} {queued}");
    let _ = writeln!(out, "zaitaku_outbox_messages{{state=\"sent\"}} {sent}");
    let _ = writeln!(out, "zaitaku_outbox_messages{{state=\"failed\"}} {failed}");
    let h = &app.health;
    for (name, help, on) in [
        (
            "zaitaku_mailbox_connected",
            "1 while this process's mail source is connected (zaitaku run); 0 otherwise.",
            h.mailbox_connected(),
        ),
        (
            "zaitaku_mailbox_watched",
            "1 when this process reads the mail source (zaitaku run), 0 for zaitaku web alone.",
            h.mailbox_watched(),
        ),
        (
            "zaitaku_mailbox_held",
            "1 while this process holds the IMAP mailbox's lease and reads it; 0 while another daemon on the database does (or the source is a Maildir).",
            h.mailbox_held(),
        ),
        (
            "zaitaku_matrix_connected",
            "1 while this process's Matrix /sync works (zaitaku run with [chat.matrix]); 0 otherwise.",
            h.matrix_connected(),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {}", u8::from(on));
    }
    let c = &app.my_cache.counts;
    let _ = writeln!(
        out,
        "# HELP zaitaku_my_pages_total 自分の在宅勤務 answered, by how: kept (a page kept ready or from an earlier load), rendered (kept rows, judged anew), read (rows read from the database)."
    );
    let _ = writeln!(out, "# TYPE zaitaku_my_pages_total counter");
    for (from, n) in [
        ("kept", &c.kept),
        ("rendered", &c.rendered),
        ("read", &c.read),
    ] {
        let _ = writeln!(
            out,
            "zaitaku_my_pages_total{{from=\"{from}\"}} {}",
            n.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP zaitaku_my_pages_ready_total Pages of the day's teleworkers rendered before they asked."
    );
    let _ = writeln!(out, "# TYPE zaitaku_my_pages_ready_total counter");
    let _ = writeln!(
        out,
        "zaitaku_my_pages_ready_total {}",
        c.ready.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}
