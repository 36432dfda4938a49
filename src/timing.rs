//! Whether a start or end report came early, on time or late, or is still pending or missing
//! (SPEC §4 timing table). Pure: `now` is an argument.

use chrono::{DateTime, Utc};

use crate::config::Timing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Early,
    OnTime,
    Late,
    Missing,
    Pending,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Early => "early",
            Status::OnTime => "on_time",
            Status::Late => "late",
            Status::Missing => "missing",
            Status::Pending => "pending",
        }
    }

    /// The word on the board and in digests.
    pub fn label_ja(self) -> &'static str {
        match self {
            Status::Early => "早い",
            Status::OnTime => "定時",
            Status::Late => "遅れ",
            Status::Missing => "未着",
            Status::Pending => "待ち",
        }
    }
}

/// The start report against the expected start. The deadline is `expected + grace`: a report at
/// exactly the deadline is on time, and from the deadline on, no report means missing.
pub fn start_status(
    expected: DateTime<Utc>,
    first: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    w: &Timing,
) -> Status {
    let deadline = expected + w.grace;
    match first {
        Some(t) if t < expected - w.early => Status::Early,
        Some(t) if t <= deadline => Status::OnTime,
        Some(_) => Status::Late,
        None if now < deadline => Status::Pending,
        None => Status::Missing,
    }
}

/// The end report: on time from `end - early` to `end + grace`; before that early (left before
/// the order's end), after it late (possible overtime, which the circular does not order).
pub fn end_status(
    expected: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    w: &Timing,
) -> Status {
    let deadline = expected + w.grace;
    match last {
        Some(t) if t < expected - w.early => Status::Early,
        Some(t) if t <= deadline => Status::OnTime,
        Some(_) => Status::Late,
        None if now < deadline => Status::Pending,
        None => Status::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(2021, 1, 12, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn start_report_boundaries() {
        let w = Timing::default();
        let start = at(8, 30);
        let table = [
            (at(7, 59), Status::Early),
            (at(8, 0), Status::OnTime),
            (at(8, 27), Status::OnTime),
            (at(8, 45), Status::OnTime),
            (at(8, 46), Status::Late),
        ];
        for (t, want) in table {
            assert_eq!(start_status(start, Some(t), at(12, 0), &w), want, "{t}");
        }
    }

    #[test]
    fn no_start_report_is_pending_until_the_deadline_then_missing() {
        let w = Timing::default();
        assert_eq!(
            start_status(at(8, 30), None, at(8, 44), &w),
            Status::Pending
        );
        assert_eq!(
            start_status(at(8, 30), None, at(8, 45), &w),
            Status::Missing
        );
    }

    #[test]
    fn end_report_boundaries() {
        let w = Timing::default();
        let end = at(17, 15);
        let table = [
            (at(16, 44), Status::Early),
            (at(16, 45), Status::OnTime),
            (at(17, 30), Status::OnTime),
            (at(17, 31), Status::Late),
        ];
        for (t, want) in table {
            assert_eq!(end_status(end, Some(t), at(20, 0), &w), want, "{t}");
        }
        assert_eq!(end_status(end, None, at(17, 29), &w), Status::Pending);
        assert_eq!(end_status(end, None, at(17, 30), &w), Status::Missing);
    }
}
