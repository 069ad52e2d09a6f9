//! What changes a connector's life or position: restart, pause, resume, stop, delete, and its
//! offsets (Apache Kafka's `ConnectorsResource`, KIP-745 restarts, KIP-875 offsets).

use super::error::ApiError;
use super::extract::{self, JsonBody, Name, TaskPath};
use super::App;
use crate::worker::{ConnectorOffsets, RestartRequest, TargetState};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// `PATCH .../offsets` success message (Connect's words).
pub const ALTERED: &str = "The offsets for this connector have been altered successfully";
/// `DELETE .../offsets` success message (Connect's words).
pub const RESET: &str = "The offsets for this connector have been reset successfully";

/// `includeTasks` and `onlyFailed` (both default false).
pub fn restart_request(query: Option<&str>) -> Result<RestartRequest, ApiError> {
    let pairs = extract::query_pairs(query);
    Ok(RestartRequest {
        include_tasks: extract::query_bool(&pairs, "includeTasks", false)?,
        only_failed: extract::query_bool(&pairs, "onlyFailed", false)?,
    })
}

/// Connect keeps the old answer for a bare restart (204, no body) and answers 202 with the
/// status once either flag is set (KIP-745's `forceRestartConnectorOnly`).
pub fn answers_with_status(request: RestartRequest) -> bool {
    request.include_tasks || request.only_failed
}

/// `POST /connectors/{name}/restart[?includeTasks=&onlyFailed=]`: 204, or 202 with status.
pub async fn restart(
    State(app): State<App>,
    Name(name): Name,
    uri: Uri,
) -> Result<Response, ApiError> {
    let request = restart_request(uri.query())?;
    let status = app.worker()?.restart(&name, request).await?;
    Ok(if answers_with_status(request) {
        (StatusCode::ACCEPTED, Json(status)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204.
pub async fn restart_task(
    State(app): State<App>,
    TaskPath(name, task): TaskPath,
) -> Result<StatusCode, ApiError> {
    app.worker()?.restart_task(&name, task).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answer to a target-state change: pause and resume 202, stop 204 (as Connect).
pub fn target_answer(target: TargetState) -> StatusCode {
    match target {
        TargetState::Paused | TargetState::Started => StatusCode::ACCEPTED,
        TargetState::Stopped => StatusCode::NO_CONTENT,
    }
}

async fn set_target(app: &App, name: &str, target: TargetState) -> Result<StatusCode, ApiError> {
    app.worker()?.set_target(name, target).await?;
    Ok(target_answer(target))
}

/// `PUT /connectors/{name}/pause`: 202.
pub async fn pause(State(app): State<App>, Name(name): Name) -> Result<StatusCode, ApiError> {
    set_target(&app, &name, TargetState::Paused).await
}

/// `PUT /connectors/{name}/resume`: 202.
pub async fn resume(State(app): State<App>, Name(name): Name) -> Result<StatusCode, ApiError> {
    set_target(&app, &name, TargetState::Started).await
}

/// `PUT /connectors/{name}/stop`: 204.
pub async fn stop(State(app): State<App>, Name(name): Name) -> Result<StatusCode, ApiError> {
    set_target(&app, &name, TargetState::Stopped).await
}

/// `DELETE /connectors/{name}`: 204.
pub async fn delete(State(app): State<App>, Name(name): Name) -> Result<StatusCode, ApiError> {
    app.worker()?.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/offsets`.
pub async fn offsets(
    State(app): State<App>,
    Name(name): Name,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(app.worker()?.offsets(&name).await?))
}

/// An alter request must name at least one partition (Connect's check and message).
pub fn alter_request(offsets: ConnectorOffsets) -> Result<ConnectorOffsets, ApiError> {
    if offsets.offsets.is_empty() {
        return Err(ApiError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        ));
    }
    Ok(offsets)
}

/// `PATCH /connectors/{name}/offsets`: 200 `{"message": ...}`.
pub async fn alter_offsets(
    State(app): State<App>,
    Name(name): Name,
    JsonBody(offsets): JsonBody<ConnectorOffsets>,
) -> Result<Json<Value>, ApiError> {
    let offsets = alter_request(offsets)?;
    app.worker()?.alter_offsets(&name, offsets).await?;
    Ok(Json(json!({ "message": ALTERED })))
}

/// `DELETE /connectors/{name}/offsets`: 200 `{"message": ...}`.
pub async fn reset_offsets(
    State(app): State<App>,
    Name(name): Name,
) -> Result<Json<Value>, ApiError> {
    app.worker()?.reset_offsets(&name).await?;
    Ok(Json(json!({ "message": RESET })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_flags() {
        let bare = restart_request(None).expect("bare");
        assert_eq!(bare, RestartRequest::default());
        assert!(!answers_with_status(bare));
        let both = restart_request(Some("includeTasks=TRUE&onlyFailed=True")).expect("both");
        assert!(both.include_tasks && both.only_failed);
        let one = restart_request(Some("onlyFailed=true")).expect("one");
        assert!(answers_with_status(one));
        // Set but false: still the bare restart, as Connect decides on the values.
        assert!(!answers_with_status(
            restart_request(Some("includeTasks=false")).expect("false")
        ));
        let error = restart_request(Some("includeTasks=1")).expect_err("1");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn target_codes() {
        assert_eq!(target_answer(TargetState::Paused), StatusCode::ACCEPTED);
        assert_eq!(target_answer(TargetState::Started), StatusCode::ACCEPTED);
        assert_eq!(target_answer(TargetState::Stopped), StatusCode::NO_CONTENT);
    }

    #[test]
    fn empty_alter_is_refused() {
        let error = alter_request(ConnectorOffsets::default()).expect_err("empty");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }
}
