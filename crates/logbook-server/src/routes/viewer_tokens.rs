//! Viewer tokens: minted by the embedding product's backend for one of its users,
//! so that the viewer can be embedded in the product's pages. They only read,
//! only their workspace, only their record when scoped, and expire.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use logbook_core::viewer_token::{MAX_TTL_SECONDS, ViewerClaims};
use logbook_core::{Actor, FieldIssue, Permission, Principal, RecordKey, Role, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{AuditEvent, actor_of, record};
use crate::auth::authorized;
use crate::body::json_document;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// The lifetime of a viewer token when none is asked for, in seconds.
pub const DEFAULT_TTL_SECONDS: u64 = 600;

/// `POST /v1/workspaces/{workspace}/viewer-tokens` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateViewerToken {
    /// The end user the token is for; reads are attributed to them.
    pub actor: Actor,
    /// Their roles (not `publisher`: viewer tokens only read).
    pub roles: Vec<Role>,
    /// `type:id`: the one record whose timeline the token may see.
    #[serde(default)]
    pub record: Option<String>,
    /// Lifetime in seconds, 1 to 86400; default 600.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// A minted viewer token.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedViewerToken {
    /// The bearer token (`lbv_…`), sent as `Authorization: Bearer`.
    pub token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its record scope, if any.
    pub record: Option<String>,
}

fn check(request: &CreateViewerToken, minter: &Principal) -> Result<Option<RecordKey>, ApiError> {
    let mut issues = Vec::new();
    let text_ok = |text: &str| !text.trim().is_empty() && text.chars().count() <= 1024;
    if !text_ok(&request.actor.id) {
        issues.push(FieldIssue::new("actor.id", "must be 1 to 1024 characters"));
    }
    for (field, value) in [
        ("actor.name", &request.actor.name),
        ("actor.email", &request.actor.email),
        ("actor.role", &request.actor.role),
    ] {
        if value.as_deref().is_some_and(|value| !text_ok(value)) {
            issues.push(FieldIssue::new(field, "must be 1 to 1024 characters"));
        }
    }
    if request.roles.is_empty() {
        issues.push(FieldIssue::new("roles", "name at least one role"));
    }
    if request.roles.contains(&Role::Publisher) {
        issues.push(FieldIssue::new("roles", "viewer tokens only read; publisher is not allowed"));
    }
    if !minter.may_grant(&request.roles) {
        issues.push(FieldIssue::new("roles", "only a superadmin may mint superadmin viewer tokens"));
    }
    let record = match request.record.as_deref() {
        None => None,
        Some(text) => {
            let record = RecordKey::parse(text);
            if record.is_none() {
                issues.push(FieldIssue::new("record", "must read type:id, such as ticket:T-42"));
            }
            record
        }
    };
    if request.ttl_seconds.is_some_and(|ttl| ttl == 0 || ttl > MAX_TTL_SECONDS) {
        issues.push(FieldIssue::new("ttl_seconds", format!("must be from 1 to {MAX_TTL_SECONDS} (24 hours)")));
    }
    if issues.is_empty() { Ok(record) } else { Err(ApiError::invalid_request(issues)) }
}

/// Mints a short-lived, read-only token for one end user (admin).
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/viewer-tokens", tag = "keys", request_body = CreateViewerToken,
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 201, body = CreatedViewerToken), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<CreatedViewerToken>), ApiError> {
    let (principal, workspace) = authorized(&state, &caller.headers, &workspace, Permission::MintViewerTokens).await?;
    let request: CreateViewerToken = json_document(&caller.headers, body).await?;
    check(&request, &principal)?;
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    let expires_at = state.now().plus_millis(i64::try_from(ttl * 1000).unwrap_or(i64::MAX));
    let claims = ViewerClaims {
        workspace: workspace.id.clone(),
        actor: request.actor.clone(),
        roles: request.roles.clone(),
        record: request.record.clone(),
        expires_at,
    };
    let token = claims.encode(state.viewer_secret());
    let mut event = AuditEvent::on_workspace("viewer_token.created", actor_of(&principal), &workspace.id)
        .with("roles", json!(request.roles))
        .with("ttl_seconds", ttl);
    // The end user's name is personal data; only committed fields may hold it, so
    // the target names the user by id alone.
    event.target = json!({"type": "viewer_token", "id": request.actor.id});
    if let Some(record) = &request.record {
        event = event.with("record", record.as_str());
    }
    record(&state, &workspace.id, caller.address, event).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedViewerToken { token, expires_at, roles: request.roles, record: request.record }),
    ))
}
