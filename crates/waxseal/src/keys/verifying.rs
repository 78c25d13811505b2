use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use der::{Decode, Encode};
use zeroize::Zeroizing;

use super::{
    KeyId, check_hmac_secret, ec_point, ec_public_jwk, expect_family, hmac_alg, rejected,
    resolve_alg,
};
use crate::alg::{Algorithm, Family};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::jwk::{Jwk, rsa as rsa_math};

/// A key that verifies: a public key or an HMAC secret, with its algorithm and optional `kid`. Cheap to clone.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    kid: KeyId,
    inner: Arc<Verifier>,
}

#[allow(clippy::large_enum_variant)]
enum Verifier {
    Hmac {
        key: hmac::Key,
        secret: Zeroizing<Vec<u8>>,
    },
    /// `raw` is what the JWK is rebuilt from: PKCS#1 RSAPublicKey DER, an uncompressed EC point, or 32 Ed25519 bytes.
    Public { key: ParsedPublicKey, raw: Vec<u8> },
}

fn verification_alg(alg: Algorithm) -> &'static dyn signature::VerificationAlgorithm {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        Algorithm::ES256K => &signature::ECDSA_P256K1_SHA256_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => &signature::ECDSA_P256_SHA256_FIXED,
    }
}

impl VerifyingKey {
    /// An HMAC key from raw secret bytes. Secrets shorter than the hash output are refused (RFC 7518 §3.2).
    pub fn from_secret(secret: &[u8], alg: Algorithm) -> Result<VerifyingKey> {
        if !alg.is_symmetric() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!("{alg} does not use a shared secret"),
            ));
        }
        check_hmac_secret(secret, alg)?;
        let inner = Verifier::Hmac {
            key: hmac::Key::new(hmac_alg(alg), secret),
            secret: Zeroizing::new(secret.to_vec()),
        };
        Ok(VerifyingKey {
            alg,
            kid: KeyId::None,
            inner: Arc::new(inner),
        })
    }

    /// A verifying key from a JWK (public, or private whose public half is used). The algorithm is the JWK's `alg`
    /// or implied by its curve; RSA and secret keys without `alg` need [`VerifyingKey::from_jwk_with_alg`].
    pub fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey> {
        Self::from_jwk_with_alg(jwk, resolve_alg(jwk, None)?)
    }

    /// A verifying key for `alg` from a JWK. A JWK whose `alg`, `use` or `key_ops` contradict `alg` is refused.
    pub fn from_jwk_with_alg(jwk: &Jwk, alg: Algorithm) -> Result<VerifyingKey> {
        jwk.check_usable(alg, "verify")?;
        expect_family(jwk, alg)?;
        let raw = match alg.family() {
            Family::Hmac => {
                let secret = Zeroizing::new(jwk.member("k", jwk.k.as_ref())?);
                return Ok(
                    Self::from_secret(&secret, alg)?.with_key_id(match &jwk.kid {
                        Some(kid) => KeyId::Given(kid.clone()),
                        None => KeyId::None,
                    }),
                );
            }
            Family::Rsa => {
                let n = jwk.member("n", jwk.n.as_ref())?;
                let e = jwk.member("e", jwk.e.as_ref())?;
                rsa_math::check_public(&n, &e)?;
                let key = pkcs1::RsaPublicKey {
                    modulus: der::asn1::UintRef::new(&n)
                        .map_err(|e| Error::invalid_key(e.to_string()))?,
                    public_exponent: der::asn1::UintRef::new(&e)
                        .map_err(|e| Error::invalid_key(e.to_string()))?,
                };
                key.to_der()
                    .map_err(|e| Error::invalid_key(format!("RSA public key: {e}")))?
            }
            Family::Ec(curve) => ec_point(jwk, curve)?,
            Family::Ed25519 => {
                let x = jwk.member("x", jwk.x.as_ref())?;
                if x.len() != 32 {
                    return Err(Error::invalid_key("Ed25519 public key must be 32 bytes"));
                }
                x
            }
        };
        let key =
            ParsedPublicKey::new(verification_alg(alg), &raw).map_err(rejected("public key"))?;
        let verifying = VerifyingKey {
            alg,
            kid: KeyId::None,
            inner: Arc::new(Verifier::Public { key, raw }),
        };
        let kid = KeyId::from_jwk(jwk.kid.as_ref(), || verifying.to_jwk()?.thumbprint())?;
        Ok(verifying.with_key_id(kid))
    }

    /// A verifying key for `alg` from PEM: a public key (SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`), an X.509
    /// `CERTIFICATE` (its public key; the certificate itself is not validated), or a private key (its public half).
    pub fn from_pem(pem: &str, alg: Algorithm) -> Result<VerifyingKey> {
        Self::from_jwk_with_alg(&Jwk::from_pem(pem)?, alg)
    }

    /// A verifying key for `alg` from DER (SPKI, PKCS#1, X.509 certificate, or a private key).
    pub fn from_der(der: &[u8], alg: Algorithm) -> Result<VerifyingKey> {
        Self::from_jwk_with_alg(&Jwk::from_der(der)?, alg)
    }

    /// Sets the key ID this key answers to: in a [`KeySet`](crate::KeySet), a token with another `kid` is not
    /// checked against it.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = KeyId::Given(kid.into());
        self
    }

    pub(super) fn with_key_id(mut self, kid: KeyId) -> Self {
        self.kid = kid;
        self
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key ID: the kid given with the key, else its RFC 7638 thumbprint (none for an HMAC secret without a
    /// given kid). See [`VerifyingKey::own_kid`] for the one a key set selects by.
    pub fn kid(&self) -> Option<&str> {
        self.kid.kid()
    }

    /// The kid given with this key (a JWK's `kid`, a JWK Set member's, [`VerifyingKey::with_kid`]), which a
    /// [`KeySet`](crate::KeySet) selects it by. `None` for a key that came without one (PEM, DER, a certificate, a
    /// raw secret, a JWK without `kid`): such a key answers to a token with any kid, or none, for its algorithm only.
    ///
    /// ```
    /// # use waxseal::{Algorithm, SigningKey};
    /// let pem = SigningKey::generate(Algorithm::ES256)?.to_pem()?;
    /// let key = waxseal::VerifyingKey::from_pem(&pem, Algorithm::ES256)?;
    /// assert!(key.kid().is_some(), "the thumbprint names it in tokens waxseal signs");
    /// assert_eq!(key.own_kid(), None, "but a PEM key has no kid of its own");
    /// assert_eq!(key.with_kid("idp-1").own_kid(), Some("idp-1"));
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    pub fn own_kid(&self) -> Option<&str> {
        self.kid.given()
    }

    /// Checks `signature` over `message`, for this key's algorithm only. HMAC tags are compared in constant time.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        let ok = match &*self.inner {
            Verifier::Hmac { key, .. } => hmac::verify(key, message, signature).is_ok(),
            Verifier::Public { key, .. } => key.verify_sig(message, signature).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::InvalidSignature,
                format!("{} signature does not match", self.alg),
            ))
        }
    }

    /// The JWK of this key (with `alg`, `kid`, `use: sig`). For HMAC this contains the secret.
    pub fn to_jwk(&self) -> Result<Jwk> {
        let mut jwk = match &*self.inner {
            Verifier::Hmac { secret, .. } => Jwk {
                kty: "oct".into(),
                k: Some(b64::encode(&**secret)),
                ..Jwk::default()
            },
            Verifier::Public { raw, .. } => match self.alg.family() {
                Family::Rsa => {
                    let key = pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(raw)
                        .map_err(|e| Error::invalid_key(e.to_string()))?;
                    Jwk {
                        kty: "RSA".into(),
                        n: Some(b64::encode(key.modulus.as_bytes())),
                        e: Some(b64::encode(key.public_exponent.as_bytes())),
                        ..Jwk::default()
                    }
                }
                Family::Ec(curve) => ec_public_jwk(curve, raw),
                Family::Ed25519 => Jwk {
                    kty: "OKP".into(),
                    crv: Some("Ed25519".into()),
                    x: Some(b64::encode(raw)),
                    ..Jwk::default()
                },
                Family::Hmac => unreachable!("public key with an HMAC algorithm"),
            },
        };
        jwk.alg = Some(self.alg.name().into());
        jwk.use_ = Some("sig".into());
        jwk.kid = self.kid().map(str::to_owned);
        Ok(jwk)
    }

    /// The public key as SPKI PEM (`PUBLIC KEY`). HMAC secrets have no PEM form.
    pub fn to_pem(&self) -> Result<String> {
        match &*self.inner {
            Verifier::Hmac { .. } => Err(Error::invalid_key(
                "an HMAC secret has no PEM form; use a JWK",
            )),
            Verifier::Public { key, .. } => {
                let der = key
                    .as_der()
                    .map_err(|_| Error::new(ErrorKind::Crypto, "public key export failed"))?;
                crate::jwk::pem_encode("PUBLIC KEY", der.as_ref())
            }
        }
    }

    /// True for HMAC keys (shared secrets).
    pub fn is_symmetric(&self) -> bool {
        self.alg.is_symmetric()
    }

    /// True when both keys hold the same key material (ignoring `alg` and `kid`).
    pub(crate) fn same_material(&self, other: &VerifyingKey) -> bool {
        match (&*self.inner, &*other.inner) {
            (Verifier::Hmac { secret: a, .. }, Verifier::Hmac { secret: b, .. }) => {
                subtle::ConstantTimeEq::ct_eq(a.as_slice(), b.as_slice()).into()
            }
            (Verifier::Public { raw: a, .. }, Verifier::Public { raw: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid.kid())
            .finish_non_exhaustive()
    }
}
