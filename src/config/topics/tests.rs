use super::*;
use std::path::Path;

/// Writes `files` (name, text) into a fresh directory and loads it.
fn load_texts(
    files: &[(&str, &str)],
) -> (
    tempfile::TempDir,
    Result<TopicDefinitions, DefinitionErrors>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let loaded = load(dir.path());
    (dir, loaded)
}

fn definitions(text: &str) -> TopicDefinitions {
    load_texts(&[("t.json", text)]).1.expect("definitions")
}

fn topic(name: &str, partitions: i32, replicas: i16, config: &[(&str, &str)]) -> ActualTopic {
    ActualTopic {
        name: name.into(),
        partitions,
        replicas,
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn lines(changes: &[Change]) -> Vec<String> {
    changes.iter().map(Change::to_string).collect()
}

#[test]
fn the_repository_topic_files_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("topics");
    let loaded = load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = loaded
        .topics
        .iter()
        .map(|d| d.selector.to_string())
        .collect();
    for name in [
        "connect-configs",
        "connect-status",
        "dlq-inventory-postgres",
        "dlq-inventory-avro-postgres",
        "dbserver1.public.customers",
        "dbserver1.transaction",
        "pattern dbserver1\\.public\\..*",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }
    // Every dead-letter topic a connector file names is defined.
    let connectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
    for entry in std::fs::read_dir(connectors).expect("connectors/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            if let Some(dlq) = doc["config"]["errors.deadletterqueue.topic.name"].as_str() {
                assert!(
                    names.iter().any(|n| n == dlq),
                    "{dlq} of {path:?} not defined"
                );
            }
        }
    }
}

#[test]
fn an_empty_broker_gets_every_named_topic_with_the_patterns_configs() {
    let defs = definitions(
        r#"{"topics": [
            {"name": "a.x", "partitions": 3, "replicas": 1, "config": {"retention.ms": 1000}},
            {"pattern": "a\\..*", "config": {"cleanup.policy": "compact", "retention.ms": 5}},
            {"pattern": "zzz.*", "config": {"cleanup.policy": "compact"}}
        ]}"#,
    );
    assert_eq!(
        lines(&plan(&defs, &[])),
        [
            "create topic a.x partitions=3 rf=1 cleanup.policy=compact retention.ms=1000",
            "note: pattern zzz.* matches no topic (a pattern never creates topics)",
        ]
    );
}

#[test]
fn a_topic_in_line_needs_nothing() {
    let defs = definitions(
        r#"{"topics": [{"name": "t", "partitions": 2, "replicas": 3,
            "config": {"cleanup.policy": "compact,delete", "retention.ms": "100"}}]}"#,
    );
    let actual = [topic(
        "t",
        2,
        3,
        &[
            ("cleanup.policy", "delete,compact"),
            ("retention.ms", "100"),
            ("segment.ms", "9"),
        ],
    )];
    assert_eq!(plan(&defs, &actual), []);
}

#[test]
fn drift_is_raised_aligned_or_refused() {
    let defs = definitions(
        r#"{"topics": [
            {"name": "up", "partitions": 6, "config": {"retention.ms": 86400000}},
            {"name": "down", "partitions": 1, "replicas": 3},
            {"name": "new", "partitions": 2}
        ]}"#,
    );
    let actual = [
        topic("up", 3, 1, &[("retention.ms", "604800000")]),
        topic("down", 4, 1, &[]),
        topic("other", 1, 1, &[]),
    ];
    let changes = plan(&defs, &actual);
    assert_eq!(
        lines(&changes),
        [
            "refuse lower partitions down 4 -> 1 (Kafka cannot remove partitions)",
            "refuse replication factor down 1 -> 3 (not a config: reassign the partitions, e.g. kafka-reassign-partitions)",
            "create topic new partitions=2 rf=default",
            "raise partitions up 3 -> 6",
            "set config up retention.ms 604800000 -> 86400000",
        ]
    );
    assert_eq!(changes.iter().filter(|c| c.is_refusal()).count(), 2);
    assert_eq!(changes.iter().filter(|c| c.is_change()).count(), 3);
}

#[test]
fn patterns_align_existing_topics_and_never_create_or_touch_internal_ones() {
    let defs = definitions(
        r#"{"topics": [{"pattern": ".*", "partitions": 2, "config": {"retention.ms": 7}}]}"#,
    );
    let actual = [
        topic("__consumer_offsets", 50, 1, &[]),
        topic("b", 1, 1, &[("retention.ms", "7")]),
        topic("c", 4, 1, &[]),
    ];
    assert_eq!(
        lines(&plan(&defs, &actual)),
        [
            "raise partitions b 1 -> 2",
            "refuse lower partitions c 4 -> 2 (Kafka cannot remove partitions)",
            "set config c retention.ms (unset) -> 7",
        ]
    );
}

#[test]
fn a_name_wins_over_patterns_and_disagreeing_patterns_are_refused() {
    let defs = definitions(
        r#"{"topics": [
            {"pattern": "p.*", "config": {"retention.ms": 1, "segment.ms": 5}},
            {"pattern": ".*x", "config": {"retention.ms": 2, "segment.ms": 5}},
            {"name": "px", "partitions": 1, "config": {"retention.ms": 3}},
            {"name": "py", "partitions": 1}
        ]}"#,
    );
    let actual = [topic("pqx", 1, 1, &[])];
    assert_eq!(
        lines(&plan(&defs, &actual)),
        [
            "set config pqx segment.ms (unset) -> 5",
            "refuse retention.ms of pqx: the patterns disagree (pattern p.* says 1, pattern .*x says 2)",
            "create topic px partitions=1 rf=default retention.ms=3 segment.ms=5",
            "create topic py partitions=1 rf=default retention.ms=1 segment.ms=5",
        ]
    );
}

#[test]
fn every_problem_names_the_file_and_the_field() {
    let (dir, loaded) = load_texts(&[
        (
            "a.json",
            r#"{"topics": [
                {"name": "ok", "partitions": 1},
                {"name": "bad name", "partitions": 0, "replicas": "3"},
                {"pattern": "(", "config": {"retention.ms": "soon", "cleanup.policy": "forever",
                    "num.partitions": 3, "Bad": 1, "x": [1]}},
                {"name": "n", "pattern": "p", "partitions": 1},
                {"partitions": 1, "colour": "red"},
                {"name": "missing-partitions"}
            ], "extra": 1}"#,
        ),
        ("b.json", r#"{"topics": [{"name": "ok", "partitions": 2}]}"#),
        ("c.json", "{\"topics\": [\n  {\"name\": \"x\",}\n]}"),
        ("d.json", r#"[]"#),
        ("README.md", "not read"),
    ]);
    let problems = loaded.expect_err("problems").0;
    let text: Vec<String> = problems
        .iter()
        .map(|p| {
            p.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
        .collect();
    let expected = [
        "a.json: extra: unknown field",
        "a.json: topics[1].name: \"bad name\" is not a legal topic name",
        "a.json: topics[1].partitions: expected a whole number from 1 to 100000, got 0",
        "a.json: topics[1].replicas: expected a whole number from 1 to 32767, got \"3\"",
        "a.json: topics[2].pattern: not a regular expression (unclosed group): \"(\"",
        "a.json: topics[2].config.retention.ms: expected a whole number (-1 or more), got \"soon\"",
        "a.json: topics[2].config.cleanup.policy: expected delete, compact or compact,delete",
        "a.json: topics[2].config.num.partitions: not a topic config: use the partitions",
        "a.json: topics[2].config.Bad: not a topic config name",
        "a.json: topics[2].config.x: expected a string, number or boolean",
        "a.json: topics[3].pattern: give name or pattern, not both",
        "a.json: topics[4].colour: unknown field (expected name, pattern,",
        "a.json: topics[4]: missing name (one topic) or pattern (existing topics)",
        "a.json: topics[5].partitions: missing (a named topic is created with it)",
        "b.json: topic ok is defined twice (also in ",
        "c.json: not valid JSON: trailing comma at line 2 column 16",
        "d.json: expected an object {\"topics\": [...]}",
    ];
    for want in expected {
        assert!(
            text.iter().any(|t| t.starts_with(want)),
            "{want:?} not in:\n{}",
            text.join("\n")
        );
    }
    assert_eq!(text.len(), expected.len(), "{}", text.join("\n"));
}

#[test]
fn a_directory_without_definitions_or_a_missing_path_is_a_problem() {
    let (_dir, loaded) = load_texts(&[("notes.txt", "")]);
    let problem = loaded.expect_err("empty").to_string();
    assert!(
        problem.contains("no *.json topic definition file"),
        "{problem}"
    );
    let problem = load(Path::new("/nonexistent/topics.json"))
        .expect_err("missing")
        .to_string();
    assert!(
        problem.contains("/nonexistent/topics.json: cannot read"),
        "{problem}"
    );
}

#[test]
fn one_file_can_be_loaded_alone() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("topics/connect.json");
    let defs = load(&file).expect("connect.json");
    assert_eq!(defs.topics.len(), 2);
    assert_eq!(defs.topics[0].file, file);
}
