//! Process-wide health, written by whoever knows it and read by `/metrics`: whether this
//! process reads the mail source, and whether that source is reachable now. Below the daemon
//! and the web alike, so neither imports the other for it (issue 16).

use std::sync::atomic::AtomicBool;

/// This process reads the mail source (`zaitaku run`; `/metrics`: `zaitaku_mailbox_watched`).
pub static MAILBOX_WATCHED: AtomicBool = AtomicBool::new(false);
/// The mail source is connected now (`/metrics`: `zaitaku_mailbox_connected`).
pub static MAILBOX_CONNECTED: AtomicBool = AtomicBool::new(false);
/// The Matrix connection works now (`/metrics`: `zaitaku_matrix_connected`).
pub static MATRIX_CONNECTED: AtomicBool = AtomicBool::new(false);
