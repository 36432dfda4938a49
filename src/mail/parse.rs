//! One raw message in, the facts the rules need out: sender, subject, body text, Message-ID,
//! the server's receipt time, the `Date:` header, and whether it is automatic mail. Decoding
//! (ISO-2022-JP, Shift_JIS, encoded words, base64, quoted-printable, HTML-only) is mail-parser's.
//! Never panics: a message we cannot use comes back as `Err` with the reason, to be kept.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use mail_parser::{HeaderName, MessageParser, MimeHeaders};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Message-ID without angle brackets, when the message has one.
    pub message_id: Option<String>,
    /// What makes the message unique for "processed once": the Message-ID, else a content hash.
    pub key: String,
    /// The From address, lower-cased.
    pub from: String,
    pub subject: String,
    pub body: String,
    pub date_header: Option<DateTime<Utc>>,
    /// The topmost `Received:` header's time: when our server took the message.
    pub received: Option<DateTime<Utc>>,
    /// Why this is automatic mail (RFC 3834 and common practice), if it is.
    pub auto_reply: Option<String>,
    /// In-Reply-To and References, without angle brackets.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// The `Authentication-Results` header values, top to bottom (`mail::auth::vouched`).
    pub auth_results: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparseable {
    pub key: String,
    pub reason: &'static str,
    /// Whatever sender could be read, for the board.
    pub from: String,
    pub subject: String,
}

/// Parses the headers the rules read and the MIME structure; every other header stays raw. The
/// full parser's reading of each `Received:` line (a dozen tokens, several lines a mail) was a
/// fifth of parsing, and only the topmost line's date is wanted (`topmost_received`).
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_date(HeaderName::Date)
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_id(HeaderName::MessageId)
});

pub fn parse(raw: &[u8]) -> Result<Incoming, Unparseable> {
    let key_of_bytes = || format!("sha:{:016x}", fnv1a(raw));
    let Some(msg) = PARSER.parse(raw) else {
        return Err(Unparseable {
            key: key_of_bytes(),
            reason: "not a mail message",
            from: String::new(),
            subject: String::new(),
        });
    };
    let subject = msg.subject().unwrap_or("").trim().to_string();
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .unwrap_or_default();
    let message_id = msg
        .message_id()
        .map(|m| m.trim().trim_matches(['<', '>']).to_string())
        .filter(|m| !m.is_empty());
    let key = message_id
        .clone()
        .map(|m| format!("mid:{m}"))
        .unwrap_or_else(key_of_bytes);
    if from.is_empty() || !from.contains('@') && !is_system_sender(&from) {
        return Err(Unparseable {
            key,
            reason: "no sender address (From:)",
            from,
            subject,
        });
    }
    // Prefer text/plain; mail-parser falls back to the HTML part with the tags stripped.
    let body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    let date_header = msg
        .date()
        .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0));
    let received = topmost_received(&msg);

    // Only the headers the rules read: unfolding every Received: line cost a third of parsing.
    let headers: Vec<(String, String)> = msg
        .headers_raw()
        .filter(|(n, _)| RULE_HEADERS.iter().any(|r| n.eq_ignore_ascii_case(r)))
        .map(|(n, v)| (n.to_ascii_lowercase(), unfold(v)))
        .collect();
    let is_report = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let auto_reply = auto_reply_reason(&headers, &from, &subject, is_report);

    let ids = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| {
                v.split(|c: char| c.is_whitespace() || c == ',')
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .map(|s| s.trim_matches(['<', '>']).to_string())
            .filter(|s| s.contains('@'))
            .collect()
    };
    Ok(Incoming {
        message_id,
        key,
        from,
        subject,
        body,
        date_header,
        received,
        auto_reply,
        in_reply_to: ids("in-reply-to"),
        references: ids("references"),
        auth_results: headers
            .iter()
            .filter(|(n, _)| n == "authentication-results")
            .map(|(_, v)| v.clone())
            .collect(),
    })
}

/// The headers `auto_reply_reason` and the threading read, lower case.
const RULE_HEADERS: &[&str] = &[
    "auto-submitted",
    "precedence",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "in-reply-to",
    "references",
    "authentication-results",
];

/// The first `Received:` header is the one our own server added last: its date is the arrival.
fn topmost_received(msg: &mail_parser::Message<'_>) -> Option<DateTime<Utc>> {
    let raw = msg
        .headers_raw()
        .find(|(n, _)| n.eq_ignore_ascii_case("received"))
        .map(|(_, v)| unfold(v))?;
    let after = raw.rsplit_once(';').map(|(_, d)| d.trim())?;
    let parsed = mail_parser::DateTime::parse_rfc822(after).or_else(|| {
        // An odd date: mail-parser's full Received: parser, on this one line.
        let one = format!("Received: {raw}\r\n\r\n");
        MessageParser::default()
            .parse(one.as_bytes())
            .and_then(|m| m.received_all().next().and_then(|r| r.date))
    })?;
    if !parsed.is_valid() {
        return None;
    }
    DateTime::<Utc>::from_timestamp(parsed.to_timestamp(), 0)
}

fn unfold(v: &str) -> String {
    v.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_system_sender(from: &str) -> bool {
    let local = from.split('@').next().unwrap_or("");
    local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
}

/// RFC 3834 and what real autoresponders send. Checked before the sender is looked up, so an
/// out-of-office reply from a registered employee is never taken for a report.
pub fn auto_reply_reason(
    headers: &[(String, String)],
    from: &str,
    subject: &str,
    is_report: bool,
) -> Option<String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    if let Some(v) = get("auto-submitted")
        && v.split(';').next().map(str::trim) != Some("no")
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    if let Some(v) = get("precedence")
        && ["bulk", "junk", "list"].contains(&v.as_str())
    {
        return Some(format!("Precedence: {v}"));
    }
    for h in ["x-auto-response-suppress", "x-autoreply", "x-autorespond"] {
        if get(h).is_some() {
            return Some(format!("{h} header"));
        }
    }
    if is_report {
        return Some("multipart/report (delivery notice)".into());
    }
    if is_system_sender(from) {
        return Some(format!("sender {from}"));
    }
    if crate::classify::is_out_of_office_subject(subject) {
        return Some("out-of-office subject".into());
    }
    None
}

/// FNV-1a: a stable hash for messages without a Message-ID (std's hasher may change between
/// Rust versions, and the key is stored).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PLAIN: &[u8] = b"Received: from mx (mx [192.0.2.1]) by mail.city.example.lg.jp; Tue, 12 Jan 2021 08:27:41 +0900\r\n\
Received: from pc01 by mx; Tue, 12 Jan 2021 08:27:40 +0900\r\n\
From: Yamada <YAMADA@City.Example.LG.JP>\r\n\
To: telework@city.example.lg.jp\r\n\
Subject: =?UTF-8?B?5qWt5YuZ6ZaL5aeL?=\r\n\
Date: Tue, 12 Jan 2021 06:27:00 +0900\r\n\
Message-ID: <abc@pc01>\r\n\
\r\n\
body\r\n";

    #[test]
    fn a_received_date_folded_or_with_a_comment_is_still_the_arrival() {
        for date in [
            "Tue, 12 Jan 2021 08:27:41 +0900 (JST)",
            "12 Jan 2021 08:27:41 +0900",
        ] {
            let raw = format!(
                "Received: from mx by mail.city.example.lg.jp;\r\n  {date}\r\n\
                 From: a@example.jp\r\nSubject: x\r\n\r\nbody\r\n"
            );
            let m = parse(raw.as_bytes()).unwrap();
            assert_eq!(
                m.received.map(|t| t.to_rfc3339()).as_deref(),
                Some("2021-01-11T23:27:41+00:00"),
                "{date}"
            );
        }
    }

    #[test]
    fn arrival_is_the_topmost_received_never_the_date_header() {
        let m = parse(PLAIN).unwrap();
        assert_eq!(
            m.received.unwrap().to_rfc3339(),
            "2021-01-11T23:27:41+00:00"
        );
        assert_eq!(
            m.date_header.unwrap().to_rfc3339(),
            "2021-01-11T21:27:00+00:00"
        );
        assert_eq!(m.from, "yamada@city.example.lg.jp");
        assert_eq!(m.subject, "業務開始");
        assert_eq!(m.key, "mid:abc@pc01");
        assert_eq!(m.auto_reply, None);
    }

    #[test]
    fn auto_replies_are_recognised_by_header_sender_and_subject() {
        let h = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert!(
            auto_reply_reason(&h("auto-submitted", "auto-replied"), "a@b.jp", "", false).is_some()
        );
        assert!(auto_reply_reason(&h("auto-submitted", "no"), "a@b.jp", "", false).is_none());
        assert!(auto_reply_reason(&h("precedence", "bulk"), "a@b.jp", "", false).is_some());
        assert!(auto_reply_reason(&h("x-autoreply", "yes"), "a@b.jp", "", false).is_some());
        assert!(
            auto_reply_reason(
                &[],
                "MAILER-DAEMON@city.example.lg.jp".to_lowercase().as_str(),
                "",
                false
            )
            .is_some()
        );
        assert!(auto_reply_reason(&[], "a@b.jp", "不在: 業務開始", false).is_some());
        assert!(auto_reply_reason(&[], "a@b.jp", "", true).is_some());
        assert!(auto_reply_reason(&[], "a@b.jp", "業務開始", false).is_none());
    }

    #[test]
    fn garbage_is_unparseable_not_a_panic() {
        assert!(parse(b"\x00\x01\x02garbage").is_err());
        assert!(parse(b"").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(m) = parse(&bytes) {
                let _ = crate::classify::classify(&m.subject, &m.body);
            }
        }

        #[test]
        fn arbitrary_headers_and_bodies_never_panic(subject in ".{0,80}", body in ".{0,400}", from in "[a-zA-Z@.]{0,30}") {
            let raw = format!("From: {from}\r\nSubject: {subject}\r\nReceived: x; {subject}\r\n\r\n{body}");
            if let Ok(m) = parse(raw.as_bytes()) {
                let _ = crate::classify::classify(&m.subject, &m.body);
            }
        }
    }
}
