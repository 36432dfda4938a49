//! The telework-ID pool (テレワーク用ID): `licensed_ids` numbered IDs, each held by at most one
//! employee on any day. Pure: the store hands in what is held, this decides which ID to give.

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// One ID held by one employee over an inclusive date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id_no: u32,
    pub employee: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Held {
    pub fn overlaps(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.from <= to && from <= self.to
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// Every ID is held on `date` (the first such day in the range).
    Full { date: NaiveDate, licensed: u32 },
    /// No single ID is free over the whole range, although no day is full: the range must be split.
    Fragmented { from: NaiveDate, to: NaiveDate },
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Full { date, licensed } => {
                write!(
                    f,
                    "all {licensed} telework IDs are held on {date}; release one or choose other dates"
                )
            }
            PoolError::Fragmented { from, to } => write!(
                f,
                "no single telework ID is free for the whole of {from}..{to}; assign shorter ranges"
            ),
        }
    }
}

/// The lowest-numbered ID free on every day of `from..=to`.
pub fn choose_id(
    held: &[Held],
    from: NaiveDate,
    to: NaiveDate,
    licensed: u32,
) -> Result<u32, PoolError> {
    let busy: std::collections::HashSet<u32> = held
        .iter()
        .filter(|h| h.overlaps(from, to))
        .map(|h| h.id_no)
        .collect();
    if let Some(n) = (1..=licensed).find(|n| !busy.contains(n)) {
        return Ok(n);
    }
    match peak(
        held.iter()
            .filter(|h| h.overlaps(from, to))
            .map(|h| (h.from.max(from), h.to.min(to))),
    ) {
        Some((count, date)) if count >= licensed as usize => {
            Err(PoolError::Full { date, licensed })
        }
        _ => Err(PoolError::Fragmented { from, to }),
    }
}

/// The largest number of ranges covering one day, and the first day it happens.
pub fn peak(
    ranges: impl IntoIterator<Item = (NaiveDate, NaiveDate)>,
) -> Option<(usize, NaiveDate)> {
    // Sweep: +1 on the first day, -1 on the day after the last.
    let mut delta: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for (from, to) in ranges {
        *delta.entry(from).or_default() += 1;
        *delta.entry(to.succ_opt().unwrap_or(to)).or_default() -= 1;
    }
    let mut now = 0i64;
    let mut best: Option<(usize, NaiveDate)> = None;
    for (day, d) in delta {
        now += d;
        if now > 0 && best.is_none_or(|(b, _)| now as usize > b) {
            best = Some((now as usize, day));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_date;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn held(id_no: u32, from: &str, to: &str) -> Held {
        Held {
            id_no,
            employee: format!("E{id_no}"),
            from: d(from),
            to: d(to),
        }
    }

    #[test]
    fn the_lowest_free_id_is_given() {
        let h = vec![
            held(1, "2021-01-01", "2021-03-31"),
            held(3, "2021-01-01", "2021-03-31"),
        ];
        assert_eq!(choose_id(&h, d("2021-01-12"), d("2021-01-12"), 50), Ok(2));
        assert_eq!(choose_id(&h, d("2021-04-01"), d("2021-04-30"), 50), Ok(1));
    }

    #[test]
    fn a_full_pool_names_the_first_full_day() {
        let h = vec![
            held(1, "2021-01-10", "2021-01-20"),
            held(2, "2021-01-12", "2021-01-31"),
        ];
        assert_eq!(
            choose_id(&h, d("2021-01-01"), d("2021-01-31"), 2),
            Err(PoolError::Full {
                date: d("2021-01-12"),
                licensed: 2
            })
        );
    }

    #[test]
    fn a_range_no_single_id_covers_is_refused_without_overbooking() {
        let h = vec![
            held(1, "2021-01-01", "2021-01-10"),
            held(2, "2021-01-11", "2021-01-31"),
        ];
        assert!(matches!(
            choose_id(&h, d("2021-01-01"), d("2021-01-31"), 2),
            Err(PoolError::Fragmented { .. })
        ));
    }

    #[test]
    fn peak_counts_concurrent_holders() {
        let r = [
            (d("2021-01-01"), d("2021-01-05")),
            (d("2021-01-03"), d("2021-01-09")),
            (d("2021-01-05"), d("2021-01-05")),
        ];
        assert_eq!(peak(r), Some((3, d("2021-01-05"))));
        assert_eq!(peak([]), None);
    }
}
