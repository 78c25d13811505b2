//! The fuzz corpus as ordinary tests: every input under `fuzz/regressions/<target>/` (the seeds, and every crash
//! the fuzzer ever found) goes through the same property code as the fuzz target (`fuzz/src/server.rs`, compiled in
//! here), so a fixed bug stays fixed without cargo-fuzz.
//!
//! `ok-*` inputs must be accepted and `attack-*` inputs refused. When the fixture changes, write the seeds afresh
//! with `WAXSEAL_BLESS_FUZZ_SEEDS=1 cargo test -p waxseal-server --test fuzz_regressions committed_seeds` and commit them.
#![allow(missing_docs)]

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/src/server.rs"]
mod server;

use corpus::{Outcome, Seed, corpus_dir};

fn replay(target: &str, property: fn(&[u8]) -> Outcome) {
    corpus::replay(&corpus_dir(env!("CARGO_MANIFEST_DIR"), target), property);
}

#[test]
fn server_form_corpus_keeps_its_properties() {
    replay("server_form", server::oauth_form);
}

#[test]
fn server_json_corpus_keeps_its_properties() {
    replay("server_json", server::json_bodies);
}

#[test]
fn server_logout_corpus_keeps_its_properties() {
    replay("server_logout", server::logout);
}

#[test]
fn server_authorize_corpus_keeps_its_properties() {
    replay("server_authorize", server::authorize);
}

/// The committed seeds are the ones `server.rs` describes.
#[test]
fn committed_seeds_are_the_fixtures() {
    let seeds: Vec<Seed> = server::seeds();
    for target in [
        "server_form",
        "server_json",
        "server_logout",
        "server_authorize",
    ] {
        assert!(
            seeds.iter().filter(|s| s.target == target).count() >= 9,
            "seeds for {target}"
        );
    }
    corpus::check_seeds(env!("CARGO_MANIFEST_DIR"), &seeds);
}
