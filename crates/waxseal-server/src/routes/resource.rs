//! The protected resources (`/api/*`): behind the bearer layer the router puts on them, they answer with the
//! verified claims.

use axum::Json;
use axum::response::{IntoResponse, Response};
use waxseal_axum::Claims;

use super::openapi::responses;
use super::openapi::schema;
use super::openapi::schema::ErrorBody;
use crate::service::AccessClaims;

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
