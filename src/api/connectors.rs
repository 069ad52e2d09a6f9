//! `/connectors` and what reads or writes one connector's config (Apache Kafka's
//! `ConnectorsResource`): list, create, info, config, status, tasks, topics.

use super::error::ApiError;
use super::extract::{self, JsonBody, Name, TaskPath};
use super::App;
use crate::worker::{Config, TargetState, WorkerError};
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// What `?expand=` may add to each connector of `GET /connectors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expand {
    /// Its status (`GET /connectors/{name}/status`).
    Status,
    /// Its info (`GET /connectors/{name}`).
    Info,
}

impl Expand {
    /// Its key in the answer.
    pub fn key(self) -> &'static str {
        match self {
            Expand::Status => "status",
            Expand::Info => "info",
        }
    }
}

/// The expansions asked for, in order, each once; `None` when `expand` is absent (a list of
/// names). Unknown values are ignored, as Connect ignores them.
pub fn expansions(pairs: &[(String, String)]) -> Option<Vec<Expand>> {
    let mut asked = pairs.iter().filter(|(k, _)| k == "expand").peekable();
    asked.peek()?;
    let mut out = Vec::new();
    for (_, value) in asked {
        let expand = match value.as_str() {
            "status" => Expand::Status,
            "info" => Expand::Info,
            _ => continue,
        };
        if !out.contains(&expand) {
            out.push(expand);
        }
    }
    Some(out)
}

/// `GET /connectors[?expand=status&expand=info]`.
pub async fn list(State(app): State<App>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let expand = expansions(&extract::query_pairs(uri.query()));
    let worker = app.worker()?;
    let names = worker.connectors();
    let Some(expand) = expand else {
        return Ok(Json(json!(names)));
    };
    let mut out = serde_json::Map::new();
    'connectors: for name in names {
        let mut entry = serde_json::Map::new();
        for e in &expand {
            let value = match e {
                Expand::Status => worker.status(&name).map(|s| json!(s)),
                Expand::Info => worker.info(&name).map(|i| json!(i)),
            };
            match value {
                Ok(v) => entry.insert(e.key().to_string(), v),
                // Deleted while we looked: left out, as Connect does.
                Err(WorkerError::NotFound(_)) => continue 'connectors,
                Err(other) => return Err(other.into()),
            };
        }
        out.insert(name, Value::Object(entry));
    }
    Ok(Json(Value::Object(out)))
}

/// `POST /connectors` body (Connect's `CreateConnectorRequest`); other keys are ignored.
#[derive(Debug, Deserialize)]
pub struct CreateRequest {
    name: Option<String>,
    config: Option<Value>,
    initial_state: Option<String>,
}

/// The name (trimmed, as Connect trims it), config and `initial_state` (KIP-980: RUNNING, the
/// default, PAUSED or STOPPED, in any case) of a create request.
pub fn create_request(request: CreateRequest) -> Result<(String, Config, TargetState), ApiError> {
    let name = request.name.unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("Connector name is required"));
    }
    let target = match request
        .initial_state
        .as_deref()
        .map(str::to_ascii_uppercase)
    {
        None => TargetState::Started,
        Some(state) => match state.as_str() {
            "RUNNING" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "initial_state {state} is not one of RUNNING, PAUSED, STOPPED"
                )))
            }
        },
    };
    let config = match request.config {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("Connector config is required"))
        }
        Some(config) => extract::config(config)?,
    };
    Ok((name.clone(), named(&name, config)?, target))
}

/// Connect's check: a `name` in the config must be the connector's name; none is added.
pub fn named(name: &str, mut config: Config) -> Result<Config, ApiError> {
    match config.get("name") {
        Some(included) if included != name => Err(ApiError::bad_request(format!(
            "Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
        ))),
        Some(_) => Ok(config),
        None => {
            config.insert("name".into(), name.into());
            Ok(config)
        }
    }
}

/// `Location: /connectors/{name}`.
pub fn location(name: &str) -> String {
    format!("/connectors/{}", path_segment(name))
}

/// A name as one path segment: unreserved characters as they are, every other byte
/// percent-encoded (`a/b c` -> `a%2Fb%20c`), so any connector name round-trips.
pub fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn created(name: &str, body: impl serde::Serialize) -> Response {
    let location = [(header::LOCATION, location(name))];
    (StatusCode::CREATED, location, Json(json!(body))).into_response()
}

/// `POST /connectors`: 201 with the info and its `Location`.
pub async fn create(
    State(app): State<App>,
    JsonBody(request): JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    let (name, config, target) = create_request(request)?;
    let info = app.worker()?.create_in(&name, config, target).await?;
    Ok(created(&name, info))
}

/// `GET /connectors/{name}`.
pub async fn info(State(app): State<App>, Name(name): Name) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(app.worker()?.info(&name)?))
}

/// `GET /connectors/{name}/config`.
pub async fn get_config(
    State(app): State<App>,
    Name(name): Name,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(app.worker()?.config(&name)?))
}

/// `PUT /connectors/{name}/config`: 201 (and `Location`) when created, 200 when replaced.
pub async fn put_config(
    State(app): State<App>,
    Name(name): Name,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let config = named(&name, extract::config(body)?)?;
    let (was_created, info) = app.worker()?.put_config(&name, config).await?;
    Ok(if was_created {
        created(&name, info)
    } else {
        Json(info).into_response()
    })
}

/// `PATCH /connectors/{name}/config`: 200 with the info; a `null` value removes the key.
pub async fn patch_config(
    State(app): State<App>,
    Name(name): Name,
    JsonBody(body): JsonBody<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let patch = extract::flat_map(body)?;
    Ok(Json(app.worker()?.patch_config(&name, patch).await?))
}

/// `GET /connectors/{name}/status`.
pub async fn status(
    State(app): State<App>,
    Name(name): Name,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(app.worker()?.status(&name)?))
}

/// `GET /connectors/{name}/tasks`.
pub async fn tasks(
    State(app): State<App>,
    Name(name): Name,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(app.worker()?.tasks(&name)?))
}

/// `GET /connectors/{name}/tasks/{task}/status`: one entry of the connector's status.
pub async fn task_status(
    State(app): State<App>,
    TaskPath(name, task): TaskPath,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(app.worker()?.task_status(&name, task)?))
}

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
pub async fn topics(
    State(app): State<App>,
    Name(name): Name,
) -> Result<impl IntoResponse, ApiError> {
    let topics = app.worker()?.topics(&name)?;
    Ok(Json(json!({ name: {"topics": topics} })))
}

/// `PUT /connectors/{name}/topics/reset`: refused (403) with the message Connect gives when
/// `topic.tracking.allow.reset=false`; sluice derives a connector's topics from its
/// checkpoint, which an offsets reset (`DELETE .../offsets`) already moves.
pub async fn reset_topics(Name(_): Name) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "Topic tracking reset is disabled.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> Result<(String, Config), ApiError> {
        create_request(serde_json::from_value(body).expect("shape")).map(|(n, c, _)| (n, c))
    }

    #[test]
    fn initial_states() {
        let state = |s: &str| {
            create_request(
                serde_json::from_value(json!({"name": "s", "config": {}, "initial_state": s}))
                    .expect("shape"),
            )
            .map(|(_, _, t)| t)
        };
        assert_eq!(state("running"), Ok(TargetState::Started));
        assert_eq!(state("PAUSED"), Ok(TargetState::Paused));
        assert_eq!(state("Stopped"), Ok(TargetState::Stopped));
        assert!(state("SLEEPING").is_err());
    }

    #[test]
    fn create_takes_connects_shape() {
        let (name, config) = request(
            json!({"name": " s ", "config": {"topics": "t", "batch.size": 10}, "tasks": []}),
        )
        .expect("create");
        assert_eq!(name, "s");
        assert_eq!(config.get("name").map(String::as_str), Some("s"));
        assert_eq!(config.get("batch.size").map(String::as_str), Some("10"));
        assert!(
            request(json!({"name": "s", "config": {"name": "s"}, "initial_state": "running"}))
                .is_ok()
        );
    }

    #[test]
    fn create_refusals_are_400() {
        for body in [
            json!({"config": {}}),
            json!({"name": "  ", "config": {}}),
            json!({"name": "s"}),
            json!({"name": "s", "config": null}),
            json!({"name": "s", "config": {"name": "other"}}),
            json!({"name": "s", "config": {"k": {"nested": 1}}}),
            json!({"name": "s", "config": {}, "initial_state": "SLEEPING"}),
        ] {
            let error = request(body.clone()).expect_err("refused");
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[test]
    fn expand_values() {
        let pairs =
            extract::query_pairs(Some("expand=info&expand=bogus&expand=status&expand=info"));
        assert_eq!(expansions(&pairs), Some(vec![Expand::Info, Expand::Status]));
        assert_eq!(
            expansions(&extract::query_pairs(Some("expand=x"))),
            Some(vec![])
        );
        assert_eq!(expansions(&[]), None);
    }

    #[test]
    fn location_encodes_the_name() {
        assert_eq!(location("pg-sink_1.v2"), "/connectors/pg-sink_1.v2");
        assert_eq!(location("a/b c"), "/connectors/a%2Fb%20c");
        assert_eq!(location("é"), "/connectors/%C3%A9");
    }
}
