//! `GET /` (Connect's `ServerInfo`), `/health` (Connect's KIP-1017 answer with sluice's
//! liveness detail), `/ready` and `/metrics` (as `sluice run` serves them).

use super::error::ApiError;
use super::App;
use crate::telemetry::{Verdict, COMMIT, VERSION};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

/// What `/health` says when the worker can make progress (Connect's words).
const HEALTHY: &str = "Worker has completed startup and is ready to handle requests.";
/// What `/health` says when no connector can make progress (every one FAILED).
const UNHEALTHY: &str = "Worker cannot make progress: every connector has failed.";

/// `GET /`: `{"version", "commit", "kafka_cluster_id"}`.
pub async fn server_info(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let worker = app.worker()?;
    Ok(Json(json!({
        "version": VERSION,
        "commit": COMMIT,
        "kafka_cluster_id": worker.kafka_cluster_id(),
    })))
}

/// `GET /health`: 200 `healthy` or 503 `unhealthy`, with the liveness detail per connector.
pub async fn health(State(app): State<App>) -> Result<impl IntoResponse, ApiError> {
    Ok(health_answer(app.worker()?.health().liveness()))
}

/// `GET /ready`: 200 or 503 with the readiness detail, the same body as `sluice run`'s.
pub async fn ready(State(app): State<App>) -> Result<impl IntoResponse, ApiError> {
    let verdict = app.worker()?.health().readiness();
    Ok((status_of(&verdict), Json(verdict.body)))
}

/// `GET /metrics`: the Prometheus text of every task on this worker.
pub async fn metrics(State(app): State<App>) -> Result<impl IntoResponse, ApiError> {
    let text = app.worker()?.metrics().render();
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

fn status_of(verdict: &Verdict) -> StatusCode {
    if verdict.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Connect's `{"status", "message"}` first, then the liveness body's other keys (the
/// connectors). Connect answers 500 `unhealthy` when its herder thread is stuck and 503
/// `starting` while it starts; sluice's liveness fails only when every connector has FAILED,
/// and answers 503 then, as `sluice run`'s `/health` does, so one probe fits both.
pub fn health_answer(verdict: Verdict) -> (StatusCode, Json<Value>) {
    let code = status_of(&verdict);
    let (status, message) = if verdict.ok {
        ("healthy", HEALTHY)
    } else {
        ("unhealthy", UNHEALTHY)
    };
    let mut body = serde_json::Map::new();
    body.insert("status".into(), status.into());
    body.insert("message".into(), message.into());
    if let Value::Object(detail) = verdict.body {
        for (key, value) in detail {
            body.entry(key).or_insert(value);
        }
    }
    (code, Json(Value::Object(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_connects_shape_with_the_detail() {
        let verdict = Verdict {
            ok: false,
            body: json!({"status": "DOWN", "connectors": {"s": {"state": "FAILED"}}}),
        };
        let (status, Json(body)) = health_answer(verdict);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            json!({"status": "unhealthy", "message": UNHEALTHY,
                   "connectors": {"s": {"state": "FAILED"}}})
        );
        let (status, Json(body)) = health_answer(Verdict {
            ok: true,
            body: json!({"status": "UP", "connectors": {}}),
        });
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["message"], HEALTHY);
    }
}
