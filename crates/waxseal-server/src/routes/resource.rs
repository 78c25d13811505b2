//! The protected resources (`/api/*`): behind the bearer layer the router puts on them, they answer with the
//! verified claims.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use waxseal_axum::Claims;

use super::ApiError;
use super::cors::ReadableBy;
use super::openapi::responses;
use super::openapi::schema;
use super::openapi::schema::ErrorBody;
use crate::service::{AccessClaims, AuthService};

/// `GET /api/me`: the verified claims of the caller's access token.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "resource",
    summary = "The claims of the caller's access token",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verified claims", body = schema::AccessTokenClaims),
        responses::BearerRefusals,
    )
)]
pub(super) async fn me(Claims(claims): Claims<AccessClaims>) -> Response {
    Json(&*claims).into_response()
}

/// `GET /api/protected`: the example protected resource, answering like `GET /api/me`.
#[utoipa::path(
    get,
    path = "/api/protected",
    tag = "resource",
    summary = "An example protected resource: any valid access token",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verified claims", body = schema::AccessTokenClaims),
        responses::BearerRefusals,
    )
)]
pub(super) async fn protected(claims: Claims<AccessClaims>) -> Response {
    me(claims).await
}

/// `GET /api/admin`: the token's claims, for tokens with the `admin` scope only (the example of a scoped route).
#[utoipa::path(
    get,
    path = "/api/admin",
    tag = "resource",
    summary = "An example scoped resource: access tokens with the `admin` scope",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The verified claims", body = schema::AccessTokenClaims),
        responses::BearerRefusals,
        (status = 403, description = "`insufficient_scope`: the token lacks `admin`", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 challenge naming the scope"))),
    )
)]
pub(super) async fn admin(claims: Claims<AccessClaims>) -> Response {
    me(claims).await
}

/// `GET/POST /userinfo` (OpenID Connect Core §5.3): the signed-in user's claims, by the scopes of the access token,
/// which must carry `openid`.
#[utoipa::path(
    get,
    path = "/userinfo",
    tag = "openid",
    summary = "OpenID Connect userinfo",
    description = "`sub`; with `profile`: `preferred_username` and `name`; with `email`: `email` and \
                   `email_verified`. The access token must carry the `openid` scope. `POST` answers the same.",
    security(("bearer" = ["openid"])),
    responses(
        (status = 200, description = "The user's claims", body = schema::UserInfo),
        responses::BearerRefusals,
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 challenge naming the scope"))),
    )
)]
pub(super) async fn userinfo(
    State(service): State<Arc<AuthService>>,
    headers: HeaderMap,
    Claims(claims): Claims<AccessClaims>,
) -> Response {
    let response = match service.userinfo(&claims).await {
        Ok(info) => {
            let mut response = Json(info).into_response();
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Readable by the pages of the client the token was issued to (see `cors`).
    match ReadableBy::client_named(&service, &headers, &claims.custom.client_id).await {
        Some(readers) => readers.mark(response),
        None => response,
    }
}

/// `POST /userinfo`: as `GET /userinfo`.
#[utoipa::path(
    post,
    path = "/userinfo",
    tag = "openid",
    summary = "OpenID Connect userinfo (POST)",
    security(("bearer" = ["openid"])),
    responses(
        (status = 200, description = "The user's claims", body = schema::UserInfo),
        responses::BearerRefusals,
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 challenge naming the scope"))),
    )
)]
pub(super) async fn userinfo_post(
    service: State<Arc<AuthService>>,
    headers: HeaderMap,
    claims: Claims<AccessClaims>,
) -> Response {
    userinfo(service, headers, claims).await
}
