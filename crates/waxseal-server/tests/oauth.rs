//! OAuth 2.0 over real HTTP and a real SQLite file: the token endpoint (RFC 6749) with its three grants and two
//! client authentication methods, revocation (RFC 7009), introspection (RFC 7662).

mod common;

use std::time::Duration;

use common::{PASSWORD, TestClock, TestServer, basic};
use waxseal_server::GrantType::{ClientCredentials, Password, RefreshToken};
use waxseal_server::store::ClientStore as _;

const TOKEN: &str = "/oauth/token";
const REVOKE: &str = "/oauth/revoke";
const INTROSPECT: &str = "/oauth/introspect";

fn assert_no_store(r: &common::OAuthResponse) {
    assert_eq!(r.cache_control.as_deref(), Some("no-store"), "{r:?}");
    assert_eq!(r.pragma.as_deref(), Some("no-cache"), "{r:?}");
}

fn str_of<'a>(r: &'a common::OAuthResponse, field: &str) -> &'a str {
    r.body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing: {r:?}"))
}

#[tokio::test]
async fn client_credentials_grant_with_basic_and_with_post() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let (id, secret) = server
        .add_client(
            "metrics",
            &[ClientCredentials],
            &["read:metrics", "write:metrics"],
        )
        .await;

    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_no_store(&r);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.body["scope"], "read:metrics write:metrics");
    assert!(r.body["refresh_token"].is_null(), "no refresh token: {r:?}");
    let (status, _, me) = server.get_with("/api/me", str_of(&r, "access_token")).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["sub"], id.as_str(), "the subject is the client");
    assert_eq!(me["client_id"], id.as_str());
    assert!(me["sid"].is_null(), "no session: {me}");

    let r = server
        .oauth(
            TOKEN,
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "read:metrics"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_no_store(&r);
    assert_eq!(
        r.body["scope"], "read:metrics",
        "a narrower scope on request"
    );

    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&id, &secret)),
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    r.assert_error(400, "invalid_scope");
    assert_no_store(&r);
    server.stop().await;
}

#[tokio::test]
async fn password_grant_issues_a_session_for_the_client_within_its_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("erin", &["a", "b", "c"]).await;
    let (id, secret) = server
        .add_client("app", &[Password, RefreshToken], &["a", "b"])
        .await;
    let auth = basic(&id, &secret);
    let grant = |scope: Option<&'static str>, password: &'static str| {
        let mut params = vec![
            ("grant_type", "password"),
            ("username", "erin"),
            ("password", password),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        params
    };

    let r = server
        .oauth(TOKEN, Some(&auth), &grant(None, PASSWORD))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_no_store(&r);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(
        r.body["scope"], "a b",
        "the user's scopes the client may ask for"
    );
    assert!(r.body["refresh_token"].is_string(), "{r:?}");
    let (status, _, me) = server.get_with("/api/me", str_of(&r, "access_token")).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["client_id"], id.as_str());
    assert_eq!(me["scope"], "a b");
    assert!(me["sid"].is_string());

    let r = server
        .oauth(TOKEN, Some(&auth), &grant(Some("b"), PASSWORD))
        .await;
    assert_eq!((r.status, &r.body["scope"]), (200, &"b".into()), "{r:?}");
    let r = server
        .oauth(TOKEN, Some(&auth), &grant(Some("c"), PASSWORD))
        .await;
    r.assert_error(400, "invalid_scope");
    let r = server
        .oauth(TOKEN, Some(&auth), &grant(None, "wrong password"))
        .await;
    r.assert_error(400, "invalid_grant");
    assert_no_store(&r);
    let r = server
        .oauth(
            TOKEN,
            Some(&auth),
            &[("grant_type", "password"), ("username", "erin")],
        )
        .await;
    r.assert_error(400, "invalid_request");
    server.stop().await;
}

#[tokio::test]
async fn refresh_token_grant_rotates_detects_reuse_and_binds_tokens_to_their_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("frank", &["a", "b"]).await;
    let (id, secret) = server
        .add_client("app", &[Password, RefreshToken], &["a", "b"])
        .await;
    let (other_id, other_secret) = server
        .add_client("other", &[Password, RefreshToken], &["a", "b"])
        .await;
    let auth = basic(&id, &secret);
    let r = server
        .oauth(
            TOKEN,
            Some(&auth),
            &[
                ("grant_type", "password"),
                ("username", "frank"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let access1 = str_of(&r, "access_token").to_owned();
    let refresh1 = str_of(&r, "refresh_token").to_owned();

    // Another client cannot use it, and trying does not consume it.
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&other_id, &other_secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh1),
            ],
        )
        .await;
    r.assert_error(400, "invalid_grant");
    // Nor can the unauthenticated POST /refresh.
    assert_eq!(server.refresh(&refresh1).await.0, 401);
    // A narrower scope for the new access token; a wider one is refused without consuming the token.
    let r = server
        .refresh_grant(&auth, &refresh1, &[("scope", "a c")])
        .await;
    r.assert_error(400, "invalid_scope");

    let r = server
        .refresh_grant(&auth, &refresh1, &[("scope", "a")])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_no_store(&r);
    assert_eq!(r.body["scope"], "a");
    let access2 = str_of(&r, "access_token").to_owned();
    let refresh2 = str_of(&r, "refresh_token").to_owned();
    assert_ne!(refresh1, refresh2, "rotation");
    let (status, _, me) = server.get_with("/api/me", &access2).await;
    assert_eq!((status, &me["scope"]), (200, &"a".into()), "{me}");

    // The successor is usable, and keeps the session's full scope when none is asked.
    let r = server.refresh_grant(&auth, &refresh2, &[]).await;
    assert_eq!((r.status, &r.body["scope"]), (200, &"a b".into()), "{r:?}");
    let refresh3 = str_of(&r, "refresh_token").to_owned();

    // Reuse of a consumed token: invalid_grant, and the whole family is revoked.
    let r = server
        .oauth(
            TOKEN,
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh1),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    r.assert_error(400, "invalid_grant");
    assert!(
        str_of(&r, "error_description").contains("already used"),
        "{r:?}"
    );
    let r = server.refresh_grant(&auth, &refresh3, &[]).await;
    r.assert_error(400, "invalid_grant");
    for access in [&access1, &access2] {
        let (status, challenge, _) = server.get_with("/api/me", access).await;
        common::assert_invalid_token(status, challenge.as_deref(), "revoked");
    }

    // A POST /login session's refresh token is not any OAuth client's.
    let (_, login_refresh) = server.login_ok("frank").await;
    let r = server.refresh_grant(&auth, &login_refresh, &[]).await;
    r.assert_error(400, "invalid_grant");
    assert_eq!(server.refresh(&login_refresh).await.0, 200, "not consumed");
    server.stop().await;
}

#[tokio::test]
async fn client_authentication_and_request_errors_follow_rfc_6749_section_5_2() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("gina", &[]).await;
    let (id, secret) = server.add_client("svc", &[ClientCredentials], &[]).await;
    let cc = [("grant_type", "client_credentials")];
    let mut seen = Vec::new();

    // Wrong secret and unknown client: the same 401, with a Basic challenge when Basic was used.
    for auth in [basic(&id, "wrong-secret"), basic("no-such-client", &secret)] {
        let r = server.oauth(TOKEN, Some(&auth), &cc).await;
        r.assert_error(401, "invalid_client");
        let challenge = r.challenge.clone().unwrap_or_default();
        assert!(challenge.starts_with("Basic realm="), "{r:?}");
        seen.push(r);
    }
    assert_eq!(
        seen[0].body, seen[1].body,
        "unknown client and wrong secret look alike"
    );
    for (client_id, client_secret) in [
        (id.as_str(), "wrong-secret"),
        ("no-such-client", secret.as_str()),
    ] {
        let r = server
            .oauth(
                TOKEN,
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", client_secret),
                ],
            )
            .await;
        r.assert_error(401, "invalid_client");
        seen.push(r);
    }
    // No credentials at all; a bearer token instead of Basic.
    let r = server.oauth(TOKEN, None, &cc).await;
    r.assert_error(401, "invalid_client");
    assert!(r.challenge.is_some(), "{r:?}");
    seen.push(r);
    let r = server.oauth(TOKEN, Some("Bearer abc"), &cc).await;
    r.assert_error(401, "invalid_client");
    seen.push(r);
    // Malformed Basic credentials.
    for auth in ["Basic !!!", "Basic bm9jb2xvbg==", "Basic JXp6OnNlY3JldA=="] {
        let r = server.oauth(TOKEN, Some(auth), &cc).await;
        r.assert_error(401, "invalid_client");
        seen.push(r);
    }

    // Both methods at once.
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&id, &secret)),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    r.assert_error(400, "invalid_request");
    seen.push(r);

    let auth = basic(&id, &secret);
    // A grant the client is not allowed.
    let r = server
        .oauth(
            TOKEN,
            Some(&auth),
            &[
                ("grant_type", "password"),
                ("username", "gina"),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.assert_error(400, "unauthorized_client");
    seen.push(r);
    let r = server
        .oauth(
            TOKEN,
            Some(&auth),
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    r.assert_error(400, "unauthorized_client");
    seen.push(r);
    // Missing, empty, unsupported and repeated grant_type.
    for params in [
        &[("scope", "x")][..],
        &[("grant_type", "")][..],
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ][..],
    ] {
        let r = server.oauth(TOKEN, Some(&auth), params).await;
        r.assert_error(400, "invalid_request");
        seen.push(r);
    }
    for grant in [
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "PASSWORD",
    ] {
        let r = server
            .oauth(TOKEN, Some(&auth), &[("grant_type", grant)])
            .await;
        r.assert_error(400, "unsupported_grant_type");
        seen.push(r);
    }

    // Wrong content types, an unparsable form, a huge body.
    let body = common::form(&cc);
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let r = server
            .post_raw(TOKEN, content_type, Some(&auth), body.clone())
            .await;
        r.assert_error(415, "invalid_request");
        seen.push(r);
    }
    let r = server
        .post_raw(
            TOKEN,
            Some("application/json"),
            Some(&auth),
            r#"{"grant_type":"client_credentials"}"#.into(),
        )
        .await;
    r.assert_error(415, "invalid_request");
    seen.push(r);
    let huge = format!(
        "grant_type=client_credentials&pad={}",
        "x".repeat(64 * 1024)
    );
    let r = server
        .post_raw(
            TOKEN,
            Some("application/x-www-form-urlencoded"),
            Some(&auth),
            huge,
        )
        .await;
    r.assert_error(413, "invalid_request");
    seen.push(r);
    let r = server.oauth(REVOKE, Some(&auth), &[]).await;
    r.assert_error(400, "invalid_request");
    seen.push(r);
    let r = server
        .oauth(INTROSPECT, Some(&basic(&id, "nope")), &[("token", "x")])
        .await;
    r.assert_error(401, "invalid_client");
    seen.push(r);

    for r in &seen {
        assert!(r.status < 500, "{r:?}");
        assert_no_store(r);
    }
    // And the right credentials do work.
    assert_eq!(server.oauth(TOKEN, Some(&auth), &cc).await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn revocation_then_introspection_shows_inactive_and_the_api_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("hank", &["a"]).await;
    let (id, secret) = server
        .add_client("app", &[Password, RefreshToken, ClientCredentials], &["a"])
        .await;
    let (other_id, other_secret) = server.add_client("other", &[ClientCredentials], &[]).await;
    let auth = basic(&id, &secret);
    let password_grant = || async {
        let r = server
            .oauth(
                TOKEN,
                Some(&auth),
                &[
                    ("grant_type", "password"),
                    ("username", "hank"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        (
            str_of(&r, "access_token").to_owned(),
            str_of(&r, "refresh_token").to_owned(),
        )
    };
    let (access, refresh) = password_grant().await;

    let r = server
        .oauth(INTROSPECT, Some(&auth), &[("token", &access)])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_no_store(&r);
    let doc = &r.body;
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["scope"], "a");
    assert_eq!(doc["client_id"], id.as_str());
    assert_eq!(doc["username"], "hank");
    assert_eq!(doc["token_type"], "Bearer");
    assert_eq!(doc["iss"], "http://127.0.0.1:8080");
    assert_eq!(doc["aud"], "waxseal-api");
    for claim in ["exp", "iat", "sub", "jti"] {
        assert!(!doc[claim].is_null(), "{claim} missing: {doc}");
    }
    // Another client may not (tests/introspection.rs has who may introspect what); with client_secret_post too.
    let r = server
        .oauth(
            INTROSPECT,
            None,
            &[
                ("token", &access),
                ("client_id", &other_id),
                ("client_secret", &other_secret),
            ],
        )
        .await;
    assert_eq!(r.body, serde_json::json!({"active": false}), "{r:?}");

    // Another client's revocation of the token changes nothing (and says nothing).
    let r = server
        .oauth(
            REVOKE,
            Some(&basic(&other_id, &other_secret)),
            &[("token", &access)],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);

    // Revoking the access token denies its jti at once.
    let r = server
        .oauth(
            REVOKE,
            Some(&auth),
            &[("token", &access), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_no_store(&r);
    let r = server
        .oauth(INTROSPECT, Some(&auth), &[("token", &access)])
        .await;
    assert_eq!(r.body, serde_json::json!({"active": false}));
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    common::assert_invalid_token(status, challenge.as_deref(), "revoked");
    // Only that token: the session goes on.
    let r = server
        .oauth(
            TOKEN,
            Some(&auth),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let access2 = str_of(&r, "access_token").to_owned();
    let refresh2 = str_of(&r, "refresh_token").to_owned();
    assert_eq!(server.get_with("/api/me", &access2).await.0, 200);

    // Revoking the refresh token (no hint) ends the session, its access tokens included.
    let r = server
        .oauth(
            REVOKE,
            None,
            &[
                ("token", &refresh2),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let (status, challenge, _) = server.get_with("/api/me", &access2).await;
    common::assert_invalid_token(status, challenge.as_deref(), "revoked");
    let r = server
        .oauth(INTROSPECT, Some(&auth), &[("token", &access2)])
        .await;
    assert_eq!(r.body, serde_json::json!({"active": false}));
    let r = server.refresh_grant(&auth, &refresh2, &[]).await;
    r.assert_error(400, "invalid_grant");

    // Unknown and garbage tokens: revocation is 200, introspection inactive.
    for token in ["garbage", "a.b.c", &"A".repeat(43), &refresh] {
        for hint in [
            None,
            Some("refresh_token"),
            Some("access_token"),
            Some("made_up"),
        ] {
            let mut params = vec![("token", token)];
            if let Some(hint) = hint {
                params.push(("token_type_hint", hint));
            }
            let r = server.oauth(REVOKE, Some(&auth), &params).await;
            assert_eq!(r.status, 200, "{r:?}");
        }
        let r = server
            .oauth(INTROSPECT, Some(&auth), &[("token", token)])
            .await;
        assert_eq!(r.body, serde_json::json!({"active": false}), "{token}");
    }

    // A client-credentials token: active, the client as subject, no username.
    let r = server
        .oauth(TOKEN, Some(&auth), &[("grant_type", "client_credentials")])
        .await;
    let machine = str_of(&r, "access_token").to_owned();
    let r = server
        .oauth(INTROSPECT, Some(&auth), &[("token", &machine)])
        .await;
    assert_eq!(r.body["active"], true, "{r:?}");
    assert_eq!(r.body["sub"], id.as_str());
    assert!(r.body["username"].is_null(), "{r:?}");

    // Expired: inactive.
    let (access3, _) = password_grant().await;
    clock.advance(Duration::from_secs(15 * 60 + 61));
    for token in [&access3, &machine] {
        let r = server
            .oauth(INTROSPECT, Some(&auth), &[("token", token)])
            .await;
        assert_eq!(r.body, serde_json::json!({"active": false}));
    }
    server.stop().await;
}

#[tokio::test]
async fn client_secret_is_stored_only_as_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let (id, secret) = server.add_client("svc", &[ClientCredentials], &[]).await;
    assert_eq!(secret.len(), 43, "256 bits, base64url without padding");
    let r = server
        .oauth(
            TOKEN,
            Some(&basic(&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    server.stop().await;

    // Every file of the data directory, as one consistent set (see `read_files`).
    let files = waxseal_testkit::read_files(dir.path());
    let mut scanned = 0;
    for (_, bytes) in files {
        scanned += bytes.len();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the client secret is stored in the clear"
        );
        assert!(!bytes.windows(10).any(|w| w == &secret.as_bytes()[..10]));
    }
    assert!(scanned > 0);
    // What is stored is the SHA-256 of the secret.
    let store = waxseal_server::store::sqlite::SqliteStore::open(&dir.path().join("waxseal.db"))
        .await
        .unwrap();
    let client = store.client_by_id(&id).await.unwrap().unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    assert_eq!(&client.secret_hash[..], digest.as_ref());
    assert!(!format!("{client:?}").contains(&secret));
}

#[tokio::test]
async fn password_grant_issues_no_refresh_token_to_a_client_without_the_refresh_token_grant() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("ivy", &["a"]).await;
    let (id, secret) = server.add_client("no-refresh", &[Password], &["a"]).await;
    let auth = basic(&id, &secret);
    let grant = [
        ("grant_type", "password"),
        ("username", "ivy"),
        ("password", PASSWORD),
    ];
    let r = server.oauth(TOKEN, Some(&auth), &grant).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_no_store(&r);
    assert!(
        r.body.get("refresh_token").is_none(),
        "RFC 6749 §4.3.3: no refresh token the client could never use: {r:?}"
    );
    assert_eq!(
        (r.body["token_type"].as_str(), r.body["scope"].as_str()),
        (Some("Bearer"), Some("a"))
    );
    // A session that ends with its access token, so ending the user's sessions ends the token at once.
    assert_eq!(
        common::db::scalar(
            dir.path(),
            "SELECT expires_at - created_at FROM token_families"
        )
        .await,
        900
    );
    let access = str_of(&r, "access_token").to_owned();
    let (status, _, me) = server.get_with("/api/me", &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["client_id"].as_str(), me["scope"].as_str()),
        (Some(id.as_str()), Some("a"))
    );
    assert!(me["sid"].is_string(), "{me}");
    let r = server
        .oauth(INTROSPECT, Some(&auth), &[("token", &access)])
        .await;
    assert_eq!(
        (r.body["active"].as_bool(), r.body["username"].as_str()),
        (Some(true), Some("ivy")),
        "{r:?}"
    );

    // The user's sessions ending ends this token too.
    server.service.set_user_disabled("ivy", true).await.unwrap();
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    common::assert_invalid_token(status, challenge.as_deref(), "revoked");
    server.stop().await;
}
