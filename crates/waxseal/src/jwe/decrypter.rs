//! [`Decrypter`], the one place JWEs are opened, in either serialization.
//!
//! Its order of work mirrors the JWS verifier's: bound the size, split (a JWS is refused by name), parse the header
//! strictly, refuse `zip` unless compression was allowed, check `alg` and `enc` against the keys and configuration
//! (never the other way round), pick keys by `alg` and `kid`, refuse unknown `crit`, and only then touch the
//! cryptography. Decompression, when allowed, comes last: only plaintext whose tag verified is inflated, and never
//! past the caller's limit.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::algorithms::ContentEncryption;
use super::compact::split;
use super::compression;
use super::content;
use super::header::JweHeader;
use super::key::DecryptionKey;
use super::key_management::{self, UnwrapPolicy};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::json::Limits;

/// The most keys tried for one JWE unless [`Decrypter::max_candidates`] says otherwise (as [`crate::KeySet`]).
const DEFAULT_MAX_CANDIDATES: usize = 3;

/// A JWE that decrypted and authenticated.
#[derive(Debug, Clone)]
pub struct Decrypted {
    /// The header: for the compact serialization the protected header; for the JSON serialization the joint header
    /// (protected, shared unprotected and recipient members together) of the recipient that opened it. Read `alg`,
    /// `enc` and `kid` here; [`Decrypted::is_protected`] says which members were integrity-protected.
    pub header: JweHeader,
    /// The plaintext (decompressed, for a `"zip":"DEF"` JWE).
    pub plaintext: Vec<u8>,
    /// Which recipient of a general JSON JWE opened it; 0 for the compact and flattened serializations.
    pub recipient: usize,
    /// Which of the decrypter's keys opened it: its place in the order the keys were given
    /// ([`Decrypter::with_keys`], [`Decrypter::from_jwks`]).
    pub key: usize,
    /// The JSON serialization's additional authenticated data (`aad`), decoded: authenticated with the content,
    /// not encrypted. `None` when absent (always, for the compact serialization).
    pub aad: Option<Vec<u8>>,
    /// The JSON serialization's shared unprotected header (`unprotected`); empty for the compact serialization.
    pub unprotected: Map<String, Value>,
    /// The unprotected header of the recipient that opened it (`header`); empty for the compact serialization.
    pub recipient_header: Map<String, Value>,
}

impl Decrypted {
    /// Whether the header member `name` was in the protected header, so authenticated with the content. Members
    /// of the unprotected headers are not: anyone on the way could have changed them.
    pub fn is_protected(&self, name: &str) -> bool {
        self.header.get(name).is_some()
            && !self.unprotected.contains_key(name)
            && !self.recipient_header.contains_key(name)
    }
}

/// Decrypts JWEs with a fixed set of keys. Build once, use for every token.
///
/// The key-management algorithms accepted are those of its keys; the content encryptions, all six unless narrowed
/// with [`Decrypter::content_encryptions`] (a `dir` key accepts only its own). Compressed JWEs are refused unless
/// [`Decrypter::allow_compression`] says how large their plaintext may grow.
#[derive(Debug, Clone)]
pub struct Decrypter {
    keys: Vec<DecryptionKey>,
    encs: Vec<ContentEncryption>,
    understood_crit: Vec<String>,
    pub(super) limits: Limits,
    max_decompressed: Option<usize>,
    policy: UnwrapPolicy,
    max_candidates: usize,
}

/// The parts of a JWE the content decryption needs, whatever the serialization.
pub(super) struct Content<'a> {
    /// The AAD: the protected header's base64url text, for JSON followed by `.` and the `aad` member's.
    pub(super) aad: &'a [u8],
    pub(super) iv: &'a [u8],
    pub(super) ciphertext: &'a [u8],
    pub(super) tag: &'a [u8],
}

impl Decrypter {
    /// A decrypter with one key.
    pub fn new(key: DecryptionKey) -> Self {
        Self::with_keys([key])
    }

    /// A decrypter trying, in order, the keys whose algorithm and `kid` fit each token.
    pub fn with_keys(keys: impl IntoIterator<Item = DecryptionKey>) -> Self {
        Decrypter {
            keys: keys.into_iter().collect(),
            encs: ContentEncryption::ALL.to_vec(),
            understood_crit: Vec::new(),
            limits: Limits::default(),
            max_decompressed: None,
            policy: UnwrapPolicy::default(),
            max_candidates: DEFAULT_MAX_CANDIDATES,
        }
    }

    /// Narrows the accepted content encryptions.
    #[must_use]
    pub fn content_encryptions(
        mut self,
        encs: impl IntoIterator<Item = ContentEncryption>,
    ) -> Self {
        let wanted: Vec<ContentEncryption> = encs.into_iter().collect();
        self.encs.retain(|e| wanted.contains(e));
        self
    }

    /// Declares critical header extensions the caller processes itself; JWEs listing others in `crit` are refused.
    #[must_use]
    pub fn understood_crit(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.understood_crit = names.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the input limits (token size, header JSON depth and, for the JSON serialization, the number of
    /// recipients apply).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Accepts compressed JWEs (`"zip":"DEF"`), whose plaintext may inflate to at most `max_decompressed_bytes`
    /// ([`DEFAULT_MAX_DECOMPRESSED`](super::DEFAULT_MAX_DECOMPRESSED), 250 kB, suits tokens). Off by default: a
    /// compressed JWE is then refused with [`ErrorKind::CompressionUnsupported`] before any key is used.
    ///
    /// Inflating stops at the limit — a JWE whose plaintext would grow past it is refused with
    /// [`ErrorKind::LimitExceeded`] without the rest ever being produced — and happens only after the
    /// authentication tag verified.
    ///
    /// ```
    /// use waxseal::jwe::{ContentEncryption, DEFAULT_MAX_DECOMPRESSED, Decrypter, DecryptionKey, Encrypter, KeyManagement};
    /// use waxseal::ErrorKind;
    ///
    /// let key = DecryptionKey::from_secret(&[7; 16], KeyManagement::A128KW)?;
    /// let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
    ///     .compress()
    ///     .encrypt_compact(&[b'a'; 10_000])?;
    /// let refused = Decrypter::new(key.clone()).decrypt_compact(&token).unwrap_err();
    /// assert_eq!(refused.kind(), ErrorKind::CompressionUnsupported);
    ///
    /// let decrypter = Decrypter::new(key.clone()).allow_compression(DEFAULT_MAX_DECOMPRESSED);
    /// assert_eq!(decrypter.decrypt_compact(&token)?.plaintext.len(), 10_000);
    /// let tight = Decrypter::new(key).allow_compression(1_000);
    /// assert_eq!(tight.decrypt_compact(&token).unwrap_err().kind(), ErrorKind::LimitExceeded);
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    #[must_use]
    pub fn allow_compression(mut self, max_decompressed_bytes: usize) -> Self {
        self.max_decompressed = Some(max_decompressed_bytes);
        self
    }

    /// Accepts PBES2 tokens (for this decrypter's PBES2 keys) whose iteration count `p2c` is from 1000 to
    /// `max_count`; without this call PBES2 is refused. The count is the sender's to choose and every iteration
    /// is the recipient's work, so the bound is checked before any derivation (CVE-2022-36083,
    /// CVE-2023-49290). [`PBES2_DEFAULT_COUNT`](crate::jwe::PBES2_DEFAULT_COUNT) (10,000, as panva/jose) is the
    /// value to start from; raise it only to the count your senders use.
    ///
    /// ```
    /// use waxseal::jwe::{
    ///     ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement, PBES2_DEFAULT_COUNT,
    /// };
    ///
    /// let password = b"a passphrase with the strength of a key";
    /// let key = DecryptionKey::from_password(password, KeyManagement::Pbes2Hs256A128KW)?;
    /// let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
    ///     .encrypt_compact(b"hi")?;
    /// // Off by default: the decrypter says to call allow_pbes2.
    /// assert!(Decrypter::new(key.clone()).decrypt_compact(&token).is_err());
    /// let opened = Decrypter::new(key)
    ///     .allow_pbes2(PBES2_DEFAULT_COUNT)
    ///     .decrypt_compact(&token)?;
    /// assert_eq!(opened.plaintext, b"hi");
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    #[must_use]
    pub fn allow_pbes2(mut self, max_count: u32) -> Self {
        self.policy.pbes2_max_count = Some(max_count);
        self
    }

    /// The most keys tried for one JWE (at least 1; default 3), those whose own `kid` is the JWE's first. Each try
    /// can be an RSA private-key operation or a PBES2 derivation, so a decrypter holding many keys of one algorithm
    /// cannot be made to try them all by a token without a `kid`.
    #[must_use]
    pub fn max_candidates(mut self, n: usize) -> Self {
        self.max_candidates = n.max(1);
        self
    }

    pub(super) fn check_size(&self, len: usize) -> Result<()> {
        if len > self.limits.max_token_bytes {
            return Err(Error::limit(format!(
                "token is {len} bytes; the limit is {} bytes",
                self.limits.max_token_bytes
            )));
        }
        Ok(())
    }

    /// Decrypts a compact JWE and returns its header and plaintext.
    pub fn decrypt_compact(&self, token: &str) -> Result<Decrypted> {
        self.check_size(token.len())?;
        let [header_b64, encrypted_key, iv, ciphertext, tag] = split(token)?;
        if header_b64.is_empty() {
            return Err(Error::malformed(
                "JWE has an empty protected header segment",
            ));
        }
        let header = JweHeader::parse(
            b64::decode(header_b64, "JWE header")?,
            self.limits.max_json_depth,
        )?;
        let candidates = self.check_header(&header)?;
        let encrypted_key = b64::decode(encrypted_key, "JWE encrypted key")?;
        // The IV (at most 16 bytes) and tag (at most 32) decode on the stack; an oversized one is refused here.
        let (mut iv_buffer, mut tag_buffer) = ([0u8; 24], [0u8; 48]);
        let iv = b64::decode_into(iv, &mut iv_buffer, "JWE initialization vector")?;
        let ciphertext = b64::decode(ciphertext, "JWE ciphertext")?;
        let tag = b64::decode_into(tag, &mut tag_buffer, "JWE authentication tag")?;
        let content = Content {
            aad: header_b64.as_bytes(),
            iv,
            ciphertext: &ciphertext,
            tag,
        };
        let (plaintext, key) = self.open(&header, candidates, &encrypted_key, &content)?;
        Ok(Decrypted {
            plaintext: self.decompress(&header, plaintext)?,
            header,
            recipient: 0,
            key,
            aad: None,
            unprotected: Map::new(),
            recipient_header: Map::new(),
        })
    }

    /// Every check of a header that needs no key: `zip` against the configuration, `alg` and `enc` against the keys
    /// (giving the keys that fit), then `crit`.
    pub(super) fn check_header<'s>(
        &'s self,
        header: &'s JweHeader,
    ) -> Result<impl Iterator<Item = &'s DecryptionKey> + 's> {
        if header.compressed && self.max_decompressed.is_none() {
            return Err(Error::new(
                ErrorKind::CompressionUnsupported,
                "the JWE is compressed (\"zip\"); this decrypter does not accept compressed JWEs \
                 (see Decrypter::allow_compression)",
            ));
        }
        let candidates = self.candidates(header)?;
        header.check_crit(&self.understood_crit)?;
        Ok(candidates)
    }

    /// Recovers the content key with each candidate in turn and decrypts the content with the first that works;
    /// the plaintext is returned as authenticated, before any decompression.
    pub(super) fn open<'k>(
        &self,
        header: &JweHeader,
        candidates: impl Iterator<Item = &'k DecryptionKey>,
        encrypted_key: &[u8],
        content: &Content<'_>,
    ) -> Result<(Vec<u8>, usize)> {
        let mut last = None;
        for key in candidates {
            let opened = key_management::unwrap(
                header.alg,
                key.material(),
                header,
                encrypted_key,
                &self.policy,
            )
            .and_then(|cek| {
                content::decrypt(
                    header.enc,
                    &cek,
                    key.material().direct_gcm(),
                    content.iv,
                    content.aad,
                    content.ciphertext,
                    content.tag,
                )
            });
            match opened {
                Ok(plaintext) => {
                    // The candidates are this decrypter's own keys, so one of them is this one.
                    let index = self
                        .keys
                        .iter()
                        .position(|k| std::ptr::eq(k, key))
                        .unwrap_or_default();
                    return Ok((plaintext, index));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(content::failed))
    }

    /// The plaintext of an authenticated JWE: inflated within the limit when the header says `zip`.
    pub(super) fn decompress(&self, header: &JweHeader, plaintext: Vec<u8>) -> Result<Vec<u8>> {
        match (header.compressed, self.max_decompressed) {
            // Handed over, not copied: the caller asked for the plaintext.
            (false, _) => Ok(plaintext),
            // The compressed form is wiped once inflated.
            (true, Some(max)) => compression::inflate(&Zeroizing::new(plaintext), max),
            // check_header refused it already; kept as a refusal should the order ever change.
            (true, None) => Err(Error::new(
                ErrorKind::CompressionUnsupported,
                "the JWE is compressed (\"zip\"); this decrypter does not accept compressed JWEs",
            )),
        }
    }

    /// The keys that may open a JWE with this header: algorithm and content encryption first (refused by name),
    /// then `kid`.
    fn candidates<'s>(
        &'s self,
        header: &'s JweHeader,
    ) -> Result<impl Iterator<Item = &'s DecryptionKey> + 's> {
        let fits_alg = move |k: &&DecryptionKey| k.algorithm() == header.alg;
        let fits_enc = move |k: &&DecryptionKey| {
            self.encs.contains(&header.enc) && k.direct_encryption().is_none_or(|e| e == header.enc)
        };
        let fits_kid = move |k: &&DecryptionKey| match (k.kid(), header.kid.as_deref()) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        };
        let fits = move |k: &&DecryptionKey| fits_alg(k) && fits_enc(k) && fits_kid(k);
        // None fits: say which rule left none, in the order they apply.
        if !self.keys.iter().any(|k| fits(&k)) {
            if !self.keys.iter().any(|k| fits_alg(&k)) {
                let mut names: Vec<&str> = self.keys.iter().map(|k| k.algorithm().name()).collect();
                names.dedup();
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!(
                        "JWE alg {} is not allowed; this decrypter's keys are for {}",
                        header.alg,
                        if names.is_empty() {
                            "nothing".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
            if !self.keys.iter().any(|k| fits_alg(&k) && fits_enc(&k)) {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!(
                        "JWE enc {} is not allowed with alg {}",
                        header.enc, header.alg
                    ),
                ));
            }
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                "no decryption key has the JWE's kid",
            ));
        }
        // Keys the JWE's kid names first, then those without a kid to compare, in the caller's order; at most
        // `max_candidates` of them. Nothing is collected: one key fitting costs no allocation.
        let named = move |k: &&DecryptionKey| k.kid().is_some() && header.kid.is_some();
        Ok(self
            .keys
            .iter()
            .filter(move |k| fits(k) && named(k))
            .chain(self.keys.iter().filter(move |k| fits(k) && !named(k)))
            .take(self.max_candidates))
    }
}
