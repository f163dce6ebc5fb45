//! Who may do what (DESIGN.md section 6): roles, the permissions they grant and
//! the event categories they may see. Roles combine: a key with `supervisor` and
//! `setup` sees both categories.

use serde::{Deserialize, Serialize};

use crate::event::{Actor, Category, EventBody};
use crate::filter::RecordKey;
use crate::workspace::WorkspaceSettings;

/// A role held by an API key (and later by a viewer token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sends events; reads nothing.
    Publisher,
    /// The seeds' agents: no access to any log.
    Agent,
    /// Reads the activity log.
    Supervisor,
    /// Reads the audit log.
    Setup,
    /// Reads both logs; changes nothing.
    Auditor,
    /// Reads both logs; manages settings, keys and the catalog.
    Admin,
    /// Like admin, and still sees the audit log when it is switched off.
    Superadmin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 7] =
        [Role::Publisher, Role::Agent, Role::Supervisor, Role::Setup, Role::Auditor, Role::Admin, Role::Superadmin];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Publisher => "publisher",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Setup => "setup",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Superadmin => "superadmin",
        }
    }

    fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Publisher => matches!(permission, Ingest),
            Role::Agent => false,
            Role::Supervisor | Role::Setup => matches!(permission, ReadCatalog),
            Role::Auditor => matches!(permission, ReadCatalog | ReadConfiguration | Export),
            Role::Admin | Role::Superadmin => {
                matches!(permission, ReadCatalog | ReadConfiguration | ManageConfiguration | Export | MintViewerTokens)
            }
        }
    }

    fn sees(self, category: Category, settings: &WorkspaceSettings) -> bool {
        match (self, category) {
            (Role::Supervisor | Role::Auditor | Role::Admin | Role::Superadmin, Category::Activity) => true,
            (Role::Superadmin, Category::Audit) => true,
            (Role::Setup | Role::Auditor | Role::Admin, Category::Audit) => settings.audit_log_enabled,
            _ => false,
        }
    }
}

/// Something a request may need to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Send events.
    Ingest,
    /// Read the catalog (labels and templates, needed to show any log).
    ReadCatalog,
    /// Read settings and the list of API keys.
    ReadConfiguration,
    /// Change settings, the catalog and API keys.
    ManageConfiguration,
    /// Export the events it may see.
    Export,
    /// Mint viewer tokens for end users.
    MintViewerTokens,
    /// Create and list workspaces (the operator only).
    ManageWorkspaces,
}

/// Who is making a request, once its token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator of the deployment: every right on every workspace.
    Operator,
    /// A workspace API key.
    ApiKey {
        /// The workspace the key belongs to; it reaches no other.
        workspace: String,
        /// The key's identifier (never its secret).
        key_id: String,
        /// The key's label.
        key_name: String,
        /// The key's roles.
        roles: Vec<Role>,
    },
    /// A viewer token minted for an end user of the embedding product: reads only.
    Viewer {
        /// The workspace it reads.
        workspace: String,
        /// The end user; reads are attributed to them.
        actor: Actor,
        /// Their roles.
        roles: Vec<Role>,
        /// The one record it may see, when scoped.
        record: Option<RecordKey>,
    },
}

impl Principal {
    /// Whether this principal may act on `workspace` at all. Callers answer 404
    /// when it may not, so that other tenants' workspaces look absent.
    pub fn reaches(&self, workspace: &str) -> bool {
        match self {
            Principal::Operator => true,
            Principal::ApiKey { workspace: own, .. } | Principal::Viewer { workspace: own, .. } => own == workspace,
        }
    }

    /// The roles held (none for the operator, who needs none).
    pub fn roles(&self) -> &[Role] {
        match self {
            Principal::Operator => &[],
            Principal::ApiKey { roles, .. } | Principal::Viewer { roles, .. } => roles,
        }
    }

    /// Whether this principal may hand out (in a key or a viewer token), or take
    /// away, these roles: `superadmin` only if it is the operator or a superadmin
    /// itself, so that admins cannot reach past a switched-off audit log.
    pub fn may_grant(&self, roles: &[Role]) -> bool {
        !roles.contains(&Role::Superadmin)
            || matches!(self, Principal::Operator)
            || self.roles().contains(&Role::Superadmin)
    }

    /// The one record a scoped viewer token may see.
    pub fn record_scope(&self) -> Option<&RecordKey> {
        match self {
            Principal::Viewer { record, .. } => record.as_ref(),
            _ => None,
        }
    }

    /// Whether an event lies within the principal's record scope (always, when
    /// it has none).
    pub fn in_scope(&self, event: &EventBody) -> bool {
        self.record_scope().is_none_or(|scope| {
            event.records().iter().any(|record| record.record_type == scope.record_type && record.id == scope.id)
        })
    }

    /// Whether this principal holds `permission` (within a workspace it reaches).
    pub fn allows(&self, permission: Permission) -> bool {
        match self {
            Principal::Operator => true,
            Principal::ApiKey { roles, .. } => {
                permission != Permission::ManageWorkspaces && roles.iter().any(|role| role.grants(permission))
            }
            // Viewer tokens read logs (and the catalog that labels them), nothing else.
            Principal::Viewer { roles, .. } => {
                matches!(permission, Permission::ReadCatalog | Permission::Export)
                    && roles.iter().any(|role| role.grants(permission))
            }
        }
    }

    /// The categories of events this principal may see in a workspace with these
    /// settings; empty means it may read no log at all.
    pub fn visible_categories(&self, settings: &WorkspaceSettings) -> Vec<Category> {
        match self {
            Principal::Operator => Category::ALL.to_vec(),
            Principal::ApiKey { roles, .. } | Principal::Viewer { roles, .. } => Category::ALL
                .into_iter()
                .filter(|&category| roles.iter().any(|role| role.sees(category, settings)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(roles: &[Role]) -> Principal {
        Principal::ApiKey {
            workspace: "acme".into(),
            key_id: "k".into(),
            key_name: "test".into(),
            roles: roles.to_vec(),
        }
    }

    fn check(roles: &[Role], audit_log_enabled: bool, expected: &[Category]) {
        let settings = WorkspaceSettings { audit_log_enabled };
        assert_eq!(
            key(roles).visible_categories(&settings),
            expected,
            "roles {roles:?}, audit log {audit_log_enabled}"
        );
    }

    #[test]
    fn visibility_follows_the_role_matrix() {
        use Category::*;
        check(&[Role::Publisher], true, &[]);
        check(&[Role::Agent], true, &[]);
        check(&[Role::Supervisor], true, &[Activity]);
        check(&[Role::Setup], true, &[Audit]);
        check(&[Role::Supervisor, Role::Setup], true, &[Activity, Audit]);
        check(&[Role::Auditor], true, &[Activity, Audit]);
        check(&[Role::Admin], true, &[Activity, Audit]);
        check(&[Role::Admin], false, &[Activity]);
        check(&[Role::Setup], false, &[]);
        check(&[Role::Superadmin], false, &[Activity, Audit]);
    }

    #[test]
    fn permissions_follow_the_role_matrix() {
        assert!(key(&[Role::Publisher]).allows(Permission::Ingest));
        assert!(!key(&[Role::Admin]).allows(Permission::Ingest));
        assert!(!key(&[Role::Auditor]).allows(Permission::ManageConfiguration));
        assert!(key(&[Role::Auditor]).allows(Permission::ReadConfiguration));
        assert!(key(&[Role::Admin]).allows(Permission::ManageConfiguration));
        assert!(!key(&[Role::Superadmin]).allows(Permission::ManageWorkspaces));
        assert!(Principal::Operator.allows(Permission::ManageWorkspaces));
        assert!(!key(&[Role::Admin]).reaches("other"));
        assert!(!key(&[Role::Admin]).may_grant(&[Role::Supervisor, Role::Superadmin]));
        assert!(key(&[Role::Admin]).may_grant(&[Role::Admin, Role::Auditor]));
        assert!(
            key(&[Role::Superadmin]).may_grant(&[Role::Superadmin])
                && Principal::Operator.may_grant(&[Role::Superadmin])
        );
        let viewer = Principal::Viewer {
            workspace: "acme".into(),
            actor: Actor { actor_type: crate::ActorType::User, id: "U-1".into(), name: None, email: None, role: None },
            roles: vec![Role::Admin],
            record: None,
        };
        assert!(viewer.allows(Permission::ReadCatalog));
        assert!(!viewer.allows(Permission::ReadConfiguration) && !viewer.allows(Permission::ManageConfiguration));
        assert!(!viewer.allows(Permission::Ingest));
        assert_eq!(viewer.visible_categories(&WorkspaceSettings::default()), [Category::Activity, Category::Audit]);
    }
}
