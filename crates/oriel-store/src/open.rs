//! Which store a node (or the CLI) uses: PostgreSQL when it is given a database URL, else the
//! embedded SQLite under its data directory.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;

use crate::{PostgresStore, SqliteStore, Store, StoreError};

/// A `postgres://` (or `postgresql://`) URL, checked when it is parsed. It shows (`Debug`,
/// `Display`) without its password, so settings can be printed and logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL as given, password included: for connecting, never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(format!(
                "{} is not a PostgreSQL URL: give postgres://USER:PASSWORD@HOST:PORT/DATABASE \
                 (without --database-url the node keeps SQLite under --data-dir)",
                redact(url)
            ));
        }
        PgConnectOptions::from_str(url)
            .map_err(|error| format!("{} is not a valid PostgreSQL URL: {error}", redact(url)))?;
        Ok(Self(url.to_owned()))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact(&self.0))
    }
}

/// `url` with the password of its user info and of a `password=` parameter replaced by `***`.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut shown = url[..scheme_end].to_owned();
    match authority.rfind('@') {
        Some(at) => {
            let user_info = &authority[..at];
            match user_info.find(':') {
                Some(colon) => {
                    shown.push_str(&user_info[..colon]);
                    shown.push_str(":***");
                }
                None => shown.push_str(user_info),
            }
            shown.push_str(&authority[at..]);
        }
        None => shown.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            shown.push_str(path);
            shown.push('?');
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => parameter.to_owned(),
                })
                .collect();
            shown.push_str(&parameters.join("&"));
        }
        None => shown.push_str(tail),
    }
    shown
}

/// Opens the store: the PostgreSQL database at `database_url` when given (several nodes share
/// it), else the SQLite database under `data_dir` (created when missing). Either is migrated.
pub async fn open(
    database_url: Option<&DatabaseUrl>,
    data_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match database_url {
        Some(url) => Arc::new(PostgresStore::open(url.expose()).await?),
        None => Arc::new(SqliteStore::open(data_dir).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_show_without_their_password() {
        let url: DatabaseUrl = "postgres://oriel:s3cret@db.example:5432/oriel?sslmode=require"
            .parse()
            .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://oriel:***@db.example:5432/oriel?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            url.expose(),
            "postgres://oriel:s3cret@db.example:5432/oriel?sslmode=require"
        );
        let url: DatabaseUrl = "postgresql://oriel@127.0.0.1/db?password=pw&application_name=x"
            .parse()
            .unwrap();
        assert_eq!(
            url.to_string(),
            "postgresql://oriel@127.0.0.1/db?password=***&application_name=x"
        );
        let url: DatabaseUrl = "postgres:///oriel?host=/run/postgresql".parse().unwrap();
        assert_eq!(url.to_string(), "postgres:///oriel?host=/run/postgresql");
    }

    #[test]
    fn only_postgres_urls_are_accepted() {
        for bad in [
            "sqlite://data/oriel.db",
            "mysql://x@y/z",
            "",
            "db.example:5432",
        ] {
            let error = bad.parse::<DatabaseUrl>().unwrap_err();
            assert!(error.contains("not a PostgreSQL URL"), "{bad}: {error}");
        }
        let error = "postgres://u:hidden@h:notaport/d"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(!error.contains("hidden"), "{error}");
    }
}
