//! A small pool of reader threads, each with a read-only connection of its own,
//! opened at its first read and kept. WAL mode lets them read while the writer
//! commits.
//!
//! The threads are the pool's own, a fixed number, rather than tokio's blocking
//! threads: a read handed to `spawn_blocking` as another finished found no idle
//! thread often enough that 64 clients left about 60 of them behind, each with
//! its own allocator cache. An export then read each chunk on another of them,
//! into pages the kernel had to zero first, at half its speed (BENCHMARKS.md).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::model::StorageError;

/// How many reads run at once, each on its own thread and connection. Reads
/// beyond wait their turn: on a machine of a few cores more would not read
/// faster.
pub(crate) const READER_THREADS: usize = 8;

/// A read, given its thread's connection or the error that kept it from opening.
type ReadJob = Box<dyn FnOnce(Result<&Connection, StorageError>) + Send>;

#[derive(Clone)]
pub(crate) struct ReadPool {
    jobs: Sender<ReadJob>,
}

impl ReadPool {
    /// Starts the reader threads over the database at `path`; they stop once
    /// every clone of the pool is dropped and the reads already queued are done.
    pub(crate) fn new(path: PathBuf) -> ReadPool {
        let (jobs, receiver) = mpsc::channel::<ReadJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        for number in 0..READER_THREADS {
            let (receiver, path) = (Arc::clone(&receiver), path.clone());
            thread::Builder::new()
                .name(format!("logbook-sqlite-reader-{number}"))
                .spawn(move || run_reader(&path, &receiver))
                .expect("a reader thread starts");
        }
        ReadPool { jobs }
    }

    /// Runs `work` with a connection on one of the reader threads. The read is
    /// queued at once, before the answer is awaited, so that several reads
    /// started together run together.
    pub(crate) fn read<T, F>(&self, work: F) -> impl Future<Output = Result<T, StorageError>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |connection| {
            // A caller that went away while its read waited (a dropped request,
            // an export's read-ahead stopped) needs it no more.
            if reply.is_closed() {
                return;
            }
            // It may go away meanwhile too; that is fine.
            let _ = reply.send(connection.and_then(work));
        });
        let queued = self.jobs.send(job).map_err(|_| StorageError::Unavailable("the readers have stopped".into()));
        async move {
            queued?;
            answer.await.map_err(|_| StorageError::Backend("a read failed before answering".into()))?
        }
    }
}

/// One reader thread: takes the next read, in turn with the others, until the
/// pool is dropped.
fn run_reader(path: &Path, receiver: &Mutex<Receiver<ReadJob>>) {
    let mut connection: Option<Connection> = None;
    loop {
        let next = receiver.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).recv();
        let Ok(job) = next else { return };
        if connection.is_none() {
            match open(path) {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    job(Err(error));
                    continue;
                }
            }
        }
        let Some(opened) = connection.as_ref() else { continue };
        // A read that panics answers nothing (its caller hears that it failed),
        // and its connection, perhaps left mid-statement, is not used again.
        if catch_unwind(AssertUnwindSafe(|| job(Ok(opened)))).is_err() {
            tracing::error!("a read panicked; its connection is closed");
            connection = None;
        }
    }
}

fn open(path: &Path) -> Result<Connection, StorageError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let connection =
        Connection::open_with_flags(path, flags).map_err(|error| StorageError::Backend(error.to_string()))?;
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|error| StorageError::Backend(error.to_string()))?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_run_on_the_pool_s_own_threads_and_survive_a_panic() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("pool.sqlite3");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        let pool = ReadPool::new(path);
        async fn read(pool: &ReadPool) -> Result<(String, i64), StorageError> {
            pool.read(|connection| {
                let name = thread::current().name().unwrap_or_default().to_string();
                let x: i64 = connection.query_row("SELECT x FROM t", [], |row| row.get(0)).unwrap();
                Ok((name, x))
            })
            .await
        }
        let mut threads = std::collections::BTreeSet::new();
        for _ in 0..(4 * READER_THREADS) {
            let (name, x) = read(&pool).await.unwrap();
            assert!(name.starts_with("logbook-sqlite-reader-"), "{name}");
            assert_eq!(x, 7);
            threads.insert(name);
        }
        assert!(threads.len() <= READER_THREADS);

        // More panics than threads: each thread goes on after one.
        for _ in 0..(2 * READER_THREADS) {
            let panicked = pool.read(|_| -> Result<(), StorageError> { panic!("a read that panics") }).await;
            assert!(matches!(panicked, Err(StorageError::Backend(_))), "{panicked:?}");
        }
        for _ in 0..(2 * READER_THREADS) {
            assert_eq!(read(&pool).await.unwrap().1, 7, "every thread still reads");
        }
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_opened_is_an_error_for_each_read() {
        let directory = tempfile::tempdir().unwrap();
        let pool = ReadPool::new(directory.path().join("missing").join("pool.sqlite3"));
        for _ in 0..3 {
            let read = pool.read(|_| Ok(())).await;
            assert!(matches!(read, Err(StorageError::Backend(_))), "{read:?}");
        }
    }
}
