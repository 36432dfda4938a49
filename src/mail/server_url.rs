//! The mail servers' URLs, `imap[s]://user:pass@host:port/MAILBOX` and
//! `smtp[s]://[user:pass@]host:port`, taken apart by the `url` crate: the user name and the
//! password end at the last `@` before the host, `%XX` in them (and in the mailbox) stands for
//! the bytes it encodes, an IPv6 host is written in brackets (`[::1]`), and a missing port is
//! the scheme's. Each caller turns a refusal into its own one-line message.

use url::{Host, ParseError, Position, Url};

/// A server URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// The second of the two schemes (`imaps`, `smtps`): TLS from the start.
    pub tls: bool,
    /// The host to connect to: the name as written (its `%XX` decoded), or an IP address (an
    /// IPv6 one without its brackets).
    pub host: String,
    pub port: u16,
    /// The user name, decoded; empty when the URL has none.
    pub user: String,
    /// The password, decoded; `None` when the URL has no `:` after the user name (or nothing
    /// after it).
    pub password: Option<String>,
    /// What follows the host and port (`/INBOX`), as written; empty when nothing does.
    pub rest: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not `scheme://…` with one of the two schemes.
    Scheme,
    /// A port that is no number from 0 to 65535.
    Port,
    /// No host, or one that cannot be (`[::1`, a space).
    Host,
}

/// Takes `s` apart if its scheme is `schemes.0` (plain, default port `ports.0`) or `schemes.1`
/// (TLS, default port `ports.1`).
pub fn parse(s: &str, schemes: (&str, &str), ports: (u16, u16)) -> Result<ServerUrl, Refused> {
    let u = Url::parse(s).map_err(|e| match e {
        ParseError::InvalidPort => Refused::Port,
        ParseError::EmptyHost
        | ParseError::IdnaError
        | ParseError::InvalidIpv4Address
        | ParseError::InvalidIpv6Address
        | ParseError::InvalidDomainCharacter => Refused::Host,
        _ => Refused::Scheme,
    })?;
    let tls = match u.scheme() {
        x if x == schemes.0 => false,
        x if x == schemes.1 => true,
        _ => return Err(Refused::Scheme),
    };
    if !u.has_authority() {
        return Err(Refused::Scheme);
    }
    let host = match u.host().ok_or(Refused::Host)? {
        Host::Domain(d) => percent_decode(d),
        Host::Ipv4(a) => a.to_string(),
        Host::Ipv6(a) => a.to_string(),
    };
    if host.is_empty() {
        return Err(Refused::Host);
    }
    Ok(ServerUrl {
        tls,
        host,
        port: u.port().unwrap_or(if tls { ports.1 } else { ports.0 }),
        user: percent_decode(u.username()),
        password: u.password().map(percent_decode),
        rest: u[Position::BeforePath..].to_string(),
    })
}

/// `%XX` in a URL's user, password or mailbox, as the bytes they stand for (invalid UTF-8
/// replaced); a `%` not followed by two hex digits is kept as it is.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAP: (&str, &str) = ("imap", "imaps");
    const PORTS: (u16, u16) = (143, 993);

    #[test]
    fn user_and_password_are_percent_decoded_and_end_at_the_last_at_sign() {
        let u = parse(
            "imap://bot%40city.example.lg.jp:s3cr%2Ft@127.0.0.1:1143/INBOX",
            IMAP,
            PORTS,
        )
        .unwrap();
        assert_eq!(
            (u.user.as_str(), u.password.as_deref(), u.host.as_str()),
            ("bot@city.example.lg.jp", Some("s3cr/t"), "127.0.0.1")
        );
        assert_eq!((u.port, u.tls, u.rest.as_str()), (1143, false, "/INBOX"));
        // An `@` or a second `:` left as it is belongs to the password.
        let u = parse("imap://bot:p@ss:w@h/INBOX", IMAP, PORTS).unwrap();
        assert_eq!(u.password.as_deref(), Some("p@ss:w"));
        // Spaces and non-ASCII are taken as written.
        let u = parse("imap://a:p w受@h/", IMAP, PORTS).unwrap();
        assert_eq!(u.password.as_deref(), Some("p w受"));
        let u = parse("imap://a:100%25%zz@h", IMAP, PORTS).unwrap();
        assert_eq!(u.password.as_deref(), Some("100%%zz"));
    }

    #[test]
    fn default_ports_ipv6_hosts_and_no_credentials() {
        let u = parse("imaps://bot:pw@mail.city.example.lg.jp", IMAP, PORTS).unwrap();
        assert_eq!((u.tls, u.port, u.rest.as_str()), (true, 993, ""));
        let u = parse("imap://a:b@[2001:db8::1]:1143/INBOX", IMAP, PORTS).unwrap();
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 1143));
        let u = parse("imap://a:b@[::1]/", IMAP, PORTS).unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 143));
        let u = parse(
            "smtp://relay.city.example.lg.jp",
            ("smtp", "smtps"),
            (25, 465),
        )
        .unwrap();
        assert_eq!((u.user.as_str(), u.password, u.port), ("", None, 25));
        let u = parse("smtp://bot@relay", ("smtp", "smtps"), (25, 465)).unwrap();
        assert_eq!((u.user.as_str(), u.password), ("bot", None));
        // The host keeps its case, as a mail server's name may be written.
        assert_eq!(
            parse("imap://a:b@Mail.Example/", IMAP, PORTS).unwrap().host,
            "Mail.Example"
        );
    }

    #[test]
    fn a_url_with_no_host_a_bad_port_or_another_scheme_is_refused() {
        for (s, why) in [
            ("imap://a:b@/INBOX", Refused::Host),
            ("imap://a:b@:143/INBOX", Refused::Host),
            ("imap:///INBOX", Refused::Host),
            ("imap://a:b@[::1/INBOX", Refused::Host),
            ("imap://a:b@h x/INBOX", Refused::Host),
            ("imap://a:b@h:99999/", Refused::Port),
            ("imap://a:b@h:x/", Refused::Port),
            ("pop3://a:b@h", Refused::Scheme),
            ("imap:a:b@h", Refused::Scheme),
            ("imap:/a:b@h", Refused::Scheme),
            ("a:b@h:143", Refused::Scheme),
            ("", Refused::Scheme),
        ] {
            assert_eq!(parse(s, IMAP, PORTS), Err(why), "{s}");
        }
    }
}
