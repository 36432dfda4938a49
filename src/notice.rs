//! What zaitaku says, as the rules and the scheduler decide it (issue 16): a `Notice` names
//! the message, and everything else follows from it — the template that words it, the
//! outbox's `purpose` and cause, and, for the notices to supervisors, the escalation kind the
//! board and the survey count. The rules return a `Notice`, never a file name.

use std::fmt;

use crate::config::Recipient;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// 受付: a start or end report matched to the day's order.
    Ack,
    /// A report on a day without an order, answered so the teleworker knows.
    NoOrderAnswer,
    /// "Start or end?": a mail with no report in it (or both) on an ordered day.
    Question,
    /// 【要確認】 to the supervisors: a report on a day without an order.
    NoOrderAlert,
    /// 【至急】 to the supervisors: an accident or disaster word.
    IncidentAlert,
    /// A step of an escalation chain (no report by the deadline), to its recipients.
    EscalationStep(Recipient),
    /// The supervisors' digest of the day.
    Digest,
    /// IT's daily summary of mail that could not be used.
    ItSummary,
    /// 差戻し: a request sent back to the teleworker with the supervisor's reason.
    SentBack,
}

impl Notice {
    /// The template under `templates/` that words it.
    pub fn template(self) -> &'static str {
        match self {
            Notice::Ack => "ack.txt",
            Notice::NoOrderAnswer => "no_order.txt",
            Notice::Question => "unclassified.txt",
            Notice::NoOrderAlert => "notify_no_order.txt",
            Notice::IncidentAlert => "notify_incident.txt",
            Notice::EscalationStep(Recipient::Teleworker) => "escalation_teleworker.txt",
            Notice::EscalationStep(_) => "escalation_supervisors.txt",
            Notice::Digest => "digest.txt",
            Notice::ItSummary => "it_summary.txt",
            Notice::SentBack => "sent_back.txt",
        }
    }

    /// The outbox's `purpose` (and the first part of a cause): the template's name, but for a
    /// step to HR, which is worded as the supervisors' and recorded as its own.
    pub fn purpose(self) -> &'static str {
        match self {
            Notice::EscalationStep(Recipient::Hr) => "escalation_hr",
            n => n.template().trim_end_matches(".txt"),
        }
    }

    /// The escalation a notice to the supervisors is recorded as (`no_order`, `incident`):
    /// shown on the board and counted by the survey. `None` for the others.
    pub fn escalation_kind(self) -> Option<&'static str> {
        match self {
            Notice::NoOrderAlert => Some("no_order"),
            Notice::IncidentAlert => Some("incident"),
            _ => None,
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.purpose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_its_template_purpose_and_escalation() {
        assert_eq!(Notice::Ack.template(), "ack.txt");
        assert_eq!(Notice::NoOrderAlert.purpose(), "notify_no_order");
        assert_eq!(
            Notice::EscalationStep(Recipient::Supervisors).purpose(),
            "escalation_supervisors"
        );
        assert_eq!(
            Notice::EscalationStep(Recipient::Teleworker).template(),
            "escalation_teleworker.txt"
        );
        assert_eq!(
            Notice::EscalationStep(Recipient::Hr).purpose(),
            "escalation_hr"
        );
        assert_eq!(Notice::IncidentAlert.escalation_kind(), Some("incident"));
        assert_eq!(Notice::Question.escalation_kind(), None);
    }

    #[test]
    fn every_template_a_notice_names_is_in_templates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for n in [
            Notice::Ack,
            Notice::NoOrderAnswer,
            Notice::Question,
            Notice::NoOrderAlert,
            Notice::IncidentAlert,
            Notice::EscalationStep(Recipient::Teleworker),
            Notice::EscalationStep(Recipient::Supervisors),
            Notice::Digest,
            Notice::ItSummary,
            Notice::SentBack,
        ] {
            assert!(dir.join(n.template()).is_file(), "{}", n.template());
        }
    }
}
