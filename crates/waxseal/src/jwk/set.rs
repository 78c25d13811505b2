//! Key sets: the keys a verifier trusts, and how one is picked for a token.
//!
//! Selection never trusts the token: the token's `alg` must be one the set's keys were built for, and a key whose
//! own `alg` differs is never tried. A token without `kid` tries only keys of its algorithm, at most
//! [`KeySet::max_candidates`] of them, so a large set cannot be turned into a signature-checking workload.
//!
//! A token with a `kid` tries the key given that kid ([`VerifyingKey::own_kid`]), then the keys of its algorithm
//! that came without a kid of their own (PEM, DER, a raw secret, a JWK without `kid`), at most
//! [`KeySet::max_candidates`] of those. Such keys answer to any kid: the kid an identity provider writes into its
//! tokens is its own name for the key, which a PEM file does not carry. A key with a kid of its own is never tried
//! for a token naming another kid.

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
        let entries = jwks_entries(text, limits)?;
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

    /// How many keys a token may be tried against when its `kid` does not single one out (default 3): the keys of
    /// its algorithm for a token without `kid`; for a token with one, the keys of its algorithm without a kid of
    /// their own, after the key that has it. Raise it when more than 3 such keys of one algorithm are trusted.
    #[must_use]
    pub fn max_candidates(mut self, n: usize) -> Self {
        self.max_candidates = n.max(1);
        self
    }

    /// Verifies `signature` over `input` with the key this `alg` and `kid` select, or says why none could.
    /// With a `kid`, at most one key (by material) may have it as its own for `alg`; it is tried first, then at most
    /// [`KeySet::max_candidates`] keys of `alg` without a kid of their own. Without a `kid`, at most
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
        for key in self.keys.iter().filter(|k| k.own_kid() == Some(kid)) {
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
        if others > 0 {
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                format!(
                    "{} different {alg} keys share kid {}; the key set is ambiguous",
                    others + 1,
                    quote(kid)
                ),
            ));
        }
        // Keys that came without a kid of their own answer to any kid, for their algorithm only.
        let kidless = self
            .keys
            .iter()
            .filter(|k| k.own_kid().is_none() && k.algorithm() == alg)
            .take(self.max_candidates);
        let mut last = None;
        for key in chosen.into_iter().chain(kidless) {
            match key.verify(input, signature) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(
                ErrorKind::KeyNotFound,
                if kid_known {
                    format!("key {} is not for {alg}", quote(kid))
                } else {
                    format!("no key has kid {}", quote(kid))
                },
            )
        }))
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

/// The entries of a JWK Set document (`{"keys":[...]}`), within `limits`: document size, JSON depth and key count,
/// each checked before anything is built from the entries. Shared by the signature and the decryption key sets.
pub(crate) fn jwks_entries(text: &str, limits: &Limits) -> Result<Vec<Value>> {
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
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::{HeaderBuilder, JwsVerifier, sign_compact};
    use crate::keys::SigningKey;

    fn es256() -> SigningKey {
        SigningKey::generate(Algorithm::ES256).unwrap()
    }

    /// The verifying key of `key` as a PEM file gives it: no kid of its own.
    fn from_pem(key: &SigningKey) -> VerifyingKey {
        let pem = key.verifying_key().unwrap().to_pem().unwrap();
        VerifyingKey::from_pem(&pem, key.algorithm()).unwrap()
    }

    fn signed(key: &SigningKey, kid: Option<&str>) -> String {
        let header = match kid {
            Some(kid) => HeaderBuilder::new().kid(kid),
            None => HeaderBuilder::new(),
        };
        sign_compact(key, &header, b"x").unwrap()
    }

    fn check(set: &KeySet, token: &str) -> Result<()> {
        JwsVerifier::new(set.clone())
            .verify_compact(token)
            .map(|_| ())
    }

    #[test]
    fn a_key_without_a_kid_of_its_own_answers_to_any_kid() {
        let signer = es256();
        let key = from_pem(&signer);
        assert!(key.kid().is_some(), "the thumbprint still names it");
        assert_eq!(key.own_kid(), None);
        let set = KeySet::from(key);
        for kid in [Some("auth0-key-1"), Some(""), None, signer.kid()] {
            check(&set, &signed(&signer, kid)).unwrap();
        }
        // Another key's signature under any kid is a signature failure, not a missing kid.
        let err = check(&set, &signed(&es256(), Some("auth0-key-1"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSignature, "{err}");
    }

    #[test]
    fn a_key_with_a_kid_of_its_own_answers_to_that_kid_only() {
        let signer = es256().with_kid("a");
        let set = KeySet::from(signer.verifying_key().unwrap());
        check(&set, &signed(&signer, Some("a"))).unwrap();
        check(&set, &signed(&signer, None)).unwrap();
        let err = check(&set, &signed(&signer, Some("b"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
        assert_eq!(err.message(), "no key has kid \"b\"");
    }

    #[test]
    fn a_mixed_set_tries_the_named_key_then_the_keys_without_a_kid() {
        let named = es256().with_kid("a");
        let plain = es256();
        let set = KeySet::new([named.verifying_key().unwrap(), from_pem(&plain)]).unwrap();
        check(&set, &signed(&named, Some("a"))).unwrap();
        // The key without a kid answers to "a" too, after the key named "a" failed.
        check(&set, &signed(&plain, Some("a"))).unwrap();
        check(&set, &signed(&plain, Some("elsewhere"))).unwrap();
        // No fallback from an unknown kid to a key with a kid of its own.
        let err = check(&set, &signed(&named, Some("elsewhere"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSignature, "{err}");
    }

    #[test]
    fn every_key_without_a_kid_is_tried_up_to_max_candidates() {
        let signers: Vec<SigningKey> = (0..4).map(|_| es256()).collect();
        let set = KeySet::new(signers.iter().map(from_pem)).unwrap();
        for signer in &signers[..3] {
            check(&set, &signed(signer, Some("idp-key"))).unwrap();
        }
        let fourth = signed(&signers[3], Some("idp-key"));
        assert_eq!(
            check(&set, &fourth).unwrap_err().kind(),
            ErrorKind::InvalidSignature,
            "the default bound is 3 keys"
        );
        check(&set.max_candidates(4), &fourth).unwrap();
    }

    #[test]
    fn a_key_without_a_kid_answers_only_for_its_algorithm() {
        let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
        let es = es256().with_kid("es");
        let set = KeySet::new([from_pem(&rsa), es.verifying_key().unwrap()]).unwrap();
        let pss = SigningKey::from_jwk_with_alg(
            &Jwk {
                alg: None,
                ..rsa.to_jwk().unwrap()
            },
            Algorithm::PS256,
        )
        .unwrap();
        let err = check(&set, &signed(&pss, Some("any"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlgorithmNotAllowed, "{err}");
        // An ES256 token naming a kid the set lacks: the RSA key does not answer for ES256, so the kid is the reason.
        let err = check(&set, &signed(&es256(), Some("other"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
        assert_eq!(err.message(), "no key has kid \"other\"");
        // And a kid the set has, for another algorithm, says so.
        let rsa_named_es = signed(&rsa.clone().with_kid("es"), Some("es"));
        check(&set, &rsa_named_es).unwrap();
        let err = set
            .verify(Algorithm::ES384, Some("es"), b"x", &[0; 96])
            .unwrap_err();
        assert_eq!(err.message(), "key \"es\" is not for ES384");
    }

    #[test]
    fn where_a_key_got_its_kid() {
        let signer = es256();
        let pem = signer.to_pem().unwrap();
        let from_private_pem = SigningKey::from_pem(&pem, Algorithm::ES256).unwrap();
        assert_eq!(from_private_pem.kid(), signer.kid(), "the thumbprint");
        let cases = [
            (from_pem(&signer), None),
            (from_private_pem.verifying_key().unwrap(), None),
            (
                VerifyingKey::from_secret(&[1; 32], Algorithm::HS256).unwrap(),
                None,
            ),
            (signer.verifying_key().unwrap(), signer.kid()),
            (from_pem(&signer).with_kid("given"), Some("given")),
            (
                VerifyingKey::from_jwk(&Jwk {
                    kid: None,
                    ..signer.public_jwk().unwrap()
                })
                .unwrap(),
                None,
            ),
            (
                VerifyingKey::from_jwk(&Jwk {
                    kid: Some("jwk".into()),
                    ..signer.public_jwk().unwrap()
                })
                .unwrap(),
                Some("jwk"),
            ),
        ];
        for (i, (key, own)) in cases.iter().enumerate() {
            assert_eq!(key.own_kid(), *own, "case {i}");
        }
    }
}
