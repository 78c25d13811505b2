//! `POST api/verify`: `waxseal verify` for the page — the same key readers, the same rules
//! ([`crate::commands::verify::Rules`]), the same hints — answering why a token is refused with the core's code.
//!
//! A JWK Set URL or an issuer is fetched by this process through `waxseal-remote`, with its bounds unchanged: https
//! only (http only to loopback), a 5 s timeout, 512 KiB and 100 keys at most. Each request fetches afresh: a
//! developer editing the issuer's keys sees the change at once, and nothing outlives the request.

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use waxseal::KeySet;
use waxseal::jwt::{Claims, Verifier, decode_unverified};
use waxseal_remote::{ErrorKind, Issuer, RemoteKeySet, RemoteVerifier};

use super::keys::{self, KeyInput, KeyProblem};
use super::{ApiError, body, json_response};
use crate::commands::verify::{KeysSeen, Rules, kids};
use crate::{keyfile, time};

/// The leeway on exp and nbf when the request gives none: `waxseal verify`'s default.
const DEFAULT_LEEWAY: u64 = 60;

#[derive(Deserialize)]
struct VerifyRequest {
    token: String,
    key: KeyInput,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    leeway: Option<u64>,
}

pub(super) async fn handle(headers: HeaderMap, bytes: Bytes) -> Response {
    let request = match body::<VerifyRequest>(&headers, &bytes) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    match verify(&request).await {
        Ok(answer) => json_response(&answer),
        Err(e) => e.into_response(),
    }
}

fn given(text: Option<&String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

async fn verify(request: &VerifyRequest) -> Result<Value, ApiError> {
    let token = super::decode::strip(&request.token);
    let header = decode_unverified(token).ok().map(|d| d.header);
    let text = |name: &str| {
        header
            .as_ref()
            .and_then(|h| h.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (alg, kid) = (text("alg"), text("kid"));
    let rules = Rules {
        narrow: Vec::new(),
        issuers: given(request.issuer.as_ref()).into_iter().collect(),
        audiences: given(request.audience.as_ref()).into_iter().collect(),
        leeway: request.leeway.unwrap_or(DEFAULT_LEEWAY),
        required: Vec::new(),
        typ: given(request.typ.as_ref()),
        now: time::now(),
    };
    let key = &request.key;
    let (verdict, key_source) = match key.format.as_str() {
        "secret" | "secret_base64url" | "pem" | "certificate" | "jwk" | "jwks" => {
            match local(key) {
                Ok((set, source)) => {
                    let seen = seen(&set, &source, None);
                    let verdict = rules.apply(Verifier::new(set)).verify::<Value>(token);
                    (verdict.map_err(|e| refusal(&e, &seen)), source)
                }
                Err(problem) => (Err(problem), keys::name(&key.format).to_owned()),
            }
        }
        "jwks_url" | "issuer" => remote(key, token, rules).await,
        other => {
            return Err(ApiError::bad_request(
                "key_format",
                format!(
                    "unknown key format {}: use secret, secret_base64url, pem, certificate, jwk, jwks, jwks_url or issuer",
                    super::quoted(other)
                ),
            ));
        }
    };
    let (claims, error) = match verdict {
        Ok(claims) => (serde_json::to_value(&claims).ok(), Value::Null),
        Err(problem) => (
            None,
            json!({"code": problem.code, "message": problem.message}),
        ),
    };
    Ok(json!({
        "valid": error.is_null(),
        "alg": alg,
        "kid": kid,
        "claims": claims,
        "error": error,
        "key_source": key_source,
    }))
}

/// The keys of a pasted key and what to call them.
fn local(key: &KeyInput) -> Result<(KeySet, String), KeyProblem> {
    let invalid = |e: anyhow::Error| KeyProblem::new("ERR_KEY_INVALID", format!("{e:#}"));
    match key.format.as_str() {
        "secret" | "secret_base64url" => {
            let secret = keys::secret(key)?;
            let set = keyfile::secret_keys(&secret, &[]).map_err(invalid)?;
            let how = if key.format == "secret" {
                "UTF-8"
            } else {
                "base64url"
            };
            Ok((
                set,
                format!("an HMAC secret ({how}, {} bytes)", secret.len()),
            ))
        }
        "jwks" => {
            let set = keys::published_set(key)?;
            let source = format!("the JWK Set given ({} usable keys)", set.keys().len());
            Ok((set, source))
        }
        format => {
            let jwk = keys::jwk(key)?;
            let set = keyfile::jwk_keys(std::slice::from_ref(&jwk), &[]).map_err(invalid)?;
            let kid = jwk
                .kid
                .as_deref()
                .map(|k| format!(", kid {}", super::quoted(k)))
                .unwrap_or_default();
            Ok((
                set,
                format!("the {} given ({} key{kid})", keys::name(format), jwk.kty),
            ))
        }
    }
}

fn seen(set: &KeySet, what: &str, issuer: Option<String>) -> KeysSeen {
    KeysSeen {
        kids: kids(set),
        owner: format!("{what} has"),
        what: what.to_owned(),
        issuer,
    }
}

/// The core's refusal with the hint `waxseal verify` adds (the kids there are, the issuer required).
fn refusal(e: &waxseal::Error, seen: &KeysSeen) -> KeyProblem {
    KeyProblem::new(e.code(), format!("{e}{}", seen.hint(e)))
}

/// Fetches the keys (after discovery for an issuer) and verifies with them.
async fn remote(
    key: &KeyInput,
    token: &str,
    rules: Rules,
) -> (Result<Claims<Value>, KeyProblem>, String) {
    let url = key.value.trim();
    let (verifier, issuer) = if key.format == "issuer" {
        match Issuer::discover(url).await {
            Ok(issuer) => (issuer.verifier(), Some(url.to_owned())),
            Err(e) => return (Err(fetch_problem(&e)), format!("the issuer {url}")),
        }
    } else {
        match RemoteKeySet::new(url) {
            Ok(set) => (RemoteVerifier::new(set), None),
            Err(e) => return (Err(fetch_problem(&e)), format!("the JWK Set at {url}")),
        }
    };
    let what = format!("the JWK Set at {}", verifier.key_set().url());
    let source = match &issuer {
        Some(issuer) => format!("{what}, from the discovery document of {issuer}"),
        None => what.clone(),
    };
    let fetched = match verifier.key_set().keys().await {
        Ok(fetched) => fetched,
        Err(e) => return (Err(fetch_problem(&e)), source),
    };
    let seen = seen(&fetched.set, &what, issuer);
    let verdict = verifier
        .configure(move |v| rules.apply(v))
        .verify::<Value>(token)
        .await;
    let verdict = verdict.map_err(|e| match e.token_error() {
        Some(token_error) => refusal(token_error, &seen),
        None => fetch_problem(&e),
    });
    (verdict, source)
}

/// Why the keys could not be had. `waxseal-remote` has kinds, not codes; these follow the core's style.
fn fetch_problem(e: &waxseal_remote::Error) -> KeyProblem {
    let code = match e.kind() {
        ErrorKind::InsecureUrl => "ERR_REMOTE_URL",
        ErrorKind::Fetch => "ERR_REMOTE_FETCH",
        ErrorKind::LimitExceeded => "ERR_REMOTE_LIMIT",
        ErrorKind::InvalidDocument => "ERR_REMOTE_DOCUMENT",
        ErrorKind::IssuerMismatch => "ERR_REMOTE_ISSUER_MISMATCH",
        ErrorKind::Stale => "ERR_REMOTE_STALE",
        _ => "ERR_REMOTE",
    };
    KeyProblem::new(code, e.message().to_owned())
}
