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
//! The `DPoP` group: ES256 tokens through one layer with the cache and a DPoP policy (`Dpop::new(…)`, the default
//! `ProofVerifier`, a `MemoryReplayStore`):
//!
//! * `bearer` — an unbound token as `Authorization: Bearer` (a cache hit).
//! * `dpop` — a bound token as `Authorization: DPoP` with a fresh ES256 proof per request (made outside the timed
//!   region), so every request is a cache hit for the token plus one proof verification and one replay-store insert.
//!
//! The `Resource` group: what RFC 9728 protected resource metadata (`BearerAuthLayer::protected_resource`, its
//! `resource_metadata` and `scope` formatted when the metadata is built) adds, ES256 with the cache:
//!
//! * `accepted` / `accepted-rm` — a cached bearer token, without / with the option (nothing to add: one more
//!   `Arc` clone into the request).
//! * `refused` / `refused-rm` — no token, a 401 whose challenge is `Bearer realm="api"`, or with the option
//!   `Bearer realm="api", scope="read:orders", resource_metadata="https://api.example.com/.well-known/…"`.
//!
//! Run: `cargo bench -p waxseal-axum --bench layer -- --noplot`. For instruction counts, the same binary loops one
//! mode: `layer-<hash> --profile HS256 layer 10000`, or `--profile ES256 dpop 1000` (its proofs made before the
//! loop; count only `serve` with callgrind's `--toggle-collect`; see docs/BENCHMARKS.md).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::routing::get;
use criterion::{BatchSize, Criterion, criterion_group};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt as _;
use waxseal::dpop::Proof;
use waxseal::jwt::{Claims, Signer, Verifier};
use waxseal::{Algorithm, SigningKey};
use waxseal_axum::{BearerAuthLayer, Dpop, ProtectedResource, Scopes, TokenClaims};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";
/// Where the DPoP group's clients call the API: the base of every proof's `htu`.
const PUBLIC: &str = "https://api.example.com";

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

/// The bench's token: the claims of the JWT benchmark (docs/BENCHMARKS.md §1), bound to `jkt` when given.
fn token(key: &SigningKey, jkt: Option<&str>) -> String {
    let now = waxseal::jwt::NumericDate::now();
    let mut claims = Claims::new(json!({ "scope": "read:orders write:orders profile" }))
        .issuer(ISS)
        .subject("user-1234567890")
        .audience(AUD)
        .issued_at(now)
        .expires_at(now.plus(Duration::from_secs(3600)))
        .jwt_id("7f3c9a1e-4b2d-4e8f-9a6c-1d2e3f4a5b6c");
    if let Some(jkt) = jkt {
        claims = claims.confirmation_jkt(jkt);
    }
    Signer::new(key).sign(&claims).unwrap()
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
        // The DPoP group: one layer for both schemes.
        "bearer" | "dpop" => Router::new().route("/", get(through_layer)).layer(
            BearerAuthLayer::new(verifier(key))
                .claims::<Access>()
                .cache(1024)
                .dpop(Dpop::new(PUBLIC).unwrap()),
        ),
        // The Resource group: the same layer without and with protected resource metadata.
        "accepted" | "refused" => Router::new().route("/", get(through_layer)).layer(
            BearerAuthLayer::new(verifier(key))
                .claims::<Access>()
                .cache(1024)
                .realm("api"),
        ),
        "accepted-rm" | "refused-rm" => {
            let metadata = ProtectedResource::new(AUD)
                .authorization_server(ISS)
                .scopes(["read:orders"])
                .build()
                .unwrap();
            Router::new()
                .route("/", get(through_layer))
                .layer(
                    BearerAuthLayer::new(verifier(key))
                        .claims::<Access>()
                        .cache(1024)
                        .realm("api")
                        .protected_resource(&metadata),
                )
                .merge(metadata.router())
        }
        other => panic!("unknown mode {other}"),
    }
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    app: Router,
    /// None in the `refused` modes.
    authorization: Option<HeaderValue>,
    /// What every request is answered with.
    expect: StatusCode,
    /// In `dpop` mode: the client's key and the token its proofs are for.
    client: Option<(SigningKey, String)>,
}

impl Setup {
    fn new(alg: Algorithm, mode: &str) -> Setup {
        let key = SigningKey::generate(alg).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let app = app(mode, &key);
        let setup = if mode == "dpop" {
            let client = SigningKey::generate(Algorithm::ES256).unwrap();
            let jkt = client.public_jwk().unwrap().thumbprint().unwrap();
            let token = token(&key, Some(&jkt));
            Setup {
                runtime,
                app,
                authorization: Some(HeaderValue::from_str(&format!("DPoP {token}")).unwrap()),
                expect: StatusCode::OK,
                client: Some((client, token)),
            }
        } else if mode.starts_with("refused") {
            Setup {
                runtime,
                app,
                authorization: None,
                expect: StatusCode::UNAUTHORIZED,
                client: None,
            }
        } else {
            Setup {
                runtime,
                app,
                authorization: Some(
                    HeaderValue::from_str(&format!("Bearer {}", token(&key, None))).unwrap(),
                ),
                expect: StatusCode::OK,
                client: None,
            }
        };
        assert_eq!(setup.request(setup.proof()), setup.expect, "{alg} {mode}");
        setup
    }

    /// A fresh proof for the next request, in `dpop` mode (an ES256 signature: made outside the timed region).
    fn proof(&self) -> Option<HeaderValue> {
        let (client, token) = self.client.as_ref()?;
        let proof = Proof::new("GET", &format!("{PUBLIC}/"))
            .access_token(token)
            .sign(client)
            .unwrap();
        Some(HeaderValue::from_str(&proof).unwrap())
    }

    fn request(&self, proof: Option<HeaderValue>) -> StatusCode {
        let mut request = Request::get("/").body(Body::empty()).unwrap();
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert(AUTHORIZATION, authorization.clone());
        }
        if let Some(proof) = proof {
            request.headers_mut().insert("dpop", proof);
        }
        let response = self
            .runtime
            .block_on(self.app.clone().oneshot(request))
            .unwrap();
        response.status()
    }
}

/// The requests of `--profile`, in a function of their own for callgrind's `--toggle-collect=*serve*`.
#[inline(never)]
fn serve(setup: &Setup, proofs: Vec<Option<HeaderValue>>) {
    for proof in proofs {
        assert_eq!(setup.request(proof), setup.expect);
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
            group.bench_function(mode, |b| b.iter(|| black_box(setup.request(None))));
        }
        group.finish();
    }
    let mut group = c.benchmark_group("DPoP");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for mode in ["bearer", "dpop"] {
        let setup = Setup::new(Algorithm::ES256, mode);
        group.bench_function(mode, |b| {
            b.iter_batched(
                || setup.proof(),
                |proof| black_box(setup.request(proof)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
    let mut group = c.benchmark_group("Resource");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for mode in ["accepted", "accepted-rm", "refused", "refused-rm"] {
        let setup = Setup::new(Algorithm::ES256, mode);
        group.bench_function(mode, |b| b.iter(|| black_box(setup.request(None))));
    }
    group.finish();
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
        let proofs = (0..n).map(|_| setup.proof()).collect();
        serve(&setup, proofs);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
