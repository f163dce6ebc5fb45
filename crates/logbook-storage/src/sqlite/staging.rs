//! Staged appends: small commits are acknowledged from tables without indexes,
//! and the writer moves their rows into the indexed tables a few thousand events
//! at a time.
//!
//! SQLite's write-ahead log holds whole pages. A commit of a few dozen single
//! events, each in a different place of every index (its actor, its record, its
//! action, its IP...), wrote about ten pages an event, and that was most of the
//! writer's time when many clients send one event each. A staged commit writes
//! the rows to `staged_*` tables (migrations 0008 and 0009), which add rows at
//! their ends in the order they arrive (but for the index of idempotency keys),
//! a few pages in all; the move
//! ([`apply`]) then inserts a few thousand events into each index in one
//! statement, where they share pages.
//!
//! What does not change: a staged event is durable when acknowledged (it is
//! committed, with `synchronous = FULL`), and it has its `seq` and its tree
//! nodes, which are written at once either way, so checkpoints and proofs cover
//! it. Reads of events wait until every event acknowledged before they began
//! has been moved ([`Visibility::wait_until_indexed`]), so a client reads its own
//! writes. Staged rows left by a stop are moved when the store is next opened.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, watch};

use super::backend;
use crate::model::StorageError;

/// Where a commit writes its events' rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    /// The indexed tables: the events are searchable when acknowledged.
    Indexed,
    /// The `staged_*` tables, moved into the indexed ones later by [`apply`].
    Staged,
}

impl Destination {
    /// The other destination.
    pub(crate) fn other(self) -> Destination {
        match self {
            Destination::Indexed => Destination::Staged,
            Destination::Staged => Destination::Indexed,
        }
    }

    /// The table an event's row goes to.
    pub(crate) fn events(self) -> &'static str {
        match self {
            Destination::Indexed => "events",
            Destination::Staged => "staged_events",
        }
    }

    /// The table of the records an event concerns.
    pub(crate) fn records(self) -> &'static str {
        match self {
            Destination::Indexed => "event_records",
            Destination::Staged => "staged_records",
        }
    }

    /// The table of an event's changes.
    pub(crate) fn changes(self) -> &'static str {
        match self {
            Destination::Indexed => "event_changes",
            Destination::Staged => "staged_changes",
        }
    }

    /// The column of an event's row that holds its rowid in `events`: a staged
    /// row has a rowid of its own, in the order it arrived (migration 0009).
    pub(crate) fn event_rowid(self) -> &'static str {
        match self {
            Destination::Indexed => "rowid",
            Destination::Staged => "event_rowid",
        }
    }

    /// The statement that adds `?8` events to a daily count of `?1` to `?7`
    /// ([`COUNT_KEY`]): in place in `event_counts`, a row of its own in
    /// `staged_counts`, which [`apply`] sums.
    pub(crate) fn add_count_sql(self) -> String {
        match self {
            Destination::Indexed => format!(
                "INSERT INTO event_counts ({COUNT_KEY}, events) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT ({COUNT_KEY}) DO UPDATE SET events = events + excluded.events"
            ),
            Destination::Staged => {
                format!("INSERT INTO staged_counts ({COUNT_KEY}, events) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            }
        }
    }
}

/// The columns of an event's row, in both of its tables.
pub(crate) const EVENT_COLUMNS: &str = "workspace, seq, id, action, category, occurred_at, actor_type, actor_id, \
     target_type, target_id, outcome, ip, idempotency_key, body, personal, leaf_hash, search_text, packed";

/// The columns of a daily count, in both of its tables.
pub(crate) const COUNT_KEY: &str = "workspace, day, category, action, actor_type, target_type, outcome";

/// What one move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moved {
    /// Events now in the indexed tables.
    pub(crate) events: usize,
    /// Events left staged because a row Logbook did not write holds their
    /// place (rowid, `seq`, id or idempotency key) in `events`.
    pub(crate) stuck: usize,
    /// Change rows of moved events left out because a row Logbook did not
    /// write holds their place in `event_changes`.
    pub(crate) changes_left_out: usize,
}

/// Moves the staged rows into the indexed tables, inside the caller's
/// transaction.
///
/// An event whose place in `events` was taken by a row put there behind
/// Logbook's back after it was staged cannot be moved; it stays staged, with its
/// record and change rows, and is tried again at every move, and the rest move
/// on. Verification then names that `seq` (the forged row's, or a missing
/// one). Its daily counts
/// move anyway, since it is stored and acknowledged.
pub(crate) fn apply(connection: &Connection) -> Result<Moved, StorageError> {
    let count = |table: &str| -> Result<usize, StorageError> {
        connection.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0)).map_err(backend)
    };
    let staged = count("staged_events")?;
    if staged == 0 {
        return Ok(Moved { events: 0, stuck: 0, changes_left_out: 0 });
    }
    let events = connection
        .execute(
            &format!(
                "INSERT OR IGNORE INTO events (rowid, {EVENT_COLUMNS})
                 SELECT event_rowid, {EVENT_COLUMNS} FROM staged_events ORDER BY event_rowid"
            ),
            [],
        )
        .map_err(backend)?;
    if events == staged {
        // Every staged event found its place: the common case, in bulk.
        connection.execute_batch("DELETE FROM staged_events").map_err(backend)?;
    } else {
        // Only the rows now in `events` exactly as staged leave staging: a forged
        // row that copies some of a staged event's columns does not make it
        // leave. Then only the stuck events are left in `staged_events`, so the
        // scans of it below are short.
        let same: Vec<String> = EVENT_COLUMNS.split(", ").map(|column| format!("e.{column} IS s.{column}")).collect();
        connection
            .execute(
                &format!(
                    "DELETE FROM staged_events WHERE rowid IN (
                         SELECT s.rowid FROM staged_events s JOIN events e ON e.rowid = s.event_rowid AND {})",
                    same.join(" AND ")
                ),
                [],
            )
            .map_err(backend)?;
    }
    // The record and change rows of the events that moved (all of them, when no
    // event is stuck).
    let moved_event = |table: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM staged_events s WHERE s.workspace = {table}.workspace AND s.seq = {table}.seq)"
        )
    };
    let changes_staged = count("staged_changes")?;
    let changes = connection
        .execute(
            &format!(
                "INSERT OR IGNORE INTO event_changes (workspace, seq, position, field, from_value, to_value, occurred_at)
                 SELECT workspace, seq, position, field, from_value, to_value, occurred_at FROM staged_changes
                 WHERE {}",
                moved_event("staged_changes")
            ),
            [],
        )
        .map_err(backend)?;
    connection
        .execute_batch(&format!(
            "INSERT OR IGNORE INTO event_records (workspace, record_type, record_id, occurred_at, seq)
                 SELECT workspace, record_type, record_id, occurred_at, seq FROM staged_records WHERE {records};
             DELETE FROM staged_records WHERE {records};
             DELETE FROM staged_changes WHERE {changes};
             INSERT INTO event_counts ({COUNT_KEY}, events)
                 SELECT {COUNT_KEY}, sum(events) FROM staged_counts WHERE true GROUP BY {COUNT_KEY}
                 ON CONFLICT ({COUNT_KEY}) DO UPDATE SET events = events + excluded.events;
             DELETE FROM staged_counts;",
            records = moved_event("staged_records"),
            changes = moved_event("staged_changes"),
        ))
        .map_err(backend)?;
    let changes_left = count("staged_changes")?;
    Ok(Moved { events, stuck: staged - events, changes_left_out: changes_staged - changes_left - changes })
}

/// [`apply`] in a transaction of its own, logging what it had to leave staged
/// or out.
pub(crate) fn move_staged(connection: &Connection) -> Result<Moved, StorageError> {
    connection.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let moved = apply(connection).and_then(|moved| connection.execute_batch("COMMIT").map(|()| moved).map_err(backend));
    match moved {
        Ok(moved) => report_stuck(moved),
        Err(_) => {
            let _ = connection.execute_batch("ROLLBACK");
        }
    }
    moved
}

/// Logs the events a move had to leave staged, and the change rows it left out.
fn report_stuck(moved: Moved) {
    if moved.changes_left_out > 0 {
        tracing::error!(
            left_out = moved.changes_left_out,
            "change rows of staged events were not indexed: rows that Logbook did not write hold their place"
        );
    }
    if moved.stuck > 0 {
        tracing::error!(
            stuck = moved.stuck,
            "staged events cannot be indexed: rows that Logbook did not write hold their place in the events \
             table; verify the workspaces"
        );
    }
}

/// How long a read waits for staged events to be moved before it gives up.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// Which staged commits have been moved into the indexed tables, so that a read
/// sees every event acknowledged before it began.
///
/// The writer counts its staged commits in `staged` before each commits (so
/// that no reader can see a staged event's `seq` without the count covering
/// it), and publishes in `indexed` the count covered by its last move (a commit
/// that failed staged nothing, and counts as moved). A reader that has to
/// wait wakes the writer, which moves the staged events after its current
/// commit, or at once if it is waiting for a job.
pub(crate) struct Visibility {
    staged: AtomicU64,
    indexed: watch::Sender<u64>,
    waiting: AtomicUsize,
    wake_writer: Notify,
}

impl Visibility {
    pub(crate) fn new() -> Visibility {
        Visibility {
            staged: AtomicU64::new(0),
            indexed: watch::Sender::new(0),
            waiting: AtomicUsize::new(0),
            wake_writer: Notify::new(),
        }
    }

    /// Called by the writer before it commits a staged append.
    pub(crate) fn staging(&self) {
        self.staged.fetch_add(1, Ordering::SeqCst);
    }

    /// Called by the writer once every staged commit so far has been moved.
    pub(crate) fn indexed(&self) {
        self.indexed.send_replace(self.staged.load(Ordering::SeqCst));
    }

    /// Whether a read is waiting for staged events to be moved.
    pub(crate) fn readers_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Completes when a read has begun to wait (or had, since the last call).
    pub(crate) async fn reader_waits(&self) {
        self.wake_writer.notified().await;
    }

    /// Waits until every event acknowledged before this call is in the indexed
    /// tables.
    pub(crate) async fn wait_until_indexed(&self) -> Result<(), StorageError> {
        let needed = self.staged.load(Ordering::SeqCst);
        let mut indexed = self.indexed.subscribe();
        if *indexed.borrow() >= needed {
            return Ok(());
        }
        let _waiting = Waiting::begin(self);
        let waited = tokio::time::timeout(LONGEST_WAIT, indexed.wait_for(|moved| *moved >= needed)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(StorageError::Unavailable("the writer has stopped".into())),
            Err(_) => Err(StorageError::Unavailable(format!(
                "the newest events are still being indexed after {} seconds; retry",
                LONGEST_WAIT.as_secs()
            ))),
        }
    }
}

/// A read counted as waiting until it stops waiting, however it stops (a read
/// whose request is dropped stops mid-wait).
struct Waiting<'a> {
    visibility: &'a Visibility,
}

impl<'a> Waiting<'a> {
    fn begin(visibility: &'a Visibility) -> Waiting<'a> {
        visibility.waiting.fetch_add(1, Ordering::SeqCst);
        visibility.wake_writer.notify_one();
        Waiting { visibility }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.visibility.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}
