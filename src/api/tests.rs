//! Request-level tests of what needs no worker: the route table (every Connect route reaches
//! its handler, with or without a trailing slash), 404 and 405 bodies, and the body and
//! query refusals that come before the worker is asked. With no worker, a handler that got
//! that far answers 503 "The worker is not running", which proves the routing.

use super::*;
use axum::body::Body;
use axum::http::{header, Method};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(method: Method, uri: &str, content_type: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request.body(Body::from(body.to_string())).expect("request");
    let response = api(None, None).oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(is_json || bytes.is_empty(), "{uri}: not JSON: {bytes:?}");
    (status, body)
}

async fn json(method: Method, uri: &str, body: &str) -> (u16, Value) {
    call(method, uri, Some("application/json"), body).await
}

fn error(code: u16, message: &str) -> Value {
    json!({"error_code": code, "message": message})
}

const NO_WORKER: u16 = 503;

#[tokio::test]
async fn every_route_reaches_its_handler() {
    let config = r#"{"connector.class": "JdbcSinkConnector"}"#;
    let create = r#"{"name": "s", "config": {}}"#;
    let offsets = r#"{"offsets": [{"partition": {"kafka_topic": "t", "kafka_partition": 0},
                                   "offset": {"kafka_offset": 5}}]}"#;
    let routes = [
        (Method::GET, "/", ""),
        (Method::GET, "/health", ""),
        (Method::GET, "/ready", ""),
        (Method::GET, "/metrics", ""),
        (Method::GET, "/connectors?expand=status&expand=info", ""),
        (Method::POST, "/connectors", create),
        (Method::GET, "/connectors/s", ""),
        (Method::DELETE, "/connectors/s", ""),
        (Method::GET, "/connectors/s/config", ""),
        (Method::PUT, "/connectors/s/config", config),
        (Method::PATCH, "/connectors/s/config", r#"{"k": null}"#),
        (Method::GET, "/connectors/s/status", ""),
        (Method::GET, "/connectors/s/tasks", ""),
        (Method::GET, "/connectors/s/tasks/0/status", ""),
        (Method::POST, "/connectors/s/tasks/0/restart", ""),
        (Method::GET, "/connectors/s/topics", ""),
        (Method::POST, "/connectors/s/restart?includeTasks=true", ""),
        (Method::PUT, "/connectors/s/pause", ""),
        (Method::PUT, "/connectors/s/resume", ""),
        (Method::PUT, "/connectors/s/stop", ""),
        (Method::GET, "/connectors/s/offsets", ""),
        (Method::PATCH, "/connectors/s/offsets", offsets),
        (Method::DELETE, "/connectors/s/offsets", ""),
        (
            Method::PUT,
            "/connector-plugins/JdbcSink/config/validate",
            config,
        ),
        (Method::GET, "/connectors/a%2Fb%20c/status", ""),
    ];
    for (method, path, body) in routes {
        for path in [path.to_string(), slashed(path)] {
            let (status, body_out) = json(method.clone(), &path, body).await;
            assert_eq!(status, NO_WORKER, "{method} {path}: {body_out}");
            assert_eq!(body_out, error(NO_WORKER, "The worker is not running"));
        }
    }
}

/// `path` with a trailing slash before its query.
fn slashed(path: &str) -> String {
    match path.split_once('?') {
        Some((path, query)) => format!("{path}/?{query}"),
        None if path == "/" => "//".into(),
        None => format!("{path}/"),
    }
}

#[tokio::test]
async fn routes_without_the_worker() {
    let (status, body) = json(Method::GET, "/connector-plugins/?connectorsOnly=FALSE", "").await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["type"].as_str())
        .collect();
    for kind in ["sink", "transformation", "predicate", "converter"] {
        assert!(kinds.contains(&kind), "no {kind} in {body}");
    }
    let (_, sinks) = json(Method::GET, "/connector-plugins?connectorsOnly=true", "").await;
    assert!(
        sinks
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|p| p["type"] == "sink")),
        "{sinks}"
    );
    let (status, body) = json(Method::PUT, "/connectors/s/topics/reset", "").await;
    assert_eq!(
        (status, body),
        (403, error(403, "Topic tracking reset is disabled."))
    );
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    for path in [
        "/nope",
        "/connectors/s/nope",
        "/connectors/s/tasks/x/status",
        "/connectors/s/tasks/-1/status",
    ] {
        let (status, body) = json(Method::GET, path, "").await;
        assert_eq!(
            (status, body),
            (404, error(404, "HTTP 404 Not Found")),
            "{path}"
        );
    }
    for (method, path) in [
        (Method::DELETE, "/connectors"),
        (Method::POST, "/connectors/s/pause"),
        (Method::GET, "/connectors/s/restart/"),
        (Method::OPTIONS, "/"),
    ] {
        let (status, body) = json(method.clone(), path, "").await;
        assert_eq!(
            (status, body),
            (405, error(405, "HTTP 405 Method Not Allowed")),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn bodies_are_json_or_refused_with_connects_body() {
    let create = r#"{"name": "s", "config": {}}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, body) = call(Method::POST, "/connectors", content_type, create).await;
        assert_eq!(
            (status, body),
            (415, error(415, "HTTP 415 Unsupported Media Type"))
        );
    }
    let (status, body) = call(
        Method::POST,
        "/connectors",
        Some("application/json; charset=UTF-8"),
        create,
    )
    .await;
    assert_eq!(status, NO_WORKER, "{body}");

    for malformed in ["{", "", "[1,", "null", r#"{"name": 5, "config": {}}"#] {
        let (status, body) = json(Method::POST, "/connectors/", malformed).await;
        assert_eq!(status, 400, "{malformed}: {body}");
        assert_eq!(body["error_code"], 400);
        assert!(body["message"].is_string());
    }

    let big = format!(r#"{{"k": "{}"}}"#, "x".repeat(BODY_LIMIT));
    let (status, body) = json(Method::PUT, "/connectors/s/config", &big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error_code"], 413);
}

#[tokio::test]
async fn connect_checks_before_the_worker() {
    let cases = [
        (
            Method::POST,
            "/connectors",
            r#"{"name": "s", "config": {"name": "t"}}"#,
        ),
        (
            Method::POST,
            "/connectors",
            r#"{"name": "s", "config": {"k": [1]}}"#,
        ),
        (Method::PUT, "/connectors/s/config", r#"{"name": "t"}"#),
        (Method::PUT, "/connectors/s/config", r#"{"k": {"x": 1}}"#),
        (Method::PUT, "/connectors/s/config", r#"["k"]"#),
        (Method::PATCH, "/connectors/s/config", r#"{"k": [1]}"#),
        (Method::PATCH, "/connectors/s/offsets", r#"{"offsets": []}"#),
        (
            Method::PATCH,
            "/connectors/s/offsets",
            r#"{"offsets": [{"partition": {}}]}"#,
        ),
        (Method::POST, "/connectors/s/restart?onlyFailed=maybe", ""),
        (Method::GET, "/connector-plugins?connectorsOnly=1", ""),
        (
            Method::PUT,
            "/connector-plugins/FileStreamSink/config/validate",
            r#"{"connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector"}"#,
        ),
    ];
    for (method, path, body) in cases {
        let (status, answer) = json(method.clone(), path, body).await;
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_eq!(answer["error_code"], 400);
    }
    // Numbers and booleans are config values, as Jackson reads them.
    let (status, _) = json(
        Method::PUT,
        "/connectors/s/config",
        r#"{"batch.size": 10, "delete.enabled": true}"#,
    )
    .await;
    assert_eq!(status, NO_WORKER);
}

#[test]
fn canonical_paths() {
    let path = |uri: &str| {
        let request = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        canonical_path(request).uri().to_string()
    };
    assert_eq!(path("/connectors/"), "/connectors");
    assert_eq!(
        path("/connectors///?expand=info"),
        "/connectors?expand=info"
    );
    assert_eq!(path("/"), "/");
    assert_eq!(path("//"), "/");
    assert_eq!(path("/connectors/s"), "/connectors/s");
    assert_eq!(
        path("http://h:1/connectors/?a=b"),
        "http://h:1/connectors?a=b"
    );
}
