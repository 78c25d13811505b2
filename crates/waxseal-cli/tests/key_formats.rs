//! Key files as OpenSSL-compatible tooling writes them: the committed OpenSSL 3 fixtures, and keys made at test
//! time by Python `cryptography`. Every private format signs; every public format verifies what they sign.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command as StdCommand;

use common::{assert_clean_error, fixture_str, path_str, run, run_args, waxseal};

/// Signs with every private key file and verifies with every public key file; returns how many pairs it checked.
fn sign_verify_matrix(alg: &str, privates: &[String], publics: &[String]) -> usize {
    let mut checked = 0;
    for private in privates {
        let (code, out, err) = run_args(&[
            "sign", "--key", private, "--alg", alg, "--sub", "fmt", "--exp", "5m",
        ]);
        assert_eq!(code, 0, "{alg}: sign with {private}: {err}");
        let token = out.trim();
        // The private key file verifies too, and so does every public form.
        for public in publics.iter().chain([private]) {
            let (code, out, err) = run_args(&["verify", "--key", public, token]);
            assert_eq!(
                code, 0,
                "{alg}: token from {private} verified with {public}: {err}"
            );
            assert!(out.contains("\"fmt\""));
            checked += 1;
        }
    }
    checked
}

/// All files of one key share one thumbprint.
fn same_thumbprint(files: &[String]) {
    let first = run_args(&["thumbprint", &files[0]]);
    assert_eq!(first.0, 0, "{}: {}", files[0], first.2);
    for file in &files[1..] {
        let other = run_args(&["thumbprint", file]);
        assert_eq!(other.0, 0, "{file}: {}", other.2);
        assert_eq!(other.1, first.1, "{file} and {} are one key", files[0]);
    }
}

fn fixtures(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| fixture_str(n)).collect()
}

#[test]
fn openssl_fixtures_sign_and_verify() {
    let cases: [(&[&str], &[&str], &[&str]); 7] = [
        (
            &["RS256", "PS384"],
            &["rsa-pkcs8.pem", "rsa-pkcs1.pem", "rsa-pkcs8.der"],
            &[
                "rsa-spki.pem",
                "rsa-pkcs1-public.pem",
                "rsa-spki.der",
                "rsa-cert.pem",
            ],
        ),
        (
            &["ES256"],
            &["ec-p256-pkcs8.pem", "ec-p256-sec1.pem", "ec-p256-sec1.der"],
            &["ec-p256-spki.pem", "ec-p256-cert.pem"],
        ),
        (&["ES384"], &["ec-p384-pkcs8.pem"], &["ec-p384-spki.pem"]),
        (&["ES512"], &["ec-p521-pkcs8.pem"], &["ec-p521-spki.pem"]),
        (
            &["ES256K"],
            &["ec-secp256k1-pkcs8.pem"],
            &["ec-secp256k1-spki.pem"],
        ),
        (&["EdDSA"], &["ed25519-pkcs8.pem"], &["ed25519-spki.pem"]),
        // EC keys imply their algorithm: no --alg needed (checked below), but giving the right one is fine.
        (&["ES256"], &["ec-p256-sec1.pem"], &["ec-p256-cert.pem"]),
    ];
    let mut checked = 0;
    for (algs, privates, publics) in cases {
        let privates = fixtures(privates);
        let publics = fixtures(publics);
        for alg in algs {
            checked += sign_verify_matrix(alg, &privates, &publics);
        }
        same_thumbprint(&[privates.clone(), publics].concat());
    }
    assert!(checked >= 40, "{checked}");

    // Keys that imply their algorithm sign without --alg.
    for (file, alg) in [
        ("ec-p256-sec1.pem", "ES256"),
        ("ec-p384-pkcs8.pem", "ES384"),
        ("ec-p521-pkcs8.pem", "ES512"),
        ("ec-secp256k1-pkcs8.pem", "ES256K"),
        ("ed25519-pkcs8.pem", "EdDSA"),
    ] {
        let token = common::sign(&["--key", &fixture_str(file)]);
        assert_eq!(common::parts(&token).0["alg"], alg, "{file}");
    }
}

#[test]
fn a_certificate_key_cannot_verify_another_keys_tokens() {
    let token = common::sign(&["--key", &fixture_str("ec-p256-pkcs8.pem"), "--exp", "5m"]);
    for other in ["ec-p384-spki.pem", "rsa-cert.pem", "ed25519-spki.pem"] {
        let (code, _, err) = run_args(&["verify", "--key", &fixture_str(other), &token]);
        assert_eq!(code, 1, "{other}: {err}");
    }
}

#[test]
fn refused_fixtures() {
    // (file, what the one-line error must say)
    let refused = [
        ("rsa1024-pkcs8.pem", "at least 2048 bits"),
        ("rsa-encrypted.pem", "encrypted"),
        ("x25519-pkcs8.pem", "unsupported"),
    ];
    let token = common::sign(&["--key", &fixture_str("rsa-pkcs8.pem"), "--alg", "RS256"]);
    for (file, says) in refused {
        let path = fixture_str(file);
        for args in [
            &["sign", "--key", path.as_str(), "--alg", "RS256"][..],
            &["verify", "--key", path.as_str(), token.as_str()],
            &["jwks", path.as_str()],
        ] {
            let (code, out, err) = run_args(args);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}: {out}");
            assert_clean_error(file, code, &err);
            assert!(
                err.contains(says),
                "{args:?}: the error should say {says:?}: {err}"
            );
        }
    }
    let (code, _, err) = run_args(&[
        "sign",
        "--key",
        &fixture_str("x25519-pkcs8.pem"),
        "--alg",
        "EdDSA",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("1.3.101.110"), "names what it is: {err}");
}

// ---------------------------------------------------------------------------------------------------------------
// Python `cryptography`

/// Writes keys in every format `cryptography` serializes to, into the directory given as argv[1].
const PYTHON_KEYS: &str = r#"
import datetime, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

out = sys.argv[1]
PEM, DER = s.Encoding.PEM, s.Encoding.DER
PKCS8, TRAD, NONE = s.PrivateFormat.PKCS8, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()
SPKI, PKCS1 = s.PublicFormat.SubjectPublicKeyInfo, s.PublicFormat.PKCS1

def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

def cert(name, key, digest):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "waxseal cli test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now)
         .not_valid_after(now + datetime.timedelta(days=1)).sign(key, digest))
    write(name, c.public_bytes(PEM))

def pair(prefix, key, private_formats, public_formats):
    for suffix, enc, fmt in private_formats:
        write(f"{prefix}-{suffix}", key.private_bytes(enc, fmt, NONE))
    for suffix, enc, fmt in public_formats:
        write(f"{prefix}-{suffix}", key.public_key().public_bytes(enc, fmt))

k = rsa.generate_private_key(public_exponent=65537, key_size=3072)
pair("rsa", k,
     [("pkcs8.pem", PEM, PKCS8), ("pkcs1.pem", PEM, TRAD), ("pkcs8.der", DER, PKCS8)],
     [("spki.pem", PEM, SPKI), ("spki.der", DER, SPKI), ("pkcs1-public.pem", PEM, PKCS1)])
cert("rsa-cert.pem", k, hashes.SHA256())

for name, curve in [("p256", ec.SECP256R1()), ("p384", ec.SECP384R1()), ("p521", ec.SECP521R1()),
                    ("secp256k1", ec.SECP256K1())]:
    k = ec.generate_private_key(curve)
    pair("ec-" + name, k,
         [("pkcs8.pem", PEM, PKCS8), ("sec1.pem", PEM, TRAD), ("pkcs8.der", DER, PKCS8), ("sec1.der", DER, TRAD)],
         [("spki.pem", PEM, SPKI), ("spki.der", DER, SPKI)])
    cert(f"ec-{name}-cert.pem", k, hashes.SHA256())

k = ed25519.Ed25519PrivateKey.generate()
pair("ed25519", k, [("pkcs8.pem", PEM, PKCS8), ("pkcs8.der", DER, PKCS8)],
     [("spki.pem", PEM, SPKI), ("spki.der", DER, SPKI)])
cert("ed25519-cert.pem", k, None)
print("ok")
"#;

/// Python with `cryptography`, or None after the skip-or-fail rule.
fn python_with_cryptography() -> Option<()> {
    let probe = StdCommand::new("python3")
        .args(["-c", "import cryptography; print(cryptography.__version__)"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {
            eprintln!(
                "python cryptography {}",
                String::from_utf8_lossy(&out.stdout).trim()
            );
            Some(())
        }
        Ok(out) => {
            common::require_or_skip(
                "key formats from Python cryptography",
                &format!(
                    "`import cryptography` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
            None
        }
        Err(e) => {
            common::require_or_skip(
                "key formats from Python cryptography",
                &format!("python3 cannot run: {e}"),
            );
            None
        }
    }
}

fn files(dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            let path = dir.join(n);
            assert!(path.is_file(), "python wrote no {n}");
            path_str(&path).to_owned()
        })
        .collect()
}

#[test]
fn python_cryptography_keys_sign_and_verify() {
    if python_with_cryptography().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = StdCommand::new("python3")
        .args(["-c", PYTHON_KEYS, path_str(dir.path())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the key-writing script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = dir.path();
    let mut checked = 0;
    let rsa_private = files(d, &["rsa-pkcs8.pem", "rsa-pkcs1.pem", "rsa-pkcs8.der"]);
    let rsa_public = files(
        d,
        &[
            "rsa-spki.pem",
            "rsa-spki.der",
            "rsa-pkcs1-public.pem",
            "rsa-cert.pem",
        ],
    );
    for alg in ["RS512", "PS256"] {
        checked += sign_verify_matrix(alg, &rsa_private, &rsa_public);
    }
    same_thumbprint(&[rsa_private, rsa_public].concat());
    for (name, alg) in [
        ("p256", "ES256"),
        ("p384", "ES384"),
        ("p521", "ES512"),
        ("secp256k1", "ES256K"),
    ] {
        let private = files(
            d,
            &[
                &format!("ec-{name}-pkcs8.pem"),
                &format!("ec-{name}-sec1.pem"),
                &format!("ec-{name}-pkcs8.der"),
                &format!("ec-{name}-sec1.der"),
            ],
        );
        let public = files(
            d,
            &[
                &format!("ec-{name}-spki.pem"),
                &format!("ec-{name}-spki.der"),
                &format!("ec-{name}-cert.pem"),
            ],
        );
        checked += sign_verify_matrix(alg, &private, &public);
        same_thumbprint(&[private, public].concat());
    }
    let ed_private = files(d, &["ed25519-pkcs8.pem", "ed25519-pkcs8.der"]);
    let ed_public = files(
        d,
        &["ed25519-spki.pem", "ed25519-spki.der", "ed25519-cert.pem"],
    );
    checked += sign_verify_matrix("EdDSA", &ed_private, &ed_public);
    same_thumbprint(&[ed_private, ed_public].concat());
    assert!(checked >= 60, "{checked}");

    // Python's keys convert to JWK and back, and the JWK Set of all public files holds one key per file.
    let (code, _, err) = run(waxseal().args([
        "convert",
        &format!("{}/ec-p521-sec1.der", path_str(d)),
        "--to",
        "jwk",
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, set, err) = run_args(&[
        "jwks",
        &format!("{}/rsa-cert.pem", path_str(d)),
        &format!("{}/ec-secp256k1-spki.der", path_str(d)),
        &format!("{}/ed25519-pkcs8.der", path_str(d)),
    ]);
    assert_eq!(code, 0, "{err}");
    let set: serde_json::Value = serde_json::from_str(&set).unwrap();
    assert_eq!(set["keys"].as_array().unwrap().len(), 3);
}
