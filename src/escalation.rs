//! Escalation chains (SPEC §5): which steps of a missing-start or missing-end chain are due at
//! `now`, and whether each is to be sent or only recorded as expired. Pure: the store says what
//! was reported, fired and resolved; this decides.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::config::{Recipient, Step};

/// Where a recorded escalation step stands. The database keeps `as_str()`; a resolution is
/// kept apart (`resolved_at`, how), so it is not a status here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StepStatus {
    /// Its mail and chat rows are queued.
    #[default]
    Sent,
    /// Due on a past day: recorded, not sent (nobody is chased for yesterday).
    Expired,
    /// Its mail could not be made or nobody can receive it; the reason is kept.
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Sent => "sent",
            StepStatus::Expired => "expired",
            StepStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    MissingStart,
    MissingEnd,
}

impl Chain {
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::MissingStart => "missing_start",
            Chain::MissingEnd => "missing_end",
        }
    }

    /// The report kind that stops the chain.
    pub fn report_kind(self) -> &'static str {
        match self {
            Chain::MissingStart => "start",
            Chain::MissingEnd => "end",
        }
    }

    pub fn parse(s: &str) -> Option<Chain> {
        match s {
            "missing_start" => Some(Chain::MissingStart),
            "missing_end" => Some(Chain::MissingEnd),
            _ => None,
        }
    }
}

/// What the store knows about one order and one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    pub date: NaiveDate,
    /// When the report is expected (leave already applied).
    pub expected: DateTime<Utc>,
    /// A report (mail, chat or phone contact) of the chain's kind exists.
    pub reported: bool,
    /// A supervisor resolved an earlier step.
    pub resolved: bool,
    pub cancelled: bool,
    /// Step numbers (1-based) already recorded, sent or expired.
    pub fired: HashSet<u32>,
    /// Step number → the last of its repeats recorded (`repeat_minutes`).
    pub repeated: HashMap<u32, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// 1-based, as shown to people.
    pub step: u32,
    pub at: DateTime<Utc>,
    pub to: Recipient,
    /// The order's day has passed: record the step, send nothing.
    pub expired: bool,
    /// 0: the step's first sending; n: its n-th repeat.
    pub repeat: u32,
}

/// The steps to record now, in order. `today` is the local date of `now`.
pub fn due_steps(
    chain: &[Step],
    st: &ChainState,
    grace: Duration,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Vec<Due> {
    if st.reported || st.resolved || st.cancelled {
        return Vec::new();
    }
    let deadline = st.expected + grace;
    let mut out = Vec::new();
    for (i, step) in chain.iter().enumerate() {
        let at = deadline + Duration::minutes(step.after_minutes.into());
        if at > now {
            break; // steps are in order: none after this one is due either
        }
        let n = i as u32 + 1;
        let expired = st.date < today;
        if !st.fired.contains(&n) {
            out.push(Due {
                step: n,
                at,
                to: step.to,
                expired,
                repeat: 0,
            });
            continue;
        }
        // Sent and not acknowledged: the latest repeat due, once (a tick that comes late sends
        // one reminder, not every one it missed); none for a past day.
        if step.repeat_minutes == 0 || expired {
            continue;
        }
        let every = i64::from(step.repeat_minutes);
        let r = ((now - at).num_minutes() / every).min(step.max_repeats.into()) as u32;
        if r > st.repeated.get(&n).copied().unwrap_or(0) {
            out.push(Due {
                step: n,
                at: at + Duration::minutes(every * i64::from(r)),
                to: step.to,
                expired,
                repeat: r,
            });
        }
    }
    out
}

/// The key that makes a step fire once, across ticks, restarts and rival daemons.
pub fn step_key(order_id: i64, chain: Chain, step: u32) -> String {
    format!("order:{order_id}:{}:{step}", chain.as_str())
}

/// The key of a step's sending: its first is `step_key`; its n-th repeat adds `:rN`, so each
/// repeat fires once too.
pub fn sending_key(order_id: i64, chain: Chain, due: &Due) -> String {
    match due.repeat {
        0 => step_key(order_id, chain, due.step),
        r => format!("{}:r{r}", step_key(order_id, chain, due.step)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Escalation;
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(2021, 1, d, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 1, d).unwrap()
    }

    fn state() -> ChainState {
        ChainState {
            date: day(12),
            expected: at(12, 8, 30),
            reported: false,
            resolved: false,
            cancelled: false,
            fired: HashSet::new(),
            repeated: HashMap::new(),
        }
    }

    #[test]
    fn a_step_with_repeats_is_sent_again_every_n_minutes_until_acknowledged_or_the_maximum() {
        let chain = vec![Step {
            after_minutes: 0,
            to: Recipient::Teleworker,
            repeat_minutes: 10,
            max_repeats: 2,
        }];
        let grace = Duration::minutes(15);
        let mut st = state();
        // 08:45 is the deadline: the first sending, not a repeat.
        let due = due_steps(&chain, &st, grace, at(12, 8, 54), day(12));
        assert_eq!((due[0].step, due[0].repeat), (1, 0));
        st.fired.insert(1);
        assert!(due_steps(&chain, &st, grace, at(12, 8, 54), day(12)).is_empty());
        let due = due_steps(&chain, &st, grace, at(12, 8, 55), day(12));
        assert_eq!((due[0].repeat, due[0].at), (1, at(12, 8, 55)));
        st.repeated.insert(1, 1);
        assert!(due_steps(&chain, &st, grace, at(12, 9, 4), day(12)).is_empty());
        // A late tick sends the latest repeat once, never past the maximum.
        let due = due_steps(&chain, &st, grace, at(12, 11, 0), day(12));
        assert_eq!((due.len(), due[0].repeat), (1, 2));
        st.repeated.insert(1, 2);
        assert!(due_steps(&chain, &st, grace, at(12, 12, 0), day(12)).is_empty());
        // Acknowledged (a reply, a web or chat resolution): no more.
        let mut st = state();
        st.fired.insert(1);
        st.resolved = true;
        assert!(due_steps(&chain, &st, grace, at(12, 9, 30), day(12)).is_empty());
        // A past day: nothing repeats.
        let mut st = state();
        st.fired.insert(1);
        assert!(due_steps(&chain, &st, grace, at(13, 9, 30), day(13)).is_empty());
        assert_eq!(
            sending_key(
                7,
                Chain::MissingStart,
                &Due {
                    step: 1,
                    at: at(12, 8, 55),
                    to: Recipient::Teleworker,
                    expired: false,
                    repeat: 2
                }
            ),
            "order:7:missing_start:1:r2"
        );
    }

    fn steps_at(st: &ChainState, now: DateTime<Utc>) -> Vec<u32> {
        let chain = Escalation::default().missing_start;
        due_steps(&chain, st, Duration::minutes(15), now, day(12))
            .iter()
            .map(|d| d.step)
            .collect()
    }

    #[test]
    fn each_step_is_due_at_its_boundary_not_a_minute_before() {
        let st = state();
        let table: [(DateTime<Utc>, &[u32]); 6] = [
            (at(12, 8, 44), &[]),
            (at(12, 8, 45), &[1]),
            (at(12, 8, 59), &[1]),
            (at(12, 9, 0), &[1, 2]),
            (at(12, 10, 44), &[1, 2]),
            (at(12, 10, 45), &[1, 2, 3]),
        ];
        for (now, want) in table {
            assert_eq!(steps_at(&st, now), want, "{now}");
        }
    }

    #[test]
    fn a_step_already_fired_is_not_due_again() {
        let mut st = state();
        st.fired.insert(1);
        assert_eq!(steps_at(&st, at(12, 9, 0)), [2]);
    }

    #[test]
    fn a_report_a_resolution_or_a_cancellation_stops_the_chain() {
        let stops: [fn(&mut ChainState); 3] = [
            |s| s.reported = true,
            |s| s.resolved = true,
            |s| s.cancelled = true,
        ];
        for stop in stops {
            let mut st = state();
            stop(&mut st);
            assert!(steps_at(&st, at(12, 12, 0)).is_empty());
        }
    }

    #[test]
    fn steps_of_a_past_day_are_expired_not_sent() {
        let st = state();
        let chain = Escalation::default().missing_start;
        let due = due_steps(&chain, &st, Duration::minutes(15), at(13, 9, 0), day(13));
        assert_eq!(due.len(), 3);
        assert!(due.iter().all(|d| d.expired));
    }

    #[test]
    fn a_late_tick_fires_overdue_steps_in_order() {
        let st = state();
        let chain = Escalation::default().missing_start;
        let due = due_steps(&chain, &st, Duration::minutes(15), at(12, 12, 0), day(12));
        let steps: Vec<(u32, Recipient)> = due.iter().map(|d| (d.step, d.to)).collect();
        assert_eq!(
            steps,
            [
                (1, Recipient::Teleworker),
                (2, Recipient::Supervisors),
                (3, Recipient::Hr)
            ]
        );
        assert!(due.iter().all(|d| !d.expired));
    }
}
