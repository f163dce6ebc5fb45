//! Staged appends: once moved, they leave exactly the rows that the same appends
//! write to the indexed tables at once, and the events a stopped process staged
//! are indexed when the store is next opened.

use logbook_core::integrity::Commitments;
use logbook_core::validate::{Limits, validate_event};
use logbook_core::{Catalog, Category, EventFilter, EventQuery, GroupBy, Order, Timestamp, WorkspaceCatalog};
use logbook_workload::{Workload, WorkloadConfig};
use rusqlite::Connection;

use super::packing::Packer;
use super::staging::{self, Destination, Moved};
use super::{DATABASE_FILE, SqliteStorage, append_events};
use crate::{NewEvent, NewWorkspace, Storage};

const NOW: Timestamp = Timestamp::from_millis(1_790_000_000_000);

/// Realistic events (changes, related records, IPs) of one day, so that appends
/// add to the same daily counts, some with idempotency keys that repeat, so that
/// some appends answer with duplicates.
pub(super) fn events(count: usize) -> Vec<NewEvent> {
    let mut config = WorkloadConfig::new(7, NOW.plus_millis(-3_600_000), NOW);
    config.people = 6;
    config.records_per_type = 9;
    let document = WorkspaceCatalog::default();
    let catalog = Catalog::new(&document);
    Workload::new(config)
        .events(count)
        .into_iter()
        .enumerate()
        .map(|(number, value)| {
            let mut body = validate_event(&value, &catalog, NOW, &Limits::default()).expect("valid");
            if number % 5 == 0 {
                body.idempotency_key = Some(format!("key-{}", number % 15));
            }
            let commitments = Commitments::commit(&body, || [number as u8; 32]);
            NewEvent { id: format!("event-{number:05}"), body, commitments }
        })
        .collect()
}

/// A packer that never trains: in these tests' databases, which hold no
/// dictionary, it writes rows as text, which they compare (packed rows are read
/// back in `packing_tests.rs` and the conformance suite).
pub(super) fn text_only() -> Packer {
    Packer::new(usize::MAX)
}

/// A database with the schema and two workspaces, written through `connection`.
pub(super) fn database() -> Connection {
    let connection = Connection::open_in_memory().unwrap();
    super::migrations::migrate(&connection).unwrap();
    for (number, id) in [(1, "acme"), (2, "beta")] {
        connection
            .execute(
                "INSERT INTO workspaces (id, name, created_at, settings, catalog, number)
                 VALUES (?1, ?1, 0, '{}', '{}', ?2)",
                rusqlite::params![id, number],
            )
            .unwrap();
    }
    connection
}

/// Appends `events` to `workspace` in one transaction, their rows to `destination`.
pub(super) fn append(connection: &Connection, destination: Destination, workspace: &str, events: &[NewEvent]) {
    connection.execute_batch("BEGIN").unwrap();
    append_events(connection, &mut text_only(), destination, workspace, events).unwrap();
    connection.execute_batch("COMMIT").unwrap();
}

/// Every row of every table an append writes, rowids of events included.
fn dump(connection: &Connection) -> Vec<String> {
    let tables = [
        "SELECT rowid, * FROM events ORDER BY rowid",
        "SELECT * FROM event_records ORDER BY 1, 2, 3, 4, 5",
        "SELECT * FROM event_changes ORDER BY 1, 2, 3",
        "SELECT * FROM event_counts ORDER BY 1, 2, 3, 4, 5, 6, 7",
        "SELECT * FROM tree_nodes ORDER BY 1, 2, 3",
        "SELECT id, next_seq FROM workspaces ORDER BY id",
        "SELECT * FROM staged_events",
        "SELECT * FROM staged_records",
        "SELECT * FROM staged_changes",
        "SELECT * FROM staged_counts",
    ];
    let mut rows = Vec::new();
    for sql in tables {
        let mut statement = connection.prepare(sql).unwrap();
        let columns = statement.column_count();
        let found = statement
            .query_map([], |row| {
                let values: Vec<rusqlite::types::Value> =
                    (0..columns).map(|column| row.get(column)).collect::<Result<_, _>>()?;
                Ok(format!("{sql}: {values:?}"))
            })
            .unwrap();
        rows.extend(found.map(Result::unwrap));
    }
    rows
}

/// Appends the same batches to two databases, one with every append indexed at
/// once and one with each append written as `plan` says (`true`: staged), the
/// staged events moved after the appends `move_after` names and at the end; the
/// two must then hold the same rows, and no staged row.
fn check(batches: &[(&str, usize)], plan: &[bool], move_after: &[usize]) {
    let all = events(batches.iter().map(|(_, size)| size).sum());
    let (indexed, staged) = (database(), database());
    let mut start = 0;
    for (number, &(workspace, size)) in batches.iter().enumerate() {
        let batch = &all[start..start + size];
        start += size;
        append(&indexed, Destination::Indexed, workspace, batch);
        let destination = if plan[number] { Destination::Staged } else { Destination::Indexed };
        append(&staged, destination, workspace, batch);
        if move_after.contains(&number) {
            staging::apply(&staged).unwrap();
        }
    }
    staging::apply(&staged).unwrap();
    let (expected, found) = (dump(&indexed), dump(&staged));
    assert!(expected.iter().any(|row| row.contains("FROM event_changes")), "the events change fields");
    assert!(expected.iter().any(|row| row.contains("FROM event_records")), "the events concern records");
    let counted_more_than_once = expected
        .iter()
        .filter(|row| row.contains("FROM event_counts"))
        .any(|row| row.rsplit(", ").next().is_some_and(|count| count != "Integer(1)]"));
    assert!(counted_more_than_once, "appends add to the same daily counts");
    assert_eq!(found.len(), expected.len());
    for (found, expected) in found.iter().zip(&expected) {
        assert_eq!(found, expected);
    }
}

#[test]
fn staged_appends_once_moved_equal_appends_indexed_at_once() {
    let batches = [("acme", 1), ("acme", 70), ("beta", 30), ("acme", 40), ("beta", 1), ("acme", 120), ("beta", 250)];
    // Everything staged and moved at the end; staged and indexed appends
    // interleaved; and moves between appends.
    check(&batches, &[true; 7], &[]);
    check(&batches, &[true, false, true, false, true, true, false], &[]);
    check(&batches, &[true, true, false, true, true, false, true], &[1, 4]);
}

#[test]
fn a_duplicate_or_a_taken_id_is_found_among_staged_events() {
    let connection = database();
    let batch = events(10);
    append(&connection, Destination::Staged, "acme", &batch[..5]);
    // Event 0 has the idempotency key `key-0`; a retry in an indexed append
    // answers with the staged original.
    connection.execute_batch("BEGIN").unwrap();
    let retried = append_events(&connection, &mut text_only(), Destination::Indexed, "acme", &batch[..1]).unwrap();
    assert!(retried[0].duplicate && retried[0].seq == 0, "{retried:?}");
    // An id staged is taken for an indexed append, and the other way round.
    let mut taken = batch[6].clone();
    taken.id = batch[2].id.clone();
    let refused = append_events(&connection, &mut text_only(), Destination::Indexed, "acme", &[taken]);
    assert!(matches!(refused, Err(crate::StorageError::Conflict(_))), "{refused:?}");
    connection.execute_batch("COMMIT").unwrap();
    append(&connection, Destination::Indexed, "acme", &batch[5..7]);
    let mut taken = batch[8].clone();
    taken.id = batch[6].id.clone();
    connection.execute_batch("BEGIN").unwrap();
    let refused = append_events(&connection, &mut text_only(), Destination::Staged, "acme", &[taken]);
    assert!(matches!(refused, Err(crate::StorageError::Conflict(_))), "{refused:?}");
    connection.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_staged_event_whose_place_was_taken_behind_logbook_s_back_is_refused() {
    // A row for the next event put in by hand, at its rowid or with its `seq`:
    // the staged event could never be moved, so it is refused when staged.
    for (rowid, seq) in [("rowid + 1", "seq + 7"), ("rowid + 9", "seq + 1")] {
        let connection = database();
        let batch = events(2);
        append(&connection, Destination::Indexed, "acme", &batch[..1]);
        connection
            .execute_batch(&format!(
                "INSERT INTO events (rowid, workspace, seq, id, action, category, occurred_at, actor_type, actor_id,
                                     target_type, target_id, outcome, body, personal, leaf_hash, search_text)
                 SELECT {rowid}, workspace, {seq}, 'forged', action, category, occurred_at, actor_type, actor_id,
                        target_type, target_id, outcome, body, personal, leaf_hash, search_text FROM events"
            ))
            .unwrap();
        connection.execute_batch("BEGIN").unwrap();
        let refused = append_events(&connection, &mut text_only(), Destination::Staged, "acme", &batch[1..]);
        let message = refused.expect_err("the place is taken").to_string();
        assert!(message.contains("event 1 of acme cannot be stored"), "{message}");
        connection.execute_batch("ROLLBACK").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_staged_before_a_stop_are_indexed_at_the_next_open() {
    let directory = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(directory.path()).unwrap();
    storage.create_workspace(NewWorkspace { id: "acme".into(), name: "Acme".into(), created_at: NOW }).await.unwrap();
    drop(storage);
    // A process that staged these and stopped before moving them.
    let connection = Connection::open(directory.path().join(DATABASE_FILE)).unwrap();
    connection.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let batch = events(30);
    append(&connection, Destination::Staged, "acme", &batch);
    let staged: i64 = connection.query_row("SELECT count(*) FROM staged_events", [], |row| row.get(0)).unwrap();
    assert_eq!(staged, 27, "three of the thirty repeat an idempotency key");
    drop(connection);

    let reopened = SqliteStorage::open(directory.path()).unwrap();
    let stored = reopened.stored_events("acme", 0, 100).await.unwrap();
    assert_eq!(stored.len(), 27);
    assert!(stored.iter().enumerate().all(|(seq, event)| event.seq == seq as u64));
    let connection = Connection::open(directory.path().join(DATABASE_FILE)).unwrap();
    let staged: i64 = connection.query_row("SELECT count(*) FROM staged_events", [], |row| row.get(0)).unwrap();
    assert_eq!(staged, 0);
}

#[test]
fn an_event_whose_place_is_forged_after_it_was_staged_stays_staged_and_the_rest_move() {
    // Rows with event 2's rowid, put in by hand after it was staged: one under
    // another id and `seq`, and one that copies every column but the body.
    for (id, seq, body) in [("'forged'", "seq + 100", "body"), ("id", "seq", "'{}'")] {
        let (indexed, staged) = (database(), database());
        let batch = events(6);
        append(&indexed, Destination::Indexed, "acme", &batch);
        append(&staged, Destination::Staged, "acme", &batch);
        staged
            .execute_batch(&format!(
                "INSERT INTO events (rowid, workspace, seq, id, action, category, occurred_at, actor_type, actor_id,
                                     target_type, target_id, outcome, body, personal, leaf_hash, search_text)
                 SELECT event_rowid, workspace, {seq}, {id}, action, category, occurred_at, actor_type, actor_id,
                        target_type, target_id, outcome, {body}, personal, leaf_hash, search_text
                 FROM staged_events WHERE seq = 2"
            ))
            .unwrap();
        assert_eq!(staging::apply(&staged).unwrap(), Moved { events: 5, stuck: 1, changes_left_out: 0 });
        let left: Vec<i64> = staged
            .prepare("SELECT seq FROM staged_events UNION ALL SELECT DISTINCT seq FROM staged_changes")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!left.is_empty() && left.iter().all(|seq| *seq == 2), "{left:?}");
        // Once the forged row is gone, the next move takes it, and the store
        // holds what indexing every event at once would have.
        staged.execute_batch("DELETE FROM events WHERE rowid = (SELECT event_rowid FROM staged_events)").unwrap();
        assert_eq!(staging::apply(&staged).unwrap(), Moved { events: 1, stuck: 0, changes_left_out: 0 });
        assert_eq!(dump(&staged), dump(&indexed));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_of_events_sees_the_events_staged_before_it() {
    // Here the writer moves staged events only when a read waits for them (see
    // `INDEX_WHEN_IDLE_FOR`): each read must see the event appended just before.
    let directory = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(directory.path()).unwrap();
    storage.create_workspace(NewWorkspace { id: "acme".into(), name: "Acme".into(), created_at: NOW }).await.unwrap();
    let batch = events(5);
    let everything = EventFilter { categories: Category::ALL.to_vec(), ..EventFilter::default() };
    for (seq, event) in batch.iter().enumerate() {
        let appended = storage.append("acme", vec![event.clone()]).await.unwrap();
        assert_eq!(appended[0].seq, seq as u64);
        let seq = seq as u64;
        let seen = match seq {
            0 => {
                let query = EventQuery {
                    filter: everything.clone(),
                    order: Order::Desc,
                    limit: 10,
                    after: None,
                    max_seq: None,
                };
                storage.query("acme", &query).await.unwrap().iter().any(|found| found.seq == seq)
            }
            1 => {
                let counts = storage.stats("acme", &everything, seq, GroupBy::Day).await.unwrap();
                counts.iter().map(|(_, count)| count).sum::<u64>() == seq + 1
            }
            2 => storage.event("acme", &event.id).await.unwrap().is_some(),
            3 => storage.stored_events("acme", seq, 10).await.unwrap().len() == 1,
            _ => storage.commitments("acme", vec![seq]).await.unwrap().len() == 1,
        };
        assert!(seen, "read {seq} did not see the event appended before it");
    }
    // A staged append refused whole (its id is taken) stages nothing, and the
    // reads after it neither wait for it nor see it.
    let mut taken = events(6)[5].clone();
    taken.id = batch[0].id.clone();
    assert!(matches!(storage.append("acme", vec![taken]).await, Err(crate::StorageError::Conflict(_))));
    assert_eq!(storage.stored_events("acme", 0, 10).await.unwrap().len(), 5);
}
