//! DPoP (RFC 9449): access tokens bound to a key the client holds, so that a copied token is useless without it.
//!
//! The client signs a short **proof** for every request (a JWT of `typ: dpop+jwt` carrying its public key in the
//! header, the request's method and URI, a unique `jti`, the time, and on resource requests a hash of the access
//! token); the authorization server puts the key's thumbprint in the token (`cnf.jkt`); a resource server accepts
//! the token only with a fresh proof by that key.
//!
//! This module is the sans-IO part, the same for the authorization server and resource servers:
//!
//! * [`ProofVerifier`] checks a proof against the request it arrived with ([`Expected`]): its form and header, an
//!   asymmetric `alg` from the accepted set, a public `jwk` (private members refused) and the signature by it,
//!   `htm`, `htu` (normalised, without query and fragment), `iat` within a window both ways, `ath`, and a server
//!   nonce when [`Nonces`] are required. It returns a [`VerifiedProof`]: the key's thumbprint, the `jti` and how
//!   long to remember it.
//! * Replay — the same `jti` twice from the same key — needs memory shared by every instance, so it is the
//!   caller's: remember `(jkt, jti)` until [`VerifiedProof::remember_until`] (`waxseal-axum` has the store).
//! * [`Proof`] makes proofs (clients, tests, `waxseal dpop`); [`Nonces`] issues and checks stateless server nonces;
//!   [`access_token_hash`] is `ath`.
//!
//! ```
//! use waxseal::{Algorithm, SigningKey, dpop::{Expected, Proof, ProofVerifier}, jwt::Claims};
//! let client_key = SigningKey::generate(Algorithm::ES256)?;
//! let proof = Proof::new("GET", "https://api.example.com/orders?page=2")
//!     .access_token("the-access-token")
//!     .sign(&client_key)?;
//!
//! let verifier = ProofVerifier::new();
//! let verified = verifier.verify(
//!     &proof,
//!     &Expected::new("GET", "https://API.example.com:443/orders").access_token("the-access-token"),
//! )?;
//! assert_eq!(verified.jkt, client_key.public_jwk()?.thumbprint()?);
//! // Then: refuse the request unless the token's cnf.jkt is verified.jkt, and remember (jkt, jti).
//! # Ok::<(), waxseal::Error>(())
//! ```

mod htu;
mod nonce;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

pub use nonce::Nonces;

use crate::alg::{Algorithm, AlgorithmSet};
use crate::b64;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::json::{self, Limits};
use crate::jwk::Jwk;
use crate::jws::{Header, HeaderBuilder, split_compact};
use crate::jwt::{Clock, NumericDate, SystemClock};
use crate::keys::{SigningKey, VerifyingKey};

/// The media type of a DPoP proof (RFC 9449 §4.2).
pub const PROOF_TYPE: &str = "dpop+jwt";

/// The longest proof accepted, in bytes: room for an RSA-8192 key and signature.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The longest `jti` accepted: a replay store keeps each one for the proof's lifetime.
pub const MAX_JTI_BYTES: usize = 128;

/// The `ath` of an access token: base64url of the SHA-256 of its ASCII bytes (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    b64::encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    method: &'a str,
    uri: &'a str,
    access_token: Option<&'a str>,
}

impl<'a> Expected<'a> {
    /// A request of `method` (`GET`, `POST`, as sent) to `uri`: the absolute URI the client called, which behind a
    /// proxy or a path prefix is the public one, not the address the request arrived on. Query and fragment are
    /// ignored.
    pub fn new(method: &'a str, uri: &'a str) -> Self {
        Expected {
            method,
            uri,
            access_token: None,
        }
    }

    /// The request presents `access_token`: the proof's `ath` must be its hash.
    #[must_use]
    pub fn access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }
}

/// A proof that passed every check [`ProofVerifier`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key: compare with the token's `cnf.jkt`, or put it there.
    pub jkt: String,
    /// The proof's unique identifier.
    pub jti: String,
    /// When the client says it made the proof.
    pub iat: NumericDate,
    /// The signature algorithm.
    pub algorithm: Algorithm,
    /// Until when the verifier would accept this proof again: remember `(jkt, jti)` at least this long.
    pub remember_until: NumericDate,
}

/// Checks DPoP proofs. Built once; [`ProofVerifier::verify`] is a cheap call.
///
/// Safe defaults: every asymmetric algorithm waxseal has (never HMAC, never `none`); `iat` at most 60 s old and at
/// most 60 s ahead (a client clock may run fast or slow); no server nonce. Options:
/// [`algorithms`](Self::algorithms), [`iat_window`](Self::iat_window), [`nonces`](Self::nonces),
/// [`clock`](Self::clock).
#[derive(Clone)]
pub struct ProofVerifier {
    algorithms: AlgorithmSet,
    max_age: u64,
    max_ahead: u64,
    nonces: Option<Nonces>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ProofVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofVerifier")
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("max_ahead", &self.max_ahead)
            .field("nonces", &self.nonces)
            .finish_non_exhaustive()
    }
}

impl Default for ProofVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ProofVerifier {
    /// A verifier with the safe defaults above.
    pub fn new() -> Self {
        ProofVerifier {
            algorithms: asymmetric(),
            max_age: 60,
            max_ahead: 60,
            nonces: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Accepts only these algorithms (symmetric ones are dropped: a proof's key is public).
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs
            .into_iter()
            .collect::<AlgorithmSet>()
            .intersection(asymmetric());
        self
    }

    /// The algorithms accepted: `dpop_signing_alg_values_supported` in discovery.
    pub fn allowed_algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// Accepts proofs made at most `max_age` before now and at most `max_ahead` after (a client clock running fast).
    #[must_use]
    pub fn iat_window(mut self, max_age: Duration, max_ahead: Duration) -> Self {
        self.max_age = max_age.as_secs();
        self.max_ahead = max_ahead.as_secs();
        self
    }

    /// Requires a server nonce issued by `nonces` in every proof (RFC 9449 §8); a proof without one, or with a
    /// stale one, fails with [`ErrorKind::DpopNonce`] and the caller answers `use_dpop_nonce` with a fresh nonce.
    #[must_use]
    pub fn nonces(mut self, nonces: Nonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The nonces required, if any: to issue fresh ones.
    pub fn nonce_issuer(&self) -> Option<&Nonces> {
        self.nonces.as_ref()
    }

    /// Reads the time from `clock` instead of the system clock.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// What this verifier's clock says now.
    pub fn now(&self) -> NumericDate {
        self.clock.now()
    }

    /// Checks `proof` for the request `expected`: every check but replay, which is the caller's (remember
    /// [`VerifiedProof::jti`] per [`VerifiedProof::jkt`] until [`VerifiedProof::remember_until`]).
    ///
    /// Errors are [`ErrorKind::DpopProof`] (answer `invalid_dpop_proof`) or, when nonces are required and the
    /// proof's is missing or stale, [`ErrorKind::DpopNonce`] (answer `use_dpop_nonce` with a fresh nonce).
    pub fn verify(&self, proof: &str, expected: &Expected<'_>) -> Result<VerifiedProof> {
        if proof.len() > MAX_PROOF_BYTES {
            return Err(invalid(format!(
                "the proof is {} bytes; the limit is {MAX_PROOF_BYTES}",
                proof.len()
            )));
        }
        let (header_b64, payload_b64, signature_b64) =
            split_compact(proof).map_err(|e| invalid(format!("the proof is not a JWS: {e}")))?;
        let header = Header::parse(
            b64::decode(header_b64, "header").map_err(|e| invalid(e.to_string()))?,
            Limits::default().max_json_depth,
        )
        .map_err(|e| invalid(format!("the proof's header: {e}")))?;
        let (key, jkt) = self.proof_key(&header)?;
        let signature =
            b64::decode(signature_b64, "signature").map_err(|e| invalid(e.to_string()))?;
        key.verify(
            &proof.as_bytes()[..header_b64.len() + 1 + payload_b64.len()],
            &signature,
        )
        .map_err(|_| invalid("the proof's signature does not verify with its jwk"))?;

        let payload = b64::decode(payload_b64, "payload").map_err(|e| invalid(e.to_string()))?;
        let claims = json::parse_object(&payload, Limits::default().max_json_depth, "claims")
            .map_err(|e| invalid(format!("the proof's claims: {e}")))?;
        let jti = string_claim(&claims, "jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
            return Err(invalid(format!(
                "the proof's jti must be 1 to {MAX_JTI_BYTES} bytes"
            )));
        }
        let htm = string_claim(&claims, "htm")?;
        if htm != expected.method {
            return Err(invalid(format!(
                "the proof is for {} requests, this one is {}",
                quote(htm),
                quote(expected.method)
            )));
        }
        let htu = htu::normalize(string_claim(&claims, "htu")?)?;
        if htu != htu::normalize(expected.uri)? {
            return Err(invalid(format!(
                "the proof is for {}, this request is for {}",
                quote(&htu),
                quote(expected.uri)
            )));
        }
        let iat = self.check_iat(&claims)?;
        if let Some(token) = expected.access_token {
            let ath = claims.get("ath").ok_or_else(|| {
                invalid(
                    "the proof has no ath; a proof sent with an access token must carry its hash",
                )
            })?;
            if ath.as_str() != Some(access_token_hash(token).as_str()) {
                return Err(invalid(
                    "the proof's ath is not the hash of this access token",
                ));
            }
        }
        if let Some(nonces) = &self.nonces {
            match claims.get("nonce") {
                None => return Err(nonce_error("a server nonce is required in the proof")),
                Some(Value::String(nonce)) if nonces.is_fresh(nonce, self.now()) => {}
                Some(_) => return Err(nonce_error("the proof's nonce is stale or not ours")),
            }
        }
        Ok(VerifiedProof {
            jkt,
            jti: jti.to_owned(),
            iat,
            algorithm: header.alg,
            remember_until: NumericDate::from_secs(iat.secs().saturating_add(self.max_age)),
        })
    }

    /// The header's checks, and the key it carries with its thumbprint.
    fn proof_key(&self, header: &Header) -> Result<(VerifyingKey, String)> {
        if header.typ.as_deref() != Some(PROOF_TYPE) {
            return Err(invalid(format!(
                "the proof's typ must be {PROOF_TYPE}, not {}",
                header
                    .typ
                    .as_deref()
                    .map_or_else(|| "absent".to_owned(), quote)
            )));
        }
        if !self.algorithms.contains(header.alg) {
            return Err(invalid(format!(
                "the proof's alg {} is not accepted; accepted: {}",
                header.alg, self.algorithms
            )));
        }
        if !header.crit.is_empty() || !header.b64 {
            return Err(invalid("the proof's header may not carry crit or b64"));
        }
        let Some(Value::Object(members)) = header.get("jwk") else {
            return Err(invalid("the proof's header has no jwk object"));
        };
        let jwk = Jwk::from_value(Value::Object(members.clone()))
            .map_err(|e| invalid(format!("the proof's jwk: {e}")))?;
        if jwk.is_private() {
            return Err(invalid(
                "the proof's jwk carries private key material; send the public key only",
            ));
        }
        let key = VerifyingKey::from_jwk_with_alg(&jwk, header.alg)
            .map_err(|e| invalid(format!("the proof's jwk: {e}")))?;
        if key.is_symmetric() {
            return Err(invalid("the proof's jwk must be an asymmetric public key"));
        }
        let jkt = jwk
            .thumbprint()
            .map_err(|e| invalid(format!("the proof's jwk: {e}")))?;
        Ok((key, jkt))
    }

    fn check_iat(&self, claims: &Map<String, Value>) -> Result<NumericDate> {
        let iat = claims
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid("the proof needs iat, a whole number of seconds"))?;
        let now = self.now().secs();
        if iat > now.saturating_add(self.max_ahead) {
            return Err(invalid(format!(
                "the proof's iat is {} s in the future; check the client's clock",
                iat - now
            )));
        }
        if iat.saturating_add(self.max_age) < now {
            return Err(invalid(format!(
                "the proof is {} s old; proofs are accepted for {} s, make a fresh one per request",
                now - iat,
                self.max_age
            )));
        }
        Ok(NumericDate::from_secs(iat))
    }
}

/// Makes a DPoP proof.
///
/// ```
/// use waxseal::{Algorithm, SigningKey, dpop::Proof};
/// let key = SigningKey::generate(Algorithm::EdDSA)?;
/// let proof = Proof::new("POST", "https://auth.example.com/oauth/token").nonce("n-1").sign(&key)?;
/// assert_eq!(proof.split('.').count(), 3);
/// # Ok::<(), waxseal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Proof<'a> {
    method: &'a str,
    uri: &'a str,
    access_token: Option<&'a str>,
    nonce: Option<&'a str>,
    iat: Option<NumericDate>,
    jti: Option<&'a str>,
}

impl<'a> Proof<'a> {
    /// A proof for a `method` request to `uri` (its query and fragment are left out of `htu`).
    pub fn new(method: &'a str, uri: &'a str) -> Self {
        Proof {
            method,
            uri,
            access_token: None,
            nonce: None,
            iat: None,
            jti: None,
        }
    }

    /// Adds `ath`, the hash of the access token sent with the proof.
    #[must_use]
    pub fn access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Adds the server's nonce.
    #[must_use]
    pub fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Sets `iat` (now by default).
    #[must_use]
    pub fn issued_at(mut self, iat: NumericDate) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Sets `jti` (128 random bits by default).
    #[must_use]
    pub fn jti(mut self, jti: &'a str) -> Self {
        self.jti = Some(jti);
        self
    }

    /// Signs the proof with `key`, whose public JWK goes in the header. HMAC keys are refused.
    pub fn sign(&self, key: &SigningKey) -> Result<String> {
        let mut jwk = key.public_jwk()?;
        // The key is the client's; only what identifies it goes in the header.
        jwk.use_ = None;
        jwk.kid = None;
        jwk.alg = None;
        let jwk = serde_json::to_value(&jwk)
            .map_err(|e| Error::new(ErrorKind::Crypto, format!("cannot encode the jwk: {e}")))?;
        let header = HeaderBuilder::new().typ(PROOF_TYPE).member("jwk", jwk);
        let jti = match self.jti {
            Some(jti) => jti.to_owned(),
            None => random_jti()?,
        };
        let uri = self.uri.split(['?', '#']).next().unwrap_or_default();
        let mut claims = Map::new();
        claims.insert("jti".into(), jti.into());
        claims.insert("htm".into(), self.method.into());
        claims.insert("htu".into(), uri.into());
        claims.insert(
            "iat".into(),
            self.iat.unwrap_or_else(NumericDate::now).secs().into(),
        );
        if let Some(token) = self.access_token {
            claims.insert("ath".into(), access_token_hash(token).into());
        }
        if let Some(nonce) = self.nonce {
            claims.insert("nonce".into(), nonce.into());
        }
        let payload = serde_json::to_vec(&claims)
            .map_err(|e| Error::new(ErrorKind::Crypto, format!("cannot encode the claims: {e}")))?;
        // No `kid`: the key travels whole in `jwk`.
        let header_json = header.to_json(key.algorithm(), None)?;
        crate::jws::sign_compact_with_header_json(key, header_json.as_bytes(), &payload)
    }
}

fn random_jti() -> Result<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::new(ErrorKind::Crypto, "the system random generator failed"))?;
    Ok(b64::encode(bytes))
}

fn asymmetric() -> AlgorithmSet {
    Algorithm::ALL
        .into_iter()
        .filter(|a| !a.is_symmetric())
        .collect()
}

fn string_claim<'c>(claims: &'c Map<String, Value>, name: &str) -> Result<&'c str> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(format!("the proof's {name} must be a string"))),
        None => Err(invalid(format!("the proof has no {name}"))),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::DpopProof, message)
}

fn nonce_error(message: &str) -> Error {
    Error::new(ErrorKind::DpopNonce, message)
}
