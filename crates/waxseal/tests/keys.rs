//! Key import, export and generation, seen from outside: every format the issue names, every algorithm.
#![allow(
    clippy::unwrap_used,
    clippy::needless_raw_string_hashes,
    clippy::items_after_statements,
    missing_docs
)]

use waxseal::jws::{HeaderBuilder, JwsVerifier, sign_compact};
use waxseal::{Algorithm, ErrorKind, Jwk, KeySet, SigningKey, VerifyingKey};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn round_trip(signer: &SigningKey, verifier: &VerifyingKey) {
    let token = sign_compact(signer, &HeaderBuilder::new(), b"payload").unwrap();
    let verified = JwsVerifier::new(verifier.clone())
        .verify_compact(&token)
        .unwrap();
    assert_eq!(verified.payload, b"payload");
}

#[test]
fn every_algorithm_generates_signs_verifies_and_round_trips_through_jwk_and_pem() {
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let public = key.verifying_key().unwrap();
        round_trip(&key, &public);

        // Private JWK → key → same public key.
        let jwk = key.to_jwk().unwrap();
        assert!(jwk.is_private());
        let again = SigningKey::from_jwk(&jwk).unwrap();
        round_trip(&again, &public);
        round_trip(
            &key,
            &VerifyingKey::from_jwk(&Jwk::from_json(&public.to_jwk().unwrap().to_json()).unwrap())
                .unwrap(),
        );

        if alg.is_symmetric() {
            assert!(key.kid().is_none(), "HMAC keys get no thumbprint kid");
            assert_eq!(key.to_pem().unwrap_err().kind(), ErrorKind::InvalidKey);
            continue;
        }
        // kid is the RFC 7638 thumbprint of the public key.
        assert_eq!(
            key.kid().unwrap(),
            key.public_jwk().unwrap().thumbprint().unwrap()
        );
        assert!(!key.public_jwk().unwrap().is_private());
        // PEM: PKCS#8 private and SPKI public, both readable back.
        let private_pem = key.to_pem().unwrap();
        assert!(
            private_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{alg}"
        );
        let public_pem = public.to_pem().unwrap();
        assert!(
            public_pem.starts_with("-----BEGIN PUBLIC KEY-----"),
            "{alg}"
        );
        round_trip(
            &SigningKey::from_pem(&private_pem, alg).unwrap(),
            &VerifyingKey::from_pem(&public_pem, alg).unwrap(),
        );
    }
}

#[test]
fn rsa_sizes_3072_and_4096_generate() {
    for bits in [3072, 4096] {
        let key = SigningKey::generate_with_rsa_bits(Algorithm::PS256, bits).unwrap();
        round_trip(&key, &key.verifying_key().unwrap());
    }
    assert_eq!(
        SigningKey::generate_with_rsa_bits(Algorithm::RS256, 1024)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
}

#[test]
fn rsa_pem_formats_all_import_to_the_same_key() {
    let signer = SigningKey::from_pem(&fixture("rsa-pkcs8.pem"), Algorithm::RS256).unwrap();
    let pkcs1 = SigningKey::from_pem(&fixture("rsa-pkcs1.pem"), Algorithm::RS256).unwrap();
    let der = SigningKey::from_der(&fixture_bytes("rsa-pkcs8.der"), Algorithm::RS256).unwrap();
    assert_eq!(signer.to_jwk().unwrap(), pkcs1.to_jwk().unwrap());
    assert_eq!(signer.to_jwk().unwrap(), der.to_jwk().unwrap());
    for public in [
        VerifyingKey::from_pem(&fixture("rsa-spki.pem"), Algorithm::RS256).unwrap(),
        VerifyingKey::from_pem(&fixture("rsa-pkcs1-public.pem"), Algorithm::RS256).unwrap(),
        VerifyingKey::from_pem(&fixture("rsa-cert.pem"), Algorithm::RS256).unwrap(),
        VerifyingKey::from_pem(&fixture("rsa-pkcs8.pem"), Algorithm::RS256).unwrap(),
        VerifyingKey::from_der(&fixture_bytes("rsa-spki.der"), Algorithm::RS256).unwrap(),
    ] {
        round_trip(&signer, &public);
        assert_eq!(
            public.kid(),
            signer.kid(),
            "kid defaults to the thumbprint whatever the format"
        );
    }
}

#[test]
fn rsa_jwk_without_crt_parameters_is_completed() {
    let full = SigningKey::from_pem(&fixture("rsa-pkcs8.pem"), Algorithm::PS384)
        .unwrap()
        .to_jwk()
        .unwrap();
    let bare = Jwk {
        p: None,
        q: None,
        dp: None,
        dq: None,
        qi: None,
        ..full.clone()
    };
    let rebuilt = SigningKey::from_jwk(&bare).unwrap();
    assert_eq!(
        rebuilt.to_jwk().unwrap(),
        full,
        "recovered CRT parameters equal OpenSSL's"
    );
    let partial = Jwk { dq: None, ..full };
    assert_eq!(
        SigningKey::from_jwk(&partial).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

#[test]
fn ec_pem_formats_import() {
    let sec1 = SigningKey::from_pem(&fixture("ec-p256-sec1.pem"), Algorithm::ES256).unwrap();
    let pkcs8 = SigningKey::from_pem(&fixture("ec-p256-pkcs8.pem"), Algorithm::ES256).unwrap();
    let der = SigningKey::from_der(&fixture_bytes("ec-p256-sec1.der"), Algorithm::ES256).unwrap();
    assert_eq!(sec1.to_jwk().unwrap(), pkcs8.to_jwk().unwrap());
    assert_eq!(sec1.to_jwk().unwrap(), der.to_jwk().unwrap());
    for public in ["ec-p256-spki.pem", "ec-p256-cert.pem"] {
        round_trip(
            &sec1,
            &VerifyingKey::from_pem(&fixture(public), Algorithm::ES256).unwrap(),
        );
    }
    for (name, alg) in [
        ("p384", Algorithm::ES384),
        ("p521", Algorithm::ES512),
        ("secp256k1", Algorithm::ES256K),
    ] {
        let key = SigningKey::from_pem(&fixture(&format!("ec-{name}-pkcs8.pem")), alg).unwrap();
        round_trip(
            &key,
            &VerifyingKey::from_pem(&fixture(&format!("ec-{name}-spki.pem")), alg).unwrap(),
        );
        // A curve implies its algorithm: the P-256 key cannot be used for ES384 and so on.
        assert_eq!(
            SigningKey::from_pem(&fixture("ec-p256-pkcs8.pem"), alg)
                .unwrap_err()
                .kind(),
            ErrorKind::AlgorithmNotAllowed
        );
    }
}

#[test]
fn ed25519_pem_imports() {
    let key = SigningKey::from_pem(&fixture("ed25519-pkcs8.pem"), Algorithm::EdDSA).unwrap();
    round_trip(
        &key,
        &VerifyingKey::from_pem(&fixture("ed25519-spki.pem"), Algorithm::EdDSA).unwrap(),
    );
}

#[test]
fn unusable_key_files_are_refused_with_a_reason() {
    let cases = [
        ("rsa1024-pkcs8.pem", Algorithm::RS256, "2048"),
        ("rsa-encrypted.pem", Algorithm::RS256, "encrypted"),
        ("x25519-pkcs8.pem", Algorithm::EdDSA, "unsupported"),
    ];
    for (file, alg, reason) in cases {
        let err = SigningKey::from_pem(&fixture(file), alg).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{file}");
        assert!(err.to_string().contains(reason), "{file}: {err}");
    }
    assert!(Jwk::from_pem("not a key").is_err());
    assert!(Jwk::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
    assert!(Jwk::from_der(b"\x30\x03\x02\x01\x00").is_err());
    // An RSA key cannot become an EC, EdDSA or HMAC key.
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::HS256] {
        assert!(
            SigningKey::from_pem(&fixture("rsa-pkcs8.pem"), alg).is_err(),
            "{alg}"
        );
    }
}

#[test]
fn jwk_metadata_is_enforced() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let mut jwk = key.public_jwk().unwrap();
    jwk.use_ = Some("enc".into());
    assert_eq!(
        VerifyingKey::from_jwk(&jwk).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    jwk.use_ = None;
    jwk.key_ops = Some(vec!["encrypt".into()]);
    assert_eq!(
        VerifyingKey::from_jwk(&jwk).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    jwk.key_ops = Some(vec!["verify".into()]);
    assert!(VerifyingKey::from_jwk(&jwk).is_ok());
    jwk.alg = Some("ES384".into());
    assert_eq!(
        VerifyingKey::from_jwk_with_alg(&jwk, Algorithm::ES256)
            .unwrap_err()
            .kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    // EC coordinates must be full length.
    let mut short = key.public_jwk().unwrap();
    short.x = Some(waxseal::b64::encode([1u8; 31]));
    assert_eq!(
        VerifyingKey::from_jwk(&short).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    // A point not on the curve is refused.
    let mut off_curve = key.public_jwk().unwrap();
    off_curve.y = Some(waxseal::b64::encode([7u8; 32]));
    assert_eq!(
        VerifyingKey::from_jwk(&off_curve).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

#[test]
fn raw_hmac_secrets_and_oct_jwks() {
    let secret = [42u8; 48];
    for alg in [Algorithm::HS256, Algorithm::HS384] {
        round_trip(
            &SigningKey::from_secret(&secret, alg).unwrap(),
            &VerifyingKey::from_secret(&secret, alg).unwrap(),
        );
    }
    let oct = Jwk::from_json(&format!(
        r#"{{"kty":"oct","k":"{}"}}"#,
        waxseal::b64::encode(secret)
    ))
    .unwrap();
    // Without alg, an oct key serves each HS* its length allows: 48 bytes → HS256 and HS384, not HS512.
    assert_eq!(
        oct.algorithms().unwrap(),
        vec![Algorithm::HS256, Algorithm::HS384]
    );
    assert!(
        SigningKey::from_jwk(&oct).is_err(),
        "a secret without alg needs one to be named"
    );
    assert!(SigningKey::from_jwk_with_alg(&oct, Algorithm::HS512).is_err());
}

#[test]
fn jwks_parsing_skips_what_it_cannot_use_and_says_why() {
    let es = SigningKey::generate(Algorithm::ES256).unwrap();
    let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let rsa_no_alg = {
        let mut jwk = SigningKey::generate(Algorithm::RS256)
            .unwrap()
            .public_jwk()
            .unwrap();
        jwk.alg = None;
        jwk
    };
    let mut enc = SigningKey::generate(Algorithm::ES384)
        .unwrap()
        .public_jwk()
        .unwrap();
    enc.use_ = Some("enc".into());
    let doc = serde_json::json!({"keys": [
        es.public_jwk().unwrap(), ed.public_jwk().unwrap(), rsa_no_alg, enc,
        {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"},
        {"kty": "EC", "crv": "P-256", "x": 5},
        es.to_jwk().unwrap(),
    ]});
    let set = KeySet::from_jwks(&doc.to_string()).unwrap();
    // ES256 + EdDSA + the alg-less RSA key expanded to RS256..PS512.
    assert_eq!(set.keys().len(), 2 + 6);
    assert_eq!(set.skipped().len(), 4, "{:?}", set.skipped());
    assert!(set.skipped().iter().any(|s| s.contains("private")));
    round_trip(&es, &set.keys()[0]);
}

#[test]
fn a_published_jwks_never_yields_secret_keys() {
    let es = SigningKey::generate(Algorithm::ES256).unwrap();
    let doc = serde_json::json!({"keys": [
        es.public_jwk().unwrap(),
        {"kty": "oct", "alg": "HS256", "kid": "s", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"},
        {"kty": "oct", "alg": "RS256", "kid": "confused", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"},
    ]})
    .to_string();
    let set = KeySet::from_published_jwks(&doc, &waxseal::Limits::default()).unwrap();
    assert_eq!(set.keys().len(), 1);
    assert!(set.keys().iter().all(|k| !k.is_symmetric()));
    assert_eq!(set.skipped().len(), 2, "{:?}", set.skipped());
    assert!(
        set.skipped()[0].contains("secret (oct)"),
        "{:?}",
        set.skipped()
    );
    // Only secrets: nothing usable, an error rather than an empty set.
    let secrets = serde_json::json!({"keys": [{"kty": "oct", "alg": "HS256", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]});
    assert!(
        KeySet::from_published_jwks(&secrets.to_string(), &waxseal::Limits::default()).is_err()
    );
}
