//! A `logbook serve` child process is killed with SIGKILL in the middle of
//! ingest; after a restart on the same data directory, every acknowledged event
//! is present and intact, and the log's `seq` has no gap.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{OPERATOR, Server, post};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut server = Server::start(directory.path());
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let (status, _) = post(&client, &format!("{base}/v1/workspaces"), OPERATOR, json!({"id": "crash"})).await.unwrap();
    assert_eq!(status, 201);
    let (_, key) = post(
        &client,
        &format!("{base}/v1/workspaces/crash/keys"),
        OPERATOR,
        json!({"name": "p", "roles": ["publisher"]}),
    )
    .await
    .unwrap();
    let publisher = key["token"].as_str().expect("a publisher token").to_string();

    // Writers ingest until the server disappears, remembering every acknowledgement.
    let acknowledged: Arc<Mutex<HashMap<String, (u64, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (client, base, publisher, acknowledged) =
            (client.clone(), base.clone(), publisher.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for round in 0.. {
                let targets: Vec<String> = (0..25).map(|n| format!("T-{writer}-{round}-{n}")).collect();
                let events: Vec<Value> = targets
                    .iter()
                    .map(|target| json!({"action": "ticket.created", "actor": {"id": format!("writer-{writer}")}, "target": {"type": "ticket", "id": target}}))
                    .collect();
                let url = format!("{base}/v1/workspaces/crash/events");
                match post(&client, &url, &publisher, json!({"events": events})).await {
                    Ok((201, answer)) => {
                        let mut acknowledged = acknowledged.lock().unwrap();
                        for (answer, target) in answer["events"].as_array().unwrap().iter().zip(targets) {
                            acknowledged.insert(answer["id"].as_str().unwrap().to_string(), (answer["seq"].as_u64().unwrap(), target));
                        }
                    }
                    Ok((status, body)) => panic!("unexpected answer {status}: {body}"),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    for writer in writers {
        writer.await.expect("a writer stopped cleanly");
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(acknowledged.len() > 100, "only {} events were acknowledged before the kill", acknowledged.len());

    let mut restarted = Server::start(directory.path());
    let (_, key) = post(
        &client,
        &format!("{}/v1/workspaces/crash/keys", restarted.base),
        OPERATOR,
        json!({"name": "r", "roles": ["auditor"]}),
    )
    .await
    .unwrap();
    let reader = key["token"].as_str().expect("an auditor token").to_string();
    let mut stored: HashMap<String, (u64, String)> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/workspaces/crash/events?limit=1000&order=asc", restarted.base);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = client.get(&url).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
        for event in page["events"].as_array().expect("a page") {
            let id = event["id"].as_str().unwrap().to_string();
            stored.insert(id, (event["seq"].as_u64().unwrap(), event["target"]["id"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let verdict = client
        .get(format!("{}/v1/workspaces/crash/verify", restarted.base))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    let verdict = verdict.text().await.unwrap();
    restarted.kill();
    let last: serde_json::Value = serde_json::from_str(verdict.lines().last().unwrap()).unwrap();
    assert_eq!(last["ok"], true, "the tree matches the log after the crash: {verdict}");
    assert!(last["size"].as_u64().unwrap() >= stored.len() as u64);

    for (id, expected) in &acknowledged {
        assert_eq!(stored.get(id), Some(expected), "acknowledged event {id} is missing or changed after the crash");
    }
    let mut seqs: Vec<u64> = stored.values().map(|(seq, _)| *seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..stored.len() as u64).collect::<Vec<_>>(), "the log has no gap after recovery");
    eprintln!("acknowledged {} events before SIGKILL; {} stored after restart", acknowledged.len(), stored.len());
}
