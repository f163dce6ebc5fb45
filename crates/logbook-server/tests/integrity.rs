//! The verifiable log through the real router: keys, checkpoints, inclusion and
//! consistency proofs, the server's verification, and exports that verify offline.

mod common;

use axum::http::StatusCode;
use common::{Backend, LOG_NAME, TestApp, event};
use logbook_core::Role;
use logbook_core::export::verify_export;
use logbook_core::integrity::{Problem, decode_hash};
use logbook_tlog::checkpoint::{Checkpoint, open_checkpoint};
use logbook_tlog::note::Verifier;
use logbook_tlog::proof::{verify_consistency, verify_inclusion};
use logbook_tlog::tlog_proof::TlogProof;
use serde_json::Value;

async fn app_with_events(backend: Backend) -> (TestApp, Vec<Value>) {
    let app = TestApp::on(backend, &["acme", "beta"]).await;
    let mut answers = Vec::new();
    for round in 0..5 {
        let batch = (0..20)
            .map(|n| {
                if n % 4 == 0 {
                    event("user.login_failed", "user", &format!("U-{n}"))
                } else {
                    event("ticket.created", "ticket", &format!("T-{round}-{n}"))
                }
            })
            .collect();
        answers.extend(app.ingest("acme", batch).await);
    }
    app.ingest("beta", vec![event("ticket.created", "ticket", "T-1")]).await;
    (app, answers)
}

async fn verifier(app: &TestApp) -> Verifier {
    let keys = app.call(axum::http::Method::GET, "/v1/log-keys", None, None).await;
    let key = keys.body["keys"][0].as_str().expect("a verifier key");
    assert!(key.starts_with(&format!("{LOG_NAME}+")), "{key}");
    Verifier::parse(key).expect("a C2SP verifier key")
}

async fn checkpoint(app: &TestApp, token: &str, query: &str) -> (String, Checkpoint) {
    let (status, text) = app.text(&format!("/v1/workspaces/acme/checkpoint{query}"), token, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let opened =
        open_checkpoint(&text, &verifier(app).await, &format!("{LOG_NAME}/acme")).expect("the checkpoint verifies");
    (text, opened)
}

async fn checkpoints_and_proofs_verify_with_the_published_key(backend: Backend) {
    let (app, answers) = app_with_events(backend).await;
    let auditor = app.key("acme", Role::Auditor).to_string();
    let (_, latest) = checkpoint(&app, &auditor, "").await;
    assert_eq!(latest.size, 100);
    let (_, at_40) = checkpoint(&app, &auditor, "?size=40").await;
    assert_eq!(at_40.size, 40);
    let (status, _) = app.text("/v1/workspaces/acme/checkpoint?size=101", &auditor, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for answer in answers.iter().step_by(7) {
        let id = answer["id"].as_str().unwrap();
        let seq = answer["seq"].as_u64().unwrap();
        let proof = app
            .call(axum::http::Method::GET, &format!("/v1/workspaces/acme/events/{id}/proof"), Some(&auditor), None)
            .await;
        assert_eq!(proof.status, StatusCode::OK, "{proof:?}");
        assert_eq!((proof.body["seq"].as_u64(), proof.body["tree_size"].as_u64()), (Some(seq), Some(100)));
        assert_eq!(proof.body["leaf_hash"], answer["leaf_hash"], "the ingest answer's leaf is the proven one");
        let hashes: Vec<_> = proof.body["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hash| decode_hash(hash.as_str().unwrap()).unwrap())
            .collect();
        let leaf = decode_hash(answer["leaf_hash"].as_str().unwrap()).unwrap();
        let signed = open_checkpoint(
            proof.body["checkpoint"].as_str().unwrap(),
            &verifier(&app).await,
            &format!("{LOG_NAME}/acme"),
        )
        .unwrap();
        verify_inclusion(&leaf, seq, signed.size, &hashes, &signed.root).expect("the inclusion proof verifies");

        if seq < 40 {
            let (status, text) =
                app.text(&format!("/v1/workspaces/acme/events/{id}/proof?size=40"), &auditor, Some("text/plain")).await;
            assert_eq!(status, StatusCode::OK);
            let tlog_proof = TlogProof::parse(&text).expect("a C2SP tlog-proof");
            let opened = tlog_proof
                .verify(&leaf, &verifier(&app).await, &format!("{LOG_NAME}/acme"))
                .expect("the tlog-proof verifies");
            assert_eq!(opened, at_40);
        }
    }
    let consistency =
        app.call(axum::http::Method::GET, "/v1/workspaces/acme/consistency?from=40&to=100", Some(&auditor), None).await;
    let hashes: Vec<_> = consistency.body["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| decode_hash(hash.as_str().unwrap()).unwrap())
        .collect();
    verify_consistency(40, 100, &hashes, &at_40.root, &latest.root).expect("checkpoints are consistent");
    for query in ["from=0&to=10", "from=50&to=40", "from=1&to=101", "from=1", "from=x&to=5"] {
        let answer = app
            .call(axum::http::Method::GET, &format!("/v1/workspaces/acme/consistency?{query}"), Some(&auditor), None)
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
    }
    let first = answers[0]["id"].as_str().unwrap();
    let too_small = app
        .call(
            axum::http::Method::GET,
            &format!("/v1/workspaces/acme/events/{first}/proof?size=0"),
            Some(&auditor),
            None,
        )
        .await;
    assert_eq!(too_small.status, StatusCode::BAD_REQUEST);
}

async fn readers_prove_only_what_they_may_see(backend: Backend) {
    let (app, answers) = app_with_events(backend).await;
    let login = answers[0]["id"].as_str().unwrap();
    let supervisor = app.key("acme", Role::Supervisor);
    let hidden = app
        .call(axum::http::Method::GET, &format!("/v1/workspaces/acme/events/{login}/proof"), Some(supervisor), None)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "an audit event is absent for a supervisor");
    assert_eq!(app.text("/v1/workspaces/acme/checkpoint", supervisor, None).await.0, StatusCode::OK);
    assert_eq!(
        app.text("/v1/workspaces/acme/checkpoint", app.key("acme", Role::Agent), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.text("/v1/workspaces/acme/checkpoint", app.key("beta", Role::Admin), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.text("/v1/workspaces/acme/verify", supervisor, None).await.0, StatusCode::FORBIDDEN);
}

async fn the_server_verifies_an_intact_log(backend: Backend) {
    let (app, _) = app_with_events(backend).await;
    let (status, text) = app.text("/v1/workspaces/acme/verify", app.key("acme", Role::Admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let verdict: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(verdict, serde_json::json!({"ok": true, "size": 100}));
    let (_, empty) = app.text("/v1/workspaces/beta/verify", common::OPERATOR, None).await;
    assert!(empty.contains("\"ok\":true"), "{empty}");
}

async fn long_verifications_report_progress(backend: Backend) {
    let app = TestApp::on(backend, &["acme"]).await;
    for round in 0..6 {
        app.ingest("acme", (0..1000).map(|n| event("ticket.created", "ticket", &format!("T-{round}-{n}"))).collect())
            .await;
    }
    let (_, text) = app.text("/v1/workspaces/acme/verify", app.key("acme", Role::Admin), None).await;
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(
        lines,
        [serde_json::json!({"checked": 5000, "size": 6000}), serde_json::json!({"ok": true, "size": 6000})]
    );
}

/// An export and the checkpoint of the tree size it was taken at, as an auditor
/// fetches them.
async fn export(app: &TestApp, token: &str, query: &str) -> (String, Checkpoint) {
    let (status, text) = app.text(&format!("/v1/workspaces/acme/export?format=ndjson{query}"), token, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let first: Value = serde_json::from_str(text.lines().next().expect("a line")).unwrap();
    let size = first["tree_size"].as_u64().unwrap();
    let (_, checkpoint) = checkpoint(app, token, &format!("?size={size}")).await;
    (text, checkpoint)
}

async fn exports_verify_offline_whole_or_filtered(backend: Backend) {
    let (app, _) = app_with_events(backend).await;
    let auditor = app.key("acme", Role::Auditor).to_string();
    let (full, at_100) = export(&app, &auditor, "").await;
    let report = verify_export(full.lines(), &at_100).expect("the full export verifies");
    assert_eq!((report.events, report.complete, at_100.size), (100, true, 100));

    // The export itself was recorded, after the events it exported.
    let (filtered, at_101) = export(&app, &auditor, "&action=user.*,audit_log.*").await;
    let report = verify_export(filtered.lines(), &at_101).expect("the filtered export verifies");
    assert_eq!((report.events, report.complete, at_101.size), (26, false, 101));
    let recorded: Value = serde_json::from_str(filtered.lines().last().unwrap()).unwrap();
    assert_eq!((recorded["action"].as_str(), recorded["seq"].as_u64()), (Some("audit_log.exported"), Some(100)));
    assert_eq!(
        (&recorded["metadata"]["rows"], &recorded["metadata"]["complete"]),
        (&serde_json::json!(100), &serde_json::json!(true))
    );
    assert_eq!(recorded["actor"]["type"], "api");

    // An admin who may not see the audit log gets a partial, proven export.
    let admin = app.key("acme", Role::Admin).to_string();
    let off = serde_json::json!({"audit_log_enabled": false});
    app.call(axum::http::Method::PUT, "/v1/workspaces/acme/settings", Some(&admin), Some(off)).await;
    let (activity, at_size) = export(&app, &admin, "").await;
    let report = verify_export(activity.lines(), &at_size).expect("the activity export verifies");
    assert_eq!((report.events, report.complete), (75, false));
    assert!(activity.lines().all(|line| line.contains("\"category\":\"activity\"")));
    let supervisor = app.key("acme", Role::Supervisor);
    let (status, _) = app.text("/v1/workspaces/acme/export?format=ndjson", supervisor, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "supervisors read but do not export");

    // Events that arrive after the export do not disturb it; a later checkpoint
    // names the size to fetch.
    app.ingest("acme", vec![event("ticket.created", "ticket", "T-late")]).await;
    assert!(verify_export(full.lines(), &at_100).is_ok());
    let (_, latest) = checkpoint(&app, &auditor, "").await;
    let mismatch = verify_export(full.lines(), &latest).unwrap_err();
    assert!(mismatch.message.contains("?size=100"), "{}", mismatch.message);

    // Editing an exported line is caught at its seq.
    let edited: Vec<String> = full
        .lines()
        .map(|line| if line.contains("\"seq\":42,") { line.replace("T-2-2", "T-9-9") } else { line.to_string() })
        .collect();
    assert_eq!(verify_export(&edited, &at_100).unwrap_err().seq, Some(42));
    // So is a member added to a line: the leaf covers every member but the
    // export's own, and `"v"` is the canonical form's, not the event's. And so is
    // a member named twice, whether the event's or the export's own.
    let added = ["\"note\":\"approved\",", "\"v\":1,"].map(|member| (7, member));
    let twice =
        ["\"action\":\"ticket.created\",", "\"tree_size\":100,", "\"leaf_hash\":\"AAAA\","].map(|member| (9, member));
    for (seq, member) in added.into_iter().chain(twice) {
        let at_seq = format!("\"seq\":{seq},");
        let extended: Vec<String> =
            full.lines()
                .map(|line| {
                    if line.contains(&at_seq) {
                        line.replacen('{', &format!("{{{member}"), 1)
                    } else {
                        line.to_string()
                    }
                })
                .collect();
        let finding = verify_export(&extended, &at_100).unwrap_err();
        assert_eq!((finding.seq, finding.problem), (Some(seq), Problem::Changed), "{member}: {}", finding.message);
    }
    // The same inside a line's commitments: an entry, or an entry's salt, named twice.
    let line_11 = full.lines().find(|line| line.contains("\"seq\":11,")).expect("a line at seq 11");
    let (before, entries) = line_11.split_once("\"commitments\":{").expect("commitments");
    let first_entry = &entries[..=entries.find('}').expect("an entry of the commitments")];
    let (entry_twice, salt_twice) = (
        format!("{before}\"commitments\":{{{first_entry},{entries}"),
        format!(
            "{before}\"commitments\":{{{}",
            entries.replacen("{\"commitment\"", "{\"salt\":\"AAAA\",\"commitment\"", 1)
        ),
    );
    for changed in [entry_twice, salt_twice] {
        let lines: Vec<&str> = full.lines().map(|line| if line == line_11 { changed.as_str() } else { line }).collect();
        let finding = verify_export(&lines, &at_100).unwrap_err();
        assert_eq!((finding.seq, finding.problem), (Some(11), Problem::Changed), "{changed}: {}", finding.message);
    }
    // The export may come in pieces of many lines, as `logbook verify` reads a
    // file: the verdict and the line numbers it gives are the same.
    let pieces: Vec<String> = full.lines().collect::<Vec<_>>().chunks(7).map(|lines| lines.join("\n") + "\n").collect();
    assert_eq!(verify_export(&pieces, &at_100), verify_export(full.lines(), &at_100));
    assert_eq!(verify_export([full.as_str()], &at_100), verify_export(full.lines(), &at_100));
    let mut with_garbage: Vec<&str> = full.lines().collect();
    with_garbage.insert(40, "");
    with_garbage.insert(50, "not json");
    let as_one_piece = with_garbage.join("\n");
    for finding in [verify_export(&with_garbage, &at_100), verify_export([as_one_piece], &at_100)] {
        let finding = finding.unwrap_err();
        assert!(finding.message.starts_with("line 51 is not an export line"), "{}", finding.message);
    }
    for query in ["format=xml", "", "format=ndjson&limit=5", "format=ndjson&cursor=x", "format=csv&group_by=day"] {
        let (status, _) = app.text(&format!("/v1/workspaces/acme/export?{query}"), &auditor, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
    }
}

/// PostgreSQL's key lets a `seq` be stored twice (a row copied behind
/// Logbook's back with another `received_at`). An export reads a chunk of 1000
/// `seq`s with a limit of 1000 rows, so the copy cuts the read short: the rows
/// after it must still be exported, each once, in order.
#[tokio::test]
async fn a_seq_stored_twice_on_postgresql_leaves_every_row_exported() {
    if !Backend::Postgres.available().await {
        return;
    }
    let app = TestApp::on(Backend::Postgres, &["acme"]).await;
    for batch in 0..2 {
        let events = (0..750).map(|n| event("ticket.created", "ticket", &format!("T-{batch}-{n}"))).collect();
        app.ingest("acme", events).await;
    }
    let url = app.database_url().expect("a database");
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("PostgreSQL answers");
    tokio::spawn(connection);
    let copied = client
        .execute(
            "INSERT INTO events SELECT workspace, seq, received_at + 1, id || '-copy', action, category, occurred_at,
                    actor_type, actor_id, target_type, target_id, outcome, ip, NULL, body, personal, leaf_hash,
                    search_text
             FROM events WHERE workspace = 'acme' AND seq = 500",
            &[],
        )
        .await
        .expect("tampering runs");
    assert_eq!(copied, 1);
    let (status, text) = app.text("/v1/workspaces/acme/export?format=ndjson", common::OPERATOR, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let exported: Vec<u64> =
        text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()["seq"].as_u64().unwrap()).collect();
    let mut expected: Vec<u64> = (0..1500).collect();
    expected.insert(500, 500);
    assert!(exported == expected, "each row once and the copy, in order: not {} rows", exported.len());
}

on_both_backends! {
    checkpoints_and_proofs_verify_with_the_published_key,
    readers_prove_only_what_they_may_see,
    the_server_verifies_an_intact_log,
    long_verifications_report_progress,
    exports_verify_offline_whole_or_filtered,
}
