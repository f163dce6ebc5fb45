//! A workspace's catalog: the default actions plus its own, and its mode.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use logbook_core::catalog::{EntrySource, validate_workspace_catalog};
use logbook_core::{ActionSpec, Catalog, CatalogMode, Permission, WorkspaceCatalog};
use logbook_storage::WorkspaceUpdate;
use serde::Serialize;
use serde_json::json;

use crate::audit::{AuditEvent, actor_of, record};
use crate::auth::authorized;
use crate::body::json_document;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// One entry of the catalog in force, with where it comes from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogEntry {
    /// The entry.
    #[serde(flatten)]
    pub spec: ActionSpec,
    /// `default` or `workspace`.
    pub source: EntrySource,
}

/// The catalog in force for a workspace.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogView {
    /// `strict` or `open`.
    pub mode: CatalogMode,
    /// Every action in force, by name.
    pub actions: Vec<CatalogEntry>,
}

fn view(document: &WorkspaceCatalog) -> CatalogView {
    let catalog = Catalog::new(document);
    CatalogView {
        mode: catalog.mode(),
        actions: catalog
            .entries()
            .into_iter()
            .map(|(spec, source)| CatalogEntry { spec: spec.clone(), source })
            .collect(),
    }
}

/// Reads the catalog in force (any role that reads a log, auditor, admin).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/catalog", tag = "catalog",
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = CatalogView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
) -> Result<Json<CatalogView>, ApiError> {
    let (_, workspace) = authorized(&state, &headers, &workspace, Permission::ReadCatalog).await?;
    Ok(Json(view(&workspace.catalog)))
}

/// Replaces the workspace's own entries and mode (admin). The default entries
/// stay; an own entry with a default action's name overrides it.
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/catalog", tag = "catalog", request_body = WorkspaceCatalog,
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = CatalogView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn put(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    caller: Caller,
    body: Body,
) -> Result<Json<CatalogView>, ApiError> {
    let (principal, workspace) =
        authorized(&state, &caller.headers, &workspace, Permission::ManageConfiguration).await?;
    let document: WorkspaceCatalog = json_document(&caller.headers, body).await?;
    validate_workspace_catalog(&document).map_err(ApiError::invalid_request)?;
    let update = WorkspaceUpdate { catalog: Some(document), ..WorkspaceUpdate::default() };
    let updated = state.storage().update_workspace(&workspace.id, update).await?;
    let event = AuditEvent::on_workspace("workspace.catalog_changed", actor_of(&principal), &workspace.id)
        .with("mode", json!(updated.catalog.mode))
        .with("workspace_actions", updated.catalog.actions.len());
    record(&state, &workspace.id, caller.address, event).await?;
    Ok(Json(view(&updated.catalog)))
}
