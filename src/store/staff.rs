//! The staff directory as the ingest matches senders by it — by address, by chat identity, by
//! employee ID, and each department's supervisors — kept per store handle while the
//! directory's change counter (`directory_changes`, migration 0023) stands still.
//!
//! Why: each IMAP batch begins with the directory, and in a morning rush a batch is one mail.
//! Read anew each time it was three statements returning every employee of the city (on a
//! shared pool each behind its own tenant setting): for 455 cities at 50 mails a second, most
//! of what the database did for a mail (issue 21). The counter is read first and the rows
//! after it, so the rows kept are never older than the count they are kept under.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::Row;

use super::{ChatPlatform, Employee, Role, Store};
use crate::error::Result;

pub struct Staff {
    /// Address (lower case) → employee.
    pub by_email: HashMap<String, Employee>,
    /// (platform, chat user ID: Matrix `@user:server`, Slack user ID, Azure AD object ID, …)
    /// → employee.
    pub by_chat: HashMap<(ChatPlatform, String), Employee>,
    /// Employee ID → employee: a signed-in web user.
    pub by_id: HashMap<String, Employee>,
    /// Department → its supervisors, by employee ID: the notices' recipients.
    pub supervisors: HashMap<String, Vec<Employee>>,
}

impl Staff {
    fn new(by_id: HashMap<String, Employee>) -> Staff {
        let by_email = by_id
            .values()
            .flat_map(|e| e.emails.iter().map(move |m| (m.to_lowercase(), e.clone())))
            .collect();
        let by_chat = by_id
            .values()
            .flat_map(|e| {
                e.chat_ids
                    .iter()
                    .map(move |(p, id)| ((*p, id.clone()), e.clone()))
            })
            .collect();
        let mut supervisors: HashMap<String, Vec<Employee>> = HashMap::new();
        for e in by_id.values().filter(|e| e.role == Role::Supervisor) {
            supervisors
                .entry(e.department.clone())
                .or_default()
                .push(e.clone());
        }
        for list in supervisors.values_mut() {
            list.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
        }
        Staff {
            by_email,
            by_chat,
            by_id,
            supervisors,
        }
    }
}

/// A handle's kept directory and the count it was read under.
pub(super) type Kept = Arc<Mutex<Option<(i64, Arc<Staff>)>>>;

impl Store {
    /// The staff directory: the one kept when nothing changed it since, else read anew.
    pub async fn staff(&self) -> Result<Arc<Staff>> {
        let n: i64 = sqlx::query("SELECT n FROM directory_changes")
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .map_or(0, |r| r.get(0));
        // A std Mutex: held only to look, never across an await.
        let kept = |s: &Store| s.staff.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((at, staff)) = kept(self)
            && at == n
        {
            return Ok(staff);
        }
        let staff = Arc::new(Staff::new(self.employees().await?));
        *self.staff.lock().unwrap_or_else(|p| p.into_inner()) = Some((n, staff.clone()));
        Ok(staff)
    }
}
