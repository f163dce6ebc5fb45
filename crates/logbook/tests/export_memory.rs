//! A million-event export streams in flat memory: the real binary serves a demo
//! workspace of 1,000,000 events, a client reads its NDJSON and CSV exports to the
//! end, and the server's resident memory, sampled all along, stays within a
//! fixed margin of what it was once the export was under way.
//!
//! This is the slowest test of the suite (a few minutes on two cores, most of it
//! filling the log); it checks memory, never time.

mod common;

use common::{OPERATOR, Server};

/// Events in the log.
const EVENTS: usize = 1_000_000;

/// How far the server's resident memory may rise above its level once the
/// export has warmed up. A server holding the export in memory would need
/// hundreds of megabytes more (each NDJSON line is over a kilobyte).
const MARGIN_BYTES: u64 = 64 << 20;

/// The resident memory of a process, from `/proc/<pid>/status`.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's status");
    let kilobytes = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse::<u64>().ok())
        .expect("VmRSS in kB");
    kilobytes * 1024
}

/// Streams one export to its end; the number of lines, the last line, and the
/// resident memory at warm-up and at its highest.
async fn stream_export(server: &Server, token: &str, format: &str) -> (u64, String, u64, u64) {
    let url = format!("{}/v1/workspaces/demo/export?format={format}", server.base);
    let response = reqwest::Client::new().get(url).bearer_auth(token).send().await.expect("the server answers");
    assert!(response.status().is_success(), "{}", response.status());
    let pid = server.child.id();
    let (mut lines, mut bytes, mut next_sample) = (0u64, 0u64, 0u64);
    let (mut warm, mut highest) = (None, 0u64);
    let mut last_line = Vec::new();
    let mut current = Vec::new();
    let mut response = response;
    while let Some(chunk) = response.chunk().await.expect("the export streams to its end") {
        bytes += chunk.len() as u64;
        for &byte in chunk.iter() {
            if byte == b'\n' {
                lines += 1;
                last_line = std::mem::take(&mut current);
            } else {
                current.push(byte);
            }
        }
        if bytes >= next_sample {
            next_sample = bytes + (4 << 20);
            let resident = resident_bytes(pid);
            highest = highest.max(resident);
            // Warm-up: the first 50,000 lines fill caches and buffers.
            if warm.is_none() && lines >= 50_000 {
                warm = Some(resident);
            }
        }
    }
    println!(
        "{format}: {lines} lines, {} MiB; server resident memory at 50,000 lines {} MiB, highest {} MiB",
        bytes >> 20,
        warm.unwrap_or(0) >> 20,
        highest >> 20
    );
    (lines, String::from_utf8(last_line).unwrap(), warm.expect("the export passed 50,000 lines"), highest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_event_export_streams_in_flat_memory() {
    let directory = tempfile::tempdir().unwrap();
    let events = EVENTS.to_string();
    let (server, printed) = Server::start_with(directory.path(), &["demo", "--demo-events", &events], Some(OPERATOR));
    let auditor = printed
        .iter()
        .find_map(|line| line.trim().strip_prefix("auditor"))
        .map(|rest| rest.trim().to_string())
        .expect("the demo prints an auditor key");

    let (lines, last, warm, highest) = stream_export(&server, &auditor, "ndjson").await;
    // One line per event: the million, and the recorded export itself is not in
    // it (it is recorded after the size the export was taken at).
    assert_eq!(lines, EVENTS as u64, "every event, one per line");
    let last: serde_json::Value = serde_json::from_str(&last).expect("the last line is an event");
    assert_eq!(last["seq"].as_u64(), Some(EVENTS as u64 - 1));
    assert_eq!(last["tree_size"].as_u64(), Some(EVENTS as u64));
    assert!(highest <= warm + MARGIN_BYTES, "NDJSON: memory rose from {warm} to {highest} bytes");

    let (lines, _, warm, highest) = stream_export(&server, &auditor, "csv").await;
    // A header, the million, and the NDJSON export recorded as an audit event.
    assert_eq!(lines, EVENTS as u64 + 2);
    assert!(highest <= warm + MARGIN_BYTES, "CSV: memory rose from {warm} to {highest} bytes");
}
