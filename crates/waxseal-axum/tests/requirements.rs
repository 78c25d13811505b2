//! Per-route requirements behind the layer: scopes (all, any; `scope` strings and `scp` arrays), audiences, custom
//! predicates with their message; and the wiring mistakes they report instead of letting requests through.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::routing::get;
use common::{START, TestClock, assert_error, client, get_with, key, reply, serve, token};
use serde::Deserialize;
use serde_json::json;
use waxseal::jwt::Claims;
use waxseal_axum::{BearerAuthLayer, RequireAudience, RequireClaims, RequireScope};

#[derive(Deserialize)]
struct Staff {
    role: String,
}

async fn ok() -> &'static str {
    "ok"
}

fn app() -> Router {
    Router::new()
        .route(
            "/all",
            get(ok).route_layer(RequireScope::all(["read", "write"])),
        )
        .route(
            "/any",
            get(ok).route_layer(RequireScope::any(["read", "admin"])),
        )
        .route(
            "/billing",
            get(ok).route_layer(RequireAudience::any(["billing-api", "legacy-billing"])),
        )
        .route(
            "/staff",
            get(ok).route_layer(RequireClaims::new(
                |c: &Claims<Staff>| c.custom.role == "admin",
                "administrators only",
            )),
        )
        .route(
            // Both: the route layer added last runs first.
            "/both",
            get(ok)
                .route_layer(RequireScope::all(["write"]))
                .route_layer(RequireAudience::any(["orders-api"])),
        )
}

/// A verifier that accepts the test audiences of several resources (each route narrows with RequireAudience).
fn verifier(key: &waxseal::SigningKey, clock: &TestClock) -> waxseal::jwt::Verifier {
    common::verifier(key, clock)
        .audience("billing-api")
        .audience("legacy-billing")
}

#[tokio::test]
async fn scopes_all_and_any() {
    let key = key();
    let clock = TestClock::at(START);
    let url = serve(app().layer(BearerAuthLayer::new(verifier(&key, &clock)).realm("test"))).await;
    let with = |extra| token(&key, &clock, extra);
    let cases = [
        (json!({"scope": "read write"}), 200, 200),
        (json!({"scope": "write read extra"}), 200, 200),
        (json!({"scope": "read"}), 403, 200),
        (json!({"scope": "admin"}), 403, 200),
        (json!({"scope": "reader writer"}), 403, 403),
        (json!({"scp": ["read", "write"]}), 200, 200),
        (json!({"scp": "read"}), 403, 200),
        (json!({}), 403, 403),
        (json!({"scope": 7}), 403, 403),
    ];
    for (claims, all, any) in cases {
        let token = with(claims.clone());
        assert_eq!(
            get_with(&format!("{url}/all"), &token).await.status,
            all,
            "{claims}"
        );
        assert_eq!(
            get_with(&format!("{url}/any"), &token).await.status,
            any,
            "{claims}"
        );
    }
    let r = get_with(&format!("{url}/all"), &with(json!({"scope": "read"}))).await;
    assert_error(
        &r,
        403,
        Some("Bearer realm=\"test\", error=\"insufficient_scope\", scope=\"read write\""),
        "insufficient_scope",
        "this resource requires the scopes read write",
    );
    let r = get_with(&format!("{url}/any"), &with(json!({}))).await;
    assert_error(
        &r,
        403,
        Some("Bearer realm=\"test\", error=\"insufficient_scope\", scope=\"read admin\""),
        "insufficient_scope",
        "this resource requires one of the scopes read admin",
    );
}

#[tokio::test]
async fn audiences_and_predicates() {
    let key = key();
    let clock = TestClock::at(START);
    let url = serve(app().layer(BearerAuthLayer::new(verifier(&key, &clock)).realm("test"))).await;
    let with = |extra| token(&key, &clock, extra);

    let r = get_with(&format!("{url}/billing"), &with(json!({}))).await;
    let description = "the token's audience (aud) is not this resource";
    assert_error(
        &r,
        401,
        Some(&common::invalid_token(description)),
        "invalid_token",
        description,
    );
    let billing = with(json!({"aud": ["legacy-billing", "x"]}));
    assert_eq!(
        get_with(&format!("{url}/billing"), &billing).await.status,
        200
    );

    let r = get_with(&format!("{url}/staff"), &with(json!({"role": "intern"}))).await;
    assert_error(
        &r,
        403,
        Some(
            "Bearer realm=\"test\", error=\"insufficient_scope\", error_description=\"administrators only\"",
        ),
        "insufficient_scope",
        "administrators only",
    );
    assert_eq!(
        get_with(&format!("{url}/staff"), &with(json!({"role": "admin"})))
            .await
            .status,
        200
    );
    // The predicate's type does not fit the claims: the token is refused, not the predicate asked.
    assert_eq!(
        get_with(&format!("{url}/staff"), &with(json!({"role": 1})))
            .await
            .status,
        401
    );

    // Checked in order: audience first (401), then scope (403).
    let r = get_with(&format!("{url}/both"), &billing).await;
    assert_eq!(r.status, 401);
    let r = get_with(&format!("{url}/both"), &with(json!({"scope": "read"}))).await;
    assert_eq!(r.status, 403);
    let r = get_with(&format!("{url}/both"), &with(json!({"scope": "write"}))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_requirement_without_the_layer_is_a_500_and_lets_nothing_through() {
    let url = serve(app()).await;
    for path in ["/all", "/any", "/billing", "/staff"] {
        let r = reply(client().get(format!("{url}{path}"))).await;
        assert_eq!(r.status, 500, "{path}");
        assert_eq!(r.body["error"], "server_error", "{path}");
        assert_eq!(r.challenge, None);
    }
}

#[tokio::test]
async fn behind_an_optional_layer_a_requirement_asks_for_a_token() {
    let key = key();
    let clock = TestClock::at(START);
    let layer = BearerAuthLayer::new(verifier(&key, &clock))
        .optional()
        .realm("test");
    let url = serve(app().layer(layer)).await;
    let r = reply(client().get(format!("{url}/all"))).await;
    assert_error(
        &r,
        401,
        Some("Bearer realm=\"test\""),
        "missing_token",
        "an access token is required: Authorization: Bearer <token>",
    );
    let token = token(&key, &clock, json!({"scope": "read write"}));
    assert_eq!(get_with(&format!("{url}/all"), &token).await.status, 200);
}
