//! Tokens the server issues, checked by other implementations the way a resource server would: a real server,
//! a login over HTTP, the key set from `GET /.well-known/jwks.json`, and PyJWT and npm `jose` verifying the access
//! token against it — signature by `kid`, `typ: at+jwt`, `iss`, `aud`, `exp` — and refusing it tampered with,
//! expired, for another audience or issuer, or signed by a key the set does not hold.
//!
//! The peers come from `bash .ci/deps`; see `common::peers` for how a missing one is handled.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestClock, TestServer, config};
use serde_json::{Value, json};
use waxseal_server::{Clock as _, Config};
use waxseal_testkit::peers::{NODE_JOSE, PYJWT, Peer};
use waxseal_testkit::require_or_skip;

const ISSUER: &str = "https://auth.interop.waxseal.test";
const AUDIENCE: &str = "waxseal-api";

async fn start(dir: &std::path::Path, clock: std::sync::Arc<TestClock>) -> TestServer {
    TestServer::start_with(
        Config {
            issuer: ISSUER.into(),
            ..config(dir)
        },
        clock,
    )
    .await
}

async fn jwks(server: &TestServer) -> Value {
    let response = server
        .client
        .get(server.at("/.well-known/jwks.json"))
        .send()
        .await
        .expect("GET the JWKS");
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_str(&response.text().await.expect("the JWKS body")).expect("the JWKS is JSON")
}

fn flip_signature_byte(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').expect("a token the server issued");
    let mut bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a token the server issued");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The same signature over claims naming another subject.
fn swap_subject(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(&parts[1])
            .expect("a token the server issued"),
    )
    .expect("a token the server issued");
    claims["sub"] = json!("someone-else");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts.join(".")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_issued_access_tokens_verify_with_pyjwt_and_node_jose() {
    let dir = tempfile::tempdir().unwrap();
    let now = TestClock::new().now().secs();

    // An access token issued two hours ago by this server's key: expired by the wall clock the peers use.
    let past = start(dir.path(), TestClock::at(now - 2 * 3600)).await;
    past.add_user("alice", &["read:orders"]).await;
    let (expired, _) = past.login_ok("alice").await;
    past.stop().await;

    let server = start(dir.path(), TestClock::new()).await;
    let (access, _) = server.login_ok("alice").await;
    let (status, _, me) = server.get_with("/api/me", &access).await;
    assert_eq!(status, 200, "{me}");
    let jwks = jwks(&server).await;
    let kid = server.service.signing_kid();
    server.stop().await;
    // Another server, another key: its tokens are not this key set's.
    let elsewhere_dir = tempfile::tempdir().unwrap();
    let elsewhere = start(elsewhere_dir.path(), TestClock::new()).await;
    elsewhere.add_user("alice", &["read:orders"]).await;
    let (foreign, _) = elsewhere.login_ok("alice").await;
    elsewhere.stop().await;

    let verify = |token: &str, changes: Value| {
        let mut request = json!({
            "op": "verify_jwks", "jwks": jwks, "token": token, "algorithms": ["ES256"],
            "issuer": ISSUER, "audience": AUDIENCE, "typ": "at+jwt",
        });
        for (name, value) in changes.as_object().unwrap() {
            request[name] = value.clone();
        }
        request
    };
    // (what, request, why PyJWT refuses it, why jose refuses it); the first one must verify.
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("the access token", verify(&access, json!({})), "", ""),
        (
            "a flipped signature byte",
            verify(&flip_signature_byte(&access), json!({})),
            "InvalidSignatureError",
            "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        ),
        (
            "another subject under the same signature",
            verify(&swap_subject(&access), json!({})),
            "InvalidSignatureError",
            "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        ),
        (
            "an expired token",
            verify(&expired, json!({})),
            "ExpiredSignatureError",
            "ERR_JWT_EXPIRED",
        ),
        (
            "another audience expected",
            verify(&access, json!({"audience": "another-api"})),
            "InvalidAudienceError",
            "unexpected \"aud\" claim value",
        ),
        (
            "another issuer expected",
            verify(&access, json!({"issuer": "https://evil.example"})),
            "InvalidIssuerError",
            "unexpected \"iss\" claim value",
        ),
        (
            "a plain JWT expected (typ is checked)",
            verify(&access, json!({"typ": "JWT"})),
            "typ 'at+jwt' is not 'JWT'",
            "\"typ\" JWT header value",
        ),
        (
            "a key the set does not hold",
            verify(&foreign, json!({})),
            "no key with kid",
            "ERR_JWKS_NO_MATCHING_KEY",
        ),
    ];
    let requests: Vec<Value> = cases.iter().map(|c| c.1.clone()).collect();

    let mut problems = Vec::new();
    let mut ran = 0;
    for spec in [PYJWT, NODE_JOSE] {
        let peer = match Peer::probe(&spec) {
            Ok(peer) => peer,
            Err(why) => {
                require_or_skip(
                    &format!("server token interop with {}", spec.name),
                    &format!("the peer is not installed or not at its pinned version: {why}"),
                );
                continue;
            }
        };
        let answers = tokio::task::spawn_blocking({
            let (peer, requests) = (peer.clone(), requests.clone());
            move || peer.call(&requests)
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
        ran += 1;
        let accepted = &answers[0];
        match accepted.get("claims") {
            Some(claims) if *claims == me => {}
            _ => problems.push(format!(
                "{}: refused the access token or saw other claims: {accepted} vs {me}",
                peer.name
            )),
        }
        if accepted["header"]["typ"] != "at+jwt" || accepted["header"]["kid"] != kid.as_str() {
            problems.push(format!("{}: header {}", peer.name, accepted["header"]));
        }
        for ((what, _, pyjwt_reason, jose_reason), answer) in cases.iter().zip(&answers).skip(1) {
            let reason = if peer.name == "pyjwt" {
                pyjwt_reason
            } else {
                jose_reason
            };
            match answer.get("error").and_then(Value::as_str) {
                Some(error) if error.contains(reason) => {}
                Some(error) => problems.push(format!(
                    "{}: {what}: refused, but not because {reason:?}: {error}",
                    peer.name
                )),
                None => problems.push(format!("{}: {what}: accepted", peer.name)),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if ran == 0 {
        eprintln!("server token interop: no peer ran");
    }
}
