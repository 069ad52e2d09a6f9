//! The HTTP listener for `/metrics` (Prometheus text), `/health` (liveness) and `/ready`
//! (readiness).

use super::{Health, Metrics, Verdict};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    health: Health,
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

fn answer(verdict: Verdict) -> impl IntoResponse {
    let code = if verdict.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(verdict.body))
}

async fn health(State(app): State<AppState>) -> impl IntoResponse {
    answer(app.health.liveness())
}

async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    answer(app.health.readiness())
}

/// Serves `/metrics`, `/health` and `/ready` on `address` until the process ends.
pub async fn serve(
    address: SocketAddr,
    metrics: Metrics,
    health: Health,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(self::metrics))
        .route("/health", get(self::health))
        .route("/ready", get(self::ready))
        .with_state(AppState { metrics, health });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(bound)
}
