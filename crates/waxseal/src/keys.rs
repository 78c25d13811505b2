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

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey};
use aws_lc_rs::{hmac, rsa};
use der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, Curve, Family};
use crate::b64;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::jwk::{Jwk, rsa as rsa_math};

/// A key that signs: a private key or an HMAC secret, with its algorithm and optional `kid`. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: KeyId,
    inner: Arc<Signer>,
}

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

fn hmac_alg(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
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

fn ecdsa_signing_alg(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        Curve::Secp256k1 => &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
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

fn ec_point(jwk: &Jwk, curve: Curve) -> Result<Vec<u8>> {
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

fn rsa_key_pair(jwk: &Jwk) -> Result<rsa::KeyPair> {
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

    fn with_key_id(mut self, kid: KeyId) -> Self {
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

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid.kid())
            .finish_non_exhaustive()
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
