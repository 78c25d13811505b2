//! Which database holds the server's state, and connection URLs that may carry a password. Both are logged with
//! the configuration (`--print-config`, the start-up line), so their `Debug` and `Display` never show the password.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// A connection URL that may hold a password. `Debug` and `Display` show it with the password replaced, so the
/// configuration can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(url.into())
    }

    /// The URL with its password, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::store::postgres::redact_url(&self.0))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

/// Which database holds the server's state, from a `--database-url`.
///
/// ```
/// use waxseal_server::Database;
/// let db = Database::parse("postgres://waxseal:hunter2@db.internal/auth").unwrap();
/// assert_eq!(db.to_string(), "PostgreSQL at postgres://waxseal:***@db.internal/auth");
/// assert!(!format!("{db:?}").contains("hunter2"));
/// assert_eq!(Database::parse("sqlite:///var/lib/waxseal/auth.db").unwrap(),
///            Database::Sqlite("/var/lib/waxseal/auth.db".into()));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Database {
    /// SQLite in `DATA_DIR/waxseal.db`: no URL given.
    #[default]
    Embedded,
    /// SQLite in this file (`sqlite://PATH`; `sqlite:///abs/path` for an absolute one).
    Sqlite(PathBuf),
    /// PostgreSQL (`postgres://…` or `postgresql://…`). The URL may carry a password: it is shown only redacted.
    Postgres(String),
}

impl Database {
    /// Reads a database URL; the error says which schemes are understood and never shows a password.
    pub fn parse(url: &str) -> Result<Database> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::config(
                    "the database URL sqlite:// names no file; write sqlite://PATH (sqlite:///abs/path for an \
                     absolute path), or give no URL for DATA_DIR/waxseal.db",
                ));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        Err(Error::config(format!(
            "the database URL must start with postgres://, postgresql:// or sqlite:// (got {}); give no URL for the \
             embedded SQLite database in the data directory",
            if scheme.is_empty()
                || scheme.len() > 20
                || !scheme.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                "something else".to_owned()
            } else {
                format!("{scheme}://…")
            }
        )))
    }

    /// The database a setting selects: none, or a blank one, selects the embedded one.
    pub fn from_url(url: Option<&str>) -> Result<Database> {
        url.filter(|u| !u.trim().is_empty())
            .map_or(Ok(Database::Embedded), Database::parse)
    }

    /// Whether several instances can share it.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

/// For logs and `--print-config`: the password never shows.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Embedded => f.write_str("SQLite in the data directory"),
            Database::Sqlite(path) => write!(f, "SQLite at {}", path.display()),
            Database::Postgres(url) => write!(
                f,
                "PostgreSQL at {}",
                crate::store::postgres::redact_url(url)
            ),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Embedded => f.write_str("Embedded"),
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&crate::store::postgres::redact_url(url))
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_secret_url_never_shows_its_password() {
        let shown = |url: &str| SecretUrl::new(url).to_string();
        assert_eq!(
            shown("redis://:hunter2@10.0.0.5:6379/0"),
            "redis://:***@10.0.0.5:6379/0"
        );
        assert_eq!(
            shown("postgres://app:p%40ss@db/waxseal?sslmode=require"),
            "postgres://app:***@db/waxseal?sslmode=require"
        );
        assert_eq!(shown("redis://user@host"), "redis://user@host");
        assert_eq!(shown("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert!(!shown("hunter2").contains("hunter2"));
        assert!(!format!("{:?}", SecretUrl::new("redis://:hunter2@h")).contains("hunter2"));
    }

    #[test]
    fn database_urls_select_the_backend_and_errors_never_show_them() {
        assert_eq!(
            Database::parse("postgresql://u:p@h/db").unwrap(),
            Database::Postgres("postgresql://u:p@h/db".into())
        );
        assert_eq!(
            Database::parse("sqlite://data/auth.db").unwrap(),
            Database::Sqlite("data/auth.db".into())
        );
        assert!(Database::parse("sqlite://").is_err());
        let err = Database::parse("mysql://root:hunter2@h/db").unwrap_err();
        assert!(err.message().contains("mysql://…"), "{err}");
        let err = Database::parse("hunter2").unwrap_err();
        assert!(!err.message().contains("hunter2"), "{err}");
        let shown = format!(
            "{:?}",
            Config {
                database: Database::parse("postgres://u:hunter2@h/db").unwrap(),
                ..Config::default()
            }
        );
        assert!(
            !shown.contains("hunter2") && shown.contains("u:***@h"),
            "{shown}"
        );
    }

    #[test]
    fn a_blank_database_url_selects_the_embedded_database() {
        for url in [None, Some(""), Some("  ")] {
            assert_eq!(Database::from_url(url).unwrap(), Database::Embedded);
        }
        assert!(Database::from_url(Some("mysql://h/db")).is_err());
    }
}
