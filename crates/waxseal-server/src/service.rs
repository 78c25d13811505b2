//! The flows: login, refresh with rotation, logout with revocation, access-token verification, and the OAuth 2.0
//! grants, revocation and introspection over registered clients.
//!
//! Nothing here knows about HTTP. Time comes from an injected [`Clock`], so expiry is tested without sleeping.
//! Secrets the server generates (refresh tokens, client secrets) are 256 random bits stored as their SHA-256: a
//! refresh token is found by its digest, a client secret's digest is compared in constant time. Passwords are
//! argon2id on the blocking pool, at most cores − 1 at once, so a burst of logins never stalls token verification.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use waxseal::jwt::{Claims, Clock, NumericDate, RegisteredClaims, Verifier};
use waxseal::{Algorithm, ErrorKind as JwtErrorKind, KeySet};
use zeroize::Zeroizing;

use crate::config::{CLOCK_LEEWAY as LEEWAY, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::keyring::{self, KeyState, Keyring};
use crate::master_key::MasterKey;
use crate::metrics::Metrics;
use crate::store::gate::{DatabaseState, GatedStore, StoreGate};
use crate::store::redis::{BusState, RedisBus};
use crate::store::{
    Client, DenylistSnapshot, GrantType, RefreshTokenRecord, ReuseAllowance, Rotation, Store,
    TokenFamily, User,
};
use crate::throttle::{Attempt, LoginThrottle};
use password::{hash_password, password_matches};
use waxseal_axum::verified_cache::{TokenDigest, Validity, VerifiedCache};

mod bearer;
pub use bearer::{AccessTokenVerifier, Denylisted};
mod client_cache;
mod clients;
mod granted;
mod introspection;
pub use introspection::{Introspected, RefreshIntrospection};
mod key_revocation;
mod password;
mod prune;

pub use clients::{ClientInfo, ClientPermissions};
pub use granted::GrantedTokens;
pub use key_revocation::KeyRevocation;
pub(crate) use prune::spawn_pruner;
pub use prune::{PRUNE_BATCH, PRUNE_INTERVAL, PruneReport};

mod csrf;

/// Longest accepted username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;
/// Longest accepted password, in bytes (argon2 would take more; nobody types more).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Longest accepted OAuth client name, in bytes.
pub const MAX_CLIENT_NAME_LEN: usize = 128;
/// Longest `client_id` looked up; the server's own are 22 characters.
const MAX_CLIENT_ID_LEN: usize = 128;

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

/// A newly registered OAuth client. The secret is shown once and never stored: `Debug` hides it.
pub struct NewClient {
    /// The public identifier.
    pub client_id: String,
    /// The client secret: 256 random bits, base64url.
    pub client_secret: Zeroizing<String>,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The access token of a client-credentials grant (no refresh token: the client can always ask again).
#[derive(Debug, Clone)]
pub struct ClientToken {
    /// The signed access token (`typ: at+jwt`).
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The space-separated scope, if any.
    pub scope: Option<String>,
}

/// What introspection learned about an active access token.
#[derive(Debug, Clone)]
pub struct Introspection {
    /// The verified claims.
    pub claims: Arc<Claims<AccessClaims>>,
    /// The user's login name, when the token was issued to a user.
    pub username: Option<String>,
}

/// A user as the admin commands show it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// Login name.
    pub username: String,
    /// Whether the user is refused at login and refresh.
    pub disabled: bool,
    /// Scopes granted to the user's tokens.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// A signing key as the admin commands show it: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id: the RFC 7638 thumbprint (random for an HMAC secret).
    pub kid: String,
    /// The JWS algorithm it signs with.
    pub alg: String,
    /// Where it is in its life now.
    pub state: KeyState,
    /// Unix seconds: published from then on.
    pub created_at: u64,
    /// Unix seconds: signs from then on (for a revoked key, whose activation is not kept: its creation).
    pub activates_at: u64,
}

/// The in-memory side of the denylist: every protected request checks it in O(1).
#[derive(Debug, Default)]
struct Denylist {
    jtis: HashMap<String, u64>,
    sids: HashMap<String, u64>,
    not_before: HashMap<String, u64>,
    /// The size at which the next prune runs.
    prune_at: usize,
}

impl Denylist {
    fn from_snapshot(s: DenylistSnapshot) -> Self {
        Denylist {
            jtis: s.jtis.into_iter().collect(),
            sids: s.sids.into_iter().collect(),
            not_before: s.not_before.into_iter().collect(),
            prune_at: 1024,
        }
    }

    /// Drops entries whose tokens have all expired. Amortised: runs only when the maps have doubled since the
    /// last pass, so a revocation costs O(1) on average.
    fn prune(&mut self, now: u64) {
        let size = self.jtis.len() + self.sids.len();
        if size < self.prune_at {
            return;
        }
        self.jtis.retain(|_, until| *until > now);
        self.sids.retain(|_, until| *until > now);
        self.prune_at = (2 * (self.jtis.len() + self.sids.len())).max(1024);
    }

    /// Adds everything in `s`, keeping the later time of an entry present in both.
    fn merge(&mut self, s: DenylistSnapshot) {
        for (map, entries) in [
            (&mut self.jtis, s.jtis),
            (&mut self.sids, s.sids),
            (&mut self.not_before, s.not_before),
        ] {
            for (key, at) in entries {
                let slot = map.entry(key).or_insert(at);
                *slot = (*slot).max(at);
            }
        }
    }

    fn refuses(&self, jti: &str, sid: Option<&str>, sub: &str, iat: u64) -> bool {
        self.jtis.contains_key(jti)
            || sid.is_some_and(|sid| self.sids.contains_key(sid))
            || self.not_before.get(sub).is_some_and(|&nbf| iat < nbf)
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
    /// Redis, when configured: revocation announcements and shared throttle counters.
    bus: Option<Arc<RedisBus>>,
    /// A hash of a random password, verified when the user does not exist so that case costs the same time.
    dummy_hash: Arc<str>,
    /// This server's counters (see [`crate::metrics`]).
    metrics: Metrics,
    /// The key of cookie mode's CSRF tokens, derived from the master key.
    csrf: csrf::CsrfKey,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("issuer", &self.config.issuer)
            .field("kid", &self.keyring().kid)
            .finish_non_exhaustive()
    }
}

fn random_token() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut bytes[..]).map_err(|_| Error::crypto("no randomness"))?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..])))
}

/// 128 random bits, base64url: session ids, token ids, client ids, HMAC key ids.
pub(crate) fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::crypto("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of a refresh token, or `None` when it cannot be one (wrong length or alphabet) — such input is
/// refused without touching the store.
fn refresh_token_digest(token: &str) -> Option<[u8; 32]> {
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let d = digest(&SHA256, token.as_bytes());
    d.as_ref().try_into().ok()
}

fn check_password_shape(password: &str) -> Result<()> {
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("a password is 1 to {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
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

fn sha256(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
    out
}

/// Each scope is an RFC 6749 §3.3 scope token.
fn check_scope_tokens(scopes: &[String]) -> Result<()> {
    match scopes.iter().find(|s| {
        s.is_empty()
            || s.chars()
                .any(|c| !c.is_ascii_graphic() || c == '"' || c == '\\')
    }) {
        Some(bad) => Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "scope {:?} is not a valid scope token (RFC 6749 §3.3)",
                bad.chars().take(40).collect::<String>()
            ),
        )),
        None => Ok(()),
    }
}

/// The scopes to grant: all of `allowed` when nothing was requested, else the requested ones, each of which
/// must be allowed ([`ErrorKind::InvalidScope`] names the first that is not, truncated).
fn resolve_scope(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut granted: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.iter().any(|a| a == scope) {
            return Err(Error::new(
                ErrorKind::InvalidScope,
                format!(
                    "scope {:?} is not available to this client",
                    scope.chars().take(40).collect::<String>()
                ),
            ));
        }
        if !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_owned());
        }
    }
    Ok(granted)
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
        let store: Arc<dyn Store> = Arc::new(GatedStore::new(store, database.clone()));
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
        let service = AuthService {
            store,
            database,
            config,
            clock,
            master_key: master_key.clone(),
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
            bus,
            dummy_hash,
            metrics,
            csrf,
        };
        service.reload_keys().await?;
        Ok(service)
    }

    /// The keys in use now.
    fn keyring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A verifier of this server's access tokens over `keys`.
    fn access_verifier(&self, keys: KeySet) -> Verifier {
        Verifier::new(keys)
            .issuer(self.config.issuer.clone())
            .audience(self.config.audience.clone())
            .typ("at+jwt")
            .require(["sub", "jti", "iat", "exp"])
            .leeway(LEEWAY)
            .clock(SharedClock(self.clock.clone()))
    }

    /// Reads the stored keys, deletes those whose tokens have all expired, and switches this process to the
    /// keys in force now (a key that reached its activation time signs from here on). Cheap when nothing changed:
    /// one read of a small table.
    pub async fn reload_keys(&self) -> Result<()> {
        let _one_at_a_time = self.key_reload.lock().await;
        let now = self.now();
        let mut keys = self.store.keys().await?;
        let states = keyring::key_states(&keys, now);
        for (key, _) in keys
            .iter()
            .zip(&states)
            .filter(|(_, s)| **s == KeyState::Expired)
        {
            self.store.delete_key(&key.kid).await?;
            tracing::info!(kid = %key.kid, "deleted a retired signing key: every token it signed has expired");
        }
        let (keys, states): (Vec<_>, Vec<_>) = keys
            .drain(..)
            .zip(states)
            .filter(|(_, s)| *s != KeyState::Expired)
            .unzip();
        let current = self.keyring();
        if !current.differs(&keys, &states) {
            return Ok(());
        }
        let next = current.rebuild(&keys, &states, &self.master_key, |set| {
            self.access_verifier(set)
        })?;
        if next.kid != current.kid && !next.kid.is_empty() {
            tracing::info!(kid = %next.kid, "signing with a new key");
        }
        *self
            .keyring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        // After the swap: a verification that read the cache generation before this clear cannot insert, and one
        // that read it after sees the new keyring.
        self.verifying_keys_changed();
        Ok(())
    }

    /// What `waxseal serve` does at start and then periodically: creates the first key; rotates when the
    /// configured algorithm differs from the newest key's or the scheduled rotation is due (the new key is
    /// published at once and signs after [`keyring::publish_delay`]); then [`AuthService::reload_keys`].
    pub async fn manage_keys(&self) -> Result<()> {
        let _one_at_a_time = self.key_maintenance.lock().await;
        let now = self.now();
        let alg = self.config.signing_alg;
        let keys = self.store.keys().await?;
        let delay = keyring::publish_delay(&self.config).as_secs();
        let activation = match keys.last() {
            // The first key signs at once: nobody can have cached a JWKS without it.
            None => Some(now),
            Some(newest) if newest.alg != alg.to_string() => {
                tracing::info!(from = %newest.alg, to = %alg, "the signing algorithm changed: rotating");
                Some(now.saturating_add(delay))
            }
            Some(newest) => self.config.key_rotation_interval.and_then(|interval| {
                let due = newest.activates_at.saturating_add(interval.as_secs());
                (due <= now.saturating_add(delay)).then(|| {
                    tracing::info!("scheduled key rotation");
                    due.max(now.saturating_add(delay))
                })
            }),
        };
        if let Some(activates_at) = activation {
            let key = keyring::generate(alg, &self.master_key, now, activates_at).await?;
            // Several instances on one database may all decide to rotate at the same moment: only the first to
            // store its key does; the others find the keys changed and take that key at the reload below.
            let seen: Vec<String> = keys.iter().map(|k| k.kid.clone()).collect();
            if self.store.insert_key_if_unchanged(&key, &seen).await? {
                tracing::info!(kid = %key.kid, %alg, activates_at, "generated a signing key");
            } else {
                tracing::info!(
                    "another process changed the signing keys first; using its decision"
                );
            }
        }
        self.reload_keys().await
    }

    /// The algorithm of the next key: `alg` if given, else the newest key's (the one `serve` was configured with),
    /// else the configured one; refused when the configuration would not allow it. Symmetric signing stays allowed
    /// where the server was already configured for it.
    fn next_key_algorithm(
        &self,
        keys: &[crate::store::StoredKey],
        alg: Option<Algorithm>,
    ) -> Result<Algorithm> {
        let newest = keys
            .last()
            .map(|k| Algorithm::from_name(&k.alg))
            .transpose()
            .map_err(|_| Error::storage("the newest key's algorithm is not known"))?;
        let alg = alg.or(newest).unwrap_or(self.config.signing_alg);
        Config {
            signing_alg: alg,
            allow_symmetric_signing: self.config.allow_symmetric_signing
                || newest.is_some_and(Algorithm::is_symmetric),
            ..self.config.clone()
        }
        .validate()?;
        Ok(alg)
    }

    /// Manual rotation (`waxseal keys rotate`): a new key of `alg` (default: the newest key's algorithm), published
    /// now, signing after [`keyring::publish_delay`]. Refused while another key is still waiting to sign.
    pub async fn rotate_keys(&self, alg: Option<Algorithm>) -> Result<KeyInfo> {
        self.rotate_keys_signing_after(alg, keyring::publish_delay(&self.config))
            .await
    }

    /// [`AuthService::rotate_keys`] with the new key signing `signs_after` from now instead of after the publish
    /// delay. The old key stays published (and valid) as after any rotation, so this is not the answer to a leaked
    /// key, which must be withdrawn from the JWKS ([`AuthService::revoke_key`]). A verifier that cached the JWKS
    /// without the new key then sees an unknown `kid` and has to refetch the JWKS (waxseal-remote and most JOSE
    /// libraries do, within their refetch cooldown); one that does not refuses new tokens until its cache expires.
    pub async fn rotate_keys_signing_after(
        &self,
        alg: Option<Algorithm>,
        signs_after: Duration,
    ) -> Result<KeyInfo> {
        let _one_at_a_time = self.key_maintenance.lock().await;
        let now = self.now();
        let keys = self.store.keys().await?;
        let states = keyring::key_states(&keys, now);
        if let Some((pending, _)) = keys
            .iter()
            .zip(&states)
            .find(|(_, s)| **s == KeyState::Pending)
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "key {} is already published and waiting to sign (from {}); rotate again after that",
                    pending.kid, pending.activates_at
                ),
            ));
        }
        let alg = self.next_key_algorithm(&keys, alg)?;
        // Keys take turns by activation time in whole seconds, ties broken by creation time and then kid: a new key
        // activating in the same second as the newest would lose half the time and never sign. It comes a second
        // after the newest instead.
        let after_newest = keys
            .iter()
            .map(|k| k.activates_at.saturating_add(1))
            .max()
            .unwrap_or(0);
        let activates_at = now.saturating_add(signs_after.as_secs()).max(after_newest);
        let key = keyring::generate(alg, &self.master_key, now, activates_at).await?;
        let seen: Vec<String> = keys.iter().map(|k| k.kid.clone()).collect();
        if !self.store.insert_key_if_unchanged(&key, &seen).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                "another process changed the signing keys at the same time (a scheduled rotation, or another \
                 `waxseal keys rotate`); see `waxseal keys list` and rotate again if still needed",
            ));
        }
        tracing::info!(kid = %key.kid, %alg, activates_at, "signing key rotation scheduled");
        self.reload_keys().await?;
        Ok(KeyInfo {
            kid: key.kid,
            alg: key.alg,
            state: KeyState::Pending,
            created_at: key.created_at,
            activates_at,
        })
    }

    /// Every stored key and its state now, then every revoked key ([`KeyState::Revoked`]).
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let keys = self.store.keys().await?;
        let states = keyring::key_states(&keys, self.now());
        let revoked = self.store.revoked_keys().await?;
        Ok(keys
            .into_iter()
            .zip(states)
            .map(|(key, state)| KeyInfo {
                kid: key.kid,
                alg: key.alg,
                state,
                created_at: key.created_at,
                activates_at: key.activates_at,
            })
            .chain(revoked.into_iter().map(|r| KeyInfo {
                kid: r.kid,
                alg: r.alg,
                state: KeyState::Revoked { at: r.revoked_at },
                created_at: r.created_at,
                activates_at: r.created_at,
            }))
            .collect())
    }

    fn now(&self) -> u64 {
        self.clock.now().secs()
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
        let (jtis, sids, not_before) = {
            let denylist = self.read_denylist();
            (
                denylist.jtis.len(),
                denylist.sids.len(),
                denylist.not_before.len(),
            )
        };
        sizes.denied_jtis.set(jtis as f64);
        sizes.denied_sids.set(sids as f64);
        sizes.not_before.set(not_before as f64);
        sizes.verified_tokens.set(self.verified.len() as f64);
        self.metrics.render()
    }

    /// The `kid` of the key that signs new tokens (empty before the first key exists).
    pub fn signing_kid(&self) -> String {
        self.keyring().kid.clone()
    }

    /// The public keys as a JWK Set document (HMAC secrets are never in it).
    pub fn jwks(&self) -> String {
        String::from_utf8_lossy(&self.keyring().jwks).into_owned()
    }

    /// [`AuthService::jwks`] as the shared bytes of the current keyring: no copy, no serialization per request.
    pub fn jwks_document(&self) -> axum::body::Bytes {
        self.keyring().jwks.clone()
    }

    /// The JWS algorithms of the published keys, each once, in key order (for the discovery documents).
    pub fn signing_algorithms(&self) -> Vec<String> {
        self.keyring()
            .algorithms
            .iter()
            .map(ToString::to_string)
            .collect()
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

    /// Creates a user with an argon2id hash of `password`.
    pub async fn add_user(&self, username: &str, password: &str, scopes: &[String]) -> Result<()> {
        if username.is_empty()
            || username.len() > MAX_USERNAME_LEN
            || username
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "a username is 1 to {MAX_USERNAME_LEN} bytes without spaces or control characters"
                ),
            ));
        }
        check_password_shape(password)?;
        check_scope_tokens(scopes)?;
        let user = User {
            id: random_id()?,
            username: username.to_owned(),
            password_hash: hash_password(Zeroizing::new(password.to_owned())).await?,
            disabled: false,
            scopes: scopes.to_vec(),
            created_at: self.now(),
        };
        self.store
            .create_user(&user)
            .await
            .map_err(|e| match Error::from(e) {
                e if e.kind() == ErrorKind::Conflict => Error::new(
                    ErrorKind::Conflict,
                    format!("a user named {username:?} already exists"),
                ),
                e => e,
            })?;
        tracing::info!(user_id = %user.id, "user added");
        Ok(())
    }

    /// Every user, by login name (never their password hashes).
    pub async fn list_users(&self) -> Result<Vec<UserInfo>> {
        Ok(self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|u| UserInfo {
                username: u.username,
                disabled: u.disabled,
                scopes: u.scopes,
                created_at: u.created_at,
            })
            .collect())
    }

    async fn existing_user(&self, username: &str) -> Result<User> {
        self.store.user_by_name(username).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("no user named {username:?}"),
            )
        })
    }

    /// Disables or re-enables a user. A disabled user can neither log in nor refresh, and disabling ends every
    /// session of the user at once (see [`AuthService::end_all_sessions`]).
    pub async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        let user = self.existing_user(username).await?;
        if !self.store.set_user_disabled(username, disabled).await? {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("no user named {username:?}"),
            ));
        }
        if disabled {
            self.end_all_sessions(&user.id).await?;
        }
        tracing::info!(user_id = %user.id, disabled, "user disabled flag changed");
        Ok(())
    }

    /// Replaces a user's password and ends every session of the user.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        check_password_shape(password)?;
        let user = self.existing_user(username).await?;
        let hash = hash_password(Zeroizing::new(password.to_owned())).await?;
        if !self.store.set_password_hash(&user.id, &hash).await? {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("no user named {username:?}"),
            ));
        }
        self.end_all_sessions(&user.id).await?;
        tracing::info!(user_id = %user.id, "password changed");
        Ok(())
    }

    /// Ends every session of a user, then deletes the user.
    pub async fn delete_user(&self, username: &str) -> Result<()> {
        let user = self.existing_user(username).await?;
        self.end_all_sessions(&user.id).await?;
        if !self.store.delete_user(&user.id).await? {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("no user named {username:?}"),
            ));
        }
        tracing::info!(user_id = %user.id, "user deleted");
        Ok(())
    }

    /// Revokes every session of the user and sets the user's "not before" to now, in the store and in this
    /// process's denylist (see [`AuthService::revoked`] for how other processes learn of it).
    async fn end_all_sessions(&self, user_id: &str) -> Result<()> {
        let now = self.now();
        let deny_until = self.sid_deny_until(now);
        let sids = self
            .store
            .revoke_all_sessions(user_id, now, deny_until)
            .await?;
        self.revoked(DenylistSnapshot {
            sids: sids.into_iter().map(|sid| (sid, deny_until)).collect(),
            not_before: vec![(user_id.to_owned(), now)],
            ..DenylistSnapshot::default()
        })
        .await;
        self.metrics.revocations.admin.increment(1);
        Ok(())
    }

    /// Merges the persisted denylist into this process's copy, so revocations written by another process on the
    /// same store (an admin command, another server) take effect here. Nothing is ever dropped by a reload.
    pub async fn reload_denylist(&self) -> Result<()> {
        let now = self.now();
        let snapshot = self.store.load_denylist(now).await?;
        self.merge_denylist(snapshot, now);
        Ok(())
    }

    fn merge_denylist(&self, entries: DenylistSnapshot, now: u64) {
        let mut denylist = self.write_denylist();
        denylist.merge(entries);
        denylist.prune(now);
    }

    /// Takes revocations already written to the store into effect: in this process at once, and — with Redis —
    /// announced to every other instance, which merges them within a round trip ([`AuthService::listen`]).
    /// Without Redis, or while it is unreachable, other instances find them at their next
    /// [`AuthService::reload_denylist`] (`Server::serve` runs one every [`crate::DENYLIST_RELOAD_INTERVAL`]).
    /// A failed announcement is logged, not returned: the revocation is in force and durable either way.
    async fn revoked(&self, entries: DenylistSnapshot) {
        let now = self.now();
        let Some(bus) = &self.bus else {
            self.merge_denylist(entries, now);
            return;
        };
        self.merge_denylist(entries.clone(), now);
        let announced = &self.metrics.announcements;
        match bus.announce(&entries, now).await {
            Ok(true) => announced.sent.increment(1),
            Ok(false) => announced.skipped.increment(1),
            Err(e) => {
                announced.failed.increment(1);
                tracing::warn!(
                    error = %e,
                    "cannot announce a revocation through Redis; other instances find it in the database within \
                     the reload interval"
                );
            }
        }
    }

    /// With Redis configured: subscribes to revocation announcements and merges each into this process's
    /// denylist, resubscribing whenever the subscription fails and reloading from the store after each
    /// (re)subscription; on an announced key revocation, rereads the keys from the store at once (see
    /// [`AuthService::revoke_key`]). Runs until aborted (`Server::serve` spawns it); returns at once without Redis.
    pub async fn listen(&self) {
        let Some(bus) = &self.bus else { return };
        let subscriber = bus.run_subscriber(
            || self.now(),
            || async {
                // Client changes announced while unsubscribed were missed too.
                self.clients.clear();
                if let Err(e) = self.reload_denylist().await {
                    tracing::warn!(error = %e, "cannot reload the denylist after subscribing to Redis");
                }
            },
            |announcement| {
                if !announcement.revoked_kids.is_empty() {
                    let kids = &announcement.revoked_kids;
                    tracing::info!(?kids, "a signing key was revoked elsewhere; rereading the keys");
                    self.keys_announced.notify_one();
                }
                self.clients
                    .forget(announcement.clients.iter().map(String::as_str));
                self.merge_denylist(announcement.revoked, self.now());
                // Counted once in effect, so whoever sees the count sees the change applied.
                self.metrics.announcements.received.increment(1);
            },
        );
        tokio::join!(subscriber, self.reload_keys_when_announced());
    }

    /// What this server knows of Redis; `None` without Redis.
    pub fn redis_state(&self) -> Option<BusState> {
        self.bus.as_ref().map(|bus| bus.state())
    }

    /// Lets a login attempt start or says how many seconds to wait: counted in Redis, shared by every instance,
    /// when it is configured and answers; else in this process.
    async fn begin_attempt(
        &self,
        account: String,
        address: Option<IpAddr>,
    ) -> std::result::Result<Attempt, u64> {
        let now = self.now();
        if let Some(bus) = &self.bus {
            match bus.throttle_begin(&account, address, now).await {
                Ok(Ok(())) => return Ok(Attempt::shared(account, address)),
                Ok(Err(wait)) => return Err(wait),
                Err(e) => {
                    tracing::debug!(error = %e, "throttling in this process: Redis does not answer");
                }
            }
        }
        self.throttle.begin(account, address, now)
    }

    async fn attempt_succeeded(&self, attempt: &Attempt) {
        if !attempt.is_shared() {
            self.throttle.succeeded(attempt);
            return;
        }
        if let Some(bus) = &self.bus
            && let Err(e) = bus
                .throttle_succeeded(attempt.account(), attempt.address())
                .await
        {
            tracing::debug!(error = %e, "cannot reset the shared login throttle: Redis does not answer");
        }
    }

    /// Checks a username and password. Every failure is the same [`ErrorKind::InvalidCredentials`], and an
    /// unknown user costs one argon2id verification like a known one.
    ///
    /// Throttled per account and per client `address` (see [`crate::throttle`]): while either is, the answer is
    /// [`ErrorKind::Throttled`] without a verification.
    async fn check_password(
        &self,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<User> {
        let account: String = username.chars().take(MAX_USERNAME_LEN).collect();
        // Looked up before the attempt counts: a login the database could not answer (503) checked no password,
        // and counting it would throttle every client that retried through an outage.
        let user = if username.len() <= MAX_USERNAME_LEN {
            self.store.user_by_name(username).await?
        } else {
            None
        };
        let attempt = self.begin_attempt(account, address).await.map_err(|wait| {
            tracing::info!("login throttled");
            self.metrics.logins.throttled.increment(1);
            Error::throttled(wait)
        })?;
        let hash = user.as_ref().map_or_else(
            || self.dummy_hash.clone(),
            |u| Arc::from(u.password_hash.as_str()),
        );
        // An over-long password cannot be anyone's (add_user refuses them) but still costs one verification.
        let too_long = password.len() > MAX_PASSWORD_LEN;
        let password = Zeroizing::new(password.chars().take(MAX_PASSWORD_LEN).collect::<String>());
        let matches = password_matches(password, hash).await && !too_long;
        match user {
            Some(user) if matches && !user.disabled => {
                self.attempt_succeeded(&attempt).await;
                self.metrics.logins.ok.increment(1);
                Ok(user)
            }
            _ => {
                tracing::info!("login failed");
                self.metrics.logins.failed.increment(1);
                Err(invalid_credentials())
            }
        }
    }

    /// Checks a username and password and starts a session. Every failure is the same
    /// [`ErrorKind::InvalidCredentials`], and an unknown user costs one argon2id verification like a known one.
    ///
    /// `address` is the client's (the TCP peer's) for throttling; `None` throttles per account only.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<TokenPair> {
        let user = self.check_password(username, password, address).await?;
        let pair = self.start_session(&user, None, None).await?;
        self.metrics.issued.login.increment(1);
        Ok(pair)
    }

    /// Starts a session (token family) for `user`, on behalf of `client_id` with `scope` when an OAuth client
    /// asked (`None`, `None` for `POST /login`).
    async fn start_session(
        &self,
        user: &User,
        client_id: Option<String>,
        scope: Option<String>,
    ) -> Result<TokenPair> {
        let now = self.now();
        let family = TokenFamily {
            sid: random_id()?,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.config.refresh_absolute_ttl.as_secs()),
            revoked_at: None,
            client_id,
            scope,
        };
        let refresh_token = random_token()?;
        let record = self.refresh_record(&refresh_token, now)?;
        self.store.create_session(&family, &record).await?;
        tracing::info!(user_id = %user.id, sid = %family.sid, client_id = ?family.client_id, "login");
        self.pair(user, &family, refresh_token, now, None)
    }

    fn refresh_record(&self, token: &str, now: u64) -> Result<RefreshTokenRecord> {
        Ok(RefreshTokenRecord {
            hash: refresh_token_digest(token).ok_or_else(|| Error::crypto("bad refresh token"))?,
            sid: String::new(),
            created_at: now,
            expires_at: now.saturating_add(self.config.refresh_idle_ttl.as_secs()),
        })
    }

    /// Signs an access token.
    fn sign_access(&self, subject: &str, custom: AccessClaims, now: u64) -> Result<(String, u64)> {
        let ttl = self.config.access_token_ttl.as_secs();
        let claims = Claims::new(custom)
            .issuer(self.config.issuer.clone())
            .subject(subject.to_owned())
            .audience(self.config.audience.clone())
            .issued_at(NumericDate::from_secs(now))
            .expires_at(NumericDate::from_secs(now.saturating_add(ttl)))
            .jwt_id(random_id()?);
        let access_token = self
            .keyring()
            .signer()?
            .sign(&claims)
            .map_err(|e| Error::crypto(format!("signing failed: {e}")))?;
        Ok((access_token, ttl))
    }

    /// An access token for the session `family` with the rotated `refresh_token`. Its scope is `narrowed` when
    /// given, else the session's, else (a `POST /login` session) the user's current scopes.
    fn pair(
        &self,
        user: &User,
        family: &TokenFamily,
        refresh_token: Zeroizing<String>,
        now: u64,
        narrowed: Option<String>,
    ) -> Result<TokenPair> {
        let scope = narrowed
            .or_else(|| family.scope.clone())
            .unwrap_or_else(|| user.scopes.join(" "));
        let scope = (!scope.is_empty()).then_some(scope);
        let client_id = family
            .client_id
            .clone()
            .unwrap_or_else(|| self.config.client_id.clone());
        let (access_token, expires_in) = self.sign_access(
            &user.id,
            AccessClaims {
                client_id,
                scope: scope.clone(),
                sid: Some(family.sid.clone()),
            },
            now,
        )?;
        let refresh_expires_in = self
            .config
            .refresh_idle_ttl
            .as_secs()
            .min(family.expires_at.saturating_sub(now));
        Ok(TokenPair {
            access_token,
            expires_in,
            refresh_token,
            refresh_expires_in,
            scope,
            sid: family.sid.clone(),
        })
    }

    /// How long a revoked session's `sid` must stay denied: until every access token it issued has expired.
    fn sid_deny_until(&self, now: u64) -> u64 {
        now.saturating_add(self.config.access_token_ttl.as_secs())
            .saturating_add(LEEWAY.as_secs())
    }

    /// Exchanges a refresh token for a new pair, consuming it. A token presented a second time means it was
    /// stolen (or the client is broken): the whole session is revoked, its access tokens included — unless it is
    /// the session's most recently rotated token, back within [`Config::refresh_reuse_interval`] (a retry after a
    /// lost answer), which gets a new pair in the same session a bounded number of times.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let rotated = self.rotate(refresh_token, None, None).await;
        self.count_refresh(rotated.is_ok(), &self.metrics.issued.refresh);
        rotated
    }

    fn count_refresh(&self, ok: bool, issued: &::metrics::Counter) {
        if ok {
            self.metrics.refreshes.ok.increment(1);
            issued.increment(1);
        } else {
            self.metrics.refreshes.failed.increment(1);
        }
    }

    /// [`AuthService::refresh`] for an authenticated OAuth client (RFC 6749 §6): the token must have been issued
    /// to that client, and a requested `scope` must be within the session's.
    pub async fn refresh_for_client(
        &self,
        client: &Client,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenPair> {
        let rotated = if client.grant_types.contains(&GrantType::RefreshToken) {
            self.rotate(refresh_token, Some(client), scope).await
        } else {
            Err(unauthorized_client(GrantType::RefreshToken))
        };
        self.count_refresh(rotated.is_ok(), &self.metrics.issued.refresh_token);
        rotated
    }

    async fn rotate(
        &self,
        refresh_token: &str,
        client: Option<&Client>,
        scope: Option<&str>,
    ) -> Result<TokenPair> {
        let Some(digest) = refresh_token_digest(refresh_token) else {
            return Err(invalid_grant("the refresh token is not valid"));
        };
        // Checked before the token is consumed: presenting another client's token must not use it up.
        let mut narrowed = None;
        // Read before the token is consumed too: once the rotation has committed, nothing may fail, or the client
        // is answered 503 ("retry") holding a token the store already calls used, and its retry revokes the session.
        let mut owner = None;
        if let Some(family) = self.store.family_of_token(&digest).await? {
            owner = self.store.user_by_id(&family.user_id).await?;
            if family.client_id.as_deref() != client.map(|c| c.client_id.as_str()) {
                return Err(invalid_grant(
                    "the refresh token was not issued to this client",
                ));
            }
            if let Some(requested) = scope {
                let granted = family.scope.clone().unwrap_or_default();
                let granted: Vec<String> = granted.split_whitespace().map(str::to_owned).collect();
                narrowed = Some(resolve_scope(Some(requested), &granted)?.join(" "));
            }
        }
        let now = self.now();
        let successor = random_token()?;
        let record = self.refresh_record(&successor, now)?;
        let deny_until = self.sid_deny_until(now);
        let reuse = ReuseAllowance {
            interval: self.config.refresh_reuse_interval.as_secs(),
            max_reissues: crate::config::MAX_REFRESH_REISSUES,
        };
        let family = match self
            .store
            .rotate_refresh_token_with_reuse(&digest, &record, now, deny_until, reuse)
            .await?
        {
            Rotation::Rotated(family) => family,
            Rotation::Reissued(family) => {
                self.metrics.refreshes.reissued.increment(1);
                tracing::info!(
                    sid = %family.sid,
                    user_id = %family.user_id,
                    "a rotated refresh token presented again within the reuse interval; a new pair in the same session"
                );
                family
            }
            Rotation::Reused(family) => {
                self.revoked(DenylistSnapshot {
                    sids: vec![(family.sid.clone(), deny_until)],
                    ..DenylistSnapshot::default()
                })
                .await;
                self.metrics.refreshes.reuse_detected.increment(1);
                tracing::warn!(
                    sid = %family.sid,
                    user_id = %family.user_id,
                    "refresh token reuse detected; the session is revoked"
                );
                return Err(invalid_grant(
                    "the refresh token was already used; the session is revoked",
                ));
            }
            Rotation::Expired => return Err(invalid_grant("the refresh token has expired")),
            Rotation::Revoked => return Err(invalid_grant("the session has been revoked")),
            Rotation::Unknown => return Err(invalid_grant("the refresh token is not valid")),
        };
        let user = owner
            .filter(|u| u.id == family.user_id && !u.disabled)
            .ok_or_else(|| invalid_grant("the account is disabled"))?;
        self.pair(&user, &family, successor, now, narrowed)
    }

    /// Registers an OAuth client allowed `grant_types` and at most `scopes`. The secret (256 random bits) is in
    /// the result and nowhere else: only its SHA-256 is stored.
    pub async fn add_client(
        &self,
        name: &str,
        grant_types: &[GrantType],
        scopes: &[String],
    ) -> Result<NewClient> {
        self.add_client_with_permissions(name, grant_types, scopes, ClientPermissions::default())
            .await
    }

    /// [`AuthService::add_client`], with what the client may do beyond its grants (e.g. introspect every client's
    /// access tokens, as a resource server).
    pub async fn add_client_with_permissions(
        &self,
        name: &str,
        grant_types: &[GrantType],
        scopes: &[String],
        permissions: ClientPermissions,
    ) -> Result<NewClient> {
        if name.is_empty() || name.len() > MAX_CLIENT_NAME_LEN || name.chars().any(char::is_control)
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "a client name is 1 to {MAX_CLIENT_NAME_LEN} bytes without control characters"
                ),
            ));
        }
        if grant_types.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "a client needs at least one grant type",
            ));
        }
        check_scope_tokens(scopes)?;
        let mut grants: Vec<GrantType> = Vec::new();
        for grant in grant_types {
            if !grants.contains(grant) {
                grants.push(*grant);
            }
        }
        let client_secret = random_token()?;
        let client = Client {
            client_id: random_id()?,
            secret_hash: sha256(&client_secret),
            name: name.to_owned(),
            grant_types: grants,
            scopes: scopes.to_vec(),
            created_at: self.now(),
            may_introspect: permissions.may_introspect,
        };
        self.store.create_client(&client).await?;
        tracing::info!(client_id = %client.client_id, "client added");
        Ok(NewClient {
            client_id: client.client_id,
            client_secret,
        })
    }

    /// Authenticates an OAuth client by id and secret. Unknown client and wrong secret are the same
    /// [`ErrorKind::InvalidClient`]; the digests are compared in constant time.
    pub async fn authenticate_client(&self, client_id: &str, secret: &str) -> Result<Client> {
        self.check_client_secret(client_id, secret, false).await
    }

    /// [`AuthService::authenticate_client`], with the registration from the client cache when `cached` (see
    /// [`client_cache`] for when that is allowed).
    async fn check_client_secret(
        &self,
        client_id: &str,
        secret: &str,
        cached: bool,
    ) -> Result<Client> {
        let client = if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
            None
        } else if cached {
            self.registered_client(client_id).await?
        } else {
            self.store.client_by_id(client_id).await?
        };
        let presented = sha256(secret);
        let expected = client.as_ref().map_or([0u8; 32], |c| c.secret_hash);
        let equal: bool = presented.ct_eq(&expected).into();
        match client {
            Some(client) if equal => Ok(client),
            _ => {
                tracing::info!("client authentication failed");
                Err(Error::new(
                    ErrorKind::InvalidClient,
                    "client authentication failed",
                ))
            }
        }
    }

    /// The resource owner password credentials grant (RFC 6749 §4.3): a session for the user on behalf of
    /// `client`, with the requested scope (default: all the user has that the client may ask for).
    ///
    /// Only a client allowed the `refresh_token` grant gets a refresh token; any other gets the access token alone
    /// (§4.3.3), in a session that ends when it expires (the session is how a user's tokens are ended at once).
    pub async fn password_grant(
        &self,
        client: &Client,
        username: &str,
        password: &str,
        scope: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<GrantedTokens> {
        if !client.grant_types.contains(&GrantType::Password) {
            return Err(unauthorized_client(GrantType::Password));
        }
        let user = self
            .check_password(username, password, address)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidCredentials => invalid_grant(e.message()),
                _ => e,
            })?;
        let allowed: Vec<String> = user
            .scopes
            .iter()
            .filter(|s| client.scopes.contains(s))
            .cloned()
            .collect();
        let granted = resolve_scope(scope, &allowed)?.join(" ");
        self.metrics.issued.password.increment(1);
        if !client.grant_types.contains(&GrantType::RefreshToken) {
            return self
                .start_unrefreshable_session(&user, client, granted)
                .await;
        }
        let pair = self
            .start_session(&user, Some(client.client_id.clone()), Some(granted))
            .await?;
        Ok(pair.into())
    }

    /// The client credentials grant (RFC 6749 §4.4): an access token whose subject is the client itself, no
    /// refresh token and no session.
    pub fn client_credentials_grant(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<ClientToken> {
        if !client.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(unauthorized_client(GrantType::ClientCredentials));
        }
        let granted = resolve_scope(scope, &client.scopes)?.join(" ");
        let scope = (!granted.is_empty()).then_some(granted);
        let (access_token, expires_in) = self.sign_access(
            &client.client_id,
            AccessClaims {
                client_id: client.client_id.clone(),
                scope: scope.clone(),
                sid: None,
            },
            self.now(),
        )?;
        self.metrics.issued.client_credentials.increment(1);
        // Debug, not info: a service may ask for a token per call, and a log line costs more than the signature
        // (the `waxseal_tokens_issued_total` counter keeps the count).
        tracing::debug!(client_id = %client.client_id, "client credentials token issued");
        Ok(ClientToken {
            access_token,
            expires_in,
            scope,
        })
    }

    /// Token introspection (RFC 7662): the claims of a valid access token and its user's name, `None` for
    /// anything else (expired, revoked, malformed, a refresh token).
    pub async fn introspect(&self, token: &str) -> Result<Option<Introspection>> {
        let Ok(claims) = self.verify_access(token) else {
            return Ok(None);
        };
        let username = match (&claims.custom.sid, claims.registered.sub.as_deref()) {
            (Some(_), Some(sub)) => self.store.user_by_id(sub).await?.map(|u| u.username),
            _ => None,
        };
        Ok(Some(Introspection { claims, username }))
    }

    /// Token revocation (RFC 7009) by `client`: a refresh token ends its session; an access token is denied until
    /// it expires. Unknown tokens, and tokens issued to another client, change nothing and are no error.
    pub async fn revoke(&self, client: &Client, token: &str, hint: Option<&str>) -> Result<()> {
        let as_access = |service: &Self| {
            service
                .verify_access(token)
                .ok()
                .filter(|claims| claims.custom.client_id == client.client_id)
        };
        // The hint only orders the lookups (RFC 7009 §2.1).
        let access_first = hint == Some("access_token");
        if access_first && let Some(claims) = as_access(self) {
            return self.deny_access_token(&claims).await;
        }
        if let Some(digest) = refresh_token_digest(token)
            && let Some(family) = self.store.family_of_token(&digest).await?
        {
            if family.client_id.as_deref() == Some(client.client_id.as_str()) {
                let now = self.now();
                let deny_until = self.sid_deny_until(now);
                self.store
                    .revoke_session(&family.sid, now, deny_until)
                    .await?;
                self.revoked(DenylistSnapshot {
                    sids: vec![(family.sid.clone(), deny_until)],
                    ..DenylistSnapshot::default()
                })
                .await;
                self.metrics.revocations.oauth_revoke.increment(1);
                tracing::info!(sid = %family.sid, client_id = %client.client_id, "session revoked");
            }
            return Ok(());
        }
        if !access_first && let Some(claims) = as_access(self) {
            return self.deny_access_token(&claims).await;
        }
        Ok(())
    }

    async fn deny_access_token(&self, claims: &Claims<AccessClaims>) -> Result<()> {
        let now = self.now();
        let jti = claims.registered.jti.clone().unwrap_or_default();
        let until = claims
            .registered
            .exp
            .map_or(now, NumericDate::secs)
            .saturating_add(LEEWAY.as_secs());
        self.store.deny_jti(&jti, until).await?;
        self.revoked(DenylistSnapshot {
            jtis: vec![(jti, until)],
            ..DenylistSnapshot::default()
        })
        .await;
        self.metrics.revocations.oauth_revoke.increment(1);
        tracing::info!(client_id = %claims.custom.client_id, "access token revoked");
        Ok(())
    }

    /// Verifies an access token: signature, issuer, audience, `typ: at+jwt`, lifetime, then the denylist.
    ///
    /// A token that fully verified before is found in the verified-token cache by its SHA-256 and skips the
    /// signature and claim checks; its lifetime (with the same leeway) and the denylist are still checked on
    /// every call, so a revocation or an expiry refuses a cached token at once. The claims are shared, not copied.
    pub fn verify_access(&self, token: &str) -> Result<Arc<Claims<AccessClaims>>> {
        let now = self.now();
        let digest = TokenDigest::of(token);
        let claims = match self.verified.get(&digest, now) {
            Some(claims) => claims,
            None => {
                // Read before verifying: if the keys change meanwhile, the insert below is refused.
                let generation = self.verified.generation();
                let claims = Arc::new(self.verify_signed::<AccessClaims>(token)?);
                if let Some(validity) = validity(&claims.registered) {
                    self.verified
                        .insert(generation, digest, claims.clone(), validity, now);
                }
                claims
            }
        };
        if self.is_revoked(&claims) {
            return Err(invalid_token("the token has been revoked"));
        }
        Ok(claims)
    }

    /// Whether the denylist refuses a verified access token: its `jti`, its session, or its user's "not before".
    pub fn is_revoked(&self, claims: &Claims<AccessClaims>) -> bool {
        let sub = claims.registered.sub.as_deref().unwrap_or_default();
        let jti = claims.registered.jti.as_deref().unwrap_or_default();
        let iat = claims.registered.iat.map_or(0, NumericDate::secs);
        self.read_denylist()
            .refuses(jti, claims.custom.sid.as_deref(), sub, iat)
    }

    /// Signature and claims by the verifier of the token's kind of key; the second verifier (present only during a
    /// change between HMAC and public keys) is asked only when the first has no key for the token.
    fn verify_signed<T: DeserializeOwned>(&self, token: &str) -> Result<Claims<T>> {
        let keyring = self.keyring();
        let mut outcome = Err(invalid_token("the server has no key to verify tokens with"));
        for verifier in keyring.verifiers() {
            match verifier.verify::<T>(token) {
                Ok(claims) => return Ok(claims),
                Err(e) => {
                    let try_next = matches!(
                        e.kind(),
                        JwtErrorKind::KeyNotFound | JwtErrorKind::AlgorithmNotAllowed
                    );
                    outcome = Err(invalid_token(describe(&e)));
                    if !try_next {
                        break;
                    }
                }
            }
        }
        outcome
    }

    /// The verified-token cache, shared by [`AuthService::verify_access`] and the bearer layer of the protected
    /// routes; this service empties it whenever its keys change.
    pub fn verified_cache(&self) -> Arc<VerifiedCache<Claims<AccessClaims>>> {
        self.verified.clone()
    }

    /// Empties the verified-token cache. Whatever changes the verifying key set (adding, retiring or removing a
    /// key) must call it, so no token is accepted on the strength of a key that is no longer trusted.
    pub fn verifying_keys_changed(&self) {
        self.verified.clear();
    }

    /// How many verified access tokens are cached.
    pub fn verified_tokens_cached(&self) -> usize {
        self.verified.len()
    }

    /// Ends the access token's session (and the refresh token's, if it is the same user's), denying the access
    /// token until it expires. `all` ends every session of the user.
    pub async fn logout(
        &self,
        access_token: &str,
        refresh_token: Option<&str>,
        all: bool,
    ) -> Result<()> {
        let claims = self.verify_access(access_token)?;
        let now = self.now();
        let sub = claims.registered.sub.clone().unwrap_or_default();
        let jti = claims.registered.jti.clone().unwrap_or_default();
        let exp = claims
            .registered
            .exp
            .map_or(now, NumericDate::secs)
            .saturating_add(LEEWAY.as_secs());
        let deny_until = self.sid_deny_until(now);
        let digest = refresh_token.and_then(refresh_token_digest);
        let scope = if all {
            crate::store::LogoutScope::Everywhere
        } else {
            crate::store::LogoutScope::Sessions {
                sid: claims.custom.sid.as_deref(),
                refresh: digest.as_ref(),
            }
        };
        let logout = crate::store::Logout {
            user_id: &sub,
            jti: &jti,
            jti_until: exp,
            scope,
            now,
            deny_until,
        };
        let sids = self.store.logout(&logout).await?;
        let mut revoked = DenylistSnapshot {
            jtis: vec![(jti, exp)],
            ..DenylistSnapshot::default()
        };
        if all {
            revoked.not_before.push((sub.clone(), now));
        }
        revoked.sids = sids.into_iter().map(|sid| (sid, deny_until)).collect();
        self.revoked(revoked).await;
        let revocations = &self.metrics.revocations;
        let via = if all {
            &revocations.logout_all
        } else {
            &revocations.logout
        };
        via.increment(1);
        tracing::info!(user_id = %sub, all, "logout");
        Ok(())
    }

    fn read_denylist(&self) -> std::sync::RwLockReadGuard<'_, Denylist> {
        self.denylist
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_denylist(&self) -> std::sync::RwLockWriteGuard<'_, Denylist> {
        self.denylist
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the store.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// The seconds in which the server's verifier accepts a token with these claims: `nbf` and `exp` widened by the
/// same [`LEEWAY`]. `None` (never cached) without `exp`, which the verifier requires anyway.
fn validity(claims: &RegisteredClaims) -> Option<Validity> {
    let leeway = LEEWAY.as_secs();
    let until = claims.exp?.secs().saturating_add(leeway);
    let from = claims
        .nbf
        .map_or(0, |nbf| nbf.secs().saturating_sub(leeway));
    Some(Validity { from, until })
}

/// What to tell a client about a rejected access token: the core error's message for validation failures (they
/// name claims, never echo the token), a fixed text otherwise.
fn describe(e: &waxseal::Error) -> String {
    match e.kind() {
        JwtErrorKind::Expired
        | JwtErrorKind::NotYetValid
        | JwtErrorKind::IssuedAt
        | JwtErrorKind::Issuer
        | JwtErrorKind::Audience
        | JwtErrorKind::Type
        | JwtErrorKind::MissingClaim
        | JwtErrorKind::InvalidSignature
        | JwtErrorKind::KeyNotFound
        | JwtErrorKind::AlgorithmNotAllowed => e.message().chars().take(200).collect(),
        JwtErrorKind::Claims => "the token's claims are not those of a waxseal access token".into(),
        _ => "the token is malformed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_digest_accepts_only_the_token_shape() {
        let token = URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert!(refresh_token_digest(&token).is_some());
        assert!(refresh_token_digest("").is_none());
        assert!(refresh_token_digest(&format!("{token}=")).is_none());
        assert!(refresh_token_digest(&"+".repeat(43)).is_none());
    }

    #[test]
    fn denylist_prunes_expired_entries_once_it_has_grown() {
        let mut denylist = Denylist::from_snapshot(DenylistSnapshot::default());
        for i in 0..2000_u64 {
            denylist
                .jtis
                .insert(format!("jti-{i}"), if i < 1500 { 10 } else { 100 });
        }
        denylist.prune(50);
        assert_eq!(
            denylist.jtis.len(),
            500,
            "expired entries dropped, live ones kept"
        );
        assert!(denylist.refuses("jti-1999", Some("sid"), "sub", 0));
        assert!(!denylist.refuses("jti-0", Some("sid"), "sub", 0));
        denylist.not_before.insert("sub".into(), 20);
        assert!(denylist.refuses("x", None, "sub", 19));
        assert!(!denylist.refuses("x", Some("sid"), "sub", 20));
    }

    #[test]
    fn requested_scope_must_be_within_the_allowed_scope() {
        let allowed: Vec<String> = vec!["a".into(), "b".into()];
        assert_eq!(resolve_scope(None, &allowed).unwrap(), allowed);
        assert_eq!(resolve_scope(Some("b b"), &allowed).unwrap(), ["b"]);
        assert!(resolve_scope(Some(""), &allowed).unwrap().is_empty());
        let err = resolve_scope(Some(&format!("a {}", "c".repeat(500))), &allowed).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidScope);
        assert!(err.message().len() < 100, "bounded: {err}");
        assert!(resolve_scope(Some("a"), &[]).is_err());
    }

    #[test]
    fn new_client_debug_hides_the_secret() {
        let client = NewClient {
            client_id: "id".into(),
            client_secret: Zeroizing::new("secret-client".into()),
        };
        assert!(!format!("{client:?}").contains("secret-client"));
        assert_eq!(
            GrantType::ALL.map(|g| GrantType::parse(g.as_str())),
            GrantType::ALL.map(Some)
        );
        assert_eq!(GrantType::parse("implicit"), None);
    }

    /// A token cached while its key was trusted is refused once the key is gone from the store, exactly as the
    /// verifier alone would refuse it: every keyring change empties the cache.
    #[tokio::test]
    async fn a_cached_token_is_refused_once_its_key_is_no_longer_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            crate::store::sqlite::SqliteStore::open(&dir.path().join("db"))
                .await
                .unwrap(),
        );
        let clock: Arc<dyn Clock> = Arc::new(waxseal::jwt::SystemClock);
        let service = AuthService::new(
            store.clone(),
            Config::default(),
            clock,
            &MasterKey::generate().unwrap(),
        )
        .await
        .unwrap();
        service.manage_keys().await.unwrap();
        let custom = AccessClaims {
            client_id: "c".into(),
            scope: None,
            sid: None,
        };
        let (token, _) = service
            .sign_access("user-1", custom, service.now())
            .unwrap();
        assert!(service.verify_access(&token).is_ok());
        assert_eq!(service.verified_tokens_cached(), 1);

        // A rotation changes the keyring: the cache starts over, and the old key's token still verifies.
        service.rotate_keys(None).await.unwrap();
        assert_eq!(service.verified_tokens_cached(), 0);
        assert!(service.verify_access(&token).is_ok());
        assert_eq!(service.verified_tokens_cached(), 1);

        // The signing key's row removed behind the service's back (as another process's pruning would).
        let kid = service.signing_kid();
        crate::store::KeyStore::delete_key(store.as_ref(), &kid)
            .await
            .unwrap();
        service.reload_keys().await.unwrap();
        let err = service.verify_access(&token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidToken);
        assert_eq!(service.verified_tokens_cached(), 0);
    }

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
