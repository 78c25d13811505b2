//! # waxseal-axum — protect an axum or tower service with one layer
//!
//! [`BearerAuthLayer`] lets a request through only with a valid bearer token, puts its verified claims in the
//! request, and answers everything else with the RFC 6750 response a client expects: 401 with a
//! `WWW-Authenticate: Bearer` challenge (bare when there was no token, `error="invalid_token"` with a description
//! when it was refused), 400 `invalid_request` for a malformed `Authorization`, 403 `insufficient_scope` from the
//! per-route requirements. Handlers take [`Claims<T>`] (your serde type) or [`Authenticated`].
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
//! * **Per-route requirements** — route layers after the main one: [`RequireScope`] (all or any), [`RequireAudience`],
//!   [`RequireClaims`] (any predicate, with a message), or your own [`Requirement`].
//!
//! ## Examples
//!
//! * `examples/protected_api.rs` — an orders API trusting a running `waxseal serve` through its discovery document
//!   and JWK Set: `cargo run -p waxseal-axum --example protected_api`. Its docs say what a resource server holding
//!   only public keys cannot see (a logout at the auth server).
//! * `examples/workload_identity.rs` — a deploy service accepting GitHub Actions OIDC tokens from one repository
//!   and branch, and Kubernetes service-account tokens from one namespace and account: typed claims and
//!   [`RequireClaims`] policies.
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
pub use token::bearer_token;
pub use verified_cache::VerifiedCache;
pub use verifier::{NoRevocation, RevocationCheck, TokenVerifier, Verified};
