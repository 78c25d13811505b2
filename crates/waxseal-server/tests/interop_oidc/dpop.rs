//! DPoP (RFC 9449) with openid-client 6 as the client: its own ES256 key pair (`randomDPoPKeyPair`), its own
//! proofs on every token request and resource request, `dpop_jkt` in the authorization request, and its own
//! handling of `use_dpop_nonce` (it retries once with the server's `DPoP-Nonce`). The server binds every token to
//! that key; `/userinfo` and `/api/me` accept them only with openid-client's proofs.

use std::path::Path;

use serde_json::Value;
use waxseal_server::{Config, GrantType};

use super::common::{TestClock, TestServer, config};
use super::{Run, Setup, relying_party, run_script, start_with};

/// What every DPoP run shows: tokens bound to openid-client's key, and the protected routes accepting them.
fn check_bound(run: &Run) -> &Value {
    let out = &run.out;
    assert!(run.success, "openid-client failed: {out:#}\n{}", run.stderr);
    let dpop = &out["dpop"];
    let jkt = dpop["jkt"].as_str().expect("the key's thumbprint");
    assert_eq!(jkt.len(), 43, "{dpop:#}");
    assert_eq!(dpop["access_token_cnf"]["jkt"], jkt, "{out:#}");
    dpop
}

async fn sign_in_with_dpop(node: &Path, setup: &Setup, auth_method: &str, consent: bool) {
    let run = setup.sign_in_with(node, auth_method, None, true).await;
    let dpop = check_bound(&run);
    setup.check(&run, consent);
    // /api/me answered openid-client's proof with the token's claims, cnf included.
    let api = &dpop["api_me"];
    assert_eq!(api["status"], 200, "{dpop:#}");
    assert_eq!(api["sub"], run.out["claims"]["sub"], "{dpop:#}");
    assert_eq!(api["cnf"]["jkt"], dpop["jkt"], "{dpop:#}");
    // The refreshed token is DPoP too (openid-client lower-cases token_type).
    assert_eq!(run.out["refresh"]["token_type"], "dpop", "{:#}", run.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_gets_dpop_bound_tokens_by_the_code_flow_with_a_public_client() {
    let Some(node) = relying_party("DPoP, public client") else {
        return;
    };
    let setup = start_with(true, |config| config).await;
    sign_in_with_dpop(&node, &setup, "none", true).await;
    setup.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_answers_the_nonce_challenge_of_every_endpoint() {
    let Some(node) = relying_party("DPoP with server nonces") else {
        return;
    };
    let setup = start_with(false, |config| Config {
        dpop_nonces: true,
        ..config
    })
    .await;
    sign_in_with_dpop(&node, &setup, "client_secret_basic", true).await;
    setup.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_gets_a_dpop_bound_token_by_client_credentials() {
    let Some(node) = relying_party("DPoP, client credentials") else {
        return;
    };
    for nonces in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            dpop_nonces: nonces,
            ..config(dir.path())
        };
        let server = TestServer::start_at_own_url_with(config, TestClock::new()).await;
        let (client_id, secret) = server
            .add_client("DPoP machine", &[GrantType::ClientCredentials], &["read"])
            .await;
        let url = server.url.clone();
        let node = node.clone();
        let run = tokio::task::spawn_blocking(move || {
            run_script(
                &node,
                &[],
                &[
                    ("OIDC_ISSUER", url.as_str()),
                    ("OIDC_CLIENT_ID", client_id.as_str()),
                    ("OIDC_CLIENT_SECRET", secret.as_str()),
                    ("OIDC_FLOW", "client-credentials"),
                    ("OIDC_DPOP", "1"),
                ],
            )
        })
        .await
        .unwrap();
        let dpop = check_bound(&run);
        assert_eq!(run.out["token"]["token_type"], "dpop", "{:#}", run.out);
        // Two requests, two proofs: the second is no replay of the first.
        for api in dpop["api_me"].as_array().unwrap() {
            assert_eq!(api["status"], 200, "{dpop:#}");
            assert_eq!(api["cnf"]["jkt"], dpop["jkt"], "{dpop:#}");
        }
        server.stop().await;
    }
}
