//! OAuth Client ID Metadata Documents over real HTTP and real SQLite: a client named by the https URL of its
//! metadata document signs a person in with the code flow, PKCE and the consent page (which shows the document's
//! host), and refreshes. The document is fetched once per cache lifetime. And every refusal of a server that
//! fetches URLs an attacker chooses: redirects, loopback and private addresses, IP literals, slow and huge
//! answers, documents naming another client or a confidential one, unlisted redirect URIs, http, the feature off.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "client_metadata/docserver.rs"]
mod docserver;
#[path = "client_metadata/refusals.rs"]
mod refusals;

use std::sync::Arc;
use std::time::Duration;

use common::agent::{Agent, Page, pkce};
use common::{Backing, PASSWORD, TestClock, TestServer};
use docserver::{Answer, DocServer};
use serde_json::{Value, json};
use waxseal_server::Config;

const REDIRECT: &str = "http://127.0.0.1/callback";

/// The auth server, with metadata documents on (`localhost` allowed and the test CA trusted, unless changed by
/// `tune`), and alice to sign in.
async fn server(
    backing: &Backing,
    docs: &DocServer,
    clock: Arc<TestClock>,
    tune: impl FnOnce(&mut Config),
) -> TestServer {
    let mut config = Config {
        allow_client_metadata_documents: true,
        client_metadata_allowed_hosts: vec!["localhost".into()],
        client_metadata_ca_file: Some(docs.ca_file.clone()),
        ..backing.config()
    };
    tune(&mut config);
    let server = TestServer::start_at_own_url_with(config, clock).await;
    server.add_alice_with_profile().await;
    server
}

/// A good document for `client_id`.
fn document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "Example MCP Client",
        "client_uri": "https://app.example",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile offline_access",
    })
}

/// Serves `document` (as given) at `path`, with `cache_control`.
fn serve(docs: &DocServer, path: &str, document: &Value, cache_control: Option<&str>) -> String {
    docs.set(
        path,
        Answer::Json {
            body: document.to_string(),
            cache_control: cache_control.map(str::to_owned),
        },
    );
    docs.url(path)
}

/// The authorization request URL for `client_id`, redirecting to `redirect` (the port chosen by the app).
fn authorize_url(server: &TestServer, client_id: &str, redirect: &str, challenge: &str) -> String {
    let mut url = url::Url::parse(&server.at("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid profile offline_access"),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    String::from(url)
}

/// A page's text with the HTML escapes the messages need undone.
fn text(page: &Page) -> String {
    page.body
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

/// Starts an authorization for `client_id` in a new browser: the page shown.
async fn start(server: &TestServer, client_id: &str) -> Page {
    let (_, challenge) = pkce();
    let redirect = "http://127.0.0.1:49731/callback";
    Agent::new(&server.url)
        .get(&authorize_url(server, client_id, redirect, &challenge))
        .await
}

/// The page shown for `client_id` is the sign-in form (the client was accepted).
async fn accepted(server: &TestServer, client_id: &str) {
    let page = start(server, client_id).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("/signin"), "{}", page.body);
}

/// The page shown for `client_id` is an error page (never a redirect) saying `why`.
async fn refused(server: &TestServer, client_id: &str, why: &str) {
    let page = start(server, client_id).await;
    assert_eq!((page.status, page.location()), (400, None), "{}", page.body);
    assert!(
        text(&page).contains(why),
        "expected {why:?} in {}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_client_signs_in_with_pkce_through_consent_and_refreshes() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |_| {}).await;
    let client_id = serve(
        &docs,
        "/oauth/client.json",
        &document(&docs.url("/oauth/client.json")),
        None,
    );

    // The app listens on whatever port it got: the document's port-less loopback URI matches it.
    let redirect = "http://127.0.0.1:49731/callback";
    let (verifier, challenge) = pkce();
    let mut browser = Agent::new(&server.url);
    let page = browser
        .get(&authorize_url(&server, &client_id, redirect, &challenge))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = browser
        .submit(
            &page.form("/signin"),
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Allow Example MCP Client?"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<p class="client-host" id="client-host">localhost</p>"#),
        "the consent page shows the document's host: {}",
        page.body
    );
    assert!(
        text(&page).contains("Allow only if you trust"),
        "{}",
        page.body
    );
    let page = browser
        .submit(&page.form("/consent"), &[("decision", "allow")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page.location().unwrap().starts_with(redirect));
    let code = page.redirect_params()["code"].clone();

    let exchanged = server
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    assert!(exchanged.body["access_token"].is_string());
    assert!(exchanged.body["id_token"].is_string());
    let refresh_token = exchanged.body["refresh_token"].as_str().unwrap().to_owned();

    let refreshed = server
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client_id),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_ne!(
        refreshed.body["refresh_token"].as_str(),
        Some(refresh_token.as_str())
    );

    // A verifier that is not the code's: PKCE binds the code to the app that asked for it.
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_url(&server, &client_id, redirect, &challenge))
        .await;
    assert_eq!(
        page.status, 303,
        "consent is remembered for the URL: {}",
        page.body
    );
    let code = page.redirect_params()["code"].clone();
    let wrong = server
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    wrong.assert_error(400, "invalid_grant");
    assert_eq!(docs.hits(), 1, "one fetch for the whole flow");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_fetched_once_per_cache_lifetime_not_per_authorization() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let clock = TestClock::new();
    let server = server(&backing, &docs, clock.clone(), |_| {}).await;

    let cached = serve(
        &docs,
        "/cached.json",
        &document(&docs.url("/cached.json")),
        None,
    );
    for _ in 0..3 {
        accepted(&server, &cached).await;
    }
    assert_eq!(docs.hits(), 1, "no Cache-Control: kept 5 minutes");

    let no_store = serve(
        &docs,
        "/no-store.json",
        &document(&docs.url("/no-store.json")),
        Some("no-store"),
    );
    for _ in 0..3 {
        accepted(&server, &no_store).await;
    }
    assert_eq!(docs.hits(), 4, "no-store: fetched for each authorization");

    let short = serve(
        &docs,
        "/short.json",
        &document(&docs.url("/short.json")),
        Some("public, max-age=60"),
    );
    accepted(&server, &short).await;
    accepted(&server, &short).await;
    assert_eq!(docs.hits(), 5, "max-age=60: kept");
    clock.advance(Duration::from_secs(61));
    accepted(&server, &short).await;
    assert_eq!(docs.hits(), 6, "max-age=60: fetched again once expired");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_authorizations_for_one_url_share_one_fetch() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = Arc::new(server(&backing, &docs, TestClock::new(), |_| {}).await);
    let client_id = docs.url("/slow.json");
    docs.set(
        "/slow.json",
        Answer::Slow(Duration::from_millis(300), document(&client_id).to_string()),
    );
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (server, client_id) = (server.clone(), client_id.clone());
        tasks.push(tokio::spawn(
            async move { accepted(&server, &client_id).await },
        ));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        docs.hits(),
        1,
        "one fetch for five concurrent authorizations"
    );
    Arc::into_inner(server).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_reports_metadata_documents_only_when_on() {
    for on in [true, false] {
        let backing = Backing::sqlite();
        let docs = DocServer::start(backing.dir.path()).await;
        let server = server(&backing, &docs, TestClock::new(), |c| {
            c.allow_client_metadata_documents = on;
        })
        .await;
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let document: Value = serde_json::from_str(&server.get_text(path).await).unwrap();
            let flag = document.get("client_id_metadata_document_supported");
            assert_eq!(flag, on.then_some(&json!(true)), "{path} {on}");
        }
        server.stop().await;
    }
}
