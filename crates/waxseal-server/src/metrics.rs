//! Prometheus metrics of one server, rendered by `GET /metrics`.
//!
//! Each [`AuthService`](crate::AuthService) owns its own [`PrometheusRecorder`] instead of installing the
//! process-wide one: several servers can run in one process (the tests do), and each must count only its own
//! traffic. Nothing here goes through the `metrics` macros and their global recorder; every series is registered
//! once on this recorder, and the flows keep the [`Counter`] handles, so counting is one relaxed atomic add.
//!
//! Request latency is labelled by the *route template* the router matched (`/oauth/token`), never the raw path, by
//! a fixed set of method names and by status class: a client cannot mint label values, so the number of series is
//! bounded by routes × 8 methods × 5 classes whatever it sends. Unmatched paths share the route label `unmatched`.
//! A histogram series is registered on its first observation, so the output lists only what was seen.
//!
//! The exporter buffers histogram samples until they are drained; [`Metrics::run_upkeep`] does that and
//! `Server::serve` calls it every [`UPKEEP_INTERVAL`], so memory stays flat when nobody scrapes.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::error::{Error, Result};

/// How often a serving process drains buffered histogram samples.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The latency histogram's name.
pub const REQUEST_DURATION: &str = "waxseal_http_request_duration_seconds";

/// The route label of requests no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds: from a cached verification (well under a millisecond) to an
/// argon2id login under load (hundreds of milliseconds).
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The method label values; anything else (extension methods are unbounded) is `OTHER`.
const METHODS: [&str; 8] = [
    "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
];
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Password checks: `POST /login` and the password grant.
#[derive(Debug)]
pub(crate) struct Logins {
    pub(crate) ok: Counter,
    pub(crate) failed: Counter,
    pub(crate) throttled: Counter,
}

/// Refresh-token rotations: `POST /refresh` and the refresh_token grant.
#[derive(Debug)]
pub(crate) struct Refreshes {
    pub(crate) ok: Counter,
    pub(crate) failed: Counter,
    /// A consumed refresh token presented again: its session was revoked.
    pub(crate) reuse_detected: Counter,
    /// A consumed refresh token presented again within the reuse interval: a new pair in the same session.
    pub(crate) reissued: Counter,
}

/// Revocations, one per operation that revoked something.
#[derive(Debug)]
pub(crate) struct Revocations {
    pub(crate) logout: Counter,
    pub(crate) logout_all: Counter,
    /// RFC 7009 requests that found a token of the client (unknown tokens are answered 200 but not counted).
    pub(crate) oauth_revoke: Counter,
    /// An administrator ended every session of a user (disable, new password, delete).
    pub(crate) admin: Counter,
}

/// Access tokens issued, per way of asking.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) login: Counter,
    pub(crate) refresh: Counter,
    pub(crate) password: Counter,
    pub(crate) refresh_token: Counter,
    pub(crate) client_credentials: Counter,
    pub(crate) authorization_code: Counter,
}

/// Revocation announcements through Redis (all zero without Redis).
#[derive(Debug)]
pub(crate) struct Announcements {
    /// Published to the other instances.
    pub(crate) sent: Counter,
    /// Not tried: the subscription was down, so the database reload carries the revocation.
    pub(crate) skipped: Counter,
    /// Tried and failed; the database reload carries the revocation.
    pub(crate) failed: Counter,
    /// Heard from any instance (this one's own included) and merged into the denylist.
    pub(crate) received: Counter,
}

/// Cookie-mode requests refused before the refresh token was looked at.
#[derive(Debug)]
pub(crate) struct CsrfRefusals {
    pub(crate) origin: Counter,
    pub(crate) token: Counter,
}

/// The listener's connections. Cloned into the listener (each handle shares its series).
#[derive(Debug, Clone)]
pub(crate) struct Connections {
    /// Connections open now.
    pub(crate) open: Gauge,
    /// Closed at once because [`crate::Config::max_connections`] were open.
    pub(crate) refused_total: Counter,
    /// Closed at once because [`crate::Config::max_connections_per_address`] from the address were open.
    pub(crate) refused_per_address: Counter,
    /// `accept` failures other than a connection reset before it was taken (out of file descriptors).
    pub(crate) accept_errors: Counter,
}

impl Connections {
    /// The counter of connections refused for `reason`.
    pub(crate) fn refused(&self, reason: crate::listener::caps::Refused) -> &Counter {
        match reason {
            crate::listener::caps::Refused::Total => &self.refused_total,
            crate::listener::caps::Refused::PerAddress => &self.refused_per_address,
        }
    }
}

/// Sizes of the in-memory state that follows traffic, set from that state each time the metrics are rendered
/// ([`crate::AuthService::render_metrics`]), so a scrape shows whether they stay bounded.
#[derive(Debug)]
pub(crate) struct Sizes {
    /// Denied access-token ids held in memory, expired ones included until the next amortised prune.
    pub(crate) denied_jtis: Gauge,
    /// Denied sessions held in memory, likewise.
    pub(crate) denied_sids: Gauge,
    /// Per-user "not before" entries held in memory.
    pub(crate) not_before: Gauge,
    /// Access tokens in the verified-token cache.
    pub(crate) verified_tokens: Gauge,
}

/// Whether the database is reachable, as the store gate knows it (`crate::store::gate`).
#[derive(Debug)]
pub(crate) struct Database {
    /// 1 while the database is reachable, 0 while the gate is open.
    pub(crate) up: Gauge,
    /// Store operations refused at once while the gate was open.
    pub(crate) refused: Counter,
    /// Store operations made, by operation.
    pub(crate) operations: StoreOperations,
}

/// `waxseal_store_operations_total{operation}`: what each request costs the database, in store operations (one
/// query, or one transaction). A counter per operation name, registered at its first use: the names are the store
/// traits' method names, a fixed set, never anything a client sends.
#[derive(Clone)]
pub struct StoreOperations {
    recorder: Arc<PrometheusRecorder>,
    counters: Arc<std::sync::RwLock<HashMap<&'static str, Counter>>>,
}

impl std::fmt::Debug for StoreOperations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOperations").finish_non_exhaustive()
    }
}

impl StoreOperations {
    /// Counts one `operation`.
    pub(crate) fn count(&self, operation: &'static str) {
        // A read lock and one atomic add for every operation after an operation's first.
        if let Some(counter) = self
            .counters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(operation)
        {
            counter.increment(1);
            return;
        }
        self.counters
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(operation)
            .or_insert_with(|| counter(&self.recorder, STORE_OPERATIONS, ("operation", operation)))
            .increment(1);
    }
}

const STORE_OPERATIONS: &str = "waxseal_store_operations_total";

/// The metrics of one server: counters the flows bump, gauges of in-memory state and the request-latency
/// histograms.
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    pub(crate) logins: Logins,
    pub(crate) refreshes: Refreshes,
    pub(crate) revocations: Revocations,
    pub(crate) issued: Issued,
    pub(crate) csrf_refusals: CsrfRefusals,
    pub(crate) announcements: Announcements,
    pub(crate) sizes: Sizes,
    pub(crate) database: Database,
    pub(crate) connections: Connections,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Registers the counter `name{label=value}`.
fn counter(
    recorder: &PrometheusRecorder,
    name: &'static str,
    label: (&'static str, &'static str),
) -> Counter {
    let key = Key::from_parts(name, vec![Label::new(label.0, label.1)]);
    recorder.register_counter(&key, &METADATA)
}

fn describe(recorder: &PrometheusRecorder, name: &'static str, help: &'static str) {
    recorder.describe_counter(KeyName::from(name), None, help.into());
}

impl Metrics {
    /// A fresh recorder with every counter registered at zero.
    pub fn new() -> Result<Metrics> {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .map_err(|e| Error::config(format!("the metrics recorder cannot be built: {e}")))?
            .build_recorder();
        let r = &recorder;
        describe(
            r,
            "waxseal_logins_total",
            "Password checks (POST /login and the password grant) by result.",
        );
        describe(
            r,
            "waxseal_refreshes_total",
            "Refresh-token rotations (POST /refresh and the refresh_token grant) by result.",
        );
        describe(
            r,
            "waxseal_refresh_token_reuse_total",
            "Consumed refresh tokens presented again; each revoked its session.",
        );
        describe(
            r,
            "waxseal_refresh_token_reissues_total",
            "Refresh tokens presented again within the reuse interval (--refresh-reuse-interval), each answered \
             with a new pair in the same session; counted apart from reuse, which revokes.",
        );
        describe(
            r,
            "waxseal_revocations_total",
            "Revocations by how they were asked for (one per operation that revoked something).",
        );
        describe(
            r,
            "waxseal_tokens_issued_total",
            "Access tokens issued, by grant.",
        );
        describe(
            r,
            "waxseal_csrf_refusals_total",
            "Cookie-mode requests refused for a foreign Origin or a missing or wrong X-CSRF-Token.",
        );
        describe(
            r,
            "waxseal_revocation_announcements_total",
            "Revocations and client changes announced to other instances through Redis, by result, and announcements received.",
        );
        recorder.describe_gauge(
            KeyName::from("waxseal_denylist_entries"),
            None,
            "Denylist entries held in memory, by kind (jti, sid, not_before); expired ones go at the next \
             amortised prune, when the maps have doubled since the last."
                .into(),
        );
        recorder.describe_gauge(
            KeyName::from("waxseal_verified_tokens_cached"),
            None,
            "Access tokens in the verified-token cache.".into(),
        );
        recorder.describe_gauge(
            KeyName::from("waxseal_database_up"),
            None,
            "1 while the database is reachable; 0 while a probe has found it unreachable and requests that need \
             it are answered 503 at once."
                .into(),
        );
        describe(
            r,
            "waxseal_database_refused_total",
            "Store operations refused at once, without waiting for a connection, because the database was known \
             to be unreachable (a request stops at its first).",
        );
        describe(
            r,
            STORE_OPERATIONS,
            "Store operations made (each one query or one transaction), by operation: the store traits' method \
             names. What each request costs the database.",
        );
        describe(
            r,
            "waxseal_connections_refused_total",
            "Connections closed at once by the connection caps, by which cap (total, per_address).",
        );
        describe(
            r,
            "waxseal_accept_errors_total",
            "Failures to accept a connection (such as running out of file descriptors).",
        );
        recorder.describe_gauge(
            KeyName::from("waxseal_connections_open"),
            None,
            "Client connections open now.".into(),
        );
        recorder.describe_histogram(
            KeyName::from(REQUEST_DURATION),
            Some(Unit::Seconds),
            "Request latency by matched route template, method and status class.".into(),
        );
        let logins = Logins {
            ok: counter(r, "waxseal_logins_total", ("result", "ok")),
            failed: counter(r, "waxseal_logins_total", ("result", "failed")),
            throttled: counter(r, "waxseal_logins_total", ("result", "throttled")),
        };
        let refreshes = Refreshes {
            ok: counter(r, "waxseal_refreshes_total", ("result", "ok")),
            failed: counter(r, "waxseal_refreshes_total", ("result", "failed")),
            reuse_detected: r.register_counter(
                &Key::from_static_name("waxseal_refresh_token_reuse_total"),
                &METADATA,
            ),
            reissued: r.register_counter(
                &Key::from_static_name("waxseal_refresh_token_reissues_total"),
                &METADATA,
            ),
        };
        let via = |value| counter(r, "waxseal_revocations_total", ("via", value));
        let revocations = Revocations {
            logout: via("logout"),
            logout_all: via("logout_all"),
            oauth_revoke: via("oauth_revoke"),
            admin: via("admin"),
        };
        let grant = |value| counter(r, "waxseal_tokens_issued_total", ("grant", value));
        let issued = Issued {
            login: grant("login"),
            refresh: grant("refresh"),
            password: grant("password"),
            refresh_token: grant("refresh_token"),
            client_credentials: grant("client_credentials"),
            authorization_code: grant("authorization_code"),
        };
        let csrf_refusals = CsrfRefusals {
            origin: counter(r, "waxseal_csrf_refusals_total", ("reason", "origin")),
            token: counter(r, "waxseal_csrf_refusals_total", ("reason", "csrf_token")),
        };
        let announced = |value| {
            counter(
                r,
                "waxseal_revocation_announcements_total",
                ("result", value),
            )
        };
        let announcements = Announcements {
            sent: announced("sent"),
            skipped: announced("skipped"),
            failed: announced("failed"),
            received: announced("received"),
        };
        let denylist = |kind: &'static str| {
            let key = Key::from_parts("waxseal_denylist_entries", vec![Label::new("kind", kind)]);
            r.register_gauge(&key, &METADATA)
        };
        let sizes = Sizes {
            denied_jtis: denylist("jti"),
            denied_sids: denylist("sid"),
            not_before: denylist("not_before"),
            verified_tokens: r.register_gauge(
                &Key::from_static_name("waxseal_verified_tokens_cached"),
                &METADATA,
            ),
        };
        let database_up =
            r.register_gauge(&Key::from_static_name("waxseal_database_up"), &METADATA);
        let database_refused = r.register_counter(
            &Key::from_static_name("waxseal_database_refused_total"),
            &METADATA,
        );
        let refused = |value| counter(r, "waxseal_connections_refused_total", ("cap", value));
        let connections = Connections {
            open: r.register_gauge(
                &Key::from_static_name("waxseal_connections_open"),
                &METADATA,
            ),
            refused_total: refused("total"),
            refused_per_address: refused("per_address"),
            accept_errors: r.register_counter(
                &Key::from_static_name("waxseal_accept_errors_total"),
                &METADATA,
            ),
        };
        let handle = recorder.handle();
        let recorder = Arc::new(recorder);
        Ok(Metrics {
            database: Database {
                up: database_up,
                refused: database_refused,
                operations: StoreOperations {
                    recorder: recorder.clone(),
                    counters: Arc::default(),
                },
            },
            recorder,
            handle,
            logins,
            refreshes,
            revocations,
            issued,
            csrf_refusals,
            announcements,
            sizes,
            connections,
        })
    }

    /// Everything, in the Prometheus text exposition format (version 0.0.4). The gauges show the state as of the
    /// last [`crate::AuthService::render_metrics`], which sets them first.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains buffered histogram samples into their buckets (see the module docs).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The latency histograms of `routes` (the router's route templates), for the request middleware.
    pub fn request_latency(&self, routes: &[&'static str]) -> RequestLatency {
        let slots = |route: &'static str| RouteSlots {
            route,
            histograms: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        };
        RequestLatency {
            recorder: self.recorder.clone(),
            routes: routes.iter().map(|&route| (route, slots(route))).collect(),
            unmatched: slots(UNMATCHED_ROUTE),
        }
    }
}

/// The histograms of one route: one per method label and status class, registered on first use.
struct RouteSlots {
    route: &'static str,
    histograms: [[OnceLock<Histogram>; STATUS_CLASSES.len()]; METHODS.len()],
}

/// Request-latency histograms keyed by route template: built once with the router, read without locks.
pub struct RequestLatency {
    recorder: Arc<PrometheusRecorder>,
    routes: HashMap<&'static str, RouteSlots>,
    unmatched: RouteSlots,
}

impl std::fmt::Debug for RequestLatency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLatency")
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

impl RequestLatency {
    /// Records one request. `route` is the matched route template (`None`: no route matched); a template that is
    /// not one of the router's counts as unmatched, so no caller can add label values.
    pub fn record(&self, route: Option<&str>, method: &str, status: u16, elapsed: Duration) {
        let slots = route
            .and_then(|route| self.routes.get(route))
            .unwrap_or(&self.unmatched);
        let method = METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len() - 1);
        let class = usize::from(status / 100).clamp(1, STATUS_CLASSES.len()) - 1;
        slots.histograms[method][class]
            .get_or_init(|| {
                let key = Key::from_parts(
                    REQUEST_DURATION,
                    vec![
                        Label::new("route", slots.route),
                        Label::new("method", METHODS[method]),
                        Label::new("status", STATUS_CLASSES[class]),
                    ],
                );
                self.recorder.register_histogram(&key, &METADATA)
            })
            .record(elapsed.as_secs_f64());
    }
}
