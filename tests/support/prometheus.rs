//! A real Prometheus server for tests: scrapes one target every second, evaluates a rule file
//! every second, keeps its TSDB in a temp directory, answers instant queries over its HTTP API,
//! and is stopped by PID when dropped (or, if the test process dies first, by a watchdog).
//!
//! The binary: `$SLUICE_PROMETHEUS_BIN` (promtool: `$SLUICE_PROMTOOL_BIN`), else the PATH; see
//! [`tool`] for what happens when it is missing.

use super::{free_port, http_get, spawn_watchdog, tail};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A tool from `env` or the PATH; `None` (after saying why) when missing outside CI, a panic
/// under `CI=true` (`.ci/test` installs it).
pub fn tool(env: &str, name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os(env).map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    });
    match found {
        Some(p) if p.exists() => Some(p),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{name} not found (${env} or PATH) under CI: `bash .ci/test` installs it ({install})")
        }
        _ => {
            eprintln!(
                "SKIPPED: {name} not found (${env} or PATH); {install}, or run `bash .ci/test`"
            );
            None
        }
    }
}

/// A Prometheus server on 127.0.0.1.
pub struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `127.0.0.1:target` and evaluates `rules` every second (the rule file is loaded
    /// as it is; only the test's own `prometheus.yml` sets the intervals).
    pub fn start(bin: &Path, rules: &Path, target: u16) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: sluice\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n",
                rules.display()
            ),
        )
        .expect("prometheus.yml");
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::fs::File::create(dir.path().join("prometheus.log")).expect("log"))
            .stderr(std::fs::File::create(dir.path().join("prometheus.err")).expect("log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let pid = child.id();
        spawn_watchdog(
            Some(pid),
            &format!(
                "if ! kill -0 {parent} 2>/dev/null; then kill -9 {pid} 2>/dev/null; fi",
                parent = std::process::id()
            ),
        );
        let prometheus = Prometheus { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(port, "/-/ready").is_none() {
            assert!(
                Instant::now() < deadline,
                "prometheus never became ready:\n{}",
                tail(&prometheus.dir.path().join("prometheus.err"), 20)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// `GET /api/v1/<path>`'s `data`.
    pub fn api(&self, path: &str) -> Json {
        let body = http_get(self.port, &format!("/api/v1/{path}")).expect("prometheus answers");
        let doc: Json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(doc["status"], "success", "{path}: {body}");
        doc["data"].clone()
    }

    /// The result of an instant query (each element: `metric` labels and `value`).
    pub fn query(&self, expr: &str) -> Vec<Json> {
        let data = self.api(&format!("query?query={}", encode(expr)));
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// The values of an instant query's series whose `label` is `value`.
    pub fn values(&self, expr: &str, label: &str, value: &str) -> Vec<f64> {
        self.query(expr)
            .iter()
            .filter(|s| s["metric"][label] == value)
            .filter_map(|s| s["value"][1].as_str()?.parse().ok())
            .collect()
    }

    /// Every rule of every loaded group, as `/api/v1/rules` reports it.
    pub fn rules(&self) -> Vec<Json> {
        let data = self.api("rules");
        data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
