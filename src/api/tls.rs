//! HTTPS on the REST listeners (`listeners=https://host:port`), configured as Kafka Connect
//! configures it: the `listeners.https.ssl.*` keys when any is given (then the unprefixed
//! ones are ignored, as in Connect), otherwise the worker's own `ssl.*` keys.
//!
//! What is read (everything else under `ssl.` is the Kafka clients' business):
//! - the server's key and certificate chain: `ssl.keystore.type` `PEM` (one file at
//!   `ssl.keystore.location` holding the private key and the chain, or the PEM text itself in
//!   `ssl.keystore.key` + `ssl.keystore.certificate.chain`, KIP-651) or `PKCS12` (the file
//!   at `ssl.keystore.location`, opened with `ssl.keystore.password`); an encrypted PEM key
//!   is opened with `ssl.key.password`. Java's `JKS` cannot be read: convert it with
//!   `keytool -importkeystore -deststoretype PKCS12`. The type defaults to PKCS12 for a
//!   `.p12`/`.pfx` file and PEM otherwise.
//! - client certificates: `ssl.client.auth` `none` (default), `requested` or `required`,
//!   checked against the CAs of `ssl.truststore.location` (`PEM` or `PKCS12`) or
//!   `ssl.truststore.certificates` (PEM text).
//! - `ssl.enabled.protocols`: the lowest of them is the lowest version accepted (TLSv1.2 by
//!   default, as Connect's).
//!
//! Handshakes run beside the accept loop, each bounded by [`HANDSHAKE_TIMEOUT`], so a slow
//! or hostile client holds up nobody; a refused one is logged with its peer and reason.

use crate::config::{Secret, WorkerConfig};
use crate::telemetry::LogLimiter;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_openssl::SslStream;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The prefix that gives the REST listeners their own TLS settings.
const PREFIX: &str = "listeners.https.";

/// A TLS setting that cannot be used, named as the worker file spells it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct TlsError {
    /// The worker key, with its `listeners.https.` prefix when it had one.
    pub key: String,
    /// What is wrong, never a secret.
    pub reason: String,
}

/// Whether clients must present a certificate (`ssl.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate asked for.
    None,
    /// Asked for and checked when given.
    Requested,
    /// A handshake without a trusted client certificate is refused.
    Required,
}

/// The REST listeners' TLS: the acceptor every `https` listener hands its connections to.
#[derive(Clone)]
pub struct RestTls {
    acceptor: Arc<SslAcceptor>,
    /// What `ssl.client.auth` asked for.
    pub client_auth: ClientAuth,
}

impl std::fmt::Debug for RestTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestTls")
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

/// The TLS keys in effect and the prefix they were given under.
struct Settings {
    prefix: &'static str,
    values: BTreeMap<String, Secret>,
}

impl Settings {
    fn from_worker(worker: &WorkerConfig) -> Settings {
        let prefixed: BTreeMap<String, Secret> = worker
            .distributed
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(PREFIX)?.to_string(), Secret::new(v))))
            .collect();
        if !prefixed.is_empty() {
            return Settings {
                prefix: PREFIX,
                values: prefixed,
            };
        }
        let values = worker
            .client
            .iter()
            .filter(|(k, _)| k.starts_with("ssl."))
            .map(|(k, v)| (k.clone(), Secret::new(v.expose())))
            .collect();
        Settings { prefix: "", values }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(Secret::expose)
            .filter(|v| !v.trim().is_empty())
    }

    fn error(&self, key: &str, reason: impl Into<String>) -> TlsError {
        TlsError {
            key: format!("{}{key}", self.prefix),
            reason: reason.into(),
        }
    }

    fn read(&self, key: &str, path: &str) -> Result<Vec<u8>, TlsError> {
        std::fs::read(path).map_err(|e| self.error(key, format!("cannot read {path}: {e}")))
    }

    /// `PEM` or `PKCS12` for a store, from its type key or its file name.
    fn store_type(&self, key: &str, location: Option<&str>) -> Result<StoreType, TlsError> {
        let given = self.get(key).map(str::to_ascii_uppercase);
        match given.as_deref() {
            Some("PEM") => Ok(StoreType::Pem),
            Some("PKCS12") => Ok(StoreType::Pkcs12),
            Some("JKS") => Err(self.error(
                key,
                "JKS cannot be read; convert it with keytool -importkeystore \
                 -deststoretype PKCS12, or use PEM files",
            )),
            Some(other) => Err(self.error(
                key,
                format!("'{other}' is not a store type sluice reads (PEM or PKCS12)"),
            )),
            None => {
                let pkcs12 = location.is_some_and(|l| {
                    let l = l.to_ascii_lowercase();
                    l.ends_with(".p12") || l.ends_with(".pfx")
                });
                Ok(if pkcs12 {
                    StoreType::Pkcs12
                } else {
                    StoreType::Pem
                })
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreType {
    Pem,
    Pkcs12,
}

/// The server's private key and certificate chain (leaf first).
struct Identity {
    key: PKey<Private>,
    chain: Vec<X509>,
}

impl RestTls {
    /// From the worker settings; `None` when no keystore is given (an `https` listener then
    /// cannot start, which `sluice worker` reports).
    pub fn from_worker(worker: &WorkerConfig) -> Result<Option<RestTls>, TlsError> {
        let settings = Settings::from_worker(worker);
        let Some(identity) = identity(&settings)? else {
            return Ok(None);
        };
        let ssl_error =
            |key: &str, e: openssl::error::ErrorStack| settings.error(key, e.to_string());
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
            .map_err(|e| ssl_error("ssl.keystore.location", e))?;
        let mut chain = identity.chain.into_iter();
        let leaf = chain
            .next()
            .ok_or_else(|| settings.error("ssl.keystore.location", "holds no certificate"))?;
        builder
            .set_certificate(&leaf)
            .and_then(|()| builder.set_private_key(&identity.key))
            .and_then(|()| chain.try_for_each(|c| builder.add_extra_chain_cert(c)))
            .and_then(|()| builder.check_private_key())
            .map_err(|e| {
                settings.error(
                    "ssl.keystore.location",
                    format!("the key and certificate do not go together: {e}"),
                )
            })?;
        if let Some(protocols) = settings.get("ssl.enabled.protocols") {
            let lowest = lowest_version(protocols).ok_or_else(|| {
                settings.error(
                    "ssl.enabled.protocols",
                    format!("'{protocols}' names no TLSv1.2 or TLSv1.3"),
                )
            })?;
            builder
                .set_min_proto_version(Some(lowest))
                .map_err(|e| ssl_error("ssl.enabled.protocols", e))?;
        }
        let client_auth = match settings.get("ssl.client.auth").map(str::to_ascii_lowercase) {
            None => ClientAuth::None,
            Some(v) if v == "none" => ClientAuth::None,
            Some(v) if v == "requested" => ClientAuth::Requested,
            Some(v) if v == "required" => ClientAuth::Required,
            Some(v) => {
                return Err(settings.error(
                    "ssl.client.auth",
                    format!("'{v}' is not valid (expected none, requested or required)"),
                ))
            }
        };
        if client_auth != ClientAuth::None {
            let cas = trusted(&settings)?;
            if cas.is_empty() {
                return Err(settings.error(
                    "ssl.truststore.location",
                    "ssl.client.auth asks for client certificates: give the CAs that sign them",
                ));
            }
            let mut store =
                X509StoreBuilder::new().map_err(|e| ssl_error("ssl.truststore.location", e))?;
            for ca in &cas {
                builder
                    .add_client_ca(ca)
                    .and_then(|()| store.add_cert(ca.clone()))
                    .map_err(|e| ssl_error("ssl.truststore.location", e))?;
            }
            builder
                .set_verify_cert_store(store.build())
                .map_err(|e| ssl_error("ssl.truststore.location", e))?;
            let mut mode = SslVerifyMode::PEER;
            if client_auth == ClientAuth::Required {
                mode |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
            }
            builder.set_verify(mode);
        }
        Ok(Some(RestTls {
            acceptor: Arc::new(builder.build()),
            client_auth,
        }))
    }

    /// Accepts on `tcp` and hands out the connections whose handshake succeeded.
    pub fn listen(&self, tcp: TcpListener) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, self.acceptor.clone(), sender));
        Ok(TlsListener { receiver, local })
    }
}

/// The key and chain from the keystore settings; `None` when there are none.
fn identity(settings: &Settings) -> Result<Option<Identity>, TlsError> {
    let location = settings.get("ssl.keystore.location");
    let inline_key = settings.get("ssl.keystore.key");
    let inline_chain = settings.get("ssl.keystore.certificate.chain");
    let kind = settings.store_type("ssl.keystore.type", location)?;
    let (key_pem, chain_pem, key_name) = match (location, inline_key, inline_chain) {
        (None, None, None) => return Ok(None),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(settings.error(
                "ssl.keystore.location",
                "give either a keystore file or ssl.keystore.key with \
                 ssl.keystore.certificate.chain, not both",
            ))
        }
        (None, Some(key), Some(chain)) => {
            if kind != StoreType::Pem {
                return Err(settings.error(
                    "ssl.keystore.type",
                    "ssl.keystore.key and ssl.keystore.certificate.chain are PEM text",
                ));
            }
            (
                key.as_bytes().to_vec(),
                chain.as_bytes().to_vec(),
                "ssl.keystore.key",
            )
        }
        (None, Some(_), None) => {
            return Err(settings.error(
                "ssl.keystore.certificate.chain",
                "missing: ssl.keystore.key needs it",
            ))
        }
        (None, None, Some(_)) => {
            return Err(settings.error(
                "ssl.keystore.key",
                "missing: ssl.keystore.certificate.chain needs it",
            ))
        }
        (Some(path), None, None) => {
            let bytes = settings.read("ssl.keystore.location", path)?;
            if kind == StoreType::Pkcs12 {
                return pkcs12_identity(settings, &bytes).map(Some);
            }
            (bytes.clone(), bytes, "ssl.keystore.location")
        }
    };
    let key = match settings.get("ssl.key.password") {
        Some(password) => PKey::private_key_from_pem_passphrase(&key_pem, password.as_bytes()),
        None => PKey::private_key_from_pem(&key_pem),
    }
    .map_err(|e| {
        settings.error(
            key_name,
            format!("no usable private key (an encrypted key needs ssl.key.password): {e}"),
        )
    })?;
    let chain = X509::stack_from_pem(&chain_pem)
        .map_err(|e| settings.error(key_name, format!("no usable certificate: {e}")))?;
    Ok(Some(Identity { key, chain }))
}

fn pkcs12_identity(settings: &Settings, der: &[u8]) -> Result<Identity, TlsError> {
    let password = settings.get("ssl.keystore.password").unwrap_or("");
    let parsed = Pkcs12::from_der(der)
        .and_then(|p| p.parse2(password))
        .map_err(|e| {
            settings.error(
                "ssl.keystore.location",
                format!("cannot open the PKCS12 store (is ssl.keystore.password right?): {e}"),
            )
        })?;
    let (Some(key), Some(leaf)) = (parsed.pkey, parsed.cert) else {
        return Err(settings.error(
            "ssl.keystore.location",
            "the PKCS12 store holds no private key with its certificate",
        ));
    };
    let mut chain = vec![leaf];
    chain.extend(parsed.ca.into_iter().flatten());
    Ok(Identity { key, chain })
}

/// The CAs client certificates are checked against.
fn trusted(settings: &Settings) -> Result<Vec<X509>, TlsError> {
    let location = settings.get("ssl.truststore.location");
    if let Some(pem) = settings.get("ssl.truststore.certificates") {
        return X509::stack_from_pem(pem.as_bytes()).map_err(|e| {
            settings.error(
                "ssl.truststore.certificates",
                format!("no usable certificate: {e}"),
            )
        });
    }
    let Some(path) = location else {
        return Ok(Vec::new());
    };
    let bytes = settings.read("ssl.truststore.location", path)?;
    match settings.store_type("ssl.truststore.type", location)? {
        StoreType::Pem => X509::stack_from_pem(&bytes).map_err(|e| {
            settings.error(
                "ssl.truststore.location",
                format!("no usable certificate: {e}"),
            )
        }),
        StoreType::Pkcs12 => {
            let password = settings.get("ssl.truststore.password").unwrap_or("");
            let parsed = Pkcs12::from_der(&bytes)
                .and_then(|p| p.parse2(password))
                .map_err(|e| {
                    settings.error(
                        "ssl.truststore.location",
                        format!("cannot open the PKCS12 store: {e}"),
                    )
                })?;
            Ok(parsed
                .cert
                .into_iter()
                .chain(parsed.ca.into_iter().flatten())
                .collect())
        }
    }
}

/// The lowest TLS version in `ssl.enabled.protocols` that sluice can serve.
fn lowest_version(protocols: &str) -> Option<SslVersion> {
    let names: Vec<String> = protocols
        .split(',')
        .map(|p| p.trim().to_ascii_uppercase())
        .collect();
    if names.iter().any(|p| p == "TLSV1.2") {
        Some(SslVersion::TLS1_2)
    } else if names.iter().any(|p| p == "TLSV1.3") {
        Some(SslVersion::TLS1_3)
    } else {
        None
    }
}

/// An `https` listener for `axum::serve`: the connections whose handshake succeeded.
pub struct TlsListener {
    receiver: mpsc::Receiver<(SslStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = SslStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.receiver.recv().await {
            Some(connection) => connection,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: Arc<SslAcceptor>,
    sender: mpsc::Sender<(SslStream<TcpStream>, SocketAddr)>,
) {
    let refusals = Arc::new(LogLimiter::new(Duration::from_secs(60)));
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "REST listener cannot accept");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if sender.is_closed() {
            return;
        }
        let (acceptor, sender, refusals) = (acceptor.clone(), sender.clone(), refusals.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, stream)).await {
                Ok(Ok(tls)) => {
                    let _ = sender.send((tls, peer)).await;
                }
                Ok(Err(reason)) => {
                    if let Some(count) = refusals.admit(&reason) {
                        tracing::warn!(%peer, reason, count, "TLS handshake refused");
                    }
                }
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

async fn handshake(
    acceptor: &SslAcceptor,
    stream: TcpStream,
) -> Result<SslStream<TcpStream>, String> {
    let ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
    let mut tls = SslStream::new(ssl, stream).map_err(|e| e.to_string())?;
    Pin::new(&mut tls).accept().await.map_err(|e| {
        let verify = tls.ssl().verify_result();
        if verify == openssl::x509::X509VerifyResult::OK {
            e.to_string()
        } else {
            format!("client certificate: {}", verify.error_string())
        }
    })?;
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(lines: &str) -> WorkerConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.properties");
        std::fs::write(&path, format!("bootstrap.servers=localhost:9092\n{lines}")).unwrap();
        WorkerConfig::load(Some(&path), &BTreeMap::new(), &|_| None, &[]).expect("worker file")
    }

    #[test]
    fn no_keystore_means_no_tls() {
        assert!(RestTls::from_worker(&worker("")).unwrap().is_none());
    }

    #[test]
    fn the_prefixed_keys_hide_the_unprefixed_ones() {
        let w = worker(
            "ssl.keystore.location=/nonexistent/kafka.pem\n\
             listeners.https.ssl.client.auth=required\n",
        );
        let settings = Settings::from_worker(&w);
        assert_eq!(settings.prefix, PREFIX);
        assert!(settings.get("ssl.keystore.location").is_none());
        assert!(RestTls::from_worker(&w).unwrap().is_none());
        let w = worker("ssl.keystore.location=/nonexistent/kafka.pem\n");
        let error = RestTls::from_worker(&w).unwrap_err();
        assert_eq!(error.key, "ssl.keystore.location");
        assert!(error.reason.contains("/nonexistent/kafka.pem"), "{error}");
    }

    #[test]
    fn refusals_name_the_key() {
        for (lines, key, words) in [
            (
                "listeners.https.ssl.keystore.location=/x.jks\nlisteners.https.ssl.keystore.type=JKS\n",
                "listeners.https.ssl.keystore.type",
                "keytool",
            ),
            (
                "listeners.https.ssl.keystore.key=k\n",
                "listeners.https.ssl.keystore.certificate.chain",
                "missing",
            ),
            (
                "listeners.https.ssl.keystore.key=not a key\nlisteners.https.ssl.keystore.certificate.chain=x\n",
                "listeners.https.ssl.keystore.key",
                "private key",
            ),
        ] {
            let error = RestTls::from_worker(&worker(lines)).unwrap_err();
            assert_eq!(error.key, key, "{lines}: {error}");
            assert!(error.reason.contains(words), "{lines}: {error}");
        }
    }

    #[test]
    fn enabled_protocols_give_the_lowest_version() {
        assert_eq!(lowest_version("TLSv1.2,TLSv1.3"), Some(SslVersion::TLS1_2));
        assert_eq!(lowest_version("TLSv1.3"), Some(SslVersion::TLS1_3));
        assert_eq!(lowest_version("SSLv3"), None);
    }
}
