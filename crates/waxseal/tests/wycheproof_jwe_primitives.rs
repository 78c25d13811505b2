//! Wycheproof AES-GCM, AES key wrap, AES-CBC-PKCS#5, RSA-OAEP and PBES2 (PBKDF2) vectors, through the wrappers JWE
//! uses (`waxseal::jwe::primitives`), so the vectors meet the same length checks a token does.
//!
//! * `valid`: encryption reproduces the ciphertext (and tag) byte for byte, and decryption gives the message back;
//! * `invalid`: decryption (or unwrapping) is refused;
//! * refused by design, counted and asserted: AES-GCM with an IV other than JOSE's 96 bits, and key wrap of keys
//!   shorter than 16 bytes (Wycheproof's `acceptable` "ShortKey" cases: no JWE content key is that short). AES
//!   key wrap with 192-bit keys runs waxseal's own RFC 3394 mode (`A192KW`) and is counted on its own.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Tally, hex, str_of, test_groups, u64_of, wycheproof};
use serde_json::Value;
use waxseal::jwe::primitives;

fn tests(group: &Value) -> &[Value] {
    common::array_of(group, "tests")
}

#[test]
fn wycheproof_aes_gcm() {
    let file = wycheproof("aes_gcm_test.json");
    let mut tally = Tally::default();
    for group in test_groups(&file) {
        let jose_shape = u64_of(group, "ivSize") == 96 && u64_of(group, "tagSize") == 128;
        for test in tests(group) {
            let [key, iv, aad, msg, ct, tag] =
                ["key", "iv", "aad", "msg", "ct", "tag"].map(|m| hex(str_of(test, m)));
            let opened = primitives::aes_gcm_open(&key, &iv, &aad, &ct, &tag);
            if !jose_shape {
                if opened.is_ok() || primitives::aes_gcm_seal(&key, &iv, &aad, &msg).is_ok() {
                    tally.fail(test, "an IV other than 96 bits was accepted");
                }
                tally.refused_by_design += 1;
                continue;
            }
            match str_of(test, "result") {
                "valid" => {
                    let sealed = primitives::aes_gcm_seal(&key, &iv, &aad, &msg);
                    if sealed.as_ref().ok() != Some(&(ct.clone(), tag.clone())) {
                        tally.fail(test, "encryption did not reproduce ct and tag");
                    } else if opened.as_deref().map(Vec::as_slice).ok() != Some(&msg[..]) {
                        tally.fail(test, "decryption did not give the message");
                    } else {
                        tally.valid += 1;
                    }
                }
                _ => match opened {
                    Ok(_) => tally.fail(test, "an invalid case decrypted"),
                    Err(e) => {
                        assert_eq!(e.kind(), waxseal::ErrorKind::DecryptionFailed);
                        tally.invalid += 1;
                    }
                },
            }
        }
    }
    tally.report("aes_gcm_test.json", true);
}

#[test]
fn wycheproof_aes_key_wrap() {
    let file = wycheproof("aes_wrap_test.json");
    let mut tally = Tally::default();
    let mut aes192 = 0;
    for group in test_groups(&file) {
        let is_aes192 = u64_of(group, "keySize") == 192;
        for test in tests(group) {
            let [key, msg, ct] = ["key", "msg", "ct"].map(|m| hex(str_of(test, m)));
            let unwrapped = primitives::aes_key_unwrap(&key, &ct);
            let short_key = str_of(test, "result") == "acceptable";
            aes192 += usize::from(is_aes192 && !short_key);
            if short_key {
                if unwrapped.is_ok() || primitives::aes_key_wrap(&key, &msg).is_ok() {
                    tally.fail(test, "a case refused by design was accepted");
                }
                tally.refused_by_design += 1;
                continue;
            }
            match str_of(test, "result") {
                "valid" => {
                    if primitives::aes_key_wrap(&key, &msg).ok().as_ref() != Some(&ct) {
                        tally.fail(test, "wrapping did not reproduce ct");
                    } else if unwrapped.as_deref().map(Vec::as_slice).ok() != Some(&msg[..]) {
                        tally.fail(test, "unwrapping did not give the key back");
                    } else {
                        tally.valid += 1;
                    }
                }
                _ => match unwrapped {
                    Ok(_) => tally.fail(test, "an invalid wrapped key unwrapped"),
                    Err(_) => tally.invalid += 1,
                },
            }
        }
    }
    println!("aes_wrap_test.json: {aes192} of the checked cases are AES-192 (A192KW)");
    assert_eq!(tally.refused_by_design, 3, "3 short keys, one per key size");
    assert_eq!(aes192, 54, "the 192-bit groups run");
    tally.report("aes_wrap_test.json", true);
}

#[test]
fn wycheproof_aes_cbc_pkcs5() {
    let file = wycheproof("aes_cbc_pkcs5_test.json");
    let mut tally = Tally::default();
    for group in test_groups(&file) {
        for test in tests(group) {
            let [key, iv, msg, ct] = ["key", "iv", "msg", "ct"].map(|m| hex(str_of(test, m)));
            let decrypted = primitives::aes_cbc_pkcs7_decrypt(&key, &iv, &ct);
            match str_of(test, "result") {
                "valid" => {
                    if primitives::aes_cbc_pkcs7_encrypt(&key, &iv, &msg)
                        .ok()
                        .as_ref()
                        != Some(&ct)
                    {
                        tally.fail(test, "encryption did not reproduce ct");
                    } else if decrypted.as_deref().map(Vec::as_slice).ok() != Some(&msg[..]) {
                        tally.fail(test, "decryption did not give the message");
                    } else {
                        tally.valid += 1;
                    }
                }
                _ => match decrypted {
                    Ok(_) => tally.fail(test, "an invalid ciphertext decrypted"),
                    Err(_) => tally.invalid += 1,
                },
            }
        }
    }
    tally.report("aes_cbc_pkcs5_test.json", true);
}

/// RSA-OAEP, through `DecryptionKey` built from the group's PKCS#8 key as a user would (via `Jwk::from_der`).
/// Cases with a label are refused by design: JOSE uses none, so the wrapper takes none.
#[test]
fn wycheproof_rsa_oaep() {
    use waxseal::Jwk;
    use waxseal::jwe::{DecryptionKey, KeyManagement};
    for name in common::wycheproof_files("rsa_oaep_") {
        let alg = if name.contains("sha1_") {
            KeyManagement::RsaOaep
        } else if name.contains("sha256_") {
            KeyManagement::RsaOaep256
        } else if name.contains("sha384_") {
            KeyManagement::RsaOaep384
        } else {
            KeyManagement::RsaOaep512
        };
        let file = wycheproof(&name);
        let mut tally = Tally::default();
        for group in test_groups(&file) {
            let jwk = Jwk::from_der(&hex(str_of(group, "privateKeyPkcs8"))).unwrap();
            let key = DecryptionKey::from_jwk_with_alg(&jwk, alg).unwrap();
            for test in tests(group) {
                let [msg, ct, label] = ["msg", "ct", "label"].map(|m| hex(str_of(test, m)));
                let decrypted = primitives::rsa_oaep_decrypt(&key, &ct);
                if !label.is_empty() {
                    if str_of(test, "result") == "valid" && decrypted.is_ok() {
                        tally.fail(test, "a ciphertext made with a label decrypted without it");
                    }
                    tally.refused_by_design += 1;
                    continue;
                }
                match (str_of(test, "result"), decrypted) {
                    ("valid", Ok(plain)) if plain.as_slice() == msg.as_slice() => tally.valid += 1,
                    ("invalid", Err(_)) => tally.invalid += 1,
                    (_, outcome) => {
                        tally.fail(test, &format!("unexpected outcome {:?}", outcome.is_ok()));
                    }
                }
            }
        }
        tally.report(&name, true);
    }
}

/// Wycheproof's PBES2 files (PKCS#5 PBES2 with AES-CBC) check the PBKDF2 step JWE's PBES2 shares: the key is
/// derived through `primitives::pbes2_derive_key`, the function the JWE code calls after forming its salt
/// (`UTF8(alg) || 0x00 || p2s`), and must encrypt `msg` to `ct` and decrypt `ct` to `msg` with AES-CBC. The
/// salts here are raw, so no case can go through a token; cases whose iteration count a decrypter would refuse by
/// default (outside 1000..=10,000) are still checked here and counted apart.
#[test]
fn wycheproof_pbes2_pbkdf2() {
    use waxseal::jwe::{KeyManagement, PBES2_DEFAULT_COUNT, PBES2_MIN_COUNT};
    let files = [
        (
            "pbes2_hmacsha256_aes_128_test.json",
            KeyManagement::Pbes2Hs256A128KW,
        ),
        (
            "pbes2_hmacsha384_aes_192_test.json",
            KeyManagement::Pbes2Hs384A192KW,
        ),
        (
            "pbes2_hmacsha512_aes_256_test.json",
            KeyManagement::Pbes2Hs512A256KW,
        ),
    ];
    for (name, alg) in files {
        let file = wycheproof(name);
        let (mut within_bound, mut beyond_bound) = (0, 0);
        let mut failures = Vec::new();
        for group in test_groups(&file) {
            for test in tests(group) {
                let [password, salt, iv, msg, ct] =
                    ["password", "salt", "iv", "msg", "ct"].map(|m| hex(str_of(test, m)));
                let count = u32::try_from(u64_of(test, "iterationCount")).unwrap();
                assert_eq!(
                    str_of(test, "result"),
                    "valid",
                    "the files hold valid cases only"
                );
                let key = primitives::pbes2_derive_key(alg, &password, &salt, count).unwrap();
                let encrypted = primitives::aes_cbc_pkcs7_encrypt(&key, &iv, &msg).unwrap();
                let decrypted = primitives::aes_cbc_pkcs7_decrypt(&key, &iv, &ct);
                if encrypted != ct {
                    failures.push(format!(
                        "tcId {}: the derived key did not give ct",
                        test["tcId"]
                    ));
                } else if decrypted.as_deref().map(Vec::as_slice).ok() != Some(&msg[..]) {
                    failures.push(format!("tcId {}: ct did not decrypt to msg", test["tcId"]));
                } else if (PBES2_MIN_COUNT..=PBES2_DEFAULT_COUNT).contains(&count) {
                    within_bound += 1;
                } else {
                    beyond_bound += 1;
                }
            }
        }
        println!(
            "{name}: {within_bound} valid checked with a count a default decrypter accepts, {beyond_bound} \
             checked with a count outside it (primitive only)"
        );
        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
        assert!(
            within_bound + beyond_bound > 0,
            "{name} contributed nothing"
        );
    }
}
