//! `POST api/sign` and `POST api/keygen`: `waxseal sign` and `waxseal keygen` for the page. The key comes in the
//! request and goes out of memory with it; nothing is stored or logged.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use waxseal::jws::HeaderBuilder;
use waxseal::jwt::Signer;
use waxseal::{Algorithm, SigningKey};
use zeroize::Zeroizing;

use super::keys::{self, KeyInput, KeyProblem};
use super::{ApiError, body, json_response};
use crate::keyfile;

#[derive(Deserialize)]
struct SignRequest {
    #[serde(default)]
    header: Map<String, Value>,
    claims: Map<String, Value>,
    alg: String,
    key: KeyInput,
}

#[derive(Deserialize)]
struct KeygenRequest {
    alg: String,
}

fn algorithm(name: &str) -> Result<Algorithm, ApiError> {
    Algorithm::from_name(name.trim()).map_err(|e| {
        ApiError::bad_request(
            e.code(),
            format!("alg {}: {}", super::quoted(name), e.message()),
        )
    })
}

fn key_error(problem: KeyProblem) -> ApiError {
    ApiError::bad_request(problem.code, problem.message)
}

pub(super) async fn sign(headers: HeaderMap, bytes: Bytes) -> Response {
    let request = match body::<SignRequest>(&headers, &bytes) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    // RSA signing takes a millisecond or so; not worth the blocking pool.
    match signed(&request) {
        Ok(token) => json_response(&json!({"token": token})),
        Err(e) => e.into_response(),
    }
}

fn signed(request: &SignRequest) -> Result<String, ApiError> {
    let alg = algorithm(&request.alg)?;
    let key = signing_key(&request.key, alg)?;
    let mut header = HeaderBuilder::new();
    for (name, value) in &request.header {
        match (name.as_str(), value) {
            // The algorithm is the request's `alg`: one given in the header too must agree.
            ("alg", Value::String(a)) if a == alg.name() => {}
            ("alg", _) => {
                return Err(ApiError::bad_request(
                    "header_alg",
                    format!(
                        "the header's alg differs from the algorithm chosen ({alg}); remove it from the header"
                    ),
                ));
            }
            ("typ", Value::String(typ)) => header = header.typ(typ),
            ("kid", Value::String(kid)) => header = header.kid(kid),
            ("cty", Value::String(cty)) => header = header.cty(cty),
            _ => header = header.member(name.clone(), value.clone()),
        }
    }
    let signer = Signer::with_header(&key, &header)
        .map_err(|e| ApiError::bad_request(e.code(), e.message().to_owned()))?;
    signer
        .sign(&request.claims)
        .map_err(|e| ApiError::bad_request(e.code(), e.message().to_owned()))
}

fn signing_key(input: &KeyInput, alg: Algorithm) -> Result<SigningKey, ApiError> {
    match input.format.as_str() {
        "secret" | "secret_base64url" => {
            let secret = keys::secret(input).map_err(key_error)?;
            SigningKey::from_secret(&secret, alg)
                .map_err(|e| ApiError::bad_request(e.code(), e.message().to_owned()))
        }
        "pem" | "jwk" => {
            let jwk = keys::jwk(input).map_err(key_error)?;
            keyfile::private_signing_key(
                &jwk,
                alg,
                &format!("the {} given", keys::name(&input.format)),
            )
            .map_err(|e| ApiError::bad_request("ERR_KEY_INVALID", format!("{e:#}")))
        }
        other => Err(ApiError::bad_request(
            "key_format",
            format!(
                "cannot sign with a key of format {}: use secret, secret_base64url, pem or jwk",
                super::quoted(other)
            ),
        )),
    }
}

pub(super) async fn keygen(headers: HeaderMap, bytes: Bytes) -> Response {
    let request = match body::<KeygenRequest>(&headers, &bytes) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let alg = match algorithm(&request.alg) {
        Ok(alg) => alg,
        Err(e) => return e.into_response(),
    };
    // RSA key generation takes up to a second: off the async workers.
    match tokio::task::spawn_blocking(move || generate(alg)).await {
        Ok(Ok(answer)) => json_response(&answer),
        Ok(Err(e)) => e.into_response(),
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "keygen_failed",
            "key generation stopped unexpectedly; try again",
        )
        .into_response(),
    }
}

fn generate(alg: Algorithm) -> Result<Value, ApiError> {
    let core = |e: waxseal::Error| ApiError::bad_request(e.code(), e.message().to_owned());
    let key = SigningKey::generate(alg).map_err(core)?;
    let private = serde_json::to_value(key.to_jwk().map_err(core)?).unwrap_or(Value::Null);
    let public = if alg.is_symmetric() {
        // A shared secret has no public half: whoever verifies holds the same key.
        private.clone()
    } else {
        serde_json::to_value(key.public_jwk().map_err(core)?).unwrap_or(Value::Null)
    };
    let pem = if alg.is_symmetric() {
        None
    } else {
        Some(Zeroizing::new(key.to_pem().map_err(core)?))
    };
    Ok(
        json!({"private_jwk": private, "public_jwk": public, "private_pem": pem.as_deref().map(String::as_str)}),
    )
}
