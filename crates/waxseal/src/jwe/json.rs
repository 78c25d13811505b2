//! The JWE JSON serialization (RFC 7516 §7.2): general (`recipients`, one encrypted key each) and flattened (one
//! recipient, its `header` and `encrypted_key` at the top level).
//!
//! The JSON form adds what the compact one cannot carry, and each addition is a place to be strict:
//!
//! * **Three headers, one namespace.** The protected header, the shared `unprotected` header and each recipient's
//!   `header` are merged into the joint header the recipient is decrypted with; a name in two of them is refused
//!   (RFC 7516 §7.2.1), so no parser has to pick one. `crit` and `zip` change how the content is read, so they
//!   count only when authenticated: outside the protected header they are refused.
//! * **Unauthenticated headers choose keys, never outcomes.** `alg`, `enc` and `kid` may come from an unprotected
//!   header; changing them can only make a key not fit or not unwrap. `aad` and the protected header are
//!   authenticated with the content: the AAD is `BASE64URL(protected) || '.' || BASE64URL(aad)`.
//! * **Bounded work.** The text is bounded by [`Limits::max_token_bytes`](crate::Limits) and the recipients by
//!   [`Limits::max_recipients`](crate::Limits), checked before any key is used; a recipient whose header fits no
//!   key is passed over without cryptography.
//!
//! Unknown top-level members are ignored, as the JWS JSON parser ignores them (they are still read strictly: no
//! duplicates, bounded depth); a JWS in JSON serialization (`payload`, `signatures`) is refused by name.

use serde_json::{Map, Value};

use super::content;
use super::decrypter::{Content, Decrypted, Decrypter};
use super::header::JweHeader;
use crate::b64;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::json;

/// Members only the protected header may hold, and where that is said.
const PROTECTED_ONLY: [(&str, &str); 2] =
    [("crit", "RFC 7515 §4.1.11"), ("zip", "RFC 7516 §4.1.3")];

pub(super) type Members = Map<String, Value>;

fn string_member<'a>(object: &'a Members, name: &str) -> Result<Option<&'a str>> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::malformed(format!(
            "JWE JSON member \"{name}\" must be a string"
        ))),
    }
}

fn binary_member(object: &Members, name: &str) -> Result<Vec<u8>> {
    let text = string_member(object, name)?
        .ok_or_else(|| Error::malformed(format!("JWE JSON has no \"{name}\"")))?;
    b64::decode(text, &format!("JWE JSON member \"{name}\""))
}

fn header_member<'a>(object: &'a Members, name: &str) -> Result<Option<&'a Members>> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::Object(members)) => Ok(Some(members)),
        Some(_) => Err(Error::malformed(format!(
            "JWE JSON member \"{name}\" must be a JSON object"
        ))),
    }
}

/// Adds the members of an unprotected header (`what`) to `joint`, refusing a name `joint` already has and the
/// members only the protected header may hold.
pub(super) fn merge(joint: &mut Members, more: &Members, what: &str) -> Result<()> {
    for (name, value) in more {
        if let Some((_, section)) = PROTECTED_ONLY.iter().find(|(n, _)| n == name) {
            return Err(Error::malformed(format!(
                "\"{name}\" must be in the protected header ({section}), not in {what}"
            )));
        }
        if joint.contains_key(name) {
            return Err(Error::malformed(format!(
                "header member {} is in more than one of the protected, shared unprotected and recipient \
                 headers (RFC 7516 §7.2.1)",
                quote(name)
            )));
        }
        joint.insert(name.clone(), value.clone());
    }
    Ok(())
}

/// The recipient entries: the `recipients` array of the general form (bounded by `max`), or the object itself
/// for the flattened form.
fn entries(object: &Members, max: usize) -> Result<Vec<&Members>> {
    match object.get("recipients") {
        Some(Value::Array(items)) => {
            if ["header", "encrypted_key"]
                .iter()
                .any(|m| object.contains_key(*m))
            {
                return Err(Error::malformed(
                    "JWE JSON mixes the general and flattened forms",
                ));
            }
            if items.is_empty() {
                return Err(Error::malformed(
                    "JWE JSON has an empty \"recipients\" array",
                ));
            }
            if items.len() > max {
                return Err(Error::limit(format!(
                    "JWE JSON has {} recipients; the limit is {max}",
                    items.len()
                )));
            }
            items
                .iter()
                .map(|v| {
                    v.as_object()
                        .ok_or_else(|| Error::malformed("each recipient must be a JSON object"))
                })
                .collect()
        }
        Some(_) => Err(Error::malformed("\"recipients\" must be an array")),
        None => Ok(vec![object]),
    }
}

/// One recipient, structurally checked: its own header, the joint header it is decrypted with, its encrypted key.
struct Recipient<'a> {
    header: Option<&'a Members>,
    joint: Members,
    encrypted_key: Vec<u8>,
}

impl Decrypter {
    /// Decrypts a JWE in JSON serialization, general or flattened, and says which recipient opened it.
    ///
    /// The whole object is checked before any key is used: its size, the number of recipients, that no header
    /// member is in two headers, that `crit` and `zip` are protected. Then the recipients are tried in order; one
    /// whose joint header fits none of this decrypter's keys (by `alg`, `enc`, `kid`) is passed over, and the
    /// first that decrypts is returned. If none does, the error is the most specific one met: a recipient whose
    /// key fit but did not open it says [`ErrorKind::DecryptionFailed`].
    ///
    /// ```
    /// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, JsonEncrypter, KeyManagement};
    ///
    /// let alice = DecryptionKey::from_secret(&[1; 16], KeyManagement::A128KW)?.with_kid("alice");
    /// let bob = DecryptionKey::from_secret(&[2; 32], KeyManagement::A256GCMKW)?.with_kid("bob");
    /// let (to_alice, to_bob) = (alice.encryption_key(), bob.encryption_key());
    /// let json = JsonEncrypter::new(ContentEncryption::A256Gcm)
    ///     .recipient(&to_alice)
    ///     .recipient(&to_bob)
    ///     .aad(b"order 42")
    ///     .encrypt_general(b"for both of you")?;
    ///
    /// let opened = Decrypter::new(bob).decrypt_json(&json)?;
    /// assert_eq!(opened.plaintext, b"for both of you");
    /// assert_eq!((opened.recipient, opened.header.kid.as_deref()), (1, Some("bob")));
    /// assert_eq!(opened.aad.as_deref(), Some(&b"order 42"[..]));
    /// assert!(opened.is_protected("enc") && !opened.is_protected("kid"));
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    pub fn decrypt_json(&self, text: &str) -> Result<Decrypted> {
        self.check_size(text.len())?;
        let object = json::parse_object(text.as_bytes(), self.limits.max_json_depth, "JWE JSON")?;
        if ["payload", "signatures", "signature"]
            .iter()
            .any(|m| object.contains_key(*m))
        {
            return Err(Error::malformed(
                "this is a JWS in JSON serialization (it has a payload and signatures), not a JWE; it must be \
                 verified, not decrypted",
            ));
        }
        if !object.contains_key("ciphertext") {
            return Err(Error::malformed("JWE JSON has no \"ciphertext\""));
        }
        let entries = entries(&object, self.limits.max_recipients)?;
        let protected_b64 = string_member(&object, "protected")?.unwrap_or("");
        let mut shared = if protected_b64.is_empty() {
            Map::new()
        } else {
            let bytes = b64::decode(protected_b64, "JWE protected header")?;
            json::parse_object(&bytes, self.limits.max_json_depth, "JWE protected header")?
        };
        let unprotected = header_member(&object, "unprotected")?;
        if let Some(unprotected) = unprotected {
            merge(&mut shared, unprotected, "the shared unprotected header")?;
        }
        let recipients = entries
            .into_iter()
            .map(|entry| {
                let header = header_member(entry, "header")?;
                let mut joint = shared.clone();
                if let Some(header) = header {
                    merge(&mut joint, header, "a recipient's header")?;
                }
                let encrypted_key = string_member(entry, "encrypted_key")?.unwrap_or("");
                Ok(Recipient {
                    header,
                    joint,
                    encrypted_key: b64::decode(encrypted_key, "JWE encrypted key")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let aad_b64 = string_member(&object, "aad")?;
        let aad = aad_b64.map(|a| b64::decode(a, "JWE aad")).transpose()?;
        let iv = binary_member(&object, "iv")?;
        let ciphertext = binary_member(&object, "ciphertext")?;
        let tag = binary_member(&object, "tag")?;
        let full_aad = match aad_b64 {
            Some(aad_b64) => format!("{protected_b64}.{aad_b64}"),
            None => protected_b64.to_owned(),
        };
        let content = Content {
            aad: full_aad.as_bytes(),
            iv: &iv,
            ciphertext: &ciphertext,
            tag: &tag,
        };
        let mut best: Option<Error> = None;
        for (index, recipient) in recipients.into_iter().enumerate() {
            let attempt = JweHeader::from_members(recipient.joint).and_then(|header| {
                let candidates = self.check_header(&header)?;
                let (plaintext, key) =
                    self.open(&header, candidates, &recipient.encrypted_key, &content)?;
                Ok((header, plaintext, key))
            });
            match attempt {
                Ok((header, plaintext, key)) => {
                    return Ok(Decrypted {
                        plaintext: self.decompress(&header, plaintext)?,
                        header,
                        recipient: index,
                        key,
                        aad,
                        unprotected: unprotected.cloned().unwrap_or_default(),
                        recipient_header: recipient.header.cloned().unwrap_or_default(),
                    });
                }
                Err(e) => {
                    // Least telling first: a recipient with an algorithm not implemented here, then one for
                    // another key; a recipient whose key fit but did not open it says the most.
                    let rank = |k: ErrorKind| match k {
                        ErrorKind::UnsupportedAlgorithm => 0,
                        ErrorKind::KeyNotFound | ErrorKind::AlgorithmNotAllowed => 1,
                        _ => 2,
                    };
                    if best
                        .as_ref()
                        .is_none_or(|b| rank(e.kind()) > rank(b.kind()))
                    {
                        best = Some(e);
                    }
                }
            }
        }
        Err(best.unwrap_or_else(content::failed))
    }
}
