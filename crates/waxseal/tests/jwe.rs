//! JWE seen from outside: the attacks a decrypter must refuse, each named (the published examples are in
//! `jwe_vectors.rs`, the JSON serialization's own rules in `jwe_json.rs`).
#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::Value;
use waxseal::jwe::{
    ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement, PBES2_DEFAULT_COUNT,
};
use waxseal::jws::{HeaderBuilder, JwsVerifier, sign_compact};
use waxseal::{Algorithm, ErrorKind, Jwk, Limits, SigningKey, VerifyingKey, b64};

/// A decrypter for `key` that also accepts PBES2 up to the default count.
fn decrypter(key: DecryptionKey) -> Decrypter {
    Decrypter::new(key).allow_pbes2(PBES2_DEFAULT_COUNT)
}

fn key(alg: KeyManagement, enc: ContentEncryption) -> DecryptionKey {
    if alg.is_rsa() {
        let jwk = Jwk::from_pem(include_str!("fixtures/keys/rsa-pkcs8.pem")).unwrap();
        return DecryptionKey::from_jwk_with_alg(&jwk, alg).unwrap();
    }
    if alg.is_pbes2() {
        return DecryptionKey::from_password(b"correct horse battery staple", alg).unwrap();
    }
    if alg.is_ecdh() {
        return DecryptionKey::generate_ecdh(alg, "P-256").unwrap();
    }
    match alg.key_len() {
        Some(len) => DecryptionKey::from_secret(&vec![5; len], alg).unwrap(),
        None => DecryptionKey::direct(&vec![5; enc.key_len()], enc).unwrap(),
    }
}

fn segments(token: &str) -> Vec<Vec<u8>> {
    token
        .split('.')
        .map(|s| b64::decode(s, "segment").unwrap())
        .collect()
}

fn join(parts: &[Vec<u8>]) -> String {
    parts.iter().map(b64::encode).collect::<Vec<_>>().join(".")
}

#[test]
fn every_algorithm_pair_round_trips() {
    // A192KW arrives with the pbes2 branch (tests/jwe_ecdh.rs covers ECDH-ES+A192KW's refusal until then).
    for alg in KeyManagement::ALL
        .into_iter()
        .filter(|a| *a != KeyManagement::EcdhEsA192KW)
    {
        for enc in ContentEncryption::ALL {
            let key = key(alg, enc);
            let token = Encrypter::new(&key.encryption_key(), enc)
                .typ("JWT")
                .encrypt_compact(b"payload")
                .unwrap();
            let opened = decrypter(key).decrypt_compact(&token).unwrap();
            assert_eq!(opened.plaintext, b"payload", "{alg} {enc}");
            assert_eq!((opened.header.alg, opened.header.enc), (alg, enc));
        }
    }
}

/// Tampering with the tag or the ciphertext, for every algorithm pair, is one error: no padding oracle, no hint
/// of which check failed.
#[test]
fn truncated_tag_flipped_tag_bit_and_flipped_ciphertext_bit_fail_alike() {
    // A192KW arrives with the pbes2 branch.
    for alg in KeyManagement::ALL
        .into_iter()
        .filter(|a| *a != KeyManagement::EcdhEsA192KW)
    {
        for enc in ContentEncryption::ALL {
            let key = key(alg, enc);
            let token = Encrypter::new(&key.encryption_key(), enc)
                .encrypt_compact(b"a message of more than one block")
                .unwrap();
            let decrypter = decrypter(key);
            let parts = segments(&token);
            let mut truncated = parts.clone();
            truncated[4].pop();
            let mut flipped_tag = parts.clone();
            flipped_tag[4][0] ^= 1;
            let mut flipped_ct = parts.clone();
            flipped_ct[3][0] ^= 1;
            let mut flipped_last_block = parts.clone();
            *flipped_last_block[3].last_mut().unwrap() ^= 1;
            let mut errors = Vec::new();
            for tampered in [truncated, flipped_tag, flipped_ct, flipped_last_block] {
                let mut tampered = tampered;
                tampered[0] = parts[0].clone();
                let text = format!(
                    "{}.{}",
                    token.split('.').next().unwrap(),
                    join(&tampered[1..])
                );
                errors.push(decrypter.decrypt_compact(&text).unwrap_err());
            }
            assert!(
                errors
                    .iter()
                    .all(|e| e.kind() == ErrorKind::DecryptionFailed),
                "{alg} {enc}"
            );
            assert!(
                errors.windows(2).all(|w| w[0] == w[1]),
                "{alg} {enc}: {errors:?}"
            );
        }
    }
}

#[test]
fn a_wrapped_key_or_header_from_elsewhere_fails_alike() {
    let key = key(KeyManagement::A128KW, ContentEncryption::A128CbcHs256);
    let other = DecryptionKey::from_secret(&[6; 16], KeyManagement::A128KW).unwrap();
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128CbcHs256)
        .encrypt_compact(b"x")
        .unwrap();
    let wrong_key = Decrypter::new(other).decrypt_compact(&token).unwrap_err();
    assert_eq!(wrong_key.kind(), ErrorKind::DecryptionFailed);
    // The header is authenticated: a different (valid) header with the rest kept fails like a bad tag.
    let rest = token.split_once('.').unwrap().1;
    let forged = format!(
        "{}.{rest}",
        b64::encode(br#"{"alg":"A128KW","enc":"A128CBC-HS256","kid":"x"}"#)
    );
    assert_eq!(
        Decrypter::new(key).decrypt_compact(&forged).unwrap_err(),
        wrong_key
    );
}

#[test]
fn dir_with_a_wrong_size_key_is_refused() {
    assert_eq!(
        DecryptionKey::direct(&[1; 16], ContentEncryption::A256Gcm)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
    let jwk =
        Jwk::from_json(r#"{"kty":"oct","alg":"A256GCM","k":"GZy6sIZ6wl9NJOKB-jnmVQ"}"#).unwrap();
    assert_eq!(
        DecryptionKey::from_jwk(&jwk).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    // A dir key is the content key of one enc: a token naming another is refused before any decryption.
    let a128 = key(KeyManagement::Dir, ContentEncryption::A128Gcm);
    let a256 = key(KeyManagement::Dir, ContentEncryption::A128CbcHs256);
    let token = Encrypter::new(&a256.encryption_key(), ContentEncryption::A128CbcHs256)
        .encrypt_compact(b"x")
        .unwrap();
    assert_eq!(
        Decrypter::new(a128.clone())
            .decrypt_compact(&token)
            .unwrap_err()
            .kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    assert_eq!(
        Encrypter::new(&a128.encryption_key(), ContentEncryption::A256Gcm)
            .encrypt_compact(b"x")
            .unwrap_err()
            .kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    // With dir the encrypted key segment must be empty.
    let token = Encrypter::new(&a128.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"x")
        .unwrap();
    let stuffed = token.replacen("..", ".AAAAAAAAAAAAAAAAAAAAAA.", 1);
    assert_eq!(
        Decrypter::new(a128)
            .decrypt_compact(&stuffed)
            .unwrap_err()
            .kind(),
        ErrorKind::Malformed
    );
}

fn token_with_header(header: &str) -> String {
    let key = key(KeyManagement::Dir, ContentEncryption::A128Gcm);
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"x")
        .unwrap();
    format!(
        "{}.{}",
        b64::encode(header),
        token.split_once('.').unwrap().1
    )
}

#[test]
fn a_jwe_whose_alg_is_a_signature_algorithm_is_refused() {
    let decrypter = Decrypter::new(key(KeyManagement::Dir, ContentEncryption::A128Gcm));
    for alg in ["HS256", "RS256", "none"] {
        let token = token_with_header(&format!(r#"{{"alg":"{alg}","enc":"A128GCM"}}"#));
        let err = decrypter.decrypt_compact(&token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm, "{alg}");
        assert!(err.message().contains("signature algorithm"), "{err}");
    }
}

#[test]
fn a_jws_given_to_decrypt_is_refused() {
    let signing = SigningKey::from_secret(&[9; 32], Algorithm::HS256).unwrap();
    let jws = sign_compact(&signing, &HeaderBuilder::new(), b"x").unwrap();
    let decrypter = Decrypter::new(key(KeyManagement::A128KW, ContentEncryption::A128Gcm));
    let err = decrypter.decrypt_compact(&jws).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.message().contains("JWS"), "{err}");
    // A JWS header padded out to five segments is still not a JWE: it has no "enc" (and its alg is not one).
    let five = format!("{jws}.AA.AA");
    assert!(decrypter.decrypt_compact(&five).is_err());
}

#[test]
fn a_jwe_given_to_jws_verify_is_refused() {
    let key = key(KeyManagement::A128KW, ContentEncryption::A128Gcm);
    let jwe = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"x")
        .unwrap();
    let verifier = JwsVerifier::new(VerifyingKey::from_secret(&[9; 32], Algorithm::HS256).unwrap());
    let err = verifier.verify_compact(&jwe).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.message().contains("JWE"), "{err}");
    let jwt =
        waxseal::jwt::Verifier::new(VerifyingKey::from_secret(&[9; 32], Algorithm::HS256).unwrap());
    assert!(jwt.verify::<Value>(&jwe).is_err());
}

/// `use` separates the two worlds at the JWK: an encryption JWK does not verify and a signature JWK does not decrypt.
#[test]
fn key_use_separates_signature_and_encryption_keys() {
    let enc_jwk = Jwk::from_json(
        r#"{"kty":"oct","use":"enc","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
    )
    .unwrap();
    assert_eq!(
        VerifyingKey::from_jwk_with_alg(&enc_jwk, Algorithm::HS256)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
    let sig_jwk =
        Jwk::from_json(r#"{"kty":"oct","use":"sig","k":"AAAAAAAAAAAAAAAAAAAAAA"}"#).unwrap();
    assert_eq!(
        DecryptionKey::from_jwk_with_alg(&sig_jwk, KeyManagement::A128KW)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
    // A JWS algorithm in a JWK's alg does not make a JWE key either.
    let hs = Jwk::from_json(r#"{"kty":"oct","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAA"}"#).unwrap();
    assert!(DecryptionKey::from_jwk(&hs).is_err());
}

#[test]
fn oversized_token_and_header_are_refused() {
    let key = key(KeyManagement::A256KW, ContentEncryption::A256Gcm);
    let big = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm)
        .encrypt_compact(&vec![b'x'; 70 * 1024])
        .unwrap();
    let decrypter = Decrypter::new(key.clone());
    assert_eq!(
        decrypter.decrypt_compact(&big).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    let roomy = decrypter.clone().limits(Limits {
        max_token_bytes: 128 * 1024,
        ..Limits::default()
    });
    assert_eq!(
        roomy.decrypt_compact(&big).unwrap().plaintext.len(),
        70 * 1024
    );
    let deep = format!(
        r#"{{"alg":"A256KW","enc":"A256GCM","x":{}1{}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    assert_eq!(
        decrypter
            .decrypt_compact(&token_with_header(&deep))
            .unwrap_err()
            .kind(),
        ErrorKind::LimitExceeded
    );
}

#[test]
fn header_rules_are_enforced_before_any_key_is_used() {
    let decrypter =
        Decrypter::new(key(KeyManagement::Dir, ContentEncryption::A128Gcm).with_kid("k1"));
    let cases = [
        (
            r#"{"alg":"dir","enc":"A128GCM","zip":"DEF"}"#,
            ErrorKind::CompressionUnsupported,
        ),
        (
            r#"{"alg":"dir","enc":"A128GCM","crit":["exp"],"exp":1}"#,
            ErrorKind::UnsupportedCritical,
        ),
        (
            r#"{"alg":"dir","alg":"dir","enc":"A128GCM"}"#,
            ErrorKind::Malformed,
        ),
        (r#"{"alg":"dir"}"#, ErrorKind::Malformed),
        (
            r#"{"alg":"dir","enc":"A999GCM"}"#,
            ErrorKind::UnsupportedAlgorithm,
        ),
        (
            r#"{"alg":"A128KW","enc":"A128GCM"}"#,
            ErrorKind::AlgorithmNotAllowed,
        ),
        (
            r#"{"alg":"dir","enc":"A128GCM","kid":"k2"}"#,
            ErrorKind::KeyNotFound,
        ),
    ];
    for (header, kind) in cases {
        let err = decrypter
            .decrypt_compact(&token_with_header(header))
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{header}: {err}");
    }
    let narrowed = Decrypter::new(key(KeyManagement::A128KW, ContentEncryption::A128Gcm))
        .content_encryptions([ContentEncryption::A256Gcm]);
    let token = Encrypter::new(
        &key(KeyManagement::A128KW, ContentEncryption::A128Gcm).encryption_key(),
        ContentEncryption::A128Gcm,
    )
    .encrypt_compact(b"x")
    .unwrap();
    assert_eq!(
        narrowed.decrypt_compact(&token).unwrap_err().kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    // Non-canonical base64url in any segment is refused.
    let padded = token.replacen('.', "=.", 1);
    assert_eq!(
        Decrypter::new(key(KeyManagement::A128KW, ContentEncryption::A128Gcm))
            .decrypt_compact(&padded)
            .unwrap_err()
            .kind(),
        ErrorKind::Malformed
    );
}

#[test]
fn arbitrary_input_never_panics() {
    let decrypter = Decrypter::new(key(
        KeyManagement::A128GCMKW,
        ContentEncryption::A128CbcHs256,
    ));
    for text in [
        "",
        ".",
        "....",
        ".....",
        "a.b.c.d.e",
        "e30.e30.e30.e30.e30",
        "é.é.é.é.é",
    ] {
        assert!(decrypter.decrypt_compact(text).is_err(), "{text}");
    }
    // GCM key wrap with its iv/tag missing, of the wrong type or the wrong length.
    for extra in ["", r#","iv":1,"tag":1"#, r#","iv":"AAAA","tag":"AAAA""#] {
        let header = format!(r#"{{"alg":"A128GCMKW","enc":"A128CBC-HS256"{extra}}}"#);
        let token = format!(
            "{}.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
            b64::encode(header)
        );
        assert!(decrypter.decrypt_compact(&token).is_err(), "{extra}");
    }
}

#[test]
fn key_is_bound_to_its_algorithm_jwe_keys_open_only_their_own() {
    let secret = [4u8; 16];
    let kw = DecryptionKey::from_secret(&secret, KeyManagement::A128KW).unwrap();
    let gcmkw = DecryptionKey::from_secret(&secret, KeyManagement::A128GCMKW).unwrap();
    let token = Encrypter::new(&gcmkw.encryption_key(), ContentEncryption::A128Gcm)
        .encrypt_compact(b"x")
        .unwrap();
    // Same secret, other algorithm: refused by the header's alg, before the secret is used.
    let err = Decrypter::new(kw).decrypt_compact(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgorithmNotAllowed, "{err}");
    assert!(err.message().contains("A128KW"), "{err}");
}

#[test]
fn a_jwk_set_skips_encryption_keys_for_signatures() {
    let set = waxseal::KeySet::from_jwks(
        r#"{"keys":[
            {"kty":"oct","use":"enc","alg":"A128KW","k":"GZy6sIZ6wl9NJOKB-jnmVQ"},
            {"kty":"oct","use":"enc","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
            {"kty":"oct","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(set.keys().len(), 1);
    assert_eq!(set.skipped().len(), 2, "{:?}", set.skipped());
}

/// A tampered RSA-OAEP encrypted key is not an oracle: a random content key takes the place of the one that did not
/// decrypt (RFC 7516 §11.5), and the token fails at the tag with the same error as a tampered tag.
#[test]
fn rsa_oaep_bad_encrypted_key_fails_like_a_bad_tag() {
    let key = key(KeyManagement::RsaOaep256, ContentEncryption::A128CbcHs256);
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128CbcHs256)
        .encrypt_compact(b"x")
        .unwrap();
    let decrypter = Decrypter::new(key);
    let parts = segments(&token);
    let mut flipped_key = parts.clone();
    flipped_key[1][10] ^= 1;
    let mut short_key = parts.clone();
    short_key[1].truncate(100);
    let mut flipped_tag = parts.clone();
    flipped_tag[4][0] ^= 1;
    let errors: Vec<_> = [flipped_key, short_key, flipped_tag]
        .iter()
        .map(|p| decrypter.decrypt_compact(&join(p)).unwrap_err())
        .collect();
    assert_eq!(errors[0].kind(), ErrorKind::DecryptionFailed);
    assert!(errors.windows(2).all(|w| w[0] == w[1]), "{errors:?}");
}

#[test]
fn rsa_oaep_keys_are_checked() {
    let small = Jwk::from_pem(include_str!("fixtures/keys/rsa1024-pkcs8.pem")).unwrap();
    assert_eq!(
        DecryptionKey::from_jwk_with_alg(&small, KeyManagement::RsaOaep)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
    let private = Jwk::from_pem(include_str!("fixtures/keys/rsa-pkcs8.pem")).unwrap();
    let public = private.to_public().unwrap();
    assert_eq!(
        DecryptionKey::from_jwk_with_alg(&public, KeyManagement::RsaOaep)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
    assert_eq!(
        DecryptionKey::from_secret(&[0; 32], KeyManagement::RsaOaep)
            .unwrap_err()
            .kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    // A public JWK makes an encryption key whose tokens the private key opens.
    let enc =
        waxseal::EncryptionKey::from_jwk_with_alg(&public, KeyManagement::RsaOaep512).unwrap();
    let token = Encrypter::new(&enc, ContentEncryption::A256Gcm)
        .encrypt_compact(b"hi")
        .unwrap();
    let dec = DecryptionKey::from_jwk_with_alg(&private, KeyManagement::RsaOaep512).unwrap();
    assert_eq!(
        Decrypter::new(dec)
            .decrypt_compact(&token)
            .unwrap()
            .plaintext,
        b"hi"
    );
}

/// Header values with characters JSON must escape (a quote, a backslash, a control character) and non-ASCII ones
/// travel intact: the encrypter writes plain ASCII as it is and escapes the rest.
#[test]
fn header_values_that_need_escaping_round_trip() {
    let kid = "key \"one\" \\ tab\there é ✓";
    let key = DecryptionKey::from_secret(&[3; 16], KeyManagement::A128KW)
        .unwrap()
        .with_kid(kid);
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .typ("application/example+jwt")
        .encrypt_compact(b"x")
        .unwrap();
    let opened = Decrypter::new(key).decrypt_compact(&token).unwrap();
    assert_eq!(opened.header.kid.as_deref(), Some(kid));
    assert_eq!(
        opened.header.typ.as_deref(),
        Some("application/example+jwt")
    );
}

/// The decrypter says which of its keys opened a JWE (its place among the keys given), in both serializations.
#[test]
fn the_key_that_opened_a_jwe_is_named() {
    let keys: Vec<DecryptionKey> = (1..=3u8)
        .map(|i| DecryptionKey::from_secret(&[i; 16], KeyManagement::A128KW).unwrap())
        .collect();
    let third = keys[2].encryption_key();
    let encrypter = Encrypter::new(&third, ContentEncryption::A128Gcm);
    let decrypter = Decrypter::with_keys(keys);
    let compact = encrypter.encrypt_compact(b"x").unwrap();
    assert_eq!(decrypter.decrypt_compact(&compact).unwrap().key, 2);
    let json = encrypter.encrypt_json(b"x", None).unwrap();
    assert_eq!(decrypter.decrypt_json(&json).unwrap().key, 2);
}
