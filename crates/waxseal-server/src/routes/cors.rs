//! CORS: which pages on other origins may read which answers.
//!
//! A single-page app calls the discovery document, the JWKS, `/oauth/token`, `/userinfo` and `/oauth/revoke` from
//! its own origin; without `Access-Control-Allow-Origin` the browser hands it nothing. Two policies, each a layer on
//! the routes it covers ([`anyone`], [`clients`]); every other route — `/authorize`, the sign-in and account pages,
//! `/login`, `/refresh` — stays same-origin and never carries a CORS header.
//!
//! - **Anyone** (discovery, JWKS): public documents, readable from every origin (`*`).
//! - **Clients** (token, userinfo, revoke): an answer is readable by the origins the client it is for registered
//!   (`waxseal client add --web-origin`; a public client defaults to its redirect URIs' origins, see
//!   `service::web_origin`). The handler that identified the client says so with a [`ReadableBy`] extension on its
//!   response — the authenticated client at the token and revoke endpoints, the access token's client at userinfo —
//!   and the layer grants exactly those, compared as text with the request's `Origin`. An error answered before a
//!   client was identified (a malformed request, a refused token) names nothing secret; it is readable by any
//!   registered web origin, so that an app can read why it was refused. A success without a [`ReadableBy`] is
//!   readable by no one: forgetting it fails closed.
//! - **Preflights** name no client (the browser sends no body), so a preflight is granted to an origin that some
//!   client registered, with the methods and the request headers these endpoints use, cached for
//!   [`PREFLIGHT_MAX_AGE`]; any other origin gets 403 with what to do.
//!
//! `Access-Control-Allow-Origin` is always one registered origin (or `*` for the public documents), never the
//! request's header copied back, never for `null`. `Access-Control-Allow-Credentials` is never sent: these endpoints
//! take no cookies, and cookie mode's refresh cookie is same-origin only (its `Origin` check refuses every other
//! origin, see [`super::cookie`]). Every answer of a client route says `Vary: Origin`, so no cache hands one origin's
//! answer to another.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::{ApiError, AppState};
use crate::service::{AuthService, allowed_origins};
use crate::store::WebClient;

/// How long a browser may cache a granted preflight, in seconds: registering an origin takes effect for pages
/// that had none within this time. Chromium caps it at two hours anyway.
pub(super) const PREFLIGHT_MAX_AGE: &str = "600";
/// The request headers the client endpoints read: client authentication and bearer or DPoP tokens, the form's
/// type, DPoP proofs.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, DPoP";
/// The response headers an app needs to read beyond the CORS-safelisted ones: the bearer challenge, DPoP nonces
/// and the throttle's wait.
const EXPOSED_HEADERS: &str = "WWW-Authenticate, DPoP-Nonce, Retry-After";
/// What the preflight of an origin no client registered is answered with.
const NOT_A_WEB_ORIGIN: &str = "this page's origin is not a registered web origin of any client: register it with \
     `waxseal client add --web-origin ORIGIN` (a public client's redirect URIs' origins count too)";

/// A response extension: the origins whose pages may read this answer, those of the client it is for.
#[derive(Debug, Clone)]
pub(super) struct ReadableBy(pub(super) Vec<String>);

impl ReadableBy {
    /// The web origins of a client whose answer goes to a request with `headers`: `None` when the request carries
    /// no `Origin` (not from a page on another origin), so that other requests do no CORS work at all.
    pub(super) fn client(headers: &HeaderMap, web: &WebClient) -> Option<ReadableBy> {
        headers
            .contains_key(ORIGIN)
            .then(|| ReadableBy(allowed_origins(web)))
    }

    /// [`ReadableBy::client`] for a client known by its id only (the access token's, at userinfo): looked up only
    /// for a request from a page. A lookup that fails is logged and leaves the answer unreadable cross-origin.
    pub(super) async fn client_named(
        service: &AuthService,
        headers: &HeaderMap,
        client_id: &str,
    ) -> Option<ReadableBy> {
        if !headers.contains_key(ORIGIN) {
            return None;
        }
        match service.client_web_origins(client_id).await {
            Ok(origins) => Some(ReadableBy(origins)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the client's web origins; the answer is not readable cross-origin");
                None
            }
        }
    }

    /// Marks `response` as readable by `origins`.
    pub(super) fn mark(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// The policy of one route: who may read its answers, and the methods it takes.
#[derive(Clone)]
struct Policy {
    /// `None`: anyone (`*`).
    clients: Option<Arc<AuthService>>,
    methods: &'static str,
}

/// Readable from every origin: `endpoint` answers `*`, and preflights for `methods` are granted.
pub(super) fn anyone(
    endpoint: MethodRouter<AppState>,
    methods: &'static str,
) -> MethodRouter<AppState> {
    layered(
        endpoint,
        Policy {
            clients: None,
            methods,
        },
    )
}

/// Readable by the origins of the client each answer is for (see the module documentation).
pub(super) fn clients(
    endpoint: MethodRouter<AppState>,
    service: Arc<AuthService>,
    methods: &'static str,
) -> MethodRouter<AppState> {
    layered(
        endpoint,
        Policy {
            clients: Some(service),
            methods,
        },
    )
}

fn layered(endpoint: MethodRouter<AppState>, policy: Policy) -> MethodRouter<AppState> {
    // The preflight is answered by the layer; the OPTIONS endpoint only makes the router send it there (and
    // answers a plain OPTIONS with 204).
    endpoint
        .options(|| async { StatusCode::NO_CONTENT })
        .route_layer(from_fn_with_state(policy, apply))
}

/// The request's one `Origin`, when it has exactly one that is text.
fn origin(headers: &HeaderMap) -> Option<&str> {
    let mut all = headers.get_all(ORIGIN).iter();
    let first = all.next()?;
    all.next().is_none().then(|| first.to_str().ok()).flatten()
}

async fn apply(State(policy): State<Policy>, request: Request, next: Next) -> Response {
    let origin = origin(request.headers()).map(str::to_owned);
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = match (&origin, preflight) {
        (Some(origin), true) => answer_preflight(&policy, origin).await,
        _ => {
            let response = next.run(request).await;
            match &origin {
                Some(origin) => allow_reading(&policy, origin, response).await,
                None => response,
            }
        }
    };
    if policy.clients.is_some() {
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Grants a preflight to an origin that may read some answer of the route; 403 otherwise.
async fn answer_preflight(policy: &Policy, origin: &str) -> Response {
    let allowed = match &policy.clients {
        None => Some(HeaderValue::from_static("*")),
        Some(service) => match service.is_web_origin(origin).await {
            Ok(true) => HeaderValue::from_str(origin).ok(),
            Ok(false) => None,
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let Some(allowed) = allowed else {
        return ApiError::BadRequest(StatusCode::FORBIDDEN, NOT_A_WEB_ORIGIN).into_response();
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(policy.methods),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    response
}

/// Adds `Access-Control-Allow-Origin` to `response` when `origin` may read it.
async fn allow_reading(policy: &Policy, origin: &str, mut response: Response) -> Response {
    let Some(service) = &policy.clients else {
        response
            .headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        return response;
    };
    let allowed = match response.extensions().get::<ReadableBy>() {
        // The registered origin equal to the request's, not the request's header.
        Some(ReadableBy(origins)) => origins.iter().find(|o| *o == origin).cloned(),
        None if response.status().is_client_error() || response.status().is_server_error() => {
            // A refusal before any client was identified: readable by any registered origin. A store that does
            // not answer refuses here too (the answer is already a refusal).
            service
                .is_web_origin(origin)
                .await
                .unwrap_or(false)
                .then(|| origin.to_owned())
        }
        None => None,
    };
    if let Some(value) = allowed.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    response
}
