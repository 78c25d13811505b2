//! JWE algorithms (RFC 7518 §4 and §5): how the content key reaches the recipient, and how the content is sealed.
//!
//! Kept apart from the JWS [`Algorithm`](crate::Algorithm) on purpose: a name from one registry is never read as
//! the other, so a JWE whose `alg` is `HS256` is refused by name, before any key is looked at.

use std::fmt;

use crate::error::{Error, ErrorKind, Result, quote};

/// A JWE key-management algorithm (`alg`). `RSA1_5` is refused by design ([`KeyManagement::from_name`] says why).
///
/// The ECDH-ES family (RFC 7518 §4.6) agrees a key with an ephemeral key pair (its public half travels in the
/// `epk` header member) on P-256, P-384, P-521 or X25519 (RFC 8037), derives a key from the shared secret with the
/// Concat KDF, and either uses it as the content key (`ECDH-ES`) or wraps a random content key with it
/// (`ECDH-ES+A128KW` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyManagement {
    /// Direct use of a shared secret as the content key (`dir`).
    Dir,
    /// AES key wrap (RFC 3394) with a 128-bit key.
    A128KW,
    /// AES key wrap with a 192-bit key (the RFC 3394 mode over aws-lc-rs's AES-192 block cipher).
    A192KW,
    /// AES key wrap with a 256-bit key.
    A256KW,
    /// AES-GCM key wrap with a 128-bit key (`iv` and `tag` header parameters).
    A128GCMKW,
    /// AES-GCM key wrap with a 192-bit key.
    A192GCMKW,
    /// AES-GCM key wrap with a 256-bit key.
    A256GCMKW,
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1 (`RSA-OAEP`), RSA keys of 2048 bits or more.
    RsaOaep,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (`RSA-OAEP-256`).
    RsaOaep256,
    /// RSAES-OAEP with SHA-384 and MGF1-SHA-384 (`RSA-OAEP-384`, registered in the IANA JOSE registry by WebCrypto).
    RsaOaep384,
    /// RSAES-OAEP with SHA-512 and MGF1-SHA-512 (`RSA-OAEP-512`).
    RsaOaep512,
    /// PBES2 (RFC 7518 §4.8): PBKDF2-HMAC-SHA-256 from a password, then A128KW (`PBES2-HS256+A128KW`). Its
    /// tokens are opened only by a decrypter that enabled PBES2 with a maximum iteration count
    /// ([`Decrypter::allow_pbes2`](crate::jwe::Decrypter::allow_pbes2)).
    Pbes2Hs256A128KW,
    /// PBKDF2-HMAC-SHA-384, then A192KW (`PBES2-HS384+A192KW`).
    Pbes2Hs384A192KW,
    /// PBKDF2-HMAC-SHA-512, then A256KW (`PBES2-HS512+A256KW`).
    Pbes2Hs512A256KW,
    /// ECDH-ES key agreement; the derived key is the content key and the encrypted key segment is empty.
    EcdhEs,
    /// ECDH-ES key agreement, the derived 128-bit key wrapping the content key with AES key wrap.
    EcdhEsA128KW,
    /// ECDH-ES with a derived 192-bit AES key wrap key.
    EcdhEsA192KW,
    /// ECDH-ES with a derived 256-bit AES key wrap key.
    EcdhEsA256KW,
}

impl KeyManagement {
    /// Every supported key-management algorithm, in a stable order.
    pub const ALL: [KeyManagement; 18] = [
        KeyManagement::Dir,
        KeyManagement::A128KW,
        KeyManagement::A192KW,
        KeyManagement::A256KW,
        KeyManagement::A128GCMKW,
        KeyManagement::A192GCMKW,
        KeyManagement::A256GCMKW,
        KeyManagement::RsaOaep,
        KeyManagement::RsaOaep256,
        KeyManagement::RsaOaep384,
        KeyManagement::RsaOaep512,
        KeyManagement::Pbes2Hs256A128KW,
        KeyManagement::Pbes2Hs384A192KW,
        KeyManagement::Pbes2Hs512A256KW,
        KeyManagement::EcdhEs,
        KeyManagement::EcdhEsA128KW,
        KeyManagement::EcdhEsA192KW,
        KeyManagement::EcdhEsA256KW,
    ];

    /// The registered `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            KeyManagement::Dir => "dir",
            KeyManagement::A128KW => "A128KW",
            KeyManagement::A192KW => "A192KW",
            KeyManagement::A256KW => "A256KW",
            KeyManagement::A128GCMKW => "A128GCMKW",
            KeyManagement::A192GCMKW => "A192GCMKW",
            KeyManagement::A256GCMKW => "A256GCMKW",
            KeyManagement::RsaOaep => "RSA-OAEP",
            KeyManagement::RsaOaep256 => "RSA-OAEP-256",
            KeyManagement::RsaOaep384 => "RSA-OAEP-384",
            KeyManagement::RsaOaep512 => "RSA-OAEP-512",
            KeyManagement::Pbes2Hs256A128KW => "PBES2-HS256+A128KW",
            KeyManagement::Pbes2Hs384A192KW => "PBES2-HS384+A192KW",
            KeyManagement::Pbes2Hs512A256KW => "PBES2-HS512+A256KW",
            KeyManagement::EcdhEs => "ECDH-ES",
            KeyManagement::EcdhEsA128KW => "ECDH-ES+A128KW",
            KeyManagement::EcdhEsA192KW => "ECDH-ES+A192KW",
            KeyManagement::EcdhEsA256KW => "ECDH-ES+A256KW",
        }
    }

    /// Parses a registered `alg` name (case-sensitive). Signature algorithms, `none`, `RSA1_5`, and the
    /// key-management algorithms waxseal does not implement are errors of kind
    /// [`ErrorKind::UnsupportedAlgorithm`] that say which.
    ///
    /// `RSA1_5` (RSAES-PKCS1-v1_5) is refused by name, wherever a name is read — a token's header, a JWK's
    /// `alg` — before any key is involved: a decrypter that reveals whether the padding was right is
    /// Bleichenbacher's oracle, and no implementation has kept that from leaking for long (RFC 8725 §3.2,
    /// RFC 3218). `RSA-OAEP-256` takes its place.
    pub fn from_name(name: &str) -> Result<Self> {
        if let Some(alg) = KeyManagement::ALL.into_iter().find(|a| a.name() == name) {
            return Ok(alg);
        }
        let why = if crate::Algorithm::from_name(name).is_ok() || name.eq_ignore_ascii_case("none")
        {
            format!(
                "{} is a signature algorithm, not a JWE key-management algorithm",
                quote(name)
            )
        } else if name == "RSA1_5" {
            RSA1_5_REFUSED.to_owned()
        } else {
            format!("unsupported JWE key-management algorithm {}", quote(name))
        };
        Err(Error::new(ErrorKind::UnsupportedAlgorithm, why))
    }

    /// The secret key length this algorithm needs, in bytes; `None` for `dir`, whose key is the content key, for
    /// the RSA and ECDH-ES algorithms, whose keys are key pairs, and for PBES2, whose key is a password.
    pub fn key_len(self) -> Option<usize> {
        match self {
            KeyManagement::Dir
            | KeyManagement::RsaOaep
            | KeyManagement::RsaOaep256
            | KeyManagement::RsaOaep384
            | KeyManagement::RsaOaep512
            | KeyManagement::Pbes2Hs256A128KW
            | KeyManagement::Pbes2Hs384A192KW
            | KeyManagement::Pbes2Hs512A256KW
            | KeyManagement::EcdhEs
            | KeyManagement::EcdhEsA128KW
            | KeyManagement::EcdhEsA192KW
            | KeyManagement::EcdhEsA256KW => None,
            KeyManagement::A128KW | KeyManagement::A128GCMKW => Some(16),
            KeyManagement::A192KW | KeyManagement::A192GCMKW => Some(24),
            KeyManagement::A256KW | KeyManagement::A256GCMKW => Some(32),
        }
    }
}

impl KeyManagement {
    /// True for the RSA-OAEP algorithms, whose keys are RSA key pairs.
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            KeyManagement::RsaOaep
                | KeyManagement::RsaOaep256
                | KeyManagement::RsaOaep384
                | KeyManagement::RsaOaep512
        )
    }

    /// True for the PBES2 algorithms, whose keys are passwords.
    pub fn is_pbes2(self) -> bool {
        matches!(
            self,
            KeyManagement::Pbes2Hs256A128KW
                | KeyManagement::Pbes2Hs384A192KW
                | KeyManagement::Pbes2Hs512A256KW
        )
    }

    /// True for the ECDH-ES algorithms, whose keys are EC (P-256, P-384, P-521) or X25519 key pairs.
    pub fn is_ecdh(self) -> bool {
        self.ecdh_wrap_len().is_some() || self == KeyManagement::EcdhEs
    }

    /// For `ECDH-ES+A*KW`, the length of the derived AES key wrap key, in bytes.
    pub(crate) fn ecdh_wrap_len(self) -> Option<usize> {
        match self {
            KeyManagement::EcdhEsA128KW => Some(16),
            KeyManagement::EcdhEsA192KW => Some(24),
            KeyManagement::EcdhEsA256KW => Some(32),
            _ => None,
        }
    }
}

/// Why `RSA1_5` is refused, and what to use instead.
const RSA1_5_REFUSED: &str = "RSA1_5 is refused: RSAES-PKCS1-v1_5 key encryption is open to Bleichenbacher's \
     padding-oracle attack (RFC 8725 §3.2, RFC 3218); use RSA-OAEP-256";

/// A JWE content-encryption algorithm (`enc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ContentEncryption {
    /// AES-128-CBC with HMAC-SHA-256, tag truncated to 128 bits (RFC 7518 §5.2.3).
    A128CbcHs256,
    /// AES-192-CBC with HMAC-SHA-384, tag truncated to 192 bits.
    A192CbcHs384,
    /// AES-256-CBC with HMAC-SHA-512, tag truncated to 256 bits.
    A256CbcHs512,
    /// AES-128-GCM.
    A128Gcm,
    /// AES-192-GCM.
    A192Gcm,
    /// AES-256-GCM.
    A256Gcm,
}

impl ContentEncryption {
    /// Every content-encryption algorithm, in a stable order.
    pub const ALL: [ContentEncryption; 6] = [
        ContentEncryption::A128CbcHs256,
        ContentEncryption::A192CbcHs384,
        ContentEncryption::A256CbcHs512,
        ContentEncryption::A128Gcm,
        ContentEncryption::A192Gcm,
        ContentEncryption::A256Gcm,
    ];

    /// The registered `enc` name.
    pub fn name(self) -> &'static str {
        match self {
            ContentEncryption::A128CbcHs256 => "A128CBC-HS256",
            ContentEncryption::A192CbcHs384 => "A192CBC-HS384",
            ContentEncryption::A256CbcHs512 => "A256CBC-HS512",
            ContentEncryption::A128Gcm => "A128GCM",
            ContentEncryption::A192Gcm => "A192GCM",
            ContentEncryption::A256Gcm => "A256GCM",
        }
    }

    /// Parses a registered `enc` name (case-sensitive).
    pub fn from_name(name: &str) -> Result<Self> {
        ContentEncryption::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnsupportedAlgorithm,
                    format!("unsupported JWE content encryption {}", quote(name)),
                )
            })
    }

    /// The content key length, in bytes (for CBC-HMAC, the MAC key and the AES key together).
    pub fn key_len(self) -> usize {
        match self {
            ContentEncryption::A128Gcm => 16,
            ContentEncryption::A192Gcm => 24,
            ContentEncryption::A256Gcm | ContentEncryption::A128CbcHs256 => 32,
            ContentEncryption::A192CbcHs384 => 48,
            ContentEncryption::A256CbcHs512 => 64,
        }
    }

    /// The initialization vector length, in bytes.
    pub fn iv_len(self) -> usize {
        if self.is_gcm() { 12 } else { 16 }
    }

    /// The authentication tag length, in bytes.
    pub fn tag_len(self) -> usize {
        if self.is_gcm() {
            16
        } else {
            self.key_len() / 2
        }
    }

    pub(crate) fn is_gcm(self) -> bool {
        matches!(
            self,
            ContentEncryption::A128Gcm | ContentEncryption::A192Gcm | ContentEncryption::A256Gcm
        )
    }
}

impl fmt::Display for KeyManagement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for ContentEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in KeyManagement::ALL {
            assert_eq!(KeyManagement::from_name(alg.name()).unwrap(), alg);
        }
        for enc in ContentEncryption::ALL {
            assert_eq!(ContentEncryption::from_name(enc.name()).unwrap(), enc);
        }
    }

    #[test]
    fn signature_algorithms_are_not_key_management_algorithms() {
        for name in ["HS256", "RS256", "ES256", "EdDSA", "none"] {
            let err = KeyManagement::from_name(name).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm);
            assert!(err.message().contains("signature algorithm"), "{err}");
        }
        assert_eq!(
            KeyManagement::from_name("A192KW").unwrap(),
            KeyManagement::A192KW
        );
        let rsa1_5 = KeyManagement::from_name("RSA1_5").unwrap_err();
        assert_eq!(rsa1_5.kind(), ErrorKind::UnsupportedAlgorithm);
        for why in ["Bleichenbacher", "RFC 8725", "RSA-OAEP-256"] {
            assert!(rsa1_5.message().contains(why), "{rsa1_5}");
        }
        assert!(ContentEncryption::from_name("a128gcm").is_err());
    }
}
