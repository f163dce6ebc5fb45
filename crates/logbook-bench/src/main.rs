//! `logbook-bench`: measures Logbook against the peers most teams would use
//! instead (a hand-made PostgreSQL `audit_log` table loaded with COPY, and the same
//! table in SQLite), on one deterministic, realistic workload, and writes the
//! figures as JSON, a Markdown table and an SVG chart.
//!
//! It starts a `logbook serve` of its own on a fresh data directory, so that the
//! server's memory can be read, and talks to it over HTTP as clients would.
//! Nothing here is a test: it reports, and asserts nothing about time.

mod dataset;
mod ingest;
mod latency;
mod peers;
mod reads;
mod report;
mod server;

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// What to measure, and where.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    /// Events stored before reads are measured (across all workspaces).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// How many workspaces the events are spread over.
    #[arg(long, default_value_t = 20)]
    pub workspaces: usize,
    /// The workload's seed: the same seed gives the same events.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// The `logbook` binary to benchmark (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/logbook")]
    pub logbook: PathBuf,
    /// The PostgreSQL database for the `audit_log` peer and for Logbook's
    /// PostgreSQL backend (which gets a fresh database `logbook_bench` beside it);
    /// `none` skips both.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres: String,
    /// Also run Logbook on PostgreSQL (`false` to measure Logbook's embedded store
    /// only, beside the peers, as the 10M-event run does).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub logbook_postgres: bool,
    /// Also load and measure the SQLite `audit_log` peer (`false` to skip it, as
    /// the 10M-event run does: loading it takes longer than Logbook's ingest).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sqlite_peer: bool,
    /// Requests per read measurement (p50 and p99 are taken over them).
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Where results go: `results.json`, `results.md`, `chart.svg`.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// Where the workload and the data directories go (default: a temporary
    /// directory). Needs about 1.1 GB of workload per million events, plus the
    /// largest store (each is deleted once measured): about 1.7 GB per million
    /// events for Logbook's embedded store, 3.2 GB on PostgreSQL.
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Measure nothing: write the report and chart again from a `results.json`.
    #[arg(long, value_name = "RESULTS_JSON")]
    pub render: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let results = match &args.render {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        )?,
        None => tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(&args))?,
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    std::fs::write(args.out.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    std::fs::write(args.out.join("results.md"), report::markdown(&results))?;
    std::fs::write(args.out.join("chart.svg"), report::chart(&results))?;
    println!("{}", report::markdown(&results));
    println!("results in {}", args.out.display());
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<report::Results> {
    let scratch = match &args.scratch {
        Some(path) => {
            std::fs::create_dir_all(path).with_context(|| format!("creating the scratch folder {}", path.display()))?;
            tempfile::tempdir_in(path).with_context(|| format!("a folder of its own in {}", path.display()))?
        }
        None => tempfile::tempdir()?,
    };
    eprintln!("generating {} events over {} workspaces (seed {})…", args.events, args.workspaces, args.seed);
    let dataset =
        dataset::Dataset::generate(args.seed, args.workspaces, args.events, &scratch.path().join("workload"))?;
    let mut results = report::Results::new(args, report::machine());

    let mut backends = vec![server::Backend::Embedded(scratch.path().join("logbook"))];
    if args.postgres != "none" && args.logbook_postgres {
        backends.push(server::Backend::Postgres(args.postgres.clone()));
    }
    for backend in backends {
        eprintln!("Logbook on {}…", backend.label());
        let server = server::LogbookServer::start(&args.logbook, &backend).await?;
        let keys = server.prepare(&dataset.workspaces).await?;
        eprintln!("ingest scenarios…");
        let ingest = ingest::scenarios(&server, &keys, &dataset).await?;
        let memory_after_ingest_bytes = server.peak_memory_bytes();
        eprintln!("reads at {} events…", dataset.len());
        let mut figures = reads::logbook(&server, &keys, &dataset, args.samples).await?;
        figures.system = format!("Logbook ({})", backend.label());
        results.reads.push(figures);
        let extras = reads::logbook_extras(&server, &keys, &dataset, &args.logbook, scratch.path()).await?;
        results.logbook.push(report::LogbookRun {
            backend: backend.label().to_string(),
            ingest,
            extras,
            memory_after_ingest_bytes,
            peak_memory_bytes: server.peak_memory_bytes(),
            stored_bytes: server.stored_bytes().await,
        });
        server.discard().await?;
    }

    if args.sqlite_peer {
        eprintln!("SQLite peer…");
        let sqlite = peers::sqlite::Peer::load(&scratch.path().join("sqlite-peer.db"), &dataset)?;
        results.peer_loads.push(sqlite.load.clone());
        results.reads.push(sqlite.reads(&dataset, args.samples)?);
    }
    if args.postgres != "none" {
        eprintln!("PostgreSQL peer…");
        let postgres = peers::postgres::Peer::load(&args.postgres, &dataset).await?;
        results.peer_loads.push(postgres.load.clone());
        results.reads.push(postgres.reads(&dataset, args.samples).await?);
    }
    Ok(results)
}
