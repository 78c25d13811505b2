//! Secrets never reach the logs: run the flow with every event at TRACE captured, then scan the text.

mod common;

use common::{Capture, PASSWORD, TestClock, TestServer, tokens};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("peggy", &[]).await;
    let (status, _) = server.login("peggy", "a wrong password 1234").await;
    assert_eq!(status, 401);
    let (access, refresh) = server.login_ok("peggy").await;
    let (_, body) = server.refresh(&refresh).await;
    let (access2, refresh2) = tokens(&body);
    assert_eq!(server.refresh(&refresh).await.0, 401); // reuse: a warning is logged
    let (_, body) = server.login("peggy", PASSWORD).await;
    let (access3, refresh3) = tokens(&body);
    assert_eq!(server.get_with("/api/me", &access3).await.0, 200);
    assert_eq!(
        server
            .logout(&access3, Some(json!({"refresh_token": refresh3})), false)
            .await,
        204
    );
    // OAuth: a client secret, the tokens of each grant, revocation and introspection.
    let (client_id, client_secret) = server
        .add_client(
            "logged",
            &[
                waxseal_server::GrantType::Password,
                waxseal_server::GrantType::RefreshToken,
                waxseal_server::GrantType::ClientCredentials,
            ],
            &[],
        )
        .await;
    let auth = common::basic(&client_id, &client_secret);
    let r = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[
                ("grant_type", "password"),
                ("username", "peggy"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let oauth_access = r.body["access_token"].as_str().unwrap().to_owned();
    let oauth_refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let r = server
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &oauth_refresh),
                ("client_id", &client_id),
                ("client_secret", &client_secret),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let oauth_refresh2 = r.body["refresh_token"].as_str().unwrap().to_owned();
    let r = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let machine_access = r.body["access_token"].as_str().unwrap().to_owned();
    let wrong_secret = "a-wrong-client-secret-5678";
    let r = server
        .oauth(
            "/oauth/token",
            Some(&common::basic(&client_id, wrong_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 401);
    for token in [&oauth_access, &machine_access, &oauth_refresh2] {
        server
            .oauth("/oauth/introspect", Some(&auth), &[("token", token)])
            .await;
        server
            .oauth("/oauth/revoke", Some(&auth), &[("token", token)])
            .await;
    }
    server.stop().await;

    let logs = capture.text();
    assert!(logs.contains("login failed"), "the capture works: {logs}");
    assert!(logs.contains("reuse detected"), "{logs}");
    assert!(
        logs.contains("client authentication failed"),
        "the OAuth flow is logged: {logs}"
    );
    let master_key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    for secret in [
        PASSWORD,
        "a wrong password 1234",
        &access,
        &refresh,
        &access2,
        &refresh2,
        &access3,
        &refresh3,
        master_key.trim(),
        &client_secret,
        wrong_secret,
        &oauth_access,
        &oauth_refresh,
        &oauth_refresh2,
        &machine_access,
        "$argon2id$",
    ] {
        assert!(
            !logs.contains(secret),
            "a secret appeared in the logs: {secret}"
        );
    }
    // Also no part of a token (a JWT's signature or payload segment) leaks.
    for segment in access.split('.').chain(oauth_access.split('.')) {
        assert!(
            !logs.contains(segment),
            "a token segment appeared in the logs"
        );
    }
}
