//! The official MCP client SDKs sign in to the example server through waxseal's hosted pages, as a person at an
//! MCP client would: the SDK gets only the MCP server's URL, discovers everything else (RFC 9728 → RFC 8414),
//! registers itself (RFC 7591), and prints the authorization URL; headless Chromium opens it, signs alice in and
//! allows the client on the consent page; the redirect reaches the SDK's loopback callback; the SDK exchanges the
//! code (PKCE, `resource`) and calls the tools. The test then checks what `whoami` saw in the token: alice's
//! subject, the client the SDK registered, the scope, and this server's URL as the only audience. The TypeScript
//! SDK also signs in without registering, by a client ID metadata document the test serves over https.
//!
//! The SDKs run as child processes: `interop/node/mcp_client.mjs` (npm `@modelcontextprotocol/sdk`) and
//! `interop/python/mcp_client.py` (PyPI `mcp`), at the versions `bash .ci/deps` installs. Without them or without
//! Chromium a test skips loudly, and fails when `WAXSEAL_REQUIRE_SERVICES=1` (or `CI=true`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::metadata_document::MetadataDocument;
use common::{McpServer, PASSWORD, USER, Waxseal};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use waxseal_example_mcp_server::SCOPE;
use waxseal_testkit::browser::fantoccini::elements::Element;
use waxseal_testkit::browser::{
    Browser, Locator, Session, SessionOptions, assert_accessible, screenshot,
};
use waxseal_testkit::{repo_root, require_or_skip};

/// How long a script may take to print its next line: the SDKs' own deadline (120 s) and some.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(150);
/// How long a page may take to appear: generous for a loaded machine, bounded so a broken flow fails.
const PAGE_DEADLINE: Duration = Duration::from_secs(30);

/// An SDK's client script, running; killed when dropped.
struct Script {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
}

impl Script {
    fn spawn(program: &str, args: &[&str]) -> Script {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        Script {
            child,
            stdout,
            stderr,
        }
    }

    /// The next JSON line on the script's stdout (other lines are passed over); a failure with the script's
    /// stderr when it ends, reports an error or says nothing within [`SCRIPT_DEADLINE`].
    async fn next_json(&mut self, waiting_for: &str) -> Value {
        let deadline = Instant::now() + SCRIPT_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match tokio::time::timeout(left, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => self.fail(&format!("ended before {waiting_for}")).await,
                Ok(Err(e)) => self.fail(&format!("stdout unreadable ({e})")).await,
                Err(_) => {
                    let message = format!("printed no {waiting_for} within {SCRIPT_DEADLINE:?}");
                    self.fail(&message).await
                }
            };
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(error) = value.get("error") {
                let message = format!("failed: {}", error.as_str().unwrap_or_default());
                self.fail(&message).await;
            }
            return value;
        }
    }

    async fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.start_kill();
        let stderr = tokio::time::timeout(Duration::from_secs(5), &mut self.stderr)
            .await
            .map(Result::unwrap_or_default)
            .unwrap_or_default();
        panic!("the SDK client {what}\n--- its stderr:\n{stderr}");
    }
}

/// Whether node_modules holds the `@modelcontextprotocol/sdk` interop/node/package.json pins, and `node` runs;
/// else why not.
fn node_sdk() -> Result<(), String> {
    let root = repo_root().join("interop/node");
    let read = |path: &str| -> Result<Value, String> {
        let text = std::fs::read_to_string(root.join(path))
            .map_err(|_| format!("no interop/node/{path}"))?;
        serde_json::from_str(&text).map_err(|e| format!("interop/node/{path}: {e}"))
    };
    let pinned = read("package.json")?["dependencies"]["@modelcontextprotocol/sdk"].clone();
    let installed = read("node_modules/@modelcontextprotocol/sdk/package.json")?["version"].clone();
    if pinned != installed {
        return Err(format!(
            "@modelcontextprotocol/sdk {installed} is installed, {pinned} pinned"
        ));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err("`node` does not run".into()),
    }
}

/// Whether `python3` has the `mcp` version interop/python/requirements.txt pins; else why not.
fn python_sdk() -> Result<(), String> {
    let requirements =
        std::fs::read_to_string(repo_root().join("interop/python/requirements.txt")).unwrap();
    let pinned = requirements
        .lines()
        .find_map(|line| line.trim().strip_prefix("mcp=="))
        .expect("requirements.txt pins mcp");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "from importlib.metadata import version; print(version('mcp'))",
        ])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let installed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || installed != pinned {
        return Err(format!("python3 has mcp {installed:?}, {pinned} pinned"));
    }
    Ok(())
}

/// The test running on this thread, for the skip banner.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("an SDK test")
        .to_owned()
}

/// Polls for an element matching `css` until [`PAGE_DEADLINE`].
async fn wait_for(page: &Session, css: &str) -> Element {
    match page
        .wait()
        .at_most(PAGE_DEADLINE)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => panic!(
            "no {css} within {PAGE_DEADLINE:?} ({e}); at {}:\n{}",
            page.current_url().await.unwrap(),
            page.source().await.unwrap_or_default()
        ),
    }
}

/// Polls the address bar until it starts with `prefix`.
async fn wait_until_at(page: &Session, prefix: &str) {
    let deadline = Instant::now() + PAGE_DEADLINE;
    loop {
        let url = page.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still at {url} after {PAGE_DEADLINE:?}, waiting for {prefix}:\n{}",
            page.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// What a person does with the authorization URL: open it, sign in as alice, check that the consent page shows
/// each of `consent_shows` (who is asking), allow, and land at the client's redirect URI.
async fn sign_in_and_allow(
    page: &Session,
    authorize: &str,
    consent_shows: &[&str],
    redirect_uri: &str,
) {
    page.goto(authorize).await.unwrap();
    let form = wait_for(page, "form[action='/signin']").await;
    form.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(USER)
        .await
        .unwrap();
    form.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    form.find(Locator::Css("button[type='submit']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    wait_for(page, "form[action='/consent']").await;
    let consent = page
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in consent_shows {
        assert!(
            consent.contains(shown),
            "the consent page shows {shown:?}:\n{consent}"
        );
    }
    // Seen as a person sees it, and usable by everyone: a screenshot, and axe-core's checks.
    let name: String = consent_shows
        .join(" ")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = format!("mcp-consent-{}", name.trim_matches('-'));
    screenshot(page, &name).await;
    assert_accessible(page, &name).await;
    page.find(Locator::Css("button[name='decision'][value='allow']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until_at(page, &format!("{redirect_uri}?")).await;
}

/// alice's subject at `waxseal`: the `sub` of a token from `POST /login`, verified with the issuer's keys.
async fn alice_subject(waxseal: &Waxseal) -> String {
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/login", waxseal.issuer))
        .header("content-type", "application/json")
        .body(json!({ "username": USER, "password": PASSWORD }).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks = http
        .get(format!("{}/.well-known/jwks.json", waxseal.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let claims = waxseal::jwt::Verifier::new(waxseal::KeySet::from_jwks(&jwks).unwrap())
        .issuer(waxseal.issuer.clone())
        .audience("waxseal-api")
        .verify::<Value>(login["access_token"].as_str().unwrap())
        .unwrap();
    claims.registered.sub.unwrap()
}

/// The whole flow for the SDK client `program script MCP_URL extra…` against `waxseal`, the consent page showing
/// each of `consent_shows`. Checks what every client must get — the tools, alice's subject, this server as the
/// token's only audience, the scope, the client the token was issued to — and returns the script's result for
/// the caller to check how the client identified itself; `None` when skipped (no Chromium).
async fn an_sdk_signs_in_and_calls_whoami(
    waxseal: &Waxseal,
    program: &str,
    script: &str,
    extra: &[&str],
    consent_shows: &[&str],
) -> Option<Value> {
    let mcp = McpServer::start(&waxseal.issuer).await;
    waxseal.add_resource(&mcp.url).await;
    let browser = Browser::start().await?;

    let mut args = vec![script, mcp.url.as_str()];
    args.extend_from_slice(extra);
    let mut client = Script::spawn(program, &args);
    let line = client.next_json("authorization URL").await;
    let authorize = line["authorize"].as_str().unwrap().to_owned();
    assert!(
        authorize.starts_with(&format!("{}/authorize?", waxseal.issuer)),
        "{authorize}"
    );
    let params: BTreeMap<String, String> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        params["resource"], mcp.url,
        "RFC 8707: the token is asked for this server"
    );
    // The scope the 401 named; the Python SDK adds `offline_access` (for a refresh token) when the issuer offers it.
    let asked: Vec<&str> = params["scope"].split(' ').collect();
    assert!(
        asked.contains(&SCOPE) && asked.iter().all(|s| [SCOPE, "offline_access"].contains(s)),
        "{asked:?}"
    );
    assert_eq!(params["code_challenge_method"], "S256");
    let redirect_uri = params["redirect_uri"].clone();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );

    let page = browser.session(SessionOptions::default()).await;
    sign_in_and_allow(&page, &authorize, consent_shows, &redirect_uri).await;

    let result = client.next_json("result").await;
    assert_eq!(result["tools"], json!(["add", "whoami"]), "{result}");
    assert_eq!(result["add"]["result"], "42", "{result}");
    let whoami = &result["whoami"];
    assert_eq!(whoami["is_error"], false, "{result}");
    let seen = &whoami["result"];
    assert_eq!(
        seen["sub"],
        alice_subject(waxseal).await.as_str(),
        "{result}"
    );
    assert_eq!(
        seen["aud"],
        mcp.url.as_str(),
        "the only audience is this server: {result}"
    );
    let granted: Vec<&str> = seen["scope"].as_str().unwrap().split(' ').collect();
    assert!(granted.contains(&SCOPE), "{result}");
    assert_eq!(
        seen["client_id"], result["client_id"],
        "the token is the SDK client's: {result}"
    );

    // Chromium first, so no connection of its keeps the server's graceful shutdown waiting.
    drop(page);
    drop(browser);
    Some(result)
}

/// An SDK that registered through `POST /register`: its client id is one the server issued.
async fn assert_registered(waxseal: &Waxseal, result: &Value) {
    let clients = waxseal.service.list_clients().await.unwrap();
    assert!(
        clients
            .iter()
            .any(|c| Some(c.client_id.as_str()) == result["client_id"].as_str()),
        "the SDK registered through POST /register: {result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_signs_in_through_waxseal_and_whoami_sees_alice_and_this_audience() {
    if let Err(missing) = node_sdk() {
        require_or_skip(&test_name(), &missing);
        return;
    }
    let waxseal = Waxseal::start().await;
    let name = "waxseal interop: MCP TypeScript SDK";
    let consent = format!("Allow {name}?");
    let script = "interop/node/mcp_client.mjs";
    if let Some(result) =
        an_sdk_signs_in_and_calls_whoami(&waxseal, "node", script, &[], &[&consent]).await
    {
        assert_registered(&waxseal, &result).await;
        // RFC 9207: the redirect names the issuer (the Python SDK checks it itself).
        assert_eq!(result["iss"], waxseal.issuer.as_str(), "{result}");
    }
    waxseal.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_signs_in_through_waxseal_and_whoami_sees_alice_and_this_audience() {
    if let Err(missing) = python_sdk() {
        require_or_skip(&test_name(), &missing);
        return;
    }
    let waxseal = Waxseal::start().await;
    let name = "waxseal interop: MCP Python SDK";
    let consent = format!("Allow {name}?");
    let script = "interop/python/mcp_client.py";
    if let Some(result) =
        an_sdk_signs_in_and_calls_whoami(&waxseal, "python3", script, &[], &[&consent]).await
    {
        assert_registered(&waxseal, &result).await;
    }
    waxseal.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_signs_in_by_its_client_id_metadata_document_without_registering() {
    if let Err(missing) = node_sdk() {
        require_or_skip(&test_name(), &missing);
        return;
    }
    // The client's publisher hosts its metadata document; its URL is the client id. The redirect URI is the
    // loopback one without a port: the SDK's callback listens on whatever port it gets.
    let dir = tempfile::tempdir().unwrap();
    let name = "waxseal interop: MCP TypeScript SDK by its metadata document";
    let document = MetadataDocument::serve(dir.path(), "/mcp-client.json", |url| {
        json!({
            "client_id": url,
            "client_name": name,
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    })
    .await;
    // `--client-metadata-allow-host localhost`: the document is on this machine, which the server refuses to
    // fetch from otherwise; `--client-metadata-ca`: its certificate is the test CA's.
    let waxseal = Waxseal::start_with(|config| waxseal_server::Config {
        allow_client_metadata_documents: true,
        client_metadata_allowed_hosts: vec!["localhost".into()],
        client_metadata_ca_file: Some(document.ca_file.clone()),
        ..config
    })
    .await;
    let script = "interop/node/mcp_client.mjs";
    let extra = ["--client-metadata-url", document.url.as_str()];
    // The consent page names the client and the host that vouches for the name.
    if let Some(result) =
        an_sdk_signs_in_and_calls_whoami(&waxseal, "node", script, &extra, &[name, "localhost"])
            .await
    {
        assert_eq!(
            result["client_id"],
            document.url.as_str(),
            "the document's URL is the client id: {result}"
        );
        assert!(
            waxseal.service.list_clients().await.unwrap().is_empty(),
            "nothing was registered"
        );
    }
    waxseal.stop().await;
}
