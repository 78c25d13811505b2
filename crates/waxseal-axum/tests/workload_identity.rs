//! The `workload_identity` example (the same code, included as a module) against fake OIDC issuers on loopback:
//! one GitHub Actions-style, one Kubernetes-style, each serving a discovery document and a JWK Set, with tokens
//! signed here by the core crate. The allowed workload passes; another repository, branch, service account,
//! audience, issuer or an expired token is refused with the RFC 6750 answer.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

#[path = "../examples/workload_identity.rs"]
mod workload_identity;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use waxseal::jwt::{Claims, NumericDate, Signer};
use waxseal::{Algorithm, SigningKey};
use waxseal_remote::Options;
use workload_identity::{GitHubPolicy, KubernetesPolicy, Policy};

const AUDIENCE: &str = "deploy-service";

/// An OIDC issuer on loopback publishing `key`; returns its issuer URL.
async fn fake_issuer(key: &SigningKey) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let metadata = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks"),
        "subject_types_supported": ["public"],
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": [key.algorithm().to_string()],
    })
    .to_string();
    let jwks = json!({ "keys": [serde_json::from_str::<Value>(&key.public_jwk().unwrap().to_json()).unwrap()] })
        .to_string();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || std::future::ready(metadata.clone())),
        )
        .route(
            "/.well-known/jwks",
            get(move || std::future::ready(jwks.clone())),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

/// A token of `key` from `issuer` for `aud`, valid for five minutes from `now`.
fn token(key: &SigningKey, issuer: &str, aud: &str, sub: &str, claims: Value) -> String {
    token_at(key, issuer, aud, sub, claims, NumericDate::now())
}

fn token_at(
    key: &SigningKey,
    issuer: &str,
    aud: &str,
    sub: &str,
    claims: Value,
    issued: NumericDate,
) -> String {
    Signer::new(key)
        .sign(
            &Claims::new(claims)
                .issuer(issuer)
                .subject(sub)
                .audience(aud)
                .issued_at(issued)
                .expires_at(issued.plus(Duration::from_secs(300))),
        )
        .unwrap()
}

fn github(repository: &str, git_ref: &str) -> Value {
    let owner = repository.split('/').next().unwrap();
    json!({
        "repository": repository,
        "repository_owner": owner,
        "ref": git_ref,
        "job_workflow_ref": format!("{repository}/.github/workflows/deploy.yml@{git_ref}"),
        "sha": "2f1c6bd0a5e3b4d1c9a8e7f6d5c4b3a291807f6e",
        "event_name": "push",
        "run_id": "4242",
    })
}

fn github_sub(repository: &str, git_ref: &str) -> String {
    format!("repo:{repository}:ref:{git_ref}")
}

fn kubernetes(namespace: &str, account: &str) -> Value {
    json!({
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": { "name": account, "uid": "6f1a8e2c-35b0-4c5e-9d0e-7b1f3c2a9d41" },
            "pod": { "name": format!("{account}-7d9c5b6f4-x2k8q"), "uid": "0b3e9f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b" },
        }
    })
}

struct Fixture {
    url: String,
    github_key: SigningKey,
    github_issuer: String,
    k8s_key: SigningKey,
    k8s_issuer: String,
    client: reqwest::Client,
}

impl Fixture {
    async fn new() -> Fixture {
        let github_key = SigningKey::generate(Algorithm::RS256).unwrap();
        let k8s_key = SigningKey::generate(Algorithm::ES256).unwrap();
        let github_issuer = fake_issuer(&github_key).await;
        let k8s_issuer = fake_issuer(&k8s_key).await;
        let policy = Policy {
            github: Some(GitHubPolicy {
                issuer: github_issuer.clone(),
                audience: AUDIENCE.into(),
                repository: "my-org/deploy".into(),
                git_ref: "refs/heads/main".into(),
            }),
            kubernetes: Some(KubernetesPolicy {
                issuer: k8s_issuer.clone(),
                audience: AUDIENCE.into(),
                namespace: "payments".into(),
                service_account: "billing".into(),
            }),
        };
        let app = workload_identity::router(&policy, Options::default())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fixture {
            url,
            github_key,
            github_issuer,
            k8s_key,
            k8s_issuer,
            client: reqwest::Client::new(),
        }
    }

    fn github_token(&self, repository: &str, git_ref: &str) -> String {
        token(
            &self.github_key,
            &self.github_issuer,
            AUDIENCE,
            &github_sub(repository, git_ref),
            github(repository, git_ref),
        )
    }

    fn k8s_token(&self, namespace: &str, account: &str) -> String {
        token(
            &self.k8s_key,
            &self.k8s_issuer,
            AUDIENCE,
            &format!("system:serviceaccount:{namespace}:{account}"),
            kubernetes(namespace, account),
        )
    }

    /// Sends the request; returns status, `WWW-Authenticate` and the JSON body.
    async fn call(&self, method: &str, path: &str, token: &str) -> (u16, String, Value) {
        let url = format!("{}{path}", self.url);
        let request = match method {
            "POST" => self.client.post(url),
            _ => self.client.get(url),
        };
        let request = if token.is_empty() {
            request
        } else {
            request.bearer_auth(token)
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            status,
            challenge,
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

fn assert_refused(
    answer: &(u16, String, Value),
    status: u16,
    realm: &str,
    error: &str,
    says: &str,
) {
    let (got, challenge, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert!(
        challenge.starts_with(&format!(r#"Bearer realm="{realm}", error="{error}""#)),
        "{challenge}"
    );
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(says),
        "{description:?} should say {says:?}"
    );
}

#[tokio::test]
async fn the_allowed_repository_on_the_allowed_branch_deploys() {
    let f = Fixture::new().await;
    let (status, _, body) = f
        .call(
            "POST",
            "/deploy",
            &f.github_token("my-org/deploy", "refs/heads/main"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deploying"], "my-org/deploy");
    assert_eq!(body["ref"], "refs/heads/main");
    assert_eq!(
        body["workflow"],
        "my-org/deploy/.github/workflows/deploy.yml@refs/heads/main"
    );
}

#[tokio::test]
async fn another_repository_or_branch_is_refused_with_insufficient_scope() {
    let f = Fixture::new().await;
    let policy = "only workflows of my-org/deploy on refs/heads/main may deploy";
    for (repository, git_ref) in [
        ("my-org/other", "refs/heads/main"),
        ("evil-fork/deploy", "refs/heads/main"),
        ("my-org/deploy", "refs/heads/feature"),
        ("my-org/deploy", "refs/pull/7/merge"),
        ("my-org/deploy-staging", "refs/heads/main"),
    ] {
        let answer = f
            .call("POST", "/deploy", &f.github_token(repository, git_ref))
            .await;
        assert_refused(&answer, 403, "deploy", "insufficient_scope", policy);
    }
}

#[tokio::test]
async fn a_token_for_another_audience_or_expired_or_forged_is_an_invalid_token() {
    let f = Fixture::new().await;
    let (repository, git_ref) = ("my-org/deploy", "refs/heads/main");
    let sub = github_sub(repository, git_ref);

    let other_audience = token(
        &f.github_key,
        &f.github_issuer,
        "https://github.com/my-org",
        &sub,
        github(repository, git_ref),
    );
    let answer = f.call("POST", "/deploy", &other_audience).await;
    assert_refused(&answer, 401, "deploy", "invalid_token", "audience");

    // Beyond the 60 s leeway.
    let issued = NumericDate::from_secs(NumericDate::now().secs() - 300 - 120);
    let expired = token_at(
        &f.github_key,
        &f.github_issuer,
        AUDIENCE,
        &sub,
        github(repository, git_ref),
        issued,
    );
    let answer = f.call("POST", "/deploy", &expired).await;
    assert_refused(&answer, 401, "deploy", "invalid_token", "expired");

    // The right claims signed by a key the issuer does not publish.
    let stranger = SigningKey::generate(Algorithm::RS256).unwrap();
    let forged = token(
        &stranger,
        &f.github_issuer,
        AUDIENCE,
        &sub,
        github(repository, git_ref),
    );
    let (status, challenge, _) = f.call("POST", "/deploy", &forged).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );

    // A Kubernetes token, validly signed by the cluster, is not a CI token: each route trusts its own issuer.
    let (status, challenge, _) = f
        .call("POST", "/deploy", &f.k8s_token("payments", "billing"))
        .await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn the_allowed_service_account_reads_the_config_and_others_are_refused() {
    let f = Fixture::new().await;
    let (status, _, body) = f
        .call("GET", "/config", &f.k8s_token("payments", "billing"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["namespace"], "payments");
    assert_eq!(body["service_account"], "billing");
    assert_eq!(body["pod"], "billing-7d9c5b6f4-x2k8q");

    let policy = "only the service account payments/billing may read the configuration";
    for (namespace, account) in [("payments", "default"), ("default", "billing")] {
        let answer = f
            .call("GET", "/config", &f.k8s_token(namespace, account))
            .await;
        assert_refused(&answer, 403, "config", "insufficient_scope", policy);
    }

    // A token without the nested claim (for instance a CI token from the same issuer) cannot be read as a service
    // account: refused, never let through.
    let ci = token(
        &f.k8s_key,
        &f.k8s_issuer,
        AUDIENCE,
        "repo:my-org/deploy:ref:refs/heads/main",
        github("my-org/deploy", "refs/heads/main"),
    );
    let (status, _, body) = f.call("GET", "/config", &ci).await;
    assert_eq!(status, 401, "{body}");

    let other_audience = token(
        &f.k8s_key,
        &f.k8s_issuer,
        "https://kubernetes.default.svc",
        "system:serviceaccount:payments:billing",
        kubernetes("payments", "billing"),
    );
    let answer = f.call("GET", "/config", &other_audience).await;
    assert_refused(&answer, 401, "config", "invalid_token", "audience");

    let (status, challenge, _) = f.call("GET", "/config", "").await;
    assert_eq!(status, 401);
    assert_eq!(challenge, r#"Bearer realm="config""#);
}
