//! Errors: what the engine reports, and how the HTTP API shows them.
//!
//! Every error leaves the server as `{"error": {"code", "message", "field"?}}` with the
//! status that says whose fault it is: the client's (400 malformed JSON, 401/403 access,
//! 404 unknown id, 409 conflict, 413 body too large, 422 a field that is not acceptable),
//! a full queue (503 with `Retry-After`), or ours (500).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_field`, `not_found`, `queue_full`.
    pub code: String,
    /// A sentence for people, naming the field or the value at fault.
    pub message: String,
    /// The request field at fault (`statements[2].text`, `k`), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error of the API: a status, a code, a message and perhaps the field at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds for `Retry-After` (503, 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 422: a well-formed request with a value that is not acceptable.
    pub fn invalid(field: impl Into<String>, why: impl std::fmt::Display) -> ApiError {
        let field = field.into();
        ApiError {
            message: format!("field `{field}`: {why}"),
            field: Some(field),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "")
        }
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 503 with `Retry-After`: the server is busy (full write queue, too many checks)
    /// or not ready yet; the same request later will work.
    pub fn unavailable(code: &'static str, message: impl Into<String>, secs: u64) -> ApiError {
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.to_string(),
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"kimera\""),
            );
        }
        resp
    }
}

impl From<crate::EngineError> for ApiError {
    fn from(e: crate::EngineError) -> ApiError {
        use crate::EngineError as E;
        match e {
            E::Invalid { field, why } => ApiError::invalid(field, why),
            E::NotFound(what) => ApiError::not_found(what),
            E::Conflict(what) => ApiError::new(StatusCode::CONFLICT, "conflict", what),
            E::QueueFull { retry_after } => ApiError::unavailable(
                "queue_full",
                "the write queue is full; retry after the time in Retry-After",
                retry_after,
            ),
            E::Busy { retry_after } => ApiError::unavailable(
                "busy",
                "too many requests in progress; retry after the time in Retry-After",
                retry_after,
            ),
            E::ShuttingDown => ApiError::unavailable(
                "shutting_down",
                "the server is shutting down; nothing of this request was written",
                5,
            ),
            other => ApiError::internal(other),
        }
    }
}
