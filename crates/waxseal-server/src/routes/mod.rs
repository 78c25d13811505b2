//! HTTP in and out, nothing else: extract, call the service, turn the result (or the error) into a response.
//!
//! Every client mistake is a 4xx with a JSON body `{"error", "error_description"}`; descriptions are fixed texts or
//! bounded, never an echo of the request. Errors become responses in one place, [`ApiError`]'s `IntoResponse`.
//!
//! The router is built from one list of routes ([`served_routes`]); every handler carries its OpenAPI description
//! (`#[utoipa::path]`), `GET /openapi.json` serves the document and a test checks that the two lists agree. Every
//! request's latency is recorded under its matched route template (see [`crate::metrics`]).
//! Cookie mode (refresh tokens in an `HttpOnly` cookie, with CSRF protection) is described in [`cookie`].
//!
//! The handlers are grouped as the service is: [`session`] (login, refresh, logout), [`oauth`] (the OAuth 2.0
//! endpoints of registered clients), [`resource`] (the protected `/api/*` routes), [`discovery`] (keys, metadata and
//! the OpenAPI document) and [`ops`] (health, readiness, metrics, and the management listener's router,
//! [`management_router`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRef, FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodRouter, get, post};
use tower_http::trace::TraceLayer;

use crate::service::{AccessClaims, AccessTokenVerifier, AuthService, Denylisted};
use waxseal_axum::{BearerAuthLayer, Dpop, RequireScope};

pub mod cookie;
mod cors;
mod discovery;
mod error;
mod form;
#[doc(hidden)]
pub mod fuzzing;
mod introspection;
mod json;
mod oauth;
mod object;
mod observe;
pub mod openapi;
mod ops;
mod registration;
mod resource;
mod session;
// A page handler's `Err` is the error page itself, built once and returned at once: boxing it buys nothing.
#[allow(clippy::result_large_err)]
mod web;

pub use error::ApiError;
pub use json::JsonBody;
pub use oauth::OAuthError;
pub use ops::management_router;

use cookie::CookieMode;
use discovery::{jwks, oauth_authorization_server, openapi_json, openid_configuration};
use oauth::{oauth_introspect, oauth_revoke, oauth_token};
use ops::{healthz, prometheus_metrics, readyz};
use resource::{admin, me, protected, userinfo, userinfo_post};
use session::{login, logout, refresh};
use web::Web;

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
    web: Arc<Web>,
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

    fn get_if<H: Handler<T, AppState>, T: 'static>(
        self,
        wanted: bool,
        path: &'static str,
        handler: H,
    ) -> Self {
        if wanted {
            self.get(path, handler)
        } else {
            self
        }
    }

    fn add(self, path: &'static str, method: Method, endpoint: MethodRouter<AppState>) -> Self {
        self.add_methods(path, &[method], endpoint)
    }

    fn add_methods(
        mut self,
        path: &'static str,
        methods: &[Method],
        endpoint: MethodRouter<AppState>,
    ) -> Self {
        self.served
            .extend(methods.iter().map(|method| (path, method.clone())));
        self.router = self.router.route(path, endpoint);
        self
    }
}

/// Every route, with the methods it answers (CORS preflights aside). The router is built from this list only.
/// `service` gives the `/api/*` routes their bearer layer and the client routes their CORS policy: `None` only
/// when the list alone is wanted ([`served_routes`]). `/metrics` is on the list only with `public_metrics`
/// ([`crate::Config::public_metrics`]); it is the management listener's otherwise.
fn routes(service: Option<&Arc<AuthService>>, public_metrics: bool) -> Routes {
    let auth = service.map(access_layer);
    let guarded = |endpoint: MethodRouter<AppState>| match &auth {
        Some(auth) => endpoint.route_layer(auth.clone()),
        None => endpoint,
    };
    // Readable by the origins of the client each answer is for (see `cors`).
    let for_clients = |endpoint: MethodRouter<AppState>, methods: &'static str| match service {
        Some(service) => cors::clients(endpoint, service.clone(), methods),
        None => endpoint,
    };
    Routes {
        router: Router::new(),
        served: Vec::new(),
    }
    .post("/login", login)
    .post("/refresh", refresh)
    .post("/logout", logout)
    .add(
        "/oauth/token",
        Method::POST,
        for_clients(post(oauth_token), "POST"),
    )
    .add(
        "/oauth/revoke",
        Method::POST,
        for_clients(post(oauth_revoke), "POST"),
    )
    .post("/oauth/introspect", oauth_introspect)
    .post("/register", registration::register)
    .add("/api/me", Method::GET, guarded(get(me)))
    .add("/api/protected", Method::GET, guarded(get(protected)))
    .add(
        "/api/admin",
        Method::GET,
        // The scope is checked after the layer verified the token: route layers added later run first.
        guarded(get(admin).route_layer(RequireScope::all([ADMIN_SCOPE]))),
    )
    .add_methods(
        "/userinfo",
        &[Method::GET, Method::POST],
        // The CORS layer outside the bearer layer, so that its refusals are readable too.
        for_clients(
            guarded(
                get(userinfo)
                    .post(userinfo_post)
                    .route_layer(RequireScope::all(["openid"])),
            ),
            "GET, POST",
        ),
    )
    .get("/authorize", web::authorize::authorize_get)
    .post("/authorize", web::authorize::authorize_post)
    .post("/signin", web::authorize::sign_in)
    .post("/consent", web::authorize::consent)
    .get("/session/end", web::logout::end_session_get)
    .post("/session/end", web::logout::end_session_post)
    .get("/signed-out", web::logout::signed_out)
    .get("/account", web::account::account)
    .post("/account/sessions/end", web::account::end_session)
    .post("/account/password", web::account::change_password)
    .get("/assets/{name}", web::asset)
    // Public documents, readable from every origin.
    .add(
        "/.well-known/jwks.json",
        Method::GET,
        cors::anyone(get(jwks), "GET"),
    )
    .add(
        "/.well-known/openid-configuration",
        Method::GET,
        cors::anyone(get(openid_configuration), "GET"),
    )
    .add(
        "/.well-known/oauth-authorization-server",
        Method::GET,
        cors::anyone(get(oauth_authorization_server), "GET"),
    )
    .get("/healthz", healthz)
    .get("/readyz", readyz)
    .get("/openapi.json", openapi_json)
    .get_if(public_metrics, "/metrics", prometheus_metrics)
}

/// The bearer layer of the protected routes: the service's keys and rules, its verified-token cache (the one
/// [`AuthService::verify_access`] uses, emptied by the service when its keys change) and its denylist.
type AccessLayer = BearerAuthLayer<AccessTokenVerifier, AccessClaims, Denylisted>;

fn access_layer(service: &Arc<AuthService>) -> AccessLayer {
    let layer = BearerAuthLayer::new(AccessTokenVerifier(service.clone()))
        .claims::<AccessClaims>()
        .with_cache(service.verified_cache())
        .realm(REALM)
        .revocation(Denylisted(service.clone()));
    // DPoP-bound tokens with their proofs: the token endpoint's verifier (algorithms, window, clock, nonces) and
    // its replay store, so a proof used at one route or instance is refused at every other; `htu` against the
    // public issuer URL. The issuer was validated as an http(s) URL at start; should it still be refused here, bound
    // tokens are refused on these routes (the layer never takes one as Bearer) and the reason is logged.
    match Dpop::new(service.config().issuer.clone()) {
        Ok(dpop) => layer.dpop(
            dpop.verifier(service.dpop_verifier())
                .replay_store(service.dpop_replay()),
        ),
        Err(e) => {
            tracing::error!(error = %e, "DPoP is off on the protected routes: the issuer is not a usable base URL");
            layer
        }
    }
}

/// The path and method of every route the router serves, with [`crate::Config::public_metrics`] as given (the
/// OpenAPI test compares them with the document).
pub fn served_routes(public_metrics: bool) -> Vec<(&'static str, Method)> {
    routes(None, public_metrics).served
}

/// The server's routes over `service`.
pub fn router(service: Arc<AuthService>) -> Router {
    let public_metrics = service.config().public_metrics;
    let Routes { router, served } = routes(Some(&service), public_metrics);
    let templates: Vec<&'static str> = served.iter().map(|(path, _)| *path).collect();
    let latency = Arc::new(service.metrics().request_latency(&templates));
    let cookies = CookieMode::new(service.config());
    let state = AppState {
        openapi: Bytes::from(openapi::document(cookies.enabled(), public_metrics)),
        web: Arc::new(Web::new(service.config())),
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
