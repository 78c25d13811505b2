//! The OAuth 2.0 endpoints of registered clients: `POST /oauth/token` (RFC 6749), `/oauth/revoke` (RFC 7009) and
//! `/oauth/introspect` (RFC 7662). Their errors are RFC 6749 §5.2's ([`OAuthError`]), not [`super::ApiError`], and
//! every answer is `no-store`.
//!
//! A token request may carry a DPoP proof (RFC 9449, one `DPoP` header): it is checked once the client is
//! authenticated and before the grant runs, and the access token issued is then bound to the proof's key
//! (`token_type: DPoP`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::Peer;
use super::error::{body, quoted_safe};
use super::form::form_decode;
use super::form::{FormBody, FormError};
use super::introspection;
use super::openapi::responses;
use super::openapi::schema;
use super::openapi::schema::ErrorBody;
use crate::error::{Error, ErrorKind, UNAVAILABLE_RETRY_AFTER};
use crate::service::{AuthService, CodeExchange, GrantedTokens};
use crate::store::{Client, GrantType};

/// An RFC 6749 §5.2 error of the `/oauth/*` endpoints.
#[derive(Debug)]
pub struct OAuthError {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    description: String,
    /// Answer with `WWW-Authenticate: Basic` (the client used Basic, or sent no credentials at all).
    basic_challenge: bool,
    /// `Retry-After` seconds (a throttled password grant).
    retry_after: Option<u64>,
    /// A fresh `DPoP-Nonce` (RFC 9449 §8) to send with a `use_dpop_nonce` answer.
    dpop_nonce: Option<String>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description)
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(basic_challenge: bool) -> Self {
        Self::invalid_client_because(basic_challenge, "client authentication failed")
    }

    /// `invalid_client` saying why: the service's message (a client metadata document's refusal names what was
    /// wrong; an unknown id and a wrong secret are the same "client authentication failed").
    fn invalid_client_because(basic_challenge: bool, description: impl Into<String>) -> Self {
        OAuthError {
            basic_challenge,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }

    /// The refusal of a DPoP proof: [`OAuthError::from_service`], but a 503 says that the replay store (Redis), not
    /// the database, does not answer.
    fn from_dpop(e: &Error, basic: bool) -> Self {
        if e.kind() == ErrorKind::Unavailable {
            tracing::warn!(error = %e, "DPoP proof refused: the replay store does not answer");
            return OAuthError {
                retry_after: Some(e.retry_after().unwrap_or(UNAVAILABLE_RETRY_AFTER)),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the server cannot check DPoP proofs for replay now; retry after the Retry-After seconds",
                )
            };
        }
        Self::from_service(e, basic)
    }

    /// A service error, as the OAuth error it is; `basic` says whether the client authenticated with Basic.
    fn from_service(e: &Error, basic: bool) -> Self {
        let (status, error) = match e.kind() {
            ErrorKind::InvalidClient => return Self::invalid_client_because(basic, e.message()),
            // RFC 6749 has no code for this; RFC 8628 §3.5's `slow_down` is the token endpoint's nearest one.
            ErrorKind::Throttled => {
                return OAuthError {
                    retry_after: e.retry_after(),
                    ..Self::new(StatusCode::TOO_MANY_REQUESTS, "slow_down", e.message())
                };
            }
            ErrorKind::InvalidGrant | ErrorKind::InvalidCredentials => {
                (StatusCode::BAD_REQUEST, "invalid_grant")
            }
            ErrorKind::UnauthorizedClient => (StatusCode::BAD_REQUEST, "unauthorized_client"),
            ErrorKind::InvalidScope => (StatusCode::BAD_REQUEST, "invalid_scope"),
            // RFC 8707 §2.
            ErrorKind::InvalidTarget => (StatusCode::BAD_REQUEST, "invalid_target"),
            ErrorKind::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request"),
            // RFC 9449 §5 and §8; the fresh nonce is added by the handler, which has the service.
            ErrorKind::DpopProof => (StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
            ErrorKind::DpopNonce => (StatusCode::BAD_REQUEST, "use_dpop_nonce"),
            ErrorKind::Unavailable => {
                tracing::warn!(error = %e, "request refused: the database is unreachable");
                return OAuthError {
                    retry_after: Some(e.retry_after().unwrap_or(UNAVAILABLE_RETRY_AFTER)),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "the server cannot reach its database; retry after the Retry-After seconds",
                    )
                };
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server failed; the operator can find details in its log",
                );
            }
        };
        Self::new(status, error, e.message())
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
        let mut response = (
            self.status,
            body(self.error, &quoted_safe(&self.description)),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            response.headers_mut().insert(DPOP_NONCE, nonce);
        }
        if self.status == StatusCode::UNAUTHORIZED && self.basic_challenge {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"waxseal\""),
            );
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1) on every `/oauth/*` response, errors included.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The parameters of a form-encoded OAuth request. A parameter without a value counts as absent, none may be
/// included more than once, not even with an empty value (RFC 6749 §3.1, §3.2); unknown ones are ignored.
pub(super) struct OAuthParams(pub(super) HashMap<String, Zeroizing<String>>);

impl OAuthParams {
    pub(super) fn parse(FormBody(form): FormBody) -> Result<Self, OAuthError> {
        let pairs = form.map_err(|e| match e {
            FormError::ContentType => OAuthError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "the request body must be Content-Type: application/x-www-form-urlencoded",
            ),
            FormError::TooLarge => OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the request body is too large",
            ),
            FormError::Malformed => OAuthError::invalid_request(
                "the request body is not a valid form: UTF-8 text, each % followed by two hex digits",
            ),
            FormError::Unreadable => {
                OAuthError::invalid_request("the request body could not be read")
            }
        })?;
        let mut params = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in pairs {
            if !seen.insert(name.clone()) {
                if name == "resource" {
                    return Err(OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_target",
                        crate::service::ONE_RESOURCE,
                    ));
                }
                let name: String = name.chars().take(40).collect();
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {name} is repeated"
                )));
            }
            if !value.is_empty() {
                params.insert(name, value);
            }
        }
        Ok(OAuthParams(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.as_str())
    }

    pub(super) fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the parameter {name} is missing")))
    }
}

/// The client's credentials: `client_secret_basic` or `client_secret_post`, never both — or, for a public client
/// (`token_endpoint_auth_method: none`), its `client_id` alone.
pub(super) struct ClientCredentials {
    pub(super) client_id: Zeroizing<String>,
    /// `None`: a public client's request, which carries no secret.
    pub(super) secret: Option<Zeroizing<String>>,
    pub(super) basic: bool,
}

pub(super) fn client_credentials(
    headers: &HeaderMap,
    params: &OAuthParams,
) -> Result<ClientCredentials, OAuthError> {
    if repeated_authorization(headers) {
        return Err(OAuthError::invalid_request(ONE_AUTHORIZATION));
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return match (params.get("client_id"), params.get("client_secret")) {
            (Some(id), secret) => Ok(ClientCredentials {
                client_id: Zeroizing::new(id.to_owned()),
                secret: secret.map(|s| Zeroizing::new(s.to_owned())),
                basic: false,
            }),
            _ => Err(OAuthError::invalid_client(true)),
        };
    };
    let basic = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim());
    let Some(encoded) = basic else {
        return Err(OAuthError::invalid_client(true));
    };
    if params.get("client_secret").is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method: Authorization: Basic or client_secret in the body",
        ));
    }
    let decoded = STANDARD
        .decode(encoded)
        .ok()
        .map(Zeroizing::new)
        .and_then(|d| String::from_utf8(d.to_vec()).ok())
        .map(Zeroizing::new)
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let (Some(client_id), Some(secret)) = (form_decode(id), form_decode(secret)) else {
        return Err(OAuthError::invalid_client(true));
    };
    if params
        .get("client_id")
        .is_some_and(|body_id| body_id != client_id.as_str())
    {
        return Err(OAuthError::invalid_request(
            "the client_id in the body differs from the one in Authorization: Basic",
        ));
    }
    Ok(ClientCredentials {
        client_id,
        secret: Some(secret),
        basic: true,
    })
}

/// Parses the form and authenticates the client; the `bool` says whether Basic was used.
async fn oauth_client(
    service: &AuthService,
    headers: &HeaderMap,
    form: FormBody,
    required: &str,
) -> Result<(OAuthParams, Client, bool), OAuthError> {
    let params = OAuthParams::parse(form)?;
    params.require(required)?;
    let credentials = client_credentials(headers, &params)?;
    // Only the client credentials grant may authenticate from the service's client cache (see its docs).
    let authenticated = match &credentials.secret {
        None => {
            service
                .authenticate_public_client(&credentials.client_id)
                .await
        }
        Some(secret) if params.get("grant_type") == Some(GrantType::ClientCredentials.as_str()) => {
            service
                .authenticate_client_for_client_credentials(&credentials.client_id, secret)
                .await
        }
        Some(secret) => {
            service
                .authenticate_client(&credentials.client_id, secret)
                .await
        }
    };
    let client = authenticated.map_err(|e| OAuthError::from_service(&e, credentials.basic))?;
    Ok((params, client, credentials.basic))
}

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
    no_store(
        match oauth_token_inner(&service, address, &headers, form).await {
            Ok(response) => response,
            Err(mut e) => {
                if e.error == "use_dpop_nonce" {
                    e.dpop_nonce = service.dpop_nonce();
                }
                e.into_response()
            }
        },
    )
}

async fn oauth_token_inner(
    service: &AuthService,
    address: Option<IpAddr>,
    headers: &HeaderMap,
    form: FormBody,
) -> Result<Response, OAuthError> {
    let proof = dpop_proof(headers)?;
    let (params, client, basic) = oauth_client(service, headers, form, "grant_type").await?;
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
    let revoked = async {
        let (params, client, basic) = oauth_client(&service, &headers, form, "token").await?;
        service
            .revoke(
                &client,
                params.require("token")?,
                params.get("token_type_hint"),
            )
            .await
            .map_err(|e| OAuthError::from_service(&e, basic))
    };
    no_store(match revoked.await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    })
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

/// RFC 9110 §5.3: Authorization is not a list, so a second one is malformed — and which of the two a proxy in
/// front acted on is unknowable.
const ONE_AUTHORIZATION: &str = "send one Authorization header, not several";

fn repeated_authorization(headers: &HeaderMap) -> bool {
    headers.get_all(AUTHORIZATION).iter().nth(1).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c%2B").unwrap().as_str(), "a:b c+");
        assert_eq!(form_decode("plain-_.~").unwrap().as_str(), "plain-_.~");
        assert!(form_decode("%zz").is_none());
        assert!(form_decode("%4").is_none());
        assert!(form_decode("%ff").is_none(), "not UTF-8");
    }
}
