//! Bearer-token authentication: the operator token, workspace API keys and viewer
//! tokens. The viewer's sign-in (`crate::ui::session`) keeps an API key in an
//! HttpOnly, SameSite=Strict cookie; a request without an `Authorization` header
//! is authenticated by that cookie instead (writes made that way must also carry
//! the viewer's CSRF header, see `crate::ui::require_csrf_header`).
//!
//! API key tokens read `lbk_<id>_<secret>`. Only SHA-256 of the secret is stored
//! (the secret is 32 random bytes, so a fast hash is enough), and it is compared
//! in constant time. Neither tokens nor hashes are ever logged.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logbook_core::viewer_token::{VIEWER_TOKEN_PREFIX, ViewerClaims, ViewerTokenError};
use logbook_core::{Permission, Principal, RecordKey, Timestamp, Workspace};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// The prefix of API key tokens.
pub const KEY_TOKEN_PREFIX: &str = "lbk_";

/// How stale `last_used_at` may get before a use updates it.
const LAST_USED_RESOLUTION_MILLIS: i64 = 60_000;

/// SHA-256 of a token or secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// `count` random bytes from the operating system.
pub fn random_bytes(count: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// A fresh 32-byte salt for a personal-field commitment.
pub fn random_salt() -> [u8; 32] {
    random_bytes(32).try_into().expect("32 random bytes")
}

/// A new key id and secret, and the token that joins them.
pub fn new_key_token() -> (String, String, String) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String =
        random_bytes(12).into_iter().map(|byte| ALPHABET[usize::from(byte) % ALPHABET.len()] as char).collect();
    let secret = URL_SAFE_NO_PAD.encode(random_bytes(32));
    let token = format!("{KEY_TOKEN_PREFIX}{id}_{secret}");
    (id, secret, token)
}

/// The name of the viewer's session cookie, which holds an API key.
pub const SESSION_COOKIE: &str = "logbook_session";

/// The value of the viewer's session cookie, when the request carries one that
/// holds an API key (the only kind of token the sign-in puts there).
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| value.starts_with(KEY_TOKEN_PREFIX))
}

/// The token a request presents: its `Authorization: Bearer` token, or else its
/// session cookie. An `Authorization` header always wins, so that an API client
/// never acts with a browser's session by accident.
pub fn presented_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return session_cookie(headers).ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer <token>"));
    };
    let value = value.to_str().map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
    let (scheme, token) =
        value.split_once(' ').ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthenticated("send Authorization: Bearer <token>"));
    }
    Ok(token.trim())
}

/// Checks the request's token and says who is calling.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = presented_token(headers)?;
    let invalid = || ApiError::unauthenticated("the token is not valid");
    if bool::from(hash_secret(token).ct_eq(state.operator_token_hash())) {
        return Ok(Principal::Operator);
    }
    if token.starts_with(VIEWER_TOKEN_PREFIX) {
        let claims = ViewerClaims::decode(token, state.viewer_secret(), state.now()).map_err(|error| match error {
            ViewerTokenError::Expired => ApiError::unauthenticated("the viewer token has expired"),
            ViewerTokenError::Invalid => invalid(),
        })?;
        let record =
            claims.record.as_deref().map(RecordKey::parse).map(|record| record.ok_or_else(invalid)).transpose()?;
        return Ok(Principal::Viewer { workspace: claims.workspace, actor: claims.actor, roles: claims.roles, record });
    }
    let rest = token.strip_prefix(KEY_TOKEN_PREFIX).ok_or_else(invalid)?;
    let (key_id, secret) = rest.split_once('_').ok_or_else(invalid)?;
    let key = state.storage().api_key(key_id).await?.ok_or_else(invalid)?;
    if !bool::from(hash_secret(secret).ct_eq(&key.secret_hash)) || key.revoked_at.is_some() {
        return Err(invalid());
    }
    let now = state.now();
    let stale = key.last_used_at.is_none_or(|used| used.plus_millis(LAST_USED_RESOLUTION_MILLIS) < now);
    if stale {
        let storage = state.storage().clone();
        let key_id = key.id.clone();
        tokio::spawn(async move {
            if let Err(error) = storage.touch_api_key(&key_id, now).await {
                tracing::warn!(%error, "could not record a key's last use");
            }
        });
    }
    Ok(Principal::ApiKey { workspace: key.workspace, key_id: key.id, key_name: key.name, roles: key.roles })
}

/// Authenticates, then loads the workspace the path names. A workspace the caller
/// cannot reach answers 404 exactly like one that does not exist.
pub async fn workspace_access(
    state: &AppState,
    headers: &HeaderMap,
    workspace: &str,
) -> Result<(Principal, Workspace), ApiError> {
    let principal = authenticate(state, headers).await?;
    let not_found = || ApiError::not_found(format!("workspace {workspace} not found"));
    if !principal.reaches(workspace) {
        return Err(not_found());
    }
    let workspace = state.storage().workspace(workspace).await?.ok_or_else(not_found)?;
    Ok((principal, workspace))
}

/// Authenticates, loads the workspace, and requires `permission` there.
pub async fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    workspace: &str,
    permission: Permission,
) -> Result<(Principal, Workspace), ApiError> {
    let (principal, workspace) = workspace_access(state, headers, workspace).await?;
    require(&principal, permission)?;
    Ok((principal, workspace))
}

/// Refuses with 403 unless the principal holds `permission`.
pub fn require(principal: &Principal, permission: Permission) -> Result<(), ApiError> {
    if principal.allows(permission) {
        return Ok(());
    }
    let needed = match permission {
        Permission::Ingest => "sending events needs the publisher role",
        Permission::ReadCatalog => "reading the catalog needs a role that can read a log",
        Permission::ReadConfiguration => {
            "reading configuration needs an API key with the auditor, admin or superadmin role"
        }
        Permission::ManageConfiguration => "changing configuration needs an API key with the admin or superadmin role",
        Permission::ManageWorkspaces => "managing workspaces needs the operator token",
        Permission::Export => "exporting needs the auditor, admin or superadmin role",
        Permission::MintViewerTokens => "minting viewer tokens needs the admin or superadmin role",
    };
    Err(ApiError::forbidden(needed))
}

/// The current time, to the millisecond.
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}
