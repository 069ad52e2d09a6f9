//! `/connector-plugins` (Apache Kafka's `ConnectorPluginsResource`): the plugins sluice
//! accepts, and validating a config against one.

use super::error::ApiError;
use super::extract::{self, JsonBody, Name};
use super::App;
use crate::worker::{Config, Worker};
use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use serde_json::Value;

/// `GET /connector-plugins[?connectorsOnly=false]`: connectors only unless asked.
pub async fn list(uri: Uri) -> Result<Json<Value>, ApiError> {
    let pairs = extract::query_pairs(uri.query());
    let connectors_only = extract::query_bool(&pairs, "connectorsOnly", true)?;
    Ok(Json(serde_json::json!(Worker::plugins(connectors_only))))
}

/// `GET /connector-plugins/{plugin}/config`: the keys a connector of the plugin takes.
pub async fn config(Name(plugin): Name) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::json!(Worker::plugin_config(&plugin)?)))
}

/// Connect's alias rule: `FooConnector` and `Foo` name the same plugin.
fn alias(name: &str) -> &str {
    match name.strip_suffix("Connector") {
        Some(alias) if !alias.is_empty() => alias,
        _ => name,
    }
}

/// Connect's check: a `connector.class` in the config must name the plugin of the path (the
/// full class name ends with the path's simple name or alias).
pub fn same_plugin(plugin: &str, config: &Config) -> Result<(), ApiError> {
    match config.get("connector.class") {
        Some(class) if !alias(class).ends_with(alias(plugin)) => Err(ApiError::bad_request(
            format!("Included connector type {class} does not match request type {plugin}"),
        )),
        _ => Ok(()),
    }
}

/// `PUT /connector-plugins/{plugin}/config/validate`: 200 with `ConfigInfos`.
pub async fn validate(
    State(app): State<App>,
    Name(plugin): Name,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let config = extract::config(body)?;
    same_plugin(&plugin, &config)?;
    Ok(Json(serde_json::json!(app
        .worker()?
        .validate(&plugin, &config)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_class(class: &str) -> Config {
        Config::from([("connector.class".into(), class.into())])
    }

    #[test]
    fn plugin_names_match_like_connects() {
        let full = "io.debezium.connector.jdbc.JdbcSinkConnector";
        assert!(same_plugin("JdbcSinkConnector", &with_class(full)).is_ok());
        assert!(same_plugin("JdbcSink", &with_class(full)).is_ok());
        assert!(same_plugin(full, &with_class(full)).is_ok());
        assert!(same_plugin("JdbcSink", &Config::new()).is_ok());
        let error = same_plugin("FileStreamSink", &with_class(full)).expect_err("other");
        assert_eq!(error.status.as_u16(), 400);
    }
}
