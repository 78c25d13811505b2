//! Revoking a leaked signing key (`AuthService::revoke_key`): the key leaves the JWKS and every verifier at once,
//! its tokens are refused even when already in the verified-token cache, a fresh key signs from that moment when
//! the revoked one signed or was about to, and the key never comes back — not from an instance that still held it,
//! not from an import of an older dump. Across instances: on one database, and through Redis.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backing, TestClock, TestServer, config};
use serde_json::Value;
use waxseal::jwt::decode_unverified;
use waxseal_server::store::StoredKey;
use waxseal_server::{AuthService, Config, ErrorKind, KeyState, SecretUrl, Server, transfer};
use waxseal_testkit::redis::{shared_redis, unique_prefix};

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    decode_unverified(token).expect("decodes").header["kid"]
        .as_str()
        .expect("a kid")
        .to_owned()
}

/// The published kids of the configured algorithm's series: the RS256 key of ID tokens beside it is another
/// series, which these tests leave alone (but for the one that revokes it).
fn published_kids(jwks: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(jwks).expect("jwks is JSON");
    doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["alg"] != "RS256")
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

async fn served_kids(server: &TestServer) -> Vec<String> {
    published_kids(&server.get_text("/.well-known/jwks.json").await)
}

async fn me(server: &TestServer, token: &str) -> u16 {
    server.get_with("/api/me", token).await.0
}

/// Logs alice in and checks the token is accepted twice, the second time from the verified-token cache.
async fn cached_token(server: &TestServer) -> String {
    let (access, _) = server.login_ok("alice").await;
    assert_eq!(me(server, &access).await, 200);
    assert_eq!(me(server, &access).await, 200);
    assert!(
        server.service.verified_tokens_cached() >= 1,
        "the token is in the verified-token cache"
    );
    access
}

/// The keys of the configured algorithm's series (not the RS256 series of ID tokens) and their states.
async fn states(service: &AuthService) -> Vec<(String, KeyState)> {
    service
        .list_keys()
        .await
        .expect("keys listed")
        .into_iter()
        .filter(|k| k.alg != "RS256")
        .map(|k| (k.kid, k.state))
        .collect()
}

/// Polls `condition` every 10 ms until it holds; panics after `limit`.
async fn within<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn the_signing_key_is_replaced_at_once_and_its_cached_tokens_refused(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    server.add_user("alice", &[]).await;
    let leaked = server.service.signing_kid();
    let access = cached_token(&server).await;
    assert_eq!(kid_of(&access), leaked);

    let done = server
        .service
        .revoke_key(&leaked, None)
        .await
        .expect("revoked");
    assert_eq!(done.revoked.kid, leaked);
    assert!(matches!(done.revoked.state, KeyState::Revoked { .. }));
    assert!(!done.announced, "no Redis, no announcement");
    let fresh = done
        .replacement
        .expect("a fresh key replaces the signing key");
    assert_ne!(fresh.kid, leaked);
    assert_eq!(fresh.alg, "ES256", "the algorithm in use");
    assert_eq!(fresh.state, KeyState::Active, "it signs at once");

    // No waiting: the revoking process has switched keys before revoke_key returned.
    assert_eq!(
        me(&server, &access).await,
        401,
        "the cached token is refused"
    );
    assert!(server.service.verify_access(&access).is_err());
    assert_eq!(server.service.verified_tokens_cached(), 0);
    assert_eq!(served_kids(&server).await, std::slice::from_ref(&fresh.kid));
    assert_eq!(server.service.signing_kid(), fresh.kid);
    let (new_access, _) = server.login_ok("alice").await;
    assert_eq!(kid_of(&new_access), fresh.kid);
    assert_eq!(me(&server, &new_access).await, 200);
    // The refresh token is opaque, not signed: the session goes on with tokens of the fresh key.
    let listed = states(&server.service).await;
    assert!(
        matches!(&listed[..], [(active, KeyState::Active), (revoked, KeyState::Revoked { .. })]
            if *active == fresh.kid && *revoked == leaked),
        "{listed:?}"
    );
    server.stop().await;
}

async fn a_retired_key_goes_and_the_signing_key_stays(backing: Backing) {
    let clock = TestClock::new();
    let server = backing.start(clock.clone()).await;
    server.add_user("alice", &[]).await;
    let old = server.service.signing_kid();
    let old_access = cached_token(&server).await;
    let current = server
        .service
        .rotate_keys_signing_after(None, Duration::ZERO)
        .await
        .expect("rotated");
    // It signs from the second after the first key's activation.
    clock.advance(Duration::from_secs(1));
    server.service.reload_keys().await.expect("reload");
    assert_eq!(server.service.signing_kid(), current.kid);
    assert_eq!(me(&server, &old_access).await, 200, "retired, still valid");
    let current_access = cached_token(&server).await;

    let done = server
        .service
        .revoke_key(&old, None)
        .await
        .expect("revoked");
    assert_eq!(done.replacement, None, "the signing key was not touched");
    assert_eq!(server.service.signing_kid(), current.kid);
    assert_eq!(me(&server, &old_access).await, 401);
    assert_eq!(me(&server, &current_access).await, 200);
    assert_eq!(served_kids(&server).await, [current.kid]);
    server.stop().await;
}

#[tokio::test]
async fn revoking_the_key_waiting_to_sign_puts_a_fresh_key_in_its_place_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    let first = server.service.signing_kid();
    let pending = server.service.rotate_keys(None).await.expect("rotated");
    assert_eq!(pending.state, KeyState::Pending);
    // Not in the second the first key was made: a key made then would share its times and, by kid order, might
    // sort before it (revoke_key makes the fresh key wait one second then).
    clock.advance(Duration::from_secs(2));

    let done = server
        .service
        .revoke_key(&pending.kid, None)
        .await
        .expect("revoked");
    let fresh = done.replacement.expect("a fresh key");
    assert_eq!(fresh.state, KeyState::Active);
    assert_eq!(server.service.signing_kid(), fresh.kid);
    let published = served_kids(&server).await;
    assert!(
        !published.contains(&pending.kid) && published.contains(&fresh.kid),
        "{published:?}"
    );
    assert!(
        published.contains(&first),
        "the healthy key stays published for its tokens"
    );
    server.stop().await;
}

#[tokio::test]
async fn revoking_the_rs256_key_of_id_tokens_replaces_it_with_an_rs256_key_and_leaves_the_signing_key()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let signing = server.service.signing_kid();
    let listed = server.service.list_keys().await.expect("keys listed");
    let rs256 = listed
        .iter()
        .find(|k| k.alg == "RS256")
        .expect("an RS256 key for ID tokens beside the ES256 signing key")
        .kid
        .clone();
    assert_eq!(listed.len(), 2, "{listed:?}");

    let done = server
        .service
        .revoke_key(&rs256, None)
        .await
        .expect("revoked");
    let fresh = done.replacement.expect("a fresh RS256 key");
    assert_eq!(fresh.alg, "RS256", "its own series' algorithm");
    assert_eq!(fresh.state, KeyState::Active, "it signs at once");
    assert_eq!(
        server.service.signing_kid(),
        signing,
        "the signing key of the other series is not touched"
    );
    let jwks = server.get_text("/.well-known/jwks.json").await;
    assert!(
        !jwks.contains(&rs256) && jwks.contains(&fresh.kid) && jwks.contains(&signing),
        "{jwks}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_only_key_an_unknown_kid_and_a_second_revocation_get_clear_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let only = server.service.signing_kid();
    assert_eq!(states(&server.service).await.len(), 1);
    let before = states(&server.service).await;

    let unknown = server
        .service
        .revoke_key(&"x".repeat(10_000), None)
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::InvalidRequest, "{unknown}");
    assert!(
        unknown.message().contains("no signing key has kid")
            && unknown.message().contains("waxseal keys list"),
        "{unknown}"
    );
    assert!(
        unknown.message().len() < 200,
        "the input is not echoed whole"
    );
    let symmetric = server
        .service
        .revoke_key(&only, Some(waxseal::Algorithm::HS256))
        .await
        .unwrap_err();
    assert_eq!(symmetric.kind(), ErrorKind::Config, "{symmetric}");
    assert_eq!(
        states(&server.service).await,
        before,
        "refusals change nothing"
    );

    // The only key: revoked all the same, since a leaked key must not sign; a fresh one takes over.
    let done = server
        .service
        .revoke_key(&only, Some(waxseal::Algorithm::EdDSA))
        .await
        .expect("revoked");
    let fresh = done.replacement.expect("a fresh key");
    assert_eq!(fresh.alg, "EdDSA", "the algorithm asked for");
    let after = states(&server.service).await;

    let twice = server.service.revoke_key(&only, None).await.unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::Conflict, "{twice}");
    assert!(twice.message().contains("already revoked"), "{twice}");
    assert_eq!(states(&server.service).await, after);
    assert_eq!(server.service.signing_kid(), fresh.kid);
    server.stop().await;
}

async fn an_instance_that_held_the_key_drops_it_and_never_stores_it_again(backing: Backing) {
    let clock = TestClock::new();
    let a = backing.start(clock.clone()).await;
    a.add_user("alice", &[]).await;
    let leaked = a.service.signing_kid();
    let access = cached_token(&a).await;
    // B: a second process on the same database, which holds the key in memory and runs no reload of its own
    // until told to.
    let b = Server::open_with_clock(backing.config(), clock.clone())
        .await
        .expect("B opens");
    let b = b.service().clone();
    assert!(b.verify_access(&access).is_ok(), "B accepts the token");

    let fresh = a
        .service
        .revoke_key(&leaked, None)
        .await
        .expect("revoked")
        .replacement
        .expect("a fresh key");
    // B's key maintenance, what its serving loop runs every second, takes the revocation.
    b.manage_keys().await.expect("B's key maintenance");
    assert!(b.verify_access(&access).is_err(), "B refuses the token");
    assert!(!published_kids(&b.jwks()).contains(&leaked));
    assert_eq!(b.signing_kid(), fresh.kid);
    // A key B decided to store from a read taken before the revocation (a scheduled rotation) is refused by the
    // store instead of being written beside the keys of that stale read.
    let store = waxseal_server::open_store(&backing.config())
        .await
        .expect("store");
    let stale = StoredKey {
        kid: "stale-decision".into(),
        alg: "ES256".into(),
        encrypted_private_key: vec![0; 64],
        created_at: 0,
        activates_at: 0,
    };
    assert!(
        !store
            .insert_key_if_unchanged(&stale, std::slice::from_ref(&leaked))
            .await
            .expect("the store answers"),
        "a decision taken on the leaked key's presence is not stored"
    );
    // A scheduled rotation decided afresh adds its key, and the leaked one stays out.
    clock.advance(
        a.service
            .config()
            .key_rotation_interval
            .expect("a schedule"),
    );
    b.manage_keys().await.expect("B's key maintenance");
    let stored: Vec<String> = b
        .list_keys()
        .await
        .expect("keys")
        .into_iter()
        .filter(|k| !matches!(k.state, KeyState::Revoked { .. }) && k.alg != "RS256")
        .map(|k| k.kid)
        .collect();
    assert_eq!(
        stored.len(),
        2,
        "the fresh key and the rotated one: {stored:?}"
    );
    assert!(!stored.contains(&leaked), "{stored:?}");
    store.close().await;
    b.close().await;
    a.stop().await;
}

async fn an_import_of_a_dump_taken_before_the_revocation_is_refused(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    server.add_user("alice", &[]).await;
    let leaked = server.service.signing_kid();
    let store = waxseal_server::open_store(&backing.config())
        .await
        .expect("store");
    let before = transfer::export(store.as_ref(), 1).await.expect("export");
    server
        .service
        .revoke_key(&leaked, None)
        .await
        .expect("revoked");
    let listed = states(&server.service).await;

    let refused = transfer::import(store.as_ref(), &before, true)
        .await
        .expect_err("the older dump is refused");
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(
        refused.message().contains(&leaked) && refused.message().contains("was revoked"),
        "{refused}"
    );
    assert_eq!(states(&server.service).await, listed, "nothing changed");

    // A dump taken after the revocation carries its record: replacing everything with it keeps the key out, and
    // the record refuses the older dump there too.
    let after = transfer::export(store.as_ref(), 2).await.expect("export");
    assert_eq!(after.revoked_signing_keys.len(), 1);
    transfer::import(store.as_ref(), &after, true)
        .await
        .expect("the newer dump imports");
    assert_eq!(states(&server.service).await, listed);
    let elsewhere = Backing::sqlite();
    let target = waxseal_server::open_store(&elsewhere.config())
        .await
        .expect("target store");
    transfer::import(target.as_ref(), &after, false)
        .await
        .expect("imported into an empty database");
    let again = transfer::import(target.as_ref(), &before, true)
        .await
        .expect_err("the older dump is refused there too");
    assert!(again.message().contains("was revoked"), "{again}");
    target.close().await;
    store.close().await;
    server.stop().await;
}

on_both_backends!(
    the_signing_key_is_replaced_at_once_and_its_cached_tokens_refused,
    a_retired_key_goes_and_the_signing_key_stays,
    an_instance_that_held_the_key_drops_it_and_never_stores_it_again,
    an_import_of_a_dump_taken_before_the_revocation_is_refused,
);

/// Two instances on one database and one Redis; B runs no periodic reload (it is not serving), only its Redis
/// subscription, so the announcement is the only way it can learn of the revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_another_instance_through_redis_at_once() {
    let Some(url) = shared_redis("a_revocation_reaches_another_instance_through_redis_at_once")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let redis = |dir: &std::path::Path| Config {
        redis_url: Some(SecretUrl::new(url.clone())),
        redis_key_prefix: unique_prefix("key_revocation"),
        ..config(dir)
    };
    let a_config = redis(dir.path());
    let prefix = a_config.redis_key_prefix.clone();
    let clock = TestClock::new();
    let a = TestServer::start_with(a_config, clock.clone()).await;
    a.add_user("alice", &[]).await;
    let leaked = a.service.signing_kid();
    let access = cached_token(&a).await;

    let b = Server::open_with_clock(
        Config {
            redis_key_prefix: prefix,
            ..redis(dir.path())
        },
        clock,
    )
    .await
    .expect("B opens");
    let b = b.service().clone();
    let listener = tokio::spawn({
        let b = Arc::clone(&b);
        async move { b.listen().await }
    });
    within(Duration::from_secs(10), "B subscribed", || async {
        b.redis_state() == Some(waxseal_server::bus::BusState::Up)
    })
    .await;
    assert!(b.verify_access(&access).is_ok(), "B accepts the token");

    let done = a.service.revoke_key(&leaked, None).await.expect("revoked");
    assert!(done.announced, "announced through Redis");
    let fresh = done.replacement.expect("a fresh key").kid;
    within(Duration::from_secs(10), "B refuses the token", || async {
        b.verify_access(&access).is_err()
    })
    .await;
    assert!(!published_kids(&b.jwks()).contains(&leaked));
    assert_eq!(b.signing_kid(), fresh, "B signs with the fresh key");
    listener.abort();
    b.close().await;
    a.stop().await;
}
