//! The one error envelope every failure is answered with:
//! `{"error": {"code": "...", "message": "...", "details": [...]}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use logbook_core::FieldIssue;
use logbook_storage::StorageError;
use serde::Serialize;
use serde_json::Value;

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code such as `invalid_event`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Per-field problems, for `invalid_event` and `invalid_request`:
    /// `{index?, field, message}`.
    #[schema(value_type = Vec<Object>)]
    pub details: Vec<Value>,
}

/// An error answer: status, code, message and details.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<Value>,
    retry_after_seconds: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: Vec::new(), retry_after_seconds: None }
    }

    /// 400: the request cannot be read.
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    /// 400: a query parameter is wrong.
    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    /// The same error with these entries as its `details`.
    pub fn with_details(mut self, details: Vec<Value>) -> ApiError {
        self.details = details;
        self
    }

    /// 401: no token, or not a valid one.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: the token may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: no such thing (or not visible to the caller).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405: the path exists, the method does not.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this path does not support that method")
    }

    /// 409: it exists already.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413: the body or batch is too large.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 415: not JSON.
    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
        )
    }

    /// 422: one or more events are invalid; `issues` are `(index, issue)`.
    pub fn invalid_events(issues: Vec<(usize, FieldIssue)>) -> ApiError {
        let count = issues.iter().map(|(index, _)| index).collect::<std::collections::BTreeSet<_>>().len();
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            format!("{count} event(s) are invalid; nothing was stored"),
        );
        error.details = issues
            .into_iter()
            .map(|(index, issue)| serde_json::json!({"index": index, "field": issue.field, "message": issue.message}))
            .collect();
        error
    }

    /// 422: a request document (not an event) is invalid.
    pub fn invalid_request(issues: Vec<FieldIssue>) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "the request is invalid; nothing was changed",
        );
        error.details = issues
            .into_iter()
            .map(|issue| serde_json::json!({"field": issue.field, "message": issue.message}))
            .collect();
        error
    }

    /// 429: too much is waiting to be written; retry after a second.
    pub fn slow_down(message: impl Into<String>) -> ApiError {
        let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow_down", message);
        error.retry_after_seconds = Some(1);
        error
    }

    /// 503: not able to serve now.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        error.retry_after_seconds = Some(1);
        error
    }

    /// 500: something failed inside; the cause is logged, not shown.
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Logbook failed to answer; the operator's log has the cause",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> ApiError {
        match error {
            StorageError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StorageError::Conflict(message) => ApiError::conflict(message),
            StorageError::OutOfRange(message) => ApiError::invalid_parameter(message),
            StorageError::Unavailable(message) => {
                tracing::warn!(%message, "storage unavailable");
                ApiError::unavailable("storage is not available; retry shortly")
            }
            StorageError::Backend(message) | StorageError::Corrupt(message) => {
                tracing::error!(%message, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let envelope =
            ErrorEnvelope { error: ErrorBody { code: self.code, message: self.message, details: self.details } };
        let mut response = (self.status, axum::Json(envelope)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
