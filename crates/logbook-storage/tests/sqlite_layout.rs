//! What only the embedded backend has: each workspace's events sit together in
//! the events table, in `seq` order, whatever order they arrived in, so that one
//! workspace's export or feed page reads neighbouring rows; and the tree nodes
//! an append completes sit together. (Everything else is in the conformance
//! suite, which runs on both backends.)

use logbook_core::integrity::Commitments;
use logbook_core::validate::{Limits, validate_event};
use logbook_core::{Catalog, Timestamp, WorkspaceCatalog};
use logbook_storage::sqlite::{DATABASE_FILE, SqliteStorage};
use logbook_storage::{NewEvent, NewWorkspace, Storage};

const NOW: Timestamp = Timestamp::from_millis(1_790_000_000_000);

/// A valid event about ticket `id`.
fn event(id: &str) -> NewEvent {
    let json = serde_json::json!({
        "action": "ticket.created", "actor": {"id": "U-1"}, "target": {"type": "ticket", "id": id},
        "occurred_at": NOW.plus_millis(-1000).to_string(),
    });
    let document = WorkspaceCatalog::default();
    let body = validate_event(&json, &Catalog::new(&document), NOW, &Limits::default()).expect("valid");
    let commitments = Commitments::commit(&body, || [1; 32]);
    NewEvent { id: id.into(), body, commitments }
}

/// Every row of two columns `sql` answers.
fn pairs<A: rusqlite::types::FromSql, B: rusqlite::types::FromSql>(
    connection: &rusqlite::Connection,
    sql: &str,
) -> Vec<(A, B)> {
    let mut statement = connection.prepare(sql).unwrap();
    statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_workspace_s_events_sit_together_in_seq_order() {
    let directory = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(directory.path()).expect("opens");
    for id in ["beta", "alpha"] {
        storage.create_workspace(NewWorkspace { id: id.into(), name: id.into(), created_at: NOW }).await.unwrap();
    }
    // Arrivals interleave the workspaces, a batch at a time.
    for round in 0..3 {
        for workspace in ["alpha", "beta"] {
            let batch = (0..2).map(|n| event(&format!("{workspace}-{round}-{n}"))).collect();
            storage.append(workspace, batch).await.unwrap();
        }
    }
    // Small appends are staged; a read waits until they are in the events table.
    assert_eq!(storage.stored_events("alpha", 0, 10).await.unwrap().len(), 6);
    let connection = rusqlite::Connection::open(directory.path().join(DATABASE_FILE)).unwrap();
    let stored: Vec<(String, i64)> = pairs(&connection, "SELECT workspace, seq FROM events ORDER BY rowid");
    // Workspaces are numbered in order of creation: beta first.
    let expected: Vec<(String, i64)> =
        ["beta", "alpha"].iter().flat_map(|workspace| (0..6).map(move |seq| (workspace.to_string(), seq))).collect();
    assert_eq!(stored, expected);

    // The tree nodes an append completes sit together, in the order the
    // appends completed them: each is keyed by the last leaf it covers.
    let nodes: Vec<(i64, i64)> =
        pairs(&connection, "SELECT last_leaf, level FROM tree_nodes WHERE workspace = 'alpha'");
    assert_eq!(nodes, [(0, 0), (1, 0), (1, 1), (2, 0), (3, 0), (3, 1), (3, 2), (4, 0), (5, 0), (5, 1)]);

    // Rowids must fit in 63 bits: past the last workspace number, creating one is
    // refused, and nothing is created.
    connection.execute("UPDATE workspaces SET number = 8388607 WHERE id = 'alpha'", []).unwrap();
    let refused =
        storage.create_workspace(NewWorkspace { id: "gamma".into(), name: "g".into(), created_at: NOW }).await;
    let message = refused.expect_err("no number is left").to_string();
    assert!(message.contains("at most 8388607 workspaces"), "{message}");
    assert!(storage.workspace("gamma").await.unwrap().is_none());
}
