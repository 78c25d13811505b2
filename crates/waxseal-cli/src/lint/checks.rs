//! Checks of the header and the registered claims: the algorithm, key references in the header, `crit`, `kid`,
//! expiry and lifetime, issuer and audience.
//!
//! Severity of header key references: `jwk` and `jku` are errors, because a token that carries its own key (or the
//! address to fetch it from) is the exact shape of the key-injection attacks (CVE-2018-0114 and kin) and no
//! legitimate issuer needs them in a JWT. `x5c` and `x5u` are warnings: some PKI deployments send certificate
//! chains on purpose, but a verifier must never take keys from them without path validation against its own
//! trust anchors.

use serde_json::{Map, Value};

use super::finding::Finding;
use crate::time;

/// Lifetime above which an access token is called long-lived.
pub const MAX_ACCESS_LIFETIME: u64 = 3_600;

/// Claims that mark a token as an access token (OAuth scopes, clients, roles).
const ACCESS_CLAIMS: [&str; 6] = ["scope", "scp", "client_id", "azp", "roles", "permissions"];

/// Header checks: `alg`, `jku`/`x5u`/`jwk`/`x5c`, `crit`, `kid`; and the RSA modulus size the signature shows.
pub fn header(header: &Map<String, Value>, signature: &[u8], is_jwe: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    match header.get("alg").and_then(Value::as_str) {
        None => found.push(Finding::error(
            "no_alg",
            "the header has no \"alg\": no verifier can know how the token was signed",
            "Set alg to the algorithm the key was made for (ES256 or EdDSA are good defaults).",
        )),
        Some(alg) if alg.eq_ignore_ascii_case("none") => found.push(Finding::error(
            "alg_none",
            format!("alg is \"{alg}\": the token is unsigned and anyone could have written it"),
            "Sign every token (ES256 or EdDSA) and make verifiers refuse alg none.",
        )),
        // A JWE's alg is a key-management algorithm (RSA-OAEP, dir, …), not a JWS one.
        Some(_) if is_jwe => {}
        Some(alg) => match waxseal::Algorithm::from_name(alg) {
            Ok(alg) if is_rsa(alg) && !signature.is_empty() && signature.len() * 8 < 2048 => {
                found.push(weak_rsa(signature.len() * 8, "the signature shows"));
            }
            Ok(_) => {}
            Err(_) => found.push(Finding::warning(
                "unsupported_alg",
                format!("alg \"{alg}\" is not a registered JWS algorithm"),
                "Use a registered algorithm such as ES256, EdDSA, RS256 or HS256.",
            )),
        },
    }
    // A DPoP proof carries its public key by design; `lint::dpop` checks it.
    let proof = !is_jwe && crate::commands::dpop::is_proof(header);
    for member in ["jwk", "jku", "x5c", "x5u"] {
        if !header.contains_key(member) || (proof && member == "jwk") {
            continue;
        }
        let what = match member {
            "jwk" => "its own public key",
            "jku" => "a URL to fetch keys from",
            "x5c" => "a certificate chain",
            _ => "a URL to fetch certificates from",
        };
        let message = format!(
            "the header carries \"{member}\" ({what}); a verifier that uses it accepts keys chosen by whoever made the token"
        );
        let fix = "Remove it from the header; verifiers must take keys only from their own configuration.";
        found.push(if matches!(member, "jwk" | "jku") {
            Finding::error("key_in_header", message, fix)
        } else {
            Finding::warning("key_in_header", message, fix)
        });
    }
    if let Some(crit) = header.get("crit") {
        found.push(Finding::info(
            "crit_header",
            format!("the header marks extensions critical: {crit}; verifiers that do not know them must refuse the token"),
            "Make sure every verifier understands these extensions, or drop crit.",
        ));
    }
    if let Some(kid) = header.get("kid").and_then(Value::as_str)
        && suspicious_kid(kid)
    {
        found.push(Finding::warning(
            "suspicious_kid",
            format!(
                "kid {} looks like a path, query or command, the shape of kid-injection attacks",
                Value::String(kid.to_owned())
            ),
            "Use an opaque kid (e.g. the RFC 7638 thumbprint) and look it up only in a fixed key set.",
        ));
    }
    found
}

/// A kid with path traversal, shell or SQL metacharacters.
fn suspicious_kid(kid: &str) -> bool {
    kid.contains("../")
        || kid.contains("..\\")
        || kid.starts_with('/')
        || kid.contains('\0')
        || kid
            .chars()
            .any(|c| matches!(c, '\'' | '"' | ';' | '|' | '`' | '$'))
        || kid.to_ascii_lowercase().contains(" union ")
}

pub fn is_rsa(alg: waxseal::Algorithm) -> bool {
    alg.family() == waxseal::alg::Family::Rsa
}

pub fn weak_rsa(bits: usize, source: &str) -> Finding {
    Finding::error(
        "weak_rsa_key",
        format!("{source} a {bits}-bit RSA key; under 2048 bits is breakable"),
        "Issue tokens with a key of at least 2048 bits (or switch to ES256/EdDSA) and retire this key.",
    )
}

/// Registered-claim checks: expiry, lifetime, time validity, issuer and audience.
pub fn registered(
    claims: &Map<String, Value>,
    header: &Map<String, Value>,
    now: u64,
) -> Vec<Finding> {
    let mut found = Vec::new();
    let secs = |name: &str| claims.get(name).and_then(Value::as_u64);
    match secs("exp") {
        None => found.push(Finding::warning(
            "no_exp",
            "no exp claim: the token never expires, so a leaked copy works forever",
            "Set exp; access tokens should live minutes, not days (waxseal sign --exp 15m).",
        )),
        Some(exp) => {
            let start = secs("iat").or_else(|| secs("nbf"));
            let lifetime = exp.saturating_sub(start.unwrap_or(now));
            if lifetime > MAX_ACCESS_LIFETIME && looks_like_access_token(claims, header) {
                let from = if start.is_some() {
                    "from issue"
                } else {
                    "from now"
                };
                found.push(Finding::warning(
                    "long_lifetime",
                    format!(
                        "an access token valid for {} {from} to expiry; more than 1 h widens the window for a stolen one",
                        time::span(lifetime)
                    ),
                    "Keep access tokens short-lived (5-60 min) and use refresh tokens for long sessions.",
                ));
            }
            if exp <= now {
                found.push(Finding::info(
                    "expired",
                    format!("expired {} ({})", time::utc(exp), time::relative(exp, now)),
                    "Get a fresh token; verifiers will refuse this one.",
                ));
            }
        }
    }
    if let Some(nbf) = secs("nbf")
        && nbf > now
    {
        found.push(Finding::info(
            "not_yet_valid",
            format!(
                "not valid until {} ({})",
                time::utc(nbf),
                time::relative(nbf, now)
            ),
            "Wait until nbf, or check the issuer's clock.",
        ));
    }
    if let Some(iat) = secs("iat")
        && iat > now + 60
    {
        found.push(Finding::info(
            "iat_future",
            format!("issued in the future ({})", time::relative(iat, now)),
            "Check the issuer's clock.",
        ));
    }
    if !claims.contains_key("iss") {
        found.push(Finding::warning(
            "no_iss",
            "no iss claim: a verifier cannot tell which issuer made the token",
            "Set iss to the issuer's URL and have verifiers require it.",
        ));
    }
    if !claims.contains_key("aud") {
        found.push(Finding::warning(
            "no_aud",
            "no aud claim: the token is accepted by every service that trusts the issuer",
            "Set aud to the service the token is for and have verifiers require it.",
        ));
    }
    found
}

/// An access token: `typ: at+jwt` (RFC 9068), or OAuth claims such as `scope`, `client_id` or `roles`.
fn looks_like_access_token(claims: &Map<String, Value>, header: &Map<String, Value>) -> bool {
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
    typ.eq_ignore_ascii_case("at+jwt")
        || typ.eq_ignore_ascii_case("application/at+jwt")
        || ACCESS_CLAIMS.iter().any(|c| claims.contains_key(*c))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[allow(clippy::needless_pass_by_value)]
    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn codes(found: &[Finding]) -> Vec<&'static str> {
        found.iter().map(|f| f.code).collect()
    }

    #[test]
    fn lifetimes() {
        let h = map(json!({"alg": "ES256", "typ": "at+jwt"}));
        let now = 1_000_000;
        let c = map(json!({"iss": "i", "aud": "a", "iat": now, "exp": now + 7200}));
        assert_eq!(codes(&registered(&c, &h, now)), ["long_lifetime"]);
        let c = map(json!({"iss": "i", "aud": "a", "iat": now, "exp": now + 3600}));
        assert!(registered(&c, &h, now).is_empty());
        // Not an access token: an ID token may live longer.
        let c = map(json!({"iss": "i", "aud": "a", "iat": now, "exp": now + 7200}));
        assert!(registered(&c, &map(json!({"alg": "ES256"})), now).is_empty());
        let c = map(json!({"iss": "i", "aud": "a", "scope": "x", "exp": now + 7200}));
        assert_eq!(
            codes(&registered(&c, &map(json!({})), now)),
            ["long_lifetime"]
        );
        let c = map(json!({"exp": now - 5, "nbf": now + 100}));
        assert_eq!(
            codes(&registered(&c, &h, now)),
            ["expired", "not_yet_valid", "no_iss", "no_aud"]
        );
    }

    #[test]
    fn header_members() {
        let h = map(
            json!({"alg": "RS256", "jwk": {}, "x5u": "u", "crit": ["b64"], "kid": "../../dev/null"}),
        );
        let found = header(&h, &[0; 128], false);
        assert_eq!(
            codes(&found),
            [
                "weak_rsa_key",
                "key_in_header",
                "key_in_header",
                "crit_header",
                "suspicious_kid"
            ]
        );
        assert!(
            header(
                &map(json!({"alg": "RS256", "kid": "2024-01"})),
                &[0; 256],
                false
            )
            .is_empty()
        );
        assert_eq!(
            codes(&header(&map(json!({"alg": "nOnE"})), &[], false)),
            ["alg_none"]
        );
        assert_eq!(
            codes(&header(&map(json!({"alg": "HS1"})), &[], false)),
            ["unsupported_alg"]
        );
    }
}
