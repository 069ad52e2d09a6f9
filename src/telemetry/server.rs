//! The HTTP listener for `/metrics` (Prometheus text) and `/health`.

use super::Metrics;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Process health as `/health` reports it.
#[derive(Debug, Clone, Default)]
pub struct Health {
    state: Arc<Mutex<String>>,
}

impl Health {
    /// Sets the state (`starting`, `running`, `retrying`, `stopping`, `failed`).
    pub fn set(&self, state: &str) {
        if let Ok(mut s) = self.state.lock() {
            *s = state.to_string();
        }
    }

    /// The current state.
    pub fn get(&self) -> String {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

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

async fn health(State(app): State<AppState>) -> impl IntoResponse {
    let state = app.health.get();
    let code = if state == "failed" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(serde_json::json!({ "status": state })))
}

/// Serves `/metrics` and `/health` on `address` until the process ends.
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
        .with_state(AppState { metrics, health });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(bound)
}
