//! A route that requires a scope: 403 `insufficient_scope` with the RFC 6750 §3.1 challenge naming the scope when
//! the token lacks it; the claims when it has it.

mod common;

use common::{TestClock, TestServer, assert_invalid_token};

#[tokio::test]
async fn a_token_without_the_required_scope_gets_403_insufficient_scope() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("olive", &["read:orders"]).await;
    let (access, _) = server.login_ok("olive").await;

    let (status, challenge, body) = server.get_with("/api/admin", &access).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer realm=\"waxseal\", error=\"insufficient_scope\", scope=\"admin\"")
    );
    assert_eq!(body["error"], "insufficient_scope");
    // The same token is fine where no scope is required.
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_token_with_the_required_scope_gets_the_resource() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    // `admin` must be a whole scope token, not a prefix or a part of one.
    server
        .add_user("nadia", &["administrator", "admin:read"])
        .await;
    server.add_user("root", &["read:orders", "admin"]).await;

    let (access, _) = server.login_ok("root").await;
    let (status, challenge, body) = server.get_with("/api/admin", &access).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(challenge, None);
    assert_eq!(body["sub"].as_str().map(str::is_empty), Some(false));
    assert_eq!(body["scope"], "read:orders admin");

    let (almost, _) = server.login_ok("nadia").await;
    assert_eq!(server.get_with("/api/admin", &almost).await.0, 403);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_token_on_a_scoped_route_is_still_401_invalid_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let (status, challenge, _) = server.get_with("/api/admin", "not.a.token").await;
    assert_invalid_token(status, challenge.as_deref(), "");
    let response = server
        .client
        .get(server.at("/api/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    server.stop().await;
}
