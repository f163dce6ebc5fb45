//! Logbook's storage contract: one [`Storage`] trait that every backend
//! implements with the same behaviour, proven by the conformance suite in
//! `tests/conformance.rs`.
//!
//! The contract in words:
//! - `append` is atomic per call and durable when it returns `Ok`; each
//!   workspace's `seq` runs 0, 1, 2… with no gap, in commit order; an event whose
//!   `idempotency_key` is already stored in the workspace is not stored again.
//! - Nothing edits or deletes a stored event.
//! - Appending also appends each event's leaf to the workspace's Merkle tree
//!   (`docs/canonical-form.md`), storing every complete subtree hash so that roots
//!   and proofs for any size take O(log n) reads.
//! - `query` returns events in the order and from the position the
//!   [`EventQuery`] names, exactly as [`EventQuery::matches`] defines.
//!
//! Backends: [`sqlite`], the embedded default, and [`postgres`], for several
//! processes on one database. Both translate filters to SQL through one shared
//! module (`filter_sql`). Nothing backend-specific appears in this module's types.

mod append_plan;
mod daily_counts;
mod filter_sql;
pub mod model;
pub mod postgres;
mod rows;
pub mod sqlite;

use async_trait::async_trait;
use logbook_core::{Event, EventFilter, EventQuery, GroupBy, Timestamp, Workspace};

pub use logbook_tlog::Hash;
pub use model::{
    ApiKey, Appended, LogEntry, NewApiKey, NewEvent, NewWorkspace, StorageError, StoredEvent, WorkspaceUpdate,
};

/// Everything Logbook keeps, behind one interface.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Creates a workspace; [`StorageError::Conflict`] when the id is taken.
    async fn create_workspace(&self, workspace: NewWorkspace) -> Result<Workspace, StorageError>;

    /// Every workspace, by id.
    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StorageError>;

    /// One workspace, or `None`.
    async fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError>;

    /// Changes a workspace's name, settings or catalog; fields left `None` stay.
    async fn update_workspace(&self, id: &str, update: WorkspaceUpdate) -> Result<Workspace, StorageError>;

    /// Stores a new API key (its secret only as a hash).
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey, StorageError>;

    /// A workspace's keys, revoked ones included, oldest first.
    async fn list_api_keys(&self, workspace: &str) -> Result<Vec<ApiKey>, StorageError>;

    /// One key by its id, in any workspace, or `None`.
    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StorageError>;

    /// Revokes a key of a workspace; `false` when there is no such key. Revoking
    /// twice keeps the first revocation time.
    async fn revoke_api_key(&self, workspace: &str, key_id: &str, at: Timestamp) -> Result<bool, StorageError>;

    /// Records that a key was used.
    async fn touch_api_key(&self, key_id: &str, at: Timestamp) -> Result<(), StorageError>;

    /// Appends events to a workspace's log, all or nothing, durably; answers in
    /// the order given.
    async fn append(&self, workspace: &str, events: Vec<NewEvent>) -> Result<Vec<Appended>, StorageError>;

    /// One page of a workspace's events.
    async fn query(&self, workspace: &str, query: &EventQuery) -> Result<Vec<Event>, StorageError>;

    /// How many events match `filter` (with `seq` at most `max_seq`), per group,
    /// in no particular order.
    async fn stats(
        &self,
        workspace: &str,
        filter: &EventFilter,
        max_seq: u64,
        group_by: GroupBy,
    ) -> Result<Vec<(String, u64)>, StorageError>;

    /// One event by id, or `None`.
    async fn event(&self, workspace: &str, id: &str) -> Result<Option<Event>, StorageError>;

    /// The root of a workspace's tree at `size` leaves (`size` ≤ its event count).
    async fn tree_root(&self, workspace: &str, size: u64) -> Result<Hash, StorageError>;

    /// The inclusion proof of leaf `seq` in the tree of `size` leaves.
    async fn inclusion_proof(&self, workspace: &str, seq: u64, size: u64) -> Result<Vec<Hash>, StorageError>;

    /// The consistency proof between the trees of `from` and `to` leaves.
    async fn consistency_proof(&self, workspace: &str, from: u64, to: u64) -> Result<Vec<Hash>, StorageError>;

    /// Up to `limit` stored events with `seq` ≥ `from_seq`, in `seq` order, as
    /// their rows hold them: every row there is, whatever the tree says.
    async fn stored_events(
        &self,
        workspace: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError>;

    /// [`Storage::stored_events`], read: each event with its commitments.
    async fn log_entries(&self, workspace: &str, from_seq: u64, limit: usize) -> Result<Vec<LogEntry>, StorageError> {
        self.stored_events(workspace, from_seq, limit).await?.iter().map(|stored| stored.parse(workspace)).collect()
    }

    /// The commitments of the events at these positions (missing ones are left out).
    async fn commitments(
        &self,
        workspace: &str,
        seqs: Vec<u64>,
    ) -> Result<Vec<(u64, logbook_core::integrity::Commitments)>, StorageError>;

    /// Up to `limit` leaves of the tree from position `from_seq`, in order.
    async fn tree_leaves(&self, workspace: &str, from_seq: u64, limit: usize)
    -> Result<Vec<(u64, Hash)>, StorageError>;

    /// A deployment-wide secret by name: the stored one, or `candidate`, stored
    /// now, if there is none yet. Every process sharing the storage gets the same.
    async fn secret(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StorageError>;

    /// Whether the storage answers.
    async fn ping(&self) -> Result<(), StorageError>;
}
