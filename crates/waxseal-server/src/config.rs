//! Server configuration with safe defaults: loopback only, 15-minute access tokens, sessions that end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use waxseal::Algorithm;

use crate::master_key::MasterKey;

mod database;
mod limits;
mod public_url;
pub mod settings;
mod validate;
pub use database::{Database, SecretUrl};
pub use limits::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
};
pub(crate) use public_url::PublicUrl;

/// The algorithms the server may sign with: those every mainstream JOSE library verifies.
pub const SIGNING_ALGORITHMS: [Algorithm; 13] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
];

/// The default size of the verified-token cache, in tokens: a few kilobytes each, so about 10 MB when full.
pub const DEFAULT_VERIFIED_TOKEN_CACHE: usize = 16_384;

/// The longest access-token lifetime the server accepts. Access tokens cannot be recalled from every cache that
/// holds them, so their lifetime bounds how long a leaked one is useful.
pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);

/// Allowance for clock skew between this server and resource servers, matching the core verifier's default.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(60);

/// The shortest scheduled key-rotation interval: rotating faster only grows the JWKS (a retired key stays published
/// for an hour) without making a stolen key less useful than revoking it would.
pub const MIN_KEY_ROTATION_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest refresh-token reuse interval the server accepts. The interval exists for a client retrying a refresh
/// whose answer it did not get, which happens within seconds; for as long as it lasts, a thief holding the rotated
/// token can also use it, so a long one only widens that window (Okta caps its grace period at the same minute).
pub const MAX_REFRESH_REUSE_INTERVAL: Duration = Duration::from_secs(60);

/// How many more pairs the refresh token rotated most recently may yield within the reuse interval. A lost answer
/// is retried once, rarely twice (the retry's answer lost too); three covers that with room for one more retry,
/// while each extra pair is one more refresh token a thief holding the rotated one could get. Fixed, not a
/// setting: the interval's length is the trade-off an operator chooses, and past three retries in a minute the
/// client has a problem a new login does not make worse.
pub const MAX_REFRESH_REISSUES: u32 = 3;

/// The default DPoP proof window (RFC 9449 §11.1): a proof's `iat` may be this far in the past or the future.
pub const DEFAULT_DPOP_PROOF_WINDOW: Duration = Duration::from_secs(60);

/// The longest DPoP proof window the server accepts: a proof is a bearer credential for its one request for as
/// long as it is accepted, and every instance remembers each one for that long to refuse its replay.
pub const MAX_DPOP_PROOF_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Everything the server needs to start. [`Config::default`] is a working, loopback-only setup.
///
/// ```
/// use std::time::Duration;
/// let config = waxseal_server::Config {
///     access_token_ttl: Duration::from_secs(5 * 60),
///     ..waxseal_server::Config::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // independent settings, not a state machine
pub struct Config {
    /// Where the database and (without a configured master key) `master.key` live; created with mode 0700.
    pub data_dir: PathBuf,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where the management listener (`/metrics`, and `/healthz` and `/readyz` with details) listens, apart from
    /// the public one: request counts, revocation and error rates tell an attacker how the server is used and how
    /// an attack goes. [`DEFAULT_MANAGEMENT_LISTEN`] by default; `None`: no management listener. The library only
    /// reads it: whoever binds the public listener binds this one and passes it to
    /// [`crate::Server::with_management`].
    pub management_listen: Option<SocketAddr>,
    /// Serve `GET /metrics` on the public listener as well (for a deployment that scrapes there and controls who
    /// reaches it). Off by default: the public listener answers 404.
    pub public_metrics: bool,
    /// The `iss` of issued tokens.
    pub issuer: String,
    /// The `aud` of issued access tokens, and the only audience `verify_access` accepts.
    pub audience: String,
    /// The `client_id` of tokens issued by `POST /login` (RFC 9068 requires one).
    pub client_id: String,
    /// Access-token lifetime; at most [`MAX_ACCESS_TOKEN_TTL`].
    pub access_token_ttl: Duration,
    /// A refresh token not used for this long expires.
    pub refresh_idle_ttl: Duration,
    /// A session (token family) ends this long after login, however active.
    pub refresh_absolute_ttl: Duration,
    /// For this long after a refresh token is rotated, presenting it again yields a new pair in the same session
    /// (at most [`MAX_REFRESH_REISSUES`] times) instead of revoking the session, for a client whose refresh answer
    /// was lost; only the session's most recently rotated token qualifies. Zero (the default) turns it off: any
    /// second presentation revokes the session. At most [`MAX_REFRESH_REUSE_INTERVAL`].
    pub refresh_reuse_interval: Duration,
    /// How long clients may cache `/.well-known/jwks.json`.
    pub jwks_max_age: Duration,
    /// The key that encrypts signing keys at rest. `None`: read `master.key` from the data directory, generating it
    /// on first start.
    pub master_key: Option<MasterKey>,
    /// The algorithm of the signing key. Changing it rotates to a new key (published before it signs).
    pub signing_alg: Algorithm,
    /// HMAC signing (HS256/384/512) is refused unless this is set: every service that verifies must then hold the
    /// secret, and so can mint tokens, and the JWKS publishes nothing.
    pub allow_symmetric_signing: bool,
    /// A new signing key is scheduled this long after the current one began to sign; `None`: only manual rotation.
    pub key_rotation_interval: Option<Duration>,
    /// How many verified access tokens to remember so that a token presented again skips signature verification
    /// (see [`crate::verified_cache`]); 0 turns the cache off.
    pub verified_token_cache: usize,
    /// Serve HTTPS with this certificate and key; `None` serves plain HTTP (loopback, or behind a TLS proxy).
    pub tls: Option<TlsFiles>,
    /// Where the state lives: the embedded SQLite file in [`Config::data_dir`] (the default), another SQLite file,
    /// or PostgreSQL, shared by several instances. The data directory is still used for the master-key file.
    pub database: Database,
    /// The most connections each process opens to PostgreSQL (ignored for SQLite).
    pub database_max_connections: u32,
    /// Cookie mode, for browser apps: `POST /login` and `POST /refresh` put the refresh token in an `HttpOnly`
    /// cookie instead of the JSON body, and `POST /refresh` reads it from there, guarded by a CSRF token and an
    /// `Origin` check (see the `routes` module). The issuer must then be an `https` URL, or `http` on loopback.
    pub refresh_cookie: bool,
    /// Redis, for several instances: revocations reach every instance at once and login throttling is counted
    /// across them (see [`crate::bus`]). `None`: one instance, or several that learn of each other's
    /// revocations from the database within [`crate::DENYLIST_RELOAD_INTERVAL`].
    pub redis_url: Option<SecretUrl>,
    /// What every Redis key and channel of this deployment starts with, so several deployments can share a Redis.
    pub redis_key_prefix: String,
    /// How long a client has to send a request's headers: on a new connection from accept (after the TLS
    /// handshake), on a kept-alive one from the first byte of the next request. See the `listener` module.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for the first byte of its next request before it is closed.
    pub idle_timeout: Duration,
    /// How long a client has to send a request's whole body, counted from when its headers were read.
    pub body_timeout: Duration,
    /// The most connections open at once; a new one beyond it is closed at once. Keep it under the open-file
    /// limit (the server raises its soft limit to the hard one at start and warns when this does not fit).
    pub max_connections: usize,
    /// The most connections open at once from one client address (IPv6: one /64); a new one beyond it is closed
    /// at once. Behind a reverse proxy every connection comes from the proxy: raise it to about
    /// [`Config::max_connections`] there.
    pub max_connections_per_address: usize,
    /// DPoP (RFC 9449): every proof must carry a nonce this server issued (§8), so a proof made ahead of time by
    /// a client whose key was stolen is useless. Clients then make one extra round trip when the nonce changes
    /// (about every minute). The nonces are stateless: an HMAC under a key derived from the master key, so every
    /// instance sharing it accepts the others'.
    pub dpop_nonces: bool,
    /// DPoP: how far a proof's `iat` may be in the past or the future (clock skew). At most
    /// [`MAX_DPOP_PROOF_WINDOW`].
    pub dpop_proof_window: Duration,
    /// Open dynamic client registration (RFC 7591, `POST /register`), as MCP clients use it: anyone who can reach
    /// the server may register a public client (PKCE S256, consent always asked). Off by default: the endpoint
    /// answers 404 and is not advertised.
    pub allow_registration: bool,
    /// The scopes a registered client may have, space-separated: its requested `scope` is narrowed to these.
    pub registration_scope: String,
    /// The most clients one address (IPv6: one /64) may register per hour; beyond it 429 with `Retry-After`.
    pub registrations_per_hour: u32,
    /// A registered client with no authorization or token request for this long is deleted by the prune task
    /// (its sessions end with it). At least [`MIN_REGISTERED_CLIENT_EXPIRY`]: its last use is written at most once
    /// a day. Operator-added clients never expire.
    pub registered_client_expiry: Duration,
    /// Accept an `https` URL as a `client_id` (OAuth Client ID Metadata Documents, as MCP clients use them): the
    /// server fetches the URL, a JSON client metadata document, and treats the client it describes as a public
    /// client (PKCE S256, consent always asked). Off by default: such a `client_id` is an unknown client.
    pub allow_client_metadata_documents: bool,
    /// Hosts (`name` or `name:port`) whose metadata documents may be fetched from any address, loopback and
    /// private ones included (an internal deployment). Every other host must resolve to public addresses only.
    pub client_metadata_allowed_hosts: Vec<String>,
    /// PEM certificates trusted, besides the system's roots, when fetching metadata documents (a corporate CA).
    pub client_metadata_ca_file: Option<PathBuf>,
    /// The most one metadata document fetch may take, connection and body included. 1 s to
    /// [`MAX_CLIENT_METADATA_TIMEOUT`].
    pub client_metadata_timeout: Duration,
}

/// The default of [`Config::management_listen`]: loopback, on the port Keycloak gives its management interface, so
/// only the machine itself (a local Prometheus agent, a sidecar) can reach it until the operator says otherwise.
pub const DEFAULT_MANAGEMENT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9000);

/// The default of [`Config::client_metadata_timeout`].
pub const DEFAULT_CLIENT_METADATA_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest [`Config::client_metadata_timeout`]: an authorization request waits for the fetch.
pub const MAX_CLIENT_METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// The default of [`Config::registered_client_expiry`].
pub const DEFAULT_REGISTERED_CLIENT_EXPIRY: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The shortest [`Config::registered_client_expiry`].
pub const MIN_REGISTERED_CLIENT_EXPIRY: Duration = Duration::from_secs(2 * 24 * 60 * 60);

/// The default of [`Config::registration_scope`].
pub const DEFAULT_REGISTRATION_SCOPE: &str = "openid profile email offline_access";
/// The default of [`Config::registrations_per_hour`].
pub const DEFAULT_REGISTRATIONS_PER_HOUR: u32 = 10;

/// The PEM files of the TLS certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM, one or more `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The private key of the leaf certificate (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./waxseal-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            management_listen: Some(DEFAULT_MANAGEMENT_LISTEN),
            public_metrics: false,
            issuer: "http://127.0.0.1:8080".into(),
            audience: "waxseal-api".into(),
            client_id: "waxseal-login".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_idle_ttl: Duration::from_secs(7 * 24 * 60 * 60),
            refresh_absolute_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            refresh_reuse_interval: Duration::ZERO,
            jwks_max_age: Duration::from_secs(5 * 60),
            master_key: None,
            signing_alg: Algorithm::ES256,
            allow_symmetric_signing: false,
            key_rotation_interval: Some(Duration::from_secs(90 * 24 * 60 * 60)),
            verified_token_cache: DEFAULT_VERIFIED_TOKEN_CACHE,
            tls: None,
            database: Database::Embedded,
            database_max_connections: crate::store::postgres::DEFAULT_MAX_CONNECTIONS,
            refresh_cookie: false,
            redis_url: None,
            redis_key_prefix: "waxseal".into(),
            header_read_timeout: limits::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: limits::DEFAULT_IDLE_TIMEOUT,
            body_timeout: limits::DEFAULT_BODY_TIMEOUT,
            max_connections: limits::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: limits::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            dpop_nonces: false,
            dpop_proof_window: DEFAULT_DPOP_PROOF_WINDOW,
            allow_registration: false,
            registration_scope: DEFAULT_REGISTRATION_SCOPE.into(),
            registrations_per_hour: DEFAULT_REGISTRATIONS_PER_HOUR,
            registered_client_expiry: DEFAULT_REGISTERED_CLIENT_EXPIRY,
            allow_client_metadata_documents: false,
            client_metadata_allowed_hosts: Vec::new(),
            client_metadata_ca_file: None,
            client_metadata_timeout: DEFAULT_CLIENT_METADATA_TIMEOUT,
        }
    }
}
