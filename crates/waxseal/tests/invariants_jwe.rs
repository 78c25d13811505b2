//! The DESIGN.md invariants as they apply to JWE, each test named after its invariant (the JWS ones are in
//! `invariants.rs`): every input has a bound — the PBES2 iteration count, the decompressed size, the keys tried —
//! and a key is bound to its algorithm across the JWS/JWE line.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use serde_json::json;
use waxseal::jwe::{
    ContentEncryption, DEFAULT_MAX_DECOMPRESSED, Decrypter, DecryptionKey, Encrypter,
    KeyManagement, PBES2_DEFAULT_COUNT,
};
use waxseal::jws::JwsVerifier;
use waxseal::{Algorithm, ErrorKind, Jwk, Limits, SigningKey, b64};

/// A PBES2 token whose header asks for `p2c` iterations (the rest is junk: the bound is checked before any of it).
fn pbes2_token(p2c: u64) -> String {
    let header = json!({"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2s": b64::encode([7u8; 16]), "p2c": p2c});
    format!(
        "{}.{}.{}.{}.{}",
        b64::encode(header.to_string()),
        b64::encode([1u8; 24]),
        b64::encode([2u8; 12]),
        b64::encode([3u8; 8]),
        b64::encode([4u8; 16])
    )
}

#[test]
fn every_input_is_bounded_pbes2_iteration_count() {
    let key = DecryptionKey::from_password(b"hunter2 but longer", KeyManagement::Pbes2Hs256A128KW)
        .unwrap();
    // Off by default, whatever the count.
    let off = Decrypter::new(key.clone());
    assert_eq!(
        off.decrypt_compact(&pbes2_token(2048)).unwrap_err().kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    // On, a billion iterations are refused without one being run; the default maximum is the edge.
    let on = Decrypter::new(key).allow_pbes2(PBES2_DEFAULT_COUNT);
    let started = Instant::now();
    let err = on.decrypt_compact(&pbes2_token(1_000_000_000)).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(took < Duration::from_millis(50), "took {took:?}");
    for p2c in [999, u64::from(PBES2_DEFAULT_COUNT) + 1, u64::MAX] {
        assert!(on.decrypt_compact(&pbes2_token(p2c)).is_err(), "{p2c}");
    }
    // Within the bound the count is honoured (and the junk ciphertext then fails as any bad token does).
    assert_eq!(
        on.decrypt_compact(&pbes2_token(u64::from(PBES2_DEFAULT_COUNT)))
            .unwrap_err()
            .kind(),
        ErrorKind::DecryptionFailed
    );
}

#[test]
fn every_input_is_bounded_decompressed_size() {
    let key = DecryptionKey::from_secret(&[9; 16], KeyManagement::A128KW).unwrap();
    let bomb = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .compress()
        .encrypt_compact(&vec![0u8; 4 * DEFAULT_MAX_DECOMPRESSED])
        .unwrap();
    assert!(
        bomb.len() < 16 * 1024,
        "a bomb is small: {} bytes",
        bomb.len()
    );
    // Off by default.
    assert_eq!(
        Decrypter::new(key.clone())
            .decrypt_compact(&bomb)
            .unwrap_err()
            .kind(),
        ErrorKind::CompressionUnsupported
    );
    // On, inflating stops at the bound.
    let err = Decrypter::new(key)
        .allow_compression(DEFAULT_MAX_DECOMPRESSED)
        .decrypt_compact(&bomb)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(err.message().contains("250000"), "{err}");
}

#[test]
fn every_input_is_bounded_jwe_token_size_and_recipients() {
    let key = DecryptionKey::from_secret(&[9; 16], KeyManagement::A128KW).unwrap();
    let limits = Limits {
        max_token_bytes: 1024,
        ..Limits::default()
    };
    let big = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(&[b'x'; 2048])
        .unwrap();
    let decrypter = Decrypter::new(key.clone()).limits(limits);
    assert_eq!(
        decrypter.decrypt_compact(&big).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    let recipients: Vec<_> = (0..=Limits::default().max_recipients)
        .map(|i| json!({"header": {"alg": "A128KW", "kid": i.to_string()}, "encrypted_key": b64::encode([0u8; 24])}))
        .collect();
    let many = json!({
        "protected": b64::encode(r#"{"enc":"A128GCM"}"#),
        "recipients": recipients,
        "iv": b64::encode([0u8; 12]),
        "ciphertext": "",
        "tag": b64::encode([0u8; 16]),
    });
    assert_eq!(
        Decrypter::new(key)
            .decrypt_json(&many.to_string())
            .unwrap_err()
            .kind(),
        ErrorKind::LimitExceeded
    );
}

#[test]
fn key_is_bound_to_its_algorithm_across_jws_and_jwe() {
    // A signing JWK is not a decryption key, and an encryption JWK is not a verifying key.
    let signing = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .to_jwk()
        .unwrap();
    assert!(DecryptionKey::from_jwk(&signing).is_err());
    let jwe_jwk =
        Jwk::from_json(r#"{"kty":"oct","alg":"A128KW","use":"enc","k":"GawgguFyGrWKav7AX4VKUg"}"#)
            .unwrap();
    assert!(waxseal::VerifyingKey::from_jwk(&jwe_jwk).is_err());
    // A JWE given to a JWS verifier, and a JWS given to a decrypter, are refused by their shape.
    let key = DecryptionKey::from_jwk(&jwe_jwk).unwrap();
    let jwe = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"{}")
        .unwrap();
    let hmac = SigningKey::from_secret(&[1; 32], Algorithm::HS256).unwrap();
    let verifier = JwsVerifier::new(hmac.verifying_key().unwrap());
    assert_eq!(
        verifier.verify_compact(&jwe).unwrap_err().kind(),
        ErrorKind::Malformed
    );
    let jws = waxseal::jwt::Signer::new(&hmac).sign(&json!({})).unwrap();
    assert_eq!(
        Decrypter::new(key)
            .decrypt_compact(&jws)
            .unwrap_err()
            .kind(),
        ErrorKind::Malformed
    );
}
