//! Read requests, drawn at random from values that occur in the data, and their
//! latency against Logbook; the peers answer the same requests in SQL
//! ([`crate::peers`]). Also Logbook's export, offline verification and proof
//! figures.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::dataset::Dataset;
use crate::latency::Percentiles;
use crate::server::{LogbookServer, WorkspaceKeys};

/// What a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReadKind {
    Feed,
    Action,
    ActionPrefix,
    Actor,
    ActorType,
    TargetType,
    Timeline,
    Change,
    Outcome,
    Ip,
    DateRange,
    FreeText,
    QueryLanguage,
    StatsByDay,
    StatsByAction,
}

impl ReadKind {
    /// Every kind, in report order.
    pub const ALL: [ReadKind; 15] = [
        ReadKind::Feed,
        ReadKind::Action,
        ReadKind::ActionPrefix,
        ReadKind::Actor,
        ReadKind::ActorType,
        ReadKind::TargetType,
        ReadKind::Timeline,
        ReadKind::Change,
        ReadKind::Outcome,
        ReadKind::Ip,
        ReadKind::DateRange,
        ReadKind::FreeText,
        ReadKind::QueryLanguage,
        ReadKind::StatsByDay,
        ReadKind::StatsByAction,
    ];

    /// The kinds the peers answer in SQL: all but the query language, which only
    /// Logbook has.
    pub fn in_sql() -> impl Iterator<Item = ReadKind> {
        ReadKind::ALL.into_iter().filter(|kind| *kind != ReadKind::QueryLanguage)
    }

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            ReadKind::Feed => "feed, newest 50",
            ReadKind::Action => "feed by action",
            ReadKind::ActionPrefix => "feed by action prefix",
            ReadKind::Actor => "feed by actor",
            ReadKind::ActorType => "feed by actor type",
            ReadKind::TargetType => "feed by item type",
            ReadKind::Timeline => "record timeline",
            ReadKind::Change => "feed by field and to value",
            ReadKind::Outcome => "feed of failures",
            ReadKind::Ip => "feed by IP",
            ReadKind::DateRange => "feed in a 7-day range",
            ReadKind::FreeText => "free text",
            ReadKind::QueryLanguage => "query language",
            ReadKind::StatsByDay => "stats by day",
            ReadKind::StatsByAction => "stats by action",
        }
    }
}

/// One read request: a kind, a workspace and the values it asks about.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub kind: ReadKind,
    pub workspace: usize,
    pub first: String,
    pub second: String,
    pub since_millis: i64,
    pub until_millis: i64,
}

/// `count` requests of a kind, the same for every system (seeded by kind).
pub fn requests(kind: ReadKind, dataset: &Dataset, count: usize) -> Vec<ReadRequest> {
    let mut rng = SmallRng::seed_from_u64(kind as u64 + 1);
    let samples = &dataset.samples;
    let pick = |values: &[String], rng: &mut SmallRng| {
        if values.is_empty() { String::new() } else { values[rng.random_range(0..values.len())].clone() }
    };
    (0..count)
        .map(|_| {
            let workspace = rng.random_range(0..dataset.workspaces.len());
            let (first, second) = match kind {
                ReadKind::Action => (pick(&samples.actions, &mut rng), String::new()),
                ReadKind::ActionPrefix => {
                    let action = pick(&samples.actions, &mut rng);
                    (action.split('.').next().unwrap_or_default().to_string(), String::new())
                }
                ReadKind::Actor => (pick(&samples.actors, &mut rng), String::new()),
                ReadKind::ActorType => (["user", "system", "api"][rng.random_range(0..3)].to_string(), String::new()),
                ReadKind::TargetType | ReadKind::Timeline => {
                    samples.targets[rng.random_range(0..samples.targets.len())].clone()
                }
                ReadKind::Change => samples.changes[rng.random_range(0..samples.changes.len())].clone(),
                ReadKind::Ip => (pick(&samples.ips, &mut rng), String::new()),
                ReadKind::FreeText => (pick(&samples.words, &mut rng), String::new()),
                ReadKind::QueryLanguage => {
                    let action = pick(&samples.actions, &mut rng);
                    (action.split('.').next().unwrap_or_default().to_string(), pick(&samples.words, &mut rng))
                }
                _ => (String::new(), String::new()),
            };
            let week = 7 * 86_400_000;
            let since_millis =
                rng.random_range(samples.first_millis..(samples.last_millis - week).max(samples.first_millis + 1));
            ReadRequest { kind, workspace, first, second, since_millis, until_millis: since_millis + week }
        })
        .collect()
}

/// The percentiles of one kind's latencies, printed as they are measured.
pub fn summarised(kind: ReadKind, durations: Vec<Duration>) -> (ReadKind, Percentiles) {
    let figure = Percentiles::of(durations);
    eprintln!("  {:<28} p50 {:>8.2} ms  p99 {:>8.2} ms", kind.label(), figure.p50_ms, figure.p99_ms);
    (kind, figure)
}

/// The figures of one system's reads.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReadFigures {
    pub system: String,
    pub events: usize,
    pub latencies: Vec<(ReadKind, Percentiles)>,
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn rfc3339(millis: i64) -> String {
    logbook_core::Timestamp::from_millis(millis).to_rfc3339()
}

/// The Logbook path answering a request.
fn path(request: &ReadRequest, workspace: &str) -> String {
    let feed = format!("/v1/workspaces/{workspace}/events?limit=50");
    let (first, second) = (encode(&request.first), encode(&request.second));
    match request.kind {
        ReadKind::Feed => feed,
        ReadKind::Action => format!("{feed}&action={first}"),
        ReadKind::ActionPrefix => format!("{feed}&action={first}.*"),
        ReadKind::Actor => format!("{feed}&actor_id={first}"),
        ReadKind::ActorType => format!("{feed}&actor_type={first}"),
        ReadKind::TargetType => format!("{feed}&target_type={first}"),
        ReadKind::Timeline => format!("/v1/workspaces/{workspace}/records/{first}/{second}/events?limit=50"),
        ReadKind::Change => format!("{feed}&field={first}&to_value={second}"),
        ReadKind::Outcome => format!("{feed}&outcome=failure"),
        ReadKind::Ip => format!("{feed}&ip={first}"),
        ReadKind::DateRange => format!(
            "{feed}&since={}&until={}",
            encode(&rfc3339(request.since_millis)),
            encode(&rfc3339(request.until_millis))
        ),
        ReadKind::FreeText => format!("{feed}&q={first}"),
        ReadKind::QueryLanguage => {
            format!(
                "{feed}&query={}",
                encode(&format!("action:{}.* -actor_type:system {}", request.first, request.second))
            )
        }
        ReadKind::StatsByDay => format!("/v1/workspaces/{workspace}/stats?group_by=day"),
        ReadKind::StatsByAction => format!("/v1/workspaces/{workspace}/stats?group_by=action"),
    }
}

async fn timed_get(server: &LogbookServer, url: &str, token: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = server.client.get(url).bearer_auth(token).send().await?;
    let status = response.status();
    let _ = response.bytes().await?;
    if !status.is_success() {
        bail!("GET {url}: {status}");
    }
    Ok(started.elapsed())
}

/// Every read kind against Logbook, one request at a time.
pub async fn logbook(
    server: &LogbookServer,
    keys: &[WorkspaceKeys],
    dataset: &Dataset,
    samples: usize,
) -> anyhow::Result<ReadFigures> {
    let mut latencies = Vec::new();
    for kind in ReadKind::ALL {
        let mut durations = Vec::new();
        for request in requests(kind, dataset, samples) {
            let url = format!("{}{}", server.base, path(&request, &dataset.workspaces[request.workspace]));
            durations.push(timed_get(server, &url, &keys[request.workspace].auditor).await?);
        }
        latencies.push(summarised(kind, durations));
    }
    Ok(ReadFigures { system: "Logbook".into(), events: dataset.len(), latencies })
}

/// Export, offline verification and proof figures of Logbook.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LogbookExtras {
    pub export_events: u64,
    pub export_events_per_second: f64,
    pub verify_events_per_second: f64,
    pub proof_latency: Option<Percentiles>,
    pub checkpoint_latency: Option<Percentiles>,
}

/// Exports the largest workspace, verifies the export with `logbook verify`,
/// and times inclusion proofs and checkpoints.
pub async fn logbook_extras(
    server: &LogbookServer,
    keys: &[WorkspaceKeys],
    dataset: &Dataset,
    binary: &Path,
    scratch: &Path,
) -> anyhow::Result<LogbookExtras> {
    let workspace = &dataset.workspaces[0];
    let token = &keys[0].auditor;
    let export_file = scratch.join("export.ndjson");
    let started = Instant::now();
    let mut response = server
        .client
        .get(format!("{}/v1/workspaces/{workspace}/export?format=ndjson", server.base))
        .bearer_auth(token)
        .send()
        .await?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&export_file)?);
    let mut lines = 0u64;
    while let Some(chunk) = response.chunk().await? {
        // Counted with `memchr`: counting a byte at a time took 0.45 s of CPU for
        // an export of 642 MB, against 0.07 s, on the two cores the server uses.
        lines += memchr::memchr_iter(b'\n', &chunk).count() as u64;
        std::io::Write::write_all(&mut file, &chunk)?;
    }
    std::io::Write::flush(&mut file)?;
    let export_seconds = started.elapsed().as_secs_f64();
    let first_line = std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::open(&export_file)?))
        .next()
        .context("an empty export")??;
    let size = serde_json::from_str::<Value>(&first_line)?["tree_size"].as_u64().context("tree_size")?;
    let checkpoint = server
        .client
        .get(format!("{}/v1/workspaces/{workspace}/checkpoint?size={size}", server.base))
        .bearer_auth(token)
        .send()
        .await?
        .text()
        .await?;
    let checkpoint_file = scratch.join("export.checkpoint");
    std::fs::write(&checkpoint_file, checkpoint)?;
    let log_keys: Value = server.client.get(format!("{}/v1/log-keys", server.base)).send().await?.json().await?;
    let key = log_keys["keys"][0].as_str().context("a log key")?;
    let started = Instant::now();
    let verified = std::process::Command::new(binary)
        .arg("verify")
        .arg("--export")
        .arg(&export_file)
        .arg("--checkpoint")
        .arg(&checkpoint_file)
        .args(["--key", key])
        .output()?;
    let verify_seconds = started.elapsed().as_secs_f64();
    if !verified.status.success() {
        bail!("logbook verify failed: {}", String::from_utf8_lossy(&verified.stdout));
    }

    // Proofs of events spread over the log: ids from a few pages of the feed.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < 1000 {
        let mut url = format!("{}/v1/workspaces/{workspace}/events?limit=1000", server.base);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = server.client.get(url).bearer_auth(token).send().await?.json().await?;
        ids.extend(
            page["events"].as_array().into_iter().flatten().filter_map(|event| event["id"].as_str().map(String::from)),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut proofs = Vec::new();
    for id in ids.iter().step_by(5).take(200) {
        let url = format!("{}/v1/workspaces/{workspace}/events/{id}/proof", server.base);
        proofs.push(timed_get(server, &url, token).await?);
    }
    let mut checkpoints = Vec::new();
    for _ in 0..200 {
        checkpoints
            .push(timed_get(server, &format!("{}/v1/workspaces/{workspace}/checkpoint", server.base), token).await?);
    }
    let extras = LogbookExtras {
        export_events: lines,
        export_events_per_second: lines as f64 / export_seconds.max(1e-9),
        verify_events_per_second: lines as f64 / verify_seconds.max(1e-9),
        proof_latency: Some(Percentiles::of(proofs)),
        checkpoint_latency: Some(Percentiles::of(checkpoints)),
    };
    eprintln!(
        "  export {:.0} events/s, offline verify {:.0} events/s ({} events)",
        extras.export_events_per_second, extras.verify_events_per_second, lines
    );
    Ok(extras)
}
