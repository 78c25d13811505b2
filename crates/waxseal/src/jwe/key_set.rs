//! Decryption keys from a JWK Set (`{"keys":[...]}`), as a recipient keeps them through a key rotation.
//!
//! Only keys that say what they are for are taken: a JWE key is bound to one key-management algorithm, so a key
//! without `alg` is skipped rather than guessed at, as are signature keys (`use: sig`, or a JWS `alg`). Every key
//! skipped is listed with the reason, and a set with no usable key is an error that gives the first reason.

use super::decrypter::Decrypter;
use super::key::DecryptionKey;
use crate::error::{Error, ErrorKind, Result};
use crate::json::Limits;
use crate::jwk::Jwk;

/// The decryption keys of a JWK Set, and why the others were skipped.
#[derive(Debug, Clone)]
pub struct DecryptionKeys {
    /// The keys, in the order of the set.
    pub keys: Vec<DecryptionKey>,
    /// One line per key that was skipped: its position and the reason.
    pub skipped: Vec<String>,
}

impl DecryptionKeys {
    /// Reads the decryption keys of a JWK Set within `limits` (document size, key count, JSON depth).
    pub fn from_jwks(text: &str, limits: &Limits) -> Result<DecryptionKeys> {
        let entries = crate::jwk::jwks_entries(text, limits)?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            match Jwk::from_value(entry).and_then(|jwk| DecryptionKey::from_jwk(&jwk)) {
                Ok(key) => keys.push(key),
                Err(e) => skipped.push(format!("key #{i}: {e}")),
            }
        }
        if keys.is_empty() {
            let why = skipped
                .first()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("JWK Set has no usable decryption key{why}"),
            ));
        }
        Ok(DecryptionKeys { keys, skipped })
    }
}

impl Decrypter {
    /// A decrypter with every decryption key of a JWK Set (see [`DecryptionKeys::from_jwks`]; default limits):
    /// each JWE is tried with the keys of its `alg` and `enc`, and of its `kid` when both sides have one.
    ///
    /// ```
    /// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
    ///
    /// let jwks = r#"{"keys":[
    ///     {"kty":"oct","kid":"2026-11","alg":"A256KW","use":"enc","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    ///     {"kty":"oct","kid":"2026-12","alg":"A256KW","use":"enc","k":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"},
    ///     {"kty":"oct","kid":"mac","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    /// ]}"#;
    /// let current = DecryptionKey::from_secret(&[7; 32], KeyManagement::A256KW)?.with_kid("2026-12");
    /// let token = Encrypter::new(&current.encryption_key(), ContentEncryption::A256Gcm).encrypt_compact(b"hi")?;
    /// assert_eq!(Decrypter::from_jwks(jwks)?.decrypt_compact(&token)?.plaintext, b"hi");
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    pub fn from_jwks(text: &str) -> Result<Decrypter> {
        let found = DecryptionKeys::from_jwks(text, &Limits::default())?;
        Ok(Decrypter::with_keys(found.keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_keys_and_keys_without_alg_are_skipped_with_reasons() {
        let jwks = r#"{"keys":[
            {"kty":"oct","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
            {"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA"},
            {"kty":"oct","alg":"A128KW","use":"sig","k":"AAAAAAAAAAAAAAAAAAAAAA"},
            {"kty":"oct","alg":"A128KW","kid":"a","k":"AAAAAAAAAAAAAAAAAAAAAA"}
        ]}"#;
        let found = DecryptionKeys::from_jwks(jwks, &Limits::default()).unwrap();
        assert_eq!(found.keys.len(), 1);
        assert_eq!(found.keys[0].kid(), Some("a"));
        assert_eq!(found.skipped.len(), 3, "{:?}", found.skipped);
        assert!(
            found.skipped[0].contains("signature algorithm"),
            "{:?}",
            found.skipped
        );
        assert!(
            found.skipped[1].contains("no \"alg\""),
            "{:?}",
            found.skipped
        );
        assert!(found.skipped[2].contains("use"), "{:?}", found.skipped);
    }

    #[test]
    fn a_set_without_decryption_keys_and_oversized_sets_are_refused() {
        let err = Decrypter::from_jwks(
            r#"{"keys":[{"kty":"oct","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound);
        assert!(err.message().contains("signature algorithm"), "{err}");
        let many = format!(
            r#"{{"keys":[{}]}}"#,
            vec![r#"{"kty":"oct","alg":"A128KW","k":"AAAAAAAAAAAAAAAAAAAAAA"}"#; 101].join(",")
        );
        assert_eq!(
            Decrypter::from_jwks(&many).unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
        assert_eq!(
            Decrypter::from_jwks(r#"{"nokeys":[]}"#).unwrap_err().kind(),
            ErrorKind::Malformed
        );
    }
}
