//! The user documentation in `docs/` against the code, so neither drifts alone: every
//! subcommand and flag in `docs/cli.md`, every connector key in `docs/configuration.md`, and
//! the DDL in `docs/internal-tables.md` equal to what sluice runs. (`docs/metrics.md` is checked
//! by the telemetry unit tests.)

use clap::CommandFactory;
use sqlx::Connection;
use std::collections::BTreeSet;

const CLI: &str = include_str!("../docs/cli.md");
const CONFIGURATION: &str = include_str!("../docs/configuration.md");
const TABLES: &str = include_str!("../docs/internal-tables.md");

/// Every subcommand path (`offsets reset`) and the long flags of each, from clap.
fn commands(command: &clap::Command, path: &str, out: &mut Vec<(String, Vec<String>)>) {
    let flags = command
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    out.push((path.to_string(), flags));
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        commands(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn cli_docs_name_every_subcommand_and_flag() {
    let mut all = Vec::new();
    commands(&sluice::cli::Cli::command(), "sluice", &mut all);
    assert!(all.len() > 10, "{all:?}");
    let mut missing = Vec::new();
    for (path, flags) in all {
        if !CLI.contains(&format!("`{path}")) {
            missing.push(path.clone());
        }
        for flag in flags {
            if !CLI.contains(&flag) {
                missing.push(format!("{path} {flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in docs/cli.md: {missing:?}");
}

#[test]
fn configuration_docs_name_every_connector_key() {
    use sluice::config::keys::{NO_EFFECT, SLUICE, SUPPORTED};
    let missing: Vec<&str> = SUPPORTED
        .iter()
        .chain(SLUICE)
        .chain(NO_EFFECT)
        .filter(|key| !CONFIGURATION.contains(&format!("`{key}`")))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

/// SQL text without its `--` comments.
fn uncommented(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A statement with `IF NOT EXISTS` and layout taken out.
fn normalize(statement: &str) -> String {
    let text = statement.replace("IF NOT EXISTS ", "");
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    words.replace("( ", "(").replace(" )", ")")
}

/// The statements of the ```sql block under `## heading`.
fn documented(heading: &str) -> BTreeSet<String> {
    let section = TABLES
        .split(&format!("## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no section {heading}"));
    let block = section
        .split("```sql\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("no sql block under {heading}"));
    uncommented(block)
        .split(';')
        .map(normalize)
        .filter(|s| !s.is_empty())
        .collect()
}

#[tokio::test]
async fn internal_tables_docs_hold_the_ddl_sluice_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.db");
    let url = sluice::config::TargetUrl::parse(&format!("sqlite:{}", path.display())).unwrap();
    let db = sluice::db::Db::connect(&url, None, None).await.unwrap();
    sluice::db::schema::ensure(&db).await.unwrap();
    db.close().await;
    // SQLite keeps the text of every CREATE statement it ran.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT sql FROM sqlite_master WHERE name LIKE 'sluice_%' AND sql IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let created: BTreeSet<String> = rows
        .iter()
        .map(|(sql,)| normalize(&uncommented(sql)))
        .collect();
    assert!(created.len() >= 10, "{created:?}");
    assert_eq!(documented("SQLite"), created);
    // PostgreSQL's DDL differs only in the types `src/db/schema.rs` varies (the version
    // guard's keys are bytewise text there, as SQLite's text is anyway).
    let postgres_as_sqlite: BTreeSet<String> = documented("PostgreSQL")
        .iter()
        .map(|s| {
            s.replace("BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .replace("BOOLEAN", "INTEGER")
                .replace("BYTEA", "BLOB")
                .replace("TEXT COLLATE \"C\"", "TEXT")
        })
        .collect();
    assert_eq!(postgres_as_sqlite, created);
}
