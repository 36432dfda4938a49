//! `zaitaku.toml` and `departments.toml`: reading, defaults, validation.
//!
//! Every key has a default, unknown keys are an error naming the key, and a value that does not
//! parse names the file and the key. Nothing here touches the database or the network.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::calendar::{Minutes, Service};
use crate::error::Error;

/// The configuration shipped in `config/`, compiled in so that `demo` and a missing default
/// directory still work.
pub const EMBEDDED_ZAITAKU_TOML: &str = include_str!("../config/zaitaku.toml");
pub const EMBEDDED_DEPARTMENTS_TOML: &str = include_str!("../config/departments.toml");

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the files came from, for messages; `None` for the embedded defaults.
    pub dir: Option<PathBuf>,
    pub timezone: Tz,
    pub database: String,
    pub bot_address: String,
    pub templates: PathBuf,
    pub mail: MailConfig,
    pub service: Service,
    pub timing: Timing,
    pub departments: Vec<DepartmentDef>,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub source: String,
    pub transport: String,
}

/// Windows around the ordered start and end (SPEC §4 timing table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub early: chrono::Duration,
    pub grace: chrono::Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            early: chrono::Duration::minutes(30),
            grace: chrono::Duration::minutes(15),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDef {
    #[serde(default)]
    pub no: Option<u32>,
    pub name: String,
    pub division: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default = "yes")]
    pub target: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    timezone: Option<String>,
    database: Option<String>,
    bot_address: Option<String>,
    templates: Option<String>,
    #[serde(default)]
    mail: RawMail,
    #[serde(default)]
    service: RawService,
    #[serde(default)]
    timing: RawTiming,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    source: Option<String>,
    transport: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    from: Option<String>,
    to: Option<String>,
    licensed_ids: Option<u32>,
    workday_start: Option<String>,
    workday_end: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    early_minutes: Option<u32>,
    grace_minutes: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartments {
    #[serde(default)]
    department: Vec<DepartmentDef>,
}

impl Config {
    /// The compiled-in defaults (the files shipped in `config/`).
    pub fn embedded() -> Config {
        Self::from_strs(None, EMBEDDED_ZAITAKU_TOML, EMBEDDED_DEPARTMENTS_TOML)
            .expect("the embedded configuration is valid (checked by a unit test)")
    }

    /// Reads `DIR/zaitaku.toml` and `DIR/departments.toml`. A missing `zaitaku.toml` means all
    /// defaults; a missing `departments.toml` means the 46 departments of the annex.
    pub fn load(dir: &Path) -> Result<Config, Error> {
        if !dir.is_dir() {
            return Err(Error::bad(
                dir.display().to_string(),
                "expected a directory holding zaitaku.toml (see --config)",
            ));
        }
        let main = read_optional(&dir.join("zaitaku.toml"))?;
        let depts = read_optional(&dir.join("departments.toml"))?;
        Self::from_strs(
            Some(dir),
            main.as_deref().unwrap_or(""),
            depts.as_deref().unwrap_or(EMBEDDED_DEPARTMENTS_TOML),
        )
    }

    fn from_strs(dir: Option<&Path>, main: &str, depts: &str) -> Result<Config, Error> {
        let main_name = name_in(dir, "zaitaku.toml");
        let dept_name = name_in(dir, "departments.toml");
        let raw: RawConfig = toml::from_str(main).map_err(|e| toml_error(&main_name, main, &e))?;
        let raw_depts: RawDepartments =
            toml::from_str(depts).map_err(|e| toml_error(&dept_name, depts, &e))?;

        let field = |key: &str, msg: String| Error::bad(format!("{main_name}: {key}"), msg);
        let timezone: Tz = raw
            .timezone
            .as_deref()
            .unwrap_or("Asia/Tokyo")
            .parse()
            .map_err(|_| {
                field(
                    "timezone",
                    "expected an IANA time zone such as \"Asia/Tokyo\"".into(),
                )
            })?;
        let date = |key: &str, v: Option<String>, default: &str| {
            let v = v.unwrap_or_else(|| default.to_string());
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| field(key, format!("expected a date YYYY-MM-DD, got {v:?}")))
        };
        let time = |key: &str, v: Option<String>, default: &str| {
            let v = v.unwrap_or_else(|| default.to_string());
            NaiveTime::parse_from_str(&v, "%H:%M")
                .map(Minutes::from_time)
                .map_err(|_| field(key, format!("expected a time HH:MM, got {v:?}")))
        };
        let from = date("service.from", raw.service.from, "2020-11-27")?;
        let to = date("service.to", raw.service.to, "2022-03-31")?;
        if to < from {
            return Err(field(
                "service.to",
                format!("expected a date on or after service.from ({from})"),
            ));
        }
        let workday_start = time("service.workday_start", raw.service.workday_start, "08:30")?;
        let workday_end = time("service.workday_end", raw.service.workday_end, "17:15")?;
        if workday_end <= workday_start {
            return Err(field(
                "service.workday_end",
                "expected a time after service.workday_start".into(),
            ));
        }
        let licensed_ids = raw.service.licensed_ids.unwrap_or(50);
        if licensed_ids == 0 {
            return Err(field("service.licensed_ids", "expected at least 1".into()));
        }
        let bot_address = raw
            .bot_address
            .unwrap_or_else(|| "telework@city.example.lg.jp".into());
        if !bot_address.contains('@') {
            return Err(field(
                "bot_address",
                format!("expected an e-mail address, got {bot_address:?}"),
            ));
        }
        let mail = MailConfig {
            source: raw
                .mail
                .source
                .unwrap_or_else(|| "maildir:data/inbox".into()),
            transport: raw
                .mail
                .transport
                .unwrap_or_else(|| "file:data/outbox".into()),
        };
        if !(mail.source.starts_with("maildir:")
            || mail.source.starts_with("imap://")
            || mail.source.starts_with("imaps://"))
        {
            return Err(field(
                "mail.source",
                format!(
                    "expected maildir:PATH, imap://… or imaps://…, got {:?}",
                    mail.source
                ),
            ));
        }
        if !(mail.transport.starts_with("file:")
            || mail.transport.starts_with("smtp://")
            || mail.transport.starts_with("smtps://"))
        {
            return Err(field(
                "mail.transport",
                format!(
                    "expected file:DIR, smtp://… or smtps://…, got {:?}",
                    mail.transport
                ),
            ));
        }
        let timing = Timing {
            early: chrono::Duration::minutes(raw.timing.early_minutes.unwrap_or(30).into()),
            grace: chrono::Duration::minutes(raw.timing.grace_minutes.unwrap_or(15).into()),
        };

        let mut departments = raw_depts.department;
        let mut seen = std::collections::HashSet::new();
        for d in &mut departments {
            let (name, note) = split_note(&d.name);
            if note.is_some() && d.note.is_none() {
                d.note = note;
            }
            d.name = name;
            if d.name.is_empty() || d.division.trim().is_empty() {
                return Err(Error::bad(
                    format!("{dept_name}: department"),
                    "expected a name and a division",
                ));
            }
            if !seen.insert(d.name.clone()) {
                return Err(Error::bad(
                    format!("{dept_name}: department"),
                    format!("{} is listed twice", d.name),
                ));
            }
        }

        Ok(Config {
            dir: dir.map(Path::to_path_buf),
            timezone,
            database: raw
                .database
                .unwrap_or_else(|| "sqlite://data/zaitaku.db".into()),
            bot_address,
            templates: PathBuf::from(raw.templates.unwrap_or_else(|| "templates".into())),
            mail,
            service: Service {
                from,
                to,
                licensed_ids,
                workday_start,
                workday_end,
            },
            timing,
            departments,
        })
    }
}

/// 「こども課（出先機関除く）」 → (「こども課」, Some(「出先機関除く」)). Accepts ASCII parentheses too.
pub fn split_note(name: &str) -> (String, Option<String>) {
    let name = name.trim();
    for (open, close) in [('（', '）'), ('(', ')')] {
        if let Some(i) = name.find(open)
            && name.ends_with(close)
        {
            let base = name[..i].trim().to_string();
            let note = name[i + open.len_utf8()..name.len() - close.len_utf8()]
                .trim()
                .to_string();
            return (base, Some(note).filter(|n| !n.is_empty()));
        }
    }
    (name.to_string(), None)
}

fn name_in(dir: Option<&Path>, file: &str) -> String {
    match dir {
        Some(d) => d.join(file).display().to_string(),
        None => format!("(built-in) {file}"),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> Error {
    let line = e.span().map(|s| {
        text.as_bytes()[..s.start.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    });
    let msg = e.message().replace('\n', " ");
    match line {
        Some(l) => Error::bad(format!("{file}:{l}"), msg),
        None => Error::bad(file.to_string(), msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_hold_the_46_departments_of_the_annex() {
        let c = Config::embedded();
        assert_eq!(c.departments.len(), 46);
        assert_eq!(c.service.licensed_ids, 50);
        assert_eq!(c.timezone, chrono_tz::Asia::Tokyo);
        let kodomo = c.departments.iter().find(|d| d.name == "こども課").unwrap();
        assert_eq!(kodomo.note.as_deref(), Some("出先機関除く"));
        assert!(c.departments.iter().all(|d| d.target));
    }

    #[test]
    fn an_empty_file_means_every_default() {
        let c = Config::from_strs(None, "", EMBEDDED_DEPARTMENTS_TOML).unwrap();
        assert_eq!(c.database, "sqlite://data/zaitaku.db");
        assert_eq!(c.mail.transport, "file:data/outbox");
        assert_eq!(c.service.workday_start, Minutes(8 * 60 + 30));
        assert_eq!(c.service.workday_end, Minutes(17 * 60 + 15));
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = Config::from_strs(None, "[service]\nlicenced_ids = 3\n", "").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("licenced_ids"), "{msg}");
        assert!(msg.contains(":2"), "line number expected: {msg}");
        assert!(err.is_bad_input());
    }

    #[test]
    fn a_bad_time_names_the_key_and_the_expected_form() {
        let err = Config::from_strs(None, "[service]\nworkday_start = \"8:3O\"\n", "").unwrap_err();
        assert!(
            err.to_string()
                .contains("service.workday_start: expected a time HH:MM"),
            "{err}"
        );
    }

    #[test]
    fn notes_are_split_off_department_names() {
        assert_eq!(
            split_note("こども課（出先機関除く）"),
            ("こども課".into(), Some("出先機関除く".into()))
        );
        assert_eq!(
            split_note("市民課(出先機関除く)"),
            ("市民課".into(), Some("出先機関除く".into()))
        );
        assert_eq!(split_note(" 財政課 "), ("財政課".into(), None));
    }
}
