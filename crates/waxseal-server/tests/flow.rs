//! The auth flow seen from outside: real HTTP on loopback, a real SQLite file in a temporary directory; the flows that
//! depend most on the store also on a fresh PostgreSQL database (`on_both_backends!` at the end).
// The bodies shared by the SQLite and PostgreSQL variants are plain functions, not `#[test]`s.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Backing, PASSWORD, TestClock, TestServer, assert_invalid_token, tokens};
use serde_json::{Value, json};

async fn whole_flow_login_me_refresh_logout(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    server
        .add_user("alice", &["read:orders", "write:orders"])
        .await;

    let (status, body) = server.login("alice", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 7 * 24 * 3600);
    let (access, refresh) = tokens(&body);

    let (status, _, me) = server.get_with("/api/me", &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["iss"], "http://127.0.0.1:8080");
    assert_eq!(me["aud"], "waxseal-api");
    assert_eq!(me["client_id"], "waxseal-login");
    assert_eq!(me["scope"], "read:orders write:orders");
    for claim in ["sub", "exp", "iat", "jti", "sid"] {
        assert!(!me[claim].is_null(), "{claim} missing from {me}");
    }
    let header = waxseal::jwt::decode_unverified(&access).unwrap();
    assert_eq!(header.header["typ"], "at+jwt");
    let (status, _, protected) = server.get_with("/api/protected", &access).await;
    assert_eq!((status, &protected), (200, &me));

    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 200, "{body}");
    let (access2, refresh2) = tokens(&body);
    assert_ne!(refresh2, refresh);
    let (status, _, me2) = server.get_with("/api/me", &access2).await;
    assert_eq!(status, 200);
    assert_eq!(me2["sid"], me["sid"], "a refresh stays in the session");
    assert_eq!(me2["sub"], me["sub"]);
    assert_ne!(me2["jti"], me["jti"]);

    assert_eq!(
        server
            .logout(&access2, Some(json!({"refresh_token": refresh2})), false)
            .await,
        204
    );
    let (status, challenge, _) = server.get_with("/api/me", &access2).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    // The session is gone: the older access token of the same session and its refresh token are dead too.
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    assert_eq!(server.refresh(&refresh2).await.0, 401);
    server.stop().await;
}

async fn refresh_rotates_and_consumes_the_old_token(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    server.add_user("bob", &[]).await;
    let (_, refresh) = server.login_ok("bob").await;
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 200);
    let (_, refresh2) = tokens(&body);
    let (status, body) = server.refresh(&refresh2).await;
    assert_eq!(status, 200, "the successor is usable once: {body}");
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_grant");
    server.stop().await;
}

async fn reused_refresh_token_revokes_the_family(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    server.add_user("carol", &[]).await;
    let (access1, refresh1) = server.login_ok("carol").await;
    // Another session of the same user must survive the theft response.
    let (other_access, other_refresh) = server.login_ok("carol").await;

    let (status, body) = server.refresh(&refresh1).await;
    assert_eq!(status, 200);
    let (access2, refresh2) = tokens(&body);

    // The thief (or the victim) presents the consumed token: 401, and the whole family dies.
    let (status, body) = server.refresh(&refresh1).await;
    common::assert_reuse_refused(status, &body);
    assert_eq!(
        server.refresh(&refresh2).await.0,
        401,
        "the successor is revoked"
    );
    for access in [&access1, &access2] {
        let (status, challenge, _) = server.get_with("/api/me", access).await;
        assert_invalid_token(status, challenge.as_deref(), "revoked");
    }
    assert_eq!(server.get_with("/api/me", &other_access).await.0, 200);
    assert_eq!(server.refresh(&other_refresh).await.0, 200);
    server.stop().await;
}

async fn fifty_concurrent_refreshes_of_one_token_yield_exactly_one_success(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    server.add_user("dave", &[]).await;
    let (_, refresh) = server.login_ok("dave").await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = server.client.clone();
        let url = server.at("/refresh");
        let body = json!({"refresh_token": refresh});
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 401),
        "{statuses:?}"
    );
    server.stop().await;
}

async fn restart_keeps_users_sessions_revocations_and_signing_key(backing: Backing) {
    let clock = TestClock::new();
    let server = backing.start(clock.clone()).await;
    server.add_user("erin", &[]).await;
    let kid = server.service.signing_kid();
    let (live_access, live_refresh) = server.login_ok("erin").await;
    let (dead_access, _) = server.login_ok("erin").await;
    assert_eq!(server.logout(&dead_access, None, false).await, 204);
    let (stolen_access, stolen_refresh) = server.login_ok("erin").await;
    let (_, _) = tokens(&server.refresh(&stolen_refresh).await.1);
    assert_eq!(server.refresh(&stolen_refresh).await.0, 401);
    let jwks_before = server.get_text("/.well-known/jwks.json").await;
    server.stop().await;

    let server = backing.start(clock).await;
    assert_eq!(
        server.service.signing_kid(),
        kid,
        "the signing key survives a restart"
    );
    let jwks_after = server.get_text("/.well-known/jwks.json").await;
    assert_eq!(jwks_before, jwks_after);
    assert_eq!(
        server.get_with("/api/me", &live_access).await.0,
        200,
        "tokens stay valid"
    );
    let (status, challenge, _) = server.get_with("/api/me", &dead_access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    let (status, challenge, _) = server.get_with("/api/me", &stolen_access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    assert_eq!(
        server.refresh(&live_refresh).await.0,
        200,
        "sessions survive"
    );
    assert_eq!(server.login("erin", PASSWORD).await.0, 200, "users survive");
    server.stop().await;
}

#[tokio::test]
async fn unknown_user_wrong_password_and_disabled_user_are_indistinguishable() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("frank", &[]).await;
    server.add_user("grace", &[]).await;
    server
        .service
        .set_user_disabled("grace", true)
        .await
        .unwrap();

    let mut responses = Vec::new();
    let mut timings = Vec::new();
    for (name, password) in [
        ("nobody", PASSWORD),
        ("frank", "wrong password"),
        ("grace", PASSWORD),
    ] {
        // The fastest of five: scheduling noise only ever adds time.
        let mut fastest = Duration::MAX;
        for _ in 0..5 {
            let started = std::time::Instant::now();
            responses.push(server.login(name, password).await);
            fastest = fastest.min(started.elapsed());
        }
        timings.push(fastest);
    }
    assert_eq!(responses[0].0, 401);
    assert!(
        responses.iter().all(|r| *r == responses[0]),
        "{responses:?}"
    );
    assert_eq!(responses[0].1["error"], "invalid_credentials");
    // Every path runs one argon2id verification; without the dummy hash an unknown user answers in microseconds.
    // One-sided on purpose: load on a shared machine can only slow a sample down, never speed one up, so "the
    // unknown user is not much faster than the fastest known one" cannot fail by bad luck.
    let known = timings[1].min(timings[2]);
    assert!(
        timings[0] * 3 > known,
        "an unknown user answers too fast: {timings:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_4xx_never_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("heidi", &[]).await;
    let (access, _) = server.login_ok("heidi").await;
    let post = |path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = server.client.post(server.at(path)).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request
    };
    let json = Some("application/json");
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "malformed JSON",
            post("/login", json, b"{\"username\": ".to_vec()),
            400,
        ),
        (
            "not an object",
            post("/login", json, b"[1,2]".to_vec()),
            400,
        ),
        (
            "missing field",
            post("/login", json, br#"{"username":"heidi"}"#.to_vec()),
            400,
        ),
        (
            "unknown field",
            post(
                "/login",
                json,
                format!(r#"{{"username":"heidi","password":"{PASSWORD}","admin":true}}"#)
                    .into_bytes(),
            ),
            400,
        ),
        (
            "wrong type",
            post("/login", json, br#"{"username":1,"password":2}"#.to_vec()),
            400,
        ),
        (
            "form body",
            post(
                "/login",
                Some("application/x-www-form-urlencoded"),
                b"username=heidi&password=x".to_vec(),
            ),
            415,
        ),
        ("no content type", post("/login", None, b"{}".to_vec()), 415),
        (
            "huge body",
            post("/login", json, vec![b' '; 1024 * 1024]),
            413,
        ),
        (
            "refresh unknown field",
            post("/refresh", json, br#"{"refresh_token":"x","y":1}"#.to_vec()),
            400,
        ),
        (
            "refresh garbage token",
            post(
                "/refresh",
                json,
                br#"{"refresh_token":"not-a-token"}"#.to_vec(),
            ),
            401,
        ),
        (
            "refresh huge token",
            post(
                "/refresh",
                json,
                format!(r#"{{"refresh_token":"{}"}}"#, "A".repeat(15000)).into_bytes(),
            ),
            401,
        ),
        (
            "logout without token",
            post("/logout", None, Vec::new()),
            401,
        ),
        (
            "logout bad body",
            post("/logout", json, b"{".to_vec()).bearer_auth(&access),
            400,
        ),
        (
            "logout form body",
            post("/logout", Some("text/plain"), b"x".to_vec()).bearer_auth(&access),
            415,
        ),
        (
            "logout bad query",
            post("/logout?all=maybe", None, Vec::new()).bearer_auth(&access),
            400,
        ),
        (
            "GET on POST route",
            server.client.get(server.at("/login")),
            405,
        ),
        ("unknown path", server.client.get(server.at("/nope")), 404),
        (
            "garbage bearer",
            server.client.get(server.at("/api/me")).bearer_auth("a.b.c"),
            401,
        ),
        (
            "huge bearer",
            server
                .client
                .get(server.at("/api/me"))
                .bearer_auth("x".repeat(12000)),
            401,
        ),
        (
            "empty bearer",
            server
                .client
                .get(server.at("/api/me"))
                .header("authorization", "Bearer "),
            401,
        ),
        (
            "basic auth",
            server
                .client
                .get(server.at("/api/me"))
                .basic_auth("heidi", Some(PASSWORD)),
            401,
        ),
    ];
    for (name, request, expected) in cases {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{name}: {text}");
        if status != 405 {
            let body: Value =
                serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: not JSON: {text}"));
            assert!(body["error"].is_string(), "{name}: {body}");
            assert!(
                text.len() < 400,
                "{name}: error bodies are short and never echo input: {text}"
            );
        }
    }
    // Still alive and well after all that.
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn missing_token_gets_a_challenge_without_an_error_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let response = server
        .client
        .get(server.at("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    // RFC 6750 §3.1: no error code when no token was sent. The protected routes also take DPoP-bound tokens, so
    // the DPoP challenge (RFC 9449 §7.1) follows with the proof algorithms, also without an error code.
    let (bearer, dpop) = challenge
        .split_once(", DPoP ")
        .expect("a Bearer and a DPoP challenge");
    assert_eq!(bearer, "Bearer realm=\"waxseal\"");
    assert!(
        dpop.starts_with("realm=\"waxseal\", algs=\""),
        "{challenge}"
    );
    assert!(
        dpop.contains("ES256") && !dpop.contains("HS256"),
        "{challenge}"
    );
    assert!(!challenge.contains("error="), "{challenge}");
    server.stop().await;
}

#[tokio::test]
async fn access_token_expires_with_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("ivan", &[]).await;
    let (access, refresh) = server.login_ok("ivan").await;
    clock.advance(Duration::from_secs(14 * 60));
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    clock.advance(Duration::from_secs(2 * 60 + 1)); // past exp and the 60 s leeway
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    assert_invalid_token(status, challenge.as_deref(), "expired");
    // The refresh token is still good and brings a working access token.
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 200);
    assert_eq!(server.get_with("/api/me", &tokens(&body).0).await.0, 200);
    server.stop().await;
}

async fn refresh_token_idle_and_absolute_limits_end_sessions(backing: Backing) {
    let clock = TestClock::new();
    let server = backing.start(clock.clone()).await;
    server.add_user("judy", &[]).await;
    let day = Duration::from_secs(24 * 3600);

    // Idle: unused for more than 7 days.
    let (_, idle) = server.login_ok("judy").await;
    clock.advance(7 * day + Duration::from_secs(1));
    let (status, body) = server.refresh(&idle).await;
    assert_eq!(status, 401);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    // Absolute: used every 6 days, the session still ends 30 days after login.
    let (_, mut refresh) = server.login_ok("judy").await;
    for days in [6, 12, 18, 24] {
        clock.advance(6 * day);
        let (status, body) = server.refresh(&refresh).await;
        assert_eq!(status, 200, "{body}");
        // The idle limit, clamped to what is left of the 30 days.
        let left: u64 = (30 - days).min(7);
        assert_eq!(body["refresh_expires_in"], left * 24 * 3600);
        refresh = tokens(&body).1;
    }
    clock.advance(5 * day); // day 29: the last refresh token lives only until day 30
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_expires_in"], 24 * 3600);
    refresh = tokens(&body).1;
    clock.advance(day); // day 30
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 401);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    server.stop().await;
}

async fn logout_all_ends_every_session(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    server.add_user("mallory", &[]).await;
    server.add_user("niaj", &[]).await;
    let (a1, r1) = server.login_ok("mallory").await;
    let (a2, r2) = server.login_ok("mallory").await;
    let (other, _) = server.login_ok("niaj").await;
    assert_eq!(server.logout(&a1, None, true).await, 204);
    for access in [&a1, &a2] {
        let (status, challenge, _) = server.get_with("/api/me", access).await;
        assert_invalid_token(status, challenge.as_deref(), "revoked");
    }
    assert_eq!(server.refresh(&r1).await.0, 401);
    assert_eq!(server.refresh(&r2).await.0, 401);
    assert_eq!(
        server.get_with("/api/me", &other).await.0,
        200,
        "other users are untouched"
    );
    // A new login works at once.
    let (fresh, _) = server.login_ok("mallory").await;
    assert_eq!(server.get_with("/api/me", &fresh).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn issued_tokens_verify_against_the_served_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("olivia", &[]).await;
    let (access, _) = server.login_ok("olivia").await;
    let response = server
        .client
        .get(server.at("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.starts_with("public, max-age="), "{cache}");
    let jwks = response.text().await.unwrap();
    assert!(!jwks.contains("\"d\""), "no private members: {jwks}");
    // The set holds the signing key and the RS256 key of ID tokens, in no promised order.
    let document: Value = serde_json::from_str(&jwks).unwrap();
    let kid = server.service.signing_kid();
    let signing = document["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("the signing key {kid} is published: {jwks}"));
    let published = waxseal::Jwk::from_json(&signing.to_string()).unwrap();
    assert_eq!(
        published.thumbprint().unwrap(),
        kid,
        "kid is the RFC 7638 thumbprint"
    );
    let keys = waxseal::KeySet::from_jwks(&jwks).unwrap();
    assert!(keys.keys().iter().any(|k| k.kid() == Some(kid.as_str())));
    let claims = waxseal::jwt::Verifier::new(keys)
        .issuer("http://127.0.0.1:8080")
        .audience("waxseal-api")
        .typ("at+jwt")
        .verify::<Value>(&access)
        .unwrap();
    assert_eq!(claims.custom["client_id"], "waxseal-login");
    assert_eq!(
        server
            .client
            .get(server.at("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    server.stop().await;
}

on_both_backends!(
    whole_flow_login_me_refresh_logout,
    refresh_rotates_and_consumes_the_old_token,
    reused_refresh_token_revokes_the_family,
    fifty_concurrent_refreshes_of_one_token_yield_exactly_one_success,
    restart_keeps_users_sessions_revocations_and_signing_key,
    refresh_token_idle_and_absolute_limits_end_sessions,
    logout_all_ends_every_session,
);
