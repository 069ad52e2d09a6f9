//! Real TLS for tests: a throwaway CA and certificates made with the `openssl` command, and
//! stunnel (Debian `stunnel4`) terminating TLS in front of a plaintext broker port.

use super::{free_port, spawn_watchdog, tail, wait_for_port};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A CA and a server certificate for 127.0.0.1 / localhost, signed by it, as PEM files.
pub struct Certs {
    _dir: tempfile::TempDir,
    /// The CA certificate (what clients trust).
    pub ca: PathBuf,
    /// The server certificate (`subjectAltName=IP:127.0.0.1,DNS:localhost`).
    pub cert: PathBuf,
    /// The server's private key (PKCS#8, unencrypted).
    pub key: PathBuf,
    /// A second CA: trusting it must fail to verify the server; it signed only `rogue_*`.
    pub other_ca: PathBuf,
    /// A client certificate signed by `ca` (`extendedKeyUsage=clientAuth`) and its key.
    pub client_cert: PathBuf,
    /// See [`Certs::client_cert`].
    pub client_key: PathBuf,
    /// A client certificate signed by `other_ca`, which a server trusting `ca` refuses.
    pub rogue_cert: PathBuf,
    /// See [`Certs::rogue_cert`].
    pub rogue_key: PathBuf,
}

/// `NAME.key` and `NAME.pem`: a key and a certificate for `subject`, signed by `ca`.
fn leaf(dir: &Path, name: &str, ca: &str, subject: &str, extensions: &str) {
    let (key, csr, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject,
        ],
    );
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n{extensions}"
        ),
    )
    .expect("write ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &ext,
        ],
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// Generates a fresh CA and server certificate (about a second).
    pub fn generate() -> Certs {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for ca in ["ca", "other-ca"] {
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-subj",
                    &format!("/CN=sluice test {ca}"),
                ],
            );
        }
        leaf(
            d,
            "server",
            "ca",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        leaf(
            d,
            "client",
            "ca",
            "/CN=sluice test client",
            "extendedKeyUsage=clientAuth\n",
        );
        leaf(
            d,
            "rogue",
            "other-ca",
            "/CN=rogue client",
            "extendedKeyUsage=clientAuth\n",
        );
        Certs {
            ca: d.join("ca.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            other_ca: d.join("other-ca.pem"),
            client_cert: d.join("client.pem"),
            client_key: d.join("client.key"),
            rogue_cert: d.join("rogue.pem"),
            rogue_key: d.join("rogue.key"),
            _dir: dir,
        }
    }
}

/// stunnel accepting TLS on a port and forwarding plaintext to another; killed on drop.
pub struct Stunnel {
    child: Child,
    dir: tempfile::TempDir,
    /// The TLS port.
    pub port: u16,
}

impl Stunnel {
    /// TLS on `port` (from [`free_port`] when `None`) forwarding to 127.0.0.1:`target`.
    pub fn start(port: u16, target: u16, certs: &Certs) -> Stunnel {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\ndebug = 4\noutput = {log}\n\n[kafka]\naccept = 127.0.0.1:{port}\n\
                 connect = 127.0.0.1:{target}\ncert = {cert}\nkey = {key}\n",
                log = dir.path().join("stunnel.log").display(),
                cert = certs.cert.display(),
                key = certs.key.display(),
            ),
        )
        .expect("write stunnel.conf");
        let child = Command::new(stunnel_bin())
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stunnel (install Debian's stunnel4: `bash .ci/test` does)");
        spawn_watchdog(
            Some(child.id()),
            &format!(
                "if ! kill -0 {parent} 2>/dev/null; then kill -9 {pid} 2>/dev/null; fi",
                parent = std::process::id(),
                pid = child.id()
            ),
        );
        assert!(
            wait_for_port(port, Duration::from_secs(10)),
            "stunnel is not listening on {port}; log:\n{}",
            tail(&dir.path().join("stunnel.log"), 20)
        );
        Stunnel { child, dir, port }
    }

    /// A free port for [`Stunnel::start`].
    pub fn free_port() -> u16 {
        free_port()
    }

    /// stunnel's log.
    pub fn log(&self) -> String {
        tail(&self.dir.path().join("stunnel.log"), 40)
    }
}

fn stunnel_bin() -> &'static str {
    if Path::new("/usr/bin/stunnel4").exists() {
        "/usr/bin/stunnel4"
    } else {
        "stunnel"
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
