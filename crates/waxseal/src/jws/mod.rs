//! JSON Web Signature (RFC 7515): compact and JSON serializations, detached and unencoded (RFC 7797) payloads.
//!
//! [`JwsVerifier`] is the one place signatures are checked. Its order of work is the security argument: bound the
//! size, split, parse the header strictly, check the algorithm against the keys (never the other way round),
//! refuse unknown `crit`, pick keys by `kid` and `alg`, verify, and only then decode the payload.

mod header;
mod serialization;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

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
    headers: Arc<HeaderCache>,
}

/// Headers already parsed and checked by this verifier, keyed by their exact base64url text. Tokens from one issuer
/// share a handful of headers (one per key), so most verifications skip decoding and parsing the header. Slots are
/// set once and read without locks; only headers of tokens whose signature verified are kept, so no one without a
/// trusted key can fill them. Any change to the verifier's configuration starts a fresh cache.
#[derive(Debug, Default)]
struct HeaderCache {
    slots: [OnceLock<(Box<str>, Header)>; 8],
}

impl HeaderCache {
    /// Longest header text worth caching; longer ones are parsed every time.
    const MAX_TEXT: usize = 512;

    fn get(&self, header_b64: &str) -> Option<&Header> {
        self.slots
            .iter()
            .map_while(OnceLock::get)
            .find(|(text, _)| &**text == header_b64)
            .map(|(_, h)| h)
    }

    fn offer(&self, header_b64: &str, header: &Header) {
        if header_b64.len() <= Self::MAX_TEXT
            && let Some(slot) = self.slots.iter().find(|s| s.get().is_none())
        {
            // Losing a race for the slot is fine: the header is just parsed again next time.
            let _ = slot.set((header_b64.into(), header.clone()));
        }
    }
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
            headers: Arc::default(),
        }
    }

    /// Narrows the allowed algorithms. It can only narrow: algorithms the keys were not built for stay refused.
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.headers = Arc::default();
        self.allowed = self
            .keys
            .algorithms()
            .intersection(algs.into_iter().collect());
        self
    }

    /// Accepts RFC 7797 unencoded payloads (`"b64":false` with `"crit":["b64"]`). Off by default.
    #[must_use]
    pub fn allow_unencoded_payload(mut self, allow: bool) -> Self {
        self.headers = Arc::default();
        self.allow_unencoded = allow;
        self
    }

    /// Declares critical header extensions the caller processes itself; tokens listing others in `crit` are refused.
    #[must_use]
    pub fn understood_crit(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.headers = Arc::default();
        self.understood_crit = names.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the input limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.headers = Arc::default();
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
        let (header, payload) = self.verify_compact_shared(token)?;
        Ok(Verified {
            header: header.into_owned(),
            payload,
        })
    }

    /// Verifies a compact JWS with a detached payload (`header..signature`, RFC 7515 appendix F).
    pub fn verify_detached(&self, token: &str, payload: &[u8]) -> Result<Header> {
        self.check_size(token.len())?;
        let (header_b64, payload_part, signature_b64) = split_compact(token)?;
        if !payload_part.is_empty() {
            return Err(Error::malformed(
                "a detached-payload JWS must have an empty payload segment",
            ));
        }
        let header = self.parse_protected(header_b64)?;
        let signature = b64::decode(signature_b64, "signature")?;
        let mut input = Vec::with_capacity(header_b64.len() + 1 + payload.len() * 4 / 3 + 4);
        input.extend_from_slice(header_b64.as_bytes());
        input.push(b'.');
        if header.b64 {
            input.extend_from_slice(b64::encode(payload).as_bytes());
        } else {
            input.extend_from_slice(payload);
        }
        self.check_signature(&header, &input, &signature)?;
        Ok(header)
    }

    /// [`JwsVerifier::verify_compact`], with the header borrowed from the cache when it is there: the JWT
    /// verifier's hot path.
    pub(crate) fn verify_compact_shared(&self, token: &str) -> Result<(Cow<'_, Header>, Vec<u8>)> {
        self.check_size(token.len())?;
        let (header_b64, payload_part, signature_b64) = split_compact(token)?;
        let (header, cached) = match self.headers.get(header_b64) {
            Some(header) => (Cow::Borrowed(header), true),
            None => (Cow::Owned(self.parse_protected(header_b64)?), false),
        };
        let mut signature = [0u8; MAX_SIGNATURE];
        let signature = b64::decode_into(signature_b64, &mut signature, "signature")?;
        if header.b64 {
            let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_part.len()];
            self.check_signature(&header, signing_input, signature)?;
            if !cached {
                self.headers.offer(header_b64, &header);
            }
            let payload = b64::decode(payload_part, "payload")?;
            Ok((header, payload))
        } else {
            let mut input = Vec::with_capacity(header_b64.len() + 1 + payload_part.len());
            input.extend_from_slice(header_b64.as_bytes());
            input.push(b'.');
            input.extend_from_slice(payload_part.as_bytes());
            self.check_signature(&header, &input, signature)?;
            Ok((header, payload_part.as_bytes().to_vec()))
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
        let header = Header::parse(
            b64::decode(header_b64, "header")?,
            self.limits.max_json_depth,
        )?;
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
        self.keys
            .verify(header.alg, header.kid.as_deref(), signing_input, signature)
    }
}

/// The longest signature of any supported algorithm: RSA with an 8192-bit modulus.
const MAX_SIGNATURE: usize = 1024;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::VerifyingKey;

    fn rsa_set() -> (SigningKey, KeySet) {
        let key = SigningKey::generate(Algorithm::RS256).unwrap();
        let jwk = crate::Jwk {
            alg: None,
            ..key.public_jwk().unwrap()
        };
        (key, KeySet::new(KeySet::expand(&jwk).unwrap()).unwrap())
    }

    #[test]
    fn header_cache_is_filled_only_by_tokens_whose_signature_verified() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let verifier = JwsVerifier::new(key.verifying_key().unwrap());
        let token = sign_compact(&key, &HeaderBuilder::new().typ("JWT"), b"x").unwrap();
        let header_b64 = token.split('.').next().unwrap();
        let forged = format!("{header_b64}.eA.{}", b64::encode([7u8; 64]));
        for _ in 0..3 {
            assert_eq!(
                verifier.verify_compact(&forged).unwrap_err().kind(),
                ErrorKind::InvalidSignature
            );
        }
        assert!(
            verifier.headers.get(header_b64).is_none(),
            "a forged token filled the cache"
        );
        verifier.verify_compact(&token).unwrap();
        assert!(verifier.headers.get(header_b64).is_some());
        // A cache hit still checks the signature of every token.
        assert_eq!(
            verifier.verify_compact(&forged).unwrap_err().kind(),
            ErrorKind::InvalidSignature
        );
        assert_eq!(verifier.verify_compact(&token).unwrap().payload, b"x");
    }

    #[test]
    fn header_cache_starts_afresh_when_the_configuration_changes() {
        let (key, set) = rsa_set();
        let verifier = JwsVerifier::new(set);
        let token = sign_compact(&key, &HeaderBuilder::new(), b"x").unwrap();
        verifier.verify_compact(&token).unwrap();
        // Narrowed to PS256 after the RS256 header was cached: the narrowing must hold.
        let narrowed = verifier.clone().algorithms([Algorithm::PS256]);
        assert_eq!(
            narrowed.verify_compact(&token).unwrap_err().kind(),
            ErrorKind::AlgorithmNotAllowed
        );
        let tiny = verifier.limits(Limits {
            max_json_depth: 0,
            ..Limits::default()
        });
        assert_eq!(
            tiny.verify_compact(&token).unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
    }

    #[test]
    fn header_cache_is_bounded() {
        let key = SigningKey::from_secret(&[3; 32], Algorithm::HS256).unwrap();
        let verifier = JwsVerifier::new(
            VerifyingKey::from_secret(&[3; 32], Algorithm::HS256)
                .unwrap()
                .with_kid("trusted"),
        );
        for i in 0..20 {
            let token =
                sign_compact(&key, &HeaderBuilder::new().kid(format!("k{i}")), b"x").unwrap();
            // Tokens name kids the set does not have: they fail, and never reach the cache.
            assert!(verifier.verify_compact(&token).is_err());
        }
        for i in 0..20 {
            let header = HeaderBuilder::new().member("n", i);
            verifier
                .verify_compact(&sign_compact(&key, &header, b"x").unwrap())
                .unwrap();
        }
        assert_eq!(
            verifier
                .headers
                .slots
                .iter()
                .filter(|s| s.get().is_some())
                .count(),
            8
        );
    }
}
