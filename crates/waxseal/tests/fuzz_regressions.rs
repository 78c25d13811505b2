//! The fuzz corpus as ordinary tests: every input under `fuzz/regressions/<target>/` (the seeds, and every crash
//! the fuzzer ever found) goes through the same property code as the fuzz target (`fuzz/src/jose.rs`, `fuzz/src/dpop.rs`,
//! `fuzz/src/jwe.rs` and `fuzz/src/jwe_json.rs`, compiled in here), so a fixed bug stays fixed without cargo-fuzz.
//!
//! `ok-*` inputs must be accepted and `attack-*` inputs refused. When the fixture changes, write the seeds afresh
//! with `WAXSEAL_BLESS_FUZZ_SEEDS=1 cargo test -p waxseal --test fuzz_regressions committed_seeds` and commit them.
#![allow(missing_docs)]

#[path = "../../../fuzz/src/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/src/dpop.rs"]
mod dpop;
#[path = "../../../fuzz/src/jose.rs"]
mod jose;
#[path = "../../../fuzz/src/jwe.rs"]
mod jwe;
#[path = "../../../fuzz/src/jwe_json.rs"]
mod jwe_json;

use corpus::{Outcome, Seed, corpus_dir};

fn replay(target: &str, property: fn(&[u8]) -> Outcome) {
    corpus::replay(&corpus_dir(env!("CARGO_MANIFEST_DIR"), target), property);
}

#[test]
fn jws_compact_corpus_keeps_its_properties() {
    replay("jws_compact", jose::jws_compact);
}

#[test]
fn jws_json_corpus_keeps_its_properties() {
    replay("jws_json", jose::jws_json);
}

#[test]
fn jwe_compact_corpus_keeps_its_properties() {
    replay("jwe_compact", jwe::jwe_compact);
}

#[test]
fn jwe_json_corpus_keeps_its_properties() {
    replay("jwe_json", jwe_json::jwe_json);
}

#[test]
fn jwk_corpus_keeps_its_properties() {
    replay("jwk", jose::jwk);
}

#[test]
fn jwks_corpus_keeps_its_properties() {
    replay("jwks", jose::jwks);
}

#[test]
fn key_import_corpus_keeps_its_properties() {
    replay("key_import", jose::key_import);
}

#[test]
fn claims_corpus_keeps_its_properties() {
    replay("claims", jose::claims);
}

#[test]
fn dpop_proof_corpus_keeps_its_properties() {
    replay("dpop_proof", dpop::dpop_proof);
}

/// The committed seeds are the fixture's: the same bytes for deterministic ones, present for randomized ones
/// (whose acceptance the replay checks).
#[test]
fn committed_seeds_are_the_fixtures() {
    let mut seeds: Vec<Seed> = jose::seeds();
    assert!(seeds.len() > 50, "the fixture makes seeds for every target");
    let jwe = jwe::seeds();
    assert!(
        jwe.len() > 60,
        "the JWE fixture makes a token for every key and content encryption"
    );
    seeds.extend(jwe);
    let jwe_json = jwe_json::seeds();
    assert!(
        jwe_json.len() > 40,
        "the JWE JSON fixture makes both forms for every algorithm, and attacks"
    );
    seeds.extend(jwe_json);
    let dpop = dpop::seeds();
    assert!(
        dpop.len() > 15,
        "the DPoP fixture makes proofs in every mode, and attacks"
    );
    seeds.extend(dpop);
    corpus::check_seeds(env!("CARGO_MANIFEST_DIR"), &seeds);
}
