//! Client administration (`waxseal client list|delete|rotate-secret` run these service calls) seen over HTTP: a
//! rotated secret stops working at once (within the reload interval in another process without Redis; see
//! `tests/redis.rs` for instances linked by Redis), and a deleted client's sessions and tokens end like a deleted
//! user's.

mod common;

use common::{PASSWORD, TestClock, TestServer, assert_invalid_token, basic, config, db};
use waxseal_server::GrantType::{ClientCredentials, Password, RefreshToken};
use waxseal_server::{ClientInfo, ErrorKind, Server};

const TOKEN: &str = "/oauth/token";

#[tokio::test]
async fn client_list_shows_ids_names_grants_scopes_and_never_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let (web, web_secret) = server
        .add_client("web", &[Password, RefreshToken], &["read", "write"])
        .await;
    let (batch, batch_secret) = server.add_client("batch", &[ClientCredentials], &[]).await;
    let clients = server.service.list_clients().await.unwrap();
    assert_eq!(
        clients,
        [
            ClientInfo {
                client_id: batch.clone(),
                name: "batch".into(),
                grant_types: vec![ClientCredentials],
                scopes: vec![],
                created_at: clients[0].created_at,
                may_introspect: false,
                web: waxseal_server::WebClient::default(),
                encrypt_access_tokens: false,
                require_dpop: false,
            },
            ClientInfo {
                client_id: web.clone(),
                name: "web".into(),
                grant_types: vec![Password, RefreshToken],
                scopes: vec!["read".into(), "write".into()],
                created_at: clients[1].created_at,
                may_introspect: false,
                web: waxseal_server::WebClient::default(),
                encrypt_access_tokens: false,
                require_dpop: false,
            },
        ]
    );
    let shown = format!("{clients:?}");
    assert!(
        !shown.contains(&web_secret) && !shown.contains(&batch_secret),
        "{shown}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_replaces_the_old_one_at_once_and_issued_tokens_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let (id, old_secret) = server.add_client("svc", &[ClientCredentials], &[]).await;
    let cc = [("grant_type", "client_credentials")];
    let r = server
        .oauth(TOKEN, Some(&basic(&id, &old_secret)), &cc)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let issued = r.body["access_token"].as_str().unwrap().to_owned();

    // Rotated by the serving process, whose client cache holds the client since the request above.
    let rotated = server.service.rotate_client_secret(&id).await.unwrap();
    assert_eq!(rotated.client_id, id);
    let new_secret = rotated.client_secret.to_string();
    assert_eq!(new_secret.len(), 43);
    assert_ne!(new_secret, old_secret);
    assert!(!format!("{rotated:?}").contains(&new_secret));

    let r = server
        .oauth(TOKEN, Some(&basic(&id, &old_secret)), &cc)
        .await;
    r.assert_error(401, "invalid_client");
    let r = server
        .oauth(
            TOKEN,
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &old_secret),
            ],
        )
        .await;
    r.assert_error(401, "invalid_client");
    let r = server
        .oauth(TOKEN, Some(&basic(&id, &new_secret)), &cc)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        server.get_with("/api/me", &issued).await.0,
        200,
        "not a revocation"
    );

    let e = server
        .service
        .rotate_client_secret("no-such-client")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(
        e.message().contains("no client with id \"no-such-client\""),
        "{e}"
    );
    server.stop().await;
}

/// Asks for a client-credentials token with `secret` until it is refused; panics if that takes over `limit`.
/// Returns how long it took.
async fn secret_refused_within(
    server: &TestServer,
    id: &str,
    secret: &str,
    limit: std::time::Duration,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let r = server
            .oauth(
                TOKEN,
                Some(&basic(id, secret)),
                &[("grant_type", "client_credentials")],
            )
            .await;
        if r.status == 401 {
            r.assert_error(401, "invalid_client");
            return started.elapsed();
        }
        assert_eq!(r.status, 200, "{r:?}");
        assert!(
            started.elapsed() < limit,
            "the old secret was still accepted after {limit:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Another process (`waxseal client rotate-secret` or `client delete` on the same data directory, no Redis) cannot
/// tell the server: its cached copy of the client is used for at most `DENYLIST_RELOAD_INTERVAL` (1 s) after it
/// was read, then the store is read again. The test keeps the cache warm with a request every 20 ms, so a cache
/// that never expired would accept the old secret for good.
#[tokio::test]
async fn a_client_changed_by_another_process_is_refused_within_the_reload_interval() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let (rotated_id, old_secret) = server.add_client("svc", &[ClientCredentials], &[]).await;
    let (deleted_id, deleted_secret) = server.add_client("gone", &[ClientCredentials], &[]).await;
    let admin = Server::open_admin(config(dir.path())).await.unwrap();
    // Generous for a busy machine; what matters is that it ends (the interval itself is 1 s).
    let limit = std::time::Duration::from_secs(5);
    // Both clients are in the server's cache from here on.
    for (id, secret) in [(&rotated_id, &old_secret), (&deleted_id, &deleted_secret)] {
        let r = server
            .oauth(
                TOKEN,
                Some(&basic(id, secret)),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    let rotated = admin
        .service()
        .rotate_client_secret(&rotated_id)
        .await
        .unwrap();
    // Every other use of client authentication reads the store: refused at once.
    let r = server
        .oauth(
            "/oauth/revoke",
            Some(&basic(&rotated_id, &old_secret)),
            &[("token", "anything")],
        )
        .await;
    r.assert_error(401, "invalid_client");
    let took = secret_refused_within(&server, &rotated_id, &old_secret, limit).await;
    eprintln!("the rotated secret was refused after {took:?}");
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&rotated_id, &rotated.client_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    admin.service().delete_client(&deleted_id).await.unwrap();
    let took = secret_refused_within(&server, &deleted_id, &deleted_secret, limit).await;
    eprintln!("the deleted client was refused after {took:?}");
    admin.close().await;
    server.stop().await;
}

/// Another process deletes a client while the server holds a copy in its cache, and the clock passes a second
/// boundary before the server (without Redis) notices: a token it still mints from that copy has an `iat` after
/// the deletion, which the deleted client's "not before" must cover too.
#[tokio::test]
async fn a_token_minted_from_a_stale_copy_of_a_deleted_client_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    let (id, secret) = server.add_client("svc", &[ClientCredentials], &[]).await;
    let admin = Server::open_admin_with_clock(config(dir.path()), clock.clone())
        .await
        .unwrap();
    let cc = [("grant_type", "client_credentials")];
    let r = server.oauth(TOKEN, Some(&basic(&id, &secret)), &cc).await;
    assert_eq!(r.status, 200, "{r:?}");

    admin.service().delete_client(&id).await.unwrap();
    admin.close().await;
    clock.advance(std::time::Duration::from_secs(1));
    let r = server.oauth(TOKEN, Some(&basic(&id, &secret)), &cc).await;
    if r.status == 200 {
        let stale = r.body["access_token"].as_str().unwrap().to_owned();
        let started = std::time::Instant::now();
        while server.get_with("/api/me", &stale).await.0 == 200 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "a token minted from a stale copy of a deleted client is still accepted"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (status, challenge, _) = server.get_with("/api/me", &stale).await;
        assert_invalid_token(status, challenge.as_deref(), "revoked");
    } else {
        // The machine was slow enough for the cached copy to expire first: nothing was minted.
        r.assert_error(401, "invalid_client");
        eprintln!("the cached copy had expired; no stale token to check");
    }
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_client_ends_its_sessions_and_refuses_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("alice", &["read"]).await;
    let (id, secret) = server
        .add_client(
            "app",
            &[Password, RefreshToken, ClientCredentials],
            &["read"],
        )
        .await;
    let (other, other_secret) = server
        .add_client("other", &[Password, RefreshToken], &["read"])
        .await;
    let password_grant = |id: String, secret: String| {
        let server = &server;
        async move {
            let r = server
                .oauth(
                    TOKEN,
                    Some(&basic(&id, &secret)),
                    &[
                        ("grant_type", "password"),
                        ("username", "alice"),
                        ("password", PASSWORD),
                    ],
                )
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            (
                r.body["access_token"].as_str().unwrap().to_owned(),
                r.body["refresh_token"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (access, refresh) = password_grant(id.clone(), secret.clone()).await;
    let (access2, refresh2) = password_grant(id.clone(), secret.clone()).await;
    let (kept_access, kept_refresh) = password_grant(other.clone(), other_secret.clone()).await;
    let (login_access, _) = server.login_ok("alice").await;
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let machine = r.body["access_token"].as_str().unwrap().to_owned();

    server.service.delete_client(&id).await.unwrap();

    for token in [&access, &access2, &machine] {
        let (status, challenge, _) = server.get_with("/api/me", token).await;
        assert_invalid_token(status, challenge.as_deref(), "revoked");
    }
    // Its refresh tokens: the client cannot authenticate any more, and the sessions are revoked in the store.
    for refresh in [&refresh, &refresh2] {
        let r = server
            .oauth(
                TOKEN,
                Some(&basic(&id, &secret)),
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await;
        r.assert_error(401, "invalid_client");
        assert_eq!(server.refresh(refresh).await.0, 401);
    }
    assert_eq!(
        db::scalar(
            dir.path(),
            &format!(
                "SELECT count(*) FROM token_families WHERE client_id = '{id}' AND revoked_at IS NULL"
            )
        )
        .await,
        0
    );
    // Another client's session and the user's own login are untouched.
    assert_eq!(server.get_with("/api/me", &kept_access).await.0, 200);
    assert_eq!(server.get_with("/api/me", &login_access).await.0, 200);
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&other, &other_secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &kept_refresh),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let listed: Vec<String> = server
        .service
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, [other]);
    let e = server.service.delete_client(&id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    server.stop().await;
}

#[tokio::test]
async fn a_client_deleted_by_another_process_is_refused_by_a_running_server_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("bob", &[]).await;
    let (id, secret) = server
        .add_client("app", &[Password, RefreshToken], &[])
        .await;
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);

    let admin = Server::open(config(dir.path())).await.unwrap();
    admin.service().delete_client(&id).await.unwrap();
    admin.close().await;
    let started = std::time::Instant::now();
    while server.get_with("/api/me", &access).await.0 == 200 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    server.stop().await;
}
