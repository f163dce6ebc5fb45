//! Tampering with the embedded store behind Logbook's back: a row changed,
//! deleted, two rows swapped, a row inserted. The server's `verify` and
//! `logbook verify` on an export both name the first bad `seq`.

mod common;

use std::process::Command;

use common::{OPERATOR, Server, get_text, post};
use rusqlite::Connection;
use serde_json::{Value, json};

/// One way to tamper, as SQL on the workspace's rows, and what must be found.
struct Case {
    workspace: &'static str,
    sql: &'static str,
    seq: u64,
    problem: &'static str,
}

const CASES: [Case; 5] = [
    Case {
        workspace: "changed",
        sql: "UPDATE events SET body = replace(body, '\"outcome\":\"success\"', '\"outcome\":\"failure\"') WHERE workspace = ?1 AND seq = 17",
        seq: 17,
        problem: "changed",
    },
    Case {
        workspace: "renamed",
        sql: "UPDATE events SET body = replace(body, '\"name\":\"Ana\"', '\"name\":\"Mallory\"'),
                                personal = json_remove(personal, '$.\"actor.name\".salt')
              WHERE workspace = ?1 AND seq = 11",
        seq: 11,
        problem: "changed",
    },
    Case {
        workspace: "deleted",
        sql: "DELETE FROM events WHERE workspace = ?1 AND seq = 23",
        seq: 23,
        problem: "missing",
    },
    Case {
        workspace: "swapped",
        sql: "UPDATE events SET seq = -1 WHERE workspace = ?1 AND seq = 5;
              UPDATE events SET seq = 5 WHERE workspace = ?1 AND seq = 9;
              UPDATE events SET seq = 9 WHERE workspace = ?1 AND seq = -1",
        seq: 5,
        problem: "changed",
    },
    Case {
        workspace: "inserted",
        sql: "INSERT INTO events (workspace, seq, id, action, category, occurred_at, actor_type, actor_id, target_type,
                                  target_id, outcome, ip, idempotency_key, body, personal, leaf_hash)
              SELECT workspace, 40, 'forged', action, category, occurred_at, actor_type, actor_id, target_type,
                     target_id, outcome, ip, NULL, body, personal, leaf_hash FROM events WHERE workspace = ?1 AND seq = 3",
        seq: 40,
        problem: "extra",
    },
];

fn tamper(database: &std::path::Path, case: &Case) {
    let connection = Connection::open(database).expect("the database opens");
    connection.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    for statement in case.sql.split(';') {
        let changed = connection.execute(statement, [case.workspace]).expect("tampering runs");
        assert_eq!(changed, 1, "{}: {statement}", case.workspace);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_offline_verification_name_the_first_bad_seq() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(directory.path());
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let key = client.get(format!("{base}/v1/log-keys")).send().await.unwrap().json::<Value>().await.unwrap()["keys"][0]
        .as_str()
        .expect("a verifier key")
        .to_string();

    for case in &CASES {
        let workspace = case.workspace;
        let (status, _) =
            post(&client, &format!("{base}/v1/workspaces"), OPERATOR, json!({"id": workspace})).await.unwrap();
        assert_eq!(status, 201);
        let events: Vec<Value> = (0..40)
            .map(|n| json!({"action": "ticket.status_changed", "actor": {"id": format!("U-{}", n % 3), "name": "Ana", "email": "ana@example.com"},
                "target": {"type": "ticket", "id": format!("T-{n}")}, "changes": [{"field": "status", "from": "open", "to": "solved"}],
                "context": {"ip": "192.0.2.4"}}))
            .collect();
        let (status, _) =
            post(&client, &format!("{base}/v1/workspaces/{workspace}/events"), OPERATOR, json!({"events": events}))
                .await
                .unwrap();
        assert_eq!(status, 201);
        let intact = get_text(&client, &format!("{base}/v1/workspaces/{workspace}/verify"), OPERATOR).await;
        assert!(intact.trim_end().ends_with("{\"ok\":true,\"size\":40}"), "{workspace} before tampering: {intact}");
    }

    for case in &CASES {
        tamper(&directory.path().join("logbook.sqlite3"), case);
        let workspace = case.workspace;
        let verdict = get_text(&client, &format!("{base}/v1/workspaces/{workspace}/verify"), OPERATOR).await;
        let verdict: Value = serde_json::from_str(verdict.lines().last().expect("a verdict")).unwrap();
        assert_eq!(
            (&verdict["ok"], verdict["seq"].as_u64(), verdict["problem"].as_str()),
            (&json!(false), Some(case.seq), Some(case.problem)),
            "server verify of {workspace}: {verdict}"
        );

        let export =
            get_text(&client, &format!("{base}/v1/workspaces/{workspace}/export?format=ndjson"), OPERATOR).await;
        let checkpoint =
            get_text(&client, &format!("{base}/v1/workspaces/{workspace}/checkpoint?size=40"), OPERATOR).await;
        let export_file = directory.path().join(format!("{workspace}.ndjson"));
        let checkpoint_file = directory.path().join(format!("{workspace}.checkpoint"));
        std::fs::write(&export_file, export).unwrap();
        std::fs::write(&checkpoint_file, checkpoint).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_logbook"))
            .args(["verify", "--key", &key, "--export"])
            .arg(&export_file)
            .arg("--checkpoint")
            .arg(&checkpoint_file)
            .output()
            .expect("logbook verify runs");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "logbook verify of {workspace} must fail: {printed}");
        assert!(printed.contains(&format!("FAILED at seq {}", case.seq)), "logbook verify of {workspace}: {printed}");
    }

    // The untouched export of an intact log still verifies, and a wrong key fails.
    let (status, _) = post(&client, &format!("{base}/v1/workspaces"), OPERATOR, json!({"id": "intact"})).await.unwrap();
    assert_eq!(status, 201);
    let events: Vec<Value> = (0..10).map(|n| json!({"action": "ticket.created", "actor": {"id": "U-1"}, "target": {"type": "ticket", "id": format!("T-{n}")}})).collect();
    post(&client, &format!("{base}/v1/workspaces/intact/events"), OPERATOR, json!({"events": events})).await.unwrap();
    let export_file = directory.path().join("intact.ndjson");
    let checkpoint_file = directory.path().join("intact.checkpoint");
    std::fs::write(
        &export_file,
        get_text(&client, &format!("{base}/v1/workspaces/intact/export?format=ndjson"), OPERATOR).await,
    )
    .unwrap();
    std::fs::write(
        &checkpoint_file,
        get_text(&client, &format!("{base}/v1/workspaces/intact/checkpoint?size=10"), OPERATOR).await,
    )
    .unwrap();
    let run = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_logbook"))
            .args(["verify", "--key", key, "--export"])
            .arg(&export_file)
            .arg("--checkpoint")
            .arg(&checkpoint_file)
            .output()
            .expect("logbook verify runs")
    };
    let good = run(&key);
    assert_eq!(good.status.code(), Some(0), "{}", String::from_utf8_lossy(&good.stdout));
    assert!(String::from_utf8_lossy(&good.stdout).starts_with("OK: 10 events"));
    let other_key = "logbook.local+00000000+AWNSOrdUjALruMr3by1WoD9pFM7C3kfztGgRtaOj0k49";
    assert_ne!(run(other_key).status.code(), Some(0), "a checkpoint does not verify under another key");
}

/// An export reads its rows a chunk of 1,000 `seq`s at a time, four chunks at
/// once. Rows missing over more chunks than are read at once, a row gone at a
/// chunk's end and the last row gone must leave every other row exported once
/// and in order, and verification must name the first missing `seq`; a size
/// raised far past the rows, behind Logbook's back, must not keep an export
/// reading empty chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_missing_across_whole_chunks_leave_the_rest_exported_in_order() {
    const EVENTS: u64 = 12_000;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(directory.path());
    let client = reqwest::Client::new();
    let (status, _) =
        post(&client, &format!("{}/v1/workspaces", server.base), OPERATOR, json!({"id": "gaps"})).await.unwrap();
    assert_eq!(status, 201);
    for batch in 0..EVENTS / 1000 {
        let events: Vec<Value> = (0..1000)
            .map(|n| json!({"action": "ticket.created", "actor": {"id": "U-1"}, "target": {"type": "ticket", "id": format!("T-{batch}-{n}")}}))
            .collect();
        let url = format!("{}/v1/workspaces/gaps/events", server.base);
        let (status, _) = post(&client, &url, OPERATOR, json!({"events": events})).await.unwrap();
        assert_eq!(status, 201);
    }
    let connection = Connection::open(directory.path().join("logbook.sqlite3")).expect("the database opens");
    connection.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let missing = |seq: &u64| (1000..9000).contains(seq) || [9999, EVENTS - 1].contains(seq);
    let deleted = connection
        .execute(
            "DELETE FROM events WHERE workspace = 'gaps' AND ((seq >= 1000 AND seq < 9000) OR seq IN (9999, 11999))",
            [],
        )
        .expect("tampering runs");
    assert_eq!(deleted, (0..EVENTS).filter(missing).count());
    let expected: Vec<u64> = (0..EVENTS).filter(|seq| !missing(seq)).collect();

    let exported_seqs = |base: String| {
        let client = client.clone();
        async move {
            let url = format!("{base}/v1/workspaces/gaps/export?format=ndjson");
            let export = tokio::time::timeout(std::time::Duration::from_secs(60), get_text(&client, &url, OPERATOR))
                .await
                .expect("the export ends");
            export
                .lines()
                .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line")["seq"].as_u64().expect("a seq"))
                .collect::<Vec<u64>>()
        }
    };
    let exported = exported_seqs(server.base.clone()).await;
    assert!(exported == expected, "every row left, once and in order, not {} rows", exported.len());
    let verdict = get_text(&client, &format!("{}/v1/workspaces/gaps/verify", server.base), OPERATOR).await;
    let verdict: Value = serde_json::from_str(verdict.lines().last().expect("a verdict")).unwrap();
    assert_eq!((verdict["seq"].as_u64(), verdict["problem"].as_str()), (Some(1000), Some("missing")), "{verdict}");

    // The size a workspace's export reads to, raised to 2^50 while no server
    // runs: the export ends once no row is left to read.
    drop(server);
    connection
        .execute("UPDATE workspaces SET next_seq = 1125899906842624 WHERE id = 'gaps'", [])
        .expect("tampering runs");
    let server = Server::start(directory.path());
    // The rows as before, and the first export's own audit event after them.
    let exported = exported_seqs(server.base.clone()).await;
    assert!(exported.starts_with(&expected), "{} rows, not those exported before", exported.len());
    assert!(exported[expected.len()..].iter().all(|seq| *seq >= EVENTS), "{:?}", &exported[expected.len()..]);
}
