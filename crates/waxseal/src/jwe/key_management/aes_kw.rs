//! AES key wrap (RFC 3394) with 128-, 192- and 256-bit keys: `A128KW`, `A192KW`, `A256KW`, and the key wrap step
//! of PBES2 and ECDH-ES+A*KW.
//!
//! aws-lc-rs wraps with AES-128 and AES-256 and is used for them. It has no AES-192 key wrap, but it has the
//! AES-192 block cipher, so for 24-byte keys waxseal runs the RFC 3394 *mode* itself (§2.2.1 and §2.2.2: six
//! passes over the 64-bit blocks, each one AES call) over that block cipher. The mode is a dozen lines, has no
//! secret-dependent branch, and its integrity check is compared in constant time; the tests below hold it to the
//! RFC's §4 examples, to Wycheproof's 192-bit groups, and to aws-lc-rs itself for the other two key sizes.

use aws_lc_rs::cipher::{self, DecryptingKey, DecryptionContext, EncryptingKey, UnboundCipherKey};
use aws_lc_rs::key_wrap::{self, AesKek, KeyWrap as _};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::jwe::content::failed;

/// The RFC 3394 §2.2.3.1 default initial value, the integrity check of every unwrap.
const DEFAULT_IV: [u8; 8] = [0xA6; 8];

/// The key wrap of aws-lc-rs for 16- and 32-byte KEKs; `None` for 24 bytes, which the mode below handles.
fn library_kek(kek: &[u8]) -> Result<Option<AesKek>> {
    let cipher = match kek.len() {
        16 => &key_wrap::AES_128,
        24 => return Ok(None),
        32 => &key_wrap::AES_256,
        n => {
            return Err(Error::invalid_key(format!(
                "an AES key wrap key is 16, 24 or 32 bytes, not {n}"
            )));
        }
    };
    AesKek::new(cipher, kek)
        .map(Some)
        .map_err(|_| Error::invalid_key("AES key wrap rejected the key"))
}

/// RFC 3394 AES key wrap of `key` (a multiple of 8 bytes, at least 16) under `kek` (16, 24 or 32 bytes).
pub(crate) fn aes_key_wrap(kek_bytes: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    if key.len() < 16 || key.len() % 8 != 0 {
        return Err(Error::invalid_key(
            "AES key wrap wraps keys of 16 bytes or more, in multiples of 8",
        ));
    }
    let Some(kek) = library_kek(kek_bytes)? else {
        return mode_wrap(kek_bytes, key);
    };
    let mut out = vec![0u8; key.len() + 8];
    let len = kek
        .wrap(key, &mut out)
        .map_err(|_| Error::new(ErrorKind::Crypto, "AES key wrap failed"))?
        .len();
    out.truncate(len);
    Ok(out)
}

/// RFC 3394 AES key unwrap; any failure (length, integrity check) is [`failed`].
pub(crate) fn aes_key_unwrap(kek_bytes: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let kek = library_kek(kek_bytes)?;
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
        return Err(failed());
    }
    let Some(kek) = kek else {
        return mode_unwrap(kek_bytes, wrapped);
    };
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    let len = kek.unwrap(wrapped, &mut out).map_err(|_| failed())?.len();
    out.truncate(len);
    Ok(out)
}

fn block_cipher(kek: &[u8]) -> Result<UnboundCipherKey> {
    let aes = match kek.len() {
        16 => &cipher::AES_128,
        24 => &cipher::AES_192,
        32 => &cipher::AES_256,
        n => {
            return Err(Error::invalid_key(format!(
                "an AES key wrap key is 16, 24 or 32 bytes, not {n}"
            )));
        }
    };
    UnboundCipherKey::new(aes, kek).map_err(|_| Error::invalid_key("AES rejected the key"))
}

fn block(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(bytes);
    out
}

/// `t = n·j + i`, the step counter XORed into `A` (RFC 3394 §2.2.1).
fn step(n: usize, j: usize, i: usize) -> [u8; 8] {
    u64::try_from(n * j + i).unwrap_or(u64::MAX).to_be_bytes()
}

fn xor(a: [u8; 8], b: [u8; 8]) -> [u8; 8] {
    std::array::from_fn(|k| a[k] ^ b[k])
}

/// The wrapping process of RFC 3394 §2.2.1 over one AES block cipher (any key size). The caller checked that
/// `key` is at least two 64-bit blocks.
fn mode_wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    let aes = EncryptingKey::ecb(block_cipher(kek)?)
        .map_err(|_| Error::invalid_key("AES rejected the key"))?;
    let mut a = DEFAULT_IV;
    let mut r: Zeroizing<Vec<[u8; 8]>> = Zeroizing::new(key.chunks_exact(8).map(block).collect());
    let n = r.len();
    let mut b = Zeroizing::new([0u8; 16]);
    for j in 0..6 {
        for i in 1..=n {
            b[..8].copy_from_slice(&a);
            b[8..].copy_from_slice(&r[i - 1]);
            aes.encrypt(&mut b[..])
                .map_err(|_| Error::new(ErrorKind::Crypto, "AES failed"))?;
            a = xor(block(&b[..8]), step(n, j, i));
            r[i - 1] = block(&b[8..]);
        }
    }
    let mut out = Vec::with_capacity(8 * (n + 1));
    out.extend_from_slice(&a);
    for r_i in r.iter() {
        out.extend_from_slice(r_i);
    }
    Ok(out)
}

/// The unwrapping process of RFC 3394 §2.2.2, with the integrity check of §2.2.3 compared in constant time.
/// The caller checked that `wrapped` is at least three 64-bit blocks.
fn mode_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let aes = DecryptingKey::ecb(block_cipher(kek)?)
        .map_err(|_| Error::invalid_key("AES rejected the key"))?;
    let mut a = block(&wrapped[..8]);
    let mut r: Zeroizing<Vec<[u8; 8]>> =
        Zeroizing::new(wrapped[8..].chunks_exact(8).map(block).collect());
    let n = r.len();
    let mut b = Zeroizing::new([0u8; 16]);
    for j in (0..6).rev() {
        for i in (1..=n).rev() {
            b[..8].copy_from_slice(&xor(a, step(n, j, i)));
            b[8..].copy_from_slice(&r[i - 1]);
            aes.decrypt(&mut b[..], DecryptionContext::None)
                .map_err(|_| failed())?;
            a = block(&b[..8]);
            r[i - 1] = block(&b[8..]);
        }
    }
    if !bool::from(a.ct_eq(&DEFAULT_IV)) {
        return Err(failed());
    }
    let mut out = Zeroizing::new(Vec::with_capacity(8 * n));
    for r_i in r.iter() {
        out.extend_from_slice(r_i);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3394 §4.1–§4.6: every KEK size wrapping every key size it can.
    const RFC3394: [(&str, &str, &str); 6] = [
        (
            "000102030405060708090A0B0C0D0E0F",
            "00112233445566778899AABBCCDDEEFF",
            "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5",
        ),
        (
            "000102030405060708090A0B0C0D0E0F1011121314151617",
            "00112233445566778899AABBCCDDEEFF",
            "96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D",
        ),
        (
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF",
            "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7",
        ),
        (
            "000102030405060708090A0B0C0D0E0F1011121314151617",
            "00112233445566778899AABBCCDDEEFF0001020304050607",
            "031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2",
        ),
        (
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF0001020304050607",
            "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1",
        ),
        (
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
            "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21",
        ),
    ];

    #[test]
    fn rfc3394_section_4_through_the_mode_and_through_the_jwe_wrapper() {
        for (kek, data, wrapped) in RFC3394 {
            let (kek, data, wrapped) = (hex(kek), hex(data), hex(wrapped));
            assert_eq!(
                mode_wrap(&kek, &data).unwrap(),
                wrapped,
                "{} bits",
                kek.len() * 8
            );
            assert_eq!(mode_unwrap(&kek, &wrapped).unwrap().as_slice(), data);
            assert_eq!(aes_key_wrap(&kek, &data).unwrap(), wrapped);
            assert_eq!(aes_key_unwrap(&kek, &wrapped).unwrap().as_slice(), data);
            for at in [0, 7, 8, wrapped.len() - 1] {
                let mut tampered = wrapped.clone();
                tampered[at] ^= 0x80;
                assert_eq!(aes_key_unwrap(&kek, &tampered).unwrap_err(), failed());
                assert_eq!(mode_unwrap(&kek, &tampered).unwrap_err(), failed());
            }
            assert_eq!(aes_key_unwrap(&kek, &wrapped[..16]).unwrap_err(), failed());
            assert_eq!(
                aes_key_unwrap(&kek, &wrapped[..wrapped.len() - 1]).unwrap_err(),
                failed()
            );
        }
    }

    /// The mode against aws-lc-rs's own key wrap, for the key sizes it has: random KEKs and keys of 2 to 8
    /// blocks, both directions.
    #[test]
    fn the_mode_agrees_with_aws_lc_rs_for_128_and_256_bit_keks() {
        let random = |len: usize| {
            let mut bytes = vec![0u8; len];
            aws_lc_rs::rand::fill(&mut bytes).unwrap();
            bytes
        };
        for _ in 0..50 {
            for kek_len in [16, 32] {
                for blocks in 2..=8 {
                    let (kek, key) = (random(kek_len), random(8 * blocks));
                    let library = aes_key_wrap(&kek, &key).unwrap();
                    assert_eq!(mode_wrap(&kek, &key).unwrap(), library);
                    assert_eq!(mode_unwrap(&kek, &library).unwrap().as_slice(), key);
                }
            }
        }
        // And the 192-bit mode is its own inverse, with a wrong KEK failing the integrity check.
        for blocks in 2..=8 {
            let (kek, key) = (random(24), random(8 * blocks));
            let wrapped = aes_key_wrap(&kek, &key).unwrap();
            assert_eq!(aes_key_unwrap(&kek, &wrapped).unwrap().as_slice(), key);
            assert_eq!(aes_key_unwrap(&random(24), &wrapped).unwrap_err(), failed());
        }
    }

    #[test]
    fn other_kek_sizes_and_short_keys_are_refused() {
        for len in [0, 8, 20, 40] {
            assert_eq!(
                aes_key_wrap(&vec![0; len], &[0; 16]).unwrap_err().kind(),
                ErrorKind::InvalidKey
            );
        }
        assert_eq!(
            aes_key_wrap(&[0; 24], &[0; 8]).unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            aes_key_wrap(&[0; 24], &[0; 20]).unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
    }
}
