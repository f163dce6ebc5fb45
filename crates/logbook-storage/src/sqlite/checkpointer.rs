//! The checkpointer: a thread with its own connection that copies committed
//! pages from the write-ahead log into the database file, so that the writer
//! does not do it inside a commit.
//!
//! SQLite would otherwise checkpoint on the committing connection every 1000
//! pages, which took about a seventh of the writer's time under load. Here the
//! writer disables that (`wal_autocheckpoint = 0`), learns the log's size from
//! SQLite's WAL hook after each commit ([`WalSize`]), and nudges this thread
//! every [`NUDGE_EVERY_FRAMES`] new pages. A passive checkpoint never blocks the
//! writer or readers.
//!
//! Under steady load the log may never be wholly copied at the moment a commit
//! starts, and SQLite only rewinds it then. So once it holds
//! [`MAX_WAL_FRAMES`] pages, the writer itself runs a restarting checkpoint
//! between two commits (little is left to copy by then), which keeps the log's
//! size bounded.

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use super::backend;
use crate::model::StorageError;

/// The log's size, in pages, at which the writer rewinds it (4 KiB pages:
/// 64 MiB; the file is then cut back to that size by `journal_size_limit`).
pub(crate) const MAX_WAL_FRAMES: i32 = 16_384;

/// How many new pages in the log make the writer nudge the checkpointer.
pub(crate) const NUDGE_EVERY_FRAMES: i32 = 1_000;

/// How often the checkpointer runs when nothing nudges it.
const IDLE_INTERVAL: Duration = Duration::from_secs(1);

/// The handle the writer nudges after each commit.
pub(crate) struct Checkpointer {
    nudge: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Opens a connection to `path` and starts the thread.
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, StorageError> {
        let connection = Connection::open(path).map_err(backend)?;
        connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;").map_err(backend)?;
        let (nudge, nudges) = mpsc::sync_channel(1);
        thread::Builder::new()
            .name("logbook-sqlite-checkpointer".into())
            .spawn(move || run_checkpointer(&connection, &nudges))
            .map_err(|error| StorageError::Backend(format!("the checkpointer could not start: {error}")))?;
        Ok(Checkpointer { nudge })
    }

    /// Asks for a checkpoint soon; never blocks (one pending nudge is enough).
    pub(crate) fn nudge(&self) {
        let _ = self.nudge.try_send(());
    }
}

fn run_checkpointer(connection: &Connection, nudges: &mpsc::Receiver<()>) {
    loop {
        match nudges.recv_timeout(IDLE_INTERVAL) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if let Err(error) = checkpoint(connection, "PASSIVE") {
            tracing::warn!(%error, "a checkpoint failed");
        }
    }
}

/// Runs one checkpoint of `mode` (`PASSIVE`, `RESTART`, …).
pub(crate) fn checkpoint(connection: &Connection, mode: &str) -> rusqlite::Result<()> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
}

thread_local! {
    /// The pages in the log after the last commit on this thread's connection.
    static WAL_PAGES: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// The size of the log as the writer's connection last committed it.
pub(crate) struct WalSize;

impl WalSize {
    /// Has SQLite report the log's size after each commit on `connection`, which
    /// is used on this thread only. It replaces SQLite's own checkpoints.
    pub(crate) fn watch(connection: &Connection) {
        fn record(_wal: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
            WAL_PAGES.set(pages);
            Ok(())
        }
        connection.wal_hook(Some(record));
    }

    /// The pages in the log after the last commit.
    pub(crate) fn pages() -> i32 {
        WAL_PAGES.get()
    }
}
