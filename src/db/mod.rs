//! The floor of the data path: the only place that holds a connection to a target. One enum
//! over the sqlx drivers ([`Db`], and [`Tx`] for a batch transaction), so everything above is
//! written once; statements take [`Param`]s (always bound, never interpolated) and reads return
//! text cells. [`schema`] holds the DDL of sluice's internal tables. Nothing here imports a
//! module of the data path; the sink, the checkpoint, the dead-letter store, the reports and
//! the CLI all reach the target through it.

mod param;
pub mod schema;

use crate::config::{Dialect, Secret, TargetUrl};
pub use param::Param;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Postgres, Row, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool to the target.
#[derive(Clone, Debug)]
pub enum Db {
    /// PostgreSQL.
    Pg(sqlx::PgPool),
    /// SQLite.
    Lite(sqlx::SqlitePool),
}

/// An open target transaction.
pub enum Tx {
    /// PostgreSQL.
    Pg(Transaction<'static, Postgres>),
    /// SQLite.
    Lite(Transaction<'static, Sqlite>),
}

impl Db {
    /// Connects (lazily: the first use opens the connection, so `validate` can report it).
    pub async fn connect(
        url: &TargetUrl,
        username: Option<&str>,
        password: Option<&Secret>,
    ) -> Result<Db, sqlx::Error> {
        match url.dialect {
            Dialect::Postgres => {
                let mut options = PgConnectOptions::from_str(&url.url)?;
                if let Some(user) = username {
                    options = options.username(user);
                }
                if let Some(password) = password {
                    options = options.password(password.expose());
                }
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Ok(Db::Pg(pool))
            }
            Dialect::Sqlite => {
                let options = SqliteConnectOptions::from_str(&url.url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(30));
                // One writer: SQLite serialises writers anyway, and one connection keeps
                // BEGIN IMMEDIATE semantics simple.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                Ok(Db::Lite(pool))
            }
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Pg(_) => Dialect::Postgres,
            Db::Lite(_) => Dialect::Sqlite,
        }
    }

    /// Begins a transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Pg(pool) => Tx::Pg(pool.begin().await?),
            // IMMEDIATE takes the write lock up front, so busy_timeout applies; a deferred
            // transaction that upgrades to writing fails at once with SQLITE_BUSY when another
            // connection (another worker on the same file) writes.
            Db::Lite(pool) => Tx::Lite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Runs one statement outside a transaction.
    pub async fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin().await?;
        let n = tx.execute(sql, params).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Runs a query outside a transaction, returning text cells.
    pub async fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<TextRow>, sqlx::Error> {
        let mut tx = self.begin().await?;
        let rows = tx.query(sql, params).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Db::Pg(pool) => pool.close().await,
            Db::Lite(pool) => pool.close().await,
        }
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
type LiteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_pg<'q>(mut q: PgQuery<'q>, params: &[Param]) -> PgQuery<'q> {
    for p in params {
        q = match p {
            Param::Text(v) => q.bind(v.clone()),
            Param::Blob(v) => q.bind(v.clone()),
            Param::Int(v) => q.bind(*v),
            Param::TextArray(v) => q.bind(v.clone()),
        };
    }
    q
}

fn bind_lite<'q>(mut q: LiteQuery<'q>, params: &[Param]) -> Result<LiteQuery<'q>, sqlx::Error> {
    for p in params {
        q = match p {
            Param::Text(v) => q.bind(v.clone()),
            Param::Blob(v) => q.bind(v.clone()),
            Param::Int(v) => q.bind(*v),
            Param::TextArray(_) => {
                return Err(sqlx::Error::Protocol(
                    "array parameters are PostgreSQL-only".into(),
                ))
            }
        };
    }
    Ok(q)
}

/// One row of a query, its cells as text, read by column name: a query selects
/// `CAST(x AS TEXT) AS x` (SQLite names an unaliased expression after its text).
#[derive(Debug, Clone, PartialEq)]
pub struct TextRow {
    names: std::sync::Arc<[String]>,
    cells: Vec<Option<String>>,
}

impl TextRow {
    /// The cell of `column` (`None`: NULL). A column the query does not select is a bug in
    /// the query, caught by the tests (debug builds panic naming it); release builds read NULL.
    pub fn text(&self, column: &str) -> Option<&str> {
        match self.names.iter().position(|n| n == column) {
            Some(i) => self.cells[i].as_deref(),
            None => {
                debug_assert!(
                    false,
                    "the query selects no column {column}: {:?}",
                    self.names
                );
                None
            }
        }
    }

    /// [`TextRow::text`], owned.
    pub fn string(&self, column: &str) -> Option<String> {
        self.text(column).map(str::to_string)
    }

    /// The cells in the order selected: for reads whose columns are built at run time (a
    /// user table's columns, the system catalog); sluice's own tables are read by name.
    pub fn into_cells(self) -> Vec<Option<String>> {
        self.cells
    }

    /// [`TextRow::text`] as an integer (`None`: NULL or not a number).
    pub fn int(&self, column: &str) -> Option<i64> {
        self.text(column).and_then(|t| t.trim().parse().ok())
    }
}

/// Every cell of every row as text (the sink's own queries cast what they select to text).
fn text_cells<R: Row>(rows: &[R]) -> Result<Vec<TextRow>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    use sqlx::Column as _;
    let names: std::sync::Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    rows.iter()
        .map(|r| {
            let cells = (0..r.len())
                .map(|i| r.try_get::<Option<String>, _>(i))
                .collect::<Result<_, _>>()?;
            Ok(TextRow {
                names: names.clone(),
                cells,
            })
        })
        .collect()
}

impl Tx {
    /// Executes a statement; returns rows affected.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Tx::Pg(tx) => bind_pg(sqlx::query(sql), params)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Tx::Lite(tx) => bind_lite(sqlx::query(sql), params)?
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Runs a query; every selected column must be text (cast it in the SQL).
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<TextRow>, sqlx::Error> {
        match self {
            Tx::Pg(tx) => {
                let rows = bind_pg(sqlx::query(sql), params)
                    .fetch_all(&mut **tx)
                    .await?;
                text_cells(&rows)
            }
            Tx::Lite(tx) => {
                let rows = bind_lite(sqlx::query(sql), params)?
                    .fetch_all(&mut **tx)
                    .await?;
                text_cells(&rows)
            }
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.commit().await,
            Tx::Lite(tx) => tx.commit().await,
        }
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.rollback().await,
            Tx::Lite(tx) => tx.rollback().await,
        }
    }
}
