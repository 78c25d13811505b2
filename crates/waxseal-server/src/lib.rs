//! # waxseal-server — the auth server as a library
//!
//! The flow every JWT tutorial draws, built the way an identity provider must: `POST /login` checks an argon2id
//! password hash and issues an RFC 9068 access token with an opaque refresh token; `POST /refresh` rotates the
//! refresh token and treats a second presentation as theft, revoking the whole session; `POST /logout` revokes the
//! session and denies the access token at once; `GET /.well-known/jwks.json` publishes the public keys, and the
//! discovery documents (`/.well-known/openid-configuration`, RFC 8414's `/.well-known/oauth-authorization-server`)
//! point at them. `GET /readyz` is 503 while the store does not answer.
//!
//! For OAuth 2.0 clients (registered with [`AuthService::add_client`]; the secret is 256 random bits stored as its
//! SHA-256): `POST /oauth/token` (RFC 6749: the `password`, `refresh_token` and `client_credentials` grants,
//! `client_secret_basic` and `client_secret_post`, §5.2 errors), `POST /oauth/revoke` (RFC 7009) and
//! `POST /oauth/introspect` (RFC 7662).
//!
//! Failed logins (`POST /login` and the password grant) are throttled per account and per client address with
//! exponential backoff, answered with 429 and `Retry-After`; the counters live in memory, per process (see
//! [`ACCOUNT_FREE_FAILURES`] and the constants next to it). `GET /api/admin` shows a route that requires a scope: a
//! valid token without `admin` gets 403 `insufficient_scope` (RFC 6750 §3.1). Changing a user's password,
//! disabling or deleting the user ends every session at once; a server on the same data directory picks the
//! change up from the store within [`DENYLIST_RELOAD_INTERVAL`].
//!
//! Operations: `GET /metrics` serves Prometheus counters (logins, refreshes, reuse detections, revocations, tokens
//! issued per grant) and request-latency histograms by route template, each server with its own recorder (see
//! [`metrics`]); `GET /openapi.json` is the OpenAPI 3.1 description of every route. For browser apps, cookie mode
//! ([`Config::refresh_cookie`]) keeps the refresh token in an `HttpOnly` cookie guarded by a CSRF token and an
//! `Origin` check (see [`routes::cookie`]).
//!
//! Layers point one way: [`routes`] (HTTP only) → [`service`] (the flows, no HTTP types) → [`store`] (traits) ←
//! [`store::sqlite`] (the embedded default). The `waxseal serve` command is a thin shell over [`Server`].
//!
//! ```no_run
//! # async fn run() -> Result<(), waxseal_server::Error> {
//! let server = waxseal_server::Server::open(waxseal_server::Config::default()).await?;
//! let listener = tokio::net::TcpListener::bind(server.config().listen).await
//!     .map_err(|e| waxseal_server::Error::from_io("bind", &e))?;
//! server.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![forbid(unsafe_code)]

mod config;
mod error;
mod keyring;
pub mod metrics;
pub mod routes;
pub mod service;
pub mod store;
mod throttle;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

pub use config::{Config, MAX_ACCESS_TOKEN_TTL};
pub use error::{Error, ErrorKind, Result};
pub use keyring::MasterKey;
pub use service::{
    AccessClaims, AuthService, ClientToken, Introspection, NewClient, TokenPair, UserInfo,
};
pub use store::{Client, GrantType};
pub use throttle::{
    ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, BASE_DELAY_SECS, FORGET_AFTER, MAX_DELAY_SECS,
};
pub use waxseal::jwt::{Clock, NumericDate, SystemClock};

use store::sqlite::SqliteStore;

/// The name of the database file in the data directory.
pub const DATABASE_FILE: &str = "waxseal.db";
/// How often a serving process merges the persisted denylist into its in-memory copy, so that a revocation made
/// by another process on the same data directory (`waxseal user set-password`, `disable`, `delete`) rejects
/// existing access tokens here within this time. One indexed read of small tables per interval.
pub const DENYLIST_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// The name of the generated master-key file in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

impl Error {
    /// An I/O error, with what was being done.
    pub fn from_io(doing: &str, e: &std::io::Error) -> Error {
        Error::io(format!("{doing}: {e}"))
    }
}

/// An opened server: the data directory prepared, the database migrated, the signing key loaded.
#[derive(Debug)]
pub struct Server {
    service: Arc<AuthService>,
}

fn create_data_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        Error::from_io(
            &format!("cannot create the data directory {}", dir.display()),
            &e,
        )
    })
}

impl Server {
    /// Opens the server described by `config` with the system clock. On first start this creates the data
    /// directory (mode 0700), the database, the master-key file (unless a master key is configured) and an ES256
    /// signing key.
    pub async fn open(config: Config) -> Result<Server> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Server::open`] with an injected clock (tests move time instead of sleeping).
    pub async fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Server> {
        config.validate()?;
        create_data_dir(&config.data_dir)?;
        let master_key = match &config.master_key {
            Some(key) => key.clone(),
            None => {
                let path = config.data_dir.join(MASTER_KEY_FILE);
                let (key, created) = MasterKey::load_or_create(&path)?;
                if created {
                    tracing::warn!(
                        path = %path.display(),
                        "no master key configured: generated one in a file next to the database; set \
                         WAXSEAL_MASTER_KEY (64 hex digits) from a secret store in production"
                    );
                }
                key
            }
        };
        let store = SqliteStore::open(&config.data_dir.join(DATABASE_FILE)).await?;
        let service = AuthService::new(Arc::new(store), config, clock, &master_key).await?;
        Ok(Server {
            service: Arc::new(service),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        self.service.config()
    }

    /// The flows, for admin commands and tests.
    pub fn service(&self) -> &Arc<AuthService> {
        &self.service
    }

    /// The HTTP routes.
    pub fn router(&self) -> axum::Router {
        routes::router(self.service.clone())
    }

    /// Serves HTTP on `listener` until `shutdown` completes, then lets in-flight requests finish and closes the
    /// database.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let service = self.service.clone();
        let reloader = tokio::spawn(async move {
            let mut every = tokio::time::interval(DENYLIST_RELOAD_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = service.reload_denylist().await {
                    tracing::warn!(error = %e, "cannot reload the denylist from the store");
                }
            }
        });
        let service = self.service.clone();
        let metrics_upkeep = tokio::spawn(async move {
            let mut every = tokio::time::interval(metrics::UPKEEP_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                service.metrics().run_upkeep();
            }
        });
        let app = self
            .router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        reloader.abort();
        metrics_upkeep.abort();
        self.service.close().await;
        served.map_err(|e| Error::from_io("serving HTTP failed", &e))
    }

    /// Closes the database without serving (admin commands).
    pub async fn close(self) {
        self.service.close().await;
    }
}
