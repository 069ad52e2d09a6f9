//! Every refusal as Connect writes it: the HTTP status and `{"error_code": status,
//! "message": ...}` (Apache Kafka's `ConnectExceptionMapper` and `ErrorMessage`).

use crate::worker::WorkerError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An answer other than success: a status and the message for `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, repeated as `error_code`.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request cannot be applied as it is.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 with Jersey's message for a path no resource has (Connect answers the same).
    pub fn no_such_path() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
    }

    /// 405 with Jersey's message for a resource that has no such method.
    pub fn wrong_method() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        )
    }

    /// 415 with Jersey's message for a body that is not declared `application/json`.
    pub fn not_json() -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        )
    }

    /// The JSON body Connect answers with.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error_code": self.status.as_u16(), "message": self.message})
    }
}

impl From<WorkerError> for ApiError {
    fn from(error: WorkerError) -> Self {
        let status = match &error {
            WorkerError::NotFound(_) | WorkerError::TaskNotFound(_) => StatusCode::NOT_FOUND,
            WorkerError::AlreadyExists(_) | WorkerError::Conflict(_) => StatusCode::CONFLICT,
            WorkerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WorkerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            // The request log line has the status; this one says why.
            tracing::warn!(status = self.status.as_u16(), message = %self.message, "request failed");
        }
        (self.status, Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn worker_errors_map_to_connects_codes() {
        let cases = [
            (
                WorkerError::NotFound("s".into()),
                404,
                "Connector s not found",
            ),
            (
                WorkerError::TaskNotFound("s-3".into()),
                404,
                "Task s-3 not found",
            ),
            (
                WorkerError::AlreadyExists("s".into()),
                409,
                "Connector s already exists",
            ),
            (
                WorkerError::Conflict("rebalancing".into()),
                409,
                "rebalancing",
            ),
            (WorkerError::BadRequest("bad".into()), 400, "bad"),
            (WorkerError::Internal("down".into()), 500, "down"),
        ];
        for (error, code, message) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status.as_u16(), code);
            assert_eq!(api.body(), json!({"error_code": code, "message": message}));
        }
    }

    #[test]
    fn jersey_messages() {
        assert_eq!(
            ApiError::no_such_path().body(),
            json!({"error_code": 404, "message": "HTTP 404 Not Found"})
        );
        assert_eq!(
            ApiError::wrong_method().status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(ApiError::not_json().status.as_u16(), 415);
    }
}
