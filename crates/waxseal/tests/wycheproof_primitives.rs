//! Wycheproof signature primitives, checked through waxseal's JWS keys.
//!
//! Every group's key is built the way a waxseal user would build it (from the group's JWK, or its PEM/DER when there
//! is no JWK; for HMAC from the raw secret), bound to the JWS algorithm the file covers, and every test is run
//! through `VerifyingKey::verify`:
//!
//! * `valid` must verify;
//! * `invalid` must be rejected, at key construction or at verification;
//! * `acceptable` is rejected: waxseal accepts only what is strictly valid, and this file asserts that decision.
//!
//! Deliberate refusals are counted separately and asserted: HMAC secrets shorter than the hash output and RSA keys
//! under 2048 bits must fail at construction. Groups outside JWS (truncated HMAC tags, RSA-PSS with another MGF hash
//! or salt length) are handled as the module docs of each test say. Failures are collected per file and reported
//! together.
#![allow(clippy::unwrap_used, clippy::too_many_lines, missing_docs)]

mod common;

use std::fmt::Write as _;

use common::{array_of, hex, str_of, test_groups, u64_of, wycheproof, wycheproof_files};
use serde_json::Value;
use waxseal::{Algorithm, ErrorKind, Jwk, Result, VerifyingKey};

/// What waxseal does with Wycheproof's `acceptable` results.
const ACCEPTABLE_DECISION: &str = "rejected: only strictly valid input is accepted";

/// Counts for one file, and the failures met in it.
#[derive(Default)]
struct Tally {
    file: String,
    valid_verified: usize,
    invalid_rejected: usize,
    acceptable_rejected: usize,
    /// Cases whose key waxseal refuses by design, with the reason.
    refused_by_design: Vec<(usize, String)>,
    /// Cases not checked, with the reason.
    skipped: Vec<(usize, String)>,
    failures: Vec<String>,
}

impl Tally {
    fn new(file: &str) -> Self {
        Tally {
            file: file.to_owned(),
            ..Tally::default()
        }
    }

    fn add_refused(&mut self, reason: &str) {
        add_reason(&mut self.refused_by_design, reason);
    }

    fn add_skipped(&mut self, n: usize, reason: &str) {
        for _ in 0..n {
            add_reason(&mut self.skipped, reason);
        }
    }

    fn fail(&mut self, test: &Value, what: &str) {
        self.failures.push(format!(
            "{}: tcId {} ({}; result {}; flags {}): {what}",
            self.file,
            test["tcId"],
            test["comment"].as_str().unwrap_or(""),
            test["result"].as_str().unwrap_or("?"),
            test["flags"]
        ));
    }

    /// Checks one test against a key built for the group (or the reason it could not be built).
    fn check(&mut self, test: &Value, key: &Result<VerifyingKey>, msg: &[u8], sig: &[u8]) {
        let outcome = match key {
            Ok(key) => key
                .verify(msg, sig)
                .map_err(|e| format!("verification failed: {e:?}")),
            Err(e) => Err(format!("key construction failed: {e:?}")),
        };
        match (str_of(test, "result"), outcome) {
            ("valid", Ok(())) => self.valid_verified += 1,
            ("valid", Err(why)) => self.fail(test, &format!("valid case not accepted: {why}")),
            ("invalid", Err(_)) => self.invalid_rejected += 1,
            ("acceptable", Err(_)) => self.acceptable_rejected += 1,
            ("invalid" | "acceptable", Ok(())) => {
                self.fail(test, "case was accepted but must be rejected");
            }
            (other, _) => self.fail(test, &format!("unknown result {other:?}")),
        }
    }

    /// A test whose key must be refused at construction by design (the case's own result does not matter).
    fn check_refused(&mut self, test: &Value, key: &Result<VerifyingKey>, reason: &str) {
        match key {
            Err(e) if e.kind() == ErrorKind::InvalidKey => self.add_refused(reason),
            Err(e) => self.fail(
                test,
                &format!("key refused with the wrong kind: {e:?} (expected InvalidKey)"),
            ),
            Ok(_) => self.fail(
                test,
                &format!("key was accepted but must be refused: {reason}"),
            ),
        }
    }

    /// Prints the summary line and returns the failures (also failing when nothing was checked).
    fn finish(self) -> Vec<String> {
        let mut line = format!(
            "{}: {} valid verified, {} invalid rejected, {} acceptable ({ACCEPTABLE_DECISION})",
            self.file, self.valid_verified, self.invalid_rejected, self.acceptable_rejected
        );
        for (n, reason) in &self.refused_by_design {
            let _ = write!(
                line,
                ", {n} refused at key construction by design ({reason})"
            );
        }
        if self.skipped.is_empty() {
            line.push_str(", 0 skipped");
        }
        for (n, reason) in &self.skipped {
            let _ = write!(line, ", {n} skipped ({reason})");
        }
        println!("{line}");
        let mut failures = self.failures;
        if self.valid_verified + self.invalid_rejected + self.acceptable_rejected == 0 {
            failures.push(format!(
                "{}: no case was checked (expected at least one)",
                self.file
            ));
        }
        failures
    }
}

fn add_reason(list: &mut Vec<(usize, String)>, reason: &str) {
    match list.iter_mut().find(|(_, r)| r == reason) {
        Some((n, _)) => *n += 1,
        None => list.push((1, reason.to_owned())),
    }
}

fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} conformance failure(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// The key of a public-key group: from `publicKeyJwk`/`keyJwk` when present, else from the DER SubjectPublicKeyInfo.
/// Where both are present the PEM form is built too and must agree on whether the key is usable.
fn group_key(tally: &mut Tally, group: &Value, alg: Algorithm) -> Result<VerifyingKey> {
    let from_pem = group
        .get("publicKeyPem")
        .and_then(Value::as_str)
        .map(|pem| VerifyingKey::from_pem(pem, alg));
    let from_der = group
        .get("publicKeyDer")
        .and_then(Value::as_str)
        .map(|der| VerifyingKey::from_der(&hex(der), alg));
    let from_jwk = group
        .get("publicKeyJwk")
        .or_else(|| group.get("keyJwk"))
        .map(|jwk| {
            Jwk::from_json(&jwk.to_string())
                .and_then(|jwk| VerifyingKey::from_jwk_with_alg(&jwk, alg))
        });
    let key = from_jwk
        .or(from_der.clone())
        .or(from_pem.clone())
        .expect("group has no public key in any form");
    for (form, other) in [("PEM", from_pem), ("DER", from_der)] {
        if let Some(other) = other
            && other.is_ok() != key.is_ok()
        {
            tally.failures.push(format!(
                "{}: group key built from its {form} disagrees with the JWK: {:?} vs {:?}",
                tally.file,
                other.as_ref().map(VerifyingKey::algorithm),
                key.as_ref().map(VerifyingKey::algorithm)
            ));
        }
    }
    key
}

fn msg_sig(test: &Value) -> (Vec<u8>, Vec<u8>) {
    (hex(str_of(test, "msg")), hex(str_of(test, "sig")))
}

fn sha_to_alg(sha: &str, family: &str) -> Option<Algorithm> {
    Some(match (family, sha) {
        ("RS", "SHA-256") => Algorithm::RS256,
        ("RS", "SHA-384") => Algorithm::RS384,
        ("RS", "SHA-512") => Algorithm::RS512,
        ("PS", "SHA-256") => Algorithm::PS256,
        ("PS", "SHA-384") => Algorithm::PS384,
        ("PS", "SHA-512") => Algorithm::PS512,
        _ => return None,
    })
}

fn hash_len(sha: &str) -> u64 {
    match sha {
        "SHA-256" => 32,
        "SHA-384" => 48,
        "SHA-512" => 64,
        other => panic!("unexpected hash {other}"),
    }
}

/// HS256/384/512. Groups with a full-length tag are JWS HMAC. Truncated-tag groups are not JWS: the full-length
/// key must reject every truncated tag, so their cases count as invalid. Secrets shorter than the hash output are
/// refused at construction (RFC 7518 §3.2), whatever the case's result.
#[test]
fn hmac() {
    let mut failures = Vec::new();
    for (file, alg, bits) in [
        ("hmac_sha256_test.json", Algorithm::HS256, 256),
        ("hmac_sha384_test.json", Algorithm::HS384, 384),
        ("hmac_sha512_test.json", Algorithm::HS512, 512),
    ] {
        let mut tally = Tally::new(file);
        for group in test_groups(&wycheproof(file)) {
            let key_bits = u64_of(group, "keySize");
            let tag_bits = u64_of(group, "tagSize");
            for test in array_of(group, "tests") {
                let secret = hex(str_of(test, "key"));
                assert_eq!(
                    secret.len() as u64 * 8,
                    key_bits,
                    "keySize disagrees with the key"
                );
                let key = VerifyingKey::from_secret(&secret, alg);
                let msg = hex(str_of(test, "msg"));
                let tag = hex(str_of(test, "tag"));
                if key_bits < bits {
                    tally.check_refused(
                        test,
                        &key,
                        &format!("{alg} secret shorter than {bits} bits, RFC 7518 §3.2"),
                    );
                } else if tag_bits == bits {
                    tally.check(test, &key, &msg, &tag);
                } else {
                    // A truncated tag is never a JWS HMAC: expect rejection whatever the case's result.
                    let outcome = key
                        .as_ref()
                        .map_err(Clone::clone)
                        .and_then(|k| k.verify(&msg, &tag));
                    match outcome {
                        Err(_) => tally.invalid_rejected += 1,
                        Ok(()) => tally.fail(
                            test,
                            &format!("{tag_bits}-bit truncated tag accepted by {alg}"),
                        ),
                    }
                }
            }
        }
        failures.extend(tally.finish());
    }
    report(&failures);
}

/// ES256, ES384, ES512 and ES256K with raw r‖s (IEEE P1363) signatures, as JWS uses them.
#[test]
fn ecdsa_p1363() {
    let mut failures = Vec::new();
    for (file, alg) in [
        ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256),
        ("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384),
        ("ecdsa_secp521r1_sha512_p1363_test.json", Algorithm::ES512),
        ("ecdsa_secp256k1_sha256_p1363_test.json", Algorithm::ES256K),
    ] {
        let mut tally = Tally::new(file);
        for group in test_groups(&wycheproof(file)) {
            let key = group_key(&mut tally, group, alg);
            for test in array_of(group, "tests") {
                let (msg, sig) = msg_sig(test);
                tally.check(test, &key, &msg, &sig);
            }
        }
        failures.extend(tally.finish());
    }
    report(&failures);
}

/// RS256/384/512 (RSASSA-PKCS1-v1_5), algorithm chosen by the group's `sha`.
#[test]
fn rsa_pkcs1() {
    let mut failures = Vec::new();
    for file in wycheproof_files("rsa_signature_") {
        let mut tally = Tally::new(&file);
        for group in test_groups(&wycheproof(&file)) {
            let sha = str_of(group, "sha");
            let Some(alg) = sha_to_alg(sha, "RS") else {
                tally.add_skipped(
                    array_of(group, "tests").len(),
                    &format!("{sha} is no JWS RSASSA-PKCS1-v1_5 hash"),
                );
                continue;
            };
            let key = group_key(&mut tally, group, alg);
            for test in array_of(group, "tests") {
                if u64_of(group, "keySize") < 2048 {
                    tally.check_refused(test, &key, "RSA modulus under 2048 bits, RFC 7518 §3.3");
                    continue;
                }
                let (msg, sig) = msg_sig(test);
                tally.check(test, &key, &msg, &sig);
            }
        }
        failures.extend(tally.finish());
    }
    report(&failures);
}

/// PS256/384/512 (RSASSA-PSS). JWS fixes MGF1 with the same hash and a salt as long as the hash (RFC 7518 §3.5);
/// other parameter sets are skipped with a count.
#[test]
fn rsa_pss() {
    let mut failures = Vec::new();
    for file in wycheproof_files("rsa_pss_") {
        let mut tally = Tally::new(&file);
        for group in test_groups(&wycheproof(&file)) {
            let sha = str_of(group, "sha");
            let tests = array_of(group, "tests");
            let jws_params = str_of(group, "mgf") == "MGF1"
                && group.get("mgfSha").and_then(Value::as_str) == Some(sha)
                && u64_of(group, "sLen") == hash_len(sha);
            let Some(alg) = sha_to_alg(sha, "PS").filter(|_| jws_params) else {
                tally.add_skipped(
                    tests.len(),
                    "PSS parameters other than JWS's MGF1-same-hash, salt = hash length",
                );
                continue;
            };
            let key = group_key(&mut tally, group, alg);
            for test in tests {
                if u64_of(group, "keySize") < 2048 {
                    tally.check_refused(test, &key, "RSA modulus under 2048 bits, RFC 7518 §3.3");
                    continue;
                }
                let (msg, sig) = msg_sig(test);
                tally.check(test, &key, &msg, &sig);
            }
        }
        failures.extend(tally.finish());
    }
    report(&failures);
}

/// EdDSA with Ed25519 (RFC 8037).
#[test]
fn ed25519() {
    let file = "ed25519_test.json";
    let mut tally = Tally::new(file);
    for group in test_groups(&wycheproof(file)) {
        let key = group_key(&mut tally, group, Algorithm::EdDSA);
        for test in array_of(group, "tests") {
            let (msg, sig) = msg_sig(test);
            tally.check(test, &key, &msg, &sig);
        }
    }
    report(&tally.finish());
}
