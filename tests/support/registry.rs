//! A Confluent-API-compatible Schema Registry fixture (no real registry can be installed on
//! these machines; see ENVIRONMENT.md). It serves the subset a converter uses, with Confluent's
//! status codes and error bodies:
//!
//! * `GET /schemas/ids/{id}` (`?deleted=true` accepted) → `{"schema": "..."}`, or 404 with
//!   `{"error_code": 40403, "message": "Schema not found"}`;
//! * `GET /subjects`, `GET /subjects/{s}/versions`, `GET /subjects/{s}/versions/{v|latest}`;
//! * `POST /subjects/{s}/versions` with `{"schema": "..."}` → `{"id": n}` (the same id for the
//!   same schema text, like a real registry).
//!
//! It can demand basic auth (401 with error 40101 otherwise) and be switched to an outage
//! (every request answered 503 with error 50003), and it counts the requests it answered.
//! It runs on its own thread and runtime, so a test may block while sluice talks to it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Registry {
    /// Schema text by id.
    schemas: BTreeMap<u32, String>,
    /// Ids by subject, in version order.
    subjects: BTreeMap<String, Vec<u32>>,
}

struct Shared {
    registry: Mutex<Registry>,
    down: AtomicBool,
    basic_auth: Option<String>,
    requests: AtomicUsize,
    schema_lookups: AtomicUsize,
}

/// A running registry fixture on 127.0.0.1; stops with the test process.
pub struct RegistryFixture {
    port: u16,
    shared: Arc<Shared>,
}

type Reply = (StatusCode, Json<Value>);

fn error(status: StatusCode, code: u32, message: &str) -> Reply {
    (
        status,
        Json(json!({ "error_code": code, "message": message })),
    )
}

impl RegistryFixture {
    /// Starts an empty registry; `basic_auth` is `user:password` when it must be demanded.
    pub fn start(basic_auth: Option<&str>) -> RegistryFixture {
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry::default()),
            down: AtomicBool::new(false),
            basic_auth: basic_auth.map(|a| base64::engine::general_purpose::STANDARD.encode(a)),
            requests: AtomicUsize::new(0),
            schema_lookups: AtomicUsize::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind registry");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let app = Router::new()
            .route("/schemas/ids/{id}", get(schema_by_id))
            .route("/subjects", get(subjects))
            .route("/subjects/{subject}/versions", get(versions).post(register))
            .route("/subjects/{subject}/versions/{version}", get(version))
            .with_state(shared.clone());
        std::thread::Builder::new()
            .name("registry-fixture".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    axum::serve(listener, app).await.expect("serve");
                });
            })
            .expect("registry thread");
        RegistryFixture { port, shared }
    }

    /// Starts a registry holding a corpus registry dump (`{"schemas": {id: text}, "subjects":
    /// {subject: [ids]}}`), with the dump's ids.
    pub fn with_dump(path: &std::path::Path, basic_auth: Option<&str>) -> RegistryFixture {
        let fixture = RegistryFixture::start(basic_auth);
        let text = std::fs::read_to_string(path).expect("registry dump");
        let dump: Value = serde_json::from_str(&text).expect("registry dump JSON");
        {
            let mut registry = fixture.shared.registry.lock().unwrap();
            for (id, schema) in dump["schemas"].as_object().expect("schemas") {
                let id: u32 = id.parse().expect("id");
                registry
                    .schemas
                    .insert(id, schema.as_str().expect("schema text").to_string());
            }
            for (subject, ids) in dump["subjects"].as_object().expect("subjects") {
                let ids = ids.as_array().expect("ids");
                registry.subjects.insert(
                    subject.clone(),
                    ids.iter().map(|i| i.as_u64().unwrap() as u32).collect(),
                );
            }
        }
        fixture
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts or ends an outage: while down, every request gets 503.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Requests answered (any status).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// `GET /schemas/ids/{id}` requests answered with a schema.
    pub fn schema_lookups(&self) -> usize {
        self.shared.schema_lookups.load(Ordering::SeqCst)
    }
}

/// The common gate of every request: counts it, then refuses it during an outage or without
/// the demanded credentials.
fn gate(shared: &Shared, headers: &HeaderMap) -> Result<(), Reply> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    if shared.down.load(Ordering::SeqCst) {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            50003,
            "Error while forwarding the request to the leader",
        ));
    }
    if let Some(expected) = &shared.basic_auth {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "));
        if given != Some(expected.as_str()) {
            return Err(error(StatusCode::UNAUTHORIZED, 40101, "Unauthorized"));
        }
    }
    Ok(())
}

async fn schema_by_id(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    if let Err(reply) = gate(&shared, &headers) {
        return reply;
    }
    let registry = shared.registry.lock().unwrap();
    match id
        .parse::<u32>()
        .ok()
        .and_then(|id| registry.schemas.get(&id))
    {
        Some(schema) => {
            shared.schema_lookups.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, Json(json!({ "schema": schema })))
        }
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn subjects(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    if let Err(reply) = gate(&shared, &headers) {
        return reply;
    }
    let registry = shared.registry.lock().unwrap();
    let names: Vec<&String> = registry.subjects.keys().collect();
    (StatusCode::OK, Json(json!(names)))
}

async fn versions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(subject): Path<String>,
) -> Reply {
    if let Err(reply) = gate(&shared, &headers) {
        return reply;
    }
    let registry = shared.registry.lock().unwrap();
    match registry.subjects.get(&subject) {
        Some(ids) => (
            StatusCode::OK,
            Json(json!((1..=ids.len()).collect::<Vec<_>>())),
        ),
        None => error(StatusCode::NOT_FOUND, 40401, "Subject not found"),
    }
}

async fn version(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((subject, version)): Path<(String, String)>,
) -> Reply {
    if let Err(reply) = gate(&shared, &headers) {
        return reply;
    }
    let registry = shared.registry.lock().unwrap();
    let Some(ids) = registry.subjects.get(&subject) else {
        return error(StatusCode::NOT_FOUND, 40401, "Subject not found");
    };
    let index = match version.as_str() {
        "latest" => ids.len(),
        v => v.parse::<usize>().unwrap_or(0),
    };
    match index.checked_sub(1).and_then(|i| ids.get(i)) {
        Some(id) => (
            StatusCode::OK,
            Json(json!({
                "subject": subject,
                "version": index,
                "id": id,
                "schema": registry.schemas[id],
            })),
        ),
        None => error(StatusCode::NOT_FOUND, 40402, "Version not found"),
    }
}

async fn register(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Reply {
    if let Err(reply) = gate(&shared, &headers) {
        return reply;
    }
    let Some(schema) = body["schema"].as_str() else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, 42201, "Invalid schema");
    };
    let mut registry = shared.registry.lock().unwrap();
    let existing = registry
        .schemas
        .iter()
        .find(|(_, text)| text.as_str() == schema)
        .map(|(id, _)| *id);
    let id = existing.unwrap_or_else(|| registry.schemas.keys().max().map_or(1, |m| m + 1));
    registry.schemas.insert(id, schema.to_string());
    let versions = registry.subjects.entry(subject).or_default();
    if !versions.contains(&id) {
        versions.push(id);
    }
    (StatusCode::OK, Json(json!({ "id": id })))
}

/// The connector keys that read keys and values with Confluent's AvroConverter from
/// `registry`, sending `basic_auth` (`user:password`) as USER_INFO credentials when given.
pub fn avro_converter_keys(registry: &str, basic_auth: Option<&str>) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for side in ["key", "value"] {
        let prefix = format!("{side}.converter");
        keys.push((
            prefix.clone(),
            "io.confluent.connect.avro.AvroConverter".into(),
        ));
        keys.push((
            format!("{prefix}.schema.registry.url"),
            registry.to_string(),
        ));
        if let Some(auth) = basic_auth {
            keys.push((
                format!("{prefix}.basic.auth.credentials.source"),
                "USER_INFO".into(),
            ));
            keys.push((format!("{prefix}.basic.auth.user.info"), auth.to_string()));
        }
    }
    keys
}
