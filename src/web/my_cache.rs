//! 自分の在宅勤務's rows kept between loads (issue 20: the page under 50 ms at p99 when a
//! city's teleworkers open it at 08:30). A teleworker's `Person` (their orders, reports, steps,
//! deputyships as stored) is kept while their change stamp has not moved. The page is judged
//! at every request's `now`; the HTML last rendered is kept beside the rows with what it was
//! rendered from (the judged month and day), and sent again only when these are equal, so a
//! deadline passing (待ち → 未着) renders anew.
//!
//! Why counters bumped by triggers (`changes`, migration 0018; per person since 0025), read
//! with the session:
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
//! One stamp per person (`person_changes`, migration 0025), not one counter for the whole
//! register: with 0018's single counter any write of anyone's (the next mail, a supervisor's
//! stamp) dropped every kept page, so at 08:30, with mail arriving every few seconds, every
//! load was a first load. A page is kept under its person's row and everyone's row (employees,
//! addresses, deputies: what a page shows of others, or matches mail by); a write of their own
//! drops theirs alone.
//!
//! Pages are the person's, not the session's: the HTML is rendered with a marker where the
//! session's CSRF token goes, and each answer puts its own session's token there
//! (`Page::html_for`). So the web process can render the day's teleworkers' pages before they
//! ask (`pages::keep_ready`), and the 08:30 rush is answered from memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

use crate::attendance::History;
use crate::board::Board;
use crate::store::web::Stamp;
use crate::usecase::my_page::{Person, Want};

/// At most this many people's pages are kept: about 45 KiB each on the bench's register (the
/// year's orders, the month's reports, 19 KiB of HTML), so about 90 MiB when full. When full,
/// all are dropped and the next loads read afresh.
pub const MAX_KEPT: usize = 2048;

/// A rendered page and what it was rendered from, besides the rows.
#[derive(Debug)]
pub struct Page {
    pub history: History,
    pub board: Board,
    /// The HTML cut where the session's CSRF token goes: shared by every answer, not copied
    /// into each but for the one copy that puts the token in (a page is about 15 KiB).
    parts: Vec<Bytes>,
}

impl Page {
    /// `html` rendered with `marker` in place of the CSRF token.
    pub fn new(html: &str, marker: &str, history: History, board: Board) -> Page {
        Page {
            history,
            board,
            parts: html
                .split(marker)
                .map(|p| Bytes::copy_from_slice(p.as_bytes()))
                .collect(),
        }
    }

    /// The page for a session whose CSRF token is `csrf`.
    pub fn html_for(&self, csrf: &str) -> Bytes {
        let len = self.parts.iter().map(Bytes::len).sum::<usize>()
            + csrf.len() * self.parts.len().saturating_sub(1);
        let mut out = Vec::with_capacity(len);
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(csrf.as_bytes());
            }
            out.extend_from_slice(p);
        }
        out.into()
    }
}

struct Entry {
    stamp: Stamp,
    person: Arc<Person>,
    page: Option<Arc<Page>>,
}

/// The kept rows, by what was wanted, with the stamp they were read under.
#[derive(Default)]
pub struct MyCache {
    // A std Mutex: nothing awaits while holding it.
    kept: Mutex<HashMap<Want, Entry>>,
    /// How the pages were answered, for `/metrics`.
    pub counts: Counts,
    /// Bumped whenever pages are dropped for room (`MAX_KEPT`).
    clears: AtomicU64,
}

/// 自分の在宅勤務 answered, by how (`/metrics`: `zaitaku_my_pages_total`), and the pages
/// rendered ahead (`zaitaku_my_pages_ready_total`).
#[derive(Default)]
pub struct Counts {
    /// A kept page, sent as it was (with the session's token).
    pub kept: AtomicU64,
    /// Kept rows, judged differently since (a deadline passed): rendered again.
    pub rendered: AtomicU64,
    /// Rows read from the database (nothing kept, a write since, or a form).
    pub read: AtomicU64,
    /// Pages of the day's teleworkers rendered before they asked.
    pub ready: AtomicU64,
}

impl Counts {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl MyCache {
    /// The rows of `want` read while its person's stamp stood at `stamp`, and the page last
    /// rendered from them, if kept.
    pub fn get(&self, want: &Want, stamp: Stamp) -> Option<(Arc<Person>, Option<Arc<Page>>)> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(want)
            .filter(|e| e.stamp == stamp)
            .map(|e| (e.person.clone(), e.page.clone()))
    }

    /// Whether a page of `want` is kept under `stamp`.
    pub fn has_page(&self, want: &Want, stamp: Stamp) -> bool {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(want)
            .is_some_and(|e| e.stamp == stamp && e.page.is_some())
    }

    /// How many pages (of a person, a month, a day) are kept.
    pub fn kept(&self) -> usize {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Drops what was kept for another day than `today` (a page judges "today" as it was when
    /// it was kept): at midnight yesterday's pages would otherwise fill the room that the new
    /// day's teleworkers' pages, rendered ahead, need.
    pub fn keep_only(&self, today: chrono::NaiveDate) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|w, _| w.today == today);
    }

    /// How many times pages were dropped for room.
    pub fn clears(&self) -> u64 {
        self.clears.load(Ordering::Relaxed)
    }

    /// Keeps `person`, read after their stamp stood at `stamp`.
    pub fn put(&self, want: Want, stamp: Stamp, person: Arc<Person>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        // Rows read under an older stamp can never be shown again: drop them now, everyone's
        // when everyone's counter moved, the person's other pages when theirs did. (A request
        // that read the stamp before a write may still put its older rows after a newer
        // request did; those are dropped in turn by the next newer put, and never shown, since
        // `get` asks for the stamp of its own request.)
        if kept.values().any(|e| e.stamp.0 < stamp.0) {
            kept.retain(|_, e| e.stamp.0 >= stamp.0);
        }
        kept.retain(|w, e| w.employee != want.employee || e.stamp == stamp);
        if kept.len() >= MAX_KEPT {
            kept.clear();
            self.clears.fetch_add(1, Ordering::Relaxed);
        }
        let page = None;
        kept.insert(
            want,
            Entry {
                stamp,
                person,
                page,
            },
        );
    }

    /// Keeps `page`, rendered from the rows of `want` kept under `stamp` (if they still are).
    pub fn put_page(&self, want: &Want, stamp: Stamp, page: Arc<Page>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = kept.get_mut(want).filter(|e| e.stamp == stamp) {
            e.page = Some(page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn want(employee: &str, today: &str) -> Want {
        let day = NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap();
        Want {
            employee: employee.into(),
            orders: (day, day),
            month: (day, day),
            day,
            today: day,
        }
    }

    #[test]
    fn a_new_day_drops_the_days_before_and_a_persons_write_drops_theirs_alone() {
        let c = MyCache::default();
        let person = Arc::new(Person::default());
        c.put(want("E1", "2021-03-30"), Stamp(1, 1), person.clone());
        c.put(want("E2", "2021-03-30"), Stamp(1, 1), person.clone());
        c.put(want("E1", "2021-03-31"), Stamp(1, 1), person.clone());
        c.put(want("E2", "2021-03-31"), Stamp(1, 1), person.clone());
        assert_eq!(c.kept(), 4);
        c.keep_only(NaiveDate::from_ymd_opt(2021, 3, 31).unwrap());
        assert_eq!(c.kept(), 2);
        // E1 wrote: E1's rows under the old stamp are gone, E2's stay.
        c.put(want("E1", "2021-03-31"), Stamp(1, 2), person.clone());
        assert!(c.get(&want("E1", "2021-03-31"), Stamp(1, 1)).is_none());
        assert!(c.get(&want("E1", "2021-03-31"), Stamp(1, 2)).is_some());
        assert!(c.get(&want("E2", "2021-03-31"), Stamp(1, 1)).is_some());
        // Everyone's counter moved: every older page is gone.
        c.put(want("E1", "2021-03-31"), Stamp(2, 2), person);
        assert!(c.get(&want("E2", "2021-03-31"), Stamp(1, 1)).is_none());
        assert_eq!(c.kept(), 1);
    }

    #[test]
    fn each_session_gets_its_own_token_where_the_marker_was() {
        let history = History {
            month: "2021-03".into(),
            label: "2021年3月".into(),
            rows: vec![],
            prev: "2021-02".into(),
            next: "2021-04".into(),
        };
        let board = Board {
            date: "2021-03-31".into(),
            teleworkers: vec![],
            unmatched: vec![],
            outbox: Default::default(),
        };
        let page = Page::new(
            "<form><input value=\"MARK\"></form><p>x</p><input value=\"MARK\">",
            "MARK",
            history,
            board,
        );
        assert_eq!(
            &page.html_for("abc123")[..],
            b"<form><input value=\"abc123\"></form><p>x</p><input value=\"abc123\">"
        );
        assert_eq!(
            &page.html_for("zz")[..],
            b"<form><input value=\"zz\"></form><p>x</p><input value=\"zz\">"
        );
    }
}
