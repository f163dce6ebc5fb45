//! The viewer's static files, compiled into the binary from `ui/` so that one
//! binary is the whole deployment, and served with their content type, an ETag
//! and the viewer's security headers.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::ui::secure;

/// One embedded file.
pub struct Asset {
    /// Its name under `/ui/assets/`.
    pub name: &'static str,
    /// Its content type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

/// The page itself.
pub const INDEX: &str = include_str!("../../ui/index.html");

/// Every file under `/ui/assets/`.
pub const ASSETS: &[Asset] = &[
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", body: include_str!("../../ui/app.css") },
    Asset { name: "icon.svg", content_type: "image/svg+xml", body: include_str!("../../ui/icon.svg") },
    Asset { name: "main.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../../ui/main.js") },
    Asset { name: "api.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../../ui/api.js") },
    Asset { name: "dom.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../../ui/dom.js") },
    Asset {
        name: "filters.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../ui/filters.js"),
    },
    Asset { name: "feed.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../../ui/feed.js") },
    Asset {
        name: "detail.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../ui/detail.js"),
    },
    Asset { name: "chart.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../../ui/chart.js") },
    Asset { name: "proof.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../../ui/proof.js") },
    Asset { name: "diff.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../../ui/diff.js") },
];

/// The ETag of every asset, computed once.
fn etags() -> &'static Vec<String> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body.as_bytes());
                let hex: String = digest[..12].iter().map(|byte| format!("{byte:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// `GET /ui/`: the page. Never cached, so that a new binary's page is used at once.
pub async fn index() -> Response {
    let mut response = INDEX.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(response)
}

/// `GET /ui/assets/{name}`: a script, the style sheet or the icon; revalidated
/// with its ETag on every load.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|asset| asset.name == name) else {
        return secure(ApiError::not_found("no such asset").into_response());
    };
    let (asset, etag) = (&ASSETS[index], &etags()[index]);
    let fresh = headers.get(IF_NONE_MATCH).and_then(|value| value.to_str().ok()).is_some_and(|value| value == etag);
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(ETAG, HeaderValue::from_str(etag).expect("an ETag is ASCII"));
    secure(response)
}
