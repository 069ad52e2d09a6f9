//! Table-driven tests of every transform, predicate and config problem, with the events and
//! chains they share.

mod reshape;
mod types;
mod unwrap;

use super::timestamp::java_format;
use super::*;
use crate::event::{ColumnType, Coordinates, Field, Op, SourcePosition, TxInfo, Value};
use chrono::{NaiveDate, NaiveDateTime, Timelike as _};
use std::collections::BTreeMap;

fn row(fields: &[(&str, Value)]) -> Row {
    Row {
        fields: fields
            .iter()
            .map(|(name, value)| Field {
                name: name.to_string(),
                value: value.clone(),
                column_type: None,
                optional: true,
                default: None,
            })
            .collect(),
    }
}

fn customer(id: i64, email: &str) -> Row {
    row(&[
        ("id", Value::Int(id)),
        ("email", Value::Text(email.into())),
        ("score", Value::Decimal("12.50".into())),
    ])
}

fn event(op: Op, before: Option<Row>, after: Option<Row>) -> ChangeEvent {
    ChangeEvent {
        coordinates: Coordinates {
            topic: "dbserver1.inventory.customers".into(),
            partition: 2,
            offset: 41,
        },
        op,
        key: row(&[("id", Value::Int(1001))]),
        before,
        after,
        source: SourcePosition {
            lsn: Some(123),
            ts_ms: Some(1_700_000_000_000),
            fields: vec![
                ("table".into(), "customers".into()),
                ("lsn".into(), "123".into()),
                ("ts_ms".into(), "1700000000000".into()),
            ],
            ..SourcePosition::default()
        },
        tx: Some(TxInfo {
            id: "571:123".into(),
            total_order: 3,
        }),
        kafka_timestamp_ms: Some(1_700_000_000_500),
        old_key: None,
        rekeyed: false,
        ts_ms: Some(1_700_000_001_000),
        route: None,
    }
}

fn create() -> ChangeEvent {
    event(Op::Create, None, Some(customer(1001, "a@example.com")))
}

fn delete() -> ChangeEvent {
    event(Op::Delete, Some(customer(1001, "a@example.com")), None)
}

/// The chain of a config given as `transforms.*` / `predicates.*` pairs, or its problems.
fn chain(pairs: &[(&str, &str)]) -> Result<Chain, Vec<String>> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (mut problems, mut no_effect) = (Vec::new(), Vec::new());
    let chain = parse_chain(&map, &mut problems, &mut no_effect);
    if problems.is_empty() {
        Ok(chain)
    } else {
        Err(problems)
    }
}

fn chain_of(pairs: &[(&str, &str)]) -> Chain {
    chain(pairs).unwrap_or_else(|p| panic!("{p:?}"))
}

fn one(class: &str, options: &[(&str, &str)]) -> Chain {
    let mut pairs = vec![("transforms", "t"), ("transforms.t.type", class)];
    let keys: Vec<(String, &str)> = options
        .iter()
        .map(|(k, v)| (format!("transforms.t.{k}"), *v))
        .collect();
    pairs.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
    chain(&pairs).unwrap_or_else(|p| panic!("{class}: {p:?}"))
}

fn run(chain: &Chain, event: ChangeEvent) -> Option<ChangeEvent> {
    chain.apply(event, &[]).expect("transform")
}

fn value<'a>(row: &'a Row, name: &str) -> Option<&'a Value> {
    row.get(name).map(|f| &f.value)
}

fn names(row: &Row) -> Vec<&str> {
    row.fields.iter().map(|f| f.name.as_str()).collect()
}

const C: &str = "org.apache.kafka.connect.transforms.";
