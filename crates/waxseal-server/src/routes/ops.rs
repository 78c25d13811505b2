//! What operators and load balancers ask: liveness, readiness and metrics.
//!
//! Two audiences, two listeners. A load balancer on the public listener needs only whether to send traffic:
//! `GET /healthz` and a `GET /readyz` that says `ready`, `degraded` or `unavailable` and nothing more. An operator
//! needs which dependency is down since when, and the Prometheus metrics; request counts, revocation and error
//! rates tell an attacker how the server is used and how an attack goes, so they are served on the management
//! listener ([`management_router`]), loopback by default, as Keycloak moved them to a management port for the
//! same reason. `GET /metrics` stays on the public listener only when [`crate::Config::public_metrics`] says so.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::TraceLayer;

use super::openapi::schema;
use crate::bus::BusState;
use crate::service::AuthService;
use crate::store::gate::{DatabaseState, rfc3339};

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Alive", body = schema::Health)),
)]
pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// How long the readiness probe waits for the store.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What the readiness probe found: the status a load balancer acts on, and the details an operator reads.
struct Readiness {
    /// 200 or 503.
    code: StatusCode,
    /// The full body: `status`, `database`, `redis` when configured, `reason` when not plainly ready.
    details: serde_json::Value,
}

impl Readiness {
    /// Ready when the store answers within [`READY_TIMEOUT`]; 503 otherwise, so a load balancer stops sending
    /// traffic. While the store's gate knows the database to be unreachable, the 503 comes at once, saying since
    /// when, without asking the database.
    async fn of(service: &AuthService) -> Readiness {
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
                        let details = match redis {
                            None => json!({ "status": "ready", "database": "up" }),
                            Some("up") => {
                                json!({ "status": "ready", "database": "up", "redis": "up" })
                            }
                            Some(_) => json!({
                                "status": "degraded",
                                "database": "up",
                                "redis": "down",
                                "reason": "not subscribed to Redis: revocations from other instances arrive by \
                                           database reload, login throttling is per instance",
                            }),
                        };
                        return Readiness {
                            code: StatusCode::OK,
                            details,
                        };
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer within {} s", READY_TIMEOUT.as_secs()),
                };
                tracing::warn!(reason = %why, "not ready: the store does not answer");
                ("the store does not answer", "not answering".to_owned())
            }
        };
        let mut details =
            json!({ "status": "unavailable", "reason": reason, "database": database });
        if let Some(redis) = redis {
            details["redis"] = redis.into();
        }
        Readiness {
            code: StatusCode::SERVICE_UNAVAILABLE,
            details,
        }
    }
}

/// `GET /readyz` on the public listener: the status a load balancer needs and nothing else. Which dependency is
/// down and since when would tell an attacker whether an attack on it works; that is the management listener's.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: the store answers",
    description = "200 while the database answers. With Redis configured, `status` is `degraded` while this \
                   instance is not subscribed to revocation announcements: it still serves every request. \
                   503 while the database is unreachable. Which dependency is down, since when and why is served \
                   on the management listener only.",
    responses(
        (status = 200, description = "Ready (or degraded but serving)", body = schema::Ready),
        (status = 503, description = "The store does not answer", body = schema::Unavailable),
    )
)]
pub(super) async fn readyz(State(service): State<Arc<AuthService>>) -> Response {
    let Readiness { code, details } = Readiness::of(&service).await;
    (code, Json(json!({ "status": details["status"] }))).into_response()
}

/// `GET /readyz` on the management listener: the same status codes, and each dependency's state (`database`, and
/// `redis` when configured), since when the database is unreachable, and why the server is not plainly ready.
pub(super) async fn readyz_details(State(service): State<Arc<AuthService>>) -> Response {
    let Readiness { code, details } = Readiness::of(&service).await;
    (code, Json(details)).into_response()
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
pub(super) async fn prometheus_metrics(State(service): State<Arc<AuthService>>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT))],
        service.render_metrics(),
    )
        .into_response()
}

/// The management listener's routes over `service`: `GET /metrics`, `GET /healthz` and `GET /readyz` with
/// details; anything else gets the public router's JSON 404 (or 405). Their latency is recorded as the public
/// routes' is, under the same route templates: a slow scrape is worth seeing too.
pub fn management_router(service: Arc<AuthService>) -> Router {
    const ROUTES: [&str; 3] = ["/metrics", "/healthz", "/readyz"];
    let latency = Arc::new(service.metrics().request_latency(&ROUTES));
    Router::new()
        .route(ROUTES[0], get(prometheus_metrics))
        .route(ROUTES[1], get(healthz))
        .route(ROUTES[2], get(readyz_details))
        .fallback(super::not_found)
        .method_not_allowed_fallback(super::method_not_allowed)
        .layer(
            tower::ServiceBuilder::new()
                .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    tracing::debug_span!("management request", method = %request.method(), path = %request.uri().path())
                }))
                .layer(super::observe::ObserveLayer(latency)),
        )
        .with_state(service)
}
