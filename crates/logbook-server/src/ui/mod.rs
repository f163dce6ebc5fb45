//! The viewer (DESIGN.md section 7): a web page at `/ui/` that shows a
//! workspace's feed, record timelines, event details with their integrity proofs,
//! and exports, through the same `/v1` API every client uses.
//!
//! The page is a few static files compiled into the binary ([`assets`]): HTML,
//! CSS and vanilla JavaScript modules, with nothing loaded from other hosts. Every
//! answer under `/ui` carries a Content-Security-Policy that allows scripts and
//! styles from this origin only, so that no inline script can run even if a value
//! escaped its text node. [`session`] signs a browser in with an API key kept in
//! an HttpOnly, SameSite=Strict cookie; embedded pages use a viewer token instead,
//! kept by the page and sent as a bearer token.

pub mod assets;
pub mod session;

use axum::Router;
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::auth::session_cookie;
use crate::error::ApiError;
use crate::state::AppState;

/// The header the viewer sends with every request that changes something. A page
/// of another site cannot send it (browsers ask first, and Logbook never allows
/// cross-origin requests), so cookie-authenticated writes without it are refused.
pub const CSRF_HEADER: &str = "x-logbook-ui";

/// The Content-Security-Policy of every `/ui` answer: only this origin's scripts,
/// styles, images and API; no inline script or event handler; no plugins. Framing
/// is allowed because embedding the viewer in the host product is a feature; a
/// framed page of another site never carries the SameSite=Strict session cookie.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors *";

/// The viewer's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(assets::index))
        .route("/ui/assets/{name}", get(assets::asset))
        .route("/ui/session", get(session::info).post(session::sign_in).delete(session::sign_out))
}

/// Adds the viewer's security headers to an answer.
pub fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The first load of an embedded page carries a viewer token in its URL: never
    // pass that URL on to anyone.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Whether a request may change something.
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a request carries the viewer's CSRF header.
pub fn has_csrf_header(headers: &HeaderMap) -> bool {
    headers.get(CSRF_HEADER).is_some()
}

/// Refuses writes authenticated by the session cookie (no `Authorization`
/// header) that lack [`CSRF_HEADER`], and sign-in and sign-out without it, with
/// 403: together with SameSite=Strict this keeps other sites from acting with a
/// signed-in browser.
pub async fn require_csrf_header(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let by_cookie = headers.get(AUTHORIZATION).is_none() && session_cookie(headers).is_some();
    let session_path = request.uri().path() == "/ui/session";
    if is_write(request.method()) && (by_cookie || session_path) && !has_csrf_header(headers) {
        return ApiError::forbidden(format!("requests made with the viewer's session must send {CSRF_HEADER}"))
            .into_response();
    }
    next.run(request).await
}
