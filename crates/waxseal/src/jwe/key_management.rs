//! Key management (RFC 7518 §4): how the content encryption key (CEK) is carried to the recipient.
//!
//! Each algorithm is one pair of functions, [`wrap`] on the way out and [`unwrap`] on the way in, over the key's
//! material; asymmetric algorithms (RSA-OAEP, ECDH-ES) add their material and arms here without touching the
//! serialization. AES key wrap of every size lives in `aes_kw`, PBES2 and its bounds in `pbes2`. What a
//! decrypter allows beyond its keys (PBES2 and its maximum count) comes in as one [`UnwrapPolicy`], checked
//! before any key work. Every unwrap failure that depends on the key or the encrypted key is
//! [`ErrorKind::DecryptionFailed`](crate::ErrorKind::DecryptionFailed), the same as a bad content tag.

use aws_lc_rs::aead;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPrivateDecryptingKey,
};
use serde_json::Value;
use zeroize::Zeroizing;

use super::algorithms::{ContentEncryption, KeyManagement};
use super::content::failed;
use super::ecdh::{self, Party};
use super::header::JweHeader;
use super::key::Material;
use crate::b64;
use crate::error::{Error, ErrorKind, Result};

mod aes_kw;
pub(crate) mod pbes2;

pub(crate) use aes_kw::{aes_key_unwrap, aes_key_wrap};

/// The AES-GCM key wrap's IV length (RFC 7518 §4.7.1.1: 96 bits).
const GCMKW_IV_LEN: usize = 12;

/// Where the randomness of an outgoing JWE comes from.
pub(crate) enum Source<'a> {
    /// Fresh from aws-lc-rs: the content key, and the key wrap's own IV (salt, ephemeral key).
    Random,
    /// A published example reproduced byte for byte: its content key, and the header that holds the key wrap's
    /// IV (salt and count, ephemeral private key). Tests only.
    Fixed {
        header: &'a JweHeader,
        cek: &'a [u8],
    },
    /// A content key chosen by the caller, shared by the recipients of one JWE in JSON serialization; the key
    /// wrap's own randomness is fresh. Algorithms that derive the content key (`dir`, ECDH-ES direct) cannot carry
    /// it: their [`Wrapped::cek`] differs, and the caller refuses them.
    Given(&'a [u8]),
}

/// What the encrypter sets for an outgoing JWE besides its key and `enc`.
#[derive(Debug, Clone)]
pub(crate) struct WrapParams {
    /// The PBES2 iteration count (`p2c`) of a fresh JWE; a reproduced one takes its count from the header.
    pub(crate) pbes2_count: u32,
    /// The ECDH-ES agreement party information (`apu`, `apv`), empty when not given.
    pub(crate) apu: Vec<u8>,
    pub(crate) apv: Vec<u8>,
}

impl Default for WrapParams {
    fn default() -> Self {
        WrapParams {
            pbes2_count: pbes2::PBES2_DEFAULT_COUNT,
            apu: Vec::new(),
            apv: Vec::new(),
        }
    }
}

/// What the decrypter allows beyond its keys, checked before any key work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UnwrapPolicy {
    /// `None`: PBES2 is refused. `Some(max)`: PBES2 with an iteration count from 1000 to `max`.
    pub(crate) pbes2_max_count: Option<u32>,
}

/// What key management gives an outgoing JWE: the content key (chosen, or for `dir` and ECDH-ES, given by the
/// key), the encrypted key segment, and any header parameters (which go into the protected header, so they are
/// authenticated with the content).
pub(crate) struct Wrapped {
    /// The content key chosen or derived; `None` for `dir`, whose content key is the key's own secret (see
    /// [`Wrapped::cek`]) and is not copied.
    pub(crate) cek: Option<Zeroizing<Vec<u8>>>,
    pub(crate) encrypted_key: Vec<u8>,
    pub(crate) header: Vec<(&'static str, Value)>,
}

impl Wrapped {
    /// The content key: the one chosen (or derived) and carried, or for `dir` the secret of `material`, the key
    /// it was wrapped with.
    pub(crate) fn cek<'a>(&'a self, material: &'a Material) -> &'a [u8] {
        match (&self.cek, material) {
            (Some(cek), _) => cek,
            (None, Material::Secret(secret) | Material::DirectGcm(secret, _)) => secret,
            (None, _) => &[],
        }
    }
}

/// Chooses the content key of a JWE for `enc` and carries it under `material` with `alg`. `party` is the agreement
/// party information of ECDH-ES (ignored by the other algorithms).
pub(crate) fn wrap(
    alg: KeyManagement,
    enc: ContentEncryption,
    material: &Material,
    source: &Source<'_>,
    params: &WrapParams,
) -> Result<Wrapped> {
    let party = Party {
        apu: &params.apu,
        apv: &params.apv,
    };
    match material {
        Material::EcdhPublic(public) if alg.is_ecdh() => {
            return ecdh::wrap(alg, enc, public, source, party);
        }
        Material::EcdhPrivate(private) if alg.is_ecdh() => {
            return ecdh::wrap(alg, enc, private.public(), source, party);
        }
        Material::EcdhPublic(_) | Material::EcdhPrivate(_) => return Err(mismatch(alg)),
        _ => {}
    }
    if alg == KeyManagement::Dir {
        // The key is the content key: nothing to draw, copy or carry.
        return match material {
            Material::Secret(_) | Material::DirectGcm(..) => Ok(Wrapped {
                cek: None,
                encrypted_key: Vec::new(),
                header: Vec::new(),
            }),
            _ => Err(mismatch(alg)),
        };
    }
    let cek = match source {
        Source::Random => random(enc.key_len())?,
        Source::Fixed { cek, .. } | Source::Given(cek) => Zeroizing::new(cek.to_vec()),
    };
    let secret: &[u8] = match material {
        Material::Secret(secret) | Material::DirectGcm(secret, _) => secret,
        Material::Password(password) => {
            return pbes2::wrap(alg, password, cek, source, params.pbes2_count);
        }
        Material::RsaPublic(public) | Material::RsaPrivate(_, public) => {
            let mut out = vec![0u8; public.ciphertext_size()];
            let len = public
                .encrypt(oaep(alg)?, &cek, &mut out, None)
                .map_err(|_| Error::new(ErrorKind::Crypto, format!("{alg} encryption failed")))?
                .len();
            out.truncate(len);
            return Ok(Wrapped {
                cek: Some(cek),
                encrypted_key: out,
                header: Vec::new(),
            });
        }
        Material::EcdhPublic(_) | Material::EcdhPrivate(_) => return Err(mismatch(alg)),
    };
    match alg {
        KeyManagement::A128KW | KeyManagement::A192KW | KeyManagement::A256KW => Ok(Wrapped {
            encrypted_key: aes_key_wrap(secret, &cek)?,
            cek: Some(cek),
            header: Vec::new(),
        }),
        KeyManagement::A128GCMKW | KeyManagement::A192GCMKW | KeyManagement::A256GCMKW => {
            let kw_iv = match source {
                Source::Random | Source::Given(_) => random(GCMKW_IV_LEN)?,
                Source::Fixed { header, .. } => Zeroizing::new(header.binary_member("iv")?),
            };
            let key = gcm_kek(secret)?;
            let nonce = aead::Nonce::try_assume_unique_for_key(&kw_iv)
                .map_err(|_| Error::malformed("the AES-GCM key wrap IV must be 12 bytes"))?;
            let mut encrypted_key = cek.to_vec();
            let tag = key
                .seal_in_place_separate_tag(nonce, aead::Aad::empty(), &mut encrypted_key)
                .map_err(|_| Error::new(ErrorKind::Crypto, "AES-GCM key wrap failed"))?;
            Ok(Wrapped {
                cek: Some(cek),
                encrypted_key,
                header: vec![
                    ("iv", Value::String(b64::encode(&kw_iv))),
                    ("tag", Value::String(b64::encode(tag.as_ref()))),
                ],
            })
        }
        _ => Err(mismatch(alg)),
    }
}

pub(crate) fn mismatch(alg: KeyManagement) -> Error {
    Error::invalid_key(format!("the key's material does not fit {alg}"))
}

fn oaep(alg: KeyManagement) -> Result<&'static OaepAlgorithm> {
    Ok(match alg {
        KeyManagement::RsaOaep => &OAEP_SHA1_MGF1SHA1,
        KeyManagement::RsaOaep256 => &OAEP_SHA256_MGF1SHA256,
        KeyManagement::RsaOaep384 => &OAEP_SHA384_MGF1SHA384,
        KeyManagement::RsaOaep512 => &OAEP_SHA512_MGF1SHA512,
        _ => return Err(mismatch(alg)),
    })
}

/// Random bytes from aws-lc-rs, kept out of memory dumps once dropped.
pub(crate) fn random(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::new(ErrorKind::Crypto, "the random generator failed"))?;
    Ok(bytes)
}

/// RSA-OAEP decryption of the CEK. On any failure a random CEK of the right size takes its place (RFC 7516
/// §11.5), so a bad encrypted key fails later, at the content tag, in the same way and about the same time as a
/// bad tag: no oracle on the RSA padding.
pub(crate) fn rsa_oaep_unwrap(
    alg: KeyManagement,
    private: &OaepPrivateDecryptingKey,
    encrypted_key: &[u8],
    cek_len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let substitute = random(cek_len)?;
    match rsa_oaep_decrypt(alg, private, encrypted_key) {
        Ok(cek) if cek.len() == cek_len => Ok(cek),
        _ => Ok(substitute),
    }
}

/// RSA-OAEP decryption without a label; any failure is [`failed`].
pub(crate) fn rsa_oaep_decrypt(
    alg: KeyManagement,
    private: &OaepPrivateDecryptingKey,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; private.min_output_size()]);
    let len = private
        .decrypt(oaep(alg)?, ciphertext, &mut out, None)
        .map_err(|_| failed())?
        .len();
    out.truncate(len);
    Ok(out)
}

/// Recovers the CEK of a JWE whose header names `alg` and `enc`, within what `policy` allows.
/// A content key on the way in: the key itself for `dir` (nothing to copy), or the one a key unwrap recovered.
pub(crate) enum Cek<'m> {
    Key(&'m [u8]),
    Unwrapped(Zeroizing<Vec<u8>>),
}

impl std::ops::Deref for Cek<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Cek::Key(key) => key,
            Cek::Unwrapped(cek) => cek,
        }
    }
}

pub(crate) fn unwrap<'m>(
    alg: KeyManagement,
    material: &'m Material,
    header: &JweHeader,
    encrypted_key: &[u8],
    policy: &UnwrapPolicy,
) -> Result<Cek<'m>> {
    let enc: ContentEncryption = header.enc;
    let secret: &[u8] = match material {
        Material::Secret(secret) | Material::DirectGcm(secret, _) => secret,
        Material::Password(password) => {
            let cek = pbes2::unwrap(alg, password, header, encrypted_key, policy)?;
            // A wrapped key of the wrong size for `enc` is the sender's choice: the same error as a bad tag.
            return if cek.len() == enc.key_len() {
                Ok(Cek::Unwrapped(cek))
            } else {
                Err(failed())
            };
        }
        Material::RsaPrivate(private, _) => {
            return rsa_oaep_unwrap(alg, private, encrypted_key, enc.key_len()).map(Cek::Unwrapped);
        }
        Material::EcdhPrivate(private) if alg.is_ecdh() => {
            return ecdh::unwrap(alg, private, header, encrypted_key).map(Cek::Unwrapped);
        }
        Material::RsaPublic(_) | Material::EcdhPrivate(_) | Material::EcdhPublic(_) => {
            return Err(mismatch(alg));
        }
    };
    let cek = match alg {
        KeyManagement::Dir => {
            // RFC 7516 §5.2 step 10: with direct encryption the encrypted key must be empty.
            if !encrypted_key.is_empty() {
                return Err(Error::malformed(
                    "a JWE with alg \"dir\" must have an empty encrypted key segment",
                ));
            }
            Cek::Key(secret)
        }
        KeyManagement::A128KW | KeyManagement::A192KW | KeyManagement::A256KW => {
            Cek::Unwrapped(aes_key_unwrap(secret, encrypted_key)?)
        }
        KeyManagement::A128GCMKW | KeyManagement::A192GCMKW | KeyManagement::A256GCMKW => {
            let iv = header.binary_member("iv")?;
            let tag = header.binary_member("tag")?;
            if iv.len() != GCMKW_IV_LEN || tag.len() != 16 {
                return Err(Error::malformed(
                    "the AES-GCM key wrap needs a 12-byte \"iv\" and a 16-byte \"tag\" (RFC 7518 §4.7.1)",
                ));
            }
            let key = gcm_kek(secret)?;
            let nonce = aead::Nonce::try_assume_unique_for_key(&iv).map_err(|_| failed())?;
            let mut buffer = Zeroizing::new(Vec::with_capacity(encrypted_key.len() + tag.len()));
            buffer.extend_from_slice(encrypted_key);
            buffer.extend_from_slice(&tag);
            let len = key
                .open_in_place(nonce, aead::Aad::empty(), &mut buffer)
                .map_err(|_| failed())?
                .len();
            buffer.truncate(len);
            Cek::Unwrapped(buffer)
        }
        _ => return Err(mismatch(alg)),
    };
    // A CEK of the wrong size for `enc` (a dir key of another size, or a wrapped key of another size) is refused
    // with the same error as a bad tag: for wrapped keys its size is the sender's choice.
    if cek.len() != enc.key_len() {
        return Err(if alg == KeyManagement::Dir {
            Error::invalid_key(format!(
                "the direct key is {} bytes; {enc} needs {}",
                cek.len(),
                enc.key_len()
            ))
        } else {
            failed()
        });
    }
    Ok(cek)
}

fn gcm_kek(secret: &[u8]) -> Result<aead::LessSafeKey> {
    let alg = match secret.len() {
        16 => &aead::AES_128_GCM,
        24 => &aead::AES_192_GCM,
        32 => &aead::AES_256_GCM,
        n => {
            return Err(Error::invalid_key(format!(
                "an AES-GCM key wrap key is 16, 24 or 32 bytes, not {n}"
            )));
        }
    };
    let key = aead::UnboundKey::new(alg, secret)
        .map_err(|_| Error::invalid_key("AES-GCM rejected the key"))?;
    Ok(aead::LessSafeKey::new(key))
}
