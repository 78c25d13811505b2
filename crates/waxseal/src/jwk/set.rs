//! Key sets: the keys a verifier trusts, and how one is picked for a token.
//!
//! Selection never trusts the token: the token's `alg` must be one the set's keys were built for, and a key whose
//! own `alg` differs is never tried. A token without `kid` tries only keys of its algorithm, at most
//! [`KeySet::max_candidates`] of them, so a large set cannot be turned into a signature-checking workload.

use serde_json::Value;

use crate::alg::{Algorithm, AlgorithmSet};
use crate::error::{Error, ErrorKind, Result, quote};
use crate::json::{self, Limits};
use crate::jwk::Jwk;
use crate::keys::VerifyingKey;

/// The keys a verifier trusts. Build it from [`VerifyingKey`]s or from a JWK Set document.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    algorithms: AlgorithmSet,
    max_candidates: usize,
    skipped: Vec<String>,
}

impl KeySet {
    /// A key set of the given keys. Refused when it mixes HMAC secrets with public keys: one verifier trusting both
    /// is how algorithm-confusion bugs are born, so keep secrets and public keys in separate verifiers.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Result<KeySet> {
        let keys: Vec<VerifyingKey> = keys.into_iter().collect();
        let symmetric = keys.iter().filter(|k| k.is_symmetric()).count();
        if symmetric != 0 && symmetric != keys.len() {
            return Err(Error::invalid_key(
                "key set mixes HMAC secrets with public keys; use one verifier for each kind",
            ));
        }
        let algorithms = keys.iter().map(VerifyingKey::algorithm).collect();
        Ok(KeySet {
            keys,
            algorithms,
            max_candidates: 3,
            skipped: Vec::new(),
        })
    }

    /// Parses a JWK Set (`{"keys":[...]}`) with the default [`Limits`]. Keys waxseal cannot use for signature
    /// verification (encryption keys, unknown types or curves, weak keys, private asymmetric keys) are skipped and
    /// listed in [`KeySet::skipped`]; a set with no usable key at all is an error. A key without `alg` serves every
    /// algorithm of its type (RSA: RS*/PS*; `oct`: each HS* its length allows).
    pub fn from_jwks(text: &str) -> Result<KeySet> {
        Self::from_jwks_with_limits(text, &Limits::default())
    }

    /// [`KeySet::from_jwks`] with explicit limits on document size and key count.
    pub fn from_jwks_with_limits(text: &str, limits: &Limits) -> Result<KeySet> {
        Self::parse_jwks(text, limits, false)
    }

    /// A JWK Set fetched from an issuer (`jwks_uri`): like [`KeySet::from_jwks_with_limits`], but secret (`oct`)
    /// keys are skipped too. A published document holding an HMAC secret is a leak or an injection, and trusting
    /// it would let anyone who read the document sign tokens.
    pub fn from_published_jwks(text: &str, limits: &Limits) -> Result<KeySet> {
        Self::parse_jwks(text, limits, true)
    }

    fn parse_jwks(text: &str, limits: &Limits, public_only: bool) -> Result<KeySet> {
        if text.len() > limits.max_jwks_bytes {
            return Err(Error::limit(format!(
                "JWK Set is {} bytes; the limit is {}",
                text.len(),
                limits.max_jwks_bytes
            )));
        }
        let mut doc = json::parse_object(text.as_bytes(), limits.max_json_depth, "JWK Set")?;
        let Some(Value::Array(entries)) = doc.remove("keys") else {
            return Err(Error::malformed("JWK Set has no \"keys\" array"));
        };
        if entries.len() > limits.max_keys {
            return Err(Error::limit(format!(
                "JWK Set has {} keys; the limit is {}",
                entries.len(),
                limits.max_keys
            )));
        }
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let outcome = Jwk::from_value(entry).and_then(|jwk| {
                if jwk.kty != "oct" && jwk.is_private() {
                    return Err(Error::invalid_key(
                        "a published key set must not contain private keys",
                    ));
                }
                if public_only && jwk.kty == "oct" {
                    return Err(Error::invalid_key(
                        "a published key set must not contain secret (oct) keys",
                    ));
                }
                Self::expand(&jwk)
            });
            match outcome {
                Ok(found) => keys.extend(found),
                Err(e) => skipped.push(format!("key #{i}: {e}")),
            }
        }
        if keys.is_empty() {
            let why = skipped
                .first()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("JWK Set has no usable signature key{why}"),
            ));
        }
        let mut set = KeySet::new(keys)?;
        set.skipped = skipped;
        Ok(set)
    }

    /// One verifying key per algorithm the JWK allows.
    pub(crate) fn expand(jwk: &Jwk) -> Result<Vec<VerifyingKey>> {
        jwk.algorithms()?
            .into_iter()
            .map(|alg| VerifyingKey::from_jwk_with_alg(jwk, alg))
            .collect()
    }

    /// Why keys of the JWK Set were skipped, one line each.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The algorithms the set's keys were built for.
    pub fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// The keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// How many keys a token without `kid` may be tried against (default 3).
    #[must_use]
    pub fn max_candidates(mut self, n: usize) -> Self {
        self.max_candidates = n.max(1);
        self
    }

    /// Verifies `signature` over `input` with the key this `alg` and `kid` select, or says why none could.
    /// With a `kid`, exactly one key (by material) must answer to it for `alg`; without, at most
    /// [`KeySet::max_candidates`] keys of `alg` are tried. Allocates nothing on success.
    pub(crate) fn verify(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        input: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        let Some(kid) = kid else {
            let mut last = None;
            for key in self
                .keys
                .iter()
                .filter(|k| k.algorithm() == alg)
                .take(self.max_candidates)
            {
                match key.verify(input, signature) {
                    Ok(()) => return Ok(()),
                    Err(e) => last = Some(e),
                }
            }
            return Err(last.unwrap_or_else(|| {
                Error::new(
                    ErrorKind::KeyNotFound,
                    format!("no {alg} key in the key set"),
                )
            }));
        };
        let mut kid_known = false;
        let mut chosen: Option<&VerifyingKey> = None;
        let mut others = 0;
        for key in self.keys.iter().filter(|k| k.kid() == Some(kid)) {
            kid_known = true;
            if key.algorithm() != alg {
                continue;
            }
            match chosen {
                None => chosen = Some(key),
                // Two different keys answering to one kid make "which key signed this" ambiguous.
                Some(first) if !first.same_material(key) => others += 1,
                Some(_) => {}
            }
        }
        match chosen {
            Some(_) if others > 0 => Err(Error::new(
                ErrorKind::KeyNotFound,
                format!(
                    "{} different {alg} keys share kid {}; the key set is ambiguous",
                    others + 1,
                    quote(kid)
                ),
            )),
            Some(key) => key.verify(input, signature),
            None if kid_known => Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("key {} is not for {alg}", quote(kid)),
            )),
            None => Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("no key has kid {}", quote(kid)),
            )),
        }
    }
}

impl From<VerifyingKey> for KeySet {
    fn from(key: VerifyingKey) -> Self {
        let algorithms = std::iter::once(key.algorithm()).collect();
        KeySet {
            keys: vec![key],
            algorithms,
            max_candidates: 3,
            skipped: Vec::new(),
        }
    }
}
