//! Reading a workspace's log as stored, for verification and full exports: every
//! stored event below a tree size in `seq` order, each with the tree's leaf at its
//! position, and then any row that no append accounts for.

use std::collections::HashMap;

use logbook_storage::{Hash, LogEntry, StorageError, StoredEvent};

use crate::state::AppState;

/// Walks a workspace's stored events in chunks.
pub struct LogReader<'a> {
    state: &'a AppState,
    workspace: &'a str,
    size: u64,
    chunk: usize,
    from: u64,
}

impl<'a> LogReader<'a> {
    /// A reader of the events below `size`, `chunk` at a time.
    pub fn new(state: &'a AppState, workspace: &'a str, size: u64, chunk: usize) -> LogReader<'a> {
        LogReader { state, workspace, size, chunk, from: 0 }
    }

    /// The next stored events below the size, read, each with the tree's leaf at
    /// its `seq` (`None` where the tree has none); empty when done. Rows may be
    /// missing: callers see the gap in the `seq`s.
    pub async fn next_chunk(&mut self) -> Result<Vec<(LogEntry, Option<Hash>)>, StorageError> {
        let stored = self.next_stored_chunk().await?;
        stored.into_iter().map(|(row, leaf)| Ok((row.parse(self.workspace)?, leaf))).collect()
    }

    /// [`LogReader::next_chunk`], the rows as stored, not read.
    pub async fn next_stored_chunk(&mut self) -> Result<Vec<(StoredEvent, Option<Hash>)>, StorageError> {
        if self.from >= self.size {
            return Ok(Vec::new());
        }
        let storage = self.state.storage();
        let rows = storage.stored_events(self.workspace, self.from, self.chunk).await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            self.from = self.size;
            return Ok(Vec::new());
        };
        let (first, last) = (first.seq, last.seq.min(self.size.saturating_sub(1)));
        let span = usize::try_from(last.saturating_sub(first) + 1).unwrap_or(usize::MAX);
        let leaves: HashMap<u64, Hash> = storage.tree_leaves(self.workspace, first, span).await?.into_iter().collect();
        self.from = rows.last().map_or(self.size, |row| row.seq + 1);
        Ok(rows
            .into_iter()
            .take_while(|row| row.seq < self.size)
            .map(|row| {
                let leaf = leaves.get(&row.seq).copied();
                (row, leaf)
            })
            .collect())
    }

    /// Up to `limit` rows at or past the log's live size, as stored: no append
    /// made them, so only tampering can have.
    pub async fn orphans(&self, limit: usize) -> Result<Vec<StoredEvent>, StorageError> {
        let storage = self.state.storage();
        let live = storage.workspace(self.workspace).await?.map_or(self.size, |workspace| workspace.event_count);
        storage.stored_events(self.workspace, live.max(self.size), limit).await
    }
}
