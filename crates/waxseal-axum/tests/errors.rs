//! Every refusal over real HTTP: status, `WWW-Authenticate` and JSON body exactly as RFC 6750 §3 says, and
//! descriptions that stay valid quoted-strings and short whatever the attacker sends.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{
    AUDIENCE, START, TestClock, assert_error, client, get_with, invalid_token, key, reply, serve,
    token, verifier,
};
use serde_json::json;
use waxseal_axum::{Authenticated, BearerAuthLayer, RequireScope};

async fn whoami(auth: Authenticated) -> String {
    auth.subject().unwrap_or_default().to_owned()
}

struct App {
    url: String,
    key: waxseal::SigningKey,
    clock: std::sync::Arc<TestClock>,
}

impl App {
    async fn start() -> App {
        let key = key();
        let clock = TestClock::at(START);
        let layer = BearerAuthLayer::new(verifier(&key, &clock))
            .cache(100)
            .realm("test");
        let app = Router::new()
            .route("/me", get(whoami))
            .route(
                "/write",
                get(whoami).route_layer(RequireScope::all(["write"])),
            )
            .layer(layer);
        App {
            url: serve(app).await,
            key,
            clock,
        }
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    fn token(&self, extra: serde_json::Value) -> String {
        token(&self.key, &self.clock, extra)
    }
}

const MISSING: &str = "an access token is required: Authorization: Bearer <token>";

#[tokio::test]
async fn no_token_gets_the_bare_challenge_without_an_error_code() {
    let app = App::start().await;
    let r = reply(client().get(app.at("/me"))).await;
    assert_error(
        &r,
        401,
        Some("Bearer realm=\"test\""),
        "missing_token",
        MISSING,
    );
    // Another scheme is no bearer credential at all (RFC 6750 §3.1's "unsupported authentication method").
    let r = reply(client().get(app.at("/me")).basic_auth("alice", Some("pw"))).await;
    assert_error(
        &r,
        401,
        Some("Bearer realm=\"test\""),
        "missing_token",
        MISSING,
    );
}

#[tokio::test]
async fn a_malformed_authorization_is_400_invalid_request() {
    let app = App::start().await;
    let good = app.token(json!({}));
    let twice = client()
        .get(app.at("/me"))
        .header("authorization", format!("Bearer {good}"))
        .header("authorization", format!("Bearer {good}"));
    let description = "send one Authorization header, not several";
    assert_error(
        &reply(twice).await,
        400,
        Some(&format!(
            "Bearer realm=\"test\", error=\"invalid_request\", error_description=\"{description}\""
        )),
        "invalid_request",
        description,
    );
    let two_tokens = client()
        .get(app.at("/me"))
        .header("authorization", format!("Bearer {good} {good}"));
    let description = "send one token after Bearer, with no spaces in it";
    assert_error(
        &reply(two_tokens).await,
        400,
        Some(&format!(
            "Bearer realm=\"test\", error=\"invalid_request\", error_description=\"{description}\""
        )),
        "invalid_request",
        description,
    );
}

#[tokio::test]
async fn a_refused_token_is_401_invalid_token_with_the_reason() {
    let app = App::start().await;
    let cases = [
        ("garbage.token.here", "the token is malformed"),
        ("only-one-part", "the token is malformed"),
        (
            "a\"b",
            "the bearer token has characters a token cannot have",
        ),
    ];
    for (token, description) in cases {
        let r = get_with(&app.at("/me"), token).await;
        assert_error(
            &r,
            401,
            Some(&invalid_token(description)),
            "invalid_token",
            description,
        );
    }
    let empty = client()
        .get(app.at("/me"))
        .header("authorization", "Bearer ");
    let description = "the Authorization header names the Bearer scheme but carries no token";
    assert_error(
        &reply(empty).await,
        401,
        Some(&invalid_token(description)),
        "invalid_token",
        description,
    );

    // The verifier's own reasons: they name the claim, and quote token data only bounded and made safe.
    let other_audience = app.token(json!({"aud": "billing-api"}));
    let description = "audience 'billing-api' not accepted";
    let r = get_with(&app.at("/me"), &other_audience).await;
    assert_error(
        &r,
        401,
        Some(&invalid_token(description)),
        "invalid_token",
        description,
    );

    let forged = {
        let other = key();
        token(&other, &app.clock, json!({}))
    };
    let r = get_with(&app.at("/me"), &forged).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_token");
    assert!(
        r.challenge.as_deref().is_some_and(|c| c
            .starts_with("Bearer realm=\"test\", error=\"invalid_token\", error_description=\"")),
        "{r:?}"
    );

    let token = app.token(json!({}));
    assert_eq!(get_with(&app.at("/me"), &token).await.status, 200);
    app.clock.advance(Duration::from_secs(300 + 60 + 120));
    let description = "token expired 3 min ago";
    let r = get_with(&app.at("/me"), &token).await;
    assert_error(
        &r,
        401,
        Some(&invalid_token(description)),
        "invalid_token",
        description,
    );
}

#[tokio::test]
async fn a_token_without_the_scope_is_403_insufficient_scope_naming_it() {
    let app = App::start().await;
    let reader = app.token(json!({"scope": "read writer"}));
    let r = get_with(&app.at("/write"), &reader).await;
    assert_error(
        &r,
        403,
        Some("Bearer realm=\"test\", error=\"insufficient_scope\", scope=\"write\""),
        "insufficient_scope",
        "this resource requires the scope write",
    );
    let writer = app.token(json!({"scope": "read write"}));
    let r = get_with(&app.at("/write"), &writer).await;
    assert_eq!((r.status, r.challenge), (200, None));
    // A bad token on a scoped route is still a 401, not a 403.
    let r = get_with(&app.at("/write"), "garbage.token.here").await;
    assert_eq!(r.status, 401);
}

/// Claims an attacker controls (here `iss`, which the verifier quotes in its message) cannot break the header or
/// make it long: no `"`, `\` or control characters, at most 200 characters of description.
#[tokio::test]
async fn hostile_claims_never_break_or_bloat_the_challenge() {
    let app = App::start().await;
    let hostile = format!("evil\"\\\r\n\u{7f}é{}", "x".repeat(5000));
    let token = app.token(json!({"iss": hostile}));
    let r = get_with(&app.at("/me"), &token).await;
    assert_eq!(r.status, 401);
    let challenge = r.challenge.expect("a challenge");
    let description = challenge
        .strip_prefix("Bearer realm=\"test\", error=\"invalid_token\", error_description=\"")
        .and_then(|d| d.strip_suffix('"'))
        .expect("the challenge's shape");
    assert!(description.starts_with("issuer 'evil''"), "{description}");
    assert!(description.len() <= 200, "{}", description.len());
    assert!(
        description
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
        "{description}"
    );
    assert_eq!(r.body["error_description"], description);
    // The same with a token of 60 KiB of garbage: bounded, and not echoed.
    let huge = "A".repeat(60 * 1024);
    let r = get_with(&app.at("/me"), &huge).await;
    assert_eq!(r.status, 401);
    assert!(!r.body.to_string().contains("AAAA"), "{:?}", r.body);
}

#[tokio::test]
async fn without_a_realm_the_challenges_have_none() {
    let key = key();
    let clock = TestClock::at(START);
    let app = Router::new()
        .route("/me", get(whoami))
        .layer(BearerAuthLayer::new(verifier(&key, &clock)));
    let url = serve(app).await;
    let r = reply(client().get(format!("{url}/me"))).await;
    assert_eq!(r.challenge.as_deref(), Some("Bearer"));
    let r = get_with(&format!("{url}/me"), "garbage.token.here").await;
    assert_eq!(
        r.challenge.as_deref(),
        Some("Bearer error=\"invalid_token\", error_description=\"the token is malformed\"")
    );
    let good = token(&key, &clock, json!({"aud": AUDIENCE}));
    let r = get_with(&format!("{url}/me"), &good).await;
    assert_eq!((r.status, r.body), (200, json!("alice")));
}
