//! The embedded backend's schema changes, applied in order when the database is
//! opened; `PRAGMA user_version` counts those applied. A migration is a SQL
//! script, and sometimes a Rust step that fills in what SQL cannot compute (such
//! as a column derived from the stored events), run in the same transaction.

use logbook_core::EventBody;
use logbook_core::search::search_text;
use logbook_tlog::tree::NodeId;
use rusqlite::{Connection, OptionalExtension, params};

use super::{backend, corrupt};
use crate::model::StorageError;

/// A Rust step of a migration, run after its script in the same transaction.
type Fill = fn(&Connection) -> Result<(), StorageError>;

/// One schema change.
struct Migration {
    script: &'static str,
    fill: Option<Fill>,
}

/// The migrations, in order.
const MIGRATIONS: [Migration; 11] = [
    Migration { script: include_str!("migrations/0001_initial.sql"), fill: None },
    Migration { script: include_str!("migrations/0002_search_text.sql"), fill: Some(fill_search_text) },
    Migration { script: include_str!("migrations/0003_events_by_category.sql"), fill: None },
    Migration { script: include_str!("migrations/0004_no_word_index.sql"), fill: None },
    Migration { script: include_str!("migrations/0005_events_by_workspace.sql"), fill: None },
    Migration { script: include_str!("migrations/0006_event_counts_and_failures.sql"), fill: None },
    Migration { script: include_str!("migrations/0007_changes_by_value.sql"), fill: None },
    Migration { script: include_str!("migrations/0008_staged_appends.sql"), fill: None },
    Migration { script: include_str!("migrations/0009_staged_in_arrival_order.sql"), fill: None },
    Migration {
        script: include_str!("migrations/0010_tree_nodes_by_last_leaf.sql"),
        fill: Some(fill_tree_nodes_by_last_leaf),
    },
    Migration { script: include_str!("migrations/0011_packed_events.sql"), fill: None },
];

/// The first schema version whose staged tables `staging::apply` reads
/// (migration 0011, which adds `packed` to them; 0009 and 0011 carry over the
/// rows the tables before them hold).
const STAGING_SINCE: usize = 11;

/// Applies the migrations the database has not had, each in one transaction.
pub(super) fn migrate(connection: &Connection) -> Result<(), StorageError> {
    let applied: usize = connection.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(backend)?;
    if applied > MIGRATIONS.len() {
        return Err(StorageError::Backend(format!(
            "the database has schema version {applied}, newer than this Logbook knows ({}); upgrade Logbook",
            MIGRATIONS.len()
        )));
    }
    if applied >= STAGING_SINCE && applied < MIGRATIONS.len() {
        // A later migration finds the events in the indexed tables (but any
        // stuck behind a forged row). This runs the current `staging::apply`
        // over the schema before the migration: a migration that changes the
        // tables it reads must move the staged rows in its own script, or carry
        // them over to its new tables and raise `STAGING_SINCE` (as 0009 did;
        // they are then moved at open, after the migrations).
        super::index_left_staged(connection)?;
    }
    for (number, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        connection.execute_batch("BEGIN").map_err(backend)?;
        let outcome = apply(connection, migration, number + 1);
        let end = if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" };
        connection.execute_batch(end).map_err(backend)?;
        outcome?;
    }
    Ok(())
}

fn apply(connection: &Connection, migration: &Migration, version: usize) -> Result<(), StorageError> {
    connection.execute_batch(migration.script).map_err(backend)?;
    if let Some(fill) = migration.fill {
        fill(connection)?;
    }
    connection.execute_batch(&format!("PRAGMA user_version = {version}")).map_err(backend)
}

/// Computes `search_text` for the events stored before the column existed.
fn fill_search_text(connection: &Connection) -> Result<(), StorageError> {
    let mut select = connection.prepare("SELECT workspace, seq, body FROM events").map_err(backend)?;
    let mut update =
        connection.prepare("UPDATE events SET search_text = ?3 WHERE workspace = ?1 AND seq = ?2").map_err(backend)?;
    let mut rows = select.query([]).map_err(backend)?;
    while let Some(row) = rows.next().map_err(backend)? {
        let workspace: String = row.get(0).map_err(backend)?;
        let seq: i64 = row.get(1).map_err(backend)?;
        let body: String = row.get(2).map_err(backend)?;
        let body: EventBody = serde_json::from_str(&body).map_err(|error| corrupt(&format!("event {seq}"), error))?;
        update.execute(params![workspace, seq, search_text(&body)]).map_err(backend)?;
    }
    Ok(())
}

/// The highest tree level a workspace's log can reach: it holds at most
/// `SEQS_PER_WORKSPACE` (2^40) events.
const MAX_TREE_LEVEL: i64 = super::SEQS_PER_WORKSPACE.trailing_zeros() as i64;

/// Copies the tree nodes into migration 0010's table in its key order, then
/// gives that table the name `tree_nodes`. A workspace at a time, its levels are
/// read side by side in `idx` order, which is each level's `last_leaf` order, and
/// merged: no sort, one row per level in memory, and each page of the new table
/// written once. Only nodes a log can hold are copied (see the script).
fn fill_tree_nodes_by_last_leaf(connection: &Connection) -> Result<(), StorageError> {
    let mut next_workspace = connection
        .prepare("SELECT workspace FROM tree_nodes WHERE workspace > ?1 ORDER BY workspace LIMIT 1")
        .map_err(backend)?;
    let mut insert = connection
        .prepare("INSERT INTO tree_nodes_by_last_leaf (workspace, last_leaf, level, hash) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?;
    // One statement per level, each read alongside the others.
    let mut levels = (0..=MAX_TREE_LEVEL)
        .map(|_| {
            connection.prepare(
                "SELECT idx, hash FROM tree_nodes
                 WHERE workspace = ?1 AND level = ?2 AND idx >= 0 AND idx < (1 << (?3 - level)) ORDER BY idx",
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let mut workspace = String::new();
    while let Some(next) =
        next_workspace.query_row([&workspace], |row| row.get::<_, String>(0)).optional().map_err(backend)?
    {
        workspace = next;
        let mut streams = Vec::with_capacity(levels.len());
        for (level, statement) in levels.iter_mut().enumerate() {
            streams.push(statement.query(params![workspace, level as i64, MAX_TREE_LEVEL]).map_err(backend)?);
        }
        // Each level's next node, by its new key (the query keeps `idx` and
        // `level` within a log's bounds).
        let read = |level: usize, rows: &mut rusqlite::Rows<'_>| -> Result<Option<(i64, Vec<u8>)>, StorageError> {
            match rows.next().map_err(backend)? {
                Some(row) => {
                    let index: i64 = row.get(0).map_err(backend)?;
                    let node = NodeId::new(level as u8, index as u64);
                    Ok(Some((super::last_leaf_key(node), row.get(1).map_err(backend)?)))
                }
                None => Ok(None),
            }
        };
        let mut heads =
            streams.iter_mut().enumerate().map(|(level, rows)| read(level, rows)).collect::<Result<Vec<_>, _>>()?;
        // The next node in key order: the least last leaf, and of those the
        // lowest level (the leaf comes before the subtrees it closes).
        while let Some(level) = (0..heads.len())
            .filter(|&level| heads[level].is_some())
            .min_by_key(|&level| heads[level].as_ref().map(|(last_leaf, _)| *last_leaf))
        {
            let (last_leaf, hash) = heads[level].take().expect("the chosen level has a node");
            insert.execute(params![workspace, last_leaf, level as i64, hash]).map_err(backend)?;
            heads[level] = read(level, &mut streams[level])?;
        }
    }
    connection
        .execute_batch("DROP TABLE tree_nodes; ALTER TABLE tree_nodes_by_last_leaf RENAME TO tree_nodes;")
        .map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database made by the first schema gets its events' search text when
    /// opened by this version.
    #[test]
    fn search_text_is_filled_for_older_databases() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(MIGRATIONS[0].script).unwrap();
        connection.execute_batch("PRAGMA user_version = 1").unwrap();
        let body = serde_json::json!({
            "action": "ticket.created", "category": "activity", "occurred_at": "2026-01-31T12:00:00.000Z",
            "actor": {"type": "user", "id": "u1", "name": "Ana Lee"}, "target": {"type": "ticket", "id": "T-1"},
            "related": [], "changes": [], "outcome": "success", "context": {}, "metadata": {},
            "received_at": "2026-01-31T12:00:00.000Z"
        });
        connection
            .execute(
                "INSERT INTO events (workspace, seq, id, action, category, occurred_at, actor_type, actor_id,
                    target_type, target_id, outcome, body, personal, leaf_hash)
                 VALUES ('w', 0, 'e', 'ticket.created', 'activity', 0, 'user', 'u1', 'ticket', 'T-1', 'success', ?1, '{}', x'00')",
                [body.to_string()],
            )
            .unwrap();
        migrate(&connection).unwrap();
        let text: String = connection.query_row("SELECT search_text FROM events", [], |row| row.get(0)).unwrap();
        assert!(text.contains(" ana lee "), "{text:?}");
        let version: usize = connection.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len());
    }

    /// An in-memory database with the first `version` migrations applied.
    fn database_at(version: usize) -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        for (index, migration) in MIGRATIONS[..version].iter().enumerate() {
            apply(&connection, migration, index + 1).unwrap();
        }
        connection
    }

    /// Every row `sql` answers, each read by `read`.
    fn rows<T>(
        connection: &Connection,
        sql: &str,
        read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        connection.prepare(sql).unwrap().query_map([], read).unwrap().map(Result::unwrap).collect()
    }

    /// A store whose events were stored in arrival order gets them grouped by
    /// workspace, in `seq` order, each row whole, and keeps every index.
    /// (Appends afterwards are checked through the storage, in
    /// `tests/sqlite_layout.rs`.)
    #[test]
    fn events_are_regrouped_by_workspace() {
        let connection = database_at(4);
        for workspace in ["b", "a"] {
            connection
                .execute(
                    "INSERT INTO workspaces (id, name, created_at, settings, catalog) VALUES (?1, ?1, 0, '{}', '{}')",
                    [workspace],
                )
                .unwrap();
        }
        // Arrival order interleaves the two workspaces.
        for (workspace, seq) in [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2)] {
            connection
                .execute(
                    "INSERT INTO events (workspace, seq, id, action, category, occurred_at, actor_type, actor_id,
                        target_type, target_id, outcome, body, personal, leaf_hash, search_text)
                     VALUES (?1, ?2, ?1 || ?2, 'x.y', 'activity', ?2, 'user', 'u', 't', 'T', 'success', '{}', '{}',
                             x'00', ' text')",
                    params![workspace, seq],
                )
                .unwrap();
        }
        migrate(&connection).unwrap();
        let rows: Vec<(i64, String, i64, String, String)> =
            rows(&connection, "SELECT rowid, workspace, seq, id, search_text FROM events ORDER BY rowid", |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
            });
        let expected = [(1, "a", 0), (1, "a", 1), (1, "a", 2), (2, "b", 0), (2, "b", 1)];
        assert_eq!(rows.len(), expected.len());
        for (row, (number, workspace, seq)) in rows.iter().zip(expected) {
            assert_eq!(
                (row.0, row.1.as_str(), row.2, row.3.clone(), row.4.as_str()),
                (super::super::rowid_of(number, seq), workspace, seq, format!("{workspace}{seq}"), " text")
            );
        }
        let indexes: i64 = connection
            .query_row("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(indexes, 10, "the primary key, the eight indexes of 0001 and 0003, and 0006's of failures");
    }

    /// Workspace `a`, number 1, as the schema of migration 0005 and later holds it.
    fn insert_workspace_a(connection: &Connection) {
        connection
            .execute("INSERT INTO workspaces (id, name, created_at, settings, catalog, number) VALUES ('a', 'a', 0, '{}', '{}', 1)", [])
            .unwrap();
    }

    /// An event of workspace `a` with only what the migrations read.
    fn insert_event_of_a(connection: &Connection, seq: i64, occurred_at: i64, action: &str) {
        connection
            .execute(
                "INSERT INTO events (rowid, workspace, seq, id, action, category, occurred_at, actor_type, actor_id,
                    target_type, target_id, outcome, body, personal, leaf_hash, search_text)
                 VALUES (?1, 'a', ?2, ?2, ?3, 'activity', ?4, 'user', 'u', 't', 'T', 'success', '{}', '{}', x'00', '')",
                params![super::super::rowid_of(1, seq), seq, action, occurred_at],
            )
            .unwrap();
    }

    /// A store's existing events are counted per day when the daily counts
    /// arrive, days before 1970 included.
    #[test]
    fn existing_events_are_counted_per_day() {
        let connection = database_at(5);
        insert_workspace_a(&connection);
        let day = 86_400_000;
        for (seq, occurred_at, action) in
            [(0, 5, "x.a"), (1, day - 1, "x.a"), (2, day, "x.a"), (3, 10, "x.b"), (4, -1, "x.a"), (5, -day, "x.a")]
        {
            insert_event_of_a(&connection, seq, occurred_at, action);
        }
        migrate(&connection).unwrap();
        let counts: Vec<(i64, String, i64)> =
            rows(&connection, "SELECT day, action, events FROM event_counts ORDER BY day, action", |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            });
        let expected = [(-1, "x.a", 2), (0, "x.a", 2), (0, "x.b", 1), (1, "x.a", 1)];
        assert_eq!(counts, expected.map(|(day, action, events)| (day, action.to_string(), events)));
    }

    /// Changes already stored take their event's time when the index of changes
    /// by value arrives (0 for a change whose event is gone).
    #[test]
    fn existing_changes_take_their_events_time() {
        let connection = database_at(6);
        insert_workspace_a(&connection);
        for (seq, occurred_at) in [(0, 5), (1, -7)] {
            insert_event_of_a(&connection, seq, occurred_at, "x.a");
        }
        // Two changes of event 0, one of event 1, and one whose event is gone.
        for (seq, position) in [(0, 0), (0, 1), (1, 0), (2, 0)] {
            connection
                .execute(
                    "INSERT INTO event_changes (workspace, seq, position, field, from_value, to_value)
                     VALUES ('a', ?1, ?2, 'status', 'open', 'solved')",
                    params![seq, position],
                )
                .unwrap();
        }
        migrate(&connection).unwrap();
        let times: Vec<(i64, i64)> =
            rows(&connection, "SELECT seq, occurred_at FROM event_changes ORDER BY seq, position", |row| {
                Ok((row.get(0)?, row.get(1)?))
            });
        assert_eq!(times, [(0, 5), (0, 5), (1, -7), (2, 0)]);
    }

    /// Rows staged under 0008's tables are carried over to 0009's, which add
    /// rows in arrival order, and are then moved where 0008 would have put them.
    #[test]
    fn rows_staged_before_arrival_order_are_carried_over() {
        let connection = database_at(8);
        insert_workspace_a(&connection);
        // Event 1 of `a` staged at its rowid under 0008, before event 0 arrived
        // in the table, with a record, a change and a daily count.
        let staged_rowid = super::super::rowid_of(1, 1);
        connection
            .execute_batch(&format!(
                "INSERT INTO staged_events (rowid, workspace, seq, id, action, category, occurred_at, actor_type,
                    actor_id, target_type, target_id, outcome, body, personal, leaf_hash, search_text)
                 VALUES ({staged_rowid}, 'a', 1, 'e1', 'x.a', 'activity', 5, 'user', 'u', 't', 'T', 'success', '{{}}',
                    '{{}}', x'01', '');
                 INSERT INTO staged_records VALUES ('a', 't', 'T', 5, 1);
                 INSERT INTO staged_changes VALUES ('a', 1, 0, 'status', 'open', 'solved', 5);
                 INSERT INTO staged_counts VALUES ('a', 0, 'activity', 'x.a', 'user', 't', 'success', 1);"
            ))
            .unwrap();
        insert_event_of_a(&connection, 0, 5, "x.a");
        migrate(&connection).unwrap();
        let staged: Vec<(i64, String)> =
            rows(&connection, "SELECT event_rowid, id FROM staged_events", |row| Ok((row.get(0)?, row.get(1)?)));
        assert_eq!(staged, [(staged_rowid, "e1".to_string())]);
        let moved = super::super::staging::apply(&connection).unwrap();
        assert_eq!((moved.events, moved.stuck, moved.changes_left_out), (1, 0, 0));
        let events: Vec<(i64, i64)> =
            rows(&connection, "SELECT rowid, seq FROM events ORDER BY rowid", |row| Ok((row.get(0)?, row.get(1)?)));
        assert_eq!(events, [(super::super::rowid_of(1, 0), 0), (staged_rowid, 1)]);
        let moved_rows: Vec<i64> = rows(
            &connection,
            "SELECT count(*) FROM event_records UNION ALL SELECT count(*) FROM event_changes
             UNION ALL SELECT sum(events) FROM event_counts",
            |row| row.get(0),
        );
        assert_eq!(moved_rows, [1, 1, 1]);
        let left: i64 = connection
            .query_row(
                "SELECT (SELECT count(*) FROM staged_events) + (SELECT count(*) FROM staged_records)
                      + (SELECT count(*) FROM staged_changes) + (SELECT count(*) FROM staged_counts)",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }

    /// Tree nodes stored by level and index are found at the same place after
    /// they are keyed by their last leaf, and sit in the order appends
    /// completed them; a row no log can hold is left behind.
    #[test]
    fn tree_nodes_are_keyed_by_their_last_leaf() {
        let connection = database_at(9);
        // The nodes of a log of five leaves, in the old key's order, and two rows
        // past any log.
        let nodes = [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (2, 0)];
        for (level, index) in nodes {
            connection
                .execute(
                    "INSERT INTO tree_nodes (workspace, level, idx, hash) VALUES ('a', ?1, ?2, ?3)",
                    params![level, index, format!("{level}/{index}").into_bytes()],
                )
                .unwrap();
        }
        connection
            .execute("INSERT INTO tree_nodes (workspace, level, idx, hash) VALUES ('a', 41, 0, x'00')", [])
            .unwrap();
        connection
            .execute("INSERT INTO tree_nodes (workspace, level, idx, hash) VALUES ('a', 30, 1048576, x'00')", [])
            .unwrap();
        migrate(&connection).unwrap();
        let stored: Vec<(i64, i64, String)> =
            rows(&connection, "SELECT last_leaf, level, CAST(hash AS TEXT) FROM tree_nodes", |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            });
        let expected = [(0, 0, "0/0"), (1, 0, "0/1"), (1, 1, "1/0"), (2, 0, "0/2"), (3, 0, "0/3"), (3, 1, "1/1")];
        let expected = expected.iter().chain(&[(3, 2, "2/0"), (4, 0, "0/4")]);
        assert_eq!(stored, expected.map(|&(leaf, level, hash)| (leaf, level, hash.to_string())).collect::<Vec<_>>());
        for (level, index) in nodes {
            let node = NodeId::new(level, index);
            let hash: Vec<u8> = connection
                .query_row(
                    "SELECT hash FROM tree_nodes WHERE workspace = 'a' AND last_leaf = ?1 AND level = ?2",
                    params![super::super::last_leaf_key(node), level],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(hash, format!("{level}/{index}").into_bytes());
        }
    }

    /// The copy writes the nodes in the new key's order, workspace by workspace,
    /// so that no sort is needed and each page is written once; the nodes at the
    /// edge of a log's largest size are kept, those past it are not.
    #[test]
    fn tree_nodes_are_copied_in_key_order() {
        let connection = database_at(9);
        let last = (1_i64 << 40) - 1;
        let nodes = [
            ("b", 0, 0),
            ("b", 0, 1),
            ("b", 1, 0),
            ("a", 2, 0),
            ("a", 0, 3),
            ("a", 1, 1),
            ("a", 0, 0),
            ("a", 1, 0),
            ("a", 0, 2),
            ("a", 0, 1),
            ("a", 0, last),
            ("a", 40, 0),
            ("a", 0, last + 1),
            ("a", 40, 1),
            ("a", 0, -1),
            ("a", -1, 0),
        ];
        for (workspace, level, index) in nodes {
            connection
                .execute(
                    "INSERT INTO tree_nodes (workspace, level, idx, hash) VALUES (?1, ?2, ?3, x'00')",
                    params![workspace, level, index],
                )
                .unwrap();
        }
        connection.execute_batch(MIGRATIONS[9].script).unwrap();
        connection
            .execute_batch(
                "CREATE TEMP TABLE copied (workspace TEXT, last_leaf INTEGER, level INTEGER);
                 CREATE TEMP TRIGGER copying AFTER INSERT ON main.tree_nodes_by_last_leaf BEGIN
                     INSERT INTO copied VALUES (new.workspace, new.last_leaf, new.level);
                 END;",
            )
            .unwrap();
        fill_tree_nodes_by_last_leaf(&connection).unwrap();
        let copied: Vec<(String, i64, i64)> =
            rows(&connection, "SELECT workspace, last_leaf, level FROM copied ORDER BY rowid", |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            });
        let of_a = [("a", 0, 0), ("a", 1, 0), ("a", 1, 1), ("a", 2, 0), ("a", 3, 0), ("a", 3, 1), ("a", 3, 2)];
        let of_a_at_the_edge = [("a", last, 0), ("a", last, 40)];
        let of_b = [("b", 0, 0), ("b", 1, 0), ("b", 1, 1)];
        let expected: Vec<(String, i64, i64)> = of_a
            .iter()
            .chain(&of_a_at_the_edge)
            .chain(&of_b)
            .map(|&(workspace, leaf, level)| (workspace.to_string(), leaf, level))
            .collect();
        assert_eq!(copied, expected);
        let stored: Vec<(String, i64, i64)> =
            rows(&connection, "SELECT workspace, last_leaf, level FROM tree_nodes", |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            });
        assert_eq!(stored, expected);
    }
}
