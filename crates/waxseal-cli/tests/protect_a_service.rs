//! End to end: the real `waxseal serve` binary issues tokens, and the `protected_api` example of waxseal-axum (the
//! same code as `cargo run -p waxseal-axum --example protected_api`, included as a module) verifies them through
//! the server's discovery document and JWK Set — on loopback, with a temporary data directory.
#![cfg(unix)]
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../waxseal-axum/examples/protected_api.rs"]
mod protected_api;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use waxseal_remote::Options;

use common::server_command as waxseal;

const PASSWORD: &str = "a long passphrase for the end-to-end test";

/// Runs an admin command (`user add`, `keys rotate`) on `data`; returns its stdout, failing the test on failure.
fn admin(data: &Path, args: &[&str], stdin: &str) -> String {
    let (code, out, err) =
        common::run_with_stdin(waxseal().args(args).arg("--data-dir").arg(data), stdin);
    assert!(code == 0, "waxseal {args:?}: {err}");
    out
}

/// A running `waxseal serve`, stopped when dropped (also when an assertion fails).
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `waxseal serve` on a free loopback port; returns it and its issuer URL.
fn serve(data: &Path) -> (Serve, String) {
    let mut child = waxseal()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "off",
        ])
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let served = Serve(child);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(rest) = line.split("listening on ").nth(1) {
            let url = rest.trim().trim_end_matches("\u{1b}[0m").to_owned();
            let url = url.trim_start_matches("\u{1b}[36m").to_owned();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            return (served, url);
        }
    }
}

async fn login(client: &reqwest::Client, issuer: &str, user: &str) -> String {
    let response = client
        .post(format!("{issuer}/login"))
        .json(&json!({ "username": user, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "login of {user}");
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// GET `url` with the token; returns the status, the `WWW-Authenticate` header and the JSON body.
async fn get(client: &reqwest::Client, url: &str, token: &str) -> (u16, String, Value) {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

fn kid(token: &str) -> String {
    let header = waxseal::jwt::decode_unverified(token).unwrap().header;
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waxseal_serve_issues_and_the_example_api_verifies_through_the_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let password = format!("{PASSWORD}\n");
    admin(
        &data,
        &[
            "user",
            "add",
            "alice",
            "--password-stdin",
            "--scope",
            "read:orders",
        ],
        &password,
    );
    admin(
        &data,
        &["user", "add", "bob", "--password-stdin"],
        &password,
    );
    let (_server, issuer) = serve(&data);
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");

    let client = reqwest::Client::new();
    let alice = login(&client, &issuer, "alice").await;
    let bob = login(&client, &issuer, "bob").await;

    // The example API, as its main() starts it, except for a refetch cooldown of 1 s instead of 30 s so that the
    // rotation below is picked up without a long wait.
    let options = Options {
        cooldown: Duration::from_secs(1),
        ..Options::default()
    };
    let cooldown = options.cooldown;
    let verifier = protected_api::verifier(&issuer, "waxseal-api", options)
        .await
        .unwrap();
    let fetched_at = Instant::now();
    let keys = verifier.key_set().clone();
    assert_eq!(keys.fetches(), 1, "the JWK Set is fetched once at start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, protected_api::router(verifier)).await });

    // A token with the scope: 200, and the claims are the ones the server put in the token.
    let (status, _, orders) = get(&client, &format!("{api}/orders"), &alice).await;
    assert_eq!(status, 200, "{orders}");
    let (_, _, me) = get(&client, &format!("{issuer}/api/me"), &alice).await;
    assert_eq!(orders["customer"], me["sub"], "{orders} {me}");
    let (status, _, whoami) = get(&client, &format!("{api}/whoami"), &alice).await;
    assert_eq!(status, 200, "{whoami}");
    assert_eq!(whoami["sub"], me["sub"]);
    assert_eq!(whoami["iss"], issuer.as_str());
    assert_eq!(whoami["scope"], "read:orders");
    assert_eq!(whoami["client_id"], "waxseal-login");

    // A valid token without the scope: /whoami yes, /orders 403 insufficient_scope naming the scope.
    let (status, _, whoami) = get(&client, &format!("{api}/whoami"), &bob).await;
    assert_eq!(status, 200, "{whoami}");
    let (status, challenge, body) = get(&client, &format!("{api}/orders"), &bob).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="read:orders""#),
        "{challenge}"
    );
    assert_eq!(body["error"], "insufficient_scope");

    // A tampered token (one claim changed, signature kept): 401 invalid_token.
    let mut parts: Vec<String> = alice.split('.').map(str::to_owned).collect();
    let mut forged = waxseal::jwt::decode_unverified(&bob)
        .unwrap()
        .claims
        .unwrap();
    forged.insert("scope".into(), json!("read:orders"));
    parts[1] = waxseal::b64::encode(serde_json::to_vec(&forged).unwrap());
    let tampered = parts.join(".");
    let (status, challenge, body) = get(&client, &format!("{api}/orders"), &tampered).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        challenge.starts_with(r#"Bearer realm="orders", error="invalid_token""#),
        "{challenge}"
    );
    // No token at all: the bare challenge.
    let response = client.get(format!("{api}/whoami")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="orders""#
    );

    // Logout revokes the session at the server at once; the API holds only public keys and cannot know, so the
    // token keeps working there until it expires (the example's docs say so).
    let response = client
        .post(format!("{issuer}/logout"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, _, _) = get(&client, &format!("{issuer}/api/me"), &alice).await;
    assert_eq!(status, 401, "the server refuses the logged-out token");
    let (status, _, _) = get(&client, &format!("{api}/whoami"), &alice).await;
    assert_eq!(status, 200, "the remote API accepts it until it expires");

    // Rotation: the new key signs one second after it is published; the API's cached JWK Set (fresh for the
    // server's max-age of 5 minutes) lacks it, so the first token it signed makes the API refetch once.
    let old_kid = kid(&bob);
    let rotated = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            admin(&data, &["keys", "rotate", "--signs-after", "1s"], "")
        })
        .await
        .unwrap()
    };
    let new_kid = rotated
        .split("published key ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert_ne!(new_kid, old_kid);
    let deadline = Instant::now() + Duration::from_secs(15);
    let carol = loop {
        let token = login(&client, &issuer, "alice").await;
        if kid(&token) == new_kid {
            break token;
        }
        assert!(
            Instant::now() < deadline,
            "the server never signed with {new_kid}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        keys.fetches(),
        1,
        "nothing refetched before the new kid was seen"
    );
    // A kid miss within the cooldown after the last fetch is refused without asking the issuer (that is what keeps
    // a flood of random kids from hammering it); this run may have been quicker than the cooldown.
    tokio::time::sleep((fetched_at + cooldown).saturating_duration_since(Instant::now())).await;
    let (status, _, orders) = get(&client, &format!("{api}/orders"), &carol).await;
    assert_eq!(
        status,
        200,
        "a token of the new key ({} fetches): {orders}",
        keys.fetches()
    );
    assert_eq!(keys.fetches(), 2, "one refetch, for the unknown kid");
    // Tokens of the old key stay valid: it stays published until they have expired.
    let (status, _, body) = get(&client, &format!("{api}/whoami"), &bob).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys.fetches(), 2);
}
