//! Connecting to PostgreSQL: the database URL (with libpq's `sslmode` and
//! `sslrootcert` understood), TLS through rustls with the `ring` provider, and
//! the connection pool. Nothing here ever prints the URL's password: messages
//! name the database with [`redact_url`].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;

use crate::model::StorageError;

/// How to reach the database.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `postgres://user:password@host:port/database?sslmode=...`.
    pub url: String,
    /// A PEM file of the certificate authorities that sign the server's
    /// certificate; the system's roots when `None` (and no `sslrootcert`).
    pub ca_file: Option<PathBuf>,
    /// The most connections this process opens.
    pub max_connections: usize,
}

impl ConnectOptions {
    /// Options for `url` with the system's roots and the default pool size.
    pub fn new(url: impl Into<String>) -> ConnectOptions {
        ConnectOptions { url: url.into(), ca_file: None, max_connections: 16 }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ConnectOptions")
            .field("url", &redact_url(&self.url))
            .field("ca_file", &self.ca_file)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// The URL with its password (in the authority or a `password=` parameter)
/// replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base.to_string(), Some(query)),
        None => (url.to_string(), None),
    };
    let mut redacted = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) =
                rest.split_once('/').map_or((rest, None), |(authority, path)| (authority, Some(path)));
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => match user_info.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => format!("{user_info}@{host}"),
                },
                None => authority.to_string(),
            };
            match path {
                Some(path) => format!("{scheme}://{authority}/{path}"),
                None => format!("{scheme}://{authority}"),
            }
        }
        None => base,
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***".to_string(),
                _ => pair.to_string(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

/// How long opening one connection may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for a free connection of the pool.
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether and how connections use TLS.
enum Tls {
    /// Plain TCP (no `sslmode`, or `disable`, `allow`, `prefer`).
    Off,
    /// TLS, with the server's certificate and host name verified against these
    /// authorities (`require`, `verify-ca`, `verify-full`).
    Verified { ca_file: Option<PathBuf> },
}

/// The driver's configuration and the TLS choice of a URL.
fn parse(options: &ConnectOptions) -> Result<(tokio_postgres::Config, Tls), StorageError> {
    let invalid =
        |reason: String| StorageError::Backend(format!("invalid database URL {}: {reason}", redact_url(&options.url)));
    let (base, query) = options.url.split_once('?').unwrap_or((&options.url, ""));
    let mut verify = false;
    let mut ca_file = options.ca_file.clone();
    let mut forwarded = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("sslmode", "disable" | "allow" | "prefer") => verify = false,
            ("sslmode", "require" | "verify-ca" | "verify-full") => verify = true,
            ("sslmode", other) => return Err(invalid(format!("unknown sslmode {other}"))),
            ("sslrootcert", path) => ca_file = Some(PathBuf::from(path)),
            _ => forwarded.push(pair),
        }
    }
    let url = if forwarded.is_empty() { base.to_string() } else { format!("{base}?{}", forwarded.join("&")) };
    let mut config = tokio_postgres::Config::from_str(&url).map_err(|error| invalid(error.to_string()))?;
    // A database that does not answer fails a request instead of hanging it.
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("logbook");
    }
    // A 2xx means committed: never let a server default make commits asynchronous.
    config.options("-c synchronous_commit=on");
    let tls = if verify {
        config.ssl_mode(SslMode::Require);
        Tls::Verified { ca_file }
    } else {
        config.ssl_mode(SslMode::Disable);
        Tls::Off
    };
    Ok((config, tls))
}

/// A rustls connector trusting the authorities in `ca_file`, or the system's.
fn rustls_connector(ca_file: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StorageError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let unreadable = |error: String| StorageError::Backend(format!("cannot read {}: {error}", path.display()));
            for certificate in CertificateDer::pem_file_iter(path).map_err(|error| unreadable(error.to_string()))? {
                let certificate = certificate.map_err(|error| unreadable(error.to_string()))?;
                roots.add(certificate).map_err(|error| unreadable(error.to_string()))?;
            }
        }
        None => {
            for certificate in rustls_native_certs::load_native_certs().certs {
                // A system certificate rustls cannot use is skipped, as browsers do.
                let _ = roots.add(certificate);
            }
        }
    }
    if roots.is_empty() {
        return Err(StorageError::Backend("TLS is required but no certificate authority is available".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| StorageError::Backend(format!("TLS setup failed: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A pool of connections to the database (no connection is opened yet).
/// Refuses a database whose encoding is not UTF8. Logbook stores UTF-8 text and
/// counts characters in it (the index of changes by value holds values of at
/// most 200 characters, and a query decides in Rust whether a value is in it);
/// in `SQL_ASCII`, PostgreSQL would count bytes instead and store any bytes.
pub(super) async fn require_utf8(client: &deadpool_postgres::Client) -> Result<(), StorageError> {
    let row = client.query_one("SHOW server_encoding", &[]).await.map_err(super::backend)?;
    let encoding: String = row.get(0);
    if encoding != "UTF8" {
        return Err(StorageError::Backend(format!(
            "the database's encoding is {encoding}, and Logbook needs UTF8: create its database with \
             `CREATE DATABASE logbook ENCODING 'UTF8' TEMPLATE template0`"
        )));
    }
    Ok(())
}

pub(super) fn pool(options: &ConnectOptions) -> Result<Pool, StorageError> {
    let (config, tls) = parse(options)?;
    let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match tls {
        Tls::Off => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
        Tls::Verified { ca_file } => {
            Manager::from_config(config, rustls_connector(ca_file.as_deref())?, manager_config)
        }
    };
    Pool::builder(manager)
        .max_size(options.max_connections.max(2))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|error| StorageError::Backend(format!("cannot build the connection pool: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact_url("postgres://logbook:s3cret@db:5432/logbook"), "postgres://logbook:***@db:5432/logbook");
        assert_eq!(
            redact_url("postgresql://u@db/x?sslmode=require&password=s3cret"),
            "postgresql://u@db/x?sslmode=require&password=***"
        );
        assert_eq!(redact_url("postgres://db"), "postgres://db");
    }

    #[test]
    fn sslmodes_choose_tls() {
        let tls = |url: &str| parse(&ConnectOptions::new(url)).map(|(_, tls)| matches!(tls, Tls::Verified { .. }));
        assert!(!tls("postgres://u@h/d").unwrap());
        assert!(!tls("postgres://u@h/d?sslmode=prefer").unwrap());
        assert!(tls("postgres://u@h/d?sslmode=verify-full&sslrootcert=/ca.pem").unwrap());
        let error = tls("postgres://u:pw@h/d?sslmode=bogus").unwrap_err().to_string();
        assert!(error.contains("bogus") && !error.contains("pw@"), "{error}");
    }
}
