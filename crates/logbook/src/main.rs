//! The `logbook` command: a thin layer of argument parsing over the library
//! crates. `logbook serve` runs the server; `logbook demo` runs it with a demo
//! workspace full of realistic events; `logbook verify` checks an export offline;
//! `logbook query` and `logbook export` are clients of a running server.

mod client;
mod demo;
mod secrets;
mod serve;
mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// mimalloc instead of the system allocator: the server and `verify` make many
/// small, short-lived allocations on several threads, where glibc's malloc took
/// about a third of the time (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tamper-evident activity and audit logs for support and QA platforms.
#[derive(Debug, Parser)]
#[command(name = "logbook", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve(ServeArgs),
    /// Runs the server with a `demo` workspace of about 50,000 realistic events
    /// (the same as `serve --demo`).
    Demo(ServeArgs),
    /// Checks an NDJSON export against a signed checkpoint, offline; exits 1 when
    /// it does not verify.
    Verify(verify::VerifyArgs),
    /// Prints a page of a workspace's feed from a running server.
    Query(client::QueryArgs),
    /// Streams an export of a workspace from a running server to a file.
    Export(client::ExportArgs),
}

/// Where to listen and where to keep data.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, env = "LOGBOOK_LISTEN", default_value = "127.0.0.1:7300")]
    pub listen: SocketAddr,
    /// The data directory of the embedded storage (and, with either backend, of
    /// the generated operator token and log key unless set elsewhere).
    #[arg(long, env = "LOGBOOK_DATA_DIR", default_value = "./logbook-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL database to use instead of the embedded storage:
    /// `postgres://user:password@host:5432/logbook?sslmode=verify-full`. Several
    /// Logbook processes may share it.
    #[arg(long, env = "LOGBOOK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A PEM file of the certificate authorities that sign the PostgreSQL
    /// server's certificate (TLS with `sslmode=require`, `verify-ca` or
    /// `verify-full`); the system's by default.
    #[arg(long, env = "LOGBOOK_DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
    /// The most PostgreSQL connections this process opens.
    #[arg(long, env = "LOGBOOK_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: usize,
    /// Create (once) and fill a `demo` workspace, and print a key for each role.
    #[arg(long)]
    pub demo: bool,
    /// The deployment's log name: names the signing key and begins every
    /// checkpoint origin (`<log name>/<workspace>`).
    #[arg(long, env = "LOGBOOK_LOG_NAME", default_value = "logbook.local")]
    pub log_name: String,
    /// The file holding the log key's seed (64 hex digits); generated at first
    /// start. Default: `log-key` in the data directory.
    #[arg(long, env = "LOGBOOK_LOG_KEY_FILE")]
    pub log_key_file: Option<PathBuf>,
    /// How many MiB of ingest request bodies may be in the server at once, from
    /// reading to the end of their write (at least 1). Ingest beyond it waits up
    /// to two seconds for room, then answers 429 with `Retry-After`.
    #[arg(long, env = "LOGBOOK_INGEST_BACKLOG_MIB", default_value_t = logbook_server::state::DEFAULT_INGEST_BACKLOG_BYTES / (1024 * 1024))]
    pub ingest_backlog_mib: usize,
    /// How many events the demo workspace gets when it is first created.
    #[arg(long, default_value_t = 50_000, hide = true)]
    pub demo_events: usize,
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    if let Command::Verify(args) = cli.command {
        let verified = verify::run(args)?;
        return Ok(if verified { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE });
    }
    tracing_subscriber::fmt().with_max_level(log_level()).with_writer(std::io::stderr).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args))?,
        Command::Demo(args) => runtime.block_on(serve::run(ServeArgs { demo: true, ..args }))?,
        Command::Query(args) => runtime.block_on(client::query(args))?,
        Command::Export(args) => runtime.block_on(client::export(args))?,
        Command::Verify(_) => unreachable!("verify runs before the runtime starts"),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The log level from `LOGBOOK_LOG` (`error`, `warn`, `info`, `debug`, `trace`),
/// `info` by default.
fn log_level() -> tracing::Level {
    std::env::var("LOGBOOK_LOG").ok().and_then(|level| level.parse().ok()).unwrap_or(tracing::Level::INFO)
}
