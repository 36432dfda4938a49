//! One raw message in, the facts the rules need out: sender, subject, body text, Message-ID,
//! the server's receipt time, the `Date:` header, the `Authentication-Results:` headers, and
//! whether it is automatic mail. Decoding (ISO-2022-JP, Shift_JIS, encoded words, base64,
//! quoted-printable) is mail-parser's; HTML-only bodies become text here (`html`). Never
//! panics: a message we cannot use comes back as `Err` with the reason, to be kept.
//!
//! What comes out is safe to store and to quote in outgoing headers: control characters are
//! removed from the sender, subject and body, and Message-IDs that are not printable ASCII
//! are dropped.

pub mod html;

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Message-ID without angle brackets, when the message has a usable one.
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
    /// Every `Authentication-Results:` header's value, unfolded, top (our own server's) first
    /// (`mail::auth::vouched`).
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
    // The key hashes the bytes as they came, so that a re-read finds the same key.
    let key_of_bytes = || format!("sha:{:016x}", fnv1a(raw));
    let normalised = with_line_breaks(raw);
    let Some(msg) = PARSER.parse(normalised.as_ref()) else {
        return Err(Unparseable {
            key: key_of_bytes(),
            reason: "not a mail message",
            from: String::new(),
            subject: String::new(),
        });
    };
    let subject = crate::text::clean(msg.subject().unwrap_or(""))
        .trim()
        .to_string();
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| crate::text::clean(a).trim().to_lowercase())
        .unwrap_or_default();
    let message_id = msg
        .message_id()
        .map(|m| m.trim().trim_matches(['<', '>']))
        .filter(|m| crate::text::is_message_id(m))
        .map(str::to_string);
    let key = message_id
        .clone()
        .map(|m| format!("mid:{m}"))
        .unwrap_or_else(key_of_bytes);
    if from.is_empty() || !from.contains('@') && system_local_part(&from).is_none() {
        return Err(Unparseable {
            key,
            reason: "no sender address (From:)",
            from,
            subject,
        });
    }
    let mut body = body_text(&msg);
    if let Cow::Owned(clean) = crate::text::clean(&body) {
        body = clean;
    }
    let date_header = msg
        .date()
        .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0));
    let received = topmost_received(&msg);

    // Only the headers the rules read: unfolding every Received: line cost a third of parsing.
    let mut buf = [0u8; 40];
    let headers: Vec<(String, String)> = msg
        .headers_raw()
        .filter(|(n, _)| lower_name(n, &mut buf).is_some_and(is_rule_header))
        .map(|(n, v)| (n.to_ascii_lowercase(), unfold(v)))
        .collect();
    let auto_reply =
        auto_reply_reason(&headers, &from, &subject, report_part(&msg)).or_else(|| {
            // Broken MIME (a boundary parameter on an unfolded line, as Verizon's gateway
            // writes it) leaves no text body; its text is then a part of its own.
            let text = if body.trim().is_empty() {
                first_text_part(&msg)
            } else {
                &body
            };
            bounce_body_line(text).map(|l| format!("a mail server's line in the body: {l}"))
        });

    let ids = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| message_ids(v))
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

/// The text the sender wrote: the text/plain body, else the HTML body as text. mail-parser
/// lists an HTML part among the text bodies only when the message has no text/plain one, so
/// HTML is converted only then.
fn body_text(msg: &Message<'_>) -> String {
    match msg.text_part(0).map(|p| &p.body) {
        Some(PartType::Text(text)) => text.to_string(),
        Some(PartType::Html(h)) => html::to_text(h),
        _ => String::new(),
    }
}

/// The first part that holds text, attachment or not: mail-parser keeps a part whose
/// Content-Type it could not read as bytes.
fn first_text_part<'m>(msg: &'m Message<'_>) -> &'m str {
    msg.parts
        .iter()
        .find_map(|p| {
            match &p.body {
                PartType::Text(t) => Some(t.as_ref()),
                PartType::Binary(b) => std::str::from_utf8(b).ok(),
                _ => None,
            }
            .filter(|t| !t.trim().is_empty())
        })
        .unwrap_or("")
}

/// Classic-Mac mail ends its lines with a lone CR, which mail-parser does not take for a line
/// break: it finds no header at all. Such a message is read as a copy with each lone CR made
/// CRLF. Other mail is read as it is, at the cost of one `contains` pass (LF mail) or one
/// pass over byte pairs (CRLF mail). A message counts as CR-only when its lone CRs outnumber its
/// LFs, so that a stray `\r\r\n` in CRLF mail changes nothing, and a CR-only message behind
/// a few LF headers its server added is still read whole.
fn with_line_breaks(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\r') || !has_lone_cr(raw) {
        return Cow::Borrowed(raw);
    }
    let lf = raw.iter().filter(|&&b| b == b'\n').count();
    let lone = raw
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && raw.get(i + 1) != Some(&b'\n'))
        .count();
    if lone <= lf {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + lone);
    for (i, &b) in raw.iter().enumerate() {
        out.push(b);
        if b == b'\r' && raw.get(i + 1) != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    Cow::Owned(out)
}

/// A CR not followed by LF, anywhere: byte pairs compared a chunk at a time (it vectorises).
fn has_lone_cr(raw: &[u8]) -> bool {
    if raw.last() == Some(&b'\r') {
        return true;
    }
    let (now, next) = (
        &raw[..raw.len().saturating_sub(1)],
        raw.get(1..).unwrap_or_default(),
    );
    now.chunks(64).zip(next.chunks(64)).any(|(a, b)| {
        a.iter().zip(b).fold(0u8, |acc, (&x, &y)| {
            acc | u8::from(x == b'\r' && y != b'\n')
        }) != 0
    })
}

/// The Message-IDs of an `In-Reply-To:`/`References:` value: each `<…>`, or, without angle
/// brackets, each blank- or comma-separated word holding an `@`. One that is not a safe
/// Message-ID (`text::is_message_id`) is dropped, not mended.
fn message_ids(value: &str) -> Vec<String> {
    let words: Vec<&str> = if value.contains('<') {
        value
            .split('<')
            .skip(1)
            .filter_map(|w| w.split_once('>').map(|(id, _)| id.trim()))
            .collect()
    } else {
        value
            .split(|c: char| c.is_whitespace() || c == ',')
            .collect()
    };
    words
        .into_iter()
        .filter(|id| id.contains('@') && crate::text::is_message_id(id))
        .map(str::to_string)
        .collect()
}

/// The headers `auto_reply_reason`, the threading and the trust check read, by lower-case
/// name. A `match` compiles to a switch on the length and a few comparisons: every header of
/// every message passes here.
fn is_rule_header(lower: &[u8]) -> bool {
    matches!(
        lower,
        b"auto-submitted"
            | b"precedence"
            | b"return-path"
            | b"x-apple-action"
            | b"in-reply-to"
            | b"references"
            | b"authentication-results"
    ) || is_auto_header(lower)
}

/// Headers whose presence alone marks automatic mail, by lower-case name, each with why.
fn is_auto_header(lower: &[u8]) -> bool {
    matches!(
        lower,
        // Exchange: the sender asks not to be auto-answered; set on out-of-office replies,
        // NDRs, read receipts and by mass mailers.
        b"x-auto-response-suppress"
        // Vacation programs (vacation(1), cPanel, Sieve front ends, Yahoo, Daum, FirstClass).
            | b"x-autoreply"
            | b"x-autorespond"
            | b"x-autogenerated"
            | b"x-autoreply-from"
            | b"x-mail-autoreply"
            | b"x-fc-machinegenerated"
        // Set by procmail recipes, list managers and autoresponders on what they send, to
        // spot their own mail coming back: a person's client never writes it.
            | b"x-loop"
        // Mailing-list software that writes no List-* header: ezmlm, fml (common in Japan),
        // Mailman.
            | b"mailing-list"
            | b"x-ml-name"
            | b"x-mlserver"
            | b"x-mailman-version"
        // A bulk sender's feedback-loop ID (Gmail's, Amazon SES's): machine mail.
            | b"feedback-id"
        // Amazon SES's relay: notifications sent through SES by a service.
            | b"x-ses-outgoing"
    )
        // RFC 2369/2919 list headers (List-Id, List-Unsubscribe, List-Subscribe, …): list
        // and bulk mail. A report is written to the bot, not through a list.
        || lower.starts_with(b"list-")
        // Amazon SNS notifications.
        || lower.starts_with(b"x-amz-sns-")
}

/// A header name in lower case, in `buf`; `None` for a name longer than any the rules read.
fn lower_name<'b>(name: &str, buf: &'b mut [u8; 40]) -> Option<&'b [u8]> {
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    Some(lower)
}

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

/// Which system mailbox an address's local part names, if any: `MAILER-DAEMON`, `postmaster`
/// (`post_master`), `no-reply` (`noreply`, `no_reply`), `do-not-reply` (`donotreply`), and
/// Postfix's `double-bounce`, in any case, with or without a `+tag`. Nobody reads these, so
/// nobody is answered from them.
fn system_local_part(addr: &str) -> Option<&'static str> {
    let local = addr.rsplit_once('@').map_or(addr, |(l, _)| l);
    let local = local.split('+').next().unwrap_or(local);
    let folded = || {
        local
            .bytes()
            .filter(|b| !matches!(b, b'-' | b'_' | b'.'))
            .map(|b| b.to_ascii_lowercase())
    };
    [
        ("mailerdaemon", "mailer-daemon"),
        ("postmaster", "postmaster"),
        ("noreply", "no-reply"),
        ("donotreply", "do-not-reply"),
        ("doublebounce", "double-bounce"),
    ]
    .into_iter()
    .find(|(f, _)| folded().eq(f.bytes()))
    .map(|(_, name)| name)
}

/// A delivery or feedback report anywhere in the message: `multipart/report`, or a
/// `message/delivery-status`, `message/disposition-notification` or `message/feedback-report`
/// part (RFC 3464, 8098, 5965, and RFC 6533's `global-` forms), also inside a message attached
/// as `message/rfc822` (a bounce a person forwarded). Only a multipart message has parts below
/// its root to walk.
fn report_part(msg: &Message<'_>) -> Option<&'static str> {
    msg.parts.iter().find_map(|part| {
        let found = part.content_type().and_then(|ct| {
            let sub = ct.subtype()?;
            if ct.ctype().eq_ignore_ascii_case("multipart") {
                sub.eq_ignore_ascii_case("report")
                    .then_some("multipart/report")
            } else if ct.ctype().eq_ignore_ascii_case("message") {
                REPORT_PARTS
                    .iter()
                    .find(|(s, _)| sub.eq_ignore_ascii_case(s))
                    .map(|(_, name)| *name)
            } else {
                None
            }
        });
        found.or_else(|| match &part.body {
            PartType::Message(inner) => report_part(inner),
            _ => None,
        })
    })
}

const REPORT_PARTS: &[(&str, &str)] = &[
    ("delivery-status", "message/delivery-status"),
    ("global-delivery-status", "message/global-delivery-status"),
    (
        "disposition-notification",
        "message/disposition-notification",
    ),
    (
        "global-disposition-notification",
        "message/global-disposition-notification",
    ),
    ("feedback-report", "message/feedback-report"),
];

/// A line only a mail server writes, at the start of a line near the top of the body: the
/// headers of the returned message a bounce copies below its notice, a delivery report's
/// fields written as text (RFC 3464), qmail's and Postfix's notices, an SMTP transcript. With
/// these a bounce is known when it carries no other mark: the corpus's qmail, Yahoo and
/// Verizon bounces have none but their `MAILER-DAEMON`/`post_master` sender, and a bounce
/// that shows a teleworker's address as its sender has not even that. A person's report
/// holds none of these lines; a quoted one (`> Received: …`) does not count.
fn bounce_body_line(body: &str) -> Option<&'static str> {
    const LINES: &[&str] = &[
        "Received: from ",
        "Received: by ",
        "Return-Path: <",
        "Reporting-MTA:",
        "Final-Recipient:",
        "Diagnostic-Code:",
        "Remote host said:",
        "Hi. This is the qmail-send program",
        "This is the mail system at host",
        "RCPT TO:",
        ">>> RCPT TO:",
    ];
    // The notice and the copy's headers come first: the top 4 KiB is enough, and a long
    // report is not read to its end. Bytes, not chars: no need to decode a Japanese report.
    let top = &body.as_bytes()[..body.len().min(4096)];
    for line in top.split(|&b| b == b'\n' || b == b'\r') {
        let line = line.trim_ascii_start();
        // Each starts with one of these: most lines of a report (Japanese) are passed at once.
        if !matches!(line.first(), Some(b'R' | b'F' | b'D' | b'H' | b'T' | b'>')) {
            continue;
        }
        if let Some(l) = LINES.iter().find(|l| line.starts_with(l.as_bytes())) {
            return Some(l.trim_end());
        }
    }
    None
}

/// RFC 3834 and what real autoresponders, bounces and notification services send. Checked
/// before the sender is looked up, so that an out-of-office reply or a bounce that shows a
/// registered employee's address is never taken for a report. `headers` are the rule headers
/// (`is_rule_header`), lower-case names and unfolded values; `report_part` what `report_part`
/// found.
pub fn auto_reply_reason(
    headers: &[(String, String)],
    from: &str,
    subject: &str,
    report_part: Option<&str>,
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
    // `auto_reply` besides RFC 2076's three: some vacation programs write it.
    if let Some(v) = get("precedence")
        && ["bulk", "junk", "list", "auto_reply"].contains(&v.as_str())
    {
        return Some(format!("Precedence: {v}"));
    }
    // iCloud's vacation reply carries no Auto-Submitted, only this.
    if let Some(v) = get("x-apple-action")
        && v.contains("vacation")
    {
        return Some(format!("X-Apple-Action: {v}"));
    }
    if let Some((name, _)) = headers.iter().find(|(n, _)| is_auto_header(n.as_bytes())) {
        return Some(format!("{name} header"));
    }
    if let Some(part) = report_part {
        return Some(format!("{part} (delivery or feedback report)"));
    }
    // The envelope sender, as our server wrote it: `<>` for bounces and other notices
    // (RFC 5321 §4.5.5). Read from the topmost Return-Path only: our server's.
    if let Some(v) = get("return-path") {
        let path = match v.split_once('<') {
            Some((_, rest)) => rest.split('>').next().unwrap_or("").trim(),
            None => v.trim(),
        };
        if path.is_empty() {
            return Some("null Return-Path (<>)".into());
        }
        if matches!(
            system_local_part(path),
            Some("mailer-daemon" | "postmaster" | "double-bounce")
        ) {
            return Some(format!("Return-Path: {path}"));
        }
    }
    if let Some(name) = system_local_part(from) {
        return Some(format!("sender is {name}"));
    }
    crate::classify::automatic_subject(subject).map(str::to_string)
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

    /// `raw` with `extra` header lines put before its `From:`.
    fn with_headers(extra: &str) -> Vec<u8> {
        let text = String::from_utf8(PLAIN.to_vec()).unwrap();
        text.replacen("From: ", &format!("{extra}From: "), 1)
            .into_bytes()
    }

    fn auto(raw: &[u8]) -> Option<String> {
        parse(raw).unwrap().auto_reply
    }

    #[test]
    fn auto_replies_are_recognised_by_header_sender_and_subject() {
        let h = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert!(
            auto_reply_reason(&h("auto-submitted", "auto-replied"), "a@b.jp", "", None).is_some()
        );
        assert!(auto_reply_reason(&h("auto-submitted", "no"), "a@b.jp", "", None).is_none());
        assert!(auto_reply_reason(&h("precedence", "bulk"), "a@b.jp", "", None).is_some());
        assert!(auto_reply_reason(&h("precedence", "first-class"), "a@b.jp", "", None).is_none());
        assert!(auto_reply_reason(&h("x-autoreply", "yes"), "a@b.jp", "", None).is_some());
        assert!(auto_reply_reason(&[], "mailer-daemon@city.example.lg.jp", "", None).is_some());
        assert!(auto_reply_reason(&[], "a@b.jp", "不在: 業務開始", None).is_some());
        assert!(auto_reply_reason(&[], "a@b.jp", "", Some("multipart/report")).is_some());
        assert!(auto_reply_reason(&[], "a@b.jp", "業務開始", None).is_none());
    }

    #[test]
    fn every_auto_responder_list_and_notification_header_marks_automatic_mail() {
        for header in [
            "Auto-Submitted: auto-generated\r\n",
            "Auto-Submitted: auto-replied; owner-email=\"a@b.jp\"\r\n",
            "Precedence: bulk\r\n",
            "Precedence: JUNK\r\n",
            "Precedence: list\r\n",
            "Precedence: auto_reply\r\n",
            "X-Auto-Response-Suppress: All\r\n",
            "X-Autoreply: yes\r\n",
            "X-Autorespond: yes\r\n",
            "X-Apple-Action: VACATION/vacation-id\r\n",
            "X-AutoGenerated: Reply\r\n",
            "X-AutoReply-From: yamada@city.example.lg.jp\r\n",
            "X-Mail-Autoreply: yes\r\n",
            "X-FC-MachineGenerated: true\r\n",
            "X-Loop: telework@city.example.lg.jp\r\n",
            "List-Id: <staff.city.example.lg.jp>\r\n",
            "List-Unsubscribe: <mailto:leave@lists.example.jp>\r\n",
            "Feedback-ID: 1.us-east-1.abc:AmazonSES\r\n",
            "X-SES-Outgoing: 2021.01.12-54.240.8.1\r\n",
            "X-Amz-Sns-Message-Id: 165545c9-2a5c-472c-8df2-7ff2be2b3b1b\r\n",
            "Return-Path: <>\r\n",
            "Return-Path:\r\n <>\r\n",
            "Return-Path: <MAILER-DAEMON@mx.example.jp>\r\n",
            "Return-Path: <post_master@ezweb.ne.jp>\r\n",
        ] {
            assert!(auto(&with_headers(header)).is_some(), "{header:?}");
        }
        for header in [
            "Auto-Submitted: no\r\n",
            "Precedence: normal\r\n",
            "X-Apple-Action: REPLY\r\n",
            "Return-Path: <yamada@city.example.lg.jp>\r\n",
            "Return-Path: <noreply-fan@example.jp>\r\n",
            "X-Mailer: Microsoft Outlook 16.0\r\n",
        ] {
            assert_eq!(auto(&with_headers(header)), None, "{header:?}");
        }
    }

    #[test]
    fn mailing_list_software_marks_automatic_mail() {
        for header in [
            "List-Subscribe: <mailto:neko-ctl@example.org?body=subscribe>\r\n",
            "List-Help: <mailto:neko-request@example.org?subject=help>\r\n",
            "Mailing-List: contact nyaan-help@example.org; run by ezmlm\r\n",
            "X-ML-Name: staff\r\n",
            "X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\r\n",
            "X-Mailman-Version: 2.1.39\r\n",
            "Return-Path: <double-bounce@mx22.example.com>\r\n",
        ] {
            assert!(auto(&with_headers(header)).is_some(), "{header:?}");
        }
        assert_eq!(auto(&with_headers("Listed: no\r\n")), None);
    }

    #[test]
    fn a_mail_servers_lines_at_the_top_of_the_body_mark_a_bounce() {
        for body in [
            "Hi. This is the qmail-send program at mx.example.jp.\nI'm afraid I wasn't able to deliver",
            "Sorry, we were unable to deliver your message.\nRemote host said: 550 5.1.1 unknown",
            "This is the mail system at host smtp.example.org.\n",
            "Message from example.jp.\n--- Original message follows.\n\nReturn-Path: <a@b.jp>\nReceived: from mx",
            "Error: Invalid user address\n\nMessage details:\n  MAIL FROM: a@b.jp\n  RCPT TO: c@d.jp",
            "notice\r\nReporting-MTA: dns; mx.example.jp\r\nFinal-Recipient: rfc822; a@b.jp",
        ] {
            assert!(bounce_body_line(body).is_some(), "{body:?}");
        }
        for body in [
            "本日の業務を開始します",
            "> Received: from mx by mail; quoted in a reply",
            "本日の作業: Received: from ヘッダの調査",
            "",
        ] {
            assert_eq!(bounce_body_line(body), None, "{body:?}");
        }
        // Only the top is read.
        let late = format!("{}\nRemote host said: 550", "本文\n".repeat(1000));
        assert_eq!(bounce_body_line(&late), None);
    }

    #[test]
    fn a_bounce_whose_text_part_broken_mime_hid_is_still_a_bounce() {
        // Verizon's gateway puts the boundary parameter on a line of its own, unfolded.
        let raw = "From: yamada@city.example.lg.jp\r\nSubject: Re:Nyaan\r\nMIME-Version: 1.0\r\n\
                   Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
                   Content-Type: multipart/alternative;\r\nboundary=\"b2\"\r\n\r\n--b2\r\n\
                   Content-Type: text/plain; charset=us-ascii\r\n\r\nError: Invalid user address\r\n\
                   \r\nMessage details:\r\n  RCPT TO: 000@vtext.example.com\r\n\r\n--b2--\r\n\r\n--b1--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert!(m.auto_reply.is_some(), "{m:?}");
    }

    #[test]
    fn only_the_topmost_return_path_counts() {
        let raw = with_headers("Return-Path: <yamada@city.example.lg.jp>\r\nReturn-Path: <>\r\n");
        assert_eq!(auto(&raw), None);
    }

    #[test]
    fn system_senders_are_automatic_in_every_spelling() {
        for from in [
            "MAILER-DAEMON@mx.example.jp",
            "Mailer_Daemon@mx.example.jp",
            "postmaster@city.example.lg.jp",
            "post_master@ezweb.ne.jp",
            "no-reply@icloud.com",
            "NoReply@example.jp",
            "no_reply@example.jp",
            "noreply+bounce@example.jp",
            "do-not-reply@example.jp",
            "DoNotReply@example.jp",
        ] {
            let raw = String::from_utf8(PLAIN.to_vec())
                .unwrap()
                .replace("Yamada <YAMADA@City.Example.LG.JP>", from);
            assert!(auto(raw.as_bytes()).is_some(), "{from}");
        }
        for from in [
            "noreplyx@example.jp",
            "reply@example.jp",
            "postmasters@example.jp",
        ] {
            assert_eq!(system_local_part(from), None, "{from}");
        }
    }

    #[test]
    fn a_report_part_at_any_depth_marks_automatic_mail() {
        let mixed = |inner: &str| {
            format!(
                "From: yamada@city.example.lg.jp\r\nSubject: =?UTF-8?B?6Lui6YCB?=\r\n\
                 MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
                 --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n業務開始\r\n\
                 --b1\r\n{inner}\r\n--b1--\r\n"
            )
        };
        for inner in [
            "Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n",
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n",
            "Content-Type: message/disposition-notification\r\n\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n",
            "Content-Type: message/global-delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n",
            // A bounce a person forwarded as an attachment: the report is inside it.
            "Content-Type: message/rfc822\r\n\r\nFrom: MAILER-DAEMON@mx.example.jp\r\n\
             Subject: failure\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b2\"\r\n\r\n\
             --b2\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
             --b2\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--b2--\r\n",
        ] {
            let raw = mixed(inner);
            assert!(auto(raw.as_bytes()).is_some(), "{inner}");
        }
        // A person's mail with an ordinary message attached is not automatic.
        let raw = mixed(
            "Content-Type: message/rfc822\r\n\r\nFrom: a@b.jp\r\nSubject: x\r\n\r\nhello\r\n",
        );
        assert_eq!(auto(raw.as_bytes()), None);
    }

    #[test]
    fn bounce_and_out_of_office_subjects_mark_automatic_mail_also_forwarded() {
        for subject in [
            "Fwd: Returned mail: see transcript for details",
            "Auto reply: =?UTF-8?B?5qWt5YuZ6ZaL5aeL?=",
            "=?UTF-8?B?44Oh44O844Or44Ko44Op44O86YCa55+l?=",
        ] {
            let raw = String::from_utf8(PLAIN.to_vec())
                .unwrap()
                .replace("=?UTF-8?B?5qWt5YuZ6ZaL5aeL?=", subject);
            assert!(auto(raw.as_bytes()).is_some(), "{subject}");
        }
    }

    #[test]
    fn classic_mac_mail_with_lone_crs_parses() {
        let raw = String::from_utf8(PLAIN.to_vec())
            .unwrap()
            .replace("\r\n", "\r")
            .replace("body\r", "おはようございます\r業務を開始します\r");
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.from, "yamada@city.example.lg.jp");
        assert_eq!(m.subject, "業務開始");
        assert_eq!(m.key, "mid:abc@pc01");
        assert_eq!(
            m.received.unwrap().to_rfc3339(),
            "2021-01-11T23:27:41+00:00"
        );
        assert_eq!(
            crate::classify::unquoted_lines(&m.body),
            ["おはようございます", "業務を開始します"]
        );
        // Behind the LF headers a server added on delivery too.
        let delivered = format!(
            "Return-Path: <yamada@city.example.lg.jp>\nDelivered-To: telework@city.example.lg.jp\n{raw}"
        );
        let m = parse(delivered.as_bytes()).unwrap();
        assert_eq!((m.subject.as_str(), m.auto_reply), ("業務開始", None));
    }

    #[test]
    fn lf_and_crlf_mail_is_read_as_it_is() {
        assert!(matches!(with_line_breaks(PLAIN), Cow::Borrowed(_)));
        let lf = String::from_utf8(PLAIN.to_vec())
            .unwrap()
            .replace("\r\n", "\n");
        assert!(matches!(with_line_breaks(lf.as_bytes()), Cow::Borrowed(_)));
        // A stray CR in CRLF mail stays a CR.
        let stray = String::from_utf8(PLAIN.to_vec())
            .unwrap()
            .replace("body", "a\rb");
        assert!(matches!(
            with_line_breaks(stray.as_bytes()),
            Cow::Borrowed(_)
        ));
        assert_eq!(&*with_line_breaks(b"a\rb\r\rc\r\n"), b"a\r\nb\r\n\r\nc\r\n");
    }

    #[test]
    fn an_html_only_body_keeps_its_line_breaks_and_quotes() {
        let raw = "From: yamada@city.example.lg.jp\r\nSubject: RE: =?UTF-8?B?5qWt5YuZ6ZaL5aeL?=\r\n\
                   MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
                   <div>本日の業務を終了します</div><hr><div id=\"divRplyFwdMsg\"><b>差出人:</b> 山田<br>\
                   <b>送信日時:</b> 2021年1月12日 8:27<br><b>件名:</b> 業務開始</div><div>地震</div>\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert!(
            m.body.starts_with("本日の業務を終了します\n差出人: 山田\n"),
            "{:?}",
            m.body
        );
        let c = crate::classify::classify(&m.subject, &m.body);
        assert_eq!((c.kind, c.incident), (crate::classify::Kind::End, false));
    }

    #[test]
    fn a_text_part_is_preferred_to_an_html_one() {
        let raw = "From: a@b.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
                   Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
                   --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain\r\n\
                   --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n--b--\r\n";
        assert_eq!(parse(raw.as_bytes()).unwrap().body.trim(), "plain");
    }

    #[test]
    fn message_ids_that_are_not_printable_ascii_are_dropped() {
        let raw = with_headers(
            "In-Reply-To: <ok@pc01> <bad\u{1}id@pc01>\r\n\
             References: <a@x> <b c@x> <\u{3042}@x>\r\n\tplain@x\r\n",
        );
        let m = parse(&raw).unwrap();
        assert_eq!(m.in_reply_to, ["ok@pc01"]);
        assert_eq!(m.references, ["a@x"]);
        let raw = String::from_utf8(PLAIN.to_vec())
            .unwrap()
            .replace("<abc@pc01>", "<ab\u{7f}c@pc01>");
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.message_id, None);
        assert!(m.key.starts_with("sha:"), "{}", m.key);
        assert!(crate::text::is_message_id(
            "20210112.1@pc01.city.example.lg.jp"
        ));
        for bad in ["", "a b@c", "a<b@c", "a>b@c", "\u{3042}@c", "a\t@c"] {
            assert!(!crate::text::is_message_id(bad), "{bad:?}");
        }
        // Bare ids without angle brackets, as some clients write them.
        assert_eq!(message_ids("a@x, b@y c"), ["a@x", "b@y"]);
    }

    #[test]
    fn control_characters_are_removed_from_sender_subject_and_body() {
        // =?UTF-8?B?AOalreWLmemWi+WniwcbWzMx?= is NUL 業務開始 BEL ESC [31
        let raw = String::from_utf8(PLAIN.to_vec())
            .unwrap()
            .replace(
                "=?UTF-8?B?5qWt5YuZ6ZaL5aeL?=",
                "=?UTF-8?B?AOalreWLmemWi+WniwcbWzMx?=",
            )
            .replace("body", "a\u{0}b\u{7f}c\u{1b}d\te\u{c}f");
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.subject, "業務開始[31");
        assert!(m.body.starts_with("abcd\tef"), "{:?}", m.body);
        assert_eq!(crate::text::clean("ok\r\n\tok"), "ok\r\n\tok");
    }

    #[test]
    fn authentication_results_are_kept_unfolded_top_first() {
        let raw = with_headers(
            "Authentication-Results: mail.city.example.lg.jp;\r\n\tspf=pass smtp.mailfrom=city.example.lg.jp;\r\n\tdkim=pass header.d=city.example.lg.jp\r\n\
             authentication-results: mx.example.jp; spf=fail\r\n",
        );
        let m = parse(&raw).unwrap();
        assert_eq!(
            m.auth_results,
            [
                "mail.city.example.lg.jp; spf=pass smtp.mailfrom=city.example.lg.jp; dkim=pass header.d=city.example.lg.jp",
                "mx.example.jp; spf=fail",
            ]
        );
        assert!(parse(PLAIN).unwrap().auth_results.is_empty());
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
