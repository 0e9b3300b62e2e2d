//! A PostgreSQL server for the store's tests, and a fresh database on it for each test so that
//! they run in parallel.
//!
//! The first test that needs one starts a private server (`scripts/lib/test-postgres.sh
//! serve`: initdb into a temporary directory, 127.0.0.1 on a free port) shared by the test
//! process. The script holds this process's end of a pipe and stops the server and removes its
//! directory when the pipe closes, which happens when this process ends however it ends.
//! `ORIEL_TEST_DATABASE_URL` (a superuser's URL) uses a server of one's own instead.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use sqlx::{Connection, PgConnection};

use crate::new_id;

/// The server this process's tests share: its superuser's URL, or why there is none.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

struct Server {
    admin_url: String,
    /// Kept open while the process lives: the script stops the server when it closes.
    _lifeline: Option<Mutex<(Child, ChildStdin)>>,
}

fn server() -> &'static Server {
    let server = SERVER.get_or_init(|| match std::env::var("ORIEL_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(Server {
            admin_url: url,
            _lifeline: None,
        }),
        _ => start_private_server(),
    });
    match server {
        Ok(server) => server,
        Err(why) => panic!("the PostgreSQL tests need a server: {why}"),
    }
}

fn start_private_server() -> Result<Server, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lib/test-postgres.sh");
    let dir = std::env::temp_dir().join(format!(
        "oriel-store-pg-{}-{}",
        std::process::id(),
        new_id().to_lowercase()
    ));
    let mut child = Command::new("bash")
        .arg(&script)
        .arg("serve")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut url = String::new();
    stdout
        .read_line(&mut url)
        .map_err(|e| format!("cannot read from {}: {e}", script.display()))?;
    let url = url.trim().to_owned();
    if !url.starts_with("postgres://") {
        let mut errors = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut errors);
        }
        let _ = child.wait();
        return Err(format!(
            "{} did not start one: {}",
            script.display(),
            errors.trim()
        ));
    }
    Ok(Server {
        admin_url: url,
        _lifeline: Some(Mutex::new((child, stdin))),
    })
}

/// The URL of a new, empty database on the tests' server.
pub async fn fresh_database() -> String {
    let admin_url = tokio::task::spawn_blocking(|| server().admin_url.clone())
        .await
        .expect("the server starts");
    let name = format!("oriel_test_{}", new_id().to_lowercase());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let _ = admin.close().await;
    database_url(&admin_url, &name)
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[test]
fn database_urls_name_the_test_database() {
    assert_eq!(
        database_url("postgres://postgres@127.0.0.1:5/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5/t1"
    );
    assert_eq!(
        database_url("postgres://u:p@h/db?sslmode=disable", "t2"),
        "postgres://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(database_url("postgres://h", "t3"), "postgres://h/t3");
}
