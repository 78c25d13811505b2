//! Properties that must hold for all inputs: round trips, tamper evidence, and no panic on any bytes.
#![allow(
    clippy::unwrap_used,
    clippy::needless_raw_string_hashes,
    clippy::items_after_statements,
    missing_docs
)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use waxseal::jws::JwsVerifier;
use waxseal::jwt::{Signer, Verifier, decode_unverified};
use waxseal::{Algorithm, Jwk, KeySet, SigningKey};

fn claim_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn custom_claims() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,12}", claim_value(), 0..8).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| {
                !["iss", "sub", "aud", "exp", "nbf", "iat", "jti"].contains(&k.as_str())
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sign_then_verify_round_trips_arbitrary_claims(custom in custom_claims(), sub in ".{0,30}", alg_index in 0usize..3) {
        let alg = [Algorithm::HS256, Algorithm::EdDSA, Algorithm::ES256][alg_index];
        let key = SigningKey::generate(alg).unwrap();
        let mut claims = custom.clone();
        claims.insert("sub".into(), json!(sub));
        claims.insert("exp".into(), json!(4_000_000_000u64));
        let token = Signer::new(&key).sign(&claims).unwrap();
        let verified = Verifier::new(key.verifying_key().unwrap()).verify::<Map<String, Value>>(&token).unwrap();
        prop_assert_eq!(verified.custom, claims);
        prop_assert_eq!(verified.registered.sub, Some(sub));
    }

    /// A cache of verified tokens relies on it: `accepted_during` says exactly when `verify` accepts the token.
    #[test]
    fn accepted_during_is_exactly_when_verify_accepts(
        exp in prop::option::of(900u64..1_100),
        nbf in prop::option::of(900u64..1_100),
        iat in prop::option::of(900u64..1_100),
        leeway in 0u64..40,
        require_exp in any::<bool>(),
        reject_future_iat in any::<bool>(),
        max_age in prop::option::of(0u64..100),
        now in 850u64..1_250,
    ) {
        use waxseal::jwt::{FixedClock, NumericDate};
        let key = SigningKey::from_secret(&[7; 32], Algorithm::HS256).unwrap();
        let mut claims = Map::new();
        for (name, value) in [("exp", exp), ("nbf", nbf), ("iat", iat)] {
            if let Some(value) = value {
                claims.insert(name.into(), json!(value));
            }
        }
        let token = Signer::new(&key).sign(&claims).unwrap();
        let mut verifier = Verifier::new(key.verifying_key().unwrap())
            .leeway(std::time::Duration::from_secs(leeway))
            .require_exp(require_exp)
            .clock(FixedClock(NumericDate::from_secs(now)));
        if reject_future_iat {
            verifier = verifier.reject_future_iat();
        }
        if let Some(age) = max_age {
            verifier = verifier.max_age(std::time::Duration::from_secs(age));
        }
        let registered = decode_unverified(&token).unwrap();
        let registered: waxseal::jwt::RegisteredClaims = serde_json::from_value(Value::Object(registered.claims.unwrap())).unwrap();
        let window = verifier.accepted_during(&registered);
        prop_assert_eq!(verifier.verify::<Map<String, Value>>(&token).is_ok(), window.contains(&now), "{:?}", window);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let key = SigningKey::from_secret(&[1; 32], Algorithm::HS256).unwrap().verifying_key().unwrap();
        let _ = decode_unverified(&text);
        let _ = Verifier::new(key.clone()).verify::<Value>(&text);
        let _ = JwsVerifier::new(key).verify_json(&text);
        let _ = Jwk::from_json(&text);
        let _ = KeySet::from_jwks(&text);
        let _ = Jwk::from_pem(&text);
        let _ = Jwk::from_der(&bytes);
    }

    #[test]
    fn decoding_token_shaped_garbage_never_panics(parts in prop::collection::vec("[A-Za-z0-9_=+/ -]{0,60}", 1..7)) {
        let token = parts.join(".");
        let key = SigningKey::from_secret(&[1; 32], Algorithm::HS256).unwrap().verifying_key().unwrap();
        prop_assert!(Verifier::new(key).verify::<Value>(&token).is_err());
        let _ = decode_unverified(&token);
    }

    #[test]
    fn json_shaped_garbage_never_panics(value in claim_value(), cut in 0usize..200) {
        let text = value.to_string();
        let truncated = &text.as_bytes()[..cut.min(text.len())];
        let text = String::from_utf8_lossy(truncated);
        let _ = Jwk::from_json(&text);
        let _ = KeySet::from_jwks(&format!("{{\"keys\":[{text}]}}"));
    }
}

/// Flips every bit of the token, one at a time: every variant must be rejected.
fn every_single_bit_change_is_rejected(alg: Algorithm) {
    let key = SigningKey::generate(alg).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap())
        .issuer("https://i.example")
        .audience("api");
    let claims = json!({"iss": "https://i.example", "aud": "api", "sub": "u1", "exp": 4_000_000_000u64, "scope": "read"});
    let token = Signer::new(&key).sign(&claims).unwrap();
    assert!(verifier.verify::<Value>(&token).is_ok());
    let bytes = token.as_bytes();
    let mut checked = 0;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut changed = bytes.to_vec();
            changed[i] ^= 1 << bit;
            let Ok(changed) = String::from_utf8(changed) else {
                continue;
            };
            assert!(
                verifier.verify::<Value>(&changed).is_err(),
                "{alg}: flipping bit {bit} of byte {i} was accepted"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= bytes.len() * 7,
        "{alg}: only {checked} variants checked"
    );
}

#[test]
fn any_single_bit_change_is_rejected_hs256() {
    every_single_bit_change_is_rejected(Algorithm::HS256);
}

#[test]
fn any_single_bit_change_is_rejected_es256() {
    every_single_bit_change_is_rejected(Algorithm::ES256);
}

#[test]
fn any_single_bit_change_is_rejected_eddsa() {
    every_single_bit_change_is_rejected(Algorithm::EdDSA);
}

#[test]
fn any_single_bit_change_is_rejected_rs256() {
    every_single_bit_change_is_rejected(Algorithm::RS256);
}
