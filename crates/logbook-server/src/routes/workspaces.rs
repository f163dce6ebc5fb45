//! Workspaces: created and listed with the operator token.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use logbook_core::workspace::is_valid_workspace_id;
use logbook_core::{FieldIssue, Permission, Timestamp, Workspace, WorkspaceSettings};
use logbook_storage::NewWorkspace;
use serde::{Deserialize, Serialize};

use crate::auth::{authenticate, require};
use crate::body::json_document;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// `POST /v1/workspaces` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Identifier used in URLs: `[a-z0-9][a-z0-9-]{0,62}`.
    pub id: String,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
}

/// A workspace as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkspaceView {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Its settings.
    pub settings: WorkspaceSettings,
    /// How many events its log holds.
    pub event_count: u64,
}

impl From<Workspace> for WorkspaceView {
    fn from(workspace: Workspace) -> WorkspaceView {
        WorkspaceView {
            id: workspace.id,
            name: workspace.name,
            created_at: workspace.created_at,
            settings: workspace.settings,
            event_count: workspace.event_count,
        }
    }
}

/// `GET /v1/workspaces` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkspaceList {
    /// Every workspace, by id.
    pub workspaces: Vec<WorkspaceView>,
}

/// Creates a workspace (operator token).
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", request_body = CreateWorkspace,
    security(("bearer" = [])),
    responses(
        (status = 201, body = WorkspaceView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 409, description = "the id is taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let principal = authenticate(&state, &headers).await?;
    require(&principal, Permission::ManageWorkspaces)?;
    let request: CreateWorkspace = json_document(&headers, body).await?;
    if !is_valid_workspace_id(&request.id) {
        return Err(ApiError::invalid_request(vec![FieldIssue::new(
            "id",
            "must match [a-z0-9][a-z0-9-]{0,62}: lowercase letters, digits and dashes",
        )]));
    }
    let name = request.name.unwrap_or_else(|| request.id.clone());
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid_request(vec![FieldIssue::new("name", "must be 1 to 200 characters")]));
    }
    let workspace =
        state.storage().create_workspace(NewWorkspace { id: request.id, name, created_at: state.now() }).await?;
    Ok((StatusCode::CREATED, Json(workspace.into())))
}

/// Lists workspaces (operator token).
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    responses((status = 200, body = WorkspaceList), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<WorkspaceList>, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    require(&principal, Permission::ManageWorkspaces)?;
    let workspaces = state.storage().list_workspaces().await?;
    Ok(Json(WorkspaceList { workspaces: workspaces.into_iter().map(WorkspaceView::from).collect() }))
}
