//! Text that came from outside (mail, chat, forms) made safe to store, compare and put into
//! headers and log lines. PostgreSQL refuses NUL in text, and the other C0 controls forge lines
//! in logs and headers; none of them is ever part of what a person wrote.

use std::borrow::Cow;

/// Removes the C0 controls but tab and line breaks, and DEL: for text kept as it was written
/// (a body, a work summary). Borrows when there is nothing to remove, as nearly always.
pub fn clean(s: &str) -> Cow<'_, str> {
    // Line breaks are in nearly every body: look for what is really removed before decoding.
    if !any_byte(s.as_bytes(), |b| {
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f || b == 0xc2
    }) {
        return Cow::Borrowed(s);
    }
    strip(s, |c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Removes every control character, line breaks and tabs included: for one-line values (a
/// subject, an address, a Message-ID, a key).
pub fn clean_line(s: &str) -> Cow<'_, str> {
    if !any_byte(s.as_bytes(), |b| b < 0x20 || b == 0x7f || b == 0xc2) {
        return Cow::Borrowed(s);
    }
    strip(s, char::is_control)
}

/// Removes what `bad` picks; the callers' byte checks found a candidate (the C0 set and DEL
/// are ASCII, and C1, U+0080–U+009F, starts with 0xC2), so this decodes only such text.
fn strip(s: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().filter(|c| !bad(*c)).collect())
}

/// Whether a byte of `bytes` is one `pred` picks. An OR over each 64-byte chunk vectorises
/// (16 or 32 bytes a step), where `any` goes a byte at a time to exit early and a count widens
/// every byte to 64 bits: this runs over every message's body.
fn any_byte(bytes: &[u8], pred: impl Fn(u8) -> bool) -> bool {
    bytes
        .chunks(64)
        .any(|c| c.iter().fold(0u8, |acc, &b| acc | u8::from(pred(b))) != 0)
}

/// A Message-ID that may be kept and copied into `In-Reply-To`/`References`: printable ASCII
/// without blanks or angle brackets (RFC 5322 `msg-id` is narrower still; this is what is safe).
pub fn is_message_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'<' && b != b'>')
}

/// For a log line: control characters, Unicode line separators and direction marks shown
/// escaped (`\n`, `\u{0}`, `\u{202e}`), so that text a stranger typed can neither start a line
/// of its own nor turn the rest of one around; at most `max` characters, marked when cut.
pub fn for_log(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        let mark = matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        if c.is_control() || mark {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_escape_go_line_breaks_stay_in_a_body() {
        assert_eq!(
            clean("終了 x\u{0}\u{1b}[31m\r\n日報\tok"),
            "終了 x[31m\r\n日報\tok"
        );
        assert!(matches!(clean("業務開始\r\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn one_line_values_lose_line_breaks_too() {
        assert_eq!(clean_line("h7\r\nBcc: evil@x\u{0}"), "h7Bcc: evil@x");
        assert_eq!(clean_line("a\u{85}b"), "ab");
        assert!(matches!(clean_line("<abc@pc01>"), Cow::Borrowed(_)));
    }

    #[test]
    fn log_text_cannot_start_a_line() {
        assert_eq!(for_log("E1\nINFO forged", 100), "E1\\nINFO forged");
        assert_eq!(for_log("abcdef", 3), "abc…");
    }
}
