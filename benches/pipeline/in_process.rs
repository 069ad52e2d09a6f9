//! Part 4: decode and the batch transaction (`pipeline::transaction::apply`) in process, SQL time from PostgreSQL's log.

use super::*;

pub(crate) struct InProcess {
    pub(crate) batch_size: usize,
    pub(crate) decode_secs: f64,
    pub(crate) apply_secs: f64,
    /// statement kind -> (count, ms on the server)
    pub(crate) server: BTreeMap<String, (u64, f64)>,
    pub(crate) verified: bool,
}

pub(crate) fn statement_kind(sql: &str) -> String {
    let s = sql.trim_start();
    let verb = s
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let table = [
        "sluice_offsets_history",
        "sluice_offsets",
        "sluice_row_versions",
        "sluice_schema_version",
        TABLE,
    ]
    .into_iter()
    .find(|t| s.contains(t))
    .unwrap_or("-");
    // The checkpoint mirror's own update (`mirror_pending`/`mirrored_offset` around the Kafka
    // group commit) runs beside the batches and waits for their row locks: counted apart.
    if s.starts_with("UPDATE sluice_offsets SET mirror") {
        return format!("{verb} {table} (mirror)");
    }
    // The version upsert that runs before any lookup (`versions::store_guarded`).
    if s.starts_with("WITH truncated AS") {
        return format!("INSERT {table} (guarded)");
    }
    format!("{verb} {table}")
}

/// Makes PostgreSQL log every statement's duration for the database of `url` (new sessions);
/// with `SLUICE_BENCH_EXPLAIN=<ms>` also the plan of every statement slower than that
/// (auto_explain, with actual row counts).
pub(crate) fn log_statement_durations(url: &str) {
    let db = support::quote_ident(url.rsplit('/').next().expect("database in URL"));
    let pg = Postgres::shared();
    pg.psql(
        "postgres",
        &format!("ALTER DATABASE {db} SET log_min_duration_statement = 0"),
    );
    if let Ok(ms) = std::env::var("SLUICE_BENCH_EXPLAIN") {
        for setting in [
            "session_preload_libraries = 'auto_explain'".to_string(),
            format!("auto_explain.log_min_duration = {}", ms.trim()),
            "auto_explain.log_analyze = on".to_string(),
        ] {
            pg.psql("postgres", &format!("ALTER DATABASE {db} SET {setting}"));
        }
    }
}

/// The shared cluster's log from byte `start` on.
pub(crate) fn pg_log_since(start: u64) -> String {
    let log = std::fs::read(Postgres::shared().log_path()).unwrap_or_default();
    String::from_utf8_lossy(&log[(start as usize).min(log.len())..]).into_owned()
}

pub(crate) fn pg_log_len() -> u64 {
    std::fs::metadata(Postgres::shared().log_path())
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Table rows for the server-side SQL time per statement kind, largest first.
pub(crate) fn server_rows(
    table: &mut Vec<(String, String, String)>,
    server: &BTreeMap<String, (u64, f64)>,
) {
    let mut kinds: Vec<(&String, &(u64, f64))> = server.iter().collect();
    kinds.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
    for (kind, (count, ms)) in kinds.iter().take(7) {
        table.push((
            format!("    SQL {kind}"),
            format!("{count:>10} stmts"),
            format!("{:.2} s on the server (parse+bind+execute)", ms / 1000.0),
        ));
    }
}

pub(crate) fn server_json(server: &BTreeMap<String, (u64, f64)>) -> Json {
    server
        .iter()
        .map(|(k, (c, ms))| (k.clone(), json!({"count": c, "ms": ms})))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Sums `duration: X ms  <phase> <name>: <sql>` lines of a PostgreSQL log slice.
pub(crate) fn parse_pg_durations(text: &str) -> BTreeMap<String, (u64, f64)> {
    let mut out: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.split("duration: ").nth(1) else {
            continue;
        };
        let Some((ms, tail)) = rest.split_once(" ms") else {
            continue;
        };
        let Ok(ms) = ms.trim().parse::<f64>() else {
            continue;
        };
        let tail = tail.trim_start();
        if tail.starts_with("plan:") {
            continue; // auto_explain's line; the statement's own line has the same duration
        }
        // "statement: SQL" | "parse <name>: SQL" | "bind <name>: SQL" | "execute <name>: SQL";
        // the phases of one statement kind are summed.
        let sql = tail.split_once(": ").map_or(tail, |(_, sql)| sql);
        let key = statement_kind(sql);
        let e = out.entry(key).or_default();
        e.0 += 1;
        e.1 += ms;
    }
    out
}

pub(crate) async fn in_process(
    topic: &str,
    records: &[Record],
    batch: usize,
    expected: &BTreeMap<i64, i64>,
) -> InProcess {
    use sluice::checkpoint::{claim, Position, TopicPartition};
    let url = Postgres::database();
    log_statement_durations(&url);
    let doc =
        json!({"name": random_name("inproc"), "config": connector_config(topic, &url, batch, &[])});
    let config = sluice::config::ConnectorConfig::from_json(&doc.to_string(), "bench", &|_| None)
        .expect("connector config");
    let log_start = pg_log_len();
    let mut sink = sluice::sink::Sink::open(&config).await.expect("sink");
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition {
            topic: topic.to_string(),
            partition: p,
        })
        .collect();
    let claims = claim(sink.db(), &config.group_id(), "bench", &tps)
        .await
        .expect("claim");
    let epochs: HashMap<i32, i64> = claims.iter().map(|c| (c.tp.partition, c.epoch)).collect();
    // What the target checkpoint holds per partition: each commit's `previous`.
    let mut committed: HashMap<i32, i64> = HashMap::new();
    let (mut decode_secs, mut apply_secs) = (0f64, 0f64);
    for chunk in records.chunks(batch) {
        let t = Instant::now();
        let mut events = Vec::with_capacity(chunk.len());
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for r in chunk {
            let raw = sluice::event::RawRecord {
                coordinates: sluice::event::Coordinates {
                    topic: topic.to_string(),
                    partition: r.partition,
                    offset: r.offset,
                },
                key: Some(r.key.clone()),
                value: Some(r.value.clone()),
                headers: Vec::new(),
                timestamp_ms: None,
            };
            match sluice::decode::decode(&raw, &config.decode).expect("decode") {
                sluice::event::Decoded::Change(e) => events.push(*e),
                other => panic!("not a change: {other:?}"),
            }
            next.insert(r.partition, r.offset + 1);
        }
        decode_secs += t.elapsed().as_secs_f64();
        let positions: Vec<Position> = next
            .into_iter()
            .map(|(p, o)| Position {
                tp: TopicPartition {
                    topic: topic.to_string(),
                    partition: p,
                },
                next_offset: o,
                epoch: epochs[&p],
                previous: committed.get(&p).copied(),
                watermark_ms: None,
            })
            .collect();
        committed.extend(positions.iter().map(|p| (p.tp.partition, p.next_offset)));
        let t = Instant::now();
        sluice::pipeline::transaction::apply(&mut sink, &events, &positions)
            .await
            .expect("apply");
        apply_secs += t.elapsed().as_secs_f64();
    }
    sink.db().close().await;
    // Give the server a moment to flush its log.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let slice = pg_log_since(log_start);
    let (verified, _) = verify(&url, expected).await;
    InProcess {
        batch_size: batch,
        decode_secs,
        apply_secs,
        server: parse_pg_durations(&slice),
        verified,
    }
}
