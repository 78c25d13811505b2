//! `waxseal lint` end to end: findings, exit codes, input, `--json`, and snapshots of the report.

use std::fmt::Write as _;
use std::io::Write as _;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// A fixed "now" for reproducible output: 2026-01-01 00:00:00 UTC.
const NOW: u64 = 1_767_225_600;

fn waxseal() -> Command {
    let mut cmd = Command::cargo_bin("waxseal").expect("the waxseal binary");
    cmd.env("WAXSEAL_NOW", NOW.to_string())
        .env_remove("WAXSEAL_COLOR")
        .arg("--color")
        .arg("never");
    cmd
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    waxseal::b64::encode(bytes)
}

/// An HMAC token forged directly, so any secret works (the library refuses secrets shorter than the hash).
fn hmac_token(alg: &str, header: &str, claims: &str, secret: &[u8]) -> String {
    let hmac = match alg {
        "HS256" => aws_lc_rs::hmac::HMAC_SHA256,
        "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
        _ => aws_lc_rs::hmac::HMAC_SHA512,
    };
    let input = format!("{}.{}", b64(header), b64(claims));
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(hmac, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// The token jwt.io shows, signed with the secret it shows.
fn jwt_io_token() -> String {
    hmac_token(
        "HS256",
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#,
        b"your-256-bit-secret",
    )
}

const STRONG_SECRET: &[u8; 32] = b"\x8f\x1d\xa2\x07\x5c\xe3\x99\x41\x0b\x6e\xd4\x27\xf0\x13\xbc\x58\x9a\x62\x0e\xc7\x35\x81\xdf\x4b\x16\xa9\x70\x2c\xe8\x54\x3f\x01";

/// A token full of things that should not be in a token, signed with a strong secret.
fn leaky_token() -> String {
    hmac_token(
        "HS256",
        r#"{"alg":"HS256","typ":"at+jwt","jku":"https://attacker.example/jwks.json"}"#,
        &format!(
            r#"{{"sub":"alice@example.com","scope":"read write","iat":{},"exp":{},"user":{{"password":"hunter2","card":"4111 1111 1111 1111","ssn":"123-45-6789"}},"phone":"+44 20 7946 0958","key":"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----"}}"#,
            NOW - 60,
            NOW + 86_400
        ),
        STRONG_SECRET,
    )
}

/// A fixed Ed25519 key: (private JWK, public JWK).
fn ed25519_jwks() -> (String, String) {
    let seed = [7u8; 32];
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("a seed");
    let x = b64(aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref());
    (
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","d":"{}"}}"#,
            b64(seed)
        ),
        format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"ed-2026","x":"{x}"}}"#),
    )
}

/// A clean EdDSA access token (deterministic: Ed25519 signatures are).
fn clean_token(private_jwk: &str) -> String {
    let key = waxseal::SigningKey::from_jwk(&waxseal::Jwk::from_json(private_jwk).expect("a JWK"))
        .expect("a key");
    let claims = format!(
        r#"{{"iss":"https://auth.example.com","sub":"user-42","aud":"orders-api","iat":{},"exp":{},"scope":"read:orders"}}"#,
        NOW - 60,
        NOW + 14 * 60
    );
    waxseal::jws::sign_compact(
        &key,
        &waxseal::jws::HeaderBuilder::new()
            .typ("at+jwt")
            .kid("ed-2026"),
        claims.as_bytes(),
    )
    .expect("signed")
}

fn temp_file(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temp file");
    file.write_all(contents).expect("written");
    file
}

fn json_report(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("ran");
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().expect("a code").to_owned())
        .collect()
}

/// The JSON report with the search time zeroed, for snapshots.
fn stable_json(token: &str, extra: &[&str]) -> String {
    let mut report = json_report(waxseal().arg("lint").arg("--json").args(extra).arg(token));
    if report["secret_search"].is_object() {
        report["secret_search"]["seconds"] = Value::from(0.0);
    }
    serde_json::to_string_pretty(&report).expect("JSON")
}

fn human(token: &str, extra: &[&str]) -> String {
    let out = waxseal()
        .arg("lint")
        .args(extra)
        .arg(token)
        .output()
        .expect("ran");
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn finds_the_jwt_io_secret() {
    waxseal()
        .args(["lint", &jwt_io_token()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "weak_secret: the HMAC secret is \"your-256-bit-secret\"",
        ));
}

#[test]
fn finds_a_secret_from_the_wordlist_and_reads_stdin() {
    let secret = "correct horse battery staple 7f3a";
    let mut words = String::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..5_000 {
        // xorshift: a few thousand distinct pseudo-random words.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let _ = write!(words, "w{state:x}\r\n");
        if i == 3_210 {
            words.push_str(secret);
            words.push('\n');
        }
    }
    let list = temp_file(words.as_bytes());
    let token = hmac_token(
        "HS512",
        r#"{"alg":"HS512"}"#,
        r#"{"sub":"x"}"#,
        secret.as_bytes(),
    );
    let report = json_report(
        waxseal()
            .args(["lint", "--json", "--wordlist"])
            .arg(list.path())
            .write_stdin(format!("Bearer {token}\n")),
    );
    assert!(codes(&report).contains(&"weak_secret".to_owned()));
    assert_eq!(report["secret_search"]["found"], true);
    let candidates = report["secret_search"]["candidates"].as_u64().expect("n");
    assert!(candidates > 3_210, "{candidates}");
    let message = &report["findings"][0]["message"];
    assert!(
        message.as_str().expect("text").contains(secret),
        "{message}"
    );

    // Not in the list: every candidate is tried, and nothing found.
    let other = hmac_token(
        "HS512",
        r#"{"alg":"HS512"}"#,
        r#"{"sub":"x"}"#,
        STRONG_SECRET,
    );
    let report = json_report(
        waxseal()
            .args(["lint", "--json", "--wordlist"])
            .arg(list.path())
            .arg(&other),
    );
    assert_eq!(report["secret_search"]["found"], false);
    assert!(report["secret_search"]["candidates"].as_u64().expect("n") > 5_000);
}

#[test]
fn clean_token_with_key_exits_0() {
    let (private, public) = ed25519_jwks();
    let key = temp_file(public.as_bytes());
    waxseal()
        .args(["lint", "--key"])
        .arg(key.path())
        .arg(clean_token(&private))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no problems found"));
}

#[test]
fn wrong_key_is_a_bad_signature() {
    let (private, _) = ed25519_jwks();
    let other = waxseal::SigningKey::generate(waxseal::Algorithm::EdDSA).expect("a key");
    let key = temp_file(other.public_jwk().expect("a JWK").to_json().as_bytes());
    let report = json_report(
        waxseal()
            .args(["lint", "--json", "--key"])
            .arg(key.path())
            .arg(clean_token(&private)),
    );
    assert_eq!(codes(&report), ["bad_signature"]);
}

#[test]
fn short_hmac_key_is_reported_and_still_checked() {
    let token = hmac_token(
        "HS256",
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"x"}"#,
        b"a 20-byte secret!!!!",
    );
    let key =
        temp_file(format!(r#"{{"kty":"oct","k":"{}"}}"#, b64("a 20-byte secret!!!!")).as_bytes());
    let report = json_report(
        waxseal()
            .args(["lint", "--json", "--key"])
            .arg(key.path())
            .arg(&token),
    );
    let found = codes(&report);
    assert!(found.contains(&"hmac_secret_short".to_owned()), "{found:?}");
    assert!(!found.contains(&"bad_signature".to_owned()), "{found:?}");
    // A raw secret file works too; a wrong one does not verify.
    let raw = temp_file(b"not the secret at all, but long enough");
    let report = json_report(
        waxseal()
            .args(["lint", "--json", "--key"])
            .arg(raw.path())
            .arg(&token),
    );
    assert!(codes(&report).contains(&"bad_signature".to_owned()));
}

#[test]
fn usage_errors_exit_2() {
    waxseal()
        .args([
            "lint",
            "--wordlist",
            "/nonexistent/words.txt",
            &jwt_io_token(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read wordlist"));
    waxseal()
        .args(["lint", "--no-such-flag", &jwt_io_token()])
        .assert()
        .code(2);
    waxseal()
        .args(["lint", "--key", "/nonexistent/key.pem"])
        .arg(clean_token(&ed25519_jwks().0))
        .assert()
        .code(2);
}

#[test]
fn undecodable_token_exits_1() {
    waxseal()
        .args(["lint", "not-a-token"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot decode"));
}

#[test]
fn sensitive_claims_and_header_keys() {
    let report = json_report(waxseal().args(["lint", "--json", &leaky_token()]));
    let found = codes(&report);
    for code in [
        "key_in_header",
        "private_key_material",
        "long_lifetime",
        "sensitive_claim_name",
        "card_number",
        "national_id",
        "personal_data",
        "no_iss",
        "no_aud",
    ] {
        assert!(found.contains(&code.to_owned()), "{code} not in {found:?}");
    }
    assert!(!found.contains(&"weak_secret".to_owned()));
    assert_eq!(report["secret_search"]["found"], false);
    assert_eq!(report["summary"]["error"], 2);
    assert_eq!(report["token"]["typ"], "at+jwt");
}

#[test]
fn alg_none_and_weak_rsa_signature() {
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(r#"{"iss":"i","aud":"a","exp":1}"#)
    );
    let report = json_report(waxseal().args(["lint", "--json", &none]));
    assert_eq!(codes(&report), ["alg_none", "expired"]);
    assert_eq!(report["secret_search"], Value::Null);

    let rs = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"RS256"}"#),
        b64(r#"{"iss":"i","aud":"a","exp":9999999999}"#),
        b64([1u8; 128])
    );
    let report = json_report(waxseal().args(["lint", "--json", &rs]));
    assert_eq!(codes(&report), ["weak_rsa_key", "signature_not_checked"]);
}

#[test]
fn snapshot_jwt_io_token() {
    let token = jwt_io_token();
    insta::assert_snapshot!("lint_jwt_io_human", human(&token, &[]));
    insta::assert_snapshot!("lint_jwt_io_json", stable_json(&token, &[]));
}

#[test]
fn snapshot_leaky_token() {
    let token = leaky_token();
    insta::assert_snapshot!("lint_leaky_human", human(&token, &[]));
    insta::assert_snapshot!("lint_leaky_json", stable_json(&token, &[]));
}

#[test]
fn snapshot_clean_token() {
    let (private, public) = ed25519_jwks();
    let key = temp_file(public.as_bytes());
    let path = key.path().to_str().expect("a UTF-8 path");
    let token = clean_token(&private);
    insta::assert_snapshot!("lint_clean_human", human(&token, &["--key", path]));
    insta::assert_snapshot!("lint_clean_json", stable_json(&token, &["--key", path]));
}
