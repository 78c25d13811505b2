//! ECDH-ES seen from outside: every algorithm × content encryption × curve round-trips, and the `epk` a sender
//! chooses is refused when it is not an ephemeral public key on the recipient's curve (GHSA-rvj9-8cvx-3vq9).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{cookbook, str_of};
use serde_json::Value;
use waxseal::jwe::{
    ContentEncryption, Decrypter, DecryptionKey, Encrypter, EncryptionKey, KeyManagement,
    primitives,
};
use waxseal::{ErrorKind, Jwk, b64};

const CURVES: [&str; 4] = ["P-256", "P-384", "P-521", "X25519"];

fn ecdh_algs() -> impl Iterator<Item = KeyManagement> {
    KeyManagement::ALL.into_iter().filter(|a| a.is_ecdh())
}

fn header_of(token: &str) -> Value {
    let text = b64::decode(token.split('.').next().unwrap(), "header").unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// The token with its protected header replaced (the rest kept: a changed header also fails the tag, so each
/// test below checks the error says the epk was refused, not that the tag failed).
fn with_header(token: &str, header: &Value) -> String {
    let rest = token.split_once('.').unwrap().1;
    format!("{}.{rest}", b64::encode(header.to_string()))
}

#[test]
fn every_ecdh_alg_enc_and_curve_round_trips() {
    assert_eq!(ecdh_algs().count(), 4);
    for crv in CURVES {
        for alg in ecdh_algs() {
            for enc in ContentEncryption::ALL {
                let key = DecryptionKey::generate_ecdh(alg, crv).unwrap();
                let result = Encrypter::new(&key.encryption_key(), enc)
                    .agreement_party_info(b"Alice", b"Bob")
                    .encrypt_compact(b"payload");
                let token = result.unwrap();
                let header = header_of(&token);
                let epk = header["epk"].as_object().unwrap();
                assert!(!epk.contains_key("d"), "{crv} {alg} {enc}: {header}");
                assert_eq!(epk["crv"], crv);
                assert_eq!(epk["kty"], if crv == "X25519" { "OKP" } else { "EC" });
                assert_eq!(header["apu"], b64::encode("Alice"));
                assert_eq!(header["apv"], b64::encode("Bob"));
                let encrypted_key = token.split('.').nth(1).unwrap();
                assert_eq!(
                    encrypted_key.is_empty(),
                    alg == KeyManagement::EcdhEs,
                    "{alg}"
                );
                let opened = Decrypter::new(key).decrypt_compact(&token).unwrap();
                assert_eq!(opened.plaintext, b"payload", "{crv} {alg} {enc}");
                assert_eq!((opened.header.alg, opened.header.enc), (alg, enc));
            }
        }
    }
}

#[test]
fn each_token_has_its_own_ephemeral_key_and_apu_apv_are_optional() {
    let key = DecryptionKey::generate_ecdh(KeyManagement::EcdhEs, "P-256").unwrap();
    let public = key.encryption_key();
    let encrypter = Encrypter::new(&public, ContentEncryption::A128Gcm);
    let (a, b) = (
        encrypter.encrypt_compact(b"x").unwrap(),
        encrypter.encrypt_compact(b"x").unwrap(),
    );
    assert_ne!(header_of(&a)["epk"], header_of(&b)["epk"]);
    assert!(header_of(&a).get("apu").is_none());
    Decrypter::new(key).decrypt_compact(&a).unwrap();
    // Party information belongs to ECDH-ES only.
    let kw = DecryptionKey::from_secret(&[1; 16], KeyManagement::A128KW).unwrap();
    let err = Encrypter::new(&kw.encryption_key(), ContentEncryption::A128Gcm)
        .agreement_party_info(b"a", b"b")
        .encrypt_compact(b"x")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgorithmNotAllowed);
}

fn p256_token() -> (DecryptionKey, String) {
    let key = DecryptionKey::generate_ecdh(KeyManagement::EcdhEs, "P-256").unwrap();
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128CbcHs256)
        .encrypt_compact(b"x")
        .unwrap();
    (key, token)
}

#[test]
fn an_epk_of_another_curve_is_refused() {
    let p256 = DecryptionKey::generate_ecdh(KeyManagement::EcdhEs, "P-256").unwrap();
    for crv in ["P-384", "P-521", "X25519"] {
        let other = DecryptionKey::generate_ecdh(KeyManagement::EcdhEs, crv).unwrap();
        let token = Encrypter::new(&other.encryption_key(), ContentEncryption::A128Gcm)
            .encrypt_compact(b"x")
            .unwrap();
        let err = Decrypter::new(p256.clone())
            .decrypt_compact(&token)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed, "{crv}: {err}");
        assert!(
            err.message().contains(crv) && err.message().contains("P-256"),
            "{err}"
        );
    }
    // A decrypter holding keys on both curves picks the one the epk fits.
    let p384 = DecryptionKey::generate_ecdh(KeyManagement::EcdhEs, "P-384").unwrap();
    let token = Encrypter::new(&p384.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"both")
        .unwrap();
    let opened = Decrypter::with_keys([p256, p384])
        .decrypt_compact(&token)
        .unwrap();
    assert_eq!(opened.plaintext, b"both");
}

/// GHSA-rvj9-8cvx-3vq9: an epk whose point is not on the recipient's curve (here a valid point with one bit of y
/// flipped, which lands on another curve with the same a) must never reach the scalar multiplication.
#[test]
fn invalid_curve_epk_is_refused() {
    let (key, token) = p256_token();
    let mut header = header_of(&token);
    let epk = header["epk"].clone();
    let mut y = b64::decode(epk["y"].as_str().unwrap(), "y").unwrap();
    y[31] ^= 1;
    let mut bad = epk.clone();
    bad["y"] = Value::String(b64::encode(&y));
    // The agreement wrapper the JWE code uses refuses the point outright (with a fresh private key: the epk's
    // validity does not depend on whose key meets it).
    let d = [7u8; 32];
    primitives::ecdh_with_epk("P-256", &d, &epk.to_string()).unwrap();
    let refused = primitives::ecdh_with_epk("P-256", &d, &bad.to_string()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::DecryptionFailed);
    // And so does the decrypter, with the same kind as an epk of another curve.
    header["epk"] = bad;
    let err = Decrypter::new(key)
        .decrypt_compact(&with_header(&token, &header))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed, "{err}");
    assert_eq!(err, refused);
}

/// A change made to a token's header.
type Change = fn(&mut Value);

#[test]
fn an_epk_with_d_missing_or_misshapen_is_refused() {
    let (key, token) = p256_token();
    let decrypter = Decrypter::new(key);
    let header = header_of(&token);
    let cases: [(&str, Change); 5] = [
        ("d", |h| {
            h["epk"]["d"] = Value::String(b64::encode([1u8; 32]));
        }),
        ("missing", |h| {
            h.as_object_mut().unwrap().remove("epk");
        }),
        ("string", |h| h["epk"] = Value::String("x".into())),
        ("short x", |h| {
            h["epk"]["x"] = Value::String(b64::encode([1u8; 31]));
        }),
        ("apu", |h| h["apu"] = Value::from(1)),
    ];
    for (name, change) in cases {
        let mut changed = header.clone();
        change(&mut changed);
        let err = decrypter
            .decrypt_compact(&with_header(&token, &changed))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{name}: {err}");
    }
}

#[test]
fn ecdh_es_direct_with_a_non_empty_encrypted_key_is_refused() {
    let (key, token) = p256_token();
    let stuffed = token.replacen("..", ".AAAAAAAAAAAAAAAAAAAAAA.", 1);
    let err = Decrypter::new(key).decrypt_compact(&stuffed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.message().contains("empty encrypted key"), "{err}");
}

#[test]
fn ecdh_keys_from_jwk_fit_their_algorithm() {
    let key = DecryptionKey::generate_ecdh(KeyManagement::EcdhEsA128KW, "P-384")
        .unwrap()
        .with_kid("k");
    let public = key.ecdh_public_jwk().unwrap();
    assert!(!public.is_private());
    assert_eq!(public.alg.as_deref(), Some("ECDH-ES+A128KW"));
    // A public JWK makes an encryption key, not a decryption key.
    let enc = EncryptionKey::from_jwk(&public).unwrap();
    assert_eq!(
        DecryptionKey::from_jwk(&public).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    let token = Encrypter::new(&enc, ContentEncryption::A256Gcm)
        .encrypt_compact(b"to the JWK")
        .unwrap();
    assert_eq!(header_of(&token)["kid"], "k");
    assert_eq!(
        Decrypter::new(key)
            .decrypt_compact(&token)
            .unwrap()
            .plaintext,
        b"to the JWK"
    );

    let refused = |json: &str, alg: KeyManagement| {
        DecryptionKey::from_jwk_with_alg(&Jwk::from_json(json).unwrap(), alg).unwrap_err()
    };
    let p256 = r#""kty":"EC","crv":"P-256","x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ","y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck","d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw""#;
    DecryptionKey::from_jwk_with_alg(
        &Jwk::from_json(&format!("{{{p256}}}")).unwrap(),
        KeyManagement::EcdhEs,
    )
    .unwrap();
    let ed25519 = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;
    let err = refused(ed25519, KeyManagement::EcdhEs);
    assert!(err.message().contains("Ed25519"), "{err}");
    let secp256k1 = r#"{"kty":"EC","crv":"secp256k1","x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ","y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck","d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}"#;
    let err = refused(secp256k1, KeyManagement::EcdhEs);
    assert!(err.message().contains("secp256k1"), "{err}");
    for (json, alg, kind) in [
        (
            format!("{{{p256},\"use\":\"sig\"}}"),
            KeyManagement::EcdhEs,
            ErrorKind::InvalidKey,
        ),
        (
            format!("{{{p256}}}"),
            KeyManagement::A128KW,
            ErrorKind::AlgorithmNotAllowed,
        ),
        (
            format!("{{{p256}}}"),
            KeyManagement::RsaOaep,
            ErrorKind::AlgorithmNotAllowed,
        ),
        (
            r#"{"kty":"oct","k":"GZy6sIZ6wl9NJOKB-jnmVQ"}"#.to_owned(),
            KeyManagement::EcdhEsA128KW,
            ErrorKind::AlgorithmNotAllowed,
        ),
        (
            // x and y of another key than d.
            format!("{{{}}}", p256.replace("VEmDZ", "AEmDZ")),
            KeyManagement::EcdhEs,
            ErrorKind::InvalidKey,
        ),
        (
            format!("{{{}}}", p256.replace("\"P-256\"", "\"P-384\"")),
            KeyManagement::EcdhEs,
            ErrorKind::InvalidKey,
        ),
        (
            format!("{{{}}}", p256.replace("\"EC\"", "\"OKP\"")),
            KeyManagement::EcdhEs,
            ErrorKind::InvalidKey,
        ),
    ] {
        assert_eq!(refused(&json, alg).kind(), kind, "{json} for {alg}");
    }
    let rsa = Jwk::from_pem(include_str!("fixtures/keys/rsa-pkcs8.pem")).unwrap();
    assert_eq!(
        DecryptionKey::from_jwk_with_alg(&rsa, KeyManagement::EcdhEs)
            .unwrap_err()
            .kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    assert_eq!(
        DecryptionKey::from_secret(&[0; 16], KeyManagement::EcdhEsA128KW)
            .unwrap_err()
            .kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    // A signing key's JWK (here P-256 made for ES256) is not an ECDH-ES key unless its alg says so.
    let es256 = waxseal::SigningKey::generate(waxseal::Algorithm::ES256)
        .unwrap()
        .to_jwk()
        .unwrap();
    assert_eq!(
        DecryptionKey::from_jwk(&es256).unwrap_err().kind(),
        ErrorKind::UnsupportedAlgorithm
    );
}

/// RFC 8037's X25519 example (ietf-jose/cookbook curve25519/ecdh-es.json): randomized, so it can only be opened.
#[test]
fn rfc8037_x25519_example_decrypts() {
    let vector = cookbook("curve25519/ecdh-es.json");
    let jwk = Jwk::from_json(&vector["input"]["key"].to_string()).unwrap();
    let key = DecryptionKey::from_jwk_with_alg(&jwk, KeyManagement::EcdhEs).unwrap();
    let opened = Decrypter::new(key)
        .decrypt_compact(str_of(&vector["output"], "compact"))
        .unwrap();
    assert_eq!(
        opened.plaintext,
        str_of(&vector["input"], "plaintext").as_bytes()
    );
}
