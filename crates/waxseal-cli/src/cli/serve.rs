//! `waxseal serve`'s settings: one field per setting, each with its flag and `WAXSEAL_*` variable; what each
//! means, its default and its checks are the server crate's (`waxseal_server::settings`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::server::{
    ManagementListen, Rotation, duration, management_listen, reuse_interval, rotation,
};

/// `waxseal serve`'s settings. Each one comes from its flag, else its `WAXSEAL_*` variable, else the `--config` TOML
/// file, else the default; `None` here means "neither flag nor variable".
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML file of settings (keys: data_dir, listen, management_listen, public_metrics, issuer, audience, access_ttl, refresh_idle_ttl,
    /// refresh_absolute_ttl, refresh_reuse_interval, signing_alg, allow_symmetric_signing, key_rotation, tls_cert,
    /// tls_key, token_cache, refresh_cookie, redis_url, redis_key_prefix, header_read_timeout, idle_timeout,
    /// body_timeout, max_connections, max_connections_per_address, dpop_nonce, dpop_proof_window,
    /// allow_registration, registration_scope, registrations_per_hour, registered_client_expiry,
    /// allow_client_metadata_documents, client_metadata_allowed_hosts, client_metadata_ca_file,
    /// client_metadata_timeout); flags and WAXSEAL_* variables override it.
    #[arg(long, env = "WAXSEAL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective settings (as TOML) and exit; the master key is never shown, only where it comes from.
    #[arg(long)]
    pub print_config: bool,
    /// Also serve the token debugger page at /debugger/, with this server's JWK Set preselected as the key. Off by
    /// default: it is a developer's tool. Its API answers only pages of this server's own origin.
    #[arg(long, env = "WAXSEAL_DEBUGGER")]
    pub debugger: bool,
    /// The server's data directory: database and (without WAXSEAL_MASTER_KEY) the master-key file
    /// [default: ./waxseal-data].
    #[arg(long, env = "WAXSEAL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database: postgres://USER@HOST/DB (or postgresql://) for PostgreSQL, sqlite://PATH for a SQLite file
    /// elsewhere [default: DATA_DIR/waxseal.db]. With a password in it, prefer the variable: flags show in `ps`.
    #[arg(
        long,
        env = "WAXSEAL_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The most connections this process opens to PostgreSQL; N instances open up to N times as many
    /// [default: 10].
    #[arg(long, env = "WAXSEAL_DATABASE_MAX_CONNECTIONS", value_name = "N")]
    pub database_max_connections: Option<u32>,
    /// The address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "WAXSEAL_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Where the management listener serves /metrics, /healthz and /readyz with details (what is down, since
    /// when), or `off`. Keep it where only your monitoring reaches it [default: 127.0.0.1:9000].
    #[arg(long, env = "WAXSEAL_MANAGEMENT_LISTEN", value_name = "ADDR|off", value_parser = management_listen)]
    pub management_listen: Option<ManagementListen>,
    /// Also serve /metrics on the public listener, to anyone who reaches it; the management listener serves them
    /// either way [default: false].
    #[arg(
        long,
        env = "WAXSEAL_PUBLIC_METRICS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub public_metrics: Option<bool>,
    /// The `iss` of issued tokens and the base of the discovery URLs [default: http://ADDR, the listen address].
    #[arg(long, env = "WAXSEAL_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// The `aud` of issued access tokens [default: waxseal-api].
    #[arg(long, env = "WAXSEAL_AUDIENCE", value_name = "AUD")]
    pub audience: Option<String>,
    /// Access-token lifetime, at most 1h [default: 15m].
    #[arg(long, env = "WAXSEAL_ACCESS_TTL", value_name = "DURATION", value_parser = duration)]
    pub access_ttl: Option<Duration>,
    /// A refresh token unused for this long expires [default: 7d].
    #[arg(long, env = "WAXSEAL_REFRESH_IDLE_TTL", value_name = "DURATION", value_parser = duration)]
    pub refresh_idle_ttl: Option<Duration>,
    /// A session ends this long after login, however active [default: 30d].
    #[arg(long, env = "WAXSEAL_REFRESH_ABSOLUTE_TTL", value_name = "DURATION", value_parser = duration)]
    pub refresh_absolute_ttl: Option<Duration>,
    /// For this long after a refresh token is used, presenting it again (a client retrying a refresh whose answer
    /// it lost) gets a new pair in the same session, at most 3 times, instead of ending the session as reuse. A
    /// thief holding that token can use it as long: keep it short. At most 60s; 0 or off: none [default: 0].
    #[arg(long, env = "WAXSEAL_REFRESH_REUSE_INTERVAL", value_name = "DURATION", value_parser = reuse_interval)]
    pub refresh_reuse_interval: Option<Duration>,
    /// Cookie mode, for browser apps: the refresh token goes in an HttpOnly cookie (Path=/refresh) instead of the
    /// JSON body, and POST /refresh needs the login response's csrf_token in X-CSRF-Token. Needs an https issuer
    /// (or http on loopback) [default: false].
    #[arg(
        long,
        env = "WAXSEAL_REFRESH_COOKIE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub refresh_cookie: Option<bool>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. The default issuer becomes
    /// https://ADDR.
    #[arg(long, env = "WAXSEAL_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, SEC1 or PKCS#1, unencrypted).
    #[arg(long, env = "WAXSEAL_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// How many verified access tokens to remember, so a token presented again skips signature verification;
    /// 0 turns the cache off [default: 16384].
    #[arg(long, env = "WAXSEAL_TOKEN_CACHE", value_name = "N")]
    pub token_cache: Option<usize>,
    /// The signing algorithm: ES256, ES384, ES512, EdDSA, RS256/384/512, PS256/384/512; HS256/384/512 only with
    /// --allow-symmetric-signing. Changing it rotates the key [default: ES256].
    #[arg(long, env = "WAXSEAL_SIGNING_ALG", value_name = "ALG")]
    pub signing_alg: Option<String>,
    /// Allow HMAC signing (HS256/384/512): every verifier then holds a secret that can mint tokens.
    #[arg(long, env = "WAXSEAL_ALLOW_SYMMETRIC_SIGNING")]
    pub allow_symmetric_signing: bool,
    /// Schedule a new signing key this long after the current one began signing, or `off` [default: 90d].
    #[arg(long, env = "WAXSEAL_KEY_ROTATION", value_name = "DURATION|off", value_parser = rotation)]
    pub key_rotation: Option<Rotation>,
    /// Redis, for several instances: a logout on one is honoured by all within milliseconds, and failed logins
    /// are counted across them. The database stays the source of truth; while Redis is down, instances learn of
    /// revocations from it within a second. Example: redis://:PASSWORD@10.0.0.5:6379/0.
    #[arg(long, env = "WAXSEAL_REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,
    /// What this deployment's Redis keys and channel start with, so deployments can share a Redis
    /// [default: waxseal].
    #[arg(long, env = "WAXSEAL_REDIS_KEY_PREFIX", value_name = "PREFIX")]
    pub redis_key_prefix: Option<String>,
    /// How long a client has to send a request's headers (on a kept-alive connection: from the first byte of
    /// the request) [default: 10s].
    #[arg(long, env = "WAXSEAL_HEADER_READ_TIMEOUT", value_name = "DURATION", value_parser = duration)]
    pub header_read_timeout: Option<Duration>,
    /// How long a kept-alive connection may wait for its next request [default: 60s].
    #[arg(long, env = "WAXSEAL_IDLE_TIMEOUT", value_name = "DURATION", value_parser = duration)]
    pub idle_timeout: Option<Duration>,
    /// How long a client has to send a request's whole body after its headers [default: 30s].
    #[arg(long, env = "WAXSEAL_BODY_TIMEOUT", value_name = "DURATION", value_parser = duration)]
    pub body_timeout: Option<Duration>,
    /// The most client connections open at once; more are closed at once. Keep it under the open-file limit
    /// [default: 10000].
    #[arg(long, env = "WAXSEAL_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// The most client connections open at once from one address (IPv6: one /64). Behind a reverse proxy, every
    /// connection comes from the proxy: raise it to --max-connections there [default: 256].
    #[arg(long, env = "WAXSEAL_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    pub max_connections_per_address: Option<usize>,
    /// DPoP (RFC 9449): require a server nonce in every proof; a client first gets `use_dpop_nonce` and a
    /// DPoP-Nonce header, then retries with it. Every instance sharing the master key accepts the others' nonces
    /// [default: false].
    #[arg(
        long,
        env = "WAXSEAL_DPOP_NONCE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub dpop_nonce: Option<bool>,
    /// DPoP: how far a proof's iat may be in the past or the future, at most 5m [default: 60s].
    #[arg(long, env = "WAXSEAL_DPOP_PROOF_WINDOW", value_name = "DURATION", value_parser = duration)]
    pub dpop_proof_window: Option<Duration>,
    /// Open dynamic client registration (RFC 7591) at POST /register, as MCP clients use it: anyone who reaches
    /// the server may register a public client (PKCE, consent always asked), throttled per address. Off: 404
    /// [default: false].
    #[arg(
        long,
        env = "WAXSEAL_ALLOW_REGISTRATION",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_registration: Option<bool>,
    /// The scopes a registered client may have; its requested scope is narrowed to these
    /// [default: "openid profile email offline_access"].
    #[arg(long, env = "WAXSEAL_REGISTRATION_SCOPE", value_name = "SCOPES")]
    pub registration_scope: Option<String>,
    /// The most clients one address may register per hour; beyond it 429 [default: 10].
    #[arg(long, env = "WAXSEAL_REGISTRATIONS_PER_HOUR", value_name = "N")]
    pub registrations_per_hour: Option<u32>,
    /// A client registered through /register and not used (no authorization or token request) for this long is
    /// deleted, at least 2d; operator-added clients never expire [default: 30d].
    #[arg(long, env = "WAXSEAL_REGISTERED_CLIENT_EXPIRY", value_name = "DURATION", value_parser = duration)]
    pub registered_client_expiry: Option<Duration>,
    /// Accept an https URL as a client_id (OAuth Client ID Metadata Documents, as MCP clients use them): the
    /// server fetches the URL's JSON client metadata and treats the client as a public one (PKCE, consent always
    /// asked). Fetches go only to public addresses, without redirects, bounded in time and size [default: false].
    #[arg(
        long,
        env = "WAXSEAL_ALLOW_CLIENT_METADATA_DOCUMENTS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_client_metadata_documents: Option<bool>,
    /// A host (NAME or NAME:PORT) whose metadata documents may be fetched from any address, loopback and private
    /// ones included: an internal deployment. Repeat for several; the variable takes a comma-separated list.
    #[arg(
        long = "client-metadata-allow-host",
        env = "WAXSEAL_CLIENT_METADATA_ALLOW_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub client_metadata_allowed_hosts: Vec<String>,
    /// PEM certificates trusted, besides the system's roots, when fetching client metadata documents.
    #[arg(
        long = "client-metadata-ca",
        env = "WAXSEAL_CLIENT_METADATA_CA",
        value_name = "FILE"
    )]
    pub client_metadata_ca_file: Option<PathBuf>,
    /// The most one metadata document fetch may take, connecting and reading included, 1s to 30s [default: 5s].
    #[arg(long, env = "WAXSEAL_CLIENT_METADATA_TIMEOUT", value_name = "DURATION", value_parser = duration)]
    pub client_metadata_timeout: Option<Duration>,
}
