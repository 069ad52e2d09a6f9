//! Corpus oracles (`<scenario>/oracle/<checkpoint>.json`) and comparing a PostgreSQL target
//! with them.
//!
//! An oracle holds, per source table (`public.customers`), the columns with their PostgreSQL
//! types, the primary key, and every row as PostgreSQL's text output (COPY TO STDOUT values,
//! unescaped; NULL -> null), rendered with `TimeZone=UTC`.
//!
//! The comparison reads the target's columns through the simple query protocol, whose result
//! values are the same type output functions COPY uses (note: `col::text` would NOT do:
//! `true::text` is `true` while COPY prints `t`). Rows are matched by primary key (the oracle's
//! key columns, compared as text), so the target's sort order and any extra columns of the
//! target (e.g. sluice's version columns) do not matter. Tables without a primary key are
//! compared as multisets of rows.

use super::{quote_ident, quote_qualified};
use serde::Deserialize;
use sqlx::{Connection, PgConnection, Row};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

type Values = Vec<Option<String>>;

#[derive(Clone, Debug)]
pub struct Oracle {
    pub checkpoint: String,
    /// Source table name (`public.customers`) -> table.
    pub tables: BTreeMap<String, OracleTable>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OracleColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub not_null: bool,
}

#[derive(Clone, Debug)]
pub struct OracleTable {
    pub name: String,
    pub primary_key: Vec<String>,
    pub columns: Vec<OracleColumn>,
    /// Values in `columns` order.
    pub rows: Vec<Values>,
}

#[derive(Deserialize)]
struct RawOracle {
    checkpoint: String,
    tables: BTreeMap<String, RawTable>,
}

#[derive(Deserialize)]
struct RawTable {
    primary_key: Vec<String>,
    columns: Vec<OracleColumn>,
    rows: Vec<BTreeMap<String, Option<String>>>,
}

impl Oracle {
    /// Load an oracle file, e.g. `tests/data/corpus/inventory/oracle/final.json`.
    pub fn load(path: impl AsRef<Path>) -> Oracle {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read oracle {}: {e}", path.display()));
        let raw: RawOracle = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parse oracle {}: {e}", path.display()));
        let tables = raw
            .tables
            .into_iter()
            .map(|(name, t)| {
                let rows = t
                    .rows
                    .iter()
                    .map(|r| {
                        t.columns
                            .iter()
                            .map(|c| match r.get(&c.name) {
                                Some(v) => v.clone(),
                                None => {
                                    panic!("{}: {name} row lacks column {}", path.display(), c.name)
                                }
                            })
                            .collect()
                    })
                    .collect();
                let table = OracleTable {
                    name: name.clone(),
                    primary_key: t.primary_key,
                    columns: t.columns,
                    rows,
                };
                (name, table)
            })
            .collect();
        Oracle {
            checkpoint: raw.checkpoint,
            tables,
        }
    }

    pub fn table(&self, name: &str) -> &OracleTable {
        self.tables
            .get(name)
            .unwrap_or_else(|| panic!("oracle {} has no table {name}", self.checkpoint))
    }
}

impl OracleTable {
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn pk_indexes(&self) -> Vec<usize> {
        self.primary_key
            .iter()
            .map(|k| {
                self.columns
                    .iter()
                    .position(|c| &c.name == k)
                    .expect("pk column")
            })
            .collect()
    }
}

/// Panic with a readable diff unless every oracle table, read from the target database at
/// `url` under the name `table_name_map(oracle_name)` (may be `schema.table`; each part is
/// quoted), holds exactly the oracle's rows.
pub async fn assert_pg_matches(
    url: &str,
    oracle: &Oracle,
    table_name_map: impl Fn(&str) -> String,
) {
    if let Err(diff) = check_pg_matches(url, oracle, table_name_map).await {
        panic!(
            "target does not match oracle `{}`:\n{diff}",
            oracle.checkpoint
        );
    }
}

/// [`assert_pg_matches`] returning the diff instead of panicking.
pub async fn check_pg_matches(
    url: &str,
    oracle: &Oracle,
    table_name_map: impl Fn(&str) -> String,
) -> Result<(), String> {
    let mut conn = connect(url).await;
    let mut report = String::new();
    for (name, table) in &oracle.tables {
        let target = table_name_map(name);
        let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let sql = format!(
            "SELECT {} FROM {}",
            cols.join(", "),
            quote_qualified(&target)
        );
        let rows = match sqlx::raw_sql(&sql).fetch_all(&mut conn).await {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(report, "table {name} -> {target}: cannot read: {e}");
                continue;
            }
        };
        let actual: Vec<Values> = rows
            .iter()
            .map(|r| {
                (0..cols.len())
                    .map(|i| {
                        r.try_get_unchecked::<Option<String>, _>(i)
                            .expect("text value")
                    })
                    .collect()
            })
            .collect();
        diff_table(table, &target, &actual, &mut report);
    }
    let _ = conn.close().await;
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// The current contents of `tables` (`public.customers`, ...) in the database at `url`, as an
/// oracle named `checkpoint`: each table's columns in order with their types, its primary key,
/// and every row as text, read exactly as [`check_pg_matches`] reads a target. A live source
/// database becomes the oracle its replica is compared with.
pub async fn read_pg_tables(url: &str, checkpoint: &str, tables: &[String]) -> Oracle {
    let mut conn = connect(url).await;
    let mut out = BTreeMap::new();
    for name in tables {
        let columns: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
             WHERE attrelid = CAST($1 AS regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        )
        .bind(quote_qualified(name))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("columns of {name}: {e}"));
        let primary_key: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = CAST($1 AS regclass) AND i.indisprimary \
             ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)",
        )
        .bind(quote_qualified(name))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("primary key of {name}: {e}"));
        let select: Vec<String> = columns.iter().map(|(c, _, _)| quote_ident(c)).collect();
        let sql = format!(
            "SELECT {} FROM {}",
            select.join(", "),
            quote_qualified(name)
        );
        let rows = sqlx::raw_sql(&sql)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = rows
            .iter()
            .map(|r| {
                (0..select.len())
                    .map(|i| {
                        r.try_get_unchecked::<Option<String>, _>(i)
                            .expect("text value")
                    })
                    .collect()
            })
            .collect();
        let columns = columns
            .into_iter()
            .map(|(name, type_, not_null)| OracleColumn {
                name,
                type_,
                not_null,
            })
            .collect();
        let table = OracleTable {
            name: name.clone(),
            primary_key,
            columns,
            rows,
        };
        out.insert(name.clone(), table);
    }
    let _ = conn.close().await;
    Oracle {
        checkpoint: checkpoint.to_string(),
        tables: out,
    }
}

/// Create every oracle table in the database at `url` (named through `table_name_map`) with the
/// oracle's column types, NOT NULLs and primary key, and insert the oracle's rows. A baseline
/// for tests of the comparison itself, or a pre-existing target.
pub async fn load_oracle_tables(
    url: &str,
    oracle: &Oracle,
    table_name_map: impl Fn(&str) -> String,
) {
    let mut conn = connect(url).await;
    for (name, table) in &oracle.tables {
        let target = quote_qualified(&table_name_map(name));
        let mut defs: Vec<String> = table
            .columns
            .iter()
            .map(|c| {
                let nn = if c.not_null { " NOT NULL" } else { "" };
                format!("{} {}{nn}", quote_ident(&c.name), c.type_)
            })
            .collect();
        if !table.primary_key.is_empty() {
            let pk: Vec<String> = table.primary_key.iter().map(|k| quote_ident(k)).collect();
            defs.push(format!("PRIMARY KEY ({})", pk.join(", ")));
        }
        let ddl = format!("CREATE TABLE {target} ({})", defs.join(", "));
        sqlx::raw_sql(&ddl)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{ddl}: {e}"));
        let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let params: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("CAST(${} AS {})", i + 1, c.type_))
            .collect();
        let insert = format!(
            "INSERT INTO {target} ({}) VALUES ({})",
            cols.join(", "),
            params.join(", ")
        );
        for row in &table.rows {
            let mut q = sqlx::query(&insert);
            for v in row {
                q = q.bind(v.clone());
            }
            q.execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{insert} {row:?}: {e}"));
        }
    }
    let _ = conn.close().await;
}

async fn connect(url: &str) -> PgConnection {
    let mut conn = PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    // The oracle's text output settings (COPY from psql against a TimeZone=UTC server).
    sqlx::raw_sql(
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; \
         SET extra_float_digits = 1; SET bytea_output = 'hex'",
    )
    .execute(&mut conn)
    .await
    .expect("set session");
    conn
}

const MAX_LINES: usize = 20;

fn diff_table(table: &OracleTable, target: &str, actual: &[Values], report: &mut String) {
    let names = table.column_names();
    let show = |row: &Values| -> String {
        let parts: Vec<String> = names
            .iter()
            .zip(row)
            .map(|(n, v)| format!("{n}={}", fmt_val(v)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    };
    let mut lines = Vec::new();
    let pk = table.pk_indexes();
    if pk.is_empty() {
        // Multisets of whole rows.
        let mut counts: BTreeMap<&Values, i64> = BTreeMap::new();
        for r in &table.rows {
            *counts.entry(r).or_default() += 1;
        }
        for r in actual {
            *counts.entry(r).or_default() -= 1;
        }
        for (r, n) in counts {
            if n > 0 {
                lines.push(format!("  missing ({n}x) {}", show(r)));
            } else if n < 0 {
                lines.push(format!("  extra   ({}x) {}", -n, show(r)));
            }
        }
    } else {
        let key = |r: &Values| -> Values { pk.iter().map(|&i| r[i].clone()).collect() };
        let show_key = |k: &Values| -> String {
            let parts: Vec<String> = pk
                .iter()
                .zip(k)
                .map(|(&i, v)| format!("{}={}", names[i], fmt_val(v)))
                .collect();
            parts.join(",")
        };
        let expected: BTreeMap<Values, &Values> = table.rows.iter().map(|r| (key(r), r)).collect();
        let mut got: BTreeMap<Values, &Values> = BTreeMap::new();
        for r in actual {
            if got.insert(key(r), r).is_some() {
                lines.push(format!("  duplicate key {} in target", show_key(&key(r))));
            }
        }
        for (k, e) in &expected {
            match got.get(k) {
                None => lines.push(format!("  missing {}: {}", show_key(k), show(e))),
                Some(a) => {
                    let diffs: Vec<String> = names
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| e[*i] != a[*i])
                        .map(|(i, n)| {
                            format!("{n}: expected {} got {}", fmt_val(&e[i]), fmt_val(&a[i]))
                        })
                        .collect();
                    if !diffs.is_empty() {
                        lines.push(format!("  differs {}: {}", show_key(k), diffs.join("; ")));
                    }
                }
            }
        }
        for (k, a) in &got {
            if !expected.contains_key(k) {
                lines.push(format!("  extra   {}: {}", show_key(k), show(a)));
            }
        }
    }
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(
        report,
        "table {} -> {target}: {} rows expected, {} found",
        table.name,
        table.rows.len(),
        actual.len()
    );
    let n = lines.len();
    for l in lines.into_iter().take(MAX_LINES) {
        let _ = writeln!(report, "{l}");
    }
    if n > MAX_LINES {
        let _ = writeln!(report, "  ... and {} more differences", n - MAX_LINES);
    }
}

fn fmt_val(v: &Option<String>) -> String {
    match v {
        None => "NULL".to_string(),
        Some(s) if s.chars().count() > 80 => {
            let head: String = s.chars().take(60).collect();
            format!("{head:?}…({} chars)", s.chars().count())
        }
        Some(s) => format!("{s:?}"),
    }
}
