//! What the MCP server tells a client without a usable token, over real HTTP against a real waxseal server: a call
//! without a token is pointed at the protected resource metadata and the scope to ask for, the metadata names the
//! issuer, and a token the issuer made for another audience — another resource, or the issuer's own API — is
//! refused as `invalid_token`, while the same client's token for this resource gets in.

#![allow(clippy::unwrap_used)]

mod common;

use common::{McpServer, Waxseal};
use serde_json::{Value, json};
use waxseal_example_mcp_server::SCOPE;
use waxseal_server::GrantType;

/// Another resource registered with the same issuer: another MCP server.
const OTHER_RESOURCE: &str = "http://127.0.0.1:9/other-mcp";

/// The MCP `initialize` request, as a client's first POST.
fn initialize() -> String {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "refusals", "version": "1.0.0" }
        }
    })
    .to_string()
}

/// POSTs `initialize` to the MCP endpoint with `token` if any: the status and the `WWW-Authenticate` challenge.
async fn call(mcp: &McpServer, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(&mcp.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

/// A client-credentials token of `client` for `resource` (the issuer's own audience without one).
async fn token(waxseal: &Waxseal, client: &(String, String), resource: Option<&str>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(resource) = resource {
        form.append_pair("resource", resource);
    }
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", waxseal.issuer))
        .basic_auth(&client.0, Some(&client.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_token_is_pointed_at_the_metadata_which_names_the_issuer() {
    let waxseal = Waxseal::start().await;
    let mcp = McpServer::start(&waxseal.issuer).await;

    let (status, challenge) = call(&mcp, None).await;
    assert_eq!(status, 401);
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", mcp.origin());
    assert_eq!(
        challenge,
        format!(r#"Bearer scope="{SCOPE}", resource_metadata="{metadata_url}""#)
    );

    let document: Value = reqwest::get(&metadata_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["resource"], mcp.url.as_str());
    assert_eq!(document["authorization_servers"], json!([waxseal.issuer]));
    assert_eq!(document["scopes_supported"], json!([SCOPE]));

    drop(mcp);
    waxseal.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_resource_or_for_the_issuers_own_api_is_refused() {
    let waxseal = Waxseal::start().await;
    let mcp = McpServer::start(&waxseal.issuer).await;
    waxseal.add_resource(&mcp.url).await;
    waxseal.add_resource(OTHER_RESOURCE).await;
    let client = waxseal
        .service
        .add_client("svc", &[GrantType::ClientCredentials], &[SCOPE.into()])
        .await
        .unwrap();
    let client = (client.client_id.clone(), client.client_secret.to_string());

    for (resource, what) in [
        (Some(OTHER_RESOURCE), "a token for another resource"),
        (None, "a token for the issuer's own API"),
    ] {
        let token = token(&waxseal, &client, resource).await;
        let (status, challenge) = call(&mcp, Some(&token)).await;
        assert_eq!(status, 401, "{what}");
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_token""#)
                && challenge.contains(&format!(
                    r#"resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
                    mcp.origin()
                )),
            "{what}: {challenge}"
        );
    }

    // The control: the same client's token for this resource gets in.
    let token = token(&waxseal, &client, Some(&mcp.url)).await;
    let (status, challenge) = call(&mcp, Some(&token)).await;
    assert_eq!(status, 200, "{challenge}");

    drop(mcp);
    waxseal.stop().await;
}
