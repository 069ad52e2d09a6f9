//! The pipeline benchmark (issues #2 and #18): N generated Debezium JSON change events
//! (JsonConverter with schemas, a 15-column `orders` table, ~70% c / 25% u / 5% d, 4 partitions
//! of unequal size by default: each key goes to one partition with weights 10/25/30/35 %, so the
//! partitions reach their end at different times) are published to a real tansu broker, then
//! measured in one run:
//!
//! 1a. **decode in memory**: the first 50,000 generated records decoded with `sluice::decode`
//!    (three rounds), against `serde_json::from_slice::<Value>` of the same key and value bytes
//!    (the least any JSON sink does): microseconds per record.
//! 1. **raw consume**: one librdkafka consumer (sluice's prefetch setting) reading all N records
//!    of the topic with manual assignment (no group join): records/s and MB/s. A second pass
//!    also turns every record into sluice's `RawRecord` and decodes it with `sluice::decode`
//!    (consume + decode, one thread).
//! 2. **raw binary COPY** into the same PostgreSQL, stream built beforehand (only the COPY
//!    itself is timed), each into a fresh table with the column types sluice creates:
//!    the final rows (one row per live key, table with a primary key, one COPY); every event's
//!    row image (after for c/u, before for d; N rows, no key, one COPY; this is the per-event
//!    ceiling); and the N rows again in one COPY per `batch.size` rows (one transaction each).
//! 3. **sluice end-to-end**: `sluice run --stop-at-end` with an upsert / record_key /
//!    delete.enabled / schema.evolution=basic connector, per batch size: events/s from spawn to
//!    exit (and "steady", from the first applied batch seen on /metrics to exit), peak RSS
//!    (VmHWM from /proc/<pid>/status, polled every 20 ms), CPU seconds, and the target checked
//!    (row count and sum of versions equal the generated final state). The worker file names
//!    the broker only: the consumer settings a user gets. `sluice_offsets` in the target is
//!    sampled every 100 ms: "steady" runs from the first checkpoint commit to exit, and the
//!    rates of the first and the second half of the events (first commit -> half committed ->
//!    all committed) and their ratio show whether sluice slows down once partitions end.
//!    **3b. the hand-written baseline** (issue #18): `baseline_sink.py`, a Python sink as a team
//!    would write it (confluent-kafka with librdkafka's defaults and a consumer group,
//!    `json`, psycopg 3 `executemany` upserts and deletes, offsets committed after each
//!    500-record batch; at-least-once, no version guard) on the same topic and broker, into a
//!    fresh database with the table sluice creates, checked the same way. Reported: events/s
//!    from spawn to exit, steady (first message to end), the halves by its commit progress,
//!    peak RSS, CPU, and sluice / script for both rates.
//! 4. **in process** (where the time goes): the same records decoded with `sluice::decode` and
//!    applied with `sluice::pipeline::transaction::apply` (partitions claimed with
//!    `sluice::checkpoint::claim`) in batches of `batch.size`, without Kafka; PostgreSQL logs
//!    every statement's duration for that database (`log_min_duration_statement = 0`), summed
//!    per statement kind, so SQL time on the server is separated from client time.
//!
//! 5. **latency** (issue #18): sluice on a fresh 3-partition topic fed at a steady rate
//!    (`SLUICE_BENCH_LATENCY=RATExSECS`, default `10000x20`, `0` skips it), the checkpoint read
//!    every 10 ms: p50/p90/p99/max from a record's send to the checkpoint covering it
//!    (`latency.rs`).
//!
//! Targets (issue #2): sluice events/s >= 0.8 x min(raw consume records/s, COPY of every
//! event's row rows/s), and peak RSS <= 64 MB. Issue #18: sluice >= 5x the script in steady
//! state and >= 2x including start-up, second half's rate >= 0.9x the first's. A table with
//! "met"/"MISSED" and one JSON line (`{"bench":"pipeline" ...}`) are printed; nothing fails on
//! a missed target.
//!
//! Run: `CARGO_TARGET_DIR=/work/target cargo bench --bench pipeline`. Environment:
//! `SLUICE_BENCH_EVENTS` (200000), `SLUICE_BENCH_BATCH_SIZES` (`1000,5000`),
//! `SLUICE_BENCH_CONSUMER_PROPS` / `SLUICE_BENCH_CONNECTOR_PROPS` (`key=value,...` added to the
//! worker file as `consumer.<key>` / to the connector config),
//! `SLUICE_BENCH_SKEW` (unset: `10,25,30,35`, one weight per partition; `0`: Kafka's
//! partitioner, about equal partitions; `1,1,1,97`: one busy partition, like a Debezium topic
//! of one partition), `SLUICE_BENCH_HOT_KEYS` (unset: ~70 % creates of new keys; a number:
//! creates while fewer keys are live, otherwise updates and deletes of them, 25 to 5: about
//! 71 % updates, 14 % deletes, 15 % creates),
//! `SLUICE_BENCH_PYTHON` (a python with confluent-kafka
//! and psycopg 3 for part 3b; `.ci/test` installs one and exports it; without it part 3b is
//! skipped with a message, or fails under `CI=true`),
//! `SLUICE_BENCH_IN_PROCESS` (`1`; `0` skips part 4), `SLUICE_BENCH_LOG` (the child's
//! `SLUICE_LOG`, default `info`), `SLUICE_BENCH_KEEP_LOG` (set: the child's log is copied to
//! `$TMPDIR/sluice-bench-run-<batch>.log`), `SLUICE_BENCH_BIN` (the sluice binary; default the one cargo
//! builds for this bench, `CARGO_BIN_EXE_sluice`, i.e. `<target>/release/sluice` under
//! `cargo bench`). Broker and PostgreSQL come from the test harness (`SLUICE_TANSU_BIN`,
//! `SLUICE_PG_BIN`, or what `bash .ci/test` installs).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs as a smoke test: 1000
//! events, batch size 250, every part, no target check.

#[path = "../../tests/support/mod.rs"]
mod support;

mod baseline;
mod consume;
mod copy;
mod in_process;
mod latency;
mod progress;
mod run;
mod stream;

use baseline::*;
use consume::*;
use copy::*;
use in_process::*;
use latency::*;
use progress::*;
use run::*;
use stream::*;

use base64::Engine as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{random_name, Postgres, Tansu};

const PARTITIONS: i32 = 4;
const TABLE: &str = "orders";
const RATIO_TARGET: f64 = 0.8;
const RSS_TARGET_MB: f64 = 64.0;
/// Issue #18: sluice / the hand-written sink, steady state and including start-up, and the
/// second half's rate / the first half's.
const STEADY_VS_BASELINE_TARGET: f64 = 5.0;
const E2E_VS_BASELINE_TARGET: f64 = 2.0;
const HALVES_TARGET: f64 = 0.9;
/// The default shape of the stream: partitions of unequal size (per cent of the keys).
const SKEW: [u32; 4] = [10, 25, 30, 35];

// ------------------------------------------------------------------------------------------
// Settings

struct Settings {
    events: usize,
    batch_sizes: Vec<usize>,
    in_process: bool,
    child_log: String,
    /// Extra librdkafka consumer properties for the bench's consumers and for sluice's
    /// (written as `consumer.<key>=<value>` into the worker file), e.g.
    /// `fetch.queue.backoff.ms=10`.
    consumer_props: Vec<(String, String)>,
    /// Extra connector keys for sluice's runs, e.g. `sluice.max.inflight.records=1000`.
    connector_props: Vec<(String, String)>,
    /// How keys are spread over the partitions (`SLUICE_BENCH_SKEW`).
    partitioning: Partitioning,
    /// An update-heavy stream over this many keys (`SLUICE_BENCH_HOT_KEYS`).
    hot_keys: Option<usize>,
    /// `cargo bench` (targets checked) rather than the `cargo test` smoke run.
    bench: bool,
    /// Part 5: records per second and seconds (`SLUICE_BENCH_LATENCY`).
    latency: Option<(usize, u64)>,
}

/// `key=value` pairs separated by commas or spaces, from the variable `name`.
fn props(text: Option<String>, name: &str) -> Vec<(String, String)> {
    text.unwrap_or_default()
        .split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}: key=value,..."));
            (k.to_string(), v.to_string())
        })
        .collect()
}

impl Settings {
    fn from_env() -> Settings {
        let bench = std::env::args().any(|a| a == "--bench");
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let events = var("SLUICE_BENCH_EVENTS")
            .map(|v| {
                v.trim()
                    .parse()
                    .expect("SLUICE_BENCH_EVENTS must be a number")
            })
            .unwrap_or(if bench { 200_000 } else { 1000 });
        let batch_sizes = var("SLUICE_BENCH_BATCH_SIZES")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().parse().expect("SLUICE_BENCH_BATCH_SIZES: numbers"))
                    .collect()
            })
            .unwrap_or(if bench { vec![1000, 5000] } else { vec![250] });
        Settings {
            events,
            batch_sizes,
            in_process: var("SLUICE_BENCH_IN_PROCESS").is_none_or(|v| v != "0"),
            child_log: var("SLUICE_BENCH_LOG").unwrap_or_else(|| "info".into()),
            consumer_props: props(
                var("SLUICE_BENCH_CONSUMER_PROPS"),
                "SLUICE_BENCH_CONSUMER_PROPS",
            ),
            connector_props: props(
                var("SLUICE_BENCH_CONNECTOR_PROPS"),
                "SLUICE_BENCH_CONNECTOR_PROPS",
            ),
            partitioning: partitioning(var("SLUICE_BENCH_SKEW")),
            hot_keys: var("SLUICE_BENCH_HOT_KEYS").map(|v| {
                v.trim()
                    .parse()
                    .ok()
                    .filter(|&k: &usize| k > 0)
                    .expect("SLUICE_BENCH_HOT_KEYS: a number above 0")
            }),
            latency: latency_setting(var("SLUICE_BENCH_LATENCY"), bench),
            bench,
        }
    }
}

/// `SLUICE_BENCH_SKEW`: unset, the default weights [`SKEW`]; `0` (or `keyed`), Kafka's
/// partitioner (about equal partitions); otherwise one weight per partition, e.g. `10,25,30,35`.
fn partitioning(text: Option<String>) -> Partitioning {
    match text.as_deref().map(str::trim) {
        None => Partitioning::Skewed(SKEW.to_vec()),
        Some("0" | "keyed") => Partitioning::Keyed,
        Some(w) => {
            let weights: Vec<u32> = w
                .split(',')
                .map(|x| x.trim().parse().expect("SLUICE_BENCH_SKEW: numbers"))
                .collect();
            assert!(
                weights.len() == PARTITIONS as usize && weights.iter().all(|w| *w > 0),
                "SLUICE_BENCH_SKEW: {PARTITIONS} weights above 0"
            );
            Partitioning::Skewed(weights)
        }
    }
}

// ------------------------------------------------------------------------------------------

fn main() {
    let s = Settings::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let n = s.events;
    eprintln!(
        "pipeline bench: {n} events, batch sizes {:?}, sluice binary {}",
        s.batch_sizes,
        sluice_binary().display()
    );
    assert!(
        sluice_binary().is_file(),
        "no sluice binary at {} (cargo bench builds it; or set SLUICE_BENCH_BIN)",
        sluice_binary().display()
    );

    // Generate and publish.
    let t = Instant::now();
    let events = generate(n, s.hot_keys);
    let expected = final_state(&events);
    let schema = envelope_schema();
    let mut records: Vec<Record> = events
        .iter()
        .enumerate()
        .map(|(i, e)| record(&schema, i, e, &s.partitioning))
        .collect();
    let per_partition: Vec<usize> = (0..PARTITIONS)
        .map(|p| records.iter().filter(|r| r.partition == p).count())
        .collect();
    let mix = |op: Op| events.iter().filter(|e| e.op == op).count();
    let (c, u, d) = (mix(Op::C), mix(Op::U), mix(Op::D));
    let bytes: usize = records.iter().map(|r| r.key.len() + r.value.len()).sum();
    eprintln!(
        "generated {n} events (c {c} / u {u} / d {d}), {:.1} MB, in {:.1} s; per partition \
         {per_partition:?} ({:?})",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        s.partitioning
    );
    // 1a. decode alone, in memory.
    let topic = random_name("bench_orders");
    let decode = decode_cost(&records, &topic);
    eprintln!(
        "decode in memory ({} records x3): sluice::decode {:.1} us/record; \
         serde_json::Value of the same bytes {:.1} us/record",
        decode.records, decode.decode_us, decode.parse_us
    );
    let tansu = Tansu::start();
    tansu.create_topic(&topic, PARTITIONS);
    let t = Instant::now();
    rt.block_on(publish(&tansu.bootstrap(), &topic, &mut records));
    let publish_secs = t.elapsed().as_secs_f64();
    eprintln!("published in {publish_secs:.1} s");

    // 1. raw consume (and consume + decode).
    let consumed = raw_consume(&s, &tansu.bootstrap(), &topic, n, false);
    eprintln!("raw consume: {:.1} s", consumed.secs);
    let consumed_decoded = raw_consume(&s, &tansu.bootstrap(), &topic, n, true);
    assert_eq!(consumed_decoded.decoded, n, "every record decodes");
    eprintln!("consume + decode: {:.1} s", consumed_decoded.secs);

    // 2. raw binary COPY.
    let final_rows: Vec<(i64, i64)> = expected.iter().map(|(k, v)| (*k, *v)).collect();
    let event_rows: Vec<(i64, i64)> = events.iter().map(|e| (e.id, e.image)).collect();
    let copy_batch = s.batch_sizes[0];
    let (copy_final, copy_all, copy_batched) = rt.block_on(async {
        let url = Postgres::database();
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        for sql in [
            create_table("copy_final", true),
            create_table("copy_events", false),
            create_table("copy_batched", false),
        ] {
            sqlx::raw_sql(&sql).execute(&mut conn).await.expect("DDL");
        }
        conn.close().await.ok();
        let f = copy_in(&url, "copy_final", &[copy_stream(final_rows.iter())]).await;
        let a = copy_in(&url, "copy_events", &[copy_stream(event_rows.iter())]).await;
        let batched: Vec<Vec<u8>> = event_rows
            .chunks(copy_batch)
            .map(|c| copy_stream(c.iter()))
            .collect();
        let b = copy_in(&url, "copy_batched", &batched).await;
        (f, a, b)
    });
    assert_eq!(copy_final.rows as usize, final_rows.len());
    assert_eq!(copy_all.rows as usize, n);
    eprintln!(
        "COPY: final rows {:.2} s, all events {:.2} s, per batch {:.2} s",
        copy_final.secs, copy_all.secs, copy_batched.secs
    );

    // 3. sluice end-to-end.
    let mut runs = Vec::new();
    for &batch in &s.batch_sizes {
        let r = run_sluice(&rt, &s, &tansu.bootstrap(), &topic, batch, &expected);
        eprintln!(
            "sluice batch.size={batch}: {:.1} s, peak RSS {:.1} MB, {}",
            r.secs, r.peak_rss_mb, r.detail
        );
        assert!(r.verified, "sluice's target differs: {}", r.detail);
        runs.push(r);
    }

    // 3b. the hand-written Python sink, same topic and broker.
    let baseline = baseline_python().map(|python| {
        let b = run_baseline(&rt, &python, &tansu.bootstrap(), &topic, n, &expected);
        eprintln!(
            "baseline script: {:.1} s, {} records, peak RSS {:.1} MB, {}",
            b.secs, b.records, b.peak_rss_mb, b.detail
        );
        assert!(b.verified, "the baseline's target differs: {}", b.detail);
        b
    });

    // 4. in process.
    let mut inproc = Vec::new();
    if s.in_process {
        for &batch in &s.batch_sizes {
            let r = rt.block_on(in_process(&topic, &records, batch, &expected));
            assert!(r.verified, "in-process apply: target differs");
            eprintln!(
                "in process batch.size={batch}: decode {:.1} s, apply {:.1} s",
                r.decode_secs, r.apply_secs
            );
            inproc.push(r);
        }
    }
    // 5. latency at a steady rate.
    let latency = s.latency.map(|setting| {
        let l = run_latency(&rt, &s, &tansu, &records, setting);
        let [p50, p90, p99, max] = l.percentiles;
        eprintln!(
            "latency at {}/s for {} s: p50 {p50:.0} ms, p90 {p90:.0} ms, p99 {p99:.0} ms, max {max:.0} ms",
            l.rate, l.secs
        );
        l
    });
    drop(tansu);

    // Report.
    let rate = |count: f64, secs: f64| count / secs.max(1e-9);
    let consume_rps = rate(n as f64, consumed.secs);
    let copy_events_rps = rate(n as f64, copy_all.secs);
    let ceiling = consume_rps.min(copy_events_rps);
    let mb = bytes as f64 / 1e6;
    let mut table = vec![
        (
            "publish (idempotent producer)".to_string(),
            format!("{:>10.0} rec/s", rate(n as f64, publish_secs)),
            format!("{publish_secs:.2} s, {:.1} MB/s", mb / publish_secs),
        ),
        (
            "raw consume".into(),
            format!("{consume_rps:>10.0} rec/s"),
            format!(
                "{:.2} s, {:.1} MB/s",
                consumed.secs,
                consumed.bytes as f64 / 1e6 / consumed.secs
            ),
        ),
        (
            "consume + sluice decode (1 thread)".into(),
            format!("{:>10.0} rec/s", rate(n as f64, consumed_decoded.secs)),
            format!("{:.2} s", consumed_decoded.secs),
        ),
        (
            format!("COPY final rows ({} rows, PK)", final_rows.len()),
            format!(
                "{:>10.0} rows/s",
                rate(copy_final.rows as f64, copy_final.secs)
            ),
            format!("{:.2} s", copy_final.secs),
        ),
        (
            format!("COPY every event's row ({n} rows)"),
            format!("{copy_events_rps:>10.0} rows/s"),
            format!("{:.2} s", copy_all.secs),
        ),
        (
            format!("COPY every event's row, {copy_batch}/COPY"),
            format!("{:>10.0} rows/s", rate(n as f64, copy_batched.secs)),
            format!("{:.2} s", copy_batched.secs),
        ),
        (
            "ceiling = min(consume, COPY events)".into(),
            format!("{ceiling:>10.0} ev/s"),
            String::new(),
        ),
    ];
    let mut json_runs = Vec::new();
    for r in &runs {
        let eps = rate(n as f64, r.secs);
        let ratio = eps / ceiling;
        let (rate_ok, rss_ok) = (ratio >= RATIO_TARGET, r.peak_rss_mb <= RSS_TARGET_MB);
        table.push((
            format!("sluice e2e batch.size={}", r.batch_size),
            format!("{eps:>10.0} ev/s"),
            format!(
                "{:.2} s, steady {:.0} ev/s, ratio {ratio:.2} ({}), peak RSS {:.1} MB ({}), \
                 CPU {:.1} s, machine busy {:.0}%",
                r.secs,
                rate(r.steady_events, r.steady_secs),
                if rate_ok { "met" } else { "MISSED" },
                r.peak_rss_mb,
                if rss_ok { "met" } else { "MISSED" },
                r.cpu_secs,
                r.machine_busy * 100.0
            ),
        ));
        let server_ms: f64 = r.server.values().map(|v| v.1).sum();
        let mirror_ms: f64 = r
            .server
            .iter()
            .filter(|(k, _)| k.ends_with("(mirror)"))
            .map(|(_, v)| v.1)
            .sum();
        table.push((
            "  (from /metrics)".into(),
            String::new(),
            format!(
                "{:.0} batches, decode+apply {:.2} s (apply_batch {:.2} s, of it SQL on the \
                 server {:.2} s; the checkpoint mirror's updates beside them {:.2} s), \
                 startup {:.2} s, rest {:.2} s",
                r.batches,
                r.batch_secs,
                r.commit_secs,
                server_ms / 1000.0,
                mirror_ms / 1000.0,
                r.secs - r.steady_secs,
                r.secs - r.batch_secs - (r.secs - r.steady_secs)
            ),
        ));
        let vs = baseline.as_ref().map(|b| {
            (
                eps / rate(b.records, b.secs),
                rate(r.steady_events, r.steady_secs) / rate(b.records, b.steady_secs),
            )
        });
        table.push((
            "  (checkpoint progress)".into(),
            String::new(),
            format!(
                "{}; vs the script: {}",
                halves_text(r.halves.as_ref()),
                match vs {
                    Some((e2e, steady)) => format!(
                        "e2e {e2e:.2}x ({}), steady {steady:.2}x ({})",
                        met(e2e >= E2E_VS_BASELINE_TARGET),
                        met(steady >= STEADY_VS_BASELINE_TARGET)
                    ),
                    None => "not run".into(),
                }
            ),
        ));
        server_rows(&mut table, &r.server);
        json_runs.push(
            json!({"batch_size": r.batch_size, "secs": r.secs, "events_per_s": eps,
            "steady_events_per_s": rate(r.steady_events, r.steady_secs),
            "startup_secs": r.secs - r.steady_secs, "peak_rss_mb": r.peak_rss_mb,
            "cpu_secs": r.cpu_secs, "machine_busy": r.machine_busy, "batches": r.batches,
            "batch_duration_secs": r.batch_secs, "commit_duration_secs": r.commit_secs,
            "server_sql_secs": server_ms / 1000.0, "mirror_sql_secs": mirror_ms / 1000.0,
            "server_ms_by_statement": server_json(&r.server),
            "ratio": ratio, "rate_target_met": rate_ok, "rss_target_met": rss_ok,
            "verified": r.verified, "halves": r.halves.map(|h| h.json()),
            "vs_baseline": vs.map(|(e2e, steady)| json!({"e2e": e2e, "steady": steady}))}),
        );
    }
    let json_baseline = baseline.as_ref().map(|b| {
        let eps = rate(b.records, b.secs);
        let steady = rate(b.records, b.steady_secs);
        table.push((
            "hand-written Python sink (script)".into(),
            format!("{eps:>10.0} ev/s"),
            format!(
                "{:.2} s, steady {steady:.0} ev/s (first message to end), peak RSS {:.1} MB, \
                 CPU {:.1} s",
                b.secs, b.peak_rss_mb, b.cpu_secs
            ),
        ));
        table.push((
            "  (commit progress)".into(),
            String::new(),
            halves_text(b.halves.as_ref()),
        ));
        json!({"secs": b.secs, "events_per_s": eps, "steady_secs": b.steady_secs,
            "steady_events_per_s": steady, "records": b.records, "peak_rss_mb": b.peak_rss_mb,
            "cpu_secs": b.cpu_secs, "halves": b.halves.map(|h| h.json()), "verified": b.verified})
    });
    let mut json_inproc = Vec::new();
    for r in &inproc {
        let server_ms: f64 = r.server.values().map(|v| v.1).sum();
        table.push((
            format!("in process batch.size={}", r.batch_size),
            format!(
                "{:>10.0} ev/s",
                rate(n as f64, r.decode_secs + r.apply_secs)
            ),
            format!(
                "decode {:.2} s ({:.0} ev/s), apply_batch {:.2} s ({:.0} ev/s), of it SQL on \
                 the server {:.2} s",
                r.decode_secs,
                rate(n as f64, r.decode_secs),
                r.apply_secs,
                rate(n as f64, r.apply_secs),
                server_ms / 1000.0
            ),
        ));
        server_rows(&mut table, &r.server);
        json_inproc.push(json!({"batch_size": r.batch_size, "decode_secs": r.decode_secs,
            "decode_events_per_s": rate(n as f64, r.decode_secs), "apply_secs": r.apply_secs,
            "apply_events_per_s": rate(n as f64, r.apply_secs), "server_sql_secs": server_ms / 1000.0,
            "server_ms_by_statement": server_json(&r.server)}));
    }
    if let Some(l) = &latency {
        let [p50, p90, p99, max] = l.percentiles;
        table.push((
            format!("latency at {}/s, {} s, 3 partitions", l.rate, l.secs),
            format!("{p99:>10.0} ms p99"),
            format!(
                "p50 {p50:.0} ms, p90 {p90:.0} ms, max {max:.0} ms over {} records (send -> checkpoint)",
                l.records
            ),
        ));
    }
    println!();
    println!(
        "sluice pipeline benchmark: {n} events (c {c} / u {u} / d {d}), {PARTITIONS} partitions \
         of {per_partition:?} records, {:.1} MB of JSON, {} final rows",
        mb,
        final_rows.len()
    );
    let w0 = table.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (a, b, c) in &table {
        println!("  {a:<w0$}  {b:>16}  {c}");
    }
    let best = runs
        .iter()
        .map(|r| rate(n as f64, r.secs))
        .fold(0.0, f64::max);
    let report = json!({"bench": "pipeline", "events": n, "partitions": PARTITIONS,
        "mix": {"c": c, "u": u, "d": d}, "final_rows": final_rows.len(), "bytes": bytes,
        "publish": {"secs": publish_secs, "records_per_s": rate(n as f64, publish_secs)},
        "raw_consume": {"records": consumed.records, "bytes": consumed.bytes, "secs": consumed.secs,
            "records_per_s": consume_rps, "mb_per_s": consumed.bytes as f64 / 1e6 / consumed.secs},
        "consume_decode": {"secs": consumed_decoded.secs, "records_per_s": rate(n as f64, consumed_decoded.secs)},
        "decode_in_memory": {"records": decode.records, "decode_us": decode.decode_us, "json_parse_us": decode.parse_us},
        "copy_final_rows": {"rows": copy_final.rows, "secs": copy_final.secs, "rows_per_s": rate(copy_final.rows as f64, copy_final.secs)},
        "copy_all_events": {"rows": copy_all.rows, "secs": copy_all.secs, "rows_per_s": copy_events_rps},
        "copy_per_batch": {"batch_size": copy_batch, "rows": copy_batched.rows, "secs": copy_batched.secs, "rows_per_s": rate(copy_batched.rows as f64, copy_batched.secs)},
        "ceiling_events_per_s": ceiling,
        "consumer_props": s.consumer_props.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "connector_props": s.connector_props.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "partitioning": format!("{:?}", s.partitioning), "hot_keys": s.hot_keys, "per_partition": per_partition,
        "sluice": json_runs, "baseline_script": json_baseline, "in_process": json_inproc,
        "latency": latency.as_ref().map(Latency::json),
        "best_ratio": best / ceiling,
        "targets": {"ratio": RATIO_TARGET, "rss_mb": RSS_TARGET_MB,
            "rate_met": best / ceiling >= RATIO_TARGET,
            "rss_met": runs.iter().all(|r| r.peak_rss_mb <= RSS_TARGET_MB),
            "steady_vs_baseline": STEADY_VS_BASELINE_TARGET, "e2e_vs_baseline": E2E_VS_BASELINE_TARGET,
            "second_over_first_half": HALVES_TARGET}});
    println!("{report}");
    if !s.bench {
        eprintln!(
            "(smoke run under cargo test: targets not checked; run `cargo bench --bench pipeline`)"
        );
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// The halves' rates for the table.
fn halves_text(h: Option<&Halves>) -> String {
    match h {
        Some(h) => format!(
            "first half {:.0} ev/s, second half {:.0} ev/s, second/first {:.2} ({})",
            h.first_rate,
            h.second_rate,
            h.ratio(),
            met(h.ratio() >= HALVES_TARGET)
        ),
        None => "too few commits to rate each half".into(),
    }
}
