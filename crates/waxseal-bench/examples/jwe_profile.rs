//! A loop over one JWE operation of `benches/jwe.rs`, for instruction counts:
//! `cargo build --profile bench -p waxseal-bench --example jwe_profile`, then
//! `valgrind --tool=callgrind --toggle-collect='jwe_profile::run' target/release/examples/jwe_profile \
//! A256KW+A256GCM waxseal decrypt 1000` and divide the instructions collected by the iterations.
//!
//! Arguments: the pair (as named in the benchmark groups), the implementation (`waxseal`, `josekit`, `aws-lc-rs`),
//! `encrypt` or `decrypt`, and the number of iterations. Only `run` is counted: the set-up (keys, the plaintext,
//! one warm-up encryption and decryption, the token opened) costs about a billion instructions, most of them
//! outside the operation, and varies by more than the operation costs. Decryption opens one token the
//! implementation made itself, as the benchmark does.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/common/jwe_pairs.rs"]
mod jwe_pairs;

use std::hint::black_box;

use jwe_pairs::Implementation;

/// The counted loop.
#[inline(never)]
fn run(implementation: &Implementation, op: &str, plaintext: &[u8], token: &str, n: u64) {
    match op {
        "encrypt" => {
            for _ in 0..n {
                black_box((implementation.encrypt)(black_box(plaintext)));
            }
        }
        "decrypt" => {
            for _ in 0..n {
                black_box((implementation.decrypt)(black_box(token)));
            }
        }
        other => panic!("unknown operation {other}: encrypt or decrypt"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pair_name = args.get(1).map_or("A256KW+A256GCM", String::as_str);
    let implementation_name = args.get(2).map_or("waxseal", String::as_str);
    let op = args.get(3).map_or("decrypt", String::as_str);
    let n: u64 = args.get(4).map_or(1000, |s| s.parse().unwrap());

    let plaintext = jwe_pairs::plaintext();
    let pair = jwe_pairs::pair(pair_name).unwrap_or_else(|| panic!("no pair {pair_name}"));
    let implementation = pair
        .implementations
        .iter()
        .find(|i| i.name == implementation_name)
        .unwrap_or_else(|| panic!("no implementation {implementation_name} for {pair_name}"));
    eprintln!("{} {} {op} x{n}", pair.name, implementation.name);
    let token = (implementation.encrypt)(&plaintext);
    assert_eq!((implementation.decrypt)(&token), plaintext);
    run(implementation, op, &plaintext, &token, n);
}
