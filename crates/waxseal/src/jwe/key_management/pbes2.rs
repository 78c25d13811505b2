//! PBES2 (RFC 7518 §4.8): a content key wrapped under a key derived from a password with PBKDF2.
//!
//! The iteration count `p2c` is chosen by whoever made the token, and each iteration is work for whoever opens
//! it: a header saying `"p2c": 1000000000` is a request for minutes of CPU (CVE-2022-36083 in panva/jose,
//! CVE-2023-49290 in lestrrat-go/jwx). So a decrypter accepts PBES2 only when its caller enabled it with a maximum
//! count, and the count and the salt are read and checked before any derivation starts.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use serde_json::Value;
use zeroize::Zeroizing;

use super::aes_kw::{aes_key_unwrap, aes_key_wrap};
use super::{Source, UnwrapPolicy, Wrapped, random};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::jwe::algorithms::KeyManagement;
use crate::jwe::header::JweHeader;

/// The smallest iteration count accepted, on the way in and out (RFC 7518 §4.8.1.2 recommends at least 1000).
pub const PBES2_MIN_COUNT: u32 = 1000;

/// The iteration count of the PBES2 tokens an [`Encrypter`](crate::jwe::Encrypter) makes unless told otherwise,
/// and the maximum to start from when enabling PBES2 on a [`Decrypter`](crate::jwe::Decrypter).
///
/// Why 10,000 and not OWASP's 600,000 for PBKDF2-HMAC-SHA-256: OWASP's figure is for stored password hashes,
/// which a server computes once per login. Here every recipient pays the count on every token, and a recipient
/// must bound the count it accepts or any sender can make it spin (CVE-2022-36083). 10,000 is panva/jose's
/// default bound, so waxseal's tokens open in waxseal and jose with their defaults, and a count above the
/// recipients' bound makes a token nobody opens. Against an offline attack on the password, no count makes a
/// weak password strong: PBES2 is for passwords with the entropy of a key; for machine keys use `A*KW` directly.
pub const PBES2_DEFAULT_COUNT: u32 = 10_000;

/// The length of the salt input `p2s` waxseal generates (RFC 7518 §4.8.1.1 asks for at least 8 bytes).
const SALT_LEN: usize = 16;
const MIN_SALT_LEN: usize = 8;

/// The PRF and the length of the AES key wrap key of a PBES2 algorithm.
fn parameters(alg: KeyManagement) -> Result<(pbkdf2::Algorithm, usize)> {
    Ok(match alg {
        KeyManagement::Pbes2Hs256A128KW => (pbkdf2::PBKDF2_HMAC_SHA256, 16),
        KeyManagement::Pbes2Hs384A192KW => (pbkdf2::PBKDF2_HMAC_SHA384, 24),
        KeyManagement::Pbes2Hs512A256KW => (pbkdf2::PBKDF2_HMAC_SHA512, 32),
        _ => return Err(super::mismatch(alg)),
    })
}

/// PBKDF2 with `alg`'s PRF and output length over `salt` (the whole PBKDF2 salt, already formed) — the one
/// derivation of both directions, and the one the Wycheproof tests call.
pub(crate) fn derive(
    alg: KeyManagement,
    password: &[u8],
    salt: &[u8],
    count: u32,
) -> Result<Zeroizing<Vec<u8>>> {
    let (prf, len) = parameters(alg)?;
    let count = NonZeroU32::new(count)
        .ok_or_else(|| Error::limit("a PBES2 iteration count must be at least 1"))?;
    let mut key = Zeroizing::new(vec![0u8; len]);
    pbkdf2::derive(prf, count, salt, password, &mut key);
    Ok(key)
}

/// The PBKDF2 salt of RFC 7518 §4.8.1.1: `UTF8(alg) || 0x00 || p2s`.
fn salt(alg: KeyManagement, p2s: &[u8]) -> Vec<u8> {
    let mut salt = Vec::with_capacity(alg.name().len() + 1 + p2s.len());
    salt.extend_from_slice(alg.name().as_bytes());
    salt.push(0);
    salt.extend_from_slice(p2s);
    salt
}

fn check_salt(p2s: &[u8]) -> Result<()> {
    if p2s.len() < MIN_SALT_LEN {
        return Err(Error::malformed(format!(
            "the PBES2 salt input \"p2s\" is {} bytes; RFC 7518 §4.8.1.1 asks for at least {MIN_SALT_LEN}",
            p2s.len()
        )));
    }
    Ok(())
}

/// Reads `p2c`: a JSON integer from [`PBES2_MIN_COUNT`] to `max`. Floats, negatives, strings and everything
/// else are refused; the number itself is echoed only when it is an integer.
fn count(header: &JweHeader, max: u32) -> Result<u32> {
    let p2c = match header.get("p2c") {
        None => return Err(Error::malformed("PBES2 needs the header member \"p2c\"")),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            Error::malformed("the PBES2 iteration count \"p2c\" must be a positive integer")
        })?,
        Some(_) => {
            return Err(Error::malformed(
                "the PBES2 iteration count \"p2c\" must be a JSON integer",
            ));
        }
    };
    if p2c < u64::from(PBES2_MIN_COUNT) {
        return Err(Error::limit(format!(
            "the PBES2 iteration count p2c is {p2c}; at least {PBES2_MIN_COUNT} is required"
        )));
    }
    match u32::try_from(p2c) {
        Ok(p2c) if p2c <= max => Ok(p2c),
        _ => Err(Error::limit(format!(
            "the PBES2 iteration count p2c is {p2c}; this decrypter allows at most {max} \
             (Decrypter::allow_pbes2)"
        ))),
    }
}

/// Wraps `cek` under the key derived from `password`, with the `p2s` and `p2c` header members. Fresh: a random
/// 16-byte `p2s` and `count`. Fixed: both from the header.
pub(super) fn wrap(
    alg: KeyManagement,
    password: &[u8],
    cek: Zeroizing<Vec<u8>>,
    source: &Source<'_>,
    count: u32,
) -> Result<Wrapped> {
    let (p2s, p2c) = match source {
        Source::Random | Source::Given(_) => (random(SALT_LEN)?, count),
        Source::Fixed { header, .. } => (
            Zeroizing::new(header.binary_member("p2s")?),
            self::count(header, u32::MAX)?,
        ),
    };
    check_salt(&p2s)?;
    if p2c < PBES2_MIN_COUNT {
        return Err(Error::limit(format!(
            "a PBES2 iteration count of {p2c} is too low; at least {PBES2_MIN_COUNT} is required"
        )));
    }
    let kek = derive(alg, password, &salt(alg, &p2s), p2c)?;
    Ok(Wrapped {
        encrypted_key: aes_key_wrap(&kek, &cek)?,
        cek: Some(cek),
        header: vec![
            ("p2s", Value::String(b64::encode(&p2s))),
            ("p2c", Value::from(p2c)),
        ],
    })
}

/// Unwraps the content key of a PBES2 JWE. Refused unless `policy` enables PBES2; `p2c` and `p2s` are checked
/// before the derivation. A wrong password is [`failed`](crate::jwe::content::failed), as any bad key is.
pub(super) fn unwrap(
    alg: KeyManagement,
    password: &[u8],
    header: &JweHeader,
    encrypted_key: &[u8],
    policy: &UnwrapPolicy,
) -> Result<Zeroizing<Vec<u8>>> {
    let Some(max) = policy.pbes2_max_count else {
        return Err(Error::new(
            ErrorKind::AlgorithmNotAllowed,
            format!(
                "{alg} is not accepted by default: each token sets its own key-derivation cost; call \
                 Decrypter::allow_pbes2(max_count) to accept PBES2 with a bounded iteration count"
            ),
        ));
    };
    let p2c = count(header, max)?;
    let p2s = header.binary_member("p2s")?;
    check_salt(&p2s)?;
    let kek = derive(alg, password, &salt(alg, &p2s), p2c)?;
    aes_key_unwrap(&kek, encrypted_key)
}
