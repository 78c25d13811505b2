//! A loop over one way of verifying a DPoP proof (`benches/dpop.rs`), for instruction counts:
//! `cargo build --profile bench -p waxseal-bench --example dpop_profile`, then
//! `valgrind --tool=callgrind --toggle-collect='dpop_profile::run' target/release/examples/dpop_profile \
//! ES256 waxseal 1000` and divide the instructions collected by the iterations.
//!
//! Arguments: the algorithm (`ES256`, `EdDSA`), the way (`waxseal`, `floor`, `floor+import`; see
//! `benches/common/dpop_proofs.rs`) and the number of iterations. Only `run` is counted, not the set-up (the
//! fixture key, the proof, the checks that every way accepts it).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/common/dpop_proofs.rs"]
mod dpop_proofs;

use std::hint::black_box;

use dpop_proofs::Case;

/// The counted loop.
#[inline(never)]
fn run(case: &Case, way: &str, n: u64) {
    for _ in 0..n {
        black_box(case.run(black_box(way)));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let alg = waxseal::Algorithm::from_name(args.get(1).map_or("ES256", String::as_str)).unwrap();
    let way = args.get(2).map_or("waxseal", String::as_str);
    let n: u64 = args.get(3).map_or(1000, |s| s.parse().unwrap());
    let case = Case::new(alg);
    eprintln!("{alg} {way} x{n}, a proof of {} bytes", case.proof.len());
    run(&case, way, n);
}
