//! Reading a workspace's log as stored, for verification and full exports: every
//! stored event below a tree size in `seq` order, each with the tree's leaf at its
//! position, and then any row that no append accounts for.

use std::collections::HashMap;
use std::sync::Arc;

use logbook_storage::{Hash, LogEntry, Storage, StorageError, StoredEvent};
use tokio::task::JoinHandle;

use crate::state::AppState;

/// Stored events, each with the tree's leaf at its `seq`.
type StoredChunk = Vec<(StoredEvent, Option<Hash>)>;

/// Walks a workspace's stored events in chunks. The next chunk is read while the
/// caller handles the last one, so that reading the store and writing a response
/// use both cores.
pub struct LogReader<'a> {
    state: &'a AppState,
    workspace: &'a str,
    size: u64,
    chunk: usize,
    /// The next chunk being read, with the `seq` to read from after it.
    next: Option<JoinHandle<Result<(StoredChunk, u64), StorageError>>>,
}

impl<'a> LogReader<'a> {
    /// A reader of the events below `size`, `chunk` at a time.
    pub fn new(state: &'a AppState, workspace: &'a str, size: u64, chunk: usize) -> LogReader<'a> {
        let mut reader = LogReader { state, workspace, size, chunk, next: None };
        reader.read_ahead(0);
        reader
    }

    /// The next stored events below the size, read, each with the tree's leaf at
    /// its `seq` (`None` where the tree has none); empty when done. Rows may be
    /// missing: callers see the gap in the `seq`s.
    pub async fn next_chunk(&mut self) -> Result<Vec<(LogEntry, Option<Hash>)>, StorageError> {
        let stored = self.next_stored_chunk().await?;
        stored.into_iter().map(|(row, leaf)| Ok((row.parse(self.workspace)?, leaf))).collect()
    }

    /// [`LogReader::next_chunk`], the rows as stored, not read.
    pub async fn next_stored_chunk(&mut self) -> Result<StoredChunk, StorageError> {
        let Some(reading) = self.next.take() else { return Ok(Vec::new()) };
        let (rows, from) =
            reading.await.map_err(|error| StorageError::Backend(format!("reading a chunk: {error}")))??;
        if !rows.is_empty() {
            self.read_ahead(from);
        }
        Ok(rows)
    }

    /// Starts reading the chunk from `from`, if it is below the size.
    fn read_ahead(&mut self, from: u64) {
        if from < self.size {
            let (storage, workspace) = (Arc::clone(self.state.storage()), self.workspace.to_string());
            self.next = Some(tokio::spawn(read_chunk(storage, workspace, from, self.size, self.chunk)));
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
        if let Some(reading) = self.next.take() {
            reading.abort();
        }
    }
}

/// Up to `chunk` stored events from `seq` `from` below `size`, with their leaves,
/// and the `seq` to read from next.
async fn read_chunk(
    storage: Arc<dyn Storage>,
    workspace: String,
    from: u64,
    size: u64,
    chunk: usize,
) -> Result<(StoredChunk, u64), StorageError> {
    let rows = storage.stored_events(&workspace, from, chunk).await?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok((Vec::new(), size));
    };
    let (first, last) = (first.seq, last.seq.min(size.saturating_sub(1)));
    let span = usize::try_from(last.saturating_sub(first) + 1).unwrap_or(usize::MAX);
    let leaves: HashMap<u64, Hash> = storage.tree_leaves(&workspace, first, span).await?.into_iter().collect();
    let next = rows.last().map_or(size, |row| row.seq + 1);
    let rows = rows
        .into_iter()
        .take_while(|row| row.seq < size)
        .map(|row| {
            let leaf = leaves.get(&row.seq).copied();
            (row, leaf)
        })
        .collect();
    Ok((rows, next))
}
