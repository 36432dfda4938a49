//! `[chat.lineworks]` (SPEC §10): LINE WORKS Bot API 2.0. The bot (`bot_id`, whose Bot Secret
//! signs each callback to `POST /chat/lineworks`), the app that sends as it (`client_id`,
//! `client_secret`, its service account and that account's private key: the JWT exchanged for
//! an access token), the two base URLs (the tests point them at 127.0.0.1) and
//! `[chat.lineworks.channels]`, a department's message room. The key file is read and checked
//! here, when the configuration loads: a key LINE WORKS would refuse is one line and exit 2 at
//! start, not a failed message every minute.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use ring::signature::RsaKeyPair;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use super::{DepartmentDef, is_http_url, split_note};
use crate::error::Error;

pub const DEFAULT_API_BASE: &str = "https://www.worksapis.com";
pub const DEFAULT_AUTH_BASE: &str = "https://auth.worksmobile.com";

/// A bot ID may be written as a number (`bot_id = 2000001`, as the Developer Console shows
/// it) or as a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(i64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLineWorks {
    bot_id: Option<NumberOrText>,
    bot_secret: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    service_account: Option<String>,
    private_key_file: Option<String>,
    api_base: Option<String>,
    auth_base: Option<String>,
    #[serde(default)]
    channels: BTreeMap<String, String>,
}

/// `[chat.lineworks]`, checked. `Debug` shows neither secret nor key.
#[derive(Clone)]
pub struct LineWorksConfig {
    /// The bot's ID (digits): the API paths and the callback's `X-WORKS-BotId`.
    pub bot_id: String,
    /// The Bot Secret: the HMAC-SHA256 key of the callbacks' `X-WORKS-Signature`.
    pub bot_secret: String,
    /// The app's Client ID: the JWT's `iss` and the token request's `client_id`.
    pub client_id: String,
    pub client_secret: String,
    /// The app's service account (`…serviceaccount@…`): the JWT's `sub`.
    pub service_account: String,
    /// Where the key came from, for messages.
    pub private_key_file: PathBuf,
    /// The service account's private key, parsed once: it signs the JWT (RS256).
    pub private_key: Arc<RsaKeyPair>,
    /// `https://www.worksapis.com` (no trailing slash): `/v1.0/…` is appended.
    pub api_base: String,
    /// `https://auth.worksmobile.com` (no trailing slash): `/oauth2/v2.0/token` is appended.
    pub auth_base: String,
    /// Department → its message room's channel ID.
    pub channels: BTreeMap<String, String>,
}

impl fmt::Debug for LineWorksConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineWorksConfig")
            .field("bot_id", &self.bot_id)
            .field("bot_secret", &"(secret)")
            .field("client_id", &self.client_id)
            .field("client_secret", &"(secret)")
            .field("service_account", &self.service_account)
            .field("private_key_file", &self.private_key_file)
            .field("api_base", &self.api_base)
            .field("auth_base", &self.auth_base)
            .field("channels", &self.channels)
            .finish()
    }
}

pub(super) fn lineworks_config(
    file: &str,
    raw: RawLineWorks,
    departments: &[DepartmentDef],
) -> Result<LineWorksConfig, Error> {
    let field = |k: &str| format!("{file}: chat.lineworks.{k}");
    let required = |k: &str, v: Option<String>, what: &str| {
        v.map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::bad(field(k), format!("expected {what}")))
    };
    let bot_id = match raw.bot_id {
        Some(NumberOrText::Number(n)) => n.to_string(),
        Some(NumberOrText::Text(t)) => t.trim().to_string(),
        None => String::new(),
    };
    if bot_id.is_empty() || !bot_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::bad(
            field("bot_id"),
            format!("expected the bot's ID (digits, like 2000001), got {bot_id:?}"),
        ));
    }
    let bot_secret = required(
        "bot_secret",
        raw.bot_secret,
        "the Bot Secret (Developer Console → Bot): it verifies the callbacks",
    )?;
    let client_id = required("client_id", raw.client_id, "the app's Client ID")?;
    let client_secret = required(
        "client_secret",
        raw.client_secret,
        "the app's Client Secret",
    )?;
    let service_account = required(
        "service_account",
        raw.service_account,
        "the app's service account, like \"abcde.serviceaccount@city.example\"",
    )?;
    let key_file = required(
        "private_key_file",
        raw.private_key_file,
        "the service account's private key file (PEM, PKCS#8 RSA)",
    )?;
    let (private_key_file, private_key) = private_key(&field("private_key_file"), &key_file)?;
    let api_base = base_url(&field("api_base"), raw.api_base, DEFAULT_API_BASE)?;
    let auth_base = base_url(&field("auth_base"), raw.auth_base, DEFAULT_AUTH_BASE)?;
    let mut channels = BTreeMap::new();
    for (dept, channel) in raw.channels {
        let name = split_note(&dept).0;
        if !departments.iter().any(|d| d.name == name) {
            return Err(Error::bad(
                field("channels"),
                format!("expected a department of departments.toml, got {dept:?}"),
            ));
        }
        let channel = channel.trim().to_string();
        if channel.is_empty()
            || channel.contains(['/', '?', '#'])
            || channel.contains(char::is_whitespace)
        {
            return Err(Error::bad(
                field(&format!("channels.{dept}")),
                format!(
                    "expected the message room's channel ID (the room's menu → Channel ID), got {channel:?}"
                ),
            ));
        }
        channels.insert(name, channel);
    }
    Ok(LineWorksConfig {
        bot_id,
        bot_secret,
        client_id,
        client_secret,
        service_account,
        private_key_file,
        private_key,
        api_base,
        auth_base,
        channels,
    })
}

/// Reads and parses the key: PEM, `-----BEGIN PRIVATE KEY-----` (PKCS#8, what the Developer
/// Console issues), RSA of 2048 bits or more (what RS256 signing with `ring` takes).
fn private_key(at: &str, path: &str) -> Result<(PathBuf, Arc<RsaKeyPair>), Error> {
    let path = PathBuf::from(path);
    let pem = std::fs::read(&path).map_err(|e| {
        Error::bad(
            at,
            format!(
                "expected a readable private key file, got {}: {e}",
                path.display()
            ),
        )
    })?;
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).map_err(|_| {
        Error::bad(
            at,
            format!(
                "expected a PKCS#8 private key in PEM (-----BEGIN PRIVATE KEY-----) in {}; \
                 an RSA PRIVATE KEY converts with `openssl pkcs8 -topk8 -nocrypt`",
                path.display()
            ),
        )
    })?;
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(|e| {
        Error::bad(
            at,
            format!(
                "expected an RSA private key (2048 bits or more) in {}, got one that cannot sign RS256: {e}",
                path.display()
            ),
        )
    })?;
    Ok((path, Arc::new(key)))
}

/// A base URL: http(s), without a trailing slash.
fn base_url(at: &str, raw: Option<String>, default: &str) -> Result<String, Error> {
    let url = raw
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .unwrap_or_else(|| default.to_string());
    // No whitespace anywhere: the url crate would drop it, the paths appended here would not.
    if is_http_url(&url) && !url.contains(char::is_whitespace) {
        Ok(url)
    } else {
        Err(Error::bad(
            at,
            format!("expected an http(s) URL like {default:?}, got {url:?}"),
        ))
    }
}
