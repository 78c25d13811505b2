//! Token introspection (RFC 7662) over real HTTP and a real SQLite file: a client's own refresh and access tokens
//! are active with their details; another client's tokens, and refresh tokens after rotation, revocation, reuse
//! or expiry, are `{"active": false}`; only a client given the permission may introspect every client's access
//! tokens, and even it never another client's refresh token.
// The helpers below are test code too: a missing member is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{PASSWORD, TestClock, TestServer, basic};
use serde_json::{Value, json};
use waxseal_server::ClientPermissions;
use waxseal_server::GrantType::{ClientCredentials, Password, RefreshToken};

const TOKEN: &str = "/oauth/token";
const INTROSPECT: &str = "/oauth/introspect";
const REVOKE: &str = "/oauth/revoke";

fn inactive() -> Value {
    json!({"active": false})
}

struct Pair {
    access: String,
    refresh: String,
}

async fn password_grant(server: &TestServer, auth: &str, scope: Option<&str>) -> Pair {
    let mut params = vec![
        ("grant_type", "password"),
        ("username", "hank"),
        ("password", PASSWORD),
    ];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    let r = server.oauth(TOKEN, Some(auth), &params).await;
    assert_eq!(r.status, 200, "{r:?}");
    Pair {
        access: r.body["access_token"].as_str().unwrap().to_owned(),
        refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn refresh(server: &TestServer, auth: &str, token: &str) -> Pair {
    let r = server.refresh_grant(auth, token, &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    Pair {
        access: r.body["access_token"].as_str().unwrap().to_owned(),
        refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn introspect(server: &TestServer, auth: &str, token: &str) -> Value {
    let r = server
        .oauth(INTROSPECT, Some(auth), &[("token", token)])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.cache_control.as_deref(), Some("no-store"), "{r:?}");
    r.body
}

/// A client that may use the password and refresh grants, and one user, hank.
async fn setup(
    clock: std::sync::Arc<TestClock>,
    dir: &std::path::Path,
) -> (TestServer, String, String) {
    let server = TestServer::start(dir, clock).await;
    server.add_user("hank", &["a", "b"]).await;
    let (id, secret) = server
        .add_client(
            "app",
            &[Password, RefreshToken, ClientCredentials],
            &["a", "b"],
        )
        .await;
    (server, id, secret)
}

#[tokio::test]
async fn a_client_introspecting_its_own_live_refresh_token_gets_its_details() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let (server, id, secret) = setup(clock.clone(), dir.path()).await;
    let auth = basic(&id, &secret);
    let issued_at = clock_now(&server).await;
    let pair = password_grant(&server, &auth, Some("a")).await;

    let doc = introspect(&server, &auth, &pair.refresh).await;
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["token_type"], "refresh_token");
    assert_eq!(doc["client_id"], id.as_str());
    assert_eq!(doc["username"], "hank");
    assert_eq!(doc["scope"], "a", "the scope granted to the session");
    assert_eq!(doc["iat"], issued_at);
    assert_eq!(doc["exp"], issued_at + 7 * 24 * 3600, "the idle limit");
    let sub = doc["sub"].as_str().unwrap();
    assert!(!sub.is_empty());
    let me = server.get_with("/api/me", &pair.access).await.2;
    assert_eq!(
        me["sub"], sub,
        "the same subject as the session's access tokens"
    );
    // Nothing beyond what RFC 7662 §2.2 names, and never the token.
    let mut members: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "active",
            "client_id",
            "exp",
            "iat",
            "scope",
            "sub",
            "token_type",
            "username"
        ]
    );
    assert!(!doc.to_string().contains(&pair.refresh));

    // Its own access token stays active too, as a Bearer token.
    let doc = introspect(&server, &auth, &pair.access).await;
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["token_type"], "Bearer");
    server.stop().await;
}

async fn clock_now(server: &TestServer) -> u64 {
    // The server's clock, read through a token it issues: the injected test clock, not the wall clock.
    let (id, secret) = server.add_client("clock", &[ClientCredentials], &[]).await;
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let token = r.body["access_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&waxseal::b64::decode(payload, "claims").unwrap()).unwrap();
    claims["iat"].as_u64().unwrap()
}

#[tokio::test]
async fn a_refresh_token_is_inactive_after_rotation_revocation_reuse_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let (server, id, secret) = setup(clock.clone(), dir.path()).await;
    let auth = basic(&id, &secret);

    // Rotation: the presented token is used up, its successor is the live one.
    let first = password_grant(&server, &auth, None).await;
    let second = refresh(&server, &auth, &first.refresh).await;
    assert_eq!(introspect(&server, &auth, &first.refresh).await, inactive());
    assert_eq!(
        introspect(&server, &auth, &second.refresh).await["active"],
        true
    );

    // Reuse: presenting the rotated token again revokes the session; its live successor goes inactive.
    let r = server.refresh_grant(&auth, &first.refresh, &[]).await;
    r.assert_error(400, "invalid_grant");
    assert_eq!(
        introspect(&server, &auth, &second.refresh).await,
        inactive()
    );

    // Revocation (RFC 7009) of a fresh session's refresh token.
    let revoked = password_grant(&server, &auth, None).await;
    assert_eq!(
        introspect(&server, &auth, &revoked.refresh).await["active"],
        true
    );
    let r = server
        .oauth(REVOKE, Some(&auth), &[("token", &revoked.refresh)])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        introspect(&server, &auth, &revoked.refresh).await,
        inactive()
    );

    // Expiry: the idle limit (7 days by default), on the injected clock.
    let idle = password_grant(&server, &auth, None).await;
    clock.advance(Duration::from_secs(7 * 24 * 3600 - 1));
    assert_eq!(
        introspect(&server, &auth, &idle.refresh).await["active"],
        true,
        "one second before"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        introspect(&server, &auth, &idle.refresh).await,
        inactive(),
        "at the idle limit"
    );
    // And the refresh grant agrees.
    server
        .refresh_grant(&auth, &idle.refresh, &[])
        .await
        .assert_error(400, "invalid_grant");

    // The session's absolute end (30 days) caps a successor's idle limit: refreshed on day 24, a token ends on
    // day 30, not 31.
    let mut live = password_grant(&server, &auth, None).await;
    for _ in 0..4 {
        clock.advance(Duration::from_secs(6 * 24 * 3600));
        live = refresh(&server, &auth, &live.refresh).await;
    }
    let doc = introspect(&server, &auth, &live.refresh).await;
    assert_eq!(doc["active"], true, "{doc}");
    let exp = doc["exp"].as_u64().unwrap();
    let iat = doc["iat"].as_u64().unwrap();
    assert_eq!(
        exp - iat,
        6 * 24 * 3600,
        "capped by the session's end: {doc}"
    );
    clock.advance(Duration::from_secs(exp - iat - 1));
    assert_eq!(
        introspect(&server, &auth, &live.refresh).await["active"],
        true
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(introspect(&server, &auth, &live.refresh).await, inactive());

    // A disabled user's live token: the refresh grant refuses it, so introspection does too.
    let disabled = password_grant(&server, &auth, None).await;
    assert_eq!(
        introspect(&server, &auth, &disabled.refresh).await["active"],
        true
    );
    server
        .service
        .set_user_disabled("hank", true)
        .await
        .unwrap();
    assert_eq!(
        introspect(&server, &auth, &disabled.refresh).await,
        inactive()
    );
    server.stop().await;
}

#[tokio::test]
async fn who_may_introspect_what() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let (server, id, secret) = setup(clock, dir.path()).await;
    let auth = basic(&id, &secret);
    let (other_id, other_secret) = server
        .add_client(
            "other",
            &[Password, RefreshToken, ClientCredentials],
            &["a"],
        )
        .await;
    let other = basic(&other_id, &other_secret);
    let rs = server
        .service
        .add_client_with_permissions(
            "resource server",
            &[ClientCredentials],
            &[],
            ClientPermissions {
                may_introspect: true,
                ..ClientPermissions::default()
            },
        )
        .await
        .unwrap();
    let rs = basic(&rs.client_id, &rs.client_secret);

    let pair = password_grant(&server, &auth, None).await;
    let machine = server
        .oauth(TOKEN, Some(&auth), &[("grant_type", "client_credentials")])
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another client without the permission: inactive for every token of this client, as for an unknown one.
    for token in [&pair.access, &pair.refresh, &machine] {
        assert_eq!(
            introspect(&server, &other, token).await,
            inactive(),
            "{token}"
        );
    }
    // With client_secret_post too.
    let r = server
        .oauth(
            INTROSPECT,
            None,
            &[
                ("token", &pair.access),
                ("client_id", &other_id),
                ("client_secret", &other_secret),
            ],
        )
        .await;
    assert_eq!(r.body, inactive());

    // The resource server: every client's access tokens, but no refresh token it was not issued.
    let doc = introspect(&server, &rs, &pair.access).await;
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["client_id"], id.as_str());
    assert_eq!(doc["username"], "hank");
    assert_eq!(introspect(&server, &rs, &machine).await["active"], true);
    assert_eq!(introspect(&server, &rs, &pair.refresh).await, inactive());

    // Introspecting changes nothing: the owner still sees its tokens active and can still refresh.
    assert_eq!(
        introspect(&server, &auth, &pair.refresh).await["active"],
        true
    );
    assert_eq!(introspect(&server, &auth, &machine).await["active"], true);
    refresh(&server, &auth, &pair.refresh).await;

    // A POST /login session's refresh token belongs to no OAuth client, so no client sees it active.
    let (_, login_refresh) = server.login_ok("hank").await;
    for auth in [&auth, &other, &rs] {
        assert_eq!(introspect(&server, auth, &login_refresh).await, inactive());
    }
    // Bad client credentials are still refused with 401 before any token is looked at.
    let r = server
        .oauth(
            INTROSPECT,
            Some(&basic(&id, "wrong")),
            &[("token", &pair.access)],
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    server.stop().await;
}
