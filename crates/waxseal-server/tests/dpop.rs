//! DPoP (RFC 9449) at the token endpoint, over real HTTP and real SQLite files (PostgreSQL and Redis where several
//! instances share them): an access token issued with a proof is bound to the proof's key (`token_type: DPoP`,
//! `cnf.jkt`) for every grant; a proof is refused when replayed — at the same instance or at another — when it is
//! for another request (method, path, the listener's address instead of the public issuer URL), when it is too old,
//! and when it lacks the server's nonce while nonces are required; a public client's refresh token is bound to its
//! key; a code requested with `dpop_jkt` is exchanged only with that key; a client registered as requiring DPoP
//! sends a proof or gets nothing. Introspection and discovery say so.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "dpop/resource.rs"]
mod resource;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::agent::{Agent, pkce};
use common::{Backing, PASSWORD, TestClock, TestServer, basic, form};
use serde_json::Value;
use waxseal::dpop::Proof;
use waxseal::jwt::NumericDate;
use waxseal::{Algorithm, SigningKey};
use waxseal_server::{ClientPermissions, Config, GrantType, SecretUrl, WebClient};
use waxseal_testkit::redis::{shared_redis, unique_prefix};

const TOKEN: &str = "/oauth/token";

/// An issuer with a path prefix, on another host than the listener's: what a server behind a proxy has.
const ISSUER: &str = "https://auth.example.com/tenant-a";

fn token_uri(issuer: &str) -> String {
    format!("{issuer}{TOKEN}")
}

fn client_key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

fn thumbprint(key: &SigningKey) -> String {
    key.public_jwk().unwrap().thumbprint().unwrap()
}

/// A proof for `POST` to `uri`, made at the test clock's time.
fn proof(key: &SigningKey, uri: &str, clock: &TestClock) -> String {
    Proof::new("POST", uri)
        .issued_at(NumericDate::from_secs(clock.secs()))
        .sign(key)
        .unwrap()
}

/// The claims of a JWT, unverified: what the test looks at, not what it trusts.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A token endpoint answer with the header DPoP adds.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    nonce: Option<String>,
}

impl Answer {
    fn assert_error(&self, error: &str) {
        assert_eq!(self.status, 400, "{self:?}");
        assert_eq!(self.body["error"], error, "{self:?}");
        assert!(self.body["error_description"].is_string(), "{self:?}");
    }

    fn refresh_token(&self) -> String {
        assert_eq!(self.status, 200, "{self:?}");
        self.body["refresh_token"].as_str().unwrap().to_owned()
    }

    fn access_token(&self) -> &str {
        assert_eq!(self.status, 200, "{self:?}");
        self.body["access_token"].as_str().unwrap()
    }
}

/// `POST /oauth/token` with `proofs` as `DPoP` headers (none, one, or several).
async fn token(
    server: &TestServer,
    authorization: Option<&str>,
    proofs: &[&str],
    params: &[(&str, &str)],
) -> Answer {
    let mut request = server
        .client
        .post(server.at(TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(params));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    let response = request.send().await.unwrap();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = common::status_and_json(response).await;
    Answer {
        status,
        body,
        nonce,
    }
}

async fn service_client(server: &TestServer) -> String {
    let (id, secret) = server
        .add_client("svc", &[GrantType::ClientCredentials], &["read"])
        .await;
    basic(&id, &secret)
}

const CLIENT_CREDENTIALS: &[(&str, &str)] = &[("grant_type", "client_credentials")];

/// A client-credentials token for `auth`, with a fresh proof by `key`: bound to it.
async fn token_bound_to(
    server: &TestServer,
    auth: &str,
    key: &SigningKey,
    clock: &TestClock,
) -> Answer {
    let proof = proof(key, &token_uri(ISSUER), clock);
    token(server, Some(auth), &[&proof], CLIENT_CREDENTIALS).await
}

async fn start(clock: &Arc<TestClock>, tune: impl FnOnce(&mut Config)) -> (TestServer, Backing) {
    let backing = Backing::sqlite();
    let mut config = Config {
        issuer: ISSUER.into(),
        ..backing.config()
    };
    tune(&mut config);
    let server = TestServer::start_with(config, clock.clone()).await;
    (server, backing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_credentials_token_with_a_proof_is_bound_to_its_key() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let auth = service_client(&server).await;
    let key = client_key();

    let bound = token_bound_to(&server, &auth, &key, &clock).await;
    assert_eq!(bound.body["token_type"], "DPoP", "{bound:?}");
    assert_eq!(
        claims(bound.access_token())["cnf"]["jkt"],
        thumbprint(&key).as_str()
    );
    assert_eq!(bound.nonce, None, "nonces are off by default");

    let plain = token(&server, Some(&auth), &[], CLIENT_CREDENTIALS).await;
    assert_eq!(plain.body["token_type"], "Bearer", "{plain:?}");
    assert!(claims(plain.access_token()).get("cnf").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_replayed_at_the_token_endpoint_is_refused() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let auth = service_client(&server).await;
    let captured = proof(&client_key(), &token_uri(ISSUER), &clock);

    let first = token(&server, Some(&auth), &[&captured], CLIENT_CREDENTIALS).await;
    assert_eq!(first.status, 200, "{first:?}");
    let replayed = token(&server, Some(&auth), &[&captured], CLIENT_CREDENTIALS).await;
    replayed.assert_error("invalid_dpop_proof");
    assert!(
        replayed.body["error_description"]
            .as_str()
            .unwrap()
            .contains("used before"),
        "{replayed:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_for_another_request_or_the_listener_address_is_refused() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let auth = service_client(&server).await;
    let key = client_key();

    let listener_address = proof(&key, &server.at(TOKEN), &clock);
    let other_path = proof(&key, &format!("{ISSUER}/oauth/revoke"), &clock);
    let without_prefix = proof(&key, "https://auth.example.com/oauth/token", &clock);
    let get = Proof::new("GET", &token_uri(ISSUER))
        .issued_at(NumericDate::from_secs(clock.secs()))
        .sign(&key)
        .unwrap();
    for (what, refused) in [
        ("the address the request arrived on", listener_address),
        ("another path", other_path),
        ("the issuer's host without its path", without_prefix),
        ("another method", get),
    ] {
        let answer = token(&server, Some(&auth), &[&refused], CLIENT_CREDENTIALS).await;
        assert_eq!(answer.status, 400, "{what}: {answer:?}");
        assert_eq!(answer.body["error"], "invalid_dpop_proof", "{what}");
    }
    // Not one of them issued anything, and the right URI still works.
    let good = token_bound_to(&server, &auth, &key, &clock).await;
    assert_eq!(good.body["token_type"], "DPoP", "{good:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_made_too_long_ago_or_too_far_ahead_is_refused() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |c| {
        c.dpop_proof_window = Duration::from_secs(30);
    })
    .await;
    let auth = service_client(&server).await;
    let key = client_key();
    let made_at = |secs: u64| {
        Proof::new("POST", &token_uri(ISSUER))
            .issued_at(NumericDate::from_secs(secs))
            .sign(&key)
            .unwrap()
    };
    let now = clock.secs();
    let stale = token(
        &server,
        Some(&auth),
        &[&made_at(now - 31)],
        CLIENT_CREDENTIALS,
    )
    .await;
    stale.assert_error("invalid_dpop_proof");
    assert!(
        stale.body["error_description"]
            .as_str()
            .unwrap()
            .contains("old")
    );
    let ahead = token(
        &server,
        Some(&auth),
        &[&made_at(now + 31)],
        CLIENT_CREDENTIALS,
    )
    .await;
    ahead.assert_error("invalid_dpop_proof");
    let edge = token(
        &server,
        Some(&auth),
        &[&made_at(now - 30)],
        CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!(edge.status, 200, "within the window: {edge:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dpop_headers_are_refused() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let auth = service_client(&server).await;
    let key = client_key();
    let (one, two) = (
        proof(&key, &token_uri(ISSUER), &clock),
        proof(&key, &token_uri(ISSUER), &clock),
    );
    let answer = token(&server, Some(&auth), &[&one, &two], CLIENT_CREDENTIALS).await;
    answer.assert_error("invalid_dpop_proof");
    let garbage = token(&server, Some(&auth), &["not-a-jws"], CLIENT_CREDENTIALS).await;
    garbage.assert_error("invalid_dpop_proof");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nonces_required_a_proof_without_one_gets_a_nonce_and_the_retry_is_accepted() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |c| c.dpop_nonces = true).await;
    let auth = service_client(&server).await;
    let key = client_key();

    let first = token_bound_to(&server, &auth, &key, &clock).await;
    first.assert_error("use_dpop_nonce");
    let nonce = first.nonce.clone().expect("a DPoP-Nonce header");

    let forged = Proof::new("POST", &token_uri(ISSUER))
        .issued_at(NumericDate::from_secs(clock.secs()))
        .nonce("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .sign(&key)
        .unwrap();
    let refused = token(&server, Some(&auth), &[&forged], CLIENT_CREDENTIALS).await;
    refused.assert_error("use_dpop_nonce");

    let with_nonce = Proof::new("POST", &token_uri(ISSUER))
        .issued_at(NumericDate::from_secs(clock.secs()))
        .nonce(&nonce)
        .sign(&key)
        .unwrap();
    let retried = token(&server, Some(&auth), &[&with_nonce], CLIENT_CREDENTIALS).await;
    assert_eq!(retried.body["token_type"], "DPoP", "{retried:?}");
    assert!(retried.nonce.is_some(), "a fresh nonce with the tokens");

    // Two steps later the nonce is stale.
    clock.advance(waxseal_server::DPOP_NONCE_STEP * 2);
    let late = Proof::new("POST", &token_uri(ISSUER))
        .issued_at(NumericDate::from_secs(clock.secs()))
        .nonce(&nonce)
        .sign(&key)
        .unwrap();
    token(&server, Some(&auth), &[&late], CLIENT_CREDENTIALS)
        .await
        .assert_error("use_dpop_nonce");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_shows_the_key_a_token_is_bound_to() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let auth = service_client(&server).await;
    let key = client_key();
    let bound = token_bound_to(&server, &auth, &key, &clock).await;
    let shown = server
        .oauth(
            "/oauth/introspect",
            Some(&auth),
            &[("token", bound.access_token())],
        )
        .await;
    assert_eq!(shown.body["active"], true, "{shown:?}");
    assert_eq!(shown.body["token_type"], "DPoP");
    assert_eq!(shown.body["cnf"]["jkt"], thumbprint(&key).as_str());

    let plain = token(&server, Some(&auth), &[], CLIENT_CREDENTIALS).await;
    let shown = server
        .oauth(
            "/oauth/introspect",
            Some(&auth),
            &[("token", plain.access_token())],
        )
        .await;
    assert_eq!(shown.body["token_type"], "Bearer", "{shown:?}");
    assert!(shown.body.get("cnf").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_lists_the_proof_algorithms() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let document: Value = serde_json::from_str(&server.get_text(path).await).unwrap();
        let algs: Vec<&str> = document["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for expected in ["ES256", "EdDSA", "RS256", "PS256"] {
            assert!(algs.contains(&expected), "{path}: {algs:?}");
        }
        assert!(
            !algs.iter().any(|a| a.starts_with("HS")),
            "{path}: {algs:?}"
        );
    }
    server.stop().await;
}

/// Two instances behind one issuer, on one PostgreSQL database and one Redis prefix.
async fn two_instances(
    test: &str,
    clock: &Arc<TestClock>,
    tune: impl Fn(&mut Config),
) -> Option<(TestServer, TestServer, Backing)> {
    let backing = Backing::postgres().await?;
    let redis = shared_redis(test)?;
    let mut config = Config {
        issuer: ISSUER.into(),
        redis_url: Some(SecretUrl::new(&redis)),
        redis_key_prefix: unique_prefix(test),
        ..backing.config()
    };
    tune(&mut config);
    let a = TestServer::start_with(config.clone(), clock.clone()).await;
    let b = TestServer::start_with(config, clock.clone()).await;
    Some((a, b, backing))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_replayed_at_another_instance_is_refused() {
    let clock = TestClock::new();
    let Some((a, b, _backing)) = two_instances("dpop_replay", &clock, |_| {}).await else {
        return;
    };
    let auth = service_client(&a).await;
    let captured = proof(&client_key(), &token_uri(ISSUER), &clock);
    let first = token(&a, Some(&auth), &[&captured], CLIENT_CREDENTIALS).await;
    assert_eq!(first.body["token_type"], "DPoP", "{first:?}");
    token(&b, Some(&auth), &[&captured], CLIENT_CREDENTIALS)
        .await
        .assert_error("invalid_dpop_proof");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_issued_by_one_instance_is_accepted_by_another() {
    let clock = TestClock::new();
    let Some((a, b, _backing)) =
        two_instances("dpop_nonce", &clock, |c| c.dpop_nonces = true).await
    else {
        return;
    };
    let auth = service_client(&a).await;
    let key = client_key();
    let asked = token(
        &a,
        Some(&auth),
        &[&proof(&key, &token_uri(ISSUER), &clock)],
        CLIENT_CREDENTIALS,
    )
    .await;
    asked.assert_error("use_dpop_nonce");
    let nonce = asked.nonce.clone().unwrap();
    let with_nonce = Proof::new("POST", &token_uri(ISSUER))
        .issued_at(NumericDate::from_secs(clock.secs()))
        .nonce(&nonce)
        .sign(&key)
        .unwrap();
    let at_b = token(&b, Some(&auth), &[&with_nonce], CLIENT_CREDENTIALS).await;
    assert_eq!(at_b.body["token_type"], "DPoP", "A's nonce at B: {at_b:?}");
    a.stop().await;
    b.stop().await;
}

const REDIRECT: &str = "https://app.example/callback";

/// A server for the code flow: its issuer the URL a browser would use (a port bound and let go, as behind a load
/// balancer), alice, and a first-party client of the code flow, public or not.
struct CodeFlow {
    server: TestServer,
    clock: Arc<TestClock>,
    issuer: String,
    client_id: String,
    _backing: Backing,
}

impl CodeFlow {
    async fn start(backing: Backing, public: bool) -> CodeFlow {
        let listener = common::bind().await;
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let clock = TestClock::new();
        let config = Config {
            issuer: issuer.clone(),
            ..backing.config()
        };
        let server = TestServer::start_with(config, clock.clone()).await;
        server.add_user("alice", &["read"]).await;
        let client = server
            .add_web_client(
                "App",
                &["read"],
                WebClient {
                    redirect_uris: vec![REDIRECT.into()],
                    public,
                    first_party: true,
                    ..WebClient::default()
                },
            )
            .await;
        CodeFlow {
            server,
            clock,
            issuer,
            client_id: client.client_id.clone(),
            _backing: backing,
        }
    }

    fn proof(&self, key: &SigningKey) -> String {
        proof(key, &token_uri(&self.issuer), &self.clock)
    }

    /// Signs alice in and returns a code and its PKCE verifier; `extra` goes on the authorization request.
    async fn code(&self, extra: &[(&str, &str)]) -> (String, String) {
        let (verifier, challenge) = pkce();
        let mut url = url::Url::parse(&self.server.at("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid offline_access read"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        url.query_pairs_mut().extend_pairs(extra);
        let mut browser = Agent::new(&self.issuer);
        let page = browser.get(url.as_str()).await;
        let form = page.form("/signin");
        let back = browser
            .post(
                &self.server.at("/signin"),
                &form.with(&[("username", "alice"), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(back.status, 303, "{}", back.body);
        (back.redirect_params()["code"].clone(), verifier)
    }

    async fn exchange(&self, code: &str, verifier: &str, proofs: &[&str]) -> Answer {
        token(
            &self.server,
            None,
            proofs,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &self.client_id),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    async fn refresh(&self, refresh_token: &str, proofs: &[&str]) -> Answer {
        token(
            &self.server,
            None,
            proofs,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &self.client_id),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }
}

on_both_backends!(
    a_public_clients_refresh_token_is_refused_with_another_key_and_rotates_only_with_its_own
);

async fn a_public_clients_refresh_token_is_refused_with_another_key_and_rotates_only_with_its_own(
    backing: Backing,
) {
    let flow = CodeFlow::start(backing, true).await;
    let (key, thief) = (client_key(), client_key());
    let (code, verifier) = flow.code(&[]).await;
    let issued = flow.exchange(&code, &verifier, &[&flow.proof(&key)]).await;
    assert_eq!(issued.body["token_type"], "DPoP", "{issued:?}");
    let refresh_token = issued.refresh_token();

    // The stolen refresh token, with the thief's own key or with no proof at all: refused, and nothing rotated.
    flow.refresh(&refresh_token, &[&flow.proof(&thief)])
        .await
        .assert_error("invalid_grant");
    flow.refresh(&refresh_token, &[])
        .await
        .assert_error("invalid_dpop_proof");

    // The holder's refresh still works with the very same token: the refusals consumed nothing (a consumed token
    // presented again would have revoked the session as reuse).
    let refreshed = flow.refresh(&refresh_token, &[&flow.proof(&key)]).await;
    assert_eq!(refreshed.body["token_type"], "DPoP", "{refreshed:?}");
    assert_eq!(
        claims(refreshed.access_token())["cnf"]["jkt"],
        thumbprint(&key).as_str()
    );
    // And its successor is bound to the same key.
    flow.refresh(&refreshed.refresh_token(), &[&flow.proof(&thief)])
        .await
        .assert_error("invalid_grant");
    flow.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_requested_with_dpop_jkt_is_refused_with_another_key_or_none() {
    let flow = CodeFlow::start(Backing::sqlite(), true).await;
    let (key, thief) = (client_key(), client_key());
    let jkt = thumbprint(&key);

    let (code, verifier) = flow.code(&[("dpop_jkt", &jkt)]).await;
    flow.exchange(&code, &verifier, &[&flow.proof(&thief)])
        .await
        .assert_error("invalid_dpop_proof");
    let (code, verifier) = flow.code(&[("dpop_jkt", &jkt)]).await;
    flow.exchange(&code, &verifier, &[])
        .await
        .assert_error("invalid_dpop_proof");

    let (code, verifier) = flow.code(&[("dpop_jkt", &jkt)]).await;
    let exchanged = flow.exchange(&code, &verifier, &[&flow.proof(&key)]).await;
    assert_eq!(exchanged.body["token_type"], "DPoP", "{exchanged:?}");
    assert_eq!(claims(exchanged.access_token())["cnf"]["jkt"], jkt.as_str());

    // Not a thumbprint: refused at the authorization endpoint, back to the client.
    let mut url = url::Url::parse(&flow.server.at("/authorize")).unwrap();
    let (_, challenge) = pkce();
    url.query_pairs_mut().extend_pairs([
        ("client_id", flow.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("dpop_jkt", "not-a-thumbprint"),
    ]);
    let refused = Agent::new(&flow.issuer).get(url.as_str()).await;
    assert_eq!(refused.status, 303, "{}", refused.body);
    assert_eq!(refused.redirect_params()["error"], "invalid_request");
    flow.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_clients_refresh_token_stays_unbound_and_each_access_token_takes_the_proofs_key()
 {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    server.add_user("hank", &["read"]).await;
    let (id, secret) = server
        .add_client(
            "app",
            &[GrantType::Password, GrantType::RefreshToken],
            &["read"],
        )
        .await;
    let auth = basic(&id, &secret);
    let (first, second) = (client_key(), client_key());
    let issued = token(
        &server,
        Some(&auth),
        &[&proof(&first, &token_uri(ISSUER), &clock)],
        &[
            ("grant_type", "password"),
            ("username", "hank"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(issued.body["token_type"], "DPoP", "{issued:?}");

    let plain = server
        .refresh_grant(&auth, &issued.refresh_token(), &[])
        .await;
    assert_eq!(
        plain.status, 200,
        "bound to the client's authentication, not a key: {plain:?}"
    );
    assert_eq!(plain.body["token_type"], "Bearer");
    let next = plain.body["refresh_token"].as_str().unwrap();
    let rebound = token(
        &server,
        Some(&auth),
        &[&proof(&second, &token_uri(ISSUER), &clock)],
        &[("grant_type", "refresh_token"), ("refresh_token", next)],
    )
    .await;
    assert_eq!(
        claims(rebound.access_token())["cnf"]["jkt"],
        thumbprint(&second).as_str()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_registered_as_requiring_dpop_gets_nothing_without_a_proof() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let client = server
        .service
        .add_client_with_permissions(
            "strict",
            &[GrantType::ClientCredentials],
            &["read".into()],
            ClientPermissions {
                require_dpop: true,
                ..ClientPermissions::default()
            },
        )
        .await
        .unwrap();
    let auth = basic(&client.client_id, &client.client_secret);
    let refused = token(&server, Some(&auth), &[], CLIENT_CREDENTIALS).await;
    refused.assert_error("invalid_dpop_proof");
    assert!(
        refused.body["error_description"]
            .as_str()
            .unwrap()
            .contains("must send a DPoP proof"),
        "{refused:?}"
    );
    let listed = server.service.list_clients().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|c| c.client_id == client.client_id && c.require_dpop)
    );
    let bound = token(
        &server,
        Some(&auth),
        &[&proof(&client_key(), &token_uri(ISSUER), &clock)],
        CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!(bound.body["token_type"], "DPoP", "{bound:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_is_refused_with_503_when_redis_cannot_say_whether_it_was_used() {
    let clock = TestClock::new();
    // A Redis that never answers: nothing listens on the port once the probe lets it go.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("redis://{}", listener.local_addr().unwrap());
    drop(listener);
    let (server, _backing) = start(&clock, |c| {
        c.redis_url = Some(SecretUrl::new(&dead));
        c.redis_key_prefix = unique_prefix("dpop_redis_down");
    })
    .await;
    let auth = service_client(&server).await;
    let refused = token(
        &server,
        Some(&auth),
        &[&proof(&client_key(), &token_uri(ISSUER), &clock)],
        CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!(refused.status, 503, "fails closed: {refused:?}");
    assert_eq!(refused.body["error"], "temporarily_unavailable");
    assert!(refused.body.get("access_token").is_none());
    // Without a proof there is nothing to remember: the grant goes on.
    let plain = token(&server, Some(&auth), &[], CLIENT_CREDENTIALS).await;
    assert_eq!(plain.status, 200, "{plain:?}");
    server.stop().await;
}
