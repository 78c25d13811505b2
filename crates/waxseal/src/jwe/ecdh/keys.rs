//! The keys of ECDH-ES: the curves JOSE names, public keys validated on their curve, private keys with their
//! public half, and the agreement itself (the one place a shared secret is computed).

use aws_lc_rs::agreement::{self, ParsedPublicKey, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::encoding::{AsBigEndian as _, Curve25519SeedBin, EcPrivateKeyBin};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::super::algorithms::KeyManagement;
use super::super::content::failed;
use crate::alg::Curve;
use crate::b64;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::jwk::Jwk;

/// The curves of ECDH-ES in JOSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcdhCurve {
    P256,
    P384,
    P521,
    X25519,
}

impl EcdhCurve {
    /// The JWK `crv` name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            EcdhCurve::P256 => "P-256",
            EcdhCurve::P384 => "P-384",
            EcdhCurve::P521 => "P-521",
            EcdhCurve::X25519 => "X25519",
        }
    }

    pub(super) fn kty(self) -> &'static str {
        if self == EcdhCurve::X25519 {
            "OKP"
        } else {
            "EC"
        }
    }

    /// The curve named by a `crv` (for the conformance tests, which name curves as JWKs do).
    pub(crate) fn from_name(crv: &str) -> Result<EcdhCurve> {
        Ok(match crv {
            "P-256" => EcdhCurve::P256,
            "P-384" => EcdhCurve::P384,
            "P-521" => EcdhCurve::P521,
            "X25519" => EcdhCurve::X25519,
            "Ed25519" | "Ed448" => {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!(
                        "{crv} is a signature curve; ECDH-ES needs an X25519 key (kty \"OKP\") or an EC key on \
                         P-256, P-384 or P-521"
                    ),
                ));
            }
            "secp256k1" => {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    "secp256k1 is not a JOSE key-agreement curve; ECDH-ES needs P-256, P-384, P-521 or X25519",
                ));
            }
            other => {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!(
                        "curve {} cannot be used with ECDH-ES; it needs P-256, P-384, P-521 or X25519",
                        quote(other)
                    ),
                ));
            }
        })
    }

    /// The curve of a JWK meant for ECDH-ES: `kty` and `crv` must agree (EC with a NIST curve, OKP with X25519).
    pub(crate) fn of_jwk(jwk: &Jwk, alg: KeyManagement) -> Result<EcdhCurve> {
        if jwk.kty != "EC" && jwk.kty != "OKP" {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!(
                    "a {} key cannot be used with {alg}: it needs kty \"EC\" or \"OKP\"",
                    quote(&jwk.kty)
                ),
            ));
        }
        let crv = jwk
            .crv
            .as_deref()
            .ok_or_else(|| Error::invalid_key(format!("{} JWK lacks \"crv\"", jwk.kty)))?;
        let curve = EcdhCurve::from_name(crv)?;
        if curve.kty() != jwk.kty {
            return Err(Error::invalid_key(format!(
                "curve {crv} belongs with kty \"{}\", not {}",
                curve.kty(),
                quote(&jwk.kty)
            )));
        }
        Ok(curve)
    }

    fn nist(self) -> Option<Curve> {
        match self {
            EcdhCurve::P256 => Some(Curve::P256),
            EcdhCurve::P384 => Some(Curve::P384),
            EcdhCurve::P521 => Some(Curve::P521),
            EcdhCurve::X25519 => None,
        }
    }

    /// Bytes of the private scalar (and of one coordinate).
    fn private_len(self) -> usize {
        self.nist().map_or(32, Curve::field_len)
    }

    fn algorithm(self) -> &'static agreement::Algorithm {
        match self {
            EcdhCurve::P256 => &agreement::ECDH_P256,
            EcdhCurve::P384 => &agreement::ECDH_P384,
            EcdhCurve::P521 => &agreement::ECDH_P521,
            EcdhCurve::X25519 => &agreement::X25519,
        }
    }
}

/// A public key for agreement: an uncompressed SEC1 point (`04 ‖ x ‖ y`) or an X25519 u-coordinate, validated.
#[derive(Debug, Clone)]
pub(crate) struct EcdhPublic {
    pub(super) curve: EcdhCurve,
    pub(super) bytes: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl EcdhPublic {
    /// The key from its raw bytes; `None` unless it is of the exact uncompressed form and (for the NIST curves) a
    /// point on the curve.
    pub(crate) fn from_bytes(curve: EcdhCurve, bytes: &[u8]) -> Option<EcdhPublic> {
        let well_formed = match curve.nist() {
            Some(c) => bytes.len() == 1 + 2 * c.field_len() && bytes.first() == Some(&4),
            None => bytes.len() == 32,
        };
        if !well_formed {
            return None;
        }
        let parsed =
            ParsedPublicKey::try_from(UnparsedPublicKey::new(curve.algorithm(), bytes)).ok()?;
        Some(EcdhPublic {
            curve,
            bytes: bytes.to_vec(),
            parsed,
        })
    }

    /// The raw bytes of the public key in a JWK of `curve` (`x` and `y`, or `x`); errors are the JWK reader's.
    pub(crate) fn raw_of_jwk(jwk: &Jwk, curve: EcdhCurve) -> Result<Vec<u8>> {
        match curve.nist() {
            Some(c) => crate::keys::ec_point(jwk, c),
            None => {
                let x = jwk.member("x", jwk.x.as_ref())?;
                if x.len() != 32 {
                    return Err(Error::invalid_key(
                        "an X25519 public key (x) is exactly 32 bytes (RFC 8037 §2)",
                    ));
                }
                Ok(x)
            }
        }
    }

    /// The public JWK members (never a `d`): `kty`, `crv`, `x` and, for EC, `y`.
    pub(crate) fn jwk_members(&self) -> Map<String, Value> {
        let mut members = Map::new();
        members.insert("kty".into(), Value::String(self.curve.kty().into()));
        members.insert("crv".into(), Value::String(self.curve.name().into()));
        match self.curve.nist() {
            Some(c) => {
                let len = c.field_len();
                members.insert("x".into(), Value::String(b64::encode(&self.bytes[1..=len])));
                members.insert(
                    "y".into(),
                    Value::String(b64::encode(&self.bytes[1 + len..])),
                );
            }
            None => {
                members.insert("x".into(), Value::String(b64::encode(&self.bytes)));
            }
        }
        members
    }
}

/// A private key for agreement, with its public half.
pub(crate) struct EcdhPrivate {
    key: PrivateKey,
    pub(super) public: EcdhPublic,
}

impl EcdhPrivate {
    /// From the raw private scalar (big-endian, exactly the curve's length) or X25519 private key.
    pub(crate) fn from_raw(curve: EcdhCurve, d: &[u8]) -> Result<EcdhPrivate> {
        if d.len() != curve.private_len() {
            return Err(Error::invalid_key(format!(
                "a private key on {} is exactly {} bytes, not {}",
                curve.name(),
                curve.private_len(),
                d.len()
            )));
        }
        let key = PrivateKey::from_private_key(curve.algorithm(), d).map_err(|_| {
            Error::invalid_key(format!(
                "{} private key rejected by the cryptographic library",
                curve.name()
            ))
        })?;
        EcdhPrivate::with_key(curve, key)
    }

    /// A fresh key pair from aws-lc-rs.
    pub(crate) fn generate(curve: EcdhCurve) -> Result<EcdhPrivate> {
        let key = PrivateKey::generate(curve.algorithm())
            .map_err(|_| Error::new(ErrorKind::Crypto, "ephemeral key generation failed"))?;
        EcdhPrivate::with_key(curve, key)
    }

    fn with_key(curve: EcdhCurve, key: PrivateKey) -> Result<EcdhPrivate> {
        let public = key
            .compute_public_key()
            .ok()
            .and_then(|p| EcdhPublic::from_bytes(curve, p.as_ref()))
            .ok_or_else(|| Error::new(ErrorKind::Crypto, "public key computation failed"))?;
        Ok(EcdhPrivate { key, public })
    }

    pub(crate) fn public(&self) -> &EcdhPublic {
        &self.public
    }

    /// The private JWK members: the public ones and `d` (the big-endian scalar, or the X25519 private key).
    pub(crate) fn jwk_members(&self) -> Result<Map<String, Value>> {
        let exported = || Error::new(ErrorKind::Crypto, "ECDH private key export failed");
        let d = if self.public.curve == EcdhCurve::X25519 {
            let seed: Curve25519SeedBin<'_> = self.key.as_be_bytes().map_err(|_| exported())?;
            Zeroizing::new(seed.as_ref().to_vec())
        } else {
            let scalar: EcPrivateKeyBin<'_> = self.key.as_be_bytes().map_err(|_| exported())?;
            Zeroizing::new(scalar.as_ref().to_vec())
        };
        let mut members = self.public.jwk_members();
        members.insert("d".into(), Value::String(b64::encode(&*d)));
        Ok(members)
    }

    /// The shared secret with `peer`; any failure (another curve, a rejected point, an all-zero X25519 result)
    /// is [`failed`].
    pub(crate) fn agree(&self, peer: &EcdhPublic) -> Result<Zeroizing<Vec<u8>>> {
        if peer.curve != self.public.curve {
            return Err(failed());
        }
        let z = agreement::agree(&self.key, peer.parsed.clone(), failed(), |z| {
            Ok(Zeroizing::new(z.to_vec()))
        })?;
        // RFC 7748 §6.1: a low-order X25519 point gives all zeros, a secret the sender did not need to know.
        // (On the NIST curves an x-coordinate of zero is a point like any other: Wycheproof has such a valid case.)
        let all_zero = bool::from(z.ct_eq(&vec![0u8; z.len()]));
        if z.is_empty() || (self.public.curve == EcdhCurve::X25519 && all_zero) {
            return Err(failed());
        }
        Ok(z)
    }
}
