//! Part 5 (issue #18): latency at a steady rate. sluice runs (worker file: the broker only;
//! connector: the bench's, with Debezium's default `batch.size` of 500) on a fresh topic of 3
//! partitions; once it has committed a first record of each, a producer sends the bench's
//! records at a fixed rate, round-robin over the partitions, and `sluice_offsets` is read
//! every 10 ms. A record's latency runs from the moment it was handed to the producer (the
//! source timestamp a live Debezium would give it, give or take the producer's `linger.ms`,
//! here 1 ms) to the first reading of the checkpoint that covers its offset.

use super::*;

/// Partitions of the latency topic.
const LATENCY_PARTITIONS: i32 = 3;

/// A latency run's figures.
pub(crate) struct Latency {
    pub(crate) rate: usize,
    pub(crate) secs: u64,
    pub(crate) records: usize,
    /// Percentiles in ms: p50, p90, p99, max.
    pub(crate) percentiles: [f64; 4],
}

impl Latency {
    pub(crate) fn json(&self) -> Json {
        let [p50, p90, p99, max] = self.percentiles;
        json!({"rate": self.rate, "secs": self.secs, "records": self.records,
            "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max})
    }
}

/// `SLUICE_BENCH_LATENCY`: `RATExSECS` (default `10000x20`; `0` skips the part).
pub(crate) fn latency_setting(text: Option<String>, bench: bool) -> Option<(usize, u64)> {
    let text = text.unwrap_or_else(|| if bench { "10000x20" } else { "500x2" }.into());
    if text.trim() == "0" {
        return None;
    }
    let (rate, secs) = text
        .split_once('x')
        .expect("SLUICE_BENCH_LATENCY: RATExSECS, e.g. 10000x20, or 0");
    Some((
        rate.trim().parse().expect("SLUICE_BENCH_LATENCY: rate"),
        secs.trim().parse().expect("SLUICE_BENCH_LATENCY: seconds"),
    ))
}

/// Runs part 5 with `records` as the payloads (taken in order, cycled when too few).
pub(crate) fn run_latency(
    rt: &tokio::runtime::Runtime,
    s: &Settings,
    tansu: &Tansu,
    records: &[Record],
    (rate, secs): (usize, u64),
) -> Latency {
    let topic = random_name("bench_latency");
    tansu.create_topic(&topic, LATENCY_PARTITIONS);
    let url = Postgres::database();
    let dir = support::scratch_dir("sluice-latency");
    let worker = worker_file(&dir, &tansu.bootstrap(), &s.consumer_props);
    let connector = support::sluice::connector_file(
        &dir,
        &random_name("latency"),
        connector_config(&topic, &url, 500, &s.connector_props),
    );
    let log = dir.join("run.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let mut child = Command::new(sluice_binary())
        .arg("run")
        .arg("--worker")
        .arg(&worker)
        .arg(&connector)
        .env("SLUICE_LOG", &s.child_log)
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sluice");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", tansu.bootstrap())
        .set("enable.idempotence", "true")
        .set("linger.ms", "1")
        .create()
        .expect("producer");
    let headers = debezium_headers();
    let record = |i: usize| {
        let r = &records[i % records.len()];
        FutureRecord::<[u8], [u8]>::to(&topic)
            .key(&r.key)
            .payload(&r.value)
            .partition(i as i32 % LATENCY_PARTITIONS)
            .headers(headers.clone())
    };
    let latency = rt.block_on(async {
        // Warm up: a first record per partition, committed (the group join is not measured).
        for i in 0..LATENCY_PARTITIONS as usize {
            producer
                .send(record(i), Duration::from_secs(30))
                .await
                .expect("warm-up record");
        }
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        sqlx::query("SET log_min_duration_statement = -1")
            .execute(&mut conn)
            .await
            .expect("quiet the sampler");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let committed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sluice_offsets WHERE topic = $1 AND next_offset >= 1",
            )
            .bind(&topic)
            .fetch_one(&mut conn)
            .await
            .unwrap_or(0);
            if committed == LATENCY_PARTITIONS as i64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sluice did not commit the warm-up records; log:\n{}",
                support::tail(&log, 40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The checkpoint, every 10 ms, until it covers the offsets sent on `done` (the end
        // of each partition once every record is delivered), or 60 s after that.
        let started = Instant::now();
        let (done, mut end) = tokio::sync::watch::channel(None::<Vec<i64>>);
        let sampler = {
            let topic = topic.clone();
            tokio::spawn(async move {
                let mut samples: Vec<(f64, Vec<i64>)> = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                let mut deadline = None;
                loop {
                    tick.tick().await;
                    let next = checkpoint(&mut conn, &topic).await;
                    let covered = end
                        .borrow_and_update()
                        .as_ref()
                        .map(|last| next.iter().zip(last).all(|(n, l)| n >= l));
                    samples.push((started.elapsed().as_secs_f64(), next));
                    if let Some(covered) = covered {
                        let deadline = *deadline
                            .get_or_insert_with(|| Instant::now() + Duration::from_secs(60));
                        if covered || Instant::now() > deadline {
                            return samples;
                        }
                    }
                }
            })
        };
        // The steady producer: every millisecond, what the rate owes by then.
        let total = rate * secs as usize;
        let mut sent = Vec::with_capacity(total);
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut i = 0;
        while i < total {
            tick.tick().await;
            let owed = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(total);
            while i < owed {
                let at = started.elapsed().as_secs_f64();
                let n = LATENCY_PARTITIONS as usize + i;
                match producer.send_result(record(n)) {
                    Ok(delivery) => sent.push((at, delivery)),
                    Err((e, _)) => panic!("produce: {e}"),
                }
                i += 1;
            }
        }
        let mut produced = Vec::with_capacity(total);
        for (at, delivery) in sent {
            let d = delivery.await.expect("delivery").expect("delivered");
            produced.push((at, d.partition as usize, d.offset));
        }
        let last: Vec<i64> = (0..LATENCY_PARTITIONS as usize)
            .map(|p| {
                produced
                    .iter()
                    .filter(|r| r.1 == p)
                    .map(|r| r.2 + 1)
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let _ = done.send(Some(last));
        let samples = sampler.await.expect("sampler");
        latencies(&produced, &samples)
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut ms = latency;
    assert!(!ms.is_empty(), "no record was seen committed");
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
    Latency {
        rate,
        secs,
        records: ms.len(),
        percentiles: [at(0.50), at(0.90), at(0.99), ms[ms.len() - 1]],
    }
}

/// The checkpoint of each partition of `topic` (0 where none is stored yet).
async fn checkpoint(conn: &mut PgConnection, topic: &str) -> Vec<i64> {
    let rows: Vec<(i32, i64)> =
        sqlx::query_as("SELECT kafka_partition, next_offset FROM sluice_offsets WHERE topic = $1")
            .bind(topic)
            .fetch_all(conn)
            .await
            .unwrap_or_default();
    let mut next = vec![0; LATENCY_PARTITIONS as usize];
    for (p, n) in rows {
        if let Some(slot) = next.get_mut(p as usize) {
            *slot = n;
        }
    }
    next
}

/// Each produced record's latency in ms: from its send to the first sample whose checkpoint
/// is past its offset (records never covered are left out; the caller waited for them).
fn latencies(produced: &[(f64, usize, i64)], samples: &[(f64, Vec<i64>)]) -> Vec<f64> {
    produced
        .iter()
        .filter_map(|&(at, partition, offset)| {
            // Samples are in time order and the checkpoint only moves forward.
            let first = samples.partition_point(|(_, next)| next[partition] <= offset);
            samples
                .get(first)
                .map(|(seen, _)| ((seen - at) * 1000.0).max(0.0))
        })
        .collect()
}
