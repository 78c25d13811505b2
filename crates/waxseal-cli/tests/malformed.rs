//! Malformed input never panics: a clear one-line error on stderr, exit 1 (input judged bad) or 2 (unusable input).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{assert_clean_error, fixture_str, path_str, run, waxseal};

const PUBLIC: &str = "ec-p256-spki.pem";

fn valid_token() -> String {
    common::sign(&[
        "--key",
        &fixture_str("ec-p256-pkcs8.pem"),
        "--sub",
        "x",
        "--exp",
        "1h",
    ])
}

/// Runs `decode` and `verify` on a token given as an argument, and both again with `lint`-free stdin `-`.
fn check_token(what: &str, token: &str) {
    for args in [
        vec!["decode"],
        vec!["decode", "--json"],
        vec!["verify", "--key", &fixture_str(PUBLIC)],
    ] {
        let (code, out, err) = run(waxseal().args(&args).arg(token));
        assert_clean_error(&format!("{what}: {args:?} TOKEN"), code, &err);
        assert!(out.is_empty(), "{what}: {args:?}: nothing on stdout: {out}");
        let (code, out, err) = run(waxseal().args(&args).arg("-").write_stdin(token));
        assert_clean_error(&format!("{what}: {args:?} - <stdin"), code, &err);
        assert!(out.is_empty(), "{what}: {args:?}: nothing on stdout: {out}");
    }
}

/// Runs `decode` and `verify` with these bytes on standard input (no argument); returns the decode error.
fn check_stdin(what: &str, bytes: &[u8]) -> String {
    let mut decode_err = String::new();
    for args in [
        vec!["decode"],
        vec!["verify", "--key", &fixture_str(PUBLIC)],
    ] {
        let (code, out, err) = run(waxseal().args(&args).write_stdin(bytes));
        assert_clean_error(&format!("{what}: {args:?} <stdin"), code, &err);
        assert!(out.is_empty(), "{what}: {args:?}: {out}");
        if args[0] == "decode" {
            decode_err = err;
        }
    }
    decode_err
}

#[test]
fn truncated_tokens() {
    let token = valid_token();
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    check_token("half a token", &token[..token.len() / 2]);
    check_token("header only", header);
    check_token("header and a dot", &format!("{header}."));
    check_token("no signature segment", &format!("{header}.{payload}"));
    check_token("cut inside the header", &token[..5]);
    check_token("four segments", &format!("{token}.x"));
    check_token("dots only", "..");
    check_token("six dots", "......");
    // A signature cut short decodes fine (decode does not verify) but never verifies.
    let short = &token[..token.len() - 10];
    let (code, _, err) = run(waxseal().args(["verify", "--key", &fixture_str(PUBLIC), short]));
    assert_eq!(code, 1, "{err}");
    assert_clean_error("short signature", code, &err);
    let (code, _, err) =
        run(waxseal().args(["decode", &format!("{header}.{payload}.{}", &signature[..3])]));
    if code != 0 {
        assert_clean_error("signature of 3 base64url characters", code, &err);
    }
}

#[test]
fn tokens_with_bad_segments() {
    let b64 = |s: &str| waxseal::b64::encode(s);
    check_token("header not base64url", "eyJ!!!.e30.c2ln");
    check_token("header not JSON", &format!("{}.e30.c2ln", b64("not json")));
    check_token("header a JSON array", &format!("{}.e30.c2ln", b64("[1,2]")));
    check_token(
        "header deeply nested",
        &format!(
            "{}.e30.c2ln",
            b64(&format!("{}{}", "[".repeat(5000), "]".repeat(5000)))
        ),
    );
    check_token(
        "duplicate header member",
        &format!("{}.e30.c2ln", b64(r#"{"alg":"ES256","alg":"none"}"#)),
    );
    check_token(
        "padding",
        &format!("{}=.e30.c2ln", b64(r#"{"alg":"ES256"}"#)),
    );
    check_token("JWE with a bad header", "e30x.a.b.c.d");
    check_token("unicode", "ëÿ.☃.✓");
    check_token("spaces inside", "eyJh bGci.e30.c2ln");
}

#[test]
fn binary_garbage_on_stdin() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let err = check_stdin("binary garbage", &garbage);
    assert!(err.contains("not text"), "{err}");
    check_stdin("NUL bytes", &[0u8; 64]);
    check_stdin("control characters", b"\x1b[31m\x07\x08eyJ.e30.\r\n");
    check_stdin("a lone UTF-8 lead byte", b"eyJhbGciOiJIUzI1NiJ9.e30.\xc3");
}

#[test]
fn ten_megabyte_token_on_stdin() {
    let header = waxseal::b64::encode(r#"{"alg":"ES256"}"#);
    let mut token = header.into_bytes();
    token.push(b'.');
    token.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
    token.extend_from_slice(b".c2ln");
    let err = check_stdin("10 MB token", &token);
    assert!(err.contains("limit"), "says the size limit: {err}");
    // Bigger than the 16 MiB read bound: refused without reading it all.
    let huge = vec![b'A'; 17 * 1024 * 1024];
    let err = check_stdin("17 MB of A", &huge);
    assert!(err.contains("larger than 16 MiB"), "{err}");
}

#[test]
fn empty_tokens() {
    for (what, stdin) in [
        ("empty stdin", ""),
        ("whitespace stdin", "  \n\t\n"),
        ("bearer only", "Bearer \n"),
    ] {
        let err = check_stdin(what, stdin.as_bytes());
        assert!(err.contains("empty"), "{what}: {err}");
    }
    for args in [
        vec!["decode"],
        vec!["verify", "--key", &fixture_str(PUBLIC)],
    ] {
        let (code, out, err) = run(waxseal().args(&args).arg(""));
        assert_clean_error(&format!("{args:?} \"\""), code, &err);
        assert!(out.is_empty());
        assert!(err.contains("empty"), "{err}");
    }
}

#[test]
fn key_file_that_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = path_str(dir.path());
    let token = valid_token();
    for args in [
        vec!["verify", "--key", d, &token],
        vec!["verify", "--secret-file", d, &token],
        vec!["sign", "--key", d],
        vec!["sign", "--secret-file", d],
        vec![
            "sign",
            "--key",
            &fixture_str("ec-p256-pkcs8.pem"),
            "--claims",
            &format!("@{d}"),
        ],
        vec!["thumbprint", d],
        vec!["jwks", d],
        vec!["convert", d, "--to", "jwk"],
    ] {
        let (code, out, err) = run(waxseal().args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_clean_error(&format!("{args:?}"), code, &err);
        assert!(err.contains("directory"), "{args:?}: {err}");
    }
    // keygen --out a directory: refused (it exists), never removed.
    let (code, _, err) = run(waxseal().args(["keygen", "--alg", "ES256", "--out", d]));
    assert_eq!(code, 2, "{err}");
    assert_clean_error("keygen --out DIR", code, &err);
    let (code, _, err) = run(waxseal().args(["keygen", "--alg", "ES256", "--force", "--out", d]));
    assert_eq!(code, 2, "{err}");
    assert_clean_error("keygen --force --out DIR", code, &err);
    assert!(dir.path().is_dir());
}

#[test]
fn malformed_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let token = valid_token();
    let cases: [(&str, &[u8]); 9] = [
        ("empty.pem", b""),
        (
            "truncated.pem",
            b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
        ),
        (
            "bad-base64.pem",
            b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        ),
        (
            "unknown-label.pem",
            b"-----BEGIN SOMETHING-----\nAAAA\n-----END SOMETHING-----\n",
        ),
        ("jwk-no-kty.json", br#"{"n":"AQAB"}"#),
        (
            "jwk-bad-x.json",
            br#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#,
        ),
        ("jwks-not-array.json", br#"{"keys":{"kty":"oct"}}"#),
        ("deep.json", &[b'{'; 1]),
        ("binary.der", &[0x30, 0x82, 0xff, 0xff, 0x00]),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = path_str(&path);
        let mut commands = vec![
            vec!["verify", "--key", p, &token],
            vec!["sign", "--key", p],
            vec!["convert", p, "--to", "pem"],
        ];
        // A thumbprint hashes the members as they are (RFC 7638); it does not check the point is on the curve.
        if name != "jwk-bad-x.json" {
            commands.push(vec!["thumbprint", p]);
        }
        for args in commands {
            let (code, out, err) = run(waxseal().args(&args));
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}: {out}");
            assert_clean_error(&format!("{name}: {args:?}"), code, &err);
        }
    }
}

#[cfg(unix)]
#[test]
fn non_utf8_argument_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let arg = std::ffi::OsStr::from_bytes(b"eyJ\xff.e30.c2ln");
    let (code, _, err) = run(waxseal().arg("decode").arg(arg));
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
