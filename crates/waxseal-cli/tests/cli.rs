//! Every `waxseal` command and every exit code, through the binary: 0 success, 1 token rejected, 2 usage error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{
    NOW, fixture, fixture_str, keygen, parts, path_str, run, run_args, sign, sign_at,
    unsigned_token, waxseal, waxseal_at, write_json,
};
use predicates::prelude::*;
use serde_json::{Value, json};
use waxseal::Algorithm;

const EC_PRIVATE: &str = "ec-p256-pkcs8.pem";
const EC_PUBLIC: &str = "ec-p256-spki.pem";

/// An ES256 token signed with the fixture key at `NOW`, with extra sign flags.
fn es256_token(extra: &[&str]) -> String {
    let key = fixture_str(EC_PRIVATE);
    let mut args = vec!["--key", key.as_str()];
    args.extend_from_slice(extra);
    sign_at(Some(NOW), &args)
}

/// `waxseal verify --key ec-p256-spki.pem EXTRA TOKEN` at `NOW`.
fn verify_es256(token: &str, extra: &[&str]) -> (i32, String, String) {
    run(waxseal_at(NOW)
        .args(["verify", "--key", &fixture_str(EC_PUBLIC)])
        .args(extra)
        .arg(token))
}

fn assert_rejected(what: &str, (code, out, err): (i32, String, String), reason: &str) {
    assert_eq!(code, 1, "{what}: expected exit 1; stderr: {err}");
    assert!(
        out.is_empty(),
        "{what}: nothing on stdout when rejected: {out}"
    );
    assert!(
        err.contains("token rejected") && err.contains(reason),
        "{what}: stderr should say why ({reason}): {err}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// decode

fn sample_token() -> String {
    es256_token(&[
        "--sub",
        "alice",
        "--iss",
        "https://issuer.test",
        "--exp",
        "1h",
    ])
}

#[test]
fn decode_argument() {
    let token = sample_token();
    waxseal_at(NOW)
        .args(["--color", "never", "decode", &token])
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("NOT VERIFIED")
                .and(predicate::str::contains("JWS · ES256"))
                .and(predicate::str::contains("\"sub\": \"alice\""))
                .and(predicate::str::contains(
                    "2026-11-24 16:28:06 UTC (in 60 min)",
                ))
                .and(predicate::str::contains("Signature  64 bytes"))
                .and(predicate::str::contains("\x1b[").not()),
        )
        .stderr("");
}

#[test]
fn decode_stdin_dash_and_absent_argument() {
    let token = sample_token();
    let expected = run(waxseal_at(NOW).args(["--color", "never", "decode", &token])).1;
    for args in [
        &["--color", "never", "decode", "-"][..],
        &["--color", "never", "decode"],
    ] {
        let (code, out, err) = run(waxseal_at(NOW)
            .args(args)
            .write_stdin(format!("  {token}\n")));
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(
            out, expected,
            "{args:?}: stdin gives the same view as the argument"
        );
    }
    // An Authorization header value works too, whatever the scheme's case and spacing.
    for prefix in ["Bearer ", "bearer\t", "BEARER   "] {
        let (code, out, err) = run(waxseal_at(NOW)
            .args(["--color", "never", "decode"])
            .write_stdin(format!("{prefix}{token}\n")));
        assert_eq!(code, 0, "{prefix:?}: {err}");
        assert_eq!(out, expected);
    }
}

#[test]
fn decode_json_fields() {
    let token = es256_token(&["--sub", "alice", "--exp", "15m", "--kid", "k1"]);
    let (code, out, err) = run(waxseal_at(NOW).args(["decode", "--json", &token]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "JWS");
    assert_eq!(v["verified"], false);
    assert_eq!(
        v["header"],
        json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})
    );
    assert_eq!(v["claims"]["sub"], "alice");
    assert_eq!(v["claims"]["iat"], NOW);
    assert_eq!(v["claims"]["exp"], NOW + 900);
    assert_eq!(v["payload_text"], Value::Null);
    assert_eq!(v["signature"]["bytes"], 64);
    assert_eq!(
        v["signature"]["base64url"],
        token.rsplit('.').next().unwrap()
    );
    assert_eq!(v["times"]["exp"]["value"], NOW + 900);
    assert_eq!(v["times"]["exp"]["utc"], "2026-11-24 15:43:06 UTC");
    assert_eq!(v["times"]["exp"]["relative"], "in 15 min");
    assert_eq!(v["times"]["iat"]["relative"], "now");
    assert_eq!(v["warnings"], json!([]));
}

#[test]
fn decode_jwe_shows_protected_header_only() {
    let header = waxseal::b64::encode(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"enc-1"}"#);
    let token = format!("{header}.ZW5jcnlwdGVka2V5.aXZpdml2aXY.Y2lwaGVydGV4dA.dGFn");
    let (code, out, err) = run(waxseal().args(["--color", "never", "decode", &token]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("JWE (encrypted; only the header is readable) · RSA-OAEP-256"),
        "{out}"
    );
    assert!(out.contains("\"enc\": \"A256GCM\""), "{out}");
    assert!(out.contains("\"kid\": \"enc-1\""), "{out}");
    assert!(
        !out.contains("Claims") && !out.contains("Signature"),
        "{out}"
    );

    let (code, out, _) = run(waxseal().args(["decode", "--json", &token]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "JWE");
    assert_eq!(v["header"]["enc"], "A256GCM");
    assert_eq!(v["claims"], Value::Null);
    assert_eq!(v["signature"], Value::Null);
}

#[test]
fn decode_warns_about_alg_none() {
    let token = format!(
        "{}.{}.",
        waxseal::b64::encode(r#"{"alg":"none"}"#),
        waxseal::b64::encode(format!(r#"{{"sub":"mallory","exp":{}}}"#, NOW + 600))
    );
    let (code, out, err) = run(waxseal_at(NOW).args(["--color", "never", "decode", &token]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Warnings"), "{out}");
    assert!(out.contains("alg is \"none\""), "{out}");
    let (_, out, _) = run(waxseal_at(NOW).args(["decode", "--json", &token]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["warnings"][0]["code"], "alg_none");
    assert_eq!(v["signature"]["bytes"], 0);
}

#[test]
fn decode_warns_about_expiry() {
    let token = es256_token(&["--exp", &(NOW - 3 * 86_400).to_string()]);
    let (code, out, _) = run(waxseal_at(NOW).args(["--color", "never", "decode", &token]));
    assert_eq!(code, 0);
    assert!(out.contains("expired 3 days ago"), "{out}");
    let (_, out, _) = run(waxseal_at(NOW).args(["decode", "--json", &token]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let codes: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["expired"]);
}

#[test]
fn decode_non_json_payload() {
    let token = unsigned_token(r#"{"alg":"HS256"}"#, b"just some text", b"sig");
    let (code, out, err) = run(waxseal().args(["--color", "never", "decode", &token]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Payload  (not a JSON object)"), "{out}");
    assert!(out.contains("just some text"), "{out}");
    assert!(out.contains("not a JWT"), "{out}");
    let (_, out, _) = run(waxseal().args(["decode", "--json", &token]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["claims"], Value::Null);
    assert_eq!(v["payload_text"], "just some text");
    assert_eq!(v["warnings"][0]["code"], "not_jwt");
}

#[test]
fn decode_rejects_what_is_no_token() {
    let (code, out, err) = run_args(&["decode", "not-a-token"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.starts_with("error: cannot decode the token"), "{err}");
}

#[test]
fn colors_always_and_never() {
    let token = sample_token();
    let (_, colored, _) = run(waxseal_at(NOW).args(["--color", "always", "decode", &token]));
    assert!(colored.contains("\x1b["), "--color always colors");
    let (_, plain, _) = run(waxseal_at(NOW)
        .env("WAXSEAL_COLOR", "never")
        .args(["decode", &token]));
    assert!(
        !plain.contains("\x1b["),
        "WAXSEAL_COLOR=never does not color"
    );
    // Not a terminal: auto means no color.
    let (_, auto, _) = run(waxseal_at(NOW).args(["decode", &token]));
    assert_eq!(auto, plain);
}

// ---------------------------------------------------------------------------------------------------------------
// verify

#[test]
fn verify_valid_prints_claims() {
    let token = es256_token(&[
        "--sub",
        "alice",
        "--iss",
        "https://issuer.test",
        "--aud",
        "api",
        "--exp",
        "1h",
    ]);
    let (code, out, err) = verify_es256(&token, &["--iss", "https://issuer.test", "--aud", "api"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    let claims: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        claims,
        json!({"sub": "alice", "iss": "https://issuer.test", "aud": "api", "iat": NOW, "exp": NOW + 3600})
    );
}

#[test]
fn verify_without_exp_notes_it() {
    let token = es256_token(&["--sub", "alice"]);
    let (code, out, err) = verify_es256(&token, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alice"));
    assert!(err.contains("no exp claim"), "{err}");
}

#[test]
fn verify_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = keygen(dir.path(), "ES256", "other.jwk", &[]);
    let token = es256_token(&["--exp", "1h"]);
    // Another P-256 key answering to the token's kid: found by kid, refused for its signature.
    let mut public = public.unwrap();
    public["kid"] = parts(&token).0["kid"].clone();
    let other = write_json(dir.path(), "other-public.jwk", &public);
    let result = run(waxseal_at(NOW).args(["verify", "--key", path_str(&other), &token]));
    assert_rejected("wrong key", result, "ERR_SIGNATURE_INVALID");
}

#[test]
fn verify_rejections() {
    let token = es256_token(&[
        "--iss",
        "https://issuer.test",
        "--aud",
        "api",
        "--exp",
        "1h",
    ]);
    assert_rejected(
        "wrong iss",
        verify_es256(&token, &["--iss", "https://evil.test"]),
        "ERR_JWT_ISSUER",
    );
    assert_rejected(
        "wrong aud",
        verify_es256(&token, &["--aud", "other-api"]),
        "ERR_JWT_AUDIENCE",
    );
    assert_rejected(
        "missing required claim",
        verify_es256(&token, &["--require", "jti"]),
        "ERR_JWT_CLAIM_MISSING",
    );
    assert_rejected(
        "wrong typ",
        verify_es256(&token, &["--typ", "at+jwt"]),
        "ERR_JWT_TYP",
    );
    // The same token passes each check when it is asked for what it has.
    let (code, _, err) = verify_es256(
        &token,
        &[
            "--iss",
            "https://issuer.test",
            "--aud",
            "api",
            "--require",
            "iss",
            "--typ",
            "JWT",
        ],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn verify_expired() {
    let token = es256_token(&["--exp", &(NOW - 3600).to_string()]);
    assert_rejected("expired", verify_es256(&token, &[]), "ERR_JWT_EXPIRED");
}

#[test]
fn verify_leeway() {
    let token = es256_token(&["--exp", &(NOW - 30).to_string()]);
    let (code, _, err) = verify_es256(&token, &[]);
    assert_eq!(
        code, 0,
        "expired 30 s ago passes the default leeway of 60 s: {err}"
    );
    assert_rejected(
        "expired 30 s ago, --leeway 0",
        verify_es256(&token, &["--leeway", "0"]),
        "ERR_JWT_EXPIRED",
    );
    let (code, _, err) = verify_es256(&token, &["--leeway", "31"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn verify_nbf_in_the_future() {
    let token = es256_token(&["--nbf", "5m", "--exp", "1h"]);
    assert_rejected(
        "nbf in 5 min",
        verify_es256(&token, &[]),
        "ERR_JWT_NOT_YET_VALID",
    );
    let (code, _, err) =
        run(waxseal_at(NOW + 300).args(["verify", "--key", &fixture_str(EC_PUBLIC), &token]));
    assert_eq!(code, 0, "valid once nbf is reached: {err}");
}

#[test]
fn verify_alg_narrowing_excludes_token_alg() {
    // An RSA key serves RS*/PS*; narrowing it to PS256 refuses an RS256 token.
    let token = sign_at(
        Some(NOW),
        &[
            "--key",
            &fixture_str("rsa-pkcs8.pem"),
            "--alg",
            "RS256",
            "--exp",
            "1h",
        ],
    );
    let spki = fixture_str("rsa-spki.pem");
    let (code, _, err) = run(waxseal_at(NOW).args(["verify", "--key", &spki, &token]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(waxseal_at(NOW).args(["verify", "--key", &spki, "--alg", "RS256", &token]));
    assert_eq!(code, 0, "{err}");
    let result = run(waxseal_at(NOW).args(["verify", "--key", &spki, "--alg", "PS256", &token]));
    assert_rejected(
        "--alg PS256 for an RS256 token",
        result,
        "ERR_ALG_NOT_ALLOWED",
    );

    // Same with an HMAC secret file.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.bin");
    std::fs::write(&secret, [7u8; 64]).unwrap();
    let secret = path_str(&secret);
    let token = sign_at(Some(NOW), &["--secret-file", secret, "--alg", "HS256"]);
    let result =
        run(waxseal_at(NOW).args(["verify", "--secret-file", secret, "--alg", "HS512", &token]));
    assert_rejected(
        "--alg HS512 for an HS256 token",
        result,
        "ERR_ALG_NOT_ALLOWED",
    );
}

#[test]
fn verify_alg_never_widens() {
    // The classic confusion: an HS256 token whose "secret" is the RSA public key. --alg HS256 cannot make an RSA
    // key an HMAC key.
    let spki = std::fs::read(fixture("rsa-spki.pem")).unwrap();
    let key = waxseal::SigningKey::from_secret(&spki, Algorithm::HS256).unwrap();
    let token = waxseal::jwt::Signer::new(&key)
        .sign(&json!({"sub": "mallory", "exp": NOW + 600}))
        .unwrap();
    for extra in [&["--alg", "HS256"][..], &[]] {
        let (code, out, err) = run(waxseal_at(NOW)
            .args(["verify", "--key", &fixture_str("rsa-spki.pem")])
            .args(extra)
            .arg(&token));
        assert!(
            code == 1 || code == 2,
            "{extra:?}: exit {code}; stderr {err}"
        );
        assert!(out.is_empty(), "{out}");
        assert!(err.starts_with("error: "), "{err}");
    }
    // An ES256 key narrowed to an algorithm it cannot serve: a usage error, never success.
    let token = es256_token(&["--exp", "1h"]);
    let (code, _, err) = verify_es256(&token, &["--alg", "ES384"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no usable verification key"), "{err}");
    let (code, _, err) = verify_es256(&token, &["--alg", "none"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("none"), "{err}");
}

#[test]
fn verify_secret_file_raw_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.bin");
    // Raw bytes, a trailing newline included: used exactly as they are.
    let mut bytes: Vec<u8> = (0u8..=255).step_by(3).collect();
    bytes.push(b'\n');
    std::fs::write(&secret, &bytes).unwrap();
    let secret_path = path_str(&secret);
    let token = sign_at(
        Some(NOW),
        &["--secret-file", secret_path, "--sub", "svc", "--exp", "5m"],
    );
    assert_eq!(parts(&token).0["alg"], "HS256");
    let (code, out, err) =
        run(waxseal_at(NOW).args(["verify", "--secret-file", secret_path, &token]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"svc\""));

    // The same bytes without the newline are another secret.
    let trimmed = dir.path().join("trimmed.bin");
    std::fs::write(&trimmed, &bytes[..bytes.len() - 1]).unwrap();
    let result = run(waxseal_at(NOW).args(["verify", "--secret-file", path_str(&trimmed), &token]));
    assert_rejected(
        "secret without its newline",
        result,
        "ERR_SIGNATURE_INVALID",
    );

    // HS384 with --alg, verified by the same file.
    let token = sign_at(Some(NOW), &["--secret-file", secret_path, "--alg", "HS384"]);
    assert_eq!(parts(&token).0["alg"], "HS384");
    let (code, _, err) =
        run(waxseal_at(NOW).args(["verify", "--secret-file", secret_path, &token]));
    assert_eq!(code, 0, "{err}");

    // An empty secret file is a usage error.
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let (code, _, err) =
        run(waxseal_at(NOW).args(["verify", "--secret-file", path_str(&empty), &token]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn verify_bad_flags_are_usage_errors() {
    let token = es256_token(&[]);
    for args in [
        &["verify", "--key", "k.pem", "--frobnicate", "x"][..],
        &["verify", &token],
        &["verify", "--key", "a", "--secret-file", "b", &token],
        &["verify", "--key", "a", "--leeway", "soon", &token],
        &["frobnicate"],
        &[],
    ] {
        let (code, out, err) = run_args(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty() || args.is_empty(), "{args:?}: {out}");
        assert!(!err.is_empty(), "{args:?}: clap explains the usage");
    }
}

#[test]
fn verify_unusable_key_files_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, b"\x00\x01\x02 this is not a key \xff\xfe").unwrap();
    let bad_pem = dir.path().join("bad.pem");
    std::fs::write(
        &bad_pem,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let bad_json = dir.path().join("bad.jwk");
    std::fs::write(&bad_json, "{\"kty\": ").unwrap();
    let empty_set = dir.path().join("empty.json");
    std::fs::write(&empty_set, r#"{"keys": []}"#).unwrap();
    let missing = dir.path().join("missing.pem");
    let token = es256_token(&["--exp", "1h"]);
    for (what, path, says) in [
        ("missing", &missing, "cannot read key file"),
        ("directory", &dir.path().to_path_buf(), "directory"),
        ("garbage", &garbage, "not a PEM, JWK, JWK Set or DER key"),
        ("bad PEM", &bad_pem, "cannot use key file"),
        ("bad JSON", &bad_json, "invalid JSON"),
        ("empty JWK Set", &empty_set, "no keys"),
    ] {
        let (code, out, err) =
            run(waxseal_at(NOW).args(["verify", "--key", path_str(path), &token]));
        assert_eq!(code, 2, "{what}: {err}");
        assert!(out.is_empty());
        common::assert_clean_error(what, code, &err);
        assert!(err.contains(says), "{what}: {err}");
    }
    // Same for --secret-file.
    let (code, _, err) =
        run(waxseal_at(NOW).args(["verify", "--secret-file", path_str(&missing), &token]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read secret file"), "{err}");
}

#[test]
fn verify_with_jwk_set() {
    let dir = tempfile::tempdir().unwrap();
    let (other, _) = keygen(dir.path(), "EdDSA", "ed.jwk", &[]);
    let (code, jwks, err) = run_args(&["jwks", path_str(&other), &fixture_str(EC_PUBLIC)]);
    assert_eq!(code, 0, "{err}");
    let set = dir.path().join("jwks.json");
    std::fs::write(&set, jwks).unwrap();
    let token = es256_token(&["--exp", "1h"]);
    let (code, _, err) = run(waxseal_at(NOW).args(["verify", "--key", path_str(&set), &token]));
    assert_eq!(code, 0, "{err}");
    let ed_token = sign(&["--key", path_str(&other), "--exp", "1h"]);
    let (code, _, err) = run_args(&["verify", "--key", path_str(&set), &ed_token]);
    assert_eq!(code, 0, "{err}");
}

// ---------------------------------------------------------------------------------------------------------------
// sign

#[test]
fn sign_flags() {
    let token = es256_token(&[
        "--sub",
        "alice",
        "--iss",
        "https://issuer.test",
        "--aud",
        "api",
        "--aud",
        "admin",
        "--exp",
        "15m",
        "--nbf",
        "1m",
        "--jti",
        "auto",
        "--kid",
        "key-7",
        "--typ",
        "at+jwt",
        "--header",
        r#"{"x-tenant":"t1"}"#,
    ]);
    let (header, claims) = parts(&token);
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "at+jwt", "kid": "key-7", "x-tenant": "t1"})
    );
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], "https://issuer.test");
    assert_eq!(
        claims["aud"],
        json!(["api", "admin"]),
        "repeated --aud makes an array"
    );
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["exp"], NOW + 900);
    assert_eq!(claims["nbf"], NOW + 60);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(waxseal::b64::decode(jti, "jti").unwrap().len(), 16, "{jti}");
    let other = parts(&es256_token(&["--jti", "auto"])).1;
    assert_ne!(other["jti"], claims["jti"], "--jti auto is random");
    let fixed = parts(&es256_token(&["--jti", "id-1", "--aud", "only"])).1;
    assert_eq!(fixed["jti"], "id-1");
    assert_eq!(fixed["aud"], "only", "one --aud stays a string");
    // A PEM key has no kid of its own (its thumbprint is not one): it answers to the token's "key-7".
    let (code, _, err) = verify_es256(&token, &["--typ", "at+jwt", "--aud", "admin"]);
    assert_eq!(code, 0, "{err}");
    // A JWK that names its kid answers to that kid only, and the refusal says which kid the key has.
    let dir = tempfile::tempdir().unwrap();
    let (code, jwk, err) = run_args(&["convert", &fixture_str(EC_PUBLIC), "--to", "jwk"]);
    assert_eq!(code, 0, "{err}");
    let mut jwk: Value = serde_json::from_str(&jwk).unwrap();
    let verify_with = |jwk: &Value, name: &str| {
        let jwk = write_json(dir.path(), name, jwk);
        run(waxseal_at(NOW).args([
            "verify",
            "--key",
            path_str(&jwk),
            "--typ",
            "at+jwt",
            "--aud",
            "admin",
            &token,
        ]))
    };
    jwk["kid"] = json!("key-7");
    let (code, _, err) = verify_with(&jwk, "key-7.jwk");
    assert_eq!(code, 0, "{err}");
    jwk["kid"] = json!("key-8");
    let (code, _, err) = verify_with(&jwk, "key-8.jwk");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "no key has kid \"key-7\" [ERR_KEY_NOT_FOUND] (the keys given have kid \"key-8\")"
        ),
        "the error names the kid the key has: {err}"
    );
}

#[test]
fn sign_claims_json_file_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixture_str(EC_PRIVATE);
    let claims = r#"{"scope":"read write","n":[1,2,{"x":null}],"sub":"from-json"}"#;

    let inline = parts(&sign_at(
        Some(NOW),
        &["--key", &key, "--claims", claims, "--sub", "flag-wins"],
    ))
    .1;
    assert_eq!(inline["scope"], "read write");
    assert_eq!(inline["n"], json!([1, 2, {"x": null}]));
    assert_eq!(inline["sub"], "flag-wins", "flags override --claims");

    let file = dir.path().join("claims.json");
    std::fs::write(&file, claims).unwrap();
    let at_file = format!("@{}", path_str(&file));
    let from_file = parts(&sign_at(Some(NOW), &["--key", &key, "--claims", &at_file])).1;
    assert_eq!(from_file["sub"], "from-json");
    assert_eq!(from_file["scope"], "read write");

    let (code, out, err) = run(waxseal_at(NOW)
        .args(["sign", "--key", &key, "--claims", "-"])
        .write_stdin(format!("{claims}\n")));
    assert_eq!(code, 0, "{err}");
    let from_stdin = parts(out.trim()).1;
    assert_eq!(from_stdin, from_file);

    // Not a JSON object, a missing @FILE: usage errors.
    for bad in ["[1,2]", "{nope", "@/nonexistent/claims.json"] {
        let (code, out, err) = run(waxseal_at(NOW).args(["sign", "--key", &key, "--claims", bad]));
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(out.is_empty());
        common::assert_clean_error(bad, code, &err);
    }
}

#[test]
fn sign_iat_default_and_no_iat() {
    let with = parts(&es256_token(&[])).1;
    assert_eq!(with, json!({"iat": NOW}));
    let without = parts(&es256_token(&["--no-iat"])).1;
    assert_eq!(without, json!({}));
}

#[test]
fn sign_human_durations() {
    for (text, secs) in [
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("7d", 604_800),
        ("2w", 1_209_600),
    ] {
        let claims = parts(&es256_token(&["--exp", text, "--nbf", text])).1;
        assert_eq!(claims["exp"], NOW + secs, "--exp {text}");
        assert_eq!(claims["nbf"], NOW + secs, "--nbf {text}");
    }
    // A bare number is a NumericDate: `--exp 15` is 1970, signed, but with a warning.
    let (code, out, err) =
        run(waxseal_at(NOW).args(["sign", "--key", &fixture_str(EC_PRIVATE), "--exp", "15"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(parts(out.trim()).1["exp"], 15);
    assert!(
        err.starts_with("warning: --exp 15 is 1970-01-01 00:00:15 UTC")
            && err.contains("already expired"),
        "{err}"
    );
    let absolute = parts(&es256_token(&["--exp", "1800000000"])).1;
    assert_eq!(absolute["exp"], 1_800_000_000u64);
    for bad in ["15x", "m", "soon", "-5m", "1.5h"] {
        let (code, _, err) = run(waxseal_at(NOW).args([
            "sign",
            "--key",
            &fixture_str(EC_PRIVATE),
            &format!("--exp={bad}"),
        ]));
        assert_eq!(code, 2, "--exp {bad}: {err}");
        assert!(err.contains("--exp"), "{err}");
    }
}

#[test]
fn sign_rsa_key_without_alg_needs_alg() {
    let (code, out, err) =
        run_args(&["sign", "--key", &fixture_str("rsa-pkcs8.pem"), "--sub", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("add --alg") && err.contains("RS256") && err.contains("PS512"),
        "{err}"
    );
    common::assert_clean_error("rsa without alg", code, &err);
    // An ES key implies its algorithm; a mismatched --alg is refused.
    let (code, _, err) = run_args(&["sign", "--key", &fixture_str(EC_PRIVATE), "--alg", "RS256"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_args(&["sign", "--key", &fixture_str(EC_PRIVATE), "--alg", "none"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn sign_refuses_public_keys() {
    for public in [
        EC_PUBLIC,
        "rsa-spki.pem",
        "rsa-cert.pem",
        "ed25519-spki.pem",
    ] {
        let (code, out, err) = run_args(&["sign", "--key", &fixture_str(public), "--alg", "RS256"]);
        assert_eq!(code, 2, "{public}: {err}");
        assert!(out.is_empty());
        assert!(err.contains("public key"), "{public}: {err}");
    }
}

#[test]
fn sign_bad_header() {
    for bad in ["[1]", "{", r#"{"alg":"none"}"#] {
        let (code, _, err) =
            run_args(&["sign", "--key", &fixture_str(EC_PRIVATE), "--header", bad]);
        assert_eq!(code, 2, "--header {bad}: {err}");
        common::assert_clean_error(bad, code, &err);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// keygen

#[test]
fn verify_a_keygen_secret_or_a_pem_key_answers_to_a_kid_it_never_had() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, _) = keygen(dir.path(), "HS256", "hs256.jwk", &[]);
    let (es256, public) = keygen(dir.path(), "ES256", "es256.jwk", &[]);
    let (code, pem, err) = run_args(&[
        "convert",
        path_str(&write_json(
            dir.path(),
            "es256.public.jwk",
            &public.unwrap(),
        )),
        "--to",
        "pem",
    ]);
    assert_eq!(code, 0, "{err}");
    let pem_file = dir.path().join("es256.pem");
    std::fs::write(&pem_file, pem).unwrap();
    // As another library would sign: the key under a kid of the issuer's choosing.
    for (signing, verifying, kid) in [
        (&secret, &secret, "other-library-key"),
        (&es256, &pem_file, "auth0-key-1"),
    ] {
        let token = sign(&["--key", path_str(signing), "--kid", kid, "--exp", "5m"]);
        assert_eq!(parts(&token).0["kid"], kid);
        let (code, out, err) = run_args(&["verify", "--key", path_str(verifying), &token]);
        assert_eq!(code, 0, "{kid}: {err}");
        assert!(out.contains("\"exp\""), "{out}");
    }
    // Another secret under the same kid: a bad signature, not an unknown kid.
    let (other, _) = keygen(dir.path(), "HS256", "other.jwk", &[]);
    let token = sign(&[
        "--key",
        path_str(&other),
        "--kid",
        "other-library-key",
        "--exp",
        "5m",
    ]);
    let (code, _, err) = run_args(&["verify", "--key", path_str(&secret), &token]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ERR_SIGNATURE_INVALID"), "{err}");
}

#[test]
fn keygen_every_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    for alg in Algorithm::ALL {
        let name = format!("{}.jwk", alg.name());
        let (path, public) = keygen(dir.path(), alg.name(), &name, &[]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{alg}: private key mode {mode:o}");
        }
        let private: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(private["alg"], alg.name(), "{alg}: {private}");
        if alg.is_symmetric() {
            assert!(public.is_none(), "{alg}: an HMAC secret is never printed");
            assert_eq!(private["kty"], "oct");
            continue;
        }
        let public = public.unwrap();
        assert_eq!(public["alg"], alg.name());
        for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                public.get(member).is_none(),
                "{alg}: public JWK has {member}"
            );
        }
        let (code, thumbprint, err) = run_args(&["thumbprint", path_str(&path)]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            public["kid"],
            thumbprint.trim(),
            "{alg}: kid is the RFC 7638 thumbprint"
        );
        assert_eq!(private["kid"], public["kid"]);
    }
}

#[test]
fn keygen_without_out_prints_private_key() {
    let (code, out, err) = run_args(&["keygen", "--alg", "EdDSA"]);
    assert_eq!(code, 0, "{err}");
    let jwk: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(jwk["crv"], "Ed25519");
    assert!(jwk["d"].is_string());
    assert!(err.contains("keep it secret"), "{err}");
}

#[test]
fn keygen_pem_and_bits() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, public) = keygen(
        dir.path(),
        "RS256",
        "rsa.pem",
        &["--format", "pem", "--bits", "3072"],
    );
    let text = std::fs::read_to_string(&pem).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{text}");
    let n = waxseal::b64::decode(public.unwrap()["n"].as_str().unwrap(), "n").unwrap();
    assert_eq!(n.len() * 8, 3072);
    let (ec, _) = keygen(
        dir.path(),
        "ES384",
        "ec.pem",
        &["--format", "pem", "--kid", "mine"],
    );
    assert!(
        std::fs::read_to_string(&ec)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    // The PEM signs (RSA PEM carries no alg: give it).
    let token = sign(&["--key", path_str(&pem), "--alg", "PS384", "--exp", "1m"]);
    let (code, _, err) = run_args(&["verify", "--key", path_str(&pem), &token]);
    assert_eq!(code, 0, "{err}");
    for bits in ["1024", "2047", "8192", "many"] {
        let (code, _, err) = run(waxseal()
            .args(["keygen", "--alg", "RS256", "--bits", bits, "--out"])
            .arg(dir.path().join(format!("rsa{bits}.pem"))));
        assert_eq!(code, 2, "--bits {bits}: {err}");
    }
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let (path, first) = keygen(dir.path(), "ES256", "key.jwk", &[]);
    let before = std::fs::read(&path).unwrap();
    let (code, out, err) =
        run(waxseal().args(["keygen", "--alg", "ES256", "--out", path_str(&path)]));
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the key is untouched"
    );
    let (_, second) = keygen(dir.path(), "ES256", "key.jwk", &["--force"]);
    assert_ne!(first, second);
    assert_ne!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn keygen_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("secret.pem");
    let (code, _, err) = run(waxseal().args([
        "keygen",
        "--alg",
        "HS256",
        "--format",
        "pem",
        "--out",
        path_str(&out),
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no PEM form"), "{err}");
    assert!(!out.exists());
    for alg in ["none", "RS1", "hs256"] {
        let (code, _, err) = run_args(&["keygen", "--alg", alg]);
        assert_eq!(code, 2, "{alg}: {err}");
    }
    let (code, _, _) = run_args(&["keygen"]);
    assert_eq!(code, 2);
}

// ---------------------------------------------------------------------------------------------------------------
// jwks, thumbprint, convert

#[test]
fn jwks_of_several_files() {
    let dir = tempfile::tempdir().unwrap();
    let (ed, ed_public) = keygen(dir.path(), "EdDSA", "ed.jwk", &[]);
    let (code, out, err) = run_args(&[
        "jwks",
        &fixture_str(EC_PUBLIC),
        &fixture_str("rsa-pkcs8.pem"),
        path_str(&ed),
        &fixture_str("ec-p384-spki.pem"),
    ]);
    assert_eq!(code, 0, "{err}");
    let set: Value = serde_json::from_str(&out).unwrap();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[1]["kty"], "RSA");
    assert!(keys[1].get("d").is_none(), "no private member in a JWK Set");
    assert_eq!(keys[2], ed_public.unwrap());
    assert_eq!(keys[3]["crv"], "P-384");
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].is_string());
    }
}

#[test]
fn jwks_refuses_hmac_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, _) = keygen(dir.path(), "HS256", "secret.jwk", &[]);
    let (code, out, err) = run_args(&["jwks", &fixture_str(EC_PUBLIC), path_str(&secret)]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "nothing printed: {out}");
    assert!(err.contains("HMAC secret"), "{err}");
    assert!(!err.contains(&std::fs::read_to_string(&secret).unwrap()));
    let (code, _, _) = run_args(&["jwks"]);
    assert_eq!(code, 2, "jwks needs a file");
}

#[test]
fn thumbprint_rfc7638_example() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_json(
        dir.path(),
        "rfc7638.jwk",
        &json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }),
    );
    waxseal()
        .args(["thumbprint", path_str(&key)])
        .assert()
        .code(0)
        .stdout("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs\n");
}

#[test]
fn thumbprint_same_for_private_public_and_certificate() {
    let of = |name: &str| run_args(&["thumbprint", &fixture_str(name)]).1;
    let private = of("rsa-pkcs8.pem");
    assert_eq!(private.trim().len(), 43);
    for other in [
        "rsa-pkcs1.pem",
        "rsa-spki.pem",
        "rsa-pkcs1-public.pem",
        "rsa-spki.der",
        "rsa-pkcs8.der",
    ] {
        assert_eq!(of(other), private, "{other}");
    }
    assert_eq!(of("ec-p256-sec1.pem"), of("ec-p256-spki.pem"));
    let (code, _, err) = run_args(&["thumbprint", "/nonexistent.pem"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn convert_pem_jwk_pem_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (private, public, alg) in [
        ("rsa-pkcs1.pem", "rsa-spki.pem", "RS256"),
        ("ec-p256-sec1.pem", "ec-p256-spki.pem", "ES256"),
        ("ed25519-pkcs8.pem", "ed25519-spki.pem", "EdDSA"),
    ] {
        let (code, jwk, err) = run_args(&["convert", &fixture_str(private), "--to", "jwk"]);
        assert_eq!(code, 0, "{err}");
        let jwk_value: Value = serde_json::from_str(&jwk).unwrap();
        assert!(
            jwk_value["d"].is_string(),
            "{private}: the private key stays private"
        );
        let jwk_path = dir.path().join(format!("{private}.jwk"));
        std::fs::write(&jwk_path, &jwk).unwrap();
        let (code, pem, err) = run_args(&["convert", path_str(&jwk_path), "--to", "pem"]);
        assert_eq!(code, 0, "{err}");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        let pem_path = dir.path().join(format!("{private}.roundtrip.pem"));
        std::fs::write(&pem_path, &pem).unwrap();

        // The round-tripped key signs tokens the original public key verifies, and verifies the original's tokens.
        let from_roundtrip = sign(&["--key", path_str(&pem_path), "--alg", alg, "--exp", "5m"]);
        let from_original = sign(&["--key", &fixture_str(private), "--alg", alg, "--exp", "5m"]);
        for (key, token) in [
            (fixture_str(public), &from_roundtrip),
            (path_str(&pem_path).to_owned(), &from_original),
            (path_str(&jwk_path).to_owned(), &from_original),
        ] {
            let (code, _, err) = run_args(&["verify", "--key", &key, token]);
            assert_eq!(code, 0, "{private} via {key}: {err}");
        }
        // Public keys convert too.
        let (code, public_jwk, err) = run_args(&["convert", &fixture_str(public), "--to", "jwk"]);
        assert_eq!(code, 0, "{err}");
        let public_jwk: Value = serde_json::from_str(&public_jwk).unwrap();
        assert!(public_jwk.get("d").is_none());
        let public_path = write_json(dir.path(), &format!("{public}.jwk"), &public_jwk);
        let (code, back, err) = run_args(&["convert", path_str(&public_path), "--to", "pem"]);
        assert_eq!(code, 0, "{err}");
        assert!(back.starts_with("-----BEGIN PUBLIC KEY-----"), "{back}");
    }
    // An HMAC secret has no PEM.
    let (secret, _) = keygen(dir.path(), "HS256", "secret.jwk", &[]);
    let (code, _, err) = run_args(&["convert", path_str(&secret), "--to", "pem"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_args(&["convert", &fixture_str(EC_PUBLIC), "--to", "der"]);
    assert_eq!(code, 2, "{err}");
}

// ---------------------------------------------------------------------------------------------------------------
// completions and help

#[test]
fn completions() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run_args(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("waxseal"), "{shell}");
        for sub in ["decode", "verify", "keygen", "thumbprint"] {
            assert!(out.contains(sub), "{shell} completes {sub}");
        }
    }
    let (code, _, _) = run_args(&["completions", "tcsh"]);
    assert_eq!(code, 2);
}

#[test]
fn help_has_examples() {
    for sub in [
        &[][..],
        &["decode"],
        &["verify"],
        &["sign"],
        &["keygen"],
        &["jwks"],
        &["thumbprint"],
        &["convert"],
        &["completions"],
    ] {
        let (code, out, err) = run(waxseal().args(sub).arg("--help"));
        assert_eq!(code, 0, "{sub:?}: {err}");
        assert!(
            out.contains("Examples:"),
            "{sub:?} --help has no examples:\n{out}"
        );
        assert!(out.contains("Usage: waxseal"), "{sub:?}");
    }
    let (code, out, _) = run_args(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("waxseal "));
}
