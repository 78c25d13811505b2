//! OAuth Client ID Metadata Documents over real HTTP and real SQLite: a client named by the https URL of its
//! metadata document signs a person in with the code flow, PKCE and the consent page (which shows the document's
//! host), and refreshes. The document is fetched once per cache lifetime. And every refusal of a server that
//! fetches URLs an attacker chooses: redirects, loopback and private addresses, IP literals, slow and huge
//! answers, documents naming another client or a confidential one, unlisted redirect URIs, http, the feature off.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "client_metadata/docserver.rs"]
mod docserver;

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
async fn a_document_that_redirects_is_refused() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |_| {}).await;
    serve(
        &docs,
        "/real.json",
        &document(&docs.url("/moved.json")),
        None,
    );
    docs.set("/moved.json", Answer::Redirect(docs.url("/real.json")));
    refused(
        &server,
        &docs.url("/moved.json"),
        "the client's metadata document at localhost redirects; client metadata documents must be served directly",
    )
    .await;
    assert_eq!(docs.hits(), 1, "the redirect is not followed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_resolving_to_loopback_is_refused_without_a_request() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |c| {
        c.client_metadata_allowed_hosts.clear();
    })
    .await;
    let client_id = serve(
        &docs,
        "/client.json",
        &document(&docs.url("/client.json")),
        None,
    );
    refused(
        &server,
        &client_id,
        "the client's metadata document at localhost resolves to",
    )
    .await;
    refused(&server, &client_id, "a loopback address").await;
    assert_eq!(docs.hits(), 0, "the document server saw no request");

    // The token endpoint refuses the client the same way, saying why.
    let token = server
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client_id),
                ("refresh_token", "x"),
            ],
        )
        .await;
    token.assert_error(401, "invalid_client");
    assert!(
        token.body["error_description"]
            .as_str()
            .unwrap()
            .contains("a loopback address"),
        "{}",
        token.body
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_literals_http_and_malformed_urls_are_refused_without_connecting() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |_| {}).await;
    refused(
        &server,
        "https://10.0.0.1/client.json",
        "its host is an IP address",
    )
    .await;
    refused(
        &server,
        "https://169.254.169.254/latest/meta-data",
        "its host is an IP address",
    )
    .await;
    refused(
        &server,
        &format!("https://127.0.0.1:{}/client.json", docs.port),
        "its host is an IP address",
    )
    .await;
    refused(
        &server,
        &format!("http://localhost:{}/client.json", docs.port),
        "fetched over https only",
    )
    .await;
    refused(
        &server,
        &format!("https://localhost:{}/", docs.port),
        "it has no path",
    )
    .await;
    refused(
        &server,
        &format!("https://localhost:{}/a/../client.json", docs.port),
        "segment",
    )
    .await;
    refused(
        &server,
        &format!("https://u:p@localhost:{}/client.json", docs.port),
        "user name",
    )
    .await;
    assert_eq!(docs.hits(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_document_server_is_refused_after_the_timeout() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |c| {
        c.client_metadata_timeout = Duration::from_secs(1);
    })
    .await;
    let client_id = docs.url("/slow.json");
    docs.set(
        "/slow.json",
        Answer::Slow(Duration::from_secs(5), document(&client_id).to_string()),
    );
    let started = std::time::Instant::now();
    refused(
        &server,
        &client_id,
        "the client's metadata document at localhost did not answer within 1s",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_document_is_refused() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |_| {}).await;
    docs.set("/huge.json", Answer::Huge);
    refused(&server, &docs.url("/huge.json"), "is larger than 64 KiB").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_naming_another_client_or_a_confidential_one_are_refused() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |_| {}).await;
    let other = serve(
        &docs,
        "/other.json",
        &document("https://app.example/client.json"),
        None,
    );
    refused(
        &server,
        &other,
        "names client_id \"https://app.example/client.json\", not the URL it was fetched from",
    )
    .await;
    for method in ["client_secret_basic", "private_key_jwt"] {
        let path = format!("/{method}.json");
        let mut confidential = document(&docs.url(&path));
        confidential["token_endpoint_auth_method"] = json!(method);
        let client_id = serve(&docs, &path, &confidential, None);
        refused(
            &server,
            &client_id,
            &format!("declares token_endpoint_auth_method \"{method}\""),
        )
        .await;
    }
    let mut secret = document(&docs.url("/secret.json"));
    secret["client_secret"] = json!("s3cret");
    let client_id = serve(&docs, "/secret.json", &secret, None);
    refused(&server, &client_id, "carries a client_secret").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_not_in_the_document_is_refused_on_the_error_page() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |_| {}).await;
    let client_id = serve(
        &docs,
        "/client.json",
        &document(&docs.url("/client.json")),
        None,
    );
    let (_, challenge) = pkce();
    for other in [
        "https://evil.example/callback",
        "http://127.0.0.1:49731/other",
    ] {
        let page = Agent::new(&server.url)
            .get(&authorize_url(&server, &client_id, other, &challenge))
            .await;
        assert_eq!((page.status, page.location()), (400, None), "{other}");
        assert!(
            text(&page).contains(
                "redirect_uri is not listed in the client's metadata document at localhost"
            ),
            "{}",
            page.body
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_feature_off_a_url_client_id_is_an_unknown_client() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |c| {
        c.allow_client_metadata_documents = false;
    })
    .await;
    let client_id = serve(
        &docs,
        "/client.json",
        &document(&docs.url("/client.json")),
        None,
    );
    refused(&server, &client_id, "is not registered to sign people in").await;
    assert_eq!(docs.hits(), 0);
    server.stop().await;
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
