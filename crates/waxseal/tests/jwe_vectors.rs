//! The published JWE examples: RFC 7520 §5 in every serialization it gives (compact, general JSON, flattened JSON;
//! decrypted, and reproduced byte for byte where they are deterministic and compact) and RFC 7516 appendices A.3,
//! A.4 and A.5.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{cookbook, str_of};
use serde_json::Value;
use waxseal::jwe::{
    DEFAULT_MAX_DECOMPRESSED, Decrypter, DecryptionKey, KeyManagement, PBES2_DEFAULT_COUNT,
    encrypt_compact_reproducible,
};
use waxseal::{ErrorKind, Jwk, b64};

const COOKBOOK_JWE: [&str; 13] = [
    "5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json",
    "5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json",
    "5_3.key_wrap_using_pbes2-aes-keywrap_with-aes-cbc-hmac-sha2.json",
    "5_4.key_agreement_with_key_wrapping_using_ecdh-es_and_aes-keywrap_with_aes-gcm.json",
    "5_5.key_agreement_using_ecdh-es_with_aes-cbc-hmac-sha2.json",
    "5_6.direct_encryption_using_aes-gcm.json",
    "5_7.key_wrap_using_aes-gcm_keywrap_with_aes-cbc-hmac-sha2.json",
    "5_8.key_wrap_using_aes-keywrap_with_aes-gcm.json",
    "5_9.compressed_content.json",
    "5_10.including_additional_authentication_data.json",
    "5_11.protecting_specific_header_fields.json",
    "5_12.protecting_content_only.json",
    "5_13.encrypting_to_multiple_recipients.json",
];

/// The example's key: a JWK, or for PBES2 (§5.3) the password `pwd`.
fn key_of(vector: &Value) -> DecryptionKey {
    if let Some(password) = vector["input"]["pwd"].as_str() {
        let alg = KeyManagement::from_name(str_of(&vector["input"], "alg")).unwrap();
        return DecryptionKey::from_password(password.as_bytes(), alg).unwrap();
    }
    let jwk = Jwk::from_json(&vector["input"]["key"].to_string()).unwrap();
    if jwk.alg.is_none() {
        // The ECDH-ES examples' keys name no alg: the example's does.
        let alg = KeyManagement::from_name(str_of(&vector["input"], "alg")).unwrap();
        return DecryptionKey::from_jwk_with_alg(&jwk, alg).unwrap();
    }
    DecryptionKey::from_jwk(&jwk).unwrap()
}

/// A decrypter for `key` that also accepts PBES2 up to the default count (RFC 7520 §5.3's 8192 is within it).
fn decrypter(key: DecryptionKey) -> Decrypter {
    Decrypter::new(key).allow_pbes2(PBES2_DEFAULT_COUNT)
}

/// The protected header to reproduce an example from: as published, except that an ECDH-ES example's `epk` carries
/// its ephemeral private key (`d`), which the reproduction takes and leaves out of what it writes.
fn reproduction_header(vector: &Value) -> Vec<u8> {
    let protected = &vector["encrypting_content"];
    match vector["encrypting_key"]["epk"].get("d") {
        Some(_) => {
            let mut header = protected["protected"].clone();
            header["epk"] = vector["encrypting_key"]["epk"].clone();
            header.to_string().into_bytes()
        }
        None => b64::decode(str_of(protected, "protected_b64u"), "header").unwrap(),
    }
}

/// Every RFC 7520 §5 example with a compact form either decrypts (and, being deterministic, is reproduced byte
/// for byte) or is refused for a reason this test names; the JSON forms are `rfc7520_section_5_json_forms`.
#[test]
fn rfc7520_section_5_examples() {
    let (mut decrypted, mut reproduced, mut refused, mut json_only) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for name in COOKBOOK_JWE {
        let vector = cookbook(&format!("jwe/{name}"));
        let Some(compact) = vector["output"]["compact"].as_str() else {
            json_only.push(name);
            continue;
        };
        let alg = str_of(&vector["input"], "alg");
        match KeyManagement::from_name(alg) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm, "{name}");
                // The decrypter refuses it by the header's alg before any key is involved.
                let any_key = DecryptionKey::from_secret(&[0; 16], KeyManagement::A128KW).unwrap();
                let err = Decrypter::new(any_key)
                    .decrypt_compact(compact)
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::UnsupportedAlgorithm, "{name}: {err}");
                refused.push(name);
            }
            Ok(_) if vector["input"].get("zip").is_some() => {
                // Compression is off by default, and on when asked for.
                let err = Decrypter::new(key_of(&vector))
                    .decrypt_compact(compact)
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::CompressionUnsupported, "{name}");
                let opened = Decrypter::new(key_of(&vector))
                    .allow_compression(DEFAULT_MAX_DECOMPRESSED)
                    .decrypt_compact(compact)
                    .unwrap();
                assert_eq!(
                    opened.plaintext,
                    str_of(&vector["input"], "plaintext").as_bytes()
                );
                assert!(opened.header.compressed);
                decrypted.push(name);
            }
            Ok(_) => {
                let key = key_of(&vector);
                let plaintext = str_of(&vector["input"], "plaintext");
                let opened = decrypter(key.clone()).decrypt_compact(compact).unwrap();
                assert_eq!(opened.plaintext, plaintext.as_bytes(), "{name}");
                assert_eq!(
                    opened.header.kid.as_deref(),
                    vector["input"]["key"]["kid"].as_str()
                );
                decrypted.push(name);
                let ephemeral_given = vector["encrypting_key"]["epk"].get("d").is_some();
                if vector["reproducible"] != true && !ephemeral_given {
                    // RSA-OAEP is randomized: decrypting is all a published example can show. ECDH-ES is too,
                    // but its examples publish the ephemeral private key.
                    continue;
                }
                let generated = &vector["generated"];
                let cek = generated["cek"]
                    .as_str()
                    .map(|c| b64::decode(c, "cek").unwrap())
                    .unwrap_or_default();
                let iv = b64::decode(str_of(generated, "iv"), "iv").unwrap();
                let header_json = reproduction_header(&vector);
                let again = encrypt_compact_reproducible(
                    &key.encryption_key(),
                    &header_json,
                    &cek,
                    &iv,
                    plaintext.as_bytes(),
                )
                .unwrap();
                assert_eq!(again, compact, "{name} was not reproduced byte for byte");
                reproduced.push(name);
            }
        }
    }
    println!(
        "decrypted: {decrypted:?}\nreproduced: {reproduced:?}\nrefused: {refused:?}\nJSON only: {json_only:?}"
    );
    assert_eq!(
        decrypted.len(),
        8,
        "5.2, 5.3, 5.4, 5.5, 5.6, 5.7, 5.8, 5.9 (zip)"
    );
    assert_eq!(reproduced.len(), 6, "5.3, 5.4, 5.5, 5.6, 5.7, 5.8");
    assert_eq!(refused.len(), 1, "5.1 (RSA1_5, refused by design)");
    assert_eq!(json_only.len(), 4, "5.10-5.13");
}

/// RFC 7516 appendix A.1: RSA-OAEP with A256GCM. It decrypts with the appendix's key, and with its CEK and IV the
/// header, IV, ciphertext and tag are reproduced byte for byte (the encrypted key is RSA-OAEP's own randomness).
/// Appendix A.2 is RSA1_5, refused by design (`jwe_key_management.rs::rsa1_5_is_refused_by_default`).
#[test]
fn rfc7516_appendix_a1() {
    let token = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.\
        OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa\
        6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETK\
        zpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7i\
        GdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.\
        XFBoMYUZodetZdvTiFvSkQ";
    let jwk = Jwk::from_json(
        r#"{"kty":"RSA",
        "n":"oahUIoWw0K0usKNuOR6H4wkf4oBUXHTxRvgb48E-BVvxkeDNjbC4he8rUWcJoZmds2h7M70imEVhRU5djINXtqllXI4DFqcI1DgjT9LewND8MW2Krf3Spsk_ZkoFnilakGygTwpZ3uesH-PFABNIUYpOiN15dsQRkgr0vEhxN92i2asbOenSZeyaxziK72UwxrrKoExv6kc5twXTq4h-QChLOln0_mtUZwfsRaMStPs6mS6XrgxnxbWhojf663tuEQueGC-FCMfra36C9knDFGzKsNa7LZK2djYgyD3JR_MB_4NUJW_TqOQtwHYbxevoJArm-L5StowjzGy-_bq6Gw",
        "e":"AQAB",
        "d":"kLdtIj6GbDks_ApCSTYQtelcNttlKiOyPzMrXHeI-yk1F7-kpDxY4-WY5NWV5KntaEeXS1j82E375xxhWMHXyvjYecPT9fpwR_M9gV8n9Hrh2anTpTD93Dt62ypW3yDsJzBnTnrYu1iwWRgBKrEYY46qAZIrA2xAwnm2X7uGR1hghkqDp0Vqj3kbSCz1XyfCs6_LehBwtxHIyh8Ripy40p24moOAbgxVw3rxT_vlt3UVe4WO3JkJOzlpUf-KTVI2Ptgm-dARxTEtE-id-4OJr0h-K-VFs3VSndVTIznSxfyrj8ILL6MG_Uv8YAu7VILSB3lOW085-4qE3DzgrTjgyQ",
        "p":"1r52Xk46c-LsfB5P442p7atdPUrxQSy4mti_tZI3Mgf2EuFVbUoDBvaRQ-SWxkbkmoEzL7JXroSBjSrK3YIQgYdMgyAEPTPjXv_hI2_1eTSPVZfzL0lffNn03IXqWF5MDFuoUYE0hzb2vhrlN_rKrbfDIwUbTrjjgieRbwC6Cl0",
        "q":"wLb35x7hmQWZsWJmB_vle87ihgZ19S8lBEROLIsZG4ayZVe9Hi9gDVCOBmUDdaDYVTSNx_8Fyw1YYa9XGrGnDew00J28cRUoeBB_jKI1oma0Orv1T9aXIWxKwd4gvxFImOWr3QRL9KEBRzk2RatUBnmDZJTIAfwTs0g68UZHvtc",
        "dp":"ZK-YwE7diUh0qR1tR7w8WHtolDx3MZ_OTowiFvgfeQ3SiresXjm9gZ5KLhMXvo-uz-KUJWDxS5pFQ_M0evdo1dKiRTjVw_x4NyqyXPM5nULPkcpU827rnpZzAJKpdhWAgqrXGKAECQH0Xt4taznjnd_zVpAmZZq60WPMBMfKcuE",
        "dq":"Dq0gfgJ1DdFGXiLvQEZnuKEN0UUmsJBxkjydc3j4ZYdBiMRAy86x0vHCjywcMlYYg4yoC4YZa9hNVcsjqA3FeiL19rk8g6Qn29Tt0cj8qqyFpz9vNDBUfCAiJVeESOjJDZPYHdHY8v1b-o-Z2X5tvLx-TCekf7oxyeKDUqKWjis",
        "qi":"VIMpMYbPf47dT1w_zDUXfPimsSegnMOA1zTaX7aGk_8urY6R8-ZW1FxU7AlWAyLWybqq6t16VFd7hQd0y6flUK4SlOydB61gwanOsXGOAOv82cHq0E3eL4HrtZkUuKvnPrMnsUUFlfUdybVzxyjz9JF_XyaY14ardLSjf4L_FNY"}"#,
    )
    .unwrap();
    let key = DecryptionKey::from_jwk_with_alg(&jwk, KeyManagement::RsaOaep).unwrap();
    let plaintext = b"The true sign of intelligence is not knowledge but imagination.";
    let opened = Decrypter::new(key.clone()).decrypt_compact(token).unwrap();
    assert_eq!(opened.plaintext, plaintext);
    let cek: [u8; 32] = [
        177, 161, 244, 128, 84, 143, 225, 115, 63, 180, 3, 255, 107, 154, 212, 246, 138, 7, 110,
        91, 112, 46, 34, 105, 47, 130, 203, 46, 122, 234, 64, 252,
    ];
    let iv: [u8; 12] = [227, 197, 117, 252, 2, 219, 233, 68, 180, 225, 77, 219];
    let again = encrypt_compact_reproducible(
        &key.encryption_key(),
        br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#,
        &cek,
        &iv,
        plaintext,
    )
    .unwrap();
    let (published, made): (Vec<&str>, Vec<&str>) =
        (token.split('.').collect(), again.split('.').collect());
    assert_eq!(published[0], made[0], "header");
    assert_eq!(published[2..], made[2..], "IV, ciphertext and tag");
    // And the key made anew opens with the same private key.
    assert_eq!(
        Decrypter::new(key)
            .decrypt_compact(&again)
            .unwrap()
            .plaintext,
        plaintext
    );
}

/// RFC 7516 appendix A.3: A128KW with A128CBC-HS256, "Live long and prosper."
#[test]
fn rfc7516_appendix_a3() {
    let token = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.\
                 6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.\
                 AxY8DCtDaGlsbGljb3RoZQ.\
                 KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.\
                 U0m_YmjN04DJvceFICbCVQ";
    let jwk = Jwk::from_json(r#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#).unwrap();
    let key = DecryptionKey::from_jwk_with_alg(&jwk, KeyManagement::A128KW).unwrap();
    let opened = Decrypter::new(key.clone()).decrypt_compact(token).unwrap();
    assert_eq!(opened.plaintext, b"Live long and prosper.");
    let cek: [u8; 32] = [
        4, 211, 31, 197, 84, 157, 252, 254, 11, 100, 157, 250, 63, 170, 106, 206, 107, 124, 212,
        45, 111, 107, 9, 219, 200, 177, 0, 240, 143, 156, 44, 207,
    ];
    let iv: [u8; 16] = [
        3, 22, 60, 12, 43, 67, 104, 105, 108, 108, 105, 99, 111, 116, 104, 101,
    ];
    let again = encrypt_compact_reproducible(
        &key.encryption_key(),
        br#"{"alg":"A128KW","enc":"A128CBC-HS256"}"#,
        &cek,
        &iv,
        b"Live long and prosper.",
    )
    .unwrap();
    assert_eq!(again, token);
}

/// The keys of an example (one, or a list for §5.13, each with the `alg` of its recipient: the cookbook's keys
/// mostly name none) whose algorithms waxseal implements; §5.3's password.
fn implemented_keys(vector: &Value) -> Vec<DecryptionKey> {
    let input = &vector["input"];
    if input["pwd"].is_string() {
        return vec![key_of(vector)];
    }
    let (jwks, algs) = match (&input["key"], &input["alg"]) {
        (Value::Array(keys), Value::Array(algs)) => (keys.clone(), algs.clone()),
        (key, alg) => (vec![key.clone()], vec![alg.clone()]),
    };
    jwks.iter()
        .zip(algs)
        .filter_map(|(jwk, alg)| {
            let jwk = Jwk::from_json(&jwk.to_string()).unwrap();
            let alg = KeyManagement::from_name(alg.as_str()?).ok()?;
            match jwk.alg {
                Some(_) => DecryptionKey::from_jwk(&jwk).ok(),
                None => DecryptionKey::from_jwk_with_alg(&jwk, alg).ok(),
            }
        })
        .collect()
}

/// Every JSON form (general and flattened) of every RFC 7520 §5 example decrypts with the example's keys whose
/// algorithms exist here, or is refused by its unimplemented algorithm; none is passed over.
#[test]
fn rfc7520_section_5_json_forms() {
    let (mut decrypted, mut refused) = (Vec::new(), Vec::new());
    for name in COOKBOOK_JWE {
        let vector = cookbook(&format!("jwe/{name}"));
        let keys = implemented_keys(&vector);
        let input = &vector["input"];
        for form in ["json", "json_flat"] {
            let Some(object) = vector["output"].get(form) else {
                continue;
            };
            let text = object.to_string();
            if keys.is_empty() {
                let any_key = DecryptionKey::from_secret(&[0; 16], KeyManagement::A128KW).unwrap();
                let err = Decrypter::new(any_key).decrypt_json(&text).unwrap_err();
                assert_eq!(
                    err.kind(),
                    ErrorKind::UnsupportedAlgorithm,
                    "{name} {form}: {err}"
                );
                refused.push(format!("{name} {form}"));
                continue;
            }
            let mut decrypter = Decrypter::with_keys(keys.clone()).allow_pbes2(PBES2_DEFAULT_COUNT);
            if input.get("zip").is_some() {
                let err = decrypter.decrypt_json(&text).unwrap_err();
                assert_eq!(
                    err.kind(),
                    ErrorKind::CompressionUnsupported,
                    "{name} {form}"
                );
                decrypter = decrypter.allow_compression(DEFAULT_MAX_DECOMPRESSED);
            }
            let opened = decrypter
                .decrypt_json(&text)
                .unwrap_or_else(|e| panic!("{name} {form}: {e:?}"));
            assert_eq!(
                opened.plaintext,
                str_of(input, "plaintext").as_bytes(),
                "{name} {form}"
            );
            assert_eq!(
                opened.aad.as_deref(),
                input["aad"].as_str().map(str::as_bytes),
                "{name}"
            );
            assert_eq!(opened.header.kid.as_deref(), keys[0].kid(), "{name} {form}");
            // §5.13: the first recipient waxseal can open is the second, ECDH-ES+A256KW (RSA1_5 is passed over).
            let expected_recipient = usize::from(input["key"].is_array());
            assert_eq!(opened.recipient, expected_recipient, "{name} {form}");
            if let Some(unprotected) = object.get("unprotected") {
                assert_eq!(&Value::Object(opened.unprotected.clone()), unprotected);
                for member in unprotected.as_object().unwrap().keys() {
                    assert!(!opened.is_protected(member), "{name}: {member}");
                }
            }
            decrypted.push(format!("{name} {form}"));
        }
    }
    println!("decrypted: {decrypted:#?}\nrefused: {refused:#?}");
    assert_eq!(
        decrypted.len(),
        23,
        "5.2-5.12 in both forms, 5.13 (general only, with its ECDH-ES+A256KW key)"
    );
    assert_eq!(
        refused.len(),
        2,
        "5.1 (RSA1_5, refused by design), both forms"
    );
}

/// RFC 7516 appendix A.3's key (A128KW), which A.4 and A.5 reuse.
fn a3_key() -> DecryptionKey {
    let jwk = Jwk::from_json(r#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#).unwrap();
    DecryptionKey::from_jwk_with_alg(&jwk, KeyManagement::A128KW).unwrap()
}

/// RFC 7516 appendix A.4: general JSON, recipients RSA1_5 (not implemented here, passed over) and A128KW.
#[test]
fn rfc7516_appendix_a4() {
    let json = r#"{"protected":"eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0",
        "unprotected":{"jku":"https://server.example.com/keys.jwks"},
        "recipients":[
          {"header":{"alg":"RSA1_5","kid":"2011-04-29"},
           "encrypted_key":"UGhIOguC7IuEvf_NPVaXsGMoLOmwvc1GyqlIKOK1nN94nHPoltGRhWhw7Zx0-kFm1NJn8LE9XShH59_i8J0PH5ZZyNfGy2xGdULU7sHNF6Gp2vPLgNZ__deLKxGHZ7PcHALUzoOegEI-8E66jX2E4zyJKx-YxzZIItRzC5hlRirb6Y5Cl_p-ko3YvkkysZIFNPccxRU7qve1WYPxqbb2Yw8kZqa2rMWI5ng8OtvzlV7elprCbuPhcCdZ6XDP0_F8rkXds2vE4X-ncOIM8hAYHHi29NX0mcKiRaD0-D-ljQTP-cFPgwCp6X-nZZd9OHBv-B3oWh2TbqmScqXMR4gp_A"},
          {"header":{"alg":"A128KW","kid":"7"},
           "encrypted_key":"6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ"}],
        "iv":"AxY8DCtDaGlsbGljb3RoZQ",
        "ciphertext":"KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY",
        "tag":"Mz-VPPyU4RlcuYv1IwIvzw"}"#;
    let opened = Decrypter::new(a3_key().with_kid("7"))
        .decrypt_json(json)
        .unwrap();
    assert_eq!(opened.plaintext, b"Live long and prosper.");
    assert_eq!(opened.recipient, 1);
    assert_eq!(opened.header.kid.as_deref(), Some("7"));
    // The jku is kept for inspection (unprotected, and never followed).
    assert!(opened.unprotected.contains_key("jku"));
    assert!(
        opened.is_protected("enc") && !opened.is_protected("alg") && !opened.is_protected("jku")
    );
    // With another kid the A128KW recipient is not this key's: nothing is tried, and the error says so.
    let err = Decrypter::new(a3_key().with_kid("8"))
        .decrypt_json(json)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
}

/// RFC 7516 appendix A.5: the A128KW recipient of A.4 in the flattened form.
#[test]
fn rfc7516_appendix_a5() {
    let json = r#"{"protected":"eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0",
        "unprotected":{"jku":"https://server.example.com/keys.jwks"},
        "header":{"alg":"A128KW","kid":"7"},
        "encrypted_key":"6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ",
        "iv":"AxY8DCtDaGlsbGljb3RoZQ",
        "ciphertext":"KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY",
        "tag":"Mz-VPPyU4RlcuYv1IwIvzw"}"#;
    let opened = Decrypter::new(a3_key()).decrypt_json(json).unwrap();
    assert_eq!(opened.plaintext, b"Live long and prosper.");
    assert_eq!(opened.recipient, 0);
    assert_eq!(opened.recipient_header.get("kid"), Some(&Value::from("7")));
}
