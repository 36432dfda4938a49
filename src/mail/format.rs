//! RFC 5322 bytes for the mails the bot writes: one text/plain UTF-8 part, base64 in lines of
//! 76, header text outside ASCII as RFC 2047 encoded words. Written by hand rather than with
//! lettre's builder, which parses its own headers back to find the envelope and cost 7 µs a
//! mail, most of a backlog's formatting time (docs/benchmarks.md); lettre still delivers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;

/// What goes into one mail. Addresses are checked by the caller.
pub struct Plain<'a> {
    pub from_name: &'a str,
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub date: DateTime<chrono_tz::Tz>,
    pub auto_submitted: &'a str,
    /// The answered message's Message-ID, and the References, without angle brackets.
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    pub body: &'a str,
}

/// A formatted mail waiting for its Message-ID, which may depend on a row not stored yet: the
/// text is formatted while the database stores the batch.
#[derive(Debug, Clone)]
pub struct Formatted {
    before_id: String,
    after_id: String,
}

impl Formatted {
    /// The mail as it goes on the wire (CRLF line ends), with this Message-ID (without angle
    /// brackets).
    pub fn with_id(&self, message_id: &str) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.before_id.len() + self.after_id.len() + message_id.len() + 20);
        out.extend_from_slice(self.before_id.as_bytes());
        out.extend_from_slice(b"Message-ID: <");
        out.extend_from_slice(message_id.as_bytes());
        out.extend_from_slice(b">\r\n");
        out.extend_from_slice(self.after_id.as_bytes());
        out
    }
}

/// Formats everything but the Message-ID.
pub fn plain(m: &Plain<'_>) -> Formatted {
    let mut before_id = String::with_capacity(256);
    header(&mut before_id, "From", &mailbox(m.from_name, m.from));
    header(&mut before_id, "To", &fold_list(m.to, ","));
    header(&mut before_id, "Subject", &text(m.subject));
    header(&mut before_id, "Date", &m.date.to_rfc2822());
    let mut out = String::with_capacity(256 + m.body.len() * 2);
    // A Message-ID read from mail goes into a header only as printable ASCII without spaces
    // or brackets: `<h7\rBcc: …>` or a NUL would add a header or break the mail.
    if let Some(r) = m.in_reply_to.filter(|r| is_safe_id(r)) {
        header(&mut out, "In-Reply-To", &format!("<{r}>"));
        let mut refs: Vec<String> = m
            .references
            .iter()
            .filter(|r| is_safe_id(r))
            .map(|r| format!("<{r}>"))
            .collect();
        if !m.references.iter().any(|x| x == r) {
            refs.push(format!("<{r}>"));
        }
        header(&mut out, "References", &fold_list(&refs, ""));
    }
    header(&mut out, "Auto-Submitted", m.auto_submitted);
    header(&mut out, "MIME-Version", "1.0");
    header(&mut out, "Content-Type", "text/plain; charset=utf-8");
    header(&mut out, "Content-Transfer-Encoding", "base64");
    out.push_str("\r\n");
    let mut body = String::with_capacity(m.body.len() + 64);
    for line in m.body.lines() {
        body.push_str(line);
        body.push_str("\r\n");
    }
    let encoded = STANDARD.encode(body.as_bytes());
    for chunk in encoded.as_bytes().chunks(76) {
        // Base64 is ASCII: a chunk is always valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    Formatted {
        before_id,
        after_id: out,
    }
}

/// A Message-ID fit for a header: `text::is_message_id`, and short enough for one line.
pub fn is_safe_id(id: &str) -> bool {
    id.len() <= 250 && crate::text::is_message_id(id)
}

/// `Name: value`; a long value comes folded (`\r\n `) already.
fn header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

/// `display <address>`: the name as encoded words unless it is plain ASCII.
fn mailbox(name: &str, address: &str) -> String {
    if name.is_empty() {
        return address.to_string();
    }
    let name = if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') {
        name.to_string()
    } else {
        text(name)
    };
    // Folded before the address when the line would pass 78 characters.
    let sep = if name.len() + address.len() > 66 {
        "\r\n "
    } else {
        " "
    };
    format!("{name}{sep}<{address}>")
}

/// Items joined by `sep` and a space, a line each once they would pass 78 characters.
fn fold_list(items: &[String], sep: &str) -> String {
    let total: usize = items.iter().map(|i| i.len() + 2).sum();
    let space = if total > 64 { "\r\n " } else { " " };
    items.join(&format!("{sep}{space}"))
}

/// Unstructured header text (RFC 5322 2.2.1): printable ASCII as it is, anything else as UTF-8
/// B encoded words of at most 75 characters, one a line. Line breaks and other control
/// characters become spaces, so a subject can never add a header.
fn text(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let plain = clean.bytes().all(|b| (0x20..0x7f).contains(&b)) && !clean.contains("=?");
    if plain && clean.len() <= 900 {
        return clean;
    }
    // `=?UTF-8?B?` + 56 characters of base64 (42 bytes) + `?=` = 68: under the limit of 75,
    // and a line of 78 with `Subject: ` before it.
    let mut words = Vec::new();
    let mut start = 0;
    for (i, c) in clean.char_indices() {
        if i + c.len_utf8() - start > 42 {
            words.push(&clean[start..i]);
            start = i;
        }
    }
    // Not empty here (empty text is plain): the last word holds at least one character.
    words.push(&clean[start..]);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", STANDARD.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use mail_parser::{HeaderValue, MessageParser};

    fn sample<'a>(subject: &'a str, body: &'a str, to: &'a [String]) -> Plain<'a> {
        Plain {
            from_name: "在宅勤務連絡システム",
            from: "zaitaku@city.example.lg.jp",
            to,
            subject,
            date: "2021-01-11T23:27:35Z"
                .parse::<DateTime<Utc>>()
                .unwrap()
                .with_timezone(&chrono_tz::Asia::Tokyo),
            auto_submitted: "auto-replied",
            in_reply_to: Some("20210112082735.1001@pc01"),
            references: &[],
            body,
        }
    }

    #[test]
    fn a_japanese_mail_reads_back_as_written() {
        let to = vec!["yamada@city.example.lg.jp".to_string()];
        let subject = "受付: Re: 業務開始のご連絡（在宅勤務）とても長い件名がここに続いて、複数の符号化語に分かれる";
        let body = "山田太郎 さん\n\n業務開始の連絡を受け付けました。\n判定:     定時\n";
        let raw = plain(&sample(subject, body, &to)).with_id("zaitaku.ack.17@city.example.lg.jp");
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.is_ascii(), "{text}");
        assert!(text.lines().all(|l| l.len() <= 78), "{text}");
        assert!(text.contains("\r\nTo: yamada@city.example.lg.jp\r\n"));
        assert!(text.contains("\r\nIn-Reply-To: <20210112082735.1001@pc01>\r\n"));
        assert!(text.contains("\r\nReferences: <20210112082735.1001@pc01>\r\n"));
        assert!(text.contains("\r\nAuto-Submitted: auto-replied\r\n"));
        assert!(text.contains("\r\nDate: Tue, 12 Jan 2021 08:27:35 +0900\r\n"));
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some(subject));
        assert_eq!(
            m.from().unwrap().first().unwrap().name(),
            Some("在宅勤務連絡システム")
        );
        assert_eq!(
            m.from().unwrap().first().unwrap().address(),
            Some("zaitaku@city.example.lg.jp")
        );
        assert_eq!(m.message_id(), Some("zaitaku.ack.17@city.example.lg.jp"));
        assert_eq!(m.body_text(0).unwrap().replace("\r\n", "\n"), body);
        assert!(matches!(
            m.header("Auto-Submitted"),
            Some(HeaderValue::Text(t)) if t == "auto-replied"
        ));
    }

    #[test]
    fn a_message_id_read_from_mail_cannot_add_a_header() {
        let to = vec!["a@example.jp".to_string()];
        let refs = vec!["ok@pc".to_string(), "r\0x@pc".to_string()];
        let mut m = sample("x", "", &to);
        m.in_reply_to = Some("h7\rBcc: evil7@attacker.example");
        m.references = &refs;
        let text = String::from_utf8(plain(&m).with_id("d@x")).unwrap();
        assert!(!text.contains("Bcc") && !text.contains('\0'), "{text:?}");
        assert!(!text.contains("In-Reply-To"), "{text}");
        m.in_reply_to = Some("good@pc");
        let text = String::from_utf8(plain(&m).with_id("d@x")).unwrap();
        assert!(
            text.contains("\r\nReferences: <ok@pc> <good@pc>\r\n"),
            "{text}"
        );
        assert!(!text.contains('\0'));
    }

    #[test]
    fn several_recipients_and_an_ascii_subject() {
        let to = vec!["a@example.jp".to_string(), "b@example.jp".to_string()];
        let raw = plain(&sample("Digest 2021-01-12", "ok", &to)).with_id("d@x");
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some("Digest 2021-01-12"));
        let to: Vec<_> = m.to().unwrap().iter().filter_map(|a| a.address()).collect();
        assert_eq!(to, ["a@example.jp", "b@example.jp"]);
    }

    #[test]
    fn a_subject_cannot_add_a_header() {
        let to = vec!["a@example.jp".to_string()];
        let raw = plain(&sample("x\r\nBcc: evil@example.com", "", &to)).with_id("d@x");
        let text = String::from_utf8(raw).unwrap();
        assert!(!text.contains("\r\nBcc:"), "{text}");
        let raw = plain(&sample("件名\nBcc: evil@example.com", "", &to)).with_id("d@x");
        let text = String::from_utf8(raw).unwrap();
        assert!(!text.contains("\nBcc:"), "{text}");
    }

    #[test]
    fn encoded_words_stay_within_75_characters_and_split_between_characters() {
        for n in [1, 14, 15, 16, 100] {
            let s: String = "あ".repeat(n) + "x";
            let t = text(&s);
            for w in t.split("\r\n ") {
                assert!(w.len() <= 75, "{w}");
            }
            let decoded: String = t
                .split("\r\n ")
                .map(|w| {
                    let b64 = w.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=");
                    String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
                })
                .collect();
            assert_eq!(decoded, s);
        }
    }
}
