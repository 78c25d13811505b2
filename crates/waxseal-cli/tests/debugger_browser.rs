//! `waxseal debugger` in a real browser: the real binary on a loopback port, headless Chromium driven by the
//! testkit's `browser` harness. Tokens of all 14 algorithms (made here with the core crate), a malformed one, a
//! 100 KB one and an RFC 7520 JWE are pasted and the page's rendering is read back (the alg, the coloured parts);
//! verification with every key format (secrets as UTF-8 and base64url, PEM public keys, certificates, a JWK, a JWK
//! Set, and a JWKS URL and an issuer URL served by a fake issuer on loopback), with the exact reason a token is
//! refused; the weak-secret lint with its progress; a token signed in the page with a key generated in the page,
//! checked with `waxseal verify` and the core crate; the token field reached and filled by keyboard; a narrow screen
//! and the dark colour scheme.
//!
//! Every state is screenshotted into `target/browser-artifacts/debugger-*.png`, and checked with axe-core (serious
//! and critical violations fail) in the light and the dark scheme. Without Chromium the tests skip loudly (and fail
//! under `WAXSEAL_REQUIRE_SERVICES=1`), as the harness does.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use waxseal::jwt::{Signer, Verifier};
use waxseal::{Algorithm, Jwk, SigningKey, VerifyingKey};
use waxseal_testkit::browser::{
    Browser, Locator, Session, SessionOptions, assert_accessible, screenshot,
};
use waxseal_testkit::repo_root;

/// How long the page may take to show a result: generous for a loaded machine, bounded so a broken page fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// An HMAC secret long enough for HS256 (RFC 7518 §3.2).
const SECRET: &str = "a secret of at least thirty-two bytes!";

/// The RFC 7520 §5.8 JWE (AES key wrap, AES-GCM), compact.
const JWE_VECTOR: &str = "jose-cookbook/jwe/5_8.key_wrap_using_aes-keywrap_with_aes-gcm.json";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims_for(sub: &str) -> Value {
    let now = now();
    json!({ "sub": sub, "iss": "https://issuer.example", "iat": now - 60, "nbf": now - 60, "exp": now + 3600 })
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    Signer::new(key).sign(claims).unwrap()
}

/// An HS256 token under `secret`, built by hand: the core crate refuses secrets this short, as it should.
fn hs256_with_weak_secret(secret: &str, claims: &Value) -> String {
    use aws_lc_rs::hmac;
    let input = format!(
        "{}.{}",
        waxseal::b64::encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        waxseal::b64::encode(claims.to_string())
    );
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    format!("{input}.{}", waxseal::b64::encode(tag.as_ref()))
}

/// The compact JWE of RFC 7520 §5.8, from the shared vectors (missing vectors fail, never skip).
fn jwe_vector() -> String {
    let path = repo_root().join("../shared/vectors").join(JWE_VECTOR);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the JOSE cookbook vector {}: {e}", path.display()));
    let vector: Value = serde_json::from_str(&text).unwrap();
    vector["output"]["compact"].as_str().unwrap().to_owned()
}

/// `waxseal debugger --listen 127.0.0.1:0`, killed when dropped.
struct Debugger {
    child: Child,
    url: String,
}

impl Debugger {
    fn start() -> Debugger {
        Debugger::run(&["debugger", "--listen", "127.0.0.1:0"], "")
    }

    /// Runs `waxseal ARGS` and returns it with the page's URL: the first URL it prints, with `path` appended.
    fn run(args: &[&str], path: &str) -> Debugger {
        let mut child = common::server_command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let _ = child.kill();
                panic!("waxseal debugger exited before printing its URL");
            }
            // "waxseal debugger on http://…" or "waxseal serve listening on http://…" (colour codes dropped).
            if !line.contains(" on ") {
                continue;
            }
            if let Some(word) = line.split_whitespace().find(|w| w.contains("http://")) {
                let start = word.find("http://").unwrap();
                let url: String = word[start..]
                    .chars()
                    .take_while(|c| !c.is_control())
                    .collect();
                break url;
            }
        };
        // Keep draining stdout so the debugger never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Debugger {
            child,
            url: format!("{}{path}", url.trim_end_matches('/')),
        }
    }
}

impl Drop for Debugger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser and a debugger; `None` (skipped, loudly) without Chromium.
struct Rig {
    browser: Browser,
    debugger: Debugger,
}

impl Rig {
    async fn start() -> Option<Rig> {
        let browser = Browser::start().await?;
        Some(Rig {
            browser,
            debugger: Debugger::start(),
        })
    }

    /// `waxseal serve --debugger` instead, its page at `/debugger/`.
    async fn serve(data_dir: &std::path::Path) -> Option<Rig> {
        let browser = Browser::start().await?;
        let dir = data_dir.to_str().unwrap();
        let args = [
            "serve",
            "--debugger",
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "off",
            "--data-dir",
            dir,
        ];
        Some(Rig {
            browser,
            debugger: Debugger::run(&args, "/debugger/"),
        })
    }

    /// A session showing the debugger, ready (its script has wired the fields).
    async fn page(&self, options: SessionOptions) -> Session {
        let page = self.browser.session(options).await;
        self.open(&page).await;
        page
    }

    async fn open(&self, page: &Session) {
        page.goto(&self.debugger.url).await.unwrap();
        assert_eq!(page.title().await.unwrap(), "JWT debugger · waxseal");
        if page.options().javascript {
            // The claims template is filled by the script: once it holds JSON, the page is wired.
            wait_until(
                page,
                "document.getElementById('sign-claims').value.includes('\"exp\"')",
            )
            .await;
        }
    }

    /// Runs a Chrome DevTools Protocol command in the session's page, through chromedriver's `goog/cdp/execute`.
    async fn devtools(&self, page: &Session, cmd: &str, params: Value) {
        let id = page.session_id().await.unwrap().unwrap();
        let response = reqwest::Client::new()
            .post(format!(
                "{}/session/{id}/goog/cdp/execute",
                self.browser.webdriver_url()
            ))
            .json(&json!({ "cmd": cmd, "params": params }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{cmd}: {}",
            response.text().await.unwrap()
        );
    }
}

/// The page's JavaScript value of `expression`.
async fn eval(page: &Session, expression: &str) -> Value {
    page.execute(&format!("return {expression};"), Vec::new())
        .await
        .unwrap()
}

/// Polls `expression` until it is true (until [`DEADLINE`]); how long it took.
async fn wait_until(page: &Session, expression: &str) -> Duration {
    let started = Instant::now();
    loop {
        if eval(page, expression).await == json!(true) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < DEADLINE,
            "not true within {DEADLINE:?}: {expression}\n{}",
            eval(page, "document.querySelector('main').innerText")
                .await
                .as_str()
                .unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The text of the element with this id, as the page renders it (`innerText`).
async fn text(page: &Session, id: &str) -> String {
    let shown = page
        .execute(
            "const e = document.getElementById(arguments[0]); return e ? e.innerText : null;",
            vec![json!(id)],
        )
        .await
        .unwrap();
    shown
        .as_str()
        .unwrap_or_else(|| panic!("no #{id}"))
        .to_owned()
}

/// Puts `value` into a field as a paste does (one `input` event, then `change`), quicker than typing 100 KB.
async fn paste(page: &Session, id: &str, value: &str) {
    page.execute(
        "const field = document.getElementById(arguments[0]);
         field.value = arguments[1];
         field.dispatchEvent(new Event('input', { bubbles: true }));
         field.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![json!(id), json!(value)],
    )
    .await
    .unwrap();
}

async fn click(page: &Session, id: &str) {
    page.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Pastes `token` (after clearing the field, so no earlier result is mistaken for this one) and waits until the page
/// shows its kind or an error; how long the decode took.
async fn decode(page: &Session, token: &str) -> Duration {
    paste(page, "token", "").await;
    wait_until(
        page,
        "document.getElementById('token-kind').textContent === ''",
    )
    .await;
    paste(page, "token", token).await;
    wait_until(
        page,
        "document.getElementById('token-kind').textContent !== '' \
         || !document.getElementById('decode-error').hidden",
    )
    .await
}

/// Screenshots the page as `debugger-<name>`, with the element `show` in view, and checks it with axe-core.
async fn check(page: &Session, name: &str, show: &str) {
    page.execute(
        "document.getElementById(arguments[0]).scrollIntoView({ block: 'center' });",
        vec![json!(show)],
    )
    .await
    .unwrap();
    let name = format!("debugger-{name}");
    screenshot(page, &name).await;
    assert_accessible(page, &name).await;
    // The CSP forbids inline style: nothing the script renders may carry a style attribute.
    assert_eq!(
        eval(page, "document.querySelectorAll('[style]').length").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decodes_tokens_of_every_kind_as_they_are_pasted() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;
    check(&page, "empty", "token").await;

    // One RSA key for the six RSA algorithms (generating RSA keys is slow in a debug build): not bound to RS256.
    let mut rsa = SigningKey::generate(Algorithm::RS256)
        .unwrap()
        .to_jwk()
        .unwrap();
    rsa.alg = None;
    for alg in Algorithm::ALL {
        let key = if alg.name().starts_with("RS") || alg.name().starts_with("PS") {
            SigningKey::from_jwk_with_alg(&rsa, alg).unwrap()
        } else {
            SigningKey::generate(alg).unwrap()
        };
        let name = alg.name().to_lowercase();
        let token = sign(&key, &claims_for(&format!("user-{name}")));
        let took = decode(&page, &token).await;
        eprintln!("{alg}: decoded and shown in {took:?}");
        let kind = text(&page, "token-kind").await;
        assert!(
            kind.starts_with(&format!("JWS signed with {}", alg.name())),
            "{kind}"
        );
        let header = text(&page, "header").await;
        assert!(
            header.contains(&format!("\"alg\": \"{}\"", alg.name())),
            "{alg}: {header}"
        );
        let claims = text(&page, "claims").await;
        assert!(
            claims.contains(&format!("\"sub\": \"user-{name}\"")),
            "{claims}"
        );
        // The coloured parts are the token itself: header, payload and signature, each in its own colour.
        let parts = eval(
            &page,
            "[...document.querySelectorAll('#token-parts .seg')].map((s) => \
              [s.className, s.title, s.textContent, getComputedStyle(s).color])",
        )
        .await;
        let parts = parts.as_array().unwrap();
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{alg}: {parts:?}");
        for (i, (part, name)) in parts
            .iter()
            .zip(["header", "payload", "signature"])
            .enumerate()
        {
            assert_eq!(part[0], format!("seg seg-{i}"), "{alg}");
            assert_eq!(part[1], name, "{alg}");
            assert_eq!(part[2], segments[i], "{alg}: part {i}");
        }
        assert!(
            parts[0][3] != parts[1][3] && parts[1][3] != parts[2][3] && parts[0][3] != parts[2][3],
            "{alg}: three colours: {parts:?}"
        );
        assert_eq!(
            eval(&page, "document.getElementById('token-parts').textContent").await,
            json!(token)
        );
        check(&page, &format!("decoded-{name}"), "token-parts").await;
    }
    // The timeline orders iat/nbf, now and exp; exp is an hour away.
    let exp = text(&page, "timeline").await;
    assert!(exp.contains("expires (exp)"), "{exp}");
    let points = eval(
        &page,
        "[...document.querySelectorAll('#timeline li')].map((li) => li.dataset.point).join(' ')",
    )
    .await;
    assert_eq!(points, "iat nbf now exp", "the timeline is in time order");
    // Each registered claim explains itself on focus (so by keyboard too): exp in UTC, local time, and relative.
    page.execute(
        "document.querySelector(\".claim[data-claim='exp']\").focus();",
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        eval(
            &page,
            "getComputedStyle(document.querySelector(\".claim[data-claim='exp'] .note\")).display"
        )
        .await,
        "block",
        "the explanation of exp shows on focus"
    );
    let note = eval(
        &page,
        "document.querySelector(\".claim[data-claim='exp'] .note\").innerText",
    )
    .await;
    let note = note.as_str().unwrap();
    assert!(
        note.contains("UTC") && note.contains("Local") && note.contains("in "),
        "{note}"
    );
    check(&page, "decoded-eddsa-exp-note", "claims").await;

    // Malformed: said so, with the error's code.
    decode(&page, "eyJhbGciOiJIUzI1NiJ9.not base64!.x").await;
    let error = text(&page, "decode-error").await;
    assert!(
        error.ends_with(')'),
        "the error ends with its code: {error}"
    );
    eprintln!("malformed: {error}");
    check(&page, "malformed", "decode-error").await;

    // 100 KB: beyond what a verifier accepts by default, but an inspector shows it (the debugger decodes with
    // larger bounds), promptly.
    let big = sign(
        &SigningKey::generate(Algorithm::HS256).unwrap(),
        &json!({ "sub": "big", "blob": "x".repeat(100 * 1024) }),
    );
    let took = decode(&page, &big).await;
    let kind = text(&page, "token-kind").await;
    eprintln!("100 KB token: answered in {took:?}: {kind}");
    assert!(
        kind.contains("HS256"),
        "the 100 KB token is decoded: {kind}"
    );
    assert_eq!(text(&page, "decode-error").await, "", "no decode error");
    screenshot(&page, "debugger-100kb").await;

    // A JWE: recognised, its five parts coloured and its header shown; the claims stay encrypted.
    let jwe = jwe_vector();
    decode(&page, &jwe).await;
    let kind = text(&page, "token-kind").await;
    assert!(kind.starts_with("JWE"), "{kind}");
    assert_eq!(
        eval(
            &page,
            "document.querySelectorAll('#token-parts .seg').length"
        )
        .await,
        5
    );
    let header = text(&page, "header").await;
    assert!(
        header.contains("\"alg\": \"A128KW\"") && header.contains("\"enc\": \"A128GCM\""),
        "{header}"
    );
    check(&page, "jwe", "token-parts").await;

    // Unsecured (alg none): named as such, with the error-level warning.
    let none = format!(
        "{}.{}.",
        waxseal::b64::encode(r#"{"alg":"none"}"#),
        waxseal::b64::encode(r#"{"sub":"nobody"}"#)
    );
    decode(&page, &none).await;
    let kind = text(&page, "token-kind").await;
    assert!(kind.starts_with("Unsecured"), "{kind}");
    let warnings = text(&page, "warnings").await;
    assert!(warnings.contains("(alg_none)"), "{warnings}");
    eprintln!("unsecured: {kind} / {warnings}");
    check(&page, "unsecured", "warnings").await;
    assert!(
        eval(&page, "document.getElementById('dpop-box').hidden").await == true,
        "no DPoP box for a token that is neither a proof nor bound"
    );

    // A DPoP proof: what it is for, its request, its key, and that it verifies with that key (and only that).
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let proof = waxseal::dpop::Proof::new("POST", "https://as.example/oauth/token")
        .sign(&key)
        .unwrap();
    decode(&page, &proof).await;
    wait_until(&page, "!document.getElementById('dpop-box').hidden").await;
    let facts = text(&page, "dpop-facts").await;
    let jkt = key.public_jwk().unwrap().thumbprint().unwrap();
    assert!(
        facts.contains("POST https://as.example/oauth/token")
            && facts.contains(&jkt)
            && facts.contains("verifies with the key in its header"),
        "{facts}"
    );
    let meaning = text(&page, "dpop-meaning").await;
    assert!(meaning.contains("not whose key it is"), "{meaning}");
    check(&page, "dpop-proof", "dpop-box").await;
    // A token bound to that key: the thumbprint it needs a proof by.
    let bound = sign(
        &key,
        &json!({ "sub": "bound", "cnf": { "jkt": jkt }, "exp": now() + 600 }),
    );
    decode(&page, &bound).await;
    wait_until(&page, "!document.getElementById('dpop-box').hidden").await;
    let facts = text(&page, "dpop-facts").await;
    assert!(
        facts.contains("Bound to the key") && facts.contains(&jkt),
        "{facts}"
    );
}

/// Waits for a verification result and returns (valid, the text shown).
async fn verify_result(page: &Session) -> (bool, String) {
    wait_until(
        page,
        "['true', 'false'].includes(document.getElementById('verify-result').dataset.valid)",
    )
    .await;
    let valid = eval(
        page,
        "document.getElementById('verify-result').dataset.valid",
    )
    .await
        == "true";
    (valid, text(page, "verify-result").await)
}

/// Clears the verify result's state, so the next wait sees the next result.
async fn forget_verify_result(page: &Session) {
    page.execute(
        "delete document.getElementById('verify-result').dataset.valid;",
        Vec::new(),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifies_with_a_secret_and_a_jwk_and_says_why_it_refuses() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;
    let hmac = SigningKey::from_secret(SECRET.as_bytes(), Algorithm::HS256).unwrap();
    decode(&page, &sign(&hmac, &claims_for("alice"))).await;

    // A secret typed into the key field: verified as it is typed.
    page.find(Locator::Id("verify-format"))
        .await
        .unwrap()
        .select_by_value("secret")
        .await
        .unwrap();
    page.find(Locator::Id("verify-key"))
        .await
        .unwrap()
        .send_keys(SECRET)
        .await
        .unwrap();
    let (valid, shown) = verify_result(&page).await;
    assert!(valid, "{shown}");
    assert!(
        shown.starts_with("Signature verified (alg HS256"),
        "{shown}"
    );
    check(&page, "verified-secret", "verify-result").await;

    // The wrong secret: refused, with the reason and its code.
    forget_verify_result(&page).await;
    paste(&page, "verify-key", "not the secret, though long enough!!").await;
    let (valid, shown) = verify_result(&page).await;
    assert!(!valid, "{shown}");
    assert!(shown.starts_with("Refused: "), "{shown}");
    let code = eval(
        &page,
        "document.querySelector('#verify-result code').textContent",
    )
    .await;
    assert!(
        !code.as_str().unwrap().is_empty(),
        "the refusal carries its code: {shown}"
    );
    eprintln!("wrong secret: {shown}");
    check(&page, "refused-secret", "verify-result").await;

    // An issuer that does not match: refused for that reason.
    forget_verify_result(&page).await;
    paste(&page, "verify-key", SECRET).await;
    paste(&page, "verify-issuer", "https://other.example").await;
    let (valid, shown) = verify_result(&page).await;
    assert!(!valid && shown.contains("iss"), "{shown}");
    eprintln!("wrong issuer: {shown}");
    paste(&page, "verify-issuer", "").await;

    // An ES256 token and its public JWK.
    let ec = SigningKey::generate(Algorithm::ES256).unwrap();
    forget_verify_result(&page).await;
    paste(&page, "verify-format", "jwk").await;
    paste(&page, "verify-key", &ec.public_jwk().unwrap().to_json()).await;
    decode(&page, &sign(&ec, &claims_for("bob"))).await;
    let (valid, shown) = verify_result(&page).await;
    assert!(valid, "{shown}");
    assert!(
        shown.starts_with("Signature verified (alg ES256"),
        "{shown}"
    );
    check(&page, "verified-jwk", "verify-result").await;

    // Expired an hour ago: refused, and the page says it expired.
    let now = now();
    forget_verify_result(&page).await;
    decode(
        &page,
        &sign(
            &ec,
            &json!({ "sub": "bob", "iat": now - 7200, "exp": now - 3600 }),
        ),
    )
    .await;
    let (valid, shown) = verify_result(&page).await;
    assert!(!valid && shown.contains("expired"), "{shown}");
    let warnings = text(&page, "warnings").await;
    assert!(
        warnings.contains("(expired)"),
        "decode warns too: {warnings}"
    );
    eprintln!("expired: {shown}");
    check(&page, "refused-expired", "verify-result").await;
}

/// Sets the token and the verify key in one step (one script, so the page never verifies a half-set pair) and
/// returns the result shown: (valid, the text). A new token is verified at once, remote key formats included.
async fn verify_with(page: &Session, token: &str, format: &str, key: &str) -> (bool, String) {
    page.execute(
        "delete document.getElementById('verify-result').dataset.valid;
         document.getElementById('verify-format').value = arguments[1];
         document.getElementById('verify-key').value = arguments[2];
         const field = document.getElementById('token');
         field.value = arguments[0];
         field.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![json!(token), json!(format), json!(key)],
    )
    .await
    .unwrap();
    verify_result(page).await
}

/// The code of the refusal shown (the `<code>` of the verify result).
async fn refusal_code(page: &Session) -> String {
    eval(
        page,
        "document.querySelector('#verify-result code')?.textContent ?? ''",
    )
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

/// A fake issuer on loopback, in the test's runtime: OpenID Connect discovery and the JWK Set; its URL.
async fn fake_issuer(jwks: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({ "issuer": url, "jwks_uri": format!("{url}/jwks.json") });
    let app = axum::Router::new()
        .route(
            "/jwks.json",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        )
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn public_jwk(key: &SigningKey) -> Value {
    serde_json::from_str(&key.public_jwk().unwrap().to_json()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifies_with_every_key_format_and_a_fake_issuer() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;
    let fixtures = repo_root().join("crates/waxseal/tests/fixtures/keys");
    let pem = |name: &str| {
        std::fs::read_to_string(fixtures.join(name))
            .unwrap_or_else(|e| panic!("the key fixture {name}: {e}"))
    };
    let valid = async |name: &str, token: &str, format: &str, key: &str, alg: &str| {
        let (valid, shown) = verify_with(&page, token, format, key).await;
        eprintln!("{name}: {shown}");
        assert!(valid, "{name}: {shown}");
        assert!(
            shown.starts_with(&format!("Signature verified (alg {alg}")),
            "{name}: {shown}"
        );
        check(&page, &format!("verified-{name}"), "verify-result").await;
        shown
    };

    // Secrets, as UTF-8 text and as base64url.
    let hmac = SigningKey::from_secret(SECRET.as_bytes(), Algorithm::HS256).unwrap();
    let token = sign(&hmac, &claims_for("secret"));
    valid("secret-utf8", &token, "secret", SECRET, "HS256").await;
    let encoded = waxseal::b64::encode(SECRET);
    valid(
        "secret-base64url",
        &token,
        "secret_base64url",
        &encoded,
        "HS256",
    )
    .await;

    // PEM public keys (SPKI) and X.509 certificates: an EC P-256 key and an RSA key, from the fixtures.
    let ec = SigningKey::from_pem(&pem("ec-p256-pkcs8.pem"), Algorithm::ES256).unwrap();
    let rsa = SigningKey::from_pem(&pem("rsa-pkcs8.pem"), Algorithm::PS256).unwrap();
    let ec_token = sign(&ec, &claims_for("pem"));
    let rsa_token = sign(&rsa, &claims_for("pem"));
    valid(
        "pem-ec",
        &ec_token,
        "pem",
        &pem("ec-p256-spki.pem"),
        "ES256",
    )
    .await;
    valid("pem-rsa", &rsa_token, "pem", &pem("rsa-spki.pem"), "PS256").await;
    let cert = pem("ec-p256-cert.pem");
    valid("certificate-ec", &ec_token, "certificate", &cert, "ES256").await;
    let cert = pem("rsa-cert.pem");
    valid("certificate-rsa", &rsa_token, "certificate", &cert, "PS256").await;

    // A JWK, and a JWK Set holding it among others (the token's kid picks it).
    let ed = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .with_kid("ed-1");
    let k1 = SigningKey::generate(Algorithm::ES256K)
        .unwrap()
        .with_kid("k256-1");
    let token = sign(&ed, &claims_for("jwk"));
    let shown = valid("jwk", &token, "jwk", &public_jwk(&ed).to_string(), "EdDSA").await;
    assert!(shown.contains("kid ed-1"), "{shown}");
    let set = json!({ "keys": [public_jwk(&k1), public_jwk(&ed), public_jwk(&ec)] }).to_string();
    valid("jwks", &token, "jwks", &set, "EdDSA").await;
    let token = sign(&k1, &claims_for("jwks"));
    valid("jwks-es256k", &token, "jwks", &set, "ES256K").await;

    // A local fake issuer: its JWK Set by URL, and the issuer found by discovery.
    let issuer_key = SigningKey::generate(Algorithm::ES384)
        .unwrap()
        .with_kid("issuer-1");
    let url = fake_issuer(json!({ "keys": [public_jwk(&issuer_key)] })).await;
    let mut claims = claims_for("remote");
    claims["iss"] = json!(url);
    let token = sign(&issuer_key, &claims);
    let jwks_url = format!("{url}/jwks.json");
    let shown = valid("jwks-url", &token, "jwks_url", &jwks_url, "ES384").await;
    assert!(shown.contains("/jwks.json"), "the key's source: {shown}");
    let shown = valid("issuer", &token, "issuer", &url, "ES384").await;
    assert!(shown.contains("discovery"), "the key's source: {shown}");
    // As a person does it: the token stays, a URL is typed in (remote keys are not fetched on keystrokes) and the
    // Verify button pressed.
    paste(&page, "verify-format", "jwks_url").await;
    paste(&page, "verify-key", &jwks_url).await;
    forget_verify_result(&page).await;
    click(&page, "verify-button").await;
    let (valid, shown) = verify_result(&page).await;
    assert!(valid && shown.contains("/jwks.json"), "{shown}");

    // Refusals from remote keys, each with its code.
    let refused = async |name: &str, token: &str, format: &str, key: &str, code: &str| {
        let (valid, shown) = verify_with(&page, token, format, key).await;
        eprintln!("{name}: {shown}");
        assert!(!valid, "{name}: {shown}");
        assert!(shown.starts_with("Refused: "), "{name}: {shown}");
        assert_eq!(refusal_code(&page).await, code, "{name}: {shown}");
        check(&page, &format!("refused-{name}"), "verify-result").await;
    };
    // A key the issuer does not publish (an unknown kid), by JWKS URL and by discovery.
    let stranger = SigningKey::generate(Algorithm::ES384)
        .unwrap()
        .with_kid("unknown-kid");
    let foreign = sign(&stranger, &claims);
    refused(
        "jwks-url-unknown-kid",
        &foreign,
        "jwks_url",
        &jwks_url,
        "ERR_KEY_NOT_FOUND",
    )
    .await;
    refused(
        "issuer-unknown-kid",
        &foreign,
        "issuer",
        &url,
        "ERR_KEY_NOT_FOUND",
    )
    .await;
    // A token that names another issuer: refused by the discovered one.
    let other = sign(&issuer_key, &claims_for("elsewhere"));
    refused("issuer-mismatch", &other, "issuer", &url, "ERR_JWT_ISSUER").await;
    // Nothing listening: the fetch fails, and says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    refused(
        "jwks-url-unreachable",
        &token,
        "jwks_url",
        &format!("http://{closed}/jwks.json"),
        "ERR_REMOTE_FETCH",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lints_a_token_signed_with_a_weak_secret() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;
    decode(
        &page,
        &hs256_with_weak_secret("secret", &claims_for("weak")),
    )
    .await;
    assert_eq!(
        eval(&page, "document.getElementById('lint-secrets').checked").await,
        true
    );
    click(&page, "lint-button").await;
    wait_until(
        &page,
        "document.querySelector('#lint-findings li.error, #lint-findings li.warning') !== null",
    )
    .await;
    let findings = text(&page, "lint-findings").await;
    eprintln!("lint findings:\n{findings}");
    assert!(findings.to_lowercase().contains("secret"), "{findings}");
    assert!(
        findings.contains("Fix: "),
        "findings carry their fix: {findings}"
    );
    check(&page, "lint-weak-secret", "lint-findings").await;

    // A strong secret: the whole list is searched, with the progress bar shown while it runs (watched by an
    // observer, since a fast machine may finish between two polls), and the secret is not found.
    let strong = SigningKey::generate(Algorithm::HS256).unwrap();
    decode(&page, &sign(&strong, &claims_for("strong"))).await;
    page.execute(
        "window.sawProgress = false;
         new MutationObserver(() => {
             if (!document.getElementById('lint-progress-row').hidden) window.sawProgress = true;
         }).observe(document.getElementById('lint-progress-row'), { attributes: true });",
        Vec::new(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    click(&page, "lint-button").await;
    wait_until(
        &page,
        "!document.getElementById('lint-form').hasAttribute('aria-busy') \
         && document.querySelector('#lint-findings li') !== null",
    )
    .await;
    eprintln!("lint of a strong secret: {:?}", started.elapsed());
    assert_eq!(
        eval(&page, "window.sawProgress").await,
        true,
        "the progress bar showed"
    );
    let findings = text(&page, "lint-findings").await;
    assert!(!findings.contains("weak_secret"), "{findings}");
}

/// `waxseal verify ARGS TOKEN`, the real binary (off the runtime's threads): it must accept; its standard output.
async fn waxseal_verify(args: &[&str], token: &str) -> String {
    let mut cmd = common::waxseal();
    cmd.arg("verify").args(args).arg(token);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "waxseal verify {args:?} refused the page's token: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("waxseal verify {}: {}", args[0], stdout.trim());
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_a_token_that_waxseal_verify_and_the_core_crate_accept() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;

    // ES256 with a key generated by the page's button.
    paste(&page, "sign-alg", "ES256").await;
    click(&page, "keygen-button").await;
    wait_until(
        &page,
        "document.getElementById('keygen-public').value !== ''",
    )
    .await;
    click(&page, "sign-button").await;
    wait_until(
        &page,
        "document.getElementById('signed-token').value !== ''",
    )
    .await;
    let token = eval(&page, "document.getElementById('signed-token').value").await;
    let public = eval(&page, "document.getElementById('keygen-public').value").await;
    let key = VerifyingKey::from_jwk(&Jwk::from_json(public.as_str().unwrap()).unwrap()).unwrap();
    let claims = Verifier::new(key)
        .verify::<Value>(token.as_str().unwrap())
        .unwrap();
    assert_eq!(
        claims.registered.sub.as_deref(),
        Some("alice"),
        "the page's claims template"
    );
    // And `waxseal verify` accepts it, with the page's public JWK in a file.
    let dir = tempfile::tempdir().unwrap();
    let jwk_file = dir.path().join("es256.jwk");
    std::fs::write(&jwk_file, public.as_str().unwrap()).unwrap();
    let out = waxseal_verify(
        &["--key", jwk_file.to_str().unwrap()],
        token.as_str().unwrap(),
    )
    .await;
    assert!(out.contains("alice"), "{out}");
    check(&page, "signed-es256", "sign-result").await;

    // The signed token goes to the decoder, with the public key to verify it.
    click(&page, "use-token").await;
    let (valid, shown) = verify_result(&page).await;
    assert!(valid, "{shown}");
    assert_eq!(
        eval(&page, "document.activeElement.id").await,
        "token",
        "focus moves to the token"
    );

    // HS384 with a typed secret and edited claims.
    paste(&page, "sign-alg", "HS384").await;
    paste(&page, "sign-format", "secret").await;
    paste(
        &page,
        "sign-key",
        "a secret of forty-eight bytes for HMAC-SHA-384!!",
    )
    .await;
    paste(&page, "sign-claims", r#"{"sub": "carol", "scope": "read"}"#).await;
    paste(&page, "signed-token", "").await;
    click(&page, "sign-button").await;
    wait_until(
        &page,
        "document.getElementById('signed-token').value !== ''",
    )
    .await;
    let token = eval(&page, "document.getElementById('signed-token').value").await;
    let key = VerifyingKey::from_secret(
        b"a secret of forty-eight bytes for HMAC-SHA-384!!",
        Algorithm::HS384,
    )
    .unwrap();
    let claims = Verifier::new(key)
        .require_exp(false)
        .verify::<Value>(token.as_str().unwrap())
        .unwrap();
    assert_eq!(claims.custom["scope"], "read");
    // `waxseal verify` with the secret's bytes in a file (no newline: the file is used as it is).
    let secret_file = dir.path().join("hs384.secret");
    std::fs::write(
        &secret_file,
        "a secret of forty-eight bytes for HMAC-SHA-384!!",
    )
    .unwrap();
    let args = ["--secret-file", secret_file.to_str().unwrap()];
    let out = waxseal_verify(&args, token.as_str().unwrap()).await;
    assert!(out.contains("carol"), "{out}");
    check(&page, "signed-hs384", "sign-result").await;

    // Claims that are not JSON: said so, nothing sent.
    paste(&page, "sign-claims", "{not json").await;
    click(&page, "sign-button").await;
    wait_until(
        &page,
        "document.getElementById('sign-status').textContent.startsWith('Cannot sign')",
    )
    .await;
    check(&page, "sign-bad-json", "sign-status").await;
}

/// One press of Tab, wherever the focus is (as a person presses it, through WebDriver's actions).
async fn press_tab(page: &Session) {
    use waxseal_testkit::browser::fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
    let tab = '\u{E004}';
    let actions = KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down { value: tab })
        .then(KeyAction::Up { value: tab });
    page.perform_actions(actions).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_field_is_reached_and_filled_by_keyboard() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;
    // The page is small and quick: what it loads, and when it became interactive.
    let timing = eval(
        &page,
        "(() => { const n = performance.getEntriesByType('navigation')[0]; \
          const bytes = performance.getEntriesByType('resource').reduce((s, r) => s + r.encodedBodySize, n.encodedBodySize); \
          return [n.domInteractive, n.domContentLoadedEventEnd, bytes]; })()",
    )
    .await;
    eprintln!(
        "page: interactive at {} ms, DOMContentLoaded done at {} ms, {} bytes",
        timing[0], timing[1], timing[2]
    );
    assert!(
        timing[2].as_f64().unwrap() < 64.0 * 1024.0,
        "the page stays small: {timing}"
    );

    // The first Tab lands in the token field, whose focus is visible.
    press_tab(&page).await;
    assert_eq!(eval(&page, "document.activeElement.id").await, "token");
    assert_ne!(
        eval(
            &page,
            "getComputedStyle(document.activeElement).outlineStyle"
        )
        .await,
        "none",
        "the focus is visible"
    );
    let key = SigningKey::from_secret(SECRET.as_bytes(), Algorithm::HS256).unwrap();
    let token = sign(&key, &claims_for("keyboard"));
    page.active_element()
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    wait_until(
        &page,
        "document.getElementById('claims').textContent.includes('\"keyboard\"')",
    )
    .await;
    // Onwards by Tab: the registered claims are focus stops, the verify key field comes after them.
    let mut stops = Vec::new();
    for _ in 0..30 {
        press_tab(&page).await;
        let id = eval(
            &page,
            "document.activeElement.id || document.activeElement.dataset.claim || ''",
        )
        .await;
        let id = id.as_str().unwrap().to_owned();
        stops.push(id.clone());
        if id == "verify-key" {
            break;
        }
    }
    eprintln!("tab order: {}", stops.join(" → "));
    assert!(
        stops.contains(&"exp".to_owned()) && stops.contains(&"verify-key".to_owned()),
        "{stops:?}"
    );
    check(&page, "keyboard", "verify-key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_fits_a_narrow_screen_and_a_dark_color_scheme() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let key = SigningKey::generate(Algorithm::ES384).unwrap();
    let token = sign(&key, &claims_for("dark"));
    // The worst case for a narrow screen: a key id and a claim that are one long word each.
    let long_words = Signer::with_header(
        &SigningKey::from_secret(SECRET.as_bytes(), Algorithm::HS256).unwrap(),
        &waxseal::jws::HeaderBuilder::new()
            .typ("JWT")
            .kid("k".repeat(120)),
    )
    .unwrap()
    .sign(&json!({ "sub": "narrow", "url": format!("https://example.com/{}", "x".repeat(200)) }))
    .unwrap();

    // A phone's viewport, emulated (Chromium keeps a window at least 500 px wide): one column, no sideways scroll.
    let narrow = rig.browser.session(SessionOptions::default()).await;
    rig.devtools(
        &narrow,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 375, "height": 740, "deviceScaleFactor": 1, "mobile": true }),
    )
    .await;
    rig.open(&narrow).await;
    decode(&narrow, &long_words).await;
    assert_eq!(eval(&narrow, "window.innerWidth").await, 375);
    assert_eq!(
        eval(
            &narrow,
            "getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length"
        )
        .await,
        1,
        "one column on a narrow screen"
    );
    let scroll = eval(&narrow, "document.documentElement.scrollWidth").await;
    assert!(
        scroll.as_u64().unwrap() <= 375,
        "no sideways scrolling: {scroll}"
    );
    check(&narrow, "narrow", "claims").await;

    // The dark scheme: its palette applies and axe finds nothing serious (contrast included).
    let dark = rig.browser.session(SessionOptions::default()).await;
    rig.devtools(
        &dark,
        "Emulation.setEmulatedMedia",
        json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
    )
    .await;
    rig.open(&dark).await;
    assert_eq!(
        eval(&dark, "getComputedStyle(document.body).backgroundColor").await,
        "rgb(22, 22, 24)"
    );
    decode(&dark, &token).await;
    paste(&dark, "verify-format", "jwk").await;
    paste(&dark, "verify-key", &key.public_jwk().unwrap().to_json()).await;
    verify_result(&dark).await;
    check(&dark, "dark-verified", "verify-result").await;
    decode(&dark, &jwe_vector()).await;
    click(&dark, "lint-button").await;
    wait_until(
        &dark,
        "!document.getElementById('lint-form').hasAttribute('aria-busy') \
         && document.querySelector('#lint-findings li') !== null",
    )
    .await;
    check(&dark, "dark-jwe-lint", "lint-findings").await;

    // Without JavaScript the page says what to use instead.
    let plain = rig
        .browser
        .session(SessionOptions::without_javascript())
        .await;
    rig.open(&plain).await;
    let notice = text(&plain, "noscript-notice").await;
    assert!(notice.contains("needs JavaScript"), "{notice}");
    screenshot(&plain, "debugger-no-javascript").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_mounted_in_serve_with_the_servers_key_set_preselected() {
    let dir = tempfile::tempdir().unwrap();
    let Some(rig) = Rig::serve(dir.path()).await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;
    // The page's relative URLs reach its assets and API under /debugger/.
    assert_eq!(
        eval(&page, "getComputedStyle(document.body).backgroundColor").await,
        "rgb(246, 245, 242)",
        "the stylesheet applies"
    );
    wait_until(&page, "document.getElementById('verify-key').value !== ''").await;
    assert_eq!(
        eval(&page, "document.getElementById('verify-format').value").await,
        "jwks_url"
    );
    let jwks = eval(&page, "document.getElementById('verify-key').value").await;
    eprintln!("preselected: {jwks}");
    assert!(
        jwks.as_str().unwrap().starts_with("http://127.0.0.1:"),
        "{jwks}"
    );
    // A token signed elsewhere: decoded, and refused by the server's keys with the reason.
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    decode(&page, &sign(&key, &claims_for("mounted"))).await;
    let (valid, shown) = verify_result(&page).await;
    assert!(!valid, "{shown}");
    eprintln!("foreign token against the server's JWKS: {shown}");
    check(&page, "mounted-in-serve", "verify-result").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypts_a_pasted_jwe_and_shows_the_nested_jwt() {
    use waxseal::jwe::{ContentEncryption, DecryptionKey, Encrypter, KeyManagement};

    let Some(rig) = Rig::start().await else {
        return;
    };
    let page = rig.page(SessionOptions::default()).await;
    let signer = SigningKey::generate(Algorithm::ES256).unwrap();
    let jwt = sign(&signer, &claims_for("nested-alice"));
    let key = DecryptionKey::generate(KeyManagement::A256KW).unwrap();
    let jwe = Encrypter::new(&key.encryption_key(), ContentEncryption::A256Gcm)
        .cty("JWT")
        .encrypt_compact(jwt.as_bytes())
        .unwrap();
    decode(&page, &jwe).await;
    assert_eq!(text(&page, "verify-button").await, "Decrypt");
    page.execute(
        "document.getElementById('verify-format').value = 'jwk';",
        Vec::new(),
    )
    .await
    .unwrap();
    paste(&page, "verify-key", &key.to_jwk().unwrap().to_json()).await;
    wait_until(
        &page,
        "document.getElementById('verify-result').dataset.decrypted === 'true'",
    )
    .await;
    assert_eq!(text(&page, "plaintext").await, jwt);
    let claims = text(&page, "nested-claims").await;
    assert!(claims.contains("nested-alice"), "{claims}");
    check(&page, "decrypted", "decrypt-result").await;

    // A wrong key: refused with the core's code, no plaintext shown.
    let other = DecryptionKey::generate(KeyManagement::A256KW).unwrap();
    paste(&page, "verify-key", &other.to_jwk().unwrap().to_json()).await;
    wait_until(
        &page,
        "document.getElementById('verify-result').dataset.decrypted === 'false'",
    )
    .await;
    let shown = text(&page, "verify-result").await;
    assert!(shown.contains("ERR_JWE_DECRYPTION_FAILED"), "{shown}");
    assert_eq!(
        eval(&page, "document.getElementById('decrypt-result').hidden").await,
        true
    );

    // Back to the right key, then the nested JWT goes to the token field to be verified.
    paste(&page, "verify-key", &key.to_jwk().unwrap().to_json()).await;
    wait_until(
        &page,
        "document.getElementById('verify-result').dataset.decrypted === 'true'",
    )
    .await;
    click(&page, "verify-nested").await;
    wait_until(
        &page,
        "document.getElementById('token-kind').textContent.startsWith('JWS')",
    )
    .await;
    assert_eq!(
        eval(&page, "document.getElementById('token').value").await,
        json!(jwt)
    );
    assert_eq!(text(&page, "verify-button").await, "Verify");
}
