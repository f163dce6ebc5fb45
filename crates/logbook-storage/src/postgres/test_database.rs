//! Throwaway databases for the tests of every crate: each test gets a fresh
//! database, created from the test server's database and dropped afterwards, so
//! that tests run side by side without seeing each other.
//!
//! The server is the one `LOGBOOK_TEST_DATABASE_URL` names, by default
//! [`DEFAULT_TEST_DATABASE_URL`]. When it cannot be reached, tests fail if `CI`
//! is set, and otherwise are skipped with a loud warning on stderr.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::NoTls;

/// The variable naming the test server's database.
pub const TEST_DATABASE_URL_VARIABLE: &str = "LOGBOOK_TEST_DATABASE_URL";

/// The test server when the variable is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh database, dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    /// The URL of the fresh database.
    pub url: String,
    name: String,
    server_url: String,
}

/// The URL of the test server's database.
pub fn test_server_url() -> String {
    std::env::var(TEST_DATABASE_URL_VARIABLE).unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_string())
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let authority_end = base.find("://").map_or(0, |at| at + 3);
    let path_start = base[authority_end..].find('/').map_or(base.len(), |at| authority_end + at);
    let mut replaced = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        replaced.push('?');
        replaced.push_str(query);
    }
    replaced
}

async fn execute_on_server(server_url: &str, statement: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(server_url, NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(statement).await;
    drop(client);
    let _ = driver.await;
    result
}

/// Whether the test server answers. When it does not: panics if `CI` is set,
/// otherwise prints a loud warning and answers `false` (the caller skips).
///
/// # Panics
/// When the server cannot be reached and `CI` is set.
pub async fn server_reachable() -> bool {
    let server_url = test_server_url();
    match execute_on_server(&server_url, "SELECT 1").await {
        Ok(()) => true,
        Err(error) => {
            unreachable_server(&server_url, &error);
            false
        }
    }
}

/// Fails (in CI) or warns loudly about a test server that cannot be reached.
fn unreachable_server(server_url: &str, error: &tokio_postgres::Error) {
    let message = format!(
        "the test PostgreSQL at {} cannot be reached ({error}); start it or set {TEST_DATABASE_URL_VARIABLE}",
        super::redact_url(server_url)
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message} (CI is set, so PostgreSQL tests must run)");
    }
    eprintln!("\n!!!! WARNING: SKIPPING a PostgreSQL test: {message} !!!!\n");
}

impl TestDatabase {
    /// Creates a fresh UTF8 database on the test server (whatever the server's
    /// default encoding); `None` when the server cannot be reached and `CI` is
    /// not set (after printing why).
    ///
    /// # Panics
    /// When the server cannot be reached and `CI` is set, or refuses to create it.
    pub async fn create() -> Option<TestDatabase> {
        TestDatabase::create_encoded("UTF8").await
    }

    /// [`TestDatabase::create`] with another encoding, such as `SQL_ASCII`.
    pub async fn create_encoded(encoding: &str) -> Option<TestDatabase> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let server_url = test_server_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name = format!("logbook_test_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let create = format!("CREATE DATABASE {name} ENCODING '{encoding}' TEMPLATE template0");
        match execute_on_server(&server_url, &create).await {
            Ok(()) => Some(TestDatabase { url: with_database(&server_url, &name), name, server_url }),
            Err(error) if error.as_db_error().is_none() => {
                unreachable_server(&server_url, &error);
                None
            }
            Err(error) => panic!("cannot create the test database {name}: {error}"),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Dropping may happen inside or outside a runtime: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime
                .block_on(execute_on_server(&server_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .ok()
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: the test database {} was not dropped", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
