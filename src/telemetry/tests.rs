//! The catalogue as a scrape sees it: every family from the first scrape, the build and
//! process metrics, the connector state one-hot, and `docs/metrics.md` kept equal to the code.

use super::*;

/// The sample lines of `text` for `name` (exactly that family, not a longer name).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

#[test]
fn first_scrape_announces_every_family_once() {
    let metrics = Metrics::new();
    metrics.connector_started("c");
    let text = metrics.render();
    // Taken from the struct as built, not a copy: a family added later is checked too.
    assert!(metrics.families().len() >= 19, "{:?}", metrics.families());
    for family in metrics.families() {
        let help = format!("# HELP {} ", family.name);
        let kind = format!("# TYPE {} {}\n", family.name, family.kind);
        assert_eq!(text.matches(&help).count(), 1, "{help}\n{text}");
        assert_eq!(text.matches(&kind).count(), 1, "{kind}\n{text}");
    }
}

#[test]
fn connector_started_creates_its_series_at_zero() {
    let metrics = Metrics::new();
    metrics.connector_started("c");
    let text = metrics.render();
    for family in metrics.families() {
        // The last-commit time starts at the pipeline's start, not at 0 (1970 would read as
        // "no commit for decades").
        if family.labels != ["connector"] || family.name == "sluice_last_commit_timestamp_seconds" {
            continue;
        }
        let name = match family.kind {
            "histogram" => format!("{}_count", family.name),
            _ => family.name.to_string(),
        };
        assert_eq!(
            samples(&text, &name),
            [format!("{name}{{connector=\"c\"}} 0")],
            "{text}"
        );
    }
    assert_eq!(
        samples(&text, "sluice_retries_total"),
        ["sluice_retries_total{connector=\"c\",stage=\"sink\"} 0"]
    );
    assert_eq!(
        samples(&text, "sluice_offset_commits_total"),
        [
            "sluice_offset_commits_total{connector=\"c\",status=\"committed\"} 0",
            "sluice_offset_commits_total{connector=\"c\",status=\"failed\"} 0"
        ]
    );
    assert!(samples(&text, "sluice_last_commit_timestamp_seconds").is_empty());
    // Families keyed by topic or table have no series until an event names one.
    assert!(samples(&text, "sluice_events_applied_total").is_empty());
    assert!(text.contains("# TYPE sluice_events_applied_total counter\n"));
}

#[test]
fn build_info_carries_version_and_commit() {
    let text = Metrics::new().render();
    assert_eq!(
        samples(&text, "sluice_build_info"),
        [format!(
            "sluice_build_info{{commit=\"{COMMIT}\",version=\"{VERSION}\"}} 1"
        )]
    );
    let hex = COMMIT.trim_end_matches("-dirty");
    assert!(
        COMMIT == "unknown" || (hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit())),
        "{COMMIT}"
    );
    assert_eq!(VERSION_LINE, format!("{VERSION} (commit {COMMIT})"));
}

#[cfg(target_os = "linux")]
#[test]
fn process_metrics_are_served() {
    let text = Metrics::new().render();
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "process_threads",
    ] {
        let lines = samples(&text, name);
        assert_eq!(lines.len(), 1, "{name}\n{text}");
        let value: f64 = lines[0]
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0);
        assert!(value >= 0.0, "{}", lines[0]);
    }
    let rss = samples(&text, "process_resident_memory_bytes")[0];
    assert!(!rss.ends_with(" 0"), "{rss}");
}

/// `state -> value` of one task's `sluice_task_state` series.
fn task_states(metrics: &Metrics, connector: &str, task: &str) -> BTreeMap<String, i64> {
    CONNECTOR_STATES
        .iter()
        .map(|s| {
            let value = metrics
                .task_state
                .with_label_values(&[connector, task, s])
                .get();
            (s.to_string(), value)
        })
        .collect()
}

#[test]
fn task_state_is_one_hot_per_task_and_forgotten_when_the_task_leaves() {
    let metrics = Metrics::new();
    metrics.set_task_state("a", 0, "RUNNING");
    metrics.set_task_state("a", 1, "paused");
    metrics.set_connector_state("a", "RUNNING");
    assert_eq!(task_states(&metrics, "a", "0"), one_hot("RUNNING"));
    assert_eq!(task_states(&metrics, "a", "1"), one_hot("PAUSED"));
    metrics.set_task_state("a", 1, "EXPLODED");
    assert_eq!(task_states(&metrics, "a", "1"), one_hot("PAUSED"));
    metrics.forget("a", Some(1));
    let text = metrics.render();
    assert_eq!(samples(&text, "sluice_task_state").len(), 6, "{text}");
    assert!(!text.contains("task=\"1\""), "{text}");
    metrics.forget("a", None);
    assert!(samples(&metrics.render(), "sluice_connector_state").is_empty());
}

/// `state -> value` of one connector's `sluice_connector_state` series.
fn states(metrics: &Metrics, connector: &str) -> BTreeMap<String, i64> {
    CONNECTOR_STATES
        .iter()
        .map(|s| {
            let value = metrics
                .connector_state
                .with_label_values(&[connector, s])
                .get();
            (s.to_string(), value)
        })
        .collect()
}

fn one_hot(state: &str) -> BTreeMap<String, i64> {
    CONNECTOR_STATES
        .iter()
        .map(|s| (s.to_string(), i64::from(*s == state)))
        .collect()
}

#[test]
fn set_connector_state_switches_the_one_hot() {
    let metrics = Metrics::new();
    metrics.connector_started("a");
    metrics.connector_started("b");
    assert_eq!(states(&metrics, "a"), one_hot("UNASSIGNED"));
    metrics.set_connector_state("a", "RUNNING");
    assert_eq!(states(&metrics, "a"), one_hot("RUNNING"));
    metrics.set_connector_state("a", "retrying");
    assert_eq!(states(&metrics, "a"), one_hot("RETRYING"));
    metrics.set_connector_state("a", "FAILED");
    assert_eq!(states(&metrics, "a"), one_hot("FAILED"));
    // An unknown state adds no label and changes nothing.
    metrics.set_connector_state("a", "EXPLODED");
    assert_eq!(states(&metrics, "a"), one_hot("FAILED"));
    assert!(!metrics.render().contains("EXPLODED"));
    // Connectors are independent.
    assert_eq!(states(&metrics, "b"), one_hot("UNASSIGNED"));
    let text = metrics.render();
    assert!(text.contains("sluice_connector_state{connector=\"a\",state=\"FAILED\"} 1\n"));
    assert!(text.contains("sluice_connector_state{connector=\"a\",state=\"RUNNING\"} 0\n"));
}

#[test]
fn health_observer_follows_each_connector() {
    let metrics = Metrics::new();
    let health = Health::default().with_observer(metrics.health_observer());
    let handle = health.connector("h");
    assert_eq!(states(&metrics, "h"), one_hot("UNASSIGNED"));
    assert!(metrics
        .render()
        .contains("sluice_retries_total{connector=\"h\",stage=\"sink\"} 0\n"));
    assert_eq!(task_states(&metrics, "h", "0"), one_hot("UNASSIGNED"));
    handle.set(ConnectorState::Running, None);
    assert_eq!(states(&metrics, "h"), one_hot("RUNNING"));
    assert_eq!(task_states(&metrics, "h", "0"), one_hot("RUNNING"));
    handle.set(ConnectorState::Retrying, Some("target down".into()));
    assert_eq!(states(&metrics, "h"), one_hot("RETRYING"));
    handle.set(ConnectorState::Failed, Some("refused".into()));
    assert_eq!(states(&metrics, "h"), one_hot("FAILED"));
    // A connector's tasks: the connector gauge is the worst task's state, each task has its own.
    let t0 = health.task("m", 0);
    let t1 = health.task("m", 1);
    t0.set(ConnectorState::Running, None);
    assert_eq!(states(&metrics, "m"), one_hot("UNASSIGNED"));
    t1.set(ConnectorState::Running, None);
    assert_eq!(states(&metrics, "m"), one_hot("RUNNING"));
    t1.set(ConnectorState::Retrying, Some("target down".into()));
    assert_eq!(states(&metrics, "m"), one_hot("RETRYING"));
    assert_eq!(task_states(&metrics, "m", "0"), one_hot("RUNNING"));
    assert_eq!(task_states(&metrics, "m", "1"), one_hot("RETRYING"));
    assert!(!metrics.render().contains("connector=\"m-1\""));
    // Every state health knows is a state of the gauge.
    for state in ConnectorState::ALL {
        assert!(CONNECTOR_STATES.contains(&state.name()), "{state:?}");
    }
}

/// One row of the tables in `docs/metrics.md`: name, type, labels.
fn documented() -> BTreeMap<String, (String, Vec<String>)> {
    table_rows(include_str!("../../docs/metrics.md"))
}

/// The `| `name` | type | labels | ...` rows of a markdown text.
fn table_rows(text: &str) -> BTreeMap<String, (String, Vec<String>)> {
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_string();
            let labels = cells[3]
                .split(',')
                .map(|l| l.trim().trim_matches('`').to_string())
                .filter(|l| !l.is_empty() && l != "—")
                .collect();
            (name, (cells[2].to_string(), labels))
        })
        .collect()
}

/// The README's metric table lists the catalogue too (the `process_*` families aside).
#[test]
fn readme_table_lists_exactly_the_catalogue() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find("## Metrics").expect("a Metrics section")..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let listed = table_rows(section);
    let code: BTreeMap<String, (String, Vec<String>)> = Metrics::new()
        .families()
        .iter()
        .map(|f| {
            let labels = f.labels.iter().map(|l| l.to_string()).collect();
            (f.name.to_string(), (f.kind.to_string(), labels))
        })
        .collect();
    assert_eq!(listed, code);
}

#[test]
fn docs_list_exactly_the_catalogue() {
    #[allow(unused_mut)]
    let mut docs = documented();
    #[cfg(not(target_os = "linux"))]
    docs.retain(|name, _| !name.starts_with("process_"));
    let metrics = Metrics::new();
    let mut code: BTreeMap<String, (String, Vec<String>)> = metrics
        .families()
        .iter()
        .map(|f| {
            let labels = f.labels.iter().map(|l| l.to_string()).collect();
            (f.name.to_string(), (f.kind.to_string(), labels))
        })
        .collect();
    // The process collector's families, as served.
    for family in metrics.registry.gather() {
        if family.name().starts_with("process_") {
            let kind = format!("{:?}", family.get_field_type()).to_lowercase();
            code.insert(family.name().to_string(), (kind, Vec::new()));
        }
    }
    assert_eq!(docs, code);
}
