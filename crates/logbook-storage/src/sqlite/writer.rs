//! The single writer: one thread owns the only writing connection and commits
//! whatever jobs are waiting in one transaction (group commit).
//!
//! Each job runs inside its own savepoint, so one job's failure rolls back that
//! job alone; the jobs that succeeded are committed together with one fsync, and
//! only then does each caller get its answer. A caller therefore never hears
//! "stored" before the data is on disk.

use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::backend;
use super::checkpointer::{self, Checkpointer, MAX_WAL_FRAMES, NUDGE_EVERY_FRAMES, WalSize};
use crate::model::StorageError;

/// How many jobs one transaction takes at most.
const MAX_JOBS_PER_COMMIT: usize = 512;

/// How much work (events, for appends) one transaction takes at most, so that
/// a commit's dirty pages fit SQLite's cache and callers hear back soon.
const MAX_WEIGHT_PER_COMMIT: usize = 16_384;

/// How many jobs may wait for the writer before callers wait to submit.
const QUEUE_CAPACITY: usize = 4096;

/// A unit of work for the writer.
trait Job: Send {
    /// How much work it is (see [`MAX_WEIGHT_PER_COMMIT`]).
    fn weight(&self) -> usize;
    /// Runs inside the shared transaction, in its own savepoint.
    fn run(&mut self, connection: &Connection) -> bool;
    /// Answers the caller once the transaction's fate is known.
    fn answer(self: Box<Self>, committed: Result<(), StorageError>);
}

struct TypedJob<T, F> {
    weight: usize,
    work: Option<F>,
    result: Option<Result<T, StorageError>>,
    reply: oneshot::Sender<Result<T, StorageError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StorageError> + Send,
{
    fn weight(&self) -> usize {
        self.weight
    }

    fn run(&mut self, connection: &Connection) -> bool {
        let work = self.work.take().expect("a job runs once");
        let result = work(connection);
        let succeeded = result.is_ok();
        self.result = Some(result);
        succeeded
    }

    fn answer(self: Box<Self>, committed: Result<(), StorageError>) {
        let answer = match (committed, self.result) {
            (_, Some(Err(job_error))) => Err(job_error),
            (Err(commit_error), _) => Err(commit_error),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Ok(()), None) => Err(StorageError::Backend("a job was answered without running".into())),
        };
        // The caller may have gone away (its request was dropped); that is fine.
        let _ = self.reply.send(answer);
    }
}

/// The handle through which callers submit writes.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread over `connection`, which must have SQLite's own
    /// checkpoints turned off: `checkpointer` does them.
    pub(crate) fn start(connection: Connection, checkpointer: Checkpointer) -> Writer {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        thread::Builder::new()
            .name("logbook-sqlite-writer".into())
            .spawn(move || run_writer(connection, receiver, checkpointer))
            .expect("the writer thread starts");
        Writer { queue }
    }

    /// Runs `work` in the next group commit and answers once it is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        self.write_weighted(1, work).await
    }

    /// Runs `work`, which writes about `weight` events, like [`Writer::write`].
    pub(crate) async fn write_weighted<T, F>(&self, weight: usize, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(TypedJob { weight: weight.max(1), work: Some(work), result: None, reply });
        self.queue.send(job).await.map_err(|_| StorageError::Unavailable("the writer has stopped".into()))?;
        answer.await.map_err(|_| StorageError::Unavailable("the writer stopped before answering".into()))?
    }
}

fn run_writer(connection: Connection, mut receiver: mpsc::Receiver<Box<dyn Job>>, checkpointer: Checkpointer) {
    WalSize::watch(&connection);
    let mut pages_at_last_nudge = 0;
    while let Some(first) = receiver.blocking_recv() {
        let mut weight = first.weight();
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT && weight < MAX_WEIGHT_PER_COMMIT {
            match receiver.try_recv() {
                Ok(job) => {
                    weight += job.weight();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let committed = commit_jobs(&connection, &mut jobs);
        let pages = WalSize::pages();
        if pages >= MAX_WAL_FRAMES {
            if let Err(error) = checkpointer::checkpoint(&connection, "RESTART") {
                tracing::warn!(%error, "the write-ahead log could not be rewound");
            }
            pages_at_last_nudge = 0;
        } else if pages < pages_at_last_nudge || pages - pages_at_last_nudge >= NUDGE_EVERY_FRAMES {
            checkpointer.nudge();
            pages_at_last_nudge = pages;
        }
        if let Err(error) = &committed {
            tracing::error!(%error, jobs = jobs.len(), "group commit failed");
        }
        for job in jobs {
            job.answer(committed.clone());
        }
    }
}

fn commit_jobs(connection: &Connection, jobs: &mut [Box<dyn Job>]) -> Result<(), StorageError> {
    connection.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    for job in jobs.iter_mut() {
        let step = connection.execute_batch("SAVEPOINT job").and_then(|()| {
            let statement = if job.run(connection) { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
            connection.execute_batch(statement)
        });
        if let Err(error) = step {
            let _ = connection.execute_batch("ROLLBACK");
            return Err(backend(error));
        }
    }
    if let Err(error) = connection.execute_batch("COMMIT") {
        let _ = connection.execute_batch("ROLLBACK");
        return Err(backend(error));
    }
    Ok(())
}
