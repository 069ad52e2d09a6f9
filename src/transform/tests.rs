//! Table-driven tests of every transform, predicate and config problem.

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

#[test]
fn config_problems_name_the_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("transforms", "x"), ("transforms.x.type", "com.acme.Magic")],
            "transforms.x.type: unknown transform type com.acme.Magic",
        ),
        (&[("transforms", "x")], "transforms.x.type: required"),
        (
            &[("transforms", "r"), ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"), ("transforms.r.regex", "a"), ("transforms.r.replacement", "b"), ("transforms.r.bogus", "1")],
            "transforms.r.bogus: org.apache.kafka.connect.transforms.RegexRouter has no option bogus",
        ),
        (
            &[("transforms", "r"), ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"), ("transforms.r.regex", "a")],
            "transforms.r.replacement: required",
        ),
        (
            &[("transforms", "r"), ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"), ("transforms.r.regex", "(a"), ("transforms.r.replacement", "b")],
            "transforms.r.regex: invalid pattern",
        ),
        (
            &[("transforms", "m"), ("transforms.m.type", "org.apache.kafka.connect.transforms.MaskField")],
            "transforms.m.type: use org.apache.kafka.connect.transforms.MaskField$Key or org.apache.kafka.connect.transforms.MaskField$Value",
        ),
        (
            &[("transforms", "h"), ("transforms.h.type", "org.apache.kafka.connect.transforms.HoistField$Value"), ("transforms.h.field", "row")],
            "transforms.h.type: org.apache.kafka.connect.transforms.HoistField$Value wraps the row",
        ),
        (
            &[("transforms", "e"), ("transforms.e.type", "org.apache.kafka.connect.transforms.ExtractField$Value"), ("transforms.e.field", "before")],
            "transforms.e.type: only ExtractField$Value with field=after",
        ),
        (
            &[("transforms", "c"), ("transforms.c.type", "org.apache.kafka.connect.transforms.Cast$Value"), ("transforms.c.spec", "score:decimal")],
            "transforms.c.spec: 'score:decimal' is not field:type",
        ),
        (
            &[("transforms", "ts"), ("transforms.ts.type", "org.apache.kafka.connect.transforms.TimestampConverter$Value"), ("transforms.ts.field", "at"), ("transforms.ts.target.type", "string"), ("transforms.ts.format", "yyyy-MM-dd QQ")],
            "transforms.ts.format: pattern letter QQ is not supported",
        ),
        (
            &[("transforms", "ts"), ("transforms.ts.type", "org.apache.kafka.connect.transforms.TimestampConverter$Value"), ("transforms.ts.field", "at"), ("transforms.ts.target.type", "string")],
            "transforms.ts.format: required when target.type=string",
        ),
        (
            &[("transforms", "f"), ("transforms.f.type", "org.apache.kafka.connect.transforms.Filter"), ("transforms.f.predicate", "nope")],
            "transforms.f.predicate: predicate nope is not declared in predicates",
        ),
        (
            &[("transforms", "f"), ("transforms.f.type", "org.apache.kafka.connect.transforms.Filter"), ("transforms.f.negate", "true")],
            "transforms.f.negate: needs a predicate",
        ),
        (
            &[("transforms", "f"), ("transforms.f.type", "org.apache.kafka.connect.transforms.Filter"), ("transforms.g.type", "x")],
            "transforms.g.type: g is not listed in transforms",
        ),
        (
            &[("predicates", "p"), ("predicates.p.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches")],
            "predicates.p.pattern: required",
        ),
        (
            &[("predicates", "p"), ("predicates.p.type", "com.acme.Always")],
            "predicates.p.type: unknown predicate type com.acme.Always",
        ),
        (
            &[("transforms", "u"), ("transforms.u.type", "io.debezium.transforms.ExtractNewRecordState"), ("transforms.u.delete.tombstone.handling.mode", "shred")],
            "transforms.u.delete.tombstone.handling.mode: 'shred' is not drop",
        ),
    ];
    for (pairs, expected) in cases {
        let problems = chain(pairs).err().unwrap_or_default();
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "expected {expected:?} in {problems:?}"
        );
    }
}

#[test]
fn regex_router_renames_the_topic_not_the_offsets() {
    let chain = one(
        &format!("{C}RegexRouter"),
        &[
            ("regex", r"([^.]+)\.([^.]+)\.([^.]+)"),
            ("replacement", "$3_copy"),
        ],
    );
    let out = run(&chain, create()).unwrap();
    assert_eq!(out.topic(), "customers_copy");
    assert_eq!(out.coordinates.topic, "dbserver1.inventory.customers");
    // The regex must match the whole topic.
    let partial = one(
        &format!("{C}RegexRouter"),
        &[("regex", "inventory"), ("replacement", "x")],
    );
    assert_eq!(
        run(&partial, create()).unwrap().topic(),
        "dbserver1.inventory.customers"
    );
    for (java, rust) in [
        ("$1", "${1}"),
        ("$1abc", "${1}abc"),
        (r"\$1", "$$1"),
        ("${name}", "${name}"),
        ("plain", "plain"),
    ] {
        assert_eq!(fields::java_replacement(java), rust, "{java}");
    }
}

#[test]
fn replace_field_on_value_and_key() {
    let chain = one(
        &format!("{C}ReplaceField$Value"),
        &[("exclude", "score"), ("renames", "email:contact_email")],
    );
    let out = run(
        &chain,
        event(
            Op::Update,
            Some(customer(1, "old@x")),
            Some(customer(1, "new@x")),
        ),
    )
    .unwrap();
    assert_eq!(names(out.after.as_ref().unwrap()), ["id", "contact_email"]);
    assert_eq!(names(out.before.as_ref().unwrap()), ["id", "contact_email"]);
    let include = one(
        &format!("{C}ReplaceField$Value"),
        &[("include", "id,score")],
    );
    assert_eq!(
        names(run(&include, create()).unwrap().after.as_ref().unwrap()),
        ["id", "score"]
    );
    let key = one(
        &format!("{C}ReplaceField$Key"),
        &[("renames", "id:customer_id")],
    );
    let out = run(&key, create()).unwrap();
    assert_eq!(names(&out.key), ["customer_id"]);
    assert_eq!(names(out.after.as_ref().unwrap()), ["id", "email", "score"]);
}

#[test]
fn mask_field_by_type_and_with_a_replacement() {
    let date = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
    let r = row(&[
        ("n", Value::Int(7)),
        ("f", Value::Float(1.5)),
        ("d", Value::Decimal("9.99".into())),
        ("s", Value::Text("secret".into())),
        ("b", Value::Bool(true)),
        ("day", Value::Date(date)),
        ("gone", Value::Null),
        ("toast", Value::Unavailable),
    ]);
    let chain = one(
        &format!("{C}MaskField$Value"),
        &[("fields", "n,f,d,s,b,day,gone,toast")],
    );
    let out = run(&chain, event(Op::Create, None, Some(r.clone()))).unwrap();
    let after = out.after.unwrap();
    let expected = [
        ("n", Value::Int(0)),
        ("f", Value::Float(0.0)),
        ("d", Value::Decimal("0".into())),
        ("s", Value::Text(String::new())),
        ("b", Value::Bool(false)),
        (
            "day",
            Value::Date(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()),
        ),
        ("gone", Value::Null),
        ("toast", Value::Unavailable),
    ];
    for (name, want) in expected {
        assert_eq!(value(&after, name), Some(&want), "{name}");
    }
    let replaced = one(
        &format!("{C}MaskField$Value"),
        &[("fields", "n,s"), ("replacement", "42")],
    );
    let after = run(&replaced, event(Op::Create, None, Some(r.clone())))
        .unwrap()
        .after
        .unwrap();
    assert_eq!(value(&after, "n"), Some(&Value::Int(42)));
    assert_eq!(value(&after, "s"), Some(&Value::Text("42".into())));
    // A replacement for a date column is a record error naming the transform and field.
    let bad = one(
        &format!("{C}MaskField$Value"),
        &[("fields", "day"), ("replacement", "x")],
    );
    let err = bad
        .apply(event(Op::Create, None, Some(r)), &[])
        .unwrap_err();
    assert_eq!(err.alias, "t");
    assert!(err.reason.contains("field day"), "{err}");
}

#[test]
fn insert_field_adds_record_metadata() {
    let chain = one(
        &format!("{C}InsertField$Value"),
        &[
            ("topic.field", "src_topic"),
            ("partition.field", "src_partition"),
            ("offset.field", "src_offset!"),
            ("timestamp.field", "src_ts"),
            ("static.field", "origin"),
            ("static.value", "crm"),
        ],
    );
    let after = run(&chain, create()).unwrap().after.unwrap();
    let ts =
        NaiveDateTime::parse_from_str("2023-11-14 22:13:20.500", "%Y-%m-%d %H:%M:%S%.f").unwrap();
    let expected = [
        (
            "src_topic",
            Value::Text("dbserver1.inventory.customers".into()),
            ColumnType::Text { max_len: None },
        ),
        ("src_partition", Value::Int(2), ColumnType::Int32),
        ("src_offset", Value::Int(41), ColumnType::Int64),
        ("src_ts", Value::Timestamp(ts), ColumnType::Timestamp),
        (
            "origin",
            Value::Text("crm".into()),
            ColumnType::Text { max_len: None },
        ),
    ];
    for (name, want, t) in expected {
        let f = after.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(
            (&f.value, f.column_type.as_ref()),
            (&want, Some(&t)),
            "{name}"
        );
    }
    assert!(!after.get("src_offset").unwrap().optional);
    // An existing column is not overwritten silently; a required field needs a value.
    let clash = one(
        &format!("{C}InsertField$Value"),
        &[("static.field", "email"), ("static.value", "x")],
    );
    assert!(clash
        .apply(create(), &[])
        .unwrap_err()
        .reason
        .contains("already exists"));
    let required = one(
        &format!("{C}InsertField$Value"),
        &[("timestamp.field", "at!")],
    );
    let mut no_ts = create();
    no_ts.kafka_timestamp_ms = None;
    assert!(required
        .apply(no_ts, &[])
        .unwrap_err()
        .reason
        .contains("required"));
}

#[test]
fn cast_table() {
    let cases: &[(Value, &str, Result<Value, ()>)] = &[
        (Value::Decimal("12.75".into()), "int32", Ok(Value::Int(12))),
        (
            Value::Decimal("12.75".into()),
            "float64",
            Ok(Value::Float(12.75)),
        ),
        (Value::Int(300), "int8", Err(())),
        (Value::Int(-128), "int8", Ok(Value::Int(-128))),
        (Value::Text(" 17 ".into()), "int64", Ok(Value::Int(17))),
        (Value::Text("abc".into()), "int64", Err(())),
        (Value::Text("TRUE".into()), "boolean", Ok(Value::Bool(true))),
        (Value::Int(0), "boolean", Ok(Value::Bool(false))),
        (Value::Int(5), "string", Ok(Value::Text("5".into()))),
        (
            Value::Bytes(vec![1, 2, 255]),
            "string",
            Ok(Value::Text("AQL/".into())),
        ),
        (
            Value::Float(0.1),
            "float32",
            Ok(Value::Float(f64::from(0.1f32))),
        ),
        (Value::Null, "int32", Ok(Value::Null)),
        (Value::Unavailable, "string", Ok(Value::Unavailable)),
        (
            Value::Untyped(serde_json::json!(3.9)),
            "int16",
            Ok(Value::Int(3)),
        ),
        (Value::Array(vec![]), "string", Err(())),
        (
            Value::Decimal("9007199254740993.5".into()),
            "int64",
            Ok(Value::Int(9_007_199_254_740_993)),
        ),
        (Value::Decimal("127.5".into()), "int8", Ok(Value::Int(127))),
        (Value::Decimal("-0.5".into()), "int8", Ok(Value::Int(0))),
        (Value::Float(1.0), "string", Ok(Value::Text("1.0".into()))),
        (Value::Float(1e20), "int64", Err(())),
    ];
    for (input, target, want) in cases {
        let chain = one(
            &format!("{C}Cast$Value"),
            &[("spec", &format!("v:{target}"))],
        );
        let got = chain.apply(
            event(Op::Create, None, Some(row(&[("v", input.clone())]))),
            &[],
        );
        match (got, want) {
            (Ok(Some(e)), Ok(want)) => {
                let f = e.after.as_ref().unwrap().get("v").unwrap().clone();
                assert_eq!(&f.value, want, "{input:?} -> {target}");
                assert!(f.column_type.is_some());
            }
            (Err(e), Err(())) => assert!(e.reason.contains("field v"), "{e}"),
            (got, want) => panic!("{input:?} -> {target}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn timestamp_converter_table() {
    let ts =
        NaiveDateTime::parse_from_str("2024-01-15 10:20:30.123", "%Y-%m-%d %H:%M:%S%.f").unwrap();
    type Case<'a> = (Value, &'a [(&'a str, &'a str)], Value);
    let cases: &[Case<'_>] = &[
        (
            Value::Int(1_705_314_030_123),
            &[("target.type", "Timestamp")],
            Value::Timestamp(ts),
        ),
        (
            Value::Int(1_705_314_030),
            &[("target.type", "Timestamp"), ("unix.precision", "seconds")],
            Value::Timestamp(ts.with_nanosecond(0).unwrap()),
        ),
        (
            Value::Timestamp(ts),
            &[
                ("target.type", "string"),
                ("format", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"),
            ],
            Value::Text("2024-01-15T10:20:30.123Z".into()),
        ),
        (
            Value::Text("15/01/2024 10:20".into()),
            &[
                ("target.type", "unix"),
                ("format", "dd/MM/yyyy HH:mm"),
                ("unix.precision", "seconds"),
            ],
            Value::Int(1_705_314_000),
        ),
        (
            Value::Text("2024-01-15".into()),
            &[("target.type", "Date"), ("format", "yyyy-MM-dd")],
            Value::Date(ts.date()),
        ),
        (
            Value::TimestampTz("2024-01-15T11:20:30.123+01:00".into()),
            &[("target.type", "Time")],
            Value::Time(ts.time()),
        ),
        (
            Value::Date(ts.date()),
            &[("target.type", "unix")],
            Value::Int(1_705_276_800_000),
        ),
        (
            Value::Text("10:20:30".into()),
            &[("target.type", "Time"), ("format", "HH:mm:ss")],
            Value::Time(ts.time().with_nanosecond(0).unwrap()),
        ),
        (
            Value::Text("2024-01-15T10:20:30Z".into()),
            &[
                ("target.type", "unix"),
                ("format", "yyyy-MM-dd'T'HH:mm:ssX"),
                ("unix.precision", "seconds"),
            ],
            Value::Int(1_705_314_030),
        ),
        (
            Value::Text("2024-01-15T11:20:30+01:00".into()),
            &[
                ("target.type", "unix"),
                ("format", "yyyy-MM-dd'T'HH:mm:ssXXX"),
                ("unix.precision", "seconds"),
            ],
            Value::Int(1_705_314_030),
        ),
        (
            Value::Timestamp(ts),
            &[
                ("target.type", "string"),
                ("format", "yyyy-MM-dd'T'HH:mm:ssXXX"),
            ],
            Value::Text("2024-01-15T10:20:30Z".into()),
        ),
    ];
    for (input, options, want) in cases {
        let mut options = options.to_vec();
        options.push(("field", "at"));
        let chain = one(&format!("{C}TimestampConverter$Value"), &options);
        let out = run(
            &chain,
            event(Op::Create, None, Some(row(&[("at", input.clone())]))),
        )
        .unwrap();
        assert_eq!(
            value(out.after.as_ref().unwrap(), "at"),
            Some(want),
            "{input:?} {options:?}"
        );
    }
    let chain = one(
        &format!("{C}TimestampConverter$Value"),
        &[
            ("field", "at"),
            ("target.type", "unix"),
            ("format", "yyyy-MM-dd"),
        ],
    );
    let err = chain
        .apply(
            event(
                Op::Create,
                None,
                Some(row(&[("at", Value::Text("15 Jan".into()))])),
            ),
            &[],
        )
        .unwrap_err();
    assert!(err.reason.contains("does not match the format"), "{err}");
}

#[test]
fn java_format_table() {
    for (java, chrono) in [
        ("yyyy-MM-dd HH:mm:ss.SSS", "%Y-%m-%d %H:%M:%S.%3f"),
        ("yyyy-MM-dd'T'HH:mm:ssXXX", "%Y-%m-%dT%H:%M:%S%:z"),
        ("d MMM yy h:mm a", "%-d %b %y %-I:%M %p"),
        ("EEEE, MMMM d", "%A, %B %-d"),
        ("'it''s' HH'h'", "it's %Hh"),
        ("100% yyyy", "100%% %Y"),
    ] {
        assert_eq!(java_format(java).unwrap(), chrono, "{java}");
    }
    assert!(java_format("'open").is_err());
    assert!(java_format("GGGG").is_err());
}

#[test]
fn filter_with_predicates() {
    let base = [
        ("transforms", "f"),
        (
            "transforms.f.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.f.predicate", "p"),
        ("predicates", "p"),
    ];
    let topic = [
        (
            "predicates.p.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.p.pattern", r".*\.customers"),
    ];
    let header = [
        (
            "predicates.p.type",
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        ),
        ("predicates.p.name", "skip-me"),
    ];
    let tombstone = [(
        "predicates.p.type",
        "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    )];
    let skip: Vec<(String, Option<Vec<u8>>)> = vec![("skip-me".into(), None)];
    // (predicate, negate, headers, kept)
    type Case<'a> = (&'a [(&'a str, &'a str)], bool, bool, bool);
    let cases: Vec<Case<'_>> = vec![
        (&topic, false, false, false),
        (&topic, true, false, true),
        (&header, false, true, false),
        (&header, false, false, true),
        (&header, true, false, false),
        (&tombstone, false, false, true),
        (&tombstone, true, false, false),
    ];
    for (predicate, negate, with_header, kept) in cases {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(predicate);
        if negate {
            pairs.push(("transforms.f.negate", "true"));
        }
        let chain = chain(&pairs).unwrap();
        let headers: &[(String, Option<Vec<u8>>)] = if with_header { &skip } else { &[] };
        let out = chain.apply(create(), headers).unwrap();
        assert_eq!(
            out.is_some(),
            kept,
            "{predicate:?} negate={negate} header={with_header}"
        );
    }
    // Without a predicate a Filter drops everything.
    assert!(run(&one(&format!("{C}Filter"), &[]), create()).is_none());
}

#[test]
fn extract_new_record_state_modes() {
    const U: &str = "io.debezium.transforms.ExtractNewRecordState";
    // Default (tombstone): a delete stays a delete; nothing is added.
    let default = one(U, &[]);
    let out = run(&default, delete()).unwrap();
    assert_eq!(out.op, Op::Delete);
    assert_eq!(run(&default, create()).unwrap().after, create().after);
    for legacy in ["none", "tombstone", "delete-to-tombstone"] {
        assert_eq!(
            run(&one(U, &[("delete.handling.mode", legacy)]), delete())
                .unwrap()
                .op,
            Op::Delete
        );
    }
    // drop: deletes never reach the table.
    let drop = one(U, &[("delete.tombstone.handling.mode", "drop")]);
    assert!(run(&drop, delete()).is_none());
    assert!(run(&drop, create()).is_some());
    // rewrite: a soft delete, as an update of the last row state.
    let rewrite = one(
        U,
        &[
            ("delete.handling.mode", "rewrite"),
            ("drop.tombstones", "false"),
        ],
    );
    let out = run(&rewrite, delete()).unwrap();
    assert_eq!(out.op, Op::Update);
    let after = out.after.unwrap();
    assert_eq!(
        value(&after, "email"),
        Some(&Value::Text("a@example.com".into()))
    );
    assert_eq!(
        value(&after, "__deleted"),
        Some(&Value::Text("true".into()))
    );
    let created = run(&rewrite, create()).unwrap().after.unwrap();
    assert_eq!(
        value(&created, "__deleted"),
        Some(&Value::Text("false".into()))
    );
    // Added fields describe the change Debezium sent: a rewritten delete keeps op d.
    let with_op = one(
        U,
        &[("delete.handling.mode", "rewrite"), ("add.fields", "op")],
    );
    let after = run(&with_op, delete()).unwrap().after.unwrap();
    assert_eq!(value(&after, "__op"), Some(&Value::Text("d".into())));
    // A rewrite that keeps the tombstone, into a sink that deletes on tombstones: Kafka
    // Connect soft-deletes and then deletes the row, so the delete stays a delete.
    for options in [
        &[("delete.tombstone.handling.mode", "rewrite-with-tombstone")][..],
        &[
            ("delete.handling.mode", "rewrite"),
            ("drop.tombstones", "false"),
        ][..],
    ] {
        let mut pairs = vec![
            ("transforms", "t"),
            ("transforms.t.type", U),
            ("delete.enabled", "true"),
        ];
        let keys: Vec<(String, &str)> = options
            .iter()
            .map(|(k, v)| (format!("transforms.t.{k}"), *v))
            .collect();
        pairs.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
        let chain = chain_of(&pairs);
        assert_eq!(run(&chain, delete()).unwrap().op, Op::Delete, "{options:?}");
        let created = run(&chain, create()).unwrap().after.unwrap();
        assert_eq!(
            value(&created, "__deleted"),
            Some(&Value::Text("false".into()))
        );
        // Without delete.enabled the soft-deleted row is what remains.
        pairs.retain(|(k, _)| *k != "delete.enabled");
        assert_eq!(run(&chain_of(&pairs), delete()).unwrap().op, Op::Update);
    }
    // The new option wins over the legacy one.
    let both = one(
        U,
        &[
            ("delete.handling.mode", "rewrite"),
            ("delete.tombstone.handling.mode", "drop"),
        ],
    );
    assert!(run(&both, delete()).is_none());
}

#[test]
fn extract_new_record_state_add_fields_and_route() {
    const U: &str = "io.debezium.transforms.ExtractNewRecordState";
    let chain = one(
        U,
        &[
            (
                "add.fields",
                "op,table,lsn,source.ts_ms,ts_ms:EVENT_TS,transaction.id,total_order,missing",
            ),
            ("route.by.field", "email"),
        ],
    );
    let out = run(&chain, create()).unwrap();
    assert_eq!(out.topic(), "a@example.com");
    let after = out.after.unwrap();
    let expected = [
        ("__op", Value::Text("c".into())),
        ("__table", Value::Text("customers".into())),
        ("__lsn", Value::Int(123)),
        ("__source_ts_ms", Value::Int(1_700_000_000_000)),
        ("__EVENT_TS", Value::Int(1_700_000_001_000)),
        ("__transaction_id", Value::Text("571:123".into())),
        ("__total_order", Value::Int(3)),
    ];
    for (name, want) in expected {
        assert_eq!(value(&after, name), Some(&want), "{name}");
    }
    assert!(after.get("__missing").is_none());
    let prefixed = one(U, &[("add.fields", "op"), ("add.fields.prefix", "cdc_")]);
    assert!(run(&prefixed, create())
        .unwrap()
        .after
        .unwrap()
        .get("cdc_op")
        .is_some());
}

#[test]
fn value_to_key_and_extract_field() {
    let chain = one(&format!("{C}ValueToKey"), &[("fields", "email")]);
    let out = run(&chain, create()).unwrap();
    assert_eq!(
        out.key,
        row(&[("email", Value::Text("a@example.com".into()))])
    );
    let out = run(&chain, delete()).unwrap();
    assert_eq!(names(&out.key), ["email"]);
    let missing = one(&format!("{C}ValueToKey"), &[("fields", "nope")]);
    assert!(missing
        .apply(create(), &[])
        .unwrap_err()
        .reason
        .contains("nope"));
    let extract = one(&format!("{C}ExtractField$Value"), &[("field", "after")]);
    assert_eq!(run(&extract, delete()).unwrap().op, Op::Delete);
}

#[test]
fn transforms_run_in_order() {
    // Rename, then mask under the new name, then route only the customers topic.
    let chain = chain(&[
        ("transforms", "rename,mask,route"),
        (
            "transforms.rename.type",
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
        ),
        ("transforms.rename.renames", "email:contact"),
        (
            "transforms.mask.type",
            "org.apache.kafka.connect.transforms.MaskField$Value",
        ),
        ("transforms.mask.fields", "contact"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", ".*"),
        ("transforms.route.replacement", "people"),
        ("transforms.route.predicate", "isCustomers"),
        ("predicates", "isCustomers"),
        (
            "predicates.isCustomers.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.isCustomers.pattern", ".*customers"),
    ])
    .unwrap();
    let out = run(&chain, create()).unwrap();
    assert_eq!(
        value(out.after.as_ref().unwrap(), "contact"),
        Some(&Value::Text(String::new()))
    );
    assert_eq!(out.topic(), "people");
    let mut other = create();
    other.coordinates.topic = "dbserver1.inventory.orders".into();
    assert_eq!(
        run(&chain, other).unwrap().topic(),
        "dbserver1.inventory.orders"
    );
}
