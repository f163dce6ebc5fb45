//! Fifty clients sending batches at once into two workspaces, through the real
//! router: every acknowledged event is readable and each workspace's `seq` runs
//! 0..n-1 with no gap or repeat.

mod common;

use std::collections::BTreeMap;

use common::{TestApp, event};
use logbook_core::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_two_workspaces_no_gaps() {
    let app = std::sync::Arc::new(TestApp::new(&["acme", "beta"]).await);
    let mut clients = Vec::new();
    for client in 0..50usize {
        let app = app.clone();
        clients.push(tokio::spawn(async move {
            let workspace = if client % 2 == 0 { "acme" } else { "beta" };
            let mut acknowledged = Vec::new();
            for round in 0..6usize {
                let size = 1 + (client * 7 + round * 13) % 40;
                let batch =
                    (0..size).map(|n| event("ticket.created", "ticket", &format!("T-{client}-{round}-{n}"))).collect();
                for answer in app.ingest(workspace, batch).await {
                    acknowledged.push((answer["id"].as_str().unwrap().to_string(), answer["seq"].as_u64().unwrap()));
                }
            }
            (workspace, acknowledged)
        }));
    }
    let mut acknowledged: BTreeMap<&str, BTreeMap<u64, String>> = BTreeMap::new();
    for client in clients {
        let (workspace, answers) = client.await.expect("a client finished");
        for (id, seq) in answers {
            let previous = acknowledged.entry(workspace).or_default().insert(seq, id);
            assert!(previous.is_none(), "seq {seq} acknowledged twice in {workspace}");
        }
    }
    for (workspace, by_seq) in &acknowledged {
        let n = by_seq.len() as u64;
        assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>(), "{workspace}: gap-free seq");
        let stored = app
            .all_pages(&format!("/v1/workspaces/{workspace}/events?limit=1000"), app.key(workspace, Role::Admin))
            .await;
        let stored: BTreeMap<u64, String> = stored
            .iter()
            .map(|event| (event["seq"].as_u64().unwrap(), event["id"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(&stored, by_seq, "{workspace}: every acknowledged event is readable, with its seq");
    }
}
