//! The results of a run: JSON for machines, a Markdown table for BENCHMARKS.md,
//! and an SVG chart of read latencies (drawn here: a chart is a few rectangles,
//! not worth a plotting dependency).

use crate::ingest::IngestFigure;
use crate::peers::PeerLoad;
use crate::reads::{LogbookExtras, ReadFigures, ReadKind};

/// Everything one run measured.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Results {
    pub machine: String,
    pub command: String,
    pub events: usize,
    pub workspaces: usize,
    pub seed: u64,
    pub logbook: Vec<LogbookRun>,
    pub peer_loads: Vec<PeerLoad>,
    pub reads: Vec<ReadFigures>,
}

/// What Logbook did on one backend.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LogbookRun {
    pub backend: String,
    pub ingest: Vec<IngestFigure>,
    pub extras: LogbookExtras,
    pub memory_after_ingest_bytes: u64,
    pub peak_memory_bytes: u64,
    pub stored_bytes: u64,
}

impl Results {
    /// Empty results for a run with these arguments.
    pub fn new(args: &crate::Args, machine: String) -> Results {
        Results {
            machine,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            events: args.events,
            workspaces: args.workspaces,
            seed: args.seed,
            logbook: Vec::new(),
            peer_loads: Vec::new(),
            reads: Vec::new(),
        }
    }
}

/// The CPU model, core count and memory of this machine.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kilobytes| kilobytes >> 20);
    format!("{model}, {cores} cores, {memory} GiB")
}

/// How one row of the Logbook-only table reads a run (given the event count).
type Figure = fn(&LogbookRun, usize) -> String;

fn latency(percentiles: Option<&crate::latency::Percentiles>) -> String {
    percentiles.map_or_else(|| "n/a".to_string(), |figure| format!("{:.2} / {:.2} ms", figure.p50_ms, figure.p99_ms))
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// The p99 of a kind for a system, if measured.
fn p99(figures: &ReadFigures, kind: ReadKind) -> Option<f64> {
    figures.latencies.iter().find(|(measured, _)| *measured == kind).map(|(_, percentiles)| percentiles.p99_ms)
}

/// The Markdown report.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {}. {} events over {} workspaces (seed {}). Command: `{}`.\n\n",
        results.machine, results.events, results.workspaces, results.seed, results.command
    ));
    out.push_str("### Ingest (HTTP, durable: a 201 means committed)\n\nServer CPU and bytes written are the Logbook process's over the scenario, per event (`/proc/<pid>/stat` and `write_bytes` of `/proc/<pid>/io`; on PostgreSQL the database's own processes write).\n\n| backend | batch | clients | events | events/s | request p50 | request p99 | 429s | server CPU / event | written / event |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let or_dash = |figure: Option<String>| figure.unwrap_or_else(|| "—".to_string());
    for run in &results.logbook {
        for figure in &run.ingest {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} |\n",
                run.backend,
                figure.batch,
                figure.clients,
                figure.events,
                figure.events_per_second,
                figure.request_latency.p50_ms,
                figure.request_latency.p99_ms,
                figure.slowed_down,
                or_dash(figure.cpu_text()),
                or_dash(figure.written_text()),
            ));
        }
    }
    out.push_str("\n| peer load | rows/s |");
    for run in &results.logbook {
        out.push_str(&format!(" Logbook ({}) best ingest ÷ peer |", run.backend));
    }
    out.push_str("\n|---|---:|");
    out.push_str(&"---:|".repeat(results.logbook.len()));
    out.push('\n');
    for load in &results.peer_loads {
        out.push_str(&format!("| {} | {:.0} |", load.system, load.rows_per_second));
        for run in &results.logbook {
            let best = run.ingest.iter().map(|figure| figure.events_per_second).fold(0.0, f64::max);
            out.push_str(&format!(" {:.2}× |", best / load.rows_per_second.max(1e-9)));
        }
        out.push('\n');
    }
    out.push_str(
        "\n### Reads (one client, one request at a time; latency in ms; a ratio is the peer's p99 ÷ Logbook's p99, so above 1 means Logbook is faster)\n\n",
    );
    let systems: Vec<&ReadFigures> = results.reads.iter().collect();
    let is_logbook = |system: &&ReadFigures| system.system.starts_with("Logbook");
    let pairs: Vec<(&ReadFigures, &ReadFigures)> = systems
        .iter()
        .filter(|system| is_logbook(system))
        .flat_map(|logbook| systems.iter().filter(|system| !is_logbook(system)).map(move |peer| (*peer, *logbook)))
        .collect();
    out.push_str("| request |");
    for system in &systems {
        out.push_str(&format!(" {} p50 | {} p99 |", system.system, system.system));
    }
    for (peer, logbook) in &pairs {
        out.push_str(&format!(" {} ÷ {} |", peer.system, logbook.system));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(systems.len() * 2 + pairs.len()));
    out.push('\n');
    for kind in ReadKind::ALL {
        out.push_str(&format!("| {} |", kind.label()));
        for system in &systems {
            match system.latencies.iter().find(|(measured, _)| *measured == kind) {
                Some((_, figure)) => out.push_str(&format!(" {:.2} | {:.2} |", figure.p50_ms, figure.p99_ms)),
                None => out.push_str(" n/a | n/a |"),
            }
        }
        for (peer, logbook) in &pairs {
            match (p99(peer, kind), p99(logbook, kind)) {
                (Some(peer), Some(logbook)) => out.push_str(&format!(" {:.2}× |", peer / logbook.max(1e-9))),
                _ => out.push_str(" n/a |"),
            }
        }
        out.push('\n');
    }
    out.push_str("\n### Logbook only\n\n| figure |");
    for run in &results.logbook {
        out.push_str(&format!(" {} |", run.backend));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(results.logbook.len()));
    out.push('\n');
    let rows: [(&str, Figure); 8] = [
        ("export (NDJSON, the first workspace)", |run, _| {
            format!("{:.0} events/s ({} events)", run.extras.export_events_per_second, run.extras.export_events)
        }),
        ("offline verification (`logbook verify`)", |run, _| {
            format!("{:.0} events/s", run.extras.verify_events_per_second)
        }),
        ("inclusion proof p50 / p99", |run, _| latency(run.extras.proof_latency.as_ref())),
        ("signed checkpoint p50 / p99", |run, _| latency(run.extras.checkpoint_latency.as_ref())),
        ("server peak memory while ingesting", |run, _| mib(run.memory_after_ingest_bytes)),
        ("server peak memory, whole run", |run, _| mib(run.peak_memory_bytes)),
        ("store size", |run, _| mib(run.stored_bytes)),
        ("store bytes per event", |run, events| format!("{}", run.stored_bytes / events.max(1) as u64)),
    ];
    for (label, value) in rows {
        out.push_str(&format!("| {label} |"));
        for run in &results.logbook {
            out.push_str(&format!(" {} |", value(run, results.events)));
        }
        out.push('\n');
    }
    out
}

/// An SVG bar chart: p99 read latency per request kind, one bar per system, on a
/// logarithmic scale.
pub fn chart(results: &Results) -> String {
    let colours = ["#2f6fdf", "#e07b39", "#3a9e5c", "#8e44ad"];
    let kinds: Vec<ReadKind> = ReadKind::ALL.to_vec();
    let (left, top, row_height, width) = (210.0, 40.0, 40.0, 560.0);
    let height = top + row_height * kinds.len() as f64 + 50.0;
    let max = results
        .reads
        .iter()
        .flat_map(|system| system.latencies.iter().map(|(_, figure)| figure.p99_ms))
        .fold(1.0_f64, f64::max);
    let scale = |milliseconds: f64| (milliseconds.max(0.01) / 0.01).log10() / (max / 0.01).log10() * width;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\">p99 read latency at {} events (ms, log scale; shorter is faster)</text>\n",
        left + width + 60.0,
        results.events
    );
    let bar = row_height / (results.reads.len().max(1) as f64 + 0.5);
    for (row, kind) in kinds.iter().enumerate() {
        let y = top + row as f64 * row_height;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            left - 8.0,
            y + row_height / 2.0,
            kind.label()
        ));
        for (index, system) in results.reads.iter().enumerate() {
            if let Some(milliseconds) = p99(system, *kind) {
                let bar_y = y + index as f64 * bar;
                svg.push_str(&format!(
                    "<rect x=\"{left}\" y=\"{bar_y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\">{milliseconds:.2}</text>\n",
                    scale(milliseconds).max(1.0),
                    bar - 1.0,
                    colours[index % colours.len()],
                    left + scale(milliseconds).max(1.0) + 3.0,
                    bar_y + bar - 2.0
                ));
            }
        }
    }
    for (index, system) in results.reads.iter().enumerate() {
        let x = 10.0 + index as f64 * 200.0;
        let y = height - 20.0;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{y}\">{}</text>\n",
            y - 10.0,
            colours[index % colours.len()],
            x + 16.0,
            system.system
        ));
    }
    svg.push_str("</svg>\n");
    svg
}
