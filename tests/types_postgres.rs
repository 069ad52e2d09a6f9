//! Real components: the corpus `types` scenario (a wide table of every common PostgreSQL type
//! Debezium maps, the same with REPLICA IDENTITY FULL, and a table without a primary key)
//! published to tansu and applied by the sluice binary to PostgreSQL, compared with the
//! source tables' final oracle value by value.
//!
//! The comparison loads the oracle's rows (PostgreSQL text output) into tables of the source
//! types in a schema `expected` and compares with SQL (`IS DISTINCT FROM`), so a value is equal
//! when PostgreSQL says it is. Two representation changes Debezium makes are normalised on
//! both sides: `timetz` is sent in UTC (compared as `timezone('UTC', v)`), and `json`/`xml`/the
//! enum have no equality operator (compared as text). What Debezium cannot carry is listed in
//! [`DEBEZIUM_LOSSES`], and nothing else may differ.

mod support;

use sqlx::{Connection, PgConnection, Row};
use std::path::PathBuf;
use support::sluice::{connector_file, run_until_applied, worker_file};
use support::{
    avro_converter_keys, corpus_dir, publish_jsonl, quote_ident, quote_literal, random_name,
    Oracle, Postgres, RegistryFixture, Tansu,
};

/// Tables with a primary key, applied by the upsert connector.
const KEYED: [&str; 2] = ["types_default", "types_full"];
/// The table without a primary key, applied by an append-only connector.
const NOPK: &str = "types_nopk";

/// Cells (table-independent: both keyed tables get the same changes) where the final target
/// differs from the source because Debezium does not send the value (see the scenario README).
const DEBEZIUM_LOSSES: [(&str, &str); 10] = [
    // interval: MicroDuration counts a month as 30.4375 days ('1 year 2 mons ...').
    ("6", "c_interval"),
    // interval '178956970:59:59.999999' arrives rounded to 178956971:00:00 (double arithmetic).
    ("2", "c_interval"),
    ("102", "c_interval"),
    ("104", "c_interval"),
    // bit varying: Bits carries no length; B'0' arrives as no bytes, padded to varbit(16).
    ("105", "c_varbit"),
    ("205", "c_varbit"),
    // numeric 'NaN' in decimal.handling.mode=precise: null (and a WARN in the connector log).
    ("10", "c_numeric"),
    ("10", "c_numeric_var"),
    ("110", "c_numeric"),
    ("110", "c_numeric_var"),
];

fn types_dir() -> PathBuf {
    corpus_dir().join("types")
}

fn source_ddl() -> String {
    std::fs::read_to_string(types_dir().join("sql/ddl.sql")).expect("ddl.sql")
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("connect")
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Publishes `events/<run>.jsonl`, optionally creates the source tables in the target first,
/// and applies the run with two connectors: upsert by record key (keyed tables) and
/// append-only insert (the table without a key). Returns the target URL.
async fn apply(run: &str, schemas: bool, evolution: &str) -> String {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = types_dir().join("events").join(format!("{run}.jsonl"));
    let published =
        publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    if evolution == "none" {
        exec(&mut connect(&url).await, &source_ddl()).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let jdbc = format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1));
    // An Avro run is read through a registry holding the schemas the recording registered.
    let registry = run.ends_with(".avro").then(|| {
        let dump = types_dir().join(format!("events/{run}.registry.json"));
        RegistryFixture::with_dump(&dump, None)
    });
    let converters = registry
        .as_ref()
        .map(|r| avro_converter_keys(&r.url(), None))
        .unwrap_or_default();
    let common = |extra: serde_json::Value| {
        let mut config = serde_json::json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "connection.url": jdbc,
            "schema.evolution": evolution,
            "collection.name.format": "${source.table}",
            "key.converter.schemas.enable": schemas.to_string(),
            "value.converter.schemas.enable": schemas.to_string(),
            "batch.size": "7",
        });
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        for (k, v) in &converters {
            config[k] = v.clone().into();
        }
        config
    };
    let keyed = connector_file(
        dir.path(),
        &random_name("keyed"),
        common(serde_json::json!({
            "topics.regex": format!("{prefix}\\.dbserver1\\.public\\.types_(default|full)"),
            "insert.mode": "upsert",
            "primary.key.mode": "record_key",
            "delete.enabled": "true",
        })),
    );
    let nopk = connector_file(
        dir.path(),
        &random_name("nopk"),
        common(serde_json::json!({
            "topics": format!("{prefix}.dbserver1.public.{NOPK}"),
            "insert.mode": "insert",
            "primary.key.mode": "none",
        })),
    );
    let ends = support::sluice::ends(&published, |topic| topic.contains(".public."));
    let log = run_until_applied(dir.path(), &worker, &[&keyed, &nopk], &url, &ends).await;
    if let Some(keep) = std::env::var_os("TYPES_TEST_LOG_DIR") {
        let name = format!("{run}.{evolution}.log");
        std::fs::write(PathBuf::from(keep).join(name), &log).expect("keep the log");
    }
    drop(tansu);
    url
}

fn oracle() -> Oracle {
    Oracle::load(types_dir().join("oracle/final.json"))
}

/// Creates the source tables in schema `expected` and fills them with the oracle's rows.
async fn load_expected(conn: &mut PgConnection, oracle: &Oracle) {
    exec(
        conn,
        &format!(
            "CREATE SCHEMA expected; SET search_path TO expected; {}",
            source_ddl()
        ),
    )
    .await;
    for (name, table) in &oracle.tables {
        let short = name.rsplit('.').next().unwrap();
        let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        for row in &table.rows {
            let values: Vec<String> = row
                .iter()
                .map(|v| {
                    v.as_deref()
                        .map(quote_literal)
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect();
            exec(
                conn,
                &format!(
                    "INSERT INTO expected.{} ({}) VALUES ({})",
                    quote_ident(short),
                    cols.join(", "),
                    values.join(", ")
                ),
            )
            .await;
        }
    }
    exec(conn, "SET search_path TO public").await;
}

/// The comparison expression of a column of source type `sql_type`.
fn normalised(alias: &str, column: &str, sql_type: &str) -> String {
    let c = format!("{alias}.{}", quote_ident(column));
    match sql_type {
        "time with time zone" => format!("timezone('UTC', {c})"),
        "json" | "xml" | "mood" => format!("{c}::text"),
        _ => c,
    }
}

/// The target's column types (`format_type`) of `public.<table>`.
async fn target_types(conn: &mut PgConnection, table: &str) -> Vec<(String, String)> {
    sqlx::query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
    )
    .bind(format!("public.{}", quote_ident(table)))
    .fetch_all(&mut *conn)
    .await
    .expect("target columns")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Every difference between `public.<table>` and `expected.<table>` (keyed by `id`), as
/// `(id, column, expected, found)`; only columns whose target type is the source type when
/// `same_types_only`.
async fn keyed_differences(
    conn: &mut PgConnection,
    oracle: &Oracle,
    table: &str,
    same_types_only: bool,
) -> Vec<(String, String, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    let t = quote_ident(table);
    let ids = |side: &'static str, other: &'static str| {
        format!(
            "SELECT x.id::text FROM {side}.{t} x WHERE NOT EXISTS (SELECT 1 FROM {other}.{t} y WHERE y.id = x.id) ORDER BY 1"
        )
    };
    for (sql, what) in [
        (ids("expected", "public"), "missing"),
        (ids("public", "expected"), "extra"),
    ] {
        for row in sqlx::query(&sql).fetch_all(&mut *conn).await.expect("ids") {
            out.push((row.get(0), format!("<{what} row>"), None, None));
        }
    }
    let target = target_types(conn, table).await;
    let source = &oracle.tables[&format!("public.{table}")];
    for column in &source.columns {
        let Some((_, target_type)) = target.iter().find(|(n, _)| n == &column.name) else {
            out.push((
                "*".into(),
                format!("{} <missing column>", column.name),
                None,
                None,
            ));
            continue;
        };
        if same_types_only && target_type != &column.type_ {
            continue;
        }
        let c = quote_ident(&column.name);
        let sql = format!(
            "SELECT e.id::text, e.{c}::text, a.{c}::text FROM expected.{t} e JOIN public.{t} a USING (id) \
             WHERE {} IS DISTINCT FROM {} ORDER BY e.id",
            normalised("e", &column.name, &column.type_),
            normalised("a", &column.name, &column.type_),
        );
        for row in sqlx::query(&sql)
            .fetch_all(&mut *conn)
            .await
            .expect("compare")
        {
            out.push((row.get(0), column.name.clone(), row.get(1), row.get(2)));
        }
    }
    out
}

fn report(table: &str, diffs: &[(String, String, Option<String>, Option<String>)]) -> String {
    diffs
        .iter()
        .map(|(id, col, e, f)| format!("  {table} id={id} {col}: expected {e:?}, found {f:?}\n"))
        .collect()
}

/// Asserts that the keyed tables differ from the oracle exactly in [`DEBEZIUM_LOSSES`] and that
/// the table without a key holds the oracle's rows as a multiset.
async fn assert_equals_oracle(url: &str, losses: &[(&str, &str)]) {
    let oracle = oracle();
    let mut conn = connect(url).await;
    load_expected(&mut conn, &oracle).await;
    let mut unexpected = String::new();
    for table in KEYED {
        let diffs = keyed_differences(&mut conn, &oracle, table, false).await;
        let (known, other): (Vec<_>, Vec<_>) = diffs
            .into_iter()
            .partition(|(id, col, _, _)| losses.contains(&(id.as_str(), col.as_str())));
        unexpected += &report(table, &other);
        if known.len() != losses.len() {
            unexpected += &format!(
                "  {table}: only {} of the {} known Debezium losses differ (update DEBEZIUM_LOSSES):\n{}",
                known.len(),
                losses.len(),
                report(table, &known)
            );
        }
    }
    let cols = oracle.tables[&format!("public.{NOPK}")]
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let multiset = format!(
        "SELECT count(*) FROM ((SELECT {cols} FROM expected.{NOPK} EXCEPT ALL SELECT {cols} FROM public.{NOPK}) \
         UNION ALL (SELECT {cols} FROM public.{NOPK} EXCEPT ALL SELECT {cols} FROM expected.{NOPK})) d"
    );
    let differing: i64 = sqlx::query_scalar(&multiset)
        .fetch_one(&mut conn)
        .await
        .expect("nopk");
    if differing != 0 {
        unexpected += &format!("  {NOPK}: {differing} rows differ (multiset)\n");
    }
    assert!(
        unexpected.is_empty(),
        "target differs from the oracle:\n{unexpected}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn types_with_schemas_into_source_tables_equal_the_oracle() {
    let url = apply("default.json-schemas", true, "none").await;
    assert_equals_oracle(&url, &DEBEZIUM_LOSSES).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn types_without_schemas_into_source_tables_equal_the_oracle() {
    let url = apply("default.json-noschemas", false, "none").await;
    assert_equals_oracle(&url, &DEBEZIUM_LOSSES).await;
}

/// schema.evolution=basic creates the tables with the types of the event schema, which are
/// not the source types (e.g. interval becomes bigint, enum and inet become text): every row
/// must be there, and columns that got the source type must hold the source values.
#[tokio::test(flavor = "multi_thread")]
async fn types_with_schema_evolution_create_every_table_and_row() {
    let url = apply("default.json-schemas", true, "basic").await;
    let oracle = oracle();
    let mut conn = connect(&url).await;
    load_expected(&mut conn, &oracle).await;
    let mut unexpected = String::new();
    for table in KEYED {
        let diffs = keyed_differences(&mut conn, &oracle, table, true).await;
        let other: Vec<_> = diffs
            .into_iter()
            .filter(|(id, col, _, _)| !DEBEZIUM_LOSSES.contains(&(id.as_str(), col.as_str())))
            .collect();
        unexpected += &report(table, &other);
    }
    for (name, table) in &oracle.tables {
        let short = name.rsplit('.').next().unwrap();
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM public.{}",
            quote_ident(short)
        ))
        .fetch_one(&mut conn)
        .await
        .expect("count");
        if count != table.rows.len() as i64 {
            unexpected += &format!("  {short}: {count} rows, expected {}\n", table.rows.len());
        }
    }
    assert!(
        unexpected.is_empty(),
        "target differs from the oracle:\n{unexpected}"
    );
}

/// `decimal.handling.mode=string`: decimals arrive as text and must land exactly.
#[tokio::test(flavor = "multi_thread")]
async fn types_with_decimals_as_strings_equal_the_oracle() {
    let url = apply("decimal-string.json-schemas", true, "none").await;
    // In string mode numeric 'NaN' arrives as "NaN" and is kept: only the other losses remain.
    let losses: Vec<(&str, &str)> = DEBEZIUM_LOSSES
        .iter()
        .copied()
        .filter(|(_, col)| !col.starts_with("c_numeric"))
        .collect();
    assert!(losses.len() < DEBEZIUM_LOSSES.len());
    assert_equals_oracle(&url, &losses).await;
}

/// `time.precision.mode=connect`: Connect's millisecond logical types for every temporal column.
#[tokio::test(flavor = "multi_thread")]
async fn types_with_connect_time_precision_equal_the_oracle() {
    let url = apply("time-connect.json-schemas", true, "none").await;
    // Connect's Time and Timestamp carry milliseconds: the cells whose source value has
    // microseconds lose them, by Debezium's design. Every other cell must be exact.
    let mut losses = DEBEZIUM_LOSSES.to_vec();
    losses.extend(["1", "2", "101", "102", "104"].map(|id| (id, "c_time6")));
    losses
        .extend(["1", "2", "7", "101", "102", "104", "105", "107", "205"].map(|id| (id, "c_ts6")));
    assert_equals_oracle(&url, &losses).await;
}

/// Debezium's AvroConverter output (through a registry) gives the same target as its
/// JsonConverter output: into the source tables, equal to the oracle with the same losses.
#[tokio::test(flavor = "multi_thread")]
async fn types_from_avro_into_source_tables_equal_the_oracle() {
    let url = apply("default.avro", true, "none").await;
    assert_equals_oracle(&url, &DEBEZIUM_LOSSES).await;
}

/// With schema evolution, the Avro and the JSON recordings of one workload create the same
/// tables (names, column types, nullability, keys) holding the same rows.
#[tokio::test(flavor = "multi_thread")]
async fn types_from_avro_and_json_create_identical_tables() {
    let from_avro = dump_tables(&apply("default.avro", true, "basic").await).await;
    let from_json = dump_tables(&apply("default.json-schemas", true, "basic").await).await;
    assert_eq!(from_avro.len(), 3, "tables: {:?}", from_avro.keys());
    for (table, (columns, rows)) in &from_json {
        let (avro_columns, avro_rows) = &from_avro[table];
        assert_eq!(avro_columns, columns, "{table}: columns");
        assert!(!rows.is_empty(), "{table}: no rows");
        assert_eq!(avro_rows, rows, "{table}: rows");
    }
}

/// Every user table of `public`: its columns (name, type, not null, in the key) and its rows
/// as JSON text, sorted.
async fn dump_tables(url: &str) -> std::collections::BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut conn = connect(url).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name NOT LIKE 'sluice%'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut out = std::collections::BTreeMap::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
             || CASE WHEN a.attnum = ANY(i.indkey) THEN ' key' ELSE '' END \
             FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
             WHERE a.attrelid = ('public.' || quote_ident($1))::regclass AND a.attnum > 0 \
             AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .expect("columns");
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT row_to_json(t)::text FROM public.{} t ORDER BY 1",
            quote_ident(&table)
        ))
        .fetch_all(&mut conn)
        .await
        .expect("rows");
        out.insert(table, (columns, rows));
    }
    out
}
