//! HTTP in and out, nothing else: extract, call the service, turn the result (or the error) into a response.
//!
//! Every client mistake is a 4xx with a JSON body `{"error", "error_description"}`; descriptions are fixed texts or
//! bounded, never an echo of the request. Errors become responses in one place, [`ApiError`]'s `IntoResponse`.
//!
//! The router is built from one list of routes ([`served_routes`]); every handler carries its OpenAPI description
//! (`#[utoipa::path]`), `GET /openapi.json` serves the document and a test checks that the two lists agree. Every
//! request's latency is recorded under its matched route template (see [`crate::metrics`]).
//! Cookie mode (refresh tokens in an `HttpOnly` cookie, with CSRF protection) is described in [`cookie`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRef, FromRequest, FromRequestParts, Query, Request, State,
};
use axum::handler::Handler;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::trace::TraceLayer;
use utoipa::{IntoParams, ToSchema};
use zeroize::Zeroizing;

use crate::bus::BusState;
use crate::error::{Error, ErrorKind, UNAVAILABLE_RETRY_AFTER};
use crate::service::{
    AccessClaims, AccessTokenVerifier, AuthService, Denylisted, GrantedTokens, TokenPair,
};
use crate::store::gate::{DatabaseState, rfc3339};
use crate::store::{Client, GrantType};
use waxseal_axum::{BearerAuthLayer, Claims, RequireScope};

pub mod cookie;
mod form;
#[doc(hidden)]
pub mod fuzzing;
mod introspection;
mod object;
mod observe;
pub mod openapi;

use cookie::CookieMode;
use form::{FormBody, FormError};
use object::ObjectOnly;
use openapi::ErrorBody;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
const REALM: &str = "waxseal";
/// The scope `GET /api/admin` requires.
pub const ADMIN_SCOPE: &str = "admin";

/// What handlers can extract with `State`: the service, cookie mode and the rendered OpenAPI document.
#[derive(Clone)]
struct AppState {
    service: Arc<AuthService>,
    cookies: CookieMode,
    openapi: Bytes,
}

impl FromRef<AppState> for Arc<AuthService> {
    fn from_ref(state: &AppState) -> Self {
        state.service.clone()
    }
}

impl FromRef<AppState> for CookieMode {
    fn from_ref(state: &AppState) -> Self {
        state.cookies.clone()
    }
}

/// Routes being assembled, and the list of what they serve.
struct Routes {
    router: Router<AppState>,
    served: Vec<(&'static str, Method)>,
}

impl Routes {
    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(path, Method::GET, get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(path, Method::POST, post(handler))
    }

    fn add(mut self, path: &'static str, method: Method, endpoint: MethodRouter<AppState>) -> Self {
        self.served.push((path, method));
        self.router = self.router.route(path, endpoint);
        self
    }
}

/// Every route, with the one method it answers. The router is built from this list only. `auth` protects the
/// `/api/*` routes: `None` only when the list alone is wanted ([`served_routes`]).
fn routes(auth: Option<&AccessLayer>) -> Routes {
    let guarded = |endpoint: MethodRouter<AppState>| match auth {
        Some(auth) => endpoint.route_layer(auth.clone()),
        None => endpoint,
    };
    Routes {
        router: Router::new(),
        served: Vec::new(),
    }
    .post("/login", login)
    .post("/refresh", refresh)
    .post("/logout", logout)
    .post("/oauth/token", oauth_token)
    .post("/oauth/revoke", oauth_revoke)
    .post("/oauth/introspect", oauth_introspect)
    .add("/api/me", Method::GET, guarded(get(me)))
    .add("/api/protected", Method::GET, guarded(get(protected)))
    .add(
        "/api/admin",
        Method::GET,
        // The scope is checked after the layer verified the token: route layers added later run first.
        guarded(get(admin).route_layer(RequireScope::all([ADMIN_SCOPE]))),
    )
    .get("/.well-known/jwks.json", jwks)
    .get("/.well-known/openid-configuration", openid_configuration)
    .get(
        "/.well-known/oauth-authorization-server",
        oauth_authorization_server,
    )
    .get("/healthz", healthz)
    .get("/readyz", readyz)
    .get("/metrics", prometheus_metrics)
    .get("/openapi.json", openapi_json)
}

/// The bearer layer of the protected routes: the service's keys and rules, its verified-token cache (the one
/// [`AuthService::verify_access`] uses, emptied by the service when its keys change) and its denylist.
type AccessLayer = BearerAuthLayer<AccessTokenVerifier, AccessClaims, Denylisted>;

fn access_layer(service: &Arc<AuthService>) -> AccessLayer {
    BearerAuthLayer::new(AccessTokenVerifier(service.clone()))
        .claims::<AccessClaims>()
        .with_cache(service.verified_cache())
        .realm(REALM)
        .revocation(Denylisted(service.clone()))
}

/// The path and method of every route the router serves (the OpenAPI test compares them with the document).
pub fn served_routes() -> Vec<(&'static str, Method)> {
    routes(None).served
}

/// The server's routes over `service`.
pub fn router(service: Arc<AuthService>) -> Router {
    let Routes { router, served } = routes(Some(&access_layer(&service)));
    let templates: Vec<&'static str> = served.iter().map(|(path, _)| *path).collect();
    let latency = Arc::new(service.metrics().request_latency(&templates));
    let cookies = CookieMode::new(service.config());
    let state = AppState {
        openapi: Bytes::from(openapi::document(cookies.enabled())),
        cookies,
        service,
    };
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One `layer` call for the three: each `Router::layer` wraps every route in another boxed service, cloned
        // for each request.
        .layer(
            tower::ServiceBuilder::new()
                // Spans carry the method and path only: never the query string or headers, where a client might
                // put a token.
                .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
                }))
                .layer(observe::ObserveLayer(latency))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .with_state(state)
}

/// Everything a handler can fail with, and the one place errors become responses.
#[derive(Debug)]
pub enum ApiError {
    /// The bearer token is missing, malformed or refused: the RFC 6750 response of `waxseal_axum`, the same as the
    /// protected routes' layer gives.
    Bearer(waxseal_axum::Error),
    /// Login failed; one body for every reason.
    InvalidCredentials,
    /// The refresh token was refused.
    InvalidGrant(String),
    /// The request itself is wrong: status and a fixed description.
    BadRequest(StatusCode, &'static str),
    /// Too many failed logins: 429 with `Retry-After` in seconds.
    Throttled(u64),
    /// The database is unreachable: 503 with `Retry-After` in seconds.
    Unavailable(u64),
    /// A cookie-mode request failed the CSRF defences (foreign `Origin`, missing or wrong `X-CSRF-Token`): 403.
    CsrfRejected(&'static str),
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
            ApiError::Bearer(e) => e.with_realm(Some(REALM.into())).into_response(),
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
            ApiError::Throttled(seconds) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    body(
                        "too_many_requests",
                        "too many failed logins; wait for the Retry-After seconds",
                    ),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
            ApiError::Unavailable(seconds) => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    body(
                        "temporarily_unavailable",
                        "the server cannot reach its database; retry after the Retry-After seconds",
                    ),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
            ApiError::BadRequest(status, description) => {
                (status, body("invalid_request", description)).into_response()
            }
            ApiError::CsrfRejected(description) => {
                (StatusCode::FORBIDDEN, body("csrf_rejected", description)).into_response()
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
            ErrorKind::InvalidToken => {
                ApiError::Bearer(waxseal_axum::Error::invalid_token(e.message().to_owned()))
            }
            ErrorKind::InvalidGrant => ApiError::InvalidGrant(e.message().to_owned()),
            ErrorKind::InvalidRequest => {
                ApiError::Refused(StatusCode::BAD_REQUEST, e.message().to_owned())
            }
            ErrorKind::Conflict => ApiError::Refused(StatusCode::CONFLICT, e.message().to_owned()),
            ErrorKind::Throttled => ApiError::Throttled(e.retry_after().unwrap_or(1)),
            ErrorKind::Unavailable => {
                tracing::warn!(error = %e, "request refused: the database is unreachable");
                ApiError::Unavailable(e.retry_after().unwrap_or(UNAVAILABLE_RETRY_AFTER))
            }
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
/// [`MAX_BODY_BYTES`], 400 for bad JSON, a body that is not a JSON object, or fields that do not fit (unknown
/// or repeated ones included).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<ObjectOnly<T>>::from_request(req, state).await {
            Ok(Json(ObjectOnly(value))) => Ok(JsonBody(value)),
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
    username: String,
    /// The password.
    password: String,
}

/// `POST /refresh`'s body, and the optional body of `POST /logout`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token of the last login or refresh response. Never empty: `POST /logout` refuses `""` (400)
    /// rather than guess whether it means "no refresh token".
    #[schema(min_length = 1)]
    refresh_token: String,
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogoutQuery {
    /// `true` ends every session of the user, not only this one.
    #[serde(default)]
    all: bool,
}

/// A new access token and refresh token (`POST /login`, `POST /refresh`).
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenResponse<'a> {
    /// The access token: a JWT (`typ: at+jwt`, RFC 9068) to send as `Authorization: Bearer`.
    access_token: &'a str,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// The refresh token: opaque, usable once.
    refresh_token: &'a str,
    /// Seconds until the refresh token expires unless used.
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

/// The client's address for throttling: the TCP peer, never a header a client can set. `None` when the router is
/// served without connection info.
struct Peer(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
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
        (status = 400, description = "The body is not valid JSON or does not have the expected fields", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: the username or password is wrong, or the account is disabled", body = ErrorBody),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many failed logins", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "The server failed; details are in its log", body = ErrorBody),
    )
)]
async fn login(
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
        (status = 400, description = "The body is not valid JSON or does not have the expected fields", body = ErrorBody),
        (status = 401, description = "`invalid_grant`: the refresh token is unknown, expired, revoked or was already used", body = ErrorBody),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 500, description = "The server failed; details are in its log", body = ErrorBody),
    )
)]
async fn refresh(
    State(service): State<Arc<AuthService>>,
    State(cookies): State<CookieMode>,
    request: Request,
) -> Result<Response, ApiError> {
    if let Some(policy) = cookies.policy() {
        return Ok(cookie::refresh(&service, policy, request).await);
    }
    let JsonBody(request) = JsonBody::<RefreshRequest>::from_request(request, &()).await?;
    let pair = service.refresh(&request.refresh_token).await?;
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
        (status = 401, description = "The access token is missing or refused", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 `Bearer` challenge"))),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "A body that is not `application/json`", body = ErrorBody),
        (status = 500, description = "The server failed; details are in its log", body = ErrorBody),
    )
)]
async fn logout(
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
fn logout_query(uri: &Uri) -> Result<bool, ApiError> {
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
fn logout_body(headers: &HeaderMap, body: &[u8]) -> Result<Option<String>, ApiError> {
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

/// An RFC 6749 §5.2 error of the `/oauth/*` endpoints.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Answer with `WWW-Authenticate: Basic` (the client used Basic, or sent no credentials at all).
    basic_challenge: bool,
    /// `Retry-After` seconds (a throttled password grant).
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(basic_challenge: bool) -> Self {
        OAuthError {
            basic_challenge,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }

    /// A service error, as the OAuth error it is; `basic` says whether the client authenticated with Basic.
    fn from_service(e: &Error, basic: bool) -> Self {
        let (status, error) = match e.kind() {
            ErrorKind::InvalidClient => return Self::invalid_client(basic),
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
            ErrorKind::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request"),
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
struct OAuthParams(HashMap<String, Zeroizing<String>>);

impl OAuthParams {
    fn parse(FormBody(form): FormBody) -> Result<Self, OAuthError> {
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

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the parameter {name} is missing")))
    }
}

/// Undoes `application/x-www-form-urlencoded` (RFC 6749 §2.3.1 applies it to the Basic user and password).
fn form_decode(text: &str) -> Option<Zeroizing<String>> {
    let bytes = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out.to_vec()).ok().map(Zeroizing::new)
}

/// The client's credentials: `client_secret_basic` or `client_secret_post`, never both.
struct ClientCredentials {
    client_id: Zeroizing<String>,
    secret: Zeroizing<String>,
    basic: bool,
}

fn client_credentials(
    headers: &HeaderMap,
    params: &OAuthParams,
) -> Result<ClientCredentials, OAuthError> {
    if repeated_authorization(headers) {
        return Err(OAuthError::invalid_request(ONE_AUTHORIZATION));
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return match (params.get("client_id"), params.get("client_secret")) {
            (Some(id), Some(secret)) => Ok(ClientCredentials {
                client_id: Zeroizing::new(id.to_owned()),
                secret: Zeroizing::new(secret.to_owned()),
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
        secret,
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
    let authenticated = if params.get("grant_type") == Some(GrantType::ClientCredentials.as_str()) {
        service
            .authenticate_client_for_client_credentials(&credentials.client_id, &credentials.secret)
            .await
    } else {
        service
            .authenticate_client(&credentials.client_id, &credentials.secret)
            .await
    };
    let client = authenticated.map_err(|e| OAuthError::from_service(&e, credentials.basic))?;
    Ok((params, client, credentials.basic))
}

/// The successful answer of the token endpoint (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthTokenResponse<'a> {
    /// The access token: a JWT (`typ: at+jwt`, RFC 9068).
    access_token: &'a str,
    /// Always `Bearer`.
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
}

/// `POST /oauth/token` (RFC 6749 §4.3, §4.4, §6).
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    summary = "OAuth 2.0 token endpoint (RFC 6749)",
    description = "The `password`, `refresh_token` and `client_credentials` grants. The client authenticates with \
                   HTTP Basic (`client_secret_basic`) or with `client_id` and `client_secret` in the body \
                   (`client_secret_post`), never both. A parameter may not be repeated; an empty one counts as absent.",
    request_body(content = openapi::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ()),
    responses(
        (status = 200, description = "Tokens issued", body = OAuthTokenResponse,
         headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, description = "RFC 6749 §5.2: `invalid_request`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type` or `invalid_scope`", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Basic realm=\"waxseal\"` when the client used Basic or sent no credentials"))),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = ErrorBody),
        (status = 429, description = "`slow_down`: too many failed logins (password grant)", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "The server failed; details are in its log", body = ErrorBody),
    )
)]
async fn oauth_token(
    State(service): State<Arc<AuthService>>,
    Peer(address): Peer,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    no_store(
        match oauth_token_inner(&service, address, &headers, form).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        },
    )
}

async fn oauth_token_inner(
    service: &AuthService,
    address: Option<IpAddr>,
    headers: &HeaderMap,
    form: FormBody,
) -> Result<Response, OAuthError> {
    let (params, client, basic) = oauth_client(service, headers, form, "grant_type").await?;
    let grant = params.require("grant_type")?;
    let Some(grant) = GrantType::parse(grant) else {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the supported grant types are password, refresh_token and client_credentials",
        ));
    };
    let scope = params.get("scope");
    let issued: Result<GrantedTokens, Error> = match grant {
        GrantType::Password => {
            let username = params.require("username")?;
            let password = params.require("password")?;
            service
                .password_grant(&client, username, password, scope, address)
                .await
        }
        GrantType::RefreshToken => {
            let refresh_token = params.require("refresh_token")?;
            service
                .refresh_for_client(&client, refresh_token, scope)
                .await
                .map(GrantedTokens::from)
        }
        GrantType::ClientCredentials => service
            .client_credentials_grant(&client, scope)
            .map(GrantedTokens::from),
    };
    let granted = issued.map_err(|e| OAuthError::from_service(&e, basic))?;
    Ok(Json(OAuthTokenResponse {
        access_token: &granted.access_token,
        token_type: "Bearer",
        expires_in: granted.expires_in,
        refresh_token: granted.refresh_token.as_deref().map(String::as_str),
        scope: granted.scope.as_deref(),
    })
    .into_response())
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was known.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    summary = "Revoke a token (RFC 7009)",
    description = "A refresh token ends its session; an access token is denied until it expires. Unknown tokens \
                   and tokens of other clients change nothing and are answered 200 too.",
    request_body(content = openapi::TokenLookup, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ()),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke",
         headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, description = "`invalid_request`: `token` missing or a parameter repeated", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Basic realm=\"waxseal\"` when the client used Basic or sent no credentials"))),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = ErrorBody),
        (status = 500, description = "The server failed; details are in its log", body = ErrorBody),
    )
)]
async fn oauth_revoke(
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
    request_body(content = openapi::TokenLookup, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ()),
    responses(
        (status = 200, description = "For an active token the client may see — its own access and refresh tokens, and every client's access tokens when it was added with `--may-introspect` — the claims of an access token (`token_type: Bearer`) or the client, subject, username, scope, `iat` and `exp` of a refresh token (`token_type: refresh_token`); `{\"active\": false}` for everything else, another client's token included (RFC 7662 §2.2)", body = openapi::IntrospectionResponse,
         headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, description = "`invalid_request`: `token` missing or a parameter repeated", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Basic realm=\"waxseal\"` when the client used Basic or sent no credentials"))),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = ErrorBody),
        (status = 500, description = "The server failed; details are in its log", body = ErrorBody),
    )
)]
async fn oauth_introspect(
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

/// `GET /api/me`: the verified claims of the caller's access token.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "resource",
    summary = "The claims of the caller's access token",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verified claims", body = openapi::AccessTokenClaims),
        (status = 400, description = "`invalid_request`: several Authorization headers, or several tokens in one", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 `Bearer` challenge"))),
        (status = 401, description = "The access token is missing or refused", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 `Bearer` challenge"))),
    )
)]
async fn me(Claims(claims): Claims<AccessClaims>) -> Response {
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
        (status = 200, description = "The verified claims", body = openapi::AccessTokenClaims),
        (status = 400, description = "`invalid_request`: several Authorization headers, or several tokens in one", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 `Bearer` challenge"))),
        (status = 401, description = "The access token is missing or refused", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 `Bearer` challenge"))),
    )
)]
async fn protected(claims: Claims<AccessClaims>) -> Response {
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
        (status = 200, description = "The verified claims", body = openapi::AccessTokenClaims),
        (status = 400, description = "`invalid_request`: several Authorization headers, or several tokens in one", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 `Bearer` challenge"))),
        (status = 401, description = "The access token is missing or refused", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 `Bearer` challenge"))),
        (status = 403, description = "`insufficient_scope`: the token lacks `admin`", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "RFC 6750 challenge naming the scope"))),
    )
)]
async fn admin(claims: Claims<AccessClaims>) -> Response {
    me(claims).await
}

/// `GET /.well-known/jwks.json`.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    summary = "The public keys that verify access tokens (RFC 7517 JWK Set)",
    responses(
        (status = 200, description = "The JWK Set", body = openapi::JwkSet, content_type = "application/jwk-set+json",
         headers(("Cache-Control" = String, description = "`public, max-age=…`"))),
    )
)]
async fn jwks(State(service): State<Arc<AuthService>>) -> Response {
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
/// There is no authorization endpoint, so no response type is advertised (an empty list is the truth), and the
/// grant types are listed explicitly: leaving `grant_types_supported` out would mean the RFC 8414 default of
/// `authorization_code` and `implicit`. No ID tokens are issued either: `id_token_signing_alg_values_supported`
/// (which OpenID Connect requires) lists the algorithms of the published keys, those that sign access tokens.
fn discovery_document(service: &AuthService) -> serde_json::Value {
    let issuer = &service.config().issuer;
    let base = issuer.trim_end_matches('/');
    let algs = service.signing_algorithms();
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "response_types_supported": [],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
    })
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
        (status = 200, description = "The server's metadata", body = openapi::DiscoveryDocument,
         headers(("Cache-Control" = String, description = "`public, max-age=…`"))),
    )
)]
async fn openid_configuration(State(service): State<Arc<AuthService>>) -> Response {
    discovery(&service)
}

/// `GET /.well-known/oauth-authorization-server`.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    summary = "OAuth 2.0 authorization server metadata (RFC 8414)",
    responses(
        (status = 200, description = "The server's metadata", body = openapi::DiscoveryDocument,
         headers(("Cache-Control" = String, description = "`public, max-age=…`"))),
    )
)]
async fn oauth_authorization_server(State(service): State<Arc<AuthService>>) -> Response {
    discovery(&service)
}

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Alive", body = openapi::Health)),
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// How long the readiness probe waits for the store.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready when the store answers within [`READY_TIMEOUT`]; 503 otherwise, so a load balancer stops sending traffic.
/// While the store's gate knows the database to be unreachable, the 503 comes at once, saying since when, without
/// asking the database. Each body names the state of each dependency (`database`, and `redis` when configured).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: the store answers",
    description = "200 while the database answers. With Redis configured, `status` is `degraded` while this \
                   instance is not subscribed to revocation announcements: it still serves every request, other \
                   instances' revocations reach it by database reload, and login throttling is per instance. \
                   503 while the database is unreachable (`database` says since when); access tokens still verify \
                   on this instance meanwhile.",
    responses(
        (status = 200, description = "Ready (or degraded but serving)", body = openapi::Ready),
        (status = 503, description = "The store does not answer", body = openapi::Unavailable),
    )
)]
async fn readyz(State(service): State<Arc<AuthService>>) -> Response {
    let redis = service.redis_state().map(|state| match state {
        BusState::Up => "up",
        BusState::Down | BusState::Unknown => "down",
    });
    let (reason, database) = match service.database_state() {
        DatabaseState::Down { since } => (
            "the database is unreachable",
            format!("unreachable since {}", rfc3339(since)),
        ),
        DatabaseState::Up => {
            let why = match tokio::time::timeout(READY_TIMEOUT, service.ready()).await {
                Ok(Ok(())) => {
                    let body = match redis {
                        None => json!({ "status": "ready", "database": "up" }),
                        Some("up") => json!({ "status": "ready", "database": "up", "redis": "up" }),
                        Some(_) => json!({
                            "status": "degraded",
                            "database": "up",
                            "redis": "down",
                            "reason": "not subscribed to Redis: revocations from other instances arrive by \
                                       database reload, login throttling is per instance",
                        }),
                    };
                    return Json(body).into_response();
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {} s", READY_TIMEOUT.as_secs()),
            };
            tracing::warn!(reason = %why, "not ready: the store does not answer");
            ("the store does not answer", "not answering".to_owned())
        }
    };
    let mut body = json!({ "status": "unavailable", "reason": reason, "database": database });
    if let Some(redis) = redis {
        body["redis"] = redis.into();
    }
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// The media type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    description = "Counters of logins, refreshes, reuse detections, revocations and issued tokens, gauges of the \
                   denylist entries and cached verified tokens held in memory, and request latency histograms by \
                   route template, method and status class.",
    responses(
        (status = 200, description = "The Prometheus text exposition format, version 0.0.4", body = String,
         content_type = "text/plain"),
    )
)]
async fn prometheus_metrics(State(service): State<Arc<AuthService>>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT))],
        service.render_metrics(),
    )
        .into_response()
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "This document: OpenAPI 3.1",
    responses((status = 200, description = "The OpenAPI document", body = Object)),
)]
async fn openapi_json(State(document): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        document.openapi,
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::BadRequest(StatusCode::NOT_FOUND, "no such endpoint")
}

/// 405 with the JSON error body (the router adds `Allow`).
async fn method_not_allowed() -> ApiError {
    ApiError::BadRequest(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method; the Allow header lists those it takes",
    )
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
    fn error_descriptions_fit_the_rfc_6750_grammar() {
        let shown = quoted_safe("audience \"api2\" not accepted \\ \u{e9}\n");
        assert_eq!(shown, "audience 'api2' not accepted ' ??");
        assert_eq!(quoted_safe(&"x".repeat(1000)).len(), 200);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c%2B").unwrap().as_str(), "a:b c+");
        assert_eq!(form_decode("plain-_.~").unwrap().as_str(), "plain-_.~");
        assert!(form_decode("%zz").is_none());
        assert!(form_decode("%4").is_none());
        assert!(form_decode("%ff").is_none(), "not UTF-8");
    }
}
