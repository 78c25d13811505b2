//! One test per security invariant of DESIGN.md, named after it, plus the attacks the issue lists. Each test
//! builds the attack for real (a forged token, a confused key, a malformed encoding) and shows it is refused with
//! the right error kind.
#![allow(
    clippy::unwrap_used,
    clippy::needless_raw_string_hashes,
    clippy::items_after_statements,
    missing_docs
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use waxseal::b64;
use waxseal::jws::{HeaderBuilder, JwsVerifier, sign_compact, sign_compact_with_header_json};
use waxseal::jwt::{Claims, Signer, Verifier, decode_unverified};
use waxseal::{Algorithm, ErrorKind, Jwk, KeySet, Limits, SigningKey, VerifyingKey};

fn claims() -> Value {
    json!({"sub": "alice", "exp": 4_000_000_000u64})
}

/// Builds a compact token from raw header JSON and payload bytes, signed with an HMAC secret — the attacker's tool.
fn forge_hmac(header: &str, payload: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
        input.as_bytes(),
    );
    format!("{input}.{}", b64::encode(tag.as_ref()))
}

fn kind<T>(result: Result<T, waxseal::Error>) -> ErrorKind {
    match result {
        Ok(_) => panic!("accepted a token that must be refused"),
        Err(e) => e.kind(),
    }
}

// --- A key is bound to its algorithm ------------------------------------------------------------------------------

#[test]
fn key_is_bound_to_its_algorithm_rs256_to_hs256_confusion_fails() {
    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let public = rsa.verifying_key().unwrap();
    let verifier = Verifier::new(public.clone());
    let pem = public.to_pem().unwrap();
    let der = {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap()
    };
    let jwk_text = public.to_jwk().unwrap().to_json();
    // The classic attack: HMAC the token with the public key's bytes, in every encoding a server might hold.
    for secret in [
        pem.as_bytes(),
        pem.trim_end().as_bytes(),
        der.as_slice(),
        jwk_text.as_bytes(),
    ] {
        let forged = forge_hmac(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            claims().to_string().as_bytes(),
            secret,
        );
        assert_eq!(
            kind(verifier.verify::<Value>(&forged)),
            ErrorKind::AlgorithmNotAllowed
        );
        let with_kid = forge_hmac(
            &format!(r#"{{"alg":"HS256","kid":"{}"}}"#, rsa.kid().unwrap()),
            claims().to_string().as_bytes(),
            secret,
        );
        assert_eq!(
            kind(verifier.verify::<Value>(&with_kid)),
            ErrorKind::AlgorithmNotAllowed
        );
    }
    // And the key itself refuses to become an HMAC key.
    assert!(VerifyingKey::from_jwk_with_alg(&public.to_jwk().unwrap(), Algorithm::HS256).is_err());
    let mut jwk = public.to_jwk().unwrap();
    jwk.alg = None;
    assert!(VerifyingKey::from_jwk_with_alg(&jwk, Algorithm::HS256).is_err());
}

#[test]
fn key_is_bound_to_its_algorithm_alg_none_is_never_accepted_in_any_capitalisation() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap());
    for alg in ["none", "None", "NONE", "nOnE"] {
        for signature in ["", "AAAA"] {
            let token = format!(
                "{}.{}.{signature}",
                b64::encode(format!(r#"{{"alg":"{alg}"}}"#)),
                b64::encode(claims().to_string())
            );
            assert_eq!(
                kind(verifier.verify::<Value>(&token)),
                ErrorKind::UnsupportedAlgorithm,
                "{alg}"
            );
        }
    }
    // Nothing can produce one: `none` is not an Algorithm, and a header claiming it is refused at signing.
    assert!(Algorithm::from_name("none").is_err());
    assert!(sign_compact_with_header_json(&key, br#"{"alg":"none"}"#, b"x").is_err());
}

#[test]
fn key_is_bound_to_its_algorithm_a_jwk_whose_alg_contradicts_the_token_is_never_used() {
    let key = SigningKey::generate_with_rsa_bits(Algorithm::RS256, 2048).unwrap();
    let ps = SigningKey::from_jwk_with_alg(
        &Jwk {
            alg: None,
            ..key.to_jwk().unwrap()
        },
        Algorithm::PS256,
    )
    .unwrap();
    // The JWKS publishes the key for RS256 only; a PS256 signature by the same RSA key must not verify.
    let set = KeySet::from_jwks(&json!({"keys": [key.public_jwk().unwrap()]}).to_string()).unwrap();
    let token = Signer::new(&ps).sign(&claims()).unwrap();
    assert_eq!(
        kind(Verifier::new(set).verify::<Value>(&token)),
        ErrorKind::AlgorithmNotAllowed
    );
}

#[test]
fn key_is_bound_to_its_algorithm_a_kid_less_key_answers_any_kid_but_only_for_its_algorithm() {
    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let pem = rsa.verifying_key().unwrap().to_pem().unwrap();
    let public = VerifyingKey::from_pem(&pem, Algorithm::RS256).unwrap();
    assert_eq!(public.own_kid(), None, "a PEM key has no kid of its own");
    let verifier = Verifier::new(public);
    // Tokens of identity providers name the key by their own kid, which a PEM file does not carry.
    for header in [
        HeaderBuilder::new().kid("auth0-key-1"),
        HeaderBuilder::new().kid(""),
        HeaderBuilder::new(),
    ] {
        let token = Signer::with_header(&rsa, &header.typ("JWT"))
            .unwrap()
            .sign(&claims())
            .unwrap();
        verifier.verify::<Value>(&token).unwrap();
    }
    // Any kid, but never another algorithm: HMAC with the public key's bytes, or PS256 by the same RSA key.
    let forged = forge_hmac(
        r#"{"alg":"HS256","kid":"auth0-key-1"}"#,
        claims().to_string().as_bytes(),
        pem.as_bytes(),
    );
    assert_eq!(
        kind(verifier.verify::<Value>(&forged)),
        ErrorKind::AlgorithmNotAllowed
    );
    let pss = SigningKey::from_jwk_with_alg(
        &Jwk {
            alg: None,
            ..rsa.to_jwk().unwrap()
        },
        Algorithm::PS256,
    )
    .unwrap();
    let token = Signer::with_header(&pss, &HeaderBuilder::new().kid("auth0-key-1"))
        .unwrap()
        .sign(&claims())
        .unwrap();
    assert_eq!(
        kind(verifier.verify::<Value>(&token)),
        ErrorKind::AlgorithmNotAllowed
    );
    // A raw secret likewise answers to any kid, for its one HMAC algorithm only.
    let secret = [7u8; 64];
    let hs256 = Verifier::new(VerifyingKey::from_secret(&secret, Algorithm::HS256).unwrap());
    let with_kid = |alg: Algorithm| {
        Signer::with_header(
            &SigningKey::from_secret(&secret, alg).unwrap(),
            &HeaderBuilder::new().kid("other-library"),
        )
        .unwrap()
        .sign(&claims())
        .unwrap()
    };
    hs256.verify::<Value>(&with_kid(Algorithm::HS256)).unwrap();
    assert_eq!(
        kind(hs256.verify::<Value>(&with_kid(Algorithm::HS512))),
        ErrorKind::AlgorithmNotAllowed
    );
}

#[test]
fn a_key_with_its_own_kid_is_still_selected_by_kid() {
    let a = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("a");
    let b = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("b");
    let jwks = json!({"keys": [a.public_jwk().unwrap(), b.public_jwk().unwrap()]}).to_string();
    let set = KeySet::from_jwks(&jwks).unwrap();
    assert_eq!(
        set.keys()[0].own_kid(),
        Some("a"),
        "a JWKS member's kid is its own"
    );
    let sign = |key: &SigningKey, kid: &str| {
        Signer::with_header(key, &HeaderBuilder::new().kid(kid))
            .unwrap()
            .sign(&claims())
            .unwrap()
    };
    let verifier = Verifier::new(set);
    verifier.verify::<Value>(&sign(&a, "a")).unwrap();
    verifier.verify::<Value>(&sign(&b, "b")).unwrap();
    // a's signature under b's kid is checked with b only, and under an unknown kid with no key at all.
    assert_eq!(
        kind(verifier.verify::<Value>(&sign(&a, "b"))),
        ErrorKind::InvalidSignature
    );
    assert_eq!(
        kind(verifier.verify::<Value>(&sign(&a, "c"))),
        ErrorKind::KeyNotFound
    );
    // Beside a key without a kid, an unknown kid still never falls back to a key with one of its own.
    let plain = SigningKey::generate(Algorithm::ES256).unwrap();
    let plain_public = VerifyingKey::from_pem(
        &plain.verifying_key().unwrap().to_pem().unwrap(),
        Algorithm::ES256,
    )
    .unwrap();
    let mixed = Verifier::new(
        KeySet::new([
            KeySet::from_jwks(&jwks).unwrap().keys()[0].clone(),
            plain_public,
        ])
        .unwrap(),
    );
    mixed.verify::<Value>(&sign(&plain, "c")).unwrap();
    assert_eq!(
        kind(mixed.verify::<Value>(&sign(&a, "c"))),
        ErrorKind::InvalidSignature
    );
}

// --- The allowed algorithms come from the verifier's keys and configuration, never from the token header --------

#[test]
fn allowed_algorithms_come_from_keys_and_configuration_never_from_the_header() {
    let es = SigningKey::generate(Algorithm::ES256).unwrap();
    let verifier = Verifier::new(es.verifying_key().unwrap());
    assert_eq!(
        verifier.allowed_algorithms().iter().collect::<Vec<_>>(),
        vec![Algorithm::ES256]
    );
    // Narrowing to an algorithm the keys do not have leaves nothing: it never widens.
    let narrowed = verifier
        .clone()
        .algorithms([Algorithm::HS256, Algorithm::RS256]);
    assert!(narrowed.allowed_algorithms().is_empty());
    let token = Signer::new(&es).sign(&claims()).unwrap();
    assert!(verifier.verify::<Value>(&token).is_ok());
    assert_eq!(
        kind(narrowed.verify::<Value>(&token)),
        ErrorKind::AlgorithmNotAllowed
    );
    // A JWKS key without alg may serve RS256..PS512, and a caller can pin it to one.
    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let mut jwk = rsa.public_jwk().unwrap();
    jwk.alg = None;
    let set = KeySet::from_jwks(&json!({"keys": [jwk]}).to_string()).unwrap();
    let pinned = Verifier::new(set).algorithms([Algorithm::PS256]);
    assert_eq!(
        kind(pinned.verify::<Value>(&Signer::new(&rsa).sign(&claims()).unwrap())),
        ErrorKind::AlgorithmNotAllowed
    );
}

#[test]
fn key_sets_mixing_secrets_and_public_keys_are_refused() {
    let hs = SigningKey::generate(Algorithm::HS256)
        .unwrap()
        .verifying_key()
        .unwrap();
    let es = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .verifying_key()
        .unwrap();
    assert_eq!(
        KeySet::new([hs, es]).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

// --- Header members that fetch or carry keys are never followed or trusted -------------------------------------

#[test]
fn embedded_and_remote_keys_in_the_header_are_never_trusted() {
    let trusted = SigningKey::generate(Algorithm::ES256).unwrap();
    let attacker = SigningKey::generate(Algorithm::ES256).unwrap();
    let verifier = Verifier::new(trusted.verifying_key().unwrap());
    let attacker_jwk = serde_json::to_value(attacker.public_jwk().unwrap()).unwrap();
    let headers = [
        HeaderBuilder::new().member("jwk", attacker_jwk.clone()),
        HeaderBuilder::new().member("jku", "https://attacker.example/jwks.json"),
        HeaderBuilder::new().member("x5u", "https://attacker.example/cert.pem"),
        HeaderBuilder::new().member("x5c", json!(["MIIBszCCAVmgAwIBAgIU"])),
        HeaderBuilder::new()
            .kid(trusted.kid().unwrap())
            .member("jwk", attacker_jwk),
    ];
    for header in headers {
        let token = Signer::with_header(&attacker, &header.typ("JWT"))
            .unwrap()
            .sign(&claims())
            .unwrap();
        let err = verifier.verify::<Value>(&token).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::InvalidSignature | ErrorKind::KeyNotFound
            ),
            "{err}"
        );
    }
}

// --- Unknown crit members, duplicate JSON member names and non-canonical base64url are rejected ------------------

#[test]
fn unknown_and_empty_crit_are_rejected() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap());
    let sign = |header: &str| {
        sign_compact_with_header_json(&key, header.as_bytes(), claims().to_string().as_bytes())
    };
    let unknown = sign(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#).unwrap();
    assert_eq!(
        kind(verifier.verify::<Value>(&unknown)),
        ErrorKind::UnsupportedCritical
    );
    // Understood when the caller says so.
    let jws = JwsVerifier::new(key.verifying_key().unwrap()).understood_crit(["exp"]);
    assert!(jws.verify_compact(&unknown).is_ok());
    for header in [
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":"exp","exp":1}"#,
        r#"{"alg":"HS256","crit":["alg"]}"#,
        r#"{"alg":"HS256","crit":["missing"]}"#,
        r#"{"alg":"HS256","crit":["x","x"],"x":1}"#,
    ] {
        let token = forge_hmac(
            header,
            claims().to_string().as_bytes(),
            b"whatever-secret-of-32-bytes-long!",
        );
        assert!(verifier.verify::<Value>(&token).is_err(), "{header}");
        assert!(sign(header).is_err(), "{header} must not even be signable");
    }
    // RFC 7797 b64=false is an unknown crit unless the caller opts in.
    let b64 = sign(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#).unwrap();
    assert_eq!(
        kind(JwsVerifier::new(key.verifying_key().unwrap()).verify_compact(&b64)),
        ErrorKind::UnsupportedCritical
    );
    assert!(
        JwsVerifier::new(key.verifying_key().unwrap())
            .allow_unencoded_payload(true)
            .verify_compact(&b64)
            .is_ok()
    );
}

#[test]
fn duplicate_json_member_names_are_rejected() {
    let secret = [7u8; 32];
    let key = VerifyingKey::from_secret(&secret, Algorithm::HS256).unwrap();
    let verifier = Verifier::new(key);
    let dup_alg = forge_hmac(
        r#"{"alg":"HS256","alg":"none"}"#,
        claims().to_string().as_bytes(),
        &secret,
    );
    assert_eq!(
        kind(verifier.verify::<Value>(&dup_alg)),
        ErrorKind::Malformed
    );
    let dup_escaped = forge_hmac(
        r#"{"alg":"HS256","\u0061lg":"HS256"}"#,
        claims().to_string().as_bytes(),
        &secret,
    );
    assert_eq!(
        kind(verifier.verify::<Value>(&dup_escaped)),
        ErrorKind::Malformed
    );
    let dup_claim = forge_hmac(
        r#"{"alg":"HS256"}"#,
        br#"{"sub":"alice","sub":"admin","exp":4000000000}"#,
        &secret,
    );
    assert_eq!(
        kind(verifier.verify::<Value>(&dup_claim)),
        ErrorKind::Malformed
    );
    assert!(Jwk::from_json(r#"{"kty":"oct","k":"AAAA","kty":"RSA"}"#).is_err());
}

#[test]
fn non_canonical_base64url_is_rejected() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap());
    let token = Signer::new(&key).sign(&claims()).unwrap();
    assert!(verifier.verify::<Value>(&token).is_ok());
    let parts: Vec<&str> = token.split('.').collect();
    let with = |i: usize, s: &str| {
        let mut p: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
        p[i] = s.to_owned();
        p.join(".")
    };
    let mut variants = vec![
        with(2, &format!("{}=", parts[2])),                     // padding
        with(0, &format!("{}==", parts[0])),                    // padding in the header
        with(1, &format!(" {}", parts[1])),                     // whitespace
        with(1, &format!("{}\n", parts[1])),                    // newline
        with(2, &parts[2].replace('-', "+").replace('_', "/")), // standard alphabet
    ];
    // A signature whose last character carries non-zero unused bits decodes to the same bytes elsewhere.
    let last = parts[2].chars().last().unwrap();
    let idx = base64::alphabet::URL_SAFE.as_str().find(last).unwrap();
    let sibling = base64::alphabet::URL_SAFE
        .as_str()
        .chars()
        .nth(idx ^ 1)
        .unwrap();
    variants.push(with(
        2,
        &format!("{}{sibling}", &parts[2][..parts[2].len() - 1]),
    ));
    for variant in variants {
        if variant == token {
            continue;
        }
        assert!(verifier.verify::<Value>(&variant).is_err(), "{variant:?}");
    }
}

// --- The signature is checked before the claims are parsed into the caller's type -------------------------------

static DESERIALIZED: AtomicUsize = AtomicUsize::new(0);

struct Counting;

impl<'de> Deserialize<'de> for Counting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DESERIALIZED.fetch_add(1, Ordering::SeqCst);
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Counting)
    }
}

#[test]
fn signature_is_checked_before_claims_are_parsed() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap());
    let token = Signer::new(&key).sign(&claims()).unwrap();
    let (head, sig) = token.rsplit_once('.').unwrap();
    let bad_sig = format!("{head}.{}", b64::encode([1u8; 64]));
    assert_eq!(
        kind(verifier.verify::<Counting>(&bad_sig)),
        ErrorKind::InvalidSignature
    );
    // Claims that are not even JSON: the signature error comes first, not a parse error.
    let garbage = format!(
        "{}.{}.{sig}",
        head.split('.').next().unwrap(),
        b64::encode("{not json")
    );
    assert_eq!(
        kind(verifier.verify::<Counting>(&garbage)),
        ErrorKind::InvalidSignature
    );
    assert_eq!(
        DESERIALIZED.load(Ordering::SeqCst),
        0,
        "the caller's type was touched before verification"
    );
    // Validation also runs before the caller's type: an expired token never reaches it.
    let expired = Signer::new(&key).sign(&json!({"exp": 1})).unwrap();
    assert_eq!(
        kind(verifier.verify::<Counting>(&expired)),
        ErrorKind::Expired
    );
    assert_eq!(DESERIALIZED.load(Ordering::SeqCst), 0);
    verifier.verify::<Counting>(&token).unwrap();
    assert_eq!(DESERIALIZED.load(Ordering::SeqCst), 1);
}

// --- Every input has a bound ------------------------------------------------------------------------------------

#[test]
fn every_input_is_bounded_token_size() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let big = json!({"exp": 4_000_000_000u64, "pad": "x".repeat(70_000)});
    let token = Signer::new(&key).sign(&big).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap());
    assert_eq!(
        kind(verifier.verify::<Value>(&token)),
        ErrorKind::LimitExceeded
    );
    let roomy = verifier.clone().limits(Limits {
        max_token_bytes: 200_000,
        ..Limits::default()
    });
    assert!(roomy.verify::<Value>(&token).is_ok());
    let tight = verifier.limits(Limits {
        max_token_bytes: 100,
        ..Limits::default()
    });
    assert_eq!(
        kind(tight.verify::<Value>(&Signer::new(&key).sign(&claims()).unwrap())),
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        kind(decode_unverified(&"a".repeat(1 << 20))),
        ErrorKind::LimitExceeded
    );
}

#[test]
fn every_input_is_bounded_json_depth() {
    let secret = [9u8; 32];
    let verifier = Verifier::new(VerifyingKey::from_secret(&secret, Algorithm::HS256).unwrap());
    let deep_claims = format!(
        "{{\"exp\":4000000000,\"a\":{}1{}}}",
        "[".repeat(64),
        "]".repeat(64)
    );
    let token = forge_hmac(r#"{"alg":"HS256"}"#, deep_claims.as_bytes(), &secret);
    assert_eq!(
        kind(verifier.verify::<Value>(&token)),
        ErrorKind::LimitExceeded
    );
    let deep_header = format!(
        "{{\"alg\":\"HS256\",\"x\":{}{}}}",
        "{\"a\":".repeat(40),
        "}".repeat(40)
    );
    let token = forge_hmac(&deep_header, claims().to_string().as_bytes(), &secret);
    assert_eq!(
        kind(verifier.verify::<Value>(&token)),
        ErrorKind::LimitExceeded
    );
    // Far beyond any parser's recursion limit: still an error, not a stack overflow.
    let abyss = format!("{{\"a\":{}}}", "[".repeat(1_000_000));
    assert!(
        kind(verifier.verify::<Value>(&forge_hmac(
            r#"{"alg":"HS256"}"#,
            abyss.as_bytes(),
            &secret
        ))) != ErrorKind::InvalidSignature
    );
}

#[test]
fn every_input_is_bounded_jwks_size_and_key_count() {
    let key = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .public_jwk()
        .unwrap();
    let many = json!({"keys": vec![serde_json::to_value(&key).unwrap(); 101]}).to_string();
    assert_eq!(
        KeySet::from_jwks(&many).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    let huge = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(600 * 1024));
    assert_eq!(
        KeySet::from_jwks(&huge).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    let tight = Limits {
        max_keys: 1,
        ..Limits::default()
    };
    let two = json!({"keys": [key.clone(), key]}).to_string();
    assert_eq!(
        KeySet::from_jwks_with_limits(&two, &tight)
            .unwrap_err()
            .kind(),
        ErrorKind::LimitExceeded
    );
}

#[test]
fn every_input_is_bounded_signatures_in_json_serialization_and_keys_tried_without_kid() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let mut signer = waxseal::jws::JsonSigner::new(b"x");
    for _ in 0..9 {
        signer = signer.sign(&key, &HeaderBuilder::new(), None).unwrap();
    }
    let verifier = JwsVerifier::new(key.verifying_key().unwrap());
    assert_eq!(
        verifier.verify_json(&signer.general()).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    // Without kid only max_candidates keys of the token's algorithm are tried.
    let keys: Vec<VerifyingKey> = (0..5)
        .map(|i| {
            VerifyingKey::from_secret(&[i; 32], Algorithm::HS256)
                .unwrap()
                .with_kid(format!("k{i}"))
        })
        .collect();
    let last = SigningKey::from_secret(&[4; 32], Algorithm::HS256).unwrap();
    let token = sign_compact(&last, &HeaderBuilder::new(), b"x").unwrap();
    let set = KeySet::new(keys).unwrap();
    assert!(
        JwsVerifier::new(set.clone())
            .verify_compact(&token)
            .is_err(),
        "only the first 3 are tried"
    );
    assert!(
        JwsVerifier::new(set.max_candidates(5))
            .verify_compact(&token)
            .is_ok()
    );
    // Keys without a kid of their own answer to any kid, so a token with a kid tries at most as many of them.
    let kidless =
        KeySet::new((0..5).map(|i| VerifyingKey::from_secret(&[i; 32], Algorithm::HS256).unwrap()))
            .unwrap();
    let token = sign_compact(&last, &HeaderBuilder::new().kid("k4"), b"x").unwrap();
    assert_eq!(
        JwsVerifier::new(kidless.clone())
            .verify_compact(&token)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidSignature,
        "only the first 3 are tried"
    );
    assert!(
        JwsVerifier::new(kidless.max_candidates(5))
            .verify_compact(&token)
            .is_ok()
    );
}

// --- HMAC keys shorter than the hash output are refused at key construction --------------------------------------

#[test]
fn hmac_keys_shorter_than_the_hash_output_are_refused() {
    for (alg, len) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        for short in [0, 1, len - 1] {
            assert_eq!(
                SigningKey::from_secret(&vec![1; short], alg)
                    .unwrap_err()
                    .kind(),
                ErrorKind::InvalidKey
            );
            assert_eq!(
                VerifyingKey::from_secret(&vec![1; short], alg)
                    .unwrap_err()
                    .kind(),
                ErrorKind::InvalidKey
            );
        }
        assert!(SigningKey::from_secret(&vec![1; len], alg).is_ok());
    }
    let jwk = Jwk::from_json(r#"{"kty":"oct","alg":"HS256","k":"c2hvcnQ"}"#).unwrap();
    assert_eq!(
        VerifyingKey::from_jwk(&jwk).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

// --- Secrets and private keys never appear in Debug, logs or error messages --------------------------------------

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let secret = b"correct-horse-battery-staple-0123456789";
    let hs = SigningKey::from_secret(secret, Algorithm::HS256).unwrap();
    let ec = SigningKey::generate(Algorithm::ES256).unwrap();
    let ec_jwk = ec.to_jwk().unwrap();
    let d = ec_jwk.d.clone().unwrap();
    let hs_jwk = hs.to_jwk().unwrap();
    let k = hs_jwk.k.clone().unwrap();
    let shown = format!(
        "{hs:?} {ec:?} {ec_jwk:?} {hs_jwk:?} {:?} {:?}",
        hs.verifying_key().unwrap(),
        Verifier::new(hs.verifying_key().unwrap())
    );
    for needle in [&d, &k, "correct-horse"] {
        assert!(!shown.contains(needle), "secret leaked into Debug: {shown}");
    }
    // A wrong-length secret in an error message would leak it; the message says only lengths.
    let err = SigningKey::from_secret(b"hunter2", Algorithm::HS256).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

// --- Errors say what was wrong without echoing attacker input unbounded ------------------------------------------

#[test]
fn errors_say_what_was_wrong_without_echoing_input_unbounded() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap())
        .issuer("https://good.example")
        .audience("api");
    let sign = |c: Value| Signer::new(&key).sign(&c).unwrap();
    let cases = [
        (
            json!({"exp": NOW - 180}),
            ErrorKind::Expired,
            "expired 3 min ago",
        ),
        (
            json!({"exp": NOW + 900, "nbf": NOW + 600, "iss": "https://good.example", "aud": "api"}),
            ErrorKind::NotYetValid,
            "10 min",
        ),
        (
            json!({"exp": NOW + 900, "iss": "x".repeat(10_000), "aud": "api"}),
            ErrorKind::Issuer,
            "not accepted",
        ),
        (
            json!({"exp": NOW + 900, "iss": "https://good.example", "aud": "api2"}),
            ErrorKind::Audience,
            "api2",
        ),
        (
            json!({"exp": NOW + 900, "iss": "https://good.example"}),
            ErrorKind::Audience,
            "no aud",
        ),
    ];
    for (claims, expected, phrase) in cases {
        let err = verifier
            .clone()
            .clock(waxseal::jwt::FixedClock(
                waxseal::jwt::NumericDate::from_secs(NOW),
            ))
            .verify::<Value>(&sign(claims))
            .unwrap_err();
        assert_eq!(err.kind(), expected, "{err}");
        assert!(err.to_string().contains(phrase), "{err}");
        assert!(
            err.to_string().len() < 200,
            "unbounded message: {} bytes",
            err.to_string().len()
        );
    }
}

const NOW: u64 = 1_800_000_000;

// --- Attacks named in the issue ---------------------------------------------------------------------------------

#[test]
fn es256_signatures_with_r_or_s_out_of_range_or_in_der_are_rejected() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let verifier = JwsVerifier::new(key.verifying_key().unwrap());
    let token = sign_compact(&key, &HeaderBuilder::new(), b"payload").unwrap();
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let sig = b64::decode(sig_b64, "sig").unwrap();
    let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let zero = [0u8; 32];
    let with = |r: &[u8], s: &[u8]| format!("{input}.{}", b64::encode([r, s].concat()));
    let mut forged = vec![
        with(&zero, &zero), // psychic signature (CVE-2022-21449)
        with(&zero, &sig[32..]),
        with(&sig[..32], &zero),
        with(&n, &sig[32..]), // r = n
        with(&sig[..32], &n), // s = n
        with(&[0xff; 32], &sig[32..]),
        format!("{input}.{}", b64::encode(&sig[..63])), // too short
        format!("{input}.{}", b64::encode([&sig[..], &[0]].concat())), // too long
        format!("{input}.{}", b64::encode(der_signature(&sig))), // DER instead of r‖s
    ];
    // s replaced by n - s: the "malleable" twin is a different signature and must also fail over another message.
    forged.push(format!(
        "{}.{}.{sig_b64}",
        input.split('.').next().unwrap(),
        b64::encode(b"other")
    ));
    for token in forged {
        assert_eq!(
            kind(verifier.verify_compact(&token)),
            ErrorKind::InvalidSignature,
            "{token}"
        );
    }
}

fn der_signature(raw: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let mut v = b
            .iter()
            .copied()
            .skip_while(|x| *x == 0)
            .collect::<Vec<u8>>();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![2, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn tokens_with_two_four_or_five_segments_are_rejected() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap());
    let token = Signer::new(&key).sign(&claims()).unwrap();
    let (a, rest) = token.split_once('.').unwrap();
    let (b, c) = rest.split_once('.').unwrap();
    for bad in [
        format!("{a}.{b}"),
        format!("{a}.{b}.{c}.{c}"),
        format!("{a}.{b}.{c}.{c}.{c}"),
        format!("{a}..{c}"),
        format!(".{b}.{c}"),
        format!("{a}.{b}."),
        String::new(),
        ".".into(),
        "..".into(),
    ] {
        let err = verifier.verify::<Value>(&bad).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Malformed | ErrorKind::InvalidSignature
            ),
            "{bad:?}: {err}"
        );
    }
    let five = format!("{a}.{b}.{c}.{c}.{c}");
    assert!(
        verifier
            .verify::<Value>(&five)
            .unwrap_err()
            .to_string()
            .contains("JWE")
    );
}

#[test]
fn kid_values_are_plain_data() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap());
    for kid in [
        "../../etc/passwd",
        "' OR 1=1 --",
        "/dev/null",
        "\u{0}",
        "${jndi:ldap://x}",
        &"k".repeat(5000),
    ] {
        let token = Signer::with_header(&key, &HeaderBuilder::new().kid(kid))
            .unwrap()
            .sign(&claims())
            .unwrap();
        let err = verifier.verify::<Value>(&token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{kid:?}");
        assert!(err.to_string().len() < 150);
    }
}

#[test]
fn claims_with_wrong_types_are_rejected() {
    let key = SigningKey::generate(Algorithm::HS256).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap()).any_audience();
    let forge = |c: &str| {
        let sk = key.clone();
        let header = br#"{"alg":"HS256"}"#;
        sign_compact_with_header_json(&sk, header, c.as_bytes()).unwrap()
    };
    for claims in [
        r#"{"exp":-1}"#,
        r#"{"exp":"4000000000"}"#,
        r#"{"exp":4000000000,"nbf":null}"#,
        r#"{"exp":1e300}"#,
        r#"{"exp":4000000000,"iss":5}"#,
        r#"{"exp":4000000000,"aud":[1]}"#,
        r#"{"exp":4000000000,"sub":{}}"#,
        r#"[]"#,
        r#""x""#,
    ] {
        assert!(
            verifier.verify::<Value>(&forge(claims)).is_err(),
            "{claims}"
        );
    }
    // Fractional NumericDates are valid (RFC 7519 §2).
    assert!(
        verifier
            .verify::<Value>(&forge(r#"{"exp":4000000000.5}"#))
            .is_ok()
    );
    // And the signer refuses to produce what the verifier would refuse.
    assert!(Signer::new(&key).sign(&json!({"exp": -5})).is_err());
    assert!(Signer::new(&key).sign(&json!([1, 2])).is_err());
}

#[test]
fn validation_rules() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let at = |secs| waxseal::jwt::FixedClock(waxseal::jwt::NumericDate::from_secs(secs));
    let token = |c: Value| Signer::new(&key).sign(&c).unwrap();
    let base = Verifier::new(key.verifying_key().unwrap()).clock(at(NOW));
    // exp required by default; leeway 60 s by default.
    assert_eq!(
        kind(base.verify::<Value>(&token(json!({})))),
        ErrorKind::MissingClaim
    );
    assert!(
        base.clone()
            .require_exp(false)
            .verify::<Value>(&token(json!({})))
            .is_ok()
    );
    assert!(
        base.verify::<Value>(&token(json!({"exp": NOW - 59})))
            .is_ok()
    );
    assert_eq!(
        kind(base.verify::<Value>(&token(json!({"exp": NOW - 61})))),
        ErrorKind::Expired
    );
    let strict = base.clone().leeway(Duration::ZERO);
    assert_eq!(
        kind(strict.verify::<Value>(&token(json!({"exp": NOW - 1})))),
        ErrorKind::Expired
    );
    assert_eq!(
        kind(strict.verify::<Value>(&token(json!({"exp": NOW + 10, "nbf": NOW + 1})))),
        ErrorKind::NotYetValid
    );
    // iat in the future (opt-in) and maximum age.
    let future = token(json!({"exp": NOW + 900, "iat": NOW + 600}));
    assert!(base.verify::<Value>(&future).is_ok());
    assert_eq!(
        kind(base.clone().reject_future_iat().verify::<Value>(&future)),
        ErrorKind::IssuedAt
    );
    let old = token(json!({"exp": NOW + 900, "iat": NOW - 7200}));
    assert_eq!(
        kind(
            base.clone()
                .max_age(Duration::from_secs(3600))
                .verify::<Value>(&old)
        ),
        ErrorKind::IssuedAt
    );
    assert_eq!(
        kind(
            base.clone()
                .max_age(Duration::from_secs(3600))
                .verify::<Value>(&token(json!({"exp": NOW + 1})))
        ),
        ErrorKind::MissingClaim
    );
    // iss one of a set; aud intersects a set; sub; required claims.
    let full = token(
        json!({"exp": NOW + 900, "iss": "b", "aud": ["x", "api"], "sub": "alice", "scope": "read"}),
    );
    let v = base
        .clone()
        .issuer("a")
        .issuer("b")
        .audience("api")
        .audience("other");
    assert!(v.verify::<Value>(&full).is_ok());
    assert_eq!(
        kind(
            base.clone()
                .issuer("a")
                .any_audience()
                .verify::<Value>(&full)
        ),
        ErrorKind::Issuer
    );
    assert_eq!(
        kind(base.clone().audience("nope").verify::<Value>(&full)),
        ErrorKind::Audience
    );
    assert_eq!(
        kind(base.verify::<Value>(&full)),
        ErrorKind::Audience,
        "aud present but no audience configured"
    );
    assert_eq!(
        kind(v.clone().subject("bob").verify::<Value>(&full)),
        ErrorKind::Subject
    );
    assert!(
        v.clone()
            .subject("alice")
            .require(["scope"])
            .verify::<Value>(&full)
            .is_ok()
    );
    assert_eq!(
        kind(v.clone().require(["client_id"]).verify::<Value>(&full)),
        ErrorKind::MissingClaim
    );
    // A caller-supplied check sees header and claims.
    let only_read = v.clone().check(|_, claims| {
        if claims.get("scope") == Some(&json!("admin")) {
            Ok(())
        } else {
            Err("admin scope required".into())
        }
    });
    assert_eq!(kind(only_read.verify::<Value>(&full)), ErrorKind::Rejected);
    // typ, compared as RFC 7515 §4.1.9 says.
    let at_jwt =
        Signer::with_header(&key, &HeaderBuilder::new().typ("application/AT+JWT")).unwrap();
    let access = at_jwt.sign(&json!({"exp": NOW + 900})).unwrap();
    assert!(base.clone().typ("at+jwt").verify::<Value>(&access).is_ok());
    assert_eq!(
        kind(
            base.clone()
                .typ("at+jwt")
                .verify::<Value>(&token(json!({"exp": NOW + 900})))
        ),
        ErrorKind::Type
    );
    // Typed claims.
    #[derive(Deserialize)]
    struct Mine {
        scope: String,
        sub: String,
    }
    let mine = v.verify::<Mine>(&full).unwrap();
    assert_eq!(
        (mine.custom.scope.as_str(), mine.custom.sub.as_str()),
        ("read", "alice")
    );
    assert_eq!(
        kind(v.verify::<Mine>(&token(json!({"exp": NOW + 900, "iss": "b", "aud": "api"})))),
        ErrorKind::Claims
    );
}

#[test]
fn claims_builder_sets_registered_claims_and_rejects_duplicates() {
    let key = SigningKey::generate(Algorithm::HS512).unwrap();
    let claims = Claims::new(json!({"scope": "read"}))
        .issuer("i")
        .subject("s")
        .audience("a")
        .jwt_id("j")
        .expires_in(Duration::from_secs(60));
    let token = Signer::new(&key).sign(&claims).unwrap();
    let back = Verifier::new(key.verifying_key().unwrap())
        .audience("a")
        .verify::<Value>(&token)
        .unwrap();
    assert_eq!(back.registered, claims.registered);
    // A custom member colliding with a registered one would produce duplicate JSON members: refused.
    let clash = Claims::new(json!({"sub": "other"})).subject("s");
    assert_eq!(
        Signer::new(&key).sign(&clash).unwrap_err().kind(),
        ErrorKind::Malformed
    );
}
