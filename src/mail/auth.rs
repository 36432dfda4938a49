//! Whether the city's own mail server vouched for a sender (RFC 8601 `Authentication-Results`).
//! A `From:` alone proves nothing: anyone can write a supervisor's address. The city's server
//! (Postfix with OpenDMARC/OpenDKIM, Exchange Online) checks SPF, DKIM and DMARC on arrival and
//! writes its findings under its own authserv-id, removing any header with that id that came
//! from outside (RFC 8601 §5). So only the topmost header with the configured id is read.

/// `[mail] trust_authentication_results = "exchange-online"`: Microsoft's id-less header.
pub const EXCHANGE_ONLINE: &str = "exchange-online";

/// True when the topmost `Authentication-Results` of `authserv_id` found `dmarc=pass`, or both
/// `spf=pass` and `dkim=pass`, for `from_domain` (the domain of the `From:` address, or a
/// domain it belongs to). `headers` are the header values, top to bottom.
pub fn vouched(headers: &[String], authserv_id: &str, from_domain: &str) -> bool {
    // Exchange Online writes no authserv-id (`Authentication-Results: spf=pass …`): its
    // header is the topmost one, which Exchange adds on arrival.
    let exchange = authserv_id.eq_ignore_ascii_case(EXCHANGE_ONLINE);
    let Some(results) = headers
        .iter()
        .map(|h| parse(h))
        .enumerate()
        .find(|(i, r)| {
            if exchange {
                *i == 0 && r.authserv_id.is_empty()
            } else {
                r.authserv_id.eq_ignore_ascii_case(authserv_id)
            }
        })
        .map(|(_, r)| r)
    else {
        return false;
    };
    let aligned = |d: Option<&str>| {
        d.is_some_and(|d| {
            let d = d.trim_start_matches('@').to_ascii_lowercase();
            let d = d.rsplit('@').next().unwrap_or(&d);
            let from = from_domain.to_ascii_lowercase();
            d == from || from.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{from}"))
        })
    };
    let pass = |method: &str, prop: &str, absent_ok: bool| {
        results.methods.iter().any(|m| {
            m.method == method
                && m.result == "pass"
                && match m.prop(prop) {
                    Some(v) => aligned(Some(v)),
                    None => absent_ok,
                }
        })
    };
    // DMARC judges the From: domain by definition; a header.from that is given must be ours.
    pass("dmarc", "header.from", true)
        || (pass("spf", "smtp.mailfrom", false) && pass("dkim", "header.d", false))
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Results {
    authserv_id: String,
    methods: Vec<Method>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Method {
    method: String,
    result: String,
    props: Vec<(String, String)>,
}

impl Method {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One header value: `authserv-id [version]; method=result ptype.prop=value …; …`, with
/// comments in parentheses (nested) and quoted strings.
fn parse(value: &str) -> Results {
    let text = without_comments(value);
    let mut parts = split_outside_quotes(&text, ';').into_iter().peekable();
    // The first part is the authserv-id (and a version), unless it is already a result.
    let authserv_id = match parts.peek() {
        Some(p) if !p.split_whitespace().next().unwrap_or("").contains('=') => parts
            .next()
            .and_then(|p| p.split_whitespace().next().map(str::to_string))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let methods = parts
        .filter_map(|p| {
            let mut tokens = split_outside_quotes(p.trim(), ' ').into_iter();
            let (method, result) = tokens.next()?.split_once('=')?;
            let props = tokens
                .filter_map(|t| {
                    let (n, v) = t.split_once('=')?;
                    Some((n.to_ascii_lowercase(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some(Method {
                method: method.trim().to_ascii_lowercase(),
                // `method/version=result`
                result: result.trim().to_ascii_lowercase(),
                props,
            })
        })
        .map(|mut m| {
            if let Some((name, _)) = m.method.split_once('/') {
                m.method = name.to_string();
            }
            m
        })
        .collect();
    Results {
        authserv_id,
        methods,
    }
}

fn without_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(if c.is_whitespace() { ' ' } else { c }),
            _ => {}
        }
    }
    out
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "mx.city.example.lg.jp";

    fn v(h: &[&str], domain: &str) -> bool {
        let h: Vec<String> = h.iter().map(|s| s.to_string()).collect();
        vouched(&h, ID, domain)
    }

    #[test]
    fn dmarc_pass_from_the_citys_server_vouches() {
        assert!(v(
            &[
                "mx.city.example.lg.jp; spf=pass smtp.mailfrom=city.example.lg.jp; dkim=pass header.d=city.example.lg.jp; dmarc=pass (p=reject dis=none) header.from=city.example.lg.jp"
            ],
            "city.example.lg.jp"
        ));
        // Exchange Online's shape: a version, comments, action=.
        assert!(v(
            &[
                "mx.city.example.lg.jp 1; dmarc=pass action=none header.from=city.example.lg.jp;compauth=pass reason=100"
            ],
            "city.example.lg.jp"
        ));
    }

    #[test]
    fn spf_and_dkim_together_vouch_either_alone_does_not() {
        let both = "mx.city.example.lg.jp; spf=pass smtp.mailfrom=bounce@city.example.lg.jp; dkim=pass header.d=city.example.lg.jp header.s=s1";
        assert!(v(&[both], "city.example.lg.jp"));
        assert!(!v(
            &[
                "mx.city.example.lg.jp; spf=pass smtp.mailfrom=city.example.lg.jp; dkim=fail header.d=city.example.lg.jp"
            ],
            "city.example.lg.jp"
        ));
        assert!(!v(
            &[
                "mx.city.example.lg.jp; spf=pass smtp.mailfrom=attacker.example; dkim=pass header.d=attacker.example"
            ],
            "city.example.lg.jp"
        ));
    }

    #[test]
    fn a_forged_dmarc_fail_or_another_servers_header_vouches_for_nothing() {
        // The attack: a mail from outside with the supervisor's From and dmarc=fail.
        assert!(!v(
            &[
                "mx.city.example.lg.jp; spf=fail smtp.mailfrom=attacker.example; dkim=none; dmarc=fail (p=none) header.from=city.example.lg.jp"
            ],
            "city.example.lg.jp"
        ));
        // A header the attacker wrote under another id is not read; nor one below ours.
        assert!(!v(
            &[
                "mx.city.example.lg.jp; dmarc=fail header.from=city.example.lg.jp",
                "mx.city.example.lg.jp; dmarc=pass header.from=city.example.lg.jp"
            ],
            "city.example.lg.jp"
        ));
        assert!(!v(
            &["attacker.example; dmarc=pass header.from=city.example.lg.jp"],
            "city.example.lg.jp"
        ));
        assert!(!v(&[], "city.example.lg.jp"));
        // dmarc=pass for another From domain.
        assert!(!v(
            &["mx.city.example.lg.jp; dmarc=pass header.from=attacker.example"],
            "city.example.lg.jp"
        ));
    }

    #[test]
    fn exchange_onlines_header_without_an_id_is_read_when_it_is_the_topmost() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ms = "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=city.example.lg.jp; dkim=pass (signature was verified) header.d=city.example.lg.jp;dmarc=pass action=none header.from=city.example.lg.jp;compauth=pass reason=100";
        assert!(vouched(&h(&[ms]), EXCHANGE_ONLINE, "city.example.lg.jp"));
        let failed = "spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=attacker.example; dkim=none (message not signed) header.d=none;dmarc=fail action=none header.from=city.example.lg.jp;compauth=fail reason=000";
        assert!(!vouched(
            &h(&[failed, ms]),
            EXCHANGE_ONLINE,
            "city.example.lg.jp"
        ));
        assert!(!vouched(&h(&[ms]), ID, "city.example.lg.jp"));
    }

    #[test]
    fn comments_and_quotes_do_not_confuse_the_reading() {
        assert!(v(
            &[
                "mx.city.example.lg.jp (Postfix; 3.7); dmarc=pass (p=none; dis=none) header.from=\"city.example.lg.jp\""
            ],
            "city.example.lg.jp"
        ));
        assert!(!v(
            &["mx.city.example.lg.jp; dmarc=fail (dmarc=pass header.from=city.example.lg.jp)"],
            "city.example.lg.jp"
        ));
    }
}
