//! `POST api/decode`: what `waxseal decode` shows, as JSON for the page, on every keystroke. Never fails on the token
//! itself: whatever was typed, the answer is a 200 that says what it is (`malformed` with the reason, at worst).

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use waxseal::Limits;
use waxseal::jwt::decode_unverified_with_limits;

use super::{MAX_BODY_BYTES, body, json_response};
use crate::commands::decode::{dpop, warnings};
use crate::time;

/// A lifetime (exp − iat) above this is called long; the same bound `waxseal lint` uses for a long-lived token.
const LONG_LIFETIME: u64 = 24 * 3_600;

#[derive(Deserialize)]
struct DecodeRequest {
    token: String,
}

pub(super) async fn handle(headers: HeaderMap, bytes: Bytes) -> Response {
    match body::<DecodeRequest>(&headers, &bytes) {
        Ok(request) => json_response(&decode(&request.token, time::now())),
        Err(e) => e.into_response(),
    }
}

/// The token as the page shows it. Public to the module's tests and the timing check.
pub(super) fn decode(raw: &str, now: u64) -> Value {
    let token = strip(raw);
    let segments: Vec<&str> = token.split('.').collect();
    // Shown even when larger than a verifier accepts (64 KiB): the body limit bounds it.
    let limits = Limits {
        max_token_bytes: MAX_BODY_BYTES,
        ..Limits::default()
    };
    let decoded = match decode_unverified_with_limits(token, &limits) {
        Ok(decoded) => decoded,
        Err(e) => {
            let message = if token.is_empty() {
                "paste a token: three (JWS) or five (JWE) base64url parts separated by dots"
                    .to_owned()
            } else {
                e.message().to_owned()
            };
            return json!({
                "kind": "malformed",
                "segments": segments,
                "header": null,
                "claims": null,
                "payload_text": null,
                "claim_notes": [],
                "timeline": {"iat": null, "nbf": null, "exp": null, "now": now},
                "warnings": [],
                "dpop": null,
                "error": {"code": e.code(), "message": message},
            });
        }
    };
    let alg = decoded.header.get("alg").and_then(Value::as_str);
    let kind = if decoded.is_jwe {
        "jwe"
    } else if alg.is_some_and(|a| a.eq_ignore_ascii_case("none")) {
        "unsecured"
    } else {
        "jws"
    };
    let claims = decoded.claims.as_ref();
    let time_of = |name: &str| claims.and_then(|c| c.get(name)).and_then(Value::as_u64);
    let mut found: Vec<Value> = warnings(&decoded.header, claims, decoded.is_jwe, now)
        .into_iter()
        .map(|(code, message)| {
            let (code, severity) = match code {
                "alg_none" => ("alg_none", "error"),
                // jku/x5u fetch keys, jwk/x5c carry them: either way the key would come from the token's author.
                "key_in_header" => ("remote_key_header", "warning"),
                "not_jwt" => ("not_jwt", "info"),
                "expired" | "not_yet_valid" => (code, "info"),
                other => (other, "warning"),
            };
            json!({"code": code, "severity": severity, "message": message})
        })
        .collect();
    if let (Some(exp), Some(start)) = (time_of("exp"), time_of("iat").or(time_of("nbf")))
        && exp.saturating_sub(start) > LONG_LIFETIME
    {
        found.push(json!({
            "code": "long_lifetime",
            "severity": "warning",
            "message": format!(
                "the token lives {} (exp − iat): a stolen copy stays useful that long; prefer minutes with refresh",
                time::span(exp - start)
            ),
        }));
    }
    let payload_text = (!decoded.is_jwe && claims.is_none())
        .then(|| String::from_utf8_lossy(&decoded.payload).into_owned());
    json!({
        "kind": kind,
        "segments": segments,
        "header": decoded.header,
        "claims": claims,
        "payload_text": payload_text,
        "claim_notes": claims.map(|c| notes(c, now)).unwrap_or_default(),
        "timeline": {"iat": time_of("iat"), "nbf": time_of("nbf"), "exp": time_of("exp"), "now": now},
        "warnings": found,
        "dpop": dpop(token, &decoded, now),
        "error": null,
    })
}

/// The token without surrounding space or an `Authorization`-style `Bearer ` prefix, as `waxseal decode` reads it.
pub(super) fn strip(raw: &str) -> &str {
    let trimmed = raw.trim();
    match trimmed.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => trimmed,
    }
}

/// One line per registered claim present: what it means, and for times the date and how far from now.
fn notes(claims: &Map<String, Value>, now: u64) -> Vec<Value> {
    const MEANINGS: [(&str, &str); 10] = [
        ("iss", "Issuer: who made and signed the token"),
        ("sub", "Subject: whom the token is about"),
        ("aud", "Audience: who may accept the token"),
        ("exp", "Expires"),
        ("nbf", "Not valid before"),
        ("iat", "Issued at"),
        ("jti", "JWT ID: a unique id, to refuse replays or revoke"),
        ("auth_time", "Authenticated at"),
        (
            "azp",
            "Authorized party: the client the token was issued to",
        ),
        ("nonce", "Nonce: ties an ID token to the sign-in request"),
    ];
    MEANINGS
        .iter()
        .filter_map(|(claim, meaning)| {
            let value = claims.get(*claim)?;
            let is_time = crate::commands::decode::TIME_CLAIMS.contains(claim);
            Some(match (is_time, value.as_u64()) {
                (true, Some(secs)) => json!({
                    "claim": claim,
                    "text": format!("{meaning}: {} ({})", time::utc(secs), time::relative(secs, now)),
                    "time": secs,
                }),
                (true, None) => json!({
                    "claim": claim,
                    "text": format!("{meaning}: not a NumericDate (seconds since 1970), so verifiers refuse it"),
                    "time": null,
                }),
                (false, _) => json!({"claim": claim, "text": meaning, "time": null}),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anything_typed_decodes_to_an_answer() {
        for input in [
            "",
            ".",
            "..",
            "a.b.c",
            "eyJ.eyJ.x",
            "🦀",
            "a.b.c.d.e",
            "Bearer",
            "x".repeat(70_000).as_str(),
        ] {
            let out = decode(input, 0);
            assert!(out["kind"].is_string(), "{input:.20}");
        }
        let out = decode("a.b", 0);
        assert_eq!(out["kind"], "malformed");
        assert_eq!(out["error"]["code"], "ERR_MALFORMED");
    }

    #[test]
    fn unsecured_tokens_are_called_so() {
        let header = waxseal::b64::encode(br#"{"alg":"none"}"#);
        let claims = waxseal::b64::encode(br#"{"sub":"a","iat":0,"exp":999999}"#);
        let out = decode(&format!("{header}.{claims}."), 10);
        assert_eq!(out["kind"], "unsecured");
        let codes: Vec<&str> = out["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["code"].as_str())
            .collect();
        assert!(codes.contains(&"alg_none"), "{codes:?}");
        assert!(codes.contains(&"long_lifetime"), "{codes:?}");
        assert_eq!(out["timeline"]["exp"], 999_999);
    }
}
