//! Remote key sets and discovery against small fake issuers on loopback that count the requests they get.
// The fake issuer's helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use waxseal::jwt::{Claims, Signer};
use waxseal::{Algorithm, SigningKey};
use waxseal_remote::{ErrorKind, Issuer, Options, RemoteKeySet, RemoteVerifier};

/// What the fake issuer serves; tests change it while it runs.
struct Served {
    jwks: RwLock<String>,
    cache_control: RwLock<Option<&'static str>>,
    discovery: RwLock<Value>,
    /// 200 serves; anything else is returned instead of the document.
    status: AtomicU16,
    jwks_hits: AtomicU64,
    /// Milliseconds to wait before answering the JWKS.
    delay_ms: AtomicU64,
}

struct FakeIssuer {
    url: String,
    served: Arc<Served>,
}

impl FakeIssuer {
    async fn start(keys: &[&SigningKey]) -> FakeIssuer {
        let served = Arc::new(Served {
            jwks: RwLock::new(jwks_of(keys)),
            cache_control: RwLock::new(None),
            discovery: RwLock::new(Value::Null),
            status: AtomicU16::new(200),
            jwks_hits: AtomicU64::new(0),
            delay_ms: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .route("/jwks.json", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        *served.discovery.write().unwrap() =
            json!({"issuer": url, "jwks_uri": format!("{url}/jwks.json")});
        FakeIssuer { url, served }
    }

    fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.url)
    }

    fn hits(&self) -> u64 {
        self.served.jwks_hits.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: &[&SigningKey]) {
        *self.served.jwks.write().unwrap() = jwks_of(keys);
    }

    fn publish_raw(&self, document: String) {
        *self.served.jwks.write().unwrap() = document;
    }

    fn go_down(&self) {
        self.served.status.store(503, Ordering::SeqCst);
    }
}

async fn serve_jwks(State(served): State<Arc<Served>>) -> Response {
    served.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let delay = served.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = served.status.load(Ordering::SeqCst);
    if status != 200 {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    let mut response = served.jwks.read().unwrap().clone().into_response();
    if let Some(cc) = *served.cache_control.read().unwrap() {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(cc));
    }
    response
}

async fn serve_discovery(State(served): State<Arc<Served>>) -> Response {
    axum::Json(served.discovery.read().unwrap().clone()).into_response()
}

fn jwks_of(keys: &[&SigningKey]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| serde_json::from_str(&k.public_jwk().unwrap().to_json()).unwrap())
        .collect();
    json!({ "keys": keys }).to_string()
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

fn token(key: &SigningKey, issuer: &str) -> String {
    Signer::new(key)
        .sign(
            &Claims::new(json!({}))
                .issuer(issuer)
                .subject("repo:acme/app:ref:refs/heads/main")
                .expires_in(Duration::from_secs(300)),
        )
        .unwrap()
}

/// Options with short timings, so the tests wait milliseconds rather than minutes.
fn quick() -> Options {
    Options {
        cooldown: Duration::from_millis(300),
        default_cache: Duration::from_secs(60),
        min_cache: Duration::from_millis(1),
        max_stale: Duration::from_millis(600),
        timeout: Duration::from_secs(2),
        ..Options::default()
    }
}

fn verifier(issuer: &FakeIssuer, options: Options) -> RemoteVerifier {
    RemoteVerifier::new(RemoteKeySet::with_options(&issuer.jwks_url(), options).unwrap())
}

#[tokio::test]
async fn a_key_rotated_at_the_issuer_is_picked_up_on_the_first_unknown_kid() {
    let (old, new) = (key(), key());
    let issuer = FakeIssuer::start(&[&old]).await;
    let verifier = verifier(&issuer, quick());
    verifier
        .verify::<Value>(&token(&old, &issuer.url))
        .await
        .unwrap();
    assert_eq!(issuer.hits(), 1);
    verifier
        .verify::<Value>(&token(&old, &issuer.url))
        .await
        .unwrap();
    assert_eq!(issuer.hits(), 1, "cached");

    issuer.publish(&[&old, &new]);
    tokio::time::sleep(Duration::from_millis(350)).await; // past the cooldown of the first fetch
    verifier
        .verify::<Value>(&token(&new, &issuer.url))
        .await
        .unwrap();
    assert_eq!(issuer.hits(), 2, "one refetch for the unknown kid");
    verifier
        .verify::<Value>(&token(&old, &issuer.url))
        .await
        .unwrap();
    assert_eq!(issuer.hits(), 2);
}

#[tokio::test]
async fn a_thousand_concurrent_unknown_kids_cause_exactly_one_fetch() {
    let (old, new) = (key(), key());
    let issuer = FakeIssuer::start(&[&old]).await;
    let verifier = verifier(&issuer, quick());
    verifier
        .verify::<Value>(&token(&old, &issuer.url))
        .await
        .unwrap();
    issuer.publish(&[&new]);
    issuer.served.delay_ms.store(50, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let fresh = token(&new, &issuer.url);
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let verifier = verifier.clone();
            let fresh = fresh.clone();
            tokio::spawn(async move { verifier.verify::<Value>(&fresh).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        issuer.hits(),
        2,
        "the initial fetch and exactly one refetch"
    );
}

#[tokio::test]
async fn the_cooldown_holds_under_a_flood_of_random_kids() {
    let good = key();
    let issuer = FakeIssuer::start(&[&good]).await;
    let verifier = verifier(
        &issuer,
        Options {
            cooldown: Duration::from_secs(30),
            ..quick()
        },
    );
    verifier
        .verify::<Value>(&token(&good, &issuer.url))
        .await
        .unwrap();
    for _ in 0..200 {
        let attacker = key().with_kid(rand_kid().to_string());
        let err = verifier
            .verify::<Value>(&token(&attacker, &issuer.url))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Token);
        assert_eq!(
            err.token_error().map(waxseal::Error::kind),
            Some(waxseal::ErrorKind::KeyNotFound)
        );
    }
    assert_eq!(
        issuer.hits(),
        1,
        "no fetch within the cooldown, however many unknown kids"
    );
    verifier
        .verify::<Value>(&token(&good, &issuer.url))
        .await
        .unwrap();
}

fn rand_kid() -> u64 {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}

#[tokio::test]
async fn an_issuer_outage_is_served_from_cache_until_the_staleness_bound_then_fails_closed() {
    let signer = key();
    let issuer = FakeIssuer::start(&[&signer]).await;
    issuer
        .served
        .cache_control
        .write()
        .unwrap()
        .replace("max-age=0");
    let verifier = verifier(
        &issuer,
        Options {
            max_stale: Duration::from_millis(1500),
            ..quick()
        },
    );
    let token = token(&signer, &issuer.url);
    verifier.verify::<Value>(&token).await.unwrap();
    issuer.go_down();
    // Stale (max-age=0 → the 1 ms minimum) but within max_stale: still verifies, refreshing in the background.
    tokio::time::sleep(Duration::from_millis(50)).await;
    verifier.verify::<Value>(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let err = verifier.verify::<Value>(&token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stale, "{err}");
    assert!(err.message().contains("503"), "{err}");
    assert!(
        err.message().contains("refused until the issuer answers"),
        "{err}"
    );
    let hits = issuer.hits();
    // Failing closed does not mean asking the down issuer on every request.
    for _ in 0..50 {
        assert!(verifier.verify::<Value>(&token).await.is_err());
    }
    assert!(
        issuer.hits() <= hits + 1,
        "{} > {}",
        issuer.hits(),
        hits + 1
    );
    // Back up: verification resumes without a restart.
    issuer.served.status.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    verifier.verify::<Value>(&token).await.unwrap();
}

#[tokio::test]
async fn cache_control_is_honoured_within_bounds() {
    let signer = key();
    let issuer = FakeIssuer::start(&[&signer]).await;
    issuer
        .served
        .cache_control
        .write()
        .unwrap()
        .replace("public, max-age=86400");
    let keys = RemoteKeySet::with_options(
        &issuer.jwks_url(),
        Options {
            max_cache: Duration::from_millis(400),
            ..quick()
        },
    )
    .unwrap();
    let first = keys.keys().await.unwrap();
    assert_eq!(keys.keys().await.unwrap().generation, first.generation);
    assert_eq!(issuer.hits(), 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    // Past the max_cache bound (not the day the issuer asked for): stale, refreshed in the background.
    keys.keys().await.unwrap();
    for _ in 0..50 {
        if issuer.hits() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(issuer.hits(), 2);
    assert_eq!(keys.fetches(), 2);
}

#[tokio::test]
async fn hostile_documents_are_refused_or_their_bad_keys_skipped() {
    let signer = key();
    let issuer = FakeIssuer::start(&[&signer]).await;
    let fresh = || RemoteKeySet::with_options(&issuer.jwks_url(), quick()).unwrap();

    // 50 MB: refused without reading it all.
    issuer.publish_raw(format!(
        "{{\"keys\":[],\"pad\":\"{}\"}}",
        "a".repeat(50 << 20)
    ));
    assert_eq!(
        fresh().keys().await.unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );

    // 10,000 keys: refused by the key-count bound.
    let one: Value = serde_json::from_str(&signer.public_jwk().unwrap().to_json()).unwrap();
    let many: Vec<Value> = (0..10_000).map(|_| one.clone()).collect();
    let document = json!({ "keys": many }).to_string();
    assert!(document.len() < 512 * 1024 * 4);
    issuer.publish_raw(document);
    let err = fresh().keys().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");

    // A private key, an HMAC secret, an oct key claiming RS256: skipped; the public key still serves.
    let private: Value = serde_json::from_str(&key().to_jwk().unwrap().to_json()).unwrap();
    let secret = json!({"kty": "oct", "alg": "HS256", "kid": "s",
        "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"});
    let confused = json!({"kty": "oct", "alg": "RS256", "kid": "c",
        "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"});
    issuer.publish_raw(json!({ "keys": [private, secret, confused, one] }).to_string());
    let keys = fresh().keys().await.unwrap();
    assert_eq!(keys.set.keys().len(), 1);
    assert_eq!(keys.set.skipped().len(), 3, "{:?}", keys.set.skipped());
    let verifier = RemoteVerifier::new(fresh());
    verifier
        .verify::<Value>(&token(&signer, &issuer.url))
        .await
        .unwrap();

    // Not JSON, or no usable key at all: refused with a clear kind.
    issuer.publish_raw("<html>".into());
    assert_eq!(
        fresh().keys().await.unwrap_err().kind(),
        ErrorKind::InvalidDocument
    );
}

#[tokio::test]
async fn only_https_or_loopback_urls_are_fetched() {
    for url in [
        "http://issuer.example/jwks.json",
        "https://u:p@issuer.example/jwks",
    ] {
        assert_eq!(
            RemoteKeySet::new(url).unwrap_err().kind(),
            ErrorKind::InsecureUrl,
            "{url}"
        );
    }
    assert_eq!(
        Issuer::discover("http://issuer.example")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InsecureUrl
    );
}

#[tokio::test]
async fn discovery_finds_the_keys_and_presets_the_issuer() {
    let signer = key();
    let issuer = FakeIssuer::start(&[&signer]).await;
    let discovered = Issuer::discover_with_options(&issuer.url, quick())
        .await
        .unwrap();
    assert_eq!(discovered.issuer(), issuer.url);
    assert_eq!(discovered.key_set().url(), issuer.jwks_url());
    let verifier = discovered.verifier();
    verifier
        .verify::<Value>(&token(&signer, &issuer.url))
        .await
        .unwrap();
    let err = verifier
        .verify::<Value>(&token(&signer, "https://someone-else.example"))
        .await
        .unwrap_err();
    assert_eq!(
        err.token_error().map(waxseal::Error::kind),
        Some(waxseal::ErrorKind::Issuer)
    );
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let issuer = FakeIssuer::start(&[&key()]).await;
    *issuer.served.discovery.write().unwrap() =
        json!({"issuer": "https://accounts.example", "jwks_uri": issuer.jwks_url()});
    let err = Issuer::discover(&issuer.url).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IssuerMismatch);
    assert!(err.message().contains("https://accounts.example"), "{err}");
    // A trailing slash is a different identifier.
    *issuer.served.discovery.write().unwrap() =
        json!({"issuer": format!("{}/", issuer.url), "jwks_uri": issuer.jwks_url()});
    assert_eq!(
        Issuer::discover(&issuer.url).await.unwrap_err().kind(),
        ErrorKind::IssuerMismatch
    );
    // A jwks_uri over plain http to a remote host is refused.
    *issuer.served.discovery.write().unwrap() =
        json!({"issuer": issuer.url, "jwks_uri": "http://keys.example/jwks.json"});
    assert_eq!(
        Issuer::discover(&issuer.url).await.unwrap_err().kind(),
        ErrorKind::InsecureUrl
    );
}
