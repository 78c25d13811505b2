//! DPoP proofs (RFC 9449) through the public API: a round trip for every asymmetric algorithm, then one test per
//! attack on a proof — each builds the proof for real (hand-built header and claims where `Proof` would refuse to
//! make it) and shows `ProofVerifier` refuses it with the right error kind, without echoing the proof.
#![allow(
    clippy::unwrap_used,
    clippy::needless_raw_string_hashes,
    clippy::items_after_statements,
    missing_docs
)]

use std::time::Duration;

use proptest::prelude::{ProptestConfig, any, prop_assert, prop_assert_eq, proptest};
use serde_json::{Value, json};
use waxseal::dpop::{
    Expected, MAX_JTI_BYTES, MAX_PROOF_BYTES, Nonces, PROOF_TYPE, Proof, ProofVerifier,
    access_token_hash,
};
use waxseal::jws::sign_compact_with_header_json;
use waxseal::jwt::{FixedClock, NumericDate};
use waxseal::{Algorithm, ErrorKind, SigningKey, b64};

/// The verifier's fixed "now" in every test below.
const NOW: u64 = 1_800_000_000;
const URI: &str = "https://api.example.com/orders";

fn at(secs: u64) -> NumericDate {
    NumericDate::from_secs(secs)
}

fn verifier() -> ProofVerifier {
    ProofVerifier::new().clock(FixedClock(at(NOW)))
}

fn es256() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

/// A proof for `GET URI` made now by `key`, through the public maker.
fn proof(key: &SigningKey) -> String {
    Proof::new("GET", URI).issued_at(at(NOW)).sign(key).unwrap()
}

/// The header a client library writes: `typ`, `alg`, and the public key.
fn header(key: &SigningKey) -> Value {
    json!({
        "typ": PROOF_TYPE,
        "alg": key.algorithm().name(),
        "jwk": serde_json::to_value(key.public_jwk().unwrap()).unwrap(),
    })
}

fn claims() -> Value {
    json!({"jti": "jti-1", "htm": "GET", "htu": URI, "iat": NOW})
}

/// Signs arbitrary header and claims JSON with `key`: the attacker's tool for proofs `Proof` would never make.
fn hand_built(key: &SigningKey, header: &Value, claims: &Value) -> String {
    sign_compact_with_header_json(
        key,
        &serde_json::to_vec(header).unwrap(),
        &serde_json::to_vec(claims).unwrap(),
    )
    .unwrap()
}

/// The proof's protected header, decoded.
fn header_of(proof: &str) -> Value {
    let first = proof.split('.').next().unwrap();
    serde_json::from_slice(&b64::decode(first, "header").unwrap()).unwrap()
}

/// Asserts `proof` is refused for `expected` with `kind`, and that the message neither echoes the proof nor grows
/// with it. Returns the message.
fn refused(
    verifier: &ProofVerifier,
    proof: &str,
    expected: &Expected<'_>,
    kind: ErrorKind,
) -> String {
    let error = match verifier.verify(proof, expected) {
        Ok(verified) => panic!("accepted a proof that must be refused: {verified:?}"),
        Err(e) => e,
    };
    assert_eq!(error.kind(), kind, "{error}");
    let message = error.to_string();
    assert!(message.len() < 400, "unbounded message: {message}");
    if proof.len() > 20 {
        assert!(!message.contains(proof), "the message echoes the proof");
    }
    message
}

fn refused_proof(proof: &str, expected: &Expected<'_>) -> String {
    refused(&verifier(), proof, expected, ErrorKind::DpopProof)
}

/// RFC 7638 computed here from the members it names, independently of `Jwk::thumbprint`.
fn rfc7638(jwk: &Value) -> String {
    let m = |name: &str| jwk[name].as_str().unwrap().to_owned();
    let canonical = match jwk["kty"].as_str().unwrap() {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, m("e"), m("n")),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            m("crv"),
            m("x"),
            m("y")
        ),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, m("crv"), m("x")),
        other => panic!("unexpected kty {other}"),
    };
    b64::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

const ASYMMETRIC: [Algorithm; 11] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::ES256K,
    Algorithm::EdDSA,
];

// --- Round trips --------------------------------------------------------------------------------------------------

#[test]
fn every_asymmetric_algorithm_round_trips_and_jkt_is_the_rfc7638_thumbprint_of_the_proofs_jwk() {
    for alg in ASYMMETRIC {
        let key = SigningKey::generate(alg).unwrap();
        let proof = Proof::new("POST", "https://auth.example.com/oauth/token?x=1")
            .issued_at(at(NOW - 5))
            .jti("round-trip")
            .access_token("at-1")
            .sign(&key)
            .unwrap();
        let verified = verifier()
            .verify(
                &proof,
                &Expected::new("POST", "https://auth.example.com/oauth/token").access_token("at-1"),
            )
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let header = header_of(&proof);
        assert_eq!(header["typ"], PROOF_TYPE, "{alg}");
        assert!(
            header["jwk"].get("d").is_none(),
            "{alg}: private key in the header"
        );
        assert_eq!(verified.jkt, rfc7638(&header["jwk"]), "{alg}");
        assert_eq!(
            verified.jkt,
            key.public_jwk().unwrap().thumbprint().unwrap(),
            "{alg}"
        );
        assert_eq!(verified.algorithm, alg);
        assert_eq!(verified.jti, "round-trip");
        assert_eq!(verified.iat, at(NOW - 5));
        assert_eq!(verified.remember_until, at(NOW - 5 + 60));
    }
}

/// RFC 9449 Figure 2, line breaks removed: the specification's own proof.
const RFC9449_FIGURE_2: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";

#[test]
fn rfc9449_figure_2_proof_verifies_with_the_jkt_of_figure_9() {
    let at_issue = ProofVerifier::new().clock(FixedClock(at(1_562_262_616)));
    let verified = at_issue
        .verify(
            RFC9449_FIGURE_2,
            &Expected::new("POST", "https://server.example.com/token"),
        )
        .unwrap();
    assert_eq!(verified.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    assert_eq!(verified.jti, "-BwC3ESc6acc2lTc");
    assert_eq!(verified.algorithm, Algorithm::ES256);
    // Years later it is only a replayed proof.
    refused_proof(
        RFC9449_FIGURE_2,
        &Expected::new("POST", "https://server.example.com/token"),
    );
}

#[test]
fn proofs_by_two_keys_have_two_thumbprints_and_the_maker_leaves_query_out_of_htu() {
    let (a, b) = (es256(), es256());
    let expected = Expected::new("GET", URI);
    let jkt_a = verifier().verify(&proof(&a), &expected).unwrap().jkt;
    let jkt_b = verifier().verify(&proof(&b), &expected).unwrap().jkt;
    assert_ne!(jkt_a, jkt_b);
    let with_query = Proof::new("GET", "https://h/x?secret=1#f")
        .sign(&a)
        .unwrap();
    let payload = with_query.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&b64::decode(payload, "payload").unwrap()).unwrap();
    assert_eq!(claims["htu"], "https://h/x");
}

// --- htm ----------------------------------------------------------------------------------------------------------

#[test]
fn proof_for_another_method_is_refused() {
    let key = es256();
    refused_proof(&proof(&key), &Expected::new("POST", URI));
}

#[test]
fn htm_is_case_sensitive() {
    let key = es256();
    let message = refused_proof(&proof(&key), &Expected::new("get", URI));
    assert!(message.contains("GET"), "{message}");
}

// --- htu ----------------------------------------------------------------------------------------------------------

fn proof_for(key: &SigningKey, htu: &str) -> String {
    let mut claims = claims();
    claims["htu"] = htu.into();
    hand_built(key, &header(key), &claims)
}

#[test]
fn proof_for_another_uri_is_refused_another_path_path_case_port_scheme_host_or_encoded_slash() {
    let key = es256();
    let proof = proof_for(&key, "https://api.example.com/orders/42");
    for other in [
        "https://api.example.com/orders/43",
        "https://api.example.com/Orders/42",
        "https://api.example.com:8443/orders/42",
        "http://api.example.com/orders/42",
        "http://api.example.com:443/orders/42",
        "https://evil.example.com/orders/42",
        "https://api.example.com.evil.example/orders/42",
        "https://api.example.com/orders%2F42",
        "https://api.example.com/orders/42/",
        "https://api.example.com/orders/42/x/..",
    ] {
        refused_proof(&proof, &Expected::new("GET", other));
    }
    // And the other way round: a proof for the encoded slash does not open the path with segments.
    let encoded = proof_for(&key, "https://api.example.com/orders%2F42");
    refused_proof(
        &encoded,
        &Expected::new("GET", "https://api.example.com/orders/42"),
    );
}

#[test]
fn htu_accepts_host_and_scheme_case_a_written_default_port_and_percent_encoded_unreserved_characters()
 {
    let key = es256();
    let cases = [
        (
            "https://api.example.com/~alice/x",
            "HTTPS://API.Example.COM/~alice/x",
        ),
        (
            "https://api.example.com/~alice/x",
            "https://api.example.com:443/~alice/x",
        ),
        ("http://api.example.com/x", "http://api.example.com:80/x"),
        (
            "https://api.example.com/%7Ealice/x",
            "https://api.example.com/~alice/x",
        ),
        (
            "https://api.example.com/~alice/x",
            "https://api.example.com/%7ealice/x",
        ),
        ("https://api.example.com", "https://api.example.com/"),
        (
            "https://api.example.com:443/a%2fb",
            "https://api.example.com/a%2Fb",
        ),
    ];
    for (in_proof, requested) in cases {
        let proof = proof_for(&key, in_proof);
        verifier()
            .verify(&proof, &Expected::new("GET", requested))
            .unwrap_or_else(|e| panic!("{in_proof} vs {requested}: {e}"));
    }
}

#[test]
fn query_or_fragment_on_either_side_never_decides_the_htu_match() {
    let key = es256();
    let same = [
        ("https://h/x?a=1", "https://h/x"),
        ("https://h/x", "https://h/x?a=1"),
        ("https://h/x?a=1", "https://h/x?b=2"),
        ("https://h/x#top", "https://h/x#bottom"),
        ("https://h/x?a=1#f", "https://h/x"),
    ];
    for (in_proof, requested) in same {
        verifier()
            .verify(&proof_for(&key, in_proof), &Expected::new("GET", requested))
            .unwrap_or_else(|e| panic!("{in_proof} vs {requested}: {e}"));
    }
    // A query identical on both sides does not make two paths equal, nor can one smuggle a path.
    let different = [
        ("https://h/x?a=1", "https://h/y?a=1"),
        ("https://h/x?/../y", "https://h/y"),
        ("https://h/x#/../y", "https://h/y"),
        ("https://h/y", "https://h/x?/../y"),
    ];
    for (in_proof, requested) in different {
        refused_proof(&proof_for(&key, in_proof), &Expected::new("GET", requested));
    }
}

#[test]
fn htu_with_user_information_or_not_an_http_uri_is_refused() {
    let key = es256();
    for htu in [
        "https://api.example.com@evil.example/orders",
        "/orders",
        "ftp://api.example.com/orders",
        "https://api.example.com/%zz",
    ] {
        refused_proof(&proof_for(&key, htu), &Expected::new("GET", htu));
    }
}

// --- iat ----------------------------------------------------------------------------------------------------------

fn proof_at(key: &SigningKey, iat: u64) -> String {
    Proof::new("GET", URI).issued_at(at(iat)).sign(key).unwrap()
}

#[test]
fn proof_older_than_the_window_is_refused_and_accepted_at_its_edge() {
    let key = es256();
    let expected = Expected::new("GET", URI);
    verifier()
        .verify(&proof_at(&key, NOW - 60), &expected)
        .unwrap();
    let message = refused_proof(&proof_at(&key, NOW - 61), &expected);
    assert!(message.contains("61 s old"), "{message}");
    refused_proof(&proof_at(&key, 0), &expected);
}

#[test]
fn proof_from_too_far_in_the_future_is_refused_and_accepted_at_the_windows_edge() {
    let key = es256();
    let expected = Expected::new("GET", URI);
    verifier()
        .verify(&proof_at(&key, NOW + 60), &expected)
        .unwrap();
    let message = refused_proof(&proof_at(&key, NOW + 61), &expected);
    assert!(message.contains("future"), "{message}");
    refused_proof(&proof_at(&key, u64::MAX), &expected);
}

#[test]
fn a_configured_iat_window_moves_both_edges() {
    let key = es256();
    let expected = Expected::new("GET", URI);
    let narrow = verifier().iat_window(Duration::from_secs(10), Duration::from_secs(2));
    narrow.verify(&proof_at(&key, NOW - 10), &expected).unwrap();
    narrow.verify(&proof_at(&key, NOW + 2), &expected).unwrap();
    refused(
        &narrow,
        &proof_at(&key, NOW - 11),
        &expected,
        ErrorKind::DpopProof,
    );
    refused(
        &narrow,
        &proof_at(&key, NOW + 3),
        &expected,
        ErrorKind::DpopProof,
    );
    assert_eq!(
        narrow
            .verify(&proof_at(&key, NOW - 4), &expected)
            .unwrap()
            .remember_until,
        at(NOW + 6)
    );
}

#[test]
fn iat_that_is_not_a_whole_number_of_seconds_is_refused() {
    let key = es256();
    for iat in [
        json!(NOW as f64 + 0.5),
        json!(NOW.to_string()),
        json!(-1),
        Value::Null,
    ] {
        let mut claims = claims();
        claims["iat"] = iat;
        refused_proof(
            &hand_built(&key, &header(&key), &claims),
            &Expected::new("GET", URI),
        );
    }
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove("iat");
    refused_proof(
        &hand_built(&key, &header(&key), &claims),
        &Expected::new("GET", URI),
    );
}

// --- ath ----------------------------------------------------------------------------------------------------------

#[test]
fn proof_bound_to_another_access_token_is_refused() {
    let key = es256();
    let proof = Proof::new("GET", URI)
        .issued_at(at(NOW))
        .access_token("token-of-alice")
        .sign(&key)
        .unwrap();
    verifier()
        .verify(
            &proof,
            &Expected::new("GET", URI).access_token("token-of-alice"),
        )
        .unwrap();
    refused_proof(
        &proof,
        &Expected::new("GET", URI).access_token("token-of-mallory"),
    );
}

#[test]
fn proof_without_ath_is_refused_when_an_access_token_is_presented() {
    let key = es256();
    let message = refused_proof(
        &proof(&key),
        &Expected::new("GET", URI).access_token("token"),
    );
    assert!(message.contains("ath"), "{message}");
    // An ath that is not a string, or the token itself rather than its hash, is refused too.
    for ath in [json!(1), json!(null), json!("token")] {
        let mut claims = claims();
        claims["ath"] = ath;
        refused_proof(
            &hand_built(&key, &header(&key), &claims),
            &Expected::new("GET", URI).access_token("token"),
        );
    }
    assert_eq!(access_token_hash("token").len(), 43);
}

// --- The key and the signature ------------------------------------------------------------------------------------

#[test]
fn proof_signed_by_another_key_than_its_jwk_is_refused() {
    let (victim, attacker) = (es256(), es256());
    let proof = hand_built(&attacker, &header(&victim), &claims());
    let message = refused_proof(&proof, &Expected::new("GET", URI));
    assert!(message.contains("signature"), "{message}");
}

#[test]
fn proof_whose_signature_was_swapped_for_another_proofs_is_refused() {
    let key = es256();
    let a = proof(&key);
    let b = hand_built(
        &key,
        &header(&key),
        &json!({"jti": "other", "htm": "GET", "htu": URI, "iat": NOW}),
    );
    let spliced = format!(
        "{}.{}",
        b.rsplit_once('.').unwrap().0,
        a.rsplit_once('.').unwrap().1
    );
    refused_proof(&spliced, &Expected::new("GET", URI));
}

#[test]
fn jwk_with_private_members_is_refused() {
    let key = es256();
    let mut header = header(&key);
    header["jwk"] = serde_json::to_value(key.to_jwk().unwrap()).unwrap();
    assert!(header["jwk"].get("d").is_some());
    let message = refused_proof(
        &hand_built(&key, &header, &claims()),
        &Expected::new("GET", URI),
    );
    assert!(message.contains("private"), "{message}");
    assert!(!message.contains(header["jwk"]["d"].as_str().unwrap()));
}

#[test]
fn alg_none_is_refused() {
    let key = es256();
    let mut header = header(&key);
    header["alg"] = "none".into();
    for signature in ["", "AAAA"] {
        let proof = format!(
            "{}.{}.{signature}",
            b64::encode(serde_json::to_vec(&header).unwrap()),
            b64::encode(serde_json::to_vec(&claims()).unwrap())
        );
        refused_proof(&proof, &Expected::new("GET", URI));
    }
}

#[test]
fn hmac_alg_with_an_oct_jwk_is_refused() {
    let secret = [7u8; 32];
    let hmac = SigningKey::from_secret(&secret, Algorithm::HS256).unwrap();
    let header = json!({
        "typ": PROOF_TYPE,
        "alg": "HS256",
        "jwk": {"kty": "oct", "k": b64::encode(secret)},
    });
    refused_proof(
        &hand_built(&hmac, &header, &claims()),
        &Expected::new("GET", URI),
    );
    // Nor can a verifier be configured into accepting HMAC.
    let only_hmac = verifier().algorithms([Algorithm::HS256, Algorithm::ES256]);
    assert!(!only_hmac.allowed_algorithms().contains(Algorithm::HS256));
    refused(
        &only_hmac,
        &hand_built(&hmac, &header, &claims()),
        &Expected::new("GET", URI),
        ErrorKind::DpopProof,
    );
}

#[test]
fn alg_not_matching_the_jwk_or_not_accepted_is_refused() {
    let ec = es256();
    let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
    // An EdDSA signature presented with a P-256 jwk.
    let mut header = header(&ed);
    header["jwk"] = serde_json::to_value(ec.public_jwk().unwrap()).unwrap();
    refused_proof(
        &hand_built(&ed, &header, &claims()),
        &Expected::new("GET", URI),
    );
    // A valid EdDSA proof for a verifier that accepts only ES256.
    let es_only = verifier().algorithms([Algorithm::ES256]);
    refused(
        &es_only,
        &proof(&ed),
        &Expected::new("GET", URI),
        ErrorKind::DpopProof,
    );
}

#[test]
fn jwk_missing_or_not_an_object_is_refused() {
    let key = es256();
    let jwk_text = key.public_jwk().unwrap().to_json();
    for jwk in [
        None,
        Some(json!(jwk_text)),
        Some(json!([])),
        Some(json!(null)),
        Some(json!({})),
    ] {
        let mut header = header(&key);
        match jwk {
            None => {
                header.as_object_mut().unwrap().remove("jwk");
            }
            Some(jwk) => header["jwk"] = jwk,
        }
        refused_proof(
            &hand_built(&key, &header, &claims()),
            &Expected::new("GET", URI),
        );
    }
}

#[test]
fn typ_missing_or_jwt_is_refused() {
    let key = es256();
    for typ in [
        None,
        Some("JWT"),
        Some("DPOP+JWT"),
        Some("at+jwt"),
        Some("application/dpop+jwt"),
    ] {
        let mut header = header(&key);
        match typ {
            None => {
                header.as_object_mut().unwrap().remove("typ");
            }
            Some(typ) => header["typ"] = typ.into(),
        }
        let message = refused_proof(
            &hand_built(&key, &header, &claims()),
            &Expected::new("GET", URI),
        );
        assert!(message.contains("typ"), "{message}");
    }
}

#[test]
fn crit_in_the_header_is_refused() {
    let key = es256();
    let mut header = header(&key);
    header["crit"] = json!(["exp"]);
    header["exp"] = json!(NOW + 10);
    refused_proof(
        &hand_built(&key, &header, &claims()),
        &Expected::new("GET", URI),
    );
}

// --- jti ----------------------------------------------------------------------------------------------------------

#[test]
fn jti_missing_empty_not_a_string_or_too_long_is_refused() {
    let key = es256();
    let too_long = "j".repeat(MAX_JTI_BYTES + 1);
    for jti in [None, Some(json!("")), Some(json!(7)), Some(json!(too_long))] {
        let mut claims = claims();
        match jti {
            None => {
                claims.as_object_mut().unwrap().remove("jti");
            }
            Some(jti) => claims["jti"] = jti,
        }
        let message = refused_proof(
            &hand_built(&key, &header(&key), &claims),
            &Expected::new("GET", URI),
        );
        assert!(message.contains("jti"), "{message}");
        assert!(!message.contains(&too_long));
    }
    let longest = "j".repeat(MAX_JTI_BYTES);
    let mut claims = claims();
    claims["jti"] = longest.clone().into();
    let verified = verifier()
        .verify(
            &hand_built(&key, &header(&key), &claims),
            &Expected::new("GET", URI),
        )
        .unwrap();
    assert_eq!(verified.jti, longest);
}

#[test]
fn missing_htm_or_htu_is_refused() {
    let key = es256();
    for name in ["htm", "htu"] {
        let mut claims = claims();
        claims.as_object_mut().unwrap().remove(name);
        refused_proof(
            &hand_built(&key, &header(&key), &claims),
            &Expected::new("GET", URI),
        );
    }
}

// --- Form and size ------------------------------------------------------------------------------------------------

#[test]
fn proof_over_max_proof_bytes_is_refused_before_parsing() {
    let key = es256();
    let mut claims = claims();
    claims["pad"] = "p".repeat(MAX_PROOF_BYTES).into();
    let proof = hand_built(&key, &header(&key), &claims);
    assert!(proof.len() > MAX_PROOF_BYTES);
    let message = refused_proof(&proof, &Expected::new("GET", URI));
    assert!(message.contains("limit"), "{message}");
    // Garbage over the limit is refused the same way.
    refused_proof(&"A".repeat(MAX_PROOF_BYTES + 1), &Expected::new("GET", URI));
}

#[test]
fn jwe_given_as_a_proof_is_refused() {
    let key = es256();
    let header = b64::encode(br#"{"alg":"dir","enc":"A256GCM","typ":"dpop+jwt"}"#);
    let jwe = format!(
        "{header}..AAAAAAAAAAAAAAAA.{}.AAAAAAAAAAAAAAAAAAAAAA",
        b64::encode(b"x")
    );
    refused_proof(&jwe, &Expected::new("GET", URI));
    // A valid proof with two extra segments is no more a proof.
    refused_proof(&format!("{}..", proof(&key)), &Expected::new("GET", URI));
}

#[test]
fn duplicate_claims_and_non_canonical_base64_are_refused() {
    let key = es256();
    let header_json = serde_json::to_vec(&header(&key)).unwrap();
    let payload = format!(r#"{{"jti":"a","htm":"POST","htm":"GET","htu":"{URI}","iat":{NOW}}}"#);
    let proof = sign_compact_with_header_json(&key, &header_json, payload.as_bytes()).unwrap();
    refused_proof(&proof, &Expected::new("GET", URI));
    let padded = {
        let (head, rest) = proof.split_once('.').unwrap();
        format!("{head}=.{rest}")
    };
    refused_proof(&padded, &Expected::new("GET", URI));
}

// --- Nonces -------------------------------------------------------------------------------------------------------

const STEP: u64 = 60;

fn nonces(secret: u8) -> Nonces {
    Nonces::new(&[secret; 32], Duration::from_secs(STEP)).unwrap()
}

fn proof_with_nonce(key: &SigningKey, nonce: &str) -> String {
    Proof::new("GET", URI)
        .issued_at(at(NOW))
        .nonce(nonce)
        .sign(key)
        .unwrap()
}

#[test]
fn fresh_nonce_is_accepted() {
    let key = es256();
    let verifier = verifier().nonces(nonces(1));
    let nonce = verifier.nonce_issuer().unwrap().issue(at(NOW));
    verifier
        .verify(&proof_with_nonce(&key, &nonce), &Expected::new("GET", URI))
        .unwrap();
    // Issued in the step before: still fresh.
    let previous = nonces(1).issue(at(NOW - STEP));
    verifier
        .verify(
            &proof_with_nonce(&key, &previous),
            &Expected::new("GET", URI),
        )
        .unwrap();
}

#[test]
fn missing_nonce_is_refused_with_use_dpop_nonce() {
    let key = es256();
    let verifier = verifier().nonces(nonces(1));
    refused(
        &verifier,
        &proof(&key),
        &Expected::new("GET", URI),
        ErrorKind::DpopNonce,
    );
}

#[test]
fn stale_nonce_two_steps_later_is_refused_with_use_dpop_nonce() {
    let key = es256();
    let verifier = verifier().nonces(nonces(1));
    let stale = nonces(1).issue(at(NOW - 2 * STEP));
    refused(
        &verifier,
        &proof_with_nonce(&key, &stale),
        &Expected::new("GET", URI),
        ErrorKind::DpopNonce,
    );
    let future = nonces(1).issue(at(NOW + STEP));
    refused(
        &verifier,
        &proof_with_nonce(&key, &future),
        &Expected::new("GET", URI),
        ErrorKind::DpopNonce,
    );
}

#[test]
fn nonce_from_another_secret_or_not_a_string_is_refused_with_use_dpop_nonce() {
    let key = es256();
    let verifier = verifier().nonces(nonces(1));
    let foreign = nonces(2).issue(at(NOW));
    refused(
        &verifier,
        &proof_with_nonce(&key, &foreign),
        &Expected::new("GET", URI),
        ErrorKind::DpopNonce,
    );
    for nonce in [json!(1), json!(null), json!(""), json!(["n"])] {
        let mut claims = claims();
        claims["nonce"] = nonce;
        refused(
            &verifier,
            &hand_built(&key, &header(&key), &claims),
            &Expected::new("GET", URI),
            ErrorKind::DpopNonce,
        );
    }
}

#[test]
fn nonce_does_not_excuse_any_other_check() {
    // A proof with a fresh nonce but by another key, or for another URL, is still an invalid proof.
    let (victim, attacker) = (es256(), es256());
    let verifier = verifier().nonces(nonces(1));
    let nonce = nonces(1).issue(at(NOW));
    let mut claims = claims();
    claims["nonce"] = nonce.clone().into();
    refused(
        &verifier,
        &hand_built(&attacker, &header(&victim), &claims),
        &Expected::new("GET", URI),
        ErrorKind::DpopProof,
    );
    refused(
        &verifier,
        &proof_with_nonce(&victim, &nonce),
        &Expected::new("GET", "https://api.example.com/other"),
        ErrorKind::DpopProof,
    );
}

// --- Messages -----------------------------------------------------------------------------------------------------

#[test]
fn error_messages_quote_a_long_htu_short_and_never_echo_the_proof() {
    let key = es256();
    let long = format!("https://api.example.com/{}", "a".repeat(5000));
    let long_proof = proof_for(&key, &long);
    let message = refused_proof(&long_proof, &Expected::new("GET", URI));
    assert!(message.len() < 300, "{} bytes: {message}", message.len());
    assert!(!message.contains(&"a".repeat(100)));
    // And the other way round: a long requested URI is quoted short too.
    let message = refused_proof(&proof(&key), &Expected::new("GET", &long));
    assert!(message.len() < 300, "{} bytes: {message}", message.len());
    // A long method, in the proof or the request.
    let method = "M".repeat(5000);
    let message = refused_proof(&proof(&key), &Expected::new(&method, URI));
    assert!(message.len() < 300, "{message}");
    // Control characters in the proof do not reach the message raw.
    let injected = proof_for(&key, "https://api.example.com/\r\nSet-Cookie: x");
    let message = refused_proof(&injected, &Expected::new("GET", URI));
    assert!(
        !message.contains('\n') && !message.contains('\r'),
        "{message:?}"
    );
}

// --- Properties ---------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_are_refused_without_panicking(input in ".{0,600}") {
        prop_assert!(verifier().verify(&input, &Expected::new("GET", URI)).is_err());
        let nonced = verifier().nonces(nonces(1));
        prop_assert!(nonced.verify(&input, &Expected::new("GET", URI)).is_err());
    }

    #[test]
    fn arbitrary_three_segment_strings_are_refused_without_panicking(
        a in "[A-Za-z0-9_-]{0,200}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,200}",
    ) {
        let input = format!("{a}.{b}.{c}");
        prop_assert!(verifier().verify(&input, &Expected::new("GET", URI)).is_err());
    }

    #[test]
    fn single_byte_mutations_of_a_valid_proof_are_refused(position in any::<usize>(), byte in 0u8..128) {
        let key = mutation_key();
        let proof = Proof::new("GET", URI).issued_at(at(NOW)).jti("m").sign(key).unwrap();
        let expected = Expected::new("GET", URI);
        prop_assert!(verifier().verify(&proof, &expected).is_ok());
        let mut bytes = proof.into_bytes();
        let position = position % bytes.len();
        let byte = if bytes[position] == byte { byte ^ 1 } else { byte };
        bytes[position] = byte;
        let mutated = String::from_utf8(bytes).unwrap();
        let result = verifier().verify(&mutated, &expected);
        prop_assert!(result.is_err(), "accepted {mutated}");
        prop_assert_eq!(result.unwrap_err().kind(), ErrorKind::DpopProof);
    }
}

fn mutation_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::EdDSA).unwrap())
}
