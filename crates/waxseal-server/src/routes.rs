//! HTTP in and out, nothing else: extract, call the service, turn the result (or the error) into a response.
//!
//! Every client mistake is a 4xx with a JSON body `{"error", "error_description"}`; descriptions are fixed texts or
//! bounded, never an echo of the request. Errors become responses in one place, [`ApiError`]'s `IntoResponse`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::error::{Error, ErrorKind};
use crate::service::{AuthService, TokenPair};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
const REALM: &str = "waxseal";

/// The server's routes over `service`.
pub fn router(service: Arc<AuthService>) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/protected", get(me))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/oauth-authorization-server", get(discovery))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Spans carry the method and path only: never the query string or headers, where a client might put a
        // token.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(service)
}

/// Everything a handler can fail with, and the one place errors become responses.
#[derive(Debug)]
pub enum ApiError {
    /// No credentials at all on a protected route (RFC 6750 §3.1: no error code).
    MissingToken,
    /// The access token was refused.
    InvalidToken(String),
    /// Login failed; one body for every reason.
    InvalidCredentials,
    /// The refresh token was refused.
    InvalidGrant(String),
    /// The request itself is wrong: status and a fixed description.
    BadRequest(StatusCode, &'static str),
    /// The request is well-formed but refused (e.g. a duplicate).
    Refused(StatusCode, String),
    /// Our fault; details are logged, not sent.
    Internal,
}

fn body(error: &str, description: &str) -> Json<serde_json::Value> {
    Json(json!({ "error": error, "error_description": description }))
}

/// RFC 6750 §3: `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E.
fn quoted_safe(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::MissingToken => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    body(
                        "invalid_request",
                        "an access token is required: Authorization: Bearer <token>",
                    ),
                )
                    .into_response();
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"waxseal\""),
                );
                response
            }
            ApiError::InvalidToken(description) => {
                let description = quoted_safe(&description);
                let challenge = format!(
                    "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{description}\""
                );
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    body("invalid_token", &description),
                )
                    .into_response();
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(WWW_AUTHENTICATE, value);
                }
                response
            }
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                body(
                    "invalid_credentials",
                    "the username or password is wrong, or the account is disabled",
                ),
            )
                .into_response(),
            ApiError::InvalidGrant(description) => (
                StatusCode::UNAUTHORIZED,
                body("invalid_grant", &description),
            )
                .into_response(),
            ApiError::BadRequest(status, description) => {
                (status, body("invalid_request", description)).into_response()
            }
            ApiError::Refused(status, description) => {
                (status, body("invalid_request", &description)).into_response()
            }
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                body(
                    "server_error",
                    "the server failed; the operator can find details in its log",
                ),
            )
                .into_response(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidCredentials => ApiError::InvalidCredentials,
            ErrorKind::InvalidToken => ApiError::InvalidToken(e.message().to_owned()),
            ErrorKind::InvalidGrant => ApiError::InvalidGrant(e.message().to_owned()),
            ErrorKind::InvalidRequest => {
                ApiError::Refused(StatusCode::BAD_REQUEST, e.message().to_owned())
            }
            ErrorKind::Conflict => ApiError::Refused(StatusCode::CONFLICT, e.message().to_owned()),
            _ => {
                tracing::error!(error = %e, "request failed");
                ApiError::Internal
            }
        }
    }
}

fn bytes_rejection(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::BadRequest(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        )
    } else {
        ApiError::BadRequest(
            StatusCode::BAD_REQUEST,
            "the request body could not be read",
        )
    }
}

/// A JSON body whose rejections are this API's errors: 415 for another content type, 413 for a body over
/// [`MAX_BODY_BYTES`], 400 for bad JSON or fields that do not fit (unknown fields included).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the request body is not valid JSON",
            )),
            Err(JsonRejection::JsonDataError(_)) => Err(ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the request body does not have the expected fields",
            )),
            Err(JsonRejection::BytesRejection(rejection)) => Err(bytes_rejection(&rejection)),
            Err(_) => Err(ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )),
        }
    }
}

/// The bearer token of a request, or the RFC 6750 error.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::MissingToken);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken("the Authorization header is not ASCII".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(ApiError::InvalidToken("the bearer token is empty".into()))
            } else {
                Ok(token)
            }
        }
        _ => Err(ApiError::MissingToken),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LogoutQuery {
    #[serde(default)]
    all: bool,
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: &'a str,
    refresh_expires_in: u64,
}

fn token_response(pair: &TokenPair) -> Response {
    let mut response = Json(TokenResponse {
        access_token: &pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: &pair.refresh_token,
        refresh_expires_in: pair.refresh_expires_in,
    })
    .into_response();
    // RFC 6749 §5.1: responses carrying tokens must not be cached.
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn login(
    State(service): State<Arc<AuthService>>,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let pair = service.login(&request.username, &request.password).await?;
    Ok(token_response(&pair))
}

async fn refresh(
    State(service): State<Arc<AuthService>>,
    JsonBody(request): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = service.refresh(&request.refresh_token).await?;
    Ok(token_response(&pair))
}

async fn logout(
    State(service): State<Arc<AuthService>>,
    query: Result<Query<LogoutQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers)?;
    let Query(query) = query.map_err(|_| {
        ApiError::BadRequest(
            StatusCode::BAD_REQUEST,
            "the only query parameter is all=true|false",
        )
    })?;
    let body = body.map_err(|e| bytes_rejection(&e))?;
    let refresh_token = if body.is_empty() {
        None
    } else {
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
        let request: RefreshRequest = serde_json::from_slice(&body).map_err(|_| {
            ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the body must be {\"refresh_token\": \"...\"} or empty",
            )
        })?;
        Some(request.refresh_token)
    };
    service
        .logout(token, refresh_token.as_deref(), query.all)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(
    State(service): State<Arc<AuthService>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let claims = service.verify_access(bearer(&headers)?)?;
    Ok(Json(claims).into_response())
}

async fn jwks(State(service): State<Arc<AuthService>>) -> Response {
    let mut response = (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/jwk-set+json"),
        )],
        service.jwks().to_owned(),
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
/// There is no authorization or token endpoint yet, so no response type and no OAuth grant type is advertised:
/// an empty list is the truth, and leaving `grant_types_supported` out would mean the RFC 8414 default of
/// `authorization_code` and `implicit`. No ID tokens are issued either: `id_token_signing_alg_values_supported` (which
/// OpenID Connect requires) lists the algorithms of the published keys, those that sign access tokens.
fn discovery_document(service: &AuthService) -> serde_json::Value {
    let issuer = &service.config().issuer;
    let base = issuer.trim_end_matches('/');
    let algs = service.signing_algorithms();
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": [],
        "grant_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
    })
}

async fn discovery(State(service): State<Arc<AuthService>>) -> Response {
    let mut response = Json(discovery_document(&service)).into_response();
    cache_publicly(&mut response, service.config().jwks_max_age);
    response
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// How long the readiness probe waits for the store.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready when the store answers within [`READY_TIMEOUT`]; 503 otherwise, so a load balancer stops sending traffic.
async fn readyz(State(service): State<Arc<AuthService>>) -> Response {
    let reason = match tokio::time::timeout(READY_TIMEOUT, service.ready()).await {
        Ok(Ok(())) => return Json(json!({ "status": "ready" })).into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", READY_TIMEOUT.as_secs()),
    };
    tracing::warn!(%reason, "not ready: the store does not answer");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": "the store does not answer" })),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::BadRequest(StatusCode::NOT_FOUND, "no such endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_descriptions_fit_the_rfc_6750_grammar() {
        let shown = quoted_safe("audience \"api2\" not accepted \\ \u{e9}\n");
        assert_eq!(shown, "audience 'api2' not accepted ' ??");
        assert_eq!(quoted_safe(&"x".repeat(1000)).len(), 200);
    }
}
