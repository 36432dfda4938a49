//! Who may see and do what on the web (SPEC §9 role table), as plain functions of the signed-in
//! person and the department the data belongs to. The department is always the one the store
//! says the order or employee belongs to, never one taken from a URL or a form field, so a
//! tampered request is judged on the real data.

use serde::Serialize;

use crate::board::Board;
use crate::store::{Employee, Role};

/// The signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub employee_id: String,
    pub name: String,
    pub department: String,
    #[serde(serialize_with = "role_str")]
    pub role: Role,
}

fn role_str<S: serde::Serializer>(r: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.as_str())
}

impl From<Employee> for User {
    fn from(e: Employee) -> User {
        User {
            employee_id: e.employee_id,
            name: e.name,
            department: e.department,
            role: e.role,
        }
    }
}

pub fn role_ja(r: Role) -> &'static str {
    match r {
        Role::Teleworker => "職員",
        Role::Supervisor => "所属長",
        Role::It => "情報管理課",
        Role::Hr => "人事課",
        Role::DivisionHead => "部長",
    }
}

/// Which rows of a board (or of the register) a person may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Department(String),
    Own(String),
}

pub fn scope(u: &User) -> Scope {
    match u.role {
        Role::It | Role::Hr => Scope::All,
        Role::Supervisor => Scope::Department(u.department.clone()),
        // A division head's register is the drafts of their division (web::pages); their board
        // is their own.
        Role::Teleworker | Role::DivisionHead => Scope::Own(u.employee_id.clone()),
    }
}

/// The department's board, its register (orders, drafts) and its escalations.
pub fn can_see_department(u: &User, department: &str) -> bool {
    match u.role {
        Role::It | Role::Hr => true,
        Role::Supervisor => u.department == department,
        Role::Teleworker | Role::DivisionHead => false,
    }
}

/// Create, approve, edit and cancel orders of the department; record phone contacts; resolve
/// escalations. Only the department's own supervisors: IT and HR read, they do not order.
pub fn can_manage_department(u: &User, department: &str) -> bool {
    u.role == Role::Supervisor && u.department == department
}

/// A request (a draft order) is made by the person who will telework, for themselves.
pub fn can_request_for(u: &User, employee_id: &str) -> bool {
    u.employee_id == employee_id
}

/// Departments, employees, applications, the ID pool, survey downloads, the audit.
pub fn can_administer(u: &User) -> bool {
    u.role == Role::It
}

/// What a person may read of the audit trail (監査ログ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    All,
    /// A supervisor: the orders of this department.
    Orders(String),
}

/// IT and HR read the whole trail; a supervisor their department's orders; nobody else any.
pub fn audit_scope(u: &User) -> Option<AuditScope> {
    match u.role {
        Role::It | Role::Hr => Some(AuditScope::All),
        Role::Supervisor => Some(AuditScope::Orders(u.department.clone())),
        _ => None,
    }
}

/// Who downloads everyone's attendance record of a month: IT and HR.
pub fn can_export_attendance(u: &User) -> bool {
    matches!(u.role, Role::It | Role::Hr)
}

/// A person's own orders and reports.
pub fn can_see_employee(u: &User, employee_id: &str, department: &str) -> bool {
    u.employee_id == employee_id || can_see_department(u, department)
}

/// The part of a board a scope may read. `emails` are the addresses of the department's staff
/// (or the person's own): mail that matched no order is shown to a supervisor only when it came
/// from one of their staff, and mail from strangers only to IT and HR.
pub fn filter_board(b: Board, scope: &Scope, emails: &[String]) -> Board {
    match scope {
        Scope::All => b,
        _ => scoped(&b, scope, emails),
    }
}

/// The part of a shared board a person may read, copying only that part: a teleworker's
/// page takes one row of a city's board (a thousand rows), not a copy of all of it.
pub fn scoped(b: &Board, scope: &Scope, emails: &[String]) -> Board {
    let keep = |t: &&crate::board::Teleworker| match scope {
        Scope::All => true,
        Scope::Department(d) => &t.department == d,
        Scope::Own(e) => &t.employee_id == e,
    };
    let all = *scope == Scope::All;
    Board {
        date: b.date.clone(),
        teleworkers: b.teleworkers.iter().filter(keep).cloned().collect(),
        unmatched: b
            .unmatched
            .iter()
            .filter(|u| all || emails.iter().any(|m| m.eq_ignore_ascii_case(&u.from)))
            .cloned()
            .collect(),
        // Undeliverable mail of every department (addresses, subjects) is for IT and HR.
        outbox: if all {
            b.outbox.clone()
        } else {
            Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, dept: &str, role: Role) -> User {
        User {
            employee_id: id.into(),
            name: id.into(),
            department: dept.into(),
            role,
        }
    }

    #[test]
    fn a_supervisor_sees_and_manages_only_their_own_department() {
        let s = user("E2001", "情報管理課", Role::Supervisor);
        assert!(can_see_department(&s, "情報管理課"));
        assert!(can_manage_department(&s, "情報管理課"));
        assert!(!can_see_department(&s, "財政課"));
        assert!(!can_manage_department(&s, "財政課"));
    }

    #[test]
    fn it_and_hr_read_every_board_but_order_nothing() {
        for role in [Role::It, Role::Hr] {
            let u = user("E9001", "情報管理課", role);
            assert!(can_see_department(&u, "財政課"));
            assert!(!can_manage_department(&u, "情報管理課"));
            assert_eq!(scope(&u), Scope::All);
        }
        assert!(can_administer(&user("E9001", "情報管理課", Role::It)));
        assert!(!can_administer(&user("E3001", "人事課", Role::Hr)));
    }

    #[test]
    fn it_and_hr_read_the_whole_trail_a_supervisor_their_orders_a_teleworker_nothing() {
        let it = user("E9001", "情報管理課", Role::It);
        let hr = user("E3001", "人事課", Role::Hr);
        let sup = user("E2002", "財政課", Role::Supervisor);
        let tw = user("E1001", "情報管理課", Role::Teleworker);
        assert_eq!(audit_scope(&it), Some(AuditScope::All));
        assert_eq!(audit_scope(&hr), Some(AuditScope::All));
        assert_eq!(audit_scope(&sup), Some(AuditScope::Orders("財政課".into())));
        assert_eq!(audit_scope(&tw), None);
        assert!(can_export_attendance(&it) && can_export_attendance(&hr));
        assert!(!can_export_attendance(&sup) && !can_export_attendance(&tw));
    }

    #[test]
    fn a_teleworker_sees_only_their_own_and_requests_only_for_themselves() {
        let t = user("E1001", "情報管理課", Role::Teleworker);
        assert!(!can_see_department(&t, "情報管理課"));
        assert!(can_see_employee(&t, "E1001", "情報管理課"));
        assert!(!can_see_employee(&t, "E1002", "情報管理課"));
        assert!(can_request_for(&t, "E1001"));
        assert!(!can_request_for(&t, "E1002"));
        assert!(!can_administer(&t));
        assert_eq!(scope(&t), Scope::Own("E1001".into()));
    }

    #[test]
    fn a_filtered_board_keeps_the_departments_rows_and_its_staffs_stray_mail() {
        use crate::board::{Hours, Slot, Teleworker, Unmatched};
        let slot = Slot {
            status: "pending",
            at: None,
            source: None,
        };
        let tw = |id: &str, dept: &str| Teleworker {
            employee_id: id.into(),
            name: id.into(),
            department: dept.into(),
            order: Hours {
                start: "08:30".into(),
                end: "17:15".into(),
            },
            content: String::new(),
            shifted: false,
            holiday_ok: false,
            start: slot.clone(),
            end: slot.clone(),
            reports: vec![],
            leave: vec![],
            escalations: vec![],
            summary: None,
            incident: false,
            approval: Default::default(),
        };
        let stray = |from: &str| Unmatched {
            from: from.into(),
            kind: crate::classify::Kind::Start,
            reason: crate::report::Reason::NoOrder,
            at: String::new(),
            subject: String::new(),
        };
        // Built by the board's own function, so a field added to `Board` does not break this.
        let timing = crate::config::Timing::default();
        let mut b = crate::board::build(crate::board::BoardInput {
            date: chrono::NaiveDate::from_ymd_opt(2021, 1, 12).unwrap(),
            orders: &[],
            reports: &[],
            escalations: &[],
            now: chrono::Utc::now(),
            tz: chrono_tz::Asia::Tokyo,
            timing: &timing,
        });
        b.teleworkers = vec![tw("E1001", "情報管理課"), tw("E1003", "財政課")];
        b.unmatched = vec![stray("sato@x.jp"), stray("stranger@y.jp")];
        let d = filter_board(
            b.clone(),
            &Scope::Department("財政課".into()),
            &["SATO@x.jp".into()],
        );
        assert_eq!(d.teleworkers.len(), 1);
        assert_eq!(d.teleworkers[0].employee_id, "E1003");
        assert_eq!(d.unmatched.len(), 1);
        let all = filter_board(b.clone(), &Scope::All, &[]);
        assert_eq!(all, b);
        b.outbox.failed = 1;
        let d = filter_board(b, &Scope::Own("E1001".into()), &[]);
        assert_eq!(
            d.outbox.failed, 0,
            "other departments' undeliverable mail is not shown"
        );
        assert!(d.unmatched.is_empty());
    }
}
