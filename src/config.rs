//! `zaitaku.toml` and `departments.toml`: reading, defaults, validation.
//!
//! Every key has a default, unknown keys are an error naming the key, and a value that does not
//! parse names the file and the key. Nothing here touches the database or the network.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;

mod teams;
pub use teams::TeamsConfig;

use crate::calendar::{Minutes, Service};
use crate::error::Error;
use crate::holidays::{Calendar, DEFAULT_CLOSED, default_annual_name, parse_month_day};

mod ldap;
pub use ldap::{LdapAttributes, LdapConfig, LdapTls, dn_key};
mod lineworks;
pub use lineworks::LineWorksConfig;

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
    /// `database_connections`: the most connections a process keeps open to the database
    /// (its pool). `None`: each command's own default (see `Store::open_sized`).
    pub database_connections: Option<u32>,
    pub bot_address: String,
    pub templates: PathBuf,
    /// `config/tenants/CODE/templates` under `--tenant CODE`: its files win over `templates`.
    pub template_overrides: Option<PathBuf>,
    pub mail: MailConfig,
    pub service: Service,
    pub timing: Timing,
    /// J-LIS survey waves (`[[survey.wave]]`), in the order written.
    pub waves: Vec<Wave>,
    pub escalation: Escalation,
    pub digest: DigestConfig,
    pub daemon: DaemonConfig,
    /// `[retention] bodies_days`: mail bodies and 日報 text older than this many days are
    /// blanked by the daemon once a day (`None`: kept).
    pub retention_days: Option<u32>,
    pub chat: ChatConfig,
    pub departments: Vec<DepartmentDef>,
    /// Closed days: weekends, national holidays (`holidays.csv`), 年末年始, the city's own.
    pub calendar: Calendar,
    /// `[web]`: the register and board over HTTP. `None`: `zaitaku run` opens no port.
    pub web: Option<WebConfig>,
    /// `[ldap]` (SPEC §12): logins and staff from the city's directory. `None`: local
    /// passwords only.
    pub ldap: Option<LdapConfig>,
    /// `[approval]`: the approval route of an order (SPEC §11).
    pub approval: Approval,
}

/// `[approval] steps`: who stamps an order, in turn. The supervisor (所属長) always; then, when
/// configured, the division head (部長) of the department's division. An order is approved
/// (and chased) only after the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Approval {
    /// `steps = ["supervisor", "division_head"]`.
    pub division_head: bool,
}

fn approval(file: &str, raw: RawApproval) -> Result<Approval, Error> {
    let steps = raw.steps.unwrap_or_else(|| vec!["supervisor".into()]);
    let words: Vec<&str> = steps.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["supervisor"] => Ok(Approval {
            division_head: false,
        }),
        ["supervisor", "division_head"] => Ok(Approval {
            division_head: true,
        }),
        _ => Err(field(
            file,
            "approval.steps",
            format!(
                "expected [\"supervisor\"] or [\"supervisor\", \"division_head\"], got {steps:?}"
            ),
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    steps: Option<Vec<String>>,
}

/// `[web]` (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// Address and port to listen on, default `127.0.0.1:8080`.
    pub listen: std::net::SocketAddr,
    /// Mark the session cookie `Secure` (served behind an HTTPS reverse proxy).
    pub secure_cookie: bool,
    /// Single sign-on behind the city's reverse proxy: the header naming the signed-in
    /// employee (`X-Remote-User`), believed only from `trusted_proxies`.
    pub trusted_header: Option<axum::http::HeaderName>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The host name this municipality's register answers on when one daemon serves several
    /// (`run --all-tenants`, `config/tenants/CODE/zaitaku.toml`), lower case.
    pub host: Option<String>,
}

pub const DEFAULT_WEB_LISTEN: &str = "127.0.0.1:8080";

/// Who a step of an escalation chain tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    Teleworker,
    Supervisors,
    Hr,
}

impl Recipient {
    pub fn as_str(self) -> &'static str {
        match self {
            Recipient::Teleworker => "teleworker",
            Recipient::Supervisors => "supervisors",
            Recipient::Hr => "hr",
        }
    }
}

/// One step: `after_minutes` past the report's deadline (ordered time + grace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub after_minutes: u32,
    pub to: Recipient,
    /// Sent again every this many minutes until someone acknowledges (the report arrives, a
    /// reply, a web or chat resolution, a phone contact), at most `max_repeats` times. 0: once.
    #[serde(default)]
    pub repeat_minutes: u32,
    #[serde(default)]
    pub max_repeats: u32,
}

/// The chains for a missing start and a missing end report (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub missing_start: Vec<Step>,
    pub missing_end: Vec<Step>,
}

impl Default for Escalation {
    fn default() -> Self {
        let chain = vec![
            Step {
                after_minutes: 0,
                to: Recipient::Teleworker,
                repeat_minutes: 0,
                max_repeats: 0,
            },
            Step {
                after_minutes: 15,
                to: Recipient::Supervisors,
                repeat_minutes: 0,
                max_repeats: 0,
            },
            Step {
                after_minutes: 120,
                to: Recipient::Hr,
                repeat_minutes: 0,
                max_repeats: 0,
            },
        ];
        Escalation {
            missing_start: chain.clone(),
            missing_end: chain,
        }
    }
}

/// When supervisors get the day's digest: `cron` crate expressions (with seconds) in the
/// configured time zone.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub schedules: Vec<(String, cron::Schedule)>,
}

pub const DEFAULT_DIGEST_SCHEDULES: [&str; 2] = ["0 0 10 * * Mon-Fri", "0 45 17 * * Mon-Fri"];

/// `[mail] smtp_timeout_seconds` when the configuration does not set it (and the delivery
/// lease allows it).
pub const SMTP_TIMEOUT_SECONDS: u64 = 60;

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub source: String,
    pub transport: String,
    /// IMAP: move processed mail to this folder (created when missing); empty: flag it \Seen.
    pub processed_folder: Option<String>,
    /// How often a Maildir (or an IMAP server without IDLE) is looked at.
    pub poll_seconds: u64,
    /// The first retry of a failed delivery waits this long, doubling up to an hour.
    pub retry_base_seconds: u64,
    /// A mail being sent is reserved this long for the process sending it; if that process
    /// dies, another (or the restarted one) sends it when the reservation ends.
    pub delivery_lease_seconds: u64,
    /// The longest an SMTP server may take to answer: to connect and log in, or to take one
    /// mail. Past it the mail is retried like any other that could not be sent.
    pub smtp_timeout_seconds: u64,
    /// The longest an IMAP server may take to answer one command (the greeting and login,
    /// SELECT, SEARCH, a batch's FETCH, the flags); past it the session is dropped and opened
    /// again. Not IDLE, which waits for news by design.
    pub imap_timeout_seconds: u64,
    /// An IMAP mailbox is read by the one daemon holding its lease (migration 0024); the holder
    /// renews it every third of this, and a lease not renewed for this long (its daemon killed,
    /// its host gone) is taken by another daemon.
    pub mailbox_lease_seconds: u64,
    /// The loop breaker (RFC 3834 §2): at most this many automatic answers to one address a
    /// day, whatever the mail looks like; later mail is recorded as `rate_limited`.
    pub max_answers_per_address_per_day: u32,
    /// The authserv-id of the city's own mail server (RFC 8601): only its
    /// `Authentication-Results` are believed. When set, a supervisor's reply resolves an
    /// escalation only if that server found `dmarc=pass`, or `spf=pass` and `dkim=pass`, for
    /// the sender's domain.
    pub trust_authentication_results: Option<String>,
    /// With `trust_authentication_results`: start and end reports need it too; others are
    /// recorded as `unauthenticated` and answered to nobody.
    pub require_authenticated_reports: bool,
}

impl MailConfig {
    /// Mail comes from a Maildir on this machine: every daemon reads it, and no mailbox lease
    /// applies (an IMAP mailbox is read by the daemon holding its lease, `mail::lease`).
    pub fn is_maildir(&self) -> bool {
        self.source.starts_with("maildir:")
    }
}

/// `zaitaku run`: when the tick work (escalations, digests, delivery retries) runs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub tick: (String, cron::Schedule),
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
    database_connections: Option<i64>,
    bot_address: Option<String>,
    templates: Option<String>,
    #[serde(default)]
    mail: RawMail,
    #[serde(default)]
    service: RawService,
    #[serde(default)]
    timing: RawTiming,
    #[serde(default)]
    survey: RawSurvey,
    #[serde(default)]
    escalation: RawEscalation,
    #[serde(default)]
    digest: RawDigest,
    #[serde(default)]
    calendar: RawCalendar,
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    retention: RawRetention,
    web: Option<RawWeb>,
    #[serde(default)]
    chat: RawChat,
    ldap: Option<ldap::RawLdap>,
    #[serde(default)]
    approval: RawApproval,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChat {
    /// Department name → incoming-webhook URL (Slack, Mattermost, Rocket.Chat).
    #[serde(default)]
    webhook: std::collections::BTreeMap<String, String>,
    lineworks: Option<lineworks::RawLineWorks>,
    slash: Option<RawSlash>,
    matrix: Option<RawMatrix>,
    teams: Option<teams::RawTeams>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlash {
    signing_secret: Option<String>,
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    homeserver: Option<String>,
    user: Option<String>,
    access_token: Option<String>,
    password: Option<String>,
    #[serde(default)]
    rooms: std::collections::BTreeMap<String, String>,
    sync_timeout_seconds: Option<u64>,
}

/// Chat (SPEC §10): the departments' rooms, where escalations and digests are posted too
/// (through the outbox), and the ways teleworkers report by chat.
#[derive(Debug, Clone, Default)]
pub struct ChatConfig {
    /// Department name → incoming-webhook URL.
    pub webhooks: std::collections::BTreeMap<String, String>,
    /// `[chat.lineworks]`: the LINE WORKS bot, its app's service account, the departments' rooms.
    pub lineworks: Option<LineWorksConfig>,
    /// `[chat.slash]`: how `POST /chat/slash` tells a real Slack/Mattermost request.
    pub slash: Option<SlashConfig>,
    /// `[chat.matrix]`: the bot's Matrix account and the departments' rooms.
    pub matrix: Option<MatrixConfig>,
    /// `[chat.teams]`: Microsoft Teams (outgoing webhook in, Workflows out).
    pub teams: Option<TeamsConfig>,
}

/// `[chat.slash]`: Slack's signing secret (v0 HMAC-SHA256) and/or Mattermost's command token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlashConfig {
    pub signing_secret: Option<String>,
    pub token: Option<String>,
}

/// `[chat.matrix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixConfig {
    /// `https://matrix.city.example.lg.jp` (no trailing slash).
    pub homeserver: String,
    /// The bot's user ID, `@zaitaku:city.example.lg.jp`.
    pub user: String,
    pub access_token: Option<String>,
    pub password: Option<String>,
    /// Department name → room ID (`!abc:city.example.lg.jp`).
    pub rooms: std::collections::BTreeMap<String, String>,
    /// How long one `/sync` long-poll waits on the server.
    pub sync_timeout_seconds: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    listen: Option<String>,
    host: Option<String>,
    secure_cookie: Option<bool>,
    trusted_header: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    missing_start: Option<Vec<Step>>,
    missing_end: Option<Vec<Step>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    schedules: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    source: Option<String>,
    transport: Option<String>,
    processed_folder: Option<String>,
    poll_seconds: Option<u64>,
    retry_base_seconds: Option<u64>,
    delivery_lease_seconds: Option<u64>,
    smtp_timeout_seconds: Option<u64>,
    imap_timeout_seconds: Option<u64>,
    mailbox_lease_seconds: Option<u64>,
    max_answers_per_address_per_day: Option<u32>,
    trust_authentication_results: Option<String>,
    require_authenticated_reports: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    tick: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    bodies_days: Option<toml::Value>,
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

/// `[calendar]`: the days the city hall is closed besides weekends and national holidays.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    /// Every year: `"MM-DD"` or `{ date = "MM-DD", name = "…" }`.
    closed: Option<Vec<toml::Value>>,
    /// Once: `"YYYY-MM-DD"` or `{ date = "YYYY-MM-DD", name = "…" }`.
    extra_closed: Option<Vec<toml::Value>>,
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
        // Bytes: the Cabinet Office's file comes in Shift_JIS and may be saved here as it is.
        let path = dir.join("holidays.csv");
        let holidays = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&path, e)),
        };
        Self::from_parts(
            Some(dir),
            main.as_deref().unwrap_or(""),
            depts.as_deref().unwrap_or(EMBEDDED_DEPARTMENTS_TOML),
            holidays.as_deref(),
        )
    }

    /// The configuration of one municipality (SPEC §13): `DIR/tenants/CODE/` over `DIR`.
    /// The tenant's `zaitaku.toml` may set any key but `database` (the tenants of a database
    /// share it) and wins key by key, table by table; its `departments.toml` and `holidays.csv`
    /// replace the shared ones; files in its `templates/` win over the shared templates. A
    /// tenant without a folder runs on the shared configuration. Each file is checked on its
    /// own first, so that an error names the file and line it is in.
    pub fn load_tenant(dir: &Path, code: &str) -> Result<Config, Error> {
        Self::tenant_over(Self::load(dir)?, dir, code)
    }

    /// `load_tenant`, given the shared configuration `Config::load(dir)` already read: the
    /// all-tenant survey reads it once for hundreds of municipalities instead of once each.
    pub fn tenant_over(shared: Config, dir: &Path, code: &str) -> Result<Config, Error> {
        let tdir = dir.join("tenants").join(code);
        if !tdir.is_dir() {
            return Ok(shared);
        }
        let main = read_optional(&dir.join("zaitaku.toml"))?.unwrap_or_default();
        let tmain = read_optional(&tdir.join("zaitaku.toml"))?.unwrap_or_default();
        let tname = name_in(Some(&tdir), "zaitaku.toml");
        // The keys of the one database and its connections, which the municipalities share.
        #[derive(Deserialize)]
        struct DatabaseKeys {
            database: Option<toml::Spanned<toml::Value>>,
            database_connections: Option<toml::Spanned<toml::Value>>,
        }
        let db: DatabaseKeys =
            toml::from_str(&tmain).map_err(|e| toml_error(&tname, &tmain, &e))?;
        for (key, d) in [
            ("database", db.database),
            ("database_connections", db.database_connections),
        ] {
            let Some(d) = d else { continue };
            let line = tmain.as_bytes()[..d.span().start.min(tmain.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(Error::bad(
                format!("{tname}:{line}: {key}"),
                format!(
                    "expected no {key} key: the municipalities of one database share it (the shared zaitaku.toml, or --db)"
                ),
            ));
        }
        let depts = match read_optional(&tdir.join("departments.toml"))? {
            Some(d) => (Some(tdir.as_path()), d),
            None => match read_optional(&dir.join("departments.toml"))? {
                Some(d) => (Some(dir), d),
                None => (None, EMBEDDED_DEPARTMENTS_TOML.to_string()),
            },
        };
        let holidays = match std::fs::read(tdir.join("holidays.csv")) {
            Ok(b) => Some((tdir.as_path(), b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::read(dir.join("holidays.csv")) {
                    Ok(b) => Some((dir, b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(Error::io(&dir.join("holidays.csv"), e)),
                }
            }
            Err(e) => return Err(Error::io(&tdir.join("holidays.csv"), e)),
        };
        // The tenant's file alone over the defaults: its unknown keys and bad values, by line.
        Self::from_parts(
            Some(&tdir),
            &tmain,
            &depts.1,
            holidays.as_ref().map(|h| h.1.as_slice()),
        )?;
        let mut merged: toml::Table = toml::from_str(&main)
            .map_err(|e| toml_error(&name_in(Some(dir), "zaitaku.toml"), &main, &e))?;
        let over: toml::Table =
            toml::from_str(&tmain).map_err(|e| toml_error(&tname, &tmain, &e))?;
        merge_tables(&mut merged, over);
        let text =
            toml::to_string(&merged).map_err(|e| Error::bad(tname.clone(), e.to_string()))?;
        let mut cfg = Self::from_parts(
            Some(holidays.as_ref().map_or(dir, |h| h.0)),
            &text,
            &depts.1,
            holidays.as_ref().map(|h| h.1.as_slice()),
        )?;
        cfg.dir = shared.dir;
        cfg.template_overrides = Some(tdir.join("templates"));
        Ok(cfg)
    }

    /// The folders templates are looked up in, the first that has a file winning.
    pub fn template_dirs(&self) -> Vec<PathBuf> {
        self.template_overrides
            .iter()
            .cloned()
            .chain(std::iter::once(self.templates.clone()))
            .collect()
    }

    pub fn from_strs(dir: Option<&Path>, main: &str, depts: &str) -> Result<Config, Error> {
        Self::from_parts(dir, main, depts, None)
    }

    /// `holidays`: the config folder's `holidays.csv`; `None` for the shipped table.
    fn from_parts(
        dir: Option<&Path>,
        main: &str,
        depts: &str,
        holidays: Option<&[u8]>,
    ) -> Result<Config, Error> {
        let main_name = name_in(dir, "zaitaku.toml");
        let dept_name = name_in(dir, "departments.toml");
        let raw: RawConfig = toml::from_str(main).map_err(|e| toml_error(&main_name, main, &e))?;
        let raw_depts: RawDepartments =
            toml::from_str(depts).map_err(|e| toml_error(&dept_name, depts, &e))?;

        // One function per section, each naming its keys as `zaitaku.toml: section.key`.
        let file = main_name.as_str();
        let timezone = timezone(file, raw.timezone.as_deref())?;
        let service = service(file, raw.service)?;
        let mail = mail(file, raw.mail)?;
        let bot_address = bot_address(file, raw.bot_address)?;
        let database_connections = database_connections(file, raw.database_connections)?;
        let daemon = daemon(file, raw.daemon)?;
        let retention_days = retention(file, raw.retention)?;
        let timing = Timing {
            early: chrono::Duration::minutes(raw.timing.early_minutes.unwrap_or(30).into()),
            grace: chrono::Duration::minutes(raw.timing.grace_minutes.unwrap_or(15).into()),
        };
        let escalation = escalation(file, raw.escalation)?;
        let digest = digest(file, raw.digest)?;
        let period = (service.from, service.to);
        let calendar = calendar(file, dir, raw.calendar, holidays, period)?;
        let web = raw.web.map(|w| web(file, w)).transpose()?;
        let departments = departments(&dept_name, raw_depts.department)?;
        let approval = approval(file, raw.approval)?;

        Ok(Config {
            dir: dir.map(Path::to_path_buf),
            timezone,
            database: raw
                .database
                .unwrap_or_else(|| "sqlite://data/zaitaku.db".into()),
            database_connections,
            bot_address,
            templates: PathBuf::from(raw.templates.unwrap_or_else(|| "templates".into())),
            template_overrides: None,
            mail,
            service,
            timing,
            waves: survey_waves(file, raw.survey)?,
            escalation,
            digest,
            calendar,
            daemon,
            retention_days,
            chat: chat_config(file, raw.chat, &departments)?,
            departments,
            web,
            ldap: raw.ldap.map(|l| ldap::ldap_config(file, l)).transpose()?,
            approval,
        })
    }
}

/// The error for `key` of the main file `file`: `zaitaku.toml: service.to: expected …`.
fn field(file: &str, key: &str, msg: impl Into<String>) -> Error {
    Error::bad(format!("{file}: {key}"), msg)
}

fn timezone(file: &str, raw: Option<&str>) -> Result<Tz, Error> {
    raw.unwrap_or("Asia/Tokyo").parse().map_err(|_| {
        field(
            file,
            "timezone",
            "expected an IANA time zone such as \"Asia/Tokyo\"",
        )
    })
}

fn parse_date_key(
    file: &str,
    key: &str,
    v: Option<String>,
    default: &str,
) -> Result<NaiveDate, Error> {
    let v = v.unwrap_or_else(|| default.to_string());
    NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .map_err(|_| field(file, key, format!("expected a date YYYY-MM-DD, got {v:?}")))
}

fn parse_time_key(
    file: &str,
    key: &str,
    v: Option<String>,
    default: &str,
) -> Result<Minutes, Error> {
    let v = v.unwrap_or_else(|| default.to_string());
    NaiveTime::parse_from_str(&v, "%H:%M")
        .map(Minutes::from_time)
        .map_err(|_| field(file, key, format!("expected a time HH:MM, got {v:?}")))
}

/// `[service]`: the free-use period, the workday, the size of the ID pool.
fn service(file: &str, raw: RawService) -> Result<Service, Error> {
    let from = parse_date_key(file, "service.from", raw.from, "2020-11-27")?;
    let to = parse_date_key(file, "service.to", raw.to, "2022-03-31")?;
    if to < from {
        return Err(field(
            file,
            "service.to",
            format!("expected a date on or after service.from ({from})"),
        ));
    }
    let workday_start = parse_time_key(file, "service.workday_start", raw.workday_start, "08:30")?;
    let workday_end = parse_time_key(file, "service.workday_end", raw.workday_end, "17:15")?;
    if workday_end <= workday_start {
        return Err(field(
            file,
            "service.workday_end",
            "expected a time after service.workday_start",
        ));
    }
    let licensed_ids = raw.licensed_ids.unwrap_or(50);
    if licensed_ids == 0 {
        return Err(field(file, "service.licensed_ids", "expected at least 1"));
    }
    Ok(Service {
        from,
        to,
        licensed_ids,
        workday_start,
        workday_end,
    })
}

/// `[mail]`: where reports come from, how answers leave, and whom to believe.
fn mail(file: &str, raw: RawMail) -> Result<MailConfig, Error> {
    if raw.require_authenticated_reports == Some(true)
        && raw
            .trust_authentication_results
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
    {
        return Err(field(
            file,
            "mail.require_authenticated_reports",
            "needs mail.trust_authentication_results (the authserv-id of the city's mail server)",
        ));
    }
    if let Some(id) = &raw.trust_authentication_results
        && id
            .trim()
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ';')
    {
        return Err(field(
            file,
            "mail.trust_authentication_results",
            format!("expected an authserv-id such as \"mx.city.example.lg.jp\", not {id:?}"),
        ));
    }
    let raw_timeout = raw.smtp_timeout_seconds;
    let lease = raw.delivery_lease_seconds.unwrap_or(120).max(1);
    let mail = MailConfig {
        source: raw.source.unwrap_or_else(|| "maildir:data/inbox".into()),
        transport: raw.transport.unwrap_or_else(|| "file:data/outbox".into()),
        processed_folder: raw.processed_folder.filter(|f| !f.trim().is_empty()),
        poll_seconds: raw.poll_seconds.unwrap_or(10).max(1),
        retry_base_seconds: raw.retry_base_seconds.unwrap_or(30).max(1),
        delivery_lease_seconds: lease,
        // Unset, it stays below the lease however short that is set.
        smtp_timeout_seconds: raw
            .smtp_timeout_seconds
            .unwrap_or_else(|| SMTP_TIMEOUT_SECONDS.min(lease - 1).max(1)),
        imap_timeout_seconds: raw.imap_timeout_seconds.unwrap_or(60),
        mailbox_lease_seconds: raw.mailbox_lease_seconds.unwrap_or(MAILBOX_LEASE_SECONDS),
        max_answers_per_address_per_day: raw.max_answers_per_address_per_day.unwrap_or(10),
        trust_authentication_results: raw
            .trust_authentication_results
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        require_authenticated_reports: raw.require_authenticated_reports.unwrap_or(false),
    };
    if !(mail.is_maildir()
        || mail.source.starts_with("imap://")
        || mail.source.starts_with("imaps://"))
    {
        return Err(field(
            file,
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
            file,
            "mail.transport",
            format!(
                "expected file:DIR, smtp://… or smtps://…, got {:?}",
                mail.transport
            ),
        ));
    }
    if mail.imap_timeout_seconds == 0 {
        return Err(field(
            file,
            "mail.imap_timeout_seconds",
            "expected a number of seconds, 1 or more, got 0",
        ));
    }
    if mail.mailbox_lease_seconds < 3 {
        // Renewed every third of it: a whole second at least.
        return Err(field(
            file,
            "mail.mailbox_lease_seconds",
            format!(
                "expected a number of seconds, 3 or more, got {}",
                mail.mailbox_lease_seconds
            ),
        ));
    }
    if mail.smtp_timeout_seconds == 0
        || (raw_timeout.is_some() && mail.smtp_timeout_seconds >= mail.delivery_lease_seconds)
    {
        // A mail still being handed over when its reservation ends would be sent by another
        // process too.
        return Err(field(
            file,
            "mail.smtp_timeout_seconds",
            format!(
                "expected at least 1 and fewer seconds than mail.delivery_lease_seconds ({}), got {}",
                mail.delivery_lease_seconds, mail.smtp_timeout_seconds
            ),
        ));
    }
    Ok(mail)
}

/// How long a mailbox's lease lasts unless `[mail] mailbox_lease_seconds` says otherwise: a
/// killed daemon's mailbox is read again by another within about this long (at once by a
/// daemon restarted on the same host).
pub const MAILBOX_LEASE_SECONDS: u64 = 30;

/// The most connections a pool may hold: at least one, and no more than PostgreSQL's default
/// `max_connections` (100) would let a few processes share.
pub const MAX_DATABASE_CONNECTIONS: i64 = 64;

fn database_connections(file: &str, raw: Option<i64>) -> Result<Option<u32>, Error> {
    match raw {
        None => Ok(None),
        Some(n @ 1..=MAX_DATABASE_CONNECTIONS) => Ok(Some(n as u32)),
        Some(n) => Err(field(
            file,
            "database_connections",
            format!("expected a whole number from 1 to {MAX_DATABASE_CONNECTIONS}, got {n}"),
        )),
    }
}

fn bot_address(file: &str, raw: Option<String>) -> Result<String, Error> {
    let bot_address = raw.unwrap_or_else(|| "telework@city.example.lg.jp".into());
    if !bot_address.contains('@') {
        return Err(field(
            file,
            "bot_address",
            format!("expected an e-mail address, got {bot_address:?}"),
        ));
    }
    Ok(bot_address)
}

/// `[daemon]`: when `zaitaku run` ticks.
fn daemon(file: &str, raw: RawDaemon) -> Result<DaemonConfig, Error> {
    let tick_expr = raw.tick.unwrap_or_else(|| "0 * * * * *".into());
    let schedule = tick_expr.parse::<cron::Schedule>().map_err(|e| {
        field(file, "daemon.tick", format!("expected a cron expression with seconds like \"0 * * * * *\", got {tick_expr:?} ({e})"))
    })?;
    Ok(DaemonConfig {
        tick: (tick_expr, schedule),
    })
}

/// `[retention]`: `bodies_days`, a whole number of days, 1 or more (a value TOML reads as
/// anything else is named with what it was).
fn retention(file: &str, raw: RawRetention) -> Result<Option<u32>, Error> {
    let Some(v) = raw.bodies_days else {
        return Ok(None);
    };
    match v.as_integer() {
        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
        _ => Err(field(
            file,
            "retention.bodies_days",
            format!("expected a number of days, 1 or more, got {v}"),
        )),
    }
}

/// `[escalation]`: the chains, each in order of its steps.
fn escalation(file: &str, raw: RawEscalation) -> Result<Escalation, Error> {
    let defaults = Escalation::default();
    let escalation = Escalation {
        missing_start: raw.missing_start.unwrap_or(defaults.missing_start),
        missing_end: raw.missing_end.unwrap_or(defaults.missing_end),
    };
    for (key, chain) in [
        ("escalation.missing_start", &escalation.missing_start),
        ("escalation.missing_end", &escalation.missing_end),
    ] {
        if chain
            .windows(2)
            .any(|w| w[1].after_minutes < w[0].after_minutes)
        {
            return Err(field(file, key, "expected steps in order of after_minutes"));
        }
        for (i, step) in chain.iter().enumerate() {
            if (step.repeat_minutes == 0) != (step.max_repeats == 0) {
                return Err(field(
                    file,
                    &format!("{key}[{i}]"),
                    "expected repeat_minutes and max_repeats together, both above 0",
                ));
            }
        }
    }
    Ok(escalation)
}

/// `[digest]`: the cron times of the supervisors' digests.
fn digest(file: &str, raw: RawDigest) -> Result<DigestConfig, Error> {
    let exprs = raw.schedules.unwrap_or_else(|| {
        DEFAULT_DIGEST_SCHEDULES
            .iter()
            .map(|s| s.to_string())
            .collect()
    });
    let mut schedules = Vec::new();
    for e in exprs {
        let sched = e.parse::<cron::Schedule>().map_err(|err| {
            field(file, "digest.schedules", format!("expected a cron expression with seconds like \"0 0 10 * * Mon-Fri\", got {e:?} ({err})"))
        })?;
        schedules.push((e, sched));
    }
    Ok(DigestConfig { schedules })
}

/// `[web]`, when the file has the section.
fn web(file: &str, raw: RawWeb) -> Result<WebConfig, Error> {
    let listen = raw.listen.unwrap_or_else(|| DEFAULT_WEB_LISTEN.into());
    let trusted_header = match raw.trusted_header.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) => Some(axum::http::HeaderName::try_from(h).map_err(|_| {
            field(
                file,
                "web.trusted_header",
                format!("expected a header name like \"X-Remote-User\", got {h:?}"),
            )
        })?),
    };
    let mut trusted_proxies = Vec::new();
    for p in &raw.trusted_proxies {
        trusted_proxies.push(p.trim().parse().map_err(|_| {
            field(
                file,
                "web.trusted_proxies",
                format!("expected the reverse proxy's IP address like \"127.0.0.1\", got {p:?}"),
            )
        })?);
    }
    if trusted_header.is_some() && trusted_proxies.is_empty() {
        return Err(field(
            file,
            "web.trusted_proxies",
            "expected the address of the reverse proxy that sets web.trusted_header (a header believed from anywhere would let anyone log in as anyone)",
        ));
    }
    Ok(WebConfig {
        listen: listen.trim().parse().map_err(|_| {
            field(
                file,
                "web.listen",
                format!("expected an address and port like \"127.0.0.1:8080\", got {listen:?}"),
            )
        })?,
        secure_cookie: raw.secure_cookie.unwrap_or(false),
        trusted_header,
        trusted_proxies,
        host: match raw.host.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(h) => Some(host_name(h).ok_or_else(|| {
                field(
                    file,
                    "web.host",
                    format!("expected a host name without a port, like \"telework.city.example.lg.jp\", got {h:?}"),
                )
            })?),
        },
    })
}

/// A DNS host name (labels of letters, digits and hyphens, none starting or ending with a
/// hyphen), lower case; `None` for anything else (a port, a path, a scheme, spaces).
fn host_name(h: &str) -> Option<String> {
    let h = h.strip_suffix('.').unwrap_or(h);
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then(|| h.to_ascii_lowercase())
}

/// `departments.toml`: names without the annex's note (kept apart), each listed once.
fn departments(
    dept_name: &str,
    mut departments: Vec<DepartmentDef>,
) -> Result<Vec<DepartmentDef>, Error> {
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
    Ok(departments)
}

fn chat_config(
    file: &str,
    raw: RawChat,
    departments: &[DepartmentDef],
) -> Result<ChatConfig, Error> {
    let mut webhooks = std::collections::BTreeMap::new();
    for (dept, url) in raw.webhook {
        let name = split_note(&dept).0;
        if !departments.iter().any(|d| d.name == name) {
            return Err(Error::bad(
                format!("{file}: chat.webhook"),
                format!("expected a department of departments.toml, got {dept:?}"),
            ));
        }
        if !is_http_url(&url) {
            return Err(Error::bad(
                format!("{file}: chat.webhook.{dept}"),
                format!("expected an incoming-webhook URL (https://…), got {url:?}"),
            ));
        }
        webhooks.insert(name, url);
    }
    let lineworks = raw
        .lineworks
        .map(|l| lineworks::lineworks_config(file, l, departments))
        .transpose()?;
    let slash = match raw.slash {
        None => None,
        Some(s) => {
            let nonempty =
                |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
            let s = SlashConfig {
                signing_secret: nonempty(s.signing_secret),
                token: nonempty(s.token),
            };
            if s.signing_secret.is_none() && s.token.is_none() {
                return Err(Error::bad(
                    format!("{file}: chat.slash"),
                    "expected signing_secret (Slack) or token (Mattermost): without one, no request could be verified",
                ));
            }
            Some(s)
        }
    };
    let matrix = raw
        .matrix
        .map(|m| matrix_config(file, m, departments))
        .transpose()?;
    let teams = raw
        .teams
        .map(|t| teams::teams_config(file, t, departments))
        .transpose()?;
    Ok(ChatConfig {
        webhooks,
        lineworks,
        slash,
        matrix,
        teams,
    })
}

fn matrix_config(
    file: &str,
    m: RawMatrix,
    departments: &[DepartmentDef],
) -> Result<MatrixConfig, Error> {
    let field = |k: &str| format!("{file}: chat.matrix.{k}");
    let homeserver = m
        .homeserver
        .unwrap_or_default()
        .trim()
        .trim_end_matches('/')
        .to_string();
    if !is_http_url(&homeserver) {
        return Err(Error::bad(
            field("homeserver"),
            format!("expected the homeserver's URL (https://…), got {homeserver:?}"),
        ));
    }
    let user = m.user.unwrap_or_default().trim().to_string();
    if !(user.starts_with('@') && user.contains(':')) {
        return Err(Error::bad(
            field("user"),
            format!(
                "expected the bot's Matrix user ID like \"@zaitaku:city.example.lg.jp\", got {user:?}"
            ),
        ));
    }
    if m.access_token.is_none() && m.password.is_none() {
        return Err(Error::bad(
            field("access_token"),
            "expected access_token (or password) for the bot's account",
        ));
    }
    let mut rooms = std::collections::BTreeMap::new();
    for (dept, room) in m.rooms {
        let name = split_note(&dept).0;
        if !departments.iter().any(|d| d.name == name) {
            return Err(Error::bad(
                field("rooms"),
                format!("expected a department of departments.toml, got {dept:?}"),
            ));
        }
        if !room.starts_with('!') || room.len() < 2 {
            return Err(Error::bad(
                field(&format!("rooms.{dept}")),
                format!("expected a room ID like \"!abcdef:city.example.lg.jp\", got {room:?}"),
            ));
        }
        rooms.insert(name, room);
    }
    Ok(MatrixConfig {
        homeserver,
        user,
        access_token: m.access_token,
        password: m.password,
        rooms,
        sync_timeout_seconds: m.sync_timeout_seconds.unwrap_or(30).clamp(1, 300),
    })
}

/// An `http://` or `https://` URL with a host, read by the `url` crate as `chat::http` reads
/// it when it sends: a chat server's address that could never be reached is refused here, in
/// one line, and not at each delivery.
fn is_http_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
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

/// `over` on top of `base`: a table merges key by key, anything else replaces.
fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
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

/// `[calendar]` and the holiday table (the config folder's `holidays.csv`, else the shipped
/// one). Every year of the service period needs its holidays, or an order on one would pass
/// unnoticed: a year the table lacks is computed from the holidays law, and one the law's present
/// form does not reach (before 2020) is refused.
fn calendar(
    file: &str,
    dir: Option<&Path>,
    raw: RawCalendar,
    holidays: Option<&[u8]>,
    service: (NaiveDate, NaiveDate),
) -> Result<Calendar, Error> {
    use chrono::Datelike;
    let table_name = match holidays {
        Some(_) => name_in(dir, "holidays.csv"),
        None => "(built-in) holidays.csv".into(),
    };
    let bytes = holidays.unwrap_or(crate::holidays::EMBEDDED_HOLIDAYS_CSV.as_bytes());
    let table = crate::holidays::parse_holidays(&table_name, bytes)?;
    let at = |key: &str| format!("{file}: calendar.{key}");
    let closed = raw.closed.unwrap_or_else(|| {
        DEFAULT_CLOSED
            .iter()
            .map(|s| toml::Value::String(s.to_string()))
            .collect()
    });
    let mut annual = std::collections::BTreeMap::new();
    for (day, name) in named_days(&at("closed"), closed)? {
        let md = parse_month_day(&day).ok_or_else(|| {
            Error::bad(
                at("closed"),
                format!("expected a day of the year MM-DD such as \"12-29\", got {day:?}"),
            )
        })?;
        annual.insert(
            md,
            name.unwrap_or_else(|| default_annual_name(md).to_string()),
        );
    }
    let mut extra = std::collections::BTreeMap::new();
    for (day, name) in named_days(&at("extra_closed"), raw.extra_closed.unwrap_or_default())? {
        let date = crate::calendar::parse_date(&day).ok_or_else(|| {
            Error::bad(
                at("extra_closed"),
                format!("expected a date YYYY-MM-DD, got {day:?}"),
            )
        })?;
        extra.insert(
            date,
            name.unwrap_or_else(|| crate::holidays::CLOSED_DAY.to_string()),
        );
    }
    let mut cal = Calendar::new(table, annual, extra).table_named(&table_name);
    // A year of the service period the table lacks is computed from the law (the command warns);
    // only a year the law's present form does not reach stops it.
    for year in service.0.year()..=service.1.year() {
        if !cal.fill_from_law(year) {
            let (first, last) = cal.years();
            let (lo, hi) = (
                crate::holidays::LAW_YEARS.start(),
                crate::holidays::LAW_YEARS.end(),
            );
            return Err(Error::bad(
                table_name,
                format!(
                    "lists national holidays for {first}–{last} only, but the service period runs {}..{} and {year} can be computed from the holidays law only for {lo}–{hi}; add the missing years from the Cabinet Office's syukujitsu.csv",
                    service.0, service.1
                ),
            ));
        }
    }
    Ok(cal)
}

/// `"DAY"` or `{ date = "DAY", name = "…" }` (a bare TOML date works too): the day as text and
/// the name when one is given.
fn named_days(at: &str, list: Vec<toml::Value>) -> Result<Vec<(String, Option<String>)>, Error> {
    let mut out = Vec::new();
    for v in list {
        let (day, name) = match v {
            toml::Value::String(s) => (s, None),
            toml::Value::Datetime(d) => (d.to_string(), None),
            toml::Value::Table(t) => {
                if let Some(k) = t.keys().find(|k| !matches!(k.as_str(), "date" | "name")) {
                    return Err(Error::bad(
                        at,
                        format!("unknown key {k:?}; expected date and name"),
                    ));
                }
                let day = match t.get("date") {
                    Some(toml::Value::String(s)) => s.clone(),
                    Some(toml::Value::Datetime(d)) => d.to_string(),
                    _ => {
                        return Err(Error::bad(
                            at,
                            "expected date = \"…\" in each { date, name }",
                        ));
                    }
                };
                let name = match t.get("name") {
                    Some(toml::Value::String(s)) if !s.trim().is_empty() => {
                        Some(s.trim().to_string())
                    }
                    None => None,
                    Some(other) => {
                        return Err(Error::bad(
                            at,
                            format!("expected name = \"…\", got {other}"),
                        ));
                    }
                };
                (day, name)
            }
            other => {
                return Err(Error::bad(
                    at,
                    format!("expected \"DAY\" or {{ date = \"DAY\", name = \"…\" }}, got {other}"),
                ));
            }
        };
        out.push((day, name));
    }
    Ok(out)
}

/// A J-LIS survey wave: its name (the survey month) and the days it covers, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The defaults (SPEC §6): each wave covers the time since the previous one up to the end of
/// the month before the survey month.
pub const DEFAULT_WAVES: [(&str, &str, &str); 3] = [
    ("2021-02", "2021-01-01", "2021-01-31"),
    ("2021-07", "2021-02-01", "2021-06-30"),
    ("2022-01", "2021-07-01", "2021-12-31"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSurvey {
    wave: Option<Vec<RawWave>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWave {
    name: String,
    from: String,
    to: String,
}

/// Waves written in the config replace the defaults as a whole, so that a list never mixes
/// the city's waves with ours.
fn survey_waves(file: &str, raw: RawSurvey) -> Result<Vec<Wave>, Error> {
    let Some(list) = raw.wave else {
        return Ok(DEFAULT_WAVES
            .iter()
            .map(|&(name, from, to)| Wave {
                name: name.into(),
                from: NaiveDate::parse_from_str(from, "%Y-%m-%d").expect("valid default"),
                to: NaiveDate::parse_from_str(to, "%Y-%m-%d").expect("valid default"),
            })
            .collect());
    };
    let mut waves: Vec<Wave> = Vec::new();
    for w in list {
        let at = |key: &str| format!("{file}: survey.wave {:?}: {key}", w.name);
        let date = |key: &str, v: &str| {
            crate::calendar::parse_date(v).ok_or_else(|| {
                Error::bad(at(key), format!("expected a date YYYY-MM-DD, got {v:?}"))
            })
        };
        let (from, to) = (date("from", &w.from)?, date("to", &w.to)?);
        if w.name.trim().is_empty() || waves.iter().any(|x| x.name == w.name) {
            return Err(Error::bad(
                at("name"),
                "expected a name used by no other wave",
            ));
        }
        if to < from {
            return Err(Error::bad(
                at("to"),
                format!("expected a date on or after from ({from})"),
            ));
        }
        waves.push(Wave {
            name: w.name,
            from,
            to,
        });
    }
    Ok(waves)
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
    fn retention_days_are_a_whole_number_of_one_or_more() {
        assert_eq!(Config::embedded().retention_days, None);
        let c = Config::from_strs(None, "[retention]\nbodies_days = 400\n", "").unwrap();
        assert_eq!(c.retention_days, Some(400));
        for bad in ["0", "-3", "\"30\"", "1.5"] {
            let err = Config::from_strs(None, &format!("[retention]\nbodies_days = {bad}\n"), "")
                .unwrap_err();
            assert!(err.is_bad_input());
            assert!(
                err.to_string()
                    .contains("retention.bodies_days: expected a number of days, 1 or more"),
                "{err}"
            );
        }
        let err = Config::from_strs(None, "[retention]\nbody_days = 3\n", "").unwrap_err();
        assert!(err.to_string().contains("body_days"), "{err}");
    }

    #[test]
    fn a_mailbox_lease_is_half_a_minute_unless_set_and_never_under_three_seconds() {
        let c = Config::from_strs(None, "", "").unwrap();
        assert_eq!(c.mail.mailbox_lease_seconds, 30);
        let c = Config::from_strs(None, "[mail]\nmailbox_lease_seconds = 3\n", "").unwrap();
        assert_eq!(c.mail.mailbox_lease_seconds, 3);
        let err = Config::from_strs(None, "[mail]\nmailbox_lease_seconds = 2\n", "").unwrap_err();
        assert!(err.is_bad_input());
        assert!(
            err.to_string().contains(
                "mail.mailbox_lease_seconds: expected a number of seconds, 3 or more, got 2"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_imap_timeout_is_a_minute_unless_set() {
        let c = Config::from_strs(None, "", "").unwrap();
        assert_eq!(c.mail.imap_timeout_seconds, 60);
        let c = Config::from_strs(None, "[mail]\nimap_timeout_seconds = 5\n", "").unwrap();
        assert_eq!(c.mail.imap_timeout_seconds, 5);
        let err = Config::from_strs(None, "[mail]\nimap_timeout_seconds = 0\n", "").unwrap_err();
        assert!(err.is_bad_input());
        assert!(
            err.to_string()
                .contains("mail.imap_timeout_seconds: expected a number of seconds"),
            "{err}"
        );
    }

    #[test]
    fn the_smtp_timeout_stays_below_the_delivery_lease() {
        let timeout =
            |toml: &str| Config::from_strs(None, toml, "").map(|c| c.mail.smtp_timeout_seconds);
        assert_eq!(timeout("").unwrap(), 60);
        assert_eq!(timeout("[mail]\nsmtp_timeout_seconds = 15\n").unwrap(), 15);
        // Unset, it follows a short lease down.
        assert_eq!(timeout("[mail]\ndelivery_lease_seconds = 2\n").unwrap(), 1);
        for bad in [
            "[mail]\nsmtp_timeout_seconds = 120\n",
            "[mail]\ndelivery_lease_seconds = 30\nsmtp_timeout_seconds = 45\n",
            "[mail]\nsmtp_timeout_seconds = 0\n",
        ] {
            let err = timeout(bad).unwrap_err();
            assert!(err.is_bad_input());
            assert!(
                err.to_string().contains(
                    "mail.smtp_timeout_seconds: expected at least 1 and fewer seconds than mail.delivery_lease_seconds"
                ),
                "{err}"
            );
        }
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
    fn escalation_chains_and_digest_times_default_to_the_spec() {
        let c = Config::embedded();
        let mins: Vec<u32> = c
            .escalation
            .missing_start
            .iter()
            .map(|s| s.after_minutes)
            .collect();
        assert_eq!(mins, [0, 15, 120]);
        assert_eq!(c.escalation.missing_end[2].to, Recipient::Hr);
        assert_eq!(c.digest.schedules.len(), 2);
        let err =
            Config::from_strs(None, "[digest]\nschedules = [\"every day\"]\n", "").unwrap_err();
        assert!(err.to_string().contains("digest.schedules"), "{err}");
        let c = Config::from_strs(
            None,
            "[escalation]\nmissing_start = [{ after_minutes = 5, to = \"supervisors\" }]\n",
            "",
        )
        .unwrap();
        assert_eq!(
            c.escalation.missing_start,
            vec![Step {
                after_minutes: 5,
                to: Recipient::Supervisors,
                repeat_minutes: 0,
                max_repeats: 0,
            }]
        );
        let err = Config::from_strs(
            None,
            "[escalation]\nmissing_end = [{ after_minutes = 5, to = \"boss\" }]\n",
            "",
        )
        .unwrap_err();
        assert!(err.is_bad_input());
    }

    #[test]
    fn survey_waves_default_to_the_three_of_the_circular_and_can_be_replaced() {
        let c = Config::from_strs(None, "", "").unwrap();
        let names: Vec<&str> = c.waves.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["2021-02", "2021-07", "2022-01"]);
        assert_eq!(
            (c.waves[1].from.to_string(), c.waves[1].to.to_string()),
            ("2021-02-01".into(), "2021-06-30".into())
        );
        let c = Config::from_strs(
            None,
            "[[survey.wave]]\nname = \"2021-10\"\nfrom = \"2021-04-01\"\nto = \"2021-09-30\"\n",
            "",
        )
        .unwrap();
        assert_eq!(c.waves.len(), 1);
        let err = Config::from_strs(
            None,
            "[[survey.wave]]\nname = \"x\"\nfrom = \"2021-04-01\"\nto = \"2021-03-31\"\n",
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("survey.wave \"x\": to"), "{err}");
        let err = Config::from_strs(
            None,
            "[[survey.wave]]\nname = \"x\"\nfrom = \"2021-04-01\"\nuntil = \"2021-05-31\"\n",
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("until"), "{err}");
    }

    #[test]
    fn the_calendar_section_names_closed_days_and_rejects_unknown_keys() {
        let day = |s: &str| crate::calendar::parse_date(s).unwrap();
        let c = Config::from_strs(None, "", "").unwrap();
        assert_eq!(
            c.calendar.closed_reason(day("2020-12-29")).as_deref(),
            Some("年末年始")
        );
        assert_eq!(
            c.calendar.closed_reason(day("2021-07-22")).as_deref(),
            Some("海の日")
        );
        let c = Config::from_strs(
            None,
            "[calendar]\nclosed = [\"12-31\", { date = \"08-16\", name = \"市制記念日\" }]\n\
             extra_closed = [\"2021-05-06\", { date = \"2021-05-07\", name = \"庁舎停電\" }, 2021-05-10]\n",
            "",
        )
        .unwrap();
        let reason = |s: &str| c.calendar.closed_reason(day(s));
        assert_eq!(
            reason("2020-12-29"),
            None,
            "closed replaces the default list"
        );
        assert_eq!(reason("2020-12-31").as_deref(), Some("年末年始"));
        assert_eq!(reason("2021-08-16").as_deref(), Some("市制記念日"));
        assert_eq!(reason("2021-05-06").as_deref(), Some("閉庁日"));
        assert_eq!(reason("2021-05-07").as_deref(), Some("庁舎停電"));
        assert_eq!(reason("2021-05-10").as_deref(), Some("閉庁日"));
        for (toml, want) in [
            ("[calendar]\nextra_closd = []\n", "extra_closd"),
            (
                "[calendar]\nclosed = [\"12-32\"]\n",
                "calendar.closed: expected a day of the year",
            ),
            (
                "[calendar]\nextra_closed = [\"2021-5-6\"]\n",
                "calendar.extra_closed: expected a date",
            ),
            (
                "[calendar]\nextra_closed = [{ date = \"2021-05-06\", nmae = \"x\" }]\n",
                "unknown key \"nmae\"",
            ),
        ] {
            let err = Config::from_strs(None, toml, "").unwrap_err();
            assert!(
                err.is_bad_input() && err.to_string().contains(want),
                "{toml}: {err}"
            );
        }
    }

    #[test]
    fn a_holiday_table_short_of_the_service_period_is_filled_from_the_law() {
        let day = |s: &str| crate::calendar::parse_date(s).unwrap();
        // The config folder's table replaces the shipped one whole: 2020 and 2022 of the default
        // service period are computed (2020 with the Games' moves), 2021 read from it.
        let c = Config::from_parts(
            None,
            "",
            "",
            Some("date,name\n2021-01-01,元日\n".as_bytes()),
        )
        .unwrap();
        assert_eq!(c.calendar.computed_years(), [2020, 2022]);
        let reason = |s: &str| c.calendar.closed_reason(day(s));
        assert_eq!(reason("2020-11-23").as_deref(), Some("勤労感謝の日"));
        assert_eq!(reason("2022-01-10").as_deref(), Some("成人の日"));
        assert_eq!(
            reason("2021-01-11"),
            None,
            "2021 is the table's, which lacks 成人の日"
        );
        let w = c.calendar.computed_warning().unwrap();
        assert!(
            w.starts_with("national holidays for 2020, 2022 are computed from the holidays law (")
                && w.contains("holidays.csv lists 2021–2021"),
            "{w}"
        );
        // A service period past the shipped table: 2027 computed, 2027-01-11 is 成人の日.
        let c = Config::from_strs(None, "[service]\nto = \"2027-03-31\"\n", "").unwrap();
        assert_eq!(c.calendar.computed_years(), [2027]);
        assert_eq!(
            c.calendar.closed_reason(day("2027-01-11")).as_deref(),
            Some("成人の日")
        );
        // Before the law's present form, a year the table lacks still stops the command.
        let err = Config::from_parts(
            None,
            "[service]\nfrom = \"2018-04-01\"\n",
            "",
            Some("date,name\n2021-01-01,元日\n".as_bytes()),
        )
        .unwrap_err();
        assert!(
            err.is_bad_input()
                && err
                    .to_string()
                    .contains("holidays.csv: lists national holidays for 2021–2021 only")
                && err.to_string().contains("2018 can be computed"),
            "{err}"
        );
    }

    #[test]
    fn the_web_section_opens_a_port_only_when_present() {
        assert_eq!(Config::from_strs(None, "", "").unwrap().web, None);
        let c = Config::from_strs(None, "[web]\n", "").unwrap();
        assert_eq!(c.web.unwrap().listen.to_string(), DEFAULT_WEB_LISTEN);
        let c = Config::from_strs(None, "[web]\nlisten = \"0.0.0.0:9000\"\n", "").unwrap();
        assert_eq!(c.web.unwrap().listen.port(), 9000);
        let err = Config::from_strs(None, "[web]\nlisten = \"localhost\"\n", "").unwrap_err();
        assert!(
            err.is_bad_input() && err.to_string().contains("web.listen"),
            "{err}"
        );
        let err = Config::from_strs(None, "[web]\nport = 80\n", "").unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
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

    #[test]
    fn chat_server_addresses_are_http_urls_with_a_host() {
        for good in [
            "https://hooks.slack.com/services/T0/B0/x",
            "http://127.0.0.1:8008",
            "http://[::1]:8065/hooks/abc?x=1",
        ] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in [
            "matrix.city.example",
            "ftp://h/",
            "https://",
            "http://:80/",
            "https://h:99999/",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
        let hook = "[chat.webhook]\n\"情報管理課\" = \"https://:443/x\"\n";
        let err = Config::from_strs(None, hook, EMBEDDED_DEPARTMENTS_TOML).unwrap_err();
        assert!(
            err.is_bad_input() && err.to_string().contains("chat.webhook.情報管理課"),
            "{err}"
        );
    }

    #[test]
    fn database_connections_are_one_to_sixty_four_and_only_in_the_shared_file() {
        let cfg = |t: &str| Config::from_strs(None, t, EMBEDDED_DEPARTMENTS_TOML);
        assert_eq!(cfg("").unwrap().database_connections, None);
        assert_eq!(
            cfg("database_connections = 1\n")
                .unwrap()
                .database_connections,
            Some(1)
        );
        for bad in ["0", "65", "-3"] {
            let err = cfg(&format!("database_connections = {bad}\n")).unwrap_err();
            assert!(
                err.is_bad_input()
                    && err
                        .to_string()
                        .contains("zaitaku.toml: database_connections")
                    && err.to_string().contains("from 1 to 64"),
                "{bad}: {err}"
            );
        }
        let err = cfg("database_connections = \"many\"\n").unwrap_err();
        assert!(err.is_bad_input(), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let tdir = dir.path().join("tenants").join("012025");
        std::fs::create_dir_all(&tdir).unwrap();
        std::fs::write(
            dir.path().join("zaitaku.toml"),
            "database_connections = 8\n",
        )
        .unwrap();
        std::fs::write(
            tdir.join("zaitaku.toml"),
            "bot_address = \"bot@asahikawa.example.lg.jp\"\ndatabase_connections = 2\n",
        )
        .unwrap();
        let err = Config::load_tenant(dir.path(), "012025").unwrap_err();
        assert!(
            err.is_bad_input()
                && err
                    .to_string()
                    .contains("zaitaku.toml:2: database_connections"),
            "{err}"
        );
        std::fs::write(
            tdir.join("zaitaku.toml"),
            "bot_address = \"bot@asahikawa.example.lg.jp\"\n",
        )
        .unwrap();
        let t = Config::load_tenant(dir.path(), "012025").unwrap();
        assert_eq!(t.database_connections, Some(8));
    }
}
