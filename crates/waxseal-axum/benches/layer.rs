//! What `BearerAuthLayer` adds to a request, beyond the signature check itself.
//!
//! The same axum router answers one GET with the token's `sub`, driven in-process with `tower::ServiceExt::oneshot`
//! (no sockets, no HTTP parsing), four ways:
//!
//! * `bare` — no layer: the handler takes the `Authorization` header, strips `Bearer `, and calls
//!   `Verifier::verify::<Access>` itself: the least a hand-written check does.
//! * `layer` — `BearerAuthLayer::new(verifier).claims::<Access>()`, the handler takes `Claims<Access>`.
//! * `layer-map` — the layer with its default claims type (a JSON map), the handler takes `Claims<Access>`
//!   (deserialized from the map per request).
//! * `layer-cache` — `layer` with `.cache(1024)`: every request after the first is a cache hit (no signature check).
//!
//! `layer − bare` is the layer's added cost. Groups: `HS256` (a 1.5 µs verification, so the difference is not lost
//! in the noise of a long one) and `ES256` (the usual case, where the cache pays).
//!
//! Run: `cargo bench -p waxseal-axum --bench layer -- --noplot`. For instruction counts, the same binary loops one
//! mode: `layer-<hash> --profile HS256 layer 10000` (see docs/BENCHMARKS.md).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::routing::get;
use criterion::{Criterion, criterion_group};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt as _;
use waxseal::jwt::{Claims, Signer, Verifier};
use waxseal::{Algorithm, SigningKey};
use waxseal_axum::{BearerAuthLayer, Scopes, TokenClaims};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";

/// The custom claims both sides verify into.
#[derive(Debug, Deserialize)]
struct Access {
    scope: String,
}

impl TokenClaims for Access {
    fn scopes(&self) -> Scopes<'_> {
        Scopes::space_separated(Some(&self.scope))
    }
}

/// The bench's token: the claims of the JWT benchmark (docs/BENCHMARKS.md §1).
fn token(key: &SigningKey) -> String {
    let now = waxseal::jwt::NumericDate::now();
    Signer::new(key)
        .sign(
            &Claims::new(json!({ "scope": "read:orders write:orders profile" }))
                .issuer(ISS)
                .subject("user-1234567890")
                .audience(AUD)
                .issued_at(now)
                .expires_at(now.plus(Duration::from_secs(3600)))
                .jwt_id("7f3c9a1e-4b2d-4e8f-9a6c-1d2e3f4a5b6c"),
        )
        .unwrap()
}

fn verifier(key: &SigningKey) -> Verifier {
    Verifier::new(key.verifying_key().unwrap())
        .issuer(ISS)
        .audience(AUD)
}

async fn bare(
    State(verifier): State<std::sync::Arc<Verifier>>,
    headers: HeaderMap,
) -> Result<String, StatusCode> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let claims = verifier
        .verify::<Access>(token)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    black_box(&claims.custom.scope);
    Ok(claims.registered.sub.clone().unwrap_or_default())
}

async fn through_layer(waxseal_axum::Claims(claims): waxseal_axum::Claims<Access>) -> String {
    black_box(&claims.custom.scope);
    claims.registered.sub.clone().unwrap_or_default()
}

const MODES: [&str; 4] = ["bare", "layer", "layer-map", "layer-cache"];

fn app(mode: &str, key: &SigningKey) -> Router {
    match mode {
        "bare" => Router::new()
            .route("/", get(bare))
            .with_state(std::sync::Arc::new(verifier(key))),
        "layer" => Router::new()
            .route("/", get(through_layer))
            .layer(BearerAuthLayer::new(verifier(key)).claims::<Access>()),
        "layer-map" => Router::new()
            .route("/", get(through_layer))
            .layer(BearerAuthLayer::new(verifier(key))),
        "layer-cache" => Router::new().route("/", get(through_layer)).layer(
            BearerAuthLayer::new(verifier(key))
                .claims::<Access>()
                .cache(1024),
        ),
        other => panic!("unknown mode {other}"),
    }
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    app: Router,
    authorization: HeaderValue,
}

impl Setup {
    fn new(alg: Algorithm, mode: &str) -> Setup {
        let key = SigningKey::generate(alg).unwrap();
        let setup = Setup {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            app: app(mode, &key),
            authorization: HeaderValue::from_str(&format!("Bearer {}", token(&key))).unwrap(),
        };
        assert_eq!(setup.request(), StatusCode::OK, "{alg} {mode}");
        setup
    }

    fn request(&self) -> StatusCode {
        let request = Request::get("/")
            .header(AUTHORIZATION, self.authorization.clone())
            .body(Body::empty())
            .unwrap();
        let response = self
            .runtime
            .block_on(self.app.clone().oneshot(request))
            .unwrap();
        response.status()
    }
}

fn layer(c: &mut Criterion) {
    for alg in [Algorithm::HS256, Algorithm::ES256] {
        let mut group = c.benchmark_group(alg.to_string());
        group
            .sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for mode in MODES {
            let setup = Setup::new(alg, mode);
            group.bench_function(mode, |b| b.iter(|| black_box(setup.request())));
        }
        group.finish();
    }
}

criterion_group!(benches, layer);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--profile") {
        // `--profile ALG MODE N`: N requests of one mode, for callgrind.
        let alg: Algorithm = args[at + 1].parse().expect("an algorithm");
        let mode = &args[at + 2];
        let n: usize = args[at + 3].parse().expect("a count");
        let setup = Setup::new(alg, mode);
        for _ in 0..n {
            assert_eq!(setup.request(), StatusCode::OK);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
