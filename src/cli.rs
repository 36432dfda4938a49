//! The command line (SPEC §7): parse, call the library, print. Nothing here decides a rule.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};

use crate::calendar::{parse_date, parse_instant};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tenant::TenantCode;
use crate::{board, ingest, outbox, register};

#[derive(Debug, Parser)]
#[command(
    name = "zaitaku",
    version,
    about = "在宅勤務 (telework) reports, escalations and register for a city hall"
)]
pub struct Cli {
    /// Folder holding zaitaku.toml and departments.toml [default: config/, else the built-in defaults]
    #[arg(long, global = true, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [default: from the config]
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// The municipality to act for, by its 全国地方公共団体コード (PostgreSQL databases holding several; SPEC §13)
    #[arg(long, global = true, value_name = "CODE")]
    pub tenant: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or migrate the database and load the departments from the config
    Init,
    /// The register's audit trail (SPEC §11)
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Attendance for payroll and the 庶務事務システム (SPEC §11)
    #[command(subcommand)]
    Attendance(AttendanceCmd),
    /// Blank mail bodies and 日報 text older than DATE (never of the current fiscal year)
    Purge {
        /// YYYY-MM-DD: days before it
        #[arg(long)]
        before: String,
        /// Only say what would be blanked
        #[arg(long)]
        dry_run: bool,
        /// The moment it runs (RFC 3339; default now): decides the current fiscal year
        #[arg(long)]
        now: Option<String>,
    },
    /// Staff: import from CSV (employee_id,name,email,department,role[,chat_id][,teams_id][,lineworks_id]) or list
    #[command(subcommand)]
    Employees(EmployeesCmd),
    /// Departments' telework applications (テレワーク申請書)
    #[command(subcommand)]
    Applications(ApplicationsCmd),
    /// The telework-ID pool
    #[command(subcommand)]
    Ids(IdsCmd),
    /// Work-from-home orders (在宅勤務命令簿)
    #[command(subcommand)]
    Orders(OrdersCmd),
    /// Deputies (代決者): who may approve a supervisor's department's orders, and when
    #[command(subcommand)]
    Deputies(DeputiesCmd),
    /// Process report mails from files, stdin (-) or a Maildir
    Ingest(IngestArgs),
    /// Record a supervisor's phone contact with a teleworker (stops that chain of reminders)
    Contact {
        #[arg(long)]
        employee: String,
        #[arg(long)]
        date: String,
        /// start or end
        #[arg(long)]
        kind: String,
        /// HH:MM on that date
        #[arg(long)]
        at: String,
        /// The supervisor's employee ID
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Run everything due at a moment: escalation steps, digests, outbox delivery
    Tick {
        /// The moment, RFC 3339 (e.g. 2021-01-12T08:45:00+09:00) [default: now]
        #[arg(long)]
        now: Option<String>,
    },
    /// The day's board
    Status {
        #[arg(long)]
        date: String,
        #[arg(long)]
        json: bool,
        /// Judge pending vs missing at this moment, RFC 3339 [default: now]
        #[arg(long)]
        now: Option<String>,
    },
    /// The J-LIS usage survey of a wave: Markdown, JSON, CSV (for Excel) or an SVG chart
    Survey(SurveyArgs),
    /// The days the city hall is closed in a year: national holidays, 年末年始, the city's own
    Calendar(CalendarArgs),
    /// The daemon: read the mail source, run the tick work at the configured times, deliver mail
    Run {
        /// Serve every municipality of the PostgreSQL database, each by its config/tenants/CODE/ (SPEC §13)
        #[arg(long)]
        all_tenants: bool,
        /// Start the daemon's clock at this moment, RFC 3339 (a rehearsal of a day; it runs on from there)
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
    },
    /// Web accounts (an employee's login to the web register)
    #[command(subcommand)]
    Users(UsersCmd),
    /// API tokens for GET /api/status (Authorization: Bearer …)
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// Serve the web register and board alone, until SIGTERM or Ctrl-C (`run` serves it too when the config has [web])
    Web {
        /// Address to listen on; port 0 picks a free one [default: [web] listen, else 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Start the server's clock at this moment, RFC 3339 (rehearsals and tests; it runs on from there)
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
    },
    /// The municipalities of a PostgreSQL database (SPEC §13)
    #[command(subcommand)]
    Tenants(TenantsCmd),
    /// A self-contained tour on the built-in defaults
    Demo {
        /// Folder for the demo's database, Maildir and sent mail
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
        /// Then serve the web register on the demo's day, until Ctrl-C [default address: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = crate::config::DEFAULT_WEB_LISTEN)]
        web: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCmd {
    /// Record a municipality; `--tenant CODE` then acts for it
    Add {
        /// The 6-digit 全国地方公共団体コード with its check digit, e.g. 131016
        #[arg(long)]
        code: String,
        /// The municipality's name, e.g. 千代田区
        #[arg(long)]
        name: String,
        /// Give this municipality the rows the database held before it had tenants (tenant '')
        #[arg(long)]
        adopt: bool,
    },
    /// The municipalities: code, name, when added
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Set an employee's web password, read as one line from standard input (Argon2id hash)
    SetPassword {
        #[arg(long)]
        employee: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AttendanceCmd {
    /// Per employee per day with an order: order, reported start and end, timing, hourly leave,
    /// escalations (layouts in config/exports.toml)
    Export {
        /// YYYY-MM
        #[arg(long)]
        month: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long, default_value = "default")]
        layout: String,
        /// utf-8 (with a BOM) or shift_jis
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        #[arg(long)]
        output: Option<PathBuf>,
        /// Judge pending vs missing at this moment (RFC 3339; default now)
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// The audit trail: when, who, from where, entity and ID, action, before, after
    List {
        /// From this day on (YYYY-MM-DD, the city's time)
        #[arg(long)]
        from: Option<String>,
        /// Up to and including this day
        #[arg(long)]
        to: Option<String>,
        /// Changes by this employee, or to them and their orders
        #[arg(long)]
        employee: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// employee, order, contact, …
        #[arg(long)]
        entity: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The same as CSV (UTF-8 with BOM by default)
    Export {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// utf-8 or shift_jis
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Exit 0 when the hash chain is intact; exit 1 naming the first entry that breaks it
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// Create a token for an employee; it is printed once and only its hash is kept
    Create {
        #[arg(long)]
        employee: String,
        /// What the token is for (shown to IT)
        #[arg(long)]
        label: Option<String>,
    },
    /// The tokens that exist: employee, label, created (never the token itself)
    List,
    /// Withdraw an employee's tokens (only those with --label when given)
    Revoke {
        #[arg(long)]
        employee: String,
        #[arg(long)]
        label: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EmployeesCmd {
    Import {
        file: PathBuf,
    },
    List,
    /// Bring the register's staff in line with the city's directory ([ldap], SPEC §12)
    Sync {
        /// Read the staff from the directory of [ldap]
        #[arg(long)]
        ldap: bool,
        /// Show the differences, change nothing
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApplicationsCmd {
    Add {
        #[arg(long)]
        department: String,
        #[arg(long = "fiscal-year")]
        fiscal_year: i32,
        #[arg(long)]
        pc: String,
        /// Employee IDs, comma-separated
        #[arg(long, value_delimiter = ',')]
        users: Vec<String>,
        /// For a department outside the annex, or IDs concentrated in an emergency (circular 2(4)エ)
        #[arg(long)]
        emergency: bool,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum IdsCmd {
    /// Give an ID from the pool (to the end of that fiscal year when --to is left out)
    Assign {
        #[arg(long)]
        employee: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: Option<String>,
    },
    /// Take an ID back from a day on (held until the day before)
    Release {
        #[arg(long)]
        employee: String,
        #[arg(long)]
        on: String,
    },
    /// Who holds which ID
    List,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCmd {
    /// CSV columns employee_id,date,start,end,content,approved_by,shifted[,leave][,holiday_ok]
    Import { file: PathBuf },
    Cancel {
        #[arg(long)]
        employee: String,
        #[arg(long)]
        date: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeputiesCmd {
    /// Name a deputy for a supervisor from one day to another (both included)
    Add {
        /// The supervisor's employee ID
        #[arg(long)]
        supervisor: String,
        /// The deputy's employee ID
        #[arg(long)]
        deputy: String,
        /// YYYY-MM-DD
        #[arg(long)]
        from: String,
        /// YYYY-MM-DD
        #[arg(long)]
        to: String,
    },
    /// Every deputy named: id, supervisor, deputy, department, from, to
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The server's receipt time for every message given, RFC 3339
    #[arg(long = "received-at")]
    pub received_at: Option<String>,
    /// Process the new messages of this Maildir
    #[arg(long, conflicts_with = "files")]
    pub maildir: Option<PathBuf>,
    /// Queue the replies but do not deliver them now (a later tick or the daemon will)
    #[arg(long = "no-send")]
    pub no_send: bool,
    /// Print what became of each message as JSON
    #[arg(long)]
    pub json: bool,
    /// .eml files, or - for standard input
    pub files: Vec<PathBuf>,
}

fn flag_date(flag: &str, s: &str) -> Result<NaiveDate> {
    parse_date(s).ok_or_else(|| Error::bad(flag, format!("expected a date YYYY-MM-DD, got {s:?}")))
}

/// `run --now T`: the daemon's clock, started at T; the system's without the flag.
fn run_clock(start: &Option<String>) -> Result<crate::clock::Clock> {
    let start = start
        .as_deref()
        .map(|s| parse_instant("--now", s))
        .transpose()?;
    Ok(crate::clock::Clock::starting_at(start))
}

/// The moment a `--now` flag names, else the system clock's.
fn now_or(flag: &str, s: &Option<String>) -> Result<DateTime<Utc>> {
    match s {
        Some(s) => parse_instant(flag, s),
        None => Ok(crate::clock::Clock::system().now()),
    }
}

pub fn load_config(explicit: Option<&Path>) -> Result<Config> {
    load_config_for(explicit, None)
}

/// The configuration, with a municipality's `tenants/CODE/` over it under `--tenant`.
pub fn load_config_for(explicit: Option<&Path>, tenant: Option<&TenantCode>) -> Result<Config> {
    let Some(dir) = config_dir(explicit) else {
        return Ok(Config::embedded());
    };
    match tenant {
        Some(t) => Config::load_tenant(dir, t.as_str()),
        None => Config::load(dir),
    }
}

/// `--config DIR`, else `./config` when there is one; `None`: the embedded defaults.
fn config_dir(explicit: Option<&Path>) -> Option<&Path> {
    match explicit {
        Some(dir) => Some(dir),
        None if Path::new("config").is_dir() => Some(Path::new("config")),
        None => None,
    }
}

/// `load_config_for(explicit, Some(code))` when `shared` is `load_config_for(explicit, None)`,
/// without reading and parsing the shared files again.
fn tenant_config(shared: &Config, explicit: Option<&Path>, code: &TenantCode) -> Result<Config> {
    match config_dir(explicit) {
        Some(dir) => Config::tenant_over(shared.clone(), dir, code.as_str()),
        None => Ok(shared.clone()),
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    if let Command::Demo { dir, web } = &cli.command {
        let web = match web {
            Some(a) => Some(a.trim().parse().map_err(|_| {
                Error::bad(
                    "--web",
                    format!("expected an address and port like 127.0.0.1:8080, got {a:?}"),
                )
            })?),
            None => None,
        };
        return crate::demo::run(dir, web, shutdown_signal()).await;
    }
    let tenant = cli
        .tenant
        .as_deref()
        .map(|t| TenantCode::parse(t).map_err(|m| Error::bad("--tenant", m)))
        .transpose()?;
    if tenant.is_some() && matches!(cli.command, Command::Tenants(_)) {
        return Err(Error::bad(
            "--tenant",
            "`tenants add` and `tenants list` act on the whole database: leave --tenant out",
        ));
    }
    let all_tenants = match &cli.command {
        Command::Survey(a) => all_tenants_flags(a, tenant.as_ref())?,
        _ => None,
    };
    let mut cfg = load_config_for(cli.config.as_deref(), tenant.as_ref())?;
    if let Command::Run {
        all_tenants: true,
        now,
    } = &cli.command
    {
        let clock = run_clock(now)?;
        return run_all_tenants(cli.config.as_deref(), cli.db.as_deref(), tenant, cfg, clock).await;
    }
    if let Command::Calendar(a) = &cli.command {
        cfg.calendar.fill_from_law(a.year); // a year past the table is computed, and warned
    }
    if let Some(w) = cfg.calendar.computed_warning() {
        eprintln!("warning: {w}");
    }
    if let Command::Calendar(a) = &cli.command {
        return calendar(&cfg, a, &mut std::io::stdout().lock()); // needs no database
    }
    let url = cli.db.clone().unwrap_or_else(|| cfg.database.clone());
    if let (Some(prefecture), Command::Survey(a)) = (all_tenants, &cli.command) {
        // One pool for all the cities, a few connections, each set to its city per use.
        // `database_connections` may lower the cities surveyed at once, not raise it: more
        // than four at a time on two cores made the survey slower (docs/benchmarks.md).
        let at_once = cfg.database_connections.map_or(SURVEY_CITIES_AT_ONCE, |n| {
            (n as usize).min(SURVEY_CITIES_AT_ONCE)
        });
        let store = Store::open_shared(&url, at_once as u32).await?;
        let out = &mut std::io::stdout().lock();
        let result = survey_all(&store, cli.config.as_deref(), &cfg, a, prefecture, out).await;
        store.close().await;
        return result;
    }
    let store = Store::open_sized(&url, tenant.as_ref(), cfg.database_connections).await?;
    if tenant.is_none()
        && !matches!(cli.command, Command::Tenants(_))
        && let Some(n) = store.tenant_forgotten().await?
    {
        store.close().await;
        return Err(Error::bad(
            "--tenant",
            format!(
                "this database holds tenants ({n}, see `zaitaku tenants list`) and no city of its own: say which with --tenant CODE"
            ),
        ));
    }
    let result = dispatch(cli.command, &cfg, &store).await;
    store.close().await;
    result
}

/// One command: each group has its own function below, which parses its flags, calls the
/// library and prints. The clock is read here once, for the commands that stamp what they write
/// (a command with `--now` reads the flag instead).
async fn dispatch(cmd: Command, cfg: &Config, store: &Store) -> Result<()> {
    let out = &mut std::io::stdout().lock();
    let now = crate::clock::Clock::system().now();
    match cmd {
        Command::Init => {
            let n = register::init(store, cfg).await?;
            say(out, format!("database ready; {n} departments loaded"))
        }
        Command::Employees(c) => employees(store, cfg, c, now, out).await,
        Command::Applications(c) => applications(store, cfg, c, now, out).await,
        Command::Ids(c) => ids(store, cfg, c, now, out).await,
        Command::Orders(c) => orders(store, cfg, c, now, out).await,
        Command::Deputies(c) => deputies(store, c, now, out).await,
        Command::Ingest(args) => ingest(store, cfg, args, now, out).await,
        Command::Contact {
            employee,
            date,
            kind,
            at,
            by,
            note,
        } => {
            let c = register::Contact {
                employee,
                date: flag_date("--date", &date)?,
                kind: register::ContactKind::parse(&kind)?,
                at,
                by,
                note,
            };
            contact(store, cfg, c, now, out).await
        }
        Command::Run { now: start, .. } => {
            let clock = run_clock(&start)?;
            crate::daemon::run(cfg.clone(), store.clone(), clock, shutdown_signal()).await
        }
        Command::Users(UsersCmd::SetPassword { employee }) => {
            let pw = read_password()?;
            crate::web::auth::set_password(store, &employee, &pw, now).await?;
            say(out, format!("password set for {employee}"))
        }
        Command::Tokens(c) => tokens(store, cfg, c, now, out).await,
        Command::Audit(c) => audit(store, cfg, c, out).await,
        Command::Attendance(c) => attendance(store, cfg, c, out).await,
        Command::Purge {
            before,
            dry_run,
            now: at,
        } => purge(store, cfg, &before, dry_run, now_or("--now", &at)?, out).await,
        Command::Web { listen, now: start } => web(store, cfg, listen, start, out).await,
        Command::Tick { now: at } => {
            let at = now_or("--now", &at)?;
            let transport = crate::mail::transport::Transport::for_mail(&cfg.mail)?;
            let channels = crate::chat::channels(cfg);
            let report = crate::tick::tick(store, cfg, &transport, &channels, at).await?;
            say(out, report.to_string())
        }
        Command::Status {
            date,
            json,
            now: at,
        } => status(store, cfg, &date, json, &at, out).await,
        Command::Survey(args) => survey(store, cfg, args, out).await,
        Command::Tenants(c) => tenants(store, c, now, out).await,
        Command::Demo { .. } => unreachable!("handled before the config is loaded"),
        Command::Calendar(_) => unreachable!("handled before the database is opened"),
    }
}

/// `zaitaku tenants add --code CODE --name NAME [--adopt] | list [--json]`.
async fn tenants(
    store: &Store,
    c: TenantsCmd,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    match c {
        TenantsCmd::Add { code, name, adopt } => {
            let code = TenantCode::parse(&code).map_err(|m| Error::bad("--code", m))?;
            store.add_tenant(&code, &name, now, adopt).await?;
            let how = if adopt {
                " (with the rows the database held before it had tenants)"
            } else {
                ""
            };
            say(out, format!("tenant {code} {} added{how}", name.trim()))
        }
        TenantsCmd::List { json } => {
            let list = store.tenants().await?;
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "code": t.code,
                            "name": t.name,
                            "created_at": t.created_at.to_rfc3339(),
                        })
                    })
                    .collect();
                return say(out, serde_json::Value::Array(rows).to_string());
            }
            for t in list {
                say(out, format!("{}\t{}", t.code, t.name))?;
            }
            Ok(())
        }
    }
}

/// `zaitaku employees import FILE | list`.
async fn employees(
    store: &Store,
    cfg: &Config,
    c: EmployeesCmd,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    match c {
        EmployeesCmd::Import { file } => {
            let actor = crate::store::audit::Actor::cli();
            let n = register::import_employees_as(store, &file, now, &actor).await?;
            say(out, format!("{n} employees imported"))
        }
        EmployeesCmd::List => {
            let mut list: Vec<_> = store.employees().await?.into_values().collect();
            list.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
            for e in list {
                say(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}\t{}{}",
                        e.employee_id,
                        e.name,
                        e.department,
                        e.role.as_str(),
                        e.emails.join(";"),
                        if e.active { "" } else { "\tinactive" }
                    ),
                )?;
            }
            Ok(())
        }
        EmployeesCmd::Sync { ldap, dry_run } => {
            if !ldap {
                return Err(Error::bad(
                    "employees sync",
                    "expected --ldap (the only source to sync from)",
                ));
            }
            let actor = crate::store::audit::Actor::cli();
            let plan = crate::directory::sync(store, cfg, dry_run, now, &actor).await?;
            for line in plan.lines() {
                say(out, line)?;
            }
            let verb = if dry_run { "would change" } else { "changed" };
            say(
                out,
                format!(
                    "{} new, {} changed, {} gone, {} skipped: {verb} {}",
                    plan.new.len(),
                    plan.changed.len(),
                    plan.gone.len(),
                    plan.skipped.len(),
                    plan.new.len() + plan.changed.len() + plan.gone.len()
                ),
            )
        }
    }
}

/// `zaitaku purge --before DATE [--dry-run]`. A date in the current fiscal year is refused:
/// a survey wave of the year may still need what its reports say.
async fn purge(
    store: &Store,
    cfg: &Config,
    before: &str,
    dry_run: bool,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    let day = flag_date("--before", before)?;
    let today = crate::calendar::local_date(now, cfg.timezone);
    let (fy_start, _) = crate::calendar::fiscal_year_bounds(crate::calendar::fiscal_year(today));
    if day > fy_start {
        return Err(Error::bad(
            "--before",
            format!(
                "expected a date on or before {fy_start} (the current fiscal year's start: its survey waves may still need it), got {day}"
            ),
        ));
    }
    let cutoff = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(cfg.timezone).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let actor = crate::store::audit::Actor::cli();
    let p = store
        .purge_bodies(day, cutoff, dry_run, &actor, now)
        .await?;
    let verb = if dry_run { "would blank" } else { "blanked" };
    say(
        out,
        format!(
            "{verb} the 日報 and mail text of {} report(s) and the bodies of {} sent mail(s) before {day}",
            p.reports, p.mails
        ),
    )
}

/// `zaitaku attendance export`.
async fn attendance(
    store: &Store,
    cfg: &Config,
    c: AttendanceCmd,
    out: &mut impl Write,
) -> Result<()> {
    let AttendanceCmd::Export {
        month,
        department,
        layout,
        encoding,
        output,
        now: at,
    } = c;
    let enc = crate::survey::Encoding::parse(&encoding).ok_or_else(|| {
        Error::bad(
            "--encoding",
            format!("expected utf-8 or shift_jis, got {encoding:?}"),
        )
    })?;
    let month = crate::attendance::month(&month)?;
    let layout = crate::attendance::layout(cfg.dir.as_deref(), &layout)?;
    let at = now_or("--now", &at)?;
    let text =
        crate::attendance::export(store, cfg, month, department.as_deref(), &layout, at).await?;
    let bytes = match enc {
        crate::survey::Encoding::Utf8 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        sjis => sjis.encode(&text),
    };
    match output {
        Some(p) => std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e)),
        None => out
            .write_all(&bytes)
            .map_err(|e| Error::io(Path::new("stdout"), e)),
    }
}

/// `zaitaku audit list | export | verify`.
async fn audit(store: &Store, cfg: &Config, c: AuditCmd, out: &mut impl Write) -> Result<()> {
    let tz = cfg.timezone;
    let day = |flag: &str, d: &Option<String>| d.as_deref().map(|d| flag_date(flag, d)).transpose();
    match c {
        AuditCmd::List {
            from,
            to,
            employee,
            department,
            entity,
            json,
        } => {
            let f = crate::audit::filter(
                tz,
                day("--from", &from)?,
                day("--to", &to)?,
                employee,
                department,
                entity,
            );
            let entries = store.audit_entries(&f).await?;
            if json {
                let v: Vec<_> = entries
                    .iter()
                    .map(|e| crate::audit::to_json(e, tz))
                    .collect();
                return say(out, serde_json::Value::Array(v).to_string());
            }
            for e in &entries {
                say(out, crate::audit::to_line(e, tz))?;
            }
            Ok(())
        }
        AuditCmd::Export {
            from,
            to,
            encoding,
            output,
        } => {
            let f = crate::audit::filter(
                tz,
                Some(flag_date("--from", &from)?),
                Some(flag_date("--to", &to)?),
                None,
                None,
                None,
            );
            let entries = store.audit_entries(&f).await?;
            let bytes = crate::audit::to_csv(&entries, tz, &encoding)?;
            match output {
                Some(p) => std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e)),
                None => out
                    .write_all(&bytes)
                    .map_err(|e| Error::io(Path::new("stdout"), e)),
            }
        }
        AuditCmd::Verify => match store.audit_verify().await? {
            None => say(out, "audit trail intact"),
            Some((id, why)) => Err(Error::AuditBroken { id, why }),
        },
    }
}

/// `zaitaku applications add | list`.
async fn applications(
    store: &Store,
    cfg: &Config,
    c: ApplicationsCmd,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    match c {
        ApplicationsCmd::Add {
            department,
            fiscal_year,
            pc,
            users,
            emergency,
        } => {
            let args = register::ApplicationArgs {
                department,
                fiscal_year,
                pc,
                users,
                emergency,
            };
            let a = register::add_application(store, cfg, args, now).await?;
            say(
                out,
                format!(
                    "application recorded: {} fiscal year {} PC {} users {}{}",
                    a.department,
                    a.fiscal_year,
                    a.pc_name,
                    a.users.join(","),
                    if a.emergency { " (emergency)" } else { "" }
                ),
            )
        }
        ApplicationsCmd::List => {
            for a in store.applications().await? {
                say(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}{}",
                        a.fiscal_year,
                        a.department,
                        a.pc_name,
                        a.users.join(","),
                        if a.emergency { "\temergency" } else { "" }
                    ),
                )?;
            }
            Ok(())
        }
    }
}

/// `zaitaku ids assign | release | list`.
async fn ids(
    store: &Store,
    cfg: &Config,
    c: IdsCmd,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    match c {
        IdsCmd::Assign { employee, from, to } => {
            let from = flag_date("--from", &from)?;
            let to = to.map(|t| flag_date("--to", &t)).transpose()?;
            let h = register::assign_id(store, cfg, &employee, from, to, now).await?;
            say(
                out,
                format!(
                    "telework ID {} assigned to {} from {} to {}",
                    h.id_no, h.employee, h.from, h.to
                ),
            )
        }
        IdsCmd::Release { employee, on } => {
            let on = flag_date("--on", &on)?;
            let h = register::release_id(store, &employee, on, now).await?;
            say(
                out,
                format!(
                    "telework ID {} of {} released from {on} (held until the day before)",
                    h.id_no, employee
                ),
            )
        }
        IdsCmd::List => {
            for h in store.held_ids().await? {
                let h = h.held;
                say(
                    out,
                    format!("{:>3}\t{}\t{}\t{}", h.id_no, h.employee, h.from, h.to),
                )?;
            }
            Ok(())
        }
    }
}

/// `zaitaku deputies add | list` (代決者).
async fn deputies(
    store: &Store,
    c: DeputiesCmd,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    match c {
        DeputiesCmd::Add {
            supervisor,
            deputy,
            from,
            to,
        } => {
            let (from, to) = (flag_date("--from", &from)?, flag_date("--to", &to)?);
            let d = crate::usecase::approval::add_deputy(
                store,
                &supervisor,
                &deputy,
                from,
                to,
                now,
                &crate::store::audit::Actor::cli(),
            )
            .await?;
            say(
                out,
                format!(
                    "{} deputises for {} ({}) from {} to {}",
                    d.deputy, d.supervisor, d.department, d.from, d.to
                ),
            )
        }
        DeputiesCmd::List { json } => {
            let list = store.deputies().await?;
            if json {
                let text = serde_json::to_string_pretty(&list)
                    .map_err(|e| Error::bad("--json", e.to_string()))?;
                return say(out, text);
            }
            for d in list {
                say(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        d.id, d.supervisor, d.deputy, d.department, d.from, d.to
                    ),
                )?;
            }
            Ok(())
        }
    }
}

/// `zaitaku orders import FILE | cancel`.
async fn orders(
    store: &Store,
    cfg: &Config,
    c: OrdersCmd,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    match c {
        OrdersCmd::Import { file } => {
            let n = register::import_orders(store, cfg, &file, now).await?;
            say(out, format!("{n} orders imported"))
        }
        OrdersCmd::Cancel { employee, date } => {
            let date = flag_date("--date", &date)?;
            register::cancel_order(
                store,
                &employee,
                date,
                now,
                &crate::store::audit::Actor::cli(),
            )
            .await?;
            say(out, format!("order of {employee} for {date} cancelled"))
        }
    }
}

/// `zaitaku ingest`: the mails given (or a Maildir's new ones), then the replies delivered
/// unless `--no-send`.
async fn ingest(
    store: &Store,
    cfg: &Config,
    args: IngestArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    let received_at = args
        .received_at
        .as_deref()
        .map(|s| parse_instant("--received-at", s))
        .transpose()?;
    let channels = crate::chat::channels(cfg);
    let summary = if let Some(dir) = &args.maildir {
        ingest::ingest_maildir(store, cfg, &channels, dir, now, args.json).await?
    } else {
        if args.files.is_empty() {
            return Err(Error::bad(
                "ingest",
                "expected .eml files, - for standard input, or --maildir DIR",
            ));
        }
        ingest::ingest_files(
            store,
            cfg,
            &channels,
            &args.files,
            received_at,
            now,
            args.json,
        )
        .await?
    };
    let delivery = if args.no_send {
        None
    } else {
        Some(outbox::deliver_due(store, cfg, &channels, now).await?)
    };
    if args.json {
        let v = serde_json::json!({
            "processed": summary.processed,
            "duplicates": summary.duplicates,
            "by_reason": summary.by_reason,
            "mails_queued": summary.mails_queued,
            "mails_sent": delivery.as_ref().map(|d| d.sent).unwrap_or(0),
            "messages": summary.messages,
        });
        return say(out, serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    say(out, summary.to_string())?;
    if let Some(d) = delivery.filter(|d| d.attempted > 0) {
        say(out, d.to_string())?;
    }
    Ok(())
}

/// `zaitaku contact`: a supervisor's phone contact, recorded once.
async fn contact(
    store: &Store,
    cfg: &Config,
    c: register::Contact,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    let shown = format!("{} {} at {} on {}", c.employee, c.kind, c.at, c.date);
    let actor = crate::store::audit::Actor::cli();
    if register::record_contact(store, cfg, c, now, &actor).await? {
        say(out, format!("phone contact recorded: {shown}"))
    } else {
        say(out, format!("this contact was recorded before: {shown}"))
    }
}

/// `zaitaku tokens create | list | revoke`.
async fn tokens(
    store: &Store,
    cfg: &Config,
    c: TokensCmd,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<()> {
    match c {
        TokensCmd::Create { employee, label } => {
            let label = label.unwrap_or_default();
            let token = crate::web::auth::create_api_token(store, &employee, &label, now).await?;
            say(out, token)
        }
        TokensCmd::List => {
            for t in store.api_tokens().await? {
                let created = board::rfc3339(t.created_at, cfg.timezone);
                say(out, format!("{}\t{}\t{created}", t.employee_id, t.label))?;
            }
            Ok(())
        }
        TokensCmd::Revoke { employee, label } => {
            let actor = crate::store::audit::Actor::cli();
            let n = store
                .revoke_api_tokens(&employee, label.as_deref(), now, &actor)
                .await?;
            say(out, format!("{n} token(s) of {employee} revoked"))
        }
    }
}

/// `zaitaku web`: bind, print the address, serve until SIGTERM or Ctrl-C.
async fn web(
    store: &Store,
    cfg: &Config,
    listen: Option<String>,
    start: Option<String>,
    out: &mut impl Write,
) -> Result<()> {
    let start = match &start {
        Some(s) => Some(parse_instant("--now", s)?),
        None => None,
    };
    let addr = match &listen {
        Some(a) => a.trim().parse().map_err(|_| {
            Error::bad(
                "--listen",
                format!("expected an address and port like 127.0.0.1:8080, got {a:?}"),
            )
        })?,
        None => cfg.web.as_ref().map(|w| w.listen).unwrap_or_else(|| {
            crate::config::DEFAULT_WEB_LISTEN
                .parse()
                .expect("a valid default address")
        }),
    };
    let listener = crate::web::bind(addr).await?;
    // Listened for before anyone can be told the address (below).
    let shutdown = shutdown_signal();
    crate::audit::record_config(store, cfg, start.unwrap_or_else(Utc::now)).await?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io(Path::new("web listener"), e))?;
    // Scripts (and the tests) read the address from here when they asked for port 0.
    say(out, format!("listening on http://{bound}/"))?;
    out.flush().map_err(|e| Error::io(Path::new("stdout"), e))?;
    crate::web::serve(
        cfg.clone(),
        store.clone(),
        crate::chat::channels(cfg),
        listener,
        shutdown,
        (
            crate::clock::Clock::starting_at(start),
            crate::health::Health::unwatched(),
        ),
    )
    .await
}

/// `zaitaku status`: the day's board as text, or as JSON with `--json`.
async fn status(
    store: &Store,
    cfg: &Config,
    date: &str,
    json: bool,
    at: &Option<String>,
    out: &mut impl Write,
) -> Result<()> {
    let date = flag_date("--date", date)?;
    let at = now_or("--now", at)?;
    let b = crate::usecase::board::load(store, cfg, date, at).await?;
    if json {
        let s = serde_json::to_string_pretty(&b).map_err(|e| Error::Mail(e.to_string()))?;
        say(out, s)
    } else {
        write!(out, "{}", b.render_text()).map_err(|e| Error::io(Path::new("stdout"), e))
    }
}

fn say(out: &mut impl Write, line: impl AsRef<str>) -> Result<()> {
    writeln!(out, "{}", line.as_ref()).map_err(|e| Error::io(Path::new("stdout"), e))
}

#[derive(Debug, Args)]
pub struct SurveyArgs {
    /// The wave, named for the survey month: 2021-02, 2021-07, 2022-01 (see [[survey.wave]])
    pub wave: String,
    #[arg(long, default_value = "md", value_enum)]
    pub format: crate::survey::Format,
    /// utf-8 (CSV gets a BOM, for Excel) or shift_jis; JSON and SVG are always UTF-8
    #[arg(long, default_value = "utf-8")]
    pub encoding: String,
    /// Write here instead of standard output
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Every municipality of the PostgreSQL database, each under its own tenant, and the total (SPEC §13)
    #[arg(long)]
    pub all_tenants: bool,
    /// With --all-tenants: only the municipalities of this prefecture (01–47, the code's first two digits)
    #[arg(long, value_name = "NN")]
    pub prefecture: Option<String>,
}

/// `--format` takes the survey's formats by name (`md`, `json`, `csv`, `svg`).
impl clap::ValueEnum for crate::survey::Format {
    fn value_variants<'a>() -> &'a [Self] {
        &crate::survey::Format::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// The `--encoding` of a survey, checked against its `--format`.
fn survey_encoding(a: &SurveyArgs) -> Result<crate::survey::Encoding> {
    let enc = crate::survey::Encoding::parse(&a.encoding).ok_or_else(|| {
        Error::bad(
            "--encoding",
            format!("expected utf-8 or shift_jis, got {:?}", a.encoding),
        )
    })?;
    if !a.format.takes(enc) {
        let msg = format!(
            "{} is always UTF-8; shift_jis is for csv and md",
            a.format.name()
        );
        return Err(Error::bad("--encoding", msg));
    }
    Ok(enc)
}

async fn survey(store: &Store, cfg: &Config, a: SurveyArgs, out: &mut impl Write) -> Result<()> {
    use crate::survey;
    use std::io::IsTerminal;
    let enc = survey_encoding(&a)?;
    // A bar only on a terminal, and only for a wave big enough to wait for.
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut show = |done: u64, total: u64| {
        if bar.is_none() && total >= 50_000 {
            let style =
                indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            let b = indicatif::ProgressBar::new(total).with_style(style);
            b.set_message("orders");
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let progress: Option<&mut (dyn FnMut(u64, u64) + Send)> = if std::io::stderr().is_terminal() {
        Some(&mut show)
    } else {
        None
    };
    let s = survey::compile_with_progress(store, cfg, &a.wave, progress).await?;
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    let bytes = a.format.render(&s, enc);
    match &a.output {
        Some(path) => std::fs::write(path, &bytes).map_err(|e| Error::io(path, e)),
        None => out
            .write_all(&bytes)
            .map_err(|e| Error::io(Path::new("stdout"), e)),
    }
}

/// `Some(prefecture filter)` when `survey --all-tenants` was asked for; exit 2 for the flags
/// that do not go with it (checked before any database is opened).
fn all_tenants_flags(
    a: &SurveyArgs,
    tenant: Option<&TenantCode>,
) -> Result<Option<Option<String>>> {
    if !a.all_tenants {
        return match a.prefecture {
            Some(_) => Err(Error::bad("--prefecture", "goes with --all-tenants")),
            None => Ok(None),
        };
    }
    if tenant.is_some() {
        return Err(Error::bad(
            "--all-tenants",
            "surveys every municipality: leave --tenant out (or drop --all-tenants for one city)",
        ));
    }
    let prefecture = match a.prefecture.as_deref().map(str::trim) {
        None => None,
        Some(p) if p.len() == 2 && p.parse::<u8>().is_ok_and(|n| (1..=47).contains(&n)) => {
            Some(p.to_string())
        }
        Some(p) => {
            return Err(Error::bad(
                "--prefecture",
                format!("expected a prefecture's two digits 01–47, got {p:?}"),
            ));
        }
    };
    Ok(Some(prefecture))
}

/// `zaitaku run --all-tenants`: the daemon of every municipality, on one pool.
async fn run_all_tenants(
    config: Option<&Path>,
    db: Option<&str>,
    tenant: Option<TenantCode>,
    cfg: Config,
    clock: crate::clock::Clock,
) -> Result<()> {
    if tenant.is_some() {
        return Err(Error::bad(
            "--all-tenants",
            "serves every municipality: leave --tenant out (or leave --all-tenants out to serve one)",
        ));
    }
    let url = db.map_or_else(|| cfg.database.clone(), str::to_string);
    let connections = cfg
        .database_connections
        .unwrap_or(crate::daemon::tenants::CONNECTIONS);
    let store = Store::open_shared(&url, connections).await?;
    let config = config.map(Path::to_path_buf);
    let load = move |code: &TenantCode| load_config_for(config.as_deref(), Some(code));
    let result =
        crate::daemon::run_all_tenants(cfg, store.clone(), clock, load, shutdown_signal()).await;
    store.close().await;
    result
}

/// How many cities `survey --all-tenants` compiles at once (and its pool's connections).
const SURVEY_CITIES_AT_ONCE: usize = 4;

/// `zaitaku survey WAVE --all-tenants [--prefecture NN]`: each municipality read through a
/// handle of the shared pool set to that tenant (row-level security applies as for
/// `--tenant`), with its own configuration, then rolled up (`survey::tenants`).
async fn survey_all(
    store: &Store,
    config: Option<&Path>,
    cfg: &Config,
    a: &SurveyArgs,
    prefecture: Option<String>,
    out: &mut impl Write,
) -> Result<()> {
    use crate::survey::{self, tenants};
    let enc = survey_encoding(a)?;
    let wave = survey::find_wave(cfg, &a.wave)?.clone();
    let mut cities = Vec::new();
    for t in store.tenants().await? {
        let code = TenantCode::parse(&t.code).map_err(|m| Error::bad("tenants.code", m))?;
        if prefecture.as_deref().is_none_or(|p| p == code.prefecture()) {
            cities.push((code, t.name));
        }
    }
    // A few cities at a time: a city's queries wait on the server, so one after another
    // spends most of its time waiting.
    use futures_util::{StreamExt, TryStreamExt};
    let parts: Vec<tenants::Part> = futures_util::stream::iter(cities)
        .map(|(code, name)| async move {
            // Bad input in one city's configuration or data names the city.
            let of_city = |e: Error| match e {
                e if e.is_bad_input() => Error::bad(format!("tenant {code}"), e.to_string()),
                e => e,
            };
            let tcfg = tenant_config(cfg, config, &code).map_err(of_city)?;
            let tstore = store.for_tenant(&code).await.map_err(of_city)?;
            let (survey, detail) = survey::compile_detailed(&tstore, &tcfg, &a.wave, None)
                .await
                .map_err(of_city)?;
            Ok::<_, Error>(tenants::Part {
                code: code.to_string(),
                name,
                survey,
                detail,
            })
        })
        .buffered(SURVEY_CITIES_AT_ONCE)
        .try_collect()
        .await?;
    let windows = survey::Windows {
        early_minutes: cfg.timing.early.num_minutes(),
        grace_minutes: cfg.timing.grace.num_minutes(),
    };
    let all = tenants::roll_up((&wave.name, wave.from, wave.to), windows, parts);
    let bytes = tenants::render(&all, a.format, enc);
    match &a.output {
        Some(path) => std::fs::write(path, &bytes).map_err(|e| Error::io(path, e)),
        None => out
            .write_all(&bytes)
            .map_err(|e| Error::io(Path::new("stdout"), e)),
    }
}

#[derive(Debug, Args)]
pub struct CalendarArgs {
    #[arg(long)]
    pub year: i32,
    /// Also list the ordinary Saturdays and Sundays
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

/// `zaitaku calendar --year Y`: one line per closed day, `date<TAB>weekday<TAB>name`.
fn calendar(cfg: &Config, a: &CalendarArgs, out: &mut impl Write) -> Result<()> {
    let cal = &cfg.calendar;
    if !cal.covers(a.year) {
        let (first, last) = cal.years();
        return Err(Error::bad(
            "--year",
            format!(
                "holidays.csv lists national holidays for {first}–{last}; got {} (add that year's rows from the Cabinet Office's syukujitsu.csv)",
                a.year
            ),
        ));
    }
    let (from, to) = (
        NaiveDate::from_ymd_opt(a.year, 1, 1),
        NaiveDate::from_ymd_opt(a.year, 12, 31),
    );
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Error::bad(
            "--year",
            format!("expected a year, got {}", a.year),
        ));
    };
    let days = cal.closed_days(from, to, a.all);
    if a.json {
        let v = serde_json::json!({
            "year": a.year,
            "working_days": cal.working_days(from, to),
            "closed": days.iter().map(|d| serde_json::json!({
                "date": d.date.to_string(),
                "weekday": crate::holidays::weekday_ja(d.date),
                "name": d.name,
            })).collect::<Vec<_>>(),
        });
        return say(out, serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    for d in days {
        say(
            out,
            format!(
                "{}\t{}\t{}",
                d.date,
                crate::holidays::weekday_ja(d.date),
                d.name
            ),
        )?;
    }
    Ok(())
}

/// One line from standard input: the new password (a pipe, or typed at a prompt).
fn read_password() -> Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprint!("新しいパスワード (password): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io(Path::new("stdin"), e))?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    Ok(pw.to_string())
}

/// SIGTERM (systemd stop, `kill`) or Ctrl-C. The handlers are installed by this call, not when
/// the future is first polled: a server hands its shutdown future to a task of its own, and a
/// SIGTERM that came after its first answer but before that task ran found no handler and
/// killed the process by the signal's default action (tests/audit.rs saw it under load).
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, interrupt) {
                (Some(mut term), Some(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                (Some(mut one), None) | (None, Some(mut one)) => {
                    one.recv().await;
                }
                (None, None) => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
