//! The verified-token cache and the revocation hook through the layer: a repeated token skips verification, yet a
//! revocation, an expiry or a key change refuses it at once, and nothing that failed verification is ever cached.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{
    START, TestClock, assert_error, get_with, invalid_token, key, serve, token, verifier,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use waxseal::jwt::{Claims, Verifier};
use waxseal_axum::{
    Authenticated, BearerAuthLayer, Error, RevocationCheck, TokenVerifier, Verified,
};

/// The real verifier, counting how often the layer asks it (so a test can tell a cache hit from a verification).
#[derive(Clone)]
struct Counting {
    verifier: Verifier,
    calls: Arc<AtomicUsize>,
}

impl TokenVerifier for Counting {
    fn verify_token<T: DeserializeOwned + Send + 'static>(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Verified<T>, Error>> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.verifier.verify_token(token)
    }

    fn now(&self) -> u64 {
        TokenVerifier::now(&self.verifier)
    }
}

async fn whoami(auth: Authenticated) -> String {
    auth.subject().unwrap_or_default().to_owned()
}

struct App {
    url: String,
    key: waxseal::SigningKey,
    clock: std::sync::Arc<TestClock>,
    calls: Arc<AtomicUsize>,
    denied: Arc<RwLock<HashSet<String>>>,
    cache: Arc<waxseal_axum::VerifiedCache<Claims<Map<String, Value>>>>,
}

impl App {
    async fn start(capacity: usize) -> App {
        let key = key();
        let clock = TestClock::at(START);
        let calls = Arc::new(AtomicUsize::new(0));
        let denied: Arc<RwLock<HashSet<String>>> = Arc::default();
        let revoked = {
            let denied = denied.clone();
            move |claims: &Claims<Map<String, Value>>| {
                claims
                    .registered
                    .jti
                    .as_ref()
                    .is_some_and(|jti| denied.read().unwrap().contains(jti))
            }
        };
        let layer = BearerAuthLayer::new(Counting {
            verifier: verifier(&key, &clock),
            calls: calls.clone(),
        })
        .cache(capacity)
        .realm("test")
        .revocation(revoked);
        let cache = layer.token_cache().expect("a cache").clone();
        let url = serve(Router::new().route("/me", get(whoami)).layer(layer)).await;
        App {
            url: format!("{url}/me"),
            key,
            clock,
            calls,
            denied,
            cache,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn jti(token: &str) -> String {
    let claims = waxseal::jwt::decode_unverified(token)
        .unwrap()
        .claims
        .unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_repeated_token_is_verified_once() {
    let app = App::start(100).await;
    let token = token(&app.key, &app.clock, json!({}));
    for _ in 0..5 {
        assert_eq!(get_with(&app.url, &token).await.status, 200);
    }
    assert_eq!(app.calls(), 1);
    assert_eq!(app.cache.len(), 1);
}

#[tokio::test]
async fn a_revoked_token_is_refused_even_on_a_cache_hit() {
    let app = App::start(100).await;
    let token = token(&app.key, &app.clock, json!({}));
    assert_eq!(get_with(&app.url, &token).await.status, 200);
    app.denied.write().unwrap().insert(jti(&token));
    let r = get_with(&app.url, &token).await;
    let description = "the token has been revoked";
    assert_error(
        &r,
        401,
        Some(&invalid_token(description)),
        "invalid_token",
        description,
    );
    assert_eq!(
        app.calls(),
        1,
        "answered from the cache, then refused by the hook"
    );
    assert_eq!(app.cache.len(), 1);
    // The hook decides on every request: lifted, the cached token works again.
    app.denied.write().unwrap().clear();
    assert_eq!(get_with(&app.url, &token).await.status, 200);
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn a_cached_token_expires_exactly_when_the_verifier_says() {
    let app = App::start(100).await;
    let token = token(&app.key, &app.clock, json!({}));
    assert_eq!(get_with(&app.url, &token).await.status, 200);
    // exp is 300 s away; the verifier's leeway is 60 s.
    app.clock.advance(Duration::from_secs(360));
    assert_eq!(
        get_with(&app.url, &token).await.status,
        200,
        "the last second of the leeway"
    );
    assert_eq!(app.calls(), 1);
    app.clock.advance(Duration::from_secs(1));
    let r = get_with(&app.url, &token).await;
    assert_error(
        &r,
        401,
        Some(&invalid_token("token expired 61 s ago")),
        "invalid_token",
        "token expired 61 s ago",
    );
    assert_eq!(
        app.calls(),
        2,
        "a miss: the verifier refused it with its own reason"
    );
    assert!(app.cache.is_empty());
}

#[tokio::test]
async fn tokens_that_fail_verification_are_never_cached() {
    let app = App::start(100).await;
    let good = token(&app.key, &app.clock, json!({}));
    let impostor = key();
    let (head, _) = good.rsplit_once('.').unwrap();
    let mut bad = vec![
        format!("{head}.AAAA"),
        "garbage.token.here".to_owned(),
        token(&app.key, &app.clock, json!({"aud": "someone-else"})),
    ];
    bad.extend((0..10).map(|_| token(&impostor, &app.clock, json!({}))));
    for token in &bad {
        for _ in 0..2 {
            assert_eq!(get_with(&app.url, token).await.status, 401);
        }
    }
    assert!(app.cache.is_empty());
    assert_eq!(
        app.calls(),
        2 * bad.len(),
        "every bad token is verified, every time"
    );
    assert_eq!(get_with(&app.url, &good).await.status, 200);
    assert_eq!(app.cache.len(), 1);
}

#[tokio::test]
async fn clearing_the_handle_makes_the_next_request_verify_again() {
    let app = App::start(100).await;
    let token = token(&app.key, &app.clock, json!({}));
    assert_eq!(get_with(&app.url, &token).await.status, 200);
    app.cache.clear(); // what a key change does
    assert_eq!(get_with(&app.url, &token).await.status, 200);
    assert_eq!(app.calls(), 2);
}

#[tokio::test]
async fn with_capacity_zero_every_request_is_verified() {
    let app = App::start(0).await;
    let token = token(&app.key, &app.clock, json!({}));
    for _ in 0..3 {
        assert_eq!(get_with(&app.url, &token).await.status, 200);
    }
    assert_eq!(app.calls(), 3);
}

/// A revocation list that cannot be read: requests fail closed, 503, and are never let through.
struct Unreachable;

impl RevocationCheck<Map<String, Value>> for Unreachable {
    async fn is_revoked(&self, _: &Claims<Map<String, Value>>) -> Result<bool, Error> {
        Err(Error::unavailable(
            "the revocation list is unreachable; try again later",
        ))
    }
}

#[tokio::test]
async fn an_unreadable_revocation_list_fails_closed_with_503() {
    let key = key();
    let clock = TestClock::at(START);
    let layer = BearerAuthLayer::new(verifier(&key, &clock))
        .cache(10)
        .realm("test")
        .revocation(Unreachable);
    let url = serve(Router::new().route("/me", get(whoami)).layer(layer)).await;
    let token = token(&key, &clock, json!({}));
    for _ in 0..2 {
        let r = get_with(&format!("{url}/me"), &token).await;
        assert_error(
            &r,
            503,
            None,
            "temporarily_unavailable",
            "the revocation list is unreachable; try again later",
        );
    }
}
