//! # waxseal — JSON Web Tokens done right
//!
//! Anyone can read a sealed letter; only the sender can make the seal; anyone can check it is unbroken. waxseal
//! signs and verifies JSON Web Tokens (RFC 7519) and the JOSE objects beneath them (JWS, JWK) so that the attacks
//! of the last decade are impossible by construction rather than avoided by care:
//!
//! * **Keys are bound to one algorithm.** A [`VerifyingKey`] made from an RSA key verifies `RS256` (say) and
//!   nothing else; `none` is not an [`Algorithm`] at all. The algorithms a verifier accepts come from its keys,
//!   and a caller can only narrow them.
//! * **Tokens are read strictly.** One spelling per token: canonical base64url without padding or whitespace,
//!   JSON without duplicate member names, bounded size and depth ([`Limits`]). Unknown `crit` extensions are
//!   refused; `jku`, `x5u`, `jwk` and `x5c` are never followed.
//! * **The signature comes first.** Claims are parsed only after the signature verifies, and validated
//!   (`exp`, `nbf`, `iss`, `aud`, `typ`, …) before they reach your type.
//!
//! ## Sign and verify a JWT
//!
//! ```
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//! use waxseal::{Algorithm, SigningKey, jwt::{Claims, Signer, Verifier}};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Access { scope: String }
//!
//! let key = SigningKey::generate(Algorithm::ES256)?;
//! let claims = Claims::new(Access { scope: "read:orders".into() })
//!     .issuer("https://auth.example.com")
//!     .subject("user-42")
//!     .audience("orders-api")
//!     .expires_in(Duration::from_secs(15 * 60));
//! let token = Signer::new(&key).sign(&claims)?;
//!
//! let verifier = Verifier::new(key.verifying_key()?)
//!     .issuer("https://auth.example.com")
//!     .audience("orders-api");
//! let verified = verifier.verify::<Access>(&token)?;
//! assert_eq!(verified.custom.scope, "read:orders");
//! assert_eq!(verified.registered.sub.as_deref(), Some("user-42"));
//! # Ok::<(), waxseal::Error>(())
//! ```
//!
//! ## Encrypt
//!
//! [`jwe`] makes and opens JWEs (RFC 7516, compact and JSON serializations) with keys bound to one key-management algorithm
//! ([`DecryptionKey`], [`EncryptionKey`]); they are not signing keys, and the compiler keeps the two apart.
//!
//! ## Bind tokens to a key
//!
//! [`dpop`] checks and makes DPoP proofs (RFC 9449), the per-request signatures that make a stolen access token
//! useless without the client's key.
//!
//! ## Keys from elsewhere
//!
//! [`Jwk`] reads JWKs, PEM (PKCS#8, SPKI, PKCS#1, SEC1, X.509 certificates) and DER; [`KeySet`] reads a JWK Set and
//! picks keys by `kid` and `alg`. Errors carry an [`ErrorKind`] to match on and a message that says what to fix.
//!
//! The crate does no I/O: no network, no files, no global state. `#![forbid(unsafe_code)]`; all cryptography is
//! aws-lc-rs.
#![forbid(unsafe_code)]

pub mod alg;
pub mod b64;
mod crit;
pub mod dpop;
mod error;
mod json;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod jwt;
mod keys;
mod lazy_members;

pub use alg::{Algorithm, AlgorithmSet};
pub use error::{Error, ErrorKind, Result};
pub use json::Limits;
pub use jwe::{DecryptionKey, EncryptionKey};
pub use jwk::{Jwk, KeySet};
pub use keys::{SigningKey, VerifyingKey};

/// The README's example, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
