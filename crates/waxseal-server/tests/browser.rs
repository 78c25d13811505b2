//! OpenID Connect sign-in in a real browser (the issue's "In a real browser" criteria): headless Chromium, driven
//! by the testkit's `browser` harness, walks the authorization code flow from an application of the test's own on
//! another loopback port (its redirect URI is a page that shows what it received) to the server's sign-in and
//! consent pages and back; the test then exchanges the code from the browser's address bar, checks the ID token
//! and calls userinfo. Further: single sign-on on a second authorization, `prompt=none` without a session, one
//! browser ending another's session at `/account` (whose refresh token then fails), logout through the
//! confirmation page, the signed-out and error pages, the whole flow with JavaScript disabled, framing refused,
//! and a narrow screen and a dark color scheme.
//!
//! Every page a person sees is screenshotted into `target/browser-artifacts/` (kept as test artifacts) and, where
//! JavaScript runs, checked with axe-core (serious and critical violations fail). Without Chromium the tests skip
//! loudly (and fail under CI), as the harness does; axe-core comes from `npm ci --prefix interop/node`. The narrow
//! screen and the dark scheme are emulated through chromedriver's DevTools command (Chromium keeps a window at least
//! 500 px wide).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use common::agent::pkce;
use common::{PASSWORD, TestClock, TestServer, basic};
use serde_json::{Value, json};
use waxseal_server::WebClient;
use waxseal_testkit::browser::fantoccini::elements::Element;
use waxseal_testkit::browser::{
    Browser, Locator, Session, SessionOptions, assert_accessible, screenshot,
};

/// How long a page may take to appear: generous for a loaded machine, bounded so a broken flow fails.
const DEADLINE: Duration = Duration::from_secs(20);
const STATE: &str = "st-123 & ü";
const NONCE: &str = "n-0S6_WzA2Mj";
const SCOPE: &str = "openid profile email offline_access read";
const SIGN_IN_FORM: &str = "form[action='/signin']";
const CONSENT_FORM: &str = "form[action='/consent']";

/// `&`, `<`, `>` and quotes escaped, for the application's pages.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn app_page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>"
    ))
}

/// `/callback` and `/bye`: the query received, each parameter in an element with its name as id.
async fn shows_query(Query(query): Query<Vec<(String, String)>>) -> Html<String> {
    let mut items = String::new();
    for (name, value) in &query {
        let (name, value) = (escape(name), escape(value));
        let _ = write!(items, "<dt>{name}</dt><dd id=\"{name}\">{value}</dd>");
    }
    app_page("Example App", &format!("<dl>{items}</dl>"))
}

/// `/frame?src=URL`: a page framing the application's own `/callback?framed=yes` (which may be framed) and `URL`.
async fn frame(Query(query): Query<BTreeMap<String, String>>) -> Html<String> {
    let src = escape(query.get("src").map_or("", String::as_str));
    app_page(
        "Framing",
        &format!(
            "<iframe id=\"control\" title=\"control\" src=\"/callback?framed=yes\"></iframe>\
             <iframe id=\"target\" title=\"target\" src=\"{src}\"></iframe>"
        ),
    )
}

/// `/spa`: a single-page app that signs in with the code flow and PKCE using nothing but `fetch` across origins,
/// as oidc-client-ts does. Started with `?issuer=…&client_id=…`, it reads the discovery document, keeps the PKCE
/// verifier in `sessionStorage` and goes to the authorization endpoint; back with `?code=…`, it exchanges the code
/// (a form POST), reads userinfo (with `Authorization`, so after a preflight), reads the JWKS and revokes the refresh
/// token, and shows what each answered in `#result`, or the failure in `#status`.
const SPA: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Single Page App</title></head>
<body><main><h1>Single Page App</h1><p id="status">working</p><pre id="result"></pre></main>
<script>
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const show = (status, result) => {
  document.getElementById("result").textContent = result ? JSON.stringify(result) : "";
  document.getElementById("status").textContent = status;
};
const redirectUri = location.origin + "/spa";
async function start(params) {
  const issuer = params.get("issuer");
  const discovery = await (await fetch(issuer + "/.well-known/openid-configuration")).json();
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("spa", JSON.stringify({ discovery, verifier, state, clientId: params.get("client_id") }));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({ response_type: "code", client_id: params.get("client_id"),
    redirect_uri: redirectUri, scope: "openid profile offline_access", state,
    code_challenge: challenge, code_challenge_method: "S256" });
  location.assign(url);
}
async function finish(params) {
  const saved = JSON.parse(sessionStorage.getItem("spa"));
  if (params.get("state") !== saved.state) throw new Error("state mismatch");
  const d = saved.discovery;
  const token = await fetch(d.token_endpoint, { method: "POST", body: new URLSearchParams({
    grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri,
    client_id: saved.clientId, code_verifier: saved.verifier }) });
  const tokens = await token.json();
  const userinfo = await fetch(d.userinfo_endpoint,
    { headers: { Authorization: "Bearer " + tokens.access_token } });
  const jwks = await (await fetch(d.jwks_uri)).json();
  const revoke = await fetch(d.revocation_endpoint, { method: "POST", body: new URLSearchParams({
    token: tokens.refresh_token, token_type_hint: "refresh_token", client_id: saved.clientId }) });
  show("done", { token_status: token.status, token_type: tokens.token_type,
    has_refresh_token: typeof tokens.refresh_token === "string",
    userinfo_status: userinfo.status, userinfo: await userinfo.json(),
    jwks_keys: jwks.keys.length, revoke_status: revoke.status });
}
const params = new URLSearchParams(location.search);
(params.has("code") ? finish(params) : start(params)).catch((e) => show("failed: " + e));
</script></body></html>"#;

/// `/probe?issuer=…&token=…`: what a page on an origin no client registered gets when it calls userinfo and the
/// token endpoint: `#userinfo` and `#token` say `blocked` when the browser refused it the answers.
const PROBE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Probe</title></head>
<body><main><h1>Probe</h1><p id="userinfo">working</p><p id="token">working</p></main>
<script>
const params = new URLSearchParams(location.search);
const issuer = params.get("issuer");
const outcome = (id, call) => call.then((r) => "read " + r.status, (e) => "blocked: " + e.name)
  .then((text) => { document.getElementById(id).textContent = text; });
outcome("userinfo", fetch(issuer + "/userinfo", { headers: { Authorization: "Bearer " + params.get("token") } }));
outcome("token", fetch(issuer + "/oauth/token", { method: "POST",
  body: new URLSearchParams({ grant_type: "authorization_code", code: "x", client_id: params.get("client_id") }) }));
</script></body></html>"#;

/// The relying party's web application, on a loopback port of its own; stops when dropped.
struct App {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    async fn start() -> App {
        let listener = common::bind().await;
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .route("/callback", get(shows_query))
            .route("/bye", get(shows_query))
            .route("/frame", get(frame))
            .route("/spa", get(async || Html(SPA)))
            .route("/probe", get(async || Html(PROBE)));
        let task = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        App { url, task }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A browser, a server with alice and a client registered for the application, and the application.
struct Rp {
    browser: Browser,
    server: TestServer,
    clock: Arc<TestClock>,
    app: App,
    client_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

impl Rp {
    /// `None` (skipped, loudly) without Chromium. A client that is not first-party: its users see consent.
    async fn start() -> Option<Rp> {
        let browser = Browser::start().await?;
        let app = App::start().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new();
        let server = TestServer::start_at_own_url(dir.path(), clock.clone()).await;
        server.add_alice_with_profile().await;
        let client = server
            .add_web_client(
                "Example App",
                &["read"],
                WebClient {
                    redirect_uris: vec![format!("{}/callback", app.url)],
                    post_logout_redirect_uris: vec![format!("{}/bye", app.url)],
                    public: false,
                    first_party: false,
                    ..WebClient::default()
                },
            )
            .await;
        Some(Rp {
            browser,
            server,
            clock,
            app,
            client_id: client.client_id.clone(),
            secret: client.client_secret.to_string(),
            _dir: dir,
        })
    }

    /// Chromium goes first, so no connection of its keeps the server's graceful shutdown waiting.
    async fn stop(self) {
        drop(self.browser);
        self.server.stop().await;
    }

    async fn session(&self, options: SessionOptions) -> Session {
        self.browser.session(options).await
    }

    fn redirect_uri(&self) -> String {
        format!("{}/callback", self.app.url)
    }

    /// The authorization URL: a complete, valid request with these parameters added.
    fn authorize_url(&self, challenge: &str, extra: &[(&str, &str)]) -> String {
        let redirect_uri = self.redirect_uri();
        let mut url = url::Url::parse(&self.server.at("/authorize")).unwrap();
        url.query_pairs_mut()
            .extend_pairs([
                ("client_id", self.client_id.as_str()),
                ("redirect_uri", &redirect_uri),
                ("response_type", "code"),
                ("scope", SCOPE),
                ("state", STATE),
                ("nonce", NONCE),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ])
            .extend_pairs(extra);
        url.into()
    }

    /// The whole flow of a browser not signed in: the sign-in page (username and password typed, "Sign in"
    /// clicked), the consent page ("Allow" clicked), the application's callback. With `shots`, each page is
    /// screenshotted as `<shots>-<page>` and, when the session runs JavaScript, checked with axe-core. Returns
    /// the tokens and the ID token's claims, checked.
    async fn sign_in_and_allow(&self, page: &Session, shots: Option<&str>) -> (Value, Value) {
        let (verifier, challenge) = pkce();
        page.goto(&self.authorize_url(&challenge, &[]))
            .await
            .unwrap();
        wait_for(page, SIGN_IN_FORM).await;
        assert_eq!(page.title().await.unwrap(), "Sign in · waxseal");
        let main = text(page, "main").await;
        assert!(main.contains("to continue to Example App"), "{main}");
        check_page(page, shots, "sign-in").await;
        sign_in(page).await;

        wait_for(page, CONSENT_FORM).await;
        assert_eq!(text(page, "h1").await, "Allow Example App?");
        check_page(page, shots, "consent").await;
        click(page, "button[name='decision'][value='allow']").await;

        let params = self.at_callback(page).await;
        if let Some(shots) = shots {
            screenshot(page, &format!("{shots}-app-callback")).await;
        }
        assert_eq!(params["state"], STATE, "state echoed exactly");
        assert_eq!(params["iss"], self.server.url, "RFC 9207 iss");
        let tokens = self.exchange(&params["code"], &verifier).await;
        let claims = self.check_tokens(&tokens).await;
        (tokens, claims)
    }

    /// Waits for the browser to land at the application's callback, checks that the page shows what the address
    /// bar carries, and returns the query.
    async fn at_callback(&self, page: &Session) -> BTreeMap<String, String> {
        let url = wait_until_at(page, &format!("{}?", self.redirect_uri())).await;
        let params: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(text(page, "h1").await, "Example App");
        for (name, value) in &params {
            assert_eq!(&text(page, &format!("dd[id='{name}']")).await, value);
        }
        params
    }

    /// `POST /oauth/token` with the code; asserts success and returns the tokens.
    async fn exchange(&self, code: &str, verifier: &str) -> Value {
        let redirect_uri = self.redirect_uri();
        let response = self
            .server
            .oauth(
                "/oauth/token",
                Some(&basic(&self.client_id, &self.secret)),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        assert_eq!(response.status, 200, "{response:?}");
        assert_eq!(response.body["scope"], SCOPE);
        assert!(
            response.body["refresh_token"].is_string(),
            "offline_access gives a refresh token: {response:?}"
        );
        response.body
    }

    /// Verifies the ID token (signature, issuer, audience) and its nonce, at_hash and auth_time, calls userinfo
    /// with the access token, and returns the ID token's claims.
    async fn check_tokens(&self, tokens: &Value) -> Value {
        let jwks = self.server.get_text("/.well-known/jwks.json").await;
        let keys = waxseal::KeySet::from_jwks(&jwks).unwrap();
        let verified = waxseal::jwt::Verifier::new(keys)
            .issuer(self.server.url.clone())
            .audience(self.client_id.clone())
            .verify::<Value>(tokens["id_token"].as_str().unwrap())
            .unwrap();
        let mut claims = serde_json::to_value(&verified.registered).unwrap();
        if let (Value::Object(map), Value::Object(custom)) = (&mut claims, verified.custom) {
            map.extend(custom);
        }
        assert_eq!(claims["nonce"], NONCE, "nonce echoed exactly");
        assert_eq!(claims["azp"], self.client_id.as_str());
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(
            claims["at_hash"],
            waxseal_server::at_hash(waxseal::Algorithm::ES256, access).as_str()
        );
        // The test clock stands still: the sign-in happened at its time.
        assert_eq!(claims["auth_time"], self.clock.secs(), "{claims}");
        assert!(claims["sid"].is_string(), "{claims}");

        let (status, _, info) = self.server.get_with("/userinfo", access).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["sub"], claims["sub"]);
        assert_eq!(info["preferred_username"], "alice");
        assert_eq!(info["name"], "Alice Liddell");
        assert_eq!(info["email"], "alice@example.com");
        claims
    }
}

/// Polls for an element matching `css` until [`DEADLINE`].
async fn wait_for(page: &Session, css: &str) -> Element {
    match page
        .wait()
        .at_most(DEADLINE)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => panic!(
            "no {css} within {DEADLINE:?} ({e}); at {}:\n{}",
            page.current_url().await.unwrap(),
            page.source().await.unwrap_or_default()
        ),
    }
}

/// Polls the address bar until it starts with `prefix` (until [`DEADLINE`]) and returns it.
async fn wait_until_at(page: &Session, prefix: &str) -> url::Url {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let url = page.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            return url;
        }
        assert!(
            Instant::now() < deadline,
            "still at {url} after {DEADLINE:?}, waiting for {prefix}:\n{}",
            page.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The text of the first element matching `css`.
async fn text(page: &Session, css: &str) -> String {
    page.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn click(page: &Session, css: &str) {
    page.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// On the sign-in page: types alice's username and password and clicks "Sign in".
async fn sign_in(page: &Session) {
    sign_in_with(page, PASSWORD).await;
}

/// On the sign-in page: types alice's username (over what the field holds) and `password`, clicks "Sign in".
async fn sign_in_with(page: &Session, password: &str) {
    let form = wait_for(page, SIGN_IN_FORM).await;
    let username = form.find(Locator::Id("username")).await.unwrap();
    username.clear().await.unwrap();
    username.send_keys("alice").await.unwrap();
    let field = form.find(Locator::Id("password")).await.unwrap();
    field.send_keys(password).await.unwrap();
    let button = form
        .find(Locator::Css("button[type='submit']"))
        .await
        .unwrap();
    assert_eq!(button.text().await.unwrap(), "Sign in");
    button.click().await.unwrap();
}

/// Screenshots the page as `<shots>-<name>` and, when the session runs JavaScript, checks it with axe-core;
/// nothing without `shots`.
async fn check_page(page: &Session, shots: Option<&str>, name: &str) {
    let Some(shots) = shots else { return };
    let name = format!("{shots}-{name}");
    screenshot(page, &name).await;
    if page.options().javascript {
        assert_accessible(page, &name).await;
    }
}

/// Opens `/account` (the sign-in page, without a session), signs in and waits for the account page.
async fn sign_in_at_account(rp: &Rp, page: &Session) {
    page.goto(&rp.server.at("/account")).await.unwrap();
    let main = text(page, "main").await;
    assert!(main.contains("to continue to your account"), "{main}");
    sign_in(page).await;
    at_account(page).await;
}

async fn at_account(page: &Session) {
    wait_for(page, "form[action='/account/password']").await;
    assert_eq!(text(page, "h1").await, "Your account");
}

/// The page's JavaScript value of `expression` (WebDriver's scripts run even where the page's may not).
async fn eval(page: &Session, expression: &str) -> Value {
    page.execute(&format!("return {expression};"), Vec::new())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_signs_in_asks_consent_and_lands_at_the_app_with_a_code_that_gives_tokens() {
    let Some(rp) = Rp::start().await else { return };
    let page = rp.session(SessionOptions::default()).await;
    let (_, claims) = rp.sign_in_and_allow(&page, Some("flow")).await;
    assert!(claims["sub"].is_string(), "{claims}");
    rp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_authorization_in_the_same_browser_skips_the_sign_in_page() {
    let Some(rp) = Rp::start().await else { return };
    let page = rp.session(SessionOptions::default()).await;
    let (_, first) = rp.sign_in_and_allow(&page, None).await;

    let (verifier, challenge) = pkce();
    page.goto(&rp.authorize_url(&challenge, &[])).await.unwrap();
    // `goto` returns once the last page of the redirects has loaded: the application's, with no page between.
    let landed = page.current_url().await.unwrap();
    assert!(
        landed.as_str().starts_with(&rp.redirect_uri()),
        "the second authorization showed {landed}"
    );
    let params = rp.at_callback(&page).await;
    assert_eq!(params["state"], STATE);
    let tokens = rp.exchange(&params["code"], &verifier).await;
    let second = rp.check_tokens(&tokens).await;
    assert_eq!(second["sid"], first["sid"], "the same SSO session");
    assert_eq!(second["auth_time"], first["auth_time"], "no new sign-in");
    rp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_without_a_session_returns_login_required_to_the_app() {
    let Some(rp) = Rp::start().await else { return };
    let page = rp.session(SessionOptions::default()).await;
    let (_, challenge) = pkce();
    page.goto(&rp.authorize_url(&challenge, &[("prompt", "none")]))
        .await
        .unwrap();
    let params = rp.at_callback(&page).await;
    assert_eq!(params["error"], "login_required", "{params:?}");
    assert_eq!(params["state"], STATE);
    assert_eq!(params["iss"], rp.server.url);
    assert!(!params.contains_key("code"), "{params:?}");
    assert_eq!(text(&page, "dd[id='error']").await, "login_required");
    rp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_ends_another_browsers_session_at_account_and_its_refresh_token_dies() {
    let Some(rp) = Rp::start().await else { return };
    let laptop = rp.session(SessionOptions::default()).await;
    let (tokens, _) = rp.sign_in_and_allow(&laptop, None).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let phone = rp.session(SessionOptions::default()).await;
    sign_in_at_account(&rp, &phone).await;
    let browsers = phone
        .find_all(Locator::Css("input[name='sso']"))
        .await
        .unwrap();
    assert_eq!(browsers.len(), 2, "two browsers signed in");
    let apps = text(&phone, "main").await;
    assert!(apps.contains("Example App"), "{apps}");
    screenshot(&phone, "account").await;
    assert_accessible(&phone, "account").await;

    // The laptop's row is the one not marked "this browser".
    let rows = phone
        .find_all(Locator::XPath(
            "//tr[.//input[@name='sso']][not(.//*[contains(@class, 'tag')])]",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "exactly one other browser");
    let end = rows[0]
        .find(Locator::Css("button[type='submit']"))
        .await
        .unwrap();
    assert_eq!(end.text().await.unwrap(), "End");
    end.click().await.unwrap();

    // The account page again, with one browser left: this one.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = phone
            .find_all(Locator::Css("input[name='sso']"))
            .await
            .unwrap();
        if left.len() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "still {} browsers", left.len());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(text(&phone, "main").await.contains("this browser"));
    screenshot(&phone, "account-after-ending").await;

    rp.server
        .refresh_grant(&basic(&rp.client_id, &rp.secret), refresh_token, &[])
        .await
        .assert_error(400, "invalid_grant");
    // And the laptop must sign in again.
    let (_, challenge) = pkce();
    laptop
        .goto(&rp.authorize_url(&challenge, &[]))
        .await
        .unwrap();
    wait_for(&laptop, SIGN_IN_FORM).await;
    rp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_confirms_signs_out_and_returns_to_the_app_and_the_other_pages_are_accessible() {
    let Some(rp) = Rp::start().await else { return };
    let page = rp.session(SessionOptions::default()).await;
    let (tokens, _) = rp.sign_in_and_allow(&page, None).await;

    let bye = format!("{}/bye", rp.app.url);
    let mut url = url::Url::parse(&rp.server.at("/session/end")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", &bye)
        .append_pair("state", "bye-1");
    page.goto(url.as_str()).await.unwrap();
    wait_for(&page, "form[action='/session/end']").await;
    assert_eq!(text(&page, "h1").await, "Sign out?");
    let main = text(&page, "main").await;
    assert!(main.contains("Example App asks to sign you out"), "{main}");
    check_page(&page, Some("logout"), "confirm").await;
    click(&page, "form[action='/session/end'] button[type='submit']").await;

    let landed = wait_until_at(&page, &format!("{bye}?")).await;
    assert_eq!(landed.query(), Some("state=bye-1"));
    assert_eq!(text(&page, "dd[id='state']").await, "bye-1");
    screenshot(&page, "logout-app-bye").await;
    assert_eq!(
        rp.server
            .get_with("/userinfo", tokens["access_token"].as_str().unwrap())
            .await
            .0,
        401,
        "the application's session ended with the browser's"
    );

    // Signed out: the next authorization asks for the password.
    let (_, challenge) = pkce();
    page.goto(&rp.authorize_url(&challenge, &[])).await.unwrap();
    wait_for(&page, SIGN_IN_FORM).await;

    page.goto(&rp.server.at("/signed-out")).await.unwrap();
    let heading = text(&page, "h1").await;
    assert!(heading.contains("signed out"), "{heading}");
    check_page(&page, Some("logout"), "signed-out").await;

    // The error page: an unknown application gets no redirect, a 400 page saying so.
    let unknown = rp
        .authorize_url(&challenge, &[])
        .replace(&format!("client_id={}", rp.client_id), "client_id=nobody");
    assert!(unknown.contains("client_id=nobody"));
    let response = rp.server.client.get(&unknown).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    page.goto(&unknown).await.unwrap();
    assert_eq!(page.current_url().await.unwrap().as_str(), unknown);
    assert_eq!(text(&page, "h1").await, "Something went wrong");
    check_page(&page, Some("error"), "unknown-client").await;
    rp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_works_with_javascript_disabled() {
    let Some(rp) = Rp::start().await else { return };
    let page = rp.session(SessionOptions::without_javascript()).await;
    rp.sign_in_and_allow(&page, Some("no-javascript")).await;
    rp.stop().await;
}

/// Waits until the element `css` holds something other than `working` (until [`DEADLINE`]) and returns it.
async fn wait_for_outcome(page: &Session, css: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = text(page, css).await;
        if now != "working" {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{css} still working after {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_page_app_on_another_origin_signs_in_with_fetch_and_reads_userinfo() {
    let Some(rp) = Rp::start().await else { return };
    // A public client: its web origin is its redirect URI's, the application's own loopback origin.
    let spa = rp
        .server
        .add_web_client(
            "Single Page App",
            &["read"],
            WebClient {
                redirect_uris: vec![format!("{}/spa", rp.app.url)],
                public: true,
                ..WebClient::default()
            },
        )
        .await;
    let page = rp.session(SessionOptions::default()).await;
    let mut start = url::Url::parse(&format!("{}/spa", rp.app.url)).unwrap();
    start
        .query_pairs_mut()
        .append_pair("issuer", &rp.server.url)
        .append_pair("client_id", &spa.client_id);
    page.goto(start.as_str()).await.unwrap();
    sign_in(&page).await;
    wait_for(&page, CONSENT_FORM).await;
    assert_eq!(text(&page, "h1").await, "Allow Single Page App?");
    click(&page, "button[name='decision'][value='allow']").await;
    wait_until_at(&page, &format!("{}/spa?", rp.app.url)).await;
    let status = wait_for_outcome(&page, "#status").await;
    screenshot(&page, "spa-done").await;
    assert_eq!(status, "done", "{}", text(&page, "#result").await);
    let result: Value = serde_json::from_str(&text(&page, "#result").await).unwrap();
    assert_eq!(result["token_status"], 200, "{result}");
    assert_eq!(result["token_type"], "Bearer");
    assert_eq!(result["has_refresh_token"], true);
    assert_eq!(result["userinfo_status"], 200, "{result}");
    assert_eq!(result["userinfo"]["preferred_username"], "alice");
    assert_eq!(result["userinfo"]["name"], "Alice Liddell");
    assert!(result["jwks_keys"].as_u64().unwrap() >= 1, "{result}");
    assert_eq!(result["revoke_status"], 200);

    // The same calls from a page on an origin no client registered: the browser hands it nothing, the valid
    // token notwithstanding.
    let (access, _) = rp.server.login_ok("alice").await;
    let stranger = App::start().await;
    let mut probe = url::Url::parse(&format!("{}/probe", stranger.url)).unwrap();
    probe
        .query_pairs_mut()
        .append_pair("issuer", &rp.server.url)
        .append_pair("token", &access)
        .append_pair("client_id", &spa.client_id);
    page.goto(probe.as_str()).await.unwrap();
    assert_eq!(
        wait_for_outcome(&page, "#userinfo").await,
        "blocked: TypeError"
    );
    assert_eq!(
        wait_for_outcome(&page, "#token").await,
        "blocked: TypeError"
    );
    drop(page);
    rp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_refuse_to_be_framed() {
    let Some(rp) = Rp::start().await else { return };
    let (_, challenge) = pkce();
    let authorize = rp.authorize_url(&challenge, &[]);
    let response = rp.server.client.get(&authorize).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert!(
        header("content-security-policy").contains("frame-ancestors 'none'"),
        "{}",
        header("content-security-policy")
    );
    assert_eq!(header("x-frame-options"), "DENY");

    // In Chromium: an application page frames one of its own pages (which renders) and the sign-in page
    // (which must not).
    let page = rp.session(SessionOptions::default()).await;
    let mut framing = url::Url::parse(&format!("{}/frame", rp.app.url)).unwrap();
    framing.query_pairs_mut().append_pair("src", &authorize);
    page.goto(framing.as_str()).await.unwrap();
    page.find(Locator::Id("control"))
        .await
        .unwrap()
        .enter_frame()
        .await
        .unwrap();
    assert_eq!(text(&page, "dd[id='framed']").await, "yes");
    page.enter_parent_frame().await.unwrap();
    page.find(Locator::Id("target"))
        .await
        .unwrap()
        .enter_frame()
        .await
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let inside = loop {
        let inside = eval(&page, "document.URL").await;
        if inside != "about:blank" {
            break inside;
        }
        assert!(Instant::now() < deadline, "the frame never navigated");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // Chromium puts its error page (`chrome-error://chromewebdata/`) where the refused page would have been.
    assert_ne!(
        inside,
        authorize.as_str(),
        "the sign-in page loaded in a frame"
    );
    let forms = page.find_all(Locator::Css("form")).await.unwrap();
    assert!(
        forms.is_empty(),
        "the sign-in page rendered in a frame ({inside})"
    );
    page.enter_parent_frame().await.unwrap();
    screenshot(&page, "framed-sign-in-blocked").await;
    rp.stop().await;
}

/// Runs a Chrome DevTools Protocol command in the session's page, through chromedriver's `goog/cdp/execute`.
async fn devtools(rp: &Rp, page: &Session, cmd: &str, params: Value) {
    let id = page.session_id().await.unwrap().unwrap();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/session/{id}/goog/cdp/execute",
            rp.browser.webdriver_url()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_fit_a_narrow_screen_and_a_dark_color_scheme() {
    let Some(rp) = Rp::start().await else { return };
    // A phone's screen. Chromium keeps a window at least 500 px wide (`--window-size=375,740` gives a 500 px
    // viewport), so the viewport is emulated instead, as DevTools' device mode does.
    let narrow = rp.session(SessionOptions::default()).await;
    devtools(
        &rp,
        &narrow,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 375, "height": 740, "deviceScaleFactor": 1, "mobile": true }),
    )
    .await;
    let (_, challenge) = pkce();
    narrow
        .goto(&rp.authorize_url(&challenge, &[]))
        .await
        .unwrap();
    wait_for(&narrow, SIGN_IN_FORM).await;
    let width = eval(&narrow, "window.innerWidth").await.as_u64().unwrap();
    assert_eq!(width, 375, "a phone's viewport");
    let scroll = eval(&narrow, "document.documentElement.scrollWidth")
        .await
        .as_u64()
        .unwrap();
    assert!(scroll <= width, "no sideways scrolling: {scroll} > {width}");
    check_page(&narrow, Some("narrow"), "sign-in").await;
    // Signed in, the account page, whose tables become one block per row.
    sign_in(&narrow).await;
    wait_for(&narrow, CONSENT_FORM).await;
    narrow.goto(&rp.server.at("/account")).await.unwrap();
    at_account(&narrow).await;
    let scroll = eval(&narrow, "document.documentElement.scrollWidth")
        .await
        .as_u64()
        .unwrap();
    assert!(scroll <= width, "no sideways scrolling: {scroll} > {width}");
    check_page(&narrow, Some("narrow"), "account").await;

    let dark = rp.session(SessionOptions::default()).await;
    devtools(
        &rp,
        &dark,
        "Emulation.setEmulatedMedia",
        json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
    )
    .await;
    // The sign-in page with its error, then the account page.
    dark.goto(&rp.server.at("/account")).await.unwrap();
    sign_in_with(&dark, "not the password").await;
    let alert = wait_for(&dark, "#sign-in-error").await;
    assert_eq!(
        alert.text().await.unwrap(),
        "The username or password is wrong."
    );
    check_page(&dark, Some("dark"), "sign-in-error").await;
    sign_in(&dark).await;
    at_account(&dark).await;
    assert_eq!(
        eval(&dark, "matchMedia('(prefers-color-scheme: dark)').matches").await,
        true
    );
    assert_eq!(
        eval(&dark, "getComputedStyle(document.body).backgroundColor").await,
        "rgb(22, 22, 24)",
        "the dark palette applies"
    );
    check_page(&dark, Some("dark"), "account").await;
    rp.stop().await;
}
