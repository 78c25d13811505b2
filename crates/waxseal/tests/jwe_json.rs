//! The JWE JSON serialization and compression seen from outside: round trips, and the attacks a decrypter must
//! refuse — headers that repeat a member, `crit` or `zip` outside the protected header, a JWS handed in, too many
//! recipients, altered `aad` or unprotected `kid` — and DEFLATE bombs stopped at the limit.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use waxseal::jwe::{
    ContentEncryption, DEFAULT_MAX_DECOMPRESSED, Decrypter, DecryptionKey, Encrypter,
    JsonEncrypter, KeyManagement, PBES2_DEFAULT_COUNT,
};
use waxseal::jws::{HeaderBuilder, JsonSigner};
use waxseal::{Algorithm, ErrorKind, Limits, SigningKey, b64};

const ENC: ContentEncryption = ContentEncryption::A128CbcHs256;

fn kw(byte: u8, kid: &str) -> DecryptionKey {
    DecryptionKey::from_secret(&[byte; 16], KeyManagement::A128KW)
        .unwrap()
        .with_kid(kid)
}

fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A general JSON JWE to alice (A128KW) and bob (A256GCMKW), with aad and a shared unprotected member.
fn to_alice_and_bob() -> (DecryptionKey, DecryptionKey, String) {
    let alice = kw(1, "alice");
    let bob = DecryptionKey::from_secret(&[2; 32], KeyManagement::A256GCMKW)
        .unwrap()
        .with_kid("bob");
    let json = JsonEncrypter::new(ENC)
        .recipient(&alice.encryption_key())
        .recipient_with_header(&bob.encryption_key(), object(&json!({"x-note": "hi bob"})))
        .unprotected(object(&json!({"x-shared": 1})))
        .aad(b"context".to_vec())
        .typ("example+jwe")
        .encrypt_general(b"to both")
        .unwrap();
    (alice, bob, json)
}

#[test]
fn general_json_opens_for_each_recipient() {
    let (alice, bob, json) = to_alice_and_bob();
    let for_alice = Decrypter::new(alice).decrypt_json(&json).unwrap();
    assert_eq!(
        (for_alice.plaintext.as_slice(), for_alice.recipient),
        (&b"to both"[..], 0)
    );
    let for_bob = Decrypter::new(bob).decrypt_json(&json).unwrap();
    assert_eq!(for_bob.recipient, 1);
    assert_eq!(for_bob.header.alg, KeyManagement::A256GCMKW);
    assert_eq!(for_bob.header.typ.as_deref(), Some("example+jwe"));
    assert_eq!(for_bob.aad.as_deref(), Some(&b"context"[..]));
    assert_eq!(for_bob.recipient_header["x-note"], "hi bob");
    assert_eq!(for_bob.unprotected["x-shared"], 1);
    assert!(for_bob.is_protected("typ") && !for_bob.is_protected("x-shared"));
    // Both keys in one decrypter: the first recipient that fits opens it.
    let stranger = kw(9, "carol");
    let err = Decrypter::new(stranger).decrypt_json(&json).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
}

#[test]
fn flattened_json_round_trips_for_every_algorithm_pair() {
    for alg in KeyManagement::ALL.into_iter().filter(|a| !a.is_rsa()) {
        for enc in ContentEncryption::ALL {
            let key = if alg.is_pbes2() {
                DecryptionKey::from_password(b"a long passphrase", alg).unwrap()
            } else if alg.is_ecdh() {
                DecryptionKey::generate_ecdh(alg, "P-256").unwrap()
            } else {
                match alg.key_len() {
                    Some(len) => DecryptionKey::from_secret(&vec![5; len], alg).unwrap(),
                    None => DecryptionKey::direct(&vec![5; enc.key_len()], enc).unwrap(),
                }
            };
            let public = key.encryption_key();
            let encrypter = Encrypter::new(&public, enc);
            let decrypter = Decrypter::new(key.clone()).allow_pbes2(PBES2_DEFAULT_COUNT);
            for aad in [None, Some(&b"aad"[..])] {
                let json = encrypter.encrypt_json(b"payload", aad).unwrap();
                let opened = decrypter.decrypt_json(&json).unwrap();
                assert_eq!(opened.plaintext, b"payload", "{alg} {enc}");
                assert_eq!(opened.aad.as_deref(), aad);
                assert_eq!((opened.header.alg, opened.header.enc), (alg, enc));
                assert!(
                    opened.is_protected("alg"),
                    "the compact header is protected"
                );
            }
            let flat = JsonEncrypter::new(enc)
                .recipient(&key.encryption_key())
                .encrypt_flattened(b"payload")
                .unwrap();
            assert_eq!(decrypter.decrypt_json(&flat).unwrap().plaintext, b"payload");
        }
    }
}

#[test]
fn dir_cannot_share_its_content_key_with_other_recipients() {
    let dir = DecryptionKey::direct(&[3; 32], ENC).unwrap();
    let err = JsonEncrypter::new(ENC)
        .recipient(&kw(1, "a").encryption_key())
        .recipient(&dir.encryption_key())
        .encrypt_general(b"x")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgorithmNotAllowed, "{err}");
    assert!(err.message().contains("dir"), "{err}");
    // Alone, dir is fine.
    let alone = JsonEncrypter::new(ENC)
        .recipient(&dir.encryption_key())
        .encrypt_general(b"x")
        .unwrap();
    assert!(
        !parse(&alone)["recipients"][0]
            .as_object()
            .unwrap()
            .contains_key("encrypted_key")
    );
    assert_eq!(
        Decrypter::new(dir).decrypt_json(&alone).unwrap().plaintext,
        b"x"
    );
    // The flattened form has exactly one recipient.
    assert!(JsonEncrypter::new(ENC).encrypt_flattened(b"x").is_err());
    assert!(JsonEncrypter::new(ENC).encrypt_general(b"x").is_err());
}

#[test]
fn encrypter_refuses_repeated_or_protected_only_members_in_unprotected_headers() {
    let key = kw(1, "a").encryption_key();
    for (shared, own) in [
        (json!({"enc": "A128GCM"}), json!({})),
        (json!({"crit": ["x"], "x": 1}), json!({})),
        (json!({"zip": "DEF"}), json!({})),
        (json!({"x": 1}), json!({"x": 2})),
        (json!({}), json!({"alg": "A256KW"})),
        (json!({}), json!({"kid": "b"})),
    ] {
        let err = JsonEncrypter::new(ENC)
            .recipient_with_header(&key, object(&own))
            .unprotected(object(&shared))
            .encrypt_general(b"x")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{shared} {own}");
    }
}

/// Rewrites a JSON JWE: `edit` changes the parsed object.
fn edited(json: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value = parse(json);
    edit(&mut value);
    value.to_string()
}

#[test]
fn a_member_in_two_headers_is_refused() {
    let (alice, _, json) = to_alice_and_bob();
    let decrypter = Decrypter::new(alice);
    // "enc" is protected; repeating it unprotected, shared or per recipient, is refused before any key work.
    let shared = edited(&json, |v| v["unprotected"]["enc"] = json!("A128CBC-HS256"));
    let own = edited(&json, |v| {
        v["recipients"][0]["header"]["x-shared"] = json!(1);
    });
    let other = edited(&json, |v| {
        v["recipients"][1]["header"]["enc"] = json!("A128CBC-HS256");
    });
    for text in [shared, own, other] {
        let err = decrypter.decrypt_json(&text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
        assert!(err.message().contains("more than one"), "{err}");
    }
    // A duplicate member inside one header is refused by the strict JSON reader.
    let text = json.replacen(r#""x-shared":1"#, r#""x-shared":1,"x-shared":2"#, 1);
    assert_eq!(
        decrypter.decrypt_json(&text).unwrap_err().kind(),
        ErrorKind::Malformed
    );
}

#[test]
fn crit_or_zip_in_an_unprotected_header_is_refused() {
    let (alice, _, json) = to_alice_and_bob();
    let decrypter = Decrypter::new(alice).understood_crit(["x-shared"]);
    let cases = [
        edited(&json, |v| v["unprotected"]["crit"] = json!(["x-shared"])),
        edited(&json, |v| {
            v["recipients"][0]["header"]["crit"] = json!(["x-shared"]);
        }),
        edited(&json, |v| v["unprotected"]["zip"] = json!("DEF")),
        edited(&json, |v| {
            v["recipients"][0]["header"]["zip"] = json!("DEF");
        }),
    ];
    for text in cases {
        let err = decrypter
            .clone()
            .allow_compression(DEFAULT_MAX_DECOMPRESSED)
            .decrypt_json(&text)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
        assert!(err.message().contains("protected header"), "{err}");
    }
}

#[test]
fn a_jws_given_to_decrypt_json_is_refused() {
    let signing = SigningKey::from_secret(&[9; 32], Algorithm::HS256).unwrap();
    let jws = JsonSigner::new(b"x")
        .sign(&signing, &HeaderBuilder::new(), None)
        .unwrap();
    let decrypter = Decrypter::new(kw(1, "a"));
    for text in [jws.general(), jws.flattened()] {
        let err = decrypter.decrypt_json(&text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed);
        assert!(err.message().contains("JWS"), "{err}");
    }
    // And a compact JWE is not JSON, nor a JSON JWE compact.
    let (alice, _, json) = to_alice_and_bob();
    assert_eq!(
        Decrypter::new(alice)
            .decrypt_compact(&json)
            .unwrap_err()
            .kind(),
        ErrorKind::Malformed
    );
}

#[test]
fn too_many_recipients_are_refused_before_any_key_work() {
    let key = kw(1, "a");
    let mut encrypter = JsonEncrypter::new(ENC);
    let public = key.encryption_key();
    for _ in 0..9 {
        encrypter = encrypter.recipient(&public);
    }
    let json = encrypter.encrypt_general(b"x").unwrap();
    let err = Decrypter::new(key.clone()).decrypt_json(&json).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    // The bound is checked before any recipient is read: recipients that are not even objects do not matter.
    let junk = edited(&json, |v| v["recipients"][8] = json!(42));
    assert_eq!(
        Decrypter::new(key.clone())
            .decrypt_json(&junk)
            .unwrap_err()
            .kind(),
        ErrorKind::LimitExceeded
    );
    let roomy = Decrypter::new(key).limits(Limits {
        max_recipients: 9,
        ..Limits::default()
    });
    assert_eq!(roomy.decrypt_json(&json).unwrap().plaintext, b"x");
}

#[test]
fn altered_aad_or_protected_header_fails_like_a_bad_tag() {
    let (alice, _, json) = to_alice_and_bob();
    let decrypter = Decrypter::new(alice);
    let cases = [
        edited(&json, |v| v["aad"] = json!(b64::encode(b"contexT"))),
        edited(&json, |v| {
            v.as_object_mut().unwrap().remove("aad").unwrap();
        }),
        edited(&json, |v| {
            v["protected"] = json!(b64::encode(br#"{"enc":"A128CBC-HS256"}"#));
        }),
        edited(&json, |v| v["tag"] = json!(b64::encode([0u8; 16]))),
    ];
    let errors: Vec<_> = cases
        .iter()
        .map(|text| decrypter.decrypt_json(text).unwrap_err())
        .collect();
    assert!(
        errors
            .iter()
            .all(|e| e.kind() == ErrorKind::DecryptionFailed),
        "{errors:?}"
    );
    assert!(errors.windows(2).all(|w| w[0] == w[1]), "{errors:?}");
}

/// An unprotected `kid` is not authenticated, but changing it only changes which key is tried: it can make the
/// right key miss its recipient, never a wrong key open one.
#[test]
fn an_unprotected_kid_altered_into_another_recipients_fails() {
    let alice = kw(1, "alice");
    let bob = kw(2, "bob");
    let json = JsonEncrypter::new(ENC)
        .recipient(&alice.encryption_key())
        .recipient(&bob.encryption_key())
        .encrypt_general(b"x")
        .unwrap();
    // Swap the kids: bob's key is now pointed at alice's encrypted key, and finds no recipient of its own.
    let swapped = edited(&json, |v| {
        v["recipients"][0]["header"]["kid"] = json!("bob");
        v["recipients"][1]["header"]["kid"] = json!("alice");
    });
    let err = Decrypter::new(bob.clone())
        .decrypt_json(&swapped)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed, "{err}");
    // Bob's recipient relabelled as alice's: bob's key no longer fits any recipient.
    let relabelled = edited(&json, |v| {
        v["recipients"][1]["header"]["kid"] = json!("alice");
    });
    let err = Decrypter::new(bob).decrypt_json(&relabelled).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
    // Alice still opens her own, whatever her neighbour's label says.
    assert_eq!(
        Decrypter::new(alice)
            .decrypt_json(&relabelled)
            .unwrap()
            .recipient,
        0
    );
}

#[test]
fn malformed_json_jwes_are_refused_without_panicking() {
    let (alice, _, json) = to_alice_and_bob();
    let decrypter = Decrypter::new(alice);
    let cases = [
        String::new(),
        "[]".to_owned(),
        "{}".to_owned(),
        r#"{"ciphertext":"AA","recipients":[]}"#.to_owned(),
        r#"{"ciphertext":"AA","recipients":{}}"#.to_owned(),
        edited(&json, |v| v["header"] = json!({"alg": "A128KW"})),
        edited(&json, |v| v["unprotected"] = json!("x")),
        edited(&json, |v| v["recipients"][0]["header"] = json!([])),
        edited(&json, |v| v["iv"] = json!("AA==")),
        edited(&json, |v| v["tag"] = json!(1)),
        edited(&json, |v| {
            v.as_object_mut().unwrap().remove("iv").unwrap();
        }),
        edited(&json, |v| v["protected"] = json!(b64::encode(b"[1]"))),
    ];
    for text in &cases {
        let err = decrypter.decrypt_json(text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{text}: {err}");
    }
    let big = format!(r#"{{"ciphertext":"{}"}}"#, "A".repeat(70 * 1024));
    assert_eq!(
        decrypter.decrypt_json(&big).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    // Unknown top-level members are ignored, as the JWS JSON parser ignores them.
    let extra = edited(&json, |v| v["x-extension"] = json!({"a": [1]}));
    assert_eq!(
        decrypter.decrypt_json(&extra).unwrap().plaintext,
        b"to both"
    );
}

#[test]
fn compressed_jwes_round_trip_within_the_limit_and_are_refused_by_default() {
    let key = kw(4, "k");
    let text = b"a repetitive plaintext, ".repeat(100);
    let compact = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .compress()
        .encrypt_compact(&text)
        .unwrap();
    // The ciphertext is of the compressed text.
    assert!(compact.len() < text.len());
    let general = JsonEncrypter::new(ENC)
        .recipient(&key.encryption_key())
        .compress()
        .encrypt_general(&text)
        .unwrap();
    let off = Decrypter::new(key.clone());
    assert_eq!(
        off.decrypt_compact(&compact).unwrap_err().kind(),
        ErrorKind::CompressionUnsupported
    );
    assert_eq!(
        off.decrypt_json(&general).unwrap_err().kind(),
        ErrorKind::CompressionUnsupported
    );
    let on = off.allow_compression(DEFAULT_MAX_DECOMPRESSED);
    assert_eq!(on.decrypt_compact(&compact).unwrap().plaintext, text);
    let opened = on.decrypt_json(&general).unwrap();
    assert_eq!(opened.plaintext, text);
    assert!(opened.header.compressed && opened.is_protected("zip"));
    // Exactly at the limit is fine; one byte under is not.
    let exact = Decrypter::new(key.clone()).allow_compression(text.len());
    assert_eq!(exact.decrypt_compact(&compact).unwrap().plaintext, text);
    let under = Decrypter::new(key).allow_compression(text.len() - 1);
    assert_eq!(
        under.decrypt_compact(&compact).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
}

/// CVE-2024-28176 / CVE-2024-28180: a JWE whose plaintext is a DEFLATE bomb (here 8 MB of zeros, 40 times the
/// default limit, deflated to a few kB) is refused at the limit, without the rest ever being inflated.
#[test]
fn zip_bomb_is_stopped_at_the_limit() {
    let key = kw(4, "k");
    let bomb = vec![0u8; 8_000_000];
    let token = Encrypter::new(&key.encryption_key(), ContentEncryption::A128Gcm)
        .compress()
        .encrypt_compact(&bomb)
        .unwrap();
    assert!(
        token.len() < 64 * 1024,
        "the bomb fits in a token: {} bytes",
        token.len()
    );
    let decrypter = Decrypter::new(key.clone()).allow_compression(DEFAULT_MAX_DECOMPRESSED);
    let started = Instant::now();
    let err = decrypter.decrypt_compact(&token).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(err.message().contains("250000"), "{err}");
    // Inflating all 8 MB takes far longer in a debug build than stopping at 250 kB.
    let full = Instant::now();
    let whole = Decrypter::new(key)
        .allow_compression(bomb.len())
        .decrypt_compact(&token)
        .unwrap();
    assert_eq!(whole.plaintext.len(), bomb.len());
    assert!(
        took < full.elapsed() / 4 || took < Duration::from_millis(20),
        "stopping took {took:?}, inflating everything {:?}",
        full.elapsed()
    );
    // The same bomb in a tampered token is never inflated at all: the tag is checked first.
    let mut parts: Vec<&str> = token.split('.').collect();
    let bad_tag = b64::encode([0u8; 16]);
    parts[4] = &bad_tag;
    let err = decrypter.decrypt_compact(&parts.join(".")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
}

/// One content key wrapped for an ECDH-ES+A256KW, a PBES2 and an A128KW recipient; each opens it alone. ECDH-ES
/// (direct), whose agreement *is* the content key, cannot share one and is refused among several recipients.
#[test]
fn general_json_mixes_key_agreement_password_and_key_wrap_recipients() {
    let ecdh = DecryptionKey::generate_ecdh(KeyManagement::EcdhEsA256KW, "X25519")
        .unwrap()
        .with_kid("ecdh");
    let pbes2 = DecryptionKey::from_password(b"a long passphrase", KeyManagement::Pbes2Hs256A128KW)
        .unwrap()
        .with_kid("pbes2");
    let wrap = kw(3, "wrap");
    let json = JsonEncrypter::new(ENC)
        .recipient(&ecdh.encryption_key())
        .recipient(&pbes2.encryption_key())
        .recipient(&wrap.encryption_key())
        .encrypt_general(b"to three")
        .unwrap();
    for (key, index) in [(ecdh, 0), (pbes2, 1), (wrap, 2)] {
        let opened = Decrypter::new(key)
            .allow_pbes2(PBES2_DEFAULT_COUNT)
            .decrypt_json(&json)
            .unwrap();
        assert_eq!(
            (opened.plaintext.as_slice(), opened.recipient),
            (&b"to three"[..], index)
        );
    }
    let direct = DecryptionKey::generate_ecdh(KeyManagement::EcdhEs, "P-256").unwrap();
    let err = JsonEncrypter::new(ENC)
        .recipient(&direct.encryption_key())
        .recipient(&kw(4, "other").encryption_key())
        .encrypt_general(b"x")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlgorithmNotAllowed, "{err}");
}
