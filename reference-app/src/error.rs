//! One error type for every handler, so that every failure leaves the service as a JSON body
//! naming the problem — never a panic, never an HTML page.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

// Clone: an error a cache load returns is shared with every request that waited for it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The client sent something we cannot use. The message says what and how to fix it.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// Well-formed, but the data breaks a rule (e.g. a database constraint).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request is fine but the resource is in the wrong state (a profile already running).
    #[error("{0}")]
    Conflict(String),
    /// A store that holds its limit.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("request body is larger than the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotAcceptable(String),
    /// A dependency (database, Redis, upstream) is not configured for this run.
    #[error("{0}")]
    Unavailable(String),
    /// A dependency did not answer in time (a timeout the service set).
    #[error("{0}")]
    GatewayTimeout(String),
    /// A dependency failed while serving the request.
    #[error("{what} failed: {cause}")]
    Dependency { what: &'static str, cause: String },
}

/// Every 4xx and 5xx answer's body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A stable, machine-readable kind: `bad_request`, `not_found`, `payload_too_large` …
    error: &'a str,
    /// What went wrong and what to do, for a person.
    message: String,
}

impl ApiError {
    pub fn dependency(what: &'static str, cause: impl std::fmt::Display) -> Self {
        ApiError::Dependency {
            what,
            cause: cause.to_string(),
        }
    }

    /// A client mistake, in the words of the error that found it.
    pub fn bad_request(e: impl std::fmt::Display) -> Self {
        ApiError::BadRequest(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Dependency { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::InsufficientStorage(_) => "insufficient_storage",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NotAcceptable(_) => "not_acceptable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::GatewayTimeout(_) => "gateway_timeout",
            ApiError::Dependency { .. } => "dependency_failed",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // 5xx: the cause goes to the log as well, for the operator.
            tracing::warn!(status = status.as_u16(), error = %self, "request failed");
        }
        let body = ErrorBody {
            error: self.kind(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::dependency("database", e)
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(e: axum::extract::rejection::BytesRejection) -> Self {
        use axum::extract::rejection::BytesRejection;
        match e {
            BytesRejection::FailedToBufferBody(inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::PayloadTooLarge {
                    limit: crate::limits::MAX_BODY_BYTES,
                }
            }
            other => ApiError::BadRequest(format!("could not read request body: {other}")),
        }
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::BadRequest(format!("bad path parameter: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadRequest(format!("bad query string: {}", e.body_text()))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
