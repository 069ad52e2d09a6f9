//! Part 3: sluice end-to-end, as a child process.

use super::*;

#[derive(Default)]
pub(crate) struct Metrics(pub(crate) HashMap<String, f64>);

impl Metrics {
    /// Sums every series of each metric family member (`name` without labels).
    fn parse(text: &str) -> Metrics {
        let mut m = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let name = series.split('{').next().unwrap_or(series);
            if let Ok(v) = value.parse::<f64>() {
                *m.entry(name.to_string()).or_insert(0.0) += v;
            }
        }
        Metrics(m)
    }
    fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }
}

pub(crate) fn scrape(port: u16) -> Option<Metrics> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.")
        .then_some(())
        .filter(|_| head.contains(" 200 "))?;
    Some(Metrics::parse(body))
}

pub(crate) fn proc_status_kb(pid: u32, field: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A child process's peak RSS and CPU time, as last sampled from /proc while it runs.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Usage {
    /// VmHWM, in kB.
    pub peak_kb: f64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: f64,
}

impl Usage {
    /// Samples `pid` once (a process that has already gone changes nothing).
    pub(crate) fn sample(&mut self, pid: u32) {
        if let Some(kb) = proc_status_kb(pid, "VmHWM:") {
            self.peak_kb = self.peak_kb.max(kb);
        }
        if let Some(t) = proc_cpu_ticks(pid) {
            self.cpu_ticks = t;
        }
    }
}

/// utime + stime of a process, in ticks.
pub(crate) fn proc_cpu_ticks(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
}

/// (busy, total) jiffies of the whole machine.
pub(crate) fn machine_cpu() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

pub(crate) struct SluiceRun {
    pub(crate) batch_size: usize,
    pub(crate) secs: f64,
    pub(crate) steady_secs: f64,
    pub(crate) steady_events: f64,
    pub(crate) peak_rss_mb: f64,
    pub(crate) cpu_secs: f64,
    pub(crate) machine_busy: f64,
    pub(crate) batches: f64,
    pub(crate) batch_secs: f64,
    pub(crate) commit_secs: f64,
    /// statement kind -> (count, ms on the server)
    pub(crate) server: BTreeMap<String, (u64, f64)>,
    pub(crate) verified: bool,
    pub(crate) detail: String,
    /// The two halves' rates, by the checkpoint's progress (`None` if it never reached N).
    pub(crate) halves: Option<Halves>,
}

pub(crate) fn sluice_binary() -> std::path::PathBuf {
    match std::env::var_os("SLUICE_BENCH_BIN") {
        Some(p) => p.into(),
        None => support::sluice::binary(),
    }
}

pub(crate) fn connector_config(
    topic: &str,
    url: &str,
    batch: usize,
    extra: &[(String, String)],
) -> Json {
    let jdbc = format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1));
    let mut config = json!({"topics": topic, "connection.url": jdbc, "insert.mode": "upsert",
        "primary.key.mode": "record_key", "delete.enabled": "true", "schema.evolution": "basic",
        "collection.name.format": "${source.table}", "batch.size": batch.to_string()});
    for (k, v) in extra {
        config[k] = Json::String(v.clone());
    }
    config
}

pub(crate) async fn verify(url: &str, expected: &BTreeMap<i64, i64>) -> (bool, String) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let (count, sum): (i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT count(*), CAST(sum(version) AS BIGINT) FROM {TABLE}"
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap_or((-1, None));
    conn.close().await.ok();
    let want_sum: i64 = expected.values().sum();
    let ok = count == expected.len() as i64 && sum.unwrap_or(0) == want_sum;
    (
        ok,
        format!(
            "rows {count} (want {}), sum(version) {} (want {want_sum})",
            expected.len(),
            sum.unwrap_or(0)
        ),
    )
}

pub(crate) fn run_sluice(
    rt: &tokio::runtime::Runtime,
    s: &Settings,
    bootstrap: &str,
    topic: &str,
    batch: usize,
    expected: &BTreeMap<i64, i64>,
) -> SluiceRun {
    let url = Postgres::database();
    log_statement_durations(&url);
    let log_start = pg_log_len();
    let dir = support::scratch_dir("sluice-bench");
    let worker = worker_file(&dir, bootstrap, &s.consumer_props);
    let connector = support::sluice::connector_file(
        &dir,
        &random_name("bench"),
        connector_config(topic, &url, batch, &s.connector_props),
    );
    let port = support::free_port();
    let log = dir.join("run.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let ticks = clock_ticks();
    let cpu0 = machine_cpu();
    let started = Instant::now();
    let sampler = CheckpointSampler::start(rt, &url, started);
    let mut child = Command::new(sluice_binary())
        .arg("run")
        .arg("--worker")
        .arg(&worker)
        .arg("--stop-at-end")
        .arg(&connector)
        .env("SLUICE_LOG", &s.child_log)
        .env("SLUICE_METRICS_ADDRESS", format!("127.0.0.1:{port}"))
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", sluice_binary().display()));
    let pid = child.id();
    let mut usage = Usage::default();
    let mut last = Metrics::default();
    let mut last_scrape = Instant::now() - Duration::from_secs(1);
    let deadline = started + Duration::from_secs(1800);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        usage.sample(pid);
        if last_scrape.elapsed() >= Duration::from_millis(250) {
            last_scrape = Instant::now();
            if let Some(m) = scrape(port) {
                last = m;
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sluice did not finish; log:\n{}", support::tail(&log, 40));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = started.elapsed().as_secs_f64();
    let cpu1 = machine_cpu();
    let samples = sampler.finish(rt);
    assert!(
        status.success(),
        "sluice run failed ({status}); log:\n{}",
        support::tail(&log, 60)
    );
    let n = s.events as f64;
    // Steady state: from the first checkpoint commit to the exit.
    let halves = Halves::from_samples(&samples, n);
    let (steady_secs, steady_events) = match first_commit(&samples) {
        Some((at, committed)) => (secs - at, n - committed),
        None => (secs, n),
    };
    std::thread::sleep(Duration::from_millis(300));
    let pg_log = pg_log_since(log_start);
    if std::env::var_os("SLUICE_BENCH_EXPLAIN").is_some() {
        let path = std::env::temp_dir().join(format!("sluice-bench-pg-{batch}.log"));
        std::fs::write(&path, &pg_log).expect("write PostgreSQL log slice");
        eprintln!("PostgreSQL log of the run (with plans): {}", path.display());
    }
    let server = parse_pg_durations(&pg_log);
    let (verified, detail) = rt.block_on(verify(&url, expected));
    if std::env::var_os("SLUICE_BENCH_KEEP_LOG").is_some() {
        let path = std::env::temp_dir().join(format!("sluice-bench-run-{batch}.log"));
        std::fs::copy(&log, &path).expect("copy the run log");
        eprintln!("sluice log of the run: {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    SluiceRun {
        batch_size: batch,
        secs,
        steady_secs,
        steady_events,
        peak_rss_mb: usage.peak_kb / 1024.0,
        cpu_secs: usage.cpu_ticks / ticks,
        machine_busy: (cpu1.0 - cpu0.0) / (cpu1.1 - cpu0.1).max(1.0),
        batches: last.get("sluice_batch_duration_seconds_count"),
        batch_secs: last.get("sluice_batch_duration_seconds_sum"),
        commit_secs: last.get("sluice_commit_duration_seconds_sum"),
        server,
        verified,
        detail,
        halves,
    }
}

/// The worker file of the runs: the broker and nothing else, so sluice runs with the consumer
/// settings a user gets (the tests' worker file tunes `fetch.wait.max.ms` and the group
/// timeouts), plus `SLUICE_BENCH_CONSUMER_PROPS` for experiments.
pub(crate) fn worker_file(
    dir: &std::path::Path,
    bootstrap: &str,
    consumer_props: &[(String, String)],
) -> std::path::PathBuf {
    let mut text = format!("bootstrap.servers={bootstrap}\n");
    for (k, v) in consumer_props {
        text.push_str(&format!("consumer.{k}={v}\n"));
    }
    let path = dir.join("worker.properties");
    std::fs::write(&path, text).expect("worker file");
    path
}
