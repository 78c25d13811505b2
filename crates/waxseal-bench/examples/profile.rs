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

    let key = SigningKey::generate(alg)
        .unwrap()
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
    let token = signer.sign(&claims).unwrap();
    let verifier = Verifier::new(key.verifying_key().unwrap())
        .issuer("https://auth.example.com")
        .audience("https://api.example.com");
    // The bare primitive over the same signing input, to subtract from waxseal's count.
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let signature = waxseal::b64::decode(sig_b64, "signature").unwrap();
    let public = key.verifying_key().unwrap();
    match op {
        "jsonwebtoken-verify" => {
            // The peer, over the same token and key, for instruction-count ratios (HS256 only).
            let secret = waxseal::b64::decode(key.to_jwk().unwrap().k.unwrap(), "k").unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_secret(&secret);
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
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
