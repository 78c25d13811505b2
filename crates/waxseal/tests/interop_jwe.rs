//! JWE interoperability with joserfc (Python) and npm `jose` (Node), both ways.
//!
//! For every pair of `KeyManagement::ALL` × `ContentEncryption::ALL` a peer supports (the ECDH-ES algorithms on
//! each curve it supports): waxseal encrypts (compact) and the peer decrypts, getting the plaintext back and the
//! header waxseal wrote (`alg`, `enc`, `kid`); the peer encrypts (compact) and waxseal decrypts. Then a smaller
//! matrix in the JSON serialization: waxseal's flattened `encrypt_json` (with `aad`) and `JsonEncrypter`'s general
//! form with two recipients to the peer, the peer's flattened and general forms to waxseal. In every direction a
//! JWE with one flipped ciphertext byte must be refused by whoever decrypts it.
//!
//! What a peer does not support it says itself (`info`: `jwe_algorithms`, `jwe_encryptions`, `jwe_curves`, and
//! `unsupported` with a reason for each); nothing is skipped silently. PBES2 runs at a `p2c` of 10,000 both ways,
//! waxseal's default and the most either side accepts here.
//!
//! The peers' packages come from `bash .ci/deps`. Without them the test is skipped loudly, unless `CI=true` or
//! `WAXSEAL_REQUIRE_SERVICES=1`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "interop_jwe/cases.rs"]
mod cases;

use std::collections::BTreeMap;
use std::time::Instant;

use cases::{Case, flip_compact, flip_json, other_recipient};
use serde_json::{Value, json};
use waxseal::ErrorKind;
use waxseal::jwe::{ContentEncryption, Decrypter, Encrypter, JsonEncrypter, KeyManagement};
use waxseal_testkit::peers::{JOSERFC, NODE_JOSE, Peer};
use waxseal_testkit::services_required;

/// The JSON matrix: one pair of each kind of key management, the content encryptions spread over them.
const JSON_PAIRS: [(KeyManagement, Option<&str>, ContentEncryption); 8] = [
    (KeyManagement::A128KW, None, ContentEncryption::A128Gcm),
    (KeyManagement::Dir, None, ContentEncryption::A256CbcHs512),
    (
        KeyManagement::A192GCMKW,
        None,
        ContentEncryption::A192CbcHs384,
    ),
    (KeyManagement::RsaOaep256, None, ContentEncryption::A256Gcm),
    (
        KeyManagement::EcdhEs,
        Some("P-384"),
        ContentEncryption::A128CbcHs256,
    ),
    (
        KeyManagement::EcdhEsA128KW,
        Some("P-521"),
        ContentEncryption::A192Gcm,
    ),
    (
        KeyManagement::EcdhEsA256KW,
        Some("X25519"),
        ContentEncryption::A256Gcm,
    ),
    (
        KeyManagement::Pbes2Hs512A256KW,
        None,
        ContentEncryption::A128Gcm,
    ),
];

/// A peer that works must get through at least this many compact pairs each way (all 180 where its runtime has
/// every algorithm; one without AES-192 still has 92, and without X25519 too, 80), so a probe that lists nothing
/// cannot pass.
const COMPACT_FLOOR: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Direction {
    WaxsealToPeer,
    PeerToWaxseal,
}

impl Direction {
    fn arrow(self, peer: &str) -> String {
        match self {
            Direction::WaxsealToPeer => format!("waxseal -> {peer}"),
            Direction::PeerToWaxseal => format!("{peer} -> waxseal"),
        }
    }
}

/// What was checked and what went wrong.
#[derive(Default)]
struct Report {
    /// Checks passed, by (peer, direction, form): `compact`, `flattened`, `general`.
    passed: BTreeMap<(&'static str, Direction, &'static str), usize>,
    failures: Vec<String>,
}

impl Report {
    fn record(
        &mut self,
        peer: &'static str,
        dir: Direction,
        form: &'static str,
        what: &str,
        problems: Vec<String>,
    ) {
        if problems.is_empty() {
            *self.passed.entry((peer, dir, form)).or_default() += 1;
        }
        let arrow = dir.arrow(peer);
        self.failures.extend(
            problems
                .into_iter()
                .map(|p| format!("{what} {form} {arrow}: {p}")),
        );
    }

    fn passed(&self, peer: &'static str, dir: Direction, form: &'static str) -> usize {
        self.passed.get(&(peer, dir, form)).copied().unwrap_or(0)
    }
}

/// Runs one batch; on failure every check of the batch fails with the reason.
fn call(
    peer: &Peer,
    requests: &[Value],
    report: &mut Report,
    dir: Direction,
) -> Option<Vec<Value>> {
    match peer.call(requests) {
        Ok(responses) => Some(responses),
        Err(e) => {
            report
                .failures
                .push(format!("{}: {e}", dir.arrow(peer.name)));
            None
        }
    }
}

/// What is wrong with a peer's answer to decrypting what waxseal made for `case`.
fn check_peer_opened(case: &Case, plaintext: &str, valid: &Value, tampered: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    match valid.get("plaintext") {
        Some(got) if got == plaintext => {
            let header = &valid["header"];
            let wanted = json!({"alg": case.alg.name(), "enc": case.enc.name(), "kid": case.kid});
            for name in ["alg", "enc", "kid"] {
                if header[name] != wanted[name] {
                    problems.push(format!(
                        "header {name} {}, waxseal wrote {}",
                        header[name], wanted[name]
                    ));
                }
            }
        }
        Some(got) => problems.push(format!("plaintext differs: sent {plaintext:?}, got {got}")),
        None => problems.push(format!("refused waxseal's JWE: {}", valid["error"])),
    }
    if tampered.get("error").is_none() {
        problems.push(format!(
            "accepted a JWE with a flipped ciphertext byte: {tampered}"
        ));
    }
    problems
}

/// What is wrong with waxseal's reading of a JWE the peer made for `case`, and of it with a flipped byte.
fn check_waxseal_opened(
    case: &Case,
    plaintext: &str,
    opened: waxseal::Result<waxseal::jwe::Decrypted>,
    tampered: waxseal::Result<waxseal::jwe::Decrypted>,
) -> Vec<String> {
    let mut problems = Vec::new();
    match opened {
        Ok(opened) => {
            if opened.plaintext != plaintext.as_bytes() {
                problems.push(format!(
                    "plaintext differs: sent {plaintext:?}, got {:?}",
                    String::from_utf8_lossy(&opened.plaintext)
                ));
            }
            let h = &opened.header;
            if h.alg != case.alg || h.enc != case.enc || h.kid.as_deref() != Some(&case.kid) {
                problems.push(format!(
                    "header alg {} enc {} kid {:?}",
                    h.alg, h.enc, h.kid
                ));
            }
        }
        Err(e) => problems.push(format!("waxseal refused it ({}): {e}", e.code())),
    }
    match tampered {
        Err(e) if e.kind() == ErrorKind::DecryptionFailed => {}
        Err(e) => problems.push(format!(
            "tampered JWE refused, but not as DecryptionFailed: {e}"
        )),
        Ok(_) => problems.push("waxseal accepted a JWE with a flipped ciphertext byte".to_owned()),
    }
    problems
}

/// waxseal encrypts every supported pair (compact); the peer decrypts it, and refuses it with a flipped byte.
fn waxseal_to_peer(peer: &Peer, cases: &[&Case], report: &mut Report) {
    let mut requests = Vec::new();
    let mut sent = Vec::new();
    for case in cases {
        let plaintext = case.plaintext("waxseal");
        let token = Encrypter::new(&case.encryption_key, case.enc)
            .encrypt_compact(plaintext.as_bytes())
            .unwrap();
        let tampered = flip_compact(&token);
        // Bad for waxseal too, or the peer's refusal would prove nothing.
        assert_eq!(
            case.decrypter()
                .decrypt_compact(&tampered)
                .unwrap_err()
                .kind(),
            ErrorKind::DecryptionFailed
        );
        for token in [token, tampered] {
            let mut request = case.request("decrypt");
            request.insert("token".into(), json!(token));
            requests.push(Value::Object(request));
        }
        sent.push((case, plaintext));
    }
    let Some(responses) = call(peer, &requests, report, Direction::WaxsealToPeer) else {
        return;
    };
    for ((case, plaintext), answers) in sent.into_iter().zip(responses.chunks(2)) {
        let problems = check_peer_opened(case, &plaintext, &answers[0], &answers[1]);
        report.record(
            peer.name,
            Direction::WaxsealToPeer,
            "compact",
            &case.name(),
            problems,
        );
    }
}

/// The peer encrypts every supported pair (compact); waxseal decrypts it, and refuses it with a flipped byte.
fn peer_to_waxseal(peer: &Peer, cases: &[&Case], report: &mut Report) {
    let requests: Vec<Value> = cases
        .iter()
        .map(|case| {
            let mut request = case.request("encrypt");
            request.insert("plaintext".into(), json!(case.plaintext(peer.name)));
            Value::Object(request)
        })
        .collect();
    let Some(responses) = call(peer, &requests, report, Direction::PeerToWaxseal) else {
        return;
    };
    for (case, answer) in cases.iter().zip(&responses) {
        let problems = match answer.get("token").and_then(Value::as_str) {
            Some(token) => {
                let decrypter = case.decrypter();
                check_waxseal_opened(
                    case,
                    &case.plaintext(peer.name),
                    decrypter.decrypt_compact(token),
                    decrypter.decrypt_compact(&flip_compact(token)),
                )
            }
            None => vec![format!("could not encrypt: {}", answer["error"])],
        };
        report.record(
            peer.name,
            Direction::PeerToWaxseal,
            "compact",
            &case.name(),
            problems,
        );
    }
}

/// The JSON matrix both ways: waxseal's flattened (with `aad`) and general (two recipients where the key
/// management wraps a key) JWEs to the peer; the peer's flattened and general ones to waxseal.
fn json_both_ways(peer: &Peer, cases: &[&Case], report: &mut Report) {
    // waxseal -> peer
    let mut requests = Vec::new();
    let mut sent = Vec::new();
    for case in cases {
        let (other, _) = other_recipient(case);
        let other = other.encryption_key();
        let plaintext = case.plaintext("waxseal");
        let flattened = Encrypter::new(&case.encryption_key, case.enc)
            .encrypt_json(plaintext.as_bytes(), Some(b"interop aad"))
            .unwrap();
        let mut general = JsonEncrypter::new(case.enc).recipient(&case.encryption_key);
        if case.wraps_a_key() {
            general = general.recipient(&other);
        }
        let general = general.encrypt_general(plaintext.as_bytes()).unwrap();
        for (form, jwe) in [("flattened", flattened), ("general", general)] {
            let jwe: Value = serde_json::from_str(&jwe).unwrap();
            assert!(
                case.decrypter()
                    .decrypt_json(&flip_json(&jwe).to_string())
                    .is_err()
            );
            for jwe in [jwe.clone(), flip_json(&jwe)] {
                let mut request = case.request("decrypt");
                request.insert("token".into(), jwe);
                requests.push(Value::Object(request));
            }
            sent.push((case, form, plaintext.clone()));
        }
    }
    if let Some(responses) = call(peer, &requests, report, Direction::WaxsealToPeer) {
        for ((case, form, plaintext), answers) in sent.into_iter().zip(responses.chunks(2)) {
            let problems = check_peer_opened(case, &plaintext, &answers[0], &answers[1]);
            report.record(
                peer.name,
                Direction::WaxsealToPeer,
                form,
                &case.name(),
                problems,
            );
        }
    }

    // peer -> waxseal
    let mut requests = Vec::new();
    let mut asked = Vec::new();
    for case in cases {
        let plaintext = case.plaintext(peer.name);
        let mut flattened = case.request("encrypt");
        flattened.insert("plaintext".into(), json!(plaintext));
        flattened.insert("serialization".into(), json!("flattened"));
        requests.push(Value::Object(flattened));
        asked.push((case, "flattened"));
        let mut own = case.request("encrypt");
        own.remove("op");
        own.remove("enc");
        let mut recipients = vec![Value::Object(own)];
        if case.wraps_a_key() {
            recipients.push(Value::Object(other_recipient(case).1));
        }
        requests.push(json!({
            "op": "encrypt", "enc": case.enc.name(), "plaintext": plaintext, "serialization": "json",
            "recipients": recipients,
        }));
        asked.push((case, "general"));
    }
    let Some(responses) = call(peer, &requests, report, Direction::PeerToWaxseal) else {
        return;
    };
    for ((case, form), answer) in asked.into_iter().zip(&responses) {
        let problems = match answer.get("token").filter(|t| t.is_object()) {
            Some(jwe) => {
                let decrypter: Decrypter = case.decrypter();
                check_waxseal_opened(
                    case,
                    &case.plaintext(peer.name),
                    decrypter.decrypt_json(&jwe.to_string()),
                    decrypter.decrypt_json(&flip_json(jwe).to_string()),
                )
            }
            None => vec![format!("could not encrypt: {}", answer["error"])],
        };
        report.record(
            peer.name,
            Direction::PeerToWaxseal,
            form,
            &case.name(),
            problems,
        );
    }
}

/// The JWE peers that answered; the missing ones are named loudly, and fail the test when services are required.
fn probe_peers() -> Vec<Peer> {
    let mut peers = Vec::new();
    let mut missing = Vec::new();
    for spec in [JOSERFC, NODE_JOSE] {
        match Peer::probe(&spec) {
            Ok(peer) if peer.jwe_algorithms.is_empty() => {
                missing.push(format!("{}: its info lists no JWE algorithm", spec.name));
            }
            Ok(peer) => peers.push(peer),
            Err(why) => missing.push(format!("{}: {why}", spec.name)),
        }
    }
    if !missing.is_empty() {
        let message = format!(
            "JWE interop peers are not installed (or not at their pinned versions):\n    {}\n  run `bash .ci/deps` (from the repository root) to install them",
            missing.join("\n    ")
        );
        assert!(!services_required(), "{message}");
        let bar = "!".repeat(100);
        eprintln!(
            "\n{bar}\n!!! SKIPPING the JWE interop test for some peers (set CI=true or WAXSEAL_REQUIRE_SERVICES=1 to fail instead)\n!!! {message}\n{bar}\n"
        );
    }
    peers
}

#[test]
fn jwe_interop_with_joserfc_and_node_jose() {
    let started = Instant::now();
    let peers = probe_peers();
    if peers.is_empty() {
        return;
    }
    let all = cases::all_cases();
    let json_cases: Vec<&Case> = JSON_PAIRS
        .iter()
        .map(|&(alg, crv, enc)| {
            all.iter()
                .find(|c| c.alg == alg && c.crv == crv && c.enc == enc)
                .unwrap()
        })
        .collect();
    let mut report = Report::default();
    let mut summary = Vec::new();
    for peer in &peers {
        println!("peer {:<10} {}", peer.name, peer.versions);
        // A peer may lack an algorithm, encryption or curve only for a reason it states.
        let mut lacks: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for case in &all {
            for name in case.missing_for(peer) {
                lacks.entry(name).or_default().push(case.name());
            }
        }
        for (name, pairs) in &lacks {
            match peer.unsupported.get(*name) {
                Some(why) => println!(
                    "note: {} does not support {name} ({why}): {} pairs skipped",
                    peer.name,
                    pairs.len()
                ),
                None => report.failures.push(format!(
                    "{} does not support {name} and does not say why",
                    peer.name
                )),
            }
        }
        let supported: Vec<&Case> = all
            .iter()
            .filter(|c| c.missing_for(peer).is_empty())
            .collect();
        let json_supported: Vec<&Case> = json_cases
            .iter()
            .copied()
            .filter(|c| c.missing_for(peer).is_empty())
            .collect();
        waxseal_to_peer(peer, &supported, &mut report);
        peer_to_waxseal(peer, &supported, &mut report);
        json_both_ways(peer, &json_supported, &mut report);
        for dir in [Direction::WaxsealToPeer, Direction::PeerToWaxseal] {
            let compact = report.passed(peer.name, dir, "compact");
            let flattened = report.passed(peer.name, dir, "flattened");
            let general = report.passed(peer.name, dir, "general");
            summary.push(format!(
                "{:<22} compact {compact:>3}/{} pairs, JSON flattened {flattened}/{n}, general {general}/{n}",
                dir.arrow(peer.name),
                supported.len(),
                n = json_supported.len(),
            ));
            // Every pair the peer supports was checked, and a broken probe cannot make that zero.
            assert!(
                compact >= COMPACT_FLOOR || !report.failures.is_empty(),
                "{}: only {compact} compact pairs checked; the floor is {COMPACT_FLOOR}",
                dir.arrow(peer.name)
            );
        }
        summary.push(format!(
            "{:<22} skipped {} of {} pairs by its own word: {}",
            peer.name,
            all.len() - supported.len(),
            all.len(),
            if lacks.is_empty() {
                "none".to_owned()
            } else {
                lacks.keys().copied().collect::<Vec<_>>().join(", ")
            }
        ));
    }
    println!(
        "\nJWE interop summary (ok: same plaintext and header, a flipped ciphertext byte refused)"
    );
    for line in &summary {
        println!("  {line}");
    }
    println!("JWE interop test took {:.1?}", started.elapsed());
    assert!(
        report.failures.is_empty(),
        "{} JWE interop failures:\n  {}",
        report.failures.len(),
        report.failures.join("\n  ")
    );
    for peer in &peers {
        let supported = all
            .iter()
            .filter(|c| c.missing_for(peer).is_empty())
            .count();
        for dir in [Direction::WaxsealToPeer, Direction::PeerToWaxseal] {
            assert_eq!(
                report.passed(peer.name, dir, "compact"),
                supported,
                "{}",
                dir.arrow(peer.name)
            );
            assert!(report.passed(peer.name, dir, "flattened") > 0);
            assert!(report.passed(peer.name, dir, "general") > 0);
        }
    }
}

#[test]
fn every_pair_is_a_case() {
    // 14 algorithms on their own and 4 ECDH-ES ones on 4 curves, each with 6 content encryptions.
    let all = cases::all_cases();
    assert_eq!(
        all.len(),
        (14 + 4 * cases::CURVES.len()) * ContentEncryption::ALL.len()
    );
}
