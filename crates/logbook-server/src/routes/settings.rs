//! A workspace's settings: its name and whether its audit log is on.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use logbook_core::{FieldIssue, Permission, Workspace, WorkspaceSettings};
use logbook_storage::WorkspaceUpdate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{AuditEvent, actor_of, record};
use crate::auth::authorized;
use crate::body::json_document;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// The settings document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// Display name.
    pub name: String,
    /// When false, only `superadmin` sees audit-category events.
    pub audit_log_enabled: bool,
}

impl From<Workspace> for SettingsView {
    fn from(workspace: Workspace) -> SettingsView {
        SettingsView { name: workspace.name, audit_log_enabled: workspace.settings.audit_log_enabled }
    }
}

/// `PUT …/settings` body: fields left out keep their value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// A new display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Switch the audit log on or off.
    #[serde(default)]
    pub audit_log_enabled: Option<bool>,
}

/// Reads a workspace's settings (auditor, admin).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/settings", tag = "settings",
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SettingsView>, ApiError> {
    let (_, workspace) = authorized(&state, &headers, &workspace, Permission::ReadConfiguration).await?;
    Ok(Json(workspace.into()))
}

/// Changes a workspace's settings (admin).
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/settings", tag = "settings", request_body = SettingsUpdate,
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn put(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    caller: Caller,
    body: Body,
) -> Result<Json<SettingsView>, ApiError> {
    let (principal, workspace) =
        authorized(&state, &caller.headers, &workspace, Permission::ManageConfiguration).await?;
    let request: SettingsUpdate = json_document(&caller.headers, body).await?;
    if let Some(name) = &request.name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        return Err(ApiError::invalid_request(vec![FieldIssue::new("name", "must be 1 to 200 characters")]));
    }
    let settings = request.audit_log_enabled.map(|audit_log_enabled| WorkspaceSettings { audit_log_enabled });
    let update = WorkspaceUpdate { name: request.name, settings, catalog: None };
    let updated = state.storage().update_workspace(&workspace.id, update).await?;
    let mut changes = Vec::new();
    if updated.name != workspace.name {
        changes.push(json!({"field": "name", "from": workspace.name, "to": updated.name}));
    }
    if updated.settings.audit_log_enabled != workspace.settings.audit_log_enabled {
        changes.push(json!({"field": "audit_log_enabled", "from": workspace.settings.audit_log_enabled, "to": updated.settings.audit_log_enabled}));
    }
    if !changes.is_empty() {
        let event = AuditEvent {
            changes,
            ..AuditEvent::on_workspace("workspace.settings_changed", actor_of(&principal), &workspace.id)
        };
        record(&state, &workspace.id, caller.address, event).await?;
    }
    Ok(Json(updated.into()))
}
