//! The master key, which encrypts signing keys at rest.
//!
//! Private keys are stored encrypted with AES-256-GCM under a 32-byte master key, the key's `kid` bound in as
//! associated data so a ciphertext cannot be moved to another row. The master key comes from the configuration
//! (`WAXSEAL_MASTER_KEY` in the CLI) or from `master.key` in the data directory, generated on first start.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The 32-byte key that encrypts signing keys at rest. Never shown by `Debug`.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses a master key written as 64 hexadecimal digits or as 43 characters of unpadded base64url.
    ///
    /// ```
    /// let key = waxseal_server::MasterKey::parse(&"ab".repeat(32))?;
    /// assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    /// # Ok::<(), waxseal_server::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<MasterKey> {
        let text = text.trim();
        let mut key = Zeroizing::new([0u8; 32]);
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
                let digits = std::str::from_utf8(pair).unwrap_or("00");
                key[i] = u8::from_str_radix(digits, 16).unwrap_or(0);
            }
            return Ok(MasterKey(key));
        }
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text).map_err(|_| bad_master_key())?);
        if bytes.len() != 32 {
            return Err(bad_master_key());
        }
        key.copy_from_slice(&bytes);
        Ok(MasterKey(key))
    }

    /// A fresh random master key.
    pub fn generate() -> Result<MasterKey> {
        let mut key = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut key[..])
            .map_err(|_| Error::crypto("could not generate a master key"))?;
        Ok(MasterKey(key))
    }

    fn encoded(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(&self.0[..]))
    }

    /// An HMAC-SHA256 key for `purpose`, derived from the master key with HKDF-SHA256 (RFC 5869): one configured
    /// secret serves several uses, and no derived key reveals the master key or another purpose's key.
    pub(crate) fn derive_hmac_key(&self, purpose: &[u8]) -> Result<aws_lc_rs::hmac::Key> {
        let info = [purpose];
        let prk = self.prk();
        let okm = prk
            .expand(&info, aws_lc_rs::hmac::HMAC_SHA256)
            .map_err(|_| Error::crypto("key derivation failed"))?;
        Ok(aws_lc_rs::hmac::Key::from(okm))
    }

    /// 32 secret bytes for `purpose`, derived as [`MasterKey::derive_hmac_key`] derives keys, for a consumer that
    /// takes raw key material (the DPoP nonces of [`waxseal::dpop::Nonces`]).
    pub(crate) fn derive_secret(&self, purpose: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        struct Len32;
        impl aws_lc_rs::hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let info = [purpose];
        let mut out = Zeroizing::new([0u8; 32]);
        self.prk()
            .expand(&info, Len32)
            .and_then(|okm| okm.fill(&mut out[..]))
            .map_err(|_| Error::crypto("key derivation failed"))?;
        Ok(out)
    }

    /// The HKDF-SHA256 pseudo-random key of the master key (RFC 5869 extract, salt `waxseal`), from which every
    /// derived key is expanded with its purpose.
    pub(crate) fn prk(&self) -> aws_lc_rs::hkdf::Prk {
        use aws_lc_rs::hkdf;
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"waxseal").extract(&self.0[..])
    }

    fn aead(&self) -> Result<LessSafeKey> {
        let key = UnboundKey::new(&AES_256_GCM, &self.0[..])
            .map_err(|_| Error::crypto("AES-256-GCM key setup failed"))?;
        Ok(LessSafeKey::new(key))
    }

    /// Encrypts `plaintext` with `aad` bound in: `nonce || ciphertext || tag`.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Error::crypto("no randomness"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| Error::crypto("AES-256-GCM encryption failed"))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypts what [`MasterKey::seal`] produced; fails when the key, the data or `aad` differ.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let wrong = || {
            Error::config(
                "a stored signing key cannot be decrypted: the master key (WAXSEAL_MASTER_KEY or master.key) \
                 is not the one it was encrypted with, or the database is damaged",
            )
        };
        if sealed.len() < NONCE_LEN + 16 {
            return Err(wrong());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut body = Zeroizing::new(body.to_vec());
        let len = self
            .aead()?
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| wrong())?
            .len();
        body.truncate(len);
        Ok(body)
    }

    /// Reads `path`, or creates it (mode 0600) holding a new key. Returns the key and whether it was created.
    pub(crate) fn load_or_create(path: &Path) -> Result<(MasterKey, bool)> {
        match fs::read_to_string(path) {
            Ok(text) => {
                let key = MasterKey::parse(&text).map_err(|_| {
                    Error::config(format!(
                        "{} does not hold a master key (64 hex digits or 43 base64url characters)",
                        path.display()
                    ))
                })?;
                Ok((key, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate()?;
                let mut options = fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt as _;
                    options.mode(0o600);
                }
                let mut file = options
                    .open(path)
                    .map_err(|e| Error::io(format!("cannot create {}: {e}", path.display())))?;
                let mut text = key.encoded();
                text.push('\n');
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::io(format!("cannot write {}: {e}", path.display())))?;
                Ok((key, true))
            }
            Err(e) => Err(Error::io(format!("cannot read {}: {e}", path.display()))),
        }
    }
}

fn bad_master_key() -> Error {
    Error::config(
        "the master key must be 32 bytes written as 64 hex digits or 43 base64url characters",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_parses_hex_and_base64url() {
        let hex = MasterKey::parse(&"0f".repeat(32)).map(|k| *k.0);
        assert_eq!(hex.ok(), Some([0x0f; 32]));
        let b64 = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(MasterKey::parse(&b64).map(|k| *k.0).ok(), Some([7; 32]));
        assert!(MasterKey::parse("short").is_err());
        assert!(MasterKey::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn sealed_keys_open_only_with_the_same_key_and_kid() {
        let key = MasterKey::generate().ok();
        let other = MasterKey::generate().ok();
        let (Some(key), Some(other)) = (key, other) else {
            panic!("no randomness")
        };
        let sealed = key.seal(b"private", b"kid-1").unwrap_or_default();
        assert_eq!(
            key.open(&sealed, b"kid-1").ok().map(|p| p.to_vec()),
            Some(b"private".to_vec())
        );
        assert!(key.open(&sealed, b"kid-2").is_err());
        assert!(other.open(&sealed, b"kid-1").is_err());
    }
}
