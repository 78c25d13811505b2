//! User administration (`waxseal user list|disable|enable|delete|set-password` run these service calls), and the
//! property that matters most: a password change, disable or delete ends every session of the user at once, even
//! when it is made by another process on the same data directory while a server is running.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PASSWORD, TestClock, TestServer, assert_invalid_token, config};
use waxseal_server::{ErrorKind, Server, UserInfo};

/// Polls `GET /api/me` until the token is refused; the running server merges the store's denylist every
/// `DENYLIST_RELOAD_INTERVAL`.
async fn refused_within(server: &TestServer, access: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let (status, challenge, _) = server.get_with("/api/me", access).await;
        if status == 401 {
            assert_invalid_token(status, challenge.as_deref(), "revoked");
            return;
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < limit,
            "the access token was still accepted after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A second process's view of the same data directory, as an admin command opens it.
/// A second process's view of the data directory, as `waxseal user …` opens it. It shares the server's clock: with
/// the system clock it would stamp "not before" times a second or two after the server's frozen test time.
async fn admin(dir: &std::path::Path, clock: Arc<TestClock>) -> Server {
    Server::open_admin_with_clock(config(dir), clock)
        .await
        .expect("second open")
}

#[tokio::test]
async fn user_list_shows_names_flags_scopes_and_never_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server
        .add_user("bob", &["read:orders", "write:orders"])
        .await;
    server.add_user("alice", &[]).await;
    server.service.set_user_disabled("bob", true).await.unwrap();
    let users = server.service.list_users().await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(
        users[1],
        UserInfo {
            username: "bob".into(),
            disabled: true,
            scopes: vec!["read:orders".into(), "write:orders".into()],
            created_at: users[1].created_at,
            profile: waxseal_server::Profile::default(),
        }
    );
    assert!(!users[0].disabled);
    assert!(!format!("{users:?}").contains("argon2"));
    server.stop().await;
}

#[tokio::test]
async fn password_change_ends_every_session_in_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let (access_1, refresh_1) = server.login_ok("alice").await;
    let (access_2, refresh_2) = server.login_ok("alice").await;

    let other = admin(dir.path(), clock.clone()).await;
    other
        .service()
        .set_password("alice", "a brand new passphrase")
        .await
        .unwrap();
    other.close().await;

    refused_within(&server, &access_1, Duration::from_secs(5)).await;
    refused_within(&server, &access_2, Duration::from_secs(5)).await;
    assert_eq!(server.refresh(&refresh_1).await.0, 401);
    assert_eq!(server.refresh(&refresh_2).await.0, 401);
    assert_eq!(server.login("alice", PASSWORD).await.0, 401);
    assert_eq!(server.login("alice", "a brand new passphrase").await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn password_change_in_the_serving_process_ends_sessions_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let (access, _) = server.login_ok("alice").await;
    server
        .service
        .set_password("alice", "another passphrase")
        .await
        .unwrap();
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    server.stop().await;
}

#[tokio::test]
async fn disable_ends_every_session_and_enable_allows_login_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("carol", &[]).await;
    let (access, refresh) = server.login_ok("carol").await;

    let other = admin(dir.path(), clock.clone()).await;
    other
        .service()
        .set_user_disabled("carol", true)
        .await
        .unwrap();
    refused_within(&server, &access, Duration::from_secs(5)).await;
    assert_eq!(server.refresh(&refresh).await.0, 401);
    assert_eq!(server.login("carol", PASSWORD).await.0, 401);

    other
        .service()
        .set_user_disabled("carol", false)
        .await
        .unwrap();
    other.close().await;
    let (fresh, _) = server.login_ok("carol").await;
    let (status, _, body) = server.get_with("/api/me", &fresh).await;
    assert_eq!(status, 200, "{body}");
    // Enabling does not bring the ended sessions back.
    assert_eq!(server.get_with("/api/me", &access).await.0, 401);
    server.stop().await;
}

#[tokio::test]
async fn delete_ends_every_session_and_the_name_is_free_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("dave", &[]).await;
    let (access, refresh) = server.login_ok("dave").await;

    let other = admin(dir.path(), clock.clone()).await;
    other.service().delete_user("dave").await.unwrap();
    other.close().await;
    refused_within(&server, &access, Duration::from_secs(5)).await;
    assert_eq!(server.refresh(&refresh).await.0, 401);
    assert_eq!(server.login("dave", PASSWORD).await.0, 401);
    assert!(server.service.list_users().await.unwrap().is_empty());

    // A new account under the same name is a different subject: the old tokens stay refused.
    server.add_user("dave", &[]).await;
    let (fresh, _) = server.login_ok("dave").await;
    let (status, _, body) = server.get_with("/api/me", &fresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.get_with("/api/me", &access).await.0, 401);
    server.stop().await;
}

#[tokio::test]
async fn admin_commands_on_an_unknown_user_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = admin(dir.path(), TestClock::new()).await;
    let service = server.service();
    for result in [
        service.set_user_disabled("nobody", true).await,
        service.set_password("nobody", "whatever it is").await,
        service.delete_user("nobody").await,
    ] {
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
        assert!(e.to_string().contains("no user named \"nobody\""), "{e}");
    }
    server
        .service()
        .add_user("erin", PASSWORD, &[])
        .await
        .unwrap();
    let e = service.set_password("erin", "").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    server.close().await;
}
