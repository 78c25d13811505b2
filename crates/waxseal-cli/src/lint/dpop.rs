//! DPoP (RFC 9449): the checks of a proof (`typ: dpop+jwt`), which is judged by its own rules — it carries its
//! public key on purpose and lives by `iat`, not `exp` — and the note on an access token bound to a key (`cnf.jkt`).

use serde_json::{Map, Value};

use super::finding::Finding;
use crate::commands::dpop::{bound_jkt, is_thumbprint};
use crate::time;

/// How far `iat` may be from now before a proof is called stale or from the future: the verifiers' usual window.
const IAT_WINDOW: u64 = 60;

/// The claims every proof needs (RFC 9449 §4.2).
const REQUIRED: [&str; 4] = ["jti", "htm", "htu", "iat"];

/// The checks of a proof's header key and algorithm, and of its claims.
pub fn proof(header: &Map<String, Value>, claims: &Map<String, Value>, now: u64) -> Vec<Finding> {
    let mut found = Vec::new();
    match header.get("jwk") {
        None => found.push(Finding::error(
            "dpop_no_jwk",
            "the proof has no jwk in its header, so no server can check it",
            "Put the public key in the header's jwk (waxseal dpop does).",
        )),
        // A key that has no thumbprint lacks members its kty needs.
        Some(jwk) => match waxseal::Jwk::from_json(&jwk.to_string())
            .and_then(|jwk| jwk.thumbprint().map(|_| jwk))
        {
            Ok(jwk) if jwk.is_private() => found.push(Finding::error(
                "dpop_private_jwk",
                "the proof's jwk carries the private key: whoever saw this proof can sign proofs with it and use the tokens bound to it",
                "Put only the public key in the header (waxseal dpop does), and replace this key: it is exposed.",
            )),
            Ok(_) => {}
            Err(e) => found.push(Finding::error(
                "dpop_bad_jwk",
                format!("the proof's jwk is not a usable key: {e}"),
                "Put the client's public key, as a JWK, in the header's jwk.",
            )),
        },
    }
    if let Some(alg) = header.get("alg").and_then(Value::as_str)
        && waxseal::Algorithm::from_name(alg).is_ok_and(waxseal::Algorithm::is_symmetric)
    {
        found.push(Finding::error(
            "dpop_symmetric_alg",
            format!("the proof is signed with {alg}, an HMAC: the key of a proof is public, so a proof needs an asymmetric key"),
            "Sign proofs with an asymmetric key: waxseal keygen --alg ES256 --out client.jwk.",
        ));
    }
    for name in REQUIRED {
        if !claims.contains_key(name) {
            found.push(Finding::error(
                "dpop_missing_claim",
                format!("the proof has no {name}; servers refuse it"),
                "Make proofs with jti, htm, htu and iat: waxseal dpop --key KEY --method METHOD --url URL.",
            ));
        }
    }
    if let Some(htu) = claims.get("htu").and_then(Value::as_str) {
        let lower = htu.to_ascii_lowercase();
        if !lower.starts_with("https://") && !lower.starts_with("http://") {
            found.push(Finding::error(
                "dpop_htu_not_absolute",
                format!(
                    "htu {} is not an absolute http(s) URL; no server will match it",
                    Value::from(htu)
                ),
                "Set htu to the full URL of the request, such as https://api.example.com/orders.",
            ));
        }
        if htu.contains(['?', '#']) {
            found.push(Finding::warning(
                "dpop_htu_query",
                "htu carries a query or fragment; RFC 9449 leaves them out, and they travel into every log that keeps the proof",
                "Set htu to the request's URL without query and fragment.",
            ));
        }
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_u64) {
        if iat > now + IAT_WINDOW {
            found.push(Finding::warning(
                "dpop_iat_future",
                format!(
                    "the proof is dated {}; servers refuse proofs from the future",
                    time::relative(iat, now)
                ),
                "Check the client's clock.",
            ));
        } else if iat + IAT_WINDOW < now {
            found.push(Finding::info(
                "dpop_proof_old",
                format!(
                    "the proof was made {}; servers accept a proof for about a minute",
                    time::relative(iat, now)
                ),
                "Make a fresh proof for each request.",
            ));
        }
    }
    if !claims.contains_key("ath") {
        found.push(Finding::info(
            "dpop_no_ath",
            "the proof has no ath: fine for a request to the token endpoint; a resource server needs the access token's hash",
            "When the request carries an access token, make the proof with it: waxseal dpop --access-token TOKEN.",
        ));
    }
    found
}

/// The note on an access token bound to a key (`cnf.jkt`), or the finding that its `jkt` is not a thumbprint.
pub fn bound(claims: &Map<String, Value>) -> Vec<Finding> {
    let malformed = || {
        vec![Finding::warning(
            "dpop_bad_jkt",
            "cnf.jkt is not a SHA-256 JWK thumbprint (43 base64url characters): no key matches it, so the token cannot be used",
            "Set cnf.jkt to the RFC 7638 thumbprint of the client's key (waxseal thumbprint KEY).",
        )]
    };
    match bound_jkt(claims) {
        None => Vec::new(),
        Some(Ok(jkt)) if is_thumbprint(jkt) => vec![Finding::info(
            "dpop_bound",
            format!(
                "DPoP-bound to the key with thumbprint {jkt} (cnf.jkt): useless without a fresh proof by that key"
            ),
            "Nothing to fix; send it as Authorization: DPoP with a proof (waxseal dpop --access-token TOKEN).",
        )],
        Some(_) => malformed(),
    }
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

    const NOW: u64 = 1_000_000;
    const JWK: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    fn header(alg: &str) -> Map<String, Value> {
        let jwk: Value = serde_json::from_str(JWK).unwrap();
        map(json!({"alg": alg, "typ": "dpop+jwt", "jwk": jwk}))
    }

    #[test]
    fn a_proper_proof_has_nothing_to_report() {
        let claims = map(
            json!({"jti": "j", "htm": "GET", "htu": "https://api.example.com/x", "iat": NOW, "ath": "a"}),
        );
        assert!(proof(&header("EdDSA"), &claims, NOW).is_empty());
    }

    #[test]
    fn each_rule_of_a_proof() {
        let claims = map(json!({"htu": "api.example.com/x#top", "iat": NOW + 600}));
        assert_eq!(
            codes(&proof(&header("HS256"), &claims, NOW)),
            [
                "dpop_symmetric_alg",
                "dpop_missing_claim",
                "dpop_missing_claim",
                "dpop_htu_not_absolute",
                "dpop_htu_query",
                "dpop_iat_future",
                "dpop_no_ath",
            ]
        );
        let old = map(
            json!({"jti": "j", "htm": "GET", "htu": "https://a.example/x", "iat": NOW - 600, "ath": "a"}),
        );
        let mut no_key = header("ES256");
        no_key.remove("jwk");
        assert_eq!(
            codes(&proof(&no_key, &old, NOW)),
            ["dpop_no_jwk", "dpop_proof_old"]
        );
        no_key.insert("jwk".into(), json!({"kty": "EC"}));
        assert_eq!(
            codes(&proof(&no_key, &old, NOW)),
            ["dpop_bad_jwk", "dpop_proof_old"]
        );
    }

    #[test]
    fn bound_tokens() {
        assert!(bound(&map(json!({"sub": "a"}))).is_empty());
        let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        assert_eq!(
            codes(&bound(&map(json!({"cnf": {"jkt": jkt}})))),
            ["dpop_bound"]
        );
        for bad in [json!("short"), json!(7), json!(format!("{jkt}="))] {
            assert_eq!(
                codes(&bound(&map(json!({"cnf": {"jkt": bad}})))),
                ["dpop_bad_jkt"]
            );
        }
    }
}
