//! Logbook's storage contract: one [`Storage`] trait that every backend
//! implements with the same behaviour, proven by the conformance suite in
//! `tests/conformance.rs`.
//!
//! The contract in words:
//! - `append` is atomic per call and durable when it returns `Ok`; each
//!   workspace's `seq` runs 0, 1, 2… with no gap, in commit order; an event whose
//!   `idempotency_key` is already stored in the workspace is not stored again.
//! - Nothing edits or deletes a stored event.
//! - `query` returns events in the order and from the position the
//!   [`EventQuery`] names, exactly as [`EventQuery::matches`] defines.
//!
//! Backends: [`sqlite`], the embedded default. Nothing backend-specific appears
//! in this module's types.

pub mod model;
pub mod sqlite;

use async_trait::async_trait;
use logbook_core::{Event, EventQuery, Timestamp, Workspace};

pub use model::{
    ApiKey, Appended, NewApiKey, NewEvent, NewWorkspace, StorageError, WorkspaceUpdate,
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
    async fn update_workspace(
        &self,
        id: &str,
        update: WorkspaceUpdate,
    ) -> Result<Workspace, StorageError>;

    /// Stores a new API key (its secret only as a hash).
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey, StorageError>;

    /// A workspace's keys, revoked ones included, oldest first.
    async fn list_api_keys(&self, workspace: &str) -> Result<Vec<ApiKey>, StorageError>;

    /// One key by its id, in any workspace, or `None`.
    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StorageError>;

    /// Revokes a key of a workspace; `false` when there is no such key. Revoking
    /// twice keeps the first revocation time.
    async fn revoke_api_key(
        &self,
        workspace: &str,
        key_id: &str,
        at: Timestamp,
    ) -> Result<bool, StorageError>;

    /// Records that a key was used.
    async fn touch_api_key(&self, key_id: &str, at: Timestamp) -> Result<(), StorageError>;

    /// Appends events to a workspace's log, all or nothing, durably; answers in
    /// the order given.
    async fn append(
        &self,
        workspace: &str,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Appended>, StorageError>;

    /// One page of a workspace's events.
    async fn query(&self, workspace: &str, query: &EventQuery) -> Result<Vec<Event>, StorageError>;

    /// One event by id, or `None`.
    async fn event(&self, workspace: &str, id: &str) -> Result<Option<Event>, StorageError>;

    /// A deployment-wide secret by name: the stored one, or `candidate`, stored
    /// now, if there is none yet. Every process sharing the storage gets the same.
    async fn secret(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StorageError>;

    /// Whether the storage answers.
    async fn ping(&self) -> Result<(), StorageError>;
}
