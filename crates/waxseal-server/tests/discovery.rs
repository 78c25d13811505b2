//! Discovery and readiness seen from outside: OpenID Connect Discovery 1.0, RFC 8414, `/readyz`.

mod common;

use common::{TestClock, TestServer, config};
use serde_json::Value;

const DOCUMENTS: [&str; 2] = [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
];

async fn fetch(server: &TestServer, path: &str) -> (u16, Option<String>, Value) {
    let response = server
        .client
        .get(server.at(path))
        .send()
        .await
        .expect("request sent");
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let (status, body) = common::status_and_json(response).await;
    (status, cache, body)
}

#[tokio::test]
async fn discovery_documents_carry_the_required_fields_and_only_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_at_own_url(dir.path(), TestClock::new()).await;
    for path in DOCUMENTS {
        let (status, cache, doc) = fetch(&server, path).await;
        assert_eq!(status, 200, "{path}: {doc}");
        let cache = cache.unwrap_or_default();
        assert!(cache.starts_with("public, max-age="), "{path}: {cache}");
        assert_eq!(doc["issuer"], server.url, "{path}");
        assert_eq!(
            doc["jwks_uri"],
            format!("{}/.well-known/jwks.json", server.url),
            "{path}"
        );
        assert_eq!(doc["subject_types_supported"][0], "public", "{path}");
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["ES256", "RS256"]),
            "{path}"
        );
        // What ID tokens can be encrypted with: public-key algorithms only (never dir or a key wrap, whose key the
        // server would have to keep for the client), and every content encryption.
        let algs = doc["id_token_encryption_alg_values_supported"]
            .as_array()
            .unwrap();
        for alg in ["RSA-OAEP", "RSA-OAEP-256"] {
            assert!(algs.contains(&serde_json::json!(alg)), "{path}: {algs:?}");
        }
        for shared in ["dir", "A128KW", "A256KW", "A256GCMKW"] {
            assert!(
                !algs.contains(&serde_json::json!(shared)),
                "{path}: {algs:?}"
            );
        }
        let encs = doc["id_token_encryption_enc_values_supported"]
            .as_array()
            .unwrap();
        for enc in ["A128CBC-HS256", "A256GCM"] {
            assert!(encs.contains(&serde_json::json!(enc)), "{path}: {encs:?}");
        }
        assert_eq!(
            doc["response_types_supported"],
            serde_json::json!(["code"]),
            "{path}"
        );
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!([
                "password",
                "refresh_token",
                "client_credentials",
                "authorization_code"
            ]),
            "{path}"
        );
        for (field, endpoint) in [
            ("authorization_endpoint", "/authorize"),
            ("token_endpoint", "/oauth/token"),
            ("userinfo_endpoint", "/userinfo"),
            ("end_session_endpoint", "/session/end"),
            ("revocation_endpoint", "/oauth/revoke"),
            ("introspection_endpoint", "/oauth/introspect"),
        ] {
            assert_eq!(doc[field], format!("{}{endpoint}", server.url), "{path}");
            // Every advertised endpoint is served (it refuses this empty request, but it is there).
            let answered = server
                .client
                .get(doc[field].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_ne!(answered.status(), 404, "{path}: {field}");
        }
        for field in [
            "token_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
        ] {
            assert_eq!(
                doc[field],
                serde_json::json!(["client_secret_basic", "client_secret_post", "none"]),
                "{path}: {field}"
            );
        }
        // Only what exists: no dynamic registration, no request objects, no device flow, no implicit flow.
        for absent in [
            "registration_endpoint",
            "request_object_signing_alg_values_supported",
            "device_authorization_endpoint",
            "pushed_authorization_request_endpoint",
        ] {
            assert!(doc[absent].is_null(), "{path} advertises {absent}: {doc}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn discovery_issuer_equals_the_configured_issuer_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = "https://auth.example.test/tenants/acme";
    let server = TestServer::start_with(
        waxseal_server::Config {
            issuer: issuer.into(),
            ..config(dir.path())
        },
        TestClock::new(),
    )
    .await;
    for path in DOCUMENTS {
        let (_, _, doc) = fetch(&server, path).await;
        assert_eq!(doc["issuer"], issuer, "{path}");
        assert_eq!(
            doc["jwks_uri"],
            format!("{issuer}/.well-known/jwks.json"),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn discovered_jwks_uri_verifies_issued_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_at_own_url(dir.path(), TestClock::new()).await;
    server.add_user("dora", &["read:orders"]).await;
    let (access, _) = server.login_ok("dora").await;
    let (_, _, doc) = fetch(&server, "/.well-known/openid-configuration").await;
    let jwks = server
        .client
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys = waxseal::KeySet::from_jwks(&jwks).unwrap();
    let claims = waxseal::jwt::Verifier::new(keys)
        .issuer(doc["issuer"].as_str().unwrap())
        .audience("waxseal-api")
        .typ("at+jwt")
        .verify::<Value>(&access)
        .unwrap();
    assert_eq!(claims.custom["scope"], "read:orders");
    server.stop().await;
}

#[tokio::test]
async fn readyz_is_200_while_the_store_answers_and_503_once_it_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let (status, _, body) = fetch(&server, "/readyz").await;
    assert_eq!((status, &body["status"]), (200, &Value::from("ready")));
    server.service.close().await;
    let (status, _, body) = fetch(&server, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    server.stop().await;
}
