//! `sluice offsets show|reset`: the checkpoint in the target beside the Kafka group's offsets,
//! and replay by moving it (in the target and in the group) while the connector is stopped.

use super::WorkerArgs;
use crate::checkpoint::{self, TopicPartition};
use crate::config::{ConnectorConfig, TopicSelection, WorkerConfig};
use crate::db::Db;
use clap::{Args, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::path::PathBuf;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// `sluice offsets ...`.
#[derive(Debug, Subcommand)]
pub enum OffsetsCommand {
    /// Print the checkpoint per topic/partition and the group's committed offsets.
    Show(ShowArgs),
    /// Move a stopped connector's checkpoint (target and group).
    Reset(ResetArgs),
}

/// Arguments of `offsets show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Worker settings.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// The connector config.
    pub connector: PathBuf,
}

/// Arguments of `offsets reset`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["to_earliest", "to_latest", "to_offset", "to_datetime"])))]
pub struct ResetArgs {
    /// Worker settings.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Every partition to its earliest offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// Every partition to its end.
    #[arg(long)]
    pub to_latest: bool,
    /// Explicit offsets, TOPIC:PARTITION:OFFSET (repeatable).
    #[arg(long, value_name = "T:P:O")]
    pub to_offset: Vec<String>,
    /// Every partition to the first offset at or after this time (ISO 8601).
    #[arg(long, value_name = "ISO")]
    pub to_datetime: Option<String>,
    /// Print the plan without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// The connector config.
    pub connector: PathBuf,
}

pub(super) fn admin(
    worker: &WorkerConfig,
    config: &ConnectorConfig,
) -> Result<BaseConsumer, String> {
    crate::worker::group_consumer(worker, config)
}

/// Every partition of the connector's topics.
fn partitions(
    consumer: &BaseConsumer,
    config: &ConnectorConfig,
) -> Result<Vec<TopicPartition>, String> {
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| format!("broker metadata: {e}"))?;
    let wanted = |name: &str| match &config.topics {
        TopicSelection::List(list) => list.iter().any(|t| t == name),
        TopicSelection::Regex(re) => re.is_match(name),
    };
    let mut out = Vec::new();
    for topic in metadata.topics().iter().filter(|t| wanted(t.name())) {
        for p in topic.partitions() {
            out.push(TopicPartition {
                topic: topic.name().to_string(),
                partition: p.id(),
            });
        }
    }
    out.sort();
    Ok(out)
}

fn group_offsets(consumer: &BaseConsumer, tps: &[TopicPartition]) -> Vec<Option<i64>> {
    let mut list = TopicPartitionList::new();
    for tp in tps {
        list.add_partition(&tp.topic, tp.partition);
    }
    let committed = consumer.committed_offsets(list, TIMEOUT).ok();
    tps.iter()
        .map(|tp| {
            committed
                .as_ref()
                .and_then(|c| c.find_partition(&tp.topic, tp.partition))
                .and_then(|e| match e.offset() {
                    Offset::Offset(n) => Some(n),
                    _ => None,
                })
        })
        .collect()
}

fn show_opt(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

/// Runs an offsets subcommand.
pub async fn run(command: OffsetsCommand) -> Result<i32, String> {
    match command {
        OffsetsCommand::Show(args) => show(args).await,
        OffsetsCommand::Reset(args) => reset(args).await,
    }
}

/// The connector's target, with the internal tables in place.
pub(super) async fn open_target(config: &ConnectorConfig) -> Result<Db, String> {
    let db = Db::connect(
        &config.target,
        config.username.as_deref(),
        config.password.as_ref(),
    )
    .await
    .map_err(|e| format!("target: {e}"))?;
    crate::db::schema::ensure(&db)
        .await
        .map_err(|e| format!("target: {e}"))?;
    Ok(db)
}

async fn show(args: ShowArgs) -> Result<i32, String> {
    let worker = args.worker.load()?;
    let config = ConnectorConfig::from_file(&args.connector).map_err(|e| e.to_string())?;
    let db = open_target(&config).await?;
    let stored = checkpoint::load(&db, &config.group_id())
        .await
        .map_err(|e| format!("target: {e}"))?;
    let tps: Vec<TopicPartition> = stored.iter().map(|s| s.tp.clone()).collect();
    let group = {
        let consumer = admin(&worker, &config)?;
        let tps = tps.clone();
        tokio::task::spawn_blocking(move || group_offsets(&consumer, &tps))
            .await
            .map_err(|e| e.to_string())?
    };
    println!(
        "{:<40} {:>9} {:>12} {:>12} {:>6}",
        "topic/partition", "", "checkpoint", "group", "epoch"
    );
    for (s, g) in stored.iter().zip(group) {
        println!(
            "{:<40} {:>9} {:>12} {:>12} {:>6}",
            format!("{}/{}", s.tp.topic, s.tp.partition),
            "",
            show_opt(s.next_offset),
            show_opt(g),
            s.epoch
        );
    }
    Ok(0)
}

fn parse_explicit(specs: &[String]) -> Result<Vec<(TopicPartition, i64)>, String> {
    specs
        .iter()
        .map(|spec| {
            let mut parts = spec.rsplitn(3, ':');
            let (offset, partition, topic) = (parts.next(), parts.next(), parts.next());
            match (
                topic,
                partition.and_then(|p| p.parse().ok()),
                offset.and_then(|o| o.parse().ok()),
            ) {
                (Some(topic), Some(partition), Some(offset)) => Ok((
                    TopicPartition {
                        topic: topic.to_string(),
                        partition,
                    },
                    offset,
                )),
                _ => Err(format!(
                    "--to-offset {spec}: expected TOPIC:PARTITION:OFFSET"
                )),
            }
        })
        .collect()
}

/// Computes the new offsets from the broker.
fn plan(
    consumer: &BaseConsumer,
    config: &ConnectorConfig,
    args: &ResetArgs,
) -> Result<Vec<(TopicPartition, i64)>, String> {
    if !args.to_offset.is_empty() {
        return parse_explicit(&args.to_offset);
    }
    let tps = partitions(consumer, config)?;
    if let Some(iso) = &args.to_datetime {
        let millis = chrono::DateTime::parse_from_rfc3339(iso)
            .map_err(|e| format!("--to-datetime {iso}: {e}"))?
            .timestamp_millis();
        let mut list = TopicPartitionList::new();
        for tp in &tps {
            list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(millis))
                .map_err(|e| e.to_string())?;
        }
        let found = consumer
            .offsets_for_times(list, TIMEOUT)
            .map_err(|e| format!("offsets for time: {e}"))?;
        return tps
            .iter()
            .map(|tp| {
                let offset = found
                    .find_partition(&tp.topic, tp.partition)
                    .map(|e| e.offset());
                let n = match offset {
                    Some(Offset::Offset(n)) => n,
                    // No record at or after the time: the end.
                    _ => {
                        consumer
                            .fetch_watermarks(&tp.topic, tp.partition, TIMEOUT)
                            .map_err(|e| e.to_string())?
                            .1
                    }
                };
                Ok((tp.clone(), n))
            })
            .collect();
    }
    tps.iter()
        .map(|tp| {
            let (low, high) = consumer
                .fetch_watermarks(&tp.topic, tp.partition, TIMEOUT)
                .map_err(|e| format!("watermarks of {}/{}: {e}", tp.topic, tp.partition))?;
            Ok((tp.clone(), if args.to_latest { high } else { low }))
        })
        .collect()
}

async fn reset(args: ResetArgs) -> Result<i32, String> {
    let worker = args.worker.load()?;
    let config = ConnectorConfig::from_file(&args.connector).map_err(|e| e.to_string())?;
    let db = open_target(&config).await?;
    let consumer = admin(&worker, &config)?;
    let group = config.group_id();
    let (consumer, targets, members) = tokio::task::spawn_blocking({
        let group = group.clone();
        move || {
            let members = crate::worker::group_members(&consumer, &group);
            let targets = plan(&consumer, &config, &args);
            (consumer, targets.map(|t| (t, args.dry_run)), members)
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    let (targets, dry_run) = targets?;
    if members > 0 {
        return Err(format!("group {group} has {members} active member(s): stop the connector before resetting its offsets"));
    }
    let stored = checkpoint::load(&db, &group)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{}reset plan for group {group}:",
        if dry_run { "dry run: " } else { "" }
    );
    for (tp, offset) in &targets {
        let old = stored
            .iter()
            .find(|s| &s.tp == tp)
            .and_then(|s| s.next_offset);
        println!(
            "  {}/{}: {} -> {offset}",
            tp.topic,
            tp.partition,
            show_opt(old)
        );
    }
    if dry_run {
        return Ok(0);
    }
    crate::worker::move_checkpoint(&db, consumer, &group, &targets, "reset").await?;
    println!("reset applied to the target checkpoint and the Kafka group");
    Ok(0)
}
