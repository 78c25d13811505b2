//! DPoP at the protected routes (`/api/*`, `/userinfo`): the server's `BearerAuthLayer` with the token endpoint's
//! proof verifier and replay store. A bound token works only as `Authorization: DPoP` with a fresh proof by its key
//! for this request, `htu` being the public issuer URL and the path; as a bearer token it is refused, as is a
//! proof replayed at this instance or another, or one for another route.

use std::sync::Arc;

use waxseal::SigningKey;
use waxseal::dpop::Proof;
use waxseal::jwt::NumericDate;

use super::common::{TestClock, TestServer};
use super::{
    CLIENT_CREDENTIALS, ISSUER, client_key, service_client, start, thumbprint, token,
    token_bound_to, token_uri, two_instances,
};

/// A resource request's answer: status, `WWW-Authenticate`, `DPoP-Nonce`, body.
#[derive(Debug)]
struct Resource {
    status: u16,
    challenge: Option<String>,
    nonce: Option<String>,
    body: serde_json::Value,
}

/// `GET path` with `authorization` and the `DPoP` header `dpop`, if any.
async fn get(server: &TestServer, path: &str, authorization: &str, dpop: Option<&str>) -> Resource {
    let mut request = server
        .client
        .get(server.at(path))
        .header("authorization", authorization);
    if let Some(dpop) = dpop {
        request = request.header("dpop", dpop);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (challenge, nonce) = (header("www-authenticate"), header("dpop-nonce"));
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Resource {
        status,
        challenge,
        nonce,
        body,
    }
}

/// A proof for `GET path` under the public issuer URL, with the token's `ath`.
fn resource_proof(key: &SigningKey, path: &str, token: &str, clock: &TestClock) -> String {
    Proof::new("GET", &format!("{ISSUER}{path}"))
        .access_token(token)
        .issued_at(NumericDate::from_secs(clock.secs()))
        .sign(key)
        .unwrap()
}

/// A client-credentials token bound to `key`.
async fn bound_token(server: &TestServer, key: &SigningKey, clock: &Arc<TestClock>) -> String {
    let auth = service_client(server).await;
    let answer = token_bound_to(server, &auth, key, clock).await;
    answer.access_token().to_owned()
}

fn assert_refused(answer: &Resource, error: &str) {
    assert_eq!(answer.status, 401, "{answer:?}");
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains(&format!("error=\"{error}\"")),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_token_is_accepted_at_api_me_only_with_a_fresh_proof_by_its_key() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let key = client_key();
    let token = bound_token(&server, &key, &clock).await;
    let authorization = format!("DPoP {token}");

    let first = get(
        &server,
        "/api/me",
        &authorization,
        Some(&resource_proof(&key, "/api/me", &token, &clock)),
    )
    .await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["cnf"]["jkt"], thumbprint(&key), "{first:?}");
    // A second request with its own proof: the cached token still needs one.
    let second_proof = resource_proof(&key, "/api/protected", &token, &clock);
    let second = get(
        &server,
        "/api/protected",
        &authorization,
        Some(&second_proof),
    )
    .await;
    assert_eq!(second.status, 200, "{second:?}");

    // The same proof again: a replay.
    let replay = get(
        &server,
        "/api/protected",
        &authorization,
        Some(&second_proof),
    )
    .await;
    assert_refused(&replay, "invalid_dpop_proof");
    // No proof at all.
    assert_refused(
        &get(&server, "/api/me", &authorization, None).await,
        "invalid_dpop_proof",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_token_sent_as_bearer_is_refused_everywhere() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let token = bound_token(&server, &client_key(), &clock).await;
    for path in ["/api/me", "/api/protected", "/userinfo"] {
        let answer = get(&server, path, &format!("Bearer {token}"), None).await;
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert!(
            answer.body["error_description"]
                .as_str()
                .unwrap_or_default()
                .contains("DPoP"),
            "{path}: {answer:?}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_proof_for_another_route_key_token_or_the_listener_address_is_refused() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let key = client_key();
    let token = bound_token(&server, &key, &clock).await;
    let other_token = bound_token(&server, &key, &clock).await;
    let authorization = format!("DPoP {token}");
    let at = NumericDate::from_secs(clock.secs());

    // A proof for /api/protected presented at /api/me.
    let elsewhere = resource_proof(&key, "/api/protected", &token, &clock);
    assert_refused(
        &get(&server, "/api/me", &authorization, Some(&elsewhere)).await,
        "invalid_dpop_proof",
    );
    // The listener's own address instead of the public issuer URL.
    let listener = Proof::new("GET", &server.at("/api/me"))
        .access_token(&token)
        .issued_at(at)
        .sign(&key)
        .unwrap();
    assert_refused(
        &get(&server, "/api/me", &authorization, Some(&listener)).await,
        "invalid_dpop_proof",
    );
    // The ath of another token.
    let other_ath = resource_proof(&key, "/api/me", &other_token, &clock);
    assert_refused(
        &get(&server, "/api/me", &authorization, Some(&other_ath)).await,
        "invalid_dpop_proof",
    );
    // A correct proof by another key than the token's cnf.jkt.
    let thief = resource_proof(&client_key(), "/api/me", &token, &clock);
    let stolen = get(&server, "/api/me", &authorization, Some(&thief)).await;
    assert_eq!(stolen.status, 401, "{stolen:?}");
    assert!(
        stolen
            .challenge
            .as_deref()
            .unwrap_or_default()
            .starts_with("DPoP "),
        "{stolen:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nonces_required_a_resource_request_gets_a_nonce_challenge_and_the_retry_passes() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |config| config.dpop_nonces = true).await;
    let key = client_key();
    let auth = service_client(&server).await;
    // The token endpoint's own challenge first, then the token with the nonce.
    let first = token_bound_to(&server, &auth, &key, &clock).await;
    first.assert_error("use_dpop_nonce");
    let nonce = first.nonce.clone().unwrap();
    let with_nonce = Proof::new("POST", &token_uri(ISSUER))
        .nonce(&nonce)
        .issued_at(NumericDate::from_secs(clock.secs()))
        .sign(&key)
        .unwrap();
    let token_answer = token(&server, Some(&auth), &[&with_nonce], CLIENT_CREDENTIALS).await;
    let access = token_answer.access_token().to_owned();
    let authorization = format!("DPoP {access}");

    let without = get(
        &server,
        "/api/me",
        &authorization,
        Some(&resource_proof(&key, "/api/me", &access, &clock)),
    )
    .await;
    assert_refused(&without, "use_dpop_nonce");
    let nonce = without
        .nonce
        .clone()
        .expect("DPoP-Nonce with the challenge");
    let retry = Proof::new("GET", &format!("{ISSUER}/api/me"))
        .access_token(&access)
        .nonce(&nonce)
        .issued_at(NumericDate::from_secs(clock.secs()))
        .sign(&key)
        .unwrap();
    let answer = get(&server, "/api/me", &authorization, Some(&retry)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_proof_replayed_at_another_instance_is_refused() {
    let clock = TestClock::new();
    let Some((a, b, _backing)) = two_instances("dpop_resource_replay", &clock, |_| {}).await else {
        return;
    };
    let key = client_key();
    let token = bound_token(&a, &key, &clock).await;
    let authorization = format!("DPoP {token}");
    let captured = resource_proof(&key, "/api/me", &token, &clock);
    let first = get(&a, "/api/me", &authorization, Some(&captured)).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_refused(
        &get(&b, "/api/me", &authorization, Some(&captured)).await,
        "invalid_dpop_proof",
    );
    // A fresh proof is fine at the other instance.
    let fresh = resource_proof(&key, "/api/me", &token, &clock);
    assert_eq!(
        get(&b, "/api/me", &authorization, Some(&fresh))
            .await
            .status,
        200
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_token_cannot_end_its_session_as_a_bearer_token_at_logout() {
    let clock = TestClock::new();
    let (server, _backing) = start(&clock, |_| {}).await;
    let key = client_key();
    let token = bound_token(&server, &key, &clock).await;
    let status = server.logout(&token, None, false).await;
    assert_eq!(status, 401);
    // Still good with its proof: nothing was ended.
    let still = get(
        &server,
        "/api/me",
        &format!("DPoP {token}"),
        Some(&resource_proof(&key, "/api/me", &token, &clock)),
    )
    .await;
    assert_eq!(still.status, 200, "{still:?}");
    server.stop().await;
}
