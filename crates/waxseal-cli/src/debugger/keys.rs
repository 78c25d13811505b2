//! Keys as the user pastes them, for verifying and signing. The text is wiped from memory when dropped and never
//! appears in `Debug` or a message: errors name the format and what is wrong, not the material.

use serde::Deserialize;
use waxseal::{Jwk, Limits};
use zeroize::{Zeroize, Zeroizing};

/// `{"format", "value"}` of a request.
#[derive(Deserialize)]
pub(super) struct KeyInput {
    pub(super) format: String,
    pub(super) value: String,
}

impl Drop for KeyInput {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl std::fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyInput({}, {} bytes)", self.format, self.value.len())
    }
}

/// Why a pasted key cannot be used: a stable code (the core's when it has one) and a message.
#[derive(Debug)]
pub(super) struct KeyProblem {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl KeyProblem {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> Self {
        KeyProblem {
            code,
            message: message.into(),
        }
    }

    fn core(format: &str, e: &waxseal::Error) -> Self {
        KeyProblem::new(
            e.code(),
            format!("the {} cannot be used: {}", name(format), e.message()),
        )
    }
}

/// What the page calls each format, for messages.
pub(super) fn name(format: &str) -> &'static str {
    match format {
        "secret" => "secret",
        "secret_base64url" => "base64url secret",
        "pem" => "PEM key",
        "certificate" => "certificate",
        "jwk" => "JWK",
        "jwks" => "JWK Set",
        "jwks_url" => "JWK Set URL",
        "issuer" => "issuer URL",
        _ => "key",
    }
}

/// The bytes of an HMAC secret: the text as UTF-8, or decoded from base64url (padding and spaces around tolerated,
/// since people paste them; the bytes themselves strictly decoded).
pub(super) fn secret(input: &KeyInput) -> Result<Zeroizing<Vec<u8>>, KeyProblem> {
    let bytes = match input.format.as_str() {
        "secret" => Zeroizing::new(input.value.as_bytes().to_vec()),
        _ => {
            let text = input.value.trim().trim_end_matches('=');
            Zeroizing::new(
                waxseal::b64::decode(text, "secret")
                    .map_err(|e| KeyProblem::core("secret_base64url", &e))?,
            )
        }
    };
    if bytes.is_empty() {
        return Err(KeyProblem::new(
            "ERR_KEY_INVALID",
            "the secret is empty: paste the HMAC secret",
        ));
    }
    Ok(bytes)
}

/// The one JWK of a PEM key, a certificate or a JWK.
pub(super) fn jwk(input: &KeyInput) -> Result<Jwk, KeyProblem> {
    let text = input.value.trim();
    match input.format.as_str() {
        "pem" | "certificate" => {
            if !text.contains("-----BEGIN") {
                return Err(KeyProblem::new(
                    "ERR_KEY_INVALID",
                    format!(
                        "the {} is not PEM: paste it with its -----BEGIN …----- and -----END …----- lines",
                        name(&input.format)
                    ),
                ));
            }
            Jwk::from_pem(text).map_err(|e| KeyProblem::core(&input.format, &e))
        }
        _ => {
            if serde_json::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| v.get("keys").is_some())
            {
                return Err(KeyProblem::new(
                    "ERR_KEY_INVALID",
                    "this is a JWK Set, not a single JWK: choose the JWK Set format",
                ));
            }
            Jwk::from_json(text).map_err(|e| KeyProblem::core("jwk", &e))
        }
    }
}

/// The verifying keys of a pasted JWK Set, read as a published document: private and secret keys in it are
/// ignored, as `waxseal verify --jwks` does.
pub(super) fn published_set(input: &KeyInput) -> Result<waxseal::KeySet, KeyProblem> {
    waxseal::KeySet::from_published_jwks(input.value.trim(), &Limits::default())
        .map_err(|e| KeyProblem::core("jwks", &e))
}
