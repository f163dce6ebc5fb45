//! Three `logbook serve` processes on one PostgreSQL database, behind no load
//! balancer but used in turn by concurrent clients, which write to one shared
//! workspace and to one workspace each, through all three. Afterwards every
//! acknowledged event is present with the `seq` it was given, each workspace's
//! `seq` runs without a gap, the server's verification passes, and every
//! checkpoint seen during the run (from any process) is consistent with the last.
//!
//! Skipped with a loud warning when the test PostgreSQL cannot be reached, and
//! failed then if `CI` is set (see `logbook_storage::postgres::test_database`).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{OPERATOR, Server, get_text, post};
use logbook_core::integrity::decode_hash;
use logbook_storage::postgres::test_database::{TestDatabase, server_reachable};
use logbook_tlog::checkpoint::{Checkpoint, open_checkpoint};
use logbook_tlog::note::Verifier;
use logbook_tlog::proof::verify_consistency;
use serde_json::{Value, json};

const LOG_NAME: &str = "logbook.local";
const SHARED: &str = "shared";
const PROCESSES: usize = 3;
const SHARED_WRITERS: usize = 6;
const ROUNDS: usize = 30;
const BATCH: usize = 10;

/// The acknowledged events of each workspace: id → seq.
type Acknowledged = Arc<Mutex<HashMap<String, HashMap<String, u64>>>>;

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    serde_json::from_str(&get_text(client, url, OPERATOR).await).expect("JSON")
}

/// Every event of a workspace, oldest first, following cursors.
async fn all_events(client: &reqwest::Client, base: &str, workspace: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!("{base}/v1/workspaces/{workspace}/events?order=asc&limit=1000{cursor}");
        let page = get_json(client, &url).await;
        events.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return events,
        }
    }
}

/// Writes `ROUNDS` batches to `workspace` through `base`, each event once with
/// an idempotency key, and each batch a second time (a retry that must store
/// nothing new) through `retry_base`.
async fn write(
    client: reqwest::Client,
    (base, retry_base): (String, String),
    publisher: String,
    workspace: String,
    writer: usize,
    acknowledged: Acknowledged,
) {
    for round in 0..ROUNDS {
        let events: Vec<Value> = (0..BATCH)
            .map(|n| {
                json!({
                    "action": "ticket.created",
                    "actor": {"id": format!("writer-{writer}")},
                    "target": {"type": "ticket", "id": format!("T-{writer}-{round}-{n}")},
                    "idempotency_key": format!("{writer}-{round}-{n}"),
                })
            })
            .collect();
        let url = format!("{base}/v1/workspaces/{workspace}/events");
        let (status, answer) = post(&client, &url, &publisher, json!({"events": events})).await.expect("an answer");
        assert_eq!(status, 201, "{answer}");
        let answers = answer["events"].as_array().expect("events").clone();
        {
            let mut acknowledged = acknowledged.lock().unwrap();
            let workspace_acknowledged = acknowledged.entry(workspace.clone()).or_default();
            for answer in &answers {
                assert_eq!(answer["duplicate"], false, "{answer}");
                workspace_acknowledged
                    .insert(answer["id"].as_str().unwrap().to_string(), answer["seq"].as_u64().unwrap());
            }
        }
        let retry_url = format!("{retry_base}/v1/workspaces/{workspace}/events");
        let (status, retried) = post(&client, &retry_url, &publisher, json!({"events": events})).await.unwrap();
        assert_eq!(status, 201, "{retried}");
        for (first, again) in answers.iter().zip(retried["events"].as_array().unwrap()) {
            assert_eq!((&first["id"], &first["seq"], &again["duplicate"]), (&again["id"], &again["seq"], &json!(true)));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_one_database() {
    if !server_reachable().await {
        return;
    }
    let database = TestDatabase::create().await.expect("a test database");
    let directory = tempfile::tempdir().expect("a temporary directory");
    // One deployment, one log key: every process signs with the same key.
    let key_file = directory.path().join("log-key");
    std::fs::write(&key_file, format!("{}\n", "5a".repeat(32))).unwrap();
    // The three start together: their migrations must take turns.
    let starting: Vec<_> = (0..PROCESSES)
        .map(|number| {
            let (data_dir, url, key_file) =
                (directory.path().join(format!("p{number}")), database.url.clone(), key_file.clone());
            std::thread::spawn(move || Server::start_on_database(&data_dir, &url, &key_file))
        })
        .collect();
    let servers: Vec<Server> = starting.into_iter().map(|thread| thread.join().expect("a server starts")).collect();
    let bases: Vec<String> = servers.iter().map(|server| server.base.clone()).collect();
    let client = reqwest::Client::new();

    let workspaces: Vec<String> =
        std::iter::once(SHARED.to_string()).chain((0..PROCESSES).map(|number| format!("solo-{number}"))).collect();
    let mut publishers = HashMap::new();
    for (number, workspace) in workspaces.iter().enumerate() {
        // Each workspace and key is made through a different process than the one that uses it first.
        let base = &bases[number % PROCESSES];
        let (status, _) =
            post(&client, &format!("{base}/v1/workspaces"), OPERATOR, json!({"id": workspace})).await.unwrap();
        assert_eq!(status, 201);
        let keys_url = format!("{base}/v1/workspaces/{workspace}/keys");
        let (status, key) =
            post(&client, &keys_url, OPERATOR, json!({"name": "p", "roles": ["publisher"]})).await.unwrap();
        assert_eq!(status, 201, "{key}");
        publishers.insert(workspace.clone(), key["token"].as_str().unwrap().to_string());
    }
    let mut log_keys = Vec::new();
    for base in &bases {
        log_keys.push(get_json(&client, &format!("{base}/v1/log-keys")).await);
    }
    assert!(log_keys.windows(2).all(|pair| pair[0] == pair[1]), "every process publishes the same key: {log_keys:?}");
    let verifier = Verifier::parse(log_keys[0]["keys"][0].as_str().unwrap()).unwrap();

    // Writers: several on the shared workspace, one on each solo workspace, spread over the processes.
    let acknowledged: Acknowledged = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..SHARED_WRITERS + PROCESSES {
        let workspace =
            if writer < SHARED_WRITERS { SHARED.to_string() } else { format!("solo-{}", writer - SHARED_WRITERS) };
        let through = (bases[writer % PROCESSES].clone(), bases[(writer + 1) % PROCESSES].clone());
        let publisher = publishers[&workspace].clone();
        writers.push(tokio::spawn(write(client.clone(), through, publisher, workspace, writer, acknowledged.clone())));
    }
    // Meanwhile a watcher collects the shared workspace's checkpoints from every process.
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (client, bases, writing) = (client.clone(), bases.clone(), writing.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for turn in 0.. {
                if !writing.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let url = format!("{}/v1/workspaces/{SHARED}/checkpoint", bases[turn % PROCESSES]);
                seen.push(get_text(&client, &url, OPERATOR).await);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };
    for writer in writers {
        writer.await.expect("a writer finishes");
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut checkpoints: Vec<String> = watcher.await.expect("the watcher finishes");
    let final_text = get_text(&client, &format!("{}/v1/workspaces/{SHARED}/checkpoint", bases[0]), OPERATOR).await;
    checkpoints.push(final_text.clone());

    // Every acknowledged event is there with its seq; no gap, no extra.
    let acknowledged = acknowledged.lock().unwrap().clone();
    for (number, workspace) in workspaces.iter().enumerate() {
        let stored = all_events(&client, &bases[(number + 2) % PROCESSES], workspace).await;
        let seqs: Vec<u64> = stored.iter().map(|event| event["seq"].as_u64().unwrap()).collect();
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..stored.len() as u64).collect::<Vec<_>>(), "{workspace}: seq has a gap or a repeat");
        let by_id: HashMap<&str, (u64, &str)> = stored
            .iter()
            .map(|event| {
                let (id, seq, action) =
                    (event["id"].as_str().unwrap(), event["seq"].as_u64().unwrap(), event["action"].as_str().unwrap());
                (id, (seq, action))
            })
            .collect();
        let expected = &acknowledged[workspace];
        let writers = if workspace == SHARED { SHARED_WRITERS } else { 1 };
        assert_eq!(expected.len(), writers * ROUNDS * BATCH, "{workspace}");
        for (id, seq) in expected {
            assert_eq!(by_id.get(id.as_str()).map(|(seq, _)| *seq), Some(*seq), "{workspace}: acknowledged event {id}");
        }
        // Besides them, only Logbook's own audit events (the key's creation, views).
        let written = by_id.values().filter(|(_, action)| *action == "ticket.created").count();
        assert_eq!(written, expected.len(), "{workspace}: no event was stored twice");
        let verdict =
            get_text(&client, &format!("{}/v1/workspaces/{workspace}/verify", bases[number % PROCESSES]), OPERATOR)
                .await;
        let last: Value = serde_json::from_str(verdict.lines().last().unwrap()).unwrap();
        assert_eq!(last["ok"], true, "{workspace}: {verdict}");
        assert!(last["size"].as_u64().unwrap() >= stored.len() as u64, "{workspace}: {verdict}");
    }

    // Every checkpoint seen is consistent with the last one.
    let origin = format!("{LOG_NAME}/{SHARED}");
    let last: Checkpoint = open_checkpoint(&final_text, &verifier, &origin).expect("the final checkpoint verifies");
    assert!(last.size >= (SHARED_WRITERS * ROUNDS * BATCH) as u64, "{}", last.size);
    let mut sizes = Vec::new();
    for (turn, text) in checkpoints.iter().enumerate() {
        let seen = open_checkpoint(text, &verifier, &origin).expect("every checkpoint verifies");
        sizes.push(seen.size);
        if seen.size == 0 || seen.size == last.size {
            assert!(seen.size == 0 || seen.root == last.root);
            continue;
        }
        let url = format!(
            "{}/v1/workspaces/{SHARED}/consistency?from={}&to={}",
            bases[turn % PROCESSES],
            seen.size,
            last.size
        );
        let proof = get_json(&client, &url).await;
        let hashes: Vec<_> = proof["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hash| decode_hash(hash.as_str().unwrap()).unwrap())
            .collect();
        verify_consistency(seen.size, last.size, &hashes, &seen.root, &last.root).unwrap_or_else(|error| {
            panic!("the checkpoint of size {} is not consistent with the last: {error}", seen.size)
        });
    }
    let distinct: std::collections::BTreeSet<u64> = sizes.iter().copied().collect();
    assert!(distinct.len() > 2, "checkpoints were taken while the log grew: {distinct:?}");
    drop(servers);
}
