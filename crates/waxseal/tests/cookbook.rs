//! RFC 7520 (the JOSE cookbook), RFC 7797, RFC 8037 and RFC 7515 appendix A examples, verified with waxseal and,
//! where the algorithm is deterministic (HS*, RS*, EdDSA), reproduced byte for byte.
//!
//! The cookbook examples come from the public vectors (`jose-cookbook/`); the RFC 7515 and RFC 8037 appendix
//! examples are typed below from the RFC text. Every typed value was checked by verification: a wrong byte would
//! make its signature fail.
//!
//! Upstream defects met here, each asserted so that a fix upstream shows up as a failing test:
//! * `rfc7797/hmac-sha2_b64_false.json`: `signing.protected_b64u` decodes to invalid JSON (`"b64":,`) and its
//!   `sig-input`/`sig` belong to another example; its `output` members are right, and the protected header is taken
//!   from `output.compact`.
//! * `rfc7797/4.2.hmac-sha2_b64_false.json`: the protected header is `{"alg":"HS256","b64":false}` without
//!   `"crit":["b64"]`, which RFC 7797 §6 requires; waxseal refuses it as `Malformed` whether or not unencoded
//!   payloads are allowed. RFC 7797 §4.2 itself (with `crit`) is typed below and checked instead.
#![allow(clippy::unwrap_used, clippy::too_many_lines, missing_docs)]

mod common;

use common::{array_of, cookbook, str_of};
use serde_json::Value;
use waxseal::jws::{self, JwsVerifier};
use waxseal::{Algorithm, ErrorKind, Jwk, KeySet, SigningKey, VerifyingKey, b64};

fn jwk(value: &Value) -> Jwk {
    Jwk::from_json(&value.to_string()).unwrap()
}

fn alg_of(value: &Value) -> Algorithm {
    Algorithm::from_name(value.as_str().unwrap()).unwrap()
}

fn payload_of(example: &Value) -> Vec<u8> {
    str_of(&example["input"], "payload").as_bytes().to_vec()
}

/// Checks one single-signer cookbook example: every output present verifies (detached when `detached`), and the
/// deterministic ones are reproduced byte for byte. Returns a summary for the log.
fn check_single_signer(file: &str, detached: bool) -> String {
    let example = cookbook(file);
    let alg = alg_of(&example["input"]["alg"]);
    let key = jwk(&example["input"]["key"]);
    let payload = payload_of(&example);
    let verifier = JwsVerifier::new(VerifyingKey::from_jwk_with_alg(&key, alg).unwrap());
    let output = &example["output"];
    let mut done = Vec::new();

    if let Some(compact) = output.get("compact").and_then(Value::as_str) {
        let header = if detached {
            verifier.verify_detached(compact, &payload).unwrap()
        } else {
            let verified = verifier.verify_compact(compact).unwrap();
            assert_eq!(verified.payload, payload, "{file}: compact payload");
            verified.header
        };
        assert_eq!(header.alg, alg, "{file}");
        done.push("compact verified");
    }
    for form in ["json", "json_flat"] {
        let Some(object) = output.get(form) else {
            continue;
        };
        let text = object.to_string();
        let verified = if detached {
            assert!(
                object.get("payload").is_none(),
                "{file}: {form} should be detached"
            );
            verifier.verify_json_detached(&text, &payload).unwrap()
        } else {
            verifier.verify_json(&text).unwrap()
        };
        assert_eq!(verified.payload, payload, "{file}: {form} payload");
        assert_eq!(verified.signature_index, 0, "{file}: {form}");
        assert_eq!(verified.header.alg, alg, "{file}: {form}");
        done.push(if form == "json" {
            "general JSON verified"
        } else {
            "flattened JSON verified"
        });
    }
    assert!(!done.is_empty(), "{file}: no output to check");

    let signing = &example["signing"];
    let protected_b64 = signing
        .get("protected_b64u")
        .and_then(Value::as_str)
        .unwrap_or("");
    let sig_input = str_of(signing, "sig-input");
    assert_eq!(
        sig_input,
        format!("{protected_b64}.{}", b64::encode(&payload)),
        "{file}: signing input"
    );
    let signature = str_of(signing, "sig");
    for form in ["json", "json_flat"] {
        if let Some(object) = output.get(form) {
            let entry = if form == "json" {
                &array_of(object, "signatures")[0]
            } else {
                object
            };
            assert_eq!(
                str_of(entry, "signature"),
                signature,
                "{file}: {form} signature"
            );
        }
    }
    let signer = SigningKey::from_jwk_with_alg(&key, alg).unwrap();
    if example["reproducible"] == true {
        assert!(
            matches!(alg.name().get(..2), Some("HS" | "RS" | "Ed")),
            "{file}: {alg} is not deterministic"
        );
        assert_eq!(
            b64::encode(signer.sign(sig_input.as_bytes()).unwrap()),
            signature,
            "{file}: signature"
        );
        done.push("signature reproduced byte for byte");
        if let Some(compact) = output.get("compact").and_then(Value::as_str) {
            let header_json = b64::decode(protected_b64, "protected").unwrap();
            let token =
                jws::sign_compact_with_header_json(&signer, &header_json, &payload).unwrap();
            let expected = if detached {
                let parts: Vec<&str> = token.split('.').collect();
                format!("{}..{}", parts[0], parts[2])
            } else {
                token
            };
            assert_eq!(expected, compact, "{file}: compact reproduction");
            done.push("compact reproduced byte for byte");
        }
    } else {
        // Randomized (PSS, ECDSA): the imported private key must still sign what the public key accepts.
        let header_json = b64::decode(protected_b64, "protected").unwrap();
        let token = jws::sign_compact_with_header_json(&signer, &header_json, &payload).unwrap();
        assert_eq!(
            verifier.verify_compact(&token).unwrap().payload,
            payload,
            "{file}: fresh signature"
        );
        done.push("fresh signature by the private key verified (randomized algorithm)");
    }
    let line = format!("{file} ({alg}): {}", done.join(", "));
    println!("{line}");
    line
}

#[test]
fn rfc7520_4_1_rsa_v15() {
    check_single_signer("jws/4_1.rsa_v15_signature.json", false);
}

#[test]
fn rfc7520_4_2_rsa_pss() {
    check_single_signer("jws/4_2.rsa-pss_signature.json", false);
}

#[test]
fn rfc7520_4_3_ecdsa() {
    check_single_signer("jws/4_3.ecdsa_signature.json", false);
}

#[test]
fn rfc7520_4_4_hmac() {
    check_single_signer("jws/4_4.hmac-sha2_integrity_protection.json", false);
}

#[test]
fn rfc7520_4_5_detached_content() {
    check_single_signer("jws/4_5.signature_with_detached_content.json", true);
    // The detached token is not an attached one: verify_compact sees an empty payload and the MAC fails.
    let example = cookbook("jws/4_5.signature_with_detached_content.json");
    let key = VerifyingKey::from_jwk(&jwk(&example["input"]["key"])).unwrap();
    let compact = str_of(&example["output"], "compact");
    assert!(
        JwsVerifier::new(key.clone())
            .verify_compact(compact)
            .is_err()
    );
    // And a wrong detached payload is refused.
    let err = JwsVerifier::new(key)
        .verify_detached(compact, b"another payload")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);
}

#[test]
fn rfc7520_4_6_protected_and_unprotected_header() {
    check_single_signer("jws/4_6.protecting_specific_header_fields.json", false);
    let example = cookbook("jws/4_6.protecting_specific_header_fields.json");
    let key = VerifyingKey::from_jwk(&jwk(&example["input"]["key"])).unwrap();
    let verified = JwsVerifier::new(key)
        .verify_json(&example["output"]["json_flat"].to_string())
        .unwrap();
    assert_eq!(
        verified.header.kid.as_deref(),
        Some("018c0ae5-4d9b-471b-bfd6-eef314bc7037")
    );
}

#[test]
fn rfc7520_4_7_unprotected_header_only() {
    check_single_signer("jws/4_7.protecting_content_only.json", false);
}

#[test]
fn rfc7520_4_8_multiple_signatures() {
    let file = "jws/4_8.multiple_signatures.json";
    let example = cookbook(file);
    let payload = payload_of(&example);
    let keys = array_of(&example["input"], "key");
    let algs = array_of(&example["input"], "alg");
    let signing = array_of(&example, "signing");
    let general = example["output"]["json"].to_string();
    let entries = array_of(&example["output"]["json"], "signatures");
    assert_eq!(
        (keys.len(), algs.len(), signing.len(), entries.len()),
        (3, 3, 3, 3)
    );

    let mut verifying = Vec::new();
    for (index, ((key, alg), signer)) in keys.iter().zip(algs).zip(signing).enumerate() {
        let alg = alg_of(alg);
        let key = jwk(key);
        let public = VerifyingKey::from_jwk_with_alg(&key, alg).unwrap();
        let verified = JwsVerifier::new(public.clone())
            .verify_json(&general)
            .unwrap();
        assert_eq!(
            verified.signature_index, index,
            "{file}: the {alg} key must verify signature #{index}"
        );
        assert_eq!(verified.payload, payload);
        assert_eq!(verified.header.alg, alg);
        let sig = str_of(signer, "sig");
        assert_eq!(str_of(&entries[index], "signature"), sig);
        let input = str_of(signer, "sig-input");
        public
            .verify(input.as_bytes(), &b64::decode(sig, "sig").unwrap())
            .unwrap();
        if alg != Algorithm::ES512 {
            // RS256 and HS256 are deterministic.
            let private = SigningKey::from_jwk_with_alg(&key, alg).unwrap();
            assert_eq!(
                b64::encode(private.sign(input.as_bytes()).unwrap()),
                sig,
                "{file}: {alg} reproduction"
            );
        }
        verifying.push(public);
    }
    // One verifier trusting both public keys picks the first signature it can check; narrowed to ES512, the second.
    let both = KeySet::new(verifying[..2].to_vec()).unwrap();
    assert_eq!(
        JwsVerifier::new(both.clone())
            .verify_json(&general)
            .unwrap()
            .signature_index,
        0
    );
    let es512 = JwsVerifier::new(both).algorithms([Algorithm::ES512]);
    assert_eq!(es512.verify_json(&general).unwrap().signature_index, 1);
    // HMAC secrets and public keys never share a verifier.
    assert_eq!(
        KeySet::new(verifying).unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    println!(
        "{file}: RS256 #0, ES512 #1, HS256 #2 each verified by its own key; RS256 and HS256 reproduced"
    );
}

#[test]
fn rfc7797_unencoded_payload_compact_compatible() {
    let file = "rfc7797/hmac-sha2_b64_false.json";
    let example = cookbook(file);
    let payload = payload_of(&example);
    let key = jwk(&example["input"]["key"]);
    let alg = alg_of(&example["input"]["alg"]);
    let strict = JwsVerifier::new(VerifyingKey::from_jwk_with_alg(&key, alg).unwrap());
    let lenient = strict.clone().allow_unencoded_payload(true);
    let output = &example["output"];
    let compact = str_of(output, "compact");

    let err = strict.verify_compact(compact).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedCritical, "{err:?}");
    let verified = lenient.verify_compact(compact).unwrap();
    assert_eq!(verified.payload, payload);
    assert!(!verified.header.b64);
    for form in ["json", "json_flat"] {
        let text = output[form].to_string();
        let err = strict.verify_json(&text).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::UnsupportedCritical,
            "{form}: {err:?}"
        );
        assert_eq!(
            lenient.verify_json(&text).unwrap().payload,
            payload,
            "{form}"
        );
    }

    // Upstream defect: signing.protected_b64u is not JSON. The header is taken from output.compact instead.
    let broken = b64::decode(str_of(&example["signing"], "protected_b64u"), "protected").unwrap();
    assert!(
        serde_json::from_slice::<Value>(&broken).is_err(),
        "signing.protected_b64u was fixed upstream"
    );
    let header_b64 = compact.split('.').next().unwrap();
    let header_json = b64::decode(header_b64, "protected").unwrap();
    assert_eq!(
        header_json,
        br#"{"alg":"HS256","b64":false,"crit":["b64"]}"#
    );
    let signer = SigningKey::from_jwk_with_alg(&key, alg).unwrap();
    assert_eq!(
        jws::sign_compact_with_header_json(&signer, &header_json, &payload).unwrap(),
        compact
    );
    let signature = compact.rsplit('.').next().unwrap();
    assert_eq!(str_of(&output["json_flat"], "signature"), signature);
    println!(
        "{file}: default verifier rejects (UnsupportedCritical), allow_unencoded_payload accepts; reproduced"
    );
}

/// RFC 7797 §4.2 (JSON serialization, payload `$.02`), typed from the RFC with the key of the cookbook file.
const RFC7797_4_2_PROTECTED: &str = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19";
const RFC7797_4_2_SIGNATURE: &str = "A5dxf2s96_n5FLueVuW1Z_vh161FwXZC4YLPff6dmDY";

#[test]
fn rfc7797_4_2_unencoded_payload_json_only() {
    let file = "rfc7797/4.2.hmac-sha2_b64_false.json";
    let example = cookbook(file);
    let payload = payload_of(&example);
    assert_eq!(payload, b"$.02");
    let key = jwk(&example["input"]["key"]);
    let strict = JwsVerifier::new(VerifyingKey::from_jwk(&key).unwrap());
    let lenient = strict.clone().allow_unencoded_payload(true);

    // The file's header lacks "crit":["b64"] (RFC 7797 §6 requires it): refused as malformed, in both modes.
    let header = b64::decode(str_of(&example["signing"], "protected_b64u"), "protected").unwrap();
    assert_eq!(header, br#"{"alg":"HS256","b64":false}"#);
    for form in ["json", "json_flat"] {
        let text = example["output"][form].to_string();
        for verifier in [&strict, &lenient] {
            let err = verifier.verify_json(&text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Malformed, "{file} {form}: {err:?}");
            assert!(err.message().contains("crit"), "{err}");
        }
    }

    // RFC 7797 §4.2 as published.
    let flat = format!(
        r#"{{"protected":"{RFC7797_4_2_PROTECTED}","payload":"$.02","signature":"{RFC7797_4_2_SIGNATURE}"}}"#
    );
    let general = format!(
        r#"{{"payload":"$.02","signatures":[{{"protected":"{RFC7797_4_2_PROTECTED}","signature":"{RFC7797_4_2_SIGNATURE}"}}]}}"#
    );
    for text in [&flat, &general] {
        assert_eq!(
            strict.verify_json(text).unwrap_err().kind(),
            ErrorKind::UnsupportedCritical
        );
        assert_eq!(lenient.verify_json(text).unwrap().payload, payload);
    }
    let signer = SigningKey::from_jwk(&key).unwrap();
    let input = format!("{RFC7797_4_2_PROTECTED}.$.02");
    assert_eq!(
        b64::encode(signer.sign(input.as_bytes()).unwrap()),
        RFC7797_4_2_SIGNATURE
    );
    // "$.02" contains '.', so it has no compact form.
    let header = b64::decode(RFC7797_4_2_PROTECTED, "protected").unwrap();
    assert_eq!(
        jws::sign_compact_with_header_json(&signer, &header, &payload)
            .unwrap_err()
            .kind(),
        ErrorKind::Malformed
    );
    println!(
        "{file}: file's header lacks crit, refused (Malformed) in both modes; RFC 7797 §4.2 as published: default \
         verifier rejects (UnsupportedCritical), allow_unencoded_payload accepts; signature reproduced"
    );
}

/// RFC 8037 appendix A.1 (Ed25519 private key), A.3 (its thumbprint) and A.4/A.5 (signing and validation).
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

#[test]
fn rfc8037_ed25519() {
    check_single_signer("curve25519/jws.json", false);
    let example = cookbook("curve25519/jws.json");
    assert_eq!(example["input"]["key"]["d"], RFC8037_D);
    assert_eq!(example["input"]["key"]["x"], RFC8037_X);
    assert_eq!(example["output"]["compact"], RFC8037_JWS);

    let private = Jwk::from_json(&format!(
        r#"{{"kty":"OKP","crv":"Ed25519","d":"{RFC8037_D}","x":"{RFC8037_X}"}}"#
    ))
    .unwrap();
    let public = private.to_public().unwrap();
    assert_eq!(public.thumbprint().unwrap(), RFC8037_THUMBPRINT);
    // A.4: signing is deterministic.
    let signer = SigningKey::from_jwk(&private).unwrap();
    assert_eq!(signer.algorithm(), Algorithm::EdDSA);
    assert_eq!(
        jws::sign_compact_with_header_json(
            &signer,
            br#"{"alg":"EdDSA"}"#,
            b"Example of Ed25519 signing"
        )
        .unwrap(),
        RFC8037_JWS
    );
    // A.5: validation with the public key.
    let verified = JwsVerifier::new(VerifyingKey::from_jwk(&public).unwrap())
        .verify_compact(RFC8037_JWS)
        .unwrap();
    assert_eq!(verified.payload, b"Example of Ed25519 signing");
    println!("RFC 8037 A.3 thumbprint, A.4 reproduced byte for byte, A.5 verified");
}

/// RFC 7515 appendix A: the JWS Payload shared by A.1-A.3 and the examples.
const RFC7515_PAYLOAD: &[u8] =
    b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
const RFC7515_A1_HEADER: &[u8] = b"{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
const RFC7515_A1_KEY: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const RFC7515_A1_JWS: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7515_A2_KEY: &str = r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"}"#;
const RFC7515_A2_JWS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const RFC7515_A3_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
const RFC7515_A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const RFC7515_A4_KEY: &str = r#"{"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}"#;
const RFC7515_A4_JWS: &str = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";
const RFC7515_A5_JWS: &str = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";

#[test]
fn rfc7515_appendix_a() {
    // A.1 HS256: verified and reproduced byte for byte (the header's CRLF and spaces are part of the signed bytes).
    let key = Jwk::from_json(RFC7515_A1_KEY).unwrap();
    let hs256 = VerifyingKey::from_jwk_with_alg(&key, Algorithm::HS256).unwrap();
    let verified = JwsVerifier::new(hs256.clone())
        .verify_compact(RFC7515_A1_JWS)
        .unwrap();
    assert_eq!(verified.payload, RFC7515_PAYLOAD);
    assert_eq!(verified.header.typ.as_deref(), Some("JWT"));
    let signer = SigningKey::from_jwk_with_alg(&key, Algorithm::HS256).unwrap();
    assert_eq!(
        jws::sign_compact_with_header_json(&signer, RFC7515_A1_HEADER, RFC7515_PAYLOAD).unwrap(),
        RFC7515_A1_JWS
    );

    // A.2 RS256: verified. Not reproduced: the private exponent is not typed here (not certain of it byte for byte).
    let rs256 =
        VerifyingKey::from_jwk_with_alg(&Jwk::from_json(RFC7515_A2_KEY).unwrap(), Algorithm::RS256)
            .unwrap();
    assert_eq!(
        JwsVerifier::new(rs256.clone())
            .verify_compact(RFC7515_A2_JWS)
            .unwrap()
            .payload,
        RFC7515_PAYLOAD
    );

    // A.3 ES256 (randomized): verified; the typed private key signs what the public key accepts.
    let a3 = Jwk::from_json(RFC7515_A3_KEY).unwrap();
    let es256 = VerifyingKey::from_jwk(&a3).unwrap();
    assert_eq!(es256.algorithm(), Algorithm::ES256);
    assert_eq!(
        JwsVerifier::new(es256.clone())
            .verify_compact(RFC7515_A3_JWS)
            .unwrap()
            .payload,
        RFC7515_PAYLOAD
    );
    let fresh = jws::sign_compact(
        &SigningKey::from_jwk(&a3).unwrap(),
        &jws::HeaderBuilder::new(),
        b"fresh",
    )
    .unwrap();
    assert_eq!(
        JwsVerifier::new(es256.clone())
            .verify_compact(&fresh)
            .unwrap()
            .payload,
        b"fresh"
    );

    // A.4 ES512 (randomized): verified. The private key is not typed here (not certain of it byte for byte).
    let es512 = VerifyingKey::from_jwk(&Jwk::from_json(RFC7515_A4_KEY).unwrap()).unwrap();
    assert_eq!(es512.algorithm(), Algorithm::ES512);
    assert_eq!(
        JwsVerifier::new(es512)
            .verify_compact(RFC7515_A4_JWS)
            .unwrap()
            .payload,
        b"Payload"
    );

    // A.5: the unsecured JWS is refused by every verifier.
    for key in [hs256, rs256, es256] {
        let err = JwsVerifier::new(key)
            .verify_compact(RFC7515_A5_JWS)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm, "{err:?}");
    }
    println!(
        "RFC 7515 A.1 HS256 verified and reproduced byte for byte; A.2 RS256, A.3 ES256, A.4 ES512 verified; A.5 \
         (alg none) refused"
    );
}

/// RFC 7638 thumbprints of the cookbook keys, computed independently (canonical JSON of the required members,
/// SHA-256, base64url) outside this code base.
const THUMBPRINT_RSA_3_3: &str = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
const THUMBPRINT_EC_3_1: &str = "dHri3SADZkrush5HU_50AoRhcKFryN-PI6jPBtPL55M";

#[test]
fn rfc7520_section_3_keys() {
    let load = |name: &str| jwk(&cookbook(&format!("jwk/{name}")));
    let ec_public = load("3_1.ec_public_key.json");
    let ec_private = load("3_2.ec_private_key.json");
    let rsa_public = load("3_3.rsa_public_key.json");
    let rsa_private = load("3_4.rsa_private_key.json");
    let mac = load("3_5.symmetric_key_mac_computation.json");
    let encryption = load("3_6.symmetric_key_encryption.json");

    // Thumbprints (RFC 7638), of the public keys and of the public halves of the private ones.
    assert_eq!(rsa_public.thumbprint().unwrap(), THUMBPRINT_RSA_3_3);
    assert_eq!(
        rsa_private.to_public().unwrap().thumbprint().unwrap(),
        THUMBPRINT_RSA_3_3
    );
    assert_eq!(ec_public.thumbprint().unwrap(), THUMBPRINT_EC_3_1);
    assert_eq!(
        ec_private.to_public().unwrap().thumbprint().unwrap(),
        THUMBPRINT_EC_3_1
    );

    // 3.1 / 3.2: P-521 implies ES512; the private key signs what the public key verifies.
    let es512 = VerifyingKey::from_jwk(&ec_public).unwrap();
    assert_eq!(es512.algorithm(), Algorithm::ES512);
    assert_eq!(es512.kid(), Some("bilbo.baggins@hobbiton.example"));
    let ec_signer = SigningKey::from_jwk(&ec_private).unwrap();
    assert_eq!(ec_signer.algorithm(), Algorithm::ES512);
    let token = jws::sign_compact(&ec_signer, &jws::HeaderBuilder::new(), b"3.2").unwrap();
    assert_eq!(
        JwsVerifier::new(es512)
            .verify_compact(&token)
            .unwrap()
            .payload,
        b"3.2"
    );

    // 3.3 / 3.4: an RSA key without alg must be told its algorithm; the CRT private key reproduces RFC 7520 4.1.
    assert_eq!(
        VerifyingKey::from_jwk(&rsa_public).unwrap_err().kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    let rs256 = VerifyingKey::from_jwk_with_alg(&rsa_public, Algorithm::RS256).unwrap();
    let rsa_signer = SigningKey::from_jwk_with_alg(&rsa_private, Algorithm::RS256).unwrap();
    let four_one = cookbook("jws/4_1.rsa_v15_signature.json");
    let input = str_of(&four_one["signing"], "sig-input");
    let sig = rsa_signer.sign(input.as_bytes()).unwrap();
    assert_eq!(b64::encode(&sig), str_of(&four_one["signing"], "sig"));
    rs256.verify(input.as_bytes(), &sig).unwrap();

    // 3.5: the HS256 key (alg from the JWK) reproduces RFC 7520 4.4.
    let hs256 = SigningKey::from_jwk(&mac).unwrap();
    assert_eq!(hs256.algorithm(), Algorithm::HS256);
    let four_four = cookbook("jws/4_4.hmac-sha2_integrity_protection.json");
    let input = str_of(&four_four["signing"], "sig-input");
    assert_eq!(
        b64::encode(hs256.sign(input.as_bytes()).unwrap()),
        str_of(&four_four["signing"], "sig")
    );

    // 3.6: an A256GCM encryption key is never a signing or verifying key.
    assert_eq!(
        SigningKey::from_jwk(&encryption).unwrap_err().kind(),
        ErrorKind::UnsupportedAlgorithm
    );
    assert!(SigningKey::from_jwk_with_alg(&encryption, Algorithm::HS256).is_err());
    assert!(VerifyingKey::from_jwk_with_alg(&encryption, Algorithm::HS256).is_err());
    let set = format!(r#"{{"keys":[{}]}}"#, encryption.to_json());
    assert_eq!(
        KeySet::from_jwks(&set).unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    println!(
        "RFC 7520 §3: thumbprints of 3.1/3.3, P-521 (3.1/3.2), RSA with CRT (3.3/3.4), HS256 (3.5) loaded; 3.6 refused"
    );
}
