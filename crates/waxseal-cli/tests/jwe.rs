//! `waxseal encrypt`, `decrypt`, `keygen` of JWE keys, and `decode` / `lint` of a JWE, through the binary: every
//! key-management algorithm round trips, a nested JWT is signed, encrypted, decrypted and verified in one pipe, and
//! each refusal says what to do next.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};

use common::{keygen, path_str, run, run_with_stdin, waxseal};
use serde_json::{Value, json};
use waxseal::jwe::KeyManagement;

/// `waxseal ARGS` with `stdin`: (exit code, stdout, stderr).
fn pipe(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_waxseal"));
    cmd.args(args).env_remove("WAXSEAL_NOW");
    run_with_stdin(&mut cmd, stdin)
}

/// A JWE key from `keygen`: the private key file, and the file to encrypt with (the public JWK, or the secret).
fn jwe_keygen(dir: &Path, alg: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let name = format!("{alg}{}", extra.join("")).replace(['+', '-'], "_");
    let (private, public) = keygen(dir, alg, &format!("{name}.jwk"), extra);
    let mode = std::fs::metadata(&private).unwrap().permissions();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let private_jwk: Value =
        serde_json::from_str(&std::fs::read_to_string(&private).unwrap()).unwrap();
    assert_eq!(private_jwk["use"], "enc", "{private_jwk}");
    match public {
        Some(public) => {
            assert!(public.get("d").is_none(), "public JWK leaks d: {public}");
            assert_eq!(public["alg"], alg);
            let path = dir.join(format!("{name}.pub.jwk"));
            std::fs::write(&path, public.to_string()).unwrap();
            (private, path)
        }
        // A shared secret has no public half: the same file encrypts.
        None => (private.clone(), private),
    }
}

#[test]
fn every_key_management_algorithm_round_trips_through_keygen_encrypt_and_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    for alg in KeyManagement::ALL {
        let encs: &[&str] = if alg == KeyManagement::Dir {
            &["A256GCM", "A128CBC-HS256"]
        } else {
            &["A256GCM", "A128CBC-HS256", "A192GCM"]
        };
        // One key for all encs, except dir, whose key is one enc's content key.
        let shared = (alg != KeyManagement::Dir).then(|| jwe_keygen(dir.path(), alg.name(), &[]));
        for enc in encs {
            let (private, public) = shared
                .clone()
                .unwrap_or_else(|| jwe_keygen(dir.path(), "dir", &["--enc", enc]));
            let message = format!("to {alg} with {enc}\n");
            let (code, token, err) = pipe(
                &["encrypt", "--key", path_str(&public), "--enc", enc],
                &message,
            );
            assert_eq!(code, 0, "encrypt {alg} {enc}: {err}");
            assert_eq!(token.trim().split('.').count(), 5, "{token}");
            let mut decrypt = vec!["decrypt", "--key", path_str(&private)];
            if alg.is_pbes2() {
                decrypt.extend(["--allow-pbes2", "10000"]);
            }
            let (code, plaintext, err) = run(waxseal().args(decrypt).arg(token.trim()));
            assert_eq!(code, 0, "decrypt {alg} {enc}: {err}");
            assert_eq!(plaintext, message, "{alg} {enc}");
        }
    }
}

#[test]
fn a_nested_jwt_is_signed_encrypted_decrypted_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let (sig, sig_public) = keygen(dir.path(), "ES256", "sig.jwk", &[]);
    let sig_public = common::write_json(dir.path(), "sig.pub.jwk", &sig_public.unwrap());
    let (enc_private, enc_public) = jwe_keygen(dir.path(), "RSA-OAEP-256", &[]);
    let (code, jwt, err) = run(waxseal().args([
        "sign",
        "--key",
        path_str(&sig),
        "--sub",
        "alice",
        "--aud",
        "api",
        "--exp",
        "15m",
    ]));
    assert_eq!(code, 0, "{err}");
    // `sign … | encrypt --cty JWT`: sign's newline is not part of the nested JWT.
    let (code, jwe, err) = pipe(
        &["encrypt", "--key", path_str(&enc_public), "--cty", "JWT"],
        &jwt,
    );
    assert_eq!(code, 0, "{err}");
    let (code, inner, err) =
        run(waxseal().args(["decrypt", "--key", path_str(&enc_private), jwe.trim()]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(inner, jwt.trim());
    assert!(
        err.contains("nested JWT") && err.contains("not verified") && err.contains("--verify-key"),
        "{err}"
    );
    let (code, claims, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&enc_private),
        "--verify-key",
        path_str(&sig_public),
        "--aud",
        "api",
        jwe.trim(),
    ]));
    assert_eq!(code, 0, "{err}");
    let claims: Value = serde_json::from_str(&claims).unwrap();
    assert_eq!(
        (&claims["sub"], &claims["aud"]),
        (&json!("alice"), &json!("api"))
    );
    // The wrong audience, and a JWT signed by another key, are refused at verification, exit 1.
    let (code, out, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&enc_private),
        "--verify-key",
        path_str(&sig_public),
        "--aud",
        "other",
        jwe.trim(),
    ]));
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("the JWT inside was rejected"), "{err}");
    let (_, other_public) = keygen(dir.path(), "ES256", "other.jwk", &[]);
    let other_public = common::write_json(dir.path(), "other.pub.jwk", &other_public.unwrap());
    let (code, out, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&enc_private),
        "--verify-key",
        path_str(&other_public),
        jwe.trim(),
    ]));
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.contains("the JWT inside was rejected") && err.contains("token rejected"),
        "{err}"
    );
    // --json: the header, the plaintext and the key that opened it.
    let (code, out, err) = run(waxseal().args([
        "decrypt",
        "--json",
        "--key",
        path_str(&enc_private),
        jwe.trim(),
    ]));
    assert_eq!(code, 0, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["header"]["cty"], "JWT");
    assert_eq!(out["nested_jwt"], true);
    assert_eq!(out["plaintext"], jwt.trim());
    assert_eq!(out["key"]["alg"], "RSA-OAEP-256");
}

#[test]
fn a_wrong_key_and_a_jws_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = jwe_keygen(dir.path(), "RSA-OAEP", &[]);
    let (other, _) = jwe_keygen(dir.path(), "RSA-OAEP", &["--kid", "other"]);
    let (code, jwe, err) = pipe(&["encrypt", "--key", path_str(&public)], "secret");
    assert_eq!(code, 0, "{err}");
    // Another key with another kid: the kid says so.
    let (code, out, err) = run(waxseal().args(["decrypt", "--key", path_str(&other), jwe.trim()]));
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.contains("cannot decrypt") && err.contains("kid \"other\""),
        "{err}"
    );
    // The same key without kids: the decryption itself fails, one error for every cause.
    let mut bare: Value = serde_json::from_str(&std::fs::read_to_string(&other).unwrap()).unwrap();
    bare.as_object_mut().unwrap().remove("kid");
    let bare = common::write_json(dir.path(), "bare.jwk", &bare);
    let mut public_bare: Value =
        serde_json::from_str(&std::fs::read_to_string(&public).unwrap()).unwrap();
    public_bare.as_object_mut().unwrap().remove("kid");
    let public_bare = common::write_json(dir.path(), "public-bare.jwk", &public_bare);
    let (_, jwe, _) = pipe(&["encrypt", "--key", path_str(&public_bare)], "secret");
    let (code, _, err) = run(waxseal().args(["decrypt", "--key", path_str(&bare), jwe.trim()]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ERR_JWE_DECRYPTION_FAILED") && err.contains("does not open this JWE"),
        "{err}"
    );
    // A symmetric key for an RSA JWE: the algorithm is refused by name.
    let (wrap, _) = jwe_keygen(dir.path(), "A128KW", &[]);
    let (code, _, err) = run(waxseal().args(["decrypt", "--key", path_str(&wrap), jwe.trim()]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("RSA-OAEP") && err.contains("A128KW"), "{err}");
    // A JWS: verify it instead.
    let (sig, _) = keygen(dir.path(), "ES256", "sig.jwk", &[]);
    let (_, jws, _) = run(waxseal().args(["sign", "--key", path_str(&sig), "--sub", "a"]));
    let (code, _, err) = run(waxseal().args(["decrypt", "--key", path_str(&bare), jws.trim()]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("JWS") && err.contains("waxseal verify"),
        "{err}"
    );
    // A public key cannot decrypt, and a signing key cannot encrypt: exit 2, the key is unusable.
    let (code, _, err) = run(waxseal().args(["decrypt", "--key", path_str(&public), jwe.trim()]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("private key"), "{err}");
    let (code, _, err) = pipe(&["encrypt", "--key", path_str(&sig)], "x");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("signing key") && err.contains("keygen"),
        "{err}"
    );
}

#[test]
fn keys_come_as_pem_secrets_and_jwk_sets() {
    let dir = tempfile::tempdir().unwrap();
    // PEM: RSA, the algorithm given with --alg.
    let pem = dir.path().join("enc.pem");
    let (code, _, err) = run(waxseal()
        .args([
            "keygen",
            "--alg",
            "RSA-OAEP-256",
            "--format",
            "pem",
            "--out",
        ])
        .arg(&pem));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pipe(&["encrypt", "--key", path_str(&pem)], "x");
    assert_eq!(code, 2);
    assert!(
        err.contains("--alg") && err.contains("RSA-OAEP-256"),
        "{err}"
    );
    let (code, jwe, err) = pipe(
        &["encrypt", "--key", path_str(&pem), "--alg", "RSA-OAEP-256"],
        "from pem",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&pem),
        "--alg",
        "RSA-OAEP-256",
        jwe.trim(),
    ]));
    assert_eq!((code, out.as_str()), (0, "from pem"), "{err}");
    // A raw secret: --alg, and --enc for dir.
    let secret = dir.path().join("secret.bin");
    std::fs::write(&secret, [7u8; 32]).unwrap();
    let (code, jwe, err) = pipe(
        &[
            "encrypt",
            "--secret-file",
            path_str(&secret),
            "--alg",
            "A256KW",
            "--kid",
            "k1",
        ],
        "from secret",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(waxseal().args([
        "decrypt",
        "--secret-file",
        path_str(&secret),
        "--alg",
        "A256KW",
        jwe.trim(),
    ]));
    assert_eq!((code, out.as_str()), (0, "from secret"), "{err}");
    let (code, _, err) = pipe(
        &[
            "encrypt",
            "--secret-file",
            path_str(&secret),
            "--alg",
            "dir",
        ],
        "x",
    );
    assert_eq!(code, 2);
    assert!(err.contains("--enc"), "{err}");
    // A JWK Set: --kid picks the key to encrypt to; decrypt tries the set's keys and says which opened it.
    let (a, a_public) = jwe_keygen(dir.path(), "RSA-OAEP-256", &["--kid", "a"]);
    let (b, _) = jwe_keygen(dir.path(), "A256GCMKW", &["--kid", "b"]);
    let read =
        |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let (sig, sig_public) = keygen(dir.path(), "ES256", "sig.jwk", &[]);
    let _ = sig;
    let set = common::write_json(
        dir.path(),
        "set.jwks",
        &json!({"keys": [read(&a_public), read(&b), sig_public.unwrap()]}),
    );
    let (code, _, err) = pipe(&["encrypt", "--key", path_str(&set)], "x");
    assert_eq!(code, 2);
    assert!(err.contains("--kid") && err.contains("\"a\""), "{err}");
    let (code, jwe, err) = pipe(&["encrypt", "--key", path_str(&set), "--kid", "b"], "to b");
    assert_eq!(code, 0, "{err}");
    let private_set = common::write_json(
        dir.path(),
        "private.jwks",
        &json!({"keys": [read(&a), read(&b)]}),
    );
    let (code, out, err) = run(waxseal().args([
        "decrypt",
        "--json",
        "--key",
        path_str(&private_set),
        jwe.trim(),
    ]));
    assert_eq!(code, 0, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["plaintext"], "to b");
    assert_eq!(out["key"]["kid"], "b");
    assert!(
        out["key"]["source"].as_str().unwrap().contains("key #2"),
        "{out}"
    );
}

#[test]
fn keygen_names_are_unambiguous_and_dir_needs_enc() {
    let jws: Vec<&str> = waxseal::Algorithm::ALL.iter().map(|a| a.name()).collect();
    for alg in KeyManagement::ALL {
        assert!(!jws.contains(&alg.name()), "{alg} is in both registries");
    }
    let (code, _, err) = run(waxseal().args(["keygen", "--alg", "dir"]));
    assert_eq!(code, 2);
    assert!(err.contains("--enc"), "{err}");
    let (code, _, err) = run(waxseal().args(["keygen", "--alg", "A256KW", "--enc", "A256GCM"]));
    assert_eq!(code, 2);
    assert!(err.contains("dir only"), "{err}");
    let (code, _, err) = run(waxseal().args(["keygen", "--alg", "A128KW", "--format", "pem"]));
    assert_eq!(code, 2);
    assert!(err.contains("no PEM form"), "{err}");
    let (code, _, err) = run(waxseal().args(["keygen", "--alg", "NOPE"]));
    assert_eq!(code, 2);
    assert!(err.contains("JWE key-management"), "{err}");
}

/// A JWE with this header and dummy segments: enough for decode and lint, which never decrypt.
fn crafted(header: &Value) -> String {
    format!(
        "{}.a2V5.aXY.Y3Q.dGFn",
        waxseal::b64::encode(header.to_string())
    )
}

#[test]
fn decode_shows_a_jwe_header_and_never_decrypts() {
    let token =
        crafted(&json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "k1", "cty": "JWT"}));
    let (code, out, err) = run(waxseal().args(["decode", &token]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"kid\": \"k1\"") && out.contains("RSA-OAEP-256"),
        "{out}"
    );
    assert!(
        out.contains("encrypted") && out.contains("waxseal decrypt"),
        "{out}"
    );
    let (code, out, _) = run(waxseal().args(["decode", "--json", &token]));
    assert_eq!(code, 0);
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["kind"], "JWE");
    assert_eq!(out["header"]["cty"], "JWT");
    assert_eq!(out["encryption"]["enc"]["name"], "A256GCM");
    assert!(
        out["encryption"]["alg"]["meaning"]
            .as_str()
            .unwrap()
            .contains("RSA")
    );
}

#[test]
fn lint_flags_rsa1_5_zip_pbes2_counts_and_jws_algorithms_in_a_jwe() {
    let findings = |header: Value| -> (i32, Vec<(String, String)>) {
        let (code, out, err) = run(waxseal().args(["lint", "--json", &crafted(&header)]));
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
        let list = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["code"].as_str().unwrap().to_owned(),
                    f["severity"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (code, list)
    };
    let has = |list: &[(String, String)], code: &str, severity: &str| {
        list.iter().any(|(c, s)| c == code && s == severity)
    };
    let (code, list) = findings(json!({"alg": "RSA1_5", "enc": "A128CBC-HS256"}));
    assert_eq!(code, 1);
    assert!(has(&list, "jwe_rsa1_5", "error"), "{list:?}");
    let (code, list) = findings(json!({"alg": "A256KW", "enc": "A256GCM", "zip": "DEF"}));
    assert_eq!(code, 1);
    assert!(has(&list, "jwe_compressed", "warning"), "{list:?}");
    let (_, list) = findings(json!({"alg": "HS256", "enc": "A256GCM"}));
    assert!(has(&list, "jwe_signature_alg", "error"), "{list:?}");
    let (_, list) = findings(
        json!({"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2s": "c2FsdA", "p2c": 100}),
    );
    assert!(has(&list, "pbes2_count", "error"), "{list:?}");
    let (_, list) = findings(
        json!({"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2s": "c2FsdA", "p2c": 100_000}),
    );
    assert!(has(&list, "pbes2_count", "warning"), "{list:?}");
    // dir and AES key wrap are fine: only the "encrypted" note.
    let (code, list) = findings(json!({"alg": "dir", "enc": "A256GCM"}));
    assert_eq!(code, 0, "{list:?}");
    assert!(list.iter().all(|(_, s)| s == "info"), "{list:?}");
}

/// PBES2 and compression are off until asked for, and the refusal names the flag; `--crv` picks an ECDH curve.
#[test]
fn pbes2_zip_and_ecdh_curves_are_opt_in_and_say_how() {
    let dir = tempfile::tempdir().unwrap();
    let (password, _) = jwe_keygen(dir.path(), "PBES2-HS256+A128KW", &[]);
    let (code, token, err) = pipe(&["encrypt", "--key", path_str(&password)], "secret words");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(waxseal().args(["decrypt", "--key", path_str(&password), token.trim()]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--allow-pbes2"), "{err}");
    let (code, _, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&password),
        "--allow-pbes2",
        "5000",
        token.trim(),
    ]));
    assert_eq!(code, 1, "p2c 10000 is above the 5000 allowed: {err}");
    assert!(err.contains("raise it only if"), "{err}");
    let (code, plaintext, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&password),
        "--allow-pbes2",
        "10000",
        token.trim(),
    ]));
    assert_eq!((code, plaintext.as_str()), (0, "secret words"), "{err}");

    // A compressed JWE, made with the library (the command line does not compress: see `lint`).
    let key = waxseal::jwe::DecryptionKey::from_secret(&[4; 32], KeyManagement::A256KW).unwrap();
    let secret = dir.path().join("a256kw.jwk");
    std::fs::write(&secret, key.to_jwk().unwrap().to_json()).unwrap();
    let zipped = waxseal::jwe::Encrypter::new(
        &key.encryption_key(),
        waxseal::jwe::ContentEncryption::A256Gcm,
    )
    .compress()
    .encrypt_compact(&[b'z'; 1000])
    .unwrap();
    let (code, _, err) = run(waxseal().args(["decrypt", "--key", path_str(&secret), &zipped]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--allow-zip"), "{err}");
    let (code, plaintext, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&secret),
        "--allow-zip",
        &zipped,
    ]));
    assert_eq!((code, plaintext.len()), (0, 1000), "{err}");
    let (code, _, err) = run(waxseal().args([
        "decrypt",
        "--key",
        path_str(&secret),
        "--allow-zip",
        "--zip-limit",
        "999",
        &zipped,
    ]));
    assert_eq!(code, 1, "inflating past 999 bytes is refused: {err}");

    for crv in ["P-384", "X25519"] {
        let (private, public) = jwe_keygen(dir.path(), "ECDH-ES+A128KW", &["--crv", crv]);
        let jwk: Value = serde_json::from_str(&std::fs::read_to_string(&public).unwrap()).unwrap();
        assert_eq!(jwk["crv"], crv);
        let (code, token, err) = pipe(&["encrypt", "--key", path_str(&public)], "agreed");
        assert_eq!(code, 0, "{err}");
        let (code, plaintext, err) =
            run(waxseal().args(["decrypt", "--key", path_str(&private), token.trim()]));
        assert_eq!((code, plaintext.as_str()), (0, "agreed"), "{crv}: {err}");
    }
    let (code, _, err) = run(waxseal().args(["keygen", "--alg", "ES256", "--crv", "P-384"]));
    assert_eq!(code, 2, "{err}");
}
