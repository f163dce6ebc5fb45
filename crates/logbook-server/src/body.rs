//! Reading JSON request bodies within limits: content type, size, syntax.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`] as a JSON value.
pub async fn json_value(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    json_value_within(headers, body, MAX_BODY_BYTES).await
}

/// How many bytes a body may hold at most, as far as is known before reading it:
/// its `Content-Length`, within [`MAX_BODY_BYTES`].
pub fn body_size_bound(body: &Body) -> usize {
    use axum::body::HttpBody;
    body.size_hint()
        .upper()
        .and_then(|upper| usize::try_from(upper).ok())
        .map_or(MAX_BODY_BYTES, |upper| upper.min(MAX_BODY_BYTES))
}

/// Reads a JSON body of at most `limit` bytes (itself at most
/// [`MAX_BODY_BYTES`]) as a JSON value.
pub async fn json_value_within(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let bytes = axum::body::to_bytes(body, limit.min(MAX_BODY_BYTES))
        .await
        .map_err(|_| ApiError::too_large(format!("the request body is larger than {MAX_BODY_BYTES} bytes")))?;
    serde_json::from_slice(&bytes).map_err(|error| ApiError::malformed(format!("the body is not valid JSON: {error}")))
}

/// Reads a JSON body into a typed request document; a document of the wrong shape
/// is a 422 naming the problem.
pub async fn json_document<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let value = json_value(headers, body).await?;
    serde_json::from_value(value)
        .map_err(|error| ApiError::invalid_request(vec![logbook_core::FieldIssue::new("", error.to_string())]))
}
