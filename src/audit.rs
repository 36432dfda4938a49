//! `zaitaku audit list | export | verify` (SPEC §11): the audit trail as lines, JSON and CSV.
//! The entries are written by the store, in the transaction of each change
//! (`store::audit::append`); this module only reads and prints them.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::audit::{Entry, Filter};
use crate::survey::Encoding;

/// The first second of `day` in the city's time zone.
fn day_start(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The filter of `--from`, `--to` (both days included), `--employee`, `--department` and
/// `--entity`.
pub fn filter(
    tz: Tz,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    employee: Option<String>,
    department: Option<String>,
    entity: Option<String>,
) -> Filter {
    Filter {
        from: from.map(|d| day_start(d, tz)),
        to: to.map(|d| day_start(d + Duration::days(1), tz)),
        employee,
        department,
        entity,
    }
}

fn at(e: &Entry, tz: Tz) -> String {
    e.at().unwrap_or_default().with_timezone(&tz).to_rfc3339()
}

/// An entry as `audit list --json` prints it (SPEC §11).
pub fn to_json(e: &Entry, tz: Tz) -> Value {
    json!({
        "id": e.id, "at": at(e, tz), "actor": e.actor, "via": e.via, "client": e.client,
        "entity": e.entity, "entity_id": e.entity_id, "department": e.department,
        "action": e.action, "before": e.before, "after": e.after, "hash": e.hash,
    })
}

fn json_or_dash(v: &Option<Value>) -> String {
    v.as_ref().map_or_else(|| "-".into(), Value::to_string)
}

/// One line of `audit list`: id, when, who, via, entity and ID, action, before → after.
pub fn to_line(e: &Entry, tz: Tz) -> String {
    crate::text::clean_line(&format!(
        "{}\t{}\t{}\t{}\t{} {}\t{}\t{} → {}",
        e.id,
        at(e, tz),
        e.actor,
        e.via,
        e.entity,
        e.entity_id,
        e.action,
        json_or_dash(&e.before),
        json_or_dash(&e.after)
    ))
    .into_owned()
}

/// `audit export`: CSV with a header, UTF-8 with a BOM (Excel reads it as UTF-8) or Shift_JIS.
pub fn to_csv(entries: &[Entry], tz: Tz, encoding: &str) -> Result<Vec<u8>> {
    let enc = Encoding::parse(encoding).ok_or_else(|| {
        Error::bad(
            "--encoding",
            format!("expected utf-8 or shift_jis, got {encoding:?}"),
        )
    })?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "at",
        "actor",
        "via",
        "client",
        "entity",
        "entity_id",
        "department",
        "action",
        "before",
        "after",
        "hash",
    ];
    let io = |e: csv::Error| Error::bad("audit export", e.to_string());
    w.write_record(header).map_err(io)?;
    for e in entries {
        w.write_record([
            e.id.to_string(),
            at(e, tz),
            e.actor.clone(),
            e.via.clone(),
            e.client.clone().unwrap_or_default(),
            e.entity.clone(),
            e.entity_id.clone(),
            e.department.clone().unwrap_or_default(),
            e.action.clone(),
            e.before.as_ref().map(Value::to_string).unwrap_or_default(),
            e.after.as_ref().map(Value::to_string).unwrap_or_default(),
            e.hash.clone(),
        ])
        .map_err(io)?;
    }
    let text = String::from_utf8(
        w.into_inner()
            .map_err(|e| Error::bad("audit export", e.to_string()))?,
    )
    .map_err(|e| Error::bad("audit export", e.to_string()))?;
    Ok(match enc {
        Encoding::Utf8 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        Encoding::ShiftJis => enc.encode(&text),
    })
}

/// Keys of `zaitaku.toml` whose values are secrets (`password`, `access_token`,
/// `bot_secret`, `signing_secret`, `outgoing_token`, `private_key_file`, …): left out of the
/// configuration's fingerprint, as are the passwords in URLs (`database`, `mail.source`).
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "private_key"]
        .iter()
        .any(|w| k.contains(w))
}

fn redact_toml(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t.iter_mut() {
                if secret_key(k) {
                    *x = toml::Value::String("***".into());
                } else {
                    redact_toml(x);
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(redact_toml),
        toml::Value::String(s) if s.contains("://") => *s = crate::store::redact(s),
        _ => {}
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// The fingerprint of `zaitaku.toml`: its values without the secrets, in a canonical form (so
/// a comment or the order of keys changes nothing, a changed value does, and a changed
/// password alone does not: its hash could be tried against guesses).
fn main_file_hash(text: &str) -> String {
    match toml::from_str::<toml::Value>(text) {
        Ok(mut v) => {
            redact_toml(&mut v);
            sha256(toml::to_string(&v).unwrap_or_default().as_bytes())
        }
        Err(_) => sha256(b""),
    }
}

/// What the audit trail keeps of the configuration a process loaded: a SHA-256 of each file
/// (`zaitaku.toml` without its secrets), and a few values a reader of the trail asks about.
/// Never a secret.
pub fn config_summary(cfg: &Config) -> Value {
    let mut files = serde_json::Map::new();
    match cfg.dir.as_deref() {
        Some(dir) => {
            for name in [
                "zaitaku.toml",
                "departments.toml",
                "holidays.csv",
                "exports.toml",
            ] {
                let Ok(bytes) = std::fs::read(dir.join(name)) else {
                    continue;
                };
                let hash = if name == "zaitaku.toml" {
                    main_file_hash(&String::from_utf8_lossy(&bytes))
                } else {
                    sha256(&bytes)
                };
                files.insert(name.into(), hash.into());
            }
        }
        None => {
            let main = main_file_hash(crate::config::EMBEDDED_ZAITAKU_TOML);
            let depts = sha256(crate::config::EMBEDDED_DEPARTMENTS_TOML.as_bytes());
            files.insert("zaitaku.toml".into(), main.into());
            files.insert("departments.toml".into(), depts.into());
        }
    }
    json!({
        "files": files,
        "departments": cfg.departments.len(),
        "timezone": cfg.timezone.name(),
        "service": {
            "from": cfg.service.from.to_string(), "to": cfg.service.to.to_string(),
            "licensed_ids": cfg.service.licensed_ids,
        },
        "retention_bodies_days": cfg.retention_days,
        "web": cfg.web.is_some(),
    })
}

/// The audit trail's ID of a configuration: the folder it was read from.
pub fn config_entity_id(cfg: &Config) -> String {
    cfg.dir
        .as_deref()
        .map_or_else(|| "(built-in)".into(), |d| d.display().to_string())
}

/// At the start of `zaitaku run` and `zaitaku web`: one entry (entity `config`, action
/// `load`) when the configuration differs from the one the last entry for its folder
/// recorded, the earlier one as `before`; none when it is the same. True when one was written.
pub async fn record_config(store: &Store, cfg: &Config, now: DateTime<Utc>) -> Result<bool> {
    let change = crate::store::audit::Change {
        entity: "config",
        entity_id: config_entity_id(cfg),
        department: None,
        action: "load",
        before: None,
        after: Some(config_summary(cfg)),
    };
    let actor = crate::store::audit::Actor::process();
    store.append_if_changed(&actor, now, change).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configurations_fingerprint_keeps_no_secret_and_follows_values_not_comments() {
        let with = |extra: &str| {
            format!(
                "database = \"postgres://zaitaku:hunter2@db/zaitaku\"\n{extra}\n\
                 [chat.slash]\nsigning_secret = \"s3cr3t-value\"\n"
            )
        };
        let a = main_file_hash(&with(""));
        assert_eq!(a, main_file_hash(&with("# a comment")));
        assert_ne!(a, main_file_hash(&with("bot_address = \"b@x.jp\"")));
        // Only the secret changed: the same fingerprint (it could be tried against guesses).
        let other_secret = with("")
            .replace("s3cr3t-value", "another")
            .replace("hunter2", "pw");
        assert_eq!(a, main_file_hash(&other_secret));
        let cfg = Config::embedded();
        let text = config_summary(&cfg).to_string();
        assert!(
            text.contains("zaitaku.toml") && text.contains("\"departments\":46"),
            "{text}"
        );
    }

    #[test]
    fn days_are_the_citys_days() {
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        let f = filter(
            tz,
            NaiveDate::from_ymd_opt(2021, 1, 12),
            NaiveDate::from_ymd_opt(2021, 1, 12),
            None,
            None,
            None,
        );
        // 2021-01-12 00:00 JST is 2021-01-11 15:00 UTC; the 13th's start is a day later.
        assert_eq!(f.from.map(|t| t.timestamp()), Some(1_610_377_200));
        assert_eq!(f.to.map(|t| t.timestamp()), Some(1_610_377_200 + 86_400));
    }
}
