//! Snapshots of `decode`'s human view (`--color never`) and `--json`, for fixed tokens at a fixed clock.
//!
//! The tokens are deterministic (HMAC, and Ed25519 with the committed fixture key), built with the library here.
//! Update with `INSTA_UPDATE=always`, then read every changed `.snap` before committing it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{NOW, fixture, run, waxseal_at};
use serde_json::{Map, Value, json};
use waxseal::jws::HeaderBuilder;
use waxseal::jwt::Signer;
use waxseal::{Algorithm, SigningKey};

fn object(value: Value) -> Map<String, Value> {
    let Value::Object(map) = value else {
        panic!("not an object")
    };
    map
}

/// HS256: a fresh access token, issued an hour ago, expiring in 15 minutes, with nested custom claims.
fn hs256_token() -> String {
    let key = SigningKey::from_secret(b"waxseal snapshot secret, 32+ bytes long", Algorithm::HS256)
        .unwrap();
    let header = HeaderBuilder::new().typ("at+jwt").kid("snap-hs-1");
    let claims = object(json!({
        "iss": "https://auth.example.com",
        "sub": "user-42",
        "aud": ["orders-api", "billing-api"],
        "iat": NOW - 3600,
        "nbf": NOW - 3600,
        "exp": NOW + 900,
        "jti": "4f1c2b7e",
        "scope": "read:orders write:orders",
        "ctx": {"roles": ["admin"], "tenant": {"id": 7, "name": "Zoë"}}
    }));
    Signer::with_header(&key, &header)
        .unwrap()
        .sign(&claims)
        .unwrap()
}

/// EdDSA (the fixture key): expired two days ago, with an `auth_time`.
fn eddsa_expired_token() -> String {
    let pem = std::fs::read_to_string(fixture("ed25519-pkcs8.pem")).unwrap();
    let key = SigningKey::from_pem(&pem, Algorithm::EdDSA).unwrap();
    let claims = object(json!({
        "sub": "svc-backup",
        "iat": NOW - 3 * 86_400,
        "auth_time": NOW - 3 * 86_400 - 120,
        "exp": NOW - 2 * 86_400,
    }));
    Signer::new(&key).sign(&claims).unwrap()
}

/// HS512: no `exp`, not valid for 3 hours, issued "in the future", with a header that carries `jku`.
fn hs512_odd_token() -> String {
    let key = SigningKey::from_secret(&[0x5a; 64], Algorithm::HS512).unwrap();
    let header = HeaderBuilder::new().member("jku", "https://attacker.example/jwks.json");
    let claims = object(json!({
        "sub": "robot",
        "nbf": NOW + 3 * 3600,
        "iat": NOW + 600,
        "admin": true,
        "quota": 1.5,
        "note": null
    }));
    Signer::with_header(&key, &header)
        .unwrap()
        .sign(&claims)
        .unwrap()
}

fn decode(token: &str, json: bool) -> String {
    let mut cmd = waxseal_at(NOW);
    cmd.args(["--color", "never", "decode"]);
    if json {
        cmd.arg("--json");
    }
    let (code, out, err) = run(cmd.arg(token));
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    out
}

#[test]
fn tokens_are_deterministic() {
    assert_eq!(hs256_token(), hs256_token());
    assert_eq!(eddsa_expired_token(), eddsa_expired_token());
    assert_eq!(hs512_odd_token(), hs512_odd_token());
}

#[test]
fn decode_hs256_human() {
    insta::assert_snapshot!("decode_hs256_human", decode(&hs256_token(), false));
}

#[test]
fn decode_hs256_json() {
    insta::assert_snapshot!("decode_hs256_json", decode(&hs256_token(), true));
}

#[test]
fn decode_eddsa_expired_human() {
    insta::assert_snapshot!(
        "decode_eddsa_expired_human",
        decode(&eddsa_expired_token(), false)
    );
}

#[test]
fn decode_eddsa_expired_json() {
    insta::assert_snapshot!(
        "decode_eddsa_expired_json",
        decode(&eddsa_expired_token(), true)
    );
}

#[test]
fn decode_hs512_odd_human() {
    insta::assert_snapshot!("decode_hs512_odd_human", decode(&hs512_odd_token(), false));
}

#[test]
fn decode_hs512_odd_json() {
    insta::assert_snapshot!("decode_hs512_odd_json", decode(&hs512_odd_token(), true));
}
