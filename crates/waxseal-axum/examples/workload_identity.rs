//! A deploy service that trusts workloads, not passwords: CI jobs and pods present the OIDC token their platform
//! gives them, and a route lets in only the workloads its policy names.
//!
//! - `POST /deploy` takes GitHub Actions OIDC tokens (a job with `permissions: id-token: write` asks for one with
//!   the audience below) and lets in only the configured `repository` on the configured `ref` — not a fork, not
//!   a feature branch, not another repository of the same owner.
//! - `GET /config` takes Kubernetes service-account tokens (a projected volume with the audience below) and lets
//!   in only the configured namespace and service account, read from the nested `kubernetes.io` claim.
//!
//! Every token must be signed by a key the issuer publishes (found through its OpenID discovery document), name
//! the issuer as `iss` and this service's audience in `aud` — a token a workload obtained for another service is
//! refused — and not be expired. A refused token gets 401 `invalid_token`; a valid token of another workload 403
//! `insufficient_scope` with the policy in words (RFC 6750).
//!
//! ```sh
//! GITHUB_AUDIENCE=deploy-service ALLOWED_REPOSITORY=my-org/deploy ALLOWED_REF=refs/heads/main \
//! KUBERNETES_ISSUER=https://kubernetes.default.svc.cluster.local \
//!     cargo run -p waxseal-axum --example workload_identity
//! ```
//!
//! Settings (variables; defaults in brackets): `WORKLOAD_LISTEN` [127.0.0.1:3001]; `GITHUB_ISSUER`
//! [https://token.actions.githubusercontent.com], `GITHUB_AUDIENCE` [deploy-service], `ALLOWED_REPOSITORY`
//! [my-org/deploy], `ALLOWED_REF` [refs/heads/main]; `KUBERNETES_ISSUER` [unset: no `/config` route],
//! `KUBERNETES_AUDIENCE` [deploy-service], `ALLOWED_NAMESPACE` [payments], `ALLOWED_SERVICE_ACCOUNT` [billing].
//! Set `GITHUB_ISSUER=off` to leave out `/deploy`. The tests point both issuers at a local fake; nothing here
//! is specific to the real GitHub beyond the claim names.
// The tests include this file as a module and use the pieces, not `main`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::response::Json;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use waxseal::jwt;
use waxseal_axum::{BearerAuthLayer, Claims, RequireClaims, TokenClaims};
use waxseal_remote::{Issuer, Options, RemoteVerifier};

/// The claims of a GitHub Actions OIDC token this service reads (the token has more: `run_id`, `actor`, …).
#[derive(Debug, Deserialize)]
pub struct GitHubActions {
    /// `owner/name` of the repository whose workflow runs.
    pub repository: String,
    /// The owner (user or organisation) of the repository.
    pub repository_owner: String,
    /// The git ref the workflow runs for: `refs/heads/main`, `refs/tags/v1.2.0`, `refs/pull/7/merge`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The workflow file and ref that define the job: `my-org/deploy/.github/workflows/deploy.yml@refs/heads/main`.
    pub job_workflow_ref: String,
    /// The commit.
    pub sha: Option<String>,
    /// What started the run: `push`, `workflow_dispatch`, `pull_request`, …
    pub event_name: Option<String>,
}

/// CI tokens carry no OAuth scopes: policies are predicates over the claims instead.
impl TokenClaims for GitHubActions {}

/// The claims of a Kubernetes service-account token this service reads.
#[derive(Debug, Deserialize)]
pub struct KubernetesServiceAccount {
    /// The nested claim the API server adds.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesIo,
}

/// The `kubernetes.io` claim.
#[derive(Debug, Deserialize)]
pub struct KubernetesIo {
    /// The namespace of the service account.
    pub namespace: String,
    /// The service account.
    pub serviceaccount: KubernetesObject,
    /// The pod the token is bound to, when it is.
    pub pod: Option<KubernetesObject>,
}

/// A named Kubernetes object.
#[derive(Debug, Deserialize)]
pub struct KubernetesObject {
    /// Its name.
    pub name: String,
    /// Its UID (changes when it is deleted and re-created under the same name).
    pub uid: String,
}

impl TokenClaims for KubernetesServiceAccount {}

/// Who may deploy: tokens of `issuer` for `audience`, from `repository` on `git_ref`.
#[derive(Debug, Clone)]
pub struct GitHubPolicy {
    /// The OIDC issuer.
    pub issuer: String,
    /// The `aud` the job asks for.
    pub audience: String,
    /// `owner/name`.
    pub repository: String,
    /// A full ref, such as `refs/heads/main`.
    pub git_ref: String,
}

/// Who may read the configuration: tokens of `issuer` for `audience`, of `service_account` in `namespace`.
#[derive(Debug, Clone)]
pub struct KubernetesPolicy {
    /// The cluster's service-account issuer.
    pub issuer: String,
    /// The `aud` of the projected token.
    pub audience: String,
    /// The namespace.
    pub namespace: String,
    /// The service account's name.
    pub service_account: String,
}

/// Both policies; a route whose policy is `None` is not served.
#[derive(Debug, Clone)]
pub struct Policy {
    /// For `POST /deploy`.
    pub github: Option<GitHubPolicy>,
    /// For `GET /config`.
    pub kubernetes: Option<KubernetesPolicy>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

impl Policy {
    /// From the variables the module docs list.
    pub fn from_env() -> Policy {
        let github_issuer = env_or(
            "GITHUB_ISSUER",
            "https://token.actions.githubusercontent.com",
        );
        let github = (github_issuer != "off").then(|| GitHubPolicy {
            issuer: github_issuer,
            audience: env_or("GITHUB_AUDIENCE", "deploy-service"),
            repository: env_or("ALLOWED_REPOSITORY", "my-org/deploy"),
            git_ref: env_or("ALLOWED_REF", "refs/heads/main"),
        });
        let kubernetes = std::env::var("KUBERNETES_ISSUER")
            .ok()
            .filter(|v| !v.is_empty())
            .map(|issuer| KubernetesPolicy {
                issuer,
                audience: env_or("KUBERNETES_AUDIENCE", "deploy-service"),
                namespace: env_or("ALLOWED_NAMESPACE", "payments"),
                service_account: env_or("ALLOWED_SERVICE_ACCOUNT", "billing"),
            });
        Policy { github, kubernetes }
    }
}

/// The issuer's verifier, requiring `audience`; fails with what to check when discovery does.
async fn discover(
    issuer: &str,
    audience: &str,
    options: Options,
) -> Result<RemoteVerifier, String> {
    let discovered = Issuer::discover_with_options(issuer, options)
        .await
        .map_err(|e| {
            format!(
                "cannot discover the OIDC issuer {issuer}: {e}\n\
                 Check the URL (it must equal the tokens' iss exactly) and that \
                 {issuer}/.well-known/openid-configuration is reachable from here."
            )
        })?;
    let audience = audience.to_owned();
    Ok(discovered
        .verifier()
        .configure(move |v| v.audience(audience.clone())))
}

/// The routes of `policy`, each behind a bearer layer trusting only its own issuer.
pub async fn router(policy: &Policy, options: Options) -> Result<Router, String> {
    let mut app = Router::new();
    if let Some(github) = &policy.github {
        let verifier = discover(&github.issuer, &github.audience, options.clone()).await?;
        let (repository, git_ref) = (github.repository.clone(), github.git_ref.clone());
        let allowed = RequireClaims::new(
            move |c: &jwt::Claims<GitHubActions>| {
                c.custom.repository == repository && c.custom.git_ref == git_ref
            },
            format!(
                "only workflows of {} on {} may deploy",
                github.repository, github.git_ref
            ),
        );
        app = app.merge(
            Router::new()
                .route("/deploy", post(deploy).route_layer(allowed))
                .layer(
                    BearerAuthLayer::new(verifier)
                        .claims::<GitHubActions>()
                        .realm("deploy"),
                ),
        );
    }
    if let Some(kubernetes) = &policy.kubernetes {
        let verifier = discover(&kubernetes.issuer, &kubernetes.audience, options).await?;
        let (namespace, service_account) = (
            kubernetes.namespace.clone(),
            kubernetes.service_account.clone(),
        );
        let allowed = RequireClaims::new(
            move |c: &jwt::Claims<KubernetesServiceAccount>| {
                c.custom.kubernetes.namespace == namespace
                    && c.custom.kubernetes.serviceaccount.name == service_account
            },
            format!(
                "only the service account {}/{} may read the configuration",
                kubernetes.namespace, kubernetes.service_account
            ),
        );
        app = app.merge(
            Router::new()
                .route("/config", get(config).route_layer(allowed))
                .layer(
                    BearerAuthLayer::new(verifier)
                        .claims::<KubernetesServiceAccount>()
                        .realm("config"),
                ),
        );
    }
    Ok(app)
}

async fn deploy(Claims(claims): Claims<GitHubActions>) -> Json<Value> {
    let job = &claims.custom;
    Json(json!({
        "deploying": job.repository,
        "owner": job.repository_owner,
        "ref": job.git_ref,
        "sha": job.sha,
        "workflow": job.job_workflow_ref,
        "event": job.event_name,
    }))
}

async fn config(Claims(claims): Claims<KubernetesServiceAccount>) -> Json<Value> {
    let k8s = &claims.custom.kubernetes;
    Json(json!({
        "namespace": k8s.namespace,
        "service_account": k8s.serviceaccount.name,
        "pod": k8s.pod.as_ref().map(|p| &p.name),
        "config": { "feature_flags": ["sealed-invoices"] },
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let listen = env_or("WORKLOAD_LISTEN", "127.0.0.1:3001");
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("WORKLOAD_LISTEN={listen:?} is not an address like 127.0.0.1:3001");
        return ExitCode::from(2);
    };
    let policy = Policy::from_env();
    if policy.github.is_none() && policy.kubernetes.is_none() {
        eprintln!("nothing to serve: set KUBERNETES_ISSUER, or leave GITHUB_ISSUER on");
        return ExitCode::from(2);
    }
    let app = match router(&policy, Options::default()).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}; choose another with WORKLOAD_LISTEN");
            return ExitCode::FAILURE;
        }
    };
    println!("workload-identity service listening on http://{listen}");
    if let Some(g) = &policy.github {
        println!(
            "  POST /deploy  tokens of {} for aud {}, from {} on {}",
            g.issuer, g.audience, g.repository, g.git_ref
        );
    }
    if let Some(k) = &policy.kubernetes {
        println!(
            "  GET  /config  tokens of {} for aud {}, from {}/{}",
            k.issuer, k.audience, k.namespace, k.service_account
        );
    }
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("the server stopped: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
