//! JWE keys, each bound to one key-management algorithm (and a `dir` key also to one content encryption), the way
//! a [`SigningKey`](crate::SigningKey) is bound to one signature algorithm.
//!
//! They are types of their own, not signing keys with another label: no JWS key can be handed to a decrypter and
//! no JWE key to a verifier, and the compiler says so. A JWK marked `use: sig` is refused here, as a JWK marked
//! `use: enc` is refused by the JWS keys.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents};
use zeroize::Zeroizing;

use super::algorithms::{ContentEncryption, KeyManagement};
use super::ecdh::{EcdhCurve, EcdhPrivate, EcdhPublic};
use super::key_export::{OaepPrivate, OaepPublic};
use crate::error::{Error, ErrorKind, Result, quote};
use crate::jwk::Jwk;

/// What a key is made of. A decryption key from an RSA private key keeps the public half too, so
/// [`DecryptionKey::encryption_key`] cannot fail.
pub(crate) enum Material {
    /// The shared secret of `dir`, AES key wrap and AES-GCM key wrap.
    Secret(Zeroizing<Vec<u8>>),
    /// A `dir` key for AES-GCM: the secret, and its key schedule built once rather than for every token.
    DirectGcm(Zeroizing<Vec<u8>>, aws_lc_rs::aead::LessSafeKey),
    /// The password of PBES2, from which each token's key wrap key is derived.
    Password(Zeroizing<Vec<u8>>),
    /// An RSA private key (2048 bits or more) and its public half.
    RsaPrivate(OaepPrivate, Arc<OaepPublic>),
    /// An RSA public key (2048 bits or more).
    RsaPublic(Arc<OaepPublic>),
    /// An ECDH private key (P-256, P-384, P-521 or X25519) and its public half.
    EcdhPrivate(EcdhPrivate),
    /// An ECDH public key, validated on its curve.
    EcdhPublic(EcdhPublic),
}

impl Material {
    /// A `dir` AES-GCM key's prebuilt key schedule; `None` for every other key.
    pub(crate) fn direct_gcm(&self) -> Option<&aws_lc_rs::aead::LessSafeKey> {
        match self {
            Material::DirectGcm(_, schedule) => Some(schedule),
            _ => None,
        }
    }
}

/// RSA keys below 2048 bits are refused for encryption as they are for signatures.
const MIN_RSA_BITS: usize = 2048;

/// The material and binding both key types share.
#[derive(Clone)]
struct Bound {
    alg: KeyManagement,
    /// For `dir`: the one content encryption the key is the content key of.
    direct_enc: Option<ContentEncryption>,
    kid: Option<String>,
    material: Arc<Material>,
}

impl Bound {
    fn new(
        secret: &[u8],
        alg: KeyManagement,
        direct_enc: Option<ContentEncryption>,
    ) -> Result<Bound> {
        let wanted = match (alg, direct_enc) {
            (KeyManagement::Dir, Some(enc)) => enc.key_len(),
            (KeyManagement::Dir, None) => {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    "a \"dir\" key is the content key of one content encryption; say which (`direct`)",
                ));
            }
            (_, Some(_)) => {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!(
                        "only a \"dir\" key is bound to a content encryption, not an {alg} key"
                    ),
                ));
            }
            (_, None) if alg.is_rsa() || alg.is_ecdh() => {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!(
                        "{alg} needs {}, not a shared secret",
                        if alg.is_rsa() {
                            "an RSA key"
                        } else {
                            "an EC or X25519 key pair"
                        }
                    ),
                ));
            }
            (_, None) if alg.is_pbes2() => {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!("{alg} takes a password: use from_password"),
                ));
            }
            (_, None) => alg.key_len().unwrap_or(0),
        };
        if secret.len() != wanted {
            let what = direct_enc.map_or_else(|| alg.to_string(), |enc| format!("dir with {enc}"));
            return Err(Error::invalid_key(format!(
                "{what} needs a key of exactly {wanted} bytes ({} bits); this one has {}",
                wanted * 8,
                secret.len()
            )));
        }
        let secret = Zeroizing::new(secret.to_vec());
        let material = match direct_enc {
            Some(enc) if enc.is_gcm() => {
                let schedule = super::content::gcm_key(enc, &secret)?;
                Material::DirectGcm(secret, schedule)
            }
            _ => Material::Secret(secret),
        };
        Ok(Bound {
            alg,
            direct_enc,
            kid: None,
            material: Arc::new(material),
        })
    }

    /// A PBES2 key: the password, as bytes (UTF-8 for a text password). An empty password is refused.
    fn password(password: &[u8], alg: KeyManagement) -> Result<Bound> {
        if !alg.is_pbes2() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!("only the PBES2 algorithms take a password, not {alg}"),
            ));
        }
        if password.is_empty() {
            return Err(Error::invalid_key("a PBES2 password cannot be empty"));
        }
        Ok(Bound {
            alg,
            direct_enc: None,
            kid: None,
            material: Arc::new(Material::Password(Zeroizing::new(password.to_vec()))),
        })
    }

    /// An RSA key for `alg` from a JWK: the private key when `private`, else the public key (of a public or
    /// private JWK).
    fn rsa(jwk: &Jwk, alg: KeyManagement, private: bool) -> Result<Material> {
        let rejected = |what: &str| {
            Error::invalid_key(format!("RSA {what} rejected by the cryptographic library"))
        };
        let public = |key: PublicEncryptingKey| -> Result<Arc<OaepPublic>> {
            if key.key_size_bits() < MIN_RSA_BITS {
                return Err(Error::invalid_key(format!(
                    "{alg} needs an RSA key of at least {MIN_RSA_BITS} bits; this one has {}",
                    key.key_size_bits()
                )));
            }
            OaepPublic::new(key).map(Arc::new)
        };
        if private {
            let pair = crate::keys::rsa_key_pair(jwk)?;
            let pkcs8 = pair
                .as_der()
                .map_err(|_| Error::new(ErrorKind::Crypto, "RSA key export failed"))?;
            let key = PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| rejected("private key"))?;
            let public_half = public(key.public_key())?;
            let private_key = OaepPrivate::new(key)?;
            Ok(Material::RsaPrivate(private_key, public_half))
        } else {
            let n = jwk.member("n", jwk.n.as_ref())?;
            let e = jwk.member("e", jwk.e.as_ref())?;
            crate::jwk::rsa::check_public(&n, &e)?;
            let components = PublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            };
            let key: PublicEncryptingKey =
                components.try_into().map_err(|_| rejected("public key"))?;
            Ok(Material::RsaPublic(public(key)?))
        }
    }

    /// An ECDH key for `alg` from a JWK (EC on P-256/P-384/P-521, or OKP on X25519): the private key when
    /// `private` (its `x`/`y` must belong to its `d`), else the public key, validated on its curve.
    fn ecdh(jwk: &Jwk, alg: KeyManagement, private: bool) -> Result<Material> {
        let curve = EcdhCurve::of_jwk(jwk, alg)?;
        let raw = EcdhPublic::raw_of_jwk(jwk, curve)?;
        let public = EcdhPublic::from_bytes(curve, &raw).ok_or_else(|| {
            Error::invalid_key(format!("the public key is not a point on {}", curve.name()))
        })?;
        if !private {
            return Ok(Material::EcdhPublic(public));
        }
        let Some(d) = &jwk.d else {
            return Err(Error::invalid_key(format!(
                "decrypting with {alg} needs the private key (\"d\")"
            )));
        };
        let d = Zeroizing::new(
            crate::b64::decode(d, "JWK member \"d\"")
                .map_err(|e| Error::invalid_key(e.message().to_owned()))?,
        );
        let key = EcdhPrivate::from_raw(curve, &d)?;
        if key.public().jwk_members() != public.jwk_members() {
            return Err(Error::invalid_key(
                "the JWK's public key (x, y) does not belong to its private key (d)",
            ));
        }
        Ok(Material::EcdhPrivate(key))
    }

    /// Reads a JWK for `op` ("decrypt" or "encrypt"): `kty: oct`, `use` absent or `enc`, `key_ops` allowing the
    /// operation, and `alg` (if present) agreeing with `alg` (for `dir`, `alg` may name the content encryption,
    /// as RFC 7520 §5.6's key does).
    fn from_jwk(
        jwk: &Jwk,
        alg: KeyManagement,
        direct_enc: Option<ContentEncryption>,
        op: &str,
    ) -> Result<Bound> {
        if let Some(use_) = &jwk.use_
            && use_ != "enc"
        {
            return Err(Error::invalid_key(format!(
                "the key is for {} (use), not for encryption",
                quote(use_)
            )));
        }
        if let Some(ops) = &jwk.key_ops {
            let allowed: [&str; 2] = match (op, alg) {
                // WebCrypto's names for ECDH keys, in either direction.
                _ if alg.is_ecdh() => ["deriveKey", "deriveBits"],
                ("decrypt", KeyManagement::Dir) => ["decrypt", "decrypt"],
                ("decrypt", _) => ["unwrapKey", "decrypt"],
                (_, KeyManagement::Dir) => ["encrypt", "encrypt"],
                _ => ["wrapKey", "encrypt"],
            };
            if !ops.iter().any(|o| allowed.contains(&o.as_str())) {
                return Err(Error::invalid_key(format!(
                    "the key's key_ops do not allow {op}ion with {alg}"
                )));
            }
        }
        if let Some(name) = &jwk.alg {
            let agrees = name == alg.name() || direct_enc.is_some_and(|enc| name == enc.name());
            if !agrees {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!("the key is for alg {}, not {alg}", quote(name)),
                ));
            }
        }
        let wanted_kty = if alg.is_rsa() { "RSA" } else { "oct" };
        if jwk.kty != wanted_kty && !alg.is_ecdh() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!(
                    "a {} key cannot be used with {alg}: it needs kty \"{wanted_kty}\"",
                    quote(&jwk.kty)
                ),
            ));
        }
        let mut bound = if alg.is_ecdh() {
            Bound {
                alg,
                direct_enc: None,
                kid: None,
                material: Arc::new(Bound::ecdh(jwk, alg, op == "decrypt")?),
            }
        } else if alg.is_rsa() {
            let private = op == "decrypt";
            if private && jwk.d.is_none() {
                return Err(Error::invalid_key(format!(
                    "decrypting with {alg} needs the RSA private key"
                )));
            }
            Bound {
                alg,
                direct_enc: None,
                kid: None,
                material: Arc::new(Bound::rsa(jwk, alg, private)?),
            }
        } else if alg.is_pbes2() {
            // RFC 7520 §5.3: a PBES2 password as an `oct` JWK whose `k` is the password's bytes.
            let password = Zeroizing::new(jwk.member("k", jwk.k.as_ref())?);
            Bound::password(&password, alg)?
        } else {
            let secret = Zeroizing::new(jwk.member("k", jwk.k.as_ref())?);
            Bound::new(&secret, alg, direct_enc)?
        };
        bound.kid.clone_from(&jwk.kid);
        Ok(bound)
    }

    /// The algorithm a JWK names: a key-management algorithm, or a content encryption (which makes it a `dir` key).
    fn jwk_binding(jwk: &Jwk) -> Result<(KeyManagement, Option<ContentEncryption>)> {
        let Some(name) = &jwk.alg else {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                "the JWK has no \"alg\"; say which key-management algorithm it is for",
            ));
        };
        if let Ok(enc) = ContentEncryption::from_name(name) {
            return Ok((KeyManagement::Dir, Some(enc)));
        }
        match KeyManagement::from_name(name)? {
            KeyManagement::Dir => Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                "the JWK is for \"dir\"; say which content encryption it is the key of",
            )),
            alg => Ok((alg, None)),
        }
    }

    fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(name);
        s.field("alg", &self.alg);
        if let Some(enc) = self.direct_enc {
            s.field("enc", &enc);
        }
        s.field("kid", &self.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

macro_rules! jwe_key {
    ($name:ident, $op:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $name(Bound);

        impl $name {
            /// A key for `alg` (a symmetric one other than `dir`, see [`Self::direct`], and other than PBES2,
            /// see [`Self::from_password`]) from raw secret bytes, which must be exactly the algorithm's key
            /// length.
            pub fn from_secret(secret: &[u8], alg: KeyManagement) -> Result<Self> {
                Bound::new(secret, alg, None).map(Self)
            }

            /// A PBES2 key for `alg` from a password (its UTF-8 bytes, for a text password; not empty).
            ///
            /// PBES2 stretches the password with an iteration count each token carries, and that slows a guesser
            /// only so much: use a password with the strength of a key. Decrypters accept PBES2 only once
            /// enabled with [`Decrypter::allow_pbes2`](crate::jwe::Decrypter::allow_pbes2).
            pub fn from_password(password: &[u8], alg: KeyManagement) -> Result<Self> {
                Bound::password(password, alg).map(Self)
            }

            /// A `dir` key: `secret` is the content key itself, for `enc` only.
            pub fn direct(secret: &[u8], enc: ContentEncryption) -> Result<Self> {
                Bound::new(secret, KeyManagement::Dir, Some(enc)).map(Self)
            }

            /// A key from a JWK (`kty: oct`; `RSA` for RSA-OAEP; `EC` on P-256/P-384/P-521 or `OKP` on X25519 for
            /// ECDH-ES) whose `alg` names a key-management algorithm, or a content encryption for a `dir` key. For
            /// PBES2, `k` holds the password's bytes (RFC 7520 §5.3). A JWK with `use` other than `enc`, or
            /// `key_ops` that forbid this use, is refused.
            pub fn from_jwk(jwk: &Jwk) -> Result<Self> {
                let (alg, direct_enc) = Bound::jwk_binding(jwk)?;
                Bound::from_jwk(jwk, alg, direct_enc, $op).map(Self)
            }

            /// A key for `alg` (not `dir`, see [`Self::from_jwk_direct`]) from a JWK whose `alg`, if present, agrees.
            pub fn from_jwk_with_alg(jwk: &Jwk, alg: KeyManagement) -> Result<Self> {
                Bound::from_jwk(jwk, alg, None, $op).map(Self)
            }

            /// A `dir` key for `enc` from a JWK.
            pub fn from_jwk_direct(jwk: &Jwk, enc: ContentEncryption) -> Result<Self> {
                Bound::from_jwk(jwk, KeyManagement::Dir, Some(enc), $op).map(Self)
            }

            /// Sets the key ID, written into the JWEs this key makes and matched against those it opens.
            #[must_use]
            pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
                self.0.kid = Some(kid.into());
                self
            }

            /// The key-management algorithm this key is bound to.
            pub fn algorithm(&self) -> KeyManagement {
                self.0.alg
            }

            /// For a `dir` key, the one content encryption it is the key of.
            pub fn direct_encryption(&self) -> Option<ContentEncryption> {
                self.0.direct_enc
            }

            /// The key ID, if it has one.
            pub fn kid(&self) -> Option<&str> {
                self.0.kid.as_deref()
            }

            pub(crate) fn material(&self) -> &Material {
                &self.0.material
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(stringify!($name), f)
            }
        }
    };
}

jwe_key!(
    DecryptionKey,
    "decrypt",
    "A key that decrypts JWEs made for one key-management algorithm. Cheap to clone; the secret is never shown."
);
jwe_key!(
    EncryptionKey,
    "encrypt",
    "A key that makes JWEs with one key-management algorithm. Cheap to clone; the secret is never shown."
);

impl DecryptionKey {
    /// The key that encrypts to this one: for the symmetric algorithms and PBES2, the same secret and binding; for
    /// RSA-OAEP and ECDH-ES, the public key.
    pub fn encryption_key(&self) -> EncryptionKey {
        let mut bound = self.0.clone();
        match &*self.0.material {
            Material::RsaPrivate(_, public) => {
                bound.material = Arc::new(Material::RsaPublic(Arc::clone(public)));
            }
            Material::EcdhPrivate(private) => {
                bound.material = Arc::new(Material::EcdhPublic(private.public().clone()));
            }
            Material::Secret(_)
            | Material::DirectGcm(..)
            | Material::Password(_)
            | Material::RsaPublic(_)
            | Material::EcdhPublic(_) => {}
        }
        EncryptionKey(bound)
    }

    /// A fresh ECDH-ES key pair for `alg` (one of the ECDH-ES algorithms) on the curve `crv` (`P-256`, `P-384`,
    /// `P-521` or `X25519`), from aws-lc-rs.
    ///
    /// ```
    /// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
    ///
    /// let key = DecryptionKey::generate_ecdh(KeyManagement::EcdhEsA256KW, "X25519")?;
    /// let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm)
    ///     .agreement_party_info(b"Alice", b"Bob")
    ///     .encrypt_compact(b"to Bob")?;
    /// assert_eq!(Decrypter::new(key).decrypt_compact(&token)?.plaintext, b"to Bob");
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    pub fn generate_ecdh(alg: KeyManagement, crv: &str) -> Result<DecryptionKey> {
        if !alg.is_ecdh() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!("{alg} is not an ECDH-ES algorithm"),
            ));
        }
        let private = EcdhPrivate::generate(EcdhCurve::from_name(crv)?)?;
        Ok(DecryptionKey(Bound {
            alg,
            direct_enc: None,
            kid: None,
            material: Arc::new(Material::EcdhPrivate(private)),
        }))
    }

    /// For an ECDH-ES key, the public JWK (`kty`, `crv`, `x`, `y`, and `alg`, `use: enc`, `kid`): what a sender
    /// encrypts to. `None` for other keys.
    pub fn ecdh_public_jwk(&self) -> Option<Jwk> {
        let Material::EcdhPrivate(private) = &*self.0.material else {
            return None;
        };
        let mut jwk =
            Jwk::from_value(serde_json::Value::Object(private.public().jwk_members())).ok()?;
        jwk.alg = Some(self.0.alg.name().to_owned());
        jwk.use_ = Some("enc".to_owned());
        jwk.kid.clone_from(&self.0.kid);
        Some(jwk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bound_and_sized() {
        let kind = |r: Result<DecryptionKey>| r.unwrap_err().kind();
        assert_eq!(
            kind(DecryptionKey::from_secret(&[0; 24], KeyManagement::A128KW)),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            kind(DecryptionKey::from_secret(&[0; 32], KeyManagement::Dir)),
            ErrorKind::AlgorithmNotAllowed
        );
        assert_eq!(
            kind(DecryptionKey::direct(&[0; 16], ContentEncryption::A256Gcm)),
            ErrorKind::InvalidKey
        );
        let key = DecryptionKey::direct(&[0; 32], ContentEncryption::A128CbcHs256).unwrap();
        assert_eq!(key.algorithm(), KeyManagement::Dir);
        assert!(!format!("{key:?}").contains("0, 0"), "{key:?}");
    }

    #[test]
    fn jwk_use_alg_and_key_ops_are_respected() {
        let jwk = |extra: &str| {
            Jwk::from_json(&format!(
                r#"{{"kty":"oct","k":"GZy6sIZ6wl9NJOKB-jnmVQ"{extra}}}"#
            ))
            .unwrap()
        };
        DecryptionKey::from_jwk(&jwk(r#","alg":"A128KW","use":"enc""#)).unwrap();
        let dir = DecryptionKey::from_jwk(&jwk(r#","alg":"A128GCM""#)).unwrap();
        assert_eq!(dir.direct_encryption(), Some(ContentEncryption::A128Gcm));
        for (extra, kind) in [
            (r#","alg":"A128KW","use":"sig""#, ErrorKind::InvalidKey),
            (r#","alg":"HS256""#, ErrorKind::UnsupportedAlgorithm),
            (r#","alg":"dir""#, ErrorKind::AlgorithmNotAllowed),
            ("", ErrorKind::AlgorithmNotAllowed),
            (
                r#","alg":"A128KW","key_ops":["wrapKey"]"#,
                ErrorKind::InvalidKey,
            ),
        ] {
            assert_eq!(
                DecryptionKey::from_jwk(&jwk(extra)).unwrap_err().kind(),
                kind,
                "{extra}"
            );
        }
        assert_eq!(
            DecryptionKey::from_jwk_with_alg(&jwk(r#","alg":"A128KW""#), KeyManagement::A128GCMKW)
                .unwrap_err()
                .kind(),
            ErrorKind::AlgorithmNotAllowed
        );
        EncryptionKey::from_jwk(&jwk(r#","alg":"A128KW","key_ops":["wrapKey"]"#)).unwrap();
    }
}
