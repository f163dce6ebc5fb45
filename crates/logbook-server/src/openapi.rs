//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/openapi.json`. `docs/openapi.json` is its snapshot; a test fails when the
//! two differ (`UPDATE_SNAPSHOTS=1` rewrites the snapshot).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("The operator token, or a workspace API key (lbk_…)"))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Logbook", description = "Tamper-evident activity and audit logs for support and QA platforms."),
    modifiers(&BearerAuth),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::workspaces::create,
        routes::workspaces::list,
        routes::keys::create,
        routes::keys::list,
        routes::keys::revoke,
        routes::viewer_tokens::create,
        routes::events::ingest,
        routes::events::feed,
        routes::events::get,
        routes::events::timeline,
        routes::export::export,
        routes::stats::stats,
        routes::integrity::log_keys,
        routes::integrity::checkpoint,
        routes::integrity::proof,
        routes::integrity::consistency,
        routes::integrity::verify,
        routes::catalog::get,
        routes::catalog::put,
        routes::settings::get,
        routes::settings::put,
    ),
    tags(
        (name = "events", description = "Ingest, the feed, record timelines"),
        (name = "workspaces", description = "Tenants (operator token)"),
        (name = "keys", description = "Workspace API keys"),
        (name = "catalog", description = "The actions a workspace accepts"),
        (name = "settings", description = "Workspace settings"),
        (name = "integrity", description = "Checkpoints, proofs and verification of the tamper-evident log"),
        (name = "health", description = "Probes"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON text, exactly as the snapshot stores it.
pub fn document() -> String {
    let mut document = ApiDoc::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_string();
    document.to_pretty_json().expect("the OpenAPI document serialises")
}

/// Serves the document.
pub async fn serve() -> Json<serde_json::Value> {
    Json(serde_json::from_str(&document()).expect("the OpenAPI document is JSON"))
}
