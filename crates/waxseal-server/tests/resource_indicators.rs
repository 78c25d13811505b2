//! Resource indicators (RFC 8707) over real HTTP: a token asked for a registered resource has that resource as its
//! only `aud` and only the scopes it accepts — by client credentials, by the code flow as a browser walks it, by the
//! password grant — a session keeps its resource through refreshes, and every way of asking for another audience
//! than the grant's is `invalid_target` before anything is used up. A token for one resource is refused by another
//! resource's verifier and by this server's own API.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::agent::{Agent, pkce};
use common::{Backing, OAuthResponse, PASSWORD, TestClock, TestServer, basic};
use serde_json::Value;
use waxseal_server::{GrantType, WebClient};

const REDIRECT: &str = "https://app.example/callback";
/// The resource the tests ask for: it accepts `read` only.
const MCP: &str = "https://mcp.example/mcp";
/// Another registered resource, accepting `read` and `write`.
const FILES: &str = "https://files.example";

/// A server (its issuer its own URL) with both resources registered.
async fn start(dir: &std::path::Path) -> TestServer {
    let server = TestServer::start_at_own_url(dir, TestClock::new()).await;
    register_resources(&server).await;
    server
}

async fn register_resources(server: &TestServer) {
    server
        .service
        .add_resource(MCP, &["read".into()])
        .await
        .unwrap();
    server
        .service
        .add_resource(FILES, &["read".into(), "write".into()])
        .await
        .unwrap();
}

/// The verified claims of an access token of `server`, for `audience`.
async fn claims_for(server: &TestServer, token: &str, audience: &str) -> waxseal::Result<Value> {
    let jwks = server.get_text("/.well-known/jwks.json").await;
    let keys = waxseal::KeySet::from_jwks(&jwks).unwrap();
    let claims = waxseal::jwt::Verifier::new(keys)
        .issuer(server.service.config().issuer.clone())
        .audience(audience)
        .typ("at+jwt")
        .verify::<Value>(token)?;
    let mut value = serde_json::to_value(&claims.registered).unwrap();
    if let (Value::Object(map), Value::Object(custom)) = (&mut value, claims.custom) {
        map.extend(custom);
    }
    Ok(value)
}

fn access_token(response: &OAuthResponse) -> String {
    assert_eq!(response.status, 200, "{response:?}");
    response.body["access_token"].as_str().unwrap().to_owned()
}

fn refresh_token(response: &OAuthResponse) -> String {
    assert_eq!(response.status, 200, "{response:?}");
    response.body["refresh_token"].as_str().unwrap().to_owned()
}

async fn client_credentials(
    server: &TestServer,
    auth: &str,
    more: &[(&str, &str)],
) -> OAuthResponse {
    let mut params = vec![("grant_type", "client_credentials")];
    params.extend_from_slice(more);
    server.oauth("/oauth/token", Some(auth), &params).await
}

#[tokio::test]
async fn client_credentials_with_a_resource_gets_a_token_for_it_alone_with_its_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let (id, secret) = server
        .add_client("svc", &[GrantType::ClientCredentials], &["read", "write"])
        .await;
    let auth = basic(&id, &secret);

    let r = client_credentials(&server, &auth, &[("resource", MCP)]).await;
    let token = access_token(&r);
    assert_eq!(
        r.body["scope"], "read",
        "narrowed to what the resource accepts"
    );
    let claims = claims_for(&server, &token, MCP).await.unwrap();
    assert_eq!(claims["aud"], MCP, "the resource, and nothing else");
    assert_eq!(claims["scope"], "read");

    // A requested scope is narrowed too, not refused.
    let r = client_credentials(
        &server,
        &auth,
        &[("resource", MCP), ("scope", "read write")],
    )
    .await;
    assert_eq!(r.body["scope"], "read", "{r:?}");
    let r = client_credentials(&server, &auth, &[("resource", FILES), ("scope", "write")]).await;
    let claims = claims_for(&server, &access_token(&r), FILES).await.unwrap();
    assert_eq!(
        (&claims["aud"], &claims["scope"]),
        (&Value::from(FILES), &Value::from("write"))
    );

    // Without a resource, as before: the server's own audience and the client's scopes.
    let r = client_credentials(&server, &auth, &[]).await;
    let claims = claims_for(&server, &access_token(&r), "waxseal-api")
        .await
        .unwrap();
    assert_eq!(
        (&claims["aud"], &claims["scope"]),
        (&Value::from("waxseal-api"), &Value::from("read write"))
    );
    server.stop().await;
}

#[tokio::test]
async fn token_for_one_resource_replayed_at_another_or_at_the_servers_own_api_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    server.add_user("bob", &["read"]).await;
    let (id, secret) = server
        .add_client(
            "svc",
            &[GrantType::ClientCredentials, GrantType::Password],
            &["read"],
        )
        .await;
    let auth = basic(&id, &secret);
    let service_token =
        access_token(&client_credentials(&server, &auth, &[("resource", MCP)]).await);
    let r = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", PASSWORD),
                ("resource", MCP),
            ],
        )
        .await;
    let user_token = access_token(&r);

    for token in [&service_token, &user_token] {
        // The resource's own verifier accepts it; another resource's refuses it by its audience.
        assert!(claims_for(&server, token, MCP).await.is_ok());
        let refused = claims_for(&server, token, FILES).await.unwrap_err();
        assert_eq!(refused.kind(), waxseal::ErrorKind::Audience, "{refused}");
        let refused = claims_for(&server, token, "waxseal-api").await.unwrap_err();
        assert_eq!(refused.kind(), waxseal::ErrorKind::Audience, "{refused}");
        // This server's own API is another audience too.
        let (status, challenge, _) = server.get_with("/api/me", token).await;
        assert_eq!(status, 401, "{challenge:?}");
    }
    let (status, _, _) = server.get_with("/userinfo", &user_token).await;
    assert_eq!(status, 401, "/userinfo takes tokens for this server only");
    server.stop().await;
}

#[tokio::test]
async fn resource_tokens_are_introspected_and_revoked_by_their_client_and_stay_refused_at_the_api()
{
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let (id, secret) = server
        .add_client("svc", &[GrantType::ClientCredentials], &["read"])
        .await;
    let auth = basic(&id, &secret);
    let (other_id, other_secret) = server
        .add_client("other", &[GrantType::ClientCredentials], &["read"])
        .await;
    let token = access_token(&client_credentials(&server, &auth, &[("resource", MCP)]).await);
    let introspect = async |auth: &str| {
        let r = server
            .oauth("/oauth/introspect", Some(auth), &[("token", &token)])
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body
    };

    let body = introspect(&auth).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(
        (&body["aud"], &body["scope"]),
        (&Value::from(MCP), &Value::from("read"))
    );
    assert_eq!(body["client_id"], id.as_str());
    // Another client may not see it, exactly as for an invalid token.
    let body = introspect(&basic(&other_id, &other_secret)).await;
    assert_eq!(body, serde_json::json!({"active": false}));
    // Introspection verified it without the audience of /api/*: the API's cache never learned it.
    let (status, _, _) = server.get_with("/api/me", &token).await;
    assert_eq!(
        status, 401,
        "a token for a resource is not one for this server's API"
    );

    // Another client's revocation changes nothing; its own client's denies it.
    let r = server
        .oauth(
            "/oauth/revoke",
            Some(&basic(&other_id, &other_secret)),
            &[("token", &token)],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(introspect(&auth).await["active"], true);
    let r = server
        .oauth(
            "/oauth/revoke",
            Some(&auth),
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        introspect(&auth).await,
        serde_json::json!({"active": false})
    );

    // A resource removed from the server: its tokens are no longer reported active.
    let fresh = access_token(&client_credentials(&server, &auth, &[("resource", MCP)]).await);
    server.service.remove_resource(MCP).await.unwrap();
    let r = server
        .oauth("/oauth/introspect", Some(&auth), &[("token", &fresh)])
        .await;
    assert_eq!(r.body, serde_json::json!({"active": false}), "{r:?}");
    server.stop().await;
}

#[tokio::test]
async fn unknown_repeated_fragment_and_unaskable_resources_are_invalid_target() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    server
        .service
        .add_resource("https://admin.example/", &["admin".into()])
        .await
        .unwrap();
    let (id, secret) = server
        .add_client("svc", &[GrantType::ClientCredentials], &["read"])
        .await;
    let auth = basic(&id, &secret);
    for (resources, why) in [
        (vec!["https://unknown.example/"], "not registered"),
        (vec![MCP, FILES], "two resources"),
        (vec![MCP, MCP], "the same resource twice"),
        (vec!["https://mcp.example/mcp#frag"], "a fragment"),
        (vec!["mcp.example/mcp"], "not absolute"),
        (vec!["https://admin.example/"], "no scope of the client's"),
    ] {
        let mut params = vec![("grant_type", "client_credentials")];
        params.extend(resources.iter().map(|r| ("resource", *r)));
        let r = server.oauth("/oauth/token", Some(&auth), &params).await;
        r.assert_error(400, "invalid_target");
        if resources.len() > 1 {
            let description = r.body["error_description"].as_str().unwrap();
            assert!(description.contains("one audience"), "{why}: {description}");
        }
    }
    server.stop().await;
}

/// The code flow's relying party: a confidential client of scopes `read write`, and alice (scope `read`).
struct Rp {
    server: TestServer,
    auth: String,
    client_id: String,
}

impl Rp {
    async fn start(dir: &std::path::Path) -> Rp {
        let server = start(dir).await;
        server.add_alice_with_profile().await;
        let client = server
            .add_web_client(
                "Example App",
                &["read", "write"],
                WebClient {
                    redirect_uris: vec![REDIRECT.into()],
                    ..WebClient::default()
                },
            )
            .await;
        Rp {
            auth: basic(&client.client_id, client.client_secret.as_str()),
            client_id: client.client_id.clone(),
            server,
        }
    }

    fn authorize_url(&self, challenge: &str, resources: &[&str]) -> String {
        let mut url = url::Url::parse(&self.server.at("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid offline_access read"),
            ("state", "st"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]);
        for resource in resources {
            url.query_pairs_mut().append_pair("resource", resource);
        }
        url.into()
    }

    /// Walks the browser part (sign-in, consent) and returns the redirect's parameters.
    async fn redirect(&self, challenge: &str, resources: &[&str]) -> BTreeMap<String, String> {
        let mut agent = Agent::new(&self.server.url);
        let mut page = agent.get(&self.authorize_url(challenge, resources)).await;
        if page.status == 200 && page.body.contains("action=\"/signin\"") {
            let form = page.form("/signin");
            page = agent
                .submit(&form, &[("username", "alice"), ("password", PASSWORD)])
                .await;
        }
        if page.status == 200 && page.body.contains("action=\"/consent\"") {
            let form = page.form("/consent");
            page = agent.submit(&form, &[("decision", "allow")]).await;
        }
        assert_eq!(page.status, 303, "{}", page.body);
        page.redirect_params()
    }

    async fn exchange(&self, code: &str, verifier: &str, resource: Option<&str>) -> OAuthResponse {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ];
        params.extend(resource.map(|r| ("resource", r)));
        self.server
            .oauth("/oauth/token", Some(&self.auth), &params)
            .await
    }
}

#[tokio::test]
async fn the_code_flow_with_a_resource_issues_tokens_for_it_and_refreshes_keep_or_narrow_it() {
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::start(dir.path()).await;
    let server = &rp.server;
    let (verifier, challenge) = pkce();
    let params = rp.redirect(&challenge, &[MCP]).await;
    let code = &params["code"];

    let r = rp.exchange(code, &verifier, Some(MCP)).await;
    let token = access_token(&r);
    assert!(
        r.body["id_token"].is_string(),
        "openid is the grant's, kept: {r:?}"
    );
    let claims = claims_for(server, &token, MCP).await.unwrap();
    assert_eq!(claims["aud"], MCP);
    assert_eq!(claims["scope"], "openid offline_access read");

    // A refresh keeps the resource whether it names it or not.
    let refresh = refresh_token(&r);
    let r = server.refresh_grant(&rp.auth, &refresh, &[]).await;
    let claims = claims_for(server, &access_token(&r), MCP).await.unwrap();
    assert_eq!(claims["aud"], MCP);
    let refresh = refresh_token(&r);
    let r = server
        .refresh_grant(&rp.auth, &refresh, &[("resource", MCP), ("scope", "read")])
        .await;
    let claims = claims_for(server, &access_token(&r), MCP).await.unwrap();
    assert_eq!(
        (&claims["aud"], &claims["scope"]),
        (&Value::from(MCP), &Value::from("read")),
        "narrowed"
    );

    // Another resource — registered, and one the client may ask for — is refused, and rotates nothing.
    let refresh = refresh_token(&r);
    for other in [
        &[("resource", FILES)][..],
        &[("resource", MCP), ("resource", FILES)],
    ] {
        let r = server.refresh_grant(&rp.auth, &refresh, other).await;
        r.assert_error(400, "invalid_target");
    }
    let r = server.refresh_grant(&rp.auth, &refresh, &[]).await;
    assert_eq!(
        r.status, 200,
        "the refused refreshes used nothing up: {r:?}"
    );
    rp.server.stop().await;
}

#[tokio::test]
async fn code_exchanged_for_another_resource_than_its_authorization_request_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::start(dir.path()).await;
    let (verifier, challenge) = pkce();
    let params = rp.redirect(&challenge, &[MCP]).await;
    rp.exchange(&params["code"], &verifier, Some(FILES))
        .await
        .assert_error(400, "invalid_target");

    // Asked at the exchange without having been asked at /authorize: also another audience than the code's.
    let (verifier, challenge) = pkce();
    let params = rp.redirect(&challenge, &[]).await;
    rp.exchange(&params["code"], &verifier, Some(MCP))
        .await
        .assert_error(400, "invalid_target");

    // Without a resource anywhere: the server's own audience, as before.
    let (verifier, challenge) = pkce();
    let params = rp.redirect(&challenge, &[]).await;
    let r = rp.exchange(&params["code"], &verifier, None).await;
    let claims = claims_for(&rp.server, &access_token(&r), "waxseal-api")
        .await
        .unwrap();
    assert_eq!(claims["aud"], "waxseal-api");
    rp.server.stop().await;
}

#[tokio::test]
async fn authorize_with_an_unknown_repeated_or_fragment_resource_redirects_invalid_target() {
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::start(dir.path()).await;
    let (_, challenge) = pkce();
    for resources in [
        &["https://unknown.example/"][..],
        &[MCP, FILES],
        &["https://mcp.example/mcp#frag"],
    ] {
        let mut agent = Agent::new(&rp.server.url);
        let page = agent.get(&rp.authorize_url(&challenge, resources)).await;
        assert_eq!(page.status, 303, "{resources:?}: {}", page.body);
        assert!(page.location().unwrap().starts_with(REDIRECT));
        let params = page.redirect_params();
        assert_eq!(params["error"], "invalid_target", "{resources:?}");
        assert_eq!(params["state"], "st");
        assert!(!params.contains_key("code"));
    }
    rp.server.stop().await;
}

/// The resource is remembered on the token family, in the database: a refresh keeps it on either backend, and a
/// refresh asking for another is refused before the token is consumed.
async fn refresh_keeps_the_resource_of_its_session(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    register_resources(&server).await;
    server.add_user("bob", &["read", "write"]).await;
    let (id, secret) = server
        .add_client(
            "app",
            &[GrantType::Password, GrantType::RefreshToken],
            &["read", "write"],
        )
        .await;
    let auth = basic(&id, &secret);
    let r = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", PASSWORD),
                ("resource", MCP),
            ],
        )
        .await;
    assert_eq!(r.body["scope"], "read", "{r:?}");
    let refresh = refresh_token(&r);
    server
        .refresh_grant(&auth, &refresh, &[("resource", FILES)])
        .await
        .assert_error(400, "invalid_target");
    let r = server.refresh_grant(&auth, &refresh, &[]).await;
    let claims = claims_for(&server, &access_token(&r), MCP).await.unwrap();
    assert_eq!(
        (&claims["aud"], &claims["scope"]),
        (&Value::from(MCP), &Value::from("read"))
    );

    // Once the resource is removed, its session is refreshed no more.
    server.service.remove_resource(MCP).await.unwrap();
    server
        .refresh_grant(&auth, &refresh_token(&r), &[])
        .await
        .assert_error(400, "invalid_target");
    server.stop().await;
}

on_both_backends!(refresh_keeps_the_resource_of_its_session);
