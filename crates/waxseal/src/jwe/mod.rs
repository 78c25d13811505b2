//! JSON Web Encryption (RFC 7516): the compact and JSON serializations.
//!
//! Implemented: key management `dir`, `A128KW`, `A256KW`, `A128GCMKW`, `A192GCMKW`, `A256GCMKW`, `RSA-OAEP`,
//! `RSA-OAEP-256`, `RSA-OAEP-384`, `RSA-OAEP-512` (RSA keys of 2048 bits or more); content encryption `A128GCM`,
//! `A192GCM`, `A256GCM`, `A128CBC-HS256`, `A192CBC-HS384`, `A256CBC-HS512`. `A192KW` is refused: the cryptographic
//! library has no AES-192 key wrap and waxseal writes no cipher of its own. ECDH-ES, PBES2 and `RSA1_5` are not
//! implemented yet.
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
mod header;
mod json;
mod json_encrypt;
mod key;
mod key_management;
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
pub use key::{DecryptionKey, EncryptionKey};
