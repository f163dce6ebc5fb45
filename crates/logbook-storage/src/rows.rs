//! Conversions between stored columns and the storage model, shared by the
//! backends: both schemas keep the same columns with the same meaning (text,
//! 64-bit integers of milliseconds, byte strings), so a row reads the same way
//! whichever database it comes from.

use logbook_core::integrity::{Commitments, encode_hash};
use logbook_core::{Event, EventBody, Role, Timestamp, Workspace, WorkspaceCatalog, WorkspaceSettings};
use logbook_tlog::Hash;
use logbook_tlog::tree::TreeError;

use crate::model::{ApiKey, StorageError};

/// The columns of a workspace, in the order [`WorkspaceColumns`] holds them.
pub(crate) const WORKSPACE_COLUMNS: &str = "id, name, created_at, settings, catalog, next_seq";

/// A workspace row: id, name, created_at, settings, catalog, next_seq.
pub(crate) type WorkspaceColumns = (String, String, i64, String, String, i64);

/// The columns of an API key, in the order [`KeyColumns`] holds them.
pub(crate) const KEY_COLUMNS: &str = "id, workspace, name, roles, secret_hash, created_at, last_used_at, revoked_at";

/// An API key row.
pub(crate) type KeyColumns = (String, String, String, String, Vec<u8>, i64, Option<i64>, Option<i64>);

/// A value as stored JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|error| StorageError::Backend(error.to_string()))
}

/// The error for stored data that does not read back.
pub(crate) fn corrupt(what: &str, error: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{what}: {error}"))
}

/// The commitments of the event at `seq` from their stored JSON.
pub(crate) fn to_commitments(seq: impl std::fmt::Display, personal: &str) -> Result<Commitments, StorageError> {
    serde_json::from_str(personal).map_err(|error| corrupt(&format!("commitments of event {seq}"), error))
}

/// A workspace from its row.
pub(crate) fn to_workspace(columns: WorkspaceColumns) -> Result<Workspace, StorageError> {
    let (id, name, created_at, settings, catalog, next_seq) = columns;
    let settings: WorkspaceSettings =
        serde_json::from_str(&settings).map_err(|error| corrupt("workspace settings", error))?;
    let catalog: WorkspaceCatalog =
        serde_json::from_str(&catalog).map_err(|error| corrupt("workspace catalog", error))?;
    Ok(Workspace {
        id,
        name,
        created_at: Timestamp::from_millis(created_at),
        settings,
        catalog,
        event_count: u64::try_from(next_seq).map_err(|error| corrupt("next_seq", error))?,
    })
}

/// An API key from its row.
pub(crate) fn to_key(columns: KeyColumns) -> Result<ApiKey, StorageError> {
    let (id, workspace, name, roles, secret_hash, created_at, last_used_at, revoked_at) = columns;
    let roles: Vec<Role> = serde_json::from_str(&roles).map_err(|error| corrupt("key roles", error))?;
    Ok(ApiKey {
        id,
        workspace,
        name,
        roles,
        secret_hash,
        created_at: Timestamp::from_millis(created_at),
        last_used_at: last_used_at.map(Timestamp::from_millis),
        revoked_at: revoked_at.map(Timestamp::from_millis),
    })
}

/// An event from its stored `seq`, id, body and leaf hash.
pub(crate) fn to_event(workspace: &str, seq: i64, id: String, body: &str, leaf: &[u8]) -> Result<Event, StorageError> {
    let body: EventBody = serde_json::from_str(body).map_err(|error| corrupt(&format!("event {seq}"), error))?;
    let seq = u64::try_from(seq).map_err(|error| corrupt("seq", error))?;
    let leaf = to_hash(leaf, &format!("event {seq}"))?;
    Ok(Event { id, workspace: workspace.to_string(), seq, leaf_hash: encode_hash(&leaf), body })
}

/// A stored hash, which must be 32 bytes.
pub(crate) fn to_hash(bytes: &[u8], what: &str) -> Result<Hash, StorageError> {
    bytes.try_into().map_err(|_| corrupt(what, "its hash is not 32 bytes"))
}

/// A stored count or position, which must not be negative.
pub(crate) fn to_unsigned(value: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(value).map_err(|error| corrupt(what, error))
}

/// A tree function's error: a failed read stays what it was, anything else is a
/// position or size beyond the log.
pub(crate) fn tree_error(error: TreeError<StorageError>) -> StorageError {
    match error {
        TreeError::Storage { source, .. } => source,
        other => StorageError::OutOfRange(other.to_string()),
    }
}

/// The error for a tree size beyond a workspace's log of `count` events.
pub(crate) fn size_beyond_log(workspace: &str, count: u64, size: u64) -> StorageError {
    StorageError::OutOfRange(format!("the log of {workspace} has {count} events, fewer than {size}"))
}
