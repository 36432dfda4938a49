//! The one clock of a running process. A front end makes it once — the system's, or started at
//! another moment by `--now` (`zaitaku run --now T`, `zaitaku web --now T`, the demo) — and
//! passes it to every task and handler; nothing below reads the system time for itself, so a
//! rehearsal of a past day stamps, schedules and judges everything at that day's times.
//!
//! Only what is compared with another system's clock keeps the wall time: a JWT's `iat` for
//! LINE WORKS, the day of history a Matrix bot's first `/sync` skips (by the homeserver's
//! timestamps), IMAP and SMTP timeouts.

use chrono::{DateTime, TimeDelta, Utc};

/// The system's time, moved by a fixed offset. It runs at the system's pace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    offset: TimeDelta,
}

impl Clock {
    /// The system's own time.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `start` now and runs on from it; the system's when `None`.
    pub fn starting_at(start: Option<DateTime<Utc>>) -> Clock {
        Clock {
            offset: start.map_or(TimeDelta::zero(), |s| s - Utc::now()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    /// How long until `at` by this clock (zero when it has passed).
    pub fn until(&self, at: DateTime<Utc>) -> std::time::Duration {
        (at - self.now()).to_std().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_started_in_the_past_reads_that_moment_and_runs_on() {
        let start = DateTime::parse_from_rfc3339("2021-01-12T08:40:00+09:00")
            .unwrap()
            .with_timezone(&Utc);
        let c = Clock::starting_at(Some(start));
        let read = c.now();
        assert!(
            read >= start && read - start < TimeDelta::seconds(5),
            "{read}"
        );
        assert!(c.until(start) == std::time::Duration::ZERO);
        let later = start + TimeDelta::minutes(10);
        let wait = c.until(later);
        assert!(
            wait > std::time::Duration::from_secs(590)
                && wait <= std::time::Duration::from_secs(600)
        );
        let sys = Clock::system().now();
        assert!((sys - Utc::now()).num_seconds().abs() < 5);
    }
}
