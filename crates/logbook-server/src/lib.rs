//! Logbook's HTTP API: the only crate that knows HTTP. It turns requests into
//! calls on the core (validation, access rules) and the storage, and answers in
//! JSON, with one error envelope ([`error`]) for every failure.
//!
//! Handlers are grouped by resource in [`routes`]; [`auth`] checks tokens; [`body`]
//! reads bodies within limits; [`openapi`] describes it all; [`ui`] serves the
//! viewer, a web page over the same API.
//!
//! Logging rule: logs carry methods, route templates, statuses and durations,
//! never tokens, emails, IP addresses or bodies.

pub mod audit;
pub mod auth;
pub mod body;
pub mod caller;
pub mod error;
pub mod log_reader;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod ui;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

pub use error::ApiError;
pub use state::{AppState, ServerConfig};

/// The whole API.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/workspaces", get(routes::workspaces::list).post(routes::workspaces::create))
        .route("/workspaces/{workspace}/keys", get(routes::keys::list).post(routes::keys::create))
        .route("/workspaces/{workspace}/keys/{key}", delete(routes::keys::revoke))
        .route("/workspaces/{workspace}/viewer-tokens", post(routes::viewer_tokens::create))
        .route("/workspaces/{workspace}/events", get(routes::events::feed).post(routes::events::ingest))
        .route("/workspaces/{workspace}/events/{id}", get(routes::events::get))
        .route("/workspaces/{workspace}/events/{id}/proof", get(routes::integrity::proof))
        .route("/workspaces/{workspace}/checkpoint", get(routes::integrity::checkpoint))
        .route("/workspaces/{workspace}/consistency", get(routes::integrity::consistency))
        .route("/workspaces/{workspace}/verify", get(routes::integrity::verify))
        .route("/workspaces/{workspace}/export", get(routes::export::export))
        .route("/workspaces/{workspace}/stats", get(routes::stats::stats))
        .route("/log-keys", get(routes::integrity::log_keys))
        .route("/workspaces/{workspace}/records/{type}/{id}/events", get(routes::events::timeline))
        .route("/workspaces/{workspace}/catalog", get(routes::catalog::get).put(routes::catalog::put))
        .route("/workspaces/{workspace}/settings", get(routes::settings::get).put(routes::settings::put))
        .layer(middleware::from_fn_with_state(state.clone(), audit::record_denials));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/openapi.json", get(openapi::serve))
        .merge(ui::routes())
        .fallback(|| async { ApiError::not_found("no such path") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn(ui::require_csrf_header))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Logs one line per request: method, route template, status, duration.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_string(), |path| path.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(%method, %route, status, millis, "request failed");
    } else {
        tracing::debug!(%method, %route, status, millis, "request");
    }
    response.into_response()
}

/// Serves the API on `listener` until `shutdown` completes, then lets requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await
}
