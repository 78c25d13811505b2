//! Checks of a JWE's protected header: the pitfalls of encryption that show before any key is at hand.
//!
//! Severities: `RSA1_5` is an error, because its padding oracle (Bleichenbacher, 1998; ROBOT, 2017) lets whoever
//! can watch a recipient's failures decrypt content keys, and no recipient should still accept it. A JWS algorithm
//! in a JWE's `alg` is an error: no recipient can open it, and a library that tries to is confusing the two
//! registries. PBES2 with fewer than 1,000 iterations is an error (RFC 7518 §4.8.1.2's floor); more than 10,000 is
//! a warning, since a recipient that honours the count the token names can be made to spend seconds per token.
//! `zip` is a warning: compressing attacker-influenced content beside secrets leaks them through the length
//! (CRIME, BREACH), and a recipient without a bound on the output inflates decompression bombs.

use serde_json::{Map, Value};

use super::finding::Finding;

/// PBES2 iteration counts outside this range are reported.
const MIN_P2C: u64 = 1_000;
const MAX_P2C: u64 = 10_000;

/// JWE header checks: `alg` (RSA1_5, a JWS name, PBES2's count), `enc` and `zip`.
pub fn header(header: &Map<String, Value>) -> Vec<Finding> {
    let mut found = Vec::new();
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    match alg {
        "" => {}
        "RSA1_5" => found.push(Finding::error(
            "jwe_rsa1_5",
            "alg is \"RSA1_5\" (RSAES-PKCS1-v1_5): its padding oracle (Bleichenbacher's attack) lets anyone who \
             can see a recipient's decryption failures recover content keys",
            "Encrypt with RSA-OAEP-256 (or ECDH-ES) and make every recipient refuse RSA1_5.",
        )),
        name if name.starts_with("PBES2-") => found.extend(pbes2(header)),
        name if name.eq_ignore_ascii_case("none") => {}
        name if waxseal::Algorithm::from_name(name).is_ok() => found.push(Finding::error(
            "jwe_signature_alg",
            format!("alg \"{name}\" is a signature (JWS) algorithm, not a JWE key-management algorithm: no recipient can decrypt this"),
            "Encrypt with a key-management algorithm (RSA-OAEP-256, ECDH-ES, A256KW, dir); sign with JWS.",
        )),
        name if crate::commands::decode::explain_alg(name).starts_with("not ") => {
            found.push(Finding::warning(
                "unsupported_alg",
                format!("alg \"{name}\" is not a registered JWE key-management algorithm"),
                "Use a registered algorithm such as RSA-OAEP-256, ECDH-ES, A256KW or dir.",
            ));
        }
        _ => {}
    }
    match header.get("enc").and_then(Value::as_str) {
        None => found.push(Finding::error(
            "jwe_no_enc",
            "the JWE header has no \"enc\": no recipient can know how the content was encrypted",
            "Set enc to the content encryption used (A256GCM is a good default).",
        )),
        Some(enc) if crate::commands::decode::explain_enc(enc).starts_with("not ") => {
            found.push(Finding::warning(
                "unsupported_enc",
                format!("enc \"{enc}\" is not a registered JWE content encryption"),
                "Use A256GCM, A128GCM or A128CBC-HS256.",
            ));
        }
        Some(_) => {}
    }
    if header.contains_key("zip") {
        found.push(Finding::warning(
            "jwe_compressed",
            "the content is compressed (\"zip\"): compressing attacker-influenced data beside secrets leaks them \
             through the ciphertext length (CRIME, BREACH), and a recipient without an output bound can be sent a \
             decompression bomb",
            "Encrypt without zip; if size matters, keep secrets and attacker-chosen text out of the same payload.",
        ));
    }
    found
}

/// PBES2's iteration count (`p2c`).
fn pbes2(header: &Map<String, Value>) -> Option<Finding> {
    let Some(count) = header.get("p2c").and_then(Value::as_u64) else {
        return Some(Finding::error(
            "pbes2_count",
            "the PBES2 header has no usable \"p2c\" (iteration count): no recipient can derive the key",
            "Set p2c to an iteration count between 1,000 and 10,000.",
        ));
    };
    if count < MIN_P2C {
        Some(Finding::error(
            "pbes2_count",
            format!(
                "PBES2 with p2c {count}: under {MIN_P2C} iterations (RFC 7518 §4.8.1.2) makes guessing the password cheap"
            ),
            "Use at least 1,000 iterations, and a long random password (or a key instead of a password).",
        ))
    } else if count > MAX_P2C {
        Some(Finding::warning(
            "pbes2_count",
            format!(
                "PBES2 with p2c {count}: above {MAX_P2C} iterations a recipient that honours the token's count spends seconds per token (a denial-of-service lever), and many refuse it"
            ),
            "Keep p2c at 10,000 or below, and bound it in every recipient.",
        ))
    } else {
        None
    }
}
