//! The viewer's session: who the page is signed in as, signing in with an API key
//! (kept in an HttpOnly, SameSite=Strict cookie that the page's script cannot
//! read) and signing out.
//!
//! The cookie holds the API key itself, so that the key's revocation ends every
//! session at once and nothing is stored per session. It is a session cookie (no
//! expiry) scoped to the whole origin, because the page calls `/v1` with it. The
//! key is never logged and never put in a URL.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use logbook_core::{Category, Permission, Principal, Role};
use serde::{Deserialize, Serialize};

use crate::auth::{KEY_TOKEN_PREFIX, SESSION_COOKIE, authenticate};
use crate::body::json_document;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::secure;

/// What the page needs to know about whoever it is signed in as.
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The workspace the page shows.
    pub workspace: String,
    /// Its display name.
    pub workspace_name: String,
    /// `api_key` (signed in with the cookie) or `viewer` (an embedded viewer token).
    pub kind: String,
    /// The key's name, or the viewer's display name (or id).
    pub name: String,
    /// The roles held.
    pub roles: Vec<Role>,
    /// The categories of events it may see.
    pub categories: Vec<Category>,
    /// `type:id` when it may see one record only.
    pub record: Option<String>,
    /// Whether it may export.
    pub can_export: bool,
    /// Whether the session cookie (rather than a bearer token) authenticated it.
    pub cookie: bool,
}

/// The sign-in body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// A workspace API key (`lbk_...`).
    pub token: String,
}

/// Describes the principal for the page; 403 for the operator or a token that can
/// read no log, since the viewer shows one workspace's logs.
async fn describe(state: &AppState, principal: Principal, cookie: bool) -> Result<SessionInfo, ApiError> {
    let (workspace, kind, name) = match &principal {
        Principal::Operator => {
            return Err(ApiError::forbidden("the viewer shows one workspace: sign in with a workspace API key"));
        }
        Principal::ApiKey { workspace, key_name, .. } => (workspace.clone(), "api_key", key_name.clone()),
        Principal::Viewer { workspace, actor, .. } => {
            (workspace.clone(), "viewer", actor.name.clone().unwrap_or_else(|| actor.id.clone()))
        }
    };
    let workspace = state
        .storage()
        .workspace(&workspace)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("workspace {workspace} not found")))?;
    let categories = principal.visible_categories(&workspace.settings);
    if categories.is_empty() {
        return Err(ApiError::forbidden("this key cannot read any log of its workspace"));
    }
    Ok(SessionInfo {
        workspace: workspace.id,
        workspace_name: workspace.name,
        kind: kind.to_string(),
        name,
        roles: principal.roles().to_vec(),
        categories,
        record: principal.record_scope().map(|record| format!("{}:{}", record.record_type, record.id)),
        can_export: principal.allows(Permission::Export),
        cookie,
    })
}

/// `GET /ui/session`: who the page is signed in as (by cookie or bearer token);
/// 401 when it is not.
pub async fn info(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cookie = !headers.contains_key(AUTHORIZATION);
    let answer = match authenticate(&state, &headers).await {
        Ok(principal) => describe(&state, principal, cookie).await.map(Json),
        Err(error) => Err(error),
    };
    secure(no_store(answer.into_response()))
}

/// `POST /ui/session` `{"token": "lbk_..."}`: checks the key and, when it can read
/// a log, sets the session cookie. Needs the viewer's CSRF header.
pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    secure(no_store(match sign_in_checked(&state, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }))
}

async fn sign_in_checked(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let SignIn { token } = json_document(headers, body).await?;
    let token = token.trim().to_string();
    if !token.starts_with(KEY_TOKEN_PREFIX) || !token.bytes().all(|byte| byte.is_ascii_graphic() && byte != b';') {
        return Err(ApiError::unauthenticated("sign in with a workspace API key (lbk_...)"));
    }
    let mut presented = HeaderMap::new();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ApiError::unauthenticated("the key is not valid"))?;
    presented.insert(AUTHORIZATION, bearer);
    let principal = authenticate(state, &presented).await?;
    let info = describe(state, principal, true).await?;
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    let mut response = Json(info).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| ApiError::unauthenticated("the key is not valid"))?,
    );
    Ok(response)
}

/// `DELETE /ui/session`: forgets the session cookie. Needs the CSRF header.
pub async fn sign_out() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    response.headers_mut().insert(SET_COOKIE, HeaderValue::from_str(&expired).expect("a cookie is ASCII"));
    secure(no_store(response))
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
