use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use aws_lc_rs::{hmac, rsa};
use zeroize::Zeroizing;

use super::{
    KeyId, VerifyingKey, check_hmac_secret, ec_point, ec_public_jwk, expect_family, hmac_alg,
    rejected, resolve_alg,
};
use crate::alg::{Algorithm, Curve, Family};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::jwk::{Jwk, rsa as rsa_math};

/// A key that signs: a private key or an HMAC secret, with its algorithm and optional `kid`. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: KeyId,
    inner: Arc<Signer>,
}

// hmac::Key is large, but every key lives behind an Arc, so the enum's size costs nothing.
#[allow(clippy::large_enum_variant)]
enum Signer {
    Hmac {
        key: hmac::Key,
        secret: Zeroizing<Vec<u8>>,
    },
    Rsa(rsa::KeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

fn rsa_encoding(alg: Algorithm) -> &'static dyn signature::RsaEncoding {
    match alg {
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => &signature::RSA_PKCS1_SHA256,
    }
}

fn ecdsa_signing_alg(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
    }
}

impl SigningKey {
    /// Generates a fresh key for `alg`: a random secret of the hash length for HMAC, a 2048-bit RSA key, or a key
    /// pair on the algorithm's curve. The `kid` is the RFC 7638 thumbprint (none for HMAC secrets, whose
    /// thumbprint would let anyone test guesses of the secret offline), given to the key at birth: it travels in the
    /// key's JWK, and the key's verifying key answers to that kid only.
    pub fn generate(alg: Algorithm) -> Result<SigningKey> {
        Self::generate_with_rsa_bits(alg, 2048)
    }

    /// Like [`SigningKey::generate`], with the RSA modulus size (2048, 3072 or 4096 bits) for RSA algorithms.
    pub fn generate_with_rsa_bits(alg: Algorithm, rsa_bits: usize) -> Result<SigningKey> {
        let crypto = |_| Error::new(ErrorKind::Crypto, format!("could not generate a {alg} key"));
        let inner = match alg.family() {
            Family::Hmac => {
                let mut secret = Zeroizing::new(vec![0u8; alg.hash_len()]);
                aws_lc_rs::rand::fill(&mut secret).map_err(crypto)?;
                return Self::from_secret(&secret, alg);
            }
            Family::Rsa => {
                let size = match rsa_bits {
                    2048 => rsa::KeySize::Rsa2048,
                    3072 => rsa::KeySize::Rsa3072,
                    4096 => rsa::KeySize::Rsa4096,
                    other => {
                        return Err(Error::invalid_key(format!(
                            "RSA keys are generated with 2048, 3072 or 4096 bits, not {other}"
                        )));
                    }
                };
                Signer::Rsa(rsa::KeyPair::generate(size).map_err(crypto)?)
            }
            Family::Ec(curve) => {
                Signer::Ecdsa(EcdsaKeyPair::generate(ecdsa_signing_alg(curve)).map_err(crypto)?)
            }
            Family::Ed25519 => Signer::Ed25519(Ed25519KeyPair::generate().map_err(crypto)?),
        };
        let key = SigningKey {
            alg,
            kid: KeyId::None,
            inner: Arc::new(inner),
        };
        let kid = key.public_jwk()?.thumbprint()?;
        Ok(key.with_kid(kid))
    }

    /// An HMAC key from raw secret bytes. Secrets shorter than the hash output are refused (RFC 7518 §3.2).
    pub fn from_secret(secret: &[u8], alg: Algorithm) -> Result<SigningKey> {
        if !alg.is_symmetric() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!("{alg} does not use a shared secret"),
            ));
        }
        check_hmac_secret(secret, alg)?;
        let inner = Signer::Hmac {
            key: hmac::Key::new(hmac_alg(alg), secret),
            secret: Zeroizing::new(secret.to_vec()),
        };
        Ok(SigningKey {
            alg,
            kid: KeyId::None,
            inner: Arc::new(inner),
        })
    }

    /// A signing key from a private JWK (or a secret `oct` JWK). The algorithm is the JWK's `alg`, or implied by its
    /// curve; RSA and secret keys without `alg` need [`SigningKey::from_jwk_with_alg`].
    pub fn from_jwk(jwk: &Jwk) -> Result<SigningKey> {
        Self::from_jwk_with_alg(jwk, resolve_alg(jwk, None)?)
    }

    /// A signing key for `alg` from a private JWK. A JWK whose `alg`, `use` or `key_ops` contradict `alg` is refused.
    pub fn from_jwk_with_alg(jwk: &Jwk, alg: Algorithm) -> Result<SigningKey> {
        jwk.check_usable(alg, "sign")?;
        expect_family(jwk, alg)?;
        let inner = match alg.family() {
            Family::Hmac => {
                let secret = Zeroizing::new(jwk.member("k", jwk.k.as_ref())?);
                return Ok(
                    Self::from_secret(&secret, alg)?.with_key_id(match &jwk.kid {
                        Some(kid) => KeyId::Given(kid.clone()),
                        None => KeyId::None,
                    }),
                );
            }
            Family::Rsa => Signer::Rsa(rsa_key_pair(jwk)?),
            Family::Ec(curve) => {
                let d = Zeroizing::new(jwk.member("d", jwk.d.as_ref())?);
                if d.len() != curve.field_len() {
                    return Err(Error::invalid_key(format!(
                        "EC private key on {} must be exactly {} bytes",
                        curve.name(),
                        curve.field_len()
                    )));
                }
                let point = ec_point(jwk, curve)?;
                Signer::Ecdsa(
                    EcdsaKeyPair::from_private_key_and_public_key(
                        ecdsa_signing_alg(curve),
                        &d,
                        &point,
                    )
                    .map_err(rejected("EC private key"))?,
                )
            }
            Family::Ed25519 => {
                let seed = Zeroizing::new(jwk.member("d", jwk.d.as_ref())?);
                let public = jwk.member("x", jwk.x.as_ref())?;
                Signer::Ed25519(
                    Ed25519KeyPair::from_seed_and_public_key(&seed, &public)
                        .map_err(rejected("Ed25519 private key"))?,
                )
            }
        };
        let key = SigningKey {
            alg,
            kid: KeyId::None,
            inner: Arc::new(inner),
        };
        let kid = KeyId::from_jwk(jwk.kid.as_ref(), || key.public_jwk()?.thumbprint())?;
        Ok(key.with_key_id(kid))
    }

    /// A signing key for `alg` from a PEM private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`).
    pub fn from_pem(pem: &str, alg: Algorithm) -> Result<SigningKey> {
        Self::from_jwk_with_alg(&Jwk::from_pem(pem)?, alg)
    }

    /// A signing key for `alg` from a DER private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_der(der: &[u8], alg: Algorithm) -> Result<SigningKey> {
        Self::from_jwk_with_alg(&Jwk::from_der(der)?, alg)
    }

    /// Sets the key ID written into the `kid` header of what this key signs. Its verifying key answers to this kid
    /// only.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = KeyId::Given(kid.into());
        self
    }

    fn with_key_id(mut self, kid: KeyId) -> Self {
        self.kid = kid;
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key ID written into what this key signs: the kid given with the key, else its RFC 7638 thumbprint
    /// (none for an HMAC secret without a given kid).
    pub fn kid(&self) -> Option<&str> {
        self.kid.kid()
    }

    /// Signs `message` (a JWS signing input) and returns the JWS signature bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = |_| Error::new(ErrorKind::Crypto, format!("{} signing failed", self.alg));
        match &*self.inner {
            Signer::Hmac { key, .. } => Ok(hmac::sign(key, message).as_ref().to_vec()),
            Signer::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    rsa_encoding(self.alg),
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(failed)?;
                Ok(sig)
            }
            Signer::Ecdsa(pair) => Ok(pair
                .sign(&SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// The matching verifying key (for HMAC, the same secret), with the same `alg` and `kid`; a thumbprint kid
    /// stays a thumbprint, so the verifying key answers to any kid as this key's source did.
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        let key = match &*self.inner {
            Signer::Hmac { secret, .. } => VerifyingKey::from_secret(secret, self.alg)?,
            _ => VerifyingKey::from_jwk_with_alg(&self.public_jwk()?, self.alg)?,
        };
        Ok(key.with_key_id(self.kid.clone()))
    }

    /// The private JWK (with `alg` and `kid`). Handle it as the secret it is.
    pub fn to_jwk(&self) -> Result<Jwk> {
        let mut jwk = match &*self.inner {
            Signer::Hmac { secret, .. } => Jwk {
                kty: "oct".into(),
                k: Some(b64::encode(&**secret)),
                ..Jwk::default()
            },
            Signer::Rsa(pair) => {
                let pkcs8 = pair
                    .as_der()
                    .map_err(|_| Error::new(ErrorKind::Crypto, "RSA key export failed"))?;
                Jwk::from_der(pkcs8.as_ref())?
            }
            Signer::Ecdsa(pair) => {
                let Family::Ec(curve) = self.alg.family() else {
                    unreachable!("ECDSA signer with a non-EC algorithm")
                };
                let d = pair
                    .private_key()
                    .as_be_bytes()
                    .map_err(|_| Error::new(ErrorKind::Crypto, "EC key export failed"))?;
                let mut jwk = ec_public_jwk(curve, pair.public_key().as_ref());
                jwk.d = Some(b64::encode(d.as_ref()));
                jwk
            }
            Signer::Ed25519(pair) => {
                let seed = pair
                    .seed()
                    .map_err(|_| Error::new(ErrorKind::Crypto, "Ed25519 key export failed"))?;
                let seed = seed
                    .as_be_bytes()
                    .map_err(|_| Error::new(ErrorKind::Crypto, "Ed25519 key export failed"))?;
                Jwk {
                    kty: "OKP".into(),
                    crv: Some("Ed25519".into()),
                    x: Some(b64::encode(pair.public_key().as_ref())),
                    d: Some(b64::encode(seed.as_ref())),
                    ..Jwk::default()
                }
            }
        };
        jwk.alg = Some(self.alg.name().into());
        jwk.kid = self.kid().map(str::to_owned);
        Ok(jwk)
    }

    /// The public JWK of an asymmetric key, with `alg`, `kid` and `use: sig`, ready to publish in a JWKS.
    pub fn public_jwk(&self) -> Result<Jwk> {
        if self.alg.is_symmetric() {
            return Err(Error::invalid_key(
                "an HMAC secret has no public part; share the secret itself",
            ));
        }
        let mut jwk = self.to_jwk()?.to_public()?;
        jwk.use_ = Some("sig".into());
        Ok(jwk)
    }

    /// The private key as PKCS#8 PEM (`PRIVATE KEY`). HMAC secrets have no PEM form.
    pub fn to_pem(&self) -> Result<String> {
        let failed = |_| Error::new(ErrorKind::Crypto, "private key export failed");
        let der: Zeroizing<Vec<u8>> = Zeroizing::new(match &*self.inner {
            Signer::Hmac { .. } => {
                return Err(Error::invalid_key(
                    "an HMAC secret has no PEM form; use a JWK",
                ));
            }
            Signer::Rsa(pair) => pair.as_der().map_err(failed)?.as_ref().to_vec(),
            Signer::Ecdsa(pair) => pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            Signer::Ed25519(pair) => pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
        });
        crate::jwk::pem_encode("PRIVATE KEY", &der)
    }
}

pub(crate) fn rsa_key_pair(jwk: &Jwk) -> Result<rsa::KeyPair> {
    if jwk.oth.is_some() {
        return Err(Error::invalid_key(
            "multi-prime RSA keys (\"oth\") are not supported",
        ));
    }
    let n = jwk.member("n", jwk.n.as_ref())?;
    let e = jwk.member("e", jwk.e.as_ref())?;
    rsa_math::check_public(&n, &e)?;
    let d = Zeroizing::new(jwk.member("d", jwk.d.as_ref())?);
    let crt_members = [&jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi];
    let crt = if crt_members.iter().all(|m| m.is_none()) {
        rsa_math::recover_crt(&n, &e, &d)?
    } else if crt_members.iter().all(|m| m.is_some()) {
        rsa_math::Crt {
            p: jwk.member("p", jwk.p.as_ref())?,
            q: jwk.member("q", jwk.q.as_ref())?,
            dp: jwk.member("dp", jwk.dp.as_ref())?,
            dq: jwk.member("dq", jwk.dq.as_ref())?,
            qi: jwk.member("qi", jwk.qi.as_ref())?,
        }
    } else {
        return Err(Error::invalid_key(
            "RSA JWK has some but not all of p, q, dp, dq, qi",
        ));
    };
    let components = rsa::KeyPairComponents {
        public_key: rsa::PublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        },
        d: d.as_slice(),
        p: crt.p.as_slice(),
        q: crt.q.as_slice(),
        dP: crt.dp.as_slice(),
        dQ: crt.dq.as_slice(),
        qInv: crt.qi.as_slice(),
    };
    rsa::KeyPair::from_components(&components).map_err(rejected("RSA private key"))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid.kid())
            .finish_non_exhaustive()
    }
}
