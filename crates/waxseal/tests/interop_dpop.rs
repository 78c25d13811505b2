//! DPoP proofs (RFC 9449) between waxseal and the client libraries of other languages: PyJWT and joserfc (Python),
//! and `jose` (Node).
//!
//! Each peer makes proofs the way a DPoP client does (a fresh key pair, its public JWK in the header, `typ:
//! dpop+jwt`) and `ProofVerifier` must accept them with the thumbprint the peer computed itself, and refuse them for
//! another URL; each peer verifies waxseal's proofs with its own embedded-key verification (npm jose's
//! `EmbeddedJWK`, the header's jwk for the Python libraries) and must compute the same thumbprint. Peers:
//! `interop/python/jose_peer.py`, `interop/node/jose_peer.mjs` (`dpop_proof`, `dpop_verify`).
//!
//! The peers' packages come from `bash .ci/deps`. Without them the test is skipped loudly, unless `CI=true` or
//! `WAXSEAL_REQUIRE_SERVICES=1`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use serde_json::{Value, json};
use waxseal::dpop::{Expected, Nonces, Proof, ProofVerifier};
use waxseal::jwt::NumericDate;
use waxseal::{Algorithm, ErrorKind, SigningKey, b64};
use waxseal_testkit::peers::{PEERS, Peer};
use waxseal_testkit::services_required;

/// The algorithms DPoP clients use in practice.
const ALGS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::RS256,
];
const URI: &str = "https://api.example.com/orders";
const ACCESS_TOKEN: &str = "an-access-token";

fn peers() -> Vec<Peer> {
    let mut peers = Vec::new();
    let mut missing = Vec::new();
    for spec in &PEERS {
        match Peer::probe(spec) {
            Ok(peer) => peers.push(peer),
            Err(why) => missing.push(format!("{}: {why}", spec.name)),
        }
    }
    if !missing.is_empty() {
        let message = format!(
            "interop peers are not installed (or not at their pinned versions):\n    {}\n  run `bash .ci/deps` (from the repository root) to install them",
            missing.join("\n    ")
        );
        assert!(!services_required(), "{message}");
        let bar = "!".repeat(100);
        eprintln!(
            "\n{bar}\n!!! SKIPPING the DPoP interop test for some peers (set CI=true or WAXSEAL_REQUIRE_SERVICES=1 to fail instead)\n!!! {message}\n{bar}\n"
        );
    }
    peers
}

fn answer<'a>(peer: &Peer, what: &str, response: &'a Value) -> &'a Value {
    assert!(
        response.get("error").is_none(),
        "{} {what}: {}",
        peer.name,
        response["error"]
    );
    response
}

#[test]
fn proofs_made_by_peer_client_libraries_verify_with_the_peers_thumbprint_and_not_for_another_url() {
    let nonces = Nonces::new(&[9; 32], Duration::from_secs(300)).unwrap();
    let nonce = nonces.issue(NumericDate::now());
    let verifier = ProofVerifier::new();
    let with_nonces = ProofVerifier::new().nonces(nonces);
    let mut checked = 0;
    for peer in peers() {
        let requests: Vec<Value> = ALGS
            .iter()
            .flat_map(|alg| {
                [
                    json!({"op": "dpop_proof", "alg": alg.name(), "htm": "GET", "htu": URI,
                           "access_token": ACCESS_TOKEN}),
                    json!({"op": "dpop_proof", "alg": alg.name(), "htm": "POST", "htu": URI, "nonce": nonce}),
                ]
            })
            .collect();
        let responses = peer.call(&requests).unwrap();
        for (alg, pair) in ALGS.iter().zip(responses.chunks(2)) {
            let what = format!("dpop_proof {alg}");
            let (resource, with_nonce) = (
                answer(&peer, &what, &pair[0]),
                answer(&peer, &what, &pair[1]),
            );
            let proof = resource["proof"].as_str().unwrap();
            let expected = Expected::new("GET", URI).access_token(ACCESS_TOKEN);
            let verified = verifier.verify(proof, &expected).unwrap_or_else(|e| {
                panic!("{} {alg}: waxseal refused the peer's proof: {e}", peer.name)
            });
            assert_eq!(
                verified.jkt,
                resource["jkt"].as_str().unwrap(),
                "{} {alg}: jkt",
                peer.name
            );
            assert_eq!(verified.algorithm, *alg);

            for (method, uri) in [
                ("GET", "https://api.example.com/orders/1"),
                ("GET", "https://other.example.com/orders"),
                ("GET", "http://api.example.com/orders"),
                ("POST", URI),
            ] {
                let refused = verifier.verify(
                    proof,
                    &Expected::new(method, uri).access_token(ACCESS_TOKEN),
                );
                assert_eq!(
                    refused.map(|v| v.jkt).map_err(|e| e.kind()),
                    Err(ErrorKind::DpopProof),
                    "{} {alg}: a proof for GET {URI} was accepted for {method} {uri}",
                    peer.name
                );
            }
            let refused = verifier.verify(
                proof,
                &Expected::new("GET", URI).access_token("another-token"),
            );
            assert!(
                refused.is_err(),
                "{} {alg}: ath of another token accepted",
                peer.name
            );

            let proof = with_nonce["proof"].as_str().unwrap();
            let verified = with_nonces
                .verify(proof, &Expected::new("POST", URI))
                .unwrap_or_else(|e| {
                    panic!("{} {alg}: the peer's proof with a nonce: {e}", peer.name)
                });
            assert_eq!(verified.jkt, with_nonce["jkt"].as_str().unwrap());
            let no_nonce = with_nonces.verify(resource["proof"].as_str().unwrap(), &expected);
            assert_eq!(
                no_nonce.map_err(|e| e.kind()).err(),
                Some(ErrorKind::DpopNonce)
            );
            checked += 1;
        }
        println!(
            "peer {:<10} {}: DPoP proofs verified in waxseal",
            peer.name, peer.versions
        );
    }
    println!("{checked} peer proofs checked");
}

#[test]
fn proofs_made_by_waxseal_verify_in_the_peers_with_the_same_thumbprint() {
    let keys: Vec<SigningKey> = ALGS
        .iter()
        .map(|&alg| SigningKey::generate(alg).unwrap())
        .collect();
    let proofs: Vec<String> = keys
        .iter()
        .map(|key| {
            Proof::new("GET", URI)
                .access_token(ACCESS_TOKEN)
                .sign(key)
                .unwrap()
        })
        .collect();
    let jkts: Vec<String> = proofs
        .iter()
        .map(|proof| {
            ProofVerifier::new()
                .verify(proof, &Expected::new("GET", URI).access_token(ACCESS_TOKEN))
                .unwrap()
                .jkt
        })
        .collect();
    for peer in peers() {
        let mut requests = Vec::new();
        for proof in &proofs {
            requests.push(json!({"op": "dpop_verify", "proof": proof, "htm": "GET", "htu": URI}));
            requests.push(json!({"op": "dpop_verify", "proof": flip_signature_byte(proof), "htm": "GET", "htu": URI}));
        }
        let responses = peer.call(&requests).unwrap();
        for (i, pair) in responses.chunks(2).enumerate() {
            let alg = ALGS[i];
            let verified = answer(&peer, &format!("dpop_verify {alg}"), &pair[0]);
            assert_eq!(
                verified["jkt"].as_str().unwrap(),
                jkts[i],
                "{} {alg}: jkt",
                peer.name
            );
            assert_eq!(verified["header"]["typ"], "dpop+jwt");
            assert_eq!(
                verified["claims"]["ath"],
                waxseal::dpop::access_token_hash(ACCESS_TOKEN)
            );
            assert!(
                pair[1].get("error").is_some(),
                "{} {alg}: accepted a waxseal proof with a flipped signature byte",
                peer.name
            );
        }
        println!(
            "peer {:<10} {}: waxseal's DPoP proofs verified",
            peer.name, peer.versions
        );
    }
}

/// The same proof with one byte of its decoded signature flipped, re-encoded canonically.
fn flip_signature_byte(proof: &str) -> String {
    let (signing_input, signature) = proof.rsplit_once('.').unwrap();
    let mut bytes = b64::decode(signature, "signature").unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{signing_input}.{}", b64::encode(bytes))
}
