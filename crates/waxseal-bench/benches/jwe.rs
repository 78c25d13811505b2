//! JWE encrypt and decrypt: waxseal against `josekit` (OpenSSL) and the bare aws-lc-rs primitives, the same
//! ~300-byte plaintext (a signed JWT, as a nested token carries) under the same key material.
//!
//! Five (alg, enc) pairs: `dir` + A256GCM, A256KW + A256GCM, ECDH-ES+A256KW + A256GCM (P-256), RSA-OAEP-256 +
//! A256GCM (2048-bit) and PBES2-HS256+A128KW + A128GCM with `p2c` = 10,000 (set explicitly in all three). One
//! criterion group per pair and operation, named `<pair>-encrypt` / `<pair>-decrypt`; its functions are
//! `waxseal`, `josekit` and `aws-lc-rs`.
//!
//! `aws-lc-rs` is what a compact JWE minimally costs: the header as JSON (serde), base64url, the key management
//! written directly on aws-lc-rs (key wrap, ECDH + one round of the Concat KDF, RSA-OAEP, PBKDF2) and AES-GCM over
//! the content. What does not change between calls is prepared once (the `dir` AES-GCM key, the RSA keys, the
//! recipient's ECDH private key; aws-lc-rs's AES key-wrap key is consumed by each wrap, so it is made per token).
//! It checks what a decrypter must (five segments, `alg`, `enc`, the `epk` curve, a `p2c` bound) and nothing else.
//!
//! Before anything is timed, every implementation's token is decrypted by every implementation (waxseal's by
//! josekit, josekit's and the primitives' by waxseal, and so on) and must give back the plaintext.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "common/jwe_pairs.rs"]
mod jwe_pairs;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jwe_pairs::{P2C, pairs, plaintext};

/// The `p2c` a token's header carries (PBES2 only), to check each implementation used the count it was given.
fn p2c(token: &str) -> Option<u64> {
    let header = waxseal::b64::decode(token.split('.').next().unwrap(), "header").unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header.get("p2c").and_then(serde_json::Value::as_u64)
}

fn bench(c: &mut Criterion) {
    let plaintext = plaintext();
    eprintln!("plaintext: a signed JWT of {} bytes", plaintext.len());
    let pairs = pairs();

    for pair in &pairs {
        // Every implementation opens every implementation's token before anything is timed: the benchmark cannot
        // time something that does not interoperate, or that does not decrypt at all.
        let tokens: Vec<(&str, String)> = pair
            .implementations
            .iter()
            .map(|i| (i.name, (i.encrypt)(&plaintext)))
            .collect();
        for (maker, token) in &tokens {
            if pair.name.starts_with("PBES2") {
                assert_eq!(p2c(token), Some(u64::from(P2C)), "{maker}'s p2c");
            }
            for opener in &pair.implementations {
                assert_eq!(
                    (opener.decrypt)(token),
                    plaintext,
                    "{}: {} could not open {maker}'s token",
                    pair.name,
                    opener.name
                );
            }
        }
        eprintln!(
            "{}: token {}",
            pair.name,
            tokens
                .iter()
                .map(|(name, t)| format!("{} bytes ({name})", t.len()))
                .collect::<Vec<_>>()
                .join(", ")
        );

        let mut group = c.benchmark_group(format!("{}-encrypt", pair.name));
        for implementation in &pair.implementations {
            group.bench_function(implementation.name, |b| {
                b.iter(|| (implementation.encrypt)(black_box(&plaintext)));
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("{}-decrypt", pair.name));
        for (implementation, (_, token)) in pair.implementations.iter().zip(&tokens) {
            group.bench_function(implementation.name, |b| {
                b.iter(|| (implementation.decrypt)(black_box(token)));
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
