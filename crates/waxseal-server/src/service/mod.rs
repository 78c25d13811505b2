//! The flows: login, refresh with rotation, logout with revocation, access-token verification, and the OAuth 2.0
//! grants, revocation and introspection over registered clients.
//!
//! Nothing here knows about HTTP. Time comes from an injected [`Clock`], so expiry is tested without sleeping.
//! Secrets the server generates (refresh tokens, client secrets) are 256 random bits stored as their SHA-256: a
//! refresh token is found by its digest, a client secret's digest is compared in constant time. Passwords are
//! argon2id on the blocking pool, at most cores − 1 at once, so a burst of logins never stalls token verification.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use waxseal::jwt::{Claims, Clock, NumericDate};
use zeroize::Zeroizing;

use crate::bus::{BusState, RedisBus};
use crate::config::{CLOCK_LEEWAY as LEEWAY, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::keyring::Keyring;
use crate::master_key::MasterKey;
use crate::metrics::Metrics;
use crate::store::gate::{DatabaseState, GatedStore, StoreGate};
use crate::store::{GrantType, Store};
use crate::throttle::{LoginThrottle, RegistrationThrottle};
use password::hash_password;
use waxseal_axum::verified_cache::VerifiedCache;

// By capability; each file adds its part of `impl AuthService`.
pub mod authorize; // the authorization request, checked
mod bearer; // the bearer layer's verifier of the protected routes
mod client_cache; // registered clients read recently, for client authentication without the store
pub mod client_metadata; // clients known by the URL of their metadata document: the safe fetch, the cache
mod clients; // registering and administering OAuth clients, client authentication
mod code; // authorization codes and ID tokens
mod csrf; // cookie mode's CSRF tokens
mod denylist; // revoked tokens, sessions and "not before" times; the Redis announcements
mod dpop; // DPoP proofs (RFC 9449): the verifier, the nonces, the used proofs
mod encrypt; // encrypted ID tokens (to the client) and access tokens (to the server)
mod granted; // what a grant answers with
mod introspection; // RFC 7662
mod key_revocation; // withdrawing a leaked signing key
mod keys; // the keyring, key maintenance and rotation, signing
mod oauth; // the OAuth grants, scope resolution, RFC 7009 revocation
mod password; // argon2id on the blocking pool
mod prune; // deleting expired rows
mod redirect_uri; // the redirect URIs a client may register
mod registration; // dynamic client registration (RFC 7591), the expiry of unused registered clients
mod resources; // resource indicators (RFC 8707): registered resources, one audience per token
mod session; // login, refresh rotation with reuse detection, logout
mod sso; // the browser's SSO session, /account
mod userinfo; // the OpenID Connect userinfo claims
mod users; // user administration
mod verify; // access-token verification: cache, signature and claims, denylist
mod web_origin; // the origins whose pages may read a client's answers (CORS)

pub use authorize::{AuthorizationRequest, AuthorizeError, ErrorRedirect, Prompt, Step};
pub use bearer::{AccessTokenVerifier, Denylisted};
pub use clients::{ClientInfo, ClientPermissions, NewClient};
pub use code::{CODE_TTL_SECS, CodeExchange, at_hash, redirect_with};
pub use dpop::{DPOP_NONCE_STEP, DpopReplay};
pub use encrypt::{
    ACCESS_TOKEN_ENCRYPTION_KID, DEFAULT_ID_TOKEN_ENC, check_client_encryption_key,
    id_token_encryption_algorithms, id_token_encryption_encs,
};
pub use granted::GrantedTokens;
pub use introspection::{Introspected, Introspection, RefreshIntrospection};
pub use key_revocation::KeyRevocation;
pub use keys::KeyInfo;
pub use oauth::ClientToken;
pub(crate) use prune::spawn_pruner;
pub use prune::{PRUNE_BATCH, PRUNE_INTERVAL, PruneReport};
pub use registration::{Registered, RegistrationError, RegistrationRequest};
pub use resources::{MAX_RESOURCE_URI_LEN, ONE_RESOURCE, check_resource_uri};
pub use session::RefreshCredential;
pub use sso::{AccountSessions, NewSsoSession, SignedIn};
pub use users::UserInfo;
pub use web_origin::{MAX_WEB_ORIGINS, allowed_origins, check_web_origin};

use crate::secret::{random_id, random_token, refresh_token_digest};
use clients::check_scope_tokens;
use denylist::Denylist;
use oauth::resolve_scope;

/// Longest accepted username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;

/// Longest accepted password, in bytes (argon2 would take more; nobody types more).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The claims of an access token beyond the registered ones (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes; absent when the user has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The session (token family) the token belongs to; absent for client-credentials tokens, which have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// A freshly issued access token and refresh token. The refresh token is a secret: `Debug` hides it.
#[derive(Clone)]
pub struct TokenPair {
    /// The signed access token (`typ: at+jwt`).
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The opaque refresh token.
    pub refresh_token: Zeroizing<String>,
    /// Seconds until the refresh token expires unless used.
    pub refresh_expires_in: u64,
    /// The space-separated scope of the access token, if any.
    pub scope: Option<String>,
    /// The session (token family) both tokens belong to. Not a secret: the access token carries it as `sid`.
    pub sid: String,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
}

/// Adapts a shared clock to what the core verifier takes.
struct SharedClock(Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> NumericDate {
        self.0.now()
    }
}

/// The auth flows over a [`Store`].
pub struct AuthService {
    /// The store behind its gate, so an unreachable database costs a request no wait (see [`crate::store::gate`]).
    store: Arc<dyn Store>,
    /// Whether the database is reachable, as the gate in front of `store` knows it.
    database: StoreGate,
    config: Config,
    clock: Arc<dyn Clock>,
    master_key: MasterKey,
    /// Swapped whole when the published keys or the signing key change (key maintenance, another process's
    /// rotation); readers take a snapshot.
    keyring: RwLock<Arc<Keyring>>,
    /// Serializes key maintenance and rotation in this process, so two passes cannot both decide a rotation is due
    /// and create two keys.
    key_maintenance: tokio::sync::Mutex<()>,
    /// Serializes [`AuthService::reload_keys`]: two reloads racing (the periodic one, one on a Redis announcement)
    /// must not swap in the older read last — that could bring back a key revoked in between.
    key_reload: tokio::sync::Mutex<()>,
    /// Woken by a key revocation announced through Redis: [`AuthService::listen`] then rereads the keys at once.
    keys_announced: tokio::sync::Notify,
    /// Access tokens that passed verification, so a token presented again skips the signature check. Emptied
    /// whenever the keyring changes ([`AuthService::reload_keys`]). Shared with the bearer layer of the protected
    /// routes ([`AuthService::verified_cache`]), which fills it from requests.
    verified: Arc<VerifiedCache<Claims<AccessClaims>>>,
    denylist: RwLock<Denylist>,
    /// Registered clients read recently, so client authentication skips the store (see [`client_cache`]).
    clients: client_cache::ClientCache,
    /// Failed-login backoff per account and client address: this process's counters, used when there is no
    /// Redis or it does not answer.
    throttle: LoginThrottle,
    /// Registrations (`POST /register`) per client address, in this process.
    registrations: RegistrationThrottle,
    /// Registered clients whose use this process recorded in the last day.
    client_uses: registration::ClientUses,
    /// Redis, when configured: revocation announcements and shared throttle counters.
    bus: Option<Arc<RedisBus>>,
    /// A hash of a random password, verified when the user does not exist so that case costs the same time.
    dummy_hash: Arc<str>,
    /// This server's counters (see [`crate::metrics`]).
    metrics: Metrics,
    /// The key of cookie mode's CSRF tokens, derived from the master key.
    csrf: csrf::CsrfKey,
    /// The key authorization codes are sealed under, derived from the master key.
    codes: code::CodeKey,
    /// The key the access tokens of `--encrypt-access-tokens` clients are encrypted under, derived from the
    /// master key.
    access_sealing: encrypt::AccessTokenKey,
    /// DPoP: the proof verifier, the nonces (when required) and the used proofs.
    dpop: dpop::DpopState,
    /// Clients known by the URL of their metadata document; `None` unless
    /// [`Config::allow_client_metadata_documents`].
    client_metadata: Option<client_metadata::ClientMetadata>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("issuer", &self.config.issuer)
            .field("kid", &self.keyring().kid)
            .finish_non_exhaustive()
    }
}

fn invalid_credentials() -> Error {
    Error::new(
        ErrorKind::InvalidCredentials,
        "the username or password is wrong, or the account is disabled",
    )
}

fn invalid_token(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidToken, message)
}

fn invalid_grant(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidGrant, message)
}

fn unauthorized_client(grant: GrantType) -> Error {
    Error::new(
        ErrorKind::UnauthorizedClient,
        format!("this client may not use the {} grant", grant.as_str()),
    )
}

impl AuthService {
    /// Builds the service over the stored keys and the persisted denylist. It creates no key: on a store without
    /// one it cannot sign until [`AuthService::manage_keys`] runs (the server does that at start).
    pub async fn new(
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<dyn Clock>,
        master_key: &MasterKey,
    ) -> Result<AuthService> {
        config.validate()?;
        let metrics = Metrics::new()?;
        let database = StoreGate::new(
            metrics.database.up.clone(),
            metrics.database.refused.clone(),
        );
        let store: Arc<dyn Store> = Arc::new(GatedStore::new(
            store,
            database.clone(),
            metrics.database.operations.clone(),
        ));
        let now = clock.now().secs();
        let verified = Arc::new(VerifiedCache::new(config.verified_token_cache));
        let denylist = Denylist::from_snapshot(store.load_denylist(now).await?);
        let dummy_hash: Arc<str> = hash_password(random_token()?).await?.into();
        let csrf = csrf::CsrfKey::new(master_key.derive_hmac_key(csrf::CSRF_KEY_PURPOSE)?);
        let bus = match &config.redis_url {
            Some(url) => Some(Arc::new(RedisBus::new(
                url.expose(),
                &config.redis_key_prefix,
            )?)),
            None => None,
        };
        let dpop = dpop::DpopState::new(&config, clock.clone(), master_key, bus.as_ref())?;
        let client_metadata = client_metadata::ClientMetadata::from_config(&config)?;
        let service = AuthService {
            store,
            database,
            config,
            clock,
            master_key: master_key.clone(),
            codes: code::CodeKey::new(master_key.prk()),
            access_sealing: encrypt::AccessTokenKey::new(&master_key.prk())?,
            keyring: RwLock::new(Arc::new(Keyring::empty())),
            key_maintenance: tokio::sync::Mutex::new(()),
            key_reload: tokio::sync::Mutex::new(()),
            keys_announced: tokio::sync::Notify::new(),
            verified,
            denylist: RwLock::new(denylist),
            clients: client_cache::ClientCache::new(
                crate::DENYLIST_RELOAD_INTERVAL,
                client_cache::MAX_CACHED_CLIENTS,
            ),
            throttle: LoginThrottle::new(),
            registrations: RegistrationThrottle::new(),
            client_uses: registration::ClientUses::new(),
            bus,
            dummy_hash,
            metrics,
            csrf,
            dpop,
            client_metadata,
        };
        service.reload_keys().await?;
        Ok(service)
    }

    fn now(&self) -> u64 {
        self.clock.now().secs()
    }

    /// The service clock's time, in Unix seconds.
    pub fn now_secs(&self) -> u64 {
        self.now()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics in the Prometheus text format, with the gauges of in-memory state (denylist entries,
    /// verified-token cache) set from that state now: what `GET /metrics` serves.
    pub fn render_metrics(&self) -> String {
        let sizes = &self.metrics.sizes;
        let (jtis, sids, not_before) = self.read_denylist().sizes();
        sizes.denied_jtis.set(jtis as f64);
        sizes.denied_sids.set(sids as f64);
        sizes.not_before.set(not_before as f64);
        sizes.verified_tokens.set(self.verified.len() as f64);
        self.metrics.render()
    }

    /// Whether the database is reachable, as the store's gate knows it without asking the database: `Down` from
    /// a failed probe until one gets through (`/readyz` says since when).
    pub fn database_state(&self) -> DatabaseState {
        self.database.state()
    }

    /// Whether the store answers a trivial query (the readiness probe).
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await?;
        Ok(())
    }

    /// What this server knows of Redis; `None` without Redis.
    pub fn redis_state(&self) -> Option<BusState> {
        self.bus.as_ref().map(|bus| bus.state())
    }

    /// Closes the store.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_pair_debug_hides_the_refresh_token() {
        let pair = TokenPair {
            access_token: "a.b.c".into(),
            expires_in: 1,
            refresh_token: Zeroizing::new("secret-refresh".into()),
            refresh_expires_in: 2,
            scope: None,
            sid: "sid".into(),
        };
        assert!(!format!("{pair:?}").contains("secret-refresh"));
    }
}
