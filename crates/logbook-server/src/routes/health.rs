//! Liveness and readiness probes; no authentication.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// A probe's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The process can serve: its storage reads and its writer commits.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Status),
    (status = 503, description = "storage unavailable", body = ErrorEnvelope),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    match state.storage().ping().await {
        Ok(()) => Ok(Json(Status { status: "ready" })),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            Err(ApiError::unavailable("storage is not ready"))
        }
    }
}
