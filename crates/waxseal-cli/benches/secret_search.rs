//! Throughput of `waxseal lint`'s weak-secret search: HS256 candidates per second, on one thread and on two,
//! against a typical ~330-byte token. Run with `cargo bench -p waxseal-cli --bench secret_search`; criterion
//! reports the rate as "elem/s" (one element = one candidate secret).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use waxseal_cli::secrets::{Batch, Hmac, Target, search_batch};

const CANDIDATES: usize = 200_000;

/// A ~330-byte HS256 token: typical header and access-token claims.
fn token() -> String {
    let header = waxseal::b64::encode(br#"{"alg":"HS256","typ":"JWT","kid":"2024-06-signing"}"#);
    let claims = waxseal::b64::encode(
        br#"{"iss":"https://auth.example.com","sub":"user-1234567890","aud":"orders-api","iat":1750000000,"exp":1750000900,"scope":"read:orders write:orders","jti":"6f1c2a9e-8d3b"}"#,
    );
    let input = format!("{header}.{claims}");
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        b"a secret that is not in the list at all",
    );
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", waxseal::b64::encode(tag.as_ref()))
}

fn bench(c: &mut Criterion) {
    let token = token();
    let target = Target::from_token(&token).expect("an HS256 token");
    assert_eq!(target.hmac(), Hmac::Hs256);
    let batch: Batch = (0..CANDIDATES)
        .map(|i| format!("candidate-{i:08}"))
        .collect();
    let mut group = c.benchmark_group(format!("hs256_search_{}B_token", token.len()));
    group.throughput(Throughput::Elements(CANDIDATES as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("{threads}_thread"), |b| {
            b.iter(|| assert!(search_batch(black_box(&target), &batch, threads).is_none()));
        });
    }
    // For comparison: the same search with `aws_lc_rs::hmac::Key::new` + `hmac::verify` per candidate, which
    // `secrets::mac` replaces.
    let input = &token.as_bytes()[..token.rfind('.').expect("a dot")];
    let tag =
        waxseal::b64::decode(&token[token.rfind('.').expect("a dot") + 1..], "tag").expect("a tag");
    group.bench_function("aws_lc_hmac_key_1_thread", |b| {
        b.iter(|| {
            let hits = (0..batch.len())
                .filter(|i| {
                    let key =
                        aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, batch.get(*i));
                    aws_lc_rs::hmac::verify(&key, black_box(input), &tag).is_ok()
                })
                .count();
            assert_eq!(hits, 0);
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
