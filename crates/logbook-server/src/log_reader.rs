//! Reading a workspace's log as stored, for verification and full exports: every
//! stored event below a tree size in `seq` order, each with the tree's leaf at its
//! position, and then any row that no append accounts for.

use std::collections::HashMap;

use logbook_storage::{Hash, LogEntry, StorageError};

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

    /// The next stored events below the size, each with the tree's leaf at its
    /// `seq` (`None` where the tree has none); empty when done. Rows may be
    /// missing: callers see the gap in the `seq`s.
    pub async fn next_chunk(&mut self) -> Result<Vec<(LogEntry, Option<Hash>)>, StorageError> {
        if self.from >= self.size {
            return Ok(Vec::new());
        }
        let storage = self.state.storage();
        let entries = storage.log_entries(self.workspace, self.from, self.chunk).await?;
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            self.from = self.size;
            return Ok(Vec::new());
        };
        let (first, last) = (first.event.seq, last.event.seq.min(self.size.saturating_sub(1)));
        let span = usize::try_from(last.saturating_sub(first) + 1).unwrap_or(usize::MAX);
        let leaves: HashMap<u64, Hash> = storage.tree_leaves(self.workspace, first, span).await?.into_iter().collect();
        self.from = entries.last().map_or(self.size, |entry| entry.event.seq + 1);
        Ok(entries
            .into_iter()
            .take_while(|entry| entry.event.seq < self.size)
            .map(|entry| {
                let leaf = leaves.get(&entry.event.seq).copied();
                (entry, leaf)
            })
            .collect())
    }

    /// Up to `limit` rows at or past the log's live size: no append made them, so
    /// only tampering can have.
    pub async fn orphans(&self, limit: usize) -> Result<Vec<LogEntry>, StorageError> {
        let storage = self.state.storage();
        let live = storage.workspace(self.workspace).await?.map_or(self.size, |workspace| workspace.event_count);
        storage.log_entries(self.workspace, live.max(self.size), limit).await
    }
}
