//! Making JWE keys and writing them out as JWKs.
//!
//! The cryptographic library's RSA-OAEP keys cannot be exported once made, so an RSA JWE key keeps the DER it was
//! made from beside the OAEP key ([`OaepPrivate`], [`OaepPublic`]): a generated key can then be saved, and any key
//! shown as the JWK it came from. The JWKs written here are read back by
//! [`DecryptionKey::from_jwk`] and [`EncryptionKey::from_jwk`] unchanged: `alg` (for `dir`, the content encryption
//! the key is the content key of, as RFC 7520 §5.6's key has it), `use: enc` and `kid`.

use std::ops::Deref;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use zeroize::Zeroizing;

use super::algorithms::{ContentEncryption, KeyManagement};
use super::key::{DecryptionKey, EncryptionKey, Material};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::jwk::Jwk;

/// An RSA-OAEP private key and the PKCS#8 DER it is exported from.
pub(crate) struct OaepPrivate {
    key: OaepPrivateDecryptingKey,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl OaepPrivate {
    pub(crate) fn new(key: PrivateDecryptingKey) -> Result<OaepPrivate> {
        let pkcs8 = Zeroizing::new(
            key.as_der()
                .map_err(|_| Error::new(ErrorKind::Crypto, "RSA key export failed"))?
                .as_ref()
                .to_vec(),
        );
        let key = OaepPrivateDecryptingKey::new(key).map_err(|_| {
            Error::invalid_key("RSA private key rejected by the cryptographic library")
        })?;
        Ok(OaepPrivate { key, pkcs8 })
    }

    /// The private JWK: `n`, `e`, `d` and the CRT members.
    fn jwk(&self) -> Result<Jwk> {
        Jwk::from_der(&self.pkcs8)
    }
}

impl Deref for OaepPrivate {
    type Target = OaepPrivateDecryptingKey;

    fn deref(&self) -> &OaepPrivateDecryptingKey {
        &self.key
    }
}

/// An RSA-OAEP public key and the SPKI DER it is exported from.
pub(crate) struct OaepPublic {
    key: OaepPublicEncryptingKey,
    spki: Vec<u8>,
}

impl OaepPublic {
    pub(crate) fn new(key: PublicEncryptingKey) -> Result<OaepPublic> {
        let spki = key
            .as_der()
            .map_err(|_| Error::new(ErrorKind::Crypto, "RSA key export failed"))?
            .as_ref()
            .to_vec();
        let key = OaepPublicEncryptingKey::new(key).map_err(|_| {
            Error::invalid_key("RSA public key rejected by the cryptographic library")
        })?;
        Ok(OaepPublic { key, spki })
    }

    /// The public JWK: `n` and `e`.
    fn jwk(&self) -> Result<Jwk> {
        Jwk::from_der(&self.spki)
    }
}

impl Deref for OaepPublic {
    type Target = OaepPublicEncryptingKey;

    fn deref(&self) -> &OaepPublicEncryptingKey {
        &self.key
    }
}

/// A fresh secret of `len` bytes.
fn random_secret(len: usize, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut secret = Zeroizing::new(vec![0u8; len]);
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| {
        Error::new(
            ErrorKind::Crypto,
            format!("could not generate a {what} key"),
        )
    })?;
    Ok(secret)
}

impl DecryptionKey {
    /// Generates a fresh key for `alg`: a random secret of the algorithm's key length for AES key wrap and AES-GCM
    /// key wrap, a 2048-bit RSA key for RSA-OAEP. A `dir` key is the content key of one content encryption:
    /// see [`DecryptionKey::generate_direct`].
    ///
    /// An RSA key's `kid` is its RFC 7638 thumbprint; a secret gets none (its thumbprint would let anyone test
    /// guesses of it offline), so give it one with [`DecryptionKey::with_kid`] if its JWEs should name it.
    ///
    /// ```
    /// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
    ///
    /// let key = DecryptionKey::generate(KeyManagement::A256KW)?.with_kid("2026-01");
    /// let saved = key.to_jwk()?.to_json(); // private: store it as the secret it is
    /// let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm).encrypt_compact(b"hi")?;
    /// let again = DecryptionKey::from_jwk(&waxseal::Jwk::from_json(&saved)?)?;
    /// assert_eq!(Decrypter::new(again).decrypt_compact(&token)?.plaintext, b"hi");
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    pub fn generate(alg: KeyManagement) -> Result<DecryptionKey> {
        Self::generate_rsa(alg, 2048)
    }

    /// Like [`DecryptionKey::generate`], with the RSA modulus size (2048, 3072 or 4096 bits) for RSA-OAEP; the size
    /// is ignored for the other algorithms.
    pub fn generate_rsa(alg: KeyManagement, bits: usize) -> Result<DecryptionKey> {
        // Every algorithm named, so a new one is a compile error here until someone decides how its keys are made.
        match alg {
            KeyManagement::Dir => Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                "a \"dir\" key is the content key of one content encryption; generate it with `generate_direct`",
            )),
            KeyManagement::A128KW
            | KeyManagement::A192KW
            | KeyManagement::A256KW
            | KeyManagement::A128GCMKW
            | KeyManagement::A192GCMKW
            | KeyManagement::A256GCMKW => {
                let len = alg.key_len().unwrap_or(32);
                DecryptionKey::from_secret(&random_secret(len, alg.name())?, alg)
            }
            // A random password of 256 bits, as base64url text so it can be typed and stored like any other.
            KeyManagement::Pbes2Hs256A128KW
            | KeyManagement::Pbes2Hs384A192KW
            | KeyManagement::Pbes2Hs512A256KW => {
                let password = b64::encode(&*random_secret(32, alg.name())?);
                DecryptionKey::from_password(password.as_bytes(), alg)
            }
            // P-256 unless the caller picks the curve with `generate_ecdh`.
            KeyManagement::EcdhEs
            | KeyManagement::EcdhEsA128KW
            | KeyManagement::EcdhEsA192KW
            | KeyManagement::EcdhEsA256KW => {
                let key = DecryptionKey::generate_ecdh(alg, "P-256")?;
                let kid = key.encryption_key().to_jwk()?.thumbprint()?;
                Ok(key.with_kid(kid))
            }
            KeyManagement::RsaOaep
            | KeyManagement::RsaOaep256
            | KeyManagement::RsaOaep384
            | KeyManagement::RsaOaep512 => {
                let size = match bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    other => {
                        return Err(Error::invalid_key(format!(
                            "RSA keys are generated with 2048, 3072 or 4096 bits, not {other}"
                        )));
                    }
                };
                let private = PrivateDecryptingKey::generate(size).map_err(|_| {
                    Error::new(ErrorKind::Crypto, format!("could not generate a {alg} key"))
                })?;
                let mut jwk = OaepPrivate::new(private)?.jwk()?;
                jwk.alg = Some(alg.name().into());
                let kid = jwk.to_public()?.thumbprint()?;
                Ok(DecryptionKey::from_jwk(&jwk)?.with_kid(kid))
            }
        }
    }

    /// Generates a fresh `dir` key: a random content key for `enc` (its [`key_len`](ContentEncryption::key_len)).
    pub fn generate_direct(enc: ContentEncryption) -> Result<DecryptionKey> {
        DecryptionKey::direct(&random_secret(enc.key_len(), enc.name())?, enc)
    }

    /// The private JWK: `kty: oct` with `k` for a secret, the RSA private members for RSA-OAEP; `alg` (for `dir`,
    /// the content encryption), `use: enc` and `kid`. Handle it as the secret it is.
    pub fn to_jwk(&self) -> Result<Jwk> {
        jwk_of(
            self.material(),
            Visibility::Private,
            self.algorithm(),
            self.direct_encryption(),
            self.kid(),
        )
    }
}

impl EncryptionKey {
    /// The JWK of this key: for RSA-OAEP the public key, ready to hand to whoever encrypts to you; for the
    /// symmetric algorithms (`dir`, AES key wrap, AES-GCM key wrap) **the shared secret itself**, since there is
    /// no public half — share it only with the other party, as you would the secret. With `alg` (for `dir`, the
    /// content encryption), `use: enc` and `kid`.
    pub fn to_jwk(&self) -> Result<Jwk> {
        jwk_of(
            self.material(),
            Visibility::Public,
            self.algorithm(),
            self.direct_encryption(),
            self.kid(),
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Private,
    Public,
}

fn jwk_of(
    material: &Material,
    visibility: Visibility,
    alg: KeyManagement,
    direct_enc: Option<ContentEncryption>,
    kid: Option<&str>,
) -> Result<Jwk> {
    // Every kind of material named, so a new one is a compile error here until its JWK form is written.
    let mut jwk = match material {
        Material::Secret(secret) | Material::DirectGcm(secret, _) => Jwk {
            kty: "oct".into(),
            k: Some(b64::encode(&**secret)),
            ..Jwk::default()
        },
        Material::RsaPrivate(private, public) => match visibility {
            Visibility::Private => private.jwk()?,
            Visibility::Public => public.jwk()?,
        },
        Material::RsaPublic(public) => public.jwk()?,
        // PBES2: the password is the key, as RFC 7520 §5.3 writes it.
        Material::Password(password) => Jwk {
            kty: "oct".into(),
            k: Some(b64::encode(&**password)),
            ..Jwk::default()
        },
        Material::EcdhPrivate(private) => {
            let members = match visibility {
                Visibility::Private => private.jwk_members()?,
                Visibility::Public => private.public().jwk_members(),
            };
            Jwk::from_value(serde_json::Value::Object(members))?
        }
        Material::EcdhPublic(public) => {
            Jwk::from_value(serde_json::Value::Object(public.jwk_members()))?
        }
    };
    jwk.alg = Some(
        direct_enc
            .map_or(alg.name(), ContentEncryption::name)
            .into(),
    );
    jwk.use_ = Some("enc".into());
    jwk.kid = kid.map(str::to_owned);
    Ok(jwk)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::jwe::{Decrypter, Encrypter};

    /// generate → to_jwk → JSON → from_jwk, then encrypt with the exported encryption key and decrypt with the
    /// re-read decryption key.
    fn round_trip(key: &DecryptionKey, enc: ContentEncryption) {
        let private = Jwk::from_json(&key.to_jwk().unwrap().to_json()).unwrap();
        assert_eq!(private.use_.as_deref(), Some("enc"));
        let public = Jwk::from_json(&key.encryption_key().to_jwk().unwrap().to_json()).unwrap();
        let encrypting = EncryptionKey::from_jwk(&public).unwrap();
        let decrypting = DecryptionKey::from_jwk(&private).unwrap();
        assert_eq!(decrypting.algorithm(), key.algorithm());
        assert_eq!(decrypting.kid(), key.kid());
        let token = Encrypter::new(&encrypting, enc)
            .encrypt_compact(b"round trip")
            .unwrap();
        let opened = Decrypter::new(decrypting)
            .allow_pbes2(crate::jwe::PBES2_DEFAULT_COUNT)
            .decrypt_compact(&token)
            .unwrap();
        assert_eq!(opened.plaintext, b"round trip", "{} {enc}", key.algorithm());
    }

    #[test]
    fn every_algorithm_generates_exports_and_reads_back() {
        for alg in KeyManagement::ALL {
            if alg == KeyManagement::Dir {
                for enc in ContentEncryption::ALL {
                    let key = DecryptionKey::generate_direct(enc).unwrap();
                    assert_eq!(key.to_jwk().unwrap().alg.as_deref(), Some(enc.name()));
                    round_trip(&key, enc);
                }
                continue;
            }
            let key = DecryptionKey::generate(alg).unwrap();
            for enc in [ContentEncryption::A256Gcm, ContentEncryption::A128CbcHs256] {
                round_trip(&key, enc);
            }
        }
        for crv in ["P-384", "P-521", "X25519"] {
            let key = DecryptionKey::generate_ecdh(KeyManagement::EcdhEsA128KW, crv).unwrap();
            assert_eq!(key.to_jwk().unwrap().crv.as_deref(), Some(crv));
            round_trip(&key, ContentEncryption::A128Gcm);
        }
    }

    #[test]
    fn exported_keys_say_what_they_are() {
        let rsa = DecryptionKey::generate(KeyManagement::RsaOaep256).unwrap();
        let private = rsa.to_jwk().unwrap();
        let public = rsa.encryption_key().to_jwk().unwrap();
        assert!(private.d.is_some() && private.p.is_some(), "{private:?}");
        assert!(!public.is_private(), "{public:?}");
        assert_eq!(public.alg.as_deref(), Some("RSA-OAEP-256"));
        // The kid is the thumbprint, the same in both halves.
        assert_eq!(public.kid, Some(public.thumbprint().unwrap()));
        assert_eq!(private.kid, public.kid);
        // A secret has no kid of its own, and its "public" JWK is the secret.
        let secret = DecryptionKey::generate(KeyManagement::A128GCMKW).unwrap();
        let jwk = secret.encryption_key().to_jwk().unwrap();
        assert_eq!((jwk.kty.as_str(), jwk.kid.as_deref()), ("oct", None));
        assert_eq!(jwk.k.map(|k| b64::decode(&k, "k").unwrap().len()), Some(16));
        assert_eq!(
            DecryptionKey::generate(KeyManagement::Dir)
                .unwrap_err()
                .kind(),
            ErrorKind::AlgorithmNotAllowed
        );
        assert_eq!(
            DecryptionKey::generate_rsa(KeyManagement::RsaOaep, 1024)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidKey
        );
    }
}
