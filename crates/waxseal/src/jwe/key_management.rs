//! Key management (RFC 7518 §4): how the content encryption key (CEK) is carried to the recipient.
//!
//! Each algorithm is one pair of functions, [`wrap`] on the way out and [`unwrap`] on the way in, over the key's
//! material; asymmetric algorithms (RSA-OAEP, ECDH-ES) will add their material and arms here without touching the
//! serialization. Every unwrap failure that depends on the key or the encrypted key is
//! [`ErrorKind::DecryptionFailed`](crate::ErrorKind::DecryptionFailed), the same as a bad content tag.

use aws_lc_rs::aead;
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap as _};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPrivateDecryptingKey,
};
use serde_json::Value;
use zeroize::Zeroizing;

use super::algorithms::{ContentEncryption, KeyManagement};
use super::content::failed;
use super::header::JweHeader;
use super::key::Material;
use crate::b64;
use crate::error::{Error, ErrorKind, Result};

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

/// What key management gives an outgoing JWE: the content key (chosen, or for `dir` and ECDH-ES, given by the
/// key), the encrypted key segment, and any header parameters (which go into the protected header, so they are
/// authenticated with the content).
pub(crate) struct Wrapped {
    pub(crate) cek: Zeroizing<Vec<u8>>,
    pub(crate) encrypted_key: Vec<u8>,
    pub(crate) header: Vec<(&'static str, Value)>,
}

/// Chooses the content key of a JWE for `enc` and carries it under `material` with `alg`.
pub(crate) fn wrap(
    alg: KeyManagement,
    enc: ContentEncryption,
    material: &Material,
    source: &Source<'_>,
) -> Result<Wrapped> {
    let cek = match source {
        Source::Random => random(enc.key_len())?,
        Source::Fixed { cek, .. } | Source::Given(cek) => Zeroizing::new(cek.to_vec()),
    };
    let secret: &[u8] = match material {
        Material::Secret(secret) => secret,
        Material::RsaPublic(public) | Material::RsaPrivate(_, public) => {
            let mut out = vec![0u8; public.ciphertext_size()];
            let len = public
                .encrypt(oaep(alg)?, &cek, &mut out, None)
                .map_err(|_| Error::new(ErrorKind::Crypto, format!("{alg} encryption failed")))?
                .len();
            out.truncate(len);
            return Ok(Wrapped {
                cek,
                encrypted_key: out,
                header: Vec::new(),
            });
        }
    };
    match alg {
        KeyManagement::Dir => Ok(Wrapped {
            cek: Zeroizing::new(secret.to_vec()),
            encrypted_key: Vec::new(),
            header: Vec::new(),
        }),
        KeyManagement::A128KW | KeyManagement::A256KW => Ok(Wrapped {
            encrypted_key: aes_key_wrap(secret, &cek)?,
            cek,
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
                cek,
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

fn mismatch(alg: KeyManagement) -> Error {
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

/// Recovers the CEK of a JWE whose header names `alg` and `enc`.
pub(crate) fn unwrap(
    alg: KeyManagement,
    material: &Material,
    header: &JweHeader,
    encrypted_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let enc: ContentEncryption = header.enc;
    let secret: &[u8] = match material {
        Material::Secret(secret) => secret,
        Material::RsaPrivate(private, _) => {
            return rsa_oaep_unwrap(alg, private, encrypted_key, enc.key_len());
        }
        Material::RsaPublic(_) => return Err(mismatch(alg)),
    };
    let cek = match alg {
        KeyManagement::Dir => {
            // RFC 7516 §5.2 step 10: with direct encryption the encrypted key must be empty.
            if !encrypted_key.is_empty() {
                return Err(Error::malformed(
                    "a JWE with alg \"dir\" must have an empty encrypted key segment",
                ));
            }
            Zeroizing::new(secret.to_vec())
        }
        KeyManagement::A128KW | KeyManagement::A256KW => aes_key_unwrap(secret, encrypted_key)?,
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
            buffer
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

fn kek(secret: &[u8]) -> Result<AesKek> {
    let cipher = match secret.len() {
        16 => &AES_128,
        32 => &AES_256,
        n => {
            return Err(Error::invalid_key(format!(
                "an AES key wrap key is 16 or 32 bytes (AES-192 key wrap is not available), not {n}"
            )));
        }
    };
    AesKek::new(cipher, secret).map_err(|_| Error::invalid_key("AES key wrap rejected the key"))
}

/// RFC 3394 AES key wrap of `key` (a multiple of 8 bytes, at least 16) under `kek`.
pub(crate) fn aes_key_wrap(kek_bytes: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    if key.len() < 16 || key.len() % 8 != 0 {
        return Err(Error::invalid_key(
            "AES key wrap wraps keys of 16 bytes or more, in multiples of 8",
        ));
    }
    let mut out = vec![0u8; key.len() + 8];
    let len = kek(kek_bytes)?
        .wrap(key, &mut out)
        .map_err(|_| Error::new(ErrorKind::Crypto, "AES key wrap failed"))?
        .len();
    out.truncate(len);
    Ok(out)
}

/// RFC 3394 AES key unwrap; any failure (length, integrity check) is [`failed`].
pub(crate) fn aes_key_unwrap(kek_bytes: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let kek = kek(kek_bytes)?;
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
        return Err(failed());
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    let len = kek.unwrap(wrapped, &mut out).map_err(|_| failed())?.len();
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3394_section_4_1() {
        // RFC 3394 §4.1: 128 bits of key data wrapped with a 128-bit KEK.
        let kek: Vec<u8> = (0u8..16).collect();
        let data = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD,
            0xEE, 0xFF,
        ];
        let wrapped = aes_key_wrap(&kek, &data).unwrap();
        assert_eq!(
            b64::encode(&wrapped),
            b64::encode([
                0x1F, 0xA6, 0x8B, 0x0A, 0x81, 0x12, 0xB4, 0x47, 0xAE, 0xF3, 0x4B, 0xD8, 0xFB, 0x5A,
                0x7B, 0x82, 0x9D, 0x3E, 0x86, 0x23, 0x71, 0xD2, 0xCF, 0xE5
            ])
        );
        assert_eq!(aes_key_unwrap(&kek, &wrapped).unwrap().as_slice(), data);
        let mut tampered = wrapped.clone();
        tampered[5] ^= 1;
        assert_eq!(aes_key_unwrap(&kek, &tampered).unwrap_err(), failed());
        assert_eq!(aes_key_unwrap(&kek, &wrapped[..16]).unwrap_err(), failed());
    }

    #[test]
    fn aes_192_key_wrap_is_refused_not_improvised() {
        assert_eq!(
            aes_key_wrap(&[0; 24], &[0; 16]).unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
    }
}
