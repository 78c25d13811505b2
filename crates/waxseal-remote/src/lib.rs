//! # waxseal-remote — an issuer's keys over the network, fetched safely
//!
//! Most tokens are verified by services other than the one that issued them, with keys fetched from the issuer's
//! JWK Set: a waxseal server, Auth0, Okta, Cognito, Keycloak, GitHub Actions, Kubernetes. [`RemoteKeySet`] caches
//! that document as its `Cache-Control` says (within bounds), refetches once when a token names an unknown `kid`
//! (rate-limited, single-flight), keeps serving cached keys through an issuer outage up to a staleness bound and then
//! fails closed; [`Issuer::discover`] finds the JWK Set from OpenID Connect Discovery or RFC 8414 metadata and
//! refuses a document that names another issuer; [`RemoteVerifier`] puts a core [`waxseal::jwt::Verifier`] on top.
//!
//! ```no_run
//! # async fn run() -> Result<(), waxseal_remote::Error> {
//! let issuer = waxseal_remote::Issuer::discover("https://token.actions.githubusercontent.com").await?;
//! let verifier = issuer.verifier().configure(|v| v.audience("https://github.com/my-org"));
//! # let token = "";
//! let claims = verifier.verify::<serde_json::Value>(token).await?;
//! println!("repository: {}", claims.custom["repository"]);
//! # Ok(()) }
//! ```
//!
//! Only `https` URLs are fetched, except for loopback addresses (local issuers, tests).
#![forbid(unsafe_code)]

mod discovery;
mod error;
mod fetch;
mod key_set;
mod verifier;

pub use discovery::Issuer;
pub use error::{Error, ErrorKind, Result};
pub use key_set::{Keys, Options, RemoteKeySet};
pub use verifier::RemoteVerifier;
