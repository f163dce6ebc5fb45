//! `logbook query` and `logbook export` against a running server, as a user
//! would run them.

mod common;

use std::process::{Command, Output};

use common::{OPERATOR, Server, get_text, post};
use serde_json::{Value, json};

fn logbook(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logbook"))
        .args(arguments)
        .env_remove("LOGBOOK_KEY")
        .output()
        .expect("logbook runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_export_a_workspace() {
    let directory = tempfile::tempdir().unwrap();
    let server = Server::start(directory.path());
    let client = reqwest::Client::new();
    let base = server.base.clone();
    post(&client, &format!("{base}/v1/workspaces"), OPERATOR, json!({"id": "acme"})).await.unwrap();
    let (_, key) = post(
        &client,
        &format!("{base}/v1/workspaces/acme/keys"),
        OPERATOR,
        json!({"name": "cli", "roles": ["auditor"]}),
    )
    .await
    .unwrap();
    let key = key["token"].as_str().unwrap().to_string();
    let events: Vec<Value> = (0..30)
        .map(|n| {
            json!({"action": if n % 3 == 0 { "queue.renamed" } else { "ticket.status_changed" },
                "actor": {"id": "U-7", "name": "Ana Silva"}, "target": {"type": if n % 3 == 0 { "queue" } else { "ticket" }, "id": format!("X-{n}")},
                "changes": [{"field": "status", "from": "open", "to": format!("state-{n}")}], "context": {"ip": "192.0.2.8"}})
        })
        .collect();
    post(&client, &format!("{base}/v1/workspaces/acme/events"), OPERATOR, json!({"events": events})).await.unwrap();

    let table =
        logbook(&["query", "--server", &base, "--key", &key, "-w", "acme", "-f", "action=ticket.*", "--limit", "5"]);
    assert!(table.status.success(), "{}", String::from_utf8_lossy(&table.stderr));
    let table = String::from_utf8(table.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("Date") && lines[0].contains("Done by") && lines[0].contains("From"), "{table}");
    assert_eq!(lines.len(), 7, "a header, five events and a note that there are more: {table}");
    assert!(
        lines[1].contains("Ana Silva (user)")
            && lines[1].contains("ticket.status_changed")
            && lines[1].contains("state-29"),
        "{table}"
    );

    let json_lines = logbook(&[
        "query", "--server", &base, "--key", &key, "-w", "acme", "-f", "q=queue", "--limit", "100", "--json",
    ]);
    let parsed: Vec<Value> =
        String::from_utf8(json_lines.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(parsed.len(), 10);

    // The query language, as one argument; a malformed query is named.
    let queried = logbook(&[
        "query",
        "--server",
        &base,
        "--key",
        &key,
        "-w",
        "acme",
        "--json",
        "--limit",
        "100",
        "action:ticket.* -to:state-1 -to:state-2 \"ana silva\"",
    ]);
    assert!(queried.status.success(), "{}", String::from_utf8_lossy(&queried.stderr));
    assert_eq!(String::from_utf8(queried.stdout).unwrap().lines().count(), 18, "20 ticket events, less two");
    let malformed = logbook(&["query", "--server", &base, "--key", &key, "-w", "acme", "actor:U-7 colour:red"]);
    assert!(!malformed.status.success());
    let said = String::from_utf8_lossy(&malformed.stderr);
    assert!(said.contains("400") && said.contains("at character 11"), "{said}");

    let output = directory.path().join("acme.ndjson");
    let export = logbook(&["export", "--server", &base, "--key", &key, "-w", "acme", "-o", output.to_str().unwrap()]);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let said = String::from_utf8(export.stdout).unwrap();
    // The 30 events, the key's creation, and the recorded views of the feed and of stats.
    assert!(said.contains("wrote 33 events"), "{said}");
    assert!(String::from_utf8_lossy(&export.stderr).contains("100%"), "a progress bar reaches 100%");
    let size = said
        .split("checkpoint of size ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .expect("the size to verify at");
    assert_eq!(size, "33");
    let checkpoint = get_text(&client, &format!("{base}/v1/workspaces/acme/checkpoint?size={size}"), &key).await;
    let checkpoint_file = directory.path().join("acme.checkpoint");
    std::fs::write(&checkpoint_file, checkpoint).unwrap();
    let log_key: Value = serde_json::from_str(&get_text(&client, &format!("{base}/v1/log-keys"), &key).await).unwrap();
    let verify = logbook(&[
        "verify",
        "--export",
        output.to_str().unwrap(),
        "--checkpoint",
        checkpoint_file.to_str().unwrap(),
        "--key",
        log_key["keys"][0].as_str().unwrap(),
    ]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));

    let csv = directory.path().join("acme.csv");
    let export = logbook(&[
        "export",
        "--server",
        &base,
        "--key",
        &key,
        "-w",
        "acme",
        "--format",
        "csv",
        "-f",
        "action=queue.renamed",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(export.status.success());
    let written = std::fs::read_to_string(&csv).unwrap();
    assert!(written.starts_with("date,done_by,actor_type,event,"));
    assert_eq!(written.lines().count(), 11);

    let refused = logbook(&["query", "--server", &base, "--key", "lbk_nope_nope", "-w", "acme"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"), "{}", String::from_utf8_lossy(&refused.stderr));
}
