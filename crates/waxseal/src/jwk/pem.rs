//! PEM and DER key import and export. Every format is read into a [`Jwk`], so PEM keys meet the same checks as
//! JWKs. ASN.1 is parsed by the RustCrypto crates, never by hand.

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use zeroize::Zeroizing;

use super::Jwk;
use crate::alg::Curve;
use crate::b64;
use crate::error::{Error, Result, quote};

const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
const P521: Oid = Oid::new_unwrap("1.3.132.0.35");
const SECP256K1: Oid = Oid::new_unwrap("1.3.132.0.10");

fn curve_of(oid: Oid) -> Result<Curve> {
    Ok(match oid {
        P256 => Curve::P256,
        P384 => Curve::P384,
        P521 => Curve::P521,
        SECP256K1 => Curve::Secp256k1,
        other => {
            return Err(Error::invalid_key(format!(
                "unsupported elliptic curve (OID {other})"
            )));
        }
    })
}

fn bad(what: &str) -> impl Fn(der::Error) -> Error + '_ {
    move |e| Error::invalid_key(format!("not a valid {what}: {e}"))
}

pub(crate) fn pem_encode(label: &str, der: &[u8]) -> Result<String> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .map_err(|e| Error::invalid_key(format!("PEM encoding failed: {e}")))
}

impl Jwk {
    /// Reads the first key in a PEM document: `PRIVATE KEY` (PKCS#8), `PUBLIC KEY` (SPKI), `RSA PRIVATE KEY`,
    /// `RSA PUBLIC KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1) or `CERTIFICATE` (its public key). Other blocks before it,
    /// such as OpenSSL's `EC PARAMETERS`, are skipped.
    pub fn from_pem(text: &str) -> Result<Jwk> {
        let mut rest = text;
        loop {
            let Some(start) = rest.find("-----BEGIN ") else {
                return Err(Error::invalid_key(
                    "no PEM key found (expected a \"-----BEGIN ... KEY-----\" or CERTIFICATE block)",
                ));
            };
            let block = &rest[start..];
            let end_marker = block
                .find("-----END ")
                .and_then(|i| block[i + 9..].find("-----").map(|j| i + 9 + j + 5))
                .ok_or_else(|| Error::invalid_key("PEM block has no END line"))?;
            let (label, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..end_marker])
                .map_err(|e| Error::invalid_key(format!("malformed PEM: {e}")))?;
            let der = Zeroizing::new(der);
            match label {
                "PRIVATE KEY" => return from_pkcs8(&der),
                "PUBLIC KEY" => return from_spki(&der),
                "RSA PRIVATE KEY" => return from_pkcs1_private(&der),
                "RSA PUBLIC KEY" => return from_pkcs1_public(&der),
                "EC PRIVATE KEY" => return from_sec1(&der, None),
                "CERTIFICATE" => return from_certificate(&der),
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(Error::invalid_key(
                        "encrypted PKCS#8 keys are not supported; decrypt first: openssl pkcs8 -in KEY -out KEY.pem",
                    ));
                }
                "EC PARAMETERS" => rest = &block[end_marker..],
                other => {
                    return Err(Error::invalid_key(format!(
                        "unsupported PEM block {}",
                        quote(other)
                    )));
                }
            }
        }
    }

    /// Reads a DER key of any of the formats [`Jwk::from_pem`] accepts, detected from its structure.
    pub fn from_der(der: &[u8]) -> Result<Jwk> {
        from_pkcs8(der)
            .or_else(|_| from_spki(der))
            .or_else(|_| from_pkcs1_private(der))
            .or_else(|_| from_pkcs1_public(der))
            .or_else(|_| from_sec1(der, None))
            .or_else(|_| from_certificate(der))
            .map_err(|_| {
                Error::invalid_key(
                    "not a DER key: expected PKCS#8, SPKI, PKCS#1, SEC1 or an X.509 certificate",
                )
            })
    }

    /// The key as PEM: PKCS#8 `PRIVATE KEY` for private keys, SPKI `PUBLIC KEY` for public ones. Secret (`oct`)
    /// keys have no PEM form.
    pub fn to_pem(&self) -> Result<String> {
        let alg = self
            .algorithm()?
            .or_else(|| self.algorithms().ok().and_then(|a| a.first().copied()))
            .ok_or_else(|| Error::invalid_key("key type has no PEM form"))?;
        let bare = Jwk {
            alg: None,
            use_: None,
            key_ops: None,
            ..self.clone()
        };
        if self.is_private() {
            crate::SigningKey::from_jwk_with_alg(&bare, alg)?.to_pem()
        } else {
            crate::VerifyingKey::from_jwk_with_alg(&bare, alg)?.to_pem()
        }
    }
}

fn from_pkcs8(der: &[u8]) -> Result<Jwk> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(bad("PKCS#8 private key"))?;
    let key = info.private_key.as_bytes();
    match info.algorithm.oid {
        RSA_ENCRYPTION | RSASSA_PSS => from_pkcs1_private(key),
        EC_PUBLIC_KEY => {
            let curve = curve_of(
                info.algorithm
                    .parameters_oid()
                    .map_err(|_| Error::invalid_key("EC key names no curve"))?,
            )?;
            let pair = EcdsaKeyPair::from_pkcs8(super_ec_alg(curve), der)
                .map_err(|e| Error::invalid_key(format!("EC private key rejected: {e}")))?;
            ec_private_jwk(curve, &pair)
        }
        ED25519 => {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|e| Error::invalid_key(format!("Ed25519 private key rejected: {e}")))?;
            let seed = pair
                .seed()
                .map_err(|_| Error::invalid_key("Ed25519 seed unavailable"))?;
            let seed = seed
                .as_be_bytes()
                .map_err(|_| Error::invalid_key("Ed25519 seed unavailable"))?;
            Ok(Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(b64::encode(pair.public_key().as_ref())),
                d: Some(b64::encode(seed.as_ref())),
                ..Jwk::default()
            })
        }
        other => Err(Error::invalid_key(format!(
            "unsupported private key algorithm (OID {other})"
        ))),
    }
}

fn super_ec_alg(curve: Curve) -> &'static aws_lc_rs::signature::EcdsaSigningAlgorithm {
    use aws_lc_rs::signature as s;
    match curve {
        Curve::P256 => &s::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &s::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &s::ECDSA_P521_SHA512_FIXED_SIGNING,
        Curve::Secp256k1 => &s::ECDSA_P256K1_SHA256_FIXED_SIGNING,
    }
}

fn ec_private_jwk(curve: Curve, pair: &EcdsaKeyPair) -> Result<Jwk> {
    let d = pair
        .private_key()
        .as_be_bytes()
        .map_err(|_| Error::invalid_key("EC private scalar unavailable"))?;
    let point = pair.public_key().as_ref();
    let len = curve.field_len();
    if point.len() != 1 + 2 * len {
        return Err(Error::invalid_key("EC public point has an unexpected size"));
    }
    Ok(Jwk {
        kty: "EC".into(),
        crv: Some(curve.name().into()),
        x: Some(b64::encode(&point[1..=len])),
        y: Some(b64::encode(&point[1 + len..])),
        d: Some(b64::encode(d.as_ref())),
        ..Jwk::default()
    })
}

fn from_sec1(der: &[u8], curve: Option<Curve>) -> Result<Jwk> {
    let key = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| Error::invalid_key(format!("not a valid SEC1 key: {e}")))?;
    let curve = match (
        curve,
        key.parameters.and_then(sec1::EcParameters::named_curve),
    ) {
        (_, Some(oid)) => curve_of(oid)?,
        (Some(curve), None) => curve,
        (None, None) => return Err(Error::invalid_key("SEC1 EC key names no curve")),
    };
    let pair = EcdsaKeyPair::from_private_key_der(super_ec_alg(curve), der)
        .map_err(|e| Error::invalid_key(format!("EC private key rejected: {e}")))?;
    ec_private_jwk(curve, &pair)
}

fn from_pkcs1_private(der: &[u8]) -> Result<Jwk> {
    let key = pkcs1::RsaPrivateKeyRef::try_from(der)
        .map_err(|e| Error::invalid_key(format!("not a valid PKCS#1 key: {e}")))?;
    if key.other_prime_infos.is_some() {
        return Err(Error::invalid_key("multi-prime RSA keys are not supported"));
    }
    let enc = |u: der::asn1::UintRef<'_>| Some(b64::encode(u.as_bytes()));
    Ok(Jwk {
        kty: "RSA".into(),
        n: enc(key.modulus),
        e: enc(key.public_exponent),
        d: enc(key.private_exponent),
        p: enc(key.prime1),
        q: enc(key.prime2),
        dp: enc(key.exponent1),
        dq: enc(key.exponent2),
        qi: enc(key.coefficient),
        ..Jwk::default()
    })
}

fn from_pkcs1_public(der: &[u8]) -> Result<Jwk> {
    let key = pkcs1::RsaPublicKeyRef::from_der(der).map_err(bad("PKCS#1 public key"))?;
    Ok(Jwk {
        kty: "RSA".into(),
        n: Some(b64::encode(key.modulus.as_bytes())),
        e: Some(b64::encode(key.public_exponent.as_bytes())),
        ..Jwk::default()
    })
}

fn from_spki(der: &[u8]) -> Result<Jwk> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(bad("SubjectPublicKeyInfo"))?;
    spki_to_jwk(&spki)
}

fn spki_to_jwk(spki: &spki::SubjectPublicKeyInfoRef<'_>) -> Result<Jwk> {
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Error::invalid_key("public key bit string has unused bits"))?;
    match spki.algorithm.oid {
        RSA_ENCRYPTION | RSASSA_PSS => from_pkcs1_public(bits),
        EC_PUBLIC_KEY => {
            let curve = curve_of(
                spki.algorithm
                    .parameters_oid()
                    .map_err(|_| Error::invalid_key("EC key names no curve"))?,
            )?;
            let len = curve.field_len();
            if bits.len() != 1 + 2 * len || bits[0] != 4 {
                return Err(Error::invalid_key(
                    "EC public key must be an uncompressed point",
                ));
            }
            Ok(Jwk {
                kty: "EC".into(),
                crv: Some(curve.name().into()),
                x: Some(b64::encode(&bits[1..=len])),
                y: Some(b64::encode(&bits[1 + len..])),
                ..Jwk::default()
            })
        }
        ED25519 => Ok(Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(b64::encode(bits)),
            ..Jwk::default()
        }),
        other => Err(Error::invalid_key(format!(
            "unsupported public key algorithm (OID {other})"
        ))),
    }
}

fn from_certificate(der: &[u8]) -> Result<Jwk> {
    let cert = x509_cert::Certificate::from_der(der).map_err(bad("X.509 certificate"))?;
    let spki_der = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(bad("certificate public key"))?;
    from_spki(&spki_der)
}
