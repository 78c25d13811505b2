//! The layer over a remote JWK Set, against a small fake issuer on loopback: tokens verify with the published keys,
//! a rotation is picked up, a key the issuer withdrew no longer lets a cached token in, and an issuer that cannot be
//! reached makes the layer answer 503 — never let a request through.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{AUDIENCE, ISSUER, TestClock, assert_error, get_with, key, serve, token};
use serde_json::{Value, json};
use waxseal::SigningKey;
use waxseal_axum::{Authenticated, BearerAuthLayer};
use waxseal_remote::{Options, RemoteKeySet, RemoteVerifier};

/// What the fake issuer serves; tests change it while it runs.
struct Served {
    jwks: RwLock<String>,
    down: AtomicBool,
    hits: AtomicU64,
}

async fn serve_jwks(State(served): State<Arc<Served>>) -> Response {
    served.hits.fetch_add(1, Ordering::SeqCst);
    if served.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    served.jwks.read().unwrap().clone().into_response()
}

fn jwks_of(keys: &[&SigningKey]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| serde_json::from_str(&k.public_jwk().unwrap().to_json()).unwrap())
        .collect();
    json!({ "keys": keys }).to_string()
}

async fn fake_issuer(keys: &[&SigningKey]) -> (String, Arc<Served>) {
    let served = Arc::new(Served {
        jwks: RwLock::new(jwks_of(keys)),
        down: AtomicBool::new(false),
        hits: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/jwks.json", get(serve_jwks))
        .with_state(served.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, served)
}

/// Short timings, so the tests wait milliseconds rather than minutes.
fn quick() -> Options {
    Options {
        cooldown: Duration::from_millis(200),
        default_cache: Duration::from_millis(300),
        min_cache: Duration::from_millis(1),
        max_stale: Duration::from_millis(400),
        timeout: Duration::from_secs(2),
        ..Options::default()
    }
}

async fn whoami(auth: Authenticated) -> String {
    auth.subject().unwrap_or_default().to_owned()
}

/// A protected app over the JWK Set at `jwks`, with a cache.
async fn protected_app(jwks: &str) -> String {
    let verifier = RemoteVerifier::new(RemoteKeySet::with_options(jwks, quick()).unwrap())
        .configure(|v| v.issuer(ISSUER).audience(AUDIENCE));
    let layer = BearerAuthLayer::new(verifier).cache(100).realm("test");
    let url = serve(Router::new().route("/me", get(whoami)).layer(layer)).await;
    format!("{url}/me")
}

#[tokio::test]
async fn tokens_verify_with_the_published_keys_and_a_rotation_is_picked_up() {
    // The remote verifier reads the system clock: tokens are minted at the real time.
    let now = TestClock::new();
    let (a, b) = (key(), key());
    let (jwks, served) = fake_issuer(&[&a]).await;
    let url = protected_app(&jwks).await;

    let token_a = token(&a, &now, json!({}));
    for _ in 0..3 {
        let r = get_with(&url, &token_a).await;
        assert_eq!((r.status, r.body), (200, json!("alice")));
    }
    let unknown = token(&key(), &now, json!({}));
    let r = get_with(&url, &unknown).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.body["error"], "invalid_token");

    // The issuer rotates: B replaces A. A token from B names a kid the cached set lacks: refetched, accepted.
    *served.jwks.write().unwrap() = jwks_of(&[&b]);
    tokio::time::sleep(Duration::from_millis(250)).await; // past the unknown-kid cooldown
    let token_b = token(&b, &now, json!({}));
    assert_eq!(get_with(&url, &token_b).await.status, 200);
    // A is no longer published: its token, verified and cached before, is refused now.
    let r = get_with(&url, &token_a).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.body["error"], "invalid_token");
    assert!(served.hits.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_and_past_staleness_cached_tokens_fail_closed() {
    let now = TestClock::new();
    let a = key();
    let (jwks, served) = fake_issuer(&[&a]).await;
    served.down.store(true, Ordering::SeqCst);
    let url = protected_app(&jwks).await;
    let token_a = token(&a, &now, json!({}));
    let description = "the keys to verify the token with are unavailable; try again later";
    let r = get_with(&url, &token_a).await;
    assert_error(&r, 503, None, "temporarily_unavailable", description);

    // The issuer comes back: the token verifies and is cached.
    served.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(250)).await; // past the cooldown after the failed fetch
    assert_eq!(get_with(&url, &token_a).await.status, 200);
    assert_eq!(get_with(&url, &token_a).await.status, 200);

    // Down again, for longer than freshness (300 ms) plus the staleness bound (400 ms): even the cached token is
    // refused, because the keys that vouched for it can no longer be confirmed.
    served.down.store(true, Ordering::SeqCst);
    let mut last = 200;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = get_with(&url, &token_a).await.status;
        if last == 503 {
            break;
        }
    }
    assert_eq!(
        last, 503,
        "the cached token must fail closed once the keys are too stale"
    );
}
