//! What operators and load balancers ask: liveness, readiness and metrics.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
        (status = 200, description = "Ready (or degraded but serving)", body = schema::Ready),
        (status = 503, description = "The store does not answer", body = schema::Unavailable),
    )
)]
pub(super) async fn readyz(State(service): State<Arc<AuthService>>) -> Response {
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
pub(super) async fn prometheus_metrics(State(service): State<Arc<AuthService>>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT))],
        service.render_metrics(),
    )
        .into_response()
}
