//! Server configuration with safe defaults: loopback only, 15-minute access tokens, sessions that end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use waxseal::Algorithm;

use crate::error::{Error, Result};
use crate::master_key::MasterKey;

mod database;
mod limits;
mod public_url;
pub mod settings;
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

impl Config {
    /// Checks the values against each other and the server's limits; the error names the setting to fix.
    pub fn validate(&self) -> Result<()> {
        if self.database_max_connections == 0 {
            return Err(Error::config(
                "the database pool needs at least one connection (--database-max-connections)",
            ));
        }
        if self.access_token_ttl > MAX_ACCESS_TOKEN_TTL {
            return Err(Error::config(format!(
                "access-token lifetime {} s is longer than the maximum of {} s (1 hour); \
                 shorten it and rely on refresh tokens",
                self.access_token_ttl.as_secs(),
                MAX_ACCESS_TOKEN_TTL.as_secs()
            )));
        }
        if self.access_token_ttl.as_secs() == 0 {
            return Err(Error::config(
                "access-token lifetime must be at least one second",
            ));
        }
        if self.refresh_idle_ttl.as_secs() == 0 || self.refresh_absolute_ttl.as_secs() == 0 {
            return Err(Error::config(
                "refresh-token idle and absolute lifetimes must be at least one second",
            ));
        }
        if self.refresh_idle_ttl > self.refresh_absolute_ttl {
            return Err(Error::config(format!(
                "refresh-token idle lifetime ({} s) is longer than the absolute session lifetime ({} s)",
                self.refresh_idle_ttl.as_secs(),
                self.refresh_absolute_ttl.as_secs()
            )));
        }
        if self.refresh_reuse_interval > MAX_REFRESH_REUSE_INTERVAL {
            return Err(Error::config(format!(
                "refresh-token reuse interval {} s is longer than the maximum of {} s: it only has to cover a client \
                 retrying a refresh whose answer was lost, and a thief holding the rotated token can use it as long; \
                 a few seconds to 30 s is enough",
                self.refresh_reuse_interval.as_secs(),
                MAX_REFRESH_REUSE_INTERVAL.as_secs()
            )));
        }
        if self.redis_key_prefix.is_empty()
            || self.redis_key_prefix.len() > 64
            || !self.redis_key_prefix.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::config(
                "the Redis key prefix must be 1 to 64 printable ASCII characters without spaces",
            ));
        }
        if self.issuer.is_empty() || self.audience.is_empty() || self.client_id.is_empty() {
            return Err(Error::config(
                "issuer, audience and client id must not be empty",
            ));
        }
        if self.refresh_cookie {
            let issuer = PublicUrl::parse(&self.issuer)?;
            if !issuer.secure && !issuer.loopback {
                return Err(Error::config(format!(
                    "cookie mode needs an https issuer: browsers keep Secure cookies only from https (or http on \
                     loopback), and {} is neither; set the issuer to the https URL clients use",
                    issuer.origin
                )));
            }
        }
        if self.dpop_proof_window.as_secs() == 0 || self.dpop_proof_window > MAX_DPOP_PROOF_WINDOW {
            return Err(Error::config(format!(
                "the DPoP proof window must be 1 s to {} s (--dpop-proof-window); a proof is usable by whoever holds \
                 it for that long, and 60 s covers ordinary clock skew",
                MAX_DPOP_PROOF_WINDOW.as_secs()
            )));
        }
        if self.registrations_per_hour == 0 {
            return Err(Error::config(
                "--registrations-per-hour must be at least 1; to refuse every registration, leave \
                 --allow-registration off",
            ));
        }
        if self.registered_client_expiry < MIN_REGISTERED_CLIENT_EXPIRY {
            return Err(Error::config(
                "--registered-client-expiry must be at least 2d: a registered client's last use is recorded at most \
                 once a day, so a shorter time could delete a client in use",
            ));
        }
        let scopes: Vec<&str> = self.registration_scope.split(' ').collect();
        if scopes.iter().any(|s| {
            s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        }) {
            return Err(Error::config(
                "--registration-scope is scope tokens separated by single spaces (RFC 6749 §3.3), e.g. \
                 \"openid profile email offline_access\"",
            ));
        }
        self.validate_client_metadata()?;
        limits::validate(self)?;
        self.validate_signing()
    }

    fn validate_client_metadata(&self) -> Result<()> {
        let timeout = self.client_metadata_timeout;
        if timeout < Duration::from_secs(1) || timeout > MAX_CLIENT_METADATA_TIMEOUT {
            return Err(Error::config(format!(
                "--client-metadata-timeout must be 1s to {}s: an authorization request waits for the fetch",
                MAX_CLIENT_METADATA_TIMEOUT.as_secs()
            )));
        }
        for host in &self.client_metadata_allowed_hosts {
            if !crate::service::client_metadata::is_host_pattern(host) {
                return Err(Error::config(format!(
                    "--client-metadata-allow-host {:?} is not a host name or host:port (e.g. mcp.internal or \
                     10.0.0.5:8443)",
                    host.chars().take(80).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    fn validate_signing(&self) -> Result<()> {
        let alg = self.signing_alg;
        if !SIGNING_ALGORITHMS.contains(&alg) {
            let names: Vec<String> = SIGNING_ALGORITHMS.iter().map(ToString::to_string).collect();
            return Err(Error::config(format!(
                "the server does not sign with {alg}: not every JOSE library verifies it; choose one of {}",
                names.join(", ")
            )));
        }
        if alg.is_symmetric() && !self.allow_symmetric_signing {
            return Err(Error::config(format!(
                "{alg} signs with a shared secret: every service that verifies the tokens must hold it and could \
                 mint its own, and the JWKS cannot publish it. Prefer ES256 or EdDSA; to use {alg} anyway, allow \
                 symmetric signing explicitly (--allow-symmetric-signing)"
            )));
        }
        if let Some(interval) = self.key_rotation_interval
            && interval < MIN_KEY_ROTATION_INTERVAL
        {
            return Err(Error::config(format!(
                "key rotation every {} s is more often than the minimum of once a day; a compromised key is \
                 replaced with `waxseal keys rotate`, not by rotating constantly",
                interval.as_secs()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn access_token_ttl_longer_than_an_hour_is_refused() {
        let config = Config {
            access_token_ttl: Duration::from_secs(60 * 60 + 1),
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.message().contains("maximum of 3600 s"), "{err}");
        let hour = Config {
            access_token_ttl: MAX_ACCESS_TOKEN_TTL,
            ..Config::default()
        };
        assert!(hour.validate().is_ok());
    }

    #[test]
    fn a_refresh_reuse_interval_longer_than_a_minute_is_refused() {
        let config = Config {
            refresh_reuse_interval: MAX_REFRESH_REUSE_INTERVAL + Duration::from_secs(1),
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.message().contains("maximum of 60 s"), "{err}");
        let minute = Config {
            refresh_reuse_interval: MAX_REFRESH_REUSE_INTERVAL,
            ..Config::default()
        };
        assert!(minute.validate().is_ok());
        assert_eq!(Config::default().refresh_reuse_interval, Duration::ZERO);
    }

    #[test]
    fn debug_never_shows_the_master_key() {
        let config = Config {
            master_key: crate::MasterKey::parse(&"5a".repeat(32)).ok(),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("MasterKey(<redacted>)"), "{shown}");
        assert!(
            !shown.contains("5a5a") && !shown.contains("90, 90"),
            "{shown}"
        );
    }

    #[test]
    fn symmetric_signing_needs_an_explicit_allowance() {
        let hs = Config {
            signing_alg: Algorithm::HS256,
            ..Config::default()
        };
        let err = hs.validate().unwrap_err();
        assert!(err.message().contains("--allow-symmetric-signing"), "{err}");
        let allowed = Config {
            allow_symmetric_signing: true,
            ..hs
        };
        assert!(allowed.validate().is_ok());
    }

    #[test]
    fn only_widely_verifiable_algorithms_sign() {
        let k1 = Config {
            signing_alg: Algorithm::ES256K,
            ..Config::default()
        };
        assert!(k1.validate().unwrap_err().message().contains("ES256, "));
        for alg in SIGNING_ALGORITHMS.into_iter().filter(|a| !a.is_symmetric()) {
            let config = Config {
                signing_alg: alg,
                ..Config::default()
            };
            assert!(config.validate().is_ok(), "{alg}");
        }
    }

    #[test]
    fn rotation_more_often_than_daily_is_refused() {
        let config = Config {
            key_rotation_interval: Some(Duration::from_secs(3600)),
            ..Config::default()
        };
        assert!(config.validate().is_err());
        let off = Config {
            key_rotation_interval: None,
            ..Config::default()
        };
        assert!(off.validate().is_ok());
    }

    #[test]
    fn cookie_mode_needs_an_https_or_loopback_issuer() {
        let with = |issuer: &str| Config {
            refresh_cookie: true,
            issuer: issuer.into(),
            ..Config::default()
        };
        assert!(with("https://auth.example.com").validate().is_ok());
        assert!(with("http://127.0.0.1:8080").validate().is_ok());
        let err = with("http://auth.example.com").validate().unwrap_err();
        assert!(err.message().contains("https issuer"), "{err}");
        assert!(with("waxseal").validate().is_err());
        assert!(
            Config {
                issuer: "waxseal".into(),
                ..Config::default()
            }
            .validate()
            .is_ok(),
            "only cookie mode cares"
        );
    }

    #[test]
    fn a_dpop_proof_window_of_zero_or_over_five_minutes_is_refused() {
        for secs in [0, 301] {
            let config = Config {
                dpop_proof_window: Duration::from_secs(secs),
                ..Config::default()
            };
            let err = config.validate().unwrap_err();
            assert!(err.message().contains("--dpop-proof-window"), "{err}");
        }
        let five = Config {
            dpop_proof_window: MAX_DPOP_PROOF_WINDOW,
            ..Config::default()
        };
        assert!(five.validate().is_ok());
    }

    #[test]
    fn a_database_pool_without_connections_is_refused() {
        let config = Config {
            database_max_connections: 0,
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert_eq!(
            err.message(),
            "the database pool needs at least one connection (--database-max-connections)"
        );
    }

    #[test]
    fn idle_longer_than_absolute_is_refused() {
        let config = Config {
            refresh_idle_ttl: Duration::from_secs(100),
            refresh_absolute_ttl: Duration::from_secs(10),
            ..Config::default()
        };
        assert_eq!(
            config.validate().unwrap_err().kind(),
            crate::ErrorKind::Config
        );
    }
}
