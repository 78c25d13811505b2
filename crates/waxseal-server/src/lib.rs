//! # waxseal-server — the auth server as a library
//!
//! The flow every JWT tutorial draws, built the way an identity provider must: `POST /login` checks an argon2id
//! password hash and issues an RFC 9068 access token with an opaque refresh token; `POST /refresh` rotates the
//! refresh token and treats a second presentation as theft, revoking the whole session; `POST /logout` revokes the
//! session and denies the access token at once; `GET /.well-known/jwks.json` publishes the public keys, and the
//! discovery documents (`/.well-known/openid-configuration`, RFC 8414's `/.well-known/oauth-authorization-server`)
//! point at them. `GET /readyz` is 503 while the store does not answer (the reason is the management listener's to
//! tell, below). Once a probe finds the database unreachable,
//! requests that need it are answered 503 at once until it answers again (see [`store::gate`]).
//!
//! For OAuth 2.0 clients (registered with [`AuthService::add_client`]; the secret is 256 random bits stored as its
//! SHA-256): `POST /oauth/token` (RFC 6749: the `password`, `refresh_token` and `client_credentials` grants,
//! `client_secret_basic` and `client_secret_post`, §5.2 errors), `POST /oauth/revoke` (RFC 7009) and
//! `POST /oauth/introspect` (RFC 7662). A token request with a DPoP proof (RFC 9449) gets an access token bound to
//! the proof's key (`token_type: DPoP`, `cnf.jkt`); each proof is accepted once, across instances with Redis (see
//! [`AuthService::check_dpop_proof`]).
//!
//! Failed logins (`POST /login` and the password grant) are throttled per account and per client address with
//! exponential backoff, answered with 429 and `Retry-After`; the counters live in Redis, shared by every instance,
//! when it is configured and answers, else in this process's memory (see [`ACCOUNT_FREE_FAILURES`] and the constants
//! next to it). `GET /api/admin` shows a route that requires a scope: a
//! valid token without `admin` gets 403 `insufficient_scope` (RFC 6750 §3.1). Changing a user's password,
//! disabling or deleting the user ends every session at once; a server on the same data directory picks the
//! change up from the store within [`DENYLIST_RELOAD_INTERVAL`]. Deleting a client ([`AuthService::delete_client`])
//! ends its sessions and tokens the same way; rotating its secret ([`AuthService::rotate_client_secret`]) refuses the
//! old one at once. A serving process prunes expired rows every [`PRUNE_INTERVAL`] ([`AuthService::prune`]), keeping
//! consumed refresh tokens until their session ends so that reuse is detected as long as it matters.
//!
//! Access tokens are signed with [`Config::signing_alg`] (ES256 by default; EdDSA, RSA and PSS too; HMAC only with
//! [`Config::allow_symmetric_signing`]). Keys rotate on a schedule ([`Config::key_rotation_interval`]), on request
//! ([`AuthService::rotate_keys`], `waxseal keys rotate`) and when the configured algorithm changes; a new key is
//! published in the JWKS [`publish_delay`] before it signs, and a retired one stays published for
//! [`RETIRED_KEY_PUBLISHED_FOR`] and is then deleted (see the `keyring` module). A leaked key is revoked instead
//! ([`AuthService::revoke_key`], `waxseal keys revoke`): unpublished and its tokens refused at once, a new key signing
//! at once in its place, its kid recorded so that it never comes back.
//!
//! Operations: a management listener of its own ([`Server::with_management`], [`Config::management_listen`])
//! serves `GET /metrics` — Prometheus counters (logins, refreshes, reuse detections, revocations, tokens issued per
//! grant), gauges of the in-memory denylist and verified-token cache, and request-latency histograms by route
//! template, each server with its own recorder (see [`metrics`]) — and `GET /readyz` with which dependency is down
//! since when. The public listener tells strangers only what a load balancer needs: its `/readyz` says `ready`,
//! `degraded` or `unavailable`, and its `/metrics` is a 404 unless [`Config::public_metrics`]; rates of logins,
//! revocations and errors would tell an attacker how an attack goes. `GET /openapi.json` is the OpenAPI 3.1
//! description of every public route. For browser apps, cookie mode
//! ([`Config::refresh_cookie`]) keeps the refresh token in an `HttpOnly` cookie guarded by a CSRF token and an
//! `Origin` check (see [`routes::cookie`]).
//!
//! The protected routes (`/api/*`) are behind `waxseal-axum`'s `BearerAuthLayer`, plugged with this server's keys
//! ([`AccessTokenVerifier`]), its denylist ([`Denylisted`]) and its verified-token cache, the one
//! [`AuthService::verify_access`] shares and the service empties on every key change.
//!
//! Layers point one way: [`routes`] (HTTP only) → [`service`] (the flows, no HTTP types) → [`store`] (traits) ←
//! [`store::sqlite`] (the embedded default) and `store::postgres`; the service also talks to the [`bus`] (Redis:
//! revocation announcements, shared throttle counters). `config`, `secret` and `error` are leaves every layer
//! may use. The `waxseal serve` command is a thin shell over [`Server`]; docs/ARCHITECTURE.md draws the whole
//! workspace.
//!
//! ```no_run
//! # async fn run() -> Result<(), waxseal_server::Error> {
//! let mut server = waxseal_server::Server::open(waxseal_server::Config::default()).await?;
//! let bind = |addr| async move {
//!     tokio::net::TcpListener::bind(addr).await
//!         .map_err(|e| waxseal_server::Error::from_io(&format!("cannot listen on {addr}"), &e))
//! };
//! let listener = bind(server.config().listen).await?;
//! // Metrics and readiness details on their own loopback port (127.0.0.1:9000 unless configured otherwise).
//! if let Some(addr) = server.config().management_listen {
//!     server = server.with_management(bind(addr).await?);
//! }
//! server.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod bus;
mod config;
mod error;
mod keyring;
mod listener;
mod master_key;
pub mod metrics;
pub mod routes;
mod secret;
pub mod service;
pub mod store;
mod throttle;
mod tls;
pub mod transfer;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

pub use config::SIGNING_ALGORITHMS;
pub use config::settings;
pub use config::{
    CLOCK_LEEWAY, Config, DEFAULT_MANAGEMENT_LISTEN, DEFAULT_VERIFIED_TOKEN_CACHE, Database,
    MAX_ACCESS_TOKEN_TTL, MIN_KEY_ROTATION_INTERVAL, SecretUrl, TlsFiles,
};
pub use config::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
};
pub use config::{DEFAULT_CLIENT_METADATA_TIMEOUT, MAX_CLIENT_METADATA_TIMEOUT};
pub use config::{DEFAULT_DPOP_PROOF_WINDOW, MAX_DPOP_PROOF_WINDOW};
pub use config::{MAX_REFRESH_REISSUES, MAX_REFRESH_REUSE_INTERVAL};
pub use error::{Error, ErrorKind, Result};
pub use keyring::{KeyState, RETIRED_KEY_PUBLISHED_FOR, publish_delay};
pub use master_key::MasterKey;
pub use service::{
    ACCESS_TOKEN_ENCRYPTION_KID, DEFAULT_ID_TOKEN_ENC, check_client_encryption_key,
    id_token_encryption_algorithms, id_token_encryption_encs,
};
pub use service::{
    AccessClaims, AccessTokenVerifier, AuthService, CODE_TTL_SECS, ClientInfo, ClientPermissions,
    ClientToken, Denylisted, GrantedTokens, Introspected, Introspection, KeyInfo, KeyRevocation,
    NewClient, PRUNE_BATCH, PRUNE_INTERVAL, PruneReport, RefreshCredential, RefreshIntrospection,
    TokenPair, UserInfo, at_hash,
};
pub use service::{DPOP_NONCE_STEP, DpopReplay};
pub use service::{MAX_WEB_ORIGINS, allowed_origins, check_web_origin};
pub use store::{Client, GrantType, IdTokenEncryption, Profile, Resource, WebClient};
pub use throttle::{
    ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, BASE_DELAY_SECS, FORGET_AFTER, MAX_DELAY_SECS,
};
pub use waxseal::jwt::{Clock, NumericDate, SystemClock};
/// The verified-token cache, which lives in `waxseal-axum` so every protected service can have one.
pub use waxseal_axum::verified_cache;

use store::Store;
use store::gate::DatabaseState;
use store::postgres::PostgresStore;
use store::sqlite::SqliteStore;

/// The name of the database file in the data directory.
pub const DATABASE_FILE: &str = "waxseal.db";
/// How often a serving process merges the persisted denylist into its in-memory copy, so that a revocation made
/// by another process on the same data directory (`waxseal user set-password`, `disable`, `delete`) rejects
/// existing access tokens here within this time, and maintains its keys (a key rotated by `waxseal keys rotate`
/// is published within this time; a pending key starts signing within this time of its activation). A few
/// indexed reads of small tables per interval.
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
    /// The TLS configuration when [`Config::tls`] is set, loaded and checked at open.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Routes a caller added with [`Server::with_routes`] (the CLI's token debugger), served beside the server's own.
    extra: Option<axum::Router>,
    /// The management listener a caller bound ([`Server::with_management`]), served beside the public one.
    management: Option<tokio::net::TcpListener>,
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

/// The master key `config` names ([`Config::master_key`], else `DATA_DIR/master.key` when that file exists),
/// without ever generating one: `None` when there is neither.
pub fn existing_master_key(config: &Config) -> Result<Option<MasterKey>> {
    if let Some(key) = &config.master_key {
        return Ok(Some(key.clone()));
    }
    let path = config.data_dir.join(MASTER_KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    MasterKey::load_or_create(&path).map(|(key, _)| Some(key))
}

/// Opens the store `config` selects ([`Config::database`]), applying its migrations; for the embedded database,
/// creates the data directory first.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    Ok(open_store_migrated(config).await?.0)
}

/// [`open_store`], saying which migrations it applied (`waxseal migrate`).
pub async fn open_store_migrated(config: &Config) -> Result<(Arc<dyn Store>, store::Migrated)> {
    fn shared<S: Store + 'static>(
        (store, migrated): (S, store::Migrated),
    ) -> (Arc<dyn Store>, store::Migrated) {
        (Arc::new(store), migrated)
    }
    let opened = match &config.database {
        Database::Embedded => {
            create_data_dir(&config.data_dir)?;
            shared(SqliteStore::open_migrated(&config.data_dir.join(DATABASE_FILE)).await?)
        }
        Database::Sqlite(path) => shared(SqliteStore::open_migrated(path).await?),
        Database::Postgres(url) => {
            shared(PostgresStore::open_migrated(url, config.database_max_connections).await?)
        }
    };
    for (version, description) in &opened.1.applied {
        tracing::info!(database = %config.database, version, description, "applied a migration");
    }
    Ok(opened)
}

impl Server {
    /// Opens the server described by `config` with the system clock. On first start this creates the data
    /// directory (mode 0700), the database, the master-key file (unless a master key is configured) and a signing
    /// key of [`Config::signing_alg`]; later it rotates the key when that algorithm changed or a scheduled rotation
    /// is due ([`AuthService::manage_keys`]).
    pub async fn open(config: Config) -> Result<Server> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Server::open`] with an injected clock (tests move time instead of sleeping).
    pub async fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Server> {
        let alg = config.signing_alg;
        if alg.is_symmetric() {
            tracing::warn!(
                %alg,
                "signing with a shared secret: only services holding it can verify, and they can mint tokens too"
            );
        }
        let server = Self::open_admin_with_clock(config, clock).await?;
        server.service.manage_keys().await?;
        Ok(server)
    }

    /// Opens the data directory for an admin command (`waxseal user`, `client`, `keys`): like [`Server::open`],
    /// but it never creates or rotates a signing key — the admin command does not know the algorithm or schedule
    /// `waxseal serve` is configured with.
    pub async fn open_admin(config: Config) -> Result<Server> {
        Self::open_admin_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Server::open_admin`] with an injected clock.
    pub async fn open_admin_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Server> {
        config.validate()?;
        // Before anything is created: a wrong certificate path must not leave a fresh data directory behind.
        let tls = config.tls.as_ref().map(tls::load).transpose()?;
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
        let store = open_store(&config).await?;
        let service = AuthService::new(store, config, clock, &master_key).await?;
        Ok(Server {
            service: Arc::new(service),
            tls,
            extra: None,
            management: None,
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

    /// The HTTP routes, with those added by [`Server::with_routes`].
    pub fn router(&self) -> axum::Router {
        let own = routes::router(self.service.clone());
        match &self.extra {
            Some(extra) => own.merge(extra.clone()),
            None => own,
        }
    }

    /// Serves `routes` beside the server's own, for pages that live in crates above this one (the token debugger
    /// of `waxseal serve --debugger`). They get the listener's limits but none of the server's layers (tracing,
    /// metrics, body limit): they bring their own. Their paths must not overlap the server's, and they must not
    /// set a fallback (axum panics on a second one), which is a programming error caught by any test that serves.
    #[must_use]
    pub fn with_routes(mut self, routes: axum::Router) -> Self {
        self.extra = Some(match self.extra.take() {
            Some(before) => before.merge(routes),
            None => routes,
        });
        self
    }

    /// Serves the management listener on `listener` beside the public one: `GET /metrics`, and `GET /healthz` and
    /// `GET /readyz` with details ([`Server::management_router`]), with the public listener's limits and TLS,
    /// stopped by the same shutdown. The library never binds an address itself: the caller binds
    /// [`Config::management_listen`] (`waxseal serve` does) or any other.
    #[must_use]
    pub fn with_management(mut self, listener: tokio::net::TcpListener) -> Self {
        self.management = Some(listener);
        self
    }

    /// The management listener's routes (see [`routes::management_router`]), for tests that serve them in process.
    pub fn management_router(&self) -> axum::Router {
        routes::management_router(self.service.clone())
    }

    /// Whether [`Server::serve`] speaks HTTPS ([`Config::tls`] is set).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves HTTP — HTTPS when [`Config::tls`] is set — on `listener` until `shutdown` completes, then lets
    /// in-flight requests finish and closes the database. Meanwhile it merges the store's denylist every
    /// [`DENYLIST_RELOAD_INTERVAL`] and prunes the store every [`PRUNE_INTERVAL`] (see [`AuthService::prune`]).
    /// Warns when the listener is reachable beyond loopback without TLS: tokens and passwords would cross the
    /// network in clear text. Every connection gets the listener's limits: [`Config::header_read_timeout`],
    /// [`Config::idle_timeout`], [`Config::body_timeout`], [`Config::max_connections`] and
    /// [`Config::max_connections_per_address`]; the soft open-file limit is raised to the hard one first. With a
    /// management listener ([`Server::with_management`]) it serves that one too, until the same `shutdown`; a warning
    /// says so when it is reachable beyond loopback.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let service = self.service.clone();
        let reloader = tokio::spawn(async move {
            let mut every = tokio::time::interval(DENYLIST_RELOAD_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if matches!(service.database_state(), DatabaseState::Down { .. }) {
                    // The store's gate has logged the outage and probes for its end; every call would be refused.
                    continue;
                }
                if let Err(e) = service.manage_keys().await {
                    tracing::warn!(error = %e, "key maintenance failed; signing with the keys in use");
                }
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
        let pruner = service::spawn_pruner(self.service.clone());
        let service = self.service.clone();
        let subscriber = tokio::spawn(async move { service.listen().await });
        if let Ok(addr) = listener.local_addr()
            && !addr.ip().is_loopback()
            && self.tls.is_none()
        {
            tracing::warn!(
                %addr,
                "listening beyond loopback without TLS: passwords and tokens cross the network in clear text; \
                 set --tls-cert and --tls-key, or put a TLS-terminating proxy in front"
            );
        }
        let limits = listener::Limits::of(self.config());
        listener::fd_limit::raise_and_check(limits.max_connections);
        let connections = self.service.metrics().connections.clone();
        // One shutdown for both listeners: the caller's future is awaited once, and each listener waits for the word.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let trigger = tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            // An error means the sender is gone, which happens only once the trigger fired or was aborted.
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let management = self.management.take().map(|listener| {
            if let Ok(addr) = listener.local_addr()
                && !addr.ip().is_loopback()
            {
                tracing::warn!(
                    %addr,
                    "the management listener is reachable beyond loopback: metrics and readiness details show \
                     how the server is used and what is down; firewall it to your monitoring, or listen on \
                     loopback with --management-listen 127.0.0.1:9000"
                );
            }
            listener::serve(
                listener,
                self.tls.clone(),
                routes::management_router(self.service.clone()),
                limits,
                connections.clone(),
                until_stopped(stopped.clone()),
            )
        });
        let public = listener::serve(
            listener,
            self.tls.clone(),
            self.router(),
            limits,
            connections,
            until_stopped(stopped),
        );
        let (served, managed) = match management {
            Some(management) => {
                let (served, managed) = tokio::join!(public, management);
                (
                    served,
                    managed
                        .map_err(|e| Error::from_io("serving the management listener failed", &e)),
                )
            }
            None => (public.await, Ok(())),
        };
        trigger.abort();
        reloader.abort();
        pruner.abort();
        subscriber.abort();
        metrics_upkeep.abort();
        self.service.close().await;
        served.map_err(|e| Error::from_io("serving HTTP failed", &e))?;
        managed
    }

    /// Closes the database without serving (admin commands).
    pub async fn close(self) {
        self.service.close().await;
    }
}
