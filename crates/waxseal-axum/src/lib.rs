//! # waxseal-axum — protect an axum or tower service with one layer
//!
//! [`BearerAuthLayer`] lets a request through only with a valid bearer token, puts its verified claims in the
//! request, and answers everything else with the RFC 6750 response a client expects: 401 with a
//! `WWW-Authenticate: Bearer` challenge (bare when there was no token, `error="invalid_token"` with a description
//! when it was refused), 400 `invalid_request` for a malformed `Authorization`, 403 `insufficient_scope` from the
//! per-route requirements. Handlers take [`Claims<T>`] (your serde type) or [`Authenticated`]. With a [`Dpop`] policy
//! it also takes DPoP-bound tokens (RFC 9449) with their proofs; a DPoP-bound token is never accepted as a bearer
//! token, by any layer.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use serde::Deserialize;
//! use waxseal::{Algorithm, KeySet, SigningKey, jwt::{self, Signer, Verifier}};
//! use waxseal_axum::{BearerAuthLayer, Claims, RequireScope, Scopes, TokenClaims};
//! use tower::ServiceExt as _;
//!
//! #[derive(Deserialize)]
//! struct Access { scope: String }
//! impl TokenClaims for Access {
//!     fn scopes(&self) -> Scopes<'_> { Scopes::space_separated(Some(&self.scope)) }
//! }
//!
//! async fn orders(Claims(claims): Claims<Access>) -> String {
//!     format!("orders of {}", claims.registered.sub.as_deref().unwrap_or("?"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let key = SigningKey::generate(Algorithm::ES256)?;
//! # let jwks = serde_json::json!({ "keys": [key.public_jwk()?] }).to_string();
//! // The issuer's public keys and the rules: build once.
//! let verifier = Verifier::new(KeySet::from_jwks(&jwks)?)
//!     .issuer("https://auth.example.com")
//!     .audience("orders-api");
//!
//! let app = Router::new()
//!     .route("/orders", get(orders).route_layer(RequireScope::all(["orders:read"])))
//!     .route("/me", get(|Claims(c): Claims<serde_json::Value>| async move { c.custom.to_string() }))
//!     .layer(BearerAuthLayer::new(verifier).claims::<Access>().cache(10_000).realm("orders"));
//!
//! # let token = Signer::new(&key).sign(&jwt::Claims::new(serde_json::json!({"scope": "orders:read"}))
//! #     .issuer("https://auth.example.com").subject("alice").audience("orders-api")
//! #     .expires_in(Duration::from_secs(300)))?;
//! let request = |token: &str| axum::http::Request::get("/orders")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty());
//! let response = app.clone().oneshot(request(&token)?).await?;
//! assert_eq!(response.status(), 200);
//! let response = app.oneshot(request("forged")?).await?;
//! assert_eq!(response.status(), 401);
//! assert!(response.headers()["www-authenticate"].to_str()?.starts_with(r#"Bearer realm="orders", error="invalid_token""#));
//! # Ok(()) }
//! ```
//!
//! ## Plugging in
//!
//! * **Who verifies** — anything [`TokenVerifier`]: the core `waxseal::jwt::Verifier` (local keys),
//!   `waxseal_remote::RemoteVerifier` (an issuer's JWK Set, fetched, cached and refreshed; for example from
//!   `waxseal_remote::Issuer::discover`), or your own. A verifier whose keys are unreachable makes the layer answer
//!   503, never let a request through.
//! * **Where the token is** — `Authorization: Bearer`, and with [`BearerAuthLayer::cookie`] also a cookie (the
//!   header wins). See [`bearer_token`] for what is refused.
//! * **The verified-token cache** — [`BearerAuthLayer::cache`]: a token seen again skips the signature check
//!   (tens of microseconds for ES256 or RS256; a hit is a SHA-256 and a lookup). Only fully verified tokens go in,
//!   each with the verifier's time window, checked on every hit; it is emptied whenever the verifier's keys change.
//!   See [`verified_cache`].
//! * **Revocation** — [`BearerAuthLayer::revocation`] takes a [`RevocationCheck`] (a closure will do), asked on every
//!   request after verification, cache hit or not.
//! * **DPoP** — [`BearerAuthLayer::dpop`] takes a [`Dpop`] policy: the public URL clients call (the base of every
//!   proof's `htu`), a `waxseal::dpop::ProofVerifier`, a replay store, and whether bearer tokens are still accepted
//!   ([`Dpop::required`]). See [`dpop`] and below.
//! * **Per-route requirements** — route layers after the main one: [`RequireScope`] (all or any), [`RequireAudience`],
//!   [`RequireClaims`] (any predicate, with a message), or your own [`Requirement`].
//! * **Protected resource metadata** (RFC 9728, what MCP servers must publish) — [`ProtectedResource`] builds the
//!   document once ([`ResourceMetadata`]); [`ResourceMetadata::router`] serves it at its well-known URLs, and
//!   [`BearerAuthLayer::protected_resource`] makes every challenge name it (`resource_metadata="…"`) and every 401
//!   the scope a token needs. See [`resource`] and below.
//!
//! ## DPoP-bound tokens
//!
//! A token whose `cnf.jkt` names the client's key comes as `Authorization: DPoP <token>`, with a `DPoP` header
//! holding a fresh proof signed by that key for this request. The layer checks the token (the cache applies), the
//! proof (method, URL, age, the token's hash, the server nonce when the `ProofVerifier` requires them), that the
//! proof's key is the token's, and that the proof was not used before; then the revocation check. Refusals are
//! 401 `invalid_dpop_proof` or `use_dpop_nonce` (with a `DPoP-Nonce` to retry with) in the `DPoP` scheme, with the
//! accepted algorithms in `algs`.
//!
//! ```
//! use axum::{Router, routing::get};
//! use waxseal::{Algorithm, SigningKey, dpop::{Proof, ProofVerifier}, jwt::{self, Signer, Verifier}};
//! use waxseal_axum::{Authenticated, BearerAuthLayer, Dpop, dpop::MemoryReplayStore};
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let issuer_key = SigningKey::generate(Algorithm::ES256)?;
//! # let verifier = Verifier::new(issuer_key.verifying_key()?)
//! #     .issuer("https://auth.example.com")
//! #     .audience("orders-api");
//! // Clients call https://example.com/orders-api/…; the proxy in front forwards /orders-api/x here as /x.
//! let dpop = Dpop::new("https://example.com/orders-api")?
//!     .verifier(ProofVerifier::new().algorithms([Algorithm::ES256, Algorithm::EdDSA]))
//!     .replay_store(MemoryReplayStore::new(100_000));
//! let app = Router::new()
//!     .route("/orders", get(|auth: Authenticated| async move {
//!         format!("orders for key {}", auth.dpop_jkt().unwrap_or("(a bearer token)"))
//!     }))
//!     .layer(BearerAuthLayer::new(verifier).cache(10_000).dpop(dpop));
//!
//! // The client holds a key; its token is bound to the key's thumbprint (cnf.jkt); every request gets a new proof.
//! let client_key = SigningKey::generate(Algorithm::ES256)?;
//! let jkt = client_key.public_jwk()?.thumbprint()?;
//! # let token = Signer::new(&issuer_key).sign(&jwt::Claims::new(serde_json::json!({}))
//! #     .issuer("https://auth.example.com").subject("alice").audience("orders-api")
//! #     .expires_in(std::time::Duration::from_secs(300)).confirmation_jkt(&jkt))?;
//! let proof = Proof::new("GET", "https://example.com/orders-api/orders")
//!     .access_token(&token)
//!     .sign(&client_key)?;
//! let request = axum::http::Request::get("/orders")
//!     .header("authorization", format!("DPoP {token}"))
//!     .header("dpop", proof.as_str())
//!     .body(axum::body::Body::empty())?;
//! assert_eq!(app.clone().oneshot(request).await?.status(), 200);
//!
//! // The same proof again is a replay; the same token as a bearer token is a stolen token.
//! let replay = axum::http::Request::get("/orders")
//!     .header("authorization", format!("DPoP {token}"))
//!     .header("dpop", proof.as_str())
//!     .body(axum::body::Body::empty())?;
//! let response = app.clone().oneshot(replay).await?;
//! assert_eq!(response.status(), 401);
//! assert!(response.headers()["www-authenticate"].to_str()?.starts_with(r#"DPoP error="invalid_dpop_proof""#));
//! let bearer = axum::http::Request::get("/orders")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())?;
//! assert_eq!(app.oneshot(bearer).await?.status(), 401);
//! # Ok(()) }
//! ```
//!
//! ## An MCP server: one resource, one issuer
//!
//! An MCP client that knows only `https://mcp.example.com/mcp` calls it, gets a 401 whose challenge names the
//! metadata document (RFC 9728 §5.1), reads there which authorization server to ask, and asks it for a token for
//! this resource with the scope the challenge named.
//!
//! ```
//! use axum::{Router, routing::post};
//! use waxseal::{Algorithm, SigningKey, jwt::Verifier};
//! use waxseal_axum::{BearerAuthLayer, ProtectedResource};
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let issuer_key = SigningKey::generate(Algorithm::ES256)?;
//! // Tokens for this resource carry it as their audience (RFC 8707).
//! let verifier = Verifier::new(issuer_key.verifying_key()?)
//!     .issuer("https://auth.example.com")
//!     .audience("https://mcp.example.com/mcp");
//! let metadata = ProtectedResource::new("https://mcp.example.com/mcp")
//!     .authorization_server("https://auth.example.com")
//!     .scopes(["mcp:tools"])
//!     .build()?; // checked, and the document serialized, once
//! let app = Router::new()
//!     .route("/mcp", post(|| async { "{}" }))
//!     .layer(BearerAuthLayer::new(verifier).protected_resource(&metadata))
//!     .merge(metadata.router()); // after the layer: the document is public
//!
//! let call = axum::http::Request::post("/mcp").body(axum::body::Body::empty())?;
//! let response = app.clone().oneshot(call).await?;
//! assert_eq!(response.status(), 401);
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     r#"Bearer scope="mcp:tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#
//! );
//! let discover = axum::http::Request::get("/.well-known/oauth-protected-resource/mcp")
//!     .body(axum::body::Body::empty())?;
//! let document = app.oneshot(discover).await?;
//! assert_eq!(document.headers()["content-type"], "application/json");
//! let body = axum::body::to_bytes(document.into_body(), 4096).await?;
//! let document: serde_json::Value = serde_json::from_slice(&body)?;
//! assert_eq!(document["authorization_servers"][0], "https://auth.example.com");
//! # Ok(()) }
//! ```
//!
//! ## Examples
//!
//! * `examples/protected_api.rs` — an orders API trusting a running `waxseal serve` through its discovery document
//!   and JWK Set: `cargo run -p waxseal-axum --example protected_api`. Its docs say what a resource server holding
//!   only public keys cannot see (a logout at the auth server).
//! * `examples/workload_identity.rs` — a deploy service accepting GitHub Actions OIDC tokens from one repository
//!   and branch, and Kubernetes service-account tokens from one namespace and account: typed claims and
//!   [`RequireClaims`] policies.
//! * `examples/dpop_api.rs` — an API taking bearer tokens and DPoP-bound tokens side by side, and how to call it
//!   with `waxseal dpop`.
//!
//! ## Errors
//!
//! Every refusal is an [`Error`] with a [`ErrorKind`] and becomes its response in one place; the [`error`] module has
//! the table. Descriptions never echo a token, and are always valid in a quoted-string. An extractor or requirement
//! on a route the layer does not cover is a wiring mistake: 500, logged, never a panic.
#![forbid(unsafe_code)]

mod claims;
pub mod dpop;
pub mod error;
mod layer;
mod require;
pub mod resource;
mod token;
pub mod verified_cache;
mod verifier;

pub use claims::{Authenticated, Claims, Scopes, TokenClaims};
pub use dpop::Dpop;
pub use error::{Error, ErrorKind};
pub use layer::{BearerAuth, BearerAuthLayer};
pub use require::{
    Require, RequireAudience, RequireClaims, RequireLayer, RequireScope, Requirement,
};
pub use resource::{ProtectedResource, ResourceMetadata};
pub use token::bearer_token;
pub use verified_cache::VerifiedCache;
pub use verifier::{NoRevocation, RevocationCheck, TokenVerifier, Verified};
