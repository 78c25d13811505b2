//! A fresh PostgreSQL database per test on the server the machine runs (`WAXSEAL_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped when the test ends, so tests run in parallel and repeat.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::require_or_skip;

/// The server the tests use.
pub fn admin_url() -> String {
    std::env::var("WAXSEAL_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database created for one test; dropped (connections and all) when this is dropped, even after a panic.
pub struct TestDatabase {
    /// Its URL, for `PostgresStore::open` or `--database-url`.
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Creates `waxseal_test_<unique>`; `None` (after the skip banner of [`require_or_skip`], naming the test
    /// running on this thread) when PostgreSQL cannot be reached and is not required.
    pub async fn create() -> Option<TestDatabase> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let admin = admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) => {
                let thread = std::thread::current();
                require_or_skip(
                    thread.name().unwrap_or("a PostgreSQL test"),
                    &format!(
                        "PostgreSQL at {admin} does not answer ({e}); set WAXSEAL_TEST_DATABASE_URL"
                    ),
                );
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "waxseal_test_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin).expect("WAXSEAL_TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Some(TestDatabase {
            url: url.to_string(),
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside the test's runtime, which cannot be blocked on: a thread with its own runtime does it.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
