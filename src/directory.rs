//! Staff and roles from the city's directory (SPEC §12), the use case over `ldap` and the
//! store: who the directory says someone is (name, addresses, department, and a role from
//! their groups), the differences between the directory and the register
//! (`zaitaku employees sync --ldap`, the daemon's `[ldap] sync`), and the same for one person
//! at each login, so a transfer or a new role counts from the next login.
//!
//! Only entries whose department is one of the register's become staff: a city's directory
//! holds every employee, zaitaku only the departments of the programme. An entry without an
//! employee ID, a name or an address is skipped and listed (service accounts, rooms). A
//! leaver (an employee read from the directory before, and not found now) is deactivated,
//! never deleted; an employee who never came from the directory (a CSV import, IT's local
//! break-glass account) is never touched by a sync.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::config::{Config, LdapConfig, dn_key};
use crate::error::{Error, Result};
use crate::ldap::Person;
use crate::register::{department_names, lookup_department};
use crate::store::audit::Actor;
use crate::store::{Department, Employee, Role, Store};

/// The role the person's groups give: the highest of them (IT, HR, 部長, 所属長), or
/// teleworker when no group of `[ldap.roles]` is theirs. A role zaitaku does not know (yet)
/// gives nothing.
pub fn role_of(cfg: &LdapConfig, groups: &[String]) -> Role {
    let rank = |r: Role| match r.as_str() {
        "it" => 4,
        "hr" => 3,
        "division_head" => 2,
        "supervisor" => 1,
        _ => 0,
    };
    groups
        .iter()
        .filter_map(|g| cfg.roles.get(&dn_key(g)))
        .filter_map(|name| Role::parse(name))
        .max_by_key(|r| rank(*r))
        .unwrap_or(Role::Teleworker)
}

/// Why an entry of the directory is not staff of the register.
fn skip_reason(cfg: &LdapConfig, p: &Person, known_dept: bool) -> Option<String> {
    let a = &cfg.attributes;
    let id = p.employee_id.as_deref().unwrap_or("");
    if id.is_empty() || id.contains(char::is_whitespace) {
        return Some(format!(
            "no {} (an employee ID without spaces)",
            a.employee_id
        ));
    }
    if p.name.is_none() {
        return Some(format!("no {}", a.name));
    }
    if p.emails.is_empty() {
        return Some(format!("no {}", a.email));
    }
    if !known_dept {
        return Some(format!(
            "{} {:?} is not a department of the register",
            a.department,
            p.department.as_deref().unwrap_or("")
        ));
    }
    None
}

/// An entry as the register's employee, or why it is not staff of the register. `depts` are
/// the register's departments; `existing` (the employee as the register has them) keeps the
/// chat IDs, which the directory does not hold.
fn staff_of(
    cfg: &LdapConfig,
    depts: &HashMap<String, Department>,
    p: &Person,
    existing: impl FnOnce(&str) -> Option<Employee>,
) -> std::result::Result<Employee, String> {
    let dept = p
        .department
        .as_deref()
        .and_then(|d| lookup_department(depts, d));
    if let Some(why) = skip_reason(cfg, p, dept.is_some()) {
        return Err(why);
    }
    let dept = dept.expect("checked by skip_reason");
    let before = existing(p.employee_id.as_deref().unwrap_or_default());
    Ok(employee_of(cfg, p, &dept.name, before.as_ref()))
}

fn employee_of(
    cfg: &LdapConfig,
    p: &Person,
    department: &str,
    existing: Option<&Employee>,
) -> Employee {
    let mut emails: Vec<String> = p.emails.iter().map(|m| m.to_lowercase()).collect();
    emails.sort();
    emails.dedup();
    Employee {
        employee_id: p.employee_id.clone().unwrap_or_default(),
        name: p.name.clone().unwrap_or_default(),
        department: department.to_string(),
        role: role_of(cfg, &p.groups),
        emails,
        chat_ids: existing.map(|e| e.chat_ids.clone()).unwrap_or_default(),
        active: true,
    }
}

/// What a sync would change.
#[derive(Debug, Default)]
pub struct Plan {
    /// In the directory, not in the register.
    pub new: Vec<Employee>,
    /// In both, with something different (or back after leaving): (before, after).
    pub changed: Vec<(Employee, Employee)>,
    /// Read from the directory before, not found now: to deactivate (before, after).
    pub gone: Vec<(Employee, Employee)>,
    /// The same in both, but not yet known to come from this entry (a first sync of staff
    /// imported from a CSV, an entry moved in the tree): only the DN is written.
    pub linked: Vec<Employee>,
    /// Entries that are not staff of the register: (DN, why).
    pub skipped: Vec<(String, String)>,
    /// Employee ID → the DN it was read from, for everyone the directory has.
    pub dns: BTreeMap<String, String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.changed.is_empty() && self.gone.is_empty()
    }

    /// The lines `employees sync` prints: one per change, then the skipped entries.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.new {
            out.push(format!(
                "new\t{}\t{}\t{}\t{}",
                e.employee_id,
                e.name,
                e.department,
                e.role.as_str()
            ));
        }
        for (b, a) in &self.changed {
            let mut what = Vec::new();
            if !b.active {
                what.push("back from leaving".to_string());
            }
            if b.name != a.name {
                what.push(format!("name {} → {}", b.name, a.name));
            }
            if b.department != a.department {
                what.push(format!("department {} → {}", b.department, a.department));
            }
            if b.role != a.role {
                what.push(format!("role {} → {}", b.role.as_str(), a.role.as_str()));
            }
            if b.emails != a.emails {
                what.push(format!(
                    "email {} → {}",
                    b.emails.join(";"),
                    a.emails.join(";")
                ));
            }
            out.push(format!("changed\t{}\t{}", a.employee_id, what.join(", ")));
        }
        for (b, _) in &self.gone {
            out.push(format!(
                "gone\t{}\t{}\t{}\t(deactivated, history kept)",
                b.employee_id, b.name, b.department
            ));
        }
        for (dn, why) in &self.skipped {
            out.push(format!("skipped\t{dn}\t{why}"));
        }
        out
    }
}

/// Compares the directory's people with the register.
pub async fn plan(store: &Store, ldap: &LdapConfig, people: &[Person]) -> Result<Plan> {
    let depts = department_names(store).await?;
    let existing = store.employees().await?;
    let from_directory = store.directory_dns().await?;
    let mut plan = Plan::default();
    let mut seen_ids = HashSet::new();
    let mut owner_of_email: HashMap<String, String> = HashMap::new();
    for p in people {
        let after = match staff_of(ldap, &depts, p, |id| existing.get(id).cloned()) {
            Ok(e) => e,
            Err(why) => {
                plan.skipped.push((p.dn.clone(), why));
                continue;
            }
        };
        let id = after.employee_id.clone();
        if !seen_ids.insert(id.clone()) {
            plan.skipped.push((
                p.dn.clone(),
                format!("employee ID {id} is on another entry too"),
            ));
            continue;
        }
        let before = existing.get(&id);
        if let Some(m) = after
            .emails
            .iter()
            .find(|m| owner_of_email.get(*m).is_some_and(|o| *o != id))
        {
            plan.skipped
                .push((p.dn.clone(), format!("address {m} is on another entry too")));
            continue;
        }
        for m in &after.emails {
            owner_of_email.insert(m.clone(), id.clone());
        }
        plan.dns.insert(id.clone(), p.dn.clone());
        match before {
            None => plan.new.push(after),
            Some(b) if b.audit_json() != after.audit_json() => {
                plan.changed.push((b.clone(), after))
            }
            Some(b) => {
                if from_directory.get(&id) != Some(&p.dn) {
                    plan.linked.push(b.clone());
                }
            }
        }
    }
    // Leavers: read from the directory before, not found in it now.
    for (id, _) in from_directory {
        if plan.dns.contains_key(&id) {
            continue;
        }
        if let Some(b) = existing.get(&id).filter(|e| e.active) {
            let mut after = b.clone();
            after.active = false;
            plan.gone.push((b.clone(), after));
        }
    }
    plan.new.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
    plan.changed
        .sort_by(|a, b| a.1.employee_id.cmp(&b.1.employee_id));
    plan.gone
        .sort_by(|a, b| a.0.employee_id.cmp(&b.0.employee_id));
    Ok(plan)
}

/// Applies a plan in one transaction, each change an audit entry.
pub async fn apply(
    store: &Store,
    plan: &Plan,
    now: chrono::DateTime<chrono::Utc>,
    actor: &Actor,
) -> Result<()> {
    let list: Vec<Employee> = plan
        .new
        .iter()
        .cloned()
        .chain(plan.changed.iter().map(|(_, a)| a.clone()))
        .chain(plan.gone.iter().map(|(_, a)| a.clone()))
        .chain(plan.linked.iter().cloned())
        .collect();
    store.sync_employees(&list, &plan.dns, now, actor).await
}

/// `zaitaku employees sync --ldap [--dry-run]`: reads the directory, prints the plan, applies
/// it unless `dry_run`.
pub async fn sync(
    store: &Store,
    cfg: &Config,
    dry_run: bool,
    now: chrono::DateTime<chrono::Utc>,
    actor: &Actor,
) -> Result<Plan> {
    let Some(ldap) = &cfg.ldap else {
        return Err(Error::bad(
            "--ldap",
            "expected an [ldap] section in zaitaku.toml (SPEC §12), found none",
        ));
    };
    let people = crate::ldap::people(ldap).await?;
    let plan = plan(store, ldap, &people).await?;
    let nothing_to_write = plan.is_empty() && plan.linked.is_empty();
    if !dry_run && !nothing_to_write {
        apply(store, &plan, now, actor).await?;
    }
    Ok(plan)
}

/// The outcome of a login checked against the directory.
#[derive(Debug)]
pub enum Login {
    /// The password was right and the person is staff of the register (brought up to date).
    Staff(Employee),
    /// The password was right but the entry is not staff of the register: why.
    NotStaff(String),
    /// No such person, or a wrong password.
    Refused,
}

/// Checks a login with the directory and brings that one person's entry in the register up
/// to date (role from groups, department, name, addresses), as a sync would for them.
pub async fn login(
    store: &Store,
    ldap: &LdapConfig,
    login: &str,
    password: &str,
    now: chrono::DateTime<chrono::Utc>,
    client: Option<String>,
) -> Result<Login> {
    let Some(p) = crate::ldap::authenticate(ldap, login, password).await? else {
        return Ok(Login::Refused);
    };
    let depts = department_names(store).await?;
    let id = p.employee_id.clone().unwrap_or_default();
    let before = store.employee(&id).await?;
    let after = match staff_of(ldap, &depts, &p, |_| before.clone()) {
        Ok(e) => e,
        Err(why) => return Ok(Login::NotStaff(why)),
    };
    let unchanged = before
        .as_ref()
        .is_some_and(|b| b.audit_json() == after.audit_json())
        && store.directory_dn(&id).await?.as_deref() == Some(p.dn.as_str());
    if !unchanged {
        let dns = BTreeMap::from([(id.clone(), p.dn.clone())]);
        let actor = Actor {
            who: id.clone(),
            via: "web",
            client,
        };
        store
            .sync_employees(std::slice::from_ref(&after), &dns, now, &actor)
            .await?;
    }
    Ok(Login::Staff(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ldap() -> LdapConfig {
        let text = "[ldap]\nurl = \"ldaps://ad\"\nbind_dn = \"CN=z,DC=c\"\nbind_password = \"pw\"\nbase_dn = \"DC=c\"\n\
            [ldap.roles]\n\"CN=所属長,OU=Groups,DC=c\" = \"supervisor\"\n\"CN=情報管理,OU=Groups,DC=c\" = \"it\"\n";
        Config::from_strs(None, text, crate::config::EMBEDDED_DEPARTMENTS_TOML)
            .unwrap()
            .ldap
            .unwrap()
    }

    #[test]
    fn the_highest_role_of_the_groups_counts_and_no_group_is_a_teleworker() {
        let c = ldap();
        assert_eq!(role_of(&c, &[]), Role::Teleworker);
        assert_eq!(
            role_of(&c, &["CN=所属長, OU=Groups,DC=c".into()]),
            Role::Supervisor
        );
        assert_eq!(
            role_of(
                &c,
                &[
                    "cn=所属長,ou=groups,dc=c".into(),
                    "CN=情報管理,OU=Groups,DC=c".into()
                ]
            ),
            Role::It
        );
        assert_eq!(role_of(&c, &["CN=Other,DC=c".into()]), Role::Teleworker);
    }
}
