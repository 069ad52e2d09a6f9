//! Helpers of `tests/deploy_files.rs`: the tools `.ci/test` installs, run in the repository root;
//! YAML read with the kubernetes-validate venv's PyYAML; the resolved compose model (bind mounts,
//! secrets, environment, the connector files an init service registers); worker files loaded with
//! sluice's own loader, with a service's secrets in a scratch directory.

use serde_json::Value;
use sluice::config::WorkerConfig;
use sluice::worker::Settings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// After SIGTERM, sluice spends up to `sluice.shutdown.timeout.ms` on in-flight batches, then
/// leaves its group and stops the REST listener: the grace period must leave room for that.
pub const LEAVE_MARGIN: Duration = Duration::from_secs(10);

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool from `.ci/test`; panics naming the variable when it is missing.
pub fn tool(var: &str) -> PathBuf {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.exists() => p,
        other => panic!(
            "{var} must name an installed tool (got {other:?}); run the tests with `bash .ci/test`, \
             which installs docker-compose, kubectl, kubernetes-validate, hadolint and the \
             prometheus-operator validators"
        ),
    }
}

/// Runs a command in the repository root with `stdin`; its stdout, or a panic with its output.
pub fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    if let Some(text) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?}: {}\n{stdout}\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every document of a YAML text, as JSON (PyYAML in the kubernetes-validate venv).
pub fn yaml_docs(text: &str) -> Vec<Value> {
    let python = tool("SLUICE_KUBE_VALIDATE_BIN").with_file_name("python3");
    let script = "import json, sys, yaml\n\
                  print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))";
    let out = run(&python, &["-c", script], Some(text));
    match serde_json::from_str(&out).expect("python printed JSON") {
        Value::Array(docs) => docs,
        other => panic!("not a list: {other}"),
    }
}

pub fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value}"))
}

// --- the worker file and the connectors, loaded by sluice ---------------------------------

/// Secrets as a worker sees them: `/run/secrets/...` file name -> content. Paths in configs are
/// rewritten to a temporary directory holding these files, so the config providers read them.
pub struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    pub fn new(files: &BTreeMap<String, Vec<u8>>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, content) in files {
            let rel = path
                .strip_prefix("/run/secrets/")
                .expect("under /run/secrets");
            let host = dir.path().join("run/secrets").join(rel);
            std::fs::create_dir_all(host.parent().unwrap()).unwrap();
            std::fs::write(host, content).unwrap();
        }
        Secrets { dir }
    }

    pub fn localize(&self, text: &str) -> String {
        let here = self.dir.path().join("run/secrets");
        text.replace("/run/secrets", here.to_str().unwrap())
    }

    /// Loads a worker file the way `sluice worker` does, with this environment.
    pub fn worker(&self, name: &str, text: &str, env: &BTreeMap<String, String>) -> WorkerConfig {
        let file = self.dir.path().join("worker.properties");
        std::fs::write(&file, self.localize(text)).unwrap();
        let vars: Vec<(String, String)> = env.clone().into_iter().collect();
        let worker = WorkerConfig::load(
            Some(&file),
            &BTreeMap::new(),
            &|k| env.get(k).cloned(),
            &vars,
        )
        .unwrap_or_else(|problems| panic!("{name} is not a sluice worker file: {problems:#?}"));
        if let Err(problems) = Settings::from_worker(&worker) {
            panic!("{name}: worker mode refuses it: {problems:#?}");
        }
        worker
    }
}

/// `sluice.shutdown.timeout.ms` of a loaded worker file (its default when unset).
pub fn shutdown_bound(worker: &WorkerConfig) -> Duration {
    worker.shutdown_timeout + LEAVE_MARGIN
}

/// The REST port of `listeners`, which must bind every interface in a container.
pub fn listener_port(worker: &WorkerConfig, name: &str) -> u64 {
    let listeners = worker
        .distributed
        .get("listeners")
        .unwrap_or_else(|| panic!("{name}: no listeners (sluice would bind loopback)"));
    let port = listeners
        .strip_prefix("http://0.0.0.0:")
        .unwrap_or_else(|| panic!("{name}: listeners={listeners} must be http://0.0.0.0:PORT"));
    port.parse().expect("listener port")
}

/// `30s`, `1m30s`, `2m` (compose durations) as a Duration.
pub fn compose_duration(text: &str) -> Duration {
    let (mut total, mut number) = (0u64, String::new());
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let n: u64 = number.parse().unwrap_or_else(|_| panic!("duration {text}"));
                total += n * [3600, 60, 1][['h', 'm', 's'].iter().position(|&u| u == c).unwrap()];
                number.clear();
            }
            _ => panic!("unsupported duration {text}"),
        }
    }
    assert!(number.is_empty(), "duration without unit: {text}");
    Duration::from_secs(total)
}

// --- compose ------------------------------------------------------------------------------

/// `docker-compose config -q` must pass; the resolved model, as JSON.
pub fn compose(files: &[&str]) -> Value {
    let bin = tool("SLUICE_COMPOSE_BIN");
    let mut args: Vec<&str> = files.iter().flat_map(|f| ["-f", *f]).collect();
    run(&bin, &[args.as_slice(), &["config", "-q"]].concat(), None);
    args.extend(["config", "--format", "json"]);
    serde_json::from_str(&run(&bin, &args, None)).expect("compose config JSON")
}

/// A service's bind mounts: container path -> host path.
pub fn binds(service: &Value) -> BTreeMap<String, PathBuf> {
    let volumes = service["volumes"].as_array().cloned().unwrap_or_default();
    volumes
        .iter()
        .filter(|v| v["type"] == "bind")
        .map(|v| {
            (
                text(&v["target"], "target").to_string(),
                PathBuf::from(text(&v["source"], "source")),
            )
        })
        .collect()
}

/// The host file behind a container path, through the service's bind mounts.
pub fn host_path(service: &Value, container: &str) -> PathBuf {
    binds(service)
        .into_iter()
        .filter_map(|(target, source)| {
            let rest = Path::new(container).strip_prefix(&target).ok()?;
            Some(if rest.as_os_str().is_empty() {
                source
            } else {
                source.join(rest)
            })
        })
        .max_by_key(|p| p.as_os_str().len())
        .unwrap_or_else(|| panic!("{container} is not mounted"))
}

/// A service's secrets as the files it sees: `/run/secrets/NAME` -> content.
pub fn secrets_of(model: &Value, service: &Value) -> BTreeMap<String, Vec<u8>> {
    let list = service["secrets"].as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|s| {
            let name = text(&s["source"], "secret");
            let file = text(&model["secrets"][name]["file"], "secret file");
            let target = s["target"].as_str().map(String::from);
            let target = target.unwrap_or_else(|| format!("/run/secrets/{name}"));
            (
                target,
                std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}")),
            )
        })
        .collect()
}

pub fn environment(service: &Value) -> BTreeMap<String, String> {
    let env = service["environment"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    env.into_iter()
        .map(|(k, v)| {
            (
                k,
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

/// The connector files an init service registers (its command's arguments), on the host.
pub fn registered(service: &Value) -> Vec<PathBuf> {
    let command = service["command"].as_array().cloned().unwrap_or_default();
    let files: Vec<PathBuf> = command
        .iter()
        .map(|c| host_path(service, text(c, "command")))
        .collect();
    assert!(!files.is_empty(), "no connector registered: {service}");
    files
}

/// `compose/sluice/deploy.sed` applied to a connector file, as register.sh does.
pub fn deployed(file: &Path) -> String {
    let script = root().join("compose/sluice/deploy.sed");
    run(
        Path::new("sed"),
        &["-f", script.to_str().unwrap(), file.to_str().unwrap()],
        None,
    )
}

/// The host of `scheme://host:port/...` (JDBC urls too).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split("://").nth(1)?;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

// --- kubernetes ---------------------------------------------------------------------------

pub fn kustomize(overlay: &str) -> String {
    let dir = format!("kubernetes/overlays/{overlay}");
    run(&tool("SLUICE_KUBECTL_BIN"), &["kustomize", &dir], None)
}

pub fn find<'a>(docs: &'a [Value], kind: &str, name_prefix: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"] == kind && text(&d["metadata"]["name"], "name").starts_with(name_prefix)
        })
        .unwrap_or_else(|| panic!("no {kind} {name_prefix}*"))
}

/// Whether `labels` has every pair of `selector`.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("selector");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
