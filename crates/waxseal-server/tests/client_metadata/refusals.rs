//! The refusals of a server that fetches URLs an attacker chooses, each by name on the error page (never a
//! redirect): redirects, loopback by name, IP literals, http and odd URL forms, slow and huge answers, untrusted
//! certificates, missing and non-JSON documents, documents naming another client or a confidential one,
//! unlisted redirect URIs, and the feature off.

use std::time::Duration;

use serde_json::json;

use super::common::agent::{Agent, pkce};
use super::common::{Backing, TestClock};
use super::docserver::{Answer, DocServer};
use super::{authorize_url, document, refused, serve, server, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_a_missing_document_and_html_are_refused() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let server = server(&backing, &docs, TestClock::new(), |c| {
        c.client_metadata_ca_file = None;
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
        "no connection or TLS session could be made",
    )
    .await;
    server.stop().await;

    let backing = Backing::sqlite();
    let server = self::server(&backing, &docs, TestClock::new(), |_| {}).await;
    refused(
        &server,
        &docs.url("/missing.json"),
        "answered HTTP 404; expected 200",
    )
    .await;
    docs.set("/page.html", Answer::Html("<html></html>".into()));
    refused(
        &server,
        &docs.url("/page.html"),
        "is served as \"text/html\", not as JSON",
    )
    .await;
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
async fn a_refusal_is_remembered_for_30_seconds_so_requests_cost_no_fetch_each() {
    let backing = Backing::sqlite();
    let docs = DocServer::start(backing.dir.path()).await;
    let clock = TestClock::new();
    let server = server(&backing, &docs, clock.clone(), |_| {}).await;
    let client_id = docs.url("/late.json");
    for _ in 0..3 {
        refused(&server, &client_id, "answered HTTP 404").await;
    }
    assert_eq!(docs.hits(), 1, "the refusal is remembered");
    serve(&docs, "/late.json", &document(&client_id), None);
    clock.advance(Duration::from_secs(29));
    refused(&server, &client_id, "answered HTTP 404").await;
    clock.advance(Duration::from_secs(2));
    super::accepted(&server, &client_id).await;
    assert_eq!(docs.hits(), 2);
    server.stop().await;
}
