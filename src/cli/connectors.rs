//! `sluice connectors ...`: a thin client of a worker's Connect REST API (`sluice worker`,
//! or Kafka Connect itself). Each command is one request; the answer is printed as pretty
//! JSON, and an error status exits 1 with the message of Connect's error body.

use crate::api::{path_segment, DEFAULT_LISTENERS};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one request may take (a create waits for the config topic write).
const TIMEOUT: Duration = Duration::from_secs(90);

/// Arguments of `sluice connectors`.
#[derive(Debug, Args)]
pub struct ConnectorsArgs {
    /// The worker's REST API.
    #[arg(long, global = true, default_value = DEFAULT_LISTENERS)]
    pub url: String,
    /// Trust this CA (PEM) for an https URL, beside the system's.
    #[arg(long, global = true, value_name = "FILE", env = "SLUICE_REST_CACERT")]
    pub cacert: Option<PathBuf>,
    /// A client certificate (PEM) for a worker that asks for one (`ssl.client.auth`).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        requires = "key",
        env = "SLUICE_REST_CERT"
    )]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, PKCS#8).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        requires = "cert",
        env = "SLUICE_REST_KEY"
    )]
    pub key: Option<PathBuf>,
    /// Basic authentication as `user:password` (like curl's `--user`); from the environment
    /// so it stays out of the process list.
    #[arg(
        long,
        global = true,
        value_name = "USER:PASSWORD",
        env = "SLUICE_REST_USER",
        hide_env_values = true
    )]
    pub user: Option<String>,
    /// A bearer token (`sluice.rest.bearer.token`).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "SLUICE_REST_TOKEN",
        hide_env_values = true,
        conflicts_with = "user"
    )]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: ConnectorsCommand,
}

/// `sluice connectors ...` commands.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// List the connectors (names, or with --expand their status and/or info).
    List {
        /// Add each connector's `status` or `info` (repeatable).
        #[arg(long, value_parser = ["status", "info"])]
        expand: Vec<String>,
    },
    /// Create a connector from a connector file (`{"name": ..., "config": {...}}`).
    Create {
        /// The connector file.
        file: PathBuf,
    },
    /// A connector's config and tasks.
    Get {
        /// The connector.
        name: String,
    },
    /// A connector's config; with FILE, replace it (created when new).
    Config {
        /// The connector.
        name: String,
        /// A flat config object, or a connector file whose `config` is taken.
        file: Option<PathBuf>,
    },
    /// A connector's and its tasks' states.
    Status {
        /// The connector.
        name: String,
    },
    /// Pause a connector (its tasks stay assigned).
    Pause {
        /// The connector.
        name: String,
    },
    /// Resume a paused or stopped connector.
    Resume {
        /// The connector.
        name: String,
    },
    /// Stop a connector (its tasks are removed; offsets can then be changed).
    Stop {
        /// The connector.
        name: String,
    },
    /// Restart a connector, or one of its tasks with --task.
    Restart {
        /// The connector.
        name: String,
        /// Restart its tasks too.
        #[arg(long, conflicts_with = "task")]
        include_tasks: bool,
        /// Restart only what has FAILED.
        #[arg(long, conflicts_with = "task")]
        only_failed: bool,
        /// Restart this task only.
        #[arg(long, value_name = "ID")]
        task: Option<u32>,
    },
    /// Delete a connector (its tasks stop, its config is removed).
    Delete {
        /// The connector.
        name: String,
    },
    /// A connector's offsets; --alter FILE or --reset moves a STOPPED connector's.
    Offsets {
        /// The connector.
        name: String,
        /// Set these offsets (Connect's `{"offsets": [...]}`).
        #[arg(long, value_name = "FILE", conflicts_with = "reset")]
        alter: Option<PathBuf>,
        /// Reset every offset to the beginning of the topics.
        #[arg(long)]
        reset: bool,
    },
}

/// One request: method, path and query under the API's root, and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The HTTP method.
    pub method: Method,
    /// The path (names percent-encoded) and query.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Call {
    fn new(method: Method, path: impl Into<String>) -> Self {
        Call {
            method,
            path: path.into(),
            body: None,
        }
    }

    fn with(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// Reads and parses a JSON file; the error names it.
fn json_file(path: &Path, read: &dyn Fn(&Path) -> Result<String, String>) -> Result<Value, String> {
    let text = read(path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// The request a command makes; `read` gives a file's text (the only I/O).
pub fn plan(
    command: &ConnectorsCommand,
    read: &dyn Fn(&Path) -> Result<String, String>,
) -> Result<Call, String> {
    use ConnectorsCommand as C;
    let at = |name: &str, rest: &str| format!("/connectors/{}{rest}", path_segment(name));
    Ok(match command {
        C::List { expand } => {
            let query: Vec<String> = expand.iter().map(|e| format!("expand={e}")).collect();
            match query.is_empty() {
                true => Call::new(Method::GET, "/connectors"),
                false => Call::new(Method::GET, format!("/connectors?{}", query.join("&"))),
            }
        }
        C::Create { file } => Call::new(Method::POST, "/connectors").with(json_file(file, read)?),
        C::Get { name } => Call::new(Method::GET, at(name, "")),
        C::Config { name, file: None } => Call::new(Method::GET, at(name, "/config")),
        C::Config {
            name,
            file: Some(file),
        } => {
            let mut body = json_file(file, read)?;
            // A connector file (`{"name", "config": {...}}`) gives its config.
            if let Some(config) = body.get_mut("config").filter(|c| c.is_object()) {
                body = config.take();
            }
            Call::new(Method::PUT, at(name, "/config")).with(body)
        }
        C::Status { name } => Call::new(Method::GET, at(name, "/status")),
        C::Pause { name } => Call::new(Method::PUT, at(name, "/pause")),
        C::Resume { name } => Call::new(Method::PUT, at(name, "/resume")),
        C::Stop { name } => Call::new(Method::PUT, at(name, "/stop")),
        C::Restart {
            name,
            task: Some(task),
            ..
        } => Call::new(Method::POST, at(name, &format!("/tasks/{task}/restart"))),
        C::Restart {
            name,
            include_tasks,
            only_failed,
            task: None,
        } => {
            let mut query = Vec::new();
            if *include_tasks {
                query.push("includeTasks=true");
            }
            if *only_failed {
                query.push("onlyFailed=true");
            }
            let rest = match query.is_empty() {
                true => "/restart".to_string(),
                false => format!("/restart?{}", query.join("&")),
            };
            Call::new(Method::POST, at(name, &rest))
        }
        C::Delete { name } => Call::new(Method::DELETE, at(name, "")),
        C::Offsets {
            name,
            alter: Some(file),
            ..
        } => Call::new(Method::PATCH, at(name, "/offsets")).with(json_file(file, read)?),
        C::Offsets {
            name, reset: true, ..
        } => Call::new(Method::DELETE, at(name, "/offsets")),
        C::Offsets { name, .. } => Call::new(Method::GET, at(name, "/offsets")),
    })
}

/// What to print for an answer: pretty JSON (nothing for an empty body), or on an error
/// status the message of Connect's error body (the raw body when it has none).
pub fn outcome(status: u16, body: &str) -> Result<Option<String>, String> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    if !(200..300).contains(&status) {
        let message = json
            .as_ref()
            .and_then(|j| j.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| body.trim().to_string());
        return Err(format!("HTTP {status}: {message}"));
    }
    Ok(match json {
        Some(json) => serde_json::to_string_pretty(&json).ok(),
        None if body.trim().is_empty() => None,
        None => Some(body.to_string()),
    })
}

/// An error and its causes, `: `-separated (reqwest's own message leaves out why).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The HTTP client: the CA to trust and the client certificate, when given.
fn client(
    args: &ConnectorsArgs,
    read: &dyn Fn(&Path) -> Result<String, String>,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().timeout(TIMEOUT);
    if let Some(path) = &args.cacert {
        let ca = reqwest::Certificate::from_pem(read(path)?.as_bytes())
            .map_err(|e| format!("--cacert {}: {e}", path.display()))?;
        builder = builder.tls_certs_merge([ca]);
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let identity =
            reqwest::Identity::from_pkcs8_pem(read(cert)?.as_bytes(), read(key)?.as_bytes())
                .map_err(|e| format!("--cert {} --key {}: {e}", cert.display(), key.display()))?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| format!("http client: {e}"))
}

/// Runs `sluice connectors ...`.
pub async fn run(args: ConnectorsArgs) -> Result<i32, String> {
    let read =
        |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    let call = plan(&args.command, &read)?;
    let client = client(&args, &read)?;
    let url = format!("{}{}", args.url.trim_end_matches('/'), call.path);
    let mut request = client
        .request(call.method.clone(), &url)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(user) = &args.user {
        let (name, password) = user.split_once(':').unwrap_or((user, ""));
        request = request.basic_auth(name, Some(password));
    }
    if let Some(token) = &args.token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{} {url}: {}", call.method, causes(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| format!("{} {url}: reading the answer: {e}", call.method))?;
    if let Some(text) = outcome(status, &body)? {
        println!("{text}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ConnectorsArgs,
    }

    fn call(argv: &[&str]) -> Call {
        let mut full = vec!["connectors"];
        full.extend_from_slice(argv);
        let cli = Cli::try_parse_from(full).expect("arguments");
        let read = |path: &Path| match path.to_str() {
            Some("c.json") => Ok(r#"{"name": "s", "config": {"topics": "t"}}"#.to_string()),
            Some("flat.json") => Ok(r#"{"topics": "t"}"#.to_string()),
            Some("o.json") => Ok(r#"{"offsets": []}"#.to_string()),
            Some("bad.json") => Ok("{".to_string()),
            _ => Err("no such file".to_string()),
        };
        plan(&cli.args.command, &read).expect("plan")
    }

    fn is(call: &Call, method: Method, path: &str) {
        assert_eq!((&call.method, call.path.as_str()), (&method, path));
    }

    #[test]
    fn commands_map_to_connects_requests() {
        is(&call(&["list"]), Method::GET, "/connectors");
        is(
            &call(&["list", "--expand", "status", "--expand", "info"]),
            Method::GET,
            "/connectors?expand=status&expand=info",
        );
        let create = call(&["create", "c.json"]);
        is(&create, Method::POST, "/connectors");
        assert_eq!(
            create.body,
            Some(json!({"name": "s", "config": {"topics": "t"}}))
        );
        is(&call(&["get", "a/b"]), Method::GET, "/connectors/a%2Fb");
        is(&call(&["config", "s"]), Method::GET, "/connectors/s/config");
        for file in ["c.json", "flat.json"] {
            let put = call(&["config", "s", file]);
            is(&put, Method::PUT, "/connectors/s/config");
            assert_eq!(put.body, Some(json!({"topics": "t"})));
        }
        is(&call(&["status", "s"]), Method::GET, "/connectors/s/status");
        is(&call(&["pause", "s"]), Method::PUT, "/connectors/s/pause");
        is(&call(&["resume", "s"]), Method::PUT, "/connectors/s/resume");
        is(&call(&["stop", "s"]), Method::PUT, "/connectors/s/stop");
        is(
            &call(&["restart", "s"]),
            Method::POST,
            "/connectors/s/restart",
        );
        is(
            &call(&["restart", "s", "--include-tasks", "--only-failed"]),
            Method::POST,
            "/connectors/s/restart?includeTasks=true&onlyFailed=true",
        );
        is(
            &call(&["restart", "s", "--task", "2"]),
            Method::POST,
            "/connectors/s/tasks/2/restart",
        );
        is(&call(&["delete", "s"]), Method::DELETE, "/connectors/s");
        is(
            &call(&["offsets", "s"]),
            Method::GET,
            "/connectors/s/offsets",
        );
        is(
            &call(&["offsets", "s", "--reset"]),
            Method::DELETE,
            "/connectors/s/offsets",
        );
        let alter = call(&["offsets", "s", "--alter", "o.json", "--url", "http://h:1/"]);
        is(&alter, Method::PATCH, "/connectors/s/offsets");
        assert_eq!(alter.body, Some(json!({"offsets": []})));
    }

    #[test]
    fn bad_arguments_and_files() {
        for argv in [
            &["restart", "s", "--task", "1", "--only-failed"][..],
            &["offsets", "s", "--reset", "--alter", "o.json"],
            &["list", "--expand", "tasks"],
        ] {
            let mut full = vec!["connectors"];
            full.extend_from_slice(argv);
            assert!(Cli::try_parse_from(full).is_err(), "{argv:?}");
        }
        let read = |_: &Path| Ok("{".to_string());
        let create = ConnectorsCommand::Create {
            file: "bad.json".into(),
        };
        let error = plan(&create, &read).expect_err("not json");
        assert!(error.starts_with("bad.json: not JSON"), "{error}");
    }

    #[test]
    fn answers() {
        assert_eq!(outcome(204, ""), Ok(None));
        assert_eq!(outcome(200, r#"["a"]"#), Ok(Some("[\n  \"a\"\n]".into())));
        assert_eq!(
            outcome(
                404,
                r#"{"error_code": 404, "message": "Connector s not found"}"#
            ),
            Err("HTTP 404: Connector s not found".into())
        );
        assert_eq!(
            outcome(502, "Bad Gateway\n"),
            Err("HTTP 502: Bad Gateway".into())
        );
    }
}
