//! The database failing in the middle of a request. A 503 tells the client "nothing happened, retry": a refresh
//! answered 503 must leave the presented refresh token usable, or the client's retry is taken for reuse and its
//! session is revoked.

mod common;

use std::time::{Duration, Instant};

use common::{Backing, TestClock};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_answered_503_leaves_the_refresh_token_usable() {
    let Some(backing) = Backing::postgres().await else {
        return;
    };
    let url = backing
        .pg
        .as_ref()
        .expect("a PostgreSQL backing")
        .url
        .clone();
    let server = backing.start(TestClock::new()).await;
    server.add_user("alice", &[]).await;
    let (_, refresh) = server.login_ok("alice").await;

    // Reading the users table blocks behind this lock; the blocked backend is then terminated, as a failover or
    // a crash would end it: the refresh must fail before it consumed the token, not after.
    let mut locker = PgConnection::connect(&url).await.expect("connect");
    sqlx::raw_sql("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .expect("lock users");
    let pending = {
        let server_url = server.at("/refresh");
        let body = serde_json::json!({ "refresh_token": refresh });
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .post(server_url)
                .json(&body)
                .send()
                .await
                .expect("an answer");
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status().as_u16(), retry_after)
        })
    };
    let mut admin = PgConnection::connect(&url).await.expect("connect");
    let start = Instant::now();
    loop {
        let terminated: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM users%'",
        )
        .fetch_all(&mut admin)
        .await
        .expect("terminate the blocked backends");
        if !terminated.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the refresh never read the users table"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, retry_after) = pending.await.expect("the request task");
    assert_eq!(status, 503, "a terminated database connection is a 503");
    assert!(retry_after.is_some(), "503 comes with Retry-After");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .expect("unlock");

    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(
        status, 200,
        "the token of a refresh answered 503 is refused on retry: {body}"
    );
    let _ = locker.close().await;
    let _ = admin.close().await;
    server.stop().await;
}
