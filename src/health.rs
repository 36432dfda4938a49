//! A city's health, written by whoever knows it and read by `/metrics`: whether this process
//! reads the city's mail source, whether that source is reachable now, and whether Matrix
//! works. One per city: `run --all-tenants` keeps one for each municipality, and each host
//! name's `/metrics` shows its own. Below the daemon and the web alike, so neither imports the
//! other for it (issue 16).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct Health {
    /// This process reads the mail source (`zaitaku run`; `zaitaku_mailbox_watched`).
    mailbox_watched: AtomicBool,
    /// The mail source is connected now (`zaitaku_mailbox_connected`).
    mailbox_connected: AtomicBool,
    /// This process holds the IMAP mailbox's lease and reads it; another daemon on the same
    /// database does while it is false (`zaitaku_mailbox_held`).
    mailbox_held: AtomicBool,
    /// The Matrix connection works now (`zaitaku_matrix_connected`).
    matrix_connected: AtomicBool,
}

/// Shared by the tasks of one city and its web register.
pub type SharedHealth = Arc<Health>;

impl Health {
    /// The health of a city whose mail this process reads (`zaitaku run`).
    pub fn watched() -> SharedHealth {
        let h = Health::default();
        h.mailbox_watched.store(true, Ordering::Relaxed);
        Arc::new(h)
    }

    /// A city whose mail another process reads (`zaitaku web` alone).
    pub fn unwatched() -> SharedHealth {
        Arc::new(Health::default())
    }

    pub fn set_mailbox_connected(&self, up: bool) {
        self.mailbox_connected.store(up, Ordering::Relaxed);
    }

    pub fn set_mailbox_held(&self, held: bool) {
        self.mailbox_held.store(held, Ordering::Relaxed);
    }

    pub fn set_matrix_connected(&self, up: bool) {
        self.matrix_connected.store(up, Ordering::Relaxed);
    }

    pub fn mailbox_watched(&self) -> bool {
        self.mailbox_watched.load(Ordering::Relaxed)
    }

    pub fn mailbox_connected(&self) -> bool {
        self.mailbox_connected.load(Ordering::Relaxed)
    }

    pub fn mailbox_held(&self) -> bool {
        self.mailbox_held.load(Ordering::Relaxed)
    }

    pub fn matrix_connected(&self) -> bool {
        self.matrix_connected.load(Ordering::Relaxed)
    }
}
