//! DPoP-bound tokens (RFC 9449) through `BearerAuthLayer` over real HTTP: each attack a proof or a bound token
//! can be used in, refused with the challenge RFC 9449 §7.1 says, and the honest requests that must still pass.
//!
//! The API is reached on a loopback port but its public URL is `https://api.example.com` (a proxy in front, as in
//! production): proofs are made for the public URL, never for the address the request arrives on.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../examples/dpop_api.rs"]
mod dpop_api;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use common::{START, TestClock, client, key, serve, token, verifier};
use serde_json::{Value, json};
use waxseal::dpop::{Nonces, Proof, ProofVerifier};
use waxseal::jwt::NumericDate;
use waxseal::{Algorithm, SigningKey};
use waxseal_axum::dpop::MemoryReplayStore;
use waxseal_axum::{Authenticated, BearerAuthLayer, Dpop, RequireScope};

const PUBLIC: &str = "https://api.example.com";
/// What every DPoP challenge of these layers names: the algorithms their `ProofVerifier` is configured with.
const ALGS: &str = "ES256 EdDSA";

/// `sub`, and the proof key's thumbprint or `bearer`.
async fn whoami(auth: Authenticated) -> String {
    format!(
        "{} {}",
        auth.subject().unwrap_or_default(),
        auth.dpop_jkt().unwrap_or("bearer")
    )
}

/// How the layer under test is set up.
#[derive(Clone, Copy, Default)]
struct Setup {
    policy: Policy,
    nonces: bool,
    cache: bool,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Policy {
    /// No DPoP policy: a bearer-only layer.
    None,
    /// DPoP and Bearer.
    #[default]
    Both,
    /// `Dpop::required`.
    DpopOnly,
}

struct Api {
    url: String,
    public: String,
    issuer: SigningKey,
    /// The client's DPoP key; `jkt` is its thumbprint.
    client: SigningKey,
    jkt: String,
    clock: Arc<TestClock>,
    nonces: Nonces,
    store: Arc<MemoryReplayStore>,
}

impl Api {
    async fn start(setup: Setup) -> Api {
        Api::start_at(setup, PUBLIC).await
    }

    /// An API whose clients call it at `public` (a base URL, perhaps with a path prefix).
    async fn start_at(setup: Setup, public: &str) -> Api {
        let issuer = key();
        let client = SigningKey::generate(Algorithm::ES256).unwrap();
        let jkt = client.public_jwk().unwrap().thumbprint().unwrap();
        let clock = TestClock::at(START);
        let nonces = Nonces::new(&[9; 32], Duration::from_secs(60)).unwrap();
        let store = Arc::new(MemoryReplayStore::new(1_000));
        let mut proofs = ProofVerifier::new()
            .algorithms([Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256])
            .clock((*clock).clone());
        if setup.nonces {
            proofs = proofs.nonces(nonces.clone());
        }
        let mut policy = Dpop::new(public)
            .unwrap()
            .verifier(proofs)
            .replay_store(store.clone());
        if setup.policy == Policy::DpopOnly {
            policy = policy.required();
        }
        // Every layer denies the token whose jti is `revoked`.
        let mut layer = BearerAuthLayer::new(verifier(&issuer, &clock))
            .realm("test")
            .revocation(
                |claims: &waxseal::jwt::Claims<serde_json::Map<String, Value>>| {
                    claims.registered.jti.as_deref() == Some("revoked")
                },
            );
        if setup.policy != Policy::None {
            layer = layer.dpop(policy);
        }
        if setup.cache {
            layer = layer.cache(100);
        }
        let app = Router::new()
            .route("/orders", get(whoami).post(whoami))
            .route("/orders/{id}", get(whoami))
            .route(
                "/admin",
                get(whoami).route_layer(RequireScope::all(["admin"])),
            )
            .route("/submit", post(whoami))
            .layer(layer);
        Api {
            url: serve(app).await,
            public: public.to_owned(),
            issuer,
            client,
            jkt,
            clock,
            nonces,
            store,
        }
    }

    /// A token bound to the client's key.
    fn bound_token(&self) -> String {
        token(
            &self.issuer,
            &self.clock,
            json!({ "cnf": { "jkt": self.jkt } }),
        )
    }

    fn unbound_token(&self) -> String {
        token(&self.issuer, &self.clock, json!({}))
    }

    /// A fresh proof by the client's key for `method` at the public URL + `path`, for `token`, now.
    fn proof(&self, method: &str, path: &str, token: &str) -> String {
        self.proof_with(method, &format!("{}{path}", self.public), token, |p| p)
    }

    /// A proof by the client's key for `method` to `uri`, `iat` = the clock's now, then adjusted by `change`.
    fn proof_with<'a>(
        &self,
        method: &'a str,
        uri: &'a str,
        token: &'a str,
        change: impl FnOnce(Proof<'a>) -> Proof<'a>,
    ) -> String {
        let proof = Proof::new(method, uri)
            .access_token(token)
            .issued_at(NumericDate::from_secs(self.clock.secs()));
        change(proof).sign(&self.client).unwrap()
    }

    /// `method path` with `Authorization: DPoP token` and the `proofs` as `DPoP` headers (none, one or several).
    async fn dpop(&self, method: &str, path: &str, token: &str, proofs: &[&str]) -> Reply {
        let mut request = client()
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .header("authorization", format!("DPoP {token}"));
        for proof in proofs {
            request = request.header("dpop", *proof);
        }
        send(request).await
    }

    /// `GET path` with `Authorization: Bearer token`.
    async fn bearer(&self, path: &str, token: &str) -> Reply {
        send(
            client()
                .get(format!("{}{path}", self.url))
                .bearer_auth(token),
        )
        .await
    }
}

/// One answer: status, `WWW-Authenticate`, `DPoP-Nonce`, and the body (JSON, or the handler's text).
#[derive(Debug)]
struct Reply {
    status: u16,
    challenge: Option<String>,
    nonce: Option<String>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let challenge = header("www-authenticate");
    let nonce = header("dpop-nonce");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        challenge,
        nonce,
        body,
    }
}

/// The whole refusal: status 401, the exact challenge in the DPoP scheme, the body's code and description.
fn assert_dpop_error(reply: &Reply, error: &str, description: &str) {
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            format!(
                "DPoP realm=\"test\", error=\"{error}\", error_description=\"{description}\", algs=\"{ALGS}\""
            )
            .as_str()
        ),
        "{reply:?}"
    );
    assert_eq!(
        reply.body,
        json!({ "error": error, "error_description": description }),
        "{reply:?}"
    );
}

/// Asserts a 401 `invalid_dpop_proof` whose description starts with `start`.
fn assert_bad_proof(reply: &Reply, start: &str) {
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.body["error"], "invalid_dpop_proof", "{reply:?}");
    let description = reply.body["error_description"].as_str().unwrap();
    assert!(description.starts_with(start), "{reply:?}");
    let challenge = reply.challenge.as_deref().unwrap();
    assert!(
        challenge
            .starts_with("DPoP realm=\"test\", error=\"invalid_dpop_proof\", error_description=\""),
        "{reply:?}"
    );
    assert!(
        challenge.ends_with(&format!(", algs=\"{ALGS}\"")),
        "{reply:?}"
    );
}

fn ok(reply: &Reply, body: &str) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, Value::String(body.to_owned()), "{reply:?}");
}

#[tokio::test]
async fn a_bound_token_with_a_fresh_proof_by_its_key_gets_in_and_the_handler_sees_the_key() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let r = api
        .dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await;
    ok(&r, &format!("alice {}", api.jkt));
    assert_eq!(api.store.len(), 1, "the proof is remembered");
    // The query is no part of htu; the method and path are.
    let r = api
        .dpop(
            "POST",
            "/orders?page=2",
            &token,
            &[&api.proof("POST", "/orders", &token)],
        )
        .await;
    ok(&r, &format!("alice {}", api.jkt));
    // An unbound token is still a bearer token on a layer that is not DPoP-only.
    ok(
        &api.bearer("/orders", &api.unbound_token()).await,
        "alice bearer",
    );
}

#[tokio::test]
async fn a_proof_replayed_at_the_same_layer_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let proof = api.proof("GET", "/orders", &token);
    ok(
        &api.dpop("GET", "/orders", &token, &[&proof]).await,
        &format!("alice {}", api.jkt),
    );
    let r = api.dpop("GET", "/orders", &token, &[&proof]).await;
    assert_dpop_error(
        &r,
        "invalid_dpop_proof",
        "this proof was used before; make a fresh one per request",
    );
    // Still refused later within its lifetime, and a fresh proof still works.
    api.clock.advance(Duration::from_secs(30));
    let r = api.dpop("GET", "/orders", &token, &[&proof]).await;
    assert_eq!(r.body["error"], "invalid_dpop_proof", "{r:?}");
    ok(
        &api.dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await,
        &format!("alice {}", api.jkt),
    );
}

#[tokio::test]
async fn a_proof_for_another_method_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let r = api
        .dpop(
            "POST",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await;
    assert_dpop_error(
        &r,
        "invalid_dpop_proof",
        "the proof is for 'GET' requests, this one is 'POST'",
    );
    assert!(api.store.is_empty(), "a refused proof is not remembered");
}

#[tokio::test]
async fn a_proof_for_another_path_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let proof = api.proof("GET", "/orders/1", &token);
    let r = api.dpop("GET", "/orders/2", &token, &[&proof]).await;
    assert_bad_proof(
        &r,
        "the proof is for 'https://api.example.com/orders/1', this request is for",
    );
    // The proof is unspent: at the path it was made for it is accepted.
    ok(
        &api.dpop("GET", "/orders/1", &token, &[&proof]).await,
        &format!("alice {}", api.jkt),
    );
}

#[tokio::test]
async fn a_proof_for_another_port_or_host_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    for uri in [
        "https://api.example.com:8443/orders",
        "http://api.example.com/orders",
        "https://other.example.com/orders",
        // The address the request really arrived on is not the public URL.
        &format!("{}/orders", api.url),
    ] {
        let proof = api.proof_with("GET", uri, &token, |p| p);
        let r = api.dpop("GET", "/orders", &token, &[&proof]).await;
        assert_bad_proof(&r, "the proof is for '");
    }
    // The default port written out is the same URI (RFC 3986 §6.2.3).
    let proof = api.proof_with("GET", "https://API.example.com:443/orders", &token, |p| p);
    ok(
        &api.dpop("GET", "/orders", &token, &[&proof]).await,
        &format!("alice {}", api.jkt),
    );
}

#[tokio::test]
async fn a_proof_too_old_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let uri = format!("{PUBLIC}/orders");
    let old = api.proof_with("GET", &uri, &token, |p| {
        p.issued_at(NumericDate::from_secs(START - 61))
    });
    let r = api.dpop("GET", "/orders", &token, &[&old]).await;
    assert_dpop_error(
        &r,
        "invalid_dpop_proof",
        "the proof is 61 s old; proofs are accepted for 60 s, make a fresh one per request",
    );
    // A proof made in time, held back until it is too old (the token is still valid).
    let held = api.proof("GET", "/orders", &token);
    api.clock.advance(Duration::from_secs(61));
    let r = api.dpop("GET", "/orders", &token, &[&held]).await;
    assert_bad_proof(&r, "the proof is 61 s old");
}

#[tokio::test]
async fn a_proof_from_the_future_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let uri = format!("{PUBLIC}/orders");
    let ahead = api.proof_with("GET", &uri, &token, |p| {
        p.issued_at(NumericDate::from_secs(START + 61))
    });
    let r = api.dpop("GET", "/orders", &token, &[&ahead]).await;
    assert_dpop_error(
        &r,
        "invalid_dpop_proof",
        "the proof's iat is 61 s in the future; check the client's clock",
    );
    // Within the window ahead (a client clock running fast) it is fine.
    let fast = api.proof_with("GET", &uri, &token, |p| {
        p.issued_at(NumericDate::from_secs(START + 60))
    });
    ok(
        &api.dpop("GET", "/orders", &token, &[&fast]).await,
        &format!("alice {}", api.jkt),
    );
}

#[tokio::test]
async fn a_proof_made_for_another_access_token_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let other = api.bound_token();
    // A proof captured with one token does not carry another bound to the same key.
    let proof = api.proof("GET", "/orders", &other);
    let r = api.dpop("GET", "/orders", &token, &[&proof]).await;
    assert_dpop_error(
        &r,
        "invalid_dpop_proof",
        "the proof's ath is not the hash of this access token",
    );
    let without_ath = Proof::new("GET", &format!("{PUBLIC}/orders"))
        .issued_at(NumericDate::from_secs(api.clock.secs()))
        .sign(&api.client)
        .unwrap();
    let r = api.dpop("GET", "/orders", &token, &[&without_ath]).await;
    assert_bad_proof(&r, "the proof has no ath");
}

#[tokio::test]
async fn a_proof_signed_by_another_key_than_cnf_jkt_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    // The thief holds the token but not the client's key: a proof by its own key, otherwise perfect.
    let thief = SigningKey::generate(Algorithm::ES256).unwrap();
    let proof = Proof::new("GET", &format!("{PUBLIC}/orders"))
        .access_token(&token)
        .issued_at(NumericDate::from_secs(api.clock.secs()))
        .sign(&thief)
        .unwrap();
    let r = api.dpop("GET", "/orders", &token, &[&proof]).await;
    assert_dpop_error(
        &r,
        "invalid_token",
        "the DPoP proof is signed by another key than the one this token is bound to (cnf.jkt)",
    );
    assert!(
        api.store.is_empty(),
        "a proof by the wrong key is not remembered"
    );
}

#[tokio::test]
async fn a_bound_token_sent_as_bearer_is_refused_by_a_layer_with_a_dpop_policy() {
    let api = Api::start(Setup::default()).await;
    let r = api.bearer("/orders", &api.bound_token()).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.challenge.as_deref(),
        Some(
            "Bearer realm=\"test\", error=\"invalid_token\", error_description=\"this token is DPoP-bound; send it as Authorization: DPoP with a proof\""
        )
    );
}

#[tokio::test]
async fn a_bound_token_sent_as_bearer_is_refused_by_a_layer_without_a_dpop_policy() {
    let api = Api::start(Setup {
        policy: Policy::None,
        cache: true,
        ..Setup::default()
    })
    .await;
    let bound = api.bound_token();
    for _ in 0..2 {
        // The second time from the verified-token cache: refused all the same.
        let r = api.bearer("/orders", &bound).await;
        assert_eq!(r.status, 401, "{r:?}");
        assert_eq!(
            r.body,
            json!({
                "error": "invalid_token",
                "error_description": "this token is DPoP-bound; send it as Authorization: DPoP with a proof",
            })
        );
    }
    // A token bound by a confirmation method this layer cannot check (mTLS) is no bearer token either.
    let mtls = token(
        &api.issuer,
        &api.clock,
        json!({ "cnf": { "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" } }),
    );
    let r = api.bearer("/orders", &mtls).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.body["error"], "invalid_token");
    ok(
        &api.bearer("/orders", &api.unbound_token()).await,
        "alice bearer",
    );
}

#[tokio::test]
async fn the_dpop_scheme_on_a_layer_without_a_policy_is_an_unsupported_scheme() {
    let api = Api::start(Setup {
        policy: Policy::None,
        ..Setup::default()
    })
    .await;
    let token = api.bound_token();
    let r = api
        .dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.challenge.as_deref(), Some("Bearer realm=\"test\""));
    assert_eq!(r.body["error"], "missing_token");
}

#[tokio::test]
async fn a_token_without_cnf_sent_as_dpop_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.unbound_token();
    let r = api
        .dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await;
    assert_dpop_error(
        &r,
        "invalid_token",
        "this token is not DPoP-bound (it has no cnf.jkt); send it as Authorization: Bearer",
    );
}

#[tokio::test]
async fn a_missing_or_duplicated_dpop_header_is_refused() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let r = api.dpop("GET", "/orders", &token, &[]).await;
    assert_dpop_error(
        &r,
        "invalid_dpop_proof",
        "a DPoP-bound token needs a proof: send a DPoP header with a proof made for this request",
    );
    let one = api.proof("GET", "/orders", &token);
    let two = api.proof("GET", "/orders", &token);
    for proofs in [[&*one, &*two], [&*one, &*one]] {
        let r = api.dpop("GET", "/orders", &token, &proofs).await;
        assert_dpop_error(
            &r,
            "invalid_dpop_proof",
            "send one DPoP header, not several",
        );
    }
    assert!(api.store.is_empty());
    let r = api.dpop("GET", "/orders", &token, &["not a proof"]).await;
    assert_bad_proof(&r, "the proof is not a JWS");
}

#[tokio::test]
async fn the_nonce_challenge_gives_a_nonce_to_retry_with_and_refuses_it_once_stale() {
    let api = Api::start(Setup {
        nonces: true,
        ..Setup::default()
    })
    .await;
    let token = api.bound_token();
    let r = api
        .dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await;
    let description = "a server nonce is required in the proof; make a new proof with the nonce of this response's DPoP-Nonce header";
    assert_dpop_error(&r, "use_dpop_nonce", description);
    let nonce = r.nonce.clone().expect("a DPoP-Nonce header");
    assert!(
        api.nonces
            .is_fresh(&nonce, NumericDate::from_secs(api.clock.secs()))
    );
    assert!(api.store.is_empty(), "the refused proof is not spent");

    let uri = format!("{PUBLIC}/orders");
    let with_nonce = api.proof_with("GET", &uri, &token, |p| p.nonce(&nonce));
    ok(
        &api.dpop("GET", "/orders", &token, &[&with_nonce]).await,
        &format!("alice {}", api.jkt),
    );

    // Two steps later the nonce is stale: 401 again, with a new nonce.
    api.clock.advance(Duration::from_secs(120));
    let token = api.bound_token();
    let stale = api.proof_with("GET", &uri, &token, |p| p.nonce(&nonce));
    let r = api.dpop("GET", "/orders", &token, &[&stale]).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.body["error"], "use_dpop_nonce", "{r:?}");
    let fresh = r.nonce.clone().expect("a new DPoP-Nonce header");
    assert_ne!(fresh, nonce);
    let retried = api.proof_with("GET", &uri, &token, |p| p.nonce(&fresh));
    ok(
        &api.dpop("GET", "/orders", &token, &[&retried]).await,
        &format!("alice {}", api.jkt),
    );
    // A nonce that was never issued here is no nonce.
    let forged = api.proof_with("GET", &uri, &token, |p| p.nonce("AAAA"));
    let r = api.dpop("GET", "/orders", &token, &[&forged]).await;
    assert_eq!(r.body["error"], "use_dpop_nonce", "{r:?}");
}

#[tokio::test]
async fn a_path_prefix_public_url_is_the_base_of_htu() {
    // A proxy serves this API at https://example.com/orders-api/… and forwards /orders-api/x as /x.
    let api = Api::start_at(Setup::default(), "https://example.com/orders-api/").await;
    let token = api.bound_token();
    let proof = api.proof_with(
        "GET",
        "https://example.com/orders-api/orders",
        &token,
        |p| p,
    );
    ok(
        &api.dpop("GET", "/orders", &token, &[&proof]).await,
        &format!("alice {}", api.jkt),
    );
    // A proof for the path without the prefix is a proof for another resource.
    let proof = api.proof_with("GET", "https://example.com/orders", &token, |p| p);
    let r = api.dpop("GET", "/orders", &token, &[&proof]).await;
    assert_bad_proof(
        &r,
        "the proof is for 'https://example.com/orders', this request is for",
    );
}

#[tokio::test]
async fn a_cached_token_still_needs_a_fresh_correct_proof_on_every_request() {
    let api = Api::start(Setup {
        cache: true,
        ..Setup::default()
    })
    .await;
    let token = api.bound_token();
    let first = api.proof("GET", "/orders", &token);
    ok(
        &api.dpop("GET", "/orders", &token, &[&first]).await,
        &format!("alice {}", api.jkt),
    );
    // The token is cached now; the proof is checked as if it were not.
    let r = api.dpop("GET", "/orders", &token, &[&first]).await;
    assert_eq!(r.body["error"], "invalid_dpop_proof", "replayed: {r:?}");
    let r = api.dpop("GET", "/orders", &token, &[]).await;
    assert_eq!(r.body["error"], "invalid_dpop_proof", "no proof: {r:?}");
    let r = api
        .dpop(
            "GET",
            "/orders/1",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await;
    assert_eq!(r.body["error"], "invalid_dpop_proof", "another path: {r:?}");
    let thief = SigningKey::generate(Algorithm::ES256).unwrap();
    let foreign = Proof::new("GET", &format!("{PUBLIC}/orders"))
        .access_token(&token)
        .issued_at(NumericDate::from_secs(api.clock.secs()))
        .sign(&thief)
        .unwrap();
    let r = api.dpop("GET", "/orders", &token, &[&foreign]).await;
    assert_eq!(r.body["error"], "invalid_token", "another key: {r:?}");
    // The cached token as a bearer token: refused from the cache too.
    let r = api.bearer("/orders", &token).await;
    assert_eq!(r.body["error"], "invalid_token", "as Bearer: {r:?}");
    ok(
        &api.dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await,
        &format!("alice {}", api.jkt),
    );
}

#[tokio::test]
async fn a_dpop_only_layer_refuses_bearer_tokens_and_challenges_only_with_dpop() {
    let api = Api::start(Setup {
        policy: Policy::DpopOnly,
        ..Setup::default()
    })
    .await;
    let r = api.bearer("/orders", &api.unbound_token()).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.challenge.as_deref(),
        Some(format!("DPoP realm=\"test\", algs=\"{ALGS}\"").as_str())
    );
    assert_eq!(
        r.body,
        json!({
            "error": "missing_token",
            "error_description": "a DPoP-bound access token is required: Authorization: DPoP <token> with a DPoP proof",
        })
    );
    let r = send(client().get(format!("{}/orders", api.url))).await;
    assert_eq!(
        r.challenge.as_deref(),
        Some(format!("DPoP realm=\"test\", algs=\"{ALGS}\"").as_str())
    );
    let token = api.bound_token();
    ok(
        &api.dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await,
        &format!("alice {}", api.jkt),
    );
}

#[tokio::test]
async fn no_token_at_a_layer_taking_both_schemes_gets_both_challenges() {
    let api = Api::start(Setup::default()).await;
    let r = send(client().get(format!("{}/orders", api.url))).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.challenge.as_deref(),
        Some(format!("Bearer realm=\"test\", DPoP realm=\"test\", algs=\"{ALGS}\"").as_str())
    );
    assert_eq!(r.body["error"], "missing_token");
}

#[tokio::test]
async fn errors_after_the_layer_keep_the_dpop_scheme() {
    let api = Api::start(Setup::default()).await;
    let token = api.bound_token();
    let r = api
        .dpop(
            "GET",
            "/admin",
            &token,
            &[&api.proof("GET", "/admin", &token)],
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.challenge.as_deref(),
        Some(format!("DPoP realm=\"test\", error=\"insufficient_scope\", scope=\"admin\", algs=\"{ALGS}\"").as_str())
    );
    // A forged token in the DPoP scheme: invalid_token, in the DPoP scheme.
    let r = api
        .dpop(
            "GET",
            "/orders",
            "eyJ.eyJ.sig",
            &[&api.proof("GET", "/orders", "eyJ.eyJ.sig")],
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(
        r.challenge
            .as_deref()
            .unwrap()
            .starts_with("DPoP realm=\"test\", error=\"invalid_token\""),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_revoked_bound_token_is_refused_even_with_a_perfect_proof() {
    let api = Api::start(Setup::default()).await;
    let token = token(
        &api.issuer,
        &api.clock,
        json!({ "cnf": { "jkt": api.jkt }, "jti": "revoked" }),
    );
    let r = api
        .dpop(
            "GET",
            "/orders",
            &token,
            &[&api.proof("GET", "/orders", &token)],
        )
        .await;
    assert_dpop_error(&r, "invalid_token", "the token has been revoked");
}

#[tokio::test]
async fn the_example_takes_bearer_and_dpop_bound_tokens_side_by_side() {
    let settings = dpop_api::Settings::from_args_and_env(
        ["--public-url", "https://api.example.com/shop/"].map(String::from),
    )
    .unwrap();
    let issuer = key();
    let clock = TestClock::at(START);
    let url = serve(dpop_api::router(
        verifier(&issuer, &clock),
        settings.dpop().unwrap(),
    ))
    .await;
    let client_key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let jkt = client_key.public_jwk().unwrap().thumbprint().unwrap();
    let bound = token(
        &issuer,
        &clock,
        json!({ "cnf": { "jkt": jkt }, "scope": dpop_api::READ_ORDERS }),
    );
    let unbound = token(&issuer, &clock, json!({}));
    let get = |path: &str, scheme: &str, token: &str, proof: Option<String>| {
        let mut request = client()
            .get(format!("{url}{path}"))
            .header("authorization", format!("{scheme} {token}"));
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        send(request)
    };
    // The example's proofs use the system clock, as its clients do.
    let proof = |path: &str| {
        Proof::new("GET", &format!("https://api.example.com/shop{path}"))
            .access_token(&bound)
            .sign(&client_key)
            .unwrap()
    };

    let r = get("/whoami", "Bearer", &unbound, None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body,
        json!({ "sub": "alice", "token": "bearer", "jkt": null })
    );
    let r = get("/whoami", "DPoP", &bound, Some(proof("/whoami"))).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body,
        json!({ "sub": "alice", "token": "DPoP-bound", "jkt": jkt })
    );
    let r = get("/orders", "DPoP", &bound, Some(proof("/orders"))).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = get("/whoami", "Bearer", &bound, None).await;
    assert_eq!(r.body["error"], "invalid_token", "{r:?}");
    let r = get("/whoami", "DPoP", &bound, Some(proof("/orders"))).await;
    assert_eq!(r.body["error"], "invalid_dpop_proof", "{r:?}");
    // The example accepts ES256 and EdDSA proofs only, and says so.
    assert!(r.challenge.unwrap().ends_with("algs=\"ES256 EdDSA\""));
}
