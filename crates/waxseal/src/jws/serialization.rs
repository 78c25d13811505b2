//! The JWS JSON serialization (RFC 7515 §7.2): general (several signatures) and flattened (one).

use serde_json::{Map, Value};

use super::{Header, HeaderBuilder, JwsVerifier};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::json;
use crate::keys::SigningKey;

/// A JWS JSON object at least one of whose signatures verified.
#[derive(Debug, Clone)]
pub struct VerifiedJson {
    /// The merged protected and unprotected header of the signature that verified.
    pub header: Header,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// Which signature verified (0 for the flattened form).
    pub signature_index: usize,
}

struct Signature<'a> {
    protected_b64: &'a str,
    header: Header,
    bytes: Vec<u8>,
}

fn string_member<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::malformed(format!(
            "JWS member \"{name}\" must be a string"
        ))),
    }
}

impl JwsVerifier {
    /// Verifies a JWS in JSON serialization, general or flattened. Signatures are tried in order; the first one
    /// made by a trusted key with an allowed algorithm is returned. Signatures this verifier has no key for are
    /// passed over; if none verifies, the error is the most specific one met.
    pub fn verify_json(&self, text: &str) -> Result<VerifiedJson> {
        self.verify_json_inner(text, None)
    }

    /// Verifies a JWS in JSON serialization whose payload is detached (no `payload` member).
    pub fn verify_json_detached(&self, text: &str, payload: &[u8]) -> Result<VerifiedJson> {
        self.verify_json_inner(text, Some(payload))
    }

    fn verify_json_inner(&self, text: &str, detached: Option<&[u8]>) -> Result<VerifiedJson> {
        self.check_size(text.len())?;
        let limits = self.limits_ref();
        let object = json::parse_object(text.as_bytes(), limits.max_json_depth, "JWS JSON")?;
        let payload_member = string_member(&object, "payload")?;
        let payload_part: &[u8] = match (payload_member, detached) {
            (Some(p), None) => p.as_bytes(),
            (None, Some(d)) => d,
            (None, None) => return Err(Error::malformed("JWS JSON has no \"payload\"")),
            (Some(_), Some(_)) => {
                return Err(Error::malformed(
                    "JWS JSON has a payload but a detached one was given",
                ));
            }
        };
        let entries: Vec<&Map<String, Value>> = match object.get("signatures") {
            Some(Value::Array(items)) => {
                if ["protected", "header", "signature"]
                    .iter()
                    .any(|m| object.contains_key(*m))
                {
                    return Err(Error::malformed(
                        "JWS JSON mixes the general and flattened forms",
                    ));
                }
                if items.is_empty() {
                    return Err(Error::malformed(
                        "JWS JSON has an empty \"signatures\" array",
                    ));
                }
                if items.len() > limits.max_signatures {
                    return Err(Error::limit(format!(
                        "JWS JSON has {} signatures; the limit is {}",
                        items.len(),
                        limits.max_signatures
                    )));
                }
                items
                    .iter()
                    .map(|v| {
                        v.as_object()
                            .ok_or_else(|| Error::malformed("each signature must be a JSON object"))
                    })
                    .collect::<Result<_>>()?
            }
            Some(_) => return Err(Error::malformed("\"signatures\" must be an array")),
            None => vec![&object],
        };
        let mut best: Option<Error> = None;
        for (index, entry) in entries.into_iter().enumerate() {
            let attempt = self.parse_signature(entry).and_then(|sig| {
                self.check_header(&sig.header)?;
                let input = signing_input(
                    sig.protected_b64,
                    payload_part,
                    sig.header.b64,
                    detached.is_some(),
                );
                self.check_signature(&sig.header, &input, &sig.bytes)?;
                Ok(sig.header)
            });
            match attempt {
                Ok(header) => {
                    let payload = if header.b64 && detached.is_none() {
                        b64::decode(payload_part, "payload")?
                    } else {
                        payload_part.to_vec()
                    };
                    return Ok(VerifiedJson {
                        header,
                        payload,
                        signature_index: index,
                    });
                }
                Err(e) => {
                    let rank = |k: ErrorKind| match k {
                        ErrorKind::KeyNotFound | ErrorKind::AlgorithmNotAllowed => 0,
                        _ => 1,
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
        Err(best
            .unwrap_or_else(|| Error::new(ErrorKind::InvalidSignature, "no signature verified")))
    }

    fn parse_signature<'a>(&self, entry: &'a Map<String, Value>) -> Result<Signature<'a>> {
        let protected_b64 = string_member(entry, "protected")?.unwrap_or("");
        let mut members = if protected_b64.is_empty() {
            Map::new()
        } else {
            let bytes = b64::decode(protected_b64, "protected header")?;
            json::parse_object(&bytes, self.limits_ref().max_json_depth, "protected header")?
        };
        let protected_names: Vec<String> = members.keys().cloned().collect();
        match entry.get("header") {
            None => {}
            Some(Value::Object(unprotected)) => {
                for (name, value) in unprotected {
                    if members.contains_key(name) {
                        return Err(Error::malformed(format!(
                            "header member {} is both protected and unprotected (RFC 7515 §7.2.1)",
                            crate::error::quote(name)
                        )));
                    }
                    members.insert(name.clone(), value.clone());
                }
            }
            Some(_) => {
                return Err(Error::malformed(
                    "unprotected \"header\" must be a JSON object",
                ));
            }
        }
        let header =
            Header::from_members(members, &|name| protected_names.iter().any(|p| p == name))?;
        let signature_b64 = string_member(entry, "signature")?
            .ok_or_else(|| Error::malformed("JWS JSON signature has no \"signature\""))?;
        Ok(Signature {
            protected_b64,
            header,
            bytes: b64::decode(signature_b64, "signature")?,
        })
    }
}

fn signing_input(protected_b64: &str, payload: &[u8], encode: bool, detached: bool) -> Vec<u8> {
    let mut input = Vec::with_capacity(protected_b64.len() + 1 + payload.len() * 2);
    input.extend_from_slice(protected_b64.as_bytes());
    input.push(b'.');
    if encode && detached {
        input.extend_from_slice(b64::encode(payload).as_bytes());
    } else {
        // Attached b64 payloads are already encoded; unencoded ones are used as they are.
        input.extend_from_slice(payload);
    }
    input
}

/// Builds a JWS in JSON serialization with one or more signatures.
///
/// ```
/// use waxseal::{Algorithm, SigningKey, jws};
/// let a = SigningKey::generate(Algorithm::ES256)?;
/// let b = SigningKey::generate(Algorithm::EdDSA)?;
/// let json = jws::JsonSigner::new(b"payload")
///     .sign(&a, &jws::HeaderBuilder::new(), None)?
///     .sign(&b, &jws::HeaderBuilder::new(), None)?
///     .general();
/// let verified = jws::JwsVerifier::new(b.verifying_key()?).verify_json(&json)?;
/// assert_eq!(verified.signature_index, 1);
/// # Ok::<(), waxseal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct JsonSigner {
    payload: Vec<u8>,
    unencoded: Option<bool>,
    signatures: Vec<Map<String, Value>>,
}

impl JsonSigner {
    /// Starts a JWS over `payload`.
    pub fn new(payload: &[u8]) -> Self {
        JsonSigner {
            payload: payload.to_vec(),
            unencoded: None,
            signatures: Vec::new(),
        }
    }

    /// Adds a signature by `key`: `protected` members go into the integrity-protected header, `unprotected` ones
    /// into the per-signature `header` object.
    pub fn sign(
        mut self,
        key: &SigningKey,
        protected: &HeaderBuilder,
        unprotected: Option<Map<String, Value>>,
    ) -> Result<Self> {
        if *self.unencoded.get_or_insert(protected.is_unencoded()) != protected.is_unencoded() {
            return Err(Error::malformed(
                "all signatures of one JWS must agree on b64",
            ));
        }
        let protected_json = protected.to_json(key.algorithm(), key.kid())?;
        let protected_b64 = b64::encode(&protected_json);
        let input = signing_input(
            &protected_b64,
            &self.payload,
            !protected.is_unencoded(),
            true,
        );
        let signature = key.sign(&input)?;
        let mut entry = Map::new();
        entry.insert("protected".into(), Value::String(protected_b64));
        if let Some(header) = unprotected {
            entry.insert("header".into(), Value::Object(header));
        }
        entry.insert("signature".into(), Value::String(b64::encode(signature)));
        self.signatures.push(entry);
        Ok(self)
    }

    fn payload_value(&self) -> Value {
        if self.unencoded == Some(true) {
            Value::String(String::from_utf8_lossy(&self.payload).into_owned())
        } else {
            Value::String(b64::encode(&self.payload))
        }
    }

    /// The general serialization: `{"payload", "signatures": [...]}`.
    pub fn general(&self) -> String {
        let mut object = Map::new();
        object.insert("payload".into(), self.payload_value());
        object.insert(
            "signatures".into(),
            Value::Array(self.signatures.iter().cloned().map(Value::Object).collect()),
        );
        Value::Object(object).to_string()
    }

    /// The flattened serialization of the first signature: `{"payload", "protected", "header"?, "signature"}`.
    pub fn flattened(&self) -> String {
        let mut object = self.signatures.first().cloned().unwrap_or_default();
        object.insert("payload".into(), self.payload_value());
        Value::Object(object).to_string()
    }
}
