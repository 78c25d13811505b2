//! `POST api/decrypt`: `waxseal decrypt` for the page — the same key readers, the core's decrypter — answering a
//! key that does not open the JWE with `ok: false` and the core's code, and showing a nested JWT's header and claims
//! (decoded, not verified: the page offers to verify it next).
//!
//! A key without `alg` (a PEM key, a secret, a JWK without one) and no `alg` in the request is tried with every
//! key-management algorithm it fits, as `verify` tries every HMAC algorithm a secret fits: the algorithms come from
//! the key, never from the token's header.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use waxseal::Jwk;
use waxseal::jwe::{DEFAULT_MAX_DECOMPRESSED, Decrypter, DecryptionKey, PBES2_DEFAULT_COUNT};
use waxseal::jwt::decode_unverified;
use zeroize::Zeroizing;

use super::keys::{self, KeyInput, KeyProblem};
use super::{ApiError, body, json_response};
use crate::commands::jwe_keys::every_fitting;
use crate::keyfile;

#[derive(Deserialize)]
struct DecryptRequest {
    token: String,
    key: KeyInput,
    #[serde(default)]
    alg: Option<String>,
}

pub(super) async fn handle(headers: HeaderMap, bytes: Bytes) -> Response {
    let request = match body::<DecryptRequest>(&headers, &bytes) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    match decrypt(&request) {
        Ok(answer) => json_response(&answer),
        Err(e) => e.into_response(),
    }
}

fn decrypt(request: &DecryptRequest) -> Result<Value, ApiError> {
    let token = super::decode::strip(&request.token);
    let alg = request
        .alg
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let keys = match keys_of(&request.key, alg)? {
        Ok(keys) => keys,
        Err(problem) => return Ok(refused(token, &problem)),
    };
    // The page opens what the user pasted with their own key: PBES2 and compression are allowed, within the
    // library's default bounds (p2c up to 10,000, 250 kB inflated), so a hostile paste still costs little.
    let decrypter = Decrypter::with_keys(keys)
        .allow_pbes2(PBES2_DEFAULT_COUNT)
        .allow_compression(DEFAULT_MAX_DECOMPRESSED);
    let opened = match decrypter.decrypt_compact(token) {
        Ok(opened) => opened,
        Err(e) => {
            let hint = if token.split('.').count() == 3 {
                ": use Verify for a signed token"
            } else {
                ""
            };
            return Ok(refused(
                token,
                &KeyProblem::new(e.code(), format!("{}{hint}", e.message())),
            ));
        }
    };
    let text = std::str::from_utf8(&opened.plaintext).ok();
    let nested = text
        .and_then(|t| decode_unverified(t.trim()).ok())
        .filter(|d| !d.is_jwe)
        .map(|d| json!({"kind": "jws", "header": d.header, "claims": d.claims}));
    Ok(json!({
        "ok": true,
        "header": Value::Object(opened.header.members().clone()),
        "plaintext": text,
        "plaintext_b64": if text.is_none() { Some(waxseal::b64::encode(&opened.plaintext)) } else { None },
        "nested": nested,
        "error": null,
    }))
}

/// The answer for a JWE the key does not open (or a key that cannot be used): the header when it can be read.
fn refused(token: &str, problem: &KeyProblem) -> Value {
    let header = decode_unverified(token)
        .ok()
        .filter(|d| d.is_jwe)
        .map(|d| Value::Object(d.header));
    json!({
        "ok": false,
        "header": header,
        "plaintext": null,
        "plaintext_b64": null,
        "nested": null,
        "error": {"code": problem.code, "message": problem.message},
    })
}

/// The decryption keys of a pasted key; the outer error is a request the page never sends (unknown format).
fn keys_of(
    key: &KeyInput,
    alg: Option<&str>,
) -> Result<Result<Vec<DecryptionKey>, KeyProblem>, ApiError> {
    let invalid = |e: anyhow::Error| KeyProblem::new("ERR_KEY_INVALID", format!("{e:#}"));
    let jwks: Vec<Jwk> = match key.format.as_str() {
        "secret" | "secret_base64url" => match keys::secret(key) {
            Ok(secret) => {
                let k = Zeroizing::new(waxseal::b64::encode(&*secret));
                vec![Jwk {
                    kty: "oct".into(),
                    k: Some(k.to_string()),
                    ..Jwk::default()
                }]
            }
            Err(problem) => return Ok(Err(problem)),
        },
        "jwk" | "pem" => match keys::jwk(key) {
            Ok(jwk) => vec![jwk],
            Err(problem) => return Ok(Err(problem)),
        },
        "jwks" => match keyfile::parse_keys(key.value.trim().as_bytes()) {
            Ok(jwks) => jwks,
            Err(e) => return Ok(Err(invalid(e))),
        },
        other => {
            return Err(ApiError::bad_request(
                "key_format",
                format!(
                    "unknown key format {} for decryption: use jwk, jwks, secret, secret_base64url or pem",
                    super::quoted(other)
                ),
            ));
        }
    };
    let mut keys = Vec::new();
    let mut first_problem = None;
    for jwk in &jwks {
        match every_fitting::<DecryptionKey>(jwk, alg) {
            Ok(found) => keys.extend(found),
            Err(e) => {
                first_problem.get_or_insert(e);
            }
        }
    }
    if keys.is_empty() {
        let why = first_problem.map_or_else(
            || "no JWE algorithm fits it".to_owned(),
            |e| format!("{e:#}"),
        );
        return Ok(Err(KeyProblem::new(
            "ERR_KEY_INVALID",
            format!("the {} cannot decrypt: {why}", keys::name(&key.format)),
        )));
    }
    Ok(Ok(keys))
}
