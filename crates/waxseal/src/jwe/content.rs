//! Content encryption (RFC 7518 §5): AES-GCM and AES-CBC with HMAC-SHA-2, all through aws-lc-rs.
//!
//! Every failure on the way in — a tag of the wrong length, a tag that does not match, a ciphertext that is not a
//! whole number of blocks, bad padding — is the one [`ErrorKind::DecryptionFailed`]: telling them apart would hand
//! an attacker a padding oracle. For CBC-HMAC the tag is checked, in constant time, before a single block is
//! decrypted, so padding is only ever examined on ciphertext the key holder made.

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::{aead, hmac};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroize as _;

use super::algorithms::ContentEncryption;
use crate::error::{Error, ErrorKind, Result};

/// The one error of a failed decryption; the message says nothing about which check failed.
pub(crate) fn failed() -> Error {
    Error::new(
        ErrorKind::DecryptionFailed,
        "the JWE could not be decrypted: wrong key, or the token was altered",
    )
}

fn crypto(what: &str) -> Error {
    Error::new(ErrorKind::Crypto, format!("{what} failed"))
}

/// Ciphertext and authentication tag.
#[derive(Debug)]
pub(crate) struct Sealed {
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) tag: Vec<u8>,
}

fn check_key_and_iv(enc: ContentEncryption, cek: &[u8], iv: &[u8]) -> Result<()> {
    if cek.len() != enc.key_len() {
        return Err(Error::invalid_key(format!(
            "{enc} needs a {}-byte content key, not {} bytes",
            enc.key_len(),
            cek.len()
        )));
    }
    if iv.len() != enc.iv_len() {
        return Err(Error::malformed(format!(
            "{enc} needs a {}-byte IV, not {} bytes",
            enc.iv_len(),
            iv.len()
        )));
    }
    Ok(())
}

/// Encrypts `plaintext` under `cek` with `iv`, authenticating `aad`. Key and IV lengths are checked. `schedule` is
/// `cek`'s AES-GCM key schedule when the key holds one already (a `dir` key), else it is built here.
pub(crate) fn encrypt(
    enc: ContentEncryption,
    cek: &[u8],
    schedule: Option<&aead::LessSafeKey>,
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed> {
    check_key_and_iv(enc, cek, iv)?;
    if enc.is_gcm() {
        let built;
        let key = match schedule {
            Some(key) => key,
            None => {
                built = gcm_key(enc, cek)?;
                &built
            }
        };
        let nonce = aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| crypto("AES-GCM"))?;
        let mut ciphertext = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut ciphertext)
            .map_err(|_| crypto("AES-GCM encryption"))?;
        Ok(Sealed {
            ciphertext,
            tag: tag.as_ref().to_vec(),
        })
    } else {
        let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
        let ciphertext = cbc_encrypt(enc_key, iv, plaintext)?;
        let tag = cbc_hmac_tag(enc, mac_key, aad, iv, &ciphertext);
        Ok(Sealed { ciphertext, tag })
    }
}

/// Decrypts and authenticates. Any failure that could depend on the key or the token is [`failed`].
pub(crate) fn decrypt(
    enc: ContentEncryption,
    cek: &[u8],
    schedule: Option<&aead::LessSafeKey>,
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>> {
    // A wrong-size content key can come out of a key unwrap with an attacker-chosen encrypted key: the same error.
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
        return Err(failed());
    }
    if enc.is_gcm() {
        let built;
        let key = match schedule {
            Some(key) => key,
            None => {
                built = gcm_key(enc, cek).map_err(|_| failed())?;
                &built
            }
        };
        let nonce = aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| failed())?;
        let mut buffer = Vec::with_capacity(ciphertext.len() + tag.len());
        buffer.extend_from_slice(ciphertext);
        buffer.extend_from_slice(tag);
        open_or_wipe(buffer, |buffer| {
            key.open_in_place(nonce, aead::Aad::from(aad), buffer)
                .map(|plaintext| plaintext.len())
                .map_err(|_| failed())
        })
    } else {
        let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
        let expected = cbc_hmac_tag(enc, mac_key, aad, iv, ciphertext);
        if !bool::from(expected.ct_eq(tag)) {
            return Err(failed());
        }
        cbc_decrypt(enc_key, iv, ciphertext).map_err(|_| failed())
    }
}

pub(crate) fn gcm_key(enc: ContentEncryption, cek: &[u8]) -> Result<aead::LessSafeKey> {
    let alg = match enc {
        ContentEncryption::A128Gcm => &aead::AES_128_GCM,
        ContentEncryption::A192Gcm => &aead::AES_192_GCM,
        _ => &aead::AES_256_GCM,
    };
    let key = aead::UnboundKey::new(alg, cek)
        .map_err(|_| Error::invalid_key(format!("{enc} rejected the content key")))?;
    Ok(aead::LessSafeKey::new(key))
}

/// RFC 7518 §5.2.2.1: HMAC over AAD ‖ IV ‖ ciphertext ‖ AL (the AAD length in bits, 64-bit big-endian), truncated
/// to the first half.
fn cbc_hmac_tag(
    enc: ContentEncryption,
    mac_key: &[u8],
    aad: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
) -> Vec<u8> {
    let alg = match enc {
        ContentEncryption::A192CbcHs384 => hmac::HMAC_SHA384,
        ContentEncryption::A256CbcHs512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    };
    let key = hmac::Key::new(alg, mac_key);
    let mut context = hmac::Context::with_key(&key);
    context.update(aad);
    context.update(iv);
    context.update(ciphertext);
    // A JWE's AAD is bounded by the token size limit, far below 2^61 bytes; saturate rather than wrap regardless.
    let bits = u64::try_from(aad.len())
        .unwrap_or(u64::MAX)
        .saturating_mul(8);
    context.update(&bits.to_be_bytes());
    let mut tag = context.sign().as_ref().to_vec();
    tag.truncate(enc.tag_len());
    tag
}

fn aes_cipher(key: &[u8]) -> Result<UnboundCipherKey> {
    let alg = match key.len() {
        16 => &AES_128,
        24 => &AES_192,
        32 => &AES_256,
        n => {
            return Err(Error::invalid_key(format!(
                "an AES key is 16, 24 or 32 bytes, not {n}"
            )));
        }
    };
    UnboundCipherKey::new(alg, key).map_err(|_| Error::invalid_key("AES rejected the key"))
}

fn iv16(iv: &[u8]) -> Result<FixedLength<16>> {
    FixedLength::<16>::try_from(iv).map_err(|_| Error::malformed("AES-CBC needs a 16-byte IV"))
}

/// AES-CBC with PKCS#7 padding: the cipher half of CBC-HMAC, on its own only for conformance tests.
pub(crate) fn cbc_encrypt(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let key = PaddedBlockEncryptingKey::cbc_pkcs7(aes_cipher(key)?)
        .map_err(|_| crypto("AES-CBC key setup"))?;
    let mut buffer = plaintext.to_vec();
    key.less_safe_encrypt(&mut buffer, EncryptionContext::Iv128(iv16(iv)?))
        .map_err(|_| crypto("AES-CBC encryption"))?;
    Ok(buffer)
}

/// AES-CBC decryption and PKCS#7 unpadding. Unauthenticated: only ever called after the tag verified (or by the
/// conformance tests).
pub(crate) fn cbc_decrypt(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>> {
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(aes_cipher(key)?)
        .map_err(|_| crypto("AES-CBC key setup"))?;
    let context = DecryptionContext::Iv128(iv16(iv)?);
    open_or_wipe(ciphertext.to_vec(), |buffer| {
        key.decrypt(buffer, context)
            .map(|plaintext| plaintext.len())
            .map_err(|_| failed())
    })
}

/// Decrypts in `buffer` with `open` (which gives the plaintext's length): the buffer is handed over, cut to the
/// plaintext, when it succeeds, and wiped when it fails, since it may then hold part of a plaintext. Not a
/// `Zeroizing` buffer: that would wipe again the empty vector a hand-over leaves, a `memset` call per token that
/// cost a tenth of a `dir` decryption's time.
fn open_or_wipe(
    mut buffer: Vec<u8>,
    open: impl FnOnce(&mut Vec<u8>) -> Result<usize>,
) -> Result<Vec<u8>> {
    match open(&mut buffer) {
        Ok(len) => {
            buffer.truncate(len);
            Ok(buffer)
        }
        Err(e) => {
            buffer.zeroize();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ContentEncryption; 6] = ContentEncryption::ALL;

    fn sealed(enc: ContentEncryption) -> (Vec<u8>, Vec<u8>, Sealed) {
        let cek: Vec<u8> = (0..enc.key_len()).map(|i| i as u8).collect();
        let iv = vec![7u8; enc.iv_len()];
        let sealed = encrypt(enc, &cek, None, &iv, b"aad", b"the content").unwrap();
        (cek, iv, sealed)
    }

    #[test]
    fn round_trip_every_algorithm() {
        for enc in ALL {
            let (cek, iv, s) = sealed(enc);
            assert_eq!(s.tag.len(), enc.tag_len());
            let plain = decrypt(enc, &cek, None, &iv, b"aad", &s.ciphertext, &s.tag).unwrap();
            assert_eq!(plain.as_slice(), b"the content", "{enc}");
        }
    }

    #[test]
    fn truncated_tag_flipped_tag_flipped_ciphertext_and_other_aad_fail_alike() {
        for enc in ALL {
            let (cek, iv, s) = sealed(enc);
            let mut flipped_tag = s.tag.clone();
            flipped_tag[0] ^= 1;
            let mut flipped_ct = s.ciphertext.clone();
            flipped_ct[0] ^= 0x80;
            let cases: [(&[u8], &[u8], &[u8]); 5] = [
                (b"aad", &s.ciphertext, &s.tag[..s.tag.len() - 1]),
                (b"aad", &s.ciphertext, &flipped_tag),
                (b"aad", &flipped_ct, &s.tag),
                (b"aaD", &s.ciphertext, &s.tag),
                (b"aad", &s.ciphertext[..s.ciphertext.len() - 1], &s.tag),
            ];
            for (aad, ct, tag) in cases {
                let err = decrypt(enc, &cek, None, &iv, aad, ct, tag).unwrap_err();
                assert_eq!(err, failed(), "{enc}");
            }
        }
    }

    #[test]
    fn cbc_bad_padding_and_bad_tag_give_the_same_error() {
        let enc = ContentEncryption::A128CbcHs256;
        let cek = [9u8; 32];
        let iv = [1u8; 16];
        let (mac_key, enc_key) = cek.split_at(16);
        // A block whose decryption ends in 0x00, which is never valid PKCS#7 padding, with a correct tag over it.
        let mut bad_padding = cbc_encrypt(enc_key, &iv, &[0u8; 16]).unwrap();
        bad_padding.truncate(16);
        assert!(cbc_decrypt(enc_key, &iv, &bad_padding).is_err());
        let tag = cbc_hmac_tag(enc, mac_key, b"", &iv, &bad_padding);
        let padding_error = decrypt(enc, &cek, None, &iv, b"", &bad_padding, &tag).unwrap_err();
        let mut wrong_tag = tag.clone();
        wrong_tag[3] ^= 4;
        let tag_error = decrypt(enc, &cek, None, &iv, b"", &bad_padding, &wrong_tag).unwrap_err();
        assert_eq!(padding_error, tag_error);
        assert_eq!(padding_error.kind(), ErrorKind::DecryptionFailed);
    }

    #[test]
    fn key_and_iv_lengths_are_checked() {
        for enc in ALL {
            let iv = vec![0u8; enc.iv_len()];
            let short = vec![0u8; enc.key_len() - 1];
            assert_eq!(
                encrypt(enc, &short, None, &iv, b"", b"x")
                    .unwrap_err()
                    .kind(),
                ErrorKind::InvalidKey
            );
            let cek = vec![0u8; enc.key_len()];
            assert!(encrypt(enc, &cek, None, &iv[1..], b"", b"x").is_err());
            assert_eq!(
                decrypt(enc, &short, None, &iv, b"", b"x", &[0; 16]).unwrap_err(),
                failed()
            );
        }
    }
}
