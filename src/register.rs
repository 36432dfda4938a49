//! The register commands: employees, applications, the ID pool and work orders. Each checks
//! every input against the rules (in `order`, `ids`, `calendar`) before it writes anything, so a
//! rejected import leaves the database as it was.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use crate::calendar::{Minutes, fiscal_year, fiscal_year_bounds, parse_date};
use crate::config::{Config, split_note};
use crate::csvin::Table;
use crate::error::{Error, Result};
use crate::ids::{Held, choose_id};
use crate::mail::address::{not_an_address, parse_address};
use crate::order::{OrderDraft, OrderFacts, OrderStatus, WorkOrder, parse_leave};
use crate::store::audit::Actor;
use crate::store::{Application, ChatPlatform, Employee, Role, Store};

/// Loads the configured departments (`init`).
pub async fn init(store: &Store, cfg: &Config) -> Result<usize> {
    store.sync_departments(&cfg.departments).await
}

/// Resolves a department as written by a person: with or without the annex's note.
pub(crate) async fn department_names(
    store: &Store,
) -> Result<HashMap<String, crate::store::Department>> {
    let mut map = HashMap::new();
    for d in store.departments().await? {
        if let Some(n) = &d.note {
            map.insert(format!("{}（{n}）", d.name), d.clone());
            map.insert(format!("{}({n})", d.name), d.clone());
        }
        map.insert(d.name.clone(), d);
    }
    Ok(map)
}

pub(crate) fn lookup_department<'a>(
    map: &'a HashMap<String, crate::store::Department>,
    written: &str,
) -> Option<&'a crate::store::Department> {
    map.get(written.trim())
        .or_else(|| map.get(&split_note(written).0))
}

/// `zaitaku employees import`: as the CLI's user (the audit trail's actor).
pub async fn import_employees(store: &Store, path: &Path, now: DateTime<Utc>) -> Result<usize> {
    import_employees_as(store, path, now, &Actor::cli()).await
}

/// Imports a staff file, all rows or none, each change recorded for `actor`.
pub async fn import_employees_as(
    store: &Store,
    path: &Path,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<usize> {
    let t = Table::read(
        path,
        &["employee_id", "name", "email", "department", "role"],
        &["chat_id", "teams_id", "lineworks_id"],
    )?;
    let depts = department_names(store).await?;
    if depts.is_empty() {
        return Err(Error::bad(
            path.display().to_string(),
            "no departments yet: run `zaitaku init` first",
        ));
    }
    let existing = store.employees().await?;
    let mut owner_of_email: HashMap<String, String> = existing
        .values()
        .flat_map(|e| {
            e.emails
                .iter()
                .map(|m| (m.to_lowercase(), e.employee_id.clone()))
        })
        .collect();
    // A chat ID names one person: who holds each now, as for e-mail addresses.
    let mut owner_of_chat_id: HashMap<(ChatPlatform, String), String> = existing
        .values()
        .flat_map(|e| {
            e.chat_ids
                .iter()
                .map(|(p, c)| ((*p, c.clone()), e.employee_id.clone()))
        })
        .collect();
    let mut seen = HashSet::new();
    let mut list = Vec::new();
    for row in &t.rows {
        let id = t.get(row, "employee_id");
        if id.is_empty() || id.contains(char::is_whitespace) {
            return Err(t.err(
                row,
                "employee_id",
                format!("expected an employee ID without spaces, got {id:?}"),
            ));
        }
        if !seen.insert(id.to_string()) {
            return Err(t.err(
                row,
                "employee_id",
                format!("{id} appears twice in the file"),
            ));
        }
        let name = t.get(row, "name");
        if name.is_empty() {
            return Err(t.err(row, "name", "expected the employee's name, got nothing"));
        }
        let dept_written = t.get(row, "department");
        let Some(dept) = lookup_department(&depts, dept_written) else {
            return Err(t.err(
                row,
                "department",
                format!("expected a department of departments.toml, got {dept_written:?}"),
            ));
        };
        let role_written = t.get(row, "role");
        let Some(role) = Role::parse(role_written) else {
            return Err(t.err(
                row,
                "role",
                format!(
                    "expected teleworker, supervisor, it or hr (or division_head), got {role_written:?}"
                ),
            ));
        };
        let emails = row_emails(&t, row, id, &mut owner_of_email)?;
        if emails.is_empty() {
            return Err(t.err(
                row,
                "email",
                "expected at least one e-mail address, got nothing",
            ));
        }
        let chat_ids = row_chat_ids(&t, row, id, &mut owner_of_chat_id)?;
        list.push(Employee {
            employee_id: id.to_string(),
            name: name.to_string(),
            department: dept.name.clone(),
            role,
            emails,
            chat_ids,
            active: true,
        });
    }
    store.upsert_employees(&list, now, actor).await?;
    Ok(list.len())
}

/// The row's e-mail addresses (`;`, space or `|` between them), each one the transport takes
/// and nobody else's. `owners` holds who has each address so far.
fn row_emails(
    t: &Table,
    row: &crate::csvin::Row,
    id: &str,
    owners: &mut HashMap<String, String>,
) -> Result<Vec<String>> {
    let mut emails = Vec::new();
    let cell = t.get(row, "email");
    // A line break or TAB inside a quoted cell would pass a split on separators in pieces
    // and make a header of its own at the transport: the whole cell is named.
    if cell.chars().any(char::is_control) {
        return Err(t.err(row, "email", not_an_address(cell)));
    }
    for written in cell.split([';', ' ', '|']).filter(|m| !m.is_empty()) {
        // The transport's own parser: what passes here is what it will take when queued.
        if parse_address(written).is_none() {
            return Err(t.err(row, "email", not_an_address(written)));
        }
        let m = written.to_lowercase();
        if let Some(other) = owners.get(&m).filter(|o| o.as_str() != id) {
            return Err(t.err(row, "email", format!("{m} already belongs to {other}")));
        }
        owners.insert(m.clone(), id.to_string());
        emails.push(m);
    }
    Ok(emails)
}

/// The row's chat IDs (`chat_id`, `teams_id`, `lineworks_id`), each nobody else's on its
/// platform. `owners` holds who has each ID so far.
fn row_chat_ids(
    t: &Table,
    row: &crate::csvin::Row,
    id: &str,
    owners: &mut HashMap<(ChatPlatform, String), String>,
) -> Result<std::collections::BTreeMap<ChatPlatform, String>> {
    let mut chat_ids = std::collections::BTreeMap::new();
    for p in ChatPlatform::ALL {
        let column = p.column();
        let written = t.get(row, column);
        if written.chars().any(char::is_control) {
            return Err(t.err(
                row,
                column,
                format!(
                    "{written:?} holds a control character (expected {})",
                    chat_id_example(p)
                ),
            ));
        }
        if written.is_empty() {
            continue;
        }
        let key = (p, written.to_string());
        if let Some(other) = owners.get(&key).filter(|o| o.as_str() != id) {
            return Err(t.err(row, column, format!("{written} already belongs to {other}")));
        }
        owners.insert(key, id.to_string());
        chat_ids.insert(p, written.to_string());
    }
    Ok(chat_ids)
}

/// What a chat ID looks like, for the line that refuses one.
fn chat_id_example(p: ChatPlatform) -> &'static str {
    match p {
        ChatPlatform::Chat => "a chat user ID such as @yamada:city.example",
        ChatPlatform::Teams => "an Azure AD object ID such as 29f1e9a2-6c7b-4d8e-9f00-1a2b3c4d5e6f",
        ChatPlatform::LineWorks => "a LINE WORKS user ID",
    }
}

pub struct ApplicationArgs {
    pub department: String,
    pub fiscal_year: i32,
    pub pc: String,
    pub users: Vec<String>,
    pub emergency: bool,
}

/// `zaitaku applications add`: as the CLI's user (the audit trail's actor).
pub async fn add_application(
    store: &Store,
    cfg: &Config,
    a: ApplicationArgs,
    now: DateTime<Utc>,
) -> Result<Application> {
    add_application_as(store, cfg, a, now, &Actor::cli()).await
}

/// Records a department's application after every check, audited for `actor`.
pub async fn add_application_as(
    store: &Store,
    cfg: &Config,
    a: ApplicationArgs,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Application> {
    let depts = department_names(store).await?;
    let Some(dept) = lookup_department(&depts, &a.department) else {
        return Err(Error::bad(
            "--department",
            format!(
                "expected a department of departments.toml, got {:?}",
                a.department
            ),
        ));
    };
    if !dept.target && !a.emergency {
        return Err(Error::bad(
            "--department",
            format!(
                "{} is not a target department (別紙); it can apply only with --emergency",
                dept.name
            ),
        ));
    }
    let (first, last) = (fiscal_year(cfg.service.from), fiscal_year(cfg.service.to));
    if a.fiscal_year < first || a.fiscal_year > last {
        return Err(Error::bad(
            "--fiscal-year",
            format!(
                "expected a fiscal year of the service period ({first}..{last}), got {}",
                a.fiscal_year
            ),
        ));
    }
    let pc = a.pc.trim();
    if pc.is_empty() {
        return Err(Error::bad(
            "--pc",
            "expected the name of the PC the system is installed on",
        ));
    }
    if let Some(existing) = store.application(&dept.name, a.fiscal_year).await? {
        return Err(Error::bad(
            "--department",
            format!(
                "{} already applied for fiscal year {} with PC {} (one PC per department per fiscal year)",
                dept.name, a.fiscal_year, existing.pc_name
            ),
        ));
    }
    if a.users.is_empty() {
        return Err(Error::bad("--users", "expected at least one employee ID"));
    }
    let mut users = Vec::new();
    for u in &a.users {
        let Some(e) = store.employee(u).await? else {
            return Err(Error::bad("--users", format!("unknown employee {u:?}")));
        };
        if e.department != dept.name {
            return Err(Error::bad(
                "--users",
                format!(
                    "{u} belongs to {}, not {} (each department applies for its own staff)",
                    e.department, dept.name
                ),
            ));
        }
        if !users.contains(&e.employee_id) {
            users.push(e.employee_id);
        }
    }
    let mut app = Application {
        id: 0,
        department: dept.name.clone(),
        fiscal_year: a.fiscal_year,
        pc_name: pc.to_string(),
        emergency: a.emergency,
        users,
    };
    app.id = store.insert_application(&app, now, actor).await?;
    Ok(app)
}

/// `zaitaku ids assign`: as the CLI's user (the audit trail's actor).
pub async fn assign_id(
    store: &Store,
    cfg: &Config,
    employee: &str,
    from: NaiveDate,
    to: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<Held> {
    assign_id_as(store, cfg, employee, from, to, now, &Actor::cli()).await
}

/// Gives `employee` an ID of the pool from `from` (to the end of that fiscal year when `to`
/// is left out), audited for `actor`.
pub async fn assign_id_as(
    store: &Store,
    cfg: &Config,
    employee: &str,
    from: NaiveDate,
    to: Option<NaiveDate>,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Held> {
    let Some(e) = store.employee(employee).await? else {
        return Err(Error::bad(
            "--employee",
            format!("unknown employee {employee:?}"),
        ));
    };
    if !cfg.service.contains(from) {
        return Err(Error::bad(
            "--from",
            format!(
                "expected a date inside the service period {}..{}, got {from}",
                cfg.service.from, cfg.service.to
            ),
        ));
    }
    let fy = fiscal_year(from);
    let fy_end = fiscal_year_bounds(fy).1.min(cfg.service.to);
    let to = to.unwrap_or(fy_end);
    if to < from {
        return Err(Error::bad(
            "--to",
            format!("expected a date on or after --from {from}, got {to}"),
        ));
    }
    if to > fy_end {
        return Err(Error::bad(
            "--to",
            format!(
                "an ID is held inside one fiscal year: expected a date up to {fy_end}, got {to}"
            ),
        ));
    }
    let Some(app) = store.application(&e.department, fy).await? else {
        return Err(Error::bad(
            "--employee",
            format!(
                "{} has no telework application for fiscal year {fy}: run `zaitaku applications add` first",
                e.department
            ),
        ));
    };
    if !app.users.contains(&e.employee_id) {
        return Err(Error::bad(
            "--employee",
            format!(
                "{employee} is not a listed user of {}'s application for fiscal year {fy}",
                e.department
            ),
        ));
    }
    // Another process may take the chosen ID between our read and our write; the insert checks
    // again under a lock and we choose again.
    for _ in 0..5 {
        let held: Vec<Held> = store
            .held_ids()
            .await?
            .into_iter()
            .map(|h| h.held)
            .collect();
        if let Some(h) = held
            .iter()
            .find(|h| h.employee == e.employee_id && h.overlaps(from, to))
        {
            return Err(Error::bad(
                "--employee",
                format!(
                    "{employee} already holds telework ID {} from {} to {}",
                    h.id_no, h.from, h.to
                ),
            ));
        }
        let id_no = choose_id(&held, from, to, cfg.service.licensed_ids)
            .map_err(|p| Error::bad("--from", p.to_string()))?;
        let h = Held {
            id_no,
            employee: e.employee_id.clone(),
            from,
            to,
        };
        if store.insert_assignment(&h, fy, now, actor).await? {
            return Ok(h);
        }
    }
    Err(Error::bad(
        "--employee",
        "the ID pool kept changing while assigning; try again",
    ))
}

/// `zaitaku ids release`: as the CLI's user (the audit trail's actor).
pub async fn release_id(
    store: &Store,
    employee: &str,
    on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Held> {
    release_id_as(store, employee, on, now, &Actor::cli()).await
}

/// Takes `employee`'s ID back from `on` (held until the day before), audited for `actor`.
pub async fn release_id_as(
    store: &Store,
    employee: &str,
    on: NaiveDate,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Held> {
    if store.employee(employee).await?.is_none() {
        return Err(Error::bad(
            "--employee",
            format!("unknown employee {employee:?}"),
        ));
    }
    let rows = store.held_ids().await?;
    let mine: Vec<_> = rows
        .iter()
        .filter(|r| r.held.employee == employee && r.held.to >= on)
        .collect();
    let Some(first) = mine.iter().min_by_key(|r| r.held.from) else {
        return Err(Error::bad(
            "--on",
            format!("{employee} holds no telework ID on or after {on}"),
        ));
    };
    let last_to = mine.iter().map(|r| r.held.to).max().unwrap_or(on);
    let orders = store.orders_from(employee, on, last_to).await?;
    if let Some(o) = orders.first() {
        return Err(Error::bad(
            "--on",
            format!(
                "{employee} has {} approved order(s) from {on} on (first {}); cancel them before releasing the ID",
                orders.len(),
                o.date
            ),
        ));
    }
    store.release_assignments(&mine, on, now, actor).await?;
    Ok(first.held.clone())
}

/// `zaitaku orders import`: as the CLI's user (the audit trail's actor).
pub async fn import_orders(
    store: &Store,
    cfg: &Config,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<usize> {
    import_orders_as(store, cfg, path, now, &Actor::cli()).await
}

/// Imports an orders file, all rows or none, each change recorded for `actor`.
pub async fn import_orders_as(
    store: &Store,
    cfg: &Config,
    path: &Path,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<usize> {
    // Read once: the rows imported and the hash the audit trail keeps are of the same bytes.
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = crate::store::ImportedFile::new(path, &bytes);
    let t = Table::parse(
        &file.name,
        &bytes,
        &[
            "employee_id",
            "date",
            "start",
            "end",
            "content",
            "approved_by",
            "shifted",
        ],
        &["leave", "holiday_ok"],
    )?;
    let employees = store.employees().await?;
    let held: Vec<Held> = store
        .held_ids()
        .await?
        .into_iter()
        .map(|h| h.held)
        .collect();
    let mut seen = HashSet::new();
    let mut orders = Vec::new();
    for row in &t.rows {
        let draft = order_draft(&t, row, cfg, &employees, &mut seen)?;
        let facts = order_facts(
            cfg,
            &employees[&draft.employee],
            employees.get(&draft.approved_by),
            &held,
            draft.date,
        );
        let order = WorkOrder::new(draft, &cfg.service, facts).map_err(|e| {
            let field = e.field();
            t.err(row, field, e.to_string())
        })?;
        orders.push(order);
    }
    store.upsert_orders(&orders, &file, now, actor).await?;
    Ok(orders.len())
}

/// One row of an orders file, read and checked cell by cell (the order rules come after, in
/// `WorkOrder::new`). `seen` holds the (employee, date) pairs of the rows before it.
fn order_draft(
    t: &Table,
    row: &crate::csvin::Row,
    cfg: &Config,
    employees: &HashMap<String, Employee>,
    seen: &mut HashSet<(String, NaiveDate)>,
) -> Result<OrderDraft> {
    let id = t.get(row, "employee_id");
    let Some(emp) = employees.get(id) else {
        return Err(t.err(
            row,
            "employee_id",
            format!("expected a registered employee ID, got {id:?}"),
        ));
    };
    if !emp.active {
        return Err(t.err(
            row,
            "employee_id",
            format!("expected a current employee, but {id} has left (inactive since a directory sync): no new order"),
        ));
    }
    let date_s = t.get(row, "date");
    let Some(date) = parse_date(date_s) else {
        return Err(t.err(
            row,
            "date",
            format!("expected a date YYYY-MM-DD, got {date_s:?}"),
        ));
    };
    if !seen.insert((id.to_string(), date)) {
        return Err(t.err(
            row,
            "date",
            format!("{id} has a second order for {date} in this file"),
        ));
    }
    let time = |col: &str| -> Result<Option<Minutes>> {
        let s = t.get(row, col);
        if s.is_empty() {
            return Ok(None);
        }
        Minutes::parse(s)
            .map(Some)
            .ok_or_else(|| t.err(row, col, format!("expected HH:MM, got {s:?}")))
    };
    let hours = match (time("start")?, time("end")?) {
        (None, None) => None,
        (Some(s), Some(e)) => Some((s, e)),
        (Some(s), None) => Some((s, cfg.service.workday_end)),
        (None, Some(e)) => Some((cfg.service.workday_start, e)),
    };
    let shifted = flag(t, row, "shifted")?;
    let holiday_ok = flag(t, row, "holiday_ok")?;
    let leave_s = t.get(row, "leave");
    let Some(leave) = parse_leave(leave_s) else {
        return Err(t.err(
            row,
            "leave",
            format!("expected spans like 13:00-15:00;16:00-17:15, got {leave_s:?}"),
        ));
    };
    let approver = t.get(row, "approved_by");
    if approver.is_empty() {
        return Err(t.err(
            row,
            "approved_by",
            "expected the employee ID of the approving supervisor (所属長)",
        ));
    }
    if !employees.contains_key(approver) {
        return Err(t.err(
            row,
            "approved_by",
            format!("expected a registered employee ID, got {approver:?}"),
        ));
    }
    Ok(OrderDraft {
        employee: id.to_string(),
        date,
        hours,
        content: order_content(t, row)?.to_string(),
        approved_by: approver.to_string(),
        shifted,
        leave,
        holiday_ok,
    })
}

/// A yes/no cell: true, false or empty.
fn flag(t: &Table, row: &crate::csvin::Row, col: &str) -> Result<bool> {
    match t.get(row, col).to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" => Ok(false),
        "true" | "yes" | "1" => Ok(true),
        other => Err(t.err(
            row,
            col,
            format!("expected true, false or empty, got {other:?}"),
        )),
    }
}

/// 勤務内容: one line, at most `order::CONTENT_CHARS` characters (what the web form allows).
fn order_content<'r>(t: &Table, row: &'r crate::csvin::Row) -> Result<&'r str> {
    let content = t.get(row, "content");
    let n = content.chars().count();
    if n > crate::order::CONTENT_CHARS {
        return Err(t.err(
            row,
            "content",
            format!(
                "expected at most {} characters, got {n} (it is shown to supervisors and in chat)",
                crate::order::CONTENT_CHARS,
            ),
        ));
    }
    if content.chars().any(char::is_control) {
        return Err(t.err(
            row,
            "content",
            "expected one line of text without control characters",
        ));
    }
    Ok(content)
}

/// The facts `WorkOrder::new` needs about one employee's day, looked up the same way for
/// `orders import` and the web register: an ID held that day, the approver a supervisor of the
/// employee's department, the city hall's calendar.
pub fn order_facts(
    cfg: &Config,
    emp: &Employee,
    approver: Option<&Employee>,
    held: &[Held],
    date: NaiveDate,
) -> OrderFacts {
    OrderFacts {
        holds_id: held
            .iter()
            .any(|h| h.employee == emp.employee_id && h.from <= date && date <= h.to),
        approver_is_supervisor: approver
            .is_some_and(|a| a.role == Role::Supervisor && a.department == emp.department),
        closed: cfg.calendar.closed_reason(date),
    }
}

/// Checks one order written on the web against every rule of `WorkOrder::new`, with the facts
/// of this moment. A teleworker's request (`request`) has no approver yet: the approver is
/// checked when a supervisor approves it, by calling this again with their ID in `approved_by`.
pub async fn check_order(
    store: &Store,
    cfg: &Config,
    emp: &Employee,
    draft: OrderDraft,
    request: bool,
) -> Result<std::result::Result<WorkOrder, crate::order::OrderError>> {
    let held: Vec<Held> = store
        .held_ids()
        .await?
        .into_iter()
        .map(|h| h.held)
        .collect();
    let approver = match draft.approved_by.as_str() {
        "" => None,
        id => store.employee(id).await?,
    };
    let mut facts = order_facts(cfg, emp, approver.as_ref(), &held, draft.date);
    if request {
        facts.approver_is_supervisor = true;
    }
    Ok(WorkOrder::new(draft, &cfg.service, facts))
}

pub async fn cancel_order(
    store: &Store,
    employee: &str,
    date: NaiveDate,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<()> {
    match store.order(employee, date).await? {
        Some(o) if o.status != OrderStatus::Cancelled => store.cancel_order(o.id, now, actor).await,
        Some(_) => Err(Error::bad(
            "--date",
            format!("the order of {employee} for {date} is already cancelled"),
        )),
        None => Err(Error::bad(
            "--date",
            format!("{employee} has no order for {date}"),
        )),
    }
}

/// What a phone contact reports: the start or the end of the working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Start,
    End,
}

impl ContactKind {
    /// `start` or `end` (`zaitaku contact --kind`, the board's form); anything else is bad input.
    pub fn parse(s: &str) -> Result<ContactKind> {
        match s.trim() {
            "start" => Ok(ContactKind::Start),
            "end" => Ok(ContactKind::End),
            other => Err(Error::bad(
                "--kind",
                format!("expected start or end, got {other:?}"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.report_kind().as_str()
    }

    /// The report it stands for.
    pub fn report_kind(self) -> crate::classify::Kind {
        match self {
            ContactKind::Start => crate::classify::Kind::Start,
            ContactKind::End => crate::classify::Kind::End,
        }
    }

    /// The escalation chain it stops.
    pub fn chain(self) -> crate::escalation::Chain {
        match self {
            ContactKind::Start => crate::escalation::Chain::MissingStart,
            ContactKind::End => crate::escalation::Chain::MissingEnd,
        }
    }

    fn label_ja(self) -> &'static str {
        match self {
            ContactKind::Start => "業務開始",
            ContactKind::End => "業務終了",
        }
    }
}

impl std::fmt::Display for ContactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub struct Contact {
    pub employee: String,
    pub date: NaiveDate,
    pub kind: ContactKind,
    pub at: String,
    pub by: String,
    pub note: Option<String>,
}

/// A phone contact recorded by a supervisor: a report with source `phone`, which stops the
/// chain like a mail would and resolves its open steps. Recording the same contact twice is a
/// no-op; returns false then.
pub async fn record_contact(
    store: &Store,
    cfg: &Config,
    c: Contact,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<bool> {
    let chain = c.kind.chain();
    let Some(at) = Minutes::parse(&c.at) else {
        return Err(Error::bad(
            "--at",
            format!("expected HH:MM on {}, got {:?}", c.date, c.at),
        ));
    };
    let Some(emp) = store.employee(&c.employee).await? else {
        return Err(Error::bad(
            "--employee",
            format!("unknown employee {:?}", c.employee),
        ));
    };
    let order = match store.order(&emp.employee_id, c.date).await? {
        Some(o) if o.status == OrderStatus::Approved => o,
        _ => {
            return Err(Error::bad(
                "--date",
                format!("{} has no approved order for {}", emp.employee_id, c.date),
            ));
        }
    };
    match store.employee(&c.by).await? {
        Some(s) if s.role == Role::Supervisor && s.department == emp.department => {}
        _ => {
            return Err(Error::bad(
                "--by",
                format!(
                    "expected the employee ID of a supervisor of {}, got {:?}",
                    emp.department, c.by
                ),
            ));
        }
    }
    let when = at.on(c.date, cfg.timezone);
    let report = crate::store::reports::NewReport {
        message_key: format!("phone:{}:{}:{}", order.id, c.kind.as_str(), at),
        source: "phone".into(),
        received_at: when.with_timezone(&chrono::Utc),
        day: c.date.to_string(),
        sender: c.by.clone(),
        employee_id: Some(emp.employee_id.clone()),
        kind: c.kind.report_kind(),
        reason: crate::report::Reason::Matched,
        order_id: Some(order.id),
        subject: format!("電話連絡（{}）", c.kind.label_ja()),
        summary: c.note.clone().unwrap_or_default(),
        recorded_by: Some(c.by.clone()),
        ..Default::default()
    };
    let mut tx = store.begin().await?;
    let inserted = crate::store::reports::insert_report(&mut tx, &report)
        .await?
        .is_some();
    if inserted {
        crate::store::escalations::resolve_audited(
            &mut tx,
            order.id,
            chain.as_str(),
            (&c.by, "phone"),
            now,
            actor,
        )
        .await?;
        let change = crate::store::audit::Change {
            entity: "contact",
            entity_id: format!("{}:{}:{}", emp.employee_id, c.date, c.kind.as_str()),
            department: Some(emp.department.clone()),
            action: "record",
            before: None,
            after: Some(serde_json::json!({
                "at": at.to_string(), "by": c.by, "note": c.note, "kind": c.kind.as_str(),
            })),
        };
        crate::store::audit::record(&mut tx, actor, now, &[change]).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}
