//! The property the `dpop_proof` fuzz target checks: `ProofVerifier::verify` never panics, and whatever it accepts
//! passes every check of RFC 9449 §4.3 as read again here, independently, from the proof's own bytes.
//!
//! A proof carries its own key, so anyone can make one that verifies: the interesting inputs are those whose
//! signature is good and whose header or claims are hostile. The first byte picks how the rest is used:
//!
//! * bits 0–1: `0` the rest is a whole proof; `1` (Ed25519) and `2` (ES256) the rest is the claims, signed by a
//!   fixture key under a valid proof header; `3` the rest is the header (it must name EdDSA), over valid claims,
//!   signed by the Ed25519 fixture.
//! * bit 2: the request presents an access token, so `ath` is required.
//!
//! Every input is verified twice: without server nonces and with them.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};
use waxseal::dpop::{
    Expected, MAX_JTI_BYTES, MAX_PROOF_BYTES, Nonces, PROOF_TYPE, Proof, ProofVerifier,
    VerifiedProof, access_token_hash,
};
use waxseal::jws::sign_compact_with_header_json;
use waxseal::jwt::{FixedClock, NumericDate};
use waxseal::{Jwk, SigningKey, b64};

use crate::jose::{ED25519_JWK, ES256_JWK, NOW};
use crate::{Outcome, Seed};

const METHOD: &str = "GET";
const URI: &str = "https://api.example.com/orders";
const ACCESS_TOKEN: &str = "fuzz-access-token";
const NONCE_SECRET: &[u8; 32] = b"waxseal fuzzing DPoP nonce key!!";
const NONCE_STEP: u64 = 60;
/// The verifier's default window, both ways.
const WINDOW: u64 = 60;

struct Fixture {
    ed25519: SigningKey,
    es256: SigningKey,
    plain: ProofVerifier,
    with_nonces: ProofVerifier,
    /// The nonces `with_nonces` accepts at [`NOW`]: this step's and the previous step's.
    fresh_nonces: [String; 2],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = |text| {
            SigningKey::from_jwk(&Jwk::from_json(text).expect("fixture JWK")).expect("fixture key")
        };
        let nonces = Nonces::new(NONCE_SECRET, Duration::from_secs(NONCE_STEP))
            .expect("fixture nonce secret");
        let now = NumericDate::from_secs(NOW);
        let fresh_nonces = [
            nonces.issue(now),
            nonces.issue(NumericDate::from_secs(NOW - NONCE_STEP)),
        ];
        let plain = ProofVerifier::new().clock(FixedClock(now));
        Fixture {
            ed25519: key(ED25519_JWK),
            es256: key(ES256_JWK),
            with_nonces: plain.clone().nonces(nonces),
            plain,
            fresh_nonces,
        }
    })
}

/// The header a client writes for `key`.
fn proof_header(key: &SigningKey) -> Vec<u8> {
    let mut jwk = serde_json::to_value(key.public_jwk().expect("public JWK")).expect("JWK JSON");
    if let Value::Object(members) = &mut jwk {
        for name in ["kid", "alg", "use"] {
            members.remove(name);
        }
    }
    let header = serde_json::json!({"typ": PROOF_TYPE, "alg": key.algorithm().name(), "jwk": jwk});
    serde_json::to_vec(&header).expect("header JSON")
}

fn valid_claims() -> Vec<u8> {
    serde_json::to_vec(
        &serde_json::json!({"jti": "fuzz-jti", "htm": METHOD, "htu": URI, "iat": NOW}),
    )
    .expect("claims JSON")
}

/// The `dpop_proof` target.
pub fn dpop_proof(data: &[u8]) -> Outcome {
    let [flags, rest @ ..] = data else {
        return Outcome::Refused;
    };
    let f = fixture();
    let proof = match flags & 0b11 {
        0 => match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return Outcome::Refused,
        },
        1 => match sign_compact_with_header_json(&f.ed25519, &proof_header(&f.ed25519), rest) {
            Ok(proof) => proof,
            Err(_) => return Outcome::Refused,
        },
        2 => match sign_compact_with_header_json(&f.es256, &proof_header(&f.es256), rest) {
            Ok(proof) => proof,
            Err(_) => return Outcome::Refused,
        },
        _ => match sign_compact_with_header_json(&f.ed25519, rest, &valid_claims()) {
            Ok(proof) => proof,
            Err(_) => return Outcome::Refused,
        },
    };
    let access_token = (flags & 0b100 != 0).then_some(ACCESS_TOKEN);
    let mut expected = Expected::new(METHOD, URI);
    if let Some(token) = access_token {
        expected = expected.access_token(token);
    }

    let mut outcome = Outcome::Refused;
    for (verifier, nonces) in [(&f.plain, false), (&f.with_nonces, true)] {
        match verifier.verify(&proof, &expected) {
            Ok(verified) => {
                check_accepted(
                    &proof,
                    &verified,
                    access_token,
                    nonces.then_some(&f.fresh_nonces),
                );
                outcome = Outcome::Accepted;
            }
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.len() < 512,
                    "an unbounded error message: {} bytes",
                    message.len()
                );
                assert!(
                    proof.len() < 32 || !message.contains(&proof),
                    "the error message echoes the proof"
                );
            }
        }
    }
    outcome
}

/// Reads the accepted proof again, without the verifier's code, and checks every rule of RFC 9449 §4.3.
fn check_accepted(
    proof: &str,
    verified: &VerifiedProof,
    access_token: Option<&str>,
    nonces: Option<&[String; 2]>,
) {
    assert!(
        proof.len() <= MAX_PROOF_BYTES,
        "a proof of {} bytes accepted",
        proof.len()
    );
    let segments: Vec<&str> = proof.split('.').collect();
    assert_eq!(segments.len(), 3, "an accepted proof is a compact JWS");
    let object = |segment: &str, what: &str| -> Map<String, Value> {
        let bytes = b64::decode(segment, what).expect("an accepted proof is base64url");
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(members)) => members,
            _ => panic!("an accepted proof's {what} is not a JSON object"),
        }
    };
    let header = object(segments[0], "header");
    let claims = object(segments[1], "claims");

    assert_eq!(
        header.get("typ").and_then(Value::as_str),
        Some(PROOF_TYPE),
        "typ"
    );
    let alg = header.get("alg").and_then(Value::as_str).expect("alg");
    assert!(
        !alg.starts_with("HS") && alg != "none",
        "a proof with alg {alg} accepted"
    );
    assert_eq!(verified.algorithm.name(), alg);
    assert!(header.get("crit").is_none(), "a proof with crit accepted");
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        panic!("a proof without a jwk object accepted")
    };
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(!jwk.contains_key(private), "a jwk with {private} accepted");
    }
    let thumbprint = Jwk::from_json(&Value::Object(jwk.clone()).to_string())
        .and_then(|jwk| jwk.thumbprint())
        .expect("an accepted jwk has a thumbprint");
    assert_eq!(verified.jkt, thumbprint, "jkt is not the jwk's thumbprint");

    let jti = claims.get("jti").and_then(Value::as_str).expect("jti");
    assert!(
        !jti.is_empty() && jti.len() <= MAX_JTI_BYTES,
        "jti of {} bytes",
        jti.len()
    );
    assert_eq!(verified.jti, jti);
    assert_eq!(
        claims.get("htm").and_then(Value::as_str),
        Some(METHOD),
        "htm"
    );
    let htu = claims.get("htu").and_then(Value::as_str).expect("htu");
    assert!(same_resource(htu), "a proof for {htu:?} accepted for {URI}");
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .expect("iat, whole seconds");
    assert!(
        iat + WINDOW >= NOW && iat <= NOW + WINDOW,
        "iat {iat} accepted at {NOW}"
    );
    assert_eq!(verified.iat.secs(), iat);
    assert_eq!(verified.remember_until.secs(), iat + WINDOW);
    if let Some(token) = access_token {
        assert_eq!(
            claims.get("ath").and_then(Value::as_str),
            Some(access_token_hash(token).as_str()),
            "ath"
        );
    }
    if let Some(fresh) = nonces {
        let nonce = claims.get("nonce").and_then(Value::as_str).expect("nonce");
        assert!(
            fresh.iter().any(|n| n == nonce),
            "a nonce that was not issued accepted: {nonce:?}"
        );
    }
}

/// Whether `htu` names `https://api.example.com/orders`, by RFC 3986 §6.2.2–6.2.3 read here on its own terms:
/// scheme and host in any case, port 443 or none, `%XX` of unreserved characters in any hex case, `.` and `..`
/// segments; query and fragment ignored.
fn same_resource(htu: &str) -> bool {
    let htu = htu.split(['?', '#']).next().unwrap_or_default();
    let Some(rest) = htu
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &htu[8..])
    else {
        return false;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
    let port_ok = port.is_empty()
        || (port.bytes().all(|b| b.is_ascii_digit()) && port.trim_start_matches('0') == "443");
    if !host.eq_ignore_ascii_case("api.example.com") || !port_ok {
        return false;
    }
    let mut decoded = String::new();
    let mut chars = path.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '%' {
            let Some(byte) = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            else {
                return false;
            };
            if !(byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)) {
                return false; // reserved or other: stays encoded, and "/orders" has none
            }
            decoded.push(char::from(byte));
            chars.nth(1);
        } else {
            decoded.push(c);
        }
    }
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = decoded.split('/').skip(1).collect();
    let mut trailing = false;
    for (i, segment) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match *segment {
            "." => trailing = last,
            ".." => {
                segments.pop();
                trailing = last;
            }
            s => {
                segments.push(s);
                trailing = false;
            }
        }
    }
    segments == ["orders"] && !trailing
}

/// The committed seeds: proofs every verifier accepts, in each mode, and attacks each must refuse.
pub fn seeds() -> Vec<Seed> {
    let f = fixture();
    let mut seeds = Vec::new();
    let mut push = |name: &str, flags: u8, rest: &[u8], deterministic: bool| {
        let mut bytes = vec![flags];
        bytes.extend_from_slice(rest);
        seeds.push(Seed {
            target: "dpop_proof",
            name: name.to_owned(),
            bytes,
            deterministic,
        });
    };
    let now = NumericDate::from_secs(NOW);
    let nonce = f.fresh_nonces[0].as_str();
    let proof = |key: &SigningKey, token: Option<&str>, iat: NumericDate, uri: &str| {
        let mut proof = Proof::new(METHOD, uri)
            .issued_at(iat)
            .jti("fuzz-jti")
            .nonce(nonce);
        if let Some(token) = token {
            proof = proof.access_token(token);
        }
        proof.sign(key).expect("the fixture signs")
    };
    for (name, key, deterministic) in [("eddsa", &f.ed25519, true), ("es256", &f.es256, false)] {
        push(
            &format!("ok-{name}-proof"),
            0,
            proof(key, None, now, URI).as_bytes(),
            deterministic,
        );
        push(
            &format!("ok-{name}-proof-with-ath"),
            0b100,
            proof(key, Some(ACCESS_TOKEN), now, URI).as_bytes(),
            deterministic,
        );
        push(
            &format!("attack-{name}-ath-of-another-token"),
            0b100,
            proof(key, Some("another-token"), now, URI).as_bytes(),
            deterministic,
        );
        push(
            &format!("attack-{name}-too-old"),
            0,
            proof(key, None, NumericDate::from_secs(NOW - 61), URI).as_bytes(),
            deterministic,
        );
        push(
            &format!("attack-{name}-another-url"),
            0,
            proof(key, None, now, "https://api.example.com/admin").as_bytes(),
            deterministic,
        );
    }
    let claims = |extra: &str| {
        format!(
            r#"{{"jti":"fuzz-jti","htm":"GET","htu":"{URI}","iat":{NOW},"nonce":"{nonce}"{extra}}}"#
        )
    };
    push("ok-eddsa-claims", 1, claims("").as_bytes(), true);
    push("ok-es256-claims", 2, claims("").as_bytes(), true);
    push(
        "ok-eddsa-claims-normalised-htu",
        1,
        format!(
            r#"{{"jti":"j","htm":"GET","htu":"HTTPS://API.example.com:443/x/../%6Frders?q#f","iat":{NOW},"nonce":"{nonce}"}}"#
        )
        .as_bytes(),
        true,
    );
    push(
        "attack-eddsa-claims-encoded-slash",
        1,
        format!(
            r#"{{"jti":"j","htm":"GET","htu":"https://api.example.com%2Forders","iat":{NOW}}}"#
        )
        .as_bytes(),
        true,
    );
    push(
        "attack-eddsa-claims-no-jti",
        1,
        format!(r#"{{"htm":"GET","htu":"{URI}","iat":{NOW}}}"#).as_bytes(),
        true,
    );
    push(
        "attack-eddsa-claims-duplicate-htm",
        1,
        claims(r#","htm":"POST""#).as_bytes(),
        true,
    );
    let header = String::from_utf8(proof_header(&f.ed25519)).expect("UTF-8");
    push("ok-eddsa-header", 3, header.as_bytes(), true);
    push(
        "attack-eddsa-header-typ-jwt",
        3,
        header.replace(PROOF_TYPE, "JWT").as_bytes(),
        true,
    );
    let private = serde_json::json!({"typ": PROOF_TYPE, "alg": "EdDSA",
        "jwk": serde_json::from_str::<Value>(ED25519_JWK).expect("JSON")});
    push(
        "attack-eddsa-header-private-jwk",
        3,
        private.to_string().as_bytes(),
        true,
    );
    let foreign = serde_json::json!({"typ": PROOF_TYPE, "alg": "EdDSA",
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}});
    push(
        "attack-eddsa-header-another-key",
        3,
        foreign.to_string().as_bytes(),
        true,
    );
    seeds
}
