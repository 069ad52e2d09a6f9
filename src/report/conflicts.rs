//! The conflict reports of a connector (the seed spec's conflict report shape), newest first,
//! from `sluice_conflicts` in its target.

use crate::db::Db;
use crate::db::Param;
use serde_json::{json, Value as Json};

fn iso(ms: Option<i64>) -> Json {
    super::iso_ms(ms)
}

/// A stored JSON text as JSON (`null` when absent or not JSON).
fn parsed(cell: &Option<String>) -> Json {
    cell.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
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
            "SELECT CAST(conflict_id AS TEXT), table_name, record_id, conflict_type, \
             CAST(detected_at_ms AS TEXT), conflicting_fields, current_source, CAST(current_ts_ms AS TEXT), \
             current_values, incoming_source, CAST(incoming_ts_ms AS TEXT), incoming_values, incoming_op, \
             topic, CAST(kafka_partition AS TEXT), CAST(kafka_offset AS TEXT), strategy, status, \
             resolved_values, CAST(resolved_at_ms AS TEXT), resolved_by FROM sluice_conflicts \
             WHERE group_id = $1 AND ($2 = '' OR CAST(conflict_id AS TEXT) = $2) \
             AND ($3 = '' OR status = 'pending') ORDER BY conflict_id DESC",
            &[
                Param::Text(Some(group.to_string())),
                Param::Text(Some(id.map(|i| i.to_string()).unwrap_or_default())),
                Param::Text(Some(if pending { "y" } else { "" }.to_string())),
            ],
        )
        .await?;
    let num = |cell: &Option<String>| cell.as_deref().and_then(|s| s.parse::<i64>().ok());
    Ok(rows
        .iter()
        .map(|r| {
            let pending = r[17].as_deref() == Some("pending");
            json!({
                "conflict_id": r[0],
                "record_id": r[2],
                "conflict_type": r[3],
                "detected_at": iso(num(&r[4])),
                "conflicting_fields": parsed(&r[5]),
                "sources": [
                    {"source": r[6], "timestamp": iso(num(&r[7])), "values": parsed(&r[8]), "role": "current"},
                    {"source": r[9], "timestamp": iso(num(&r[10])), "values": parsed(&r[11]), "role": "incoming", "op": r[12]},
                ],
                "resolution": {
                    "strategy": r[16],
                    "resolved_values": parsed(&r[18]),
                    "resolved_at": iso(num(&r[19])),
                    "resolved_by": r[20],
                },
                "status": r[17],
                "pending": pending,
                "table": r[1],
                "topic": r[13],
                "partition": num(&r[14]),
                "offset": num(&r[15]),
            })
        })
        .collect())
}
