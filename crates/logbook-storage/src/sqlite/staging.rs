//! Staged appends: small commits are acknowledged from tables without indexes,
//! and the writer moves their rows into the indexed tables a few thousand events
//! at a time.
//!
//! SQLite's write-ahead log holds whole pages. A commit of a few dozen single
//! events, each in a different place of every index (its actor, its record, its
//! action, its IP...), wrote about ten pages an event, and that was most of the
//! writer's time when many clients send one event each. A staged commit writes
//! the rows to `staged_*` tables (migration 0008), a few pages in all; the move
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
use tokio::sync::watch;

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

    /// The table of the daily counts.
    pub(crate) fn counts(self) -> &'static str {
        match self {
            Destination::Indexed => "event_counts",
            Destination::Staged => "staged_counts",
        }
    }
}

/// The columns of an event's row, in both of its tables.
pub(crate) const EVENT_COLUMNS: &str = "workspace, seq, id, action, category, occurred_at, actor_type, actor_id, \
     target_type, target_id, outcome, ip, idempotency_key, body, personal, leaf_hash, search_text";

/// The columns of a daily count, in both of its tables.
pub(crate) const COUNT_KEY: &str = "workspace, day, category, action, actor_type, target_type, outcome";

/// Moves every staged row into the indexed tables, inside the caller's
/// transaction, and says how many events it moved.
pub(crate) fn apply(connection: &Connection) -> Result<usize, StorageError> {
    let moved = connection
        .execute(
            &format!(
                "INSERT INTO events (rowid, {EVENT_COLUMNS})
                 SELECT rowid, {EVENT_COLUMNS} FROM staged_events ORDER BY rowid"
            ),
            [],
        )
        .map_err(backend)?;
    if moved == 0 {
        return Ok(0);
    }
    connection
        .execute_batch(&format!(
            "INSERT OR IGNORE INTO event_records (workspace, record_type, record_id, occurred_at, seq)
                 SELECT workspace, record_type, record_id, occurred_at, seq FROM staged_records;
             INSERT INTO event_changes (workspace, seq, position, field, from_value, to_value, occurred_at)
                 SELECT workspace, seq, position, field, from_value, to_value, occurred_at FROM staged_changes;
             INSERT INTO event_counts ({COUNT_KEY}, events)
                 SELECT {COUNT_KEY}, events FROM staged_counts WHERE true
                 ON CONFLICT ({COUNT_KEY}) DO UPDATE SET events = events + excluded.events;
             DELETE FROM staged_events;
             DELETE FROM staged_records;
             DELETE FROM staged_changes;
             DELETE FROM staged_counts;"
        ))
        .map_err(backend)?;
    Ok(moved)
}

/// How long a read waits for staged events to be moved before it gives up.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// Which staged commits have been moved into the indexed tables, so that a read
/// sees every event acknowledged before it began.
///
/// The writer counts its staged commits in `staged` before each commits (so
/// that no reader can see a staged event's `seq` without the count covering
/// it), and publishes in `indexed` the count it has moved.
pub(crate) struct Visibility {
    staged: AtomicU64,
    indexed: watch::Sender<u64>,
    waiting: AtomicUsize,
}

impl Visibility {
    pub(crate) fn new() -> Visibility {
        Visibility { staged: AtomicU64::new(0), indexed: watch::Sender::new(0), waiting: AtomicUsize::new(0) }
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

    /// Waits until every event acknowledged before this call is in the indexed
    /// tables.
    pub(crate) async fn wait_until_indexed(&self) -> Result<(), StorageError> {
        let needed = self.staged.load(Ordering::SeqCst);
        let mut indexed = self.indexed.subscribe();
        if *indexed.borrow() >= needed {
            return Ok(());
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let waited = tokio::time::timeout(LONGEST_WAIT, indexed.wait_for(|moved| *moved >= needed)).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
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
