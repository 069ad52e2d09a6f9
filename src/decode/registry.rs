//! A Confluent-compatible Schema Registry client for the AvroConverter: writer schemas fetched
//! by id, parsed once (Avro and the Connect schema it means) and cached for the process.
//!
//! Fetching is async and separate from decoding ([`Registry::fetch`] before
//! [`Registry::parse`]), so decoding stays synchronous on the source thread. A registry that
//! cannot be reached (connection refused, timeouts, HTTP 5xx) is retried with exponential
//! backoff and jitter for `errors.retry.timeout`; an id the registry does not have, or a schema
//! that does not parse, is remembered as that record's reason, so its records go to the
//! dead-letter path; refused credentials (HTTP 401/403) stop the connector.

use super::avro::{self, split_wire};
use super::converter::Parsed;
use super::object::Payload;
use super::DecodeError;
use backon::{BackoffBuilder, ExponentialBuilder};
use schema_registry_converter::async_impl::schema_registry::{get_schema_by_id, SrSettings};
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::SchemaType;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Class name of Confluent's AvroConverter, as connector configs and dead letters name it.
pub const AVRO_CONVERTER: &str = "io.confluent.connect.avro.AvroConverter";

/// Cached lookups kept before failed ones are forgotten (a stream of random ids must not grow
/// the cache without bound).
const CACHE_LIMIT: usize = 10_000;

/// How a registry is reached and how long an outage is waited out.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    /// Base URLs (`schema.registry.url`, comma-separated), without credentials.
    pub urls: Vec<String>,
    /// Basic auth user and password (`basic.auth.user.info`, or user info in the URL).
    pub basic_auth: Option<(String, String)>,
    /// `errors.retry.timeout`: how long an unreachable registry is retried (`None`: forever).
    pub retry_timeout: Option<Duration>,
    /// `errors.retry.delay.max.ms`: the longest wait between two attempts.
    pub retry_delay_max: Duration,
}

impl fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("urls", &self.urls)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// A parsed writer schema.
#[derive(Debug)]
pub(crate) struct WriterSchema {
    /// For reading the Avro body.
    avro: apache_avro::Schema,
    /// The Connect schema it means, as JsonConverter would have written it.
    connect: Arc<Json>,
}

/// A registry client with its cache; shared by the key and value converters of a connector
/// when they name the same registry.
pub struct Registry {
    settings: RegistrySettings,
    client: SrSettings,
    schemas: Mutex<HashMap<u32, Result<Arc<WriterSchema>, String>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why a fetch did not leave an answer in the cache.
#[derive(Debug)]
enum FetchError {
    /// The registry could not be asked: retry.
    Transient(String),
    /// Asking again cannot help and no record is to blame (refused credentials).
    Fatal(String),
}

impl Registry {
    /// A client for `settings`; an error when a URL cannot be used.
    pub fn new(settings: RegistrySettings) -> Result<Registry, String> {
        let Some((first, rest)) = settings.urls.split_first() else {
            return Err("no schema registry URL".into());
        };
        let mut builder = SrSettings::new_builder(first.clone());
        for url in rest {
            builder.add_url(url.clone());
        }
        if let Some((user, password)) = &settings.basic_auth {
            builder.set_basic_authorization(user, Some(password));
        }
        builder.set_timeout(Duration::from_secs(30));
        let client = builder
            .build()
            .map_err(|e| format!("schema registry client: {}", e.error))?;
        Ok(Registry {
            settings,
            client,
            schemas: Mutex::new(HashMap::new()),
        })
    }

    /// The registry's settings.
    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    fn cached(&self, id: u32) -> Option<Result<Arc<WriterSchema>, String>> {
        self.schemas.lock().ok()?.get(&id).cloned()
    }

    fn remember(&self, id: u32, answer: Result<Arc<WriterSchema>, String>) {
        if let Ok(mut cache) = self.schemas.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.retain(|_, v| v.is_ok());
            }
            cache.insert(id, answer);
        }
    }

    /// Puts a registered schema's text into the cache, as a fetch of `id` would (for tests
    /// that read a registry dump instead of a registry).
    #[cfg(test)]
    pub(crate) fn preload(&self, id: u32, text: &str) {
        self.remember(id, parse_schema(text).map(Arc::new));
    }

    /// Whether `bytes` need a schema this client has not looked up yet.
    pub(crate) fn needs(&self, bytes: &[u8]) -> Option<u32> {
        let (id, _) = split_wire(bytes).ok()?;
        self.cached(id).is_none().then_some(id)
    }

    /// Looks schema `id` up, waiting out an unreachable registry with backoff. `Ok` when the
    /// cache now holds the answer (a schema, or why the id is unusable); `Err` when the
    /// connector must stop: refused credentials, `errors.retry.timeout` passed, or `stop` set.
    pub async fn fetch(&self, id: u32, stop: &AtomicBool) -> Result<(), String> {
        let mut delays = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(self.settings.retry_delay_max)
            .without_max_times()
            .build();
        let started = Instant::now();
        loop {
            let reason = match self.fetch_once(id).await {
                Ok(()) => return Ok(()),
                Err(FetchError::Fatal(reason)) => return Err(reason),
                Err(FetchError::Transient(reason)) => reason,
            };
            if stop.load(Ordering::SeqCst) {
                return Err(format!(
                    "stopped while waiting for the schema registry: {reason}"
                ));
            }
            if let Some(timeout) = self.settings.retry_timeout {
                if started.elapsed() >= timeout {
                    return Err(format!(
                        "schema registry still unavailable after errors.retry.timeout ({} ms): {reason}",
                        timeout.as_millis()
                    ));
                }
            }
            let delay = delays.next().unwrap_or(self.settings.retry_delay_max);
            tracing::warn!(schema_id = id, error = %reason, delay_ms = delay.as_millis() as u64, "schema registry unavailable; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn fetch_once(&self, id: u32) -> Result<(), FetchError> {
        let registered = match get_schema_by_id(id, &self.client).await {
            Ok(registered) => registered,
            Err(e) => {
                let reason = describe(&e);
                return match classify(&e) {
                    Class::Transient => Err(FetchError::Transient(reason)),
                    Class::Fatal => Err(FetchError::Fatal(format!(
                        "schema registry refused the credentials: {reason}"
                    ))),
                    Class::Permanent => {
                        self.remember(id, Err(reason));
                        Ok(())
                    }
                };
            }
        };
        let answer = if registered.schema_type != SchemaType::Avro {
            Err(format!(
                "is a {:?} schema, not Avro",
                registered.schema_type
            ))
        } else if !registered.references.is_empty() {
            Err("has schema references, which sluice does not resolve".into())
        } else {
            parse_schema(&registered.schema).map(Arc::new)
        };
        self.remember(id, answer);
        Ok(())
    }

    /// Decodes wire-format bytes whose schema has been fetched into the Connect schema and
    /// payload JsonConverter would have given.
    pub(crate) fn parse(
        &self,
        bytes: &[u8],
        part: &'static str,
    ) -> Result<Parsed<'static>, DecodeError> {
        let error = |reason: String| DecodeError::Avro { part, reason };
        let (id, mut body) = split_wire(bytes).map_err(error)?;
        let schema = match self.cached(id) {
            Some(Ok(schema)) => schema,
            Some(Err(reason)) => return Err(error(format!("schema id {id} {reason}"))),
            None => return Err(error(format!("schema id {id} was not fetched"))),
        };
        let value = apache_avro::reader::datum::GenericDatumReader::builder(&schema.avro)
            .build()
            .and_then(|reader| reader.read_value(&mut body))
            .map_err(|e| error(format!("schema id {id}: corrupt Avro payload: {e}")))?;
        if !body.is_empty() {
            return Err(error(format!(
                "schema id {id}: {} bytes left after the Avro payload (corrupt, or another schema)",
                body.len()
            )));
        }
        let payload = avro::payload(&value).map_err(error)?;
        Ok(Parsed::Wrapped {
            schema: schema.connect.clone(),
            payload: Payload::Json(payload),
        })
    }
}

/// Parses a registered schema's text.
fn parse_schema(text: &str) -> Result<WriterSchema, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("is not JSON: {e}"))?;
    let avro = apache_avro::Schema::parse(&json)
        .map_err(|e| format!("is not a valid Avro schema: {e}"))?;
    let connect = avro::connect_schema(&json).map_err(|e| format!("has no Connect form: {e}"))?;
    Ok(WriterSchema {
        avro,
        connect: Arc::new(connect),
    })
}

enum Class {
    Transient,
    Permanent,
    Fatal,
}

/// The HTTP status in the client's error, if it got an answer.
fn status(e: &SRCError) -> Option<u16> {
    let (_, rest) = e.error.split_once("status ")?;
    rest.split_whitespace().next()?.parse().ok()
}

fn classify(e: &SRCError) -> Class {
    match status(e) {
        Some(401 | 403) => Class::Fatal,
        Some(408 | 429) => Class::Transient,
        Some(s) if s >= 500 => Class::Transient,
        Some(_) => Class::Permanent,
        None if e.retriable => Class::Transient,
        None => Class::Permanent,
    }
}

/// The client's error in a sentence (`not found in the schema registry (...)` style).
fn describe(e: &SRCError) -> String {
    match (status(e), &e.cause) {
        (Some(404), cause) => format!(
            "is not in the schema registry (HTTP 404{})",
            cause
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ),
        (_, Some(cause)) => format!("{}: {cause}", e.error),
        (_, None) => e.error.clone(),
    }
}

/// Splits user info out of a registry URL (`http://user:pass@host:8081`), so credentials are
/// sent as basic auth and never appear in a URL that a log line or error could print.
pub fn strip_user_info(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_string(), None);
    };
    let (user, password) = rest[..at].split_once(':').unwrap_or((&rest[..at], ""));
    (
        format!("{scheme}://{}", &rest[at + 1..]),
        Some((user.to_string(), password.to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_leaves_the_url() {
        assert_eq!(
            strip_user_info("http://bob:s3cr@t@reg:8081/x"),
            (
                "http://reg:8081/x".to_string(),
                Some(("bob".to_string(), "s3cr@t".to_string()))
            )
        );
        assert_eq!(
            strip_user_info("http://reg:8081"),
            ("http://reg:8081".to_string(), None)
        );
        assert_eq!(
            strip_user_info("https://reg/a@b"),
            ("https://reg/a@b".to_string(), None)
        );
    }

    #[test]
    fn registry_errors_are_classified() {
        let http = |code: &str| {
            SRCError::new(
                &format!("HTTP request to schema registry failed with status {code}"),
                None,
                false,
            )
        };
        assert!(matches!(classify(&http("404 Not Found")), Class::Permanent));
        assert!(matches!(classify(&http("401 Unauthorized")), Class::Fatal));
        assert!(matches!(classify(&http("403 Forbidden")), Class::Fatal));
        assert!(matches!(
            classify(&http("500 Internal Server Error")),
            Class::Transient
        ));
        assert!(matches!(
            classify(&http("503 Service Unavailable")),
            Class::Transient
        ));
        let refused = SRCError::new("http call to schema registry failed", None, true);
        assert!(matches!(classify(&refused), Class::Transient));
        let unparsable = SRCError::new("could not parse to RawRegisteredSchema", None, false);
        assert!(matches!(classify(&unparsable), Class::Permanent));
        assert!(describe(&http("404 Not Found")).contains("not in the schema registry"));
    }

    #[test]
    fn schemas_parse_or_say_why() {
        assert!(parse_schema(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#
        )
        .is_ok());
        assert!(parse_schema("{").unwrap_err().contains("not JSON"));
        assert!(parse_schema(r#"{"type":"record"}"#)
            .unwrap_err()
            .contains("Avro"));
    }
}
