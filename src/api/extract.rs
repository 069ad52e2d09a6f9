//! What a request carries, read the way Connect (Jersey and Jackson) reads it, every refusal
//! an [`ApiError`] with Connect's body instead of axum's plain-text rejections.

use super::error::ApiError;
use crate::worker::Config;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;

/// The largest request body accepted (413 beyond): a connector config is a few KiB, so 1 MiB
/// leaves room for a large offsets PATCH and still bounds what one request can make us hold.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON request body: `Content-Type: application/json` (any parameters) or 415, at most
/// [`BODY_LIMIT`] bytes or 413, parseable as `T` or 400.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(content_type) {
            return Err(ApiError::not_json());
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("The request body is larger than {BODY_LIMIT} bytes"),
                    ),
                    status => ApiError::new(status, rejection.body_text()),
                })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("The request body is not valid: {e}")))
    }
}

/// Whether a `Content-Type` declares JSON: `application/json`, any case, any parameters.
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// A flat config map as Jackson reads `Map<String, String>`: strings as they are, numbers and
/// booleans as their JSON text (`5` -> `"5"`, `1.50` -> `"1.50"`, `true` -> `"true"`), `null`
/// as `None`; a nested object or array is refused (400), naming the key.
pub fn flat_map(value: Value) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let Value::Object(entries) = value else {
        return Err(ApiError::bad_request(
            "A connector config must be a JSON object of keys to values",
        ));
    };
    entries
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Null => None,
                Value::Array(_) | Value::Object(_) => {
                    return Err(ApiError::bad_request(format!(
                        "Config {key}: a value must be a string, a number or a boolean, \
                         not an object or an array"
                    )))
                }
            };
            Ok((key, text))
        })
        .collect()
}

/// A flat config map where every key has a value (`null` refused: leave the key out).
pub fn config(value: Value) -> Result<Config, ApiError> {
    flat_map(value)?
        .into_iter()
        .map(|(key, value)| match value {
            Some(v) => Ok((key, v)),
            None => Err(ApiError::bad_request(format!(
                "Config {key}: null is not a value; leave the key out instead"
            ))),
        })
        .collect()
}

/// The decoded `key=value` pairs of a query string, in order.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A boolean query parameter: the first occurrence counts (as in Jersey), `true` / `false` in
/// any case; absent or empty means `default`. Connect reads anything but `true` as false;
/// sluice refuses it (400) rather than guess what `onlyFailed=1` meant.
pub fn query_bool(pairs: &[(String, String)], key: &str, default: bool) -> Result<bool, ApiError> {
    match pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "Query parameter {key}={v}: expected true or false"
        ))),
    }
}

/// The one parameter of a path, percent-decoded: the `{name}` of `/connectors/{name}/...`
/// or the `{plugin}` of `/connector-plugins/{plugin}/...`.
#[derive(Debug)]
pub struct Name(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Name {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        Ok(Name(name))
    }
}

/// The `{name}` and `{task}` of `/connectors/{name}/tasks/{task}/...`. A task that is not a
/// number is a path no resource has: 404, as Jersey answers when an `Integer` path parameter
/// does not convert.
#[derive(Debug)]
pub struct TaskPath(pub String, pub u32);

impl<S: Send + Sync> FromRequestParts<S> for TaskPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((name, task)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        let task = task.parse().map_err(|_| ApiError::no_such_path())?;
        Ok(TaskPath(name, task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(None));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/x-www-form-urlencoded")));
        assert!(!is_json(Some("application/jsonx")));
    }

    #[test]
    fn scalars_become_strings_like_jackson() {
        // Parsed from text, as a request body is: numbers keep their JSON spelling.
        let body = r#"{"a": "x", "b": 5, "c": 1.50, "d": true, "e": null, "f": -0}"#;
        let map = flat_map(serde_json::from_str(body).expect("json")).expect("flat");
        let get = |k: &str| map.get(k).cloned().flatten();
        assert_eq!(get("a").as_deref(), Some("x"));
        assert_eq!(get("b").as_deref(), Some("5"));
        assert_eq!(get("c").as_deref(), Some("1.50"));
        assert_eq!(get("d").as_deref(), Some("true"));
        assert_eq!(map.get("e"), Some(&None));
        assert_eq!(get("f").as_deref(), Some("-0"));
    }

    #[test]
    fn nested_values_and_nulls_are_refused() {
        for body in [json!({"k": {"x": 1}}), json!({"k": [1]})] {
            let error = flat_map(body).expect_err("nested");
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(error.message.contains("Config k"), "{}", error.message);
        }
        assert!(flat_map(json!(["a"])).is_err());
        assert!(flat_map(json!("a")).is_err());
        assert!(config(json!({"k": null})).is_err());
        assert_eq!(
            config(json!({"k": 1})).expect("config"),
            Config::from([("k".into(), "1".into())])
        );
    }

    #[test]
    fn query_booleans() {
        let pairs = query_pairs(Some("a=TRUE&b=False&c=&d=yes&a=false&e=%74rue"));
        assert_eq!(query_bool(&pairs, "a", false), Ok(true));
        assert_eq!(query_bool(&pairs, "b", true), Ok(false));
        assert_eq!(query_bool(&pairs, "c", true), Ok(true));
        assert_eq!(query_bool(&pairs, "missing", false), Ok(false));
        assert_eq!(query_bool(&pairs, "e", false), Ok(true));
        let error = query_bool(&pairs, "d", false).expect_err("yes");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(query_pairs(None).is_empty());
    }
}
