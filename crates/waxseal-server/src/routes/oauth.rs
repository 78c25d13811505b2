//! The OAuth 2.0 endpoints of registered clients: `POST /oauth/token` (RFC 6749), `/oauth/revoke` (RFC 7009) and
//! `/oauth/introspect` (RFC 7662). Their errors are RFC 6749 §5.2's ([`OAuthError`]), not [`super::ApiError`], and
//! every answer is `no-store`.
//!
//! A token request may carry a DPoP proof (RFC 9449, one `DPoP` header): it is checked once the client is
//! authenticated and before the grant runs, and the access token issued is then bound to the proof's key
//! (`token_type: DPoP`).
//!
//! The error type is in `error`, the form and the client's authentication in `client`; this file holds the
//! endpoints and their answers.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::Peer;
use super::cors::ReadableBy;
use super::form::FormBody;
use super::introspection;
use super::openapi::responses;
use super::openapi::schema;
use super::openapi::schema::ErrorBody;
use crate::error::Error;
use crate::service::{AuthService, CodeExchange, GrantedTokens};
use crate::store::GrantType;

mod client;
mod error;

use client::oauth_client;
pub(super) use client::{OAuthParams, client_credentials};
pub use error::OAuthError;
use error::no_store;

/// The `DPoP` request header (RFC 9449 §4.1).
pub(super) const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8).
pub(super) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The request's DPoP proof, if it sends one: at most one `DPoP` header (RFC 9449 §4.3, check 1), of visible ASCII.
fn dpop_proof(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let mut proofs = headers.get_all(DPOP).iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(OAuthError::invalid_dpop_proof(
            "send one DPoP header, not several",
        ));
    }
    proof
        .to_str()
        .map(Some)
        .map_err(|_| OAuthError::invalid_dpop_proof("the DPoP header is not a compact JWS"))
}

/// The successful answer of the token endpoint (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthTokenResponse<'a> {
    /// The access token: a JWT (`typ: at+jwt`, RFC 9068).
    access_token: &'a str,
    /// `DPoP` when the request carried a DPoP proof and the access token is bound to its key (RFC 9449 §5),
    /// else `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// The refresh token (not for the client_credentials grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    refresh_token: Option<&'a str>,
    /// The granted scope, space-separated, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    scope: Option<&'a str>,
    /// The OpenID Connect ID token (authorization_code grant with the `openid` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    id_token: Option<&'a str>,
}

/// `POST /oauth/token` (RFC 6749 §4.3, §4.4, §6).
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    summary = "OAuth 2.0 token endpoint (RFC 6749)",
    description = "The `authorization_code` (with PKCE), `password`, `refresh_token` and `client_credentials` \
                   grants. A confidential client authenticates with HTTP Basic (`client_secret_basic`) or with \
                   `client_id` and `client_secret` in the body (`client_secret_post`), never both; a public client \
                   sends its `client_id` alone (`none`). A parameter may not be repeated; an empty one counts as absent. \
                   With a DPoP proof (RFC 9449) in the `DPoP` header the access token is bound to the proof's key \
                   (`token_type: DPoP`, `cnf.jkt`), and a public client's refresh token too. With `resource` (RFC 8707, \
                   one value, a registered resource) the access token's only `aud` is that resource and its scope is \
                   narrowed to the scopes the resource accepts; a code's exchange and a refresh may only repeat the \
                   resource of their grant.",
    params(
        ("DPoP" = Option<String>, Header,
         description = "A DPoP proof (RFC 9449 §4): a JWT of `typ: dpop+jwt` for `POST` to this endpoint's URL under the issuer, at most one"),
    ),
    request_body(content = schema::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ()),
    responses(
        (status = 200, description = "Tokens issued", body = OAuthTokenResponse,
         headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"),
                 ("DPoP-Nonce" = String, description = "With a DPoP proof, when the server requires nonces: the nonce for the next proof"))),
        (status = 400, description = "RFC 6749 §5.2: `invalid_request`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type` or `invalid_scope`; RFC 8707: `invalid_target` (an unknown, malformed or repeated `resource`, one the client may not ask for, or not the grant's); RFC 9449: `invalid_dpop_proof`, or `use_dpop_nonce` with a `DPoP-Nonce` header", body = ErrorBody,
         headers(("DPoP-Nonce" = String, description = "With `use_dpop_nonce`: the nonce to put in the proof"))),
        (status = 503, description = "`temporarily_unavailable`: the database, or the DPoP replay store (Redis), does not answer", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 429, description = "`slow_down`: too many failed logins (password grant)", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        responses::ClientRefusals,
    )
)]
pub(super) async fn oauth_token(
    State(service): State<Arc<AuthService>>,
    Peer(address): Peer,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let mut readers = None;
    let response = match oauth_token_inner(&service, address, &headers, form, &mut readers).await {
        Ok(response) => response,
        Err(mut e) => {
            if e.error == "use_dpop_nonce" {
                e.dpop_nonce = service.dpop_nonce();
            }
            e.into_response()
        }
    };
    readable(readers, no_store(response))
}

/// `response`, marked as readable by `readers` when the client was identified (see [`super::cors`]).
fn readable(readers: Option<ReadableBy>, response: Response) -> Response {
    match readers {
        Some(readers) => readers.mark(response),
        None => response,
    }
}

/// The token endpoint's work; `readers` is set to the client's web origins once the client is authenticated, for
/// the answer whatever it is.
async fn oauth_token_inner(
    service: &AuthService,
    address: Option<IpAddr>,
    headers: &HeaderMap,
    form: FormBody,
    readers: &mut Option<ReadableBy>,
) -> Result<Response, OAuthError> {
    let proof = dpop_proof(headers)?;
    let (params, client, basic) = oauth_client(service, headers, form, "grant_type").await?;
    *readers = ReadableBy::client(headers, &client.web);
    let dpop = match proof {
        Some(proof) => Some(
            service
                .check_dpop_proof(proof, "POST", "/oauth/token", None)
                .await
                .map_err(|e| OAuthError::from_dpop(&e, basic))?,
        ),
        None => None,
    };
    let dpop = dpop.as_ref();
    let grant = params.require("grant_type")?;
    let Some(grant) = GrantType::parse(grant) else {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the supported grant types are authorization_code, password, refresh_token and client_credentials",
        ));
    };
    let scope = params.get("scope");
    let resource = params.get("resource");
    let issued: Result<GrantedTokens, Error> = match grant {
        GrantType::Password => {
            let username = params.require("username")?;
            let password = params.require("password")?;
            service
                .password_grant(&client, username, password, scope, resource, address, dpop)
                .await
        }
        GrantType::RefreshToken => {
            let refresh_token = params.require("refresh_token")?;
            service
                .refresh_grant(&client, refresh_token, scope, resource, dpop)
                .await
        }
        GrantType::ClientCredentials => service
            .client_credentials_grant(&client, scope, resource, dpop)
            .await
            .map(GrantedTokens::from),
        GrantType::AuthorizationCode => {
            let code = params.require("code")?;
            service
                .authorization_code_grant(
                    &client,
                    code,
                    CodeExchange {
                        redirect_uri: params.get("redirect_uri"),
                        verifier: params.get("code_verifier"),
                        resource,
                    },
                    dpop,
                )
                .await
        }
    };
    let granted = issued.map_err(|e| OAuthError::from_service(&e, basic))?;
    let mut response = Json(OAuthTokenResponse {
        access_token: &granted.access_token,
        token_type: if dpop.is_some() { "DPoP" } else { "Bearer" },
        expires_in: granted.expires_in,
        refresh_token: granted.refresh_token.as_deref().map(String::as_str),
        scope: granted.scope.as_deref(),
        id_token: granted.id_token.as_deref(),
    })
    .into_response();
    if dpop.is_some()
        && let Some(nonce) = service
            .dpop_nonce()
            .and_then(|n| HeaderValue::from_str(&n).ok())
    {
        response.headers_mut().insert(DPOP_NONCE, nonce);
    }
    Ok(response)
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was known.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    summary = "Revoke a token (RFC 7009)",
    description = "A refresh token ends its session; an access token is denied until it expires. Unknown tokens \
                   and tokens of other clients change nothing and are answered 200 too.",
    request_body(content = schema::TokenLookup, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ()),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke",
         headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, description = "`invalid_request`: `token` missing or a parameter repeated", body = ErrorBody),
        responses::ClientRefusals,
    )
)]
pub(super) async fn oauth_revoke(
    State(service): State<Arc<AuthService>>,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let mut readers = None;
    let revoked = async {
        let (params, client, basic) = oauth_client(&service, &headers, form, "token").await?;
        readers = ReadableBy::client(&headers, &client.web);
        service
            .revoke(
                &client,
                params.require("token")?,
                params.get("token_type_hint"),
            )
            .await
            .map_err(|e| OAuthError::from_service(&e, basic))
    };
    let response = match revoked.await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    };
    readable(readers, no_store(response))
}

/// `POST /oauth/introspect` (RFC 7662): what an active token of the calling client is (an access token's claims, a
/// refresh token's client, subject, scope and times), or any client's access token for a client that may
/// introspect them; `{"active": false}` otherwise.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    summary = "Introspect a token (RFC 7662)",
    request_body(content = schema::TokenLookup, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ()),
    responses(
        (status = 200, description = "For an active token the client may see — its own access and refresh tokens, and every client's access tokens when it was added with `--may-introspect` — the claims of an access token (`token_type: Bearer`) or the client, subject, username, scope, `iat` and `exp` of a refresh token (`token_type: refresh_token`); `{\"active\": false}` for everything else, another client's token included (RFC 7662 §2.2)", body = schema::IntrospectionResponse,
         headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, description = "`invalid_request`: `token` missing or a parameter repeated", body = ErrorBody),
        responses::ClientRefusals,
    )
)]
pub(super) async fn oauth_introspect(
    State(service): State<Arc<AuthService>>,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let introspected = async {
        let (params, client, basic) = oauth_client(&service, &headers, form, "token").await?;
        service
            .introspect_for(&client, params.require("token")?)
            .await
            .map_err(|e| OAuthError::from_service(&e, basic))
    };
    no_store(match introspected.await {
        Ok(found) => Json(introspection::document(found)).into_response(),
        Err(e) => e.into_response(),
    })
}
