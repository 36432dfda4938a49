//! The work-from-home order (在宅勤務命令) and every rule the circular puts on it. A `WorkOrder`
//! exists only through `WorkOrder::new`, so nothing downstream re-checks it. Facts that need the
//! store (does the employee hold an ID that day, is the approver a supervisor of the department)
//! arrive as arguments.

use std::fmt;

use chrono::NaiveDate;

use crate::calendar::{Minutes, Service};

/// 勤務内容 (an order's content): at most this many characters, from a CSV or a web form;
/// it is shown on the board, in digests and in chat.
pub const CONTENT_CHARS: usize = 200;

/// Where an order stands. The database keeps `as_str()`; the store converts once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Asked for by a teleworker (申請中), waiting for a supervisor.
    Draft,
    /// Ordered: reports are expected and chased.
    Approved,
    /// Taken back (取消): nobody is chased for it.
    Cancelled,
    /// Stamped by the supervisor, waiting for the division head (部長決裁待ち) when
    /// `[approval] steps` has a second step. Not yet an order: nobody is chased for it.
    Reviewed,
    /// Sent back to the teleworker (差戻し) with a reason: they edit and resubmit it, and it is
    /// a draft again. Not an order: nobody is chased for it.
    SentBack,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Draft => "draft",
            OrderStatus::Approved => "approved",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::SentBack => "sent_back",
            OrderStatus::Reviewed => "reviewed",
        }
    }

    /// The status a stored name means. A name this version does not know is read as
    /// cancelled: an order is never chased, answered as ordered or shown as approved unless
    /// it says so.
    pub fn from_stored(s: &str) -> OrderStatus {
        match s {
            "draft" => OrderStatus::Draft,
            "approved" => OrderStatus::Approved,
            "sent_back" => OrderStatus::SentBack,
            "reviewed" => OrderStatus::Reviewed,
            _ => OrderStatus::Cancelled,
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a supervisor (or a CSV row) asks for, before the rules are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDraft {
    pub employee: String,
    pub date: NaiveDate,
    /// `None`: the standard workday.
    pub hours: Option<(Minutes, Minutes)>,
    pub content: String,
    pub approved_by: String,
    pub shifted: bool,
    /// 時間単位の年次有給休暇: spans inside the ordered hours.
    pub leave: Vec<(Minutes, Minutes)>,
    /// The supervisor orders work on a day the city hall is closed (with `shifted`).
    pub holiday_ok: bool,
}

/// Facts looked up in the store (and the calendar) for the draft's employee and day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub holds_id: bool,
    pub approver_is_supervisor: bool,
    /// Why the city hall is closed that day (`Calendar::closed_reason`: 土曜日, 海の日, 年末年始…).
    pub closed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrder {
    pub employee: String,
    pub date: NaiveDate,
    pub start: Minutes,
    pub end: Minutes,
    pub content: String,
    pub approved_by: String,
    pub shifted: bool,
    pub leave: Vec<(Minutes, Minutes)>,
    /// Ordered for a closed day, explicitly (see `OrderError::ClosedDay`).
    pub holiday_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    OutsidePeriod {
        date: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
    },
    /// The city hall is closed that day; no overtime is ordered, so this is a mistake unless a
    /// supervisor says otherwise with shifted=true and holiday_ok=true.
    ClosedDay {
        date: NaiveDate,
        reason: String,
    },
    NoTeleworkId {
        employee: String,
        date: NaiveDate,
    },
    EndNotAfterStart {
        start: Minutes,
        end: Minutes,
    },
    LongerThanWorkday {
        start: Minutes,
        end: Minutes,
        max_minutes: u32,
    },
    NotShifted {
        start: Minutes,
        end: Minutes,
        workday: (Minutes, Minutes),
    },
    ApproverNotSupervisor {
        approver: String,
    },
    EmptyContent,
    LeaveOutsideHours {
        from: Minutes,
        to: Minutes,
    },
    LeaveOverlaps {
        from: Minutes,
        to: Minutes,
    },
}

impl OrderError {
    /// The CSV column (and web form field) the error belongs to.
    pub fn field(&self) -> &'static str {
        use OrderError::*;
        match self {
            OutsidePeriod { .. } | ClosedDay { .. } => "date",
            NoTeleworkId { .. } => "employee_id",
            EndNotAfterStart { .. } | LongerThanWorkday { .. } => "end",
            NotShifted { .. } => "shifted",
            ApproverNotSupervisor { .. } => "approved_by",
            EmptyContent => "content",
            LeaveOutsideHours { .. } | LeaveOverlaps { .. } => "leave",
        }
    }

    /// The same message in Japanese, for the web register.
    pub fn message_ja(&self) -> String {
        use OrderError::*;
        match self {
            OutsidePeriod { date, from, to } => {
                format!("{date} はテレワークの利用可能期間（{from}〜{to}）外です")
            }
            ClosedDay { date, reason } => format!("{date} は{reason}です"),
            NoTeleworkId { employee, date } => {
                format!("{employee} は {date} にテレワーク用IDを保有していません")
            }
            EndNotAfterStart { start, end } => {
                format!("終了時刻 {end} が開始時刻 {start} より後ではありません")
            }
            LongerThanWorkday { max_minutes, .. } => format!(
                "勤務時間が所定の{}時間{}分を超えています（時間外勤務は命じられません）",
                max_minutes / 60,
                max_minutes % 60
            ),
            NotShifted { workday, .. } => format!(
                "{}〜{} 以外の時間は勤務時間の割振り変更（shifted）が必要です",
                workday.0, workday.1
            ),
            ApproverNotSupervisor { approver } => {
                format!("{approver} はこの職員の所属長ではありません")
            }
            EmptyContent => "勤務内容を記入してください".into(),
            LeaveOutsideHours { from, to } => format!("時間休 {from}〜{to} が勤務時間の外です"),
            LeaveOverlaps { from, to } => {
                format!("時間休 {from}〜{to} が他の時間休と重なっています")
            }
        }
    }
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use OrderError::*;
        match self {
            OutsidePeriod { date, from, to } => {
                write!(
                    f,
                    "expected a date inside the service period {from}..{to}, got {date}"
                )
            }
            ClosedDay { date, reason } => write!(
                f,
                "{date} は{reason}です: the city hall is closed; an order for a closed day needs shifted=true and holiday_ok=true from a supervisor"
            ),
            NoTeleworkId { employee, date } => {
                write!(
                    f,
                    "{employee} holds no telework ID on {date} (assign one with `zaitaku ids assign`)"
                )
            }
            EndNotAfterStart { start, end } => {
                write!(f, "expected an end after the start {start}, got {end}")
            }
            LongerThanWorkday {
                start,
                end,
                max_minutes,
            } => write!(
                f,
                "{start}-{end} is longer than the standard workday ({}h{:02}m); no overtime is ordered",
                max_minutes / 60,
                max_minutes % 60
            ),
            NotShifted {
                start,
                end,
                workday,
            } => write!(
                f,
                "{start}-{end} is outside the workday {}-{}; expected shifted=true (勤務時間の割振り変更)",
                workday.0, workday.1
            ),
            ApproverNotSupervisor { approver } => {
                write!(
                    f,
                    "expected a supervisor of the employee's department, got {approver:?}"
                )
            }
            EmptyContent => write!(f, "expected the work content (勤務内容), got nothing"),
            LeaveOutsideHours { from, to } => {
                write!(f, "leave {from}-{to} is outside the ordered hours")
            }
            LeaveOverlaps { from, to } => {
                write!(f, "leave {from}-{to} overlaps another leave span")
            }
        }
    }
}

impl WorkOrder {
    pub fn new(d: OrderDraft, svc: &Service, facts: OrderFacts) -> Result<WorkOrder, OrderError> {
        use OrderError::*;
        if !svc.contains(d.date) {
            return Err(OutsidePeriod {
                date: d.date,
                from: svc.from,
                to: svc.to,
            });
        }
        if let Some(reason) = facts.closed
            && !(d.shifted && d.holiday_ok)
        {
            return Err(ClosedDay {
                date: d.date,
                reason,
            });
        }
        if !facts.holds_id {
            return Err(NoTeleworkId {
                employee: d.employee,
                date: d.date,
            });
        }
        let (start, end) = d.hours.unwrap_or((svc.workday_start, svc.workday_end));
        if end <= start {
            return Err(EndNotAfterStart { start, end });
        }
        if end.0 - start.0 > svc.workday_len() {
            return Err(LongerThanWorkday {
                start,
                end,
                max_minutes: svc.workday_len(),
            });
        }
        if !d.shifted && !svc.in_workday(start, end) {
            return Err(NotShifted {
                start,
                end,
                workday: (svc.workday_start, svc.workday_end),
            });
        }
        if !facts.approver_is_supervisor {
            return Err(ApproverNotSupervisor {
                approver: d.approved_by,
            });
        }
        if d.content.trim().is_empty() {
            return Err(EmptyContent);
        }
        let mut leave = d.leave;
        leave.sort();
        for (i, &(from, to)) in leave.iter().enumerate() {
            if to <= from || from < start || to > end {
                return Err(LeaveOutsideHours { from, to });
            }
            if i > 0 && leave[i - 1].1 > from {
                return Err(LeaveOverlaps { from, to });
            }
        }
        Ok(WorkOrder {
            employee: d.employee,
            date: d.date,
            start,
            end,
            content: d.content.trim().to_string(),
            approved_by: d.approved_by,
            shifted: d.shifted,
            leave,
            holiday_ok: d.holiday_ok,
        })
    }

    /// Hours actually ordered, less hourly leave.
    pub fn working_minutes(&self) -> u32 {
        let leave: u32 = self.leave.iter().map(|(f, t)| t.0 - f.0).sum();
        self.end.0 - self.start.0 - leave
    }
}

/// When the start and end reports are expected: hourly leave covering the start moves it to the
/// end of that leave, and leave covering the end moves it to the leave's start.
pub fn expected_hours(
    start: Minutes,
    end: Minutes,
    leave: &[(Minutes, Minutes)],
) -> (Minutes, Minutes) {
    let mut s = start;
    let mut e = end;
    let mut spans = leave.to_vec();
    spans.sort();
    for &(from, to) in &spans {
        if from <= s && s < to {
            s = to;
        }
    }
    for &(from, to) in spans.iter().rev() {
        if from < e && e <= to {
            e = from;
        }
    }
    (s, e)
}

/// `13:00-15:00;16:00-17:15` (the optional `leave` column of `orders import`).
pub fn parse_leave(s: &str) -> Option<Vec<(Minutes, Minutes)>> {
    s.split([';', ' '])
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (a, b) = p.split_once(['-', '~', '〜'])?;
            Some((Minutes::parse(a)?, Minutes::parse(b)?))
        })
        .collect()
}

pub fn format_leave(spans: &[(Minutes, Minutes)]) -> String {
    spans
        .iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_back_and_an_unknown_one_is_never_approved() {
        for st in [
            OrderStatus::Draft,
            OrderStatus::Approved,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(OrderStatus::from_stored(st.as_str()), st);
        }
        assert_eq!(OrderStatus::from_stored("Approved"), OrderStatus::Cancelled);
        assert_eq!(OrderStatus::from_stored(""), OrderStatus::Cancelled);
    }
    use crate::calendar::parse_date;

    fn svc() -> Service {
        Service {
            from: parse_date("2020-11-27").unwrap(),
            to: parse_date("2022-03-31").unwrap(),
            licensed_ids: 50,
            workday_start: Minutes(510),
            workday_end: Minutes(1035),
        }
    }

    fn draft(date: &str, hours: Option<(&str, &str)>, shifted: bool) -> OrderDraft {
        OrderDraft {
            employee: "E1001".into(),
            date: parse_date(date).unwrap(),
            hours: hours.map(|(a, b)| (Minutes::parse(a).unwrap(), Minutes::parse(b).unwrap())),
            content: "文書作成".into(),
            approved_by: "E2001".into(),
            shifted,
            leave: vec![],
            holiday_ok: false,
        }
    }

    const OK: OrderFacts = OrderFacts {
        holds_id: true,
        approver_is_supervisor: true,
        closed: None,
    };

    #[test]
    fn an_order_without_hours_gets_the_standard_workday() {
        let o = WorkOrder::new(draft("2021-01-12", None, false), &svc(), OK).unwrap();
        assert_eq!(
            (o.start.to_string(), o.end.to_string()),
            ("08:30".into(), "17:15".into())
        );
        assert_eq!(o.working_minutes(), 525);
    }

    #[test]
    fn the_service_period_bounds_are_inclusive() {
        let table = [
            ("2020-11-26", false),
            ("2020-11-27", true),
            ("2022-03-31", true),
            ("2022-04-01", false),
        ];
        for (date, ok) in table {
            let r = WorkOrder::new(draft(date, None, false), &svc(), OK);
            assert_eq!(r.is_ok(), ok, "{date}: {r:?}");
        }
    }

    #[test]
    fn hours_outside_the_workday_need_the_shifted_flag() {
        let r = WorkOrder::new(
            draft("2021-01-12", Some(("07:30", "16:15")), false),
            &svc(),
            OK,
        );
        assert!(matches!(r, Err(OrderError::NotShifted { .. })));
        assert_eq!(r.unwrap_err().field(), "shifted");
        let o = WorkOrder::new(
            draft("2021-01-12", Some(("07:30", "16:15")), true),
            &svc(),
            OK,
        )
        .unwrap();
        assert_eq!(o.start, Minutes(450));
    }

    #[test]
    fn no_order_is_longer_than_the_standard_workday_even_shifted() {
        let r = WorkOrder::new(
            draft("2021-01-12", Some(("08:00", "17:16")), true),
            &svc(),
            OK,
        );
        assert!(
            matches!(r, Err(OrderError::LongerThanWorkday { .. })),
            "{r:?}"
        );
        assert!(
            WorkOrder::new(
                draft("2021-01-12", Some(("08:00", "16:45")), true),
                &svc(),
                OK
            )
            .is_ok()
        );
    }

    #[test]
    fn a_shorter_day_inside_the_workday_needs_no_flag() {
        assert!(
            WorkOrder::new(
                draft("2021-01-12", Some(("09:00", "12:00")), false),
                &svc(),
                OK
            )
            .is_ok()
        );
    }

    #[test]
    fn end_must_come_after_start() {
        let r = WorkOrder::new(
            draft("2021-01-12", Some(("12:00", "12:00")), false),
            &svc(),
            OK,
        );
        assert!(matches!(r, Err(OrderError::EndNotAfterStart { .. })));
    }

    #[test]
    fn an_order_needs_an_id_and_a_supervisor_of_the_department() {
        let r = WorkOrder::new(
            draft("2021-01-12", None, false),
            &svc(),
            OrderFacts {
                holds_id: false,
                ..OK
            },
        );
        assert_eq!(r.unwrap_err().field(), "employee_id");
        let r = WorkOrder::new(
            draft("2021-01-12", None, false),
            &svc(),
            OrderFacts {
                approver_is_supervisor: false,
                ..OK
            },
        );
        assert_eq!(r.unwrap_err().field(), "approved_by");
    }

    #[test]
    fn leave_must_lie_inside_the_order_and_not_overlap() {
        let mut d = draft("2021-01-12", None, false);
        d.leave = parse_leave("13:00-15:00").unwrap();
        assert!(WorkOrder::new(d.clone(), &svc(), OK).is_ok());
        d.leave = parse_leave("07:00-09:00").unwrap();
        assert_eq!(
            WorkOrder::new(d.clone(), &svc(), OK).unwrap_err().field(),
            "leave"
        );
        d.leave = parse_leave("13:00-15:00;14:00-16:00").unwrap();
        assert!(matches!(
            WorkOrder::new(d, &svc(), OK),
            Err(OrderError::LeaveOverlaps { .. })
        ));
    }

    #[test]
    fn leave_at_either_end_moves_the_expected_report() {
        let (s, e) = (Minutes(510), Minutes(1035));
        assert_eq!(expected_hours(s, e, &[]), (s, e));
        assert_eq!(
            expected_hours(s, e, &[(Minutes(510), Minutes(630))]),
            (Minutes(630), e)
        );
        assert_eq!(
            expected_hours(s, e, &[(Minutes(900), Minutes(1035))]),
            (s, Minutes(900))
        );
        assert_eq!(
            expected_hours(s, e, &[(Minutes(720), Minutes(780))]),
            (s, e)
        );
    }

    #[test]
    fn a_closed_day_needs_shifted_and_holiday_ok_from_a_supervisor() {
        let closed = || OrderFacts {
            closed: Some("海の日".into()),
            ..OK
        };
        let mut d = draft("2021-07-22", None, false);
        let e = WorkOrder::new(d.clone(), &svc(), closed()).unwrap_err();
        assert_eq!(e.field(), "date");
        assert_eq!(e.message_ja(), "2021-07-22 は海の日です");
        assert!(
            e.to_string().starts_with("2021-07-22 は海の日です: "),
            "{e}"
        );
        // Either flag alone is not enough.
        d.holiday_ok = true;
        assert!(WorkOrder::new(d.clone(), &svc(), closed()).is_err());
        let mut s = draft("2021-07-22", None, true);
        assert!(WorkOrder::new(s.clone(), &svc(), closed()).is_err());
        s.holiday_ok = true;
        let o = WorkOrder::new(s, &svc(), closed()).unwrap();
        assert!(o.holiday_ok && o.shifted);
        // The approver is still checked on a closed day.
        let mut s = draft("2021-07-22", None, true);
        s.holiday_ok = true;
        let r = WorkOrder::new(
            s,
            &svc(),
            OrderFacts {
                approver_is_supervisor: false,
                ..closed()
            },
        );
        assert_eq!(r.unwrap_err().field(), "approved_by");
    }

    #[test]
    fn error_messages_exist_in_japanese_for_the_web_register() {
        let e = OrderError::NoTeleworkId {
            employee: "E1".into(),
            date: parse_date("2021-01-12").unwrap(),
        };
        assert!(e.message_ja().contains("テレワーク用ID"));
    }
}
