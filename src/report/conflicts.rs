//! The conflict reports of a connector (the seed spec's conflict report shape), newest first,
//! from `sluice_conflicts` in its target.

use crate::db::Db;
use crate::db::Param;
use serde_json::{json, Value as Json};

fn iso(ms: Option<i64>) -> Json {
    super::iso_ms(ms)
}

/// A stored JSON text as JSON (`null` when absent or not JSON).
fn parsed(cell: Option<&str>) -> Json {
    cell.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Json::Null)
}

/// The conflict reports of a group, from `sluice_conflicts`.
pub async fn reports(
    db: &Db,
    group: &str,
    id: Option<i64>,
    pending: bool,
) -> Result<Vec<Json>, sqlx::Error> {
    let rows = db
        .query(
            "SELECT CAST(conflict_id AS TEXT) AS conflict_id, table_name, record_id, conflict_type, \
             CAST(detected_at_ms AS TEXT) AS detected_at_ms, conflicting_fields, current_source, CAST(current_ts_ms AS TEXT) AS current_ts_ms, \
             current_values, incoming_source, CAST(incoming_ts_ms AS TEXT) AS incoming_ts_ms, incoming_values, incoming_op, \
             topic, CAST(kafka_partition AS TEXT) AS kafka_partition, CAST(kafka_offset AS TEXT) AS kafka_offset, strategy, status, \
             resolved_values, CAST(resolved_at_ms AS TEXT) AS resolved_at_ms, resolved_by FROM sluice_conflicts \
             WHERE group_id = $1 AND ($2 = '' OR CAST(conflict_id AS TEXT) = $2) \
             AND ($3 = '' OR status = 'pending') ORDER BY conflict_id DESC",
            &[
                Param::Text(Some(group.to_string())),
                Param::Text(Some(id.map(|i| i.to_string()).unwrap_or_default())),
                Param::Text(Some(if pending { "y" } else { "" }.to_string())),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let t = |column: &str| r.text(column);
            let num = |column: &str| r.int(column);
            let pending = t("status") == Some("pending");
            json!({
                "conflict_id": t("conflict_id"),
                "record_id": t("record_id"),
                "conflict_type": t("conflict_type"),
                "detected_at": iso(num("detected_at_ms")),
                "conflicting_fields": parsed(t("conflicting_fields")),
                "sources": [
                    {"source": t("current_source"), "timestamp": iso(num("current_ts_ms")), "values": parsed(t("current_values")), "role": "current"},
                    {"source": t("incoming_source"), "timestamp": iso(num("incoming_ts_ms")), "values": parsed(t("incoming_values")), "role": "incoming", "op": t("incoming_op")},
                ],
                "resolution": {
                    "strategy": t("strategy"),
                    "resolved_values": parsed(t("resolved_values")),
                    "resolved_at": iso(num("resolved_at_ms")),
                    "resolved_by": t("resolved_by"),
                },
                "status": t("status"),
                "pending": pending,
                "table": t("table_name"),
                "topic": t("topic"),
                "partition": num("kafka_partition"),
                "offset": num("kafka_offset"),
            })
        })
        .collect())
}
