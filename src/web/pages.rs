//! The pages: the day's board and phone contacts, the order register (drafts, approval, edits,
//! cancellation), a teleworker's own page and requests, escalations, and IT's administration
//! (applications, the ID pool, survey downloads, refused attempts).
//!
//! Every handler that changes something checks the session's CSRF token first, then the role
//! against the department the store says the data belongs to, then hands the input to the same
//! register code as the command line.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::api::{requested_scope, scoped_board, today};
use super::auth::{CsrfForm, Session};
use super::my_cache::{Counts, Page as MyPage};
use super::roles::{
    can_administer, can_manage_department, can_request_for, can_see_department, role_ja,
};
use super::{App, User, WebResult};
use crate::calendar::{Minutes, parse_date};
use crate::error::Error;
use crate::order::{OrderDraft, OrderStatus, parse_leave};
use crate::store::Role;
use crate::store::web::Stamp;
use crate::usecase::my_page::Want;

pub(super) type Errors = BTreeMap<&'static str, String>;

/// 勤務内容: at most this many characters (it is shown on the board and in the register).
pub const CONTENT_CHARS: usize = crate::order::CONTENT_CHARS;
/// A phone contact's メモ, at most.
pub const NOTE_CHARS: usize = 500;
/// Any other field someone types (時間休, a PC name, an ID, a date…), at most.
pub const FIELD_CHARS: usize = 200;

/// `Some(message)` when `value` is longer than `max` characters: the form is refused (422) with
/// this next to the field, and nothing is saved.
fn too_long(label: &str, value: &str, max: usize) -> Option<String> {
    let n = value.chars().count();
    (n > max).then(|| format!("{label}は{max}文字以内で入力してください（{n}文字あります）"))
}

/// A refused form is shown again with what was typed, cut to a little over its limit: the page
/// of a refused 2 MB field stays small.
fn clip(value: &mut String, max: usize) {
    if let Some((cut, _)) = value.char_indices().nth(max + 20) {
        value.truncate(cut);
    }
}

/// What every page's layout needs.
pub(super) fn base(s: &Session) -> Value {
    base_for(&s.user, &s.csrf)
}

/// `base` of `u` with the CSRF token `csrf`.
pub(super) fn base_for(u: &User, csrf: &str) -> Value {
    context! {
        user => u,
        role_label => role_ja(u.role),
        csrf => csrf,
        is_admin => can_administer(u),
        is_supervisor => u.role == Role::Supervisor,
        reads_boards => u.role != Role::Teleworker && u.role != Role::DivisionHead,
        is_division_head => u.role == Role::DivisionHead,
        reads_audit => super::roles::audit_scope(u).is_some(),
        reads_attendance => super::roles::can_export_attendance(u),
    }
}

pub(super) fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r
}

pub(super) fn see_other(url: String) -> Response {
    Redirect::to(&url).into_response()
}

pub(super) fn url(path: &str, params: &[(&str, &str)]) -> String {
    let q: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a query value.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DayQuery {
    pub date: Option<String>,
    pub department: Option<String>,
    /// 自分の在宅勤務's month of attendance (`YYYY-MM`).
    pub month: Option<String>,
}

impl DayQuery {
    fn day(&self, app: &App) -> NaiveDate {
        self.date
            .as_deref()
            .and_then(parse_date)
            .unwrap_or_else(|| today(app))
    }

    fn department(&self) -> Option<&str> {
        self.department
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }
}

pub async fn home(s: Session) -> Response {
    if s.user.role == Role::Teleworker {
        see_other("/my".into())
    } else if s.user.role == Role::DivisionHead {
        see_other("/orders".into())
    } else {
        see_other("/board".into())
    }
}

// ---- the board ----

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(default)]
pub struct ContactForm {
    #[serde(skip_serializing)]
    pub csrf: String,
    pub employee_id: String,
    pub date: String,
    pub kind: String,
    pub at: String,
    pub note: String,
}

async fn board_page(
    app: &App,
    s: &Session,
    date: NaiveDate,
    department: Option<&str>,
    fragment: bool,
    contact: Option<(ContactForm, Errors)>,
) -> WebResult {
    let sc = requested_scope(&s.user, department);
    let board = scoped_board(app, date, None, &sc).await?;
    let departments = if s.user.role == Role::It || s.user.role == Role::Hr {
        app.store
            .departments()
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect()
    } else {
        vec![]
    };
    let dept = department.unwrap_or("");
    let (mut form, errors) = contact.unwrap_or_default();
    clip(&mut form.note, NOTE_CHARS);
    for f in [
        &mut form.employee_id,
        &mut form.date,
        &mut form.kind,
        &mut form.at,
    ] {
        clip(f, FIELD_CHARS);
    }
    let ctx = context! {
        title => "当日の状況",
        board => &board,
        date => date.to_string(),
        department => dept,
        departments => departments,
        table_src => url("/board/table", &[("date", &date.to_string()), ("department", dept)]),
        can_contact => s.user.role == Role::Supervisor,
        contact => form,
        contact_errors => errors,
        ..base(s)
    };
    let name = if fragment {
        "board_table.html"
    } else {
        "board.html"
    };
    Ok(app.render(name, ctx))
}

/// Refuses a department the person may not see; `None` when allowed.
async fn check_department(
    app: &App,
    s: &Session,
    department: Option<&str>,
    action: &str,
    date: NaiveDate,
) -> Option<Response> {
    match department {
        Some(d) if !can_see_department(&s.user, d) => Some(
            app.deny(&s.user, action, &format!("department={d} date={date}"))
                .await,
        ),
        _ => None,
    }
}

pub async fn board(State(app): State<App>, s: Session, Query(q): Query<DayQuery>) -> WebResult {
    let date = q.day(&app);
    if let Some(r) = check_department(&app, &s, q.department(), "board", date).await {
        return Ok(r);
    }
    board_page(&app, &s, date, q.department(), false, None).await
}

/// The board's table alone, fetched by the page every 30 seconds.
pub async fn board_table(
    State(app): State<App>,
    s: Session,
    Query(q): Query<DayQuery>,
) -> WebResult {
    let date = q.day(&app);
    if let Some(r) = check_department(&app, &s, q.department(), "board_table", date).await {
        return Ok(r);
    }
    board_page(&app, &s, date, q.department(), true, None).await
}

pub async fn contact(State(app): State<App>, s: Session, Form(f): Form<ContactForm>) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "contact").await);
    }
    if s.user.role != Role::Supervisor {
        let target = format!("employee={} date={}", f.employee_id, f.date);
        return Ok(app.deny(&s.user, "contact", &target).await);
    }
    let date = parse_date(&f.date);
    let mut errors = Errors::new();
    if f.employee_id.trim().is_empty() {
        errors.insert("employee_id", "職員を選んでください".into());
        let d = date.unwrap_or_else(|| today(&app));
        return Ok(with_status(
            board_page(&app, &s, d, None, false, Some((f, errors))).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    // An ID that is no employee is answered as one of another department is (403, the same
    // page): the answer must not tell which IDs exist elsewhere.
    let emp = app.store.employee(f.employee_id.trim()).await?;
    let Some(emp) = emp.filter(|e| can_manage_department(&s.user, &e.department)) else {
        let target = format!("employee={} date={}", f.employee_id, f.date);
        return Ok(app.deny(&s.user, "contact", &target).await);
    };
    let Some(date) = date else {
        errors.insert("date", "日付は YYYY-MM-DD の形で入力してください".into());
        return Ok(with_status(
            board_page(&app, &s, today(&app), None, false, Some((f, errors))).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    if f.kind != "start" && f.kind != "end" {
        errors.insert("kind", "開始か終了を選んでください".into());
    }
    if Minutes::parse(&f.at).is_none() {
        errors.insert("at", "時刻は HH:MM の形で入力してください".into());
    }
    if let Some(m) = too_long("メモ", &f.note, NOTE_CHARS) {
        errors.insert("note", m);
    }
    if errors.is_empty() {
        match app.store.order(&emp.employee_id, date).await? {
            Some(o) if o.status == OrderStatus::Approved => {}
            _ => {
                errors.insert(
                    "date",
                    format!("{} さんの {date} の承認済みの命令がありません", emp.name),
                );
            }
        }
    }
    if errors.is_empty() {
        let c = crate::register::Contact {
            employee: emp.employee_id.clone(),
            date,
            kind: crate::register::ContactKind::parse(&f.kind)?,
            at: f.at.trim().to_string(),
            by: s.user.employee_id.clone(),
            note: Some(f.note.trim().to_string()).filter(|n| !n.is_empty()),
        };
        let actor = s.actor();
        match crate::register::record_contact(&app.store, &app.cfg, c, app.now(), &actor).await {
            Ok(_) => {
                app.changed();
                tracing::info!(employee = %emp.employee_id, by = %s.user.employee_id, kind = %super::log_text(&f.kind), %date, "phone contact recorded on the web");
                return Ok(see_other(url("/board", &[("date", &date.to_string())])));
            }
            Err(Error::Bad { at, msg }) => {
                errors.insert(field_of(&at), msg);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(with_status(
        board_page(&app, &s, date, None, false, Some((f, errors))).await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

/// `--kind` → `kind`: where a register error (named for the command line) goes on a form.
fn field_of(at: &str) -> &'static str {
    match at.trim_start_matches("--") {
        "employee" | "users" => "employee_id",
        "date" | "on" => "date",
        "kind" => "kind",
        "at" => "at",
        "by" => "by",
        "department" => "department",
        "fiscal-year" => "fiscal_year",
        "pc" => "pc",
        "employees" => "employees",
        "from" => "from",
        "to" => "to",
        _ => "general",
    }
}

// ---- the register ----

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(default)]
pub struct OrderForm {
    #[serde(skip_serializing)]
    pub csrf: String,
    pub employee_id: String,
    pub date: String,
    pub start: String,
    pub end: String,
    pub content: String,
    pub shifted: Option<String>,
    pub holiday_ok: Option<String>,
    pub leave: String,
}

impl OrderForm {
    /// The form as it is shown again after a refusal: every field cut near its limit.
    pub(super) fn clipped(mut self) -> OrderForm {
        clip(&mut self.content, CONTENT_CHARS);
        for f in [
            &mut self.employee_id,
            &mut self.date,
            &mut self.start,
            &mut self.end,
            &mut self.leave,
        ] {
            clip(f, FIELD_CHARS);
        }
        self
    }

    pub(super) fn from_row(o: &crate::store::OrderRow) -> OrderForm {
        OrderForm {
            csrf: String::new(),
            employee_id: o.employee_id.clone(),
            date: o.date.to_string(),
            start: o.start.to_string(),
            end: o.end.to_string(),
            content: o.content.clone(),
            shifted: o.shifted.then(|| "on".into()),
            holiday_ok: o.holiday_ok.then(|| "on".into()),
            leave: crate::order::format_leave(&o.leave),
        }
    }

    /// The draft the form describes, or what is wrong with its fields (in Japanese). The rules
    /// themselves are `WorkOrder::new`'s; this only reads the fields.
    pub(super) fn draft(
        &self,
        app: &App,
        employee: &str,
        approved_by: &str,
    ) -> Result<OrderDraft, Errors> {
        let mut errors = Errors::new();
        let date = parse_date(&self.date);
        if date.is_none() {
            errors.insert("date", "日付は YYYY-MM-DD の形で入力してください".into());
        }
        let mut time = |field: &'static str, s: &str| -> Option<Minutes> {
            if s.trim().is_empty() {
                return None;
            }
            let m = Minutes::parse(s);
            if m.is_none() {
                errors.insert(field, "時刻は HH:MM の形で入力してください".into());
            }
            m
        };
        let start = time("start", &self.start);
        let end = time("end", &self.end);
        let svc = &app.cfg.service;
        let hours = match (start, end) {
            (None, None) => None,
            (Some(s), Some(e)) => Some((s, e)),
            (Some(s), None) => Some((s, svc.workday_end)),
            (None, Some(e)) => Some((svc.workday_start, e)),
        };
        if let Some(m) = too_long("勤務内容", &self.content, CONTENT_CHARS) {
            errors.insert("content", m);
        }
        if let Some(m) = too_long("時間休", &self.leave, FIELD_CHARS) {
            errors.insert("leave", m);
        }
        let leave = parse_leave(&self.leave);
        if leave.is_none() && !errors.contains_key("leave") {
            errors.insert(
                "leave",
                "時間休は 13:00-15:00 の形で入力してください（複数は ; で区切ります）".into(),
            );
        }
        match (date, leave) {
            (Some(date), Some(leave)) if errors.is_empty() => Ok(OrderDraft {
                employee: employee.to_string(),
                date,
                hours,
                content: self.content.clone(),
                approved_by: approved_by.to_string(),
                shifted: self.shifted.is_some(),
                leave,
                holiday_ok: self.holiday_ok.is_some(),
            }),
            _ => Err(errors),
        }
    }
}

/// Shows a rule violation next to its field, in Japanese.
pub(super) fn rule_errors(e: &crate::order::OrderError) -> Errors {
    let mut errors = Errors::new();
    errors.insert(e.field(), e.message_ja());
    errors
}

fn draft_from_row(o: &crate::store::OrderRow, approved_by: &str) -> OrderDraft {
    OrderDraft {
        employee: o.employee_id.clone(),
        date: o.date,
        hours: Some((o.start, o.end)),
        content: o.content.clone(),
        approved_by: approved_by.to_string(),
        shifted: o.shifted,
        leave: o.leave.clone(),
        holiday_ok: o.holiday_ok,
    }
}

pub(super) struct RegisterView<'a> {
    pub(super) date: NaiveDate,
    pub(super) department: Option<&'a str>,
    pub(super) form: Option<OrderForm>,
    pub(super) errors: Errors,
    pub(super) notice: Option<String>,
}

pub(super) async fn register_page(app: &App, s: &Session, v: RegisterView<'_>) -> WebResult {
    let u = &s.user;
    let approval = register_approvals(app, u).await?;
    let (deputised, division) = (&approval.deputised, &approval.division);
    // A supervisor's register is their department's; a deputy's the one they stand in for; a
    // division head's their division's; IT and HR read any or all.
    let dept: Option<String> = match u.role {
        Role::Supervisor => Some(u.department.clone()),
        Role::Teleworker => deputised.first().cloned(),
        Role::DivisionHead => None,
        _ => v.department.map(str::to_string),
    };
    // Teleworkers and division heads see only what they approve.
    let approves_only = matches!(u.role, Role::Teleworker | Role::DivisionHead);
    let mut rows = app.store.register_day(v.date, dept.as_deref()).await?;
    let mut drafts = if approves_only {
        vec![]
    } else {
        app.store
            .drafts(dept.as_deref(), app.cfg.service.from)
            .await?
    };
    if approves_only {
        rows.retain(|r| {
            division.contains(&r.order.department) || deputised.contains(&r.order.department)
        });
    }
    let own = if approves_only { None } else { dept.as_ref() };
    for d in deputised.iter().filter(|d| Some(*d) != own) {
        drafts.extend(app.store.drafts(Some(d), app.cfg.service.from).await?);
    }
    if !division.is_empty() {
        let mut waiting = app.store.awaiting_division(app.cfg.service.from).await?;
        waiting.retain(|r| division.contains(&r.order.department));
        drafts.extend(waiting);
    }
    let employees = app.store.employees().await?;
    let view = |r: &crate::store::web::RegisterRow| register_row(r, u, &approval, &employees);
    let mut staff: Vec<_> = employees
        .values()
        .filter(|e| u.role == Role::Supervisor && e.department == u.department)
        .collect();
    staff.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
    let staff: Vec<Value> = staff
        .iter()
        .map(|e| context! { employee_id => &e.employee_id, name => &e.name })
        .collect();
    let departments: Vec<String> = if u.role == Role::Supervisor {
        vec![]
    } else {
        app.store
            .departments()
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect()
    };
    let form = v.form.unwrap_or_else(|| OrderForm {
        date: v.date.to_string(),
        ..Default::default()
    });
    let ctx = context! {
        title => "在宅勤務命令簿",
        date => v.date.to_string(),
        department => dept.clone().unwrap_or_default(),
        departments => departments,
        rows => rows.iter().map(view).collect::<Vec<_>>(),
        drafts => drafts.iter().map(view).collect::<Vec<_>>(),
        can_create => u.role == Role::Supervisor,
        can_bulk => u.role == Role::Supervisor || !deputised.is_empty(),
        week_from => week_of(v.date).0.to_string(),
        week_to => week_of(v.date).1.to_string(),
        staff => staff,
        form => form,
        errors => v.errors,
        notice => v.notice,
        workday_start => app.cfg.service.workday_start.to_string(),
        workday_end => app.cfg.service.workday_end.to_string(),
        ..base(s)
    };
    Ok(app.render("orders.html", ctx))
}

/// One order of the register as the page shows it, with what `u` may do with it.
fn register_row(
    r: &crate::store::web::RegisterRow,
    u: &super::roles::User,
    approval: &RegisterApprovals,
    employees: &std::collections::HashMap<String, crate::store::Employee>,
) -> Value {
    let (deputised, division) = (&approval.deputised, &approval.division);
    let name_of = |id: &Option<String>| {
        id.as_ref()
            .and_then(|i| employees.get(i))
            .map(|e| e.name.clone())
            .unwrap_or_default()
    };
    context! {
        id => r.order.id,
        employee_id => &r.order.employee_id,
        name => &r.order.employee_name,
        department => &r.order.department,
        date => r.order.date.to_string(),
        start => r.order.start.to_string(),
        end => r.order.end.to_string(),
        content => &r.order.content,
        shifted => r.order.shifted,
        holiday_ok => r.order.holiday_ok,
        leave => crate::order::format_leave(&r.order.leave),
        status => r.order.status.as_str(),
        approved_by => &r.order.approved_by,
        approver_name => name_of(&r.order.approved_by),
        approved_at => r.approved_at,
        requested_by => &r.requested_by,
        requested_at => r.requested_at,
        sent_back_reason => &r.sent_back_reason,
        sent_back_by => &r.sent_back_by,
        sent_back_by_name => name_of(&r.sent_back_by),
        sent_back_at => r.sent_back_at,
        deputy_by => &r.deputy_by,
        deputy_by_name => name_of(&r.deputy_by),
        division_by => &r.division_by,
        division_by_name => name_of(&r.division_by),
        division_at => r.division_at,
        division_deputy => &r.division_deputy,
        division_deputy_name => name_of(&r.division_deputy),
        can_manage => can_manage_department(u, &r.order.department),
        can_send_back => match r.order.status {
            OrderStatus::Draft => can_manage_department(u, &r.order.department),
            OrderStatus::Reviewed => division.contains(&r.order.department),
            _ => false,
        },
        can_approve => match r.order.status {
            OrderStatus::Draft => can_manage_department(u, &r.order.department)
                || deputised.contains(&r.order.department),
            OrderStatus::Reviewed => division.contains(&r.order.department),
            _ => false,
        },
    }
}

/// Monday and Sunday of the week of `day` (一括承認).
pub(super) fn week_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    use chrono::Datelike;
    let monday = day - chrono::Duration::days(day.weekday().num_days_from_monday().into());
    (monday, monday + chrono::Duration::days(6))
}

/// Whose approvals this person gives today besides their own department's: the departments
/// whose drafts they stamp as a deputy (代決), and those whose supervisor-stamped orders they
/// approve as division head (部長), or as a division head's deputy.
#[derive(Default)]
struct RegisterApprovals {
    deputised: Vec<String>,
    division: Vec<String>,
}

async fn register_approvals(
    app: &App,
    u: &super::roles::User,
) -> Result<RegisterApprovals, super::WebError> {
    let mut a = RegisterApprovals::default();
    let Some(me) = app.store.employee(&u.employee_id).await? else {
        return Ok(a);
    };
    a.division = crate::usecase::approval::division_departments(&app.store, &me).await?;
    for d in app.store.deputyships(&u.employee_id, today(app)).await? {
        if d.supervisor_role == Role::DivisionHead.as_str() {
            if let Some(head) = app.store.employee(&d.supervisor).await? {
                a.division.extend(
                    crate::usecase::approval::division_departments(&app.store, &head).await?,
                );
            }
        } else {
            a.deputised.push(d.department);
        }
    }
    Ok(a)
}

pub async fn orders(State(app): State<App>, s: Session, Query(q): Query<DayQuery>) -> WebResult {
    let date = q.day(&app);
    if s.user.role == Role::Teleworker {
        let a = register_approvals(&app, &s.user).await?;
        if a.deputised.is_empty() && a.division.is_empty() {
            return Ok(see_other("/my".into()));
        }
    }
    if let Some(r) = check_department(&app, &s, q.department(), "orders", date).await {
        return Ok(r);
    }
    let v = RegisterView {
        date,
        department: q.department(),
        form: None,
        errors: Errors::new(),
        notice: None,
    };
    register_page(&app, &s, v).await
}

/// A supervisor writes and stamps an order in one step.
pub async fn create_order(
    State(app): State<App>,
    s: Session,
    Form(f): Form<OrderForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "create_order").await);
    }
    let date = parse_date(&f.date).unwrap_or_else(|| today(&app));
    if s.user.role == Role::Supervisor && f.employee_id.trim().is_empty() {
        let mut errors = Errors::new();
        errors.insert("employee_id", "職員を選んでください".into());
        return invalid_order(&app, &s, date, f, errors).await;
    }
    // No such employee, or one who has left, is answered as another department's employee
    // is (403, the same page).
    let emp = app.store.employee(f.employee_id.trim()).await?;
    let Some(emp) = emp.filter(|e| e.active && can_manage_department(&s.user, &e.department))
    else {
        let target = format!("employee={} date={}", f.employee_id, f.date);
        return Ok(app.deny(&s.user, "create_order", &target).await);
    };
    let draft = match f.draft(&app, &emp.employee_id, &s.user.employee_id) {
        Ok(d) => d,
        Err(errors) => return invalid_order(&app, &s, date, f, errors).await,
    };
    if let Some(existing) = app.store.order(&emp.employee_id, draft.date).await?
        && existing.status != OrderStatus::Cancelled
    {
        let mut errors = Errors::new();
        let what = if existing.status == OrderStatus::Draft {
            "申請中の命令"
        } else {
            "命令"
        };
        errors.insert(
            "date",
            format!(
                "{} さんの {} の{what}が既にあります（一覧から承認・編集してください）",
                emp.name, draft.date
            ),
        );
        return invalid_order(&app, &s, date, f, errors).await;
    }
    match crate::register::check_order(&app.store, &app.cfg, &emp, draft, false).await? {
        Err(e) => invalid_order(&app, &s, date, f, rule_errors(&e)).await,
        Ok(order) => {
            let now = app.now();
            let mut tx = app.store.begin().await?;
            let actor = s.actor();
            let status = crate::usecase::approval::after_supervisor(&app.cfg);
            let id = crate::store::upsert_order(&mut tx, &order, status, now, &actor).await?;
            tx.commit().await.map_err(Error::from)?;
            app.changed();
            tracing::info!(order = id, employee = %order.employee, date = %order.date, by = %s.user.employee_id, "order created and approved on the web");
            Ok(see_other(url(
                "/orders",
                &[("date", &order.date.to_string())],
            )))
        }
    }
}

/// The register again, with the form as it was sent and what is wrong next to each field.
async fn invalid_order(
    app: &App,
    s: &Session,
    date: NaiveDate,
    f: OrderForm,
    errors: Errors,
) -> WebResult {
    let v = RegisterView {
        date,
        department: None,
        form: Some(f.clipped()),
        errors,
        notice: None,
    };
    Ok(with_status(
        register_page(app, s, v).await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

async fn invalid_request(
    app: &App,
    s: &Session,
    date: NaiveDate,
    f: OrderForm,
    errors: Errors,
) -> WebResult {
    Ok(with_status(
        my_page(app, s, date, Some(f.clipped()), errors).await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

pub(super) async fn load_order(
    app: &App,
    id: i64,
) -> Result<Option<crate::store::web::RegisterRow>, super::WebError> {
    Ok(app.store.register_order(id).await?)
}

/// The order, when this person manages its department; `None` both when it is another
/// department's and when there is no such order, so the caller answers both with the same 403
/// and the answer does not tell which order IDs exist.
pub(super) async fn managed_order(
    app: &App,
    s: &Session,
    id: i64,
) -> Result<Option<crate::store::web::RegisterRow>, super::WebError> {
    Ok(load_order(app, id)
        .await?
        .filter(|r| can_manage_department(&s.user, &r.order.department)))
}

pub(super) fn not_found(app: &App, s: &Session) -> Response {
    with_status(
        app.render(
            "error.html",
            context! { title => "見つかりません", message => "その命令はありません。", ..base(s) },
        ),
        StatusCode::NOT_FOUND,
    )
}

pub async fn edit_order(State(app): State<App>, s: Session, Path(id): Path<i64>) -> WebResult {
    let Some(r) = managed_order(&app, &s, id).await? else {
        return Ok(app
            .deny(&s.user, "edit_order", &format!("order={id}"))
            .await);
    };
    edit_page(
        &app,
        &s,
        &r,
        OrderForm::from_row(&r.order),
        Errors::new(),
        StatusCode::OK,
    )
}

fn edit_page(
    app: &App,
    s: &Session,
    r: &crate::store::web::RegisterRow,
    form: OrderForm,
    errors: Errors,
    status: StatusCode,
) -> WebResult {
    let ctx = context! {
        title => "命令の編集",
        id => r.order.id,
        name => &r.order.employee_name,
        employee_id => &r.order.employee_id,
        department => &r.order.department,
        date => r.order.date.to_string(),
        status => r.order.status.as_str(),
        form => form.clipped(),
        errors => errors,
        workday_start => app.cfg.service.workday_start.to_string(),
        workday_end => app.cfg.service.workday_end.to_string(),
        ..base(s)
    };
    Ok(with_status(app.render("order_edit.html", ctx), status))
}

/// A supervisor's edit: the order is checked again and stamped with their name and the time.
pub async fn update_order(
    State(app): State<App>,
    s: Session,
    Path(id): Path<i64>,
    Form(mut f): Form<OrderForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "update_order").await);
    }
    let Some(r) = managed_order(&app, &s, id).await? else {
        return Ok(app
            .deny(&s.user, "update_order", &format!("order={id}"))
            .await);
    };
    // The employee and the day are the order's; what the form says about them is ignored.
    f.employee_id = r.order.employee_id.clone();
    f.date = r.order.date.to_string();
    let Some(emp) = app.store.employee(&r.order.employee_id).await? else {
        return Ok(not_found(&app, &s));
    };
    let draft = match f.draft(&app, &emp.employee_id, &s.user.employee_id) {
        Ok(d) => d,
        Err(errors) => return edit_page(&app, &s, &r, f, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match crate::register::check_order(&app.store, &app.cfg, &emp, draft, false).await? {
        Err(e) => edit_page(
            &app,
            &s,
            &r,
            f,
            rule_errors(&e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok(order) => {
            let mut tx = app.store.begin().await?;
            crate::store::upsert_order(
                &mut tx,
                &order,
                crate::usecase::approval::after_supervisor(&app.cfg),
                app.now(),
                &s.actor(),
            )
            .await?;
            tx.commit().await.map_err(Error::from)?;
            app.changed();
            tracing::info!(order = id, by = %s.user.employee_id, "order edited and approved on the web");
            Ok(see_other(url(
                "/orders",
                &[("date", &order.date.to_string())],
            )))
        }
    }
}

/// The digital stamp: the draft is checked again with this supervisor as the approver (the
/// ID may have been released, the day closed, since it was asked for) and saved as approved,
/// with who and when.
pub async fn approve_order(
    State(app): State<App>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "approve_order").await);
    }
    // The department's supervisor stamps as themselves; a deputy named for today as 代決 for
    // the supervisor who named them. An order the supervisor stamped waits for the division
    // head (or their deputy) when `[approval] steps` has that step.
    let r = load_order(&app, id).await?;
    let me = app.store.employee(&s.user.employee_id).await?;
    if let (Some(r), Some(me)) = (&r, &me)
        && r.order.status == OrderStatus::Reviewed
    {
        let back = url("/orders", &[("date", &r.order.date.to_string())]);
        let stamp = crate::usecase::approval::division_stamp_for(
            &app.store,
            me,
            &r.order.department,
            today(&app),
        )
        .await?;
        let Some(stamp) = stamp else {
            return Ok(app
                .deny(&s.user, "approve_order", &format!("order={id}"))
                .await);
        };
        let now = app.now();
        let actor = s.actor();
        crate::usecase::approval::approve_division(&app.store, id, &stamp, now, &actor).await?;
        app.changed();
        tracing::info!(order = id, by = %s.user.employee_id, deputy = stamp.deputy.is_some(), "order approved by the division head on the web");
        return Ok(see_other(back));
    }
    let stamp = match (&r, &me) {
        (Some(r), Some(me)) => {
            crate::usecase::approval::stamp_for(&app.store, me, &r.order.department, today(&app))
                .await?
        }
        _ => None,
    };
    let (Some(r), Some(stamp)) = (r, stamp) else {
        return Ok(app
            .deny(&s.user, "approve_order", &format!("order={id}"))
            .await);
    };
    let back = url("/orders", &[("date", &r.order.date.to_string())]);
    if r.order.status != OrderStatus::Draft {
        return Ok(see_other(back));
    }
    match stamp_draft(&app, &s.actor(), &r, &stamp).await? {
        None => Ok(see_other(back)),
        Some(refused) => {
            let v = RegisterView {
                date: r.order.date,
                department: None,
                form: None,
                errors: Errors::new(),
                notice: Some(refused),
            };
            Ok(with_status(
                register_page(&app, &s, v).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

/// The digital stamp on one draft, checked again with the stamp's approver (the ID may have
/// been released, the day closed, since it was asked for) and saved with who and when, and its
/// own audit entry. `Some(why)` (in Japanese) when a rule refuses it; nothing is saved then.
pub(super) async fn stamp_draft(
    app: &App,
    actor: &crate::store::audit::Actor,
    r: &crate::store::web::RegisterRow,
    stamp: &crate::usecase::approval::Stamp,
) -> Result<Option<String>, super::WebError> {
    let Some(emp) = app.store.employee(&r.order.employee_id).await? else {
        return Ok(Some(format!(
            "{} は登録されていません",
            r.order.employee_id
        )));
    };
    let draft = draft_from_row(&r.order, &stamp.approver);
    match crate::register::check_order(&app.store, &app.cfg, &emp, draft, false).await? {
        Err(e) => Ok(Some(format!(
            "{} さんの {} の申請は承認できません: {}",
            emp.name,
            r.order.date,
            e.message_ja()
        ))),
        Ok(order) => {
            let mut tx = app.store.begin().await?;
            crate::store::upsert_order_by(
                &mut tx,
                &order,
                crate::usecase::approval::after_supervisor(&app.cfg),
                app.now(),
                actor,
                stamp.deputy.as_deref(),
            )
            .await?;
            tx.commit().await.map_err(Error::from)?;
            app.changed();
            tracing::info!(order = r.order.id, employee = %order.employee, date = %order.date, by = %actor.who, deputy = stamp.deputy.is_some(), "order approved on the web");
            Ok(None)
        }
    }
}

/// A supervisor cancels an order (or turns a request down); a teleworker may withdraw their own
/// request while it is a draft.
pub async fn cancel_order(
    State(app): State<App>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "cancel_order").await);
    }
    // No such order is answered as another department's order is (403, the same page).
    let r = load_order(&app, id).await?.filter(|r| {
        (r.order.status == OrderStatus::Draft && can_request_for(&s.user, &r.order.employee_id))
            || can_manage_department(&s.user, &r.order.department)
    });
    let Some(r) = r else {
        return Ok(app
            .deny(&s.user, "cancel_order", &format!("order={id}"))
            .await);
    };
    let own_draft =
        r.order.status == OrderStatus::Draft && can_request_for(&s.user, &r.order.employee_id);
    if r.order.status != OrderStatus::Cancelled {
        let actor = s.actor();
        app.store.cancel_order(id, app.now(), &actor).await?;
        app.changed();
        tracing::info!(order = id, by = %s.user.employee_id, "order cancelled on the web");
    }
    if own_draft && s.user.role != Role::Supervisor {
        return Ok(see_other("/my".into()));
    }
    Ok(see_other(url(
        "/orders",
        &[("date", &r.order.date.to_string())],
    )))
}

// ---- a teleworker's own page ----

async fn my_page(
    app: &App,
    s: &Session,
    date: NaiveDate,
    form: Option<OrderForm>,
    errors: Errors,
) -> WebResult {
    my_page_with(app, s, date, form, errors, None).await
}

/// 自分の在宅勤務, with the answer to a report just made from its buttons (`report_answer`).
pub(super) async fn my_page_with(
    app: &App,
    s: &Session,
    date: NaiveDate,
    form: Option<OrderForm>,
    errors: Errors,
    report_answer: Option<String>,
) -> WebResult {
    my_page_in(app, s, (date, None), form, errors, report_answer, None).await
}

/// What a plain `/my` of `employee` on `date` with the attendance of `month` shows.
fn my_want(app: &App, employee: &str, date: NaiveDate, month: Option<&str>) -> Want {
    let svc = &app.cfg.service;
    Want {
        employee: employee.to_string(),
        orders: (svc.from, svc.to),
        month: crate::attendance::month_or(
            month.and_then(|m| crate::attendance::month(m).ok()),
            date,
        ),
        day: date,
        today: today(app),
    }
}

/// 自分の在宅勤務 with the attendance of `month` (`YYYY-MM`; by default `date`'s). `kept`: the
/// person's change stamp read with the session, when nothing was written since (a plain load
/// of the page): rows and the page kept under it are used, and rows read and the page rendered
/// are kept (`web::my_cache`). A page shown after a write (a report, a refused form) reads
/// afresh.
async fn my_page_in(
    app: &App,
    s: &Session,
    (date, month): (NaiveDate, Option<&str>),
    form: Option<OrderForm>,
    errors: Errors,
    report_answer: Option<String>,
    kept: Option<Stamp>,
) -> WebResult {
    // Only a plain load is kept: a form, its errors and a report's answer are this request's.
    let kept = kept.filter(|_| form.is_none() && errors.is_empty() && report_answer.is_none());
    let now = app.now();
    let want = my_want(app, &s.user.employee_id, date, month);
    let counts = &app.my_cache.counts;
    let (person, page, read) = match kept.and_then(|n| app.my_cache.get(&want, n)) {
        Some((person, page)) => (person, page, false),
        None => {
            let p = Arc::new(crate::usecase::my_page::load(&app.store, &want).await?);
            if let Some(n) = kept {
                app.my_cache.put(want.clone(), n, p.clone());
            }
            (p, None, true)
        }
    };
    let (history, board) = person.judged(&app.cfg, &want, now);
    // The page rendered last from these rows, if it was judged the same.
    if let Some(p) = page.filter(|p| p.history == history && p.board == board) {
        Counts::add(&counts.kept);
        return Ok(Html(p.html_for(&s.csrf)).into_response());
    }
    Counts::add(if read { &counts.read } else { &counts.rendered });
    let Some(n) = kept else {
        // After a write or with a refused form: rendered for this session alone.
        let form = form.unwrap_or_else(|| OrderForm {
            date: date.to_string(),
            ..Default::default()
        });
        let ctx = my_context(app, &s.user, &s.csrf, &want, &person, (&history, &board));
        let ctx =
            context! { form => form, errors => errors, report_answer => report_answer, ..ctx };
        return Ok(app.render("my.html", ctx));
    };
    let page = match render_my_page(app, &s.user, &want, &person, history, board) {
        Ok(page) => Arc::new(page),
        Err(e) => return Ok(super::internal(e)),
    };
    app.my_cache.put_page(&want, n, page.clone());
    Ok(Html(page.html_for(&s.csrf)).into_response())
}

/// What my.html is rendered from, but the form, its errors and a report's answer.
fn my_context(
    app: &App,
    u: &User,
    csrf: &str,
    want: &Want,
    person: &crate::usecase::my_page::Person,
    (history, board): (&crate::attendance::History, &crate::board::Board),
) -> Value {
    let svc = &app.cfg.service;
    // 代決: whom this person stands in for today, so a deputy without a register in the menu
    // finds the drafts to stamp.
    let deputy_for: Vec<Value> = person
        .deputyships
        .iter()
        .map(|d| context! { name => &d.supervisor_name, from => d.from.to_string(), to => d.to.to_string() })
        .collect();
    context! {
        title => "自分の在宅勤務",
        deputy_for => deputy_for,
        date => want.day.to_string(),
        orders => my_order_rows(person, want),
        board => board,
        form => OrderForm { date: want.day.to_string(), ..Default::default() },
        errors => Errors::new(),
        workday_start => svc.workday_start.to_string(),
        workday_end => svc.workday_end.to_string(),
        history => history,
        ..base_for(u, csrf)
    }
}

/// A plain load's page of `want`, judged as `history` and `board`, for any session of `u`'s:
/// rendered with the process's marker where the CSRF token goes (`my_cache::Page`).
fn render_my_page(
    app: &App,
    u: &User,
    want: &Want,
    person: &crate::usecase::my_page::Person,
    history: crate::attendance::History,
    board: crate::board::Board,
) -> crate::error::Result<MyPage> {
    let ctx = my_context(app, u, &app.csrf_marker, want, person, (&history, &board));
    let html = app.render_html("my.html", ctx)?;
    Ok(MyPage::new(&html, &app.csrf_marker, history, board))
}

/// What the rounds of `keep_ready` remember between them.
#[derive(Debug, Default)]
pub(super) struct Ready {
    /// What the round before found (the day, the sum of the change counters, the cache's
    /// clears): while they stand still no page can be missing, and the round is one statement.
    seen: Option<(NaiveDate, i64, u64)>,
    /// When the kept pages were last judged again at the clock.
    judged: Option<std::time::Instant>,
}

/// How often the pages kept ready are judged again at the clock: a deadline passing (待ち turns
/// 未着 at the start's deadline, for many teleworkers at once) is rendered ahead within this.
const JUDGE_AGAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Keeps the plain 自分の在宅勤務 of the day's teleworkers (an approved order today) rendered
/// before they ask, each under their change stamp: at 08:30 a city's teleworkers open it
/// together, and a page rendered for each of them in that minute is what the morning rush
/// cost (issue 20). A page whose person wrote since (their report arrived) is rendered again
/// at the next round; one judged differently at the clock (a deadline passed) within
/// `JUDGE_AGAIN`, or at its next load from the kept rows, whichever comes first. Stops short
/// of `my_cache::MAX_KEPT`, leaving room for the pages people ask for themselves. Returns how
/// many pages it rendered.
pub(super) async fn keep_ready(app: &App, ready: &mut Ready) -> crate::error::Result<usize> {
    let day = today(app);
    let now_seen = (day, app.store.changes_total().await?, app.my_cache.clears());
    let judge = ready.judged.is_none_or(|t| t.elapsed() >= JUDGE_AGAIN);
    if ready.seen == Some(now_seen) && !judge {
        return Ok(0);
    }
    if ready.seen.is_some_and(|(d, _, _)| d != day) {
        app.my_cache.keep_only(day);
    }
    let mut rendered = 0;
    for (e, stamp) in app.store.stamps_of_the_day(day).await? {
        let u: User = e.into();
        let want = my_want(app, &u.employee_id, day, None);
        let now = app.now();
        let (person, kept) = match app.my_cache.get(&want, stamp) {
            Some((_, Some(_))) if !judge => continue,
            Some((person, page)) => (person, page),
            None => {
                if app.my_cache.kept() >= super::my_cache::MAX_KEPT * 3 / 4 {
                    break;
                }
                let person = Arc::new(crate::usecase::my_page::load(&app.store, &want).await?);
                app.my_cache.put(want.clone(), stamp, person.clone());
                (person, None)
            }
        };
        let (history, board) = person.judged(&app.cfg, &want, now);
        if kept.is_some_and(|p| p.history == history && p.board == board) {
            continue;
        }
        let page = render_my_page(app, &u, &want, &person, history, board)?;
        app.my_cache.put_page(&want, stamp, Arc::new(page));
        Counts::add(&app.my_cache.counts.ready);
        rendered += 1;
        // Requests first: this is work ahead of time.
        tokio::task::yield_now().await;
    }
    // A write during the round is seen by the next (its sum differs from this one's).
    ready.seen = Some(now_seen);
    if judge {
        ready.judged = Some(std::time::Instant::now());
    }
    Ok(rendered)
}

/// The teleworker's orders the page lists (`Person::listed`), newest first.
fn my_order_rows(
    person: &crate::usecase::my_page::Person,
    want: &crate::usecase::my_page::Want,
) -> Vec<Value> {
    let orders: Vec<&crate::store::web::RegisterRow> = person.listed(want).collect();
    orders
        .iter()
        .rev()
        .map(|r| {
            context! {
                id => r.order.id,
                date => r.order.date.to_string(),
                start => r.order.start.to_string(),
                end => r.order.end.to_string(),
                content => &r.order.content,
                shifted => r.order.shifted,
                leave => crate::order::format_leave(&r.order.leave),
                status => r.order.status.as_str(),
                approved_by => &r.order.approved_by,
                approved_at => r.approved_at,
                deputy_by => &r.deputy_by,
                sent_back_reason => &r.sent_back_reason,
                sent_back_at => r.sent_back_at,
            }
        })
        .collect()
}

pub async fn my(State(app): State<App>, s: Session, Query(q): Query<DayQuery>) -> WebResult {
    let date = q.day(&app);
    let month = q.month.as_deref();
    my_page_in(
        &app,
        &s,
        (date, month),
        None,
        Errors::new(),
        None,
        Some(s.changes),
    )
    .await
}

/// A teleworker asks for an order: a draft, checked against every rule but the approver's.
pub async fn request_order(
    State(app): State<App>,
    s: Session,
    Form(f): Form<OrderForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "request_order").await);
    }
    let me = s.user.employee_id.clone();
    if !f.employee_id.trim().is_empty() && !can_request_for(&s.user, f.employee_id.trim()) {
        return Ok(app
            .deny(
                &s.user,
                "request_order",
                &format!("employee={} date={}", f.employee_id, f.date),
            )
            .await);
    }
    let date = parse_date(&f.date).unwrap_or_else(|| today(&app));
    // 閉庁日の勤務 is the supervisor's decision alone: a request carrying it (the form has no
    // such box; it was added by hand) is refused, so no draft waits with it for one 承認 click.
    if f.holiday_ok.is_some() {
        tracing::warn!(employee = %me, "request with the supervisor's holiday flag: refused");
        let mut errors = Errors::new();
        errors.insert(
            "holiday_ok",
            "閉庁日の勤務は所属長が命じます。申請では指定できません（所属長に相談してください）"
                .into(),
        );
        return invalid_request(&app, &s, date, f, errors).await;
    }
    let Some(emp) = app.store.employee(&me).await? else {
        return invalid_request(&app, &s, date, f, Errors::new()).await;
    };
    let draft = match f.draft(&app, &me, "") {
        Ok(d) => d,
        Err(errors) => return invalid_request(&app, &s, date, f, errors).await,
    };
    match crate::register::check_order(&app.store, &app.cfg, &emp, draft, true).await? {
        Err(e) => invalid_request(&app, &s, date, f, rule_errors(&e)).await,
        Ok(order) => {
            let now = app.now();
            let mut tx = app.store.begin().await?;
            let saved =
                crate::store::web::save_draft(&mut tx, &order, &me, now, &s.actor()).await?;
            tx.commit().await.map_err(Error::from)?;
            if !saved {
                let mut errors = Errors::new();
                errors.insert(
                    "date",
                    format!("{} の命令は既に承認されています", order.date),
                );
                return invalid_request(&app, &s, date, f, errors).await;
            }
            app.changed();
            tracing::info!(employee = %me, date = %order.date, "order requested on the web");
            Ok(see_other(url("/my", &[("date", &order.date.to_string())])))
        }
    }
}

// ---- escalations ----

pub async fn escalations(
    State(app): State<App>,
    s: Session,
    Query(q): Query<DayQuery>,
) -> WebResult {
    let date = q.day(&app);
    if let Some(r) = check_department(&app, &s, q.department(), "escalations", date).await {
        return Ok(r);
    }
    let sc = requested_scope(&s.user, q.department());
    let board = scoped_board(&app, date, None, &sc).await?;
    let orders = app.store.orders_on(date).await?;
    let mut items = Vec::new();
    for t in &board.teleworkers {
        let order_id = orders
            .iter()
            .find(|o| o.employee_id == t.employee_id)
            .map(|o| o.id);
        for e in &t.escalations {
            items.push(context! {
                order_id => order_id,
                employee_id => &t.employee_id,
                name => &t.name,
                department => &t.department,
                kind => &e.kind,
                step => e.step,
                to => e.to.join(", "),
                at => &e.at,
                status => &e.status,
                resolved => e.status.starts_with("resolved"),
                can_resolve => can_manage_department(&s.user, &t.department),
            });
        }
    }
    let ctx = context! {
        title => "督促",
        date => date.to_string(),
        department => q.department().unwrap_or(""),
        items => items,
        ..base(&s)
    };
    Ok(app.render("escalations.html", ctx))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResolveForm {
    pub csrf: String,
    pub order_id: i64,
    pub kind: String,
}

/// A supervisor marks an escalation as dealt with (確認済), as a reply to the mail would.
pub async fn resolve_escalation(
    State(app): State<App>,
    s: Session,
    Form(f): Form<ResolveForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "resolve_escalation").await);
    }
    let Some(r) = managed_order(&app, &s, f.order_id).await? else {
        return Ok(app
            .deny(
                &s.user,
                "resolve_escalation",
                &format!("order={} kind={}", f.order_id, f.kind),
            )
            .await);
    };
    let mut tx = app.store.begin().await?;
    crate::store::escalations::resolve_audited(
        &mut tx,
        f.order_id,
        &f.kind,
        (&s.user.employee_id, "web"),
        app.now(),
        &s.actor(),
    )
    .await?;
    tx.commit().await.map_err(Error::from)?;
    app.changed();
    tracing::info!(order = f.order_id, kind = %super::log_text(&f.kind), by = %s.user.employee_id, "escalation resolved on the web");
    Ok(see_other(url(
        "/escalations",
        &[("date", &r.order.date.to_string())],
    )))
}

// ---- IT: administration ----

#[derive(Debug, Default)]
struct AdminView {
    errors: Errors,
    notice: Option<String>,
    /// The form that was sent (`applications`, `assign`, `release`, `employees`): its errors are
    /// shown at its own fields, so the two forms with an 職員番号 field never share one.
    section: &'static str,
}

async fn admin_page(app: &App, s: &Session, v: AdminView) -> WebResult {
    let departments: Vec<Value> = app
        .store
        .departments()
        .await?
        .iter()
        .map(|d| context! { name => &d.name, division => &d.division, note => &d.note, target => d.target, no => d.no })
        .collect();
    let mut employees: Vec<_> = app.store.employees().await?.into_values().collect();
    employees.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
    let employees: Vec<Value> = employees
        .iter()
        .map(|e| {
            // The chat IDs as the CSV names them: `teams_id: …`, one per platform.
            let chat: Vec<String> = e
                .chat_ids
                .iter()
                .map(|(p, id)| format!("{}: {id}", p.column()))
                .collect();
            context! { employee_id => &e.employee_id, name => &e.name, department => &e.department, role => e.role.as_str(), emails => e.emails.join("; "), chat_ids => chat, active => e.active }
        })
        .collect();
    let applications: Vec<Value> = app
        .store
        .applications()
        .await?
        .iter()
        .map(|a| context! { department => &a.department, fiscal_year => a.fiscal_year, pc_name => &a.pc_name, emergency => a.emergency, users => a.users.join(", ") })
        .collect();
    let held: Vec<Value> = app
        .store
        .held_ids()
        .await?
        .iter()
        .map(|h| context! { id_no => h.held.id_no, employee => &h.held.employee, from => h.held.from.to_string(), to => h.held.to.to_string() })
        .collect();
    let audit: Vec<Value> = app
        .store
        .recent_audit(50)
        .await?
        .iter()
        .map(|a| context! { at => a.at, employee_id => &a.employee_id, action => &a.action, target => &a.target, outcome => &a.outcome })
        .collect();
    let waves: Vec<Value> = app
        .cfg
        .waves
        .iter()
        .map(|w| context! { name => &w.name, from => w.from.to_string(), to => w.to.to_string() })
        .collect();
    let ctx = context! {
        title => "管理（情報管理課）",
        departments => departments,
        employees => employees,
        applications => applications,
        held => held,
        licensed => app.cfg.service.licensed_ids,
        audit => audit,
        waves => waves,
        errors => v.errors,
        notice => v.notice,
        section => v.section,
        ..base(s)
    };
    Ok(app.render("admin.html", ctx))
}

pub async fn admin(State(app): State<App>, s: Session) -> WebResult {
    if !can_administer(&s.user) {
        return Ok(app.deny(&s.user, "admin", "").await);
    }
    admin_page(&app, &s, AdminView::default()).await
}

/// What became of an IT form: a notice, or the register's refusal next to its field.
async fn admin_outcome<T>(
    app: &App,
    s: &Session,
    section: &'static str,
    r: crate::error::Result<T>,
    ok: impl FnOnce(T) -> String,
) -> WebResult {
    match r {
        Ok(v) => {
            let notice = ok(v);
            app.changed();
            tracing::info!(by = %s.user.employee_id, section, notice = %super::log_text(&notice), "register changed on the web");
            admin_page(
                app,
                s,
                AdminView {
                    notice: Some(notice),
                    section,
                    ..Default::default()
                },
            )
            .await
        }
        Err(Error::Bad { at, msg }) => {
            let mut errors = Errors::new();
            errors.insert(field_of(&at), msg);
            let r = admin_page(
                app,
                s,
                AdminView {
                    errors,
                    section,
                    ..Default::default()
                },
            )
            .await?;
            Ok(with_status(r, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApplicationForm {
    pub csrf: String,
    pub department: String,
    pub fiscal_year: String,
    pub pc: String,
    pub users: String,
    pub emergency: Option<String>,
}

pub async fn add_application(
    State(app): State<App>,
    s: Session,
    Form(f): Form<ApplicationForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "add_application").await);
    }
    if !can_administer(&s.user) {
        return Ok(app
            .deny(
                &s.user,
                "add_application",
                &format!("department={}", f.department),
            )
            .await);
    }
    let long = [
        ("--department", "所属", &f.department),
        ("--fiscal-year", "年度", &f.fiscal_year),
        ("--pc", "PC名", &f.pc),
        ("--users", "利用者", &f.users),
    ]
    .into_iter()
    .find_map(|(flag, label, v)| too_long(label, v, FIELD_CHARS).map(|m| (flag, m)));
    let r = match (long, f.fiscal_year.trim().parse::<i32>()) {
        (Some((flag, m)), _) => Err(Error::bad(flag, m)),
        (None, Ok(fy)) => {
            let args = crate::register::ApplicationArgs {
                department: f.department.clone(),
                fiscal_year: fy,
                pc: f.pc.clone(),
                users: f
                    .users
                    .split([',', ' ', '、'])
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect(),
                emergency: f.emergency.is_some(),
            };
            let actor = s.actor();
            let now = app.now();
            crate::register::add_application_as(&app.store, &app.cfg, args, now, &actor).await
        }
        (None, Err(_)) => Err(Error::bad(
            "--fiscal-year",
            "年度は 2020 のように入力してください",
        )),
    };
    admin_outcome(&app, &s, "applications", r, |a| {
        format!(
            "{} の {} 年度の申請を登録しました（PC {}）",
            a.department, a.fiscal_year, a.pc_name
        )
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmployeesForm {
    pub csrf: String,
    /// The CSV of `zaitaku employees import`, pasted (employee_id,name,email,department,role[,chat_id][,teams_id][,lineworks_id]).
    pub csv: String,
}

/// IT loads staff as `employees import` does: all rows checked before any is written.
pub async fn import_employees(
    State(app): State<App>,
    s: Session,
    Form(f): Form<EmployeesForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "import_employees").await);
    }
    if !can_administer(&s.user) {
        return Ok(app.deny(&s.user, "import_employees", "").await);
    }
    // The import reads a file (BOM, Shift_JIS and line numbers as for the command line).
    let path = std::env::temp_dir().join(format!("zaitaku-web-{}.csv", super::auth::random_hex(8)));
    std::fs::write(&path, f.csv.as_bytes()).map_err(|e| Error::io(&path, e))?;
    let actor = s.actor();
    let r = crate::register::import_employees_as(&app.store, &path, app.now(), &actor).await;
    let _ = std::fs::remove_file(&path);
    let file = path.display().to_string();
    let r = r.map_err(|e| match e {
        Error::Bad { at, msg } => Error::bad(
            "--employees",
            format!("{}: {msg}", at.replace(&file, "CSV")),
        ),
        other => other,
    });
    admin_outcome(&app, &s, "employees", r, |n| {
        format!("職員 {n} 名を登録しました")
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdForm {
    pub csrf: String,
    pub employee_id: String,
    pub from: String,
    pub to: String,
    pub on: String,
}

fn form_date(flag: &str, s: &str) -> crate::error::Result<NaiveDate> {
    parse_date(s).ok_or_else(|| Error::bad(flag, "日付は YYYY-MM-DD の形で入力してください"))
}

pub async fn assign_id(State(app): State<App>, s: Session, Form(f): Form<IdForm>) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "assign_id").await);
    }
    if !can_administer(&s.user) {
        return Ok(app
            .deny(&s.user, "assign_id", &format!("employee={}", f.employee_id))
            .await);
    }
    let r = async {
        let from = form_date("--from", &f.from)?;
        let to = match f.to.trim() {
            "" => None,
            t => Some(form_date("--to", t)?),
        };
        let actor = s.actor();
        let (store, cfg, now) = (&app.store, &app.cfg, app.now());
        crate::register::assign_id_as(store, cfg, f.employee_id.trim(), from, to, now, &actor).await
    }
    .await;
    admin_outcome(&app, &s, "assign", r, |h| {
        format!(
            "テレワーク用ID {} を {} に割り当てました（{}〜{}）",
            h.id_no, h.employee, h.from, h.to
        )
    })
    .await
}

pub async fn release_id(State(app): State<App>, s: Session, Form(f): Form<IdForm>) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "release_id").await);
    }
    if !can_administer(&s.user) {
        return Ok(app
            .deny(
                &s.user,
                "release_id",
                &format!("employee={}", f.employee_id),
            )
            .await);
    }
    let r = async {
        let on = form_date("--on", &f.on)?;
        let actor = s.actor();
        let now = app.now();
        crate::register::release_id_as(&app.store, f.employee_id.trim(), on, now, &actor)
            .await
            .map(|h| (h, on))
    }
    .await;
    admin_outcome(&app, &s, "release", r, |(h, on)| {
        format!(
            "{} のテレワーク用ID {} を {} から返却しました",
            h.employee, h.id_no, on
        )
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SurveyQuery {
    pub format: Option<String>,
    pub encoding: Option<String>,
}

/// The J-LIS summary of a wave as a file: md, csv (UTF-8 with BOM, or Shift_JIS), svg, json.
pub async fn survey(
    State(app): State<App>,
    s: Session,
    Path(wave): Path<String>,
    Query(q): Query<SurveyQuery>,
) -> WebResult {
    use crate::survey::{self, Encoding};
    if !can_administer(&s.user) {
        return Ok(app.deny(&s.user, "survey", &format!("wave={wave}")).await);
    }
    let format = q.format.as_deref().unwrap_or("md");
    let enc = match q.encoding.as_deref().map(Encoding::parse) {
        None => Encoding::Utf8,
        Some(Some(e)) => e,
        Some(None) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                "encoding: expected utf-8 or shift_jis",
            )
                .into_response());
        }
    };
    let sv = match survey::compile(&app.store, &app.cfg, &wave).await {
        Ok(sv) => sv,
        Err(Error::Bad { msg, .. }) => {
            return Ok(with_status(
                app.render(
                    "error.html",
                    context! { title => "見つかりません", message => msg, ..base(&s) },
                ),
                StatusCode::NOT_FOUND,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let charset = if enc == Encoding::ShiftJis {
        "Shift_JIS"
    } else {
        "utf-8"
    };
    let (bytes, kind, ext) = match format {
        "csv" => (
            survey::render_csv(&sv, enc),
            format!("text/csv; charset={charset}"),
            "csv",
        ),
        "svg" => (
            survey::render_svg(&sv).into_bytes(),
            "image/svg+xml".to_string(),
            "svg",
        ),
        "json" => (
            survey::render_json(&sv).into_bytes(),
            "application/json".to_string(),
            "json",
        ),
        "md" => (
            enc.encode(&survey::render_markdown(&sv)),
            format!("text/markdown; charset={charset}"),
            "md",
        ),
        _ => {
            return Ok((
                StatusCode::BAD_REQUEST,
                "format: expected md, csv, svg or json",
            )
                .into_response());
        }
    };
    let name: String = wave
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"survey-{name}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
