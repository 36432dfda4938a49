//! What a message is and what it causes (SPEC §4): automatic mail, unknown sender, no order,
//! unclassified or a matched report, and which replies and notices follow. Pure: the sender's
//! record and the day's order are looked up by the caller and passed in.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::classify::{Classification, Kind, classify_with_summary};
use crate::config::Timing;
use crate::mail::parse::Incoming;
use crate::notice::Notice;
use crate::order::expected_hours;
use crate::store::{Employee, OrderRow};
use crate::timing::{Status, end_status, start_status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reason {
    Matched,
    NoOrder,
    UnknownSender,
    Unclassified,
    AutoReply,
    /// Mail (or a chat event) the intake cannot use: kept, shown to IT.
    #[default]
    Unparseable,
    /// A supervisor's reply resolving an escalation (not a teleworker's report).
    Resolution,
    /// `[mail] trust_authentication_results` is set and the city's server did not vouch for
    /// the sender: recorded, answered to nobody, shown to IT.
    Unauthenticated,
    /// The loop breaker: the address had its day's automatic answers already.
    RateLimited,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::Matched,
        Reason::NoOrder,
        Reason::UnknownSender,
        Reason::Unclassified,
        Reason::AutoReply,
        Reason::Unparseable,
        Reason::Resolution,
        Reason::Unauthenticated,
        Reason::RateLimited,
    ];

    /// Inverse of [`Reason::as_str`] (the name stored in the database).
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The name on the board and in the IT summary.
    pub fn ja(self) -> &'static str {
        match self {
            Reason::Matched => "照合済",
            Reason::NoOrder => "勤務命令なし",
            Reason::UnknownSender => "未登録の差出人",
            Reason::Unclassified => "判別不能",
            Reason::AutoReply => "自動応答",
            Reason::Unparseable => "解析不能",
            Reason::Unauthenticated => "送信元未確認",
            Reason::RateLimited => "返信上限超過",
            Reason::Resolution => "その他",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Matched => "matched",
            Reason::NoOrder => "no_order",
            Reason::UnknownSender => "unknown_sender",
            Reason::Unclassified => "unclassified",
            Reason::AutoReply => "auto_reply",
            Reason::Unparseable => "unparseable",
            Reason::Resolution => "resolution",
            Reason::Unauthenticated => "unauthenticated",
            Reason::RateLimited => "rate_limited",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Written as its stored name (`"no_order"`), as the JSON contract has it.
impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub class: Classification,
    pub reason: Reason,
    /// The answer to the sender, if any (never for automatic mail or strangers).
    pub reply: Option<Notice>,
    /// What the department's supervisors are told at once.
    pub notify: Vec<Notice>,
    /// Start or end timing at arrival, for the acknowledgement.
    pub status: Option<Status>,
    /// The day's work summary (日報) for end reports.
    pub summary: String,
}

pub struct Facts<'a> {
    pub employee: Option<&'a Employee>,
    pub order: Option<&'a OrderRow>,
    pub arrival: DateTime<Utc>,
    pub tz: Tz,
    pub timing: &'a Timing,
}

pub fn decide(m: &Incoming, f: &Facts<'_>) -> Decision {
    let (class, summary) = classify_with_summary(&m.subject, &m.body);
    decide_classified(m, f, class, &summary)
}

/// `decide`, with the message already classified and its work summary read
/// (`classify::classify_with_summary`), which depend on the message alone and so may be done
/// ahead, on another thread. The summary is kept on the decision of an end report only.
pub fn decide_classified(
    m: &Incoming,
    f: &Facts<'_>,
    class: Classification,
    summary: &str,
) -> Decision {
    let summary = if class.kind == Kind::End {
        summary.to_string()
    } else {
        String::new()
    };
    let base = Decision {
        class: class.clone(),
        reason: Reason::Matched,
        reply: None,
        notify: vec![],
        status: None,
        summary,
    };
    // Automatic mail first, whoever sent it: answering it risks a mail loop.
    if m.auto_reply.is_some() {
        // What an autoresponder quotes is not the teleworker speaking: no kind, no incident.
        let class = Classification {
            kind: Kind::Unclassified,
            leave: false,
            incident: false,
            ..class
        };
        return Decision {
            class,
            reason: Reason::AutoReply,
            summary: String::new(),
            ..base
        };
    }
    if f.employee.is_none() {
        // No backscatter: a stranger (or a forged sender) gets nothing.
        return Decision {
            reason: Reason::UnknownSender,
            ..base
        };
    }
    let incident = if class.incident {
        vec![Notice::IncidentAlert]
    } else {
        vec![]
    };
    let Some(order) = f.order else {
        // Mail with no report in it (no word of the table, or both start and end) on a day
        // without an order: nothing to say "no order" about, and asking "start or end?" about
        // a day without work would only start a conversation. Recorded, not answered; an
        // incident word still tells the supervisors.
        if class.kind == Kind::Unclassified {
            return Decision {
                reason: Reason::Unclassified,
                notify: incident,
                ..base
            };
        }
        let mut notify = vec![Notice::NoOrderAlert];
        notify.extend(incident);
        return Decision {
            reason: Reason::NoOrder,
            reply: Some(Notice::NoOrderAnswer),
            notify,
            ..base
        };
    };
    if class.kind == Kind::Unclassified {
        return Decision {
            reason: Reason::Unclassified,
            reply: Some(Notice::Question),
            notify: incident,
            ..base
        };
    }
    let (exp_start, exp_end) = expected_hours(order.start, order.end, &order.leave);
    let status = match class.kind {
        Kind::Start => Some(start_status(
            exp_start.on(order.date, f.tz).with_timezone(&Utc),
            Some(f.arrival),
            f.arrival,
            f.timing,
        )),
        Kind::End => Some(end_status(
            exp_end.on(order.date, f.tz).with_timezone(&Utc),
            Some(f.arrival),
            f.arrival,
            f.timing,
        )),
        _ => None,
    };
    Decision {
        reason: Reason::Matched,
        reply: Some(Notice::Ack),
        notify: incident,
        status,
        ..base
    }
}

pub fn kind_label(k: Kind) -> &'static str {
    match k {
        Kind::Start => "業務開始",
        Kind::End => "業務終了",
        Kind::Leave => "時間休",
        Kind::Incident => "事故・災害",
        Kind::Unclassified => "連絡",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{Minutes, parse_date};
    use crate::store::Role;
    use chrono::TimeZone;

    fn mail(subject: &str, body: &str) -> Incoming {
        Incoming {
            message_id: Some("m@pc".into()),
            key: "mid:m@pc".into(),
            from: "yamada@city.example.lg.jp".into(),
            subject: subject.into(),
            body: body.into(),
            date_header: None,
            received: None,
            auto_reply: None,
            in_reply_to: vec![],
            references: vec![],
            auth_results: vec![],
        }
    }

    fn emp() -> Employee {
        Employee {
            employee_id: "E1001".into(),
            name: "山田太郎".into(),
            department: "情報管理課".into(),
            role: Role::Teleworker,
            emails: vec!["yamada@city.example.lg.jp".into()],
            chat_ids: Default::default(),
            active: true,
        }
    }

    fn order() -> OrderRow {
        OrderRow {
            id: 7,
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

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(2021, 1, 12, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn decide_with(
        m: &Incoming,
        employee: Option<&Employee>,
        order: Option<&OrderRow>,
        arrival: DateTime<Utc>,
    ) -> Decision {
        let timing = Timing::default();
        decide(
            m,
            &Facts {
                employee,
                order,
                arrival,
                tz: chrono_tz::Asia::Tokyo,
                timing: &timing,
            },
        )
    }

    #[test]
    fn a_start_on_time_is_matched_and_acknowledged() {
        let (e, o) = (emp(), order());
        let d = decide_with(&mail("業務開始", ""), Some(&e), Some(&o), at(8, 27));
        assert_eq!(
            (d.reason, d.reply, d.status),
            (Reason::Matched, Some(Notice::Ack), Some(Status::OnTime))
        );
    }

    #[test]
    fn a_late_start_is_still_acknowledged_with_its_status() {
        let (e, o) = (emp(), order());
        let d = decide_with(&mail("業務開始", ""), Some(&e), Some(&o), at(8, 50));
        assert_eq!(d.status, Some(Status::Late));
    }

    #[test]
    fn strangers_and_autoreplies_get_no_answer() {
        let (e, o) = (emp(), order());
        let d = decide_with(&mail("業務開始", ""), None, None, at(8, 27));
        assert_eq!((d.reason, d.reply), (Reason::UnknownSender, None));
        let mut auto = mail("業務開始", "");
        auto.auto_reply = Some("Auto-Submitted".into());
        let d = decide_with(&auto, Some(&e), Some(&o), at(8, 27));
        assert_eq!(
            (d.reason, d.reply, d.notify.len()),
            (Reason::AutoReply, None, 0)
        );
    }

    #[test]
    fn no_order_answers_the_sender_and_tells_the_supervisors() {
        let e = emp();
        let d = decide_with(&mail("業務開始", ""), Some(&e), None, at(8, 27));
        assert_eq!(
            (d.reason, d.reply),
            (Reason::NoOrder, Some(Notice::NoOrderAnswer))
        );
        assert_eq!(d.notify, vec![Notice::NoOrderAlert]);
    }

    #[test]
    fn unclassified_mail_on_a_day_without_an_order_is_recorded_and_not_answered() {
        let e = emp();
        for (subject, body) in [
            ("お疲れ様です", "資料を送ります"),
            ("9時に開始、18時に終了します", ""),
        ] {
            let d = decide_with(&mail(subject, body), Some(&e), None, at(10, 0));
            assert_eq!(
                (d.class.kind, d.reason, d.reply, d.notify.len()),
                (Kind::Unclassified, Reason::Unclassified, None, 0),
                "{subject}"
            );
        }
        // With an order the sender is asked which one it was.
        let o = order();
        let d = decide_with(&mail("お疲れ様です", ""), Some(&e), Some(&o), at(10, 0));
        assert_eq!(
            (d.reason, d.reply),
            (Reason::Unclassified, Some(Notice::Question))
        );
    }

    #[test]
    fn every_report_kind_on_a_day_without_an_order_gets_the_no_order_answer() {
        let e = emp();
        for (subject, kind) in [
            ("業務開始", Kind::Start),
            ("業務終了", Kind::End),
            ("時間休の申請", Kind::Leave),
        ] {
            let d = decide_with(&mail(subject, ""), Some(&e), None, at(10, 0));
            assert_eq!(
                (d.class.kind, d.reason, d.reply),
                (kind, Reason::NoOrder, Some(Notice::NoOrderAnswer)),
                "{subject}"
            );
            assert_eq!(d.notify, vec![Notice::NoOrderAlert], "{subject}");
        }
        let d = decide_with(
            &mail("通勤中に事故に遭いました", ""),
            Some(&e),
            None,
            at(10, 0),
        );
        assert_eq!(
            (d.class.kind, d.reason, d.reply),
            (Kind::Incident, Reason::NoOrder, Some(Notice::NoOrderAnswer))
        );
        assert_eq!(d.notify, vec![Notice::NoOrderAlert, Notice::IncidentAlert]);
    }

    #[test]
    fn an_incident_word_in_unclassified_mail_without_an_order_still_tells_the_supervisors() {
        let e = emp();
        let d = decide_with(
            &mail("開始と終了の件", "地震で本棚が倒れました"),
            Some(&e),
            None,
            at(10, 0),
        );
        assert_eq!(
            (d.class.kind, d.reason, d.reply),
            (Kind::Unclassified, Reason::Unclassified, None)
        );
        assert_eq!(d.notify, vec![Notice::IncidentAlert]);
    }

    #[test]
    fn an_incident_word_tells_the_supervisors_whatever_the_kind() {
        let (e, o) = (emp(), order());
        let d = decide_with(
            &mail("業務開始", "地震で本棚が倒れました"),
            Some(&e),
            Some(&o),
            at(8, 27),
        );
        assert_eq!(d.class.kind, Kind::Start);
        assert_eq!(d.notify, vec![Notice::IncidentAlert]);
    }

    #[test]
    fn end_reports_keep_the_work_summary() {
        let (e, o) = (emp(), order());
        let d = decide_with(
            &mail(
                "業務終了",
                "本日の業務を終了します。\n議事録を作成しました。",
            ),
            Some(&e),
            Some(&o),
            at(17, 10),
        );
        assert!(
            d.summary.contains("議事録を作成しました"),
            "{:?}",
            d.summary
        );
        assert_eq!(d.status, Some(Status::OnTime));
    }
}
