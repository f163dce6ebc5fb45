//! The benchmark's workload: realistic events from `logbook-workload`, spread over
//! several workspaces, plus the values read requests pick from.
//!
//! The events are generated once, a slice at a time, into one NDJSON file per
//! workspace in the scratch directory, so that the harness holds none of them in
//! memory: ten million events are about 11 GB of JSON. Ingest reads each
//! workspace's file in order; the peers read all of them interleaved, as
//! [`Row`]s with the columns a hand-made `audit_log` table stores.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Lines, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use logbook_core::Timestamp;
use logbook_workload::{Workload, WorkloadConfig};
use serde_json::Value;

/// One event, as sent and as a peer's row.
pub struct Row {
    /// Index into [`Dataset::workspaces`].
    pub workspace: usize,
    /// Its place in its workspace, 0, 1, 2…: the peers' `seq` (Logbook assigns
    /// its own in arrival order).
    pub seq: i64,
    /// The ingest JSON, as sent.
    pub json: String,
    /// Milliseconds since the epoch.
    pub occurred_at: i64,
    pub action: String,
    pub actor_type: String,
    pub actor_id: String,
    pub target_type: String,
    pub target_id: String,
    pub outcome: String,
    pub ip: Option<String>,
}

/// Values that occur in the data, for read requests to ask about.
#[derive(Default)]
pub struct Samples {
    pub actions: Vec<String>,
    pub actors: Vec<String>,
    pub targets: Vec<(String, String)>,
    pub ips: Vec<String>,
    pub changes: Vec<(String, String)>,
    pub words: Vec<String>,
    pub first_millis: i64,
    pub last_millis: i64,
}

/// The whole workload, on disk.
pub struct Dataset {
    pub workspaces: Vec<String>,
    pub samples: Samples,
    files: Vec<PathBuf>,
    len: usize,
}

const DAY_MILLIS: i64 = 86_400_000;

/// Events generated (and held) at a time, per workspace.
const SLICE_EVENTS: usize = 10_000;

/// Every how many events of a workspace one is kept as a sample.
const SAMPLE_EVERY: usize = 97;

impl Dataset {
    /// `count` events over `workspaces` workspaces (each its own people and
    /// records), 90 days of history ending a minute ago, in time order per
    /// workspace, written under `directory`. Workspaces are generated on every
    /// core.
    pub fn generate(seed: u64, workspaces: usize, count: usize, directory: &Path) -> anyhow::Result<Dataset> {
        let now = Timestamp::from_millis(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis())
                as i64,
        );
        let (start, end) = (now.plus_millis(-90 * DAY_MILLIS), now.plus_millis(-60_000));
        std::fs::create_dir_all(directory).with_context(|| format!("creating {}", directory.display()))?;
        let names: Vec<String> = (0..workspaces).map(|index| format!("bench-{index:02}")).collect();
        let files: Vec<PathBuf> = names.iter().map(|name| directory.join(format!("{name}.ndjson"))).collect();
        let next_workspace = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let per_thread: Vec<anyhow::Result<Vec<(usize, Samples)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let index = next_workspace.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if index >= workspaces {
                                return Ok(done);
                            }
                            let share = count / workspaces + usize::from(index < count % workspaces);
                            let mut config =
                                WorkloadConfig::new(seed.wrapping_mul(1000).wrapping_add(index as u64), start, end);
                            config.people = 200;
                            config.records_per_type = 5000;
                            done.push((index, write_workspace(config, share, &files[index])?));
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|worker| worker.join().expect("a generator thread panicked")).collect()
        });
        let mut samples =
            Samples { first_millis: start.as_millis(), last_millis: end.as_millis(), ..Samples::default() };
        let mut by_workspace: Vec<(usize, Samples)> =
            per_thread.into_iter().collect::<anyhow::Result<Vec<_>>>()?.into_iter().flatten().collect();
        by_workspace.sort_by_key(|(index, _)| *index);
        for (_, taken) in by_workspace {
            samples.absorb(taken);
        }
        Ok(Dataset { workspaces: names, samples, files, len: count })
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// One workspace's events, as ingest JSON lines, oldest first.
    pub fn lines_of(&self, workspace: usize) -> anyhow::Result<Lines<BufReader<File>>> {
        let path = &self.files[workspace];
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(BufReader::with_capacity(1 << 20, file).lines())
    }

    /// Every event as a peer's row, the workspaces interleaved one event at a
    /// time (the order the peers load them in).
    pub fn rows(&self) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Row>> + '_> {
        let mut sources =
            (0..self.workspaces.len()).map(|index| self.lines_of(index)).collect::<anyhow::Result<Vec<_>>>()?;
        let mut seqs = vec![0i64; sources.len()];
        let mut live: Vec<usize> = (0..sources.len()).collect();
        let mut position = 0;
        Ok(std::iter::from_fn(move || {
            while !live.is_empty() {
                position %= live.len();
                let workspace = live[position];
                match sources[workspace].next() {
                    Some(line) => {
                        position += 1;
                        let seq = seqs[workspace];
                        seqs[workspace] += 1;
                        return Some(line.map_err(anyhow::Error::from).and_then(|line| Row::new(workspace, seq, line)));
                    }
                    None => {
                        live.remove(position);
                    }
                }
            }
            None
        }))
    }

    /// [`Dataset::rows`] in chunks of `size` rows (the last one shorter), the
    /// batches a peer loads at a time.
    pub fn row_chunks(&self, size: usize) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Vec<Row>>> + '_> {
        let mut rows = self.rows()?.peekable();
        Ok(std::iter::from_fn(move || rows.peek().is_some().then(|| rows.by_ref().take(size).collect())))
    }
}

/// Writes `count` events of one workspace, a slice of the time span at a time,
/// and returns the samples taken from them.
fn write_workspace(config: WorkloadConfig, count: usize, path: &Path) -> anyhow::Result<Samples> {
    let (start, end) = (config.start.as_millis(), config.end.as_millis());
    let mut workload = Workload::new(config);
    let mut out =
        BufWriter::with_capacity(1 << 20, File::create(path).with_context(|| format!("creating {}", path.display()))?);
    let mut samples = Samples::default();
    let mut written = 0;
    while written < count {
        let take = SLICE_EVENTS.min(count - written);
        let at = |events: usize| {
            Timestamp::from_millis(start + ((end - start) as i128 * events as i128 / count.max(1) as i128) as i64)
        };
        for event in workload.events_between(take, at(written), at(written + take)) {
            if written % SAMPLE_EVERY == 0 {
                samples.take(&event);
            }
            serde_json::to_writer(&mut out, &event)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(samples)
}

fn text(event: &Value, pointer: &str) -> String {
    event.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Row {
    fn new(workspace: usize, seq: i64, json: String) -> anyhow::Result<Row> {
        let event: Value = serde_json::from_str(&json).context("a workload line")?;
        let occurred_at = Timestamp::parse_rfc3339(&text(&event, "/occurred_at")).map_or(0, Timestamp::as_millis);
        Ok(Row {
            workspace,
            seq,
            occurred_at,
            action: text(&event, "/action"),
            actor_type: event.pointer("/actor/type").and_then(Value::as_str).unwrap_or("user").to_string(),
            actor_id: text(&event, "/actor/id"),
            target_type: text(&event, "/target/type"),
            target_id: text(&event, "/target/id"),
            outcome: event.pointer("/outcome").and_then(Value::as_str).unwrap_or("success").to_string(),
            ip: event.pointer("/context/ip").and_then(Value::as_str).map(str::to_string),
            json,
        })
    }
}

impl Samples {
    fn take(&mut self, event: &Value) {
        self.actions.push(text(event, "/action"));
        self.actors.push(text(event, "/actor/id"));
        self.targets.push((text(event, "/target/type"), text(event, "/target/id")));
        if let Some(ip) = event.pointer("/context/ip").and_then(Value::as_str) {
            self.ips.push(ip.to_string());
        }
        if let Some(change) = event.pointer("/changes/0")
            && let (Some(field), Some(to)) = (change["field"].as_str(), change["to"].as_str())
        {
            self.changes.push((field.to_string(), to.to_string()));
        }
        if let Some(name) = event.pointer("/target/name").and_then(Value::as_str)
            && let Some(word) = name.split(|c: char| !c.is_alphanumeric()).find(|word| word.len() >= 4)
        {
            self.words.push(word.to_lowercase());
        }
    }

    /// Adds another workspace's samples to these.
    fn absorb(&mut self, other: Samples) {
        self.actions.extend(other.actions);
        self.actors.extend(other.actors);
        self.targets.extend(other.targets);
        self.ips.extend(other.ips);
        self.changes.extend(other.changes);
        self.words.extend(other.words);
    }
}
