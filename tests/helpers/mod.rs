//! Test set-up shared by the integration tests: a fresh directory with its own config, a fresh
//! database (SQLite in the directory, or a new PostgreSQL database on 127.0.0.1), and the real
//! `zaitaku` binary run in it.
#![allow(dead_code)]

pub mod hostile;
pub mod http;
pub mod proxy;
pub mod servers;
pub mod slapd;
pub mod synapse;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests use: `ZAITAKU_TEST_PG`, default the local one. Set it to
/// `skip` to run the SQLite half only (the run then says so); CI always sets a URL.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var("ZAITAKU_TEST_PG") {
        Ok(v) if v == "skip" => None,
        Ok(v) => Some(v),
        Err(_) => Some("postgres://postgres@127.0.0.1:5432/postgres".into()),
    }
}

pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if pg_admin_url().is_some() {
        b.push(Backend::Postgres);
    } else {
        eprintln!("ZAITAKU_TEST_PG=skip: PostgreSQL half of this test not run");
    }
    b
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh PostgreSQL database; fails loudly when the server is not there.
pub fn fresh_pg_database() -> String {
    let (admin, name) = pg_admin_run(|name| vec![format!("CREATE DATABASE {name}")]);
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// A fresh PostgreSQL database owned by a fresh role that is neither a superuser nor BYPASSRLS
/// (so that row-level security binds it, SPEC §13), and the URL to connect as that role.
pub fn fresh_pg_database_as_app_role() -> String {
    let (admin, name) = pg_admin_run(|name| {
        vec![
            format!("CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
            format!("CREATE DATABASE {name} OWNER {name}"),
        ]
    });
    let url = url::Url::parse(&admin).expect("ZAITAKU_TEST_PG is a URL");
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port().unwrap_or(5432);
    format!("postgres://{name}@{host}:{port}/{name}")
}

/// A name of its own for this test's database (and role), and `statements(name)` run as the
/// server's administrator: the admin URL and the name.
fn pg_admin_run(statements: impl FnOnce(&str) -> Vec<String>) -> (String, String) {
    let admin = pg_admin_url().expect("PostgreSQL wanted");
    let name = format!(
        "zt_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {admin}: {e}\n(start it, e.g. with .ci/run, or set ZAITAKU_TEST_PG=skip)")
        });
        for stmt in statements(&name) {
            sqlx::Executor::execute(&mut c, stmt.as_str()).await.unwrap();
        }
    });
    (admin, name)
}

/// Brings the PostgreSQL database at `db` to migration `upto` and no further, as a version of
/// zaitaku from that time would have left it: the files of `migrations/postgres` run in turn
/// and recorded with the checksums the current binary expects, so that it applies the rest.
pub fn pg_migrate_to(db: &str, upto: i64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(db).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
             installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
             checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)",
        )
        .execute(&mut c)
        .await
        .unwrap();
        for f in files {
            let stem = f.file_stem().unwrap().to_str().unwrap().to_string();
            let (n, name) = stem.split_once('_').unwrap();
            let version: i64 = n.parse().unwrap();
            if version > upto {
                break;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            sqlx::raw_sql(&text).execute(&mut c).await.unwrap();
            let m = sqlx::migrate::Migration::new(
                version,
                name.to_string().into(),
                sqlx::migrate::MigrationType::Simple,
                text.into(),
                false,
            );
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES ($1, $2, true, $3, 0)",
            )
            .bind(version)
            .bind(name)
            .bind(m.checksum.to_vec())
            .execute(&mut c)
            .await
            .unwrap();
        }
    });
}

pub struct Zt {
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub db: String,
}

impl Zt {
    /// A directory with `config/zaitaku.toml` whose database, inbox and outbox live inside it.
    pub fn new(backend: Backend) -> Zt {
        let db = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => fresh_pg_database(),
        };
        Zt::with_db(backend, db)
    }

    /// The same on a database made elsewhere (`db`; empty: SQLite in the directory).
    pub fn with_db(backend: Backend, db: String) -> Zt {
        let dir = tempfile::tempdir().unwrap();
        let db = if db.is_empty() {
            format!("sqlite://{}/zaitaku.db", dir.path().display())
        } else {
            db
        };
        let cfg = dir.path().join("config");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(
            cfg.join("zaitaku.toml"),
            format!(
                "database = \"{db}\"\n[mail]\nsource = \"maildir:{d}/inbox\"\ntransport = \"file:{d}/sent\"\n",
                d = dir.path().display()
            ),
        )
        .unwrap();
        Zt { dir, backend, db }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zaitaku"));
        c.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.path("config"))
            .args(args);
        c.env_remove("ZAITAKU_LOG");
        c
    }

    /// Runs without the test's `--config` (for tests of the global flags themselves).
    pub fn run_bare(&self, args: &[&str]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zaitaku"));
        c.current_dir(self.dir.path())
            .args(args)
            .stdin(Stdio::null());
        Run::from(args, c.output().unwrap())
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(args, self.cmd(args).stdin(Stdio::null()).output().unwrap())
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        Run::from(args, child.wait_with_output().unwrap())
    }

    /// Runs and insists on exit 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        r.expect_code(0);
        r.stdout
    }

    /// Sets the loop breaker out of the way, for tests whose corpus is one person's mail many
    /// times a day (tests/isolation.rs tests the breaker itself).
    pub fn without_loop_breaker(&self) -> &Zt {
        let cfg = self.path("config/zaitaku.toml");
        let text = std::fs::read_to_string(&cfg).unwrap().replacen(
            "[mail]\n",
            "[mail]\nmax_answers_per_address_per_day = 1000000\n",
            1,
        );
        std::fs::write(&cfg, text).unwrap();
        self
    }

    /// The register most tests start from: departments, staff, applications, IDs.
    pub fn with_staff(&self) -> &Zt {
        self.with_staff_from(&fixture("register/employees.csv"))
    }

    /// The same register with the staff of `csv` (the fixture's people, say, with chat IDs).
    pub fn with_staff_from(&self, csv: &Path) -> &Zt {
        self.ok(&["init"]);
        self.ok(&["employees", "import", csv.to_str().unwrap()]);
        self.ok(&[
            "applications",
            "add",
            "--department",
            "情報管理課",
            "--fiscal-year",
            "2020",
            "--pc",
            "JOHO-PC01",
            "--users",
            "E1001,E1002,E1004",
        ]);
        self.ok(&[
            "applications",
            "add",
            "--department",
            "財政課",
            "--fiscal-year",
            "2020",
            "--pc",
            "ZAISEI-PC01",
            "--users",
            "E1003,E1005",
        ]);
        for e in ["E1001", "E1002", "E1003", "E1004", "E1005"] {
            self.ok(&["ids", "assign", "--employee", e, "--from", "2021-01-04"]);
        }
        self
    }

    /// The fixture's staff with a `chat_id` column: `ids` maps employee IDs to chat user IDs.
    pub fn staff_with_chat_ids(&self, ids: &[(&str, &str)]) -> PathBuf {
        let fixture = std::fs::read_to_string(fixture("register/employees.csv")).unwrap();
        let mut csv = String::new();
        for (i, line) in fixture.lines().enumerate() {
            let id = line.split(',').next().unwrap_or("");
            let chat = if i == 0 {
                "chat_id"
            } else {
                ids.iter().find(|(e, _)| *e == id).map_or("", |(_, c)| c)
            };
            csv.push_str(&format!("{line},{chat}\n"));
        }
        self.write("staff-chat.csv", &csv)
    }

    /// Starts `zaitaku run`; its log (at `log_level`, if given) goes to a file, because a pipe
    /// nobody reads would fill and block it.
    pub fn start_run(&self, log_level: Option<&str>) -> (std::process::Child, PathBuf) {
        self.start_run_with(&["run"], log_level)
    }

    /// [`Zt::start_run`] with other arguments (`--config DIR run --all-tenants`).
    pub fn start_run_with(
        &self,
        args: &[&str],
        log_level: Option<&str>,
    ) -> (std::process::Child, PathBuf) {
        let log = self.path(&format!(
            "run-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut cmd = self.cmd(args);
        if let Some(level) = log_level {
            cmd.env("ZAITAKU_LOG", level);
        }
        // A test that fails before it stops its daemon must not leave it running: the daemons
        // of failed tests once held PostgreSQL's 100 connections and failed every test after
        // them. The daemon is killed when the test's thread ends, whichever way.
        // SAFETY: prctl is async-signal-safe and touches only the child about to exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (child, log)
    }

    /// Stops a process `start_run` started, as an operator would (SIGTERM), and returns how it
    /// ended and its log.
    pub fn stop_run(
        &self,
        (mut child, log): (std::process::Child, PathBuf),
    ) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let status = child.wait().unwrap();
        (status, std::fs::read_to_string(log).unwrap_or_default())
    }

    /// E1001 and E1002 ordered for 2021-01-12, the standard workday.
    pub fn with_orders_0112(&self) -> &Zt {
        let p = self.write(
            "orders.csv",
            "employee_id,date,start,end,content,approved_by,shifted\n\
             E1001,2021-01-12,,,手順書作成,E2001,\n\
             E1002,2021-01-12,,,仕様書作成,E2001,\n",
        );
        self.ok(&["orders", "import", p.to_str().unwrap()]);
        self
    }

    pub fn status_json(&self, date: &str, now: &str) -> serde_json::Value {
        let out = self.ok(&["status", "--date", date, "--json", "--now", now]);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{out}"))
    }

    /// Gives each of `employees` the web password `password` (`users set-password`).
    pub fn set_passwords(&self, employees: &[&str], password: &str) -> &Zt {
        for e in employees {
            self.run_stdin(
                &["users", "set-password", "--employee", e],
                format!("{password}\n").as_bytes(),
            )
            .expect_code(0);
        }
        self
    }

    /// One teleworker's row of `status --json` for `date` at `now`.
    pub fn teleworker(&self, date: &str, now: &str, employee: &str) -> serde_json::Value {
        let board = self.status_json(date, now);
        board["teleworkers"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["employee_id"] == employee))
            .unwrap_or_else(|| panic!("{employee} is not on the board of {date}:\n{board}"))
            .clone()
    }

    /// The .eml files the file transport wrote, as text.
    pub fn sent(&self) -> Vec<String> {
        let dir = self.path("sent");
        let mut files: Vec<_> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect(),
            Err(_) => vec![],
        };
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
            .collect()
    }
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(args: &[&str], o: Output) -> Run {
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "zaitaku {:?}\nexit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    /// Bad input: exit 2 and exactly one line on stderr containing every fragment.
    pub fn expect_bad_input(&self, fragments: &[&str]) -> &Run {
        self.expect_code(2);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one stderr line, got:\n{}",
            self.stderr
        );
        for f in fragments {
            assert!(
                lines[0].contains(f),
                "stderr line lacks {f:?}: {}",
                lines[0]
            );
        }
        self
    }
}

/// A query against the test's database (SQLite or PostgreSQL), outside the binary. On
/// PostgreSQL the connection is the database's own city's (tenant '', as zaitaku's without
/// `--tenant`): a row inserted without a tenant is refused (migration 0017).
pub fn sql<T>(zt: &Zt, f: impl AsyncFnOnce(sqlx::AnyPool) -> T) -> T {
    sqlx::any::install_default_drivers();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pg = zt.backend == Backend::Postgres;
    rt.block_on(async {
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if pg {
                        sqlx::query("SELECT set_config('zaitaku.tenant', '', false)")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&zt.db)
            .await
            .unwrap();
        let out = f(pool.clone()).await;
        pool.close().await;
        out
    })
}

/// Runs SQL straight on the test's database, as an old version or a hand edit would have.
pub fn sql_exec(zt: &Zt, statement: &str) {
    let statement = statement.to_string();
    sql(zt, async move |pool| {
        sqlx::raw_sql(&statement)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    })
}

/// One number from the test's database (`COUNT(*)`, a sum of lengths).
pub fn sql_i64(zt: &Zt, query: &str) -> i64 {
    let q = query.to_string();
    sql(zt, async move |pool| {
        sqlx::query_scalar::<_, i64>(&q)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"))
    })
}
