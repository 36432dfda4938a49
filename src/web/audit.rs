//! 監査ログ (SPEC §11): the audit trail on the web, read only. IT and HR read every entry, a
//! supervisor the entries of their own department's orders; the filters are those of `zaitaku
//! audit list` (from, to, employee, department, entity), a page of `PAGE` entries at a time,
//! newest first. Nothing here writes: the routes are GET only, and the trail is changed by
//! no one but the store, in the transaction of each change it records.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::Session;
use super::pages::{Errors, base, url, with_status};
use super::roles::{AuditScope, audit_scope};
use super::{App, WebResult};
use crate::calendar::parse_date;
use crate::store::audit::Entry;

/// Entries on one page.
pub const PAGE: i64 = 50;

#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct AuditQuery {
    pub from: String,
    pub to: String,
    pub employee: String,
    pub department: String,
    pub entity: String,
    pub page: String,
}

/// The kinds of entity the trail holds, with their names on the page.
const ENTITIES: &[(&str, &str)] = &[
    ("order", "在宅勤務命令"),
    ("contact", "電話連絡"),
    ("escalation", "督促の対応"),
    ("employee", "職員"),
    ("application", "申請"),
    ("id", "テレワーク用ID"),
    ("password", "パスワード"),
    ("token", "APIトークン"),
    ("config", "設定"),
    ("retention", "保存期間"),
];

fn entity_ja(e: &str) -> &str {
    ENTITIES
        .iter()
        .find(|(k, _)| *k == e)
        .map_or(e, |(_, ja)| ja)
}

fn action_ja(a: &str) -> &str {
    match a {
        "create" => "作成",
        "update" => "変更",
        "approve" => "承認",
        "cancel" => "取消",
        "record" => "記録",
        "resolve" => "対応済",
        "set" => "設定",
        "revoke" => "失効",
        "assign" => "割当",
        "release" => "返却",
        "load" => "読込",
        "purge" => "消去",
        "expire" => "期限による消去",
        other => other,
    }
}

fn via_ja(v: &str) -> &str {
    match v {
        "web" => "ウェブ",
        "cli" => "コマンド",
        "daemon" => "自動処理",
        other => other,
    }
}

fn row(e: &Entry, tz: chrono_tz::Tz) -> Value {
    let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
    context! {
        id => e.id,
        at => e.at().map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()),
        actor => &e.actor,
        via => via_ja(&e.via),
        client => &e.client,
        entity => entity_ja(&e.entity),
        entity_id => &e.entity_id,
        department => &e.department,
        action => action_ja(&e.action),
        before => json(&e.before),
        after => json(&e.after),
    }
}

/// `GET /audit`.
pub async fn audit(State(app): State<App>, s: Session, Query(q): Query<AuditQuery>) -> WebResult {
    let Some(scope) = audit_scope(&s.user) else {
        return Ok(app.deny(&s.user, "audit", "").await);
    };
    let mut errors = Errors::new();
    let mut day = |name: &'static str, v: &str| match v.trim() {
        "" => None,
        v => {
            let d = parse_date(v);
            if d.is_none() {
                errors.insert(name, "日付は YYYY-MM-DD の形で入力してください".into());
            }
            d
        }
    };
    let (from, to) = (day("from", &q.from), day("to", &q.to));
    let given = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let mut f = crate::audit::filter(
        app.cfg.timezone,
        from,
        to,
        given(&q.employee),
        given(&q.department),
        given(&q.entity),
    );
    if let AuditScope::Orders(d) = &scope {
        f.department = Some(d.clone());
        f.entity = Some("order".into());
    }
    let page = q.page.trim().parse::<i64>().unwrap_or(1).max(1);
    let (entries, total) = if errors.is_empty() {
        app.store
            .audit_page(&f, PAGE, (page - 1).saturating_mul(PAGE))
            .await?
    } else {
        (Vec::new(), 0)
    };
    let tz = app.cfg.timezone;
    let rows: Vec<Value> = entries.iter().map(|e| row(e, tz)).collect();
    let link = |p: i64| {
        let p = p.to_string();
        url(
            "/audit",
            &[
                ("from", q.from.trim()),
                ("to", q.to.trim()),
                ("employee", q.employee.trim()),
                ("department", q.department.trim()),
                ("entity", q.entity.trim()),
                ("page", &p),
            ],
        )
    };
    let pages = (total + PAGE - 1) / PAGE;
    let departments: Vec<String> = match scope {
        AuditScope::All => app
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect(),
        AuditScope::Orders(_) => Vec::new(),
    };
    let entities: Vec<Value> = ENTITIES
        .iter()
        .map(|(k, ja)| context! { value => k, label => ja })
        .collect();
    let first = (page - 1) * PAGE + 1;
    let ctx = context! {
        title => "監査ログ",
        q => &q,
        errors => &errors,
        entries => rows,
        total => total,
        first => first,
        last => first + entries.len() as i64 - 1,
        page => page,
        pages => pages,
        prev => (page > 1).then(|| link(page - 1)),
        next => (page < pages).then(|| link(page + 1)),
        departments => departments,
        entities => entities,
        own_department => match &scope { AuditScope::Orders(d) => Some(d.clone()), AuditScope::All => None },
        ..base(&s)
    };
    let r = app.render("audit.html", ctx);
    Ok(if errors.is_empty() {
        r
    } else {
        with_status(r, StatusCode::BAD_REQUEST)
    })
}
