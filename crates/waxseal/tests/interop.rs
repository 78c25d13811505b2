//! Interoperability with other JOSE implementations: PyJWT and joserfc (Python), and `jose` (Node).
//!
//! For every algorithm waxseal supports, in both directions: waxseal signs and each peer verifies, and each peer
//! signs and waxseal verifies, each time getting back exactly the claims that were signed. A token with one flipped
//! signature byte must be refused by whoever verifies it. Each peer is one process per direction, answering a batch
//! of requests (`interop/python/jose_peer.py`, `interop/node/jose_peer.mjs`).
//!
//! The peers' packages come from `bash .ci/deps`. Without them the test is skipped loudly, unless `CI=true` or
//! `WAXSEAL_REQUIRE_SERVICES=1`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use waxseal::jwt::{Claims, NumericDate, Signer, Verifier};
use waxseal::{Algorithm, ErrorKind, SigningKey, VerifyingKey};
use waxseal_testkit::peers::{PEERS, Peer};
use waxseal_testkit::{repo_root, services_required};

const ISSUER: &str = "https://issuer.interop.waxseal.test";
const AUDIENCE: &str = "interop-api";
/// One algorithm's key, as waxseal made it, and how it travels to the peers.
struct Fixture {
    alg: Algorithm,
    key: SigningKey,
    private_jwk: Value,
    public_jwk: Value,
    verifier: Verifier,
}

impl Fixture {
    fn new(alg: Algorithm) -> Fixture {
        let key = SigningKey::generate(alg).unwrap();
        let private_jwk = serde_json::to_value(key.to_jwk().unwrap()).unwrap();
        let public = key.verifying_key().unwrap().to_jwk().unwrap();
        // waxseal verifies with the key read back from the very JWK the peers get.
        let verifying = VerifyingKey::from_jwk(&public).unwrap();
        assert_eq!(verifying.algorithm(), alg);
        let verifier = Verifier::new(verifying).issuer(ISSUER).audience(AUDIENCE);
        Fixture {
            alg,
            key,
            private_jwk,
            public_jwk: serde_json::to_value(public).unwrap(),
            verifier,
        }
    }
}

/// The claims `signer` signs for `alg`: every registered claim a JWT usually carries, plus a nested custom one.
fn claims_for(alg: Algorithm, signer: &str) -> Claims<Map<String, Value>> {
    let custom = json!({
        "ctx": {
            "roles": ["admin", "auditor"],
            "tenant": {"id": 42, "name": "Zoë — \"quoted\" ✓", "parent": null},
            "flags": [true, false, null],
            "ratio": 0.25,
            "empty": {},
        },
    });
    let Value::Object(custom) = custom else {
        unreachable!()
    };
    Claims::new(custom)
        .issuer(ISSUER)
        .subject("user-42")
        .audience(AUDIENCE)
        .issued_at(NumericDate::now())
        .expires_in(Duration::from_secs(600))
        .jwt_id(format!("{alg}-signed-by-{signer}"))
}

/// The same token with one byte of its (decoded) signature flipped, re-encoded canonically, so that a verifier
/// refuses it for the signature alone and not for a non-canonical encoding.
fn flip_signature_byte(token: &str) -> String {
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = waxseal::b64::decode(signature, "signature").unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{signing_input}.{}", waxseal::b64::encode(bytes))
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    WaxsealToPeer,
    PeerToWaxseal,
}

enum Cell {
    Ok,
    Fail,
    Skip,
}

struct Report {
    cells: BTreeMap<(Algorithm, &'static str, Direction), Cell>,
    failures: Vec<String>,
}

impl Report {
    fn check(&mut self, alg: Algorithm, peer: &'static str, dir: Direction, problems: Vec<String>) {
        let cell = if problems.is_empty() {
            Cell::Ok
        } else {
            Cell::Fail
        };
        let what = match dir {
            Direction::WaxsealToPeer => format!("waxseal -> {peer}"),
            Direction::PeerToWaxseal => format!("{peer} -> waxseal"),
        };
        self.failures
            .extend(problems.into_iter().map(|p| format!("{alg} {what}: {p}")));
        self.cells.insert((alg, peer, dir), cell);
    }

    fn fail_all(&mut self, peer: &Peer, dir: Direction, fixtures: &[Fixture], why: &str) {
        for f in fixtures.iter().filter(|f| peer.supports(f.alg.name())) {
            self.cells.insert((f.alg, peer.name, dir), Cell::Fail);
        }
        self.failures.push(format!(
            "{} ({}): {why}",
            peer.name,
            if dir == Direction::WaxsealToPeer {
                "verify"
            } else {
                "sign"
            }
        ));
    }

    fn table(&self, peers: &[Peer]) -> String {
        let mut header = vec!["alg".to_owned()];
        for peer in peers {
            header.push(format!("waxseal->{}", peer.name));
            header.push(format!("{}->waxseal", peer.name));
        }
        let mut rows = vec![header];
        for alg in Algorithm::ALL {
            let mut row = vec![alg.name().to_owned()];
            for peer in peers {
                for dir in [Direction::WaxsealToPeer, Direction::PeerToWaxseal] {
                    row.push(
                        match self
                            .cells
                            .get(&(alg, peer.name, dir))
                            .unwrap_or(&Cell::Skip)
                        {
                            Cell::Ok => "ok",
                            Cell::Fail => "FAIL",
                            Cell::Skip => "skip",
                        }
                        .to_owned(),
                    );
                }
            }
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (n, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            writeln!(out, "| {} |", cells.join(" | ")).unwrap();
            if n == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                writeln!(out, "|-{}-|", rule.join("-|-")).unwrap();
            }
        }
        out
    }
}

/// waxseal signs; the peer verifies the token (same claims back) and refuses it with a flipped signature byte.
fn waxseal_to_peer(peer: &Peer, fixtures: &[Fixture], report: &mut Report) {
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for f in fixtures.iter().filter(|f| peer.supports(f.alg.name())) {
        let claims = claims_for(f.alg, "waxseal");
        let token = Signer::new(&f.key).sign(&claims).unwrap();
        let tampered = flip_signature_byte(&token);
        // The tampered token must be bad for waxseal too, or the peer's refusal would prove nothing.
        assert_eq!(
            f.verifier.verify::<Value>(&tampered).unwrap_err().kind(),
            ErrorKind::InvalidSignature
        );
        for token in [token, tampered] {
            requests.push(json!({
                "op": "verify", "alg": f.alg.name(), "jwk": f.public_jwk, "token": token,
                "issuer": ISSUER, "audience": AUDIENCE,
            }));
        }
        expected.push((f.alg, serde_json::to_value(&claims).unwrap()));
    }
    let responses = match peer.call(&requests) {
        Ok(r) => r,
        Err(e) => return report.fail_all(peer, Direction::WaxsealToPeer, fixtures, &e),
    };
    for ((alg, claims), answers) in expected.into_iter().zip(responses.chunks(2)) {
        let mut problems = Vec::new();
        match answers[0].get("claims") {
            Some(got) if *got == claims => {}
            Some(got) => problems.push(format!("claims differ: sent {claims}, got {got}")),
            None => problems.push(format!("refused a valid token: {}", answers[0]["error"])),
        }
        if answers[1].get("error").is_none() {
            problems.push(format!(
                "accepted a token with a flipped signature byte: {}",
                answers[1]
            ));
        }
        report.check(alg, peer.name, Direction::WaxsealToPeer, problems);
    }
}

/// The peer signs; waxseal verifies the token (same claims back, header as sent) and refuses it with a flipped
/// signature byte.
fn peer_to_waxseal(peer: &Peer, fixtures: &[Fixture], report: &mut Report) {
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for f in fixtures.iter().filter(|f| peer.supports(f.alg.name())) {
        let claims = claims_for(f.alg, peer.name);
        requests.push(json!({
            "op": "sign", "alg": f.alg.name(), "jwk": f.private_jwk, "claims": claims, "kid": f.key.kid(),
        }));
        expected.push((f, serde_json::to_value(&claims).unwrap()));
    }
    let responses = match peer.call(&requests) {
        Ok(r) => r,
        Err(e) => return report.fail_all(peer, Direction::PeerToWaxseal, fixtures, &e),
    };
    for ((f, claims), answer) in expected.into_iter().zip(&responses) {
        let mut problems = Vec::new();
        let Some(token) = answer.get("token").and_then(Value::as_str) else {
            problems.push(format!("could not sign: {}", answer["error"]));
            report.check(f.alg, peer.name, Direction::PeerToWaxseal, problems);
            continue;
        };
        match f.verifier.verify_with_header::<Value>(token) {
            Ok((header, got)) => {
                if got.custom != claims {
                    problems.push(format!("claims differ: sent {claims}, got {}", got.custom));
                }
                if header.alg != f.alg || header.kid.as_deref() != f.key.kid() {
                    problems.push(format!(
                        "header alg {} kid {:?}, expected kid {:?}",
                        header.alg,
                        header.kid,
                        f.key.kid()
                    ));
                }
            }
            Err(e) => problems.push(format!(
                "waxseal refused the token ({}): {e}; token {token}",
                e.code()
            )),
        }
        match f.verifier.verify::<Value>(&flip_signature_byte(token)) {
            Err(e) if e.kind() == ErrorKind::InvalidSignature => {}
            Err(e) => problems.push(format!(
                "tampered token refused, but not for its signature: {e}"
            )),
            Ok(_) => {
                problems.push("waxseal accepted a token with a flipped signature byte".to_owned());
            }
        }
        report.check(f.alg, peer.name, Direction::PeerToWaxseal, problems);
    }
}

#[test]
fn interop_with_pyjwt_joserfc_and_node_jose() {
    let started = Instant::now();
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
            "\n{bar}\n!!! SKIPPING the interop test for some peers (set CI=true or WAXSEAL_REQUIRE_SERVICES=1 to fail instead)\n!!! {message}\n{bar}\n"
        );
        if peers.is_empty() {
            return;
        }
    }
    let mut unexplained = Vec::new();
    for peer in &peers {
        println!("peer {:<10} {}", peer.name, peer.versions);
        for alg in Algorithm::ALL
            .into_iter()
            .filter(|a| !peer.supports(a.name()))
        {
            match peer.unsupported.get(alg.name()) {
                Some(why) => println!("note: {} skips {alg}: {why}", peer.name),
                None => unexplained.push(format!(
                    "{} does not support {alg} and does not say why",
                    peer.name
                )),
            }
        }
    }
    // A peer may skip an algorithm only for a stated reason (node's jose has no ES256K), never silently.
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));

    let fixtures: Vec<Fixture> = Algorithm::ALL.into_iter().map(Fixture::new).collect();
    let mut report = Report {
        cells: BTreeMap::new(),
        failures: Vec::new(),
    };
    for peer in &peers {
        waxseal_to_peer(peer, &fixtures, &mut report);
        peer_to_waxseal(peer, &fixtures, &mut report);
    }

    println!(
        "\ninterop summary (ok: the claims came back identical and a flipped signature byte was refused)\n{}",
        report.table(&peers)
    );
    println!("interop test took {:.1?}", started.elapsed());
    assert!(
        report.failures.is_empty(),
        "interop failures:\n  {}",
        report.failures.join("\n  ")
    );
    // Every peer must have covered every algorithm it claims, in both directions.
    for peer in &peers {
        for alg in Algorithm::ALL
            .into_iter()
            .filter(|a| peer.supports(a.name()))
        {
            for dir in [Direction::WaxsealToPeer, Direction::PeerToWaxseal] {
                assert!(
                    matches!(report.cells.get(&(alg, peer.name, dir)), Some(Cell::Ok)),
                    "{alg} {} not checked",
                    peer.name
                );
            }
        }
    }
}

#[test]
fn peer_scripts_exist() {
    // The test above skips when packages are missing, but never because its own files went missing.
    for spec in &PEERS {
        assert!(
            repo_root().join(spec.script).is_file(),
            "{} is missing",
            spec.script
        );
    }
}
