//! The JWE compact serialization (RFC 7516 §7.1): `header.encrypted_key.iv.ciphertext.tag`.
//!
//! [`Decrypter`] is the one place JWEs are opened. Its order of work mirrors the JWS verifier's: bound the size,
//! split (a three-part JWS is refused by name), parse the header strictly, check `alg` and `enc` against the keys
//! and configuration (never the other way round), refuse unknown `crit` and any `zip`, pick keys by `alg` and
//! `kid`, and only then touch the cryptography.

use serde_json::Value;

use super::algorithms::ContentEncryption;
use super::content;
use super::header::JweHeader;
use super::key::{DecryptionKey, EncryptionKey};
use super::key_management::{self, Source, UnwrapPolicy, WrapParams, random};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::json::Limits;

/// A JWE that decrypted and authenticated.
#[derive(Debug, Clone)]
pub struct Decrypted {
    /// The protected header.
    pub header: JweHeader,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// Makes compact JWEs for one key and one content encryption. Randomness (content key, IVs) comes from aws-lc-rs.
///
/// ```
/// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
///
/// let key = DecryptionKey::from_secret(&[7; 32], KeyManagement::A256KW)?.with_kid("2026-01");
/// let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm)
///     .cty("JWT")
///     .encrypt_compact(b"a signed JWT, say")?;
/// let opened = Decrypter::new(key).decrypt_compact(&token)?;
/// assert_eq!(opened.plaintext, b"a signed JWT, say");
/// assert_eq!(opened.header.kid.as_deref(), Some("2026-01"));
/// # Ok::<(), waxseal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Encrypter<'k> {
    key: &'k EncryptionKey,
    enc: ContentEncryption,
    typ: Option<String>,
    cty: Option<String>,
    params: WrapParams,
}

impl<'k> Encrypter<'k> {
    /// An encrypter with `key` and `enc`.
    pub fn new(key: &'k EncryptionKey, enc: ContentEncryption) -> Self {
        Encrypter {
            key,
            enc,
            typ: None,
            cty: None,
            params: WrapParams::default(),
        }
    }

    /// Sets the ECDH-ES agreement party information, `apu` (about the producer) and `apv` (about the recipient):
    /// both go into the key derivation and, base64url-encoded, into the protected header (an empty one is left out).
    /// Only for ECDH-ES keys; [`Self::encrypt_compact`] refuses them with any other.
    #[must_use]
    pub fn agreement_party_info(mut self, apu: &[u8], apv: &[u8]) -> Self {
        self.params.apu = apu.to_vec();
        self.params.apv = apv.to_vec();
        self
    }

    /// Sets `typ`, the media type of the whole JWE.
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Sets `cty`, the plaintext's media type (`JWT` for a nested token).
    #[must_use]
    pub fn cty(mut self, cty: impl Into<String>) -> Self {
        self.cty = Some(cty.into());
        self
    }

    /// Sets the PBES2 iteration count (`p2c`) for a PBES2 key; ignored for other keys. The default is
    /// [`PBES2_DEFAULT_COUNT`](crate::jwe::PBES2_DEFAULT_COUNT) (10,000); below 1000 encryption is refused. Its
    /// recipients must allow at least this count ([`Decrypter::allow_pbes2`]), or none can open the token.
    #[must_use]
    pub fn pbes2_count(mut self, count: u32) -> Self {
        self.params.pbes2_count = count;
        self
    }

    /// Encrypts `plaintext` into a compact JWE: `alg`, `enc`, then `typ`, `kid`, `cty` and the key wrap's
    /// parameters in the protected header.
    pub fn encrypt_compact(&self, plaintext: &[u8]) -> Result<String> {
        let (alg, enc) = (self.key.algorithm(), self.enc);
        check_direct(self.key, enc)?;
        let party_given = !self.params.apu.is_empty() || !self.params.apv.is_empty();
        if party_given && !alg.is_ecdh() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!("agreement party information (apu, apv) is for ECDH-ES, not {alg}"),
            ));
        }
        let iv = random(enc.iv_len())?;
        let wrapped =
            key_management::wrap(alg, enc, self.key.material(), &Source::Random, &self.params)?;
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), Value::String(alg.name().into()));
        header.insert("enc".into(), Value::String(enc.name().into()));
        for (name, value) in [
            ("typ", &self.typ),
            ("kid", &self.key.kid().map(str::to_owned)),
            ("cty", &self.cty),
        ] {
            if let Some(value) = value {
                header.insert(name.into(), Value::String(value.clone()));
            }
        }
        for (name, value) in wrapped.header {
            header.insert(name.into(), value);
        }
        let header_json = Value::Object(header).to_string();
        assemble(
            header_json.as_bytes(),
            &wrapped.encrypted_key,
            enc,
            &wrapped.cek,
            &iv,
            plaintext,
        )
    }
}

fn check_direct(key: &EncryptionKey, enc: ContentEncryption) -> Result<()> {
    match key.direct_encryption() {
        Some(bound) if bound != enc => Err(Error::new(
            ErrorKind::AlgorithmNotAllowed,
            format!("this \"dir\" key is the content key of {bound}, not of {enc}"),
        )),
        _ => Ok(()),
    }
}

/// Encrypts the content (the AAD is the protected header's base64url text, RFC 7516 §5.1 step 14) and joins the
/// five segments.
fn assemble(
    header_json: &[u8],
    encrypted_key: &[u8],
    enc: ContentEncryption,
    cek: &[u8],
    iv: &[u8],
    plaintext: &[u8],
) -> Result<String> {
    let mut out = b64::encode(header_json);
    let sealed = content::encrypt(enc, cek, iv, out.as_bytes(), plaintext)?;
    for segment in [encrypted_key, iv, &sealed.ciphertext, &sealed.tag] {
        out.push('.');
        b64::encode_into(segment, &mut out);
    }
    Ok(out)
}

/// Encrypts with a protected header given as exact JSON bytes and a given content key and IV (the AES-GCM key
/// wrap's IV is read from the header's `iv`, and its `tag` must come out as the header says; ECDH-ES's ephemeral
/// private key is the `d` of the header's `epk`, and the header is then written again, in its member order, with
/// the public `epk` only). For reproducing published examples byte for byte in tests; never use fixed randomness
/// otherwise.
#[doc(hidden)]
pub fn encrypt_compact_reproducible(
    key: &EncryptionKey,
    header_json: &[u8],
    cek: &[u8],
    iv: &[u8],
    plaintext: &[u8],
) -> Result<String> {
    let header = JweHeader::parse(header_json, Limits::default().max_json_depth)?;
    if header.alg != key.algorithm() {
        return Err(Error::new(
            ErrorKind::AlgorithmNotAllowed,
            format!(
                "header alg {} does not match the key's {}",
                header.alg,
                key.algorithm()
            ),
        ));
    }
    check_direct(key, header.enc)?;
    let source = Source::Fixed {
        header: &header,
        cek,
    };
    let params = WrapParams {
        apu: optional_member(&header, "apu")?,
        apv: optional_member(&header, "apv")?,
        ..WrapParams::default()
    };
    let wrapped = key_management::wrap(header.alg, header.enc, key.material(), &source, &params)?;
    // For ECDH-ES the header's `epk` carries the ephemeral private key (`d`) of the example; what is written (and
    // authenticated) is the header with the public `epk` the agreement produced, members in their given order.
    let mut members = header.members().clone();
    let epk_with_d = header
        .get("epk")
        .and_then(Value::as_object)
        .is_some_and(|epk| epk.contains_key("d"));
    let mut written = header_json.to_vec();
    if epk_with_d {
        if let Some((_, epk)) = wrapped.header.iter().find(|(name, _)| *name == "epk") {
            members.insert("epk".into(), epk.clone());
        }
        written = Value::Object(members.clone()).to_string().into_bytes();
    }
    for (name, value) in &wrapped.header {
        if members.get(*name) != Some(value) {
            return Err(Error::malformed(format!(
                "header member \"{name}\" is not what the key wrap produced"
            )));
        }
    }
    assemble(
        &written,
        &wrapped.encrypted_key,
        header.enc,
        &wrapped.cek,
        iv,
        plaintext,
    )
}

fn optional_member(header: &JweHeader, name: &str) -> Result<Vec<u8>> {
    if header.get(name).is_some() {
        header.binary_member(name)
    } else {
        Ok(Vec::new())
    }
}

/// Decrypts compact JWEs with a fixed set of keys. Build once, use for every token.
///
/// The key-management algorithms accepted are those of its keys; the content encryptions, all six unless narrowed
/// with [`Decrypter::content_encryptions`] (a `dir` key accepts only its own).
#[derive(Debug, Clone)]
pub struct Decrypter {
    keys: Vec<DecryptionKey>,
    encs: Vec<ContentEncryption>,
    understood_crit: Vec<String>,
    limits: Limits,
    policy: UnwrapPolicy,
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
            policy: UnwrapPolicy::default(),
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

    /// Replaces the input limits (token size and header JSON depth apply).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
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

    /// Decrypts a compact JWE and returns its header and plaintext.
    pub fn decrypt_compact(&self, token: &str) -> Result<Decrypted> {
        if token.len() > self.limits.max_token_bytes {
            return Err(Error::limit(format!(
                "token is {} bytes; the limit is {} bytes",
                token.len(),
                self.limits.max_token_bytes
            )));
        }
        let [header_b64, encrypted_key, iv, ciphertext, tag] = split(token)?;
        if header_b64.is_empty() {
            return Err(Error::malformed(
                "JWE has an empty protected header segment",
            ));
        }
        let header = JweHeader::parse(
            &b64::decode(header_b64, "JWE header")?,
            self.limits.max_json_depth,
        )?;
        let candidates = self.candidates(&header)?;
        header.check_crit(&self.understood_crit)?;
        let encrypted_key = b64::decode(encrypted_key, "JWE encrypted key")?;
        let iv = b64::decode(iv, "JWE initialization vector")?;
        let ciphertext = b64::decode(ciphertext, "JWE ciphertext")?;
        let tag = b64::decode(tag, "JWE authentication tag")?;
        let mut last = None;
        for key in candidates {
            let opened = key_management::unwrap(
                header.alg,
                key.material(),
                &header,
                &encrypted_key,
                &self.policy,
            )
            .and_then(|cek| {
                content::decrypt(
                    header.enc,
                    &cek,
                    &iv,
                    header_b64.as_bytes(),
                    &ciphertext,
                    &tag,
                )
            });
            match opened {
                Ok(plaintext) => {
                    return Ok(Decrypted {
                        header,
                        plaintext: plaintext.to_vec(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(content::failed))
    }

    /// The keys that may open a JWE with this header: algorithm and content encryption first (refused by name),
    /// then `kid`.
    fn candidates(&self, header: &JweHeader) -> Result<Vec<&DecryptionKey>> {
        let by_alg: Vec<&DecryptionKey> = self
            .keys
            .iter()
            .filter(|k| k.algorithm() == header.alg)
            .collect();
        if by_alg.is_empty() {
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
        let by_enc: Vec<&DecryptionKey> = by_alg
            .into_iter()
            .filter(|k| {
                self.encs.contains(&header.enc)
                    && k.direct_encryption().is_none_or(|e| e == header.enc)
            })
            .collect();
        if by_enc.is_empty() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!(
                    "JWE enc {} is not allowed with alg {}",
                    header.enc, header.alg
                ),
            ));
        }
        let by_kid: Vec<&DecryptionKey> = by_enc
            .into_iter()
            .filter(|k| match (k.kid(), header.kid.as_deref()) {
                (Some(mine), Some(theirs)) => mine == theirs,
                _ => true,
            })
            .collect();
        if by_kid.is_empty() {
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                "no decryption key has the JWE's kid",
            ));
        }
        Ok(by_kid)
    }
}

/// Splits a compact JWE into its five segments; a JWS (three) is refused by name.
fn split(token: &str) -> Result<[&str; 5]> {
    let mut parts = token.splitn(6, '.');
    if let (Some(a), Some(b), Some(c), Some(d), Some(e), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        return Ok([a, b, c, d, e]);
    }
    let segments = token.split('.').count();
    Err(Error::malformed(if token.is_empty() {
        "token is empty".to_owned()
    } else if segments == 3 {
        "this is a JWS (3 segments), not a JWE; it must be verified, not decrypted".to_owned()
    } else {
        format!("a compact JWE has 5 segments separated by '.', this has {segments}")
    }))
}
