//! The JWE compact serialization (RFC 7516 §7.1), `header.encrypted_key.iv.ciphertext.tag`, on the way out; the way
//! in is [`Decrypter::decrypt_compact`](super::Decrypter::decrypt_compact).

use std::borrow::Cow;

use aws_lc_rs::aead;
use serde_json::Value;

use super::algorithms::ContentEncryption;
use super::compression;
use super::content;
use super::header::JweHeader;
use super::key::EncryptionKey;
use super::key_management::{self, Source, WrapParams, Wrapped};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::json::Limits;

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
    pub(super) key: &'k EncryptionKey,
    pub(super) enc: ContentEncryption,
    typ: Option<String>,
    cty: Option<String>,
    compress: bool,
    pub(super) params: WrapParams,
}

impl<'k> Encrypter<'k> {
    /// An encrypter with `key` and `enc`.
    pub fn new(key: &'k EncryptionKey, enc: ContentEncryption) -> Self {
        Encrypter {
            key,
            enc,
            typ: None,
            cty: None,
            compress: false,
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

    /// Sets the PBES2 iteration count (`p2c`) for a PBES2 key; ignored for other keys. The default is
    /// [`PBES2_DEFAULT_COUNT`](crate::jwe::PBES2_DEFAULT_COUNT) (10,000); below 1000 encryption is refused. Its
    /// recipients must allow at least this count ([`Decrypter::allow_pbes2`](super::Decrypter::allow_pbes2)), or
    /// none can open the token.
    #[must_use]
    pub fn pbes2_count(mut self, count: u32) -> Self {
        self.params.pbes2_count = count;
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

    /// Compresses the plaintext with DEFLATE before encrypting it (`"zip":"DEF"`, RFC 7516 §4.1.3). Worth it for
    /// large, repetitive plaintext only; the recipient must have allowed compression
    /// ([`Decrypter::allow_compression`](super::Decrypter::allow_compression)). Compressing secrets next to
    /// attacker-chosen text leaks them through the length (CRIME, BREACH): compress only what no attacker adds to.
    #[must_use]
    pub fn compress(mut self) -> Self {
        self.compress = true;
        self
    }

    /// Encrypts `plaintext` into a compact JWE: `alg`, `enc`, then `typ`, `kid`, `cty`, `zip` and the key wrap's
    /// parameters in the protected header.
    pub fn encrypt_compact(&self, plaintext: &[u8]) -> Result<String> {
        let Prepared {
            header_json,
            wrapped,
            iv,
            plaintext,
        } = self.prepare(plaintext)?;
        assemble(
            header_json.as_bytes(),
            &wrapped.encrypted_key,
            self.enc,
            (
                wrapped.cek(self.key.material()),
                self.key.material().direct_gcm(),
            ),
            &iv,
            &plaintext,
        )
    }

    /// The protected header, the wrapped content key, a fresh IV and the (compressed) plaintext of one JWE.
    pub(super) fn prepare<'p>(&self, plaintext: &'p [u8]) -> Result<Prepared<'p>> {
        let (alg, enc) = (self.key.algorithm(), self.enc);
        check_direct(self.key, enc)?;
        let party_given = !self.params.apu.is_empty() || !self.params.apv.is_empty();
        if party_given && !alg.is_ecdh() {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!("agreement party information (apu, apv) is for ECDH-ES, not {alg}"),
            ));
        }
        let iv = Iv::fresh(enc.iv_len())?;
        let wrapped =
            key_management::wrap(alg, enc, self.key.material(), &Source::Random, &self.params)?;
        // Written straight out, member by member: no map to build, hash and walk for every token.
        let mut header = HeaderWriter::default();
        header.string("alg", alg.name());
        header.string("enc", enc.name());
        for (name, value) in [
            ("typ", self.typ.as_deref()),
            ("kid", self.key.kid()),
            ("cty", self.cty.as_deref()),
            ("zip", self.compress.then_some("DEF")),
        ] {
            if let Some(value) = value {
                header.string(name, value);
            }
        }
        for (name, value) in &wrapped.header {
            header.value(name, value);
        }
        let plaintext = if self.compress {
            Cow::Owned(compression::deflate(plaintext))
        } else {
            Cow::Borrowed(plaintext)
        };
        Ok(Prepared {
            header_json: header.finish(),
            wrapped,
            iv,
            plaintext,
        })
    }
}

/// A JSON object written member by member; the encrypter's member names are distinct by construction.
struct HeaderWriter(String);

impl Default for HeaderWriter {
    /// Room for a usual header (`alg`, `enc`, `kid`, `cty`, a key wrap's members) at once: growing the buffer
    /// member by member cost more than writing them.
    fn default() -> Self {
        HeaderWriter(String::with_capacity(256))
    }
}

impl HeaderWriter {
    fn name(&mut self, name: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.str(name);
        self.0.push(':');
    }

    fn string(&mut self, name: &str, value: &str) {
        self.name(name);
        self.str(value);
    }

    /// A JSON string. Names, algorithm names and most key ids are printable ASCII with nothing to escape, written
    /// as they are; anything else goes through serde_json's escaping.
    fn str(&mut self, text: &str) {
        if text
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            self.0.push('"');
            self.0.push_str(text);
            self.0.push('"');
        } else {
            self.json(&text);
        }
    }

    fn value(&mut self, name: &str, value: &Value) {
        self.name(name);
        self.json(value);
    }

    /// Anything serde_json writes; a `&str` or a `Value` always serializes.
    fn json(&mut self, value: &impl serde::Serialize) {
        if let Ok(text) = serde_json::to_string(value) {
            self.0.push_str(&text);
        }
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A fresh content-encryption IV (12 bytes for AES-GCM, 16 for AES-CBC). Public once sent, so kept on the stack and
/// not wiped.
pub(super) struct Iv {
    bytes: [u8; 16],
    len: usize,
}

impl Iv {
    fn fresh(len: usize) -> Result<Iv> {
        let mut bytes = [0u8; 16];
        let random = bytes
            .get_mut(..len)
            .ok_or_else(|| Error::new(ErrorKind::Crypto, "no IV is longer than 16 bytes"))?;
        aws_lc_rs::rand::fill(random)
            .map_err(|_| Error::new(ErrorKind::Crypto, "the random generator failed"))?;
        Ok(Iv { bytes, len })
    }
}

impl std::ops::Deref for Iv {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// One JWE ready to be sealed: its protected header, wrapped content key, fresh IV and (compressed) plaintext.
pub(super) struct Prepared<'p> {
    pub(super) header_json: String,
    pub(super) wrapped: Wrapped,
    pub(super) iv: Iv,
    pub(super) plaintext: Cow<'p, [u8]>,
}

pub(super) fn check_direct(key: &EncryptionKey, enc: ContentEncryption) -> Result<()> {
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
    (cek, schedule): (&[u8], Option<&aead::LessSafeKey>),
    iv: &[u8],
    plaintext: &[u8],
) -> Result<String> {
    let mut out = b64::encode(header_json);
    let sealed = content::encrypt(enc, cek, schedule, iv, out.as_bytes(), plaintext)?;
    for segment in [encrypted_key, iv, &sealed.ciphertext, &sealed.tag] {
        out.push('.');
        b64::encode_into(segment, &mut out);
    }
    Ok(out)
}

/// Encrypts with a protected header given as exact JSON bytes and a given content key and IV (the AES-GCM key
/// wrap's IV is read from the header's `iv`, and its `tag` must come out as the header says). For reproducing
/// published examples byte for byte in tests; never use fixed randomness otherwise.
#[doc(hidden)]
pub fn encrypt_compact_reproducible(
    key: &EncryptionKey,
    header_json: &[u8],
    cek: &[u8],
    iv: &[u8],
    plaintext: &[u8],
) -> Result<String> {
    let header = JweHeader::parse(header_json.to_vec(), Limits::default().max_json_depth)?;
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
        (wrapped.cek(key.material()), None),
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

/// Splits a compact JWE into its five segments; a JWS (three) is refused by name.
pub(super) fn split(token: &str) -> Result<[&str; 5]> {
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
