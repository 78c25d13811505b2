//! A loop over one waxseal operation, for profilers: `cargo build --profile bench -p waxseal-bench --example profile`,
//! then `valgrind --tool=callgrind target/release/examples/profile HS256 verify 20000`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use waxseal::jwt::{Claims, Signer, Verifier};
use waxseal::{Algorithm, SigningKey};

#[derive(Serialize, Deserialize)]
struct Access {
    scope: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let alg: Algorithm = args.get(1).map_or("HS256", String::as_str).parse().unwrap();
    let op = args.get(2).map_or("verify", String::as_str);
    let n: u64 = args.get(3).map_or(20_000, |s| s.parse().unwrap());

    // Fixed keys, and (with PROFILE_TOKEN_DIR) one token shared by every run: key generation and ECDSA's random
    // nonce make counts differ from run to run otherwise, and ECDSA verification cost depends on the signature.
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/../waxseal/tests/fixtures/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            SigningKey::from_secret(&[0x5a; 64], alg).unwrap()
        }
        Algorithm::ES256 => SigningKey::from_pem(&fixture("ec-p256-pkcs8.pem"), alg).unwrap(),
        Algorithm::ES384 => SigningKey::from_pem(&fixture("ec-p384-pkcs8.pem"), alg).unwrap(),
        Algorithm::ES512 => SigningKey::from_pem(&fixture("ec-p521-pkcs8.pem"), alg).unwrap(),
        Algorithm::ES256K => SigningKey::from_pem(&fixture("ec-secp256k1-pkcs8.pem"), alg).unwrap(),
        Algorithm::EdDSA => SigningKey::from_pem(&fixture("ed25519-pkcs8.pem"), alg).unwrap(),
        _ => SigningKey::from_pem(&fixture("rsa-pkcs8.pem"), alg).unwrap(),
    }
    .with_kid("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = Claims::new(Access {
        scope: "read:orders write:orders profile".into(),
    })
    .issuer("https://auth.example.com")
    .subject("user-1234567890")
    .audience("https://api.example.com")
    .issued_at(waxseal::jwt::NumericDate::from_secs(now))
    .expires_in(Duration::from_secs(3600))
    .jwt_id("7f3c9a1e-4b2d-4e8f-9a6c-1d2e3f4a5b6c");
    let signer = Signer::new(&key);
    let token = match std::env::var("PROFILE_TOKEN_DIR") {
        Ok(dir) => {
            let path = format!("{dir}/{alg}.token");
            std::fs::read_to_string(&path).unwrap_or_else(|_| {
                let token = signer.sign(&claims).unwrap();
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &token).unwrap();
                token
            })
        }
        Err(_) => signer.sign(&claims).unwrap(),
    };
    let verifier = Verifier::new(key.verifying_key().unwrap())
        .issuer("https://auth.example.com")
        .audience("https://api.example.com");
    // The bare primitive over the same signing input, to subtract from waxseal's count.
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let signature = waxseal::b64::decode(sig_b64, "signature").unwrap();
    let public = key.verifying_key().unwrap();
    match op {
        "jsonwebtoken-verify" => {
            // The peer, over the same token and key, for instruction-count ratios.
            let pem = public.to_pem();
            let decoding = match alg.family() {
                waxseal::alg::Family::Hmac => {
                    let secret =
                        waxseal::b64::decode(key.to_jwk().unwrap().k.unwrap(), "k").unwrap();
                    jsonwebtoken::DecodingKey::from_secret(&secret)
                }
                waxseal::alg::Family::Rsa => {
                    jsonwebtoken::DecodingKey::from_rsa_pem(pem.unwrap().as_bytes()).unwrap()
                }
                waxseal::alg::Family::Ec(_) => {
                    jsonwebtoken::DecodingKey::from_ec_pem(pem.unwrap().as_bytes()).unwrap()
                }
                waxseal::alg::Family::Ed25519 => {
                    jsonwebtoken::DecodingKey::from_ed_pem(pem.unwrap().as_bytes()).unwrap()
                }
            };
            let mut validation = jsonwebtoken::Validation::new(alg.name().parse().unwrap());
            validation.set_issuer(&["https://auth.example.com"]);
            validation.set_audience(&["https://api.example.com"]);
            for _ in 0..n {
                black_box(
                    jsonwebtoken::decode::<Access>(black_box(&token), &decoding, &validation)
                        .unwrap(),
                );
            }
        }
        "prim-sign" => {
            for _ in 0..n {
                black_box(key.sign(black_box(input.as_bytes())).unwrap());
            }
        }
        "prim-unparsed-verify" => {
            // What most libraries do: parse the public key on every verification (`UnparsedPublicKey`).
            use aws_lc_rs::signature as sig;
            let pem = public.to_pem().unwrap();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let spki =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
            let algorithm: &'static dyn sig::VerificationAlgorithm = match alg {
                Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
                Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                Algorithm::EdDSA => &sig::ED25519,
                _ => panic!("no unparsed primitive for {alg}"),
            };
            let key = sig::UnparsedPublicKey::new(algorithm, spki);
            for _ in 0..n {
                key.verify(black_box(input.as_bytes()), black_box(&signature))
                    .unwrap();
            }
        }
        "prim-verify" => {
            for _ in 0..n {
                public
                    .verify(black_box(input.as_bytes()), black_box(&signature))
                    .unwrap();
            }
        }
        "sign" => {
            for _ in 0..n {
                black_box(signer.sign(black_box(&claims)).unwrap());
            }
        }
        _ => {
            for _ in 0..n {
                black_box(verifier.verify::<Access>(black_box(&token)).unwrap());
            }
        }
    }
}
