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
//! `SLUICE_PROM_OPERATOR_MODELS`. A missing tool fails the test (never a silent skip). The
//! helpers (tools, YAML, the compose model, worker loading) are in `tests/support/deploy.rs`.

mod support;

use serde_json::{json, Value};
use sluice::config::ConnectorConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::deploy::{
    binds, compose, compose_duration, deployed, environment, find, host_path, kustomize,
    listener_port, read, registered, root, run, secrets_of, selects, shutdown_bound, text, tool,
    url_host, yaml_docs, Secrets, LEAVE_MARGIN,
};

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
            sink_is_fed_by_debezium(&model, &doc["config"], &name);
        }
    }
}

/// A Connect worker key as the Debezium image takes it from the environment: `CONNECT_A_B` for
/// `a.b`, or the image's own `KEY_CONVERTER` / `VALUE_CONVERTER`.
fn debezium_worker_key<'a>(env: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    let name = key.to_uppercase().replace('.', "_");
    let own = ["key.converter", "value.converter"].contains(&key);
    env.get(&format!("CONNECT_{name}"))
        .or_else(|| own.then(|| env.get(&name)).flatten())
        .map(String::as_str)
}

/// The Debezium source registered by debezium-init (`connectors/debezium-source-inventory.json`,
/// the file the live test runs) writes the topics the sink reads, with the sink's converters (the
/// Debezium worker's: the source names none, so the Avro variant switches them there); its
/// password placeholder names a secret the Debezium service has, through the directory provider
/// the worker declares.
fn sink_is_fed_by_debezium(model: &Value, sink: &Value, sink_name: &str) {
    let init = &model["services"]["debezium-init"];
    let debezium = &model["services"]["debezium"];
    let env = environment(debezium);
    for (key, value) in [
        ("config.providers", "directory"),
        (
            "config.providers.directory.class",
            "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
        ),
        (
            "config.providers.directory.param.allowed.paths",
            "/run/secrets",
        ),
    ] {
        assert_eq!(
            debezium_worker_key(&env, key),
            Some(value),
            "debezium: {key}"
        );
    }
    let sink = sink.as_object().expect("sink config");
    for (key, value) in sink {
        let converter = key.starts_with("key.converter") || key.starts_with("value.converter");
        // The stack's registry has no authentication: the sink's credentials are ignored there.
        if converter && !key.contains(".basic.auth.") {
            assert_eq!(
                debezium_worker_key(&env, key),
                Some(text(value, key)),
                "{sink_name}: {key} differs from the Debezium worker's"
            );
        }
    }
    for key in [
        "key.converter.schemas.enable",
        "value.converter.schemas.enable",
    ] {
        assert_eq!(
            debezium_worker_key(&env, key),
            sink.get(key).map(|v| text(v, key)),
            "{sink_name}: {key} differs from the Debezium worker's"
        );
    }
    let files = registered(init);
    assert_eq!(
        files,
        [root().join("connectors/debezium-source-inventory.json")],
        "debezium-init registers the source config the live test runs"
    );
    for file in files {
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
        for (key, _) in config.as_object().unwrap() {
            assert!(
                !key.contains("converter"),
                "{}: {key} is the worker's",
                file.display()
            );
        }
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
        let regex = text(&sink["topics.regex"], "topics.regex");
        let regex = regex::Regex::new(&format!("^(?:{regex})$")).unwrap();
        let tables = text(&config["table.include.list"], "table.include.list");
        for table in tables.split(',') {
            let topic = format!("{prefix}.{}", table.trim());
            assert!(
                regex.is_match(&topic),
                "{sink_name}: topics.regex {regex} misses Debezium's {topic}"
            );
        }
    }
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
