//! `keygen` → `sign` → `verify` for every algorithm, through the binary, with JWK and PEM keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{keygen, parts, path_str, run_args, sign, write_json};
use serde_json::json;
use waxseal::Algorithm;

/// The same token with one byte of its signature flipped (canonically re-encoded).
fn tamper(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = waxseal::b64::decode(signature, "signature").unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{input}.{}", waxseal::b64::encode(bytes))
}

fn round_trip(alg: Algorithm, format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{}.{format}", alg.name());
    let (private, public) = keygen(dir.path(), alg.name(), &name, &["--format", format]);
    // HMAC: the secret verifies; otherwise the public JWK keygen printed.
    let verify_key = match public {
        Some(public) => write_json(dir.path(), "public.jwk", &public),
        None => private.clone(),
    };
    let mut args = vec![
        "--key",
        path_str(&private),
        "--sub",
        "round-trip",
        "--aud",
        "api",
        "--exp",
        "5m",
    ];
    // A PEM file does not say whether an RSA key is for RS* or PS*.
    if format == "pem" {
        args.extend(["--alg", alg.name()]);
    }
    let token = sign(&args);
    let (header, claims) = parts(&token);
    assert_eq!(header["alg"], alg.name());
    assert_eq!(claims["sub"], "round-trip");

    let (code, out, err) = run_args(&[
        "verify",
        "--key",
        path_str(&verify_key),
        "--aud",
        "api",
        &token,
    ]);
    assert_eq!(code, 0, "{alg} {format}: {err}");
    let verified: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verified, claims, "{alg} {format}");

    // Narrowed to its own algorithm it still verifies; a flipped signature byte is rejected.
    let (code, _, err) = run_args(&[
        "verify",
        "--key",
        path_str(&verify_key),
        "--alg",
        alg.name(),
        &token,
    ]);
    assert_eq!(code, 0, "{alg} {format} --alg: {err}");
    let (code, _, err) = run_args(&["verify", "--key", path_str(&verify_key), &tamper(&token)]);
    assert_eq!(code, 1, "{alg} {format} tampered: {err}");
    assert!(err.contains("ERR_SIGNATURE_INVALID"), "{alg}: {err}");

    // The public key from `jwks` verifies too (asymmetric only).
    if !alg.is_symmetric() {
        let (code, set, err) = run_args(&["jwks", path_str(&private)]);
        assert_eq!(code, 0, "{err}");
        let set_path = dir.path().join("jwks.json");
        std::fs::write(&set_path, set).unwrap();
        let (code, _, err) = run_args(&["verify", "--key", path_str(&set_path), &token]);
        assert_eq!(code, 0, "{alg} {format} via jwks: {err}");
    }
}

#[test]
fn keygen_sign_verify_every_algorithm_jwk() {
    for alg in Algorithm::ALL {
        round_trip(alg, "jwk");
    }
}

#[test]
fn keygen_sign_verify_every_asymmetric_algorithm_pem() {
    for alg in Algorithm::ALL.into_iter().filter(|a| !a.is_symmetric()) {
        round_trip(alg, "pem");
    }
}

#[test]
fn hmac_key_set_with_kid() {
    // An HMAC JWK with a kid, inside a JWK Set, verifies by kid.
    let dir = tempfile::tempdir().unwrap();
    let (secret, _) = keygen(dir.path(), "HS512", "secret.jwk", &["--kid", "shared-1"]);
    let jwk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&secret).unwrap()).unwrap();
    assert_eq!(jwk["kid"], "shared-1");
    let set = write_json(dir.path(), "set.json", &json!({"keys": [jwk]}));
    let token = sign(&["--key", path_str(&secret), "--exp", "1m"]);
    assert_eq!(parts(&token).0["kid"], "shared-1");
    let (code, _, err) = run_args(&["verify", "--key", path_str(&set), &token]);
    assert_eq!(code, 0, "{err}");
}
