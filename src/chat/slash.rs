//! Slack-compatible slash commands (`/zaitaku 開始`) on `POST /chat/slash`: which requests are
//! real. Slack signs each request (v0: HMAC-SHA256 over `v0:{timestamp}:{body}` with the app's
//! signing secret, the timestamp within five minutes); Mattermost sends the command's token.
//! Pure functions; the handler is `web::chat`.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::SlashConfig;

/// How far a Slack request's timestamp may be from our clock.
pub const MAX_SKEW: TimeDelta = TimeDelta::minutes(5);

/// What a request carries that proves where it comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `X-Slack-Request-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Slack-Signature`: `v0=<hex>`.
    pub signature: Option<&'a str>,
    /// `Authorization: Token <token>` (Mattermost), or the form's `token` field.
    pub token: Option<&'a str>,
}

/// Why a request was refused (answered 401, recorded nowhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no signature or token, or none that this server is configured to check")]
    Unsigned,
    #[error("the timestamp is missing or more than five minutes from our clock")]
    Stale,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the token does not match")]
    BadToken,
}

/// Slack's v0 signature of a request: `v0=` and the hex HMAC-SHA256.
pub fn slack_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a request. `Ok` gives the key that makes it unique: the same request twice (a
/// replay) has the same key, and the second is refused where the first was recorded.
pub fn verify(
    cfg: &SlashConfig,
    c: &Credentials<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<String, Refused> {
    if let (Some(secret), Some(sig)) = (&cfg.signing_secret, c.signature) {
        let ts = c.timestamp.ok_or(Refused::Stale)?;
        // Slack's timestamp is in whole seconds: so is the clock it is compared with.
        let t = ts
            .trim()
            .parse()
            .ok()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .ok_or(Refused::Stale)?;
        if (now.trunc_subsecs(0) - t).abs() > MAX_SKEW {
            return Err(Refused::Stale);
        }
        let expected = slack_signature(secret, ts.trim(), body);
        let ok =
            expected.len() == sig.len() && bool::from(expected.as_bytes().ct_eq(sig.as_bytes()));
        return if ok {
            Ok(format!("slash:slack:{}", &expected[3..]))
        } else {
            Err(Refused::BadSignature)
        };
    }
    if let (Some(token), Some(given)) = (&cfg.token, c.token) {
        let ok = token.len() == given.len() && bool::from(token.as_bytes().ct_eq(given.as_bytes()));
        // Mattermost sends no timestamp; each request has its own trigger_id in the body.
        return if ok {
            Ok(format!("slash:token:{}", hex::encode(Sha256::digest(body))))
        } else {
            Err(Refused::BadToken)
        };
    }
    Err(Refused::Unsigned)
}

/// The request's fields: a form (Slack, Mattermost) or a JSON object (Rocket.Chat's outgoing
/// webhook). Fields that are not text are left out; a body that is neither gives none.
pub fn fields(content_type: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let json = content_type.is_some_and(|t| t.trim_start().starts_with("application/json"));
    if !json {
        return serde_urlencoded::from_bytes(body).unwrap_or_default();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"token=x&team_id=T1&user_id=U123&command=%2Fzaitaku&text=%E9%96%8B%E5%A7%8B&trigger_id=1.2.3";

    fn slack() -> SlashConfig {
        SlashConfig {
            signing_secret: Some("8f742231b10e8888abcd99yyyzzz85a5".into()),
            token: None,
        }
    }

    #[test]
    fn slacks_documented_example_signature() {
        // The example of Slack's "Verifying requests from Slack" page.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            slack_signature(
                "8f742231b10e8888abcd99yyyzzz85a5",
                "1531420618",
                body.as_bytes()
            ),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn a_signed_fresh_request_passes_and_a_replay_has_the_same_key() {
        let ts = "1700000000".to_string();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let sig = slack_signature("8f742231b10e8888abcd99yyyzzz85a5", &ts, BODY);
        let c = Credentials {
            timestamp: Some(&ts),
            signature: Some(&sig),
            token: None,
        };
        let k1 = verify(&slack(), &c, BODY, now).unwrap();
        assert_eq!(
            verify(&slack(), &c, BODY, now + TimeDelta::seconds(60)).unwrap(),
            k1
        );
        assert_eq!(
            verify(&slack(), &c, BODY, now + MAX_SKEW + TimeDelta::seconds(1)),
            Err(Refused::Stale)
        );
        assert_eq!(
            verify(&slack(), &c, b"user_id=U999&text=x", now),
            Err(Refused::BadSignature)
        );
        let bad = Credentials {
            signature: Some("v0=00"),
            ..c
        };
        assert_eq!(
            verify(&slack(), &bad, BODY, now),
            Err(Refused::BadSignature)
        );
        let unsigned = Credentials::default();
        assert_eq!(
            verify(&slack(), &unsigned, BODY, now),
            Err(Refused::Unsigned)
        );
    }

    #[test]
    fn forms_and_rocket_chat_json_give_the_same_fields() {
        let f = fields(
            Some("application/x-www-form-urlencoded"),
            b"user_id=U1&text=%E9%96%8B%E5%A7%8B",
        );
        assert_eq!(
            f,
            vec![
                ("user_id".into(), "U1".into()),
                ("text".into(), "開始".into())
            ]
        );
        let j = fields(
            Some("application/json; charset=utf-8"),
            r#"{"token":"t","user_id":"abc","text":"zaitaku 開始","bot":false,"timestamp":1}"#
                .as_bytes(),
        );
        assert!(j.contains(&("user_id".into(), "abc".into())));
        assert!(j.contains(&("text".into(), "zaitaku 開始".into())));
        assert!(j.contains(&("timestamp".into(), "1".into())));
        assert!(!j.iter().any(|(k, _)| k == "bot"));
        assert!(fields(Some("application/json"), b"[1]").is_empty());
    }

    #[test]
    fn mattermost_tokens_are_compared_whole() {
        let cfg = SlashConfig {
            signing_secret: None,
            token: Some("mmtoken123".into()),
        };
        let c = |t| Credentials {
            token: Some(t),
            ..Credentials::default()
        };
        assert!(verify(&cfg, &c("mmtoken123"), BODY, DateTime::UNIX_EPOCH).is_ok());
        assert_eq!(
            verify(&cfg, &c("mmtoken12"), BODY, DateTime::UNIX_EPOCH),
            Err(Refused::BadToken)
        );
        assert_eq!(
            verify(&cfg, &c("mmtoken124"), BODY, DateTime::UNIX_EPOCH),
            Err(Refused::BadToken)
        );
        // A Slack-signed request to a server that only knows a Mattermost token.
        let s = Credentials {
            timestamp: Some("1"),
            signature: Some("v0=ab"),
            token: None,
        };
        assert_eq!(
            verify(&cfg, &s, BODY, DateTime::UNIX_EPOCH),
            Err(Refused::Unsigned)
        );
    }
}
