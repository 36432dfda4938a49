//! `[chat.teams]` (SPEC §10): Microsoft Teams. `outgoing_token` is the security token Teams
//! shows once when an outgoing webhook is created (base64; `POST /chat/teams` checks each
//! request's HMAC with it); `[chat.teams.workflows]` maps a department to the URL of its
//! channel's Workflows flow "When a Teams webhook request is received".

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use super::{DepartmentDef, is_http_url, split_note};
use crate::error::Error;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTeams {
    outgoing_token: Option<String>,
    #[serde(default)]
    workflows: BTreeMap<String, String>,
}

/// `[chat.teams]`, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamsConfig {
    /// The outgoing webhook's security token, decoded: the HMAC-SHA256 key. `None`: reports
    /// from Teams are not taken (`POST /chat/teams` answers 404).
    pub outgoing_key: Option<Vec<u8>>,
    /// Department → its channel's Workflows webhook URL.
    pub workflows: BTreeMap<String, String>,
}

pub(super) fn teams_config(
    file: &str,
    raw: RawTeams,
    departments: &[DepartmentDef],
) -> Result<TeamsConfig, Error> {
    let field = |k: &str| format!("{file}: chat.teams.{k}");
    let outgoing_key = match raw.outgoing_token.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => {
            let key = base64::engine::general_purpose::STANDARD
                .decode(t)
                .ok()
                .filter(|k| k.len() >= 16);
            Some(key.ok_or_else(|| {
                Error::bad(
                    field("outgoing_token"),
                    "expected the security token Teams showed when the outgoing webhook was created (base64, like \"Zm9vYmFy…\")",
                )
            })?)
        }
    };
    let mut workflows = BTreeMap::new();
    for (dept, url) in raw.workflows {
        let name = split_note(&dept).0;
        if !departments.iter().any(|d| d.name == name) {
            return Err(Error::bad(
                field("workflows"),
                format!("expected a department of departments.toml, got {dept:?}"),
            ));
        }
        let url = url.trim().to_string();
        if !is_http_url(&url) {
            return Err(Error::bad(
                field(&format!("workflows.{dept}")),
                format!(
                    "expected the Workflows webhook URL of the department's channel (https://…), got {url:?}"
                ),
            ));
        }
        workflows.insert(name, url);
    }
    if outgoing_key.is_none() && workflows.is_empty() {
        return Err(Error::bad(
            field("outgoing_token"),
            "expected outgoing_token (reports from Teams) or [chat.teams.workflows] (notices to Teams channels)",
        ));
    }
    Ok(TeamsConfig {
        outgoing_key,
        workflows,
    })
}
