//! JSON Web Encryption (RFC 7516): the compact serialization.
//!
//! Implemented: key management `dir`, `A128KW`, `A256KW`, `A128GCMKW`, `A192GCMKW`, `A256GCMKW`, `RSA-OAEP`,
//! `RSA-OAEP-256`, `RSA-OAEP-384`, `RSA-OAEP-512` (RSA keys of 2048 bits or more); content encryption `A128GCM`,
//! `A192GCM`, `A256GCM`, `A128CBC-HS256`, `A192CBC-HS384`, `A256CBC-HS512`. `A192KW` is refused: the cryptographic
//! library has no AES-192 key wrap and waxseal writes no cipher of its own. ECDH-ES, PBES2, `RSA1_5`, the JSON
//! serialization and `zip` are not implemented yet; a compressed JWE is refused with
//! [`ErrorKind::CompressionUnsupported`](crate::ErrorKind::CompressionUnsupported).
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
//! count, with a message that says which they are. Every failure of the cryptography on the way in — a key that
//! does not unwrap, a wrong tag, bad CBC padding — is one [`ErrorKind::DecryptionFailed`](crate::ErrorKind).

mod algorithms;
mod compact;
mod content;
mod header;
mod key;
mod key_export;
mod key_management;
#[doc(hidden)]
pub mod primitives;

pub use algorithms::{ContentEncryption, KeyManagement};
#[doc(hidden)]
pub use compact::encrypt_compact_reproducible;
pub use compact::{Decrypted, Decrypter, Encrypter};
pub use header::JweHeader;
pub use key::{DecryptionKey, EncryptionKey};
