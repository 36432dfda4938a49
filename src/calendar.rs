//! Dates and times of the programme: the service period, fiscal years (April–March), the
//! standard workday and local time. Pure: no clock is read here; callers pass instants in.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// A time of day in minutes after midnight (08:30 is 510). Orders and leave spans use these so
/// that hours compare and subtract without a date attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minutes(pub u32);

impl Minutes {
    pub fn from_time(t: NaiveTime) -> Minutes {
        use chrono::Timelike;
        Minutes(t.hour() * 60 + t.minute())
    }

    /// `HH:MM`, 00:00 to 24:00 (24:00 lets a shifted order end at midnight).
    pub fn parse(s: &str) -> Option<Minutes> {
        let (h, m) = s.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let h: u32 = h.parse().ok()?;
        let m: u32 = m.parse().ok()?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return None;
        }
        Some(Minutes(h * 60 + m))
    }

    pub fn on(self, date: NaiveDate, tz: Tz) -> DateTime<Tz> {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        let naive = midnight + chrono::Duration::minutes(self.0.into());
        // A wall-clock time skipped by a DST change (not in Japan, but the zone is configurable)
        // is taken one hour later rather than failing.
        tz.from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
            .expect("a local time exists within an hour")
    }
}

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// The programme's fixed frame: the free-use period, the ID pool size, the standard workday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub licensed_ids: u32,
    pub workday_start: Minutes,
    pub workday_end: Minutes,
}

impl Service {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }

    pub fn workday_len(&self) -> u32 {
        self.workday_end.0 - self.workday_start.0
    }

    pub fn in_workday(&self, start: Minutes, end: Minutes) -> bool {
        self.workday_start <= start && end <= self.workday_end
    }
}

/// 年度: the fiscal year is named by the year it starts in; 2020 is 2020-04-01..2021-03-31.
pub fn fiscal_year(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    if d.month() >= 4 {
        d.year()
    } else {
        d.year() - 1
    }
}

pub fn fiscal_year_bounds(fy: i32) -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(fy, 4, 1).expect("April 1st exists"),
        NaiveDate::from_ymd_opt(fy + 1, 3, 31).expect("March 31st exists"),
    )
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    // Exactly YYYY-MM-DD: chrono alone would also take "2021-1-5", which a CSV typo can produce.
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// An instant given on the command line or in a query (`--now`, `--received-at`, `?now=`):
/// RFC 3339 with its offset; anything else is bad input naming `flag`.
pub fn parse_instant(flag: &str, s: &str) -> crate::error::Result<DateTime<chrono::Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            crate::error::Error::bad(
                flag,
                format!("expected an RFC 3339 time like 2021-01-12T08:45:00+09:00, got {s:?}"),
            )
        })
}

/// The local calendar day of an instant.
pub fn local_date(at: DateTime<chrono::Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn fiscal_years_run_april_to_march() {
        assert_eq!(fiscal_year(d("2021-03-31")), 2020);
        assert_eq!(fiscal_year(d("2021-04-01")), 2021);
        assert_eq!(fiscal_year(d("2020-11-27")), 2020);
        assert_eq!(fiscal_year_bounds(2020), (d("2020-04-01"), d("2021-03-31")));
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(Minutes::parse("08:30"), Some(Minutes(510)));
        assert_eq!(Minutes::parse("8:30"), Some(Minutes(510)));
        assert_eq!(Minutes::parse("24:00"), Some(Minutes(1440)));
        for bad in ["8:3O", "25:00", "08:60", "0830", "", "08:5", "24:01"] {
            assert_eq!(Minutes::parse(bad), None, "{bad}");
        }
        assert_eq!(Minutes(510).to_string(), "08:30");
    }

    #[test]
    fn dates_must_be_written_in_full() {
        assert!(parse_date("2021-01-12").is_some());
        assert!(parse_date("2021-1-12").is_none());
        assert!(parse_date("2021-02-30").is_none());
    }

    #[test]
    fn minutes_on_a_day_are_local_time() {
        let t = Minutes(510).on(d("2021-01-12"), chrono_tz::Asia::Tokyo);
        assert_eq!(t.to_rfc3339(), "2021-01-12T08:30:00+09:00");
    }
}
