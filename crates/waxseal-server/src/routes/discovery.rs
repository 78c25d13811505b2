//! The public documents: the JWK Set, the discovery metadata (OpenID Connect Discovery 1.0, RFC 8414) and the
//! OpenAPI document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::openapi::schema;
use crate::service::authorize::OIDC_SCOPES;
use crate::service::{AuthService, id_token_encryption_algorithms, id_token_encryption_encs};
use crate::store::GrantType;

/// `GET /.well-known/jwks.json`.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    summary = "The public keys that verify access tokens (RFC 7517 JWK Set)",
    responses(
        (status = 200, description = "The JWK Set", body = schema::JwkSet, content_type = "application/jwk-set+json",
         headers(("Cache-Control" = String, description = "`public, max-age=…`"))),
    )
)]
pub(super) async fn jwks(State(service): State<Arc<AuthService>>) -> Response {
    let mut response = (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/jwk-set+json"),
        )],
        service.jwks_document(),
    )
        .into_response();
    cache_publicly(&mut response, service.config().jwks_max_age);
    response
}

/// `Cache-Control: public, max-age=…` for the public documents (JWKS, discovery).
fn cache_publicly(response: &mut Response, max_age: std::time::Duration) {
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs())) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
}

/// The discovery document (OpenID Connect Discovery 1.0 and RFC 8414 share it): only what the server implements.
/// Endpoint URLs are built on the issuer, which is the server's public base URL, and `issuer` is the configured
/// value exactly, as both specifications require.
///
/// The grant types are listed explicitly: leaving `grant_types_supported` out would mean the RFC 8414 default of
/// `authorization_code` and `implicit`, and there is no implicit flow. `id_token_signing_alg_values_supported`
/// lists the algorithms that sign ID tokens now: the signing key's (the default) and RS256 (OpenID Connect Core
/// §15.1), whose key signs ID tokens for the clients registered for it. `id_token_encryption_*_values_supported`
/// list what the server can encrypt ID tokens with for a client registered with a public encryption key: the
/// asymmetric key-management algorithms and every content encryption. `dpop_signing_alg_values_supported`
/// (RFC 9449 §5.1) lists the algorithms a DPoP proof may be signed with. `registration_endpoint` is there only
/// with `--allow-registration`, `client_id_metadata_document_supported` only with
/// `--allow-client-metadata-documents`.
fn discovery_document(service: &AuthService) -> serde_json::Value {
    let issuer = &service.config().issuer;
    let base = issuer.trim_end_matches('/');
    let algs = service.id_token_signing_algorithms();
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    let scopes: Vec<&str> = OIDC_SCOPES.to_vec();
    let dpop_algs: Vec<String> = service
        .dpop_algorithms()
        .iter()
        .map(|a| a.to_string())
        .collect();
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{base}/session/end"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "id_token_encryption_alg_values_supported": id_token_encryption_algorithms(),
        "id_token_encryption_enc_values_supported": id_token_encryption_encs(),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid",
                             "amr", "name", "preferred_username", "email", "email_verified"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "dpop_signing_alg_values_supported": dpop_algs,
    });
    // RFC 7591 §3 / RFC 8414 §2: advertised only when open registration is on, so that a client (an MCP client)
    // tries it only where it can work.
    if service.config().allow_registration
        && let Some(fields) = document.as_object_mut()
    {
        fields.insert(
            "registration_endpoint".into(),
            json!(format!("{base}/register")),
        );
    }
    // draft-ietf-oauth-client-id-metadata-document §4 (and the MCP authorization spec): a client may then name
    // itself by the URL of its metadata document. Left out when off, as a client treats absent as false.
    if service.config().allow_client_metadata_documents
        && let Some(fields) = document.as_object_mut()
    {
        fields.insert("client_id_metadata_document_supported".into(), json!(true));
    }
    document
}

fn discovery(service: &AuthService) -> Response {
    let mut response = Json(discovery_document(service)).into_response();
    cache_publicly(&mut response, service.config().jwks_max_age);
    response
}

/// `GET /.well-known/openid-configuration`.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    summary = "OpenID Connect Discovery 1.0 metadata",
    responses(
        (status = 200, description = "The server's metadata", body = schema::DiscoveryDocument,
         headers(("Cache-Control" = String, description = "`public, max-age=…`"))),
    )
)]
pub(super) async fn openid_configuration(State(service): State<Arc<AuthService>>) -> Response {
    discovery(&service)
}

/// `GET /.well-known/oauth-authorization-server`.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    summary = "OAuth 2.0 authorization server metadata (RFC 8414)",
    responses(
        (status = 200, description = "The server's metadata", body = schema::DiscoveryDocument,
         headers(("Cache-Control" = String, description = "`public, max-age=…`"))),
    )
)]
pub(super) async fn oauth_authorization_server(
    State(service): State<Arc<AuthService>>,
) -> Response {
    discovery(&service)
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "This document: OpenAPI 3.1",
    responses((status = 200, description = "The OpenAPI document", body = Object)),
)]
pub(super) async fn openapi_json(State(document): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        document.openapi,
    )
        .into_response()
}
