//! Throwaway PostgreSQL clusters for tests.
//!
//! * [`Postgres::shared()`]: one cluster per test process, started on first use, shared by all
//!   tests of that binary; [`Postgres::database()`] creates a fresh randomly named database in it
//!   and returns its URL. Never stop the shared cluster: other tests use it.
//! * [`Postgres::dedicated()`]: a cluster owned by one test, with [`Postgres::stop`] /
//!   [`Postgres::start`] for outage tests; stopped and deleted on drop.
//!
//! Setup: `initdb` as the `postgres` OS user (`runuser -u postgres --`, because PostgreSQL
//! refuses to run as root; when the tests do not run as root they run the binaries directly),
//! data directory in a fresh directory under the temp dir owned by that user, trust auth,
//! listening on 127.0.0.1 only on a free port, unix socket in the cluster's own directory,
//! `fsync=off` (NOT `synchronous_commit=off`: with it, `pg_ctl stop -m immediate` loses
//! transactions that had already committed, which would break outage tests), `TimeZone=UTC` (the corpus oracles print timestamps in UTC),
//! `wal_level=logical` (cheap, and lets a test run a real Debezium engine against it).
//!
//! Shutdown: a `static` is never dropped, so each cluster has a watchdog shell
//! ([`super::spawn_watchdog`]) that runs `pg_ctl stop -m immediate` and deletes the directory as
//! soon as the test process has exited (normally, by panic, or killed).
//!
//! Binaries: `$SLUICE_PG_BIN` (set by `.ci/test`), else the newest
//! `/usr/lib/postgresql/*/bin` that has `initdb`; otherwise the test panics telling to run
//! `bash .ci/test`.

use super::{free_port, is_root, quote_ident, random_name, scratch_dir, tail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub struct Postgres {
    bin: PathBuf,
    /// The cluster's own directory: `data/`, `postgres.log`, the unix socket.
    dir: PathBuf,
    port: u16,
    as_root: bool,
    dedicated: bool,
}

static SHARED: OnceLock<Postgres> = OnceLock::new();

/// The PostgreSQL server bin directory (with initdb, pg_ctl, postgres, psql).
pub fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SLUICE_PG_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.join("initdb").is_file(),
            "SLUICE_PG_BIN={} has no initdb; run the tests with `bash .ci/test`, which installs \
             PostgreSQL",
            p.display()
        );
        return p;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries not found: SLUICE_PG_BIN is unset and there is no \
             /usr/lib/postgresql/*/bin/initdb. Run the tests with `bash .ci/test` (it installs \
             the Debian package `postgresql` and exports SLUICE_PG_BIN)."
        ),
    }
}

impl Postgres {
    /// The cluster shared by every test of this process (started on first call).
    pub fn shared() -> &'static Postgres {
        SHARED.get_or_init(|| Postgres::init(false))
    }

    /// A fresh database in the shared cluster: `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn database() -> String {
        Postgres::shared().create_database()
    }

    /// A cluster of its own for one test (outage tests: [`Postgres::stop`], [`Postgres::start`]).
    /// Stopped and deleted when dropped.
    pub fn dedicated() -> Postgres {
        Postgres::init(true)
    }

    /// Create a randomly named database in this cluster and return its URL.
    pub fn create_database(&self) -> String {
        let name = random_name("sluice_test");
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {}", quote_ident(&name)),
        );
        self.url(&name)
    }

    /// The URL of database `db` in this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// Run SQL with psql (`ON_ERROR_STOP`), panicking with psql's error on failure; returns
    /// stdout in unaligned tuples-only form.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-c", sql])
            .env_remove("PGOPTIONS")
            .env_remove("PGSERVICE")
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql -d {db} -c {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stop the server now (`pg_ctl stop -m immediate`: connections drop as in a crash; the
    /// data survives). Only for a [`Postgres::dedicated`] cluster.
    pub fn stop(&self) {
        assert!(self.dedicated, "stop() is only for Postgres::dedicated()");
        let out = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        assert!(out.status.success(), "pg_ctl stop: {}", output_text(&out));
    }

    /// Start a stopped server again on the same port. Only for a dedicated cluster.
    pub fn start(&self) {
        assert!(self.dedicated, "start() is only for Postgres::dedicated()");
        if let Err(e) = self.start_server() {
            panic!("pg_ctl start (port {}): {e}", self.port);
        }
    }

    /// Turns on TLS with `cert`/`key` and accepts TCP connections only over TLS (`hostssl`;
    /// plain TCP is rejected by pg_hba.conf), then restarts. Only for a dedicated cluster.
    pub fn require_tls(&self, cert: &Path, key: &Path) {
        assert!(
            self.dedicated,
            "require_tls() is only for Postgres::dedicated()"
        );
        let data = self.data_dir();
        std::fs::copy(cert, data.join("server.crt")).expect("copy certificate");
        std::fs::copy(key, data.join("server.key")).expect("copy key");
        {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(data.join("server.key"), perms).expect("chmod key");
        }
        if self.as_root {
            run_ok(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(data.join("server.crt"))
                    .arg(data.join("server.key")),
            );
        }
        let path = data.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&path, text).expect("write postgresql.auto.conf");
        self.set_hba(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        );
        self.restart();
    }

    /// Creates a login role with a password and makes every role but `postgres` log in with
    /// its password over TCP (scram-sha-256). Only for a dedicated cluster.
    pub fn require_password(&self, role: &str, password: &str) {
        assert!(
            self.dedicated,
            "require_password() is only for Postgres::dedicated()"
        );
        self.psql(
            "postgres",
            &format!(
                "CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}",
                quote_ident(role),
                super::quote_literal(password)
            ),
        );
        self.set_hba(
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        );
        self.restart();
    }

    fn set_hba(&self, lines: &str) {
        std::fs::write(self.data_dir().join("pg_hba.conf"), lines).expect("write pg_hba.conf");
    }

    fn restart(&self) {
        let out = self.pg_ctl(&[
            "restart",
            "-w",
            "-m",
            "fast",
            "-l",
            &self.log_path().display().to_string(),
        ]);
        assert!(
            out.status.success(),
            "pg_ctl restart: {}\nlog:\n{}",
            output_text(&out),
            tail(&self.log_path(), 20)
        );
    }

    fn init(dedicated: bool) -> Postgres {
        let bin = pg_bin();
        let dir = scratch_dir("sluice-pg");
        let as_root = is_root();
        if as_root {
            run_ok(Command::new("chown").arg("postgres:postgres").arg(&dir));
        }
        let mut pg = Postgres {
            bin,
            dir,
            port: 0,
            as_root,
            dedicated,
        };
        let data = pg.data_dir();
        let out = pg
            .as_pg_user(&pg.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-sync", "--no-instructions"])
            .output()
            .expect("run initdb");
        assert!(out.status.success(), "initdb failed: {}", output_text(&out));
        // Stop the cluster and delete its directory once this test process is gone.
        let stop = pg.as_pg_user_shell(&format!(
            "'{}' -D '{}' stop -m immediate -w",
            pg.bin.join("pg_ctl").display(),
            data.display()
        ));
        super::spawn_watchdog(
            None,
            &format!(
                "if [ -f '{data}/postmaster.pid' ]; then {stop} >/dev/null 2>&1; fi; rm -rf '{dir}'",
                data = data.display(),
                dir = pg.dir.display()
            ),
        );
        let mut last_err = String::new();
        for _ in 0..5 {
            pg.port = free_port();
            pg.write_config();
            match pg.start_server() {
                Ok(()) => return pg,
                Err(e) => last_err = e, // most likely the port was taken meanwhile
            }
        }
        panic!("PostgreSQL did not start after 5 attempts: {last_err}");
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn write_config(&self) {
        let conf = format!(
            "\n# sluice test harness\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{sock}'\nfsync = off\n\
             full_page_writes = off\nmax_connections = 200\nshared_buffers = 64MB\n\
             wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n\
             TimeZone = 'UTC'\nlog_timezone = 'UTC'\n",
            port = self.port,
            sock = self.dir.display()
        );
        // postgresql.auto.conf is read last, so the last start's port wins.
        let path = self.data_dir().join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&conf);
        std::fs::write(&path, text).expect("write postgresql.auto.conf");
    }

    fn start_server(&self) -> Result<(), String> {
        let log = self.log_path();
        let out = self.pg_ctl(&["start", "-w", "-t", "60", "-l", &log.display().to_string()]);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{}\nlog:\n{}", output_text(&out), tail(&log, 20)))
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        self.as_pg_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl")
    }

    /// A command that runs `program` as the postgres OS user when we are root.
    fn as_pg_user(&self, program: &Path) -> Command {
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn as_pg_user_shell(&self, cmdline: &str) -> String {
        if self.as_root {
            format!("runuser -u postgres -- {cmdline}")
        } else {
            cmdline.to_string()
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Only dedicated clusters are ever dropped (the shared one lives in a static).
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run command");
    assert!(out.status.success(), "{cmd:?}: {}", output_text(&out));
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
