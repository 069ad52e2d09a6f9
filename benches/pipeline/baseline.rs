//! Part 3b: the baseline of issue #18, a hand-written Python sink (`baseline_sink.py`: confluent-kafka
//! with librdkafka's defaults, psycopg 3 `executemany` upserts, offsets committed per 500-record
//! batch) on the same topic and broker, into a fresh database with the table sluice creates.

use super::*;

/// Where the script is (beside this file).
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/pipeline/baseline_sink.py"
);

pub(crate) struct BaselineRun {
    /// Spawn to exit (interpreter start-up, imports, group join included).
    pub(crate) secs: f64,
    /// First message to the end of the last commit, by the script's own clock.
    pub(crate) steady_secs: f64,
    pub(crate) records: f64,
    pub(crate) peak_rss_mb: f64,
    pub(crate) cpu_secs: f64,
    pub(crate) halves: Option<Halves>,
    pub(crate) verified: bool,
    pub(crate) detail: String,
}

/// The Python with confluent-kafka and psycopg 3 (`SLUICE_BENCH_PYTHON`, which `.ci/test`
/// exports). Missing: the part is skipped with a message, or fails under `CI=true`.
pub(crate) fn baseline_python() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("SLUICE_BENCH_PYTHON").map(std::path::PathBuf::from);
    let usable = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import confluent_kafka, psycopg"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable {
        return python;
    }
    let why = format!(
        "the baseline sink needs SLUICE_BENCH_PYTHON, a python with confluent-kafka and psycopg 3 \
         (now {python:?}); `bash .ci/test` installs them in a venv and exports it"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

pub(crate) fn run_baseline(
    rt: &tokio::runtime::Runtime,
    python: &std::path::Path,
    bootstrap: &str,
    topic: &str,
    n: usize,
    expected: &BTreeMap<i64, i64>,
) -> BaselineRun {
    let url = Postgres::database();
    rt.block_on(async {
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        sqlx::raw_sql(&create_table(TABLE, true))
            .execute(&mut conn)
            .await
            .expect("create the baseline's table");
        conn.close().await.ok();
    });
    let dir = support::scratch_dir("sluice-bench-baseline");
    let (out_path, err_path) = (dir.join("out.json"), dir.join("err.log"));
    let ticks = clock_ticks();
    let started = Instant::now();
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .args(["--bootstrap", bootstrap, "--topic", topic, "--dsn", &url])
        .args(["--group", &random_name("bench_baseline")])
        .stdout(std::fs::File::create(&out_path).expect("out file"))
        .stderr(std::fs::File::create(&err_path).expect("err file"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", python.display()));
    let pid = child.id();
    let mut usage = Usage::default();
    let deadline = started + Duration::from_secs(1800);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        usage.sample(pid);
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the baseline did not finish:\n{}",
                support::tail(&err_path, 40)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = started.elapsed().as_secs_f64();
    assert!(
        status.success(),
        "the baseline failed ({status}):\n{}",
        support::tail(&err_path, 40)
    );
    let out: Json = serde_json::from_str(&std::fs::read_to_string(&out_path).expect("output"))
        .expect("the baseline prints JSON");
    let num = |k: &str| out[k].as_f64().unwrap_or_else(|| panic!("{k} in {out}"));
    // Its progress is stamped from its own start; the few ms between spawn and that stamp
    // are not worth correcting.
    let samples: Vec<(f64, f64)> = out["progress"]
        .as_array()
        .expect("progress")
        .iter()
        .map(|p| (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0)))
        .collect();
    let (verified, detail) = rt.block_on(verify(&url, expected));
    let _ = std::fs::remove_dir_all(&dir);
    BaselineRun {
        secs,
        steady_secs: num("end") - num("first_message"),
        records: num("records"),
        peak_rss_mb: usage.peak_kb / 1024.0,
        cpu_secs: usage.cpu_ticks / ticks,
        halves: Halves::from_samples(&samples, n as f64),
        verified,
        detail,
    }
}
