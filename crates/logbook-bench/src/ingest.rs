//! Ingest throughput over HTTP in durable mode (a 201 means committed): batch
//! sizes 1, 100 and 1000 with 1 and 64 concurrent clients. The scenarios store
//! the dataset between them, the last one storing whatever is left, so that the
//! reads afterwards see exactly the dataset.

use std::fs::File;
use std::io::{BufReader, Lines};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::Mutex;

use crate::dataset::Dataset;
use crate::latency::Percentiles;
use crate::server::{LogbookServer, WorkspaceKeys};

/// One scenario's figures.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IngestFigure {
    pub batch: usize,
    pub clients: usize,
    pub events: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub request_latency: Percentiles,
    /// Requests answered 429 (retried after `Retry-After`).
    pub slowed_down: u64,
    /// The server process's CPU time over the scenario, per event stored.
    #[serde(default)]
    pub server_cpu_micros_per_event: Option<f64>,
    /// What the server had written to storage over the scenario, per event
    /// stored (the embedded store only).
    #[serde(default)]
    pub written_bytes_per_event: Option<f64>,
}

impl IngestFigure {
    /// The server's CPU time per event as people read it, when measured.
    pub fn cpu_text(&self) -> Option<String> {
        self.server_cpu_micros_per_event.map(|micros| format!("{micros:.0} µs"))
    }

    /// The bytes written per event as people read them, when measured.
    pub fn written_text(&self) -> Option<String> {
        self.written_bytes_per_event.map(|bytes| format!("{:.1} KB", bytes / 1000.0))
    }
}

/// The events of each workspace not yet sent, read from the dataset's files in
/// order (`None` once a workspace has none left).
struct Queues {
    sources: Vec<Option<Lines<BufReader<File>>>>,
}

impl Queues {
    /// Up to `batch` unsent events (JSON lines) of one workspace, trying from
    /// `preferred` on.
    fn take(
        &mut self,
        preferred: usize,
        batch: usize,
        budget: &mut usize,
    ) -> anyhow::Result<Option<(usize, Vec<String>)>> {
        let count = self.sources.len();
        for offset in 0..count {
            let workspace = (preferred + offset) % count;
            let Some(source) = &mut self.sources[workspace] else { continue };
            let mut lines = Vec::with_capacity(batch.min(*budget));
            while lines.len() < batch.min(*budget) {
                match source.next() {
                    Some(line) => lines.push(line?),
                    None => {
                        self.sources[workspace] = None;
                        break;
                    }
                }
            }
            if !lines.is_empty() {
                *budget -= lines.len();
                return Ok(Some((workspace, lines)));
            }
        }
        Ok(None)
    }
}

/// Runs every scenario; the last stores the rest of the dataset.
pub async fn scenarios(
    server: &LogbookServer,
    keys: &[WorkspaceKeys],
    dataset: &Dataset,
) -> anyhow::Result<Vec<IngestFigure>> {
    let sources = (0..dataset.workspaces.len()).map(|workspace| dataset.lines_of(workspace).map(Some));
    let queues = Mutex::new(Queues { sources: sources.collect::<anyhow::Result<_>>()? });
    let total = dataset.len();
    let plan = [
        (1, 1, 2_000),
        (1, 64, 20_000),
        (100, 1, 50_000),
        (100, 64, 100_000),
        (1000, 1, 100_000),
        (1000, 64, usize::MAX),
    ];
    let mut figures = Vec::new();
    for (batch, clients, budget) in plan {
        // Small datasets keep each scenario to a tenth of the events.
        let budget = if budget == usize::MAX { usize::MAX } else { budget.min(total / 10).max(batch) };
        let figure = scenario(server, keys, dataset, &queues, (batch, clients, budget)).await?;
        let cpu = figure.cpu_text().map_or(String::new(), |cpu| format!(", {cpu} CPU"));
        let written = figure.written_text().map_or(String::new(), |written| format!(", {written} written"));
        let costs =
            if cpu.is_empty() && written.is_empty() { String::new() } else { format!("{cpu}{written} an event") };
        eprintln!(
            "  batch {batch:>4}, {clients:>2} clients: {:>9.0} events/s ({} events{costs})",
            figure.events_per_second, figure.events
        );
        figures.push(figure);
    }
    Ok(figures)
}

/// How long the server must write nothing before a scenario's costs are read.
const QUIET_FOR: Duration = Duration::from_millis(1500);

/// Waits until the server has written nothing for [`QUIET_FOR`] (at most ten
/// seconds): its last move of staged events and its checkpoints come after the
/// last response, and belong to the scenario that caused them. The embedded
/// store's checkpointer runs within a second of the last commit.
async fn settled(server: &LogbookServer) {
    if server.written_bytes().is_none() {
        // Nothing to watch (PostgreSQL's own processes write).
        return;
    }
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut last = server.written_bytes();
    while quiet_since.elapsed() < QUIET_FOR && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = server.written_bytes();
        if now != last {
            (last, quiet_since) = (now, Instant::now());
        }
    }
}

async fn scenario(
    server: &LogbookServer,
    keys: &[WorkspaceKeys],
    dataset: &Dataset,
    queues: &Mutex<Queues>,
    (batch, clients, budget): (usize, usize, usize),
) -> anyhow::Result<IngestFigure> {
    let budget = Arc::new(Mutex::new(budget));
    let slowed_down = Arc::new(AtomicU64::new(0));
    let (cpu_before, written_before) = (server.cpu_seconds(), server.written_bytes());
    let started = Instant::now();
    let mut workers = Vec::new();
    for client_number in 0..clients {
        let budget = budget.clone();
        let slowed_down = slowed_down.clone();
        workers.push(async move {
            let mut latencies = Vec::new();
            let mut sent = 0u64;
            let mut round = client_number;
            loop {
                let taken = {
                    let mut budget = budget.lock().await;
                    queues.lock().await.take(round, batch, &mut budget)?
                };
                let Some((workspace, lines)) = taken else { break };
                round += 1;
                let body = if batch == 1 { lines[0].clone() } else { format!("{{\"events\":[{}]}}", lines.join(",")) };
                let url = format!("{}/v1/workspaces/{}/events", server.base, dataset.workspaces[workspace]);
                loop {
                    let request_started = Instant::now();
                    let response = server
                        .client
                        .post(&url)
                        .bearer_auth(&keys[workspace].publisher)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
                        .unwrap_or(1);
                    let _ = response.bytes().await?;
                    if status.as_u16() == 429 || status.as_u16() == 503 {
                        slowed_down.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(retry_after)).await;
                        continue;
                    }
                    if !status.is_success() {
                        bail!("ingest answered {status}");
                    }
                    latencies.push(request_started.elapsed());
                    break;
                }
                sent += lines.len() as u64;
            }
            anyhow::Ok((sent, latencies))
        });
    }
    let finished = futures_util::future::try_join_all(workers).await?;
    let seconds = started.elapsed().as_secs_f64();
    settled(server).await;
    let (cpu_after, written_after) = (server.cpu_seconds(), server.written_bytes());
    let events: u64 = finished.iter().map(|(sent, _)| sent).sum();
    let per_event = |amount: f64| amount / events.max(1) as f64;
    let latencies = finished.into_iter().flat_map(|(_, latencies)| latencies).collect();
    Ok(IngestFigure {
        batch,
        clients,
        events,
        seconds,
        events_per_second: events as f64 / seconds.max(1e-9),
        request_latency: Percentiles::of(latencies),
        slowed_down: slowed_down.load(Ordering::Relaxed),
        server_cpu_micros_per_event: cpu_before.zip(cpu_after).map(|(before, after)| per_event((after - before) * 1e6)),
        written_bytes_per_event: written_before
            .zip(written_after)
            .map(|(before, after)| per_event(after.saturating_sub(before) as f64)),
    })
}
