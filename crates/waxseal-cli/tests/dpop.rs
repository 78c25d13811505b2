//! DPoP (RFC 9449) from the command line: `waxseal dpop` makes proofs that `waxseal::dpop::ProofVerifier` accepts,
//! refuses what cannot make one, and `decode` and `lint` explain proofs and DPoP-bound tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{path_str, run, run_args, run_with_stdin, server_command, waxseal};
use serde_json::{Value, json};
use waxseal::dpop::{Expected, Nonces, ProofVerifier};
use waxseal::{Algorithm, Jwk, SigningKey};

/// A fresh ES256 key written as a private JWK, and the key itself.
fn client_key(dir: &Path) -> (PathBuf, SigningKey) {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let path = dir.join("client.jwk");
    std::fs::write(&path, key.to_jwk().unwrap().to_json()).unwrap();
    (path, key)
}

/// `waxseal dpop ARGS` must succeed and print only the proof: returns it.
fn proof(args: &[&str]) -> String {
    let (code, out, err) = run(waxseal().arg("dpop").args(args));
    assert_eq!(code, 0, "dpop {args:?} failed: {err}");
    assert!(err.is_empty(), "dpop wrote to stderr: {err}");
    assert_eq!(
        out.lines().count(),
        1,
        "more than the proof on stdout: {out}"
    );
    let proof = out.trim_end().to_owned();
    assert_eq!(proof.split('.').count(), 3, "not a compact JWS: {out}");
    proof
}

#[test]
fn the_printed_proof_verifies_for_its_request_and_token_and_names_the_keys_thumbprint() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = client_key(dir.path());
    let url = "https://api.example.com/orders?page=2";
    let printed = proof(&[
        "--key",
        path_str(&key_path),
        "--method",
        "GET",
        "--url",
        url,
        "--access-token",
        "the-access-token",
    ]);
    let verifier = ProofVerifier::new();
    let verified = verifier
        .verify(
            &printed,
            &Expected::new("GET", url).access_token("the-access-token"),
        )
        .unwrap();
    assert_eq!(
        verified.jkt,
        key.public_jwk().unwrap().thumbprint().unwrap()
    );
    assert_eq!(verified.algorithm, Algorithm::ES256);
    // Bound to this request and this token: another method, URL or token is refused.
    for wrong in [
        Expected::new("POST", url).access_token("the-access-token"),
        Expected::new("GET", "https://api.example.com/invoices").access_token("the-access-token"),
        Expected::new("GET", url).access_token("another-token"),
    ] {
        assert!(verifier.verify(&printed, &wrong).is_err(), "{wrong:?}");
    }
    let (header, claims) = common::parts(&printed);
    assert_eq!(header["typ"], "dpop+jwt");
    assert!(header["jwk"].get("d").is_none(), "a private jwk: {header}");
    assert_eq!(claims["htu"], "https://api.example.com/orders");
    let now = waxseal::jwt::NumericDate::now().secs();
    assert!(
        claims["iat"].as_u64().unwrap().abs_diff(now) < 30,
        "{claims}"
    );

    // A random jti: two proofs for the same request differ.
    let again = proof(&[
        "--key",
        path_str(&key_path),
        "--method",
        "GET",
        "--url",
        url,
    ]);
    assert_ne!(common::parts(&again).1["jti"], claims["jti"]);
    assert!(common::parts(&again).1.get("ath").is_none());

    // The token from standard input (`-`), an `Authorization`-style "Bearer " prefix removed.
    let (code, out, err) = run_with_stdin(
        server_command().args([
            "dpop",
            "--key",
            path_str(&key_path),
            "--method",
            "GET",
            "--url",
            url,
            "--access-token",
            "-",
        ]),
        "Bearer the-access-token\n",
    );
    assert_eq!(code, 0, "{err}");
    verifier
        .verify(
            out.trim(),
            &Expected::new("GET", url).access_token("the-access-token"),
        )
        .unwrap();
}

#[test]
fn a_proof_with_the_servers_nonce_passes_a_verifier_that_requires_nonces() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, _) = client_key(dir.path());
    let nonces = Nonces::new(&[7u8; 32], std::time::Duration::from_secs(60)).unwrap();
    let verifier = ProofVerifier::new().nonces(nonces.clone());
    let nonce = nonces.issue(verifier.now());
    let url = "https://auth.example.com/oauth/token";
    let with = proof(&[
        "--key",
        path_str(&key_path),
        "--method",
        "POST",
        "--url",
        url,
        "--nonce",
        &nonce,
    ]);
    verifier.verify(&with, &Expected::new("POST", url)).unwrap();
    let without = proof(&[
        "--key",
        path_str(&key_path),
        "--method",
        "POST",
        "--url",
        url,
    ]);
    let err = verifier
        .verify(&without, &Expected::new("POST", url))
        .unwrap_err();
    assert_eq!(err.kind(), waxseal::ErrorKind::DpopNonce);
}

#[test]
fn json_output_gives_the_proof_and_the_jkt_that_thumbprint_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = client_key(dir.path());
    let (code, out, err) = run_args(&[
        "dpop",
        "--key",
        path_str(&key_path),
        "--method",
        "POST",
        "--url",
        "https://auth.example.com/oauth/token",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    let jkt = key.public_jwk().unwrap().thumbprint().unwrap();
    assert_eq!(out["jkt"], jkt.as_str());
    assert_eq!(out["alg"], "ES256");
    assert_eq!(out["claims"]["htm"], "POST");
    ProofVerifier::new()
        .verify(
            out["proof"].as_str().unwrap(),
            &Expected::new("POST", "https://auth.example.com/oauth/token"),
        )
        .unwrap();
    let (_, thumbprint, _) = run_args(&["thumbprint", path_str(&key_path)]);
    assert_eq!(thumbprint.trim(), jkt);
}

#[test]
fn an_hmac_key_is_refused_with_how_to_make_an_asymmetric_one() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.jwk");
    let (code, _, err) = run_args(&["keygen", "--alg", "HS256", "--out", path_str(&secret)]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_args(&[
        "dpop",
        "--key",
        path_str(&secret),
        "--method",
        "GET",
        "--url",
        "https://api.example.com/orders",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("a DPoP key must be asymmetric"), "{err}");
    assert!(err.contains("waxseal keygen --alg ES256 --out"), "{err}");

    // The command it names works, and its key makes proofs.
    let client = dir.path().join("client.jwk");
    let (code, _, err) = run_args(&["keygen", "--alg", "ES256", "--out", path_str(&client)]);
    assert_eq!(code, 0, "{err}");
    proof(&[
        "--key",
        path_str(&client),
        "--method",
        "GET",
        "--url",
        "https://api.example.com/orders",
    ]);
}

#[test]
fn a_url_or_method_no_server_would_match_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, _) = client_key(dir.path());
    for (method, url, expected) in [
        ("GET", "/orders", "not an absolute http(s) URI"),
        (
            "GET",
            "ftp://files.example.com/x",
            "not an http or https URI",
        ),
        (
            "GET",
            "https://user@api.example.com/orders",
            "user information",
        ),
        (
            "GET",
            "api.example.com/orders",
            "not an absolute http(s) URI",
        ),
        ("get", "https://api.example.com/orders", "write GET"),
        (
            "GET /",
            "https://api.example.com/orders",
            "not an HTTP method",
        ),
    ] {
        let (code, out, err) = run_args(&[
            "dpop",
            "--key",
            path_str(&key_path),
            "--method",
            method,
            "--url",
            url,
        ]);
        assert_eq!(code, 2, "{method} {url}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains(expected), "{method} {url}: {err}");
    }
}

/// A proof made by hand: any header and claims, signed with `key`.
fn forged_proof(key: &SigningKey, header: &Value, claims: &Value) -> String {
    waxseal::jws::sign_compact_with_header_json(
        key,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
    .unwrap()
}

fn decode_json(token: &str) -> Value {
    let (code, out, err) = run_args(&["decode", "--json", token]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn decode_explains_a_proof_and_whether_it_verifies_with_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = client_key(dir.path());
    let jkt = key.public_jwk().unwrap().thumbprint().unwrap();
    let printed = proof(&[
        "--key",
        path_str(&key_path),
        "--method",
        "DELETE",
        "--url",
        "https://api.example.com/orders/7",
        "--access-token",
        "tok",
        "--nonce",
        "n-42",
    ]);
    let (code, out, err) = run_args(&["decode", "--color", "never", &printed]);
    assert_eq!(code, 0, "{err}");
    for expected in [
        "DPoP proof",
        "htm    DELETE",
        "htu    https://api.example.com/orders/7",
        "nonce  n-42",
        &format!("jkt    {jkt}"),
        &waxseal::dpop::access_token_hash("tok"),
        "the signature verifies with the header's own jwk",
        "proves only that the sender holds that key, not whose key it is",
    ] {
        assert!(out.contains(expected), "no {expected:?} in:\n{out}");
    }
    // What applies to JWTs does not apply to a proof: its key is in the header on purpose, it has no exp.
    assert!(!out.contains("never expires"), "{out}");
    assert!(!out.contains("must never take keys"), "{out}");
    assert!(out.starts_with("NOT VERIFIED — a DPoP proof"), "{out}");

    let json = decode_json(&printed);
    assert_eq!(json["kind"], "JWS", "the existing shape is kept");
    assert_eq!(json["header"]["typ"], "dpop+jwt");
    let dpop = &json["dpop"];
    assert_eq!(dpop["kind"], "proof");
    assert_eq!(dpop["htm"], "DELETE");
    assert_eq!(dpop["nonce"], "n-42");
    assert_eq!(dpop["jkt"], jkt.as_str());
    assert_eq!(dpop["signature"]["verifies_with_header_jwk"], true);
    assert!(dpop["iat"]["relative"].is_string(), "{dpop}");
    assert!(json["warnings"].as_array().unwrap().is_empty(), "{json}");

    // Signed by another key than the one in the header: decode says so.
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let (header, claims) = common::parts(&printed);
    let mismatched = forged_proof(&other, &header, &claims);
    let json = decode_json(&mismatched);
    assert_eq!(json["dpop"]["signature"]["verifies_with_header_jwk"], false);
    let (_, out, _) = run_args(&["decode", "--color", "never", &mismatched]);
    assert!(
        out.contains("the signature does not verify with the header's own jwk"),
        "{out}"
    );
}

#[test]
fn decode_explains_a_token_bound_to_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, _) = client_key(dir.path());
    let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    let claims = json!({"cnf": {"jkt": jkt}}).to_string();
    let token = common::sign(&[
        "--key",
        path_str(&key_path),
        "--sub",
        "alice",
        "--exp",
        "5m",
        "--claims",
        &claims,
    ]);
    let (code, out, err) = run_args(&["decode", "--color", "never", &token]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("DPoP-bound"), "{out}");
    assert!(
        out.contains(&format!(
            "bound to the key with thumbprint {jkt}: send it as `Authorization: DPoP` with a proof by that key \
             (RFC 9449); as a bearer token it is refused"
        )),
        "{out}"
    );
    let json = decode_json(&token);
    assert_eq!(json["dpop"]["kind"], "bound_token");
    assert_eq!(json["dpop"]["jkt"], jkt);
    assert_eq!(json["dpop"]["jkt_is_thumbprint"], true);
    assert_eq!(json["claims"]["cnf"]["jkt"], jkt);

    // A token without cnf has no dpop member at all: the shape of other tokens is unchanged.
    let plain = common::sign(&["--key", path_str(&key_path), "--sub", "alice"]);
    assert!(decode_json(&plain).get("dpop").is_none());
}

fn lint_json(token: &str) -> (i32, Value) {
    let (code, out, err) = run_args(&["lint", "--json", token]);
    assert!(code == 0 || code == 1, "{err}");
    (code, serde_json::from_str(&out).unwrap())
}

fn finding<'a>(report: &'a Value, code: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
}

#[test]
fn lint_finds_a_private_jwk_and_an_htu_with_a_query_in_a_proof() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let private: Value = serde_json::from_str(&key.to_jwk().unwrap().to_json()).unwrap();
    let now = waxseal::jwt::NumericDate::now().secs();
    let bad = forged_proof(
        &key,
        &json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": private}),
        &json!({"jti": "j-1", "htm": "GET", "htu": "https://api.example.com/orders?page=2", "iat": now}),
    );
    let (code, report) = lint_json(&bad);
    assert_eq!(code, 1, "{report}");
    let leak = finding(&report, "dpop_private_jwk").expect("dpop_private_jwk");
    assert_eq!(leak["severity"], "error");
    assert!(
        leak["fix"].as_str().unwrap().contains("public key"),
        "{leak}"
    );
    let query = finding(&report, "dpop_htu_query").expect("dpop_htu_query");
    assert_eq!(query["severity"], "warning");
    assert_eq!(
        finding(&report, "dpop_no_ath").expect("dpop_no_ath")["severity"],
        "info"
    );
    // The JWT findings that do not apply to a proof are not raised.
    for absent in ["key_in_header", "no_exp", "no_iss", "no_aud"] {
        assert!(finding(&report, absent).is_none(), "{absent}: {report}");
    }

    // The same proof done right has no problem, and its signature was checked with its own key.
    let public = key.public_jwk().unwrap();
    let public: Value = serde_json::from_str(&public.to_json()).unwrap();
    let good = forged_proof(
        &key,
        &json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": public}),
        &json!({"jti": "j-2", "htm": "GET", "htu": "https://api.example.com/orders", "iat": now, "ath": "x"}),
    );
    let (code, report) = lint_json(&good);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["findings"], json!([]), "{report}");

    // Missing claims, and signed by another key than the header's.
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let forged = forged_proof(
        &other,
        &json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": public}),
        &json!({"htm": "GET"}),
    );
    let (code, report) = lint_json(&forged);
    assert_eq!(code, 1);
    let missing: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "dpop_missing_claim")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 3, "{report}");
    assert!(finding(&report, "dpop_bad_signature").is_some(), "{report}");

    // A human report in the usual shape.
    let (_, out, _) = run_args(&["lint", "--color", "never", &bad]);
    assert!(out.contains("error   dpop_private_jwk: "), "{out}");
    assert!(out.contains("warning dpop_htu_query: "), "{out}");
}

#[test]
fn lint_notes_a_bound_token_and_flags_a_jkt_that_is_no_thumbprint() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let jwk = Jwk::from_json(&key.to_jwk().unwrap().to_json()).unwrap();
    let jkt = jwk.thumbprint().unwrap();
    // Signed as bytes: the JWT signer refuses a cnf.jkt that is not a string, as it should.
    let sign = |cnf: Value| {
        let exp = waxseal::jwt::NumericDate::now().secs() + 300;
        forged_proof(
            &key,
            &json!({"alg": "ES256", "typ": "at+jwt"}),
            &json!({"iss": "https://auth.example.com", "aud": "api", "exp": exp, "cnf": cnf}),
        )
    };
    let (_, report) = lint_json(&sign(json!({"jkt": jkt})));
    let note = finding(&report, "dpop_bound").expect("dpop_bound");
    assert_eq!(note["severity"], "info");
    assert!(note["message"].as_str().unwrap().contains(&jkt), "{note}");
    assert!(finding(&report, "dpop_bad_jkt").is_none());

    for bad in [
        json!({"jkt": "not-a-thumbprint"}),
        json!({"jkt": 42}),
        json!({"jkt": format!("{jkt}A")}),
    ] {
        let (code, report) = lint_json(&sign(bad.clone()));
        assert_eq!(code, 1, "{bad}: {report}");
        let found = finding(&report, "dpop_bad_jkt").expect("dpop_bad_jkt");
        assert_eq!(found["severity"], "warning");
        assert!(finding(&report, "dpop_bound").is_none());
    }
}

#[test]
fn pem_keys_make_proofs_as_they_sign_tokens_and_an_rsa_key_needs_its_alg() {
    let url = "https://api.example.com/orders";
    let verifier = ProofVerifier::new();
    for (file, alg, expected) in [
        ("ec-p256-pkcs8.pem", None, Algorithm::ES256),
        ("ed25519-pkcs8.pem", None, Algorithm::EdDSA),
        ("rsa-pkcs8.pem", Some("PS256"), Algorithm::PS256),
    ] {
        let key = common::fixture_str(file);
        let mut args = vec!["--key", &key, "--method", "GET", "--url", url];
        if let Some(alg) = alg {
            args.extend(["--alg", alg]);
        }
        let verified = verifier
            .verify(&proof(&args), &Expected::new("GET", url))
            .unwrap();
        assert_eq!(verified.algorithm, expected, "{file}");
        let (_, thumbprint, _) = run_args(&["thumbprint", &key]);
        assert_eq!(verified.jkt, thumbprint.trim(), "{file}");
    }
    let rsa = common::fixture_str("rsa-pkcs8.pem");
    let (code, _, err) = run_args(&["dpop", "--key", &rsa, "--method", "GET", "--url", url]);
    assert_eq!(code, 2);
    assert!(err.contains("add --alg (RS256"), "{err}");
    let public = common::fixture_str("ec-p256-spki.pem");
    let (code, _, err) = run_args(&["dpop", "--key", &public, "--method", "GET", "--url", url]);
    assert_eq!(code, 2);
    assert!(err.contains("is a public key"), "{err}");
}
