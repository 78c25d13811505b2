//! Cross-tool round trips through the binary: tokens from PyJWT and npm `jose` verify with `waxseal verify`, and
//! tokens from `waxseal sign` verify there. The peers are `interop/python/jose_peer.py` and
//! `interop/node/jose_peer.mjs` (one batch of JSON requests per process; see `crates/waxseal/tests/interop.rs`).
//!
//! The peers' packages come from `bash .ci/deps`. Without them a peer is skipped loudly, unless `CI=true` or
//! `WAXSEAL_REQUIRE_SERVICES=1`, where the test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{keygen, parts, path_str, run, run_args, waxseal};
use serde_json::{Value, json};
use waxseal::Algorithm;
use waxseal_testkit::peers::{NODE_JOSE, PYJWT, Peer, PeerSpec};

const ISSUER: &str = "https://issuer.cli-interop.waxseal.test";
const AUDIENCE: &str = "cli-interop-api";
/// The algorithms every peer must cover in both directions.
const REQUIRED: [&str; 5] = ["HS256", "RS256", "PS256", "ES256", "EdDSA"];

/// The peers this test runs: PyJWT and npm `jose`.
const PEERS: [PeerSpec; 2] = [PYJWT, NODE_JOSE];

/// The peer, ready, and the algorithms it supports; or why it cannot be used.
fn probe(spec: &PeerSpec) -> Result<(Peer, Vec<String>), String> {
    let peer = Peer::probe(spec)?;
    eprintln!("peer {}: {}", peer.name, peer.versions);
    let algorithms = peer.algorithms.clone();
    Ok((peer, algorithms))
}

/// One waxseal key: the private key file, and the JWKs the peer gets.
#[derive(Clone)]
struct Key {
    alg: Algorithm,
    private_file: PathBuf,
    public_file: PathBuf,
    private_jwk: Value,
    public_jwk: Value,
}

fn key(dir: &Path, alg: Algorithm) -> Key {
    let (private_file, public) = keygen(dir, alg.name(), &format!("{}.jwk", alg.name()), &[]);
    let private_jwk: Value =
        serde_json::from_str(&std::fs::read_to_string(&private_file).unwrap()).unwrap();
    // An HMAC secret is its own verification key.
    let (public_file, public_jwk) = match public {
        Some(public) => (
            common::write_json(dir, &format!("{}.public.jwk", alg.name()), &public),
            public,
        ),
        None => (private_file.clone(), private_jwk.clone()),
    };
    Key {
        alg,
        private_file,
        public_file,
        private_jwk,
        public_jwk,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn custom_claims() -> Value {
    json!({"ctx": {"roles": ["admin", "auditor"], "tenant": {"id": 42, "name": "Zoë ✓"}, "ratio": 0.25}})
}

/// `waxseal sign` → the peer verifies, getting the same claims back; a flipped signature byte is refused.
fn waxseal_to_peer(peer: &Peer, keys: &[Key]) -> Vec<String> {
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for k in keys {
        let token = common::sign(&[
            "--key",
            path_str(&k.private_file),
            "--iss",
            ISSUER,
            "--aud",
            AUDIENCE,
            "--sub",
            "user-42",
            "--exp",
            "10m",
            "--jti",
            "auto",
            "--claims",
            &custom_claims().to_string(),
        ]);
        let tampered = flip_signature_byte(&token);
        for token in [&token, &tampered] {
            requests.push(json!({
                "op": "verify", "alg": k.alg.name(), "jwk": k.public_jwk, "token": token,
                "issuer": ISSUER, "audience": AUDIENCE,
            }));
        }
        expected.push((k.alg, parts(&token).1));
    }
    let responses = match peer.call(&requests) {
        Ok(r) => r,
        Err(e) => return vec![format!("waxseal -> {}: {e}", peer.name)],
    };
    let mut problems = Vec::new();
    for ((alg, claims), answers) in expected.into_iter().zip(responses.chunks(2)) {
        match answers[0].get("claims") {
            Some(got) if *got == claims => {}
            Some(got) => problems.push(format!(
                "{alg} waxseal -> {}: claims differ: {claims} vs {got}",
                peer.name
            )),
            None => problems.push(format!(
                "{alg} waxseal -> {}: refused: {}",
                peer.name, answers[0]["error"]
            )),
        }
        if answers[1].get("error").is_none() {
            problems.push(format!(
                "{alg} waxseal -> {}: accepted a tampered token",
                peer.name
            ));
        }
    }
    problems
}

/// The peer signs → `waxseal verify` accepts it and prints the same claims; a flipped signature byte is exit 1.
fn peer_to_waxseal(peer: &Peer, keys: &[Key]) -> Vec<String> {
    let now = now();
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for k in keys {
        let mut claims = custom_claims();
        claims["iss"] = json!(ISSUER);
        claims["aud"] = json!(AUDIENCE);
        claims["sub"] = json!(format!("signed-by-{}", peer.name));
        claims["iat"] = json!(now);
        claims["exp"] = json!(now + 600);
        requests.push(json!({
            "op": "sign", "alg": k.alg.name(), "jwk": k.private_jwk, "claims": claims, "kid": k.private_jwk["kid"],
        }));
        expected.push((k, claims));
    }
    let responses = match peer.call(&requests) {
        Ok(r) => r,
        Err(e) => return vec![format!("{} -> waxseal: {e}", peer.name)],
    };
    let mut problems = Vec::new();
    for ((k, claims), answer) in expected.into_iter().zip(&responses) {
        let alg = k.alg;
        let Some(token) = answer["token"].as_str() else {
            problems.push(format!(
                "{alg} {} could not sign: {}",
                peer.name, answer["error"]
            ));
            continue;
        };
        let key = path_str(&k.public_file);
        let (code, out, err) = run_args(&[
            "verify", "--key", key, "--iss", ISSUER, "--aud", AUDIENCE, token,
        ]);
        if code == 0 {
            let got: Value = serde_json::from_str(&out).unwrap();
            if got != claims {
                problems.push(format!(
                    "{alg} {} -> waxseal: claims differ: {claims} vs {got}",
                    peer.name
                ));
            }
        } else {
            problems.push(format!(
                "{alg} {} -> waxseal: exit {code}: {err}",
                peer.name
            ));
        }
        // Also through standard input, narrowed to the algorithm.
        let (code, _, err) = run(waxseal()
            .args(["verify", "--key", key, "--alg", alg.name(), "-"])
            .write_stdin(format!("{token}\n")));
        if code != 0 {
            problems.push(format!(
                "{alg} {} -> waxseal (stdin): exit {code}: {err}",
                peer.name
            ));
        }
        let (code, _, err) = run_args(&["verify", "--key", key, &flip_signature_byte(token)]);
        if code != 1 || !err.contains("ERR_SIGNATURE_INVALID") {
            problems.push(format!(
                "{alg} {} -> waxseal: tampered token gave exit {code}: {err}",
                peer.name
            ));
        }
    }
    problems
}

fn flip_signature_byte(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = waxseal::b64::decode(signature, "signature").unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{input}.{}", waxseal::b64::encode(bytes))
}

#[test]
fn cli_interop_with_pyjwt_and_node_jose() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut keys: Vec<Option<Key>> = Algorithm::ALL.iter().map(|_| None).collect();
    let mut problems = Vec::new();
    let mut ran = 0;
    for spec in &PEERS {
        let (peer, supported) = match probe(spec) {
            Ok(ready) => ready,
            Err(why) => {
                common::require_or_skip(
                    &format!("CLI interop with {}", spec.name),
                    &format!("the peer is not installed or not at its pinned version: {why}"),
                );
                continue;
            }
        };
        for required in REQUIRED {
            assert!(
                supported.iter().any(|a| a == required),
                "{} lacks {required}",
                peer.name
            );
        }
        // Every algorithm the peer supports, each with one waxseal key shared by the peers.
        let mut peer_keys = Vec::new();
        for (slot, alg) in keys.iter_mut().zip(Algorithm::ALL) {
            if supported.iter().any(|a| a == alg.name()) {
                peer_keys.push(slot.get_or_insert_with(|| key(dir.path(), alg)).clone());
            }
        }
        problems.extend(waxseal_to_peer(&peer, &peer_keys));
        problems.extend(peer_to_waxseal(&peer, &peer_keys));
        eprintln!(
            "{}: {} algorithms checked in both directions",
            peer.name,
            peer_keys.len()
        );
        ran += 1;
    }
    eprintln!("CLI interop took {:.1?}", started.elapsed());
    assert!(
        problems.is_empty(),
        "interop failures:\n  {}",
        problems.join("\n  ")
    );
    if ran == 0 {
        eprintln!("CLI interop: no peer ran");
    }
}

/// Identity providers and other libraries name their keys by their own kid. A key given to `waxseal verify` without
/// a kid of its own (a PEM public key, a `waxseal keygen --alg HS256` secret) must accept their tokens whatever kid
/// they carry, and still refuse a signature by another key as a bad signature, not as an unknown kid.
#[test]
fn cli_verifies_peer_tokens_with_a_foreign_kid_using_keys_without_a_kid() {
    let dir = tempfile::tempdir().unwrap();
    let es256 = key(dir.path(), Algorithm::ES256);
    let (code, pem, err) = run_args(&["convert", path_str(&es256.public_file), "--to", "pem"]);
    assert_eq!(code, 0, "{err}");
    let pem_file = dir.path().join("idp-public.pem");
    std::fs::write(&pem_file, pem).unwrap();
    let hs256 = key(dir.path(), Algorithm::HS256);
    assert!(
        hs256.private_jwk.get("kid").is_none(),
        "keygen gives an HMAC secret no kid: {}",
        hs256.private_jwk
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let stranger = key(elsewhere.path(), Algorithm::ES256);
    let now = now();
    let claims = json!({"sub": "from-an-idp", "iat": now, "exp": now + 600});
    let cases = [
        (&es256, "auth0-key-1", &pem_file),
        (&hs256, "other-library-key", &hs256.private_file),
    ];
    let mut problems = Vec::new();
    let mut ran = 0;
    for spec in &PEERS {
        let peer = match probe(spec) {
            Ok((peer, _)) => peer,
            Err(why) => {
                common::require_or_skip(
                    &format!("CLI foreign-kid interop with {}", spec.name),
                    &format!("the peer is not installed or not at its pinned version: {why}"),
                );
                continue;
            }
        };
        let mut requests: Vec<Value> = cases
            .iter()
            .map(|(k, kid, _)| {
                json!({"op": "sign", "alg": k.alg.name(), "jwk": k.private_jwk, "claims": claims, "kid": kid})
            })
            .collect();
        requests.push(json!({
            "op": "sign", "alg": "ES256", "jwk": stranger.private_jwk, "claims": claims, "kid": "auth0-key-1",
        }));
        let responses = peer.call(&requests).unwrap();
        let tokens: Vec<&str> = responses
            .iter()
            .map(|r| {
                r["token"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{} could not sign: {r}", peer.name))
            })
            .collect();
        for ((k, kid, verify_key), token) in cases.iter().zip(&tokens) {
            let header = parts(token).0;
            assert_eq!(header["kid"], json!(kid), "{}: {header}", peer.name);
            let (code, out, err) = run_args(&["verify", "--key", path_str(verify_key), token]);
            if code == 0 && serde_json::from_str::<Value>(&out).ok().as_ref() == Some(&claims) {
                continue;
            }
            problems.push(format!(
                "{} {} token with kid {kid:?} -> waxseal verify --key {}: exit {code}: {err}{out}",
                peer.name,
                k.alg,
                verify_key.file_name().unwrap().to_string_lossy()
            ));
        }
        // Another key's token under the same foreign kid: refused for its signature.
        let (code, _, err) = run_args(&["verify", "--key", path_str(&pem_file), tokens[2]]);
        if code != 1 || !err.contains("ERR_SIGNATURE_INVALID") {
            problems.push(format!(
                "{}: another key's token gave exit {code}: {err}",
                peer.name
            ));
        }
        ran += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if ran == 0 {
        eprintln!("CLI foreign-kid interop: no peer ran");
    }
}
