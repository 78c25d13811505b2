//! Dynamic client registration (RFC 7591) over real HTTP, as MCP clients use it: off by default; on, a public
//! client registers, then signs a person in with the code flow, PKCE and the consent page — from a loopback
//! redirect URI on whatever port it listens on. And the refusals: confidential clients, other grants, unsafe
//! redirect URIs, malformed bodies, and a flood of registrations from one address.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::agent::{Agent, pkce};
use common::{Backing, PASSWORD, TestClock, TestServer};
use serde_json::{Value, json};
use waxseal_server::Config;

/// A server at its own URL with registration on (or off), and alice to sign in.
async fn server(backing: &Backing, clock: std::sync::Arc<TestClock>, open: bool) -> TestServer {
    let config = Config {
        allow_registration: open,
        registrations_per_hour: 3,
        ..backing.config()
    };
    let server = TestServer::start_at_own_url_with(config, clock).await;
    server.add_alice_with_profile().await;
    server
}

/// `POST /register` with a raw body: status, JSON body, `Retry-After`.
async fn register_raw(server: &TestServer, body: String) -> (u16, Value, Option<String>) {
    let response = server
        .client
        .post(server.at("/register"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, retry_after)
}

async fn register(server: &TestServer, metadata: &Value) -> (u16, Value) {
    let (status, body, _) = register_raw(server, metadata.to_string()).await;
    (status, body)
}

/// What an MCP client sends.
fn mcp_client() -> Value {
    json!({
        "client_name": "Example MCP Client",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile admin",
        "client_uri": "https://mcp.example/",
        "software_id": "ignored-extension"
    })
}

async fn discovery_has_registration(server: &TestServer) -> [Option<String>; 2] {
    let mut found = [None, None];
    for (i, path) in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ]
    .into_iter()
    .enumerate()
    {
        let doc: Value = serde_json::from_str(&server.get_text(path).await).unwrap();
        found[i] = doc["registration_endpoint"].as_str().map(str::to_owned);
    }
    found
}

#[tokio::test]
async fn registration_is_off_by_default_and_not_advertised() {
    let backing = Backing::sqlite();
    let server = server(&backing, TestClock::new(), false).await;
    let (status, body) = register(&server, &mcp_client()).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("--allow-registration"),
        "{body}"
    );
    assert_eq!(discovery_has_registration(&server).await, [None, None]);
    assert!(server.service.list_clients().await.unwrap().is_empty());
    server.stop().await;
}

/// Registers, then walks the code flow with PKCE from a loopback redirect URI on an ephemeral port.
async fn a_registered_client_signs_in_with_pkce_through_consent(backing: Backing) {
    let server = server(&backing, TestClock::new(), true).await;
    let expected = format!("{}/register", server.url);
    assert_eq!(
        discovery_has_registration(&server).await,
        [Some(expected.clone()), Some(expected)]
    );
    let (status, client) = register(&server, &mcp_client()).await;
    assert_eq!(status, 201, "{client}");
    assert!(client.get("client_secret").is_none(), "{client}");
    assert_eq!(client["token_endpoint_auth_method"], "none");
    assert_eq!(client["client_name"], "Example MCP Client");
    assert_eq!(
        client["redirect_uris"],
        json!(["http://127.0.0.1/callback"])
    );
    assert_eq!(
        client["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    // Narrowed to the operator's registration scopes: `admin` is not one.
    assert_eq!(client["scope"], "openid profile");
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let stored = server.service.list_clients().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].web.public && !stored[0].web.first_party);

    // The app listens on whatever port it got: the registered port-less loopback URI matches it.
    let redirect = "http://127.0.0.1:49731/callback";
    let (verifier, challenge) = pkce();
    let authorize = |redirect: &str, challenge: &str| {
        let mut url = url::Url::parse(&server.at("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]);
        String::from(url)
    };
    let mut browser = Agent::new(&server.url);
    let page = browser.get(&authorize(redirect, &challenge)).await;
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
        "a registered client is never first-party: {}",
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

    // Another path on the loopback address is not the registered URI: an error page, no redirect.
    let (_, challenge) = pkce();
    for other in [
        "http://127.0.0.1:49731/other",
        "http://localhost:49731/callback",
        "http://[::1]:49731/callback",
    ] {
        let page = browser.get(&authorize(other, &challenge)).await;
        assert_eq!((page.status, page.location()), (400, None), "{other}");
    }
    server.stop().await;
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// An authorization request from `client_id`: the sign-in page, which counts as the client's use.
async fn authorization_request(server: &TestServer, client_id: &str) {
    let (_, challenge) = pkce();
    let mut url = url::Url::parse(&server.at("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", client_id),
        ("redirect_uri", "http://127.0.0.1:5000/callback"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let page = Agent::new(&server.url).get(url.as_str()).await;
    assert!(page.body.contains("action=\"/signin\""), "{}", page.body);
}

fn last_used(clients: &[waxseal_server::ClientInfo], client_id: &str) -> Option<u64> {
    clients
        .iter()
        .find(|c| c.client_id == client_id)
        .unwrap()
        .web
        .last_used_at
}

/// Registered clients nobody uses expire; one in use stays, and its use is written at most once a day; an
/// operator's client never expires.
async fn an_unused_registered_client_is_pruned_a_used_one_kept_an_operator_one_never(
    backing: Backing,
) {
    let clock = TestClock::new();
    let server = server(&backing, clock.clone(), true).await;
    let registered_at = clock.secs();
    let (_, unused) = register(&server, &mcp_client()).await;
    let (_, used) = register(&server, &mcp_client()).await;
    let (unused, used) = (
        unused["client_id"].as_str().unwrap().to_owned(),
        used["client_id"].as_str().unwrap().to_owned(),
    );
    let operator = server
        .add_web_client(
            "Operator App",
            &["read"],
            waxseal_server::WebClient {
                redirect_uris: vec!["https://app.example/cb".into()],
                ..waxseal_server::WebClient::default()
            },
        )
        .await
        .client_id;

    // Within the first day, a use is not written (the registration time counts).
    authorization_request(&server, &used).await;
    let clients = server.service.list_clients().await.unwrap();
    assert_eq!(last_used(&clients, &used), None);
    assert!(
        clients
            .iter()
            .all(|c| c.web.registered == (c.client_id != operator))
    );

    clock.advance(20 * DAY);
    authorization_request(&server, &used).await;
    let used_at = clock.secs();
    clock.advance(Duration::from_secs(3600));
    authorization_request(&server, &used).await;
    assert_eq!(
        last_used(&server.service.list_clients().await.unwrap(), &used),
        Some(used_at),
        "written once a day, not per request"
    );

    // 30 days after the registration: one second short, then at the expiry.
    clock.advance(Duration::from_secs(10 * DAY.as_secs() - 3600 - 1));
    assert_eq!(server.service.prune().await.unwrap().registered_clients, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(clock.secs(), registered_at + 30 * DAY.as_secs());
    assert_eq!(server.service.prune().await.unwrap().registered_clients, 1);
    let left: Vec<String> = server
        .service
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert!(!left.contains(&unused) && left.contains(&used) && left.contains(&operator));
    // The deleted client's authorization requests now get the error page.
    let (_, challenge) = pkce();
    let mut url = url::Url::parse(&server.at("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", unused.as_str()),
        ("redirect_uri", "http://127.0.0.1/callback"),
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let page = Agent::new(&server.url).get(url.as_str()).await;
    assert_eq!((page.status, page.location()), (400, None));

    // Unused from then on, the other goes too; the operator's never.
    clock.advance(365 * DAY);
    assert_eq!(server.service.prune().await.unwrap().registered_clients, 1);
    let left = server.service.list_clients().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].client_id, operator);
    server.stop().await;
}

on_both_backends!(
    a_registered_client_signs_in_with_pkce_through_consent,
    an_unused_registered_client_is_pruned_a_used_one_kept_an_operator_one_never
);

#[tokio::test]
async fn a_loopback_redirect_uri_of_an_operator_client_matches_on_any_port() {
    let backing = Backing::sqlite();
    let server = server(&backing, TestClock::new(), false).await;
    let client = server
        .add_web_client(
            "Desktop App",
            &["read"],
            waxseal_server::WebClient {
                redirect_uris: vec!["http://[::1]:8080/cb".into()],
                public: true,
                ..waxseal_server::WebClient::default()
            },
        )
        .await;
    let (_, challenge) = pkce();
    let mut browser = Agent::new(&server.url);
    for (redirect, known) in [
        ("http://[::1]:50123/cb", true),
        ("http://[::1]/cb", true),
        ("http://[::1]:50123/cb/", false),
        ("http://127.0.0.1:8080/cb", false),
    ] {
        let mut url = url::Url::parse(&server.at("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "read"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let page = browser.get(url.as_str()).await;
        if known {
            assert!(page.body.contains("action=\"/signin\""), "{redirect}");
        } else {
            assert_eq!((page.status, page.location()), (400, None), "{redirect}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn registration_refuses_confidential_clients_other_grants_and_unsafe_redirect_uris() {
    let backing = Backing::sqlite();
    let server = server(&backing, TestClock::new(), true).await;
    let with = |member: &str, value: Value| {
        let mut metadata = mcp_client();
        metadata[member] = value;
        metadata
    };
    for (metadata, error) in [
        (
            with("token_endpoint_auth_method", json!("client_secret_basic")),
            "invalid_client_metadata",
        ),
        (
            with("token_endpoint_auth_method", json!("private_key_jwt")),
            "invalid_client_metadata",
        ),
        (
            with("grant_types", json!(["client_credentials"])),
            "invalid_client_metadata",
        ),
        (
            with(
                "grant_types",
                json!(["authorization_code", "client_credentials"]),
            ),
            "invalid_client_metadata",
        ),
        (
            with("grant_types", json!(["authorization_code", "password"])),
            "invalid_client_metadata",
        ),
        (
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
        ),
        (with("scope", json!("admin")), "invalid_client_metadata"),
        (
            with("client_name", json!("a\u{7}bell")),
            "invalid_client_metadata",
        ),
        (with("redirect_uris", json!(7)), "invalid_client_metadata"),
        (
            with("redirect_uris", json!(["http://app.example/cb"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["https://app.example/cb#fragment"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["javascript:alert(1)"])),
            "invalid_redirect_uri",
        ),
        (with("redirect_uris", json!([])), "invalid_redirect_uri"),
    ] {
        let (status, body) = register(&server, &metadata).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{metadata} {body}"
        );
    }
    assert!(server.service.list_clients().await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn duplicate_member_smuggling_and_oversized_bodies_are_refused() {
    let backing = Backing::sqlite();
    let server = server(&backing, TestClock::new(), true).await;
    // Two `redirect_uris`: a parser keeping the first would check one and another keeping the last use the other.
    let duplicate = r#"{"redirect_uris": ["https://app.example/cb"], "redirect_uris": ["http://evil.example/"]}"#;
    let (status, body, _) = register_raw(&server, duplicate.into()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata")),
        "{body}"
    );
    // A member the server does not read, twice: another parser of the same body (a proxy, a log) might take
    // either value, so it is refused too.
    let unread_twice =
        r#"{"redirect_uris": ["https://app.example/cb"], "software_id": "a", "software_id": "b"}"#;
    let (status, body, _) = register_raw(&server, unread_twice.into()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata")),
        "{body}"
    );
    for not_metadata in ["[]", "\"x\"", "{", "null"] {
        let (status, body, _) = register_raw(&server, not_metadata.into()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_client_metadata")),
            "{not_metadata}"
        );
    }
    let huge =
        json!({ "redirect_uris": ["https://app.example/cb"], "client_name": "x".repeat(20_000) });
    let (status, _, _) = register_raw(&server, huge.to_string()).await;
    assert_eq!(status, 413);
    let wrong_type = server
        .client
        .post(server.at("/register"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("redirect_uris=https://app.example/cb")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status().as_u16(), 415);
    assert!(server.service.list_clients().await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_registration_flood_from_one_address_is_throttled() {
    let backing = Backing::sqlite();
    let clock = TestClock::new();
    let server = server(&backing, clock.clone(), true).await;
    for _ in 0..3 {
        assert_eq!(register(&server, &mcp_client()).await.0, 201);
    }
    let (status, body, retry_after) = register_raw(&server, mcp_client().to_string()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after.as_deref(), Some("3600"));
    clock.advance(Duration::from_secs(1800));
    let (_, _, retry_after) = register_raw(&server, mcp_client().to_string()).await;
    assert_eq!(retry_after.as_deref(), Some("1800"));
    assert_eq!(server.service.list_clients().await.unwrap().len(), 3);
    clock.advance(Duration::from_secs(1800));
    assert_eq!(register(&server, &mcp_client()).await.0, 201);
    server.stop().await;
}
