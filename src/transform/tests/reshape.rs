//! Config problems, routing, field transforms, predicates and the order of a chain.

use super::*;

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
