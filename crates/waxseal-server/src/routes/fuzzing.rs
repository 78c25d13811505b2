//! The request-body (and query) parsers of the routes, reachable by the fuzz targets (`fuzz/`) and their regression
//! test.
//!
//! Not an API: hidden from the documentation and free to change. Each function calls the very parser a handler
//! calls, in the handler's order, and stops where the handler would hand over to the service (which needs a store);
//! nothing here re-implements parsing.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::header::AUTHORIZATION;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};

use super::ApiError;
use super::form::{FormBody, parse};
use super::oauth::{OAuthError, OAuthParams, client_credentials};
use super::object::ObjectOnly;
use super::session::{LoginRequest, RefreshRequest, logout_body, logout_query};
use crate::service::authorize::check_authorization_request;
use crate::service::{AuthorizationRequest, AuthorizeError};
use crate::store::Client;

/// An `application/x-www-form-urlencoded` body as the `/oauth/*` handlers read it: the pairs in order, or `None`
/// when the body is refused as malformed.
pub fn form(body: &[u8]) -> Option<Vec<(String, String)>> {
    parse(body)
        .ok()
        .map(|pairs| pairs.into_iter().map(|(n, v)| (n, v.to_string())).collect())
}

/// An `/oauth/*` request as far as it can go without a store: the form parsed, the endpoint's `required` parameter
/// present, the client's credentials read from `authorization` (the `Authorization` header's value) or the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRequest {
    /// The parameters that had a value (empty ones count as absent).
    pub params: BTreeMap<String, String>,
    /// The client's `client_id`.
    pub client_id: String,
    /// The client's secret; `None` for a public client, which sends its `client_id` alone.
    pub client_secret: Option<String>,
    /// True when the credentials came from `Authorization: Basic`.
    pub basic: bool,
}

/// Why an `/oauth/*` request was refused: the HTTP status and the RFC 6749 §5.2 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthRefusal {
    /// The HTTP status.
    pub status: u16,
    /// The `error` member of the response.
    pub error: &'static str,
}

/// Parses an `/oauth/token` (`required` = `grant_type`), `/oauth/revoke` or `/oauth/introspect` (`token`) request
/// the way `oauth_client` does before it asks the service to authenticate the client.
pub fn oauth_request(
    authorization: Option<&[u8]>,
    body: &[u8],
    required: &str,
) -> Result<OAuthRequest, OAuthRefusal> {
    let mut headers = HeaderMap::new();
    if let Some(value) = authorization {
        // Bytes that cannot be a header value never reach a handler: hyper refuses them first.
        let value = HeaderValue::from_bytes(value).map_err(|_| OAuthRefusal {
            status: 400,
            error: "invalid_header",
        })?;
        headers.insert(AUTHORIZATION, value);
    }
    let refusal = |e: OAuthError| OAuthRefusal {
        status: e.status.as_u16(),
        error: e.error,
    };
    let params = OAuthParams::parse(FormBody(parse(body))).map_err(refusal)?;
    params.require(required).map_err(refusal)?;
    let credentials = client_credentials(&headers, &params).map_err(refusal)?;
    Ok(OAuthRequest {
        params: params
            .0
            .iter()
            .map(|(n, v)| (n.clone(), v.to_string()))
            .collect(),
        client_id: credentials.client_id.to_string(),
        client_secret: credentials.secret.as_ref().map(|s| s.to_string()),
        basic: credentials.basic,
    })
}

/// A `POST /login` body as its extractor reads it (content type aside): `(username, password)`.
pub fn login(body: &[u8]) -> Option<(String, String)> {
    Json::<ObjectOnly<LoginRequest>>::from_bytes(body)
        .ok()
        .map(|Json(ObjectOnly(r))| (r.username, r.password))
}

/// A `POST /refresh` body as its extractor reads it (content type aside): the refresh token.
pub fn refresh(body: &[u8]) -> Option<String> {
    Json::<ObjectOnly<RefreshRequest>>::from_bytes(body)
        .ok()
        .map(|Json(ObjectOnly(r))| r.refresh_token)
}

/// What `POST /logout` asks for besides the access token: `all` from the query, and the refresh token whose session
/// to end as well, from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// `all=true`: every session of the user.
    pub all: bool,
    /// The refresh token of the body, if any.
    pub refresh_token: Option<String>,
}

/// Reads a `POST /logout` request's query (the text after `?`, if any), `Content-Type` and body the way the handler
/// does once the bearer token is found; a refusal is its HTTP status. A query or content type that cannot be part
/// of an HTTP request (hyper refuses them before any handler) is refused with 400.
pub fn logout(
    query: Option<&[u8]>,
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<LogoutRequest, u16> {
    let status = |e: ApiError| match e {
        ApiError::BadRequest(status, _) => status.as_u16(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
    };
    let mut target = b"/logout".to_vec();
    if let Some(query) = query {
        target.push(b'?');
        target.extend_from_slice(query);
    }
    let uri = Uri::try_from(target).map_err(|_| 400_u16)?;
    let mut headers = HeaderMap::new();
    if let Some(value) = content_type {
        let value = HeaderValue::from_bytes(value).map_err(|_| 400_u16)?;
        headers.insert(CONTENT_TYPE, value);
    }
    let all = logout_query(&uri).map_err(status)?;
    let refresh_token = logout_body(&headers, body).map_err(status)?;
    Ok(LogoutRequest { all, refresh_token })
}

/// `GET /authorize` as far as it goes without a store: the query string parsed as the handler parses it (`None`:
/// refused as malformed), then checked for `client` (the registration the handler would have looked up).
pub fn authorize(
    query: &[u8],
    client: Client,
) -> Option<Result<AuthorizationRequest, AuthorizeError>> {
    let pairs: Vec<(String, String)> = parse(query)
        .ok()?
        .into_iter()
        .map(|(n, v)| (n, v.to_string()))
        .collect();
    Some(check_authorization_request(&pairs, client))
}
