//! What 自分の在宅勤務 shows of one teleworker (issue 20): their orders, the reports and
//! escalation steps of their approved orders in the month and on the day shown, the day's mail
//! from their addresses that matched no order, and whom they stand in for. One statement
//! whatever the size of the city (`store::person`), and nothing of anyone else: the day's city
//! board is not built for one person's row.
//!
//! Loading is apart from judging: `Person` holds rows as stored, and the page judges them at
//! its `now` (pending or missing) each time, so the web may keep a `Person` while the register
//! has not changed (`web::my_cache`) and still show the right state after a deadline passes.

use chrono::{DateTime, NaiveDate, Utc};

use crate::board::{self, Board, ReportRow, Teleworker};
use crate::config::Config;
use crate::error::Result;
use crate::store::Store;
use crate::store::person::{PersonQuery, PersonRows};
use crate::store::web::RegisterRow;

/// Which of a person's data a page shows: the days of the order list (the service period),
/// the month of attendance, the day of the board, and today (whom they stand in for).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Want {
    pub employee: String,
    pub orders: (NaiveDate, NaiveDate),
    pub month: (NaiveDate, NaiveDate),
    pub day: NaiveDate,
    pub today: NaiveDate,
}

/// One person's rows as the store reads them (`store::person`), judged by the methods below.
pub type Person = PersonRows;

/// `want`'s rows: one statement on one connection (`store::person` says why).
pub async fn load(store: &Store, want: &Want) -> Result<Person> {
    store
        .person_rows(&PersonQuery {
            employee: &want.employee,
            orders: want.orders,
            month: want.month,
            day: want.day,
            today: want.today,
        })
        .await
}

impl Person {
    /// The orders of `from`..=`to`, any status, by day.
    pub fn orders_in(
        &self,
        (from, to): (NaiveDate, NaiveDate),
    ) -> impl Iterator<Item = &RegisterRow> {
        self.orders
            .iter()
            .filter(move |r| r.order.date >= from && r.order.date <= to)
    }

    /// The order list (命令と申請) of `want`, by day: of the service period, the orders of the
    /// month shown, those still to come, and those waiting for someone (申請中, 部長決裁待ち,
    /// 差戻し) whatever their day. The other months' are a 前の月 / 次の月 away: a year of
    /// orders (about 110 at two days a week) is not what a phone should scroll through, nor
    /// what a cold first load at 08:30 should render.
    pub fn listed<'a>(&'a self, want: &'a Want) -> impl Iterator<Item = &'a RegisterRow> {
        use crate::order::OrderStatus;
        self.orders_in(want.orders).filter(move |r| {
            let d = r.order.date;
            (d >= want.month.0 && d <= want.month.1)
                || d > want.today
                || matches!(
                    r.order.status,
                    OrderStatus::Draft | OrderStatus::Reviewed | OrderStatus::SentBack
                )
        })
    }

    /// What the page of `want` shows judged at `now`: the month's attendance and the day's
    /// board. Every load judges again (a deadline passing changes them without any write), and
    /// a kept page is sent only when these are what it was rendered from.
    pub fn judged(
        &self,
        cfg: &Config,
        want: &Want,
        now: DateTime<Utc>,
    ) -> (crate::attendance::History, Board) {
        let history =
            crate::attendance::history_of(want.month.0, self.month_rows(cfg, want.month, now));
        (history, self.day_board(cfg, want.day, now))
    }

    /// The approved orders of `month`, each judged at `now` as its day's board judges it.
    pub fn month_rows(
        &self,
        cfg: &Config,
        month: (NaiveDate, NaiveDate),
        now: DateTime<Utc>,
    ) -> Vec<(NaiveDate, Teleworker)> {
        let orders = self
            .orders_in(month)
            .filter(|r| r.order.status == crate::order::OrderStatus::Approved)
            .map(|r| &r.order);
        crate::attendance::judge_orders(cfg, orders, &self.reports, &self.escalations, now)
    }

    /// Their part of `day`'s board judged at `now`: their row, if ordered, and their mail that
    /// matched no order, as the supervisor's board shows them (without the outbox).
    pub fn day_board(&self, cfg: &Config, day: NaiveDate, now: DateTime<Utc>) -> Board {
        let order: Vec<_> = self
            .orders_in((day, day))
            .filter(|r| r.order.status == crate::order::OrderStatus::Approved)
            .map(|r| r.order.clone())
            .collect();
        let mut reports: Vec<ReportRow> = self
            .reports
            .iter()
            .filter(|r| {
                order.iter().any(|o| r.order_id == Some(o.id))
                    && r.reason == crate::report::Reason::Matched
            })
            .cloned()
            .collect();
        reports.extend(self.unmatched.iter().cloned());
        reports.sort_by_key(|r| (r.received_at, r.id));
        board::build(board::BoardInput {
            date: day,
            orders: &order,
            reports: &reports,
            escalations: &self.escalations,
            now,
            tz: cfg.timezone,
            timing: &cfg.timing,
        })
    }
}
