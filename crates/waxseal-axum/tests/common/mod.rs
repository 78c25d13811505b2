//! Shared fixtures: keys, tokens, a clock tests can move, a router served on loopback, and a reqwest client.
// A broken fixture should stop the test where it broke.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use serde_json::{Value, json};
use waxseal::jwt::{Signer, Verifier};
use waxseal::{Algorithm, SigningKey};
pub use waxseal_testkit::TestClock;

pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "orders-api";
/// Where the tests' clocks start (`TestClock::at(START)`): 2030-01-01.
pub const START: u64 = 1_893_456_000;

pub fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

/// The verifier of `key`'s tokens: issuer, audience, the test clock, the core's 60 s leeway.
pub fn verifier(key: &SigningKey, clock: &TestClock) -> Verifier {
    Verifier::new(key.verifying_key().unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .clock(clock.clone())
}

/// A token from `key` at the clock's time: issuer and audience as the verifier wants, 5 minutes of life, `extra`
/// claims merged in (and overriding).
pub fn token(key: &SigningKey, clock: &TestClock, extra: Value) -> String {
    let now = clock.secs();
    let mut claims = json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now, "exp": now + 300,
        "jti": format!("jti-{}", rand_suffix()),
    });
    if let (Value::Object(claims), Value::Object(extra)) = (&mut claims, extra) {
        claims.extend(extra);
    }
    Signer::new(key).sign(&claims).unwrap()
}

fn rand_suffix() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// Serves `app` on an ephemeral loopback port; the task ends with the test's runtime.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// One answer: status, `WWW-Authenticate`, `Content-Type`, and the body (JSON, or a string when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub challenge: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

pub async fn reply(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header").to_owned())
    };
    let challenge = header("www-authenticate");
    let content_type = header("content-type");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        challenge,
        content_type,
        body,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// GET `url` with `Authorization: Bearer token`.
pub async fn get_with(url: &str, token: &str) -> Reply {
    reply(client().get(url).bearer_auth(token)).await
}

/// Asserts the whole RFC 6750 error answer: status, exact challenge, JSON content type, exact body.
pub fn assert_error(
    reply: &Reply,
    status: u16,
    challenge: Option<&str>,
    error: &str,
    description: &str,
) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.challenge.as_deref(), challenge, "{reply:?}");
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/json"),
        "{reply:?}"
    );
    assert_eq!(
        reply.body,
        json!({ "error": error, "error_description": description }),
        "{reply:?}"
    );
}

/// `Bearer realm="test", error="invalid_token", error_description="…"`.
pub fn invalid_token(description: &str) -> String {
    format!("Bearer realm=\"test\", error=\"invalid_token\", error_description=\"{description}\"")
}
