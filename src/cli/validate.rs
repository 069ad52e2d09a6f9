//! `sluice validate`: every problem of a connector at once — config, broker, database, tables.

use super::WorkerArgs;
use crate::config::{ConnectorConfig, SchemaEvolution, TopicSelection, WorkerConfig};
use crate::db::Db;
use crate::sink::ident::TableName;
use clap::Args;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Arguments of `sluice validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Worker settings.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Connector config files.
    #[arg(required = true, value_name = "CONNECTOR.json")]
    pub connectors: Vec<PathBuf>,
}

/// `sluice validate`: prints every problem; exit code 1 if there is any.
pub async fn run(args: ValidateArgs) -> Result<i32, String> {
    let mut problems = Vec::new();
    let worker = match args.worker.load() {
        Ok(w) => Some(w),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    if let Some(worker) = &worker {
        let file = args
            .worker
            .worker
            .as_ref()
            .map_or("worker".to_string(), |f| f.display().to_string());
        for key in &worker.no_effect_keys {
            println!("note: {file}: {key} is accepted but has no effect in sluice");
        }
    }
    // Without a valid worker, connectors are still checked (with the defaults).
    let defaults = WorkerConfig::default();
    let in_worker = worker.as_ref().unwrap_or(&defaults);
    for path in &args.connectors {
        let config = match ConnectorConfig::from_file_with(path, in_worker) {
            Ok(c) => c,
            Err(e) => {
                problems.extend(
                    e.problems
                        .iter()
                        .map(|p| format!("{}: {p}", path.display())),
                );
                continue;
            }
        };
        for key in &config.no_effect_keys {
            println!(
                "note: {}: {key} is accepted but has no effect in sluice",
                path.display()
            );
        }
        if let Some(worker) = &worker {
            problems.extend(
                check_broker(worker, &config)
                    .await
                    .into_iter()
                    .map(|p| format!("{}: {p}", path.display())),
            );
        }
        problems.extend(
            check_target(&config)
                .await
                .into_iter()
                .map(|p| format!("{}: {p}", path.display())),
        );
    }
    if problems.is_empty() {
        println!("ok: {} connector config(s) valid", args.connectors.len());
        Ok(0)
    } else {
        for p in &problems {
            println!("problem: {p}");
        }
        Ok(1)
    }
}

async fn check_broker(
    worker: &crate::config::WorkerConfig,
    config: &ConnectorConfig,
) -> Vec<String> {
    let client = crate::source::consumer_config(worker, config);
    let topics = match &config.topics {
        TopicSelection::List(t) => t.clone(),
        TopicSelection::Regex(_) => Vec::new(),
    };
    let bootstrap = worker.bootstrap_servers.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer<Causes> = match client.create_with_context(Causes::default()) {
            Ok(c) => c,
            Err(e) => return vec![format!("kafka client: {e}")],
        };
        match consumer.fetch_metadata(None, Duration::from_secs(10)) {
            Err(e) => {
                // The connection's own failure may be reported just after the request's.
                let _ = consumer.poll(Duration::from_millis(500));
                let causes = consumer
                    .context()
                    .0
                    .lock()
                    .map(|c| c.join("; "))
                    .unwrap_or_default();
                let causes = if causes.is_empty() {
                    String::new()
                } else {
                    format!(" ({causes})")
                };
                vec![format!(
                    "bootstrap.servers: broker {bootstrap} unreachable: {e}{causes}; check \
                     bootstrap.servers, security.protocol, the ssl.* trust settings and the SASL \
                     credentials"
                )]
            }
            Ok(metadata) => topics
                .iter()
                .filter(|t| {
                    !metadata
                        .topics()
                        .iter()
                        .any(|m| m.name() == t.as_str() && m.error().is_none())
                })
                .map(|t| format!("topics: topic {t} does not exist"))
                .collect(),
        }
    })
    .await
    .unwrap_or_else(|e| vec![e.to_string()])
}

/// The distinct errors librdkafka reported while connecting (a TLS handshake failure, a
/// refused login): the metadata request itself only says it timed out.
#[derive(Default)]
struct Causes(Mutex<Vec<String>>);

impl Causes {
    fn keep(&self, cause: &str) {
        if let Ok(mut causes) = self.0.lock() {
            if causes.len() < 3 && !causes.iter().any(|c| c == cause) {
                causes.push(cause.to_string());
            }
        }
    }
}

impl ClientContext for Causes {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        // Connection failures (FAIL) come only as log lines while nothing polls the client;
        // kept for the problem report instead of printed a dozen times.
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) && facility == "FAIL" {
            // "ssl://host:port/bootstrap: SSL handshake failed: ... (after 1ms in state ...)"
            let cause = message.split_once(": ").map_or(message, |(_, m)| m);
            let cause = cause.split(" (after ").next().unwrap_or(cause);
            self.keep(cause);
        }
    }

    fn error(&self, _error: KafkaError, reason: &str) {
        self.keep(reason);
    }
}

impl ConsumerContext for Causes {}

async fn check_target(config: &ConnectorConfig) -> Vec<String> {
    let db = match Db::connect(
        &config.target,
        config.username.as_deref(),
        config.password.as_ref(),
    )
    .await
    {
        Ok(db) => db,
        Err(e) => return vec![format!("connection.url: target database unreachable: {e}")],
    };
    let mut problems = Vec::new();
    if config.schema_evolution == SchemaEvolution::None
        && !config.table_name_format.contains("${source.")
    {
        if let TopicSelection::List(topics) = &config.topics {
            for topic in topics {
                let name = config
                    .table_name_format
                    .replace("${topic}", &topic.replace('.', "_"));
                let name = if config.quote_identifiers {
                    name
                } else {
                    name.to_lowercase()
                };
                match TableName::parse(&name, config.target.dialect) {
                    Err(e) => problems.push(format!("table for topic {topic}: {e}")),
                    Ok(table) => match db.begin().await {
                        Ok(mut tx) => {
                            if let Ok(None) = crate::sink::catalog::load(&mut tx, &table).await {
                                problems.push(format!("table {} (topic {topic}) does not exist and schema.evolution=none", table.label()));
                            }
                            let _ = tx.rollback().await;
                        }
                        Err(e) => problems.push(format!("target: {e}")),
                    },
                }
            }
        }
    }
    db.close().await;
    problems
}
