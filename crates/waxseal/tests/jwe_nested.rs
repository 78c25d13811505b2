//! Nested JWTs: signed, then encrypted, in one call each way; the verifier checks both layers and the claims.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
use waxseal::jwt::{
    Claims, FixedClock, NestedSigner, NestedVerifier, NumericDate, Signer, Verifier,
};
use waxseal::{Algorithm, ErrorKind, SigningKey};

struct Parties {
    signing: SigningKey,
    decryption: DecryptionKey,
}

fn parties() -> Parties {
    Parties {
        signing: SigningKey::generate(Algorithm::ES256).unwrap(),
        decryption: DecryptionKey::from_secret(&[9; 32], KeyManagement::A256KW)
            .unwrap()
            .with_kid("enc-1"),
    }
}

fn claims() -> Claims<Value> {
    Claims::new(json!({"email": "alice@example.com"}))
        .issuer("https://issuer.example")
        .subject("alice")
        .audience("api")
        .expires_in(Duration::from_secs(300))
}

fn verifier(p: &Parties) -> NestedVerifier {
    NestedVerifier::new(
        Decrypter::new(p.decryption.clone()),
        Verifier::new(p.signing.verifying_key().unwrap())
            .issuer("https://issuer.example")
            .audience("api"),
    )
}

fn nested(p: &Parties, claims: &Claims<Value>) -> String {
    let encryption = p.decryption.encryption_key();
    NestedSigner::new(
        Signer::new(&p.signing),
        Encrypter::new(&encryption, ContentEncryption::A128CbcHs256),
    )
    .sign(claims)
    .unwrap()
}

#[test]
fn nested_jwt_round_trips_and_both_headers_are_returned() {
    let p = parties();
    let token = nested(&p, &claims());
    assert_eq!(token.split('.').count(), 5);
    let (jwe, jws, opened) = verifier(&p).verify_with_headers::<Value>(&token).unwrap();
    assert_eq!(jwe.cty.as_deref(), Some("JWT"));
    assert_eq!(jwe.kid.as_deref(), Some("enc-1"));
    assert_eq!(jws.alg, Algorithm::ES256);
    assert_eq!(opened.registered.sub.as_deref(), Some("alice"));
    assert_eq!(opened.custom["email"], "alice@example.com");
}

#[test]
fn a_signed_token_that_is_not_encrypted_is_refused() {
    let p = parties();
    let signed = Signer::new(&p.signing).sign(&claims()).unwrap();
    let err = verifier(&p).verify::<Value>(&signed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.message().contains("not encrypted"), "{err}");
}

#[test]
fn the_inner_signature_and_claims_are_checked() {
    let p = parties();
    // Signed by someone else's key, encrypted to the right recipient: decryption succeeds, verification does not.
    let stranger = Parties {
        signing: SigningKey::generate(Algorithm::ES256).unwrap(),
        decryption: p.decryption.clone(),
    };
    let forged = nested(&stranger, &claims());
    assert!(verifier(&p).verify::<Value>(&forged).is_err());

    let for_another_audience = nested(&p, &claims().audience("other"));
    assert_eq!(
        verifier(&p)
            .verify::<Value>(&for_another_audience)
            .unwrap_err()
            .kind(),
        ErrorKind::Audience
    );

    let later = NestedVerifier::new(
        Decrypter::new(p.decryption.clone()),
        Verifier::new(p.signing.verifying_key().unwrap())
            .audience("api")
            .clock(FixedClock(
                NumericDate::now().plus(Duration::from_secs(3600)),
            )),
    );
    assert_eq!(
        later
            .verify::<Value>(&nested(&p, &claims()))
            .unwrap_err()
            .kind(),
        ErrorKind::Expired
    );
}

#[test]
fn the_outer_layer_must_say_it_carries_a_jwt() {
    let p = parties();
    let signed = Signer::new(&p.signing).sign(&claims()).unwrap();
    let encryption = p.decryption.encryption_key();
    let without_cty = Encrypter::new(&encryption, ContentEncryption::A256Gcm)
        .encrypt_compact(signed.as_bytes())
        .unwrap();
    let err = verifier(&p).verify::<Value>(&without_cty).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(err.message().contains("cty"), "{err}");

    let other_content = Encrypter::new(&encryption, ContentEncryption::A256Gcm)
        .cty("json")
        .encrypt_compact(signed.as_bytes())
        .unwrap();
    assert_eq!(
        verifier(&p)
            .verify::<Value>(&other_content)
            .unwrap_err()
            .kind(),
        ErrorKind::Rejected
    );

    let lower_case = Encrypter::new(&encryption, ContentEncryption::A256Gcm)
        .cty("application/jwt")
        .encrypt_compact(signed.as_bytes())
        .unwrap();
    verifier(&p).verify::<Value>(&lower_case).unwrap();
}

#[test]
fn a_jwe_inside_a_jwe_is_refused() {
    let p = parties();
    let inner = nested(&p, &claims());
    let encryption = p.decryption.encryption_key();
    let twice = Encrypter::new(&encryption, ContentEncryption::A256Gcm)
        .cty("JWT")
        .encrypt_compact(inner.as_bytes())
        .unwrap();
    let err = verifier(&p).verify::<Value>(&twice).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.message().contains("JWE inside a JWE"), "{err}");
}

#[test]
fn a_nested_jwt_for_another_recipient_does_not_open() {
    let p = parties();
    let token = nested(&p, &claims());
    let other = NestedVerifier::new(
        Decrypter::new(DecryptionKey::from_secret(&[8; 32], KeyManagement::A256KW).unwrap()),
        Verifier::new(p.signing.verifying_key().unwrap()).audience("api"),
    );
    assert_eq!(
        other.verify::<Value>(&token).unwrap_err().kind(),
        ErrorKind::DecryptionFailed
    );
}
