//! The JWE JSON serialization on the way out: [`Encrypter::encrypt_json`] for one recipient with the compact
//! header, [`JsonEncrypter`] for several recipients, unprotected headers and `aad`. The rules it keeps are the
//! decrypter's ([`super::json`]): header members disjoint, `crit` and `zip` only protected.

use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::algorithms::ContentEncryption;
use super::compact::{Encrypter, Prepared, check_direct};
use super::compression;
use super::content;
use super::header::JweHeader;
use super::json::{Members, merge};
use super::key::EncryptionKey;
use super::key_management::{self, Source, WrapParams, random};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::json::{self, Limits};

/// Encrypts the content under `cek` and appends `aad`, `iv`, `ciphertext` and `tag` to `object`; the AAD is the
/// protected header's base64url text, then `.` and the `aad` member's (RFC 7516 §5.1 step 14).
fn seal(
    object: &mut Members,
    protected_b64: &str,
    aad: Option<&[u8]>,
    enc: ContentEncryption,
    cek: &[u8],
    iv: &[u8],
    plaintext: &[u8],
) -> Result<()> {
    let aad_b64 = aad.map(b64::encode);
    let full_aad = match &aad_b64 {
        Some(aad_b64) => format!("{protected_b64}.{aad_b64}"),
        None => protected_b64.to_owned(),
    };
    let sealed = content::encrypt(enc, cek, None, iv, full_aad.as_bytes(), plaintext)?;
    if let Some(aad_b64) = aad_b64 {
        object.insert("aad".into(), Value::String(aad_b64));
    }
    for (name, bytes) in [
        ("iv", iv),
        ("ciphertext", &sealed.ciphertext),
        ("tag", &sealed.tag),
    ] {
        object.insert(name.into(), Value::String(b64::encode(bytes)));
    }
    Ok(())
}

impl Encrypter<'_> {
    /// Encrypts `plaintext` into a flattened JSON JWE with the protected header [`Encrypter::encrypt_compact`]
    /// writes, and optional additional authenticated data: `aad` travels in the clear and is authenticated with
    /// the content, so it cannot be changed without the JWE failing to decrypt. For several recipients, or
    /// unprotected header members, see [`JsonEncrypter`].
    ///
    /// ```
    /// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
    ///
    /// let key = DecryptionKey::from_secret(&[7; 32], KeyManagement::A256KW)?;
    /// let json = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm)
    ///     .encrypt_json(b"the content", Some(b"the context"))?;
    /// let opened = Decrypter::new(key).decrypt_json(&json)?;
    /// assert_eq!(opened.plaintext, b"the content");
    /// assert_eq!(opened.aad.as_deref(), Some(&b"the context"[..]));
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    pub fn encrypt_json(&self, plaintext: &[u8], aad: Option<&[u8]>) -> Result<String> {
        let Prepared {
            header_json,
            wrapped,
            iv,
            plaintext,
        } = self.prepare(plaintext)?;
        let protected_b64 = b64::encode(header_json);
        let mut object = Map::new();
        object.insert("protected".into(), Value::String(protected_b64.clone()));
        if !wrapped.encrypted_key.is_empty() {
            object.insert(
                "encrypted_key".into(),
                Value::String(b64::encode(&wrapped.encrypted_key)),
            );
        }
        seal(
            &mut object,
            &protected_b64,
            aad,
            self.enc,
            wrapped.cek(self.key.material()),
            &iv,
            &plaintext,
        )?;
        Ok(Value::Object(object).to_string())
    }
}

/// Makes JWEs in JSON serialization for one or more recipients, each with its own [`EncryptionKey`], all sharing
/// one content encryption and one ciphertext.
///
/// The protected header holds `enc` (and `typ`, `cty`, `zip` when set); each recipient's header holds its `alg`,
/// `kid` and key-wrap parameters, plus any members given with [`JsonEncrypter::recipient_with_header`]. One random
/// content key is wrapped for every recipient, so `dir` (whose key *is* the content key) cannot be combined with
/// other recipients and is refused then; alone it is fine.
///
/// ```
/// use serde_json::json;
/// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, JsonEncrypter, KeyManagement};
///
/// let key = DecryptionKey::from_secret(&[3; 16], KeyManagement::A128GCMKW)?.with_kid("k1");
/// let encryption_key = key.encryption_key();
/// let shared = json!({"jku": "https://example.com/keys"}).as_object().cloned().unwrap_or_default();
/// let json = JsonEncrypter::new(ContentEncryption::A128CbcHs256)
///     .recipient(&encryption_key)
///     .unprotected(shared)
///     .cty("text/plain")
///     .encrypt_flattened(b"hello")?;
/// let opened = Decrypter::new(key).decrypt_json(&json)?;
/// assert_eq!(opened.plaintext, b"hello");
/// assert_eq!(opened.header.cty.as_deref(), Some("text/plain"));
/// assert!(opened.unprotected.contains_key("jku")); // kept for inspection, never followed
/// # Ok::<(), waxseal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct JsonEncrypter<'k> {
    enc: ContentEncryption,
    recipients: Vec<(&'k EncryptionKey, Members)>,
    typ: Option<String>,
    cty: Option<String>,
    unprotected: Members,
    aad: Option<Vec<u8>>,
    compress: bool,
}

impl<'k> JsonEncrypter<'k> {
    /// An encrypter for `enc`, with no recipient yet.
    pub fn new(enc: ContentEncryption) -> Self {
        JsonEncrypter {
            enc,
            recipients: Vec::new(),
            typ: None,
            cty: None,
            unprotected: Map::new(),
            aad: None,
            compress: false,
        }
    }

    /// Adds a recipient.
    #[must_use]
    pub fn recipient(self, key: &'k EncryptionKey) -> Self {
        self.recipient_with_header(key, Map::new())
    }

    /// Adds a recipient whose header also holds `header` (unprotected, so unauthenticated). Its members may not
    /// repeat any other header's, nor be `crit` or `zip`.
    #[must_use]
    pub fn recipient_with_header(mut self, key: &'k EncryptionKey, header: Members) -> Self {
        self.recipients.push((key, header));
        self
    }

    /// Sets `typ` in the protected header.
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Sets `cty` in the protected header.
    #[must_use]
    pub fn cty(mut self, cty: impl Into<String>) -> Self {
        self.cty = Some(cty.into());
        self
    }

    /// Sets the shared unprotected header (`unprotected`): members every recipient sees, unauthenticated. They may
    /// not repeat any other header's, nor be `crit` or `zip`.
    #[must_use]
    pub fn unprotected(mut self, header: Members) -> Self {
        self.unprotected = header;
        self
    }

    /// Sets additional authenticated data (`aad`): sent in the clear, authenticated with the content.
    #[must_use]
    pub fn aad(mut self, aad: impl Into<Vec<u8>>) -> Self {
        self.aad = Some(aad.into());
        self
    }

    /// Compresses the plaintext with DEFLATE first (`"zip":"DEF"` in the protected header); see
    /// [`Encrypter::compress`] for when not to.
    #[must_use]
    pub fn compress(mut self) -> Self {
        self.compress = true;
        self
    }

    /// The general serialization: `{"protected", "unprotected"?, "recipients": [{"header", "encrypted_key"}],
    /// "aad"?, "iv", "ciphertext", "tag"}`.
    pub fn encrypt_general(&self, plaintext: &[u8]) -> Result<String> {
        let (mut object, recipients, content) = self.build(plaintext)?;
        object.insert(
            "recipients".into(),
            Value::Array(recipients.into_iter().map(Value::Object).collect()),
        );
        object.extend(content);
        Ok(Value::Object(object).to_string())
    }

    /// The flattened serialization, for exactly one recipient: its `header` and `encrypted_key` at the top level.
    pub fn encrypt_flattened(&self, plaintext: &[u8]) -> Result<String> {
        if self.recipients.len() != 1 {
            return Err(Error::malformed(format!(
                "the flattened JSON serialization has one recipient, not {}; use encrypt_general",
                self.recipients.len()
            )));
        }
        let (mut object, recipients, content) = self.build(plaintext)?;
        for recipient in recipients {
            object.extend(recipient);
        }
        object.extend(content);
        Ok(Value::Object(object).to_string())
    }

    /// The members before the recipients (`protected`, `unprotected`), each recipient's, and those after them
    /// (`aad`, `iv`, `ciphertext`, `tag`).
    fn build(&self, plaintext: &[u8]) -> Result<(Members, Vec<Members>, Members)> {
        let enc = self.enc;
        if self.recipients.is_empty() {
            return Err(Error::malformed("a JWE needs at least one recipient"));
        }
        let mut protected = Map::new();
        protected.insert("enc".into(), Value::String(enc.name().into()));
        for (name, value) in [("typ", &self.typ), ("cty", &self.cty)] {
            if let Some(value) = value {
                protected.insert(name.into(), Value::String(value.clone()));
            }
        }
        if self.compress {
            protected.insert("zip".into(), Value::String("DEF".into()));
        }
        let mut shared = protected.clone();
        merge(
            &mut shared,
            &self.unprotected,
            "the shared unprotected header",
        )?;
        // One recipient: key management chooses the content key (or, for dir, is it). Several: one content key,
        // chosen here, wrapped for each.
        let given = if self.recipients.len() == 1 {
            None
        } else {
            Some(random(enc.key_len())?)
        };
        let source = given
            .as_deref()
            .map_or(Source::Random, |c| Source::Given(c));
        let mut cek = None;
        let mut entries = Vec::with_capacity(self.recipients.len());
        for (key, extra) in &self.recipients {
            let alg = key.algorithm();
            check_direct(key, enc)?;
            let wrapped =
                key_management::wrap(alg, enc, key.material(), &source, &WrapParams::default())?;
            if let Some(given) = &given
                && !bool::from(wrapped.cek(key.material()).ct_eq(given.as_slice()))
            {
                return Err(Error::new(
                    ErrorKind::AlgorithmNotAllowed,
                    format!(
                        "{alg} derives the content key itself, so it cannot share one with other recipients; \
                         encrypt to this key alone"
                    ),
                ));
            }
            let mut header = Map::new();
            header.insert("alg".into(), Value::String(alg.name().into()));
            if let Some(kid) = key.kid() {
                header.insert("kid".into(), Value::String(kid.into()));
            }
            for (name, value) in &wrapped.header {
                header.insert((*name).into(), value.clone());
            }
            let mut own = Map::new();
            merge(&mut own, &header, "a recipient's header")?;
            merge(&mut own, extra, "a recipient's header")?;
            merge(&mut shared.clone(), &own, "a recipient's header")?;
            let mut entry = Map::new();
            entry.insert("header".into(), Value::Object(own));
            if !wrapped.encrypted_key.is_empty() {
                entry.insert(
                    "encrypted_key".into(),
                    Value::String(b64::encode(&wrapped.encrypted_key)),
                );
            }
            entries.push(entry);
            cek.get_or_insert_with(|| Zeroizing::new(wrapped.cek(key.material()).to_vec()));
        }
        let cek = given
            .or(cek)
            .ok_or_else(|| Error::malformed("a JWE needs at least one recipient"))?;
        let plaintext = if self.compress {
            compression::deflate(plaintext)
        } else {
            plaintext.to_vec()
        };
        let protected_b64 = b64::encode(Value::Object(protected).to_string());
        let mut object = Map::new();
        object.insert("protected".into(), Value::String(protected_b64.clone()));
        if !self.unprotected.is_empty() {
            object.insert(
                "unprotected".into(),
                Value::Object(self.unprotected.clone()),
            );
        }
        let mut content = Map::new();
        seal(
            &mut content,
            &protected_b64,
            self.aad.as_deref(),
            enc,
            &cek,
            &random(enc.iv_len())?,
            &plaintext,
        )?;
        Ok((object, entries, content))
    }
}

/// Encrypts into the general JSON serialization with a protected header given as exact JSON bytes (empty for none),
/// each recipient's header given as members, and a given content key and IV. For fixtures that must be the same JWE
/// in every run (the fuzz targets', tests); never use fixed randomness otherwise.
///
/// Each recipient's joint header (protected and its own) must name its key's `alg` and the one `enc` of all, and
/// hold the key wrap's parameters as [`encrypt_compact_reproducible`](super::encrypt_compact_reproducible) reads
/// them: the AES-GCM key wrap's `iv` and the `tag` it will produce, PBES2's `p2s` and `p2c`. Key management that
/// chooses the content key itself (`dir`, ECDH-ES) must come out with `cek` or is refused; an ECDH-ES ephemeral
/// private key is not taken. A shared `unprotected` header is not authenticated, so it is the caller's to add.
#[doc(hidden)]
pub fn encrypt_json_reproducible(
    protected_json: &[u8],
    recipients: &[(&EncryptionKey, Members)],
    cek: &[u8],
    iv: &[u8],
    aad: Option<&[u8]>,
    plaintext: &[u8],
) -> Result<String> {
    let protected = if protected_json.is_empty() {
        Map::new()
    } else {
        json::parse_object(
            protected_json,
            Limits::default().max_json_depth,
            "JWE protected header",
        )?
    };
    let mut enc = None;
    let mut entries = Vec::with_capacity(recipients.len());
    for (key, own) in recipients {
        let mut joint = protected.clone();
        merge(&mut joint, own, "a recipient's header")?;
        let header = JweHeader::from_members(joint)?;
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
        if *enc.get_or_insert(header.enc) != header.enc {
            return Err(Error::malformed(
                "the recipients' headers differ in \"enc\"",
            ));
        }
        check_direct(key, header.enc)?;
        let source = Source::Fixed {
            header: &header,
            cek,
        };
        let wrapped = key_management::wrap(
            header.alg,
            header.enc,
            key.material(),
            &source,
            &WrapParams::default(),
        )?;
        if wrapped.cek(key.material()) != cek {
            return Err(Error::malformed(format!(
                "{} chooses the content key itself, and not the one given",
                header.alg
            )));
        }
        for (name, value) in &wrapped.header {
            if header.get(name) != Some(value) {
                return Err(Error::malformed(format!(
                    "header member \"{name}\" is not what the key wrap produced"
                )));
            }
        }
        let mut entry = Map::new();
        if !own.is_empty() {
            entry.insert("header".into(), Value::Object(own.clone()));
        }
        if !wrapped.encrypted_key.is_empty() {
            entry.insert(
                "encrypted_key".into(),
                Value::String(b64::encode(&wrapped.encrypted_key)),
            );
        }
        entries.push(Value::Object(entry));
    }
    let enc = enc.ok_or_else(|| Error::malformed("a JWE needs at least one recipient"))?;
    let protected_b64 = b64::encode(protected_json);
    let mut object = Map::new();
    if !protected_b64.is_empty() {
        object.insert("protected".into(), Value::String(protected_b64.clone()));
    }
    object.insert("recipients".into(), Value::Array(entries));
    seal(&mut object, &protected_b64, aad, enc, cek, iv, plaintext)?;
    Ok(Value::Object(object).to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jwe::{Decrypter, DecryptionKey, KeyManagement};

    fn members(value: &Value) -> Members {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reproducible_json_is_the_same_every_time_and_opens_for_each_recipient() {
        let alice = DecryptionKey::from_secret(&[1; 16], KeyManagement::A128KW).unwrap();
        let bob = DecryptionKey::from_secret(&[2; 32], KeyManagement::A256GCMKW).unwrap();
        let cek = [9u8; 32];
        let kw_iv = [4u8; 12];
        let (_, tag) = super::super::primitives::aes_gcm_seal(&[2; 32], &kw_iv, b"", &cek).unwrap();
        let (to_alice, to_bob) = (alice.encryption_key(), bob.encryption_key());
        let recipients = [
            (&to_alice, members(&json!({"alg": "A128KW"}))),
            (
                &to_bob,
                members(
                    &json!({"alg": "A256GCMKW", "iv": b64::encode(kw_iv), "tag": b64::encode(&tag)}),
                ),
            ),
        ];
        let make = || {
            encrypt_json_reproducible(
                br#"{"enc":"A256GCM"}"#,
                &recipients,
                &cek,
                &[5; 12],
                Some(b"context"),
                b"for both",
            )
            .unwrap()
        };
        let json = make();
        assert_eq!(json, make());
        for (index, key) in [(0, alice), (1, bob)] {
            let opened = Decrypter::new(key).decrypt_json(&json).unwrap();
            assert_eq!(
                (opened.recipient, opened.plaintext.as_slice()),
                (index, &b"for both"[..])
            );
            assert_eq!(opened.aad.as_deref(), Some(&b"context"[..]));
        }
    }

    #[test]
    fn reproducible_json_refuses_a_header_the_key_does_not_fit() {
        let key = DecryptionKey::from_secret(&[1; 16], KeyManagement::A128KW).unwrap();
        let to = key.encryption_key();
        let wrong_alg = [(&to, members(&json!({"alg": "A256KW"})))];
        assert!(
            encrypt_json_reproducible(
                br#"{"enc":"A128GCM"}"#,
                &wrong_alg,
                &[0; 16],
                &[0; 12],
                None,
                b""
            )
            .is_err()
        );
        let twice = [(&to, members(&json!({"alg": "A128KW", "enc": "A128GCM"})))];
        assert!(
            encrypt_json_reproducible(
                br#"{"enc":"A128GCM"}"#,
                &twice,
                &[0; 16],
                &[0; 12],
                None,
                b""
            )
            .is_err(),
            "a member in two headers"
        );
    }
}
