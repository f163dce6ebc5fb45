//! API keys of a workspace: the secret is shown once, stored only as a hash.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use logbook_core::{FieldIssue, Permission, Role, Timestamp};
use logbook_storage::{ApiKey, NewApiKey};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{AuditEvent, actor_of, record};
use crate::auth::{authorized, hash_secret, new_key_token};
use crate::body::json_document;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// `POST /v1/workspaces/{workspace}/keys` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A label, such as "helpdesk backend".
    pub name: String,
    /// One or more roles.
    pub roles: Vec<Role>,
}

/// A key as listed: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Identifier (also part of the token).
    pub id: String,
    /// Label.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used (to the minute), if ever.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl From<ApiKey> for KeyView {
    fn from(key: ApiKey) -> KeyView {
        KeyView {
            id: key.id,
            name: key.name,
            roles: key.roles,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A created key, with its token: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// Identifier.
    pub id: String,
    /// The bearer token. Logbook keeps only a hash of it and cannot show it again.
    pub token: String,
    /// Label.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// `GET /v1/workspaces/{workspace}/keys` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// The workspace's keys, oldest first, revoked ones included.
    pub keys: Vec<KeyView>,
}

/// Creates an API key (admin).
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/keys", tag = "keys", request_body = CreateKey,
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 201, body = CreatedKey), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let (principal, workspace) =
        authorized(&state, &caller.headers, &workspace, Permission::ManageConfiguration).await?;
    let request: CreateKey = json_document(&caller.headers, body).await?;
    let mut issues = Vec::new();
    if request.name.trim().is_empty() || request.name.chars().count() > 200 {
        issues.push(FieldIssue::new("name", "must be 1 to 200 characters"));
    }
    if request.roles.is_empty() {
        issues.push(FieldIssue::new("roles", "name at least one role"));
    }
    if !principal.may_grant(&request.roles) {
        issues.push(FieldIssue::new("roles", "only a superadmin may create superadmin keys"));
    }
    if !issues.is_empty() {
        return Err(ApiError::invalid_request(issues));
    }
    let roles: Vec<Role> = request.roles.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    let (id, secret, token) = new_key_token();
    let key = state
        .storage()
        .create_api_key(NewApiKey {
            id,
            workspace: workspace.id.clone(),
            name: request.name,
            roles,
            secret_hash: hash_secret(&secret),
            created_at: state.now(),
        })
        .await?;
    let mut event = AuditEvent::on_workspace("api_key.created", actor_of(&principal), &workspace.id)
        .with("roles", json!(key.roles));
    event.target = json!({"type": "api_key", "id": key.id, "name": key.name});
    record(&state, &workspace.id, caller.address, event).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey { id: key.id, token, name: key.name, roles: key.roles, created_at: key.created_at }),
    ))
}

/// Lists a workspace's API keys (auditor, admin).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/keys", tag = "keys",
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = KeyList), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
) -> Result<Json<KeyList>, ApiError> {
    let (_, workspace) = authorized(&state, &headers, &workspace, Permission::ReadConfiguration).await?;
    let keys = state.storage().list_api_keys(&workspace.id).await?;
    Ok(Json(KeyList { keys: keys.into_iter().map(KeyView::from).collect() }))
}

/// Revokes an API key, with immediate effect (admin).
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/keys/{key}", tag = "keys",
    params(("workspace" = String, Path, description = "workspace id"), ("key" = String, Path, description = "key id")),
    security(("bearer" = [])),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn revoke(
    State(state): State<AppState>,
    Path((workspace, key_id)): Path<(String, String)>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let (principal, workspace) =
        authorized(&state, &caller.headers, &workspace, Permission::ManageConfiguration).await?;
    let key = state.storage().api_key(&key_id).await?.filter(|key| key.workspace == workspace.id);
    let Some(key) = key else { return Err(ApiError::not_found(format!("key {key_id} not found"))) };
    if !principal.may_grant(&key.roles) {
        return Err(ApiError::forbidden("only a superadmin may revoke superadmin keys"));
    }
    state.storage().revoke_api_key(&workspace.id, &key.id, state.now()).await?;
    let mut event = AuditEvent::on_workspace("api_key.revoked", actor_of(&principal), &workspace.id)
        .with("roles", json!(key.roles));
    event.target = json!({"type": "api_key", "id": key.id, "name": key.name});
    record(&state, &workspace.id, caller.address, event).await?;
    Ok(StatusCode::NO_CONTENT)
}
