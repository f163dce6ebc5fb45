//! Logbook's own audit events: reads of the audit log, exports, key and viewer
//! token changes, settings and catalog changes, and denied requests, written into
//! the workspace's log like any other event, attributed to the caller and its IP.
//!
//! Denials are recorded by a middleware for every 401 and 403 on a workspace's
//! paths, at most once a minute per caller, route and status, so that a flood of
//! bad tokens cannot flood the log; views of the audit log likewise at most once a
//! minute per caller and view, so that paging and refining filters are one visit.
//! The presented secret is never stored: only an API key's public id, or a viewer
//! token's actor.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use logbook_core::integrity::Commitments;
use logbook_core::validate::validate_own_event;
use logbook_core::viewer_token::{VIEWER_TOKEN_PREFIX, ViewerClaims};
use logbook_core::{Catalog, Principal, Timestamp, WorkspaceCatalog};
use logbook_storage::NewEvent;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::auth::{KEY_TOKEN_PREFIX, random_salt};
use crate::caller::peer_address;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a recorded denial or view silences the same one.
const QUIET_MILLIS: i64 = 60_000;

/// The most keys remembered before old ones are forgotten.
const MEMORY: usize = 10_000;

/// Remembers recently recorded denials and views, to record each at most once a
/// minute.
#[derive(Default)]
pub struct RecordThrottle {
    recent: Mutex<HashMap<String, Timestamp>>,
}

impl RecordThrottle {
    /// Whether an audit event with this key should be recorded now.
    pub fn admit(&self, key: String, now: Timestamp) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if recent.len() >= MEMORY {
            recent.retain(|_, at| at.plus_millis(QUIET_MILLIS) > now);
        }
        match recent.get(&key) {
            Some(at) if at.plus_millis(QUIET_MILLIS) > now => false,
            _ => {
                recent.insert(key, now);
                true
            }
        }
    }
}

/// The actor an audit event names for a principal.
pub fn actor_of(principal: &Principal) -> Value {
    match principal {
        Principal::Operator => json!({"type": "system", "id": "operator", "name": "Logbook operator"}),
        Principal::ApiKey { key_id, key_name, .. } => json!({"type": "api", "id": key_id, "name": key_name}),
        Principal::Viewer { actor, .. } => {
            serde_json::to_value(actor).unwrap_or_else(|_| json!({"type": "user", "id": "unknown"}))
        }
    }
}

/// One audit event to record.
pub struct AuditEvent {
    /// The catalog action, e.g. `api_key.created`.
    pub action: &'static str,
    /// Who did it (see [`actor_of`]).
    pub actor: Value,
    /// What it was done to: `{type, id, name?}`.
    pub target: Value,
    /// Extra facts: filters, counts, roles.
    pub metadata: Map<String, Value>,
    /// Previous and new values, if any.
    pub changes: Vec<Value>,
    /// Whether it succeeded.
    pub success: bool,
}

impl AuditEvent {
    /// An event about the workspace itself.
    pub fn on_workspace(action: &'static str, actor: Value, workspace: &str) -> AuditEvent {
        AuditEvent {
            action,
            actor,
            target: json!({"type": "workspace", "id": workspace}),
            metadata: Map::new(),
            changes: Vec::new(),
            success: true,
        }
    }

    /// Adds a metadata entry.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> AuditEvent {
        self.metadata.insert(key.to_string(), value.into());
        self
    }
}

/// Appends an audit event to a workspace's log, durably, before the caller answers.
pub async fn record(
    state: &AppState,
    workspace: &str,
    address: Option<IpAddr>,
    event: AuditEvent,
) -> Result<(), ApiError> {
    let mut value = json!({
        "action": event.action,
        "actor": event.actor,
        "target": event.target,
        "outcome": if event.success { "success" } else { "failure" },
        "metadata": event.metadata,
    });
    if let Some(address) = address {
        value["context"] = json!({"ip": address.to_string()});
    }
    if !event.changes.is_empty() {
        value["changes"] = Value::Array(event.changes);
    }
    // Logbook's own actions are checked against the default catalog, which a
    // workspace's overrides cannot break.
    let default_catalog = WorkspaceCatalog::default();
    let body =
        validate_own_event(&value, &Catalog::new(&default_catalog), state.now(), state.limits()).map_err(|issues| {
            tracing::error!(action = event.action, ?issues, "an audit event is invalid");
            ApiError::internal()
        })?;
    let commitments = Commitments::commit(&body, random_salt);
    let new_event = NewEvent { id: uuid::Uuid::now_v7().to_string(), body, commitments };
    state.storage().append(workspace, vec![new_event]).await?;
    Ok(())
}

/// The workspace a `/v1/workspaces/{workspace}/…` path names.
fn workspace_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/workspaces/")?;
    let workspace = rest.split('/').next()?;
    (!workspace.is_empty()).then_some(workspace)
}

/// The actor behind a presented token, without its secret. A key id counts only
/// when it names a key of this workspace: made-up ids all read `unknown-key`, so
/// they cannot multiply the records.
async fn presented_actor(state: &AppState, workspace: &str, token: Option<&str>) -> Value {
    let Some(token) = token else {
        return json!({"type": "api", "id": "anonymous"});
    };
    if let Some((key_id, _secret)) = token.strip_prefix(KEY_TOKEN_PREFIX).and_then(|rest| rest.split_once('_')) {
        let known = matches!(state.storage().api_key(key_id).await, Ok(Some(key)) if key.workspace == workspace);
        return json!({"type": "api", "id": if known { key_id } else { "unknown-key" }});
    }
    if token.starts_with(VIEWER_TOKEN_PREFIX) {
        // An expired or forged token names nobody we can trust.
        return match ViewerClaims::decode(token, state.viewer_secret(), state.now()) {
            Ok(claims) => {
                serde_json::to_value(claims.actor).unwrap_or_else(|_| json!({"type": "user", "id": "unknown"}))
            }
            Err(_) => json!({"type": "api", "id": "invalid-viewer-token"}),
        };
    }
    json!({"type": "api", "id": "unknown-token"})
}

/// Records every 401 and 403 on a workspace's paths as `authz.denied`.
pub async fn record_denials(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Inside the nested `/v1` router the URI has lost its prefix; the original has it.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path().to_string(), |uri| uri.path().to_string());
    // The workspace is percent-decoded, as the handlers' `Path` decodes it.
    let workspace = workspace_of(&path)
        .and_then(|raw| percent_decode_str(raw).decode_utf8().ok().map(|decoded| decoded.into_owned()));
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string());
    let method = request.method().to_string();
    let address = peer_address(request.extensions());
    let token = crate::auth::presented_token(request.headers()).ok().map(str::to_string);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let (Some(workspace), Some(route), 401 | 403) = (workspace, route, status) else { return response };
    let actor = presented_actor(&state, &workspace, token.as_deref()).await;
    let key = format!("{workspace}|{}|{route}|{status}|{method}", actor["id"]);
    if !state.throttle().admit(key, state.now()) {
        return response;
    }
    match state.storage().workspace(&workspace).await {
        Ok(Some(_)) => {
            let event = AuditEvent { success: false, ..AuditEvent::on_workspace("authz.denied", actor, &workspace) }
                .with("method", method)
                .with("route", route)
                .with("status", status);
            if let Err(error) = record(&state, &workspace, address, event).await {
                tracing::warn!(status = error.status().as_u16(), "a denial could not be recorded");
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "a denial could not be recorded"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_in_paths() {
        assert_eq!(workspace_of("/v1/workspaces/acme/events"), Some("acme"));
        assert_eq!(workspace_of("/v1/workspaces/acme"), Some("acme"));
        assert_eq!(workspace_of("/v1/workspaces"), None);
        assert_eq!(workspace_of("/v1/log-keys"), None);
    }

    #[test]
    fn the_throttle_admits_once_a_minute() {
        let throttle = RecordThrottle::default();
        let start = Timestamp::from_millis(0);
        assert!(throttle.admit("a".into(), start));
        assert!(!throttle.admit("a".into(), start.plus_millis(59_000)));
        assert!(throttle.admit("b".into(), start.plus_millis(59_000)));
        assert!(throttle.admit("a".into(), start.plus_millis(60_001)));
    }
}
