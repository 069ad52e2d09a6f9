//! `sluice dlq list|show|replay`: the dead letters of a connector, read from its target's
//! `sluice_dead_letters` (or, with `list --from-topic`, from the dead-letter topic), and their
//! replay after a fix.
//!
//! A replay decodes the stored record with the connector config as it is now (the fixed
//! transform, the created column...) and applies it in one target transaction that also marks
//! the dead letter `replayed`: a dead letter is replayed exactly once, and a replay that still
//! fails leaves it waiting with the new reason. Replayed changes are version-guarded like any
//! other, so an old dead letter cannot overwrite a newer row.

use super::offsets::open_target;
use super::WorkerArgs;
use crate::config::ConnectorConfig;
use crate::deadletter::store::{self, Filter, Stored};
use crate::deadletter::{headers, DeadLetter};
use crate::event::{Decoded, RawRecord};
use crate::pipeline::transaction::{self, Batch, Ending};
use crate::report::dead_letters::{bytes_json, to_json};
use crate::sink::{Sink, SinkError};
use crate::source::Received;
use clap::{Args, Subcommand};
use serde_json::{json, Value as Json};
use std::path::PathBuf;

/// `sluice dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// The dead letters of a connector, oldest first.
    List(ListArgs),
    /// One dead letter, with its record.
    Show(ShowArgs),
    /// Apply dead letters again with the current connector config, each exactly once.
    Replay(ReplayArgs),
}

/// Arguments of `sluice dlq list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (an array).
    #[arg(long)]
    pub json: bool,
    /// Only those still waiting (not replayed).
    #[arg(long)]
    pub waiting: bool,
    /// Only this stage: decode, transform, resolve or write.
    #[arg(long)]
    pub stage: Option<String>,
    /// Read the dead-letter topic (`errors.deadletterqueue.topic.name`) instead of the table.
    #[arg(long)]
    pub from_topic: bool,
    /// Kafka worker settings (for `--from-topic`).
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// The connector config.
    pub connector: PathBuf,
}

/// Arguments of `sluice dlq show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The dead letter id (as `list` prints it).
    pub id: i64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The connector config.
    pub connector: PathBuf,
}

/// Arguments of `sluice dlq replay`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all"])))]
pub struct ReplayArgs {
    /// A dead letter to replay (repeatable).
    #[arg(long)]
    pub id: Vec<i64>,
    /// Every waiting dead letter (narrowed by --stage).
    #[arg(long)]
    pub all: bool,
    /// Only this stage: decode, transform, resolve or write.
    #[arg(long)]
    pub stage: Option<String>,
    /// Print what would be replayed and whether it would apply, without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Worker settings (its `key.converter` / `value.converter` decode the records when the
    /// connector sets none, as in `sluice run`).
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// The connector config.
    pub connector: PathBuf,
}

/// Runs a dlq subcommand.
pub async fn run(command: DlqCommand) -> Result<i32, String> {
    match command {
        DlqCommand::List(args) if args.from_topic => list_topic(args).await,
        DlqCommand::List(args) => {
            let filter = Filter {
                waiting: args.waiting,
                stage: args.stage.clone(),
                ..Filter::default()
            };
            let letters = read(&args.connector, &filter).await?;
            print(&letters.iter().map(to_json).collect::<Vec<_>>(), args.json);
            Ok(0)
        }
        DlqCommand::Show(args) => {
            let filter = Filter {
                ids: vec![args.id],
                ..Filter::default()
            };
            let Some(letter) = read(&args.connector, &filter).await?.pop() else {
                return Err(format!(
                    "no dead letter {} in this connector's target",
                    args.id
                ));
            };
            let report = to_json(&letter);
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print_line(&report);
                for field in ["key", "value", "headers", "detail"] {
                    println!("  {field}: {}", report[field]);
                }
            }
            Ok(0)
        }
        DlqCommand::Replay(args) => replay(args).await,
    }
}

async fn read(path: &std::path::Path, filter: &Filter) -> Result<Vec<Stored>, String> {
    let config = ConnectorConfig::from_file(path).map_err(|e| e.to_string())?;
    let db = open_target(&config).await?;
    let result = store::list(&db, &config.group_id(), filter).await;
    db.close().await;
    result.map_err(|e| e.to_string())
}

fn print(reports: &[Json], as_json: bool) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).unwrap_or_default()
        );
    } else {
        for r in reports {
            print_line(r);
        }
    }
}

fn print_line(r: &Json) {
    let s = |v: &Json| match v {
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        other => other.to_string(),
    };
    println!(
        "{:>6}  {:<8} {:<9} {}/{}/{}  {}",
        s(&r["id"]),
        s(&r["status"]),
        s(&r["stage"]),
        s(&r["topic"]),
        s(&r["partition"]),
        s(&r["offset"]),
        s(&r["reason"]),
    );
}

/// The outcome of replaying one dead letter.
enum Replayed {
    Applied,
    /// The current config does not make a row of it (filtered, tombstone): nothing to write.
    NothingToWrite(&'static str),
    StillFailing(String),
}

async fn replay(args: ReplayArgs) -> Result<i32, String> {
    let worker = args.worker.load()?;
    let config =
        ConnectorConfig::from_file_with(&args.connector, &worker).map_err(|e| e.to_string())?;
    let mut sink = Sink::open(&config)
        .await
        .map_err(|e| format!("target: {e}"))?;
    let filter = Filter {
        ids: args.id.clone(),
        waiting: args.all,
        stage: args.stage.clone(),
        ..Filter::default()
    };
    let letters = store::list(sink.db(), &config.group_id(), &filter)
        .await
        .map_err(|e| e.to_string());
    let mut failed = 0;
    let result = async {
        let letters = letters?;
        for id in &args.id {
            if !letters.iter().any(|l| l.id == *id) {
                return Err(format!("no dead letter {id} in this connector's target"));
            }
        }
        for stored in letters {
            let c = stored.letter.record.coordinates.clone();
            if stored.status != "dead" {
                println!("{:>6}  {c}: already {}; skipped", stored.id, stored.status);
                continue;
            }
            match replay_one(&mut sink, &config, &stored, args.dry_run).await? {
                Replayed::Applied => println!(
                    "{:>6}  {c}: {}",
                    stored.id,
                    if args.dry_run {
                        "would apply"
                    } else {
                        "replayed"
                    }
                ),
                Replayed::NothingToWrite(why) => println!(
                    "{:>6}  {c}: {} ({why}: nothing to write)",
                    stored.id,
                    if args.dry_run {
                        "would be marked replayed"
                    } else {
                        "replayed"
                    }
                ),
                Replayed::StillFailing(reason) => {
                    failed += 1;
                    println!("{:>6}  {c}: still failing: {reason}", stored.id);
                }
            }
        }
        Ok(())
    }
    .await;
    sink.db().close().await;
    result?;
    Ok(if failed > 0 { 1 } else { 0 })
}

/// Replays one waiting dead letter in one transaction (rolled back with `dry_run`). A record
/// that still fails keeps waiting, with the new reason and one more failure counted.
async fn replay_one(
    sink: &mut Sink,
    config: &ConnectorConfig,
    stored: &Stored,
    dry_run: bool,
) -> Result<Replayed, String> {
    let raw: RawRecord = stored.letter.record.clone();
    let stop = std::sync::atomic::AtomicBool::new(false);
    config.decode.fetch_schemas(&raw, &stop).await?;
    let received = Received::decode(raw.clone(), &config.decode, &config.transforms, false);
    let (events, outcome) = match received.decoded {
        Ok(Decoded::Change(event)) => (vec![*event], Replayed::Applied),
        Ok(Decoded::Tombstone) => (Vec::new(), Replayed::NothingToWrite("tombstone")),
        Ok(Decoded::NotARow(why)) => (Vec::new(), Replayed::NothingToWrite(why)),
        Err(e) => {
            let letter = crate::pipeline::dead_letter_for(raw, &e, config);
            return still_failing(sink, config, letter, dry_run).await;
        }
    };
    let batch = Batch {
        events: &events,
        replayed: std::slice::from_ref(&stored.id),
        ..Batch::default()
    };
    let ending = if dry_run {
        Ending::Probe
    } else {
        Ending::Commit
    };
    match transaction::run(sink, &batch, ending).await {
        Ok(_) => Ok(outcome),
        Err(SinkError::Replayed(id)) => Err(format!(
            "dead letter {id} was replayed by someone else meanwhile"
        )),
        Err(e) if e.is_record_error() => {
            let table = events
                .first()
                .map(|event| sink.table_label(event))
                .unwrap_or_default();
            let letter = crate::pipeline::write_dead_letter(raw, table, &e);
            still_failing(sink, config, letter, dry_run).await
        }
        Err(e) => Err(format!("target: {e}")),
    }
}

async fn still_failing(
    sink: &mut Sink,
    config: &ConnectorConfig,
    letter: DeadLetter,
    dry_run: bool,
) -> Result<Replayed, String> {
    let reason = letter.message.clone();
    if !dry_run {
        let mut tx = sink.db().begin().await.map_err(|e| e.to_string())?;
        let id = letter.record.coordinates.clone();
        let written = store::insert(
            &mut tx,
            &config.group_id(),
            &config.name,
            &[letter],
            store::Repeat::IfWaiting,
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        if written == 0 {
            return Err(format!(
                "the dead letter of {id} was replayed by someone else meanwhile"
            ));
        }
    }
    Ok(Replayed::StillFailing(reason))
}

/// How long the dead-letter topic must be quiet before `list --from-topic` stops reading.
const QUIET: std::time::Duration = std::time::Duration::from_secs(3);

/// `list --from-topic`: every record of the dead-letter topic, from its start to its end.
async fn list_topic(args: ListArgs) -> Result<i32, String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let worker = args.worker.load()?;
    let config =
        ConnectorConfig::from_file_with(&args.connector, &worker).map_err(|e| e.to_string())?;
    let topic = config.dlq_topic.clone().ok_or(
        "the connector has no errors.deadletterqueue.topic.name: its dead letters are only in the table",
    )?;
    // The connector's consumer settings (security included), in a throwaway group.
    let mut client = worker.client_config_for(crate::config::ClientRole::Consumer, &config);
    client
        .set(
            "group.id",
            format!("sluice-dlq-reader-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false");
    let reports = tokio::task::spawn_blocking(move || -> Result<Vec<Json>, String> {
        let consumer: BaseConsumer = client.create().map_err(|e| e.to_string())?;
        let timeout = std::time::Duration::from_secs(10);
        let metadata = consumer
            .fetch_metadata(Some(&topic), timeout)
            .map_err(|e| format!("{topic}: {e}"))?;
        // Every partition from its start. The end is where the topic stays quiet: some
        // Kafka-protocol brokers report high watermarks below the real end.
        let mut list = rdkafka::TopicPartitionList::new();
        for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
            list.add_partition_offset(&topic, p.id(), rdkafka::Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&list).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let mut last = std::time::Instant::now();
        while last.elapsed() < QUIET && std::time::Instant::now() < deadline {
            let Some(message) = consumer.poll(std::time::Duration::from_millis(200)) else {
                continue;
            };
            last = std::time::Instant::now();
            let m = message.map_err(|e| e.to_string())?;
            let raw = crate::source::to_raw(&m);
            let headers = raw.headers;
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.as_deref())
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            out.push(json!({
                "dlq_partition": m.partition(),
                "dlq_offset": m.offset(),
                "key": raw.key.as_deref().map(|k| String::from_utf8_lossy(k).into_owned()),
                "stage": header(headers::STAGE),
                "reason": header(headers::EXCEPTION_MESSAGE),
                "topic": header(headers::TOPIC),
                "partition": header(headers::PARTITION),
                "offset": header(headers::OFFSET),
                "value": bytes_json(&raw.value),
                "headers": headers.iter().map(|(k, v)| json!([k, bytes_json(v)])).collect::<Vec<_>>(),
            }));
        }
        Ok(out)
    })
    .await
    .map_err(|e| e.to_string())??;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).unwrap_or_default()
        );
    } else {
        for r in &reports {
            println!(
                "{}/{}  {}  {}  {}",
                r["dlq_partition"],
                r["dlq_offset"],
                r["key"].as_str().unwrap_or("-"),
                r["stage"].as_str().unwrap_or("-"),
                r["reason"].as_str().unwrap_or("-"),
            );
        }
    }
    Ok(0)
}
