//! The one error type of the library. `Display` is the single line `main` prints; whether the
//! fault lies in the input (exit 2) or elsewhere (exit 1) is decided here, not in `main`.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input or a rule violation: `at` names the file and line, or the flag, and the field.
    #[error("{at}: {msg}")]
    Bad { at: String, msg: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("template {name}: {msg}")]
    Template { name: String, msg: String },
    #[error("mail: {0}")]
    Mail(String),
    /// The directory (`[ldap]`) could not be asked: down, TLS refused, the search account
    /// refused. Not the person's fault: a login page says the directory is unreachable.
    #[error("directory: {0}")]
    Directory(String),
    /// `audit verify` found the hash chain broken: exit 1, naming the entry.
    #[error("audit trail broken at entry {id}: {why}")]
    AuditBroken { id: i64, why: String },
}

impl Error {
    pub fn bad(at: impl Into<String>, msg: impl Into<String>) -> Error {
        Error::Bad {
            at: at.into(),
            msg: msg.into(),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Exit code 2: the user can fix it by changing what they gave us.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Error::Bad { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
