//! Mail addresses as the transport reads them. The outbox turns every recipient into lettre's
//! `Address` (`str::parse`) when a mail is queued, and one it refuses stops the whole batch; the
//! register checks addresses with this same parser when they come in, so that such a one is
//! refused at import, where IT can see and fix it, and never reaches the queue.

use lettre::Address;

/// An address as the transport will take it: lettre's `Address` (a dot-atom or quoted local
/// part, a domain name or literal; no spaces, line breaks or other control characters), with a
/// dot in the domain besides, since a bare host is never a city's staff address.
pub fn parse_address(s: &str) -> Option<Address> {
    if s.chars().any(char::is_control) {
        return None;
    }
    let a: Address = s.parse().ok()?;
    a.domain().contains('.').then_some(a)
}

/// The message of an address that is not one: `"…" is not a mail address (expected
/// name@domain)`; the text is quoted with escapes, so a line break shows as `\r\n`.
pub fn not_an_address(s: &str) -> String {
    format!("{s:?} is not a mail address (expected name@domain)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_transport_takes_is_taken() {
        for ok in [
            "yamada@city.example.lg.jp",
            "y.yamada+telework@city.example.lg.jp",
            "\"yamada taro\"@city.example.lg.jp",
        ] {
            assert!(parse_address(ok).is_some(), "{ok}");
            assert!(
                ok.parse::<Address>().is_ok(),
                "{ok}: the transport takes it too"
            );
        }
    }

    #[test]
    fn header_injection_and_control_characters_are_refused() {
        for bad in [
            "a@b.jp\r\nBcc: x@evil.example",
            "a@b.jp\nBcc: x@evil.example",
            "yamada@city.example.lg.jp\tx@evil.example",
            "yamada\t@city.example.lg.jp",
            "yamada@city.example.lg.jp\u{7f}",
            "yamada@city.example.lg.jp\r",
            "<yamada@city.example.lg.jp>",
            "山田 <yamada@city.example.lg.jp>",
            "a@b.jp,c@d.jp",
            "not-an-address",
            "yamada@localhost",
            "yamada@city..example.lg.jp",
            "@city.example.lg.jp",
            "",
        ] {
            assert!(parse_address(bad).is_none(), "{bad:?}");
        }
        assert_eq!(
            not_an_address("a@b.jp\r\nBcc: x"),
            r#""a@b.jp\r\nBcc: x" is not a mail address (expected name@domain)"#
        );
    }
}
