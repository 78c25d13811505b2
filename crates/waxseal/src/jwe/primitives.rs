//! The primitives beneath JWE, exposed only so the conformance tests (Wycheproof) can reach them through the same
//! wrappers — and the same length checks — the JWE code uses. Not a stable API.

use zeroize::Zeroizing;

use super::algorithms::{ContentEncryption, KeyManagement};
use super::ecdh::{EcdhCurve, EcdhPrivate, EcdhPublic, read_epk};
use super::key::{DecryptionKey, Material};
use super::{content, key_management};
use crate::error::{Error, Result};

fn gcm(key: &[u8]) -> Result<ContentEncryption> {
    match key.len() {
        16 => Ok(ContentEncryption::A128Gcm),
        24 => Ok(ContentEncryption::A192Gcm),
        32 => Ok(ContentEncryption::A256Gcm),
        n => Err(Error::invalid_key(format!("no AES-GCM key is {n} bytes"))),
    }
}

/// AES-GCM as JWE uses it (96-bit IV, 128-bit tag): ciphertext and tag.
pub fn aes_gcm_seal(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let sealed = content::encrypt(gcm(key)?, key, None, iv, aad, plaintext)?;
    Ok((sealed.ciphertext, sealed.tag))
}

/// AES-GCM decryption as JWE uses it.
pub fn aes_gcm_open(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    content::decrypt(gcm(key)?, key, None, iv, aad, ciphertext, tag).map(Zeroizing::new)
}

/// AES-CBC with PKCS#7 padding (the cipher half of A*CBC-HS*).
pub fn aes_cbc_pkcs7_encrypt(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    content::cbc_encrypt(key, iv, plaintext)
}

/// AES-CBC decryption with PKCS#7 unpadding (unauthenticated: JWE only calls it after the tag verified).
pub fn aes_cbc_pkcs7_decrypt(
    key: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    content::cbc_decrypt(key, iv, ciphertext).map(Zeroizing::new)
}

/// RFC 3394 AES key wrap (A128KW, A192KW, A256KW).
pub fn aes_key_wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    key_management::aes_key_wrap(kek, key)
}

/// RFC 3394 AES key unwrap.
pub fn aes_key_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    key_management::aes_key_unwrap(kek, wrapped)
}

/// RSA-OAEP decryption (no label, as JOSE uses it) with an RSA-OAEP decryption key, reporting failure instead of
/// substituting a random content key as the JWE path does.
pub fn rsa_oaep_decrypt(key: &DecryptionKey, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    match key.material() {
        Material::RsaPrivate(private, _) => {
            key_management::rsa_oaep_decrypt(key.algorithm(), private, ciphertext)
        }
        Material::Secret(_)
        | Material::DirectGcm(..)
        | Material::Password(_)
        | Material::RsaPublic(_)
        | Material::EcdhPrivate(_)
        | Material::EcdhPublic(_) => Err(Error::invalid_key("not an RSA-OAEP decryption key")),
    }
}

/// PBKDF2 as PBES2 uses it: `alg`'s PRF (HMAC-SHA-256/384/512) and key wrap key length (16/24/32 bytes), over
/// `salt` as given (JWE forms it as `UTF8(alg) || 0x00 || p2s` before calling this same function), with no bound
/// on `count` beyond being positive: the bounds are the decrypter's.
pub fn pbes2_derive_key(
    alg: KeyManagement,
    password: &[u8],
    salt: &[u8],
    count: u32,
) -> Result<Zeroizing<Vec<u8>>> {
    key_management::pbes2::derive(alg, password, salt, count)
}

/// ECDH as JWE does it, with the private key of curve `crv` (a JWK `crv` name: P-256, P-384, P-521, X25519) as raw
/// bytes and the peer's public key as an uncompressed point `04 ‖ x ‖ y` (or the 32-byte X25519 u-coordinate):
/// the shared secret. Any other encoding, a point not on the curve and an all-zero X25519 result are refused with
/// [`ErrorKind::DecryptionFailed`](crate::ErrorKind::DecryptionFailed).
pub fn ecdh(crv: &str, private: &[u8], public: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let curve = EcdhCurve::from_name(crv)?;
    let private = EcdhPrivate::from_raw(curve, private)?;
    let peer = EcdhPublic::from_bytes(curve, public).ok_or_else(content::failed)?;
    private.agree(&peer)
}

/// ECDH with the peer's public key given as a JWE `epk` (JSON text), read by the same strict reader decryption
/// uses.
pub fn ecdh_with_epk(crv: &str, private: &[u8], epk: &str) -> Result<Zeroizing<Vec<u8>>> {
    let curve = EcdhCurve::from_name(crv)?;
    let private = EcdhPrivate::from_raw(curve, private)?;
    let epk: serde_json::Value =
        serde_json::from_str(epk).map_err(|e| Error::malformed(format!("epk is not JSON: {e}")))?;
    private.agree(&read_epk(Some(&epk), curve)?)
}
