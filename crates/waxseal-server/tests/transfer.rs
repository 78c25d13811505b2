//! Moving a deployment from SQLite to PostgreSQL with `transfer::export` / `transfer::import`: nobody is logged out,
//! access tokens issued before verify after (same keys), and revocations and consumed refresh tokens move too.
// The bodies shared by the SQLite and PostgreSQL variants are plain functions, not `#[test]`s.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backing, TestClock, TestServer, assert_invalid_token, tokens};
use waxseal_server::store::Store as _;
use waxseal_server::store::postgres::PostgresStore;
use waxseal_server::store::sqlite::SqliteStore;
use waxseal_server::transfer::{self, Dump};
use waxseal_server::{Database, ErrorKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_moves_to_postgres_without_logging_anyone_out() {
    let Some(target) = Backing::postgres().await else {
        return;
    };
    let source = Backing::sqlite();
    let clock = TestClock::new();
    let server = source.start(clock.clone()).await;
    server.add_user("alice", &["read"]).await;
    let kid = server.service.signing_kid();
    let (access, refresh) = server.login_ok("alice").await;
    let (_, stolen) = server.login_ok("alice").await;
    let (_, stolen_next) = tokens(&server.refresh(&stolen).await.1);
    let (ended, _) = server.login_ok("alice").await;
    assert_eq!(server.logout(&ended, None, false).await, 204);
    server.stop().await;

    let sqlite = SqliteStore::open(&source.dir.path().join(waxseal_server::DATABASE_FILE))
        .await
        .unwrap();
    let dump = transfer::export(&sqlite, clock_now(&clock)).await.unwrap();
    sqlite.close().await;
    let text = serde_json::to_string(&dump).unwrap();
    assert!(
        !text.contains(&refresh) && !text.contains("correct horse"),
        "no secret in clear"
    );
    let dump = Dump::from_json(&text).unwrap();
    assert_eq!(dump.users.len(), 1);
    assert_eq!(dump.sessions.len(), 3);

    let url = target.pg.as_ref().unwrap().url.clone();
    let postgres = PostgresStore::open(&url, 2).await.unwrap();
    transfer::import(&postgres, &dump, false).await.unwrap();
    let again = transfer::import(&postgres, &dump, false).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
    transfer::import(&postgres, &dump, true).await.unwrap();
    postgres.close().await;

    // The same master key (the source's data directory holds it), the state on PostgreSQL.
    let config = waxseal_server::Config {
        database: Database::Postgres(url),
        ..common::config(source.dir.path())
    };
    let server = TestServer::start_with(config, clock).await;
    assert_eq!(server.service.signing_kid(), kid, "the same signing key");
    assert_eq!(
        server.get_with("/api/me", &access).await.0,
        200,
        "issued before, verifies after"
    );
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 200, "the session survives the move: {body}");
    let (status, challenge, _) = server.get_with("/api/me", &ended).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    let (status, body) = server.refresh(&stolen).await;
    common::assert_reuse_refused(status, &body);
    assert_eq!(
        server.refresh(&stolen_next).await.0,
        401,
        "reuse revoked the family"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_dump_whose_keys_do_not_open_with_the_master_key_is_refused() {
    let source = Backing::sqlite();
    let server = source.start(TestClock::new()).await;
    server.stop().await;
    let sqlite = SqliteStore::open(&source.dir.path().join(waxseal_server::DATABASE_FILE))
        .await
        .unwrap();
    let dump = transfer::export(&sqlite, 0).await.unwrap();
    sqlite.close().await;
    let other = waxseal_server::MasterKey::generate().unwrap();
    let err = dump.check_keys(&other).unwrap_err();
    assert!(
        err.message().contains("does not open with this master key"),
        "{err}"
    );
    let own = waxseal_server::existing_master_key(&common::config(source.dir.path()))
        .unwrap()
        .unwrap();
    dump.check_keys(&own).unwrap();
}

fn clock_now(clock: &TestClock) -> u64 {
    waxseal_server::Clock::now(clock).secs()
}
