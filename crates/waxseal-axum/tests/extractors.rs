//! What handlers get: typed claims from a typed layer or from the default JSON map, the type-erased view, optional
//! authentication, the cookie as a token source, and clear 500s (never panics) when the wiring is wrong.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::routing::get;
use common::{START, TestClock, client, get_with, key, reply, serve, token, verifier};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use waxseal_axum::{Authenticated, BearerAuthLayer, Claims, Scopes, TokenClaims};

#[derive(Debug, Deserialize)]
struct Access {
    scope: String,
    tenant: String,
}

impl TokenClaims for Access {
    fn scopes(&self) -> Scopes<'_> {
        Scopes::space_separated(Some(&self.scope))
    }
}

#[derive(Debug, Deserialize)]
struct Other {
    #[allow(dead_code)]
    nothing_like_it: u32,
}

async fn tenant(Claims(claims): Claims<Access>) -> String {
    format!(
        "{} of {} ({})",
        claims.registered.sub.as_deref().unwrap_or("?"),
        claims.custom.tenant,
        claims.custom.scope
    )
}

async fn raw(Claims(claims): Claims<Map<String, Value>>) -> String {
    claims.custom["tenant"].to_string()
}

async fn erased(auth: Authenticated) -> String {
    format!(
        "{} {:?} {:?}",
        auth.subject().unwrap_or("?"),
        auth.registered().aud,
        auth.scopes().iter().collect::<Vec<_>>()
    )
}

async fn other(Claims(_): Claims<Other>) -> &'static str {
    "unreachable"
}

fn routes() -> Router {
    Router::new()
        .route("/tenant", get(tenant))
        .route("/raw", get(raw))
        .route("/erased", get(erased))
        .route("/other", get(other))
}

#[tokio::test]
async fn a_typed_layer_hands_out_its_type_and_refuses_another_with_a_clear_500() {
    let key = key();
    let clock = TestClock::at(START);
    let layer = BearerAuthLayer::new(verifier(&key, &clock))
        .claims::<Access>()
        .cache(16);
    let url = serve(routes().layer(layer)).await;
    let good = token(&key, &clock, json!({"scope": "a b", "tenant": "acme"}));
    for _ in 0..2 {
        // The second time from the cache: the same answer.
        let r = get_with(&format!("{url}/tenant"), &good).await;
        assert_eq!((r.status, r.body), (200, json!("alice of acme (a b)")));
    }
    let r = get_with(&format!("{url}/erased"), &good).await;
    assert_eq!(
        (r.status, r.body),
        (200, json!("alice Some(One(\"orders-api\")) [\"a\", \"b\"]"))
    );
    // The layer verifies into its type: claims that do not fit are refused there, 401.
    let misfit = token(&key, &clock, json!({"scope": "a"}));
    let r = get_with(&format!("{url}/tenant"), &misfit).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body["error_description"],
        "the token's claims do not have the expected form"
    );
    // A handler asking for another type than the layer carries: a wiring mistake, 500 naming both types.
    let r = get_with(&format!("{url}/other"), &good).await;
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(r.body["error"], "server_error");
    let said = r.body["error_description"].as_str().unwrap();
    assert!(
        said.contains("Claims<extractors::Other>") && said.contains("Claims<extractors::Access>"),
        "{said}"
    );
    assert_eq!(r.challenge, None);
}

#[tokio::test]
async fn the_default_layer_hands_out_any_type_the_claims_fit() {
    let key = key();
    let clock = TestClock::at(START);
    let url = serve(routes().layer(BearerAuthLayer::new(verifier(&key, &clock)))).await;
    let good = token(&key, &clock, json!({"scope": "a b", "tenant": "acme"}));
    let r = get_with(&format!("{url}/tenant"), &good).await;
    assert_eq!((r.status, r.body), (200, json!("alice of acme (a b)")));
    let r = get_with(&format!("{url}/raw"), &good).await;
    assert_eq!(
        (r.status, r.body),
        (200, json!("acme")),
        "the map's JSON string, served as text"
    );
    let r = get_with(&format!("{url}/erased"), &good).await;
    assert_eq!(
        r.body,
        json!("alice Some(One(\"orders-api\")) [\"a\", \"b\"]")
    );
    // Verified, but not of the handler's shape: refused by the extractor as an invalid token.
    let r = get_with(&format!("{url}/other"), &good).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.challenge.as_deref(),
        Some(
            "Bearer error=\"invalid_token\", error_description=\"the token's claims do not have the form this resource expects\""
        )
    );
}

#[tokio::test]
async fn extractors_without_the_layer_are_a_500_not_a_panic() {
    let url = serve(routes()).await;
    for path in ["/tenant", "/raw", "/erased"] {
        let r = get_with(&format!("{url}{path}"), "any.token.at-all").await;
        assert_eq!(r.status, 500, "{path}: {r:?}");
        assert_eq!(r.body["error"], "server_error");
        assert!(
            r.body["error_description"]
                .as_str()
                .unwrap()
                .contains("needs BearerAuthLayer in front of this route"),
            "{r:?}"
        );
    }
}

async fn greeting(claims: Option<Claims<Access>>) -> String {
    match claims {
        Some(Claims(claims)) => format!("hello {}", claims.custom.tenant),
        None => "hello stranger".to_owned(),
    }
}

#[tokio::test]
async fn an_optional_layer_lets_anonymous_requests_through_but_not_bad_tokens() {
    let key = key();
    let clock = TestClock::at(START);
    let layer = BearerAuthLayer::new(verifier(&key, &clock))
        .claims::<Access>()
        .optional();
    let url = serve(Router::new().route("/", get(greeting)).layer(layer)).await;
    let r = reply(client().get(&url)).await;
    assert_eq!((r.status, r.body), (200, json!("hello stranger")));
    let good = token(&key, &clock, json!({"scope": "", "tenant": "acme"}));
    let r = get_with(&url, &good).await;
    assert_eq!((r.status, r.body), (200, json!("hello acme")));
    let r = get_with(&url, "forged.token.value").await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_configured_cookie_carries_the_token_when_no_header_does() {
    let key = key();
    let clock = TestClock::at(START);
    let layer = BearerAuthLayer::new(verifier(&key, &clock))
        .cookie("access_token")
        .realm("test");
    let url = serve(routes().layer(layer)).await;
    let at = format!("{url}/tenant");
    let good = token(&key, &clock, json!({"scope": "s", "tenant": "acme"}));
    let cookie = |value: &str| client().get(&at).header("cookie", value.to_owned());

    let r = reply(cookie(&format!("theme=dark; access_token={good}"))).await;
    assert_eq!((r.status, r.body), (200, json!("alice of acme (s)")));
    // The header wins over the cookie.
    let r = reply(cookie("access_token=garbage.token.here").bearer_auth(&good)).await;
    assert_eq!(r.status, 200);
    let r = reply(cookie(&format!("access_token={good}")).bearer_auth("garbage.token.here")).await;
    assert_eq!(r.status, 401);
    // A cookie planted twice (cookie tossing) is refused rather than guessed at.
    let r = reply(cookie(&format!("access_token={good}; access_token=other"))).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_request");
    let r = reply(cookie("access_token=garbage.token.here")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_token");
    let r = reply(cookie("other=x")).await;
    assert_eq!(
        (r.status, r.challenge.as_deref()),
        (401, Some("Bearer realm=\"test\""))
    );
}
