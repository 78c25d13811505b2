//! Signing and verifying keys, each bound to exactly one algorithm at construction.
//!
//! Binding is what makes algorithm confusion impossible: a [`VerifyingKey`] made from an RSA public key carries
//! `RS256` (say) and nothing else, so no header can make it check an HMAC with the public key as the secret. HMAC
//! keys shorter than their hash output are refused here (RFC 7518 §3.2), not at first use.
//!
//! A key's `kid` is either given with it (a JWK's `kid`, a JWK Set member's, [`VerifyingKey::with_kid`]) or, for a
//! key that came without one (PEM, DER, a certificate, a JWK without `kid`), computed as its RFC 7638 thumbprint.
//! Both name the key in the tokens it signs, but only a given kid is the key's identity when a key set selects keys:
//! a thumbprint is waxseal's invention, so no other issuer's token carries it, and a key that never had a kid of its
//! own answers to any kid (for its one algorithm), as other JOSE libraries' keys do.
//!
//! `signing` holds [`SigningKey`], `verifying` holds [`VerifyingKey`]; what both read a key with (the kid rule, the
//! JWK checks, the HMAC secret rule) is here.

mod signing;
mod verifying;

pub use signing::SigningKey;
pub(crate) use signing::rsa_key_pair;
pub use verifying::VerifyingKey;

use aws_lc_rs::hmac;

use crate::alg::{Algorithm, Curve, Family};
use crate::b64;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::jwk::Jwk;

/// A key's `kid` and where it came from (see the module documentation for why the difference matters).
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyId {
    /// No kid at all: an HMAC secret, whose thumbprint would let anyone test guesses of it offline.
    None,
    /// The RFC 7638 thumbprint, computed because the key came without a kid: written into tokens, never required.
    Thumbprint(String),
    /// Given with the key: the key answers to this kid only.
    Given(String),
}

impl KeyId {
    fn from_jwk(
        given: Option<&String>,
        thumbprint: impl FnOnce() -> Result<String>,
    ) -> Result<Self> {
        Ok(match given {
            Some(kid) => KeyId::Given(kid.clone()),
            None => KeyId::Thumbprint(thumbprint()?),
        })
    }

    fn kid(&self) -> Option<&str> {
        match self {
            KeyId::None => None,
            KeyId::Thumbprint(kid) | KeyId::Given(kid) => Some(kid),
        }
    }

    fn given(&self) -> Option<&str> {
        match self {
            KeyId::Given(kid) => Some(kid),
            KeyId::None | KeyId::Thumbprint(_) => None,
        }
    }
}

fn hmac_alg(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

fn rejected(what: &str) -> impl Fn(aws_lc_rs::error::KeyRejected) -> Error + '_ {
    move |e| Error::invalid_key(format!("{what} rejected by the cryptographic library: {e}"))
}

fn check_hmac_secret(secret: &[u8], alg: Algorithm) -> Result<()> {
    if secret.len() < alg.hash_len() {
        return Err(Error::invalid_key(format!(
            "{alg} needs a secret of at least {} bytes ({} bits); this one has {} (RFC 7518 §3.2). \
             Generate one with `waxseal keygen --alg {alg}`",
            alg.hash_len(),
            alg.hash_len() * 8,
            secret.len()
        )));
    }
    Ok(())
}

fn expect_family(jwk: &Jwk, alg: Algorithm) -> Result<()> {
    let fits = match alg.family() {
        Family::Hmac => jwk.kty == "oct",
        Family::Rsa => jwk.kty == "RSA",
        Family::Ec(curve) => jwk.kty == "EC" && jwk.crv.as_deref() == Some(curve.name()),
        Family::Ed25519 => jwk.kty == "OKP" && jwk.crv.as_deref() == Some("Ed25519"),
    };
    if fits {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::AlgorithmNotAllowed,
            format!(
                "a {} key{} cannot be used with {alg}",
                quote(&jwk.kty),
                jwk.crv
                    .as_deref()
                    .map(|c| format!(" on curve {}", quote(c)))
                    .unwrap_or_default()
            ),
        ))
    }
}

pub(crate) fn ec_point(jwk: &Jwk, curve: Curve) -> Result<Vec<u8>> {
    let x = jwk.member("x", jwk.x.as_ref())?;
    let y = jwk.member("y", jwk.y.as_ref())?;
    let len = curve.field_len();
    if x.len() != len || y.len() != len {
        return Err(Error::invalid_key(format!(
            "EC coordinates on {} must be exactly {len} bytes (RFC 7518 §6.2.1.2)",
            curve.name()
        )));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(point)
}

fn resolve_alg(jwk: &Jwk, alg: Option<Algorithm>) -> Result<Algorithm> {
    match (alg, jwk.algorithm()) {
        (Some(alg), _) | (None, Ok(Some(alg))) => Ok(alg),
        (None, Ok(None)) => Err(Error::new(
            ErrorKind::AlgorithmNotAllowed,
            format!(
                "the {} key has no \"alg\"; say which algorithm it is for",
                quote(&jwk.kty)
            ),
        )),
        (None, Err(e)) => Err(e),
    }
}

fn ec_public_jwk(curve: Curve, point: &[u8]) -> Jwk {
    let len = curve.field_len();
    Jwk {
        kty: "EC".into(),
        crv: Some(curve.name().into()),
        x: Some(b64::encode(&point[1..=len])),
        y: Some(b64::encode(&point[1 + len..])),
        ..Jwk::default()
    }
}
