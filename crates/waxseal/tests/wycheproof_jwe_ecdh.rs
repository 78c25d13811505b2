//! Wycheproof ECDH (P-256, P-384, P-521) and X25519 vectors, through the agreement wrapper JWE uses
//! (`waxseal::jwe::primitives::ecdh`, and `ecdh_with_epk`, the strict `epk` reader decryption uses).
//!
//! * `valid`: the shared secret equals the vector's;
//! * `invalid` (invalid-curve points, points of another curve, broken encodings): refused;
//! * `acceptable`, decided here and counted:
//!   - refused by design: compressed points (a JWK `epk` has no compressed form), DER public keys Wycheproof
//!     calls "InvalidAsn" (non-canonical DER) or whose curve is given by explicit parameters instead of its name
//!     (`UnnamedCurve`), and X25519 low-order points whose shared secret is all zeros (`ZeroSharedSecret`,
//!     RFC 7748 §6.1: the sender would not need the recipient's key to know it);
//!   - accepted, with the vector's secret: the other X25519 cases (points on the twist, non-canonical
//!     u-coordinates), which RFC 7748 defines a result for.
//!
//! The DER (SubjectPublicKeyInfo) files are read as a user's key would be, with `Jwk::from_der`, then handed to the
//! `epk` reader as a JWK: so the DER cases test the JWK path, and the `ecpoint` files the raw-point path.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Tally, hex, str_of, test_groups, wycheproof};
use serde_json::Value;
use waxseal::jwe::primitives;
use waxseal::{ErrorKind, Jwk};

fn has_flag(test: &Value, flag: &str) -> bool {
    test["flags"]
        .as_array()
        .is_some_and(|flags| flags.iter().any(|f| f == flag))
}

/// Wycheproof writes EC private keys as ASN.1 integers (a leading zero byte when the top bit is set, sometimes
/// fewer bytes than the field): the fixed-length big-endian scalar JOSE uses.
fn scalar(hex_text: &str, len: usize) -> Vec<u8> {
    let bytes = hex(hex_text);
    let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    assert!(
        significant.len() <= len,
        "private key longer than {len} bytes"
    );
    let mut out = vec![0u8; len - significant.len()];
    out.extend_from_slice(&significant);
    out
}

fn curve_of(wycheproof_curve: &str) -> (&'static str, usize) {
    match wycheproof_curve {
        "secp256r1" => ("P-256", 32),
        "secp384r1" => ("P-384", 48),
        "secp521r1" => ("P-521", 66),
        other => panic!("unexpected curve {other}"),
    }
}

/// The agreement for one test: `Err` when our wrapper (or, for DER, the JWK reader in front of it) refuses.
fn agree(group: &Value, test: &Value) -> Result<Vec<u8>, waxseal::Error> {
    let (crv, len) = curve_of(str_of(group, "curve"));
    let private = scalar(str_of(test, "private"), len);
    let public = hex(str_of(test, "public"));
    let secret = if str_of(group, "encoding") == "asn" {
        let jwk = Jwk::from_der(&public)?;
        primitives::ecdh_with_epk(crv, &private, &jwk.to_json())?
    } else {
        primitives::ecdh(crv, &private, &public)?
    };
    Ok(secret.to_vec())
}

fn check(name: &str, refused_by_design: impl Fn(&Value) -> bool) -> Tally {
    let file = wycheproof(name);
    let mut tally = Tally::default();
    for group in test_groups(&file) {
        for test in common::array_of(group, "tests") {
            let outcome = if str_of(group, "curve") == "curve25519" {
                primitives::ecdh(
                    "X25519",
                    &hex(str_of(test, "private")),
                    &hex(str_of(test, "public")),
                )
                .map(|s| s.to_vec())
            } else {
                agree(group, test)
            };
            let shared = hex(str_of(test, "shared"));
            match (str_of(test, "result"), outcome) {
                ("valid", Ok(secret)) if secret == shared => tally.valid += 1,
                ("valid", other) => tally.fail(test, &format!("valid case: {other:?}")),
                ("invalid", Err(_)) => tally.invalid += 1,
                ("invalid", Ok(_)) => tally.fail(test, "an invalid case agreed"),
                (_, outcome) if refused_by_design(test) => match outcome {
                    Err(_) => tally.refused_by_design += 1,
                    Ok(_) => tally.fail(test, "a case refused by design was accepted"),
                },
                (_, Ok(secret)) if secret == shared => tally.acceptable_accepted += 1,
                (_, other) => tally.fail(test, &format!("acceptable case: {other:?}")),
            }
        }
    }
    tally.report(name, false);
    tally
}

fn nist_refused_by_design(test: &Value) -> bool {
    ["CompressedPoint", "InvalidAsn", "UnnamedCurve"]
        .iter()
        .any(|flag| has_flag(test, flag))
}

#[test]
fn wycheproof_ecdh_der_public_keys() {
    for (name, invalid) in [
        ("ecdh_secp256r1_test.json", 52),
        ("ecdh_secp384r1_test.json", 46),
        ("ecdh_secp521r1_test.json", 56),
    ] {
        let tally = check(name, nist_refused_by_design);
        assert_eq!(tally.invalid, invalid, "{name}");
        assert_eq!(tally.acceptable_accepted, 0, "{name}");
    }
}

#[test]
fn wycheproof_ecdh_uncompressed_points() {
    for (name, valid, invalid) in [
        ("ecdh_secp256r1_ecpoint_test.json", 330, 24),
        ("ecdh_secp384r1_ecpoint_test.json", 771, 18),
        ("ecdh_secp521r1_ecpoint_test.json", 632, 28),
    ] {
        let tally = check(name, nist_refused_by_design);
        assert_eq!((tally.valid, tally.invalid), (valid, invalid), "{name}");
        assert_eq!(tally.refused_by_design, 1, "{name}: the compressed point");
    }
}

#[test]
fn wycheproof_x25519() {
    let tally = check("x25519_test.json", |t| has_flag(t, "ZeroSharedSecret"));
    assert_eq!(tally.valid, 264);
    assert!(tally.refused_by_design > 0 && tally.acceptable_accepted > 0);
    assert_eq!(
        tally.valid + tally.acceptable_accepted + tally.refused_by_design,
        518
    );
}

/// The all-zero X25519 secret is refused by our wrapper with the decryption error, whatever the library does.
#[test]
fn x25519_low_order_points_are_refused() {
    let private = [0x42u8; 32];
    for low_order in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let err = primitives::ecdh("X25519", &private, &low_order).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    }
}
