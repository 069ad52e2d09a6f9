//! Who may call the REST API: HTTP basic authentication against a credentials file (the
//! `user=password` lines of Connect's `PropertyFileLoginModule`, which its
//! `BasicAuthSecurityRestExtension` reads), and/or a bearer token. With neither configured the
//! API is open, as Connect's is — and bound to loopback by default. `/health`, `/ready` and
//! `/metrics` stay open for probes and scrapes. A refusal is 401 with Connect's error body and
//! a `WWW-Authenticate` challenge; no credential is ever logged or echoed.

use super::error::ApiError;
use crate::config::{Secret, WorkerConfig};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The extension class a Connect worker file names for basic authentication.
const BASIC_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";

/// The accepted credentials.
#[derive(Debug, Default)]
pub struct Auth {
    users: BTreeMap<String, Secret>,
    bearer: Option<Secret>,
}

impl Auth {
    /// From the worker settings: `sluice.rest.basic.auth.file` and `sluice.rest.bearer.token`
    /// (`None`: the API is open). `rest.extension.classes` naming Connect's basic auth
    /// extension without a credentials file is an error, not an open API.
    pub fn from_worker(worker: &WorkerConfig) -> Result<Option<Arc<Auth>>, String> {
        let wants_basic = worker
            .distributed
            .get("rest.extension.classes")
            .is_some_and(|c| c.split(',').any(|c| c.trim() == BASIC_EXTENSION));
        let mut auth = Auth {
            bearer: worker.rest_bearer_token.clone(),
            ..Auth::default()
        };
        match &worker.rest_basic_auth_file {
            Some(path) => {
                let users = crate::config::properties::read_properties(path)
                    .map_err(|e| format!("sluice.rest.basic.auth.file: {e}"))?;
                if users.is_empty() {
                    return Err(format!(
                        "sluice.rest.basic.auth.file: {} holds no user=password line",
                        path.display()
                    ));
                }
                auth.users = users
                    .into_iter()
                    .map(|(u, p)| (u, Secret::new(p)))
                    .collect();
            }
            None if wants_basic => {
                return Err(format!(
                "rest.extension.classes names {BASIC_EXTENSION}: set sluice.rest.basic.auth.file \
                     to its credentials file (user=password lines)"
            ))
            }
            None => {}
        }
        Ok((!auth.users.is_empty() || auth.bearer.is_some()).then(|| Arc::new(auth)))
    }

    /// Whether an `Authorization` header value is accepted.
    fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization.map(str::trim) else {
            return false;
        };
        if let (Some(token), Some(bearer)) = (value.strip_prefix("Bearer "), &self.bearer) {
            return same(token.trim().as_bytes(), bearer.expose().as_bytes());
        }
        let Some(encoded) = value.strip_prefix("Basic ") else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        self.users
            .get(user)
            .is_some_and(|p| same(password.as_bytes(), p.expose().as_bytes()))
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware: open paths pass, the rest need accepted credentials.
pub(super) async fn check(
    State(auth): State<Option<Arc<Auth>>>,
    request: Request,
    next: Next,
) -> Response {
    let open = matches!(request.uri().path(), "/health" | "/ready" | "/metrics");
    let Some(auth) = auth.filter(|_| !open) else {
        return next.run(request).await;
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth.admits(header) {
        return next.run(request).await;
    }
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "User cannot access the resource.").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sluice\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn basic_and_bearer_credentials() {
        let auth = Auth {
            users: BTreeMap::from([("ops".to_string(), Secret::new("s3cret"))]),
            bearer: Some(Secret::new("tok-123")),
        };
        assert!(auth.admits(Some(&basic("ops", "s3cret"))));
        assert!(!auth.admits(Some(&basic("ops", "s3cre"))));
        assert!(!auth.admits(Some(&basic("other", "s3cret"))));
        assert!(auth.admits(Some("Bearer tok-123")));
        assert!(!auth.admits(Some("Bearer tok-124")));
        assert!(!auth.admits(Some("Basic !!!")));
        assert!(!auth.admits(None));
        let basic_only = Auth {
            bearer: None,
            ..auth
        };
        assert!(!basic_only.admits(Some("Bearer tok-123")));
    }

    #[test]
    fn the_extension_without_a_file_is_an_error() {
        let mut worker = WorkerConfig::default();
        assert!(Auth::from_worker(&worker).expect("open").is_none());
        worker
            .distributed
            .insert("rest.extension.classes".into(), BASIC_EXTENSION.into());
        let error = Auth::from_worker(&worker).expect_err("refused");
        assert!(error.contains("sluice.rest.basic.auth.file"), "{error}");
    }
}
