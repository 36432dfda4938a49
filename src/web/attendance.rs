//! The attendance record on the web (SPEC §11): IT and HR download `zaitaku attendance
//! export` (a month, a layout of `exports.toml`, UTF-8 with BOM or Shift_JIS, optionally one
//! department). A teleworker's own month on 自分の在宅勤務 is `attendance::history`.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Datelike;
use minijinja::context;
use serde::Deserialize;

use super::auth::Session;
use super::pages::{Errors, base, with_status};
use super::roles::can_export_attendance;
use super::{App, WebResult};
use crate::error::Error;
use crate::survey::Encoding;

#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ExportQuery {
    pub month: String,
    pub layout: String,
    pub encoding: String,
    pub department: String,
}

async fn form_page(app: &App, s: &Session, q: &ExportQuery, errors: Errors) -> WebResult {
    let layouts = crate::attendance::layout_names(app.cfg.dir.as_deref())?;
    let departments: Vec<String> = app
        .store
        .departments()
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let month = if q.month.is_empty() {
        super::api::today(app).format("%Y-%m").to_string()
    } else {
        q.month.clone()
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let ctx = context! {
        title => "勤務実績の出力",
        month => month,
        q => q,
        layouts => layouts,
        departments => departments,
        errors => errors,
        ..base(s)
    };
    Ok(with_status(app.render("attendance.html", ctx), status))
}

/// `GET /attendance`: the form.
pub async fn page(State(app): State<App>, s: Session, Query(q): Query<ExportQuery>) -> WebResult {
    if !can_export_attendance(&s.user) {
        return Ok(app.deny(&s.user, "attendance", "").await);
    }
    form_page(&app, &s, &q, Errors::new()).await
}

/// `GET /attendance/export`: the file, as `zaitaku attendance export` writes it; a bad month,
/// layout or encoding is shown at its field (400), and nothing is downloaded.
pub async fn export(State(app): State<App>, s: Session, Query(q): Query<ExportQuery>) -> WebResult {
    if !can_export_attendance(&s.user) {
        return Ok(app
            .deny(&s.user, "attendance_export", &format!("month={}", q.month))
            .await);
    }
    let mut errors = Errors::new();
    let month = crate::attendance::month(&q.month)
        .map_err(|_| errors.insert("month", "月は 2021-01 のように入力してください".into()))
        .ok();
    let layout_name = match q.layout.trim() {
        "" => "default",
        l => l,
    };
    let layout = match crate::attendance::layout(app.cfg.dir.as_deref(), layout_name) {
        Ok(l) => Some(l),
        Err(Error::Bad { msg, .. }) => {
            errors.insert("layout", format!("様式を選んでください（{msg}）"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let enc = match q.encoding.trim() {
        "" => Some(Encoding::Utf8),
        e => Encoding::parse(e),
    };
    if enc.is_none() {
        errors.insert("encoding", "文字コードは UTF-8 か Shift_JIS です".into());
    }
    let department = Some(q.department.trim()).filter(|d| !d.is_empty());
    if let Some(d) = department
        && !app.store.departments().await?.iter().any(|x| x.name == d)
    {
        errors.insert("department", "所属を一覧から選んでください".into());
    }
    let (Some(month), Some(layout), Some(enc), true) = (month, layout, enc, errors.is_empty())
    else {
        return form_page(&app, &s, &q, errors).await;
    };
    let text =
        crate::attendance::export(&app.store, &app.cfg, month, department, &layout, app.now())
            .await?;
    let (bytes, charset) = match enc {
        Encoding::Utf8 => (
            [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            "utf-8",
        ),
        sjis => (sjis.encode(&text), "Shift_JIS"),
    };
    let name = format!("attendance-{}-{:02}.csv", month.0.year(), month.0.month());
    tracing::info!(by = %s.user.employee_id, month = %name, "attendance export downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, format!("text/csv; charset={charset}")),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
