//! Signing keys: the configured algorithm, publish-before-sign rotation (manual, scheduled, on an algorithm change,
//! by another process), retirement after the last token expires, HMAC only when allowed and never published; the
//! RS256 series of ID-token keys beside the configured one, rotated by the same rules.

mod common;

use std::time::{Duration, Instant};

use common::{TestClock, TestServer, config};
use serde_json::Value;
use waxseal::jwt::{Verifier, decode_unverified};
use waxseal::{Algorithm, KeySet};
use waxseal_server::{
    Config, ErrorKind, KeyState, RETIRED_KEY_PUBLISHED_FOR, Server, publish_delay,
};

/// The header's `alg` and `kid`.
fn alg_and_kid(token: &str) -> (String, String) {
    let header = decode_unverified(token).expect("decodes").header;
    let member = |name: &str| header[name].as_str().expect(name).to_owned();
    assert_eq!(member("typ"), "at+jwt");
    (member("alg"), member("kid"))
}

async fn served_jwks(server: &TestServer) -> String {
    server
        .client
        .get(server.at("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks fetched")
        .text()
        .await
        .expect("jwks body")
}

/// The published kids of the configured algorithm's series (on a server not configured for RS256: every key but
/// the RS256 keys of ID tokens).
fn published_kids(jwks: &str) -> Vec<String> {
    published_kids_of(jwks, |alg| alg != "RS256")
}

fn published_kids_of(jwks: &str, alg: impl Fn(&str) -> bool) -> Vec<String> {
    let doc: Value = serde_json::from_str(jwks).expect("jwks is JSON");
    doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| alg(k["alg"].as_str().expect("alg")))
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// The stored keys of `alg`'s series ("RS256" or not), in the store's order.
async fn keys_of(server: &TestServer, rs256: bool) -> Vec<waxseal_server::KeyInfo> {
    server
        .service
        .list_keys()
        .await
        .expect("list")
        .into_iter()
        .filter(|k| (k.alg == "RS256") == rs256)
        .collect()
}

/// Logs alice in and returns the access token.
async fn access_token(server: &TestServer) -> String {
    server.login_ok("alice").await.0
}

async fn accepted(server: &TestServer, token: &str) -> bool {
    server.get_with("/api/me", token).await.0 == 200
}

#[tokio::test]
async fn each_configured_algorithm_signs_tokens_that_verify_against_the_served_jwks() {
    for alg in [
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES384,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TestServer::start_with(
            Config {
                signing_alg: alg,
                ..config(dir.path())
            },
            TestClock::new(),
        )
        .await;
        server.add_user("alice", &[]).await;
        let token = access_token(&server).await;
        let (token_alg, kid) = alg_and_kid(&token);
        assert_eq!(token_alg, alg.to_string());
        assert_eq!(kid, server.service.signing_kid());
        let jwks = served_jwks(&server).await;
        let everything = published_kids_of(&jwks, |_| true);
        if alg == Algorithm::RS256 {
            assert_eq!(everything, [kid], "one series serves both");
        } else {
            let rs256 = published_kids_of(&jwks, |a| a == "RS256");
            assert_eq!(rs256.len(), 1, "{alg}: the RS256 key of ID tokens");
            assert_eq!(everything.len(), 2, "{alg}: {everything:?}");
            assert!(everything.contains(&kid));
        }
        let claims = Verifier::new(KeySet::from_jwks(&jwks).expect("jwks parses"))
            .audience("waxseal-api")
            .verify::<Value>(&token)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(
            claims.registered.iss.as_deref(),
            Some("http://127.0.0.1:8080")
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn hmac_signing_needs_an_explicit_allowance_and_the_secret_is_never_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hs = Config {
        signing_alg: Algorithm::HS256,
        ..config(dir.path())
    };
    let err = Server::open_with_clock(hs.clone(), TestClock::new())
        .await
        .expect_err("HS256 without the allowance is refused");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("--allow-symmetric-signing"), "{err}");

    let server = TestServer::start_with(
        Config {
            allow_symmetric_signing: true,
            ..hs
        },
        TestClock::new(),
    )
    .await;
    server.add_user("alice", &[]).await;
    let token = access_token(&server).await;
    assert_eq!(alg_and_kid(&token).0, "HS256");
    assert!(accepted(&server, &token).await);
    let jwks = served_jwks(&server).await;
    assert!(published_kids(&jwks).is_empty(), "{jwks}");
    assert!(!jwks.contains("\"oct\""), "{jwks}");
    assert_eq!(
        published_kids_of(&jwks, |_| true).len(),
        1,
        "only the RS256 key of ID tokens: {jwks}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_and_unpublished_after_its_last_token_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let old_token = access_token(&server).await;
    let (_, old_kid) = alg_and_kid(&old_token);

    let new = server.service.rotate_keys(None).await.expect("rotated");
    assert_eq!(new.alg, "ES256");
    assert_eq!(new.state, KeyState::Pending);
    assert_eq!(
        published_kids(&served_jwks(&server).await),
        [old_kid.clone(), new.kid.clone()],
        "the new key is published at once"
    );
    assert_eq!(
        alg_and_kid(&access_token(&server).await).1,
        old_kid,
        "but does not sign before JWKS caches can have seen it"
    );
    let again = server.service.rotate_keys(None).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");

    clock.advance(publish_delay(server.service.config()));
    server.service.reload_keys().await.expect("reload");
    let new_token = access_token(&server).await;
    assert_eq!(alg_and_kid(&new_token).1, new.kid);
    assert!(accepted(&server, &new_token).await);
    assert!(
        accepted(&server, &old_token).await,
        "tokens of the retired key still verify"
    );
    let states: Vec<KeyState> = keys_of(&server, false)
        .await
        .iter()
        .map(|k| k.state)
        .collect();
    assert!(
        matches!(states[..], [KeyState::Retired { .. }, KeyState::Active]),
        "{states:?}"
    );

    clock.advance(RETIRED_KEY_PUBLISHED_FOR.saturating_sub(Duration::from_secs(1)));
    server.service.reload_keys().await.expect("reload");
    assert_eq!(published_kids(&served_jwks(&server).await).len(), 2);
    clock.advance(Duration::from_secs(1));
    server.service.reload_keys().await.expect("reload");
    assert_eq!(
        published_kids(&served_jwks(&server).await),
        std::slice::from_ref(&new.kid)
    );
    let kept: Vec<String> = keys_of(&server, false)
        .await
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(
        kept,
        [new.kid],
        "the retired key's row (and private key) is deleted"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_key_rotated_to_sign_at_once_signs_even_in_the_second_the_previous_key_began() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    // Each rotation lands in the second its predecessor began signing; before keys were ordered strictly, the
    // random kid decided which of the two signed, so one of these rounds would keep the old key.
    for round in 0..8 {
        let new = server
            .service
            .rotate_keys_signing_after(None, Duration::ZERO)
            .await
            .expect("rotated");
        let waited = new
            .activates_at
            .saturating_sub(waxseal_server::Clock::now(&*clock).secs());
        assert!(waited <= 1, "round {round}: signs {waited} s from now");
        clock.advance(Duration::from_secs(waited));
        server.service.reload_keys().await.expect("reload");
        assert_eq!(
            alg_and_kid(&access_token(&server).await).1,
            new.kid,
            "round {round}: the key rotated to sign at once does not sign"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn changing_the_algorithm_rotates_with_the_new_key_published_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let es256_token = access_token(&server).await;
    server.stop().await;

    let eddsa = Config {
        signing_alg: Algorithm::EdDSA,
        ..config(dir.path())
    };
    let server = TestServer::start_with(eddsa.clone(), clock.clone()).await;
    assert_eq!(published_kids(&served_jwks(&server).await).len(), 2);
    assert_eq!(alg_and_kid(&access_token(&server).await).0, "ES256");
    clock.advance(publish_delay(&eddsa));
    server.service.manage_keys().await.expect("maintenance");
    assert_eq!(alg_and_kid(&access_token(&server).await).0, "EdDSA");
    assert!(accepted(&server, &es256_token).await);
    // Another start with the same setting changes nothing.
    server.stop().await;
    let server = TestServer::start_with(eddsa, clock.clone()).await;
    assert_eq!(keys_of(&server, false).await.len(), 2);
    assert_eq!(
        keys_of(&server, true).await.len(),
        1,
        "the RS256 series is not rotated by a change of the other series' algorithm"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_change_between_hmac_and_public_keys_keeps_both_kinds_of_token_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let hs = Config {
        signing_alg: Algorithm::HS256,
        allow_symmetric_signing: true,
        ..config(dir.path())
    };
    let server = TestServer::start_with(hs, clock.clone()).await;
    server.add_user("alice", &[]).await;
    let hs_token = access_token(&server).await;
    server.stop().await;

    let server = TestServer::start(dir.path(), clock.clone()).await;
    clock.advance(publish_delay(server.service.config()));
    server.service.manage_keys().await.expect("maintenance");
    let es_token = access_token(&server).await;
    assert_eq!(alg_and_kid(&es_token).0, "ES256");
    assert!(accepted(&server, &es_token).await);
    assert!(accepted(&server, &hs_token).await);
    assert_eq!(published_kids(&served_jwks(&server).await).len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn scheduled_rotation_publishes_the_next_key_ahead_and_signs_with_it_on_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let day = Duration::from_secs(24 * 60 * 60);
    let daily = Config {
        key_rotation_interval: Some(day),
        ..config(dir.path())
    };
    let delay = publish_delay(&daily);
    let server = TestServer::start_with(daily, clock.clone()).await;
    let first = keys_of(&server, false).await[0].clone();
    let first_rs256 = keys_of(&server, true).await[0].clone();

    clock.advance(day.saturating_sub(delay + Duration::from_secs(1)));
    server.service.manage_keys().await.expect("maintenance");
    assert_eq!(server.service.list_keys().await.expect("list").len(), 2);

    clock.advance(Duration::from_secs(1));
    for _ in 0..3 {
        server.service.manage_keys().await.expect("maintenance");
    }
    // Each series rotates on its own schedule: one key scheduled in each.
    for (rs256, first) in [(false, &first), (true, &first_rs256)] {
        let keys = keys_of(&server, rs256).await;
        assert_eq!(keys.len(), 2, "exactly one key scheduled: {keys:?}");
        assert_eq!(keys[0].kid, first.kid);
        assert_eq!(keys[1].state, KeyState::Pending);
        assert_eq!(keys[1].activates_at, first.activates_at + day.as_secs());
    }
    assert_eq!(server.service.signing_kid(), first.kid);
    let next = keys_of(&server, false).await[1].clone();
    let next_rs256 = keys_of(&server, true).await[1].clone();

    clock.advance(delay);
    server.service.manage_keys().await.expect("maintenance");
    assert_eq!(server.service.signing_kid(), next.kid);
    let states: Vec<KeyState> = keys_of(&server, true)
        .await
        .iter()
        .map(|k| k.state)
        .collect();
    assert!(
        matches!(states[..], [KeyState::Retired { .. }, KeyState::Active]),
        "the RS256 key of ID tokens rotated as well: {states:?}"
    );
    assert_eq!(keys_of(&server, true).await[1].kid, next_rs256.kid);
    server.stop().await;
}

#[tokio::test]
async fn a_key_rotated_by_another_process_reaches_the_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    let admin = Server::open_admin_with_clock(config(dir.path()), clock.clone())
        .await
        .expect("admin opens");
    let new = admin.service().rotate_keys(None).await.expect("rotated");
    admin.close().await;
    let started = Instant::now();
    while !published_kids(&served_jwks(&server).await).contains(&new.kid) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the running server did not publish the key rotated by another process"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn an_admin_command_never_creates_or_rotates_a_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let admin = Server::open_admin_with_clock(
        Config {
            signing_alg: Algorithm::EdDSA,
            ..config(dir.path())
        },
        clock.clone(),
    )
    .await
    .expect("admin opens");
    assert!(admin.service().list_keys().await.expect("list").is_empty());
    admin
        .service()
        .add_user("alice", common::PASSWORD, &[])
        .await
        .expect("user added");
    let err = admin
        .service()
        .login("alice", common::PASSWORD, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("waxseal serve"), "{err}");
    admin.close().await;

    // The server then creates the first key, of its configured algorithm, signing at once.
    let server = TestServer::start(dir.path(), clock).await;
    assert_eq!(alg_and_kid(&access_token(&server).await).0, "ES256");
    server.stop().await;
}

#[tokio::test]
async fn the_rs256_series_rotates_by_hand_on_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    let signing = server.service.signing_kid();
    let rs256 = server
        .service
        .rotate_keys(Some(Algorithm::RS256))
        .await
        .expect("rotated");
    assert_eq!(
        (rs256.alg.as_str(), rs256.state),
        ("RS256", KeyState::Pending)
    );
    assert!(
        published_kids_of(&served_jwks(&server).await, |a| a == "RS256").contains(&rs256.kid),
        "published before it signs"
    );
    let again = server
        .service
        .rotate_keys(Some(Algorithm::RS256))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
    // The other series has nothing waiting: it rotates too.
    let es256 = server.service.rotate_keys(None).await.expect("rotated");
    assert_eq!(es256.alg, "ES256");

    clock.advance(publish_delay(server.service.config()));
    server.service.reload_keys().await.expect("reload");
    assert_eq!(server.service.signing_kid(), es256.kid);
    assert_ne!(signing, es256.kid);
    for rs256_series in [false, true] {
        let states: Vec<KeyState> = keys_of(&server, rs256_series)
            .await
            .iter()
            .map(|k| k.state)
            .collect();
        assert!(
            matches!(states[..], [KeyState::Retired { .. }, KeyState::Active]),
            "{states:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_change_from_rs256_keeps_the_rs256_key_signing_until_the_new_series_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let rs = Config {
        signing_alg: Algorithm::RS256,
        ..config(dir.path())
    };
    let server = TestServer::start_with(rs, clock.clone()).await;
    server.add_user("alice", &[]).await;
    assert_eq!(
        server.service.list_keys().await.expect("list").len(),
        1,
        "RS256 configured: one series serves access and ID tokens"
    );
    let rs_token = access_token(&server).await;
    server.stop().await;

    let server = TestServer::start(dir.path(), clock.clone()).await;
    assert_eq!(
        alg_and_kid(&access_token(&server).await).0,
        "RS256",
        "the new series' first key waits out the publish delay"
    );
    clock.advance(publish_delay(server.service.config()));
    server.service.manage_keys().await.expect("maintenance");
    let es_token = access_token(&server).await;
    assert_eq!(alg_and_kid(&es_token).0, "ES256");
    assert!(accepted(&server, &rs_token).await);
    assert!(accepted(&server, &es_token).await);
    let rs256 = keys_of(&server, true).await;
    assert_eq!(rs256.len(), 1, "the RS256 key goes on, for ID tokens");
    assert_eq!(rs256[0].state, KeyState::Active);
    server.stop().await;
}

#[tokio::test]
async fn a_change_to_rs256_signs_with_the_published_rs256_key_and_keeps_the_old_key_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let es_token = access_token(&server).await;
    let rs256_kid = keys_of(&server, true).await[0].kid.clone();
    server.stop().await;

    let server = TestServer::start_with(
        Config {
            signing_alg: Algorithm::RS256,
            ..config(dir.path())
        },
        clock.clone(),
    )
    .await;
    // Published since the first start, so it may sign at once.
    let rs_token = access_token(&server).await;
    assert_eq!(alg_and_kid(&rs_token), ("RS256".to_owned(), rs256_kid));
    assert!(accepted(&server, &es_token).await, "the ES256 key's tokens");
    // The time the ES256 key stopped signing is not stored, so it is never taken for expired: it stays published
    // (the operator withdraws it with `waxseal keys revoke` once its tokens have expired, as the log says).
    clock.advance(RETIRED_KEY_PUBLISHED_FOR);
    server.service.manage_keys().await.expect("maintenance");
    assert_eq!(published_kids(&served_jwks(&server).await).len(), 1);
    assert_eq!(server.service.list_keys().await.expect("list").len(), 2);
    server.stop().await;
}
