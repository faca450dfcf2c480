//! API errors: Heroku-shaped `{"id", "message"}` bodies with the right status.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::api::ErrorBody;
use berth_runtime::RuntimeError;
use berth_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub id: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> Self {
        Self { status, id, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(id = self.id, message = %self.message, "request failed");
        }
        (self.status, Json(ErrorBody { id: self.id.to_string(), message: self.message })).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::not_found(format!("Couldn't find that {what}.")),
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            other => Self::internal(other.to_string()),
        }
    }
}

impl From<berth_core::ValidationError> for ApiError {
    fn from(err: berth_core::ValidationError) -> Self {
        Self::invalid(err.to_string())
    }
}

impl From<RuntimeError> for ApiError {
    fn from(err: RuntimeError) -> Self {
        match err {
            RuntimeError::ImageNotFound(_) => Self::invalid(err.to_string()),
            RuntimeError::Unavailable(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "runtime_unavailable", err.to_string())
            }
            other => Self::internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let id = if status == StatusCode::PAYLOAD_TOO_LARGE { "request_too_large" } else { "bad_request" };
        Self::new(status, id, format!("Invalid JSON body: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
