//! DPoP proof verification (RFC 9449): `ProofVerifier::verify` against the floor — a bare `VerifyingKey::verify` of
//! the same signature plus `Jwk::thumbprint` — and the floor with the proof's key imported on each call, for ES256
//! and EdDSA proofs. One criterion group per algorithm, `dpop-<alg>-verify`; its functions are `waxseal`, `floor`
//! and `floor+import` (see `common/dpop_proofs.rs`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "common/dpop_proofs.rs"]
mod dpop_proofs;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dpop_proofs::{ALGS, Case, WAYS};

fn bench(c: &mut Criterion) {
    for alg in ALGS {
        let case = Case::new(alg);
        eprintln!("{alg}: a proof of {} bytes", case.proof.len());
        let mut group = c.benchmark_group(format!("dpop-{alg}-verify"));
        for way in WAYS {
            group.bench_function(way, |b| b.iter(|| black_box(&case).run(black_box(way))));
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
