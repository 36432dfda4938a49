//! The day's board (`zaitaku status`): each ordered teleworker with start/end status, the
//! reports, leave and escalations, and the mail that matched no order. Built from plain rows by
//! a pure function, so the CLI, the web page and `--json` show the same thing.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::Minutes;
use crate::classify::Kind;
use crate::config::Timing;
use crate::order::expected_hours;
use crate::report::Reason;
use crate::store::OrderRow;
use crate::timing::{end_status, start_status};

/// A report as the board needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: i64,
    pub order_id: Option<i64>,
    pub employee_id: Option<String>,
    pub sender: String,
    pub kind: Kind,
    pub reason: Reason,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub leave_noted: bool,
    pub incident: bool,
    pub summary: String,
    pub subject: String,
}

/// An escalation step as the board needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRow {
    pub order_id: i64,
    pub kind: String,
    pub step: i64,
    pub to: Vec<String>,
    pub at: DateTime<Utc>,
    pub status: String,
    /// 0 for a step's first sending, n for its n-th repeat.
    pub repeat: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Board {
    pub date: String,
    pub teleworkers: Vec<Teleworker>,
    pub unmatched: Vec<Unmatched>,
    /// Mail waiting to go out and mail that could not be delivered (all days): a failure must
    /// be seen, not only logged.
    pub outbox: OutboxState,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OutboxState {
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failure {
    pub to: String,
    pub subject: String,
    pub error: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Teleworker {
    pub employee_id: String,
    pub name: String,
    pub department: String,
    pub order: Hours,
    pub content: String,
    pub shifted: bool,
    /// Ordered for a day the city hall is closed, with a supervisor's explicit approval.
    pub holiday_ok: bool,
    pub start: Slot,
    pub end: Slot,
    pub reports: Vec<ReportRef>,
    pub leave: Vec<Span>,
    pub escalations: Vec<EscalationRef>,
    /// The end report's text: the day's work summary (日報).
    pub summary: Option<String>,
    pub incident: bool,
    /// Who stamped the order (SPEC §11): the supervisor, the deputy who stamped for them
    /// (代決), the division head of the second step.
    pub approval: Approval,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Approval {
    pub approved_by: Option<String>,
    pub deputy: Option<String>,
    pub division_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hours {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slot {
    pub status: &'static str,
    pub at: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportRef {
    pub kind: Kind,
    pub at: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Span {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EscalationRef {
    pub kind: String,
    pub step: i64,
    pub to: Vec<String>,
    pub at: String,
    pub status: String,
    /// An added field (SPEC §11): 0 for the step's first sending, n for its n-th repeat.
    pub repeat: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unmatched {
    pub from: String,
    pub kind: Kind,
    pub reason: Reason,
    pub at: String,
    pub subject: String,
}

/// A moment as the board prints it: RFC 3339 in the city's offset, in whole seconds as the
/// store keeps them (`2021-01-12T08:27:00+09:00`).
pub fn rfc3339(at: DateTime<Utc>, tz: Tz) -> String {
    at.trunc_subsecs(0).with_timezone(&tz).to_rfc3339()
}

/// The local clock time of a board time (`"2021-01-12T08:27:00+09:00"` → `"08:27"`), read as
/// the RFC 3339 it is, in the offset it carries (the city's); `None` for anything else.
pub fn clock_time(rfc3339: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(rfc3339).ok().map(|t| {
        use chrono::Timelike;
        // What `format("%H:%M")` writes, without parsing a format string for every time shown
        // (a first load of 自分の在宅勤務 shows about twenty; docs/benchmarks.md).
        format!("{:02}:{:02}", t.hour(), t.minute())
    })
}

/// `at` as `"2021-01-12 08:27"` (`format("%Y-%m-%d %H:%M")`) in its own offset or zone: the
/// pages' `local` filter. Written directly for the years chrono writes as four digits, through
/// chrono's format for any other (a sign, more digits), so the text is the same for all.
pub fn minute_text<T: chrono::TimeZone>(at: &DateTime<T>) -> String
where
    T::Offset: std::fmt::Display,
{
    use chrono::{Datelike, Timelike};
    let year = at.year();
    if !(0..=9999).contains(&year) {
        return at.format("%Y-%m-%d %H:%M").to_string();
    }
    format!(
        "{year:04}-{:02}-{:02} {:02}:{:02}",
        at.month(),
        at.day(),
        at.hour(),
        at.minute()
    )
}

pub struct BoardInput<'a> {
    pub date: NaiveDate,
    pub orders: &'a [OrderRow],
    pub reports: &'a [ReportRow],
    pub escalations: &'a [EscalationRow],
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub timing: &'a Timing,
}

pub fn build(input: BoardInput<'_>) -> Board {
    let teleworkers = input.orders.iter().map(|o| teleworker(o, &input)).collect();
    let BoardInput {
        date, reports, tz, ..
    } = input;
    let unmatched = reports
        .iter()
        .filter(|r| !matches!(r.reason, Reason::Matched | Reason::Resolution))
        .map(|r| Unmatched {
            from: r.sender.clone(),
            kind: r.kind,
            reason: r.reason,
            at: rfc3339(r.received_at, tz),
            subject: r.subject.clone(),
        })
        .collect();
    Board {
        date: date.to_string(),
        teleworkers,
        unmatched,
        outbox: OutboxState::default(),
    }
}

/// One ordered teleworker's row: start and end judged at `now`, the matched reports, the
/// leave and the escalation steps of the order.
fn teleworker(o: &OrderRow, input: &BoardInput<'_>) -> Teleworker {
    let BoardInput {
        date,
        reports,
        escalations,
        now,
        tz,
        timing,
        ..
    } = *input;
    let at = |m: Minutes| m.on(date, tz).with_timezone(&Utc);
    let mine: Vec<&ReportRow> = reports
        .iter()
        .filter(|r| r.order_id == Some(o.id) && r.reason == Reason::Matched)
        .collect();
    let first_start = mine
        .iter()
        .filter(|r| r.kind == Kind::Start)
        .min_by_key(|r| r.received_at);
    let last_end = mine
        .iter()
        .filter(|r| r.kind == Kind::End)
        .max_by_key(|r| r.received_at);
    let (exp_start, exp_end) = expected_hours(o.start, o.end, &o.leave);
    let slot = |r: Option<&&ReportRow>, status: crate::timing::Status| Slot {
        status: status.as_str(),
        at: r.map(|r| rfc3339(r.received_at, tz)),
        source: r.map(|r| r.source.clone()),
    };
    let start = slot(
        first_start,
        start_status(
            at(exp_start),
            first_start.map(|r| r.received_at),
            now,
            timing,
        ),
    );
    let end = slot(
        last_end,
        end_status(at(exp_end), last_end.map(|r| r.received_at), now, timing),
    );
    Teleworker {
        approval: Approval {
            approved_by: o.approved_by.clone(),
            deputy: o.deputy_by.clone(),
            division_by: o.division_by.clone(),
        },
        employee_id: o.employee_id.clone(),
        name: o.employee_name.clone(),
        department: o.department.clone(),
        order: Hours {
            start: o.start.to_string(),
            end: o.end.to_string(),
        },
        content: o.content.clone(),
        shifted: o.shifted,
        holiday_ok: o.holiday_ok,
        start,
        end,
        reports: report_refs(&mine, tz),
        leave: o
            .leave
            .iter()
            .map(|(f, t)| Span {
                from: f.to_string(),
                to: t.to_string(),
            })
            .collect(),
        escalations: escalation_refs(escalations, o.id, tz),
        summary: last_end
            .map(|r| r.summary.clone())
            .filter(|s| !s.is_empty()),
        incident: mine.iter().any(|r| r.incident),
    }
}

/// An order's matched reports in the order they came.
fn report_refs(mine: &[&ReportRow], tz: Tz) -> Vec<ReportRef> {
    let mut sorted = mine.to_vec();
    sorted.sort_by_key(|r| (r.received_at, r.id));
    sorted
        .iter()
        .map(|r| ReportRef {
            kind: r.kind,
            at: rfc3339(r.received_at, tz),
            source: r.source.clone(),
        })
        .collect()
}

/// The escalation steps of order `order_id`.
fn escalation_refs(escalations: &[EscalationRow], order_id: i64, tz: Tz) -> Vec<EscalationRef> {
    escalations
        .iter()
        .filter(|e| e.order_id == order_id)
        .map(|e| EscalationRef {
            kind: e.kind.clone(),
            step: e.step,
            to: e.to.clone(),
            at: rfc3339(e.at, tz),
            status: e.status.clone(),
            repeat: e.repeat,
        })
        .collect()
}

impl Board {
    /// The plain-text board for a terminal, in Japanese.
    pub fn render_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} の在宅勤務 ({} 名)",
            self.date,
            self.teleworkers.len()
        );
        if self.teleworkers.is_empty() {
            let _ = writeln!(out, "  この日の在宅勤務命令はありません");
        }
        let hm = |s: &Option<String>| {
            s.as_deref()
                .and_then(clock_time)
                .unwrap_or_else(|| "--:--".into())
        };
        for t in &self.teleworkers {
            let hours = format!(
                "{}-{}{}",
                t.order.start,
                t.order.end,
                if t.shifted { "(割振)" } else { "" }
            );
            let _ = writeln!(
                out,
                "  {} {} {} 命令 {} 開始 {} {} 終了 {} {}{}",
                pad(&t.employee_id, 7),
                pad(&t.name, 10),
                pad(&t.department, 12),
                pad(&hours, 17),
                hm(&t.start.at),
                pad(status_ja(t.start.status), 4),
                hm(&t.end.at),
                pad(status_ja(t.end.status), 4),
                if t.incident {
                    "  ⚠ 事故・災害の連絡あり"
                } else {
                    ""
                },
            );
            for l in &t.leave {
                let _ = writeln!(out, "          時間休 {}-{}", l.from, l.to);
            }
            for e in &t.escalations {
                let _ = writeln!(
                    out,
                    "          督促 {} 第{}段階 {} → {} ({})",
                    escalation_ja(&e.kind),
                    e.step,
                    hm(&Some(e.at.clone())),
                    e.to.join(","),
                    e.status
                );
            }
            if let Some(s) = &t.summary {
                for line in s.lines().take(3) {
                    let _ = writeln!(out, "          日報: {line}");
                }
            }
        }
        if self.outbox.queued > 0 || self.outbox.failed > 0 {
            let _ = writeln!(
                out,
                "送信待ちのメール {} 通、送信できなかったメール {} 通",
                self.outbox.queued, self.outbox.failed
            );
            for f in &self.outbox.failures {
                let _ = writeln!(
                    out,
                    "  ✗ {} {} {} ({})",
                    hm(&Some(f.at.clone())),
                    f.to,
                    f.subject,
                    f.error
                );
            }
        }
        if !self.unmatched.is_empty() {
            let _ = writeln!(out, "照合できなかったメール ({} 件)", self.unmatched.len());
            for u in &self.unmatched {
                let _ = writeln!(
                    out,
                    "  {} {} {} {}",
                    hm(&Some(u.at.clone())),
                    pad(u.reason.ja(), 14),
                    pad(&u.from, 28),
                    u.subject
                );
            }
        }
        out
    }
}

pub fn status_ja(s: &str) -> &'static str {
    match s {
        "early" => "早い",
        "on_time" => "定時",
        "late" => "遅れ",
        "missing" => "未着",
        _ => "待ち",
    }
}

/// The Japanese name of a stored reason (`no_order` → 勤務命令なし), for the templates.
pub fn reason_ja(s: &str) -> &'static str {
    Reason::parse(s).map_or("その他", Reason::ja)
}

pub fn escalation_ja(s: &str) -> &'static str {
    match s {
        "missing_start" => "開始連絡なし",
        "missing_end" => "終了連絡なし",
        "no_order" => "勤務命令なし",
        "incident" => "事故・災害",
        _ => "その他",
    }
}

/// Display width in a terminal: CJK and full-width characters take two columns.
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            let wide = (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c);
            if wide { 2 } else { 1 }
        })
        .sum()
}

/// Left-aligns to a display width.
pub fn pad(s: &str, cols: usize) -> String {
    let w = width(s);
    format!("{s}{}", " ".repeat(cols.saturating_sub(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_shows_as_chrono_formats_it_whatever_the_year() {
        use chrono::TimeZone;
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        for (y, mo, d, h, mi) in [
            (2021, 1, 12, 23, 27),
            (2021, 12, 31, 15, 0),
            (1970, 1, 1, 0, 0),
            (9999, 12, 31, 14, 59),
            (10000, 1, 1, 0, 0),
            (123, 4, 5, 6, 7),
            (-1, 1, 1, 0, 0),
        ] {
            let at = Utc.with_ymd_and_hms(y, mo, d, h, mi, 59).unwrap();
            let local = at.with_timezone(&tz);
            assert_eq!(
                minute_text(&local),
                local.format("%Y-%m-%d %H:%M").to_string()
            );
            assert_eq!(minute_text(&at), at.format("%Y-%m-%d %H:%M").to_string());
        }
    }

    #[test]
    fn a_board_time_shows_as_its_local_clock_time() {
        assert_eq!(
            clock_time("2021-01-12T08:27:00+09:00").as_deref(),
            Some("08:27")
        );
        assert_eq!(clock_time("2021-01-12T23:59:59Z").as_deref(), Some("23:59"));
        assert_eq!(
            clock_time("2021-01-12T00:05:00+09:00").as_deref(),
            Some("00:05")
        );
        assert_eq!(clock_time(""), None);
        assert_eq!(clock_time("08:27"), None);
    }
    use crate::calendar::parse_date;
    use chrono::TimeZone;

    fn order() -> OrderRow {
        OrderRow {
            id: 1,
            employee_id: "E1001".into(),
            date: parse_date("2021-01-12").unwrap(),
            start: Minutes(510),
            end: Minutes(1035),
            content: "文書作成".into(),
            approved_by: Some("E2001".into()),
            shifted: false,
            leave: vec![],
            status: crate::order::OrderStatus::Approved,
            employee_name: "山田太郎".into(),
            department: "情報管理課".into(),
            holiday_ok: false,
            deputy_by: None,
            division_by: None,
        }
    }

    fn tokyo(h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(2021, 1, 12, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn report(kind: &str, h: u32, m: u32) -> ReportRow {
        ReportRow {
            id: 1,
            order_id: Some(1),
            employee_id: Some("E1001".into()),
            sender: "yamada@city.example.lg.jp".into(),
            kind: Kind::parse(kind).unwrap(),
            reason: Reason::Matched,
            source: "maildir".into(),
            received_at: tokyo(h, m),
            leave_noted: false,
            incident: false,
            summary: "議事録作成".into(),
            subject: "".into(),
        }
    }

    fn board(reports: &[ReportRow], now: DateTime<Utc>) -> Board {
        let orders = [order()];
        build(BoardInput {
            date: parse_date("2021-01-12").unwrap(),
            orders: &orders,
            reports,
            escalations: &[],
            now,
            tz: chrono_tz::Asia::Tokyo,
            timing: &Timing::default(),
        })
    }

    #[test]
    fn japanese_text_is_padded_by_display_width() {
        assert_eq!(width("情報管理課"), 10);
        assert_eq!(pad("E1", 4), "E1  ");
        assert_eq!(pad("財政課", 8), "財政課  ");
    }

    #[test]
    fn an_order_without_reports_is_pending_in_the_morning() {
        let b = board(&[], tokyo(8, 0));
        let t = &b.teleworkers[0];
        assert_eq!((t.start.status, t.end.status), ("pending", "pending"));
        assert_eq!(
            t.order,
            Hours {
                start: "08:30".into(),
                end: "17:15".into()
            }
        );
    }

    #[test]
    fn a_start_at_0827_is_on_time_and_shown_in_local_time() {
        let b = board(&[report("start", 8, 27)], tokyo(12, 0));
        let t = &b.teleworkers[0];
        assert_eq!(t.start.status, "on_time");
        assert_eq!(t.start.at.as_deref(), Some("2021-01-12T08:27:00+09:00"));
        assert_eq!(t.end.status, "pending");
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["teleworkers"][0]["reports"][0]["kind"], "start");
    }

    #[test]
    fn the_end_report_summary_is_the_days_work_summary() {
        let b = board(
            &[report("start", 8, 27), report("end", 17, 10)],
            tokyo(18, 0),
        );
        assert_eq!(b.teleworkers[0].end.status, "on_time");
        assert_eq!(b.teleworkers[0].summary.as_deref(), Some("議事録作成"));
        assert!(b.render_text().contains("日報: 議事録作成"));
        assert!(b.render_text().contains("定時"));
    }
}
