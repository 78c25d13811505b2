//! JWE key management seen from outside: A192KW, PBES2 and its bounds, and RSA1_5 refused. Each test names the
//! property it shows; the PBES2 bounds are the classes of CVE-2022-36083 (panva/jose: an unbounded `p2c` made a
//! decrypter spin) and CVE-2023-49290 (lestrrat-go/jwx: the same, through `p2c` from the token header).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{cookbook, str_of};
use waxseal::jwe::{
    ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement, PBES2_DEFAULT_COUNT,
};
use waxseal::{ErrorKind, Jwk, b64};

const PBES2: [KeyManagement; 3] = [
    KeyManagement::Pbes2Hs256A128KW,
    KeyManagement::Pbes2Hs384A192KW,
    KeyManagement::Pbes2Hs512A256KW,
];

fn password_key(alg: KeyManagement) -> DecryptionKey {
    DecryptionKey::from_password(b"correct horse battery staple", alg).unwrap()
}

/// A real PBES2 token with its protected header replaced by `header`: whatever the decrypter refuses, it refuses
/// from the header alone.
fn with_header(header: &str) -> String {
    let key = password_key(KeyManagement::Pbes2Hs256A128KW);
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"x")
        .unwrap();
    format!(
        "{}.{}",
        b64::encode(header),
        token.split_once('.').unwrap().1
    )
}

fn allowing(max: u32) -> Decrypter {
    Decrypter::new(password_key(KeyManagement::Pbes2Hs256A128KW)).allow_pbes2(max)
}

#[test]
fn a192kw_round_trips_and_a_wrong_key_fails_like_a_bad_tag() {
    let key = DecryptionKey::from_secret(&[3; 24], KeyManagement::A192KW).unwrap();
    let other = DecryptionKey::from_secret(&[4; 24], KeyManagement::A192KW).unwrap();
    for enc in ContentEncryption::ALL {
        let token = Encrypter::new(&key.encryption_key(), enc)
            .encrypt_compact(b"payload")
            .unwrap();
        let opened = Decrypter::new(key.clone()).decrypt_compact(&token).unwrap();
        assert_eq!(opened.plaintext, b"payload", "{enc}");
        let err = Decrypter::new(other.clone())
            .decrypt_compact(&token)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed, "{enc}");
    }
    assert_eq!(
        DecryptionKey::from_secret(&[3; 16], KeyManagement::A192KW)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
    let jwk =
        Jwk::from_json(r#"{"kty":"oct","alg":"A192KW","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#)
            .unwrap();
    assert_eq!(
        DecryptionKey::from_jwk(&jwk).unwrap().algorithm(),
        KeyManagement::A192KW
    );
}

#[test]
fn pbes2_round_trips_every_content_encryption_and_a_wrong_password_fails_like_a_bad_tag() {
    for alg in PBES2 {
        let key = password_key(alg);
        let wrong = DecryptionKey::from_password(b"correct horse battery stapler", alg).unwrap();
        for enc in ContentEncryption::ALL {
            let token = Encrypter::new(&key.encryption_key(), enc)
                .encrypt_compact(b"payload")
                .unwrap();
            let opened = Decrypter::new(key.clone())
                .allow_pbes2(PBES2_DEFAULT_COUNT)
                .decrypt_compact(&token)
                .unwrap();
            assert_eq!(opened.plaintext, b"payload", "{alg} {enc}");
            assert_eq!(opened.header.get("p2c").unwrap(), PBES2_DEFAULT_COUNT);
            let p2s = opened.header.get("p2s").unwrap().as_str().unwrap();
            assert_eq!(b64::decode(p2s, "p2s").unwrap().len(), 16);
            let err = Decrypter::new(wrong.clone())
                .allow_pbes2(PBES2_DEFAULT_COUNT)
                .decrypt_compact(&token)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DecryptionFailed, "{alg} {enc}");
        }
    }
}

#[test]
fn pbes2_keys_are_passwords_bound_to_their_algorithm() {
    let alg = KeyManagement::Pbes2Hs256A128KW;
    let kind = |r: waxseal::Result<DecryptionKey>| r.unwrap_err().kind();
    assert_eq!(
        kind(DecryptionKey::from_password(b"", alg)),
        ErrorKind::InvalidKey
    );
    assert_eq!(
        kind(DecryptionKey::from_password(b"pw", KeyManagement::A128KW)),
        ErrorKind::AlgorithmNotAllowed
    );
    let err = DecryptionKey::from_secret(&[1; 16], alg).unwrap_err();
    assert!(err.message().contains("from_password"), "{err}");
    // RFC 7520 §5.3's way: an oct JWK whose k is the password.
    let jwk = Jwk::from_json(&format!(
        r#"{{"kty":"oct","alg":"PBES2-HS256+A128KW","k":"{}"}}"#,
        b64::encode(b"correct horse battery staple")
    ))
    .unwrap();
    let from_jwk = DecryptionKey::from_jwk(&jwk).unwrap();
    let token = Encrypter::new(
        &password_key(alg).encryption_key(),
        ContentEncryption::A128Gcm,
    )
    .encrypt_compact(b"x")
    .unwrap();
    assert_eq!(
        Decrypter::new(from_jwk)
            .allow_pbes2(PBES2_DEFAULT_COUNT)
            .decrypt_compact(&token)
            .unwrap()
            .plaintext,
        b"x"
    );
    assert!(!format!("{:?}", password_key(alg)).contains("horse"));
}

#[test]
fn pbes2_is_refused_unless_the_decrypter_enables_it() {
    let key = password_key(KeyManagement::Pbes2Hs256A128KW);
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"x")
        .unwrap();
    let err = Decrypter::new(key).decrypt_compact(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgorithmNotAllowed, "{err}");
    assert!(err.message().contains("allow_pbes2"), "{err}");
}

/// CVE-2022-36083 / CVE-2023-49290: a header asking for 10^9 PBKDF2 iterations (minutes of CPU) is refused from
/// the header, before any derivation.
#[test]
fn pbes2_p2c_of_a_billion_is_refused_before_any_work() {
    let token = with_header(
        r#"{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","p2s":"AAAAAAAAAAAAAAAAAAAAAA","p2c":1000000000}"#,
    );
    let decrypter = allowing(PBES2_DEFAULT_COUNT);
    let started = Instant::now();
    let err = decrypter.decrypt_compact(&token).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(
        err.message().contains("1000000000") && err.message().contains("at most 10000"),
        "{err}"
    );
    assert!(took < Duration::from_millis(50), "took {took:?}");
}

/// The other shapes of a bad `p2c` or `p2s` (CVE-2022-36083 class): each refused by the header check, without
/// derivation, with a kind that says what.
#[test]
fn pbes2_header_parameters_are_checked_before_any_work() {
    let header = |p2s: &str, p2c: &str| {
        let mut members = vec![r#""alg":"PBES2-HS256+A128KW","enc":"A128GCM""#.to_owned()];
        if !p2s.is_empty() {
            members.push(format!(r#""p2s":{p2s}"#));
        }
        if !p2c.is_empty() {
            members.push(format!(r#""p2c":{p2c}"#));
        }
        with_header(&format!("{{{}}}", members.join(",")))
    };
    let salt = r#""AAAAAAAAAAA""#; // 8 bytes, the smallest allowed
    let cases = [
        (header(salt, ""), ErrorKind::Malformed, "missing p2c"),
        (header(salt, "2048.0"), ErrorKind::Malformed, "float p2c"),
        (
            header(salt, "2048.5"),
            ErrorKind::Malformed,
            "fractional p2c",
        ),
        (header(salt, "-2048"), ErrorKind::Malformed, "negative p2c"),
        (
            header(salt, r#""2048""#),
            ErrorKind::Malformed,
            "string p2c",
        ),
        (header(salt, "1e9"), ErrorKind::Malformed, "exponent p2c"),
        (header(salt, "0"), ErrorKind::LimitExceeded, "p2c 0"),
        (
            header(salt, "999"),
            ErrorKind::LimitExceeded,
            "p2c under 1000",
        ),
        (
            header(salt, "10001"),
            ErrorKind::LimitExceeded,
            "p2c over the maximum",
        ),
        (
            header(salt, "18446744073709551616"),
            ErrorKind::Malformed,
            "p2c past u64",
        ),
        (header("", "2048"), ErrorKind::Malformed, "missing p2s"),
        (header(r#""""#, "2048"), ErrorKind::Malformed, "empty p2s"),
        (
            header(r#""AAAAAAAAAA""#, "2048"),
            ErrorKind::Malformed,
            "7-byte p2s",
        ),
        (
            header(r#""AAAA=AAAAAAA""#, "2048"),
            ErrorKind::Malformed,
            "p2s not base64url",
        ),
        (
            header("12345678", "2048"),
            ErrorKind::Malformed,
            "p2s not a string",
        ),
    ];
    let decrypter = allowing(PBES2_DEFAULT_COUNT);
    for (token, kind, what) in cases {
        let started = Instant::now();
        let err = decrypter.decrypt_compact(&token).unwrap_err();
        assert_eq!(err.kind(), kind, "{what}: {err}");
        assert!(started.elapsed() < Duration::from_millis(50), "{what}");
    }
    // The bounds are inclusive: 1000 and the maximum pass the header check and fail only at the key.
    for p2c in ["1000", "10000"] {
        let err = decrypter.decrypt_compact(&header(salt, p2c)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed, "p2c {p2c}");
    }
    let err = allowing(5000)
        .decrypt_compact(&header(salt, "5001"))
        .unwrap_err();
    assert!(err.message().contains("at most 5000"), "{err}");
}

#[test]
fn the_encrypter_sets_the_pbes2_count_and_refuses_one_below_1000() {
    let key = password_key(KeyManagement::Pbes2Hs512A256KW);
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm)
        .pbes2_count(2048)
        .encrypt_compact(b"x")
        .unwrap();
    let opened = Decrypter::new(key.clone())
        .allow_pbes2(2048)
        .decrypt_compact(&token)
        .unwrap();
    assert_eq!(opened.header.get("p2c").unwrap(), 2048);
    // A decrypter whose maximum is below the token's count does not open it.
    assert_eq!(
        Decrypter::new(key.clone())
            .allow_pbes2(2047)
            .decrypt_compact(&token)
            .unwrap_err()
            .kind(),
        ErrorKind::LimitExceeded
    );
    let err = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm)
        .pbes2_count(999)
        .encrypt_compact(b"x")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
}

/// RSA1_5 (RFC 7520 §5.1's example) is refused by name, with why and what instead, before any key is involved —
/// and a JWK for it is refused the same way.
#[test]
fn rsa1_5_is_refused_by_default() {
    let vector = cookbook("jwe/5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json");
    let compact = str_of(&vector["output"], "compact");
    let any_key = DecryptionKey::from_secret(&[0; 16], KeyManagement::A128KW).unwrap();
    let err = Decrypter::new(any_key)
        .decrypt_compact(compact)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm, "{err}");
    for why in ["RSA1_5", "Bleichenbacher", "RFC 8725", "RSA-OAEP-256"] {
        assert!(err.message().contains(why), "{err}");
    }
    let mut jwk = vector["input"]["key"].clone();
    jwk["alg"] = "RSA1_5".into();
    let jwk = Jwk::from_json(&jwk.to_string()).unwrap();
    let err = DecryptionKey::from_jwk(&jwk).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm);
    assert!(err.message().contains("Bleichenbacher"), "{err}");
    assert!(KeyManagement::ALL.iter().all(|a| a.name() != "RSA1_5"));
}

/// A decrypter with many PBES2 keys and a token without a `kid`: at most `max_candidates` derivations (3 by
/// default), not one per key, so the key count cannot be turned into work for whoever sends tokens.
#[test]
fn keys_tried_for_one_jwe_are_bounded() {
    let alg = KeyManagement::Pbes2Hs256A128KW;
    let keys: Vec<DecryptionKey> = (0..10)
        .map(|i| {
            DecryptionKey::from_password(format!("password number {i}").as_bytes(), alg).unwrap()
        })
        .collect();
    let last = keys[9].encryption_key();
    let token = Encrypter::new(&last, ContentEncryption::A128Gcm)
        .encrypt_compact(b"x")
        .unwrap();
    let decrypter = Decrypter::with_keys(keys.clone()).allow_pbes2(PBES2_DEFAULT_COUNT);
    // The tenth key would open it, but only the first three are tried.
    assert_eq!(
        decrypter.decrypt_compact(&token).unwrap_err().kind(),
        ErrorKind::DecryptionFailed
    );
    let all = decrypter.max_candidates(10);
    assert_eq!(all.decrypt_compact(&token).unwrap().plaintext, b"x");
    // With kids, the named key is tried first whatever its place.
    let named: Vec<DecryptionKey> = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| k.with_kid(format!("k{i}")))
        .collect();
    let token = Encrypter::new(&named[9].encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"y")
        .unwrap();
    let opened = Decrypter::with_keys(named)
        .allow_pbes2(PBES2_DEFAULT_COUNT)
        .decrypt_compact(&token)
        .unwrap();
    assert_eq!(opened.plaintext, b"y");
}
