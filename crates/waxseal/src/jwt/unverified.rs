//! Reading a token without verifying it, for inspectors and debuggers. Nothing here may decide access.

use serde_json::{Map, Value};

use crate::b64;
use crate::error::{Error, Result};
use crate::json::{self, Limits};

/// A token read without any verification: its signature has not been checked and its claims not validated.
#[derive(Debug, Clone)]
pub struct UnverifiedToken {
    /// The (protected) header members, as sent.
    pub header: Map<String, Value>,
    /// The claims, when the payload is a JSON object (`None` for a JWE or a non-JSON payload).
    pub claims: Option<Map<String, Value>>,
    /// The payload bytes (empty for a JWE, whose payload is encrypted).
    pub payload: Vec<u8>,
    /// The signature bytes (empty for a JWE).
    pub signature: Vec<u8>,
    /// True for a compact JWE (five segments).
    pub is_jwe: bool,
}

/// Decodes a compact JWS or JWE **without verifying anything**. Strict base64url and JSON rules still apply, so what
/// this shows is what a verifier would see. Never use the result to grant access; use [`crate::jwt::Verifier`].
pub fn decode_unverified(token: &str) -> Result<UnverifiedToken> {
    decode_unverified_with_limits(token, &Limits::default())
}

/// [`decode_unverified`] with other bounds: an inspector may want to show a token larger than a verifier would
/// accept (and say so), rather than refuse to show it at all.
pub fn decode_unverified_with_limits(token: &str, limits: &Limits) -> Result<UnverifiedToken> {
    if token.len() > limits.max_token_bytes {
        return Err(Error::limit(format!(
            "token is {} bytes; the limit is {}",
            token.len(),
            limits.max_token_bytes
        )));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let header_of = |segment: &str| -> Result<Map<String, Value>> {
        json::parse_object(
            &b64::decode(segment, "header")?,
            limits.max_json_depth,
            "header",
        )
    };
    match parts.as_slice() {
        [h, p, s] => {
            let header = header_of(h)?;
            let unencoded = header.get("b64") == Some(&Value::Bool(false));
            let payload = if unencoded {
                p.as_bytes().to_vec()
            } else {
                b64::decode(p, "payload")?
            };
            let claims = json::parse_object(&payload, limits.max_json_depth, "claims").ok();
            Ok(UnverifiedToken {
                header,
                claims,
                payload,
                signature: b64::decode(s, "signature")?,
                is_jwe: false,
            })
        }
        [h, _, _, _, _] => Ok(UnverifiedToken {
            header: header_of(h)?,
            claims: None,
            payload: Vec::new(),
            signature: Vec::new(),
            is_jwe: true,
        }),
        _ => Err(Error::malformed(format!(
            "a compact token has 3 (JWS) or 5 (JWE) segments separated by '.', this has {}",
            parts.len()
        ))),
    }
}
