//! JSON Web Encryption (RFC 7516): the compact and JSON serializations.
//!
//! Implemented: key management `dir`, `A128KW`, `A192KW`, `A256KW`, `A128GCMKW`, `A192GCMKW`, `A256GCMKW`,
//! `RSA-OAEP`, `RSA-OAEP-256`, `RSA-OAEP-384`, `RSA-OAEP-512` (RSA keys of 2048 bits or more), `ECDH-ES`,
//! `ECDH-ES+A128KW`, `ECDH-ES+A192KW`, `ECDH-ES+A256KW` (EC keys on P-256, P-384, P-521, and X25519 keys as RFC
//! 8037 has them; the sender's ephemeral `epk` is checked to be a public key on the recipient's curve before any
//! agreement, `apu`/`apv` go into the Concat KDF), `PBES2-HS256+A128KW`, `PBES2-HS384+A192KW`,
//! `PBES2-HS512+A256KW`; content encryption `A128GCM`, `A192GCM`, `A256GCM`, `A128CBC-HS256`, `A192CBC-HS384`,
//! `A256CBC-HS512`. aws-lc-rs has no AES-192 key wrap, so `A192KW` runs the RFC 3394 mode over its AES-192 block
//! cipher (checked against the RFC, Wycheproof and aws-lc-rs's own key wrap for the other sizes).
//!
//! Serializations: compact ([`Encrypter::encrypt_compact`], [`Decrypter::decrypt_compact`]) and JSON, general and
//! flattened ([`Encrypter::encrypt_json`] for one recipient, [`JsonEncrypter`] for several, unprotected headers and
//! `aad`; [`Decrypter::decrypt_json`] for both forms). In the JSON form a header member may appear in only one of
//! the protected, shared unprotected and recipient headers, and `crit` and `zip` only in the protected one.
//!
//! Compression (`"zip":"DEF"`) is off by default: a compressed JWE is refused with
//! [`ErrorKind::CompressionUnsupported`](crate::ErrorKind::CompressionUnsupported) before any key is used.
//! [`Decrypter::allow_compression`] turns it on with a bound on the decompressed size
//! ([`DEFAULT_MAX_DECOMPRESSED`], 250 kB); inflating stops at the bound, so a DEFLATE bomb costs at most that much
//! memory, and only plaintext whose tag verified is inflated. [`Encrypter::compress`] makes compressed JWEs.
//!
//! Two algorithms need a word:
//!
//! - **`RSA1_5` is refused by name**, in a token's header and in a JWK's `alg`, before any key is involved:
//!   RSAES-PKCS1-v1_5 decryption is Bleichenbacher's padding oracle (RFC 8725 §3.2, RFC 3218). Use
//!   `RSA-OAEP-256`.
//! - **PBES2 is off until a decrypter turns it on** with [`Decrypter::allow_pbes2`]`(max_count)`: the token
//!   chooses its own iteration count `p2c`, and each iteration is the recipient's work (CVE-2022-36083,
//!   CVE-2023-49290). Enabled, `p2c` must be an integer from [`PBES2_MIN_COUNT`] (1000) to the maximum, checked
//!   before any derivation; [`PBES2_DEFAULT_COUNT`] (10,000) is both the encrypter's default and the maximum to
//!   start from. PBES2 keys are passwords ([`DecryptionKey::from_password`]).
//!
//! The JWS rules carry over: a key is bound to one key-management algorithm ([`DecryptionKey`],
//! [`EncryptionKey`]) and JWS keys are other types, so a verifying key cannot decrypt:
//!
//! ```compile_fail
//! use waxseal::{Algorithm, SigningKey, jwe::Decrypter};
//! let key = SigningKey::generate(Algorithm::HS256)?;
//! let decrypter = Decrypter::new(key.verifying_key()?); // a VerifyingKey is not a DecryptionKey
//! # Ok::<(), waxseal::Error>(())
//! ```
//!
//! and a decryption key cannot verify:
//!
//! ```compile_fail
//! use waxseal::{jwe::{DecryptionKey, KeyManagement}, jws::JwsVerifier};
//! let key = DecryptionKey::from_secret(&[0; 16], KeyManagement::A128KW)?;
//! let verifier = JwsVerifier::new(key); // a DecryptionKey is not a VerifyingKey
//! # Ok::<(), waxseal::Error>(())
//! ```
//!
//! A JWS given to [`Decrypter::decrypt_compact`] and a JWE given to a JWS verifier are refused by their segment
//! count, a JWS in JSON serialization given to [`Decrypter::decrypt_json`] by its `payload` and `signatures`, with
//! a message that says which they are. Every failure of the cryptography on the way in — a key that
//! does not unwrap, a wrong tag, bad CBC padding — is one [`ErrorKind::DecryptionFailed`](crate::ErrorKind).

mod algorithms;
mod compact;
mod compression;
mod content;
mod decrypter;
mod ecdh;
mod header;
mod json;
mod json_encrypt;
mod key;
mod key_export;
mod key_management;
mod key_set;
#[doc(hidden)]
pub mod primitives;

pub use algorithms::{ContentEncryption, KeyManagement};
pub use compact::Encrypter;
#[doc(hidden)]
pub use compact::encrypt_compact_reproducible;
pub use compression::DEFAULT_MAX_DECOMPRESSED;
pub use decrypter::{Decrypted, Decrypter};
pub use header::JweHeader;
pub use json_encrypt::JsonEncrypter;
#[doc(hidden)]
pub use json_encrypt::encrypt_json_reproducible;
pub use key::{DecryptionKey, EncryptionKey};
pub use key_management::pbes2::{PBES2_DEFAULT_COUNT, PBES2_MIN_COUNT};
pub use key_set::DecryptionKeys;
