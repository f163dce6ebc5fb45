//! A workspace: one tenant's log, with its settings and its own catalog.

use serde::{Deserialize, Serialize};

use crate::catalog::WorkspaceCatalog;
use crate::timestamp::Timestamp;

/// The longest workspace identifier.
pub const MAX_WORKSPACE_ID_LENGTH: usize = 63;

/// Whether `id` is a valid workspace identifier: `[a-z0-9][a-z0-9-]{0,62}`.
pub fn is_valid_workspace_id(id: &str) -> bool {
    let mut characters = id.chars();
    id.len() <= MAX_WORKSPACE_ID_LENGTH
        && matches!(characters.next(), Some('a'..='z' | '0'..='9'))
        && characters.all(|character| matches!(character, 'a'..='z' | '0'..='9' | '-'))
}

/// A workspace's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkspaceSettings {
    /// When false, only `superadmin` sees audit-category events.
    pub audit_log_enabled: bool,
}

impl Default for WorkspaceSettings {
    fn default() -> WorkspaceSettings {
        WorkspaceSettings { audit_log_enabled: true }
    }
}

/// A workspace as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The identifier used in URLs.
    pub id: String,
    /// A display name.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Its settings.
    pub settings: WorkspaceSettings,
    /// Its own catalog entries and mode.
    pub catalog: WorkspaceCatalog,
    /// How many events its log holds (the next `seq`).
    pub event_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_ids() {
        for good in ["acme", "a", "0-team", &"a".repeat(63)] {
            assert!(is_valid_workspace_id(good), "{good}");
        }
        for bad in ["", "-acme", "Acme", "ac_me", "ac me", &"a".repeat(64)] {
            assert!(!is_valid_workspace_id(bad), "{bad}");
        }
    }
}
