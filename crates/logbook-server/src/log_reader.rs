//! Reading a workspace's log as stored, for verification and full exports: every
//! stored event below a tree size in `seq` order, each with the tree's leaf at its
//! position, and then any row that no append accounts for.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use logbook_storage::{Hash, LogEntry, Storage, StorageError, StoredEvent};
use tokio::task::JoinHandle;

use crate::state::AppState;

/// Stored events, each with the tree's leaf at its `seq`.
type StoredChunk = Vec<(StoredEvent, Option<Hash>)>;

/// Walks a workspace's stored events in chunks of consecutive `seq`s. Several
/// chunks are read at once, ahead of the caller: a store larger than memory
/// answers reads from disk, and reads waited on together wait about as long as
/// one, so the export of a large store is not one disk read at a time; and the
/// chunks read while the caller writes a response use both cores.
pub struct LogReader<'a> {
    state: &'a AppState,
    workspace: &'a str,
    size: u64,
    chunk: usize,
    /// The most chunks read at once.
    chunks_in_flight: usize,
    /// The chunks being read, oldest first: each holds the `seq`s from its
    /// first to the next one's first.
    reading: VecDeque<JoinHandle<Result<ReadChunk, StorageError>>>,
    /// The first `seq` of the next chunk to start reading.
    next_from: u64,
}

impl<'a> LogReader<'a> {
    /// A reader of the events below `size`, `chunk` at a time, reading up to
    /// `chunks_in_flight` chunks at once (at least one).
    pub fn new(
        state: &'a AppState,
        workspace: &'a str,
        size: u64,
        chunk: usize,
        chunks_in_flight: usize,
    ) -> LogReader<'a> {
        let mut reader = LogReader {
            state,
            workspace,
            size,
            chunk: chunk.max(1),
            chunks_in_flight: chunks_in_flight.max(1),
            reading: VecDeque::new(),
            next_from: 0,
        };
        reader.read_ahead();
        reader
    }

    /// The next stored events below the size, read, each with the tree's leaf at
    /// its `seq` (`None` where the tree has none); empty when done. Rows may be
    /// missing: callers see the gap in the `seq`s.
    pub async fn next_chunk(&mut self) -> Result<Vec<(LogEntry, Option<Hash>)>, StorageError> {
        let stored = self.next_stored_chunk().await?;
        stored.into_iter().map(|(row, leaf)| Ok((row.parse(self.workspace)?, leaf))).collect()
    }

    /// [`LogReader::next_chunk`], the rows as stored, not read. A chunk whose
    /// rows are all missing is passed over: only the end of the log is empty.
    pub async fn next_stored_chunk(&mut self) -> Result<StoredChunk, StorageError> {
        while let Some(reading) = self.reading.pop_front() {
            let read = reading.await.map_err(|error| StorageError::Backend(format!("reading a chunk: {error}")))??;
            match read.first_found {
                // No row is stored from that chunk on (rows deleted, or a size
                // changed behind Logbook's back): there is nothing more to read.
                None => self.next_from = self.size,
                // No row is stored before the one found: chunks start from it.
                Some(seq) => self.next_from = self.next_from.max(seq),
            }
            self.read_ahead();
            if !read.rows.is_empty() {
                return Ok(read.rows);
            }
        }
        Ok(Vec::new())
    }

    /// Starts reading chunks below the size until as many are being read as may be.
    fn read_ahead(&mut self) {
        while self.reading.len() < self.chunks_in_flight && self.next_from < self.size {
            let (storage, workspace) = (Arc::clone(self.state.storage()), self.workspace.to_string());
            let from = self.next_from;
            let until = from.saturating_add(self.chunk as u64).min(self.size);
            self.reading.push_back(tokio::spawn(read_chunk(storage, workspace, from, until)));
            self.next_from = until;
        }
    }

    /// Up to `limit` rows at or past the log's live size, as stored: no append
    /// made them, so only tampering can have.
    pub async fn orphans(&self, limit: usize) -> Result<Vec<StoredEvent>, StorageError> {
        let storage = self.state.storage();
        let live = storage.workspace(self.workspace).await?.map_or(self.size, |workspace| workspace.event_count);
        storage.stored_events(self.workspace, live.max(self.size), limit).await
    }
}

impl Drop for LogReader<'_> {
    /// A reader dropped early (a client that went away) stops reading ahead.
    fn drop(&mut self) {
        for reading in self.reading.drain(..) {
            reading.abort();
        }
    }
}

/// A chunk as read.
struct ReadChunk {
    /// Its rows, each with the tree's leaf at its `seq`.
    rows: StoredChunk,
    /// The `seq` of the first row stored at or past the chunk's first `seq`,
    /// in the chunk or after it; `None` when there is none.
    first_found: Option<u64>,
}

/// The stored events with a `seq` from `from` to before `until`, with their
/// leaves. Rows are read by `seq` from `from`, as many as the span holds:
/// where rows are missing, those read past `until` belong to a later chunk.
async fn read_chunk(
    storage: Arc<dyn Storage>,
    workspace: String,
    from: u64,
    until: u64,
) -> Result<ReadChunk, StorageError> {
    let span = usize::try_from(until - from).unwrap_or(usize::MAX);
    let (mut rows, mut first_found, mut next) = (Vec::new(), None, from);
    loop {
        let read = storage.stored_events(&workspace, next, span).await?;
        first_found = first_found.or(read.first().map(|row| row.seq));
        // A `seq` stored twice (PostgreSQL's key allows it) leaves a read cut
        // short by its limit before `until`: the rest is read after its last row.
        let cut_short = read.len() == span && read.last().is_some_and(|row| row.seq + 1 < until);
        next = read.last().map_or(until, |row| row.seq.saturating_add(1));
        rows.extend(read.into_iter().filter(|row| row.seq < until));
        if !cut_short {
            break;
        }
    }
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(ReadChunk { rows: Vec::new(), first_found });
    };
    let span = usize::try_from(last.seq - first.seq + 1).unwrap_or(usize::MAX);
    let leaves: HashMap<u64, Hash> = storage.tree_leaves(&workspace, first.seq, span).await?.into_iter().collect();
    let rows = rows
        .into_iter()
        .map(|row| {
            let leaf = leaves.get(&row.seq).copied();
            (row, leaf)
        })
        .collect();
    Ok(ReadChunk { rows, first_found })
}
