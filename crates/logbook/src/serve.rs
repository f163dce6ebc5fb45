//! `logbook serve`: opens the storage, prepares the operator token and serves the
//! API until Ctrl-C or SIGTERM, letting requests in flight finish.

use std::sync::Arc;

use anyhow::Context;
use logbook_core::Limits;
use logbook_server::{AppState, ServerConfig};
use logbook_storage::Storage;
use logbook_storage::postgres::{ConnectOptions, PostgresStorage, redact_url};
use logbook_storage::sqlite::SqliteStorage;

use crate::{ServeArgs, demo, secrets};

/// Opens the storage the arguments choose: PostgreSQL when a database URL is
/// given, the embedded storage in the data directory otherwise. Says where, for
/// the startup message (never with the database password).
async fn open_storage(args: &ServeArgs) -> anyhow::Result<(Arc<dyn Storage>, String)> {
    match &args.database_url {
        Some(url) => {
            let options = ConnectOptions {
                url: url.clone(),
                ca_file: args.database_ca_file.clone(),
                max_connections: args.database_max_connections,
            };
            let storage = PostgresStorage::open(&options)
                .await
                .with_context(|| format!("opening the PostgreSQL database {}", redact_url(url)))?;
            Ok((Arc::new(storage), format!("PostgreSQL at {}", redact_url(url))))
        }
        None => {
            let storage = SqliteStorage::open(&args.data_dir)
                .with_context(|| format!("opening the data directory {}", args.data_dir.display()))?;
            Ok((Arc::new(storage), format!("embedded, in {}", args.data_dir.display())))
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (storage, location) = open_storage(&args).await?;
    let (token, generated) = secrets::operator_token(&args.data_dir)?;
    let log_key_file = args.log_key_file.clone().unwrap_or_else(|| args.data_dir.join(secrets::LOG_KEY_FILE));
    let log_key_seed = secrets::log_key_seed(&log_key_file)?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let demo_keys = if args.demo { Some(demo::prepare(&*storage, args.demo_events).await?) } else { None };
    let config = ServerConfig {
        operator_token: token.clone(),
        limits: Limits::default(),
        log_name: args.log_name.clone(),
        log_key_seed,
        ingest_backlog_bytes: args.ingest_backlog_mib.saturating_mul(1024 * 1024),
    };
    let state = AppState::new(storage, config).await?;

    println!("Logbook listening on http://{address}");
    println!("  storage: {location}");
    if generated {
        println!(
            "  operator token (saved in {}, shown only now): {token}",
            args.data_dir.join(secrets::TOKEN_FILE).display()
        );
    } else if std::env::var_os("LOGBOOK_ADMIN_TOKEN").is_none() {
        println!("  operator token: in {}", args.data_dir.join(secrets::TOKEN_FILE).display());
    }
    if args.database_url.is_some() && std::env::var_os("LOGBOOK_ADMIN_TOKEN").is_none() {
        println!("  note: several processes on one database need the same LOGBOOK_ADMIN_TOKEN and --log-key-file");
    }
    if let Some(keys) = demo_keys {
        demo::print(&keys, address);
    }
    println!("  log key: {}", state_key(&args.log_name, &log_key_seed));
    println!("  API description: http://{address}/openapi.json");

    logbook_server::serve(listener, state, shutdown_signal()).await.context("serving")?;
    Ok(())
}

/// The verifier key auditors use, as `GET /v1/log-keys` publishes it.
fn state_key(log_name: &str, seed: &[u8; 32]) -> String {
    logbook_tlog::note::Signer::from_seed(log_name, seed).map(|signer| signer.verifier_key()).unwrap_or_default()
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
