//! What an operator sees of the binary itself: `--version` with the commit, and log lines as
//! JSON or as plain text (no colour codes when stderr is not a terminal). Runs the demo (the
//! in-process broker, a SQLite file in a temporary directory): no external component.

use std::process::{Command, Output};

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

/// Runs the demo in a fresh directory with `SLUICE_LOG_FORMAT=json` and `extra` arguments.
fn demo(extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let output = sluice()
        .arg("demo")
        .args(extra)
        .current_dir(dir.path())
        .env("SLUICE_LOG", "info")
        .env("SLUICE_LOG_FORMAT", "json")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    output
}

/// The binary allocates with jemalloc and hands it its settings (`src/main.rs`); jemalloc's
/// `confirm_conf` lists the settings it read and from where.
#[test]
fn the_binary_runs_on_jemalloc_with_its_settings() {
    let output = sluice()
        .arg("--version")
        .env("_RJEM_MALLOC_CONF", "confirm_conf:true")
        .output()
        .unwrap();
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    for setting in ["narenas:1", "dirty_decay_ms:1000", "muzzy_decay_ms:0"] {
        assert!(
            said.contains(&format!("Set conf value: {setting}")),
            "{setting} not set: {said}"
        );
    }
}

#[test]
fn version_names_the_commit() {
    let output = sluice().arg("--version").output().unwrap();
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        line,
        format!("sluice {}\n", sluice::telemetry::VERSION_LINE)
    );
    assert!(line.starts_with(&format!("sluice {} (commit ", env!("CARGO_PKG_VERSION"))));
    // Built from this checkout: the commit is git's HEAD (unless git is missing here).
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|h| h.status.success());
    if let Some(head) = head {
        let head = String::from_utf8(head.stdout).unwrap();
        assert!(
            line.contains(&format!("(commit {}", head.trim())),
            "{line} vs {head}"
        );
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let output = demo(&[]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {line}");
        });
        assert!(event["level"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
    }
    assert!(
        stderr.contains("\"message\":\"partition assigned\""),
        "{stderr}"
    );
}

#[test]
fn text_logs_have_no_colour_on_a_pipe() {
    // The flag, given after the subcommand, wins over SLUICE_LOG_FORMAT=json.
    let output = demo(&["--log-format", "text"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains(" INFO "), "{stderr}");
    assert!(stderr.contains("partition assigned topic="), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(!stderr.trim_start().starts_with('{'), "{stderr}");
}

#[test]
fn unknown_log_format_is_refused() {
    let output = sluice()
        .args(["--log-format", "xml", "demo"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("possible values: text, json"), "{stderr}");
}
