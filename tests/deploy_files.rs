//! The deployment files are checked with the real tools and with sluice's own config loaders:
//!
//! - `compose/`: Docker Compose v2 validates both variants (JSON, and the Avro override); every
//!   file a service mounts or builds from exists; the sluice worker file loads as a worker file;
//!   the connectors the init services register (after `compose/sluice/deploy.sed`) parse as
//!   sluice connectors in that worker, with the sluice service's environment and secrets, and
//!   name hosts that are services of the stack; the Debezium source feeds the sinks' topics.
//! - `kubernetes/`: each overlay renders with `kubectl kustomize` and passes
//!   `kubernetes-validate --strict`; the ServiceMonitor and PrometheusRule (not in its schemas)
//!   pass the prometheus-operator CRD validators; the worker file in the rendered ConfigMap loads;
//!   selectors, ports, probes, mounts and the security context fit together; the PrometheusRule
//!   carries exactly the groups of `grafana/alerts/sluice-alerts.yml` (`UPDATE_RULES=1` rewrites it).
//! - both: every shutdown grace period exceeds the worker's `sluice.shutdown.timeout.ms` plus the
//!   time to leave the group; the Dockerfiles pass hadolint.
//!
//! `bash .ci/test` installs the tools and exports `SLUICE_COMPOSE_BIN`, `SLUICE_KUBECTL_BIN`,
//! `SLUICE_KUBE_VALIDATE_BIN` (its venv's python reads YAML), `SLUICE_HADOLINT_BIN` and
//! `SLUICE_PROM_OPERATOR_MODELS`. A missing tool fails the test (never a silent skip).

use serde_json::{json, Value};
use sluice::config::{ConnectorConfig, WorkerConfig};
use sluice::worker::Settings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The compose variants: the default (JSON) and the Avro override.
const VARIANTS: [&[&str]; 2] = [
    &["compose/docker-compose.yml"],
    &[
        "compose/docker-compose.yml",
        "compose/docker-compose.avro.yml",
    ],
];
const OVERLAYS: [&str; 2] = ["dev", "prod"];
/// Where compose and the Kubernetes Deployment mount the worker file.
const WORKER_FILE: &str = "/etc/sluice/worker.properties";
/// The source of truth for alert rules, and its generated Kubernetes copy.
const ALERTS: &str = "grafana/alerts/sluice-alerts.yml";
const PROMETHEUS_RULE: &str = "kubernetes/base/prometheusrule.yaml";
/// After SIGTERM, sluice spends up to `sluice.shutdown.timeout.ms` on in-flight batches, then
/// leaves its group and stops the REST listener: the grace period must leave room for that.
const LEAVE_MARGIN: Duration = Duration::from_secs(10);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool from `.ci/test`; panics naming the variable when it is missing.
fn tool(var: &str) -> PathBuf {
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
fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> String {
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
fn yaml_docs(text: &str) -> Vec<Value> {
    let python = tool("SLUICE_KUBE_VALIDATE_BIN").with_file_name("python3");
    let script = "import json, sys, yaml\n\
                  print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))";
    let out = run(&python, &["-c", script], Some(text));
    match serde_json::from_str(&out).expect("python printed JSON") {
        Value::Array(docs) => docs,
        other => panic!("not a list: {other}"),
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value}"))
}

// --- the worker file and the connectors, loaded by sluice ---------------------------------

/// Secrets as a worker sees them: `/run/secrets/...` file name -> content. Paths in configs are
/// rewritten to a temporary directory holding these files, so the config providers read them.
struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    fn new(files: &BTreeMap<String, Vec<u8>>) -> Self {
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

    fn localize(&self, text: &str) -> String {
        let here = self.dir.path().join("run/secrets");
        text.replace("/run/secrets", here.to_str().unwrap())
    }

    /// Loads a worker file the way `sluice worker` does, with this environment.
    fn worker(&self, name: &str, text: &str, env: &BTreeMap<String, String>) -> WorkerConfig {
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
fn shutdown_bound(worker: &WorkerConfig) -> Duration {
    worker.shutdown_timeout + LEAVE_MARGIN
}

/// The REST port of `listeners`, which must bind every interface in a container.
fn listener_port(worker: &WorkerConfig, name: &str) -> u64 {
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
fn compose_duration(text: &str) -> Duration {
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
fn compose(files: &[&str]) -> Value {
    let bin = tool("SLUICE_COMPOSE_BIN");
    let mut args: Vec<&str> = files.iter().flat_map(|f| ["-f", *f]).collect();
    run(&bin, &[args.as_slice(), &["config", "-q"]].concat(), None);
    args.extend(["config", "--format", "json"]);
    serde_json::from_str(&run(&bin, &args, None)).expect("compose config JSON")
}

/// A service's bind mounts: container path -> host path.
fn binds(service: &Value) -> BTreeMap<String, PathBuf> {
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
fn host_path(service: &Value, container: &str) -> PathBuf {
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
fn secrets_of(model: &Value, service: &Value) -> BTreeMap<String, Vec<u8>> {
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

fn environment(service: &Value) -> BTreeMap<String, String> {
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
fn registered(service: &Value) -> Vec<PathBuf> {
    let command = service["command"].as_array().cloned().unwrap_or_default();
    let files: Vec<PathBuf> = command
        .iter()
        .map(|c| host_path(service, text(c, "command")))
        .collect();
    assert!(!files.is_empty(), "no connector registered: {service}");
    files
}

/// `compose/sluice/deploy.sed` applied to a connector file, as register.sh does.
fn deployed(file: &Path) -> String {
    let script = root().join("compose/sluice/deploy.sed");
    run(
        Path::new("sed"),
        &["-f", script.to_str().unwrap(), file.to_str().unwrap()],
        None,
    )
}

#[test]
fn compose_validates_and_mounts_only_files_that_exist() {
    for files in VARIANTS {
        let model = compose(files);
        let services = model["services"].as_object().expect("services");
        for (name, service) in services {
            for (target, source) in binds(service) {
                assert!(
                    source.exists(),
                    "{files:?}: {name} mounts {} at {target}: missing",
                    source.display()
                );
            }
            if let Some(build) = service.get("build") {
                let context = PathBuf::from(text(&build["context"], "context"));
                let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
                assert!(
                    context.join(dockerfile).is_file(),
                    "{name}: no {dockerfile} in {}",
                    context.display()
                );
            }
            for dep in service["depends_on"]
                .as_object()
                .into_iter()
                .flat_map(|d| d.keys())
            {
                assert!(
                    services.contains_key(dep),
                    "{name} depends on unknown {dep}"
                );
            }
        }
        for (name, secret) in model["secrets"].as_object().expect("secrets") {
            let file = text(&secret["file"], "file");
            let content =
                std::fs::read(file).unwrap_or_else(|e| panic!("secret {name}: {file}: {e}"));
            // PostgreSQL's *_FILE strips a trailing newline; Connect's DirectoryConfigProvider
            // (and sluice's) keeps it, and the password would be wrong.
            assert!(
                !content.ends_with(b"\n"),
                "secret {name}: {file} ends with a newline"
            );
        }
    }
}

#[test]
fn compose_sluice_runs_a_valid_worker_with_valid_connectors() {
    for files in VARIANTS {
        let model = compose(files);
        let services = &model["services"];
        let sluice = &services["sluice"];
        let command: Vec<&str> = sluice["command"]
            .as_array()
            .expect("command")
            .iter()
            .map(|c| text(c, "arg"))
            .collect();
        assert_eq!(command, ["worker", "--worker", WORKER_FILE], "{files:?}");
        let worker_file = host_path(sluice, WORKER_FILE);
        let env = environment(sluice);
        let secrets = Secrets::new(&secrets_of(&model, sluice));
        let worker_text = std::fs::read_to_string(&worker_file).unwrap();
        let worker = secrets.worker(&worker_file.display().to_string(), &worker_text, &env);
        assert_eq!(listener_port(&worker, "compose worker"), 8083);
        assert!(
            worker
                .bootstrap_servers
                .split(',')
                .all(|b| services.get(b.split(':').next().unwrap()).is_some()),
            "bootstrap.servers={} must name services of the stack",
            worker.bootstrap_servers
        );
        let grace = compose_duration(text(&sluice["stop_grace_period"], "stop_grace_period"));
        assert!(
            grace > shutdown_bound(&worker),
            "{files:?}: stop_grace_period {grace:?} must exceed sluice.shutdown.timeout.ms ({:?}) + {LEAVE_MARGIN:?}",
            worker.shutdown_timeout
        );

        for file in registered(&services["sluice-init"]) {
            let name = file.display().to_string();
            let config = ConnectorConfig::from_json_with(
                &secrets.localize(&deployed(&file)),
                &name,
                &|k| env.get(k).cloned(),
                &worker,
            )
            .unwrap_or_else(|e| {
                panic!("{files:?}: the registered {name} does not parse in the compose worker: {e}")
            });
            let doc: Value = serde_json::from_str(&deployed(&file)).unwrap();
            for (key, value) in doc["config"].as_object().unwrap() {
                let host = url_host(text(value, key));
                if key.ends_with("url") {
                    let host = host.unwrap_or_else(|| panic!("{name}: {key} has no host"));
                    assert!(
                        services.get(host).is_some(),
                        "{files:?}: {name}: {key} names {host}, not a service"
                    );
                }
            }
            assert!(!config.name.is_empty());
            sinks_topics_come_from_debezium(&model, &config, &name);
        }
    }
}

/// The host of `scheme://host:port/...` (JDBC urls too).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split("://").nth(1)?;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

/// The Debezium source registered by debezium-init writes the topics the sink reads, and its
/// password placeholder names a secret the Debezium service has.
fn sinks_topics_come_from_debezium(model: &Value, sink: &ConnectorConfig, sink_name: &str) {
    let init = &model["services"]["debezium-init"];
    let debezium = &model["services"]["debezium"];
    let env = environment(debezium);
    assert_eq!(
        env.get("CONNECT_CONFIG_PROVIDERS").map(String::as_str),
        Some("directory")
    );
    for file in registered(init) {
        let doc: Value = serde_json::from_str(&deployed(&file)).unwrap();
        let config = &doc["config"];
        assert_eq!(
            config["connector.class"],
            "io.debezium.connector.postgresql.PostgresConnector"
        );
        assert!(
            doc["name"].is_string(),
            "{}: Connect wants {{name, config}}",
            file.display()
        );
        let host = text(&config["database.hostname"], "database.hostname");
        assert!(
            model["services"].get(host).is_some(),
            "database.hostname={host} is not a service"
        );
        let password = text(&config["database.password"], "database.password");
        let secret = password
            .strip_prefix("${directory:/run/secrets:")
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or_else(|| {
                panic!("database.password must come from a secret file: {password}")
            });
        assert!(
            secrets_of(model, debezium).contains_key(&format!("/run/secrets/{secret}")),
            "debezium has no secret {secret}"
        );
        let prefix = text(&config["topic.prefix"], "topic.prefix");
        let topic = format!("{prefix}.public.customers");
        let regex = sink
            .redacted
            .get("topics.regex")
            .unwrap_or_else(|| panic!("{sink_name}: no topics.regex"));
        let matches = regex::Regex::new(&format!("^(?:{regex})$"))
            .unwrap()
            .is_match(&topic);
        assert!(
            matches,
            "{sink_name}: topics.regex {regex} misses Debezium's {topic}"
        );
    }
}

// --- kubernetes ---------------------------------------------------------------------------

fn kustomize(overlay: &str) -> String {
    let dir = format!("kubernetes/overlays/{overlay}");
    run(&tool("SLUICE_KUBECTL_BIN"), &["kustomize", &dir], None)
}

fn find<'a>(docs: &'a [Value], kind: &str, name_prefix: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"] == kind && text(&d["metadata"]["name"], "name").starts_with(name_prefix)
        })
        .unwrap_or_else(|| panic!("no {kind} {name_prefix}*"))
}

/// Whether `labels` has every pair of `selector`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("selector");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn kubernetes_overlays_render_and_validate() {
    for overlay in OVERLAYS {
        let rendered = kustomize(overlay);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &rendered).unwrap();
        let path = file.path().to_str().unwrap();
        let report = run(
            &tool("SLUICE_KUBE_VALIDATE_BIN"),
            &["--strict", "-k", "1.30", path],
            None,
        );
        let docs = yaml_docs(&rendered);
        for doc in &docs {
            let (kind, name) = (
                text(&doc["kind"], "kind"),
                text(&doc["metadata"]["name"], "name"),
            );
            let crd = doc["apiVersion"] == "monitoring.coreos.com/v1";
            let passed = report.contains(&format!(
                "passed for resource {}/{name} ",
                kind.to_lowercase()
            ));
            assert!(
                crd || passed,
                "{overlay}: {kind}/{name} not validated:\n{report}"
            );
        }
        for line in report.lines().filter(|l| !l.starts_with("INFO")) {
            let known = ["kind PrometheusRule with", "kind ServiceMonitor with"]
                .iter()
                .any(|k| line.contains(k));
            assert!(known, "{overlay}: kubernetes-validate: {line}");
        }
        // The CRs the bundled schemas lack, against the prometheus-operator CRD validators.
        let crs: Vec<&Value> = docs
            .iter()
            .filter(|d| d["apiVersion"] == "monitoring.coreos.com/v1")
            .collect();
        assert_eq!(
            crs.len(),
            2,
            "{overlay}: a ServiceMonitor and a PrometheusRule"
        );
        let models = tool("SLUICE_PROM_OPERATOR_MODELS");
        let script = root().join("tests/data/deploy/check-prometheus-operator.mjs");
        let args = [script.to_str().unwrap(), models.to_str().unwrap()];
        run(
            Path::new("node"),
            &args,
            Some(&serde_json::to_string(&crs).unwrap()),
        );
        check_workload(overlay, &docs);
    }
}

/// How the rendered objects fit together.
fn check_workload(overlay: &str, docs: &[Value]) {
    let deployment = find(docs, "Deployment", "sluice");
    let pod = &deployment["spec"]["template"]["spec"];
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let service = find(docs, "Service", "sluice");
    let job = find(docs, "Job", "sluice-topics");
    let job_labels = &job["spec"]["template"]["metadata"]["labels"];
    for (what, selector) in [
        ("Deployment", &deployment["spec"]["selector"]["matchLabels"]),
        ("Service", &service["spec"]["selector"]),
        (
            "PodDisruptionBudget",
            &find(docs, "PodDisruptionBudget", "sluice")["spec"]["selector"]["matchLabels"],
        ),
    ] {
        assert!(
            selects(selector, pod_labels),
            "{overlay}: {what} selector misses the workers"
        );
        assert!(
            !selects(selector, job_labels),
            "{overlay}: {what} selector takes the topics Job"
        );
    }
    let monitor = find(docs, "ServiceMonitor", "sluice");
    assert!(selects(
        &monitor["spec"]["selector"]["matchLabels"],
        &service["metadata"]["labels"]
    ));
    let port_names: Vec<&Value> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    for endpoint in monitor["spec"]["endpoints"].as_array().unwrap() {
        assert!(
            port_names.contains(&&endpoint["port"]),
            "{overlay}: ServiceMonitor port {}",
            endpoint["port"]
        );
        assert_eq!(endpoint["path"], "/metrics");
    }

    let container = &pod["containers"][0];
    let secured = |what: &str, pod: &Value, container: &Value| {
        let (p, c) = (&pod["securityContext"], &container["securityContext"]);
        assert_eq!(p["runAsNonRoot"], true, "{overlay} {what}");
        assert_eq!(
            p["runAsUser"], 10001,
            "{overlay} {what}: the image's user (Dockerfile SLUICE_UID)"
        );
        assert_eq!(
            p["seccompProfile"]["type"], "RuntimeDefault",
            "{overlay} {what}"
        );
        assert_eq!(c["readOnlyRootFilesystem"], true, "{overlay} {what}");
        assert_eq!(c["allowPrivilegeEscalation"], false, "{overlay} {what}");
        assert_eq!(
            c["capabilities"]["drop"],
            json!(["ALL"]),
            "{overlay} {what}"
        );
        let mounts: Vec<&str> = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| text(&m["mountPath"], "mountPath"))
            .collect();
        assert!(
            mounts.contains(&"/tmp"),
            "{overlay} {what}: /tmp must be writable"
        );
        let volumes: Vec<&Value> = pod["volumes"].as_array().unwrap().iter().collect();
        for mount in container["volumeMounts"].as_array().unwrap() {
            let volume = volumes.iter().find(|v| v["name"] == mount["name"]);
            let volume =
                volume.unwrap_or_else(|| panic!("{overlay} {what}: no volume {}", mount["name"]));
            if let Some(name) = volume["configMap"]["name"].as_str() {
                find(docs, "ConfigMap", name);
            }
            if let Some(name) = volume["secret"]["secretName"].as_str() {
                // prod: the Secret is created outside kustomize (documented in its overlay).
                let external = overlay == "prod" && name == "sluice-secrets";
                assert!(
                    external
                        || docs
                            .iter()
                            .any(|d| d["kind"] == "Secret" && d["metadata"]["name"] == name),
                    "{overlay}: no Secret {name}"
                );
            }
        }
    };
    secured("Deployment", pod, container);
    secured(
        "Job",
        &job["spec"]["template"]["spec"],
        &job["spec"]["template"]["spec"]["containers"][0],
    );
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| text(a, "arg"))
        .collect();
    assert_eq!(args, ["worker", "--worker", WORKER_FILE], "{overlay}");
    for (probe, path) in [
        ("startupProbe", "/health"),
        ("livenessProbe", "/health"),
        ("readinessProbe", "/ready"),
    ] {
        assert_eq!(
            container[probe]["httpGet"]["path"], path,
            "{overlay}: {probe}"
        );
        assert_eq!(
            container[probe]["httpGet"]["port"], "http",
            "{overlay}: {probe}"
        );
    }

    // The worker file of the rendered ConfigMap, with the Secret's files (placeholders in prod,
    // whose Secret is external: the keys its overlay documents).
    let config_map = find(docs, "ConfigMap", "sluice-worker");
    let worker_text = text(
        &config_map["data"]["worker.properties"],
        "worker.properties",
    );
    let mut files = BTreeMap::new();
    match docs.iter().find(|d| d["kind"] == "Secret") {
        Some(secret) => {
            for (key, value) in secret["data"].as_object().unwrap() {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text(value, key))
                    .unwrap();
                files.insert(format!("/run/secrets/sluice/{key}"), bytes);
            }
        }
        None => {
            for key in ["target-db-password", "rest-bearer-token"] {
                files.insert(
                    format!("/run/secrets/sluice/{key}"),
                    b"placeholder".to_vec(),
                );
            }
        }
    }
    let env: BTreeMap<String, String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                text(&e["name"], "env").into(),
                text(&e["value"], "env").into(),
            )
        })
        .collect();
    let worker =
        Secrets::new(&files).worker(&format!("{overlay} worker.properties"), worker_text, &env);
    let port = listener_port(&worker, overlay);
    assert_eq!(
        container["ports"][0]["containerPort"], port,
        "{overlay}: container port = listeners"
    );
    assert_eq!(container["ports"][0]["name"], "http");
    let grace = Duration::from_secs(
        pod["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("terminationGracePeriodSeconds"),
    );
    assert!(
        grace > shutdown_bound(&worker),
        "{overlay}: terminationGracePeriodSeconds {grace:?} must exceed sluice.shutdown.timeout.ms ({:?}) + {LEAVE_MARGIN:?}",
        worker.shutdown_timeout
    );
}

#[test]
fn the_prometheus_rule_carries_the_alert_rules_compose_loads() {
    assert!(
        root().join(ALERTS).is_file(),
        "{ALERTS} is missing: compose's Prometheus loads grafana/alerts/ and the PrometheusRule is generated from it"
    );
    let rules = yaml_docs(&read(ALERTS));
    let groups = &rules[0]["groups"];
    assert!(
        groups.as_array().is_some_and(|g| !g.is_empty()),
        "{ALERTS}: no groups"
    );
    let current = yaml_docs(&read(PROMETHEUS_RULE));
    if &current[0]["spec"]["groups"] == groups {
        return;
    }
    if std::env::var_os("UPDATE_RULES").is_some() {
        let resource = json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "sluice"}, "spec": {"groups": groups}});
        let python = tool("SLUICE_KUBE_VALIDATE_BIN").with_file_name("python3");
        let dump = "import json, sys, yaml\nsys.stdout.write(yaml.safe_dump(json.load(sys.stdin), sort_keys=False, width=100))";
        let yaml = run(&python, &["-c", dump], Some(&resource.to_string()));
        let header = "# GENERATED from grafana/alerts/sluice-alerts.yml by tests/deploy_files.rs (UPDATE_RULES=1):\n\
                      # do not edit; edit the rule file, which the compose Prometheus loads as it is.\n";
        std::fs::write(root().join(PROMETHEUS_RULE), format!("{header}{yaml}")).unwrap();
        return;
    }
    panic!("{PROMETHEUS_RULE} differs from {ALERTS}: run `UPDATE_RULES=1 cargo test --test deploy_files`");
}

// --- images -------------------------------------------------------------------------------

#[test]
fn dockerfiles_pass_hadolint_and_agree_with_the_deployments() {
    let hadolint = tool("SLUICE_HADOLINT_BIN");
    for file in ["Dockerfile", "compose/debezium-avro/Dockerfile"] {
        run(&hadolint, &[file], None);
    }
    let dockerfile = read("Dockerfile");
    for line in [
        "ARG SLUICE_UID=10001",
        "USER ${SLUICE_UID}:${SLUICE_UID}",
        "ENTRYPOINT [\"sluice\"]",
        "CMD [\"worker\", \"--worker\", \"/etc/sluice/worker.properties\"]",
        "EXPOSE 8083",
        "COPY topics/ /etc/sluice/topics/",
    ] {
        assert!(
            dockerfile.lines().any(|l| l.trim() == line),
            "Dockerfile: no `{line}`"
        );
    }
    assert!(
        dockerfile.contains("http://127.0.0.1:8083/health"),
        "Dockerfile: HEALTHCHECK on /health"
    );
    assert!(
        root().join("topics").is_dir(),
        "topics/ is baked into the image: it must exist"
    );
    assert!(root()
        .join("tests/data/corpus/inventory/default.json-schemas.jsonl")
        .is_file());
}
