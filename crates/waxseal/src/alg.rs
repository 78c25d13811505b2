//! JWS algorithms (RFC 7518 §3, RFC 8037, RFC 8812).
//!
//! `none` is deliberately not a variant: no key, signer or verifier can name it, so the JWT API can neither produce
//! nor accept an unsecured token. [`Algorithm::from_name`] reports it (in any capitalisation) as an error.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result, quote};

/// A JWS signature or MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-byte salt.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, 64-byte salt.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// ECDSA on secp256k1 with SHA-256 (RFC 8812).
    ES256K,
    /// EdDSA; waxseal supports the Ed25519 curve (RFC 8037).
    EdDSA,
}

/// The kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// A shared secret (`kty: oct`).
    Hmac,
    /// An RSA key pair (`kty: RSA`), PKCS#1 v1.5 or PSS.
    Rsa,
    /// An elliptic-curve key pair (`kty: EC`) on the named curve.
    Ec(Curve),
    /// An Edwards-curve key pair (`kty: OKP`, `crv: Ed25519`).
    Ed25519,
}

/// The elliptic curves of ECDSA algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// secp256k1.
    Secp256k1,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
        }
    }

    /// The curve named by a JWK `crv`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "P-256" => Curve::P256,
            "P-384" => Curve::P384,
            "P-521" => Curve::P521,
            "secp256k1" => Curve::Secp256k1,
            _ => return None,
        })
    }

    /// Bytes in one coordinate, the private scalar, and each of r and s.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The one ECDSA algorithm that uses this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
            Curve::Secp256k1 => Algorithm::ES256K,
        }
    }
}

impl Algorithm {
    /// Every supported algorithm, in a stable order.
    pub const ALL: [Algorithm; 14] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::ES256K,
        Algorithm::EdDSA,
    ];

    /// The registered `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::ES256K => "ES256K",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a registered `alg` name. Names are case-sensitive (RFC 7515 §4.1.1); `none` in any spelling is an
    /// error of kind [`ErrorKind::UnsupportedAlgorithm`] that says why.
    pub fn from_name(name: &str) -> Result<Self> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                if name.eq_ignore_ascii_case("none") {
                    Error::new(
                        ErrorKind::UnsupportedAlgorithm,
                        "alg \"none\" (an unsecured token) is never accepted",
                    )
                } else {
                    Error::new(
                        ErrorKind::UnsupportedAlgorithm,
                        format!("unsupported algorithm {}", quote(name)),
                    )
                }
            })
    }

    /// The kind of key this algorithm needs.
    pub fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 => Family::Ec(Curve::P256),
            Algorithm::ES384 => Family::Ec(Curve::P384),
            Algorithm::ES512 => Family::Ec(Curve::P521),
            Algorithm::ES256K => Family::Ec(Curve::Secp256k1),
            Algorithm::EdDSA => Family::Ed25519,
        }
    }

    /// True for the HMAC algorithms, whose keys are secrets shared by signer and verifier.
    pub fn is_symmetric(self) -> bool {
        self.family() == Family::Hmac
    }

    /// Output length of the hash, in bytes: also the minimum HMAC key length (RFC 7518 §3.2).
    pub(crate) fn hash_len(self) -> usize {
        match self {
            Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => 48,
            Algorithm::HS512
            | Algorithm::RS512
            | Algorithm::PS512
            | Algorithm::ES512
            | Algorithm::EdDSA => 64,
            _ => 32,
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Algorithm::from_name(s)
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Algorithm::from_name(&name).map_err(serde::de::Error::custom)
    }
}

/// A set of algorithms, as a bit set: cheap to copy and to intersect.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// The empty set.
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);

    /// True when `alg` is in the set.
    pub fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// Adds `alg`.
    pub fn insert(&mut self, alg: Algorithm) {
        self.0 |= alg.bit();
    }

    /// The algorithms in both sets.
    #[must_use]
    pub fn intersection(self, other: AlgorithmSet) -> AlgorithmSet {
        AlgorithmSet(self.0 & other.0)
    }

    /// True when the set has no algorithm.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in the set, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        let mut set = AlgorithmSet::EMPTY;
        for alg in iter {
            set.insert(alg);
        }
        set
    }
}

impl fmt::Debug for AlgorithmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for AlgorithmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Algorithm::name).collect();
        if names.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()).unwrap(), alg);
        }
    }

    #[test]
    fn alg_none_in_any_capitalisation_is_unsupported() {
        for name in ["none", "None", "NONE", "nOnE"] {
            let err = Algorithm::from_name(name).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm);
            assert!(err.message().contains("never accepted"));
        }
    }

    #[test]
    fn names_are_case_sensitive() {
        assert!(Algorithm::from_name("hs256").is_err());
        assert!(Algorithm::from_name("ES521").is_err());
    }

    #[test]
    fn sets() {
        let set: AlgorithmSet = [Algorithm::RS256, Algorithm::ES256].into_iter().collect();
        assert!(set.contains(Algorithm::RS256) && !set.contains(Algorithm::HS256));
        assert_eq!(set.iter().count(), 2);
        assert_eq!(set.to_string(), "RS256, ES256");
    }
}
