//! Wycheproof "JSON Web Crypto": whole JWS objects verified with waxseal's `JwsVerifier`.
//!
//! For every group a [`KeySet`] is built the way a user would: from the group's `public` key or set when there is
//! one, else from `private`. Each JWK becomes a `VerifyingKey` through `VerifyingKey::from_jwk` (which uses its
//! `alg`, or the one its curve implies); JWKs without `alg` are expanded by `KeySet::from_jwks`. If the key set
//! cannot be built, the case counts as rejected. Compact tokens go to `verify_compact`, JSON objects (serialized)
//! to `verify_json`.
//!
//! `valid` must verify and `invalid` must be rejected. The only exceptions are listed in [`DEVIATIONS`], and each
//! is asserted to still behave exactly as documented there.
#![allow(clippy::unwrap_used, clippy::too_many_lines, missing_docs)]

mod common;

use common::{array_of, str_of, test_groups, wycheproof};
use serde_json::{Value, json};
use waxseal::jws::JwsVerifier;
use waxseal::{Error, ErrorKind, Jwk, KeySet, VerifyingKey};

/// How a case is allowed to end differently from its Wycheproof result, and what is asserted instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// (a) Marked valid, but its base64url carries a character outside the alphabet. Asserted: rejected with
    /// `kind`, and the same token with the foreign character removed verifies.
    StrictBase64 { kind: ErrorKind },
    /// (b) Marked valid, but the key's `alg` is not a registered algorithm name. Asserted: the key set is refused
    /// with `UnsupportedAlgorithm`, and the same key without its `alg` member verifies the token.
    UnregisteredKeyAlg,
    /// (b') Marked valid, but the key's `alg` is a registered name that contradicts the token's `alg`. Asserted:
    /// the verifier refuses the token's algorithm (`AlgorithmNotAllowed`), and the same key without its `alg`
    /// member verifies the token.
    ContradictingKeyAlg,
    /// Marked invalid, but the `jws` is byte-identical to that of `twin`, a case of the same group marked valid: no
    /// verifier can satisfy both. Asserted: the token equals its twin's and verifies, and the token the comment
    /// describes (its segment `segment` padded with `=`) is rejected.
    IdenticalToValidCase { twin: u64, segment: usize },
    /// Marked invalid with the `JsonSerialization` flag ("encoded with JSON serialization instead of compact
    /// serialization"): the case is about a verifier that expects the compact form being handed a JSON object, so
    /// it is fed to `verify_compact`, which must reject it as `Malformed`. The object is otherwise a correctly
    /// signed JWS JSON serialization, which `verify_json` is asserted to accept.
    JsonWhereCompactExpected,
}

/// A case whose outcome differs from, or is checked differently from, its Wycheproof result.
struct Deviation {
    file: &'static str,
    tc_id: u64,
    why: Why,
    reason: &'static str,
}

/// The one table of deviations. Every entry is asserted by [`check_deviation`] to behave as its `why` documents.
const DEVIATIONS: &[Deviation] = &[
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 372,
        why: Why::StrictBase64 {
            kind: ErrorKind::Malformed,
        },
        reason: "valid per Wycheproof, but a '?' is inserted in the header's base64url; accepting it needs a lenient \
                 decoder that drops characters, and strict base64url (one spelling per token) is a security \
                 invariant. The header is decoded first, so the error is Malformed.",
    },
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 373,
        why: Why::StrictBase64 {
            kind: ErrorKind::InvalidSignature,
        },
        reason: "valid per Wycheproof, but a '?' is inserted in the payload's base64url (strict base64url, as 372). \
                 The signing input is the token text as received (RFC 7515 §5.2) and the MAC covers the text \
                 without the '?', so the signature check, which precedes payload decoding, fails first.",
    },
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 347,
        why: Why::UnregisteredKeyAlg,
        reason: "valid per Wycheproof (RFC 7520 Figure 27), but the key says \"alg\":\"ES521\", which is no \
                 registered algorithm; waxseal never uses a JWK whose alg contradicts the token's ES512.",
    },
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 351,
        why: Why::UnregisteredKeyAlg,
        reason: "as 347, the rfc7520WithKeyOps variant of Figure 27.",
    },
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 346,
        why: Why::ContradictingKeyAlg,
        reason: "valid per Wycheproof (RFC 7520 Figure 20), but the token is PS384 (as in RFC 7520 §4.2) while the \
                 key says \"alg\":\"PS256\"; a key is bound to its alg (RFC 7517 §4.4), so it never verifies \
                 another algorithm.",
    },
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 350,
        why: Why::ContradictingKeyAlg,
        reason: "as 346, the rfc7520WithKeyOps variant of Figure 20.",
    },
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 367,
        why: Why::IdenticalToValidCase {
            twin: 357,
            segment: 2,
        },
        reason: "invalid per Wycheproof (invalidBase64Padding), but the vector's jws carries no padding: it is \
                 byte-identical to valid tcId 357 (vector defect).",
    },
    Deviation {
        file: "json_web_signature_test.json",
        tc_id: 370,
        why: Why::IdenticalToValidCase {
            twin: 357,
            segment: 1,
        },
        reason: "invalid per Wycheproof (invalidBase64PaddingInPayload), but the vector's jws carries no padding: \
                 it is byte-identical to valid tcId 357 (vector defect).",
    },
    Deviation {
        file: "json_web_crypto_test.json",
        tc_id: 17,
        why: Why::JsonWhereCompactExpected,
        reason: "invalid per Wycheproof with flag JsonSerialization: a compact verifier must refuse a JSON \
                 serialization. Fed to verify_compact (rejected, Malformed); verify_json accepts the object, whose \
                 signature is genuine.",
    },
];

fn deviation(file: &str, tc_id: u64) -> Option<&'static Deviation> {
    DEVIATIONS
        .iter()
        .find(|d| d.file == file && d.tc_id == tc_id)
}

/// The JWKs of a key or key-set document.
fn jwks_of(doc: &Value) -> Vec<Value> {
    match doc.get("keys") {
        Some(keys) => keys.as_array().expect("\"keys\" is an array").clone(),
        None => vec![doc.clone()],
    }
}

/// One JWK's verifying keys: by its own (or its curve's) algorithm when it names one, else every algorithm its
/// type allows, through `KeySet::from_jwks`.
fn keys_for_jwk(value: &Value) -> Result<Vec<VerifyingKey>, Error> {
    let jwk = Jwk::from_json(&value.to_string())?;
    if jwk.algorithm()?.is_some() {
        return Ok(vec![VerifyingKey::from_jwk(&jwk)?]);
    }
    // `from_jwks` refuses private asymmetric keys (published sets must not carry them); use the public half.
    let jwk = if jwk.kty != "oct" && jwk.is_private() {
        jwk.to_public()?
    } else {
        jwk
    };
    let doc =
        json!({ "keys": [serde_json::from_str::<Value>(&jwk.to_json()).unwrap()] }).to_string();
    Ok(KeySet::from_jwks(&doc)?.keys().to_vec())
}

/// The key set of a group: `public` if present, else `private`.
fn group_keyset(group: &Value) -> Result<KeySet, Error> {
    let doc = group
        .get("public")
        .or_else(|| group.get("private"))
        .expect("group has neither public nor private");
    let mut keys = Vec::new();
    for jwk in jwks_of(doc) {
        keys.extend(keys_for_jwk(&jwk)?);
    }
    KeySet::new(keys)
}

/// The outcome of verifying a `jws` member (string: compact; object: JSON serialization).
fn verify(keys: &KeySet, jws: &Value) -> Result<Vec<u8>, Error> {
    let verifier = JwsVerifier::new(keys.clone());
    match jws {
        Value::String(token) => verifier.verify_compact(token).map(|v| v.payload),
        Value::Object(_) => verifier.verify_json(&jws.to_string()).map(|v| v.payload),
        other => panic!("jws member of unexpected type: {other}"),
    }
}

#[derive(Default)]
struct Tally {
    valid_verified: usize,
    invalid_rejected_at_keys: usize,
    invalid_rejected_at_verify: usize,
    deviations: usize,
    skipped_jwe: usize,
    failures: Vec<String>,
}

fn describe(test: &Value) -> String {
    format!(
        "tcId {} ({}; result {})",
        test["tcId"],
        str_of(test, "comment"),
        str_of(test, "result")
    )
}

/// The same key document without its `alg` member, as a key set.
fn keyset_without_alg(group: &Value) -> Result<KeySet, String> {
    let doc = group
        .get("public")
        .or_else(|| group.get("private"))
        .expect("group has a key");
    let mut stripped = doc.clone();
    if stripped.as_object_mut().unwrap().remove("alg").is_none() {
        return Err("the key has no alg member".into());
    }
    keys_for_jwk(&stripped)
        .and_then(KeySet::new)
        .map_err(|e| format!("key without alg refused: {e:?}"))
}

/// Asserts that a deviation behaves as documented in [`Why`]; returns a failure message otherwise.
fn check_deviation(why: Why, group: &Value, test: &Value) -> Result<(), String> {
    let jws = &test["jws"];
    let expect_result = |wanted: &str| {
        if str_of(test, "result") == wanted {
            Ok(())
        } else {
            Err(format!("the table expects a case marked {wanted}"))
        }
    };
    match why {
        Why::StrictBase64 { kind } => {
            expect_result("valid")?;
            let keys =
                group_keyset(group).map_err(|e| format!("key set unexpectedly refused: {e:?}"))?;
            match verify(&keys, jws) {
                Err(e) if e.kind() == kind => {}
                other => return Err(format!("expected a {kind:?} rejection, got {other:?}")),
            }
            let token = jws.as_str().ok_or("expected a compact token")?;
            let cleaned: String = token
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            if cleaned == token {
                return Err("token has no character outside the base64url alphabet".into());
            }
            verify(&keys, &Value::String(cleaned))
                .map(|_| ())
                .map_err(|e| {
                    format!("token with the foreign character removed does not verify: {e:?}")
                })
        }
        Why::UnregisteredKeyAlg => {
            expect_result("valid")?;
            let alg = group
                .get("public")
                .and_then(|k| k.get("alg"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if waxseal::Algorithm::from_name(alg).is_ok() {
                return Err(format!("key alg {alg:?} is a registered name"));
            }
            match group_keyset(group) {
                Err(e) if e.kind() == ErrorKind::UnsupportedAlgorithm => {}
                other => {
                    return Err(format!(
                        "expected the key set to be refused (UnsupportedAlgorithm), got {other:?}"
                    ));
                }
            }
            verify(&keyset_without_alg(group)?, jws)
                .map(|_| ())
                .map_err(|e| format!("token does not verify with the key stripped of alg: {e:?}"))
        }
        Why::ContradictingKeyAlg => {
            expect_result("valid")?;
            let keys =
                group_keyset(group).map_err(|e| format!("key set unexpectedly refused: {e:?}"))?;
            match verify(&keys, jws) {
                Err(e) if e.kind() == ErrorKind::AlgorithmNotAllowed => {}
                other => {
                    return Err(format!(
                        "expected an AlgorithmNotAllowed rejection, got {other:?}"
                    ));
                }
            }
            verify(&keyset_without_alg(group)?, jws)
                .map(|_| ())
                .map_err(|e| format!("token does not verify with the key stripped of alg: {e:?}"))
        }
        Why::IdenticalToValidCase { twin, segment } => {
            expect_result("invalid")?;
            let twin_case = array_of(group, "tests")
                .iter()
                .find(|t| t["tcId"].as_u64() == Some(twin))
                .ok_or_else(|| format!("twin tcId {twin} is not in the group"))?;
            if str_of(twin_case, "result") != "valid" || twin_case["jws"] != *jws {
                return Err(format!(
                    "the jws is not identical to that of valid tcId {twin}"
                ));
            }
            let keys =
                group_keyset(group).map_err(|e| format!("key set unexpectedly refused: {e:?}"))?;
            verify(&keys, jws)
                .map_err(|e| format!("the token of valid tcId {twin} does not verify: {e:?}"))?;
            let mut parts: Vec<String> = jws
                .as_str()
                .ok_or("expected a compact token")?
                .split('.')
                .map(String::from)
                .collect();
            parts[segment].push_str("==");
            match verify(&keys, &Value::String(parts.join("."))) {
                Err(_) => Ok(()),
                Ok(_) => Err("the padded token the case describes was accepted".into()),
            }
        }
        Why::JsonWhereCompactExpected => {
            expect_result("invalid")?;
            if !array_of(test, "flags")
                .iter()
                .any(|f| f == "JsonSerialization")
                || !jws.is_object()
            {
                return Err(
                    "case is not a JSON-serialization object flagged JsonSerialization".into(),
                );
            }
            let keys =
                group_keyset(group).map_err(|e| format!("key set unexpectedly refused: {e:?}"))?;
            match JwsVerifier::new(keys.clone()).verify_compact(&jws.to_string()) {
                Err(e) if e.kind() == ErrorKind::Malformed => {}
                other => {
                    return Err(format!(
                        "verify_compact must reject JSON as Malformed, got {other:?}"
                    ));
                }
            }
            verify(&keys, jws)
                .map(|_| ())
                .map_err(|e| format!("the JSON serialization itself does not verify: {e:?}"))
        }
    }
}

fn run_file(file: &str) -> Tally {
    let mut tally = Tally::default();
    for group in test_groups(&wycheproof(file)) {
        let keys = group_keyset(group);
        for test in array_of(group, "tests") {
            if test.get("jwe").is_some() {
                tally.skipped_jwe += 1;
                continue;
            }
            let tc_id = test["tcId"].as_u64().unwrap();
            if let Some(dev) = deviation(file, tc_id) {
                match check_deviation(dev.why, group, test) {
                    Ok(()) => tally.deviations += 1,
                    Err(e) => tally.failures.push(format!(
                        "{file}: {} deviation {:?} ({}) no longer holds: {e}",
                        describe(test),
                        dev.why,
                        dev.reason
                    )),
                }
                continue;
            }
            let jws = test.get("jws").expect("test has a jws member");
            let outcome = keys
                .as_ref()
                .map_err(|e| (true, e.clone()))
                .and_then(|k| verify(k, jws).map_err(|e| (false, e)));
            match (str_of(test, "result"), outcome) {
                ("valid", Ok(_)) => tally.valid_verified += 1,
                ("invalid", Err((true, _))) => tally.invalid_rejected_at_keys += 1,
                ("invalid", Err((false, _))) => tally.invalid_rejected_at_verify += 1,
                ("valid", Err((at_keys, e))) => tally.failures.push(format!(
                    "{file}: {} was rejected {}: {e:?}",
                    describe(test),
                    if at_keys {
                        "while building the key set"
                    } else {
                        "by the verifier"
                    }
                )),
                (_, Ok(_)) => tally
                    .failures
                    .push(format!("{file}: {} was accepted", describe(test))),
                (other, _) => tally.failures.push(format!(
                    "{file}: {} has unknown result {other:?}",
                    describe(test)
                )),
            }
        }
    }
    let rejected = tally.invalid_rejected_at_keys + tally.invalid_rejected_at_verify;
    println!(
        "{file}: {} valid verified, {rejected} invalid rejected ({} at key-set construction, {} by the verifier), \
         {} documented deviations (asserted), {} skipped (JWE, not JWS)",
        tally.valid_verified,
        tally.invalid_rejected_at_keys,
        tally.invalid_rejected_at_verify,
        tally.deviations,
        tally.skipped_jwe
    );
    if tally.valid_verified + rejected == 0 {
        tally.failures.push(format!("{file}: no case was checked"));
    }
    tally
}

fn run(files: &[&str]) {
    let mut failures = Vec::new();
    for file in files {
        failures.extend(run_file(file).failures);
    }
    assert!(
        failures.is_empty(),
        "{} conformance failure(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn deviation_table_names_existing_cases() {
    for dev in DEVIATIONS {
        let found = test_groups(&wycheproof(dev.file))
            .iter()
            .flat_map(|g| array_of(g, "tests"))
            .any(|t| t["tcId"].as_u64() == Some(dev.tc_id));
        assert!(
            found,
            "deviation {:?} names {} tcId {}, which does not exist",
            dev.why, dev.file, dev.tc_id
        );
        assert_eq!(
            DEVIATIONS
                .iter()
                .filter(|d| d.file == dev.file && d.tc_id == dev.tc_id)
                .count(),
            1
        );
    }
}

#[test]
fn json_web_signature() {
    run(&["json_web_signature_test.json"]);
}

#[test]
fn json_web_key() {
    run(&["json_web_key_test.json"]);
}

#[test]
fn json_web_crypto_jws() {
    run(&["json_web_crypto_test.json"]);
}

/// json_web_key_test.json tcId 4 ("rejectsDuplicateKid") is already refused at key construction, because its second
/// secret is not canonical base64url (non-zero trailing bits). So that the duplicate-`kid` rule itself is exercised,
/// the same set with that secret spelled canonically must still be refused, at verification, as ambiguous.
#[test]
fn duplicate_kid_is_refused_even_when_the_keys_are_well_formed() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let file = wycheproof("json_web_key_test.json");
    let (group, test) = test_groups(&file)
        .iter()
        .flat_map(|g| array_of(g, "tests").iter().map(move |t| (g, t)))
        .find(|(_, t)| t["tcId"] == 4)
        .unwrap();
    assert_eq!(str_of(test, "comment"), "rejectsDuplicateKid");
    assert_eq!(
        group_keyset(group).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );

    let mut keys = jwks_of(&group["private"]);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], keys[1]["kid"]);
    let k = str_of(&keys[1], "k").to_owned();
    // 43 characters carry 32 bytes: the last character's two low bits are padding and must be zero.
    let last = ALPHABET
        .iter()
        .position(|&c| c == *k.as_bytes().last().unwrap())
        .unwrap();
    let canonical = format!("{}{}", &k[..k.len() - 1], char::from(ALPHABET[last & !3]));
    assert_ne!(canonical, k);
    keys[1]["k"] = Value::String(canonical);

    let mut set = Vec::new();
    for jwk in &keys {
        set.extend(keys_for_jwk(jwk).unwrap());
    }
    let set = KeySet::new(set).unwrap();
    let err = verify(&set, &test["jws"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err:?}");
    assert!(err.message().contains("ambiguous"), "{err}");
    // Either key alone is a well-formed set; the first one made the signature.
    let first = KeySet::new(keys_for_jwk(&keys[0]).unwrap()).unwrap();
    verify(&first, &test["jws"]).unwrap();
}
