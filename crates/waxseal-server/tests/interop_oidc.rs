//! OpenID Connect sign-in with a relying party the server's authors did not write: openid-client 6 (panva, the
//! library most Node applications use, certified against the OpenID conformance suite) through
//! `interop/node/oidc_rp.mjs`, over real HTTP against a real server. The library discovers the server, builds the
//! authorization request (PKCE S256, state, nonce), checks the callback (state, RFC 9207 iss), exchanges the code,
//! validates the ID token its own way (signature from jwks_uri, iss, aud, azp, exp, iat, nonce), fetches userinfo
//! for the ID token's subject, refreshes, and builds the end-session URL; the script plays the browser in between.
//! A confidential client (client_secret_basic and client_secret_post) and a public one (none); and openid-client
//! refusing a tampered state, the server refusing a wrong PKCE verifier.
//!
//! openid-client comes from `bash .ci/deps` (`interop/node/package-lock.json`); without it, or at another version,
//! the tests skip loudly, and fail under `CI=true` or `WAXSEAL_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "interop_oidc/dpop.rs"]
mod dpop;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{PASSWORD, TestClock, TestServer};
use serde_json::Value;
use waxseal_server::{Config, WebClient};
use waxseal_testkit::{repo_root, require_or_skip};

const SCRIPT: &str = "interop/node/oidc_rp.mjs";
/// Never fetched: the script reads the 303's Location and hands it to openid-client.
const REDIRECT: &str = "http://127.0.0.1:1/callback";
const AFTER_LOGOUT: &str = "http://127.0.0.1:1/bye";
const SCOPE: &str = "openid profile email offline_access";
/// How long one run of the relying party may take: discovery, two pages, the exchange, userinfo, refresh, logout.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one run of the script gave: whether it exited 0, its JSON, its stderr.
#[derive(Debug)]
struct Run {
    success: bool,
    out: Value,
    stderr: String,
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Runs `node oidc_rp.mjs` with `args` and `env`; killed after [`RUN_TIMEOUT`].
fn run_script(node: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(node);
    command
        .arg(repo_root().join(SCRIPT))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("OIDC_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let mut child = command.spawn().expect("start node");
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{SCRIPT} did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap().unwrap()).into_owned();
    let out = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "{SCRIPT} wrote something that is not one JSON object ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&stdout)
        )
    });
    Run {
        success: status.success(),
        out,
        stderr,
    }
}

/// The version of `package` that `interop/node/package-lock.json` pins.
fn pinned(package: &str) -> String {
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("interop/node/package-lock.json")).unwrap(),
    )
    .unwrap();
    lock["packages"][format!("node_modules/{package}")]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("package-lock.json pins no {package}"))
        .to_owned()
}

/// `node`, when it and openid-client at its pinned version are installed; otherwise a loud skip (or a failure
/// under CI) and `None`.
fn relying_party(test: &str) -> Option<PathBuf> {
    let skip = |why: String| {
        require_or_skip(
            &format!("{test} (openid-client interop)"),
            &format!("the Node relying party cannot run: {why}"),
        );
        None
    };
    let Some(node) = on_path("node") else {
        return skip("`node` is not on PATH".into());
    };
    if !repo_root()
        .join("interop/node/node_modules/openid-client/package.json")
        .is_file()
    {
        return skip("interop/node/node_modules has no openid-client".into());
    }
    let info = run_script(&node, &["--info"], &[]);
    let wanted = pinned("openid-client");
    let found = &info.out["versions"]["openid-client"];
    if !info.success || *found != wanted.as_str() {
        return skip(format!(
            "openid-client {found} is installed, but {wanted} is pinned ({})",
            info.stderr.trim()
        ));
    }
    Some(node)
}

/// A server at its own URL with alice (email and name) and a third-party client registered for the browser flow.
struct Setup {
    server: TestServer,
    client_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

async fn start(public: bool) -> Setup {
    start_with(public, |config| config).await
}

/// [`start`], with the server's configuration changed by `edit` first.
async fn start_with(public: bool, edit: impl FnOnce(Config) -> Config) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server =
        TestServer::start_at_own_url_with(edit(common::config(dir.path())), TestClock::new()).await;
    server.add_alice_with_profile().await;
    let client = server
        .add_web_client(
            "Interop App",
            &["read"],
            WebClient {
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
                public,
                // Not the operator's own: the consent page is part of the walk.
                first_party: false,
                ..WebClient::default()
            },
        )
        .await;
    Setup {
        client_id: client.client_id.clone(),
        secret: client.client_secret.to_string(),
        server,
        _dir: dir,
    }
}

impl Setup {
    /// One sign-in by openid-client, authenticating with `auth_method` (`none` for the public client).
    async fn sign_in(&self, node: &Path, auth_method: &str, tamper: Option<&str>) -> Run {
        self.sign_in_with(node, auth_method, tamper, false).await
    }

    /// [`Setup::sign_in`], with openid-client's DPoP when `dpop`.
    async fn sign_in_with(
        &self,
        node: &Path,
        auth_method: &str,
        tamper: Option<&str>,
        dpop: bool,
    ) -> Run {
        let mut env = vec![
            ("OIDC_ISSUER", self.server.url.clone()),
            ("OIDC_CLIENT_ID", self.client_id.clone()),
            ("OIDC_AUTH_METHOD", auth_method.to_owned()),
            ("OIDC_REDIRECT_URI", REDIRECT.to_owned()),
            ("OIDC_POST_LOGOUT_REDIRECT_URI", AFTER_LOGOUT.to_owned()),
            ("OIDC_USERNAME", "alice".to_owned()),
            ("OIDC_PASSWORD", PASSWORD.to_owned()),
            ("OIDC_SCOPE", SCOPE.to_owned()),
        ];
        if auth_method != "none" {
            env.push(("OIDC_CLIENT_SECRET", self.secret.clone()));
        }
        if let Some(tamper) = tamper {
            env.push(("OIDC_TAMPER", tamper.to_owned()));
        }
        if dpop {
            env.push(("OIDC_DPOP", "1".to_owned()));
        }
        let node = node.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run_script(&node, &[], &env)
        })
        .await
        .unwrap()
    }

    /// Everything a successful run must show.
    fn check(&self, run: &Run, consent_expected: bool) {
        let out = &run.out;
        assert!(run.success, "openid-client failed: {out:#}\n{}", run.stderr);
        assert_eq!(out["ok"], true, "{out:#}");
        assert_eq!(
            out["versions"]["openid-client"],
            pinned("openid-client").as_str()
        );
        let url = self.server.url.as_str();
        assert_eq!(out["issuer"], url, "{out:#}");

        // The browser part: signed in, asked for consent the first time only, back with code, state and iss.
        assert_eq!(out["browser"]["signed_in"], true, "{out:#}");
        assert_eq!(out["browser"]["consented"], consent_expected, "{out:#}");
        assert_eq!(out["callback"]["has_code"], true, "{out:#}");
        assert_eq!(out["callback"]["state_matched"], true, "{out:#}");
        assert_eq!(out["callback"]["iss"], url, "RFC 9207 iss: {out:#}");

        // The ID token as openid-client validated it (the nonce among its checks; compared again here).
        let claims = &out["claims"];
        assert_eq!(claims["iss"], url, "{claims:#}");
        assert_eq!(claims["aud"], self.client_id.as_str(), "{claims:#}");
        assert_eq!(claims["nonce"], out["expected_nonce"], "{out:#}");
        assert!(claims["sub"].is_string(), "{claims:#}");
        let token_type = if out["dpop"].is_null() {
            "bearer"
        } else {
            "dpop"
        };
        assert_eq!(out["token"]["token_type"], token_type, "{out:#}");
        assert_eq!(out["token"]["scope"], SCOPE, "{out:#}");
        assert_eq!(out["token"]["has_refresh_token"], true, "{out:#}");

        // Userinfo for the ID token's subject (openid-client refuses another sub), with the profile registered.
        let userinfo = &out["userinfo"];
        assert_eq!(userinfo["sub"], claims["sub"], "{out:#}");
        assert_eq!(userinfo["email"], "alice@example.com", "{userinfo:#}");
        assert_eq!(userinfo["email_verified"], true, "{userinfo:#}");
        assert_eq!(userinfo["name"], "Alice Liddell", "{userinfo:#}");
        assert_eq!(userinfo["preferred_username"], "alice", "{userinfo:#}");

        // The refresh token grant, and its access token accepted by userinfo.
        let refresh = &out["refresh"];
        assert_eq!(refresh["worked"], true, "{refresh:#}");
        assert_eq!(refresh["new_access_token"], true, "{refresh:#}");
        assert_eq!(refresh["userinfo_sub"], claims["sub"], "{refresh:#}");

        // RP-initiated logout: the end-session URL is the server's, and walking it signs out and comes back.
        let end_session = url::Url::parse(out["end_session_url"].as_str().unwrap()).unwrap();
        assert_eq!(
            &end_session[..url::Position::AfterPath],
            format!("{url}/session/end"),
            "{out:#}"
        );
        let query: std::collections::BTreeMap<String, String> =
            end_session.query_pairs().into_owned().collect();
        assert!(query.contains_key("id_token_hint"), "{end_session}");
        assert_eq!(query["post_logout_redirect_uri"], AFTER_LOGOUT);
        assert_eq!(query["client_id"], self.client_id);
        assert_eq!(out["logout"]["redirected_to"], AFTER_LOGOUT, "{out:#}");
        assert_eq!(out["logout"]["state_echoed"], true, "{out:#}");
        assert_eq!(out["logout"]["sso_cookie_left"], false, "{out:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_with_a_confidential_client() {
    let Some(node) = relying_party("confidential client") else {
        return;
    };
    let setup = start(false).await;
    let first = setup.sign_in(&node, "client_secret_basic", None).await;
    setup.check(&first, true);
    // Again, authenticating in the body: consent was given, so the browser goes straight back; same subject.
    let second = setup.sign_in(&node, "client_secret_post", None).await;
    setup.check(&second, false);
    assert_eq!(first.out["claims"]["sub"], second.out["claims"]["sub"]);
    let version = |package: &str| {
        first.out["versions"][package]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    };
    eprintln!(
        "openid-client {} (oauth4webapi {}, jose {}, node {}): signed in twice",
        version("openid-client"),
        version("oauth4webapi"),
        version("jose"),
        version("node")
    );
    setup.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_with_a_public_client() {
    let Some(node) = relying_party("public client") else {
        return;
    };
    let setup = start(true).await;
    let run = setup.sign_in(&node, "none", None).await;
    setup.check(&run, true);
    setup.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_refuses_a_tampered_state_and_the_server_a_wrong_verifier() {
    let Some(node) = relying_party("tampered runs") else {
        return;
    };
    let setup = start(false).await;

    // The callback's state is not the one this sign-in started with: openid-client stops before any exchange.
    let state = setup
        .sign_in(&node, "client_secret_basic", Some("state"))
        .await;
    assert!(!state.success, "{:#}", state.out);
    assert_eq!(state.out["ok"], false, "{:#}", state.out);
    assert_eq!(
        state.out["stage"], "authorization code grant",
        "{:#}",
        state.out
    );
    assert_eq!(
        state.out["code"], "OAUTH_INVALID_RESPONSE",
        "{:#}",
        state.out
    );
    let why = state.out["cause"]["message"].as_str().unwrap();
    assert!(why.contains("\"state\""), "{:#}", state.out);
    assert!(
        state.stderr.contains("oidc_rp: failed at"),
        "{}",
        state.stderr
    );

    // Another PKCE verifier than the challenge was made from: the server refuses the exchange.
    let verifier = setup
        .sign_in(&node, "client_secret_basic", Some("verifier"))
        .await;
    assert!(!verifier.success, "{:#}", verifier.out);
    assert_eq!(
        verifier.out["stage"], "authorization code grant",
        "{:#}",
        verifier.out
    );
    assert_eq!(
        verifier.out["oauth_error"], "invalid_grant",
        "{:#}",
        verifier.out
    );
    assert_eq!(verifier.out["status"], 400, "{:#}", verifier.out);
    setup.server.stop().await;
}
