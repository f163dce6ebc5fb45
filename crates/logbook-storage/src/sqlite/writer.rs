//! The single writer: one thread owns the only writing connection and commits
//! whatever jobs are waiting in one transaction (group commit).
//!
//! Each job runs inside its own savepoint, so one job's failure rolls back that
//! job alone; the jobs that succeeded are committed together with one fsync, and
//! only then does each caller get its answer. A caller therefore never hears
//! "stored" before the data is on disk. A job may also leave work for the writer
//! to do once it has committed and before anyone hears back
//! ([`Writer::write_then`]), such as what [`super::lookup_cache`] must
//! forget or learn.
//!
//! A commit of fewer than [`STAGE_BELOW`] events from several requests stages
//! them ([`staging`]), and so does any small commit while events are staged; the
//! writer moves the staged events into the indexed tables once
//! [`INDEX_AT`] of them wait, when a read waits for them, or when no job has
//! come for [`INDEX_WHEN_IDLE_FOR`].

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::backend;
use super::checkpointer::{self, Checkpointer, MAX_WAL_FRAMES, NUDGE_EVERY_FRAMES, WalSize};
use super::staging::{self, Destination, Visibility};
use crate::model::StorageError;

/// How many jobs one transaction takes at most.
const MAX_JOBS_PER_COMMIT: usize = 512;

/// How much work (events, for appends) one transaction takes at most, so that
/// a commit's dirty pages fit SQLite's cache and callers hear back soon.
const MAX_WEIGHT_PER_COMMIT: usize = 16_384;

/// How many jobs may wait for the writer before callers wait to submit.
const QUEUE_CAPACITY: usize = 4096;

/// A commit of fewer events than this may stage them: a larger one shares enough
/// index pages among its own events to write them where they belong at once
/// (batches of 100 from one client ingested no faster staged).
const STAGE_BELOW: usize = 100;

/// Whether a commit of a single request, while nothing is staged, stages it.
/// Not in a running server: one client's lone event is written in place, so
/// that its next read (often a read that records an audit event, then another
/// read) need not wait for a move. In this crate's unit tests it is staged, so
/// that they can stage events one append at a time (`staging_tests.rs`).
const STAGE_LONE_COMMITS: bool = cfg!(test);

/// How many staged events make the writer move them into the indexed tables.
const INDEX_AT: usize = 4096;

/// How long the writer waits for a job before it moves the staged events. In
/// this crate's unit tests it never does so on its own, so that a read which
/// forgot to wait for staged events would miss them (`staging_tests.rs`).
#[cfg(not(test))]
const INDEX_WHEN_IDLE_FOR: Duration = Duration::from_millis(2);
#[cfg(test)]
const INDEX_WHEN_IDLE_FOR: Duration = Duration::from_secs(3600);

/// How long the writer waits after a failed move before it tries again.
const RETRY_INDEXING_AFTER: Duration = Duration::from_secs(1);

/// A unit of work for the writer.
trait Job: Send {
    /// How much work it is (see [`MAX_WEIGHT_PER_COMMIT`]).
    fn weight(&self) -> usize;
    /// Whether it appends events (and so may stage them).
    fn appends(&self) -> bool;
    /// Runs inside the shared transaction, in its own savepoint, writing any
    /// events to `destination`.
    fn run(&mut self, connection: &Connection, destination: Destination) -> bool;
    /// Answers the caller once the transaction's fate is known.
    fn answer(self: Box<Self>, committed: Result<(), StorageError>);
}

/// What the writer does with a job's value once it is committed, on its own
/// thread, before the caller hears back (and whether or not the caller is still
/// waiting).
type AfterCommit<T> = Box<dyn FnOnce(&T) + Send>;

struct TypedJob<T, F> {
    weight: usize,
    appends: bool,
    work: Option<F>,
    result: Option<Result<T, StorageError>>,
    after_commit: Option<AfterCommit<T>>,
    reply: oneshot::Sender<Result<T, StorageError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection, Destination) -> Result<T, StorageError> + Send,
{
    fn weight(&self) -> usize {
        self.weight
    }

    fn appends(&self) -> bool {
        self.appends
    }

    fn run(&mut self, connection: &Connection, destination: Destination) -> bool {
        let work = self.work.take().expect("a job runs once");
        let result = work(connection, destination);
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
        if let (Ok(value), Some(after_commit)) = (&answer, self.after_commit) {
            after_commit(value);
        }
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
    /// checkpoints turned off: `checkpointer` does them. The writer tells
    /// `visibility` what it stages and moves.
    pub(crate) fn start(connection: Connection, checkpointer: Checkpointer, visibility: Arc<Visibility>) -> Writer {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        thread::Builder::new()
            .name("logbook-sqlite-writer".into())
            .spawn(move || run_writer(connection, receiver, checkpointer, &visibility))
            .expect("the writer thread starts");
        Writer { queue }
    }

    /// Runs `work` in the next group commit and answers once it is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        self.submit(1, false, move |connection, _| work(connection), None).await
    }

    /// Runs `work` like [`Writer::write`]; once it has committed, the writer
    /// calls `after_commit` with its value before answering. The writer does so
    /// even if the caller has stopped waiting, which a caller's own code after
    /// the answer could not promise.
    pub(crate) async fn write_then<T, F, A>(&self, work: F, after_commit: A) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        self.submit(1, false, move |connection, _| work(connection), Some(Box::new(after_commit))).await
    }

    /// Runs `work`, which appends `events` events to the destination it is
    /// given, like [`Writer::write_then`].
    pub(crate) async fn append_then<T, F, A>(&self, events: usize, work: F, after_commit: A) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, Destination) -> Result<T, StorageError> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        self.submit(events, true, work, Some(Box::new(after_commit))).await
    }

    async fn submit<T, F>(
        &self,
        weight: usize,
        appends: bool,
        work: F,
        after_commit: Option<AfterCommit<T>>,
    ) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, Destination) -> Result<T, StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job =
            Box::new(TypedJob { weight: weight.max(1), appends, work: Some(work), result: None, after_commit, reply });
        self.queue.send(job).await.map_err(|_| StorageError::Unavailable("the writer has stopped".into()))?;
        answer.await.map_err(|_| StorageError::Unavailable("the writer stopped before answering".into()))?
    }
}

/// What the writer thread keeps between commits.
struct WriterState<'a> {
    connection: Connection,
    checkpointer: Checkpointer,
    visibility: &'a Visibility,
    pages_at_last_nudge: i32,
    /// Events staged and not yet moved into the indexed tables.
    staged_events: usize,
    /// When moving them last failed.
    last_failed_move: Option<Instant>,
}

fn run_writer(
    connection: Connection,
    mut receiver: mpsc::Receiver<Box<dyn Job>>,
    checkpointer: Checkpointer,
    visibility: &Visibility,
) {
    WalSize::watch(&connection);
    // A runtime of the writer's own, only to wait for a job, a waiting reader or
    // a time limit at once.
    let timer = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a timer starts");
    let mut state = WriterState {
        connection,
        checkpointer,
        visibility,
        pages_at_last_nudge: 0,
        staged_events: 0,
        last_failed_move: None,
    };
    loop {
        let next = if state.staged_events == 0 {
            receiver.blocking_recv()
        } else {
            let woken = timer.block_on(async {
                tokio::select! {
                    next = receiver.recv() => Woken::Job(next),
                    () = visibility.reader_waits() => Woken::ByReader,
                    () = tokio::time::sleep(INDEX_WHEN_IDLE_FOR) => Woken::Idle,
                }
            });
            match woken {
                Woken::Job(next) => next,
                // A reader's wake-up may be left from a wait already served.
                Woken::ByReader if !visibility.readers_waiting() => continue,
                Woken::ByReader | Woken::Idle => {
                    state.index_staged();
                    continue;
                }
            }
        };
        let Some(first) = next else { break };
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
        let appends = jobs.iter().any(|job| job.appends());
        let busy = jobs.len() > 1 || state.staged_events > 0 || STAGE_LONE_COMMITS;
        // While moves fail (a full disk, say), nothing more is staged.
        let moving = state.last_failed_move.is_none();
        let destination =
            if weight < STAGE_BELOW && busy && moving { Destination::Staged } else { Destination::Indexed };
        let staging = destination == Destination::Staged && appends;
        if staging {
            state.visibility.staging();
        } else if appends && state.staged_events > 0 {
            // Events reach the indexed tables in the order they were committed
            // (unless moving them fails).
            state.index_staged();
        }
        let committed = commit_jobs(&state.connection, &mut jobs, destination);
        state.after_commit();
        match &committed {
            Err(error) => tracing::error!(%error, jobs = jobs.len(), "group commit failed"),
            Ok(appended) if staging => state.staged_events += appended,
            Ok(_) => {}
        }
        if staging && state.staged_events == 0 {
            // This commit staged nothing (it failed, or each of its appends was
            // refused) and nothing else is staged: no read need wait.
            state.visibility.indexed();
        }
        let committed = committed.map(|_| ());
        for job in jobs {
            job.answer(committed.clone());
        }
        if state.staged_events >= INDEX_AT || (state.staged_events > 0 && state.visibility.readers_waiting()) {
            state.index_staged();
        }
    }
    // Every sender is gone: move what is staged before stopping (what a failure
    // or a crash leaves is moved when the store is next opened).
    if state.staged_events > 0 {
        state.index_staged();
    }
}

impl WriterState<'_> {
    /// Moves the staged events into the indexed tables in one transaction, and
    /// tells the readers waiting for them.
    fn index_staged(&mut self) {
        if self.last_failed_move.is_some_and(|failed| failed.elapsed() < RETRY_INDEXING_AFTER) {
            return;
        }
        let moved = staging::move_staged(&self.connection);
        self.after_commit();
        match moved {
            Ok(_) => {
                self.staged_events = 0;
                self.last_failed_move = None;
                self.visibility.indexed();
            }
            Err(error) => {
                self.last_failed_move = Some(Instant::now());
                tracing::error!(%error, staged = self.staged_events, "staged events could not be indexed; retrying");
            }
        }
    }

    /// Keeps the write-ahead log's size in check after a commit.
    fn after_commit(&mut self) {
        let pages = WalSize::pages();
        if pages >= MAX_WAL_FRAMES {
            if let Err(error) = checkpointer::checkpoint(&self.connection, "RESTART") {
                tracing::warn!(%error, "the write-ahead log could not be rewound");
            }
            self.pages_at_last_nudge = 0;
        } else if pages < self.pages_at_last_nudge || pages - self.pages_at_last_nudge >= NUDGE_EVERY_FRAMES {
            self.checkpointer.nudge();
            self.pages_at_last_nudge = pages;
        }
    }
}

/// Runs the jobs in one transaction, each in its savepoint, and says how many
/// events the appends among them that succeeded wrote (by their weight).
fn commit_jobs(
    connection: &Connection,
    jobs: &mut [Box<dyn Job>],
    destination: Destination,
) -> Result<usize, StorageError> {
    connection.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let mut appended = 0;
    for job in jobs.iter_mut() {
        let step = connection.execute_batch("SAVEPOINT job").and_then(|()| {
            let succeeded = job.run(connection, destination);
            if succeeded && job.appends() {
                appended += job.weight();
            }
            connection.execute_batch(if succeeded { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" })
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
    Ok(appended)
}

/// Why the writer stopped waiting while events are staged.
enum Woken {
    Job(Option<Box<dyn Job>>),
    ByReader,
    Idle,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::super::SqliteStorage;
    use crate::Storage;
    use crate::model::StorageError;

    /// A job's after-commit work is done before its caller hears back, and only
    /// for a job that succeeded.
    #[tokio::test]
    async fn after_commit_runs_before_the_answer_and_only_on_success() {
        let directory = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(directory.path()).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let seen = done.clone();
        // The work takes a while, so that an answer sent before it would be seen
        // before it is done.
        let slow = move |_: &()| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            seen.store(true, Ordering::SeqCst);
        };
        storage.writer.write_then(|_| Ok(()), slow).await.unwrap();
        assert!(done.load(Ordering::SeqCst), "the answer came before the after-commit work");

        let failed = Arc::new(AtomicBool::new(false));
        let seen = failed.clone();
        let answer = storage
            .writer
            .write_then(
                |_| Err::<(), _>(StorageError::Conflict("refused".into())),
                move |_: &()| seen.store(true, Ordering::SeqCst),
            )
            .await;
        assert!(matches!(answer, Err(StorageError::Conflict(_))), "{answer:?}");
        storage.ping().await.unwrap();
        assert!(!failed.load(Ordering::SeqCst), "a failed job's after-commit work ran");
    }
}
