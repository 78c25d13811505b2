//! The session endpoints of first-party apps: `POST /login`, `POST /refresh` and `POST /logout` (in body mode here;
//! cookie mode's differences are in [`super::cookie`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::cookie::{self, CookieMode, TokenResponse, token_response};
use super::json::{JsonBody, bytes_rejection};
use super::object::ObjectOnly;
use super::openapi::responses;
use super::openapi::schema::ErrorBody;
use super::{ApiError, Peer};
use crate::service::{AuthService, RefreshCredential};

/// The bearer token of a request (the `Authorization` header only), or the RFC 6750 error. For `POST /logout`, which
/// needs the token itself; the `/api/*` routes are behind the layer.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    match waxseal_axum::bearer_token(headers, None) {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err(ApiError::Bearer(waxseal_axum::Error::missing_token(
            "an access token is required: Authorization: Bearer <token>",
        ))),
        Err(e) => Err(ApiError::Bearer(e)),
    }
}

/// `POST /login`'s body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// The login name.
    pub(super) username: String,
    /// The password.
    pub(super) password: String,
}

/// `POST /refresh`'s body, and the optional body of `POST /logout`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token of the last login or refresh response. Never empty: `POST /logout` refuses `""` (400)
    /// rather than guess whether it means "no refresh token".
    #[schema(min_length = 1)]
    pub(super) refresh_token: String,
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogoutQuery {
    /// `true` ends every session of the user, not only this one.
    #[serde(default)]
    all: bool,
}

/// `POST /login`.
#[utoipa::path(
    post,
    path = "/login",
    tag = "session",
    summary = "Log in with a username and password",
    description = "Checks the password (argon2id) and starts a session. Failed logins are throttled per account \
                   and per client address.",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A new session", body = TokenResponse,
         headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`invalid_credentials`: the username or password is wrong, or the account is disabled", body = ErrorBody),
        responses::JsonBodyRefusals,
        responses::TooManyLogins,
    )
)]
pub(super) async fn login(
    State(service): State<Arc<AuthService>>,
    State(cookies): State<CookieMode>,
    Peer(address): Peer,
    headers: HeaderMap,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    cookies.check_origin(&headers, &service)?;
    let pair = service
        .login(&request.username, &request.password, address)
        .await?;
    Ok(cookies.token_response(&service, &pair))
}

/// `POST /refresh`.
#[utoipa::path(
    post,
    path = "/refresh",
    tag = "session",
    summary = "Exchange a refresh token for new tokens",
    description = "Rotates the refresh token: the one presented is consumed. Presenting a consumed token again \
                   revokes the whole session — unless the server has a reuse interval (`--refresh-reuse-interval`) \
                   and it is the session's most recently rotated token, back within it (a retry after a lost \
                   answer): that gets new tokens in the same session, at most 3 times.",
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "New tokens in the same session", body = TokenResponse,
         headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`invalid_grant`: the refresh token is unknown, expired, revoked or was already used", body = ErrorBody),
        responses::JsonBodyRefusals,
    )
)]
pub(super) async fn refresh(
    State(service): State<Arc<AuthService>>,
    State(cookies): State<CookieMode>,
    request: Request,
) -> Result<Response, ApiError> {
    if let Some(policy) = cookies.policy() {
        return Ok(cookie::refresh(&service, policy, request).await);
    }
    let JsonBody(request) = JsonBody::<RefreshRequest>::from_request(request, &()).await?;
    let pair = service
        .refresh(RefreshCredential::Token(&request.refresh_token))
        .await?;
    Ok(token_response(&pair))
}

/// `POST /logout`.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "session",
    summary = "End the session",
    description = "Ends the access token's session (and the refresh token's, when given and the same user's) \
                   and denies the access token at once. `all=true` ends every session of the user.",
    params(LogoutQuery),
    request_body(content = Option<RefreshRequest>, content_type = "application/json",
                 description = "Optional: a refresh token whose session to end as well"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "A query parameter other than `all=true|false`, or a body that is not `{\"refresh_token\"}` or `null`", body = ErrorBody),
        (status = 415, description = "A body that is not `application/json`", body = ErrorBody),
        responses::Unauthenticated,
        responses::TooLarge,
        responses::ServerFailed,
    )
)]
pub(super) async fn logout(
    State(service): State<Arc<AuthService>>,
    State(cookies): State<CookieMode>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    cookies.check_origin(&headers, &service)?;
    let token = bearer(&headers)?;
    let all = logout_query(&uri)?;
    let body = body.map_err(|e| bytes_rejection(&e))?;
    let refresh_token = logout_body(&headers, &body)?;
    service.logout(token, refresh_token.as_deref(), all).await?;
    Ok(cookies.logged_out())
}

/// `POST /logout`'s query: `all=true|false` or nothing.
pub(super) fn logout_query(uri: &Uri) -> Result<bool, ApiError> {
    Query::<LogoutQuery>::try_from_uri(uri)
        .map(|Query(query)| query.all)
        .map_err(|_| {
            ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the only query parameter is all=true|false",
            )
        })
}

/// `POST /logout`'s optional body: empty or JSON `null` (no refresh token), or `{"refresh_token": "…"}` with a
/// non-empty token, as `Content-Type: application/json`.
pub(super) fn logout_body(headers: &HeaderMap, body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::BadRequest(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be JSON with Content-Type: application/json",
        ));
    }
    // `null` is the JSON for "no refresh token", like an empty body; anything else must be the object.
    serde_json::from_slice::<Option<ObjectOnly<RefreshRequest>>>(body)
        .ok()
        .map(|r| r.map(|ObjectOnly(r)| r.refresh_token))
        .filter(|token| token.as_ref().is_none_or(|token| !token.is_empty()))
        .ok_or(ApiError::BadRequest(
            StatusCode::BAD_REQUEST,
            "the body must be {\"refresh_token\": \"...\"}, null or empty",
        ))
}
