//! Wycheproof `json_web_encryption_test.json`: whole JWEs, decrypted with the group's key built as a user would
//! (`DecryptionKey::from_jwk`). `valid` must decrypt to `pt`; `invalid` must be refused. Groups whose key is for an
//! algorithm refused by design (RSA1_5: Bleichenbacher's padding oracle) are counted, their keys unusable; none
//! passes silently. The ECDH-ES groups (P-256, P-384, P-521 keys; invalid-curve `epk`s among the invalid cases)
//! decrypt, and the compressed example opens with compression allowed.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;

use common::{array_of, hex, str_of, test_groups, wycheproof};
use waxseal::jwe::{DEFAULT_MAX_DECOMPRESSED, Decrypter, DecryptionKey};
use waxseal::{ErrorKind, Jwk};

#[test]
fn wycheproof_json_web_encryption() {
    let file = wycheproof("json_web_encryption_test.json");
    let (mut valid, mut invalid, mut zip_refused) = (0, 0, 0);
    let mut not_implemented: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for group in test_groups(&file) {
        let jwk = Jwk::from_json(&group["private"].to_string()).unwrap();
        let tests = array_of(group, "tests");
        let key = match DecryptionKey::from_jwk(&jwk) {
            Ok(key) => key,
            Err(e) => {
                // Only keys of algorithms waxseal does not (yet) implement may fail here.
                assert!(
                    jwk.kty != "oct" || e.kind() == ErrorKind::UnsupportedAlgorithm,
                    "an oct key was refused: {e:?} ({jwk:?})"
                );
                let reason = format!("{} {}", jwk.kty, jwk.alg.as_deref().unwrap_or("-"));
                *not_implemented.entry(reason).or_default() += tests.len();
                continue;
            }
        };
        let decrypter = Decrypter::new(key);
        for test in tests {
            let jwe = test["jwe"].as_str().expect("compact JWE");
            let outcome = decrypter.decrypt_compact(jwe);
            match (str_of(test, "result"), outcome) {
                ("valid", Ok(opened)) if opened.plaintext == hex(str_of(test, "pt")) => valid += 1,
                ("invalid", Err(_)) => invalid += 1,
                // Compression is refused by default, and opens within the bound once allowed.
                ("valid", Err(e)) if e.kind() == ErrorKind::CompressionUnsupported => {
                    let opened = decrypter
                        .clone()
                        .allow_compression(DEFAULT_MAX_DECOMPRESSED)
                        .decrypt_compact(jwe)
                        .unwrap();
                    assert_eq!(opened.plaintext, hex(str_of(test, "pt")));
                    zip_refused += 1;
                }
                (result, outcome) => failures.push(format!(
                    "tcId {} ({}; {result}): {:?}",
                    test["tcId"],
                    str_of(test, "comment"),
                    outcome.map(|o| o.plaintext)
                )),
            }
        }
    }
    println!(
        "json_web_encryption_test.json: {valid} valid decrypted, {invalid} invalid refused, {zip_refused} compressed \
         (valid upstream) refused by default and opened when allowed, not implemented: {not_implemented:?}"
    );
    assert_eq!(zip_refused, 1, "RFC 7520 §5.9's compressed example");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(valid > 0 && invalid > 0, "the file contributed nothing");
}
