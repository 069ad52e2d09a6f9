//! Kafka Connect's REST API over the [`Worker`] handle (`sluice worker`, issue #16).
//!
//! The contract is Apache Kafka's Connect REST API: the same paths, verbs, status codes and
//! JSON shapes (`worker::types`), and every refusal as `{"error_code": status, "message"}`,
//! unknown paths (404) and wrong methods (405) included. This module only translates HTTP
//! to the worker's operations: each handler reads the request (the pure parts in
//! `extract.rs` and next to each handler, unit-tested), calls one operation, and shapes
//! the answer. What clients depend on beyond the routes: a trailing slash is ignored, query
//! booleans are `true`/`false` in any case, a body must be declared `application/json` (415)
//! and hold at most [`BODY_LIMIT`] bytes (413), malformed JSON is a 400 with Connect's body,
//! config values may be JSON numbers and booleans (read as strings, as Jackson does).
//!
//! Every request is logged once, with its method, path, status and latency; never a body or
//! a query string (a secret could ride in either).

mod auth;
mod connectors;
mod control;
mod error;
mod extract;
mod listener;
mod plugins;
mod reports;
mod root;
#[cfg(test)]
mod tests;
mod tls;

pub use auth::Auth;
pub use connectors::path_segment;
pub use error::ApiError;
pub use extract::BODY_LIMIT;
pub use listener::{Listener, DEFAULT_LISTENERS};
pub use tls::{ClientAuth, RestTls, TlsError};

use crate::worker::Worker;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::uri::PathAndQuery;
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What every handler shares: the worker. `None` only in the route-table tests, where a
/// handler that reaches for it answers 503.
#[derive(Clone)]
struct App {
    worker: Option<Worker>,
}

impl App {
    fn worker(&self) -> Result<&Worker, ApiError> {
        self.worker.as_ref().ok_or_else(|| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The worker is not running")
        })
    }
}

/// The REST API as one service: the path made canonical, then routed.
pub type Api = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// Binds `listener`, serves the REST API on it until the process ends, and returns the
/// address bound (its port is the one picked when the listener asked for port 0). An `https`
/// listener needs `tls`. `auth`: the credentials every request but the probes and scrapes
/// needs (`None`: open).
pub async fn serve(
    listener: &Listener,
    tls: Option<&RestTls>,
    worker: Worker,
    auth: Option<Arc<Auth>>,
) -> std::io::Result<SocketAddr> {
    let tcp = tokio::net::TcpListener::bind(listener.address()).await?;
    let bound = tcp.local_addr()?;
    let api = axum::ServiceExt::<Request>::into_make_service(api(Some(worker), auth));
    let scheme = if listener.https {
        let tls = tls.ok_or_else(|| {
            std::io::Error::other("an https listener needs ssl.keystore.* settings")
        })?;
        let tls = tls.listen(tcp)?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(tls, api).await {
                tracing::error!(error = %e, "REST listener stopped");
            }
        });
        "https"
    } else {
        tokio::spawn(async move {
            if let Err(e) = axum::serve(tcp, api).await {
                tracing::error!(error = %e, "REST listener stopped");
            }
        });
        "http"
    };
    tracing::info!(address = %bound, scheme, "REST API listening");
    Ok(bound)
}

/// The routes, their layers and the worker, behind the trailing-slash normalisation (which
/// must run before routing, so it wraps the router rather than being one of its layers).
fn api(worker: Option<Worker>, auth: Option<Arc<Auth>>) -> Api {
    let router = routes()
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(auth, auth::check))
        .layer(middleware::from_fn(log))
        .with_state(App { worker });
    tower::ServiceExt::map_request(router, canonical_path as fn(Request) -> Request)
}

/// Every Connect route sluice serves, and sluice's own reports under `.../sluice/`. Connect's
/// deprecated `tasks-config` (removed in Kafka 4.0) and the logger admin routes are not here.
fn routes() -> Router<App> {
    let name = "/connectors/{name}";
    Router::new()
        .route("/", get(root::server_info))
        .route("/health", get(root::health))
        .route("/ready", get(root::ready))
        .route("/metrics", get(root::metrics))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(name, get(connectors::info).delete(control::delete))
        .route(
            &format!("{name}/config"),
            get(connectors::get_config)
                .put(connectors::put_config)
                .patch(connectors::patch_config),
        )
        .route(&format!("{name}/status"), get(connectors::status))
        .route(&format!("{name}/tasks"), get(connectors::tasks))
        .route(
            &format!("{name}/tasks/{{task}}/status"),
            get(connectors::task_status),
        )
        .route(
            &format!("{name}/tasks/{{task}}/restart"),
            post(control::restart_task),
        )
        .route(&format!("{name}/topics"), get(connectors::topics))
        .route(
            &format!("{name}/topics/reset"),
            put(connectors::reset_topics),
        )
        .route(&format!("{name}/restart"), post(control::restart))
        .route(&format!("{name}/pause"), put(control::pause))
        .route(&format!("{name}/resume"), put(control::resume))
        .route(&format!("{name}/stop"), put(control::stop))
        .route(
            &format!("{name}/offsets"),
            get(control::offsets)
                .patch(control::alter_offsets)
                .delete(control::reset_offsets),
        )
        .route(&format!("{name}/sluice/status"), get(reports::status))
        .route(&format!("{name}/sluice/conflicts"), get(reports::conflicts))
        .route(
            &format!("{name}/sluice/dead-letters"),
            get(reports::dead_letters),
        )
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .fallback(|| async { ApiError::no_such_path() })
        .method_not_allowed_fallback(|| async { ApiError::wrong_method() })
}

/// Drops the trailing slashes of a path (`/connectors/` is `/connectors`), as Connect's
/// Jersey matches both; the query is kept. A URI that cannot be rebuilt is left as it is.
fn canonical_path(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        return request;
    }
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let rebuilt = match request.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_string(),
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = PathAndQuery::try_from(rebuilt) {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// One line per request, fields first: method, path (no query), status, latency. Probes and
/// scrapes log at debug, so a Kubernetes liveness probe does not fill the log.
async fn log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if matches!(path.as_str(), "/health" | "/ready" | "/metrics") && status < 500 {
        tracing::debug!(%method, path, status, latency_ms, "request");
    } else {
        tracing::info!(%method, path, status, latency_ms, "request");
    }
    response
}
