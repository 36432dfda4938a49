//! 自分の在宅勤務's rows kept between loads (issue 20: the page under 50 ms at p99 when a
//! city's teleworkers open it at 08:30). A teleworker's `Person` (their orders, reports, steps,
//! deputyships as stored) is kept while the register's change counter has not moved. The page
//! is judged at every request's `now`; the HTML last rendered is kept beside the rows with what
//! it was rendered from (the session's CSRF token, the judged month and day), and sent again
//! only when all of these are equal, so a deadline passing (待ち → 未着) renders anew.
//!
//! Why a counter bumped by triggers (`changes`, migration 0018), read with the session:
//!
//! - The daemon (`zaitaku run`), the CLI and other web instances write the same database from
//!   other processes; the page must show a report the instant after any of them recorded it.
//!   A flag this process sets when it writes (`App::changed`) cannot see theirs.
//! - SQLite's `PRAGMA data_version` can: it moves when *another* connection committed. But
//!   it is per connection, and it does not move for the connection's own commits: in a pool,
//!   a report written through connection A leaves A's data_version where it was, so a request
//!   that happens to check on A would keep a page that lacks it. Telling which pooled connection
//!   wrote is not something sqlx exposes. PostgreSQL has no such value at all.
//! - The trigger's update commits in the writer's transaction, so the counter and the data
//!   become visible together, on both backends, whoever writes, through any connection. A
//!   sequence would not do: `nextval` is seen before the writer commits, and a page read in
//!   between would be kept under the new number without the new row.
//! - Order of reading: the counter is read first (with the session), the rows after. A write
//!   that commits in between makes the rows newer than the number they are kept under, which
//!   only costs one needless reload; the other order could keep old rows under a new number.
//!
//! One counter for the whole register, not one per person: any write (a report of anyone, an
//! order) drops every kept page. Simple to get right, and the rush is served in between: at
//! 08:30 a city's mail arrives in batches a few seconds apart, each one statement per table on
//! PostgreSQL and one bump per row on SQLite (SQLite triggers are per row; a batch commits them
//! at once). Entries kept under an older number are dropped when a newer one is stored, and
//! at most `MAX_KEPT` are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::attendance::History;
use crate::board::Board;
use crate::usecase::my_page::{Person, Want};

/// At most this many people's pages are kept: about 45 KiB each on the bench's register (the
/// year's orders, the month's reports, 19 KiB of HTML), so about 90 MiB when full. When full,
/// all are dropped and the next loads read afresh.
pub const MAX_KEPT: usize = 2048;

/// A rendered page and what it was rendered from, besides the rows.
#[derive(Debug)]
pub struct Page {
    pub csrf: String,
    pub history: History,
    pub board: Board,
    /// Sent as it is: bytes shared with every answer, not copied into each (a page is about
    /// 19 KiB).
    pub html: axum::body::Bytes,
}

struct Entry {
    changes: i64,
    person: Arc<Person>,
    page: Option<Arc<Page>>,
}

/// The kept rows, by what was wanted, with the counter they were read under.
#[derive(Default)]
pub struct MyCache {
    // A std Mutex: nothing awaits while holding it.
    kept: Mutex<HashMap<Want, Entry>>,
}

impl MyCache {
    /// The rows of `want` read while the counter stood at `changes`, and the page last rendered
    /// from them, if kept.
    pub fn get(&self, want: &Want, changes: i64) -> Option<(Arc<Person>, Option<Arc<Page>>)> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(want)
            .filter(|e| e.changes == changes)
            .map(|e| (e.person.clone(), e.page.clone()))
    }

    /// Keeps `person`, read after the counter stood at `changes`.
    pub fn put(&self, want: Want, changes: i64, person: Arc<Person>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        // Rows read under an older number can never be shown again: drop them now. (A request
        // that read the counter before a write may still put its older rows after a newer
        // request did; those are dropped in turn by the next newer put, and never shown, since
        // `get` asks for the number of its own request.)
        if kept.values().any(|e| e.changes < changes) {
            kept.retain(|_, e| e.changes >= changes);
        }
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
        let page = None;
        kept.insert(
            want,
            Entry {
                changes,
                person,
                page,
            },
        );
    }

    /// Keeps `page`, rendered from the rows of `want` kept under `changes` (if they still are).
    pub fn put_page(&self, want: &Want, changes: i64, page: Arc<Page>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = kept.get_mut(want).filter(|e| e.changes == changes) {
            e.page = Some(page);
        }
    }
}
