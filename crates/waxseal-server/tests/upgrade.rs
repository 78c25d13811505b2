//! Upgrading a data directory: a database made by the first release (only `0001_initial.sql` applied) opens with
//! this server, which applies the later migrations; its users log in and its live sessions go on refreshing.

mod common;

use std::path::Path;
use std::time::Duration;

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use base64::Engine as _;
use common::{PASSWORD, TestClock, TestServer, db, tokens};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use waxseal_server::Clock as _;

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
const DAY: u64 = 24 * 3600;

/// What the first release left behind: its migrator (a directory holding only the first migration, which sqlx
/// records with the same version, description and checksum as the embedded one) run on a new database, then a
/// user and a live session written the way that release wrote them.
async fn first_release_database(data: &Path, now: u64, refresh_token: &str) {
    let old = tempfile::tempdir().expect("build the first-release database");
    std::fs::copy(
        Path::new(MIGRATIONS).join("0001_initial.sql"),
        old.path().join("0001_initial.sql"),
    )
    .expect("build the first-release database");
    std::fs::create_dir_all(data).expect("build the first-release database");
    let options = SqliteConnectOptions::new()
        .filename(data.join(waxseal_server::DATABASE_FILE))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("build the first-release database");
    sqlx::migrate::Migrator::new(old.path())
        .await
        .expect("build the first-release database")
        .run(&pool)
        .await
        .expect("build the first-release database");
    let hash: PasswordHash = argon2::Argon2::default()
        .hash_password(PASSWORD.as_bytes())
        .expect("build the first-release database");
    let now = i64::try_from(now).expect("build the first-release database");
    let day = i64::try_from(DAY).expect("build the first-release database");
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, disabled, scopes, created_at) \
         VALUES ('old-user-id', 'olduser', ?, 0, 'read:orders', ?)",
    )
    .bind(hash.to_string())
    .bind(now - 2 * day)
    .execute(&pool)
    .await
    .expect("build the first-release database");
    sqlx::query(
        "INSERT INTO token_families (sid, user_id, created_at, expires_at, revoked_at) \
         VALUES ('old-session', 'old-user-id', ?, ?, NULL)",
    )
    .bind(now - day)
    .bind(now + 29 * day)
    .execute(&pool)
    .await
    .expect("build the first-release database");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, refresh_token.as_bytes());
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, sid, created_at, expires_at, used_at) \
         VALUES (?, 'old-session', ?, ?, NULL)",
    )
    .bind(digest.as_ref())
    .bind(now - day)
    .bind(now + 6 * day)
    .execute(&pool)
    .await
    .expect("build the first-release database");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .expect("build the first-release database");
    assert!(
        !tables.iter().any(|t| t == "clients"),
        "the first release had no clients table: {tables:?}"
    );
    pool.close().await;
}

#[tokio::test]
async fn a_first_release_database_migrates_and_its_user_and_live_session_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let old_refresh = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    first_release_database(dir.path(), clock.now().secs(), &old_refresh).await;
    assert_eq!(
        db::scalar(dir.path(), "SELECT max(version) FROM _sqlx_migrations").await,
        1
    );

    let server = TestServer::start(dir.path(), clock.clone()).await;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&db::open(dir.path()).await)
            .await
            .unwrap();
    // Every shipped migration, by the version its file name starts with (numbers may be taken by work not merged
    // yet, so the list need not be contiguous).
    let mut shipped: Vec<i64> = std::fs::read_dir(MIGRATIONS)
        .unwrap()
        .map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.split('_').next().unwrap().parse().unwrap()
        })
        .collect();
    shipped.sort_unstable();
    assert_eq!(applied, shipped);

    // The old session's refresh token still refreshes, in the same session, with the user's scopes.
    let (status, body) = server.refresh(&old_refresh).await;
    assert_eq!(status, 200, "{body}");
    let (access, next_refresh) = tokens(&body);
    let (status, _, me) = server.get_with("/api/me", &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["sid"].as_str(), me["sub"].as_str(), me["scope"].as_str()),
        (
            Some("old-session"),
            Some("old-user-id"),
            Some("read:orders")
        )
    );
    assert_eq!(
        (me["client_id"].as_str()),
        Some("waxseal-login"),
        "an old session is a POST /login one"
    );
    // Reuse detection covers the old token too.
    let (status, body) = server.refresh(&old_refresh).await;
    common::assert_reuse_refused(status, &body);
    assert_eq!(
        server.refresh(&next_refresh).await.0,
        401,
        "the session was revoked"
    );

    // The user logs in with the password hashed by the first release, and the new tables work.
    let (fresh, fresh_refresh) = server.login_ok("olduser").await;
    assert_eq!(server.get_with("/api/me", &fresh).await.0, 200);
    clock.advance(Duration::from_secs(60));
    assert_eq!(server.refresh(&fresh_refresh).await.0, 200);
    let (id, secret) = server
        .add_client("new", &[waxseal_server::GrantType::ClientCredentials], &[])
        .await;
    let r = server
        .oauth(
            "/oauth/token",
            Some(&common::basic(&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    server.stop().await;
}
