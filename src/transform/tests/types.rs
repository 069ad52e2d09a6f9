//! Cast and TimestampConverter (with the Java date pattern translation).

use super::*;

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
        // Connect's Integer.parseInt refuses these; they are not 0.
        (Value::Text("".into()), "int32", Err(())),
        (Value::Text("-".into()), "int32", Err(())),
        (Value::Text(".5".into()), "int32", Ok(Value::Int(0))),
        (Value::Text("3000000000".into()), "int32", Err(())),
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
            Value::untyped(serde_json::json!(3.9)),
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
