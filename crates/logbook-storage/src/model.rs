//! The values that cross the storage boundary, and its error type.

use logbook_core::integrity::Commitments;
use logbook_core::{Event, EventBody, Role, Timestamp, WorkspaceCatalog, WorkspaceSettings};

/// A workspace to create.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    /// Its identifier (already validated).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// When it is created.
    pub created_at: Timestamp,
}

/// A change to a workspace; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceUpdate {
    /// A new display name.
    pub name: Option<String>,
    /// New settings.
    pub settings: Option<WorkspaceSettings>,
    /// A new catalog document.
    pub catalog: Option<WorkspaceCatalog>,
}

/// An API key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Public identifier, part of the token.
    pub id: String,
    /// The workspace it belongs to.
    pub workspace: String,
    /// A label chosen by its creator.
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// SHA-256 of the secret part of the token.
    pub secret_hash: Vec<u8>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A stored API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Public identifier.
    pub id: String,
    /// The workspace it belongs to.
    pub workspace: String,
    /// A label chosen by its creator.
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// SHA-256 of the secret part of the token.
    pub secret_hash: Vec<u8>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used, to the minute.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// A key as stored just now: never used, not revoked.
    pub fn new_unused(key: NewApiKey) -> ApiKey {
        ApiKey {
            id: key.id,
            workspace: key.workspace,
            name: key.name,
            roles: key.roles,
            secret_hash: key.secret_hash,
            created_at: key.created_at,
            last_used_at: None,
            revoked_at: None,
        }
    }
}

/// A validated event with the id Logbook gave it, ready to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its UUIDv7.
    pub id: String,
    /// Its fields.
    pub body: EventBody,
    /// The commitments to its personal fields (made with fresh random salts).
    pub commitments: Commitments,
}

/// A stored event with the commitments to its personal fields: what its leaf is
/// computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The event.
    pub event: Event,
    /// Its commitments.
    pub commitments: Commitments,
}

/// A stored event as its row holds it, not yet parsed: what a full export copies
/// out without reading it (`logbook_core::export::splice_export_line`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Its position.
    pub seq: u64,
    /// Its id.
    pub id: String,
    /// Its body as stored: the JSON of an `EventBody`.
    pub body_json: String,
    /// Its commitments as stored: the JSON of `Commitments`.
    pub personal_json: String,
    /// The copy of its leaf hash kept with the row.
    pub leaf: Vec<u8>,
}

impl StoredEvent {
    /// Reads the row; a row that does not parse is reported as corrupt.
    pub fn parse(&self, workspace: &str) -> Result<LogEntry, StorageError> {
        let seq = i64::try_from(self.seq).unwrap_or(i64::MAX);
        let event = crate::rows::to_event(workspace, seq, self.id.clone(), &self.body_json, &self.leaf)?;
        Ok(LogEntry { event, commitments: crate::rows::to_commitments(seq, &self.personal_json)? })
    }
}

/// What happened to one appended event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The event's id: the original's when it was a duplicate.
    pub id: String,
    /// The event's seq: the original's when it was a duplicate.
    pub seq: u64,
    /// The event's leaf hash: the original's when it was a duplicate.
    pub leaf_hash: logbook_tlog::Hash,
    /// Whether an event with the same idempotency key was already stored.
    pub duplicate: bool,
}

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The workspace (or other named thing) does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The thing to create exists already.
    #[error("{0}")]
    Conflict(String),
    /// The storage cannot take requests now (shutting down, writer stopped).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The backend failed; the message is for logs, not for clients.
    #[error("storage failure: {0}")]
    Backend(String),
    /// Stored data could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A position or tree size beyond the log.
    #[error("{0}")]
    OutOfRange(String),
}
