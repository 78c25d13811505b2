//! OAuth protected resource metadata (RFC 9728), as MCP clients use it: the document served at both well-known
//! forms with its members, every challenge pointing at it (`resource_metadata`, and on a 401 the `scope` a token
//! needs), and configurations that would publish a wrong document refused when built.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::routing::get;
use common::{START, TestClock, key, token, verifier};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use waxseal::SigningKey;
use waxseal::dpop::ProofVerifier;
use waxseal_axum::{
    BearerAuthLayer, Dpop, ErrorKind, ProtectedResource, RequireScope, ResourceMetadata,
};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const METADATA_URL: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
const RM: &str =
    "resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"";

fn mcp_resource() -> ResourceMetadata {
    ProtectedResource::new(RESOURCE)
        .authorization_server(common::ISSUER)
        .scopes(["mcp:tools"])
        .scopes_supported(["mcp:admin", "mcp:tools"])
        .resource_name("Example MCP")
        .resource_documentation("https://mcp.example.com/docs")
        .build()
        .unwrap()
}

async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn with_auth(path: &str, authorization: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", authorization)
        .body(Body::empty())
        .unwrap()
}

fn challenge(response: &Response<Body>) -> &str {
    response.headers()["www-authenticate"].to_str().unwrap()
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// An MCP-shaped API: `/mcp` (any valid token) and `/admin` (needs `mcp:admin`), behind one layer; the metadata
/// router merged outside it.
fn app(
    issuer: &SigningKey,
    clock: &TestClock,
    metadata: &ResourceMetadata,
    dpop: Option<Dpop>,
) -> Router {
    let mut layer = BearerAuthLayer::new(verifier(issuer, clock))
        .realm("mcp")
        .protected_resource(metadata);
    if let Some(dpop) = dpop {
        layer = layer.dpop(dpop);
    }
    Router::new()
        .route("/mcp", get(|| async { "ok" }))
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(RequireScope::all(["mcp:admin"])),
        )
        .layer(layer)
        .merge(metadata.router())
}

#[tokio::test]
async fn the_document_of_a_path_resource_is_served_at_both_well_known_forms() {
    let metadata = mcp_resource();
    assert_eq!(metadata.metadata_url(), METADATA_URL);
    assert_eq!(
        metadata.well_known_path(),
        "/.well-known/oauth-protected-resource/mcp"
    );
    let clock = TestClock::at(START);
    let app = app(&key(), &clock, &metadata, None);
    let expected = json!({
        "resource": RESOURCE,
        "authorization_servers": [common::ISSUER],
        "scopes_supported": ["mcp:tools", "mcp:admin"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Example MCP",
        "resource_documentation": "https://mcp.example.com/docs",
    });
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
        assert_eq!(json_body(response).await, expected, "{path}");
    }
    // The document is public: no token needed, and it is the bytes built once.
    assert_eq!(
        serde_json::from_slice::<Value>(metadata.document()).unwrap(),
        expected
    );
    // Another suffix is no document of this resource.
    let other = send(&app, get_req("/.well-known/oauth-protected-resource/other")).await;
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn the_document_of_a_root_resource_and_its_dpop_members() {
    let dpop = Dpop::new("https://api.example.com")
        .unwrap()
        .verifier(ProofVerifier::new().algorithms([waxseal::Algorithm::ES256]))
        .required();
    let metadata = ProtectedResource::new("https://api.example.com/")
        .authorization_server("https://a.example.com")
        .authorization_server("https://b.example.com/tenant")
        .dpop(&dpop)
        .max_age(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(
        metadata.metadata_url(),
        "https://api.example.com/.well-known/oauth-protected-resource"
    );
    let app: Router = metadata.router();
    let response = send(&app, get_req("/.well-known/oauth-protected-resource")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    assert_eq!(
        json_body(response).await,
        json!({
            "resource": "https://api.example.com/",
            "authorization_servers": ["https://a.example.com", "https://b.example.com/tenant"],
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": ["ES256"],
            "dpop_bound_access_tokens_required": true,
        })
    );
}

#[tokio::test]
async fn every_401_names_the_metadata_and_the_scope() {
    let issuer = key();
    let clock = TestClock::at(START);
    let metadata = mcp_resource();
    let app = app(&issuer, &clock, &metadata, None);

    let none = send(&app, get_req("/mcp")).await;
    assert_eq!(none.status(), 401);
    assert_eq!(
        challenge(&none),
        format!("Bearer realm=\"mcp\", scope=\"mcp:tools\", {RM}")
    );

    let forged = send(&app, with_auth("/mcp", "Bearer forged")).await;
    assert_eq!(forged.status(), 401);
    let c = challenge(&forged);
    assert!(
        c.starts_with("Bearer realm=\"mcp\", error=\"invalid_token\", error_description=\""),
        "{c}"
    );
    assert!(c.ends_with(&format!(", scope=\"mcp:tools\", {RM}")), "{c}");

    let good = token(&issuer, &clock, json!({ "scope": "mcp:tools" }));
    let ok = send(&app, with_auth("/mcp", &format!("Bearer {good}"))).await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn a_403_from_require_scope_names_its_scope_and_the_metadata() {
    let issuer = key();
    let clock = TestClock::at(START);
    let metadata = mcp_resource();
    let app = app(&issuer, &clock, &metadata, None);
    let good = token(&issuer, &clock, json!({ "scope": "mcp:tools" }));
    let response = send(&app, with_auth("/admin", &format!("Bearer {good}"))).await;
    assert_eq!(response.status(), 403);
    // The route's scope, not the resource's: the client steps up to `mcp:admin`.
    assert_eq!(
        challenge(&response),
        format!("Bearer realm=\"mcp\", error=\"insufficient_scope\", scope=\"mcp:admin\", {RM}")
    );
    let admin = token(&issuer, &clock, json!({ "scope": "mcp:tools mcp:admin" }));
    let response = send(&app, with_auth("/admin", &format!("Bearer {admin}"))).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn dpop_challenges_name_the_metadata_too() {
    let issuer = key();
    let clock = TestClock::at(START);
    let metadata = mcp_resource();
    let dpop = Dpop::new("https://mcp.example.com")
        .unwrap()
        .verifier(ProofVerifier::new().algorithms([waxseal::Algorithm::ES256]));
    let app = app(&issuer, &clock, &metadata, Some(dpop));

    let none = send(&app, get_req("/mcp")).await;
    assert_eq!(none.status(), 401);
    assert_eq!(
        challenge(&none),
        format!(
            "Bearer realm=\"mcp\", scope=\"mcp:tools\", {RM}, \
             DPoP realm=\"mcp\", scope=\"mcp:tools\", {RM}, algs=\"ES256\""
        )
    );

    // A DPoP-bound token without its proof.
    let bound = token(
        &issuer,
        &clock,
        json!({ "scope": "mcp:tools", "cnf": { "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } }),
    );
    let response = send(&app, with_auth("/mcp", &format!("DPoP {bound}"))).await;
    assert_eq!(response.status(), 401);
    let c = challenge(&response);
    assert!(
        c.starts_with("DPoP realm=\"mcp\", error=\"invalid_dpop_proof\", error_description=\""),
        "{c}"
    );
    assert!(
        c.ends_with(&format!(", scope=\"mcp:tools\", {RM}, algs=\"ES256\"")),
        "{c}"
    );
}

#[tokio::test]
async fn without_the_option_challenges_are_unchanged() {
    let issuer = key();
    let clock = TestClock::at(START);
    let app = Router::new()
        .route("/mcp", get(|| async { "ok" }))
        .layer(BearerAuthLayer::new(verifier(&issuer, &clock)).realm("mcp"));
    let none = send(&app, get_req("/mcp")).await;
    assert_eq!(challenge(&none), "Bearer realm=\"mcp\"");
}

#[test]
fn bad_configurations_are_refused_when_built() {
    let build = |resource: &str, issuer: Option<&str>| {
        let mut config = ProtectedResource::new(resource);
        if let Some(issuer) = issuer {
            config = config.authorization_server(issuer);
        }
        config.build().map(|_| ()).map_err(|e| e.kind())
    };
    let issuer = Some(common::ISSUER);
    assert_eq!(build(RESOURCE, issuer), Ok(()));
    for bad in [
        "mcp.example.com/mcp",
        "/mcp",
        "ftp://mcp.example.com/mcp",
        "https://",
        "https:///mcp",
        "https://user@mcp.example.com/mcp",
        "https://mcp.example.com/mcp#section",
        "https://mcp.example.com/mcp?tenant=1",
        "https://mcp.example.com/m\"cp",
        "https://mcp.example.com/m cp",
        "",
    ] {
        assert_eq!(build(bad, issuer), Err(ErrorKind::Misconfigured), "{bad}");
        assert_eq!(
            build(RESOURCE, Some(bad)),
            Err(ErrorKind::Misconfigured),
            "issuer {bad}"
        );
    }
    assert_eq!(build(RESOURCE, None), Err(ErrorKind::Misconfigured));
    let scoped = |scope: &str| {
        ProtectedResource::new(RESOURCE)
            .authorization_server(common::ISSUER)
            .scopes([scope])
            .build()
            .map(|_| ())
            .map_err(|e| e.kind())
    };
    assert_eq!(scoped("mcp:tools"), Ok(()));
    for bad in ["", "a b", "a\"b", "a\\b"] {
        assert_eq!(scoped(bad), Err(ErrorKind::Misconfigured), "{bad:?}");
    }
    let docs = ProtectedResource::new(RESOURCE)
        .authorization_server(common::ISSUER)
        .resource_documentation("docs.html")
        .build();
    assert_eq!(
        docs.map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::Misconfigured)
    );
}

#[tokio::test]
async fn an_optional_layer_s_requirement_401_names_the_metadata() {
    let issuer = key();
    let clock = TestClock::at(START);
    let metadata = mcp_resource();
    let app = Router::new()
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(RequireScope::all(["mcp:admin"])),
        )
        .route("/public", get(|| async { "public" }))
        .layer(
            BearerAuthLayer::new(verifier(&issuer, &clock))
                .optional()
                .protected_resource(&metadata),
        );
    assert_eq!(send(&app, get_req("/public")).await.status(), 200);
    let response = send(&app, get_req("/admin")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response),
        format!("Bearer scope=\"mcp:tools\", {RM}")
    );
}
