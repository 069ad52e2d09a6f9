use super::*;
use std::path::PathBuf;

fn no_env(_: &str) -> Option<String> {
    None
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/workers")
        .join(name)
}

fn load_text(text: &str) -> Result<WorkerConfig, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("worker.properties");
    std::fs::write(&file, text).unwrap();
    WorkerConfig::load(Some(&file), &BTreeMap::new(), &no_env, &[])
}

#[test]
fn flag_beats_env_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("worker.properties");
    std::fs::write(
        &file,
        "bootstrap.servers=file:1\nsluice.metrics.address=127.0.0.1:1\nplugin.path=/x\n",
    )
    .unwrap();
    let env = vec![("SLUICE_BOOTSTRAP_SERVERS".to_string(), "env:2".to_string())];
    let w = WorkerConfig::load(Some(&file), &BTreeMap::new(), &no_env, &env).unwrap();
    assert_eq!(w.bootstrap_servers, "env:2");
    assert_eq!(w.metrics_address, Some("127.0.0.1:1".parse().unwrap()));
    let flags = BTreeMap::from([("bootstrap.servers".to_string(), "flag:3".to_string())]);
    let w = WorkerConfig::load(Some(&file), &flags, &no_env, &env).unwrap();
    assert_eq!(w.bootstrap_servers, "flag:3");
    let w = WorkerConfig::load(None, &BTreeMap::new(), &no_env, &[]).unwrap();
    assert_eq!(w.bootstrap_servers, DEFAULT_BOOTSTRAP);
}

#[test]
fn unknown_keys_are_named() {
    let problems = load_text("bogus.key=1\nconsumer.override.x=1\nplugin.path=/p\n").unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("bogus.key: unknown worker key"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("consumer.override.x: not a consumer setting"),
        "{problems:?}"
    );
}

/// Kafka's stock worker files (same keys and values, `tests/data/workers/`) load with no
/// problem; every key only a Java worker reads is listed as having no effect.
#[test]
fn kafkas_stock_worker_files_load() {
    let w = WorkerConfig::load(
        Some(&data("connect-distributed.properties")),
        &BTreeMap::new(),
        &no_env,
        &[],
    )
    .expect("connect-distributed.properties");
    assert_eq!(w.bootstrap_servers, "localhost:9092");
    assert_eq!(
        w.converters["value.converter"].expose(),
        "org.apache.kafka.connect.json.JsonConverter"
    );
    assert_eq!(
        w.no_effect_keys,
        [
            "config.storage.replication.factor",
            "config.storage.topic",
            "group.id",
            "offset.flush.interval.ms",
            "offset.storage.replication.factor",
            "offset.storage.topic",
            "status.storage.replication.factor",
            "status.storage.topic",
        ]
    );
    let w = WorkerConfig::load(
        Some(&data("connect-standalone.properties")),
        &BTreeMap::new(),
        &no_env,
        &[],
    )
    .expect("connect-standalone.properties");
    assert_eq!(
        w.no_effect_keys,
        ["offset.flush.interval.ms", "offset.storage.file.filename"]
    );
    // The keys the stock files carry commented out, and those of older stock files.
    let w = load_text(
        "offset.storage.partitions=25\nstatus.storage.partitions=5\nlisteners=HTTP://:8083\n\
         rest.advertised.host.name=\nrest.advertised.port=\nrest.advertised.listener=\nplugin.path=\n\
         internal.key.converter=org.apache.kafka.connect.json.JsonConverter\n\
         internal.key.converter.schemas.enable=false\nrest.port=8083\nadmin.listeners=http://:8084\n\
         listeners.https.ssl.keystore.location=/k.jks\nheader.converter=x\n",
    )
    .expect("worker");
    assert_eq!(w.no_effect_keys.len(), 13, "{:?}", w.no_effect_keys);
}

/// A production-style worker file: SASL_SSL/SCRAM for every client with secrets from a
/// Kubernetes-mounted directory, Java-only keys next to them.
#[test]
fn a_production_worker_file_with_providers() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("kafka");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("password"), "scram-pw").unwrap();
    let text = std::fs::read_to_string(data("connect-distributed-sasl-ssl.properties"))
        .unwrap()
        .replace("/run/secrets", &dir.path().display().to_string());
    let env = |name: &str| (name == "KAFKA_USER").then(|| "sluice".to_string());
    let file = dir.path().join("w.properties");
    std::fs::write(&file, text).unwrap();
    let w = WorkerConfig::load(Some(&file), &BTreeMap::new(), &env, &[]).expect("worker");
    for role in [
        ClientRole::Consumer,
        ClientRole::Producer,
        ClientRole::Admin,
    ] {
        let c = w.client_config(role);
        assert_eq!(c.get("sasl.username"), Some("sluice"), "{role:?}");
        assert_eq!(c.get("sasl.password"), Some("scram-pw"), "{role:?}");
        assert_eq!(
            c.get("ssl.ca.location"),
            Some("/etc/kafka/ca.pem"),
            "{role:?}"
        );
    }
    assert_eq!(w.max_poll_records, Some(250));
    assert_eq!(w.override_policy, OverridePolicy::Principal);
    assert!(!format!("{w:?}").contains("scram-pw"));
    for key in ["plugin.path", "listeners", "consumer.key.deserializer"] {
        assert!(w.no_effect_keys.iter().any(|k| k == key), "{key}");
    }
}

/// An unresolvable placeholder is an error naming the key and the provider; the value a
/// provider supplied is not quoted back in a parse error.
#[test]
fn placeholders_in_the_worker_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("port"), "not-a-port").unwrap();
    let d = dir.path().display();
    let problems = load_text(&format!(
        "config.providers=dir\n\
         config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider\n\
         sasl.password=${{dir:{d}:missing}}\nsluice.metrics.address=${{dir:{d}:port}}\n\
         ssl.key.password=${{vault:x:y}}\n"
    ))
    .unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:?}");
    let all = problems.join("\n");
    assert!(
        all.contains(&format!(
            "sasl.password: ${{dir:{d}:missing}}: provider dir: no file missing"
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "sluice.metrics.address: '${{dir:{d}:port}}' is not host:port"
        )),
        "{all}"
    );
    assert!(
        all.contains("ssl.key.password: ${vault:x:y}: unknown config provider 'vault'"),
        "{all}"
    );
    assert!(!all.contains("not-a-port"), "{all}");
}

#[test]
fn health_and_shutdown_timeouts() {
    let w = load_text("").unwrap();
    assert_eq!(w.unreachable_timeout, Duration::from_secs(60));
    assert_eq!(w.shutdown_timeout, Duration::from_secs(10));
    assert_eq!(
        WorkerConfig::default().shutdown_timeout,
        DEFAULT_SHUTDOWN_TIMEOUT
    );
    let w =
        load_text("sluice.health.unreachable.timeout.ms=15000\nsluice.shutdown.timeout.ms=2500\n")
            .unwrap();
    assert_eq!(w.unreachable_timeout, Duration::from_millis(15_000));
    assert_eq!(w.shutdown_timeout, Duration::from_millis(2_500));
    let env = [
        ("SLUICE_HEALTH_UNREACHABLE_TIMEOUT_MS", "5000"),
        ("SLUICE_SHUTDOWN_TIMEOUT_MS", "700"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let w = WorkerConfig::load(None, &BTreeMap::new(), &no_env, &env).unwrap();
    assert_eq!(w.unreachable_timeout, Duration::from_millis(5_000));
    assert_eq!(w.shutdown_timeout, Duration::from_millis(700));
    let problems =
        load_text("sluice.health.unreachable.timeout.ms=0\nsluice.shutdown.timeout.ms=soon\n")
            .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("sluice.health.unreachable.timeout.ms: '0'"));
    assert!(problems[1].starts_with("sluice.shutdown.timeout.ms: 'soon'"));
}

#[test]
fn override_policy_names() {
    for (value, policy) in [
        ("None", OverridePolicy::None),
        ("Principal", OverridePolicy::Principal),
        ("All", OverridePolicy::All),
        (
            "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy",
            OverridePolicy::Principal,
        ),
        ("NoneConnectorClientConfigOverridePolicy", OverridePolicy::None),
    ] {
        let w = load_text(&format!("connector.client.config.override.policy={value}\n")).unwrap();
        assert_eq!(w.override_policy, policy, "{value}");
    }
    assert_eq!(WorkerConfig::default().override_policy, OverridePolicy::All);
    let problems = load_text("connector.client.config.override.policy=Some\n").unwrap_err();
    assert!(problems[0].starts_with("connector.client.config.override.policy: 'Some'"));
}
