//! sluice's own routes beside Connect's: a connector's reports from its target —
//! `GET /connectors/{name}/sluice/status` (the sync status report), `.../sluice/conflicts`
//! (`?pending=true`: only those waiting for review) and `.../sluice/dead-letters`
//! (`?waiting=true`, `?stage=decode|transform|resolve|write`, `?limit=N`).

use super::error::ApiError;
use super::extract::{self, Name};
use super::App;
use crate::deadletter::store::Filter;
use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use serde_json::Value;

/// The stages a dead letter can come from.
const STAGES: &[&str] = &["decode", "transform", "resolve", "write"];

/// `GET /connectors/{name}/sluice/status`.
pub async fn status(State(app): State<App>, Name(name): Name) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.worker()?.sluice_status(&name).await?))
}

/// `GET /connectors/{name}/sluice/conflicts[?pending=true]`.
pub async fn conflicts(
    State(app): State<App>,
    Name(name): Name,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let pairs = extract::query_pairs(uri.query());
    let pending = extract::query_bool(&pairs, "pending", false)?;
    Ok(Json(Value::Array(
        app.worker()?.conflicts(&name, pending).await?,
    )))
}

/// The dead-letter filter of a query string.
pub fn dead_letter_filter(query: Option<&str>) -> Result<Filter, ApiError> {
    let pairs = extract::query_pairs(query);
    let stage = pairs
        .iter()
        .find(|(k, _)| k == "stage")
        .map(|(_, v)| v.to_ascii_lowercase());
    if let Some(stage) = stage.as_deref().filter(|s| !STAGES.contains(s)) {
        return Err(ApiError::bad_request(format!(
            "stage={stage}: expected one of {}",
            STAGES.join(", ")
        )));
    }
    let limit = match pairs.iter().find(|(k, _)| k == "limit") {
        Some((_, v)) => Some(v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::bad_request(format!("limit={v}: expected a number above 0"))
        })?),
        None => None,
    };
    Ok(Filter {
        waiting: extract::query_bool(&pairs, "waiting", false)?,
        stage,
        limit,
        ..Filter::default()
    })
}

/// `GET /connectors/{name}/sluice/dead-letters[?waiting=true&stage=..&limit=N]`.
pub async fn dead_letters(
    State(app): State<App>,
    Name(name): Name,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let filter = dead_letter_filter(uri.query())?;
    Ok(Json(Value::Array(
        app.worker()?.dead_letters(&name, filter).await?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_queries() {
        let f = dead_letter_filter(Some("waiting=TRUE&stage=Decode&limit=5")).expect("filter");
        assert!(f.waiting);
        assert_eq!((f.stage.as_deref(), f.limit), (Some("decode"), Some(5)));
        let f = dead_letter_filter(None).expect("filter");
        assert!(!f.waiting && f.stage.is_none() && f.limit.is_none());
        for bad in ["stage=sink", "limit=0", "limit=x", "waiting=maybe"] {
            assert!(dead_letter_filter(Some(bad)).is_err(), "{bad}");
        }
    }
}
