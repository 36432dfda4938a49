//! The approval routes on the web (SPEC §11, issue 18): a supervisor sends a draft back with a
//! reason (差戻し) from the register, and the teleworker edits and resubmits it from 自分の在宅勤務.
//! Every handler checks the CSRF token, then who may act on the order, then calls the same use
//! case as any other front end (`usecase::approval`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use minijinja::context;
use serde::Deserialize;

use super::api::today;
use super::auth::Session;
use super::pages::{
    Errors, OrderForm, RegisterView, base, load_order, not_found, register_page, rule_errors,
    see_other, url, with_status,
};
use super::roles::{can_manage_department, can_request_for};
use super::{App, WebResult};
use crate::order::OrderStatus;
use crate::usecase::approval;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SendBackForm {
    pub csrf: String,
    pub reason: String,
}

/// 差戻し: the draft goes back to its teleworker with the reason, and they are mailed.
pub async fn send_back(
    State(app): State<App>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<SendBackForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "send_back").await);
    }
    // A draft is its department's supervisor's to send back; an order the supervisor stamped
    // is the division head's (or their deputy's) while it waits for the second stamp.
    let me = app.store.employee(&s.user.employee_id).await?;
    let r = load_order(&app, id).await?;
    let allowed = match (&r, &me) {
        (Some(r), _) if r.order.status == OrderStatus::Draft => {
            can_manage_department(&s.user, &r.order.department)
        }
        (Some(r), Some(me)) if r.order.status == OrderStatus::Reviewed => {
            approval::division_stamp_for(&app.store, me, &r.order.department, today(&app))
                .await?
                .is_some()
        }
        (Some(r), _) => can_manage_department(&s.user, &r.order.department),
        (None, _) => false,
    };
    let (Some(r), Some(me), true) = (r, me, allowed) else {
        return Ok(app.deny(&s.user, "send_back", &format!("order={id}")).await);
    };
    let back = url("/orders", &[("date", &r.order.date.to_string())]);
    if !matches!(r.order.status, OrderStatus::Draft | OrderStatus::Reviewed) {
        return Ok(see_other(back));
    }
    let reason = match approval::check_reason(&f.reason) {
        Ok(reason) => reason,
        Err(_) => {
            let n = f.reason.trim().chars().count();
            let notice = if n == 0 {
                "差戻しの理由を入力してください".to_string()
            } else {
                format!(
                    "差戻しの理由は{}文字以内で、制御文字を含めずに入力してください（{n}文字あります）",
                    approval::REASON_CHARS
                )
            };
            let v = RegisterView {
                date: r.order.date,
                department: None,
                form: None,
                errors: Errors::new(),
                notice: Some(format!(
                    "{} さんの {} の申請を差し戻せません: {notice}",
                    r.order.employee_name, r.order.date
                )),
            };
            return Ok(with_status(
                register_page(&app, &s, v).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
    };
    let actor = s.actor();
    approval::send_back(&app.store, &app.cfg, &r, &reason, &me, app.now(), &actor).await?;
    app.changed();
    Ok(see_other(back))
}

/// The teleworker's order, when it is theirs and sent back; `None` otherwise (answered 403
/// alike, so the answer does not tell which order IDs exist).
async fn own_sent_back(
    app: &App,
    s: &Session,
    id: i64,
) -> Result<Option<crate::store::web::RegisterRow>, super::WebError> {
    Ok(load_order(app, id).await?.filter(|r| {
        r.order.status == OrderStatus::SentBack && can_request_for(&s.user, &r.order.employee_id)
    }))
}

fn resubmit_page(
    app: &App,
    s: &Session,
    r: &crate::store::web::RegisterRow,
    form: OrderForm,
    errors: Errors,
    status: StatusCode,
) -> WebResult {
    let ctx = context! {
        title => "申請の修正",
        id => r.order.id,
        date => r.order.date.to_string(),
        reason => &r.sent_back_reason,
        sent_back_at => r.sent_back_at,
        form => form.clipped(),
        errors => errors,
        workday_start => app.cfg.service.workday_start.to_string(),
        workday_end => app.cfg.service.workday_end.to_string(),
        ..base(s)
    };
    Ok(with_status(app.render("my_resubmit.html", ctx), status))
}

/// The form to edit a request that was sent back, with the reason above it.
pub async fn edit_sent_back(State(app): State<App>, s: Session, Path(id): Path<i64>) -> WebResult {
    let Some(r) = own_sent_back(&app, &s, id).await? else {
        return Ok(app
            .deny(&s.user, "edit_sent_back", &format!("order={id}"))
            .await);
    };
    resubmit_page(
        &app,
        &s,
        &r,
        OrderForm::from_row(&r.order),
        Errors::new(),
        StatusCode::OK,
    )
}

/// 再申請: the edited request is checked against every rule but the approver's (as a new
/// request is) and is a draft again.
pub async fn resubmit(
    State(app): State<App>,
    s: Session,
    Path(id): Path<i64>,
    Form(mut f): Form<OrderForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "resubmit").await);
    }
    let Some(r) = own_sent_back(&app, &s, id).await? else {
        return Ok(app.deny(&s.user, "resubmit", &format!("order={id}")).await);
    };
    f.employee_id = r.order.employee_id.clone();
    f.date = r.order.date.to_string();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    // 閉庁日の勤務 is the supervisor's to order, as in a new request.
    if f.holiday_ok.is_some() {
        let mut errors = Errors::new();
        errors.insert(
            "holiday_ok",
            "閉庁日の勤務は所属長が命じます。申請では指定できません（所属長に相談してください）"
                .into(),
        );
        return resubmit_page(&app, &s, &r, f, errors, unprocessable);
    }
    let Some(emp) = app.store.employee(&r.order.employee_id).await? else {
        return Ok(not_found(&app, &s));
    };
    let draft = match f.draft(&app, &emp.employee_id, "") {
        Ok(d) => d,
        Err(errors) => return resubmit_page(&app, &s, &r, f, errors, unprocessable),
    };
    match crate::register::check_order(&app.store, &app.cfg, &emp, draft, true).await? {
        Err(e) => resubmit_page(&app, &s, &r, f, rule_errors(&e), unprocessable),
        Ok(order) => {
            let actor = s.actor();
            approval::resubmit(&app.store, &order, app.now(), &actor).await?;
            app.changed();
            tracing::info!(order = id, employee = %order.employee, "sent-back request resubmitted on the web");
            Ok(see_other(url("/my", &[("date", &order.date.to_string())])))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeputyForm {
    pub csrf: String,
    pub deputy: String,
    pub from: String,
    pub to: String,
}

async fn deputies_page(
    app: &App,
    s: &Session,
    form: DeputyForm,
    errors: Errors,
    status: StatusCode,
) -> WebResult {
    let mine: Vec<_> = app
        .store
        .deputies()
        .await?
        .into_iter()
        .filter(|d| d.supervisor == s.user.employee_id)
        .collect();
    let mut staff: Vec<_> = app
        .store
        .employees()
        .await?
        .into_values()
        .filter(|e| e.employee_id != s.user.employee_id)
        .collect();
    staff.sort_by(|a, b| {
        (a.department != s.user.department, &a.employee_id)
            .cmp(&(b.department != s.user.department, &b.employee_id))
    });
    let staff: Vec<_> = staff
        .iter()
        .map(|e| context! { employee_id => &e.employee_id, name => &e.name, department => &e.department })
        .collect();
    let ctx = context! {
        title => "代決者",
        deputies => mine,
        staff => staff,
        form => context! { deputy => form.deputy, from => form.from, to => form.to },
        errors => errors,
        ..base(s)
    };
    Ok(with_status(app.render("deputies.html", ctx), status))
}

/// A supervisor's deputies (代決者): who may approve the department's drafts, and when.
pub async fn deputies(State(app): State<App>, s: Session) -> WebResult {
    if s.user.role != crate::store::Role::Supervisor {
        return Ok(app.deny(&s.user, "deputies", "").await);
    }
    deputies_page(
        &app,
        &s,
        DeputyForm::default(),
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// A supervisor names a deputy for themselves over a range of days.
pub async fn add_deputy(
    State(app): State<App>,
    s: Session,
    Form(f): Form<DeputyForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "add_deputy").await);
    }
    if s.user.role != crate::store::Role::Supervisor {
        return Ok(app
            .deny(&s.user, "add_deputy", &format!("deputy={}", f.deputy))
            .await);
    }
    let mut errors = Errors::new();
    let from = crate::calendar::parse_date(&f.from);
    let to = crate::calendar::parse_date(&f.to);
    if from.is_none() {
        errors.insert("from", "日付は YYYY-MM-DD の形で入力してください".into());
    }
    if to.is_none() {
        errors.insert("to", "日付は YYYY-MM-DD の形で入力してください".into());
    }
    if f.deputy.trim().is_empty() {
        errors.insert("deputy", "代決者を選んでください".into());
    }
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let (Some(from), Some(to)) = (from, to) else {
        return deputies_page(&app, &s, f, errors, unprocessable).await;
    };
    if !errors.is_empty() {
        return deputies_page(&app, &s, f, errors, unprocessable).await;
    }
    let actor = s.actor();
    let now = app.now();
    match approval::add_deputy(
        &app.store,
        &s.user.employee_id,
        f.deputy.trim(),
        from,
        to,
        now,
        &actor,
    )
    .await
    {
        Ok(d) => {
            tracing::info!(supervisor = %d.supervisor, deputy = %d.deputy, from = %d.from, to = %d.to, "deputy named on the web");
            app.changed();
            Ok(see_other("/deputies".into()))
        }
        Err(crate::error::Error::Bad { at, .. }) => {
            let (field, msg) = if at == "--to" {
                ("to", "終了日は開始日以降にしてください")
            } else {
                ("deputy", "代決者に指定できない職員です")
            };
            errors.insert(field, msg.into());
            deputies_page(&app, &s, f, errors, unprocessable).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WeekForm {
    pub csrf: String,
    /// Any day of the week (Monday to Sunday) whose drafts are approved.
    pub week: String,
}

/// 一括承認: every draft of a week that this person may stamp (their department's, or as a
/// deputy), each checked, stamped and audited on its own; the ones a rule refuses stay drafts
/// and are listed.
pub async fn approve_week(
    State(app): State<App>,
    s: Session,
    Form(f): Form<WeekForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "approve_week").await);
    }
    let Some(day) = crate::calendar::parse_date(&f.week) else {
        let v = RegisterView {
            date: super::api::today(&app),
            department: None,
            form: None,
            errors: Errors::new(),
            notice: Some("週の日付は YYYY-MM-DD の形で指定してください".into()),
        };
        return Ok(with_status(
            register_page(&app, &s, v).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    let (monday, sunday) = super::pages::week_of(day);
    let today = super::api::today(&app);
    if s.user.role != crate::store::Role::Supervisor
        && app
            .store
            .deputyships(&s.user.employee_id, today)
            .await?
            .is_empty()
    {
        return Ok(app.deny(&s.user, "approve_week", &f.week).await);
    }
    let Some(me) = app.store.employee(&s.user.employee_id).await? else {
        return Ok(not_found(&app, &s));
    };
    let mut approved = 0;
    let mut refused = Vec::new();
    for r in app.store.drafts(None, monday).await? {
        if r.order.date > sunday {
            continue;
        }
        let Some(stamp) = approval::stamp_for(&app.store, &me, &r.order.department, today).await?
        else {
            continue; // not this person's to stamp
        };
        match super::pages::stamp_draft(&app, &s.actor(), &r, &stamp).await? {
            None => approved += 1,
            Some(why) => refused.push(why),
        }
    }
    tracing::info!(by = %s.user.employee_id, week = %monday, approved, refused = refused.len(), "week of drafts approved on the web");
    let mut notice = format!("{monday}〜{sunday} の申請を {approved} 件承認しました。");
    if !refused.is_empty() {
        notice.push_str(&format!(" 承認できなかった申請 {} 件: ", refused.len()));
        notice.push_str(&refused.join(" / "));
    }
    let v = RegisterView {
        date: day,
        department: None,
        form: None,
        errors: Errors::new(),
        notice: Some(notice),
    };
    let page = register_page(&app, &s, v).await?;
    Ok(if refused.is_empty() {
        page
    } else {
        with_status(page, StatusCode::UNPROCESSABLE_ENTITY)
    })
}
