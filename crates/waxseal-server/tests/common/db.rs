//! Reading the server's SQLite file directly, as an operator with `sqlite3` would: row counts and a full dump, so
//! tests can say what is stored without going through the code under test.

use std::fmt::Write as _;
use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// A read-only pool on the data directory's database (the server may be running: WAL lets both in).
pub async fn open(dir: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(dir.join(waxseal_server::DATABASE_FILE))
        .read_only(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("open the database read-only")
}

/// The single integer `sql` selects.
pub async fn scalar(dir: &Path, sql: &str) -> i64 {
    let pool = open(dir).await;
    let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
    value
}

/// The number of rows in `table`.
pub async fn count(dir: &Path, table: &str) -> i64 {
    scalar(dir, &format!("SELECT count(*) FROM {table}")).await
}

/// Every row of every table (migrations' bookkeeping included), each value SQL-quoted, in a stable order: two
/// equal dumps mean an unchanged store.
pub async fn dump(dir: &Path) -> String {
    let pool = open(dir).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("list tables");
    let mut out = String::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind(&table)
                .fetch_all(&pool)
                .await
                .expect("list columns");
        let row = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {row} FROM \"{table}\" ORDER BY 1"
        )))
        .fetch_all(&pool)
        .await
        .expect("dump rows");
        let _ = writeln!(out, "{table}: {}", rows.join(" | "));
    }
    pool.close().await;
    out
}
