//! JSON Web Signature (RFC 7515): compact and JSON serializations, detached and unencoded (RFC 7797) payloads.
//!
//! [`JwsVerifier`] is the one place signatures are checked. Its order of work is the security argument: bound the
//! size, split, parse the header strictly, check the algorithm against the keys (never the other way round),
//! refuse unknown `crit`, pick keys by `kid` and `alg`, verify, and only then decode the payload.

mod header;
mod serialization;

use crate::alg::{Algorithm, AlgorithmSet};
use crate::b64;
use crate::error::{Error, ErrorKind, Result};
use crate::json::{self, Limits};
use crate::jwk::KeySet;
use crate::keys::SigningKey;

pub use header::{Header, HeaderBuilder};
pub use serialization::{JsonSigner, VerifiedJson};

/// A JWS whose signature was verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The header.
    pub header: Header,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Verifies JWS objects with a fixed set of keys. Build once, use for every token.
#[derive(Debug, Clone)]
pub struct JwsVerifier {
    keys: KeySet,
    allowed: AlgorithmSet,
    understood_crit: Vec<String>,
    allow_unencoded: bool,
    limits: Limits,
}

impl JwsVerifier {
    /// A verifier trusting `keys`, allowing exactly the algorithms those keys were built for.
    pub fn new(keys: impl Into<KeySet>) -> Self {
        let keys = keys.into();
        let allowed = keys.algorithms();
        JwsVerifier {
            keys,
            allowed,
            understood_crit: Vec::new(),
            allow_unencoded: false,
            limits: Limits::default(),
        }
    }

    /// Narrows the allowed algorithms. It can only narrow: algorithms the keys were not built for stay refused.
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.allowed = self
            .keys
            .algorithms()
            .intersection(algs.into_iter().collect());
        self
    }

    /// Accepts RFC 7797 unencoded payloads (`"b64":false` with `"crit":["b64"]`). Off by default.
    #[must_use]
    pub fn allow_unencoded_payload(mut self, allow: bool) -> Self {
        self.allow_unencoded = allow;
        self
    }

    /// Declares critical header extensions the caller processes itself; tokens listing others in `crit` are refused.
    #[must_use]
    pub fn understood_crit(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.understood_crit = names.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the input limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The algorithms this verifier accepts.
    pub fn allowed_algorithms(&self) -> AlgorithmSet {
        self.allowed
    }

    pub(crate) fn limits_ref(&self) -> &Limits {
        &self.limits
    }

    /// Verifies a compact JWS (`header.payload.signature`) and returns its header and payload.
    pub fn verify_compact(&self, token: &str) -> Result<Verified> {
        self.verify_compact_inner(token, None)
    }

    /// Verifies a compact JWS with a detached payload (`header..signature`, RFC 7515 appendix F).
    pub fn verify_detached(&self, token: &str, payload: &[u8]) -> Result<Header> {
        self.verify_compact_inner(token, Some(payload))
            .map(|v| v.header)
    }

    fn verify_compact_inner(&self, token: &str, detached: Option<&[u8]>) -> Result<Verified> {
        self.check_size(token.len())?;
        let (header_b64, payload_part, signature_b64) = split_compact(token)?;
        let header = self.parse_protected(header_b64)?;
        let signature = b64::decode(signature_b64, "signature")?;
        if detached.is_some() && !payload_part.is_empty() {
            return Err(Error::malformed(
                "a detached-payload JWS must have an empty payload segment",
            ));
        }
        let payload_bytes = detached.unwrap_or(payload_part.as_bytes());
        let signing_input_end = header_b64.len() + 1 + payload_part.len();
        if header.b64 {
            if detached.is_some() {
                let mut input =
                    Vec::with_capacity(header_b64.len() + 1 + payload_bytes.len() * 4 / 3 + 4);
                input.extend_from_slice(header_b64.as_bytes());
                input.push(b'.');
                input.extend_from_slice(b64::encode(payload_bytes).as_bytes());
                self.check_signature(&header, &input, &signature)?;
                return Ok(Verified {
                    header,
                    payload: payload_bytes.to_vec(),
                });
            }
            self.check_signature(&header, &token.as_bytes()[..signing_input_end], &signature)?;
            let payload = b64::decode(payload_part, "payload")?;
            Ok(Verified { header, payload })
        } else {
            let mut input = Vec::with_capacity(header_b64.len() + 1 + payload_bytes.len());
            input.extend_from_slice(header_b64.as_bytes());
            input.push(b'.');
            input.extend_from_slice(payload_bytes);
            self.check_signature(&header, &input, &signature)?;
            Ok(Verified {
                header,
                payload: payload_bytes.to_vec(),
            })
        }
    }

    pub(crate) fn check_size(&self, len: usize) -> Result<()> {
        if len > self.limits.max_token_bytes {
            return Err(Error::limit(format!(
                "token is {len} bytes; the limit is {} bytes",
                self.limits.max_token_bytes
            )));
        }
        Ok(())
    }

    fn parse_protected(&self, header_b64: &str) -> Result<Header> {
        if header_b64.is_empty() {
            return Err(Error::malformed("token has an empty header segment"));
        }
        let bytes = b64::decode(header_b64, "header")?;
        let members = json::parse_object(&bytes, self.limits.max_json_depth, "header")?;
        let header = Header::from_members(members, &|_| true)?;
        self.check_header(&header)?;
        Ok(header)
    }

    /// Algorithm and `crit` checks, before any key is touched.
    pub(crate) fn check_header(&self, header: &Header) -> Result<()> {
        if !self.allowed.contains(header.alg) {
            return Err(Error::new(
                ErrorKind::AlgorithmNotAllowed,
                format!(
                    "token alg {} is not allowed; this verifier accepts {}",
                    header.alg, self.allowed
                ),
            ));
        }
        header.check_crit(&self.understood_crit, self.allow_unencoded)
    }

    /// Tries the candidate keys for this header; the first that verifies wins.
    pub(crate) fn check_signature(
        &self,
        header: &Header,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        if signature.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidSignature,
                "token has no signature",
            ));
        }
        let candidates = self.keys.candidates(header.alg, header.kid.as_deref())?;
        let mut last = None;
        for key in candidates {
            match key.verify(signing_input, signature) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| Error::new(ErrorKind::InvalidSignature, "signature does not match")))
    }
}

/// Splits a compact JWS into its three segments, naming the problem when there are not exactly three.
pub(crate) fn split_compact(token: &str) -> Result<(&str, &str, &str)> {
    let mut parts = token.splitn(4, '.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let segments = token.split('.').count();
        return Err(Error::malformed(if token.is_empty() {
            "token is empty".to_owned()
        } else if segments == 5 {
            "this is a JWE (5 segments), not a JWS; it must be decrypted, not verified".to_owned()
        } else {
            format!("a compact JWS has 3 segments separated by '.', this has {segments}")
        }));
    };
    Ok((h, p, s))
}

/// Signs `payload` as a compact JWS with `key`; `header` adds `typ`, `kid`, `cty` and custom members.
///
/// ```
/// use waxseal::{Algorithm, SigningKey, jws};
/// let key = SigningKey::generate(Algorithm::ES256)?;
/// let token = jws::sign_compact(&key, &jws::HeaderBuilder::new(), b"hello")?;
/// let verified = jws::JwsVerifier::new(key.verifying_key()?).verify_compact(&token)?;
/// assert_eq!(verified.payload, b"hello");
/// # Ok::<(), waxseal::Error>(())
/// ```
pub fn sign_compact(key: &SigningKey, header: &HeaderBuilder, payload: &[u8]) -> Result<String> {
    let header_json = header.to_json(key.algorithm(), key.kid())?;
    sign_compact_with_header_json(key, header_json.as_bytes(), payload)
}

/// Signs `payload` with a protected header given as exact JSON bytes (which must name the key's `alg`). For
/// reproducing published examples byte for byte; prefer [`sign_compact`].
pub fn sign_compact_with_header_json(
    key: &SigningKey,
    header_json: &[u8],
    payload: &[u8],
) -> Result<String> {
    let members = json::parse_object(header_json, Limits::default().max_json_depth, "header")?;
    let header = Header::from_members(members, &|_| true)?;
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
    let mut out = String::with_capacity(header_json.len() * 4 / 3 + payload.len() * 4 / 3 + 400);
    b64::encode_into(header_json, &mut out);
    out.push('.');
    if header.b64 {
        b64::encode_into(payload, &mut out);
    } else {
        let text = std::str::from_utf8(payload)
            .ok()
            .filter(|t| !t.contains('.'))
            .ok_or_else(|| {
                Error::malformed(
                    "an unencoded compact payload must be UTF-8 without '.'; detach it",
                )
            })?;
        out.push_str(text);
    }
    let signature = key.sign(out.as_bytes())?;
    out.push('.');
    b64::encode_into(signature, &mut out);
    Ok(out)
}
