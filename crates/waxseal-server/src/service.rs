//! The flows: login, refresh with rotation, logout with revocation, access-token verification.
//!
//! Nothing here knows about HTTP. Time comes from an injected [`Clock`], so expiry is tested without sleeping.
//! Secrets the server generates (refresh tokens) are 256 random bits stored as their SHA-256; passwords are
//! argon2id on the blocking pool so a burst of logins never stalls token verification.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use waxseal::ErrorKind as JwtErrorKind;
use waxseal::jwt::{Claims, Clock, NumericDate, Verifier};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::keyring::{Keyring, MasterKey};
use crate::store::{DenylistSnapshot, RefreshTokenRecord, Rotation, Store, TokenFamily, User};

/// Longest accepted username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;
/// Longest accepted password, in bytes (argon2 would take more; nobody types more).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Allowance for clock skew between this server and resource servers, matching the core verifier's default.
const LEEWAY: Duration = Duration::from_secs(60);

/// The claims of an access token beyond the registered ones (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes; absent when the user has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The session (token family) the token belongs to.
    pub sid: String,
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
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
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

    fn refuses(&self, jti: &str, sid: &str, sub: &str, iat: u64) -> bool {
        self.jtis.contains_key(jti)
            || self.sids.contains_key(sid)
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
    store: Arc<dyn Store>,
    config: Config,
    clock: Arc<dyn Clock>,
    keyring: Keyring,
    verifier: Verifier,
    denylist: RwLock<Denylist>,
    /// A hash of a random password, verified when the user does not exist so that case costs the same time.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("issuer", &self.config.issuer)
            .field("kid", &self.keyring.kid)
            .finish_non_exhaustive()
    }
}

fn random_token() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut bytes[..]).map_err(|_| Error::crypto("no randomness"))?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..])))
}

fn random_id() -> Result<String> {
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

async fn hash_password(password: Zeroizing<String>) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h: PasswordHash| h.to_string())
            .map_err(|_| Error::crypto("password hashing failed"))
    })
    .await
    .map_err(|_| Error::crypto("password hashing was interrupted"))?
}

async fn password_matches(password: Zeroizing<String>, phc: Arc<str>) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
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

impl AuthService {
    /// Builds the service: loads (or on first start creates) the signing key and the persisted denylist.
    pub async fn new(
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<dyn Clock>,
        master_key: &MasterKey,
    ) -> Result<AuthService> {
        config.validate()?;
        let now = clock.now().secs();
        let keyring = Keyring::load(store.as_ref(), master_key, now).await?;
        let verifier = Verifier::new(keyring.verifying_keys.clone())
            .issuer(config.issuer.clone())
            .audience(config.audience.clone())
            .typ("at+jwt")
            .require(["sub", "jti", "iat", "exp"])
            .leeway(LEEWAY)
            .clock(SharedClock(clock.clone()));
        let denylist = Denylist::from_snapshot(store.load_denylist(now).await?);
        let dummy_hash: Arc<str> = hash_password(random_token()?).await?.into();
        Ok(AuthService {
            store,
            config,
            clock,
            keyring,
            verifier,
            denylist: RwLock::new(denylist),
            dummy_hash,
        })
    }

    fn now(&self) -> u64 {
        self.clock.now().secs()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `kid` of the key that signs new tokens.
    pub fn signing_kid(&self) -> &str {
        &self.keyring.kid
    }

    /// The public keys as a JWK Set document.
    pub fn jwks(&self) -> &str {
        &self.keyring.jwks
    }

    /// The JWS algorithms of the published keys, each once, in key order (for the discovery documents).
    pub fn signing_algorithms(&self) -> Vec<String> {
        let mut algs: Vec<String> = Vec::new();
        for key in self.keyring.verifying_keys.keys() {
            let alg = key.algorithm().to_string();
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        algs
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
        if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("a password is 1 to {MAX_PASSWORD_LEN} bytes"),
            ));
        }
        if let Some(bad) = scopes.iter().find(|s| {
            s.is_empty()
                || s.chars()
                    .any(|c| !c.is_ascii_graphic() || c == '"' || c == '\\')
        }) {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "scope {:?} is not a valid scope token (RFC 6749 §3.3)",
                    bad.chars().take(40).collect::<String>()
                ),
            ));
        }
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

    /// Disables or re-enables a user; a disabled user can neither log in nor refresh.
    pub async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        if self.store.set_user_disabled(username, disabled).await? {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::InvalidRequest, "no such user"))
        }
    }

    /// Checks a username and password and starts a session. Every failure is the same
    /// [`ErrorKind::InvalidCredentials`], and an unknown user costs one argon2id verification like a known one.
    pub async fn login(&self, username: &str, password: &str) -> Result<TokenPair> {
        let user = if username.len() <= MAX_USERNAME_LEN {
            self.store.user_by_name(username).await?
        } else {
            None
        };
        let hash = user.as_ref().map_or_else(
            || self.dummy_hash.clone(),
            |u| Arc::from(u.password_hash.as_str()),
        );
        // An over-long password cannot be anyone's (add_user refuses them) but still costs one verification.
        let too_long = password.len() > MAX_PASSWORD_LEN;
        let password = Zeroizing::new(password.chars().take(MAX_PASSWORD_LEN).collect::<String>());
        let matches = password_matches(password, hash).await && !too_long;
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            _ => {
                tracing::info!("login failed");
                return Err(invalid_credentials());
            }
        };
        let now = self.now();
        let family = TokenFamily {
            sid: random_id()?,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.config.refresh_absolute_ttl.as_secs()),
            revoked_at: None,
        };
        let refresh_token = random_token()?;
        let record = self.refresh_record(&refresh_token, now)?;
        self.store.create_session(&family, &record).await?;
        tracing::info!(user_id = %user.id, sid = %family.sid, "login");
        self.pair(&user, &family, refresh_token, now)
    }

    fn refresh_record(&self, token: &str, now: u64) -> Result<RefreshTokenRecord> {
        Ok(RefreshTokenRecord {
            hash: refresh_token_digest(token).ok_or_else(|| Error::crypto("bad refresh token"))?,
            sid: String::new(),
            created_at: now,
            expires_at: now.saturating_add(self.config.refresh_idle_ttl.as_secs()),
        })
    }

    fn pair(
        &self,
        user: &User,
        family: &TokenFamily,
        refresh_token: Zeroizing<String>,
        now: u64,
    ) -> Result<TokenPair> {
        let ttl = self.config.access_token_ttl.as_secs();
        let scope = (!user.scopes.is_empty()).then(|| user.scopes.join(" "));
        let claims = Claims::new(AccessClaims {
            client_id: self.config.client_id.clone(),
            scope,
            sid: family.sid.clone(),
        })
        .issuer(self.config.issuer.clone())
        .subject(user.id.clone())
        .audience(self.config.audience.clone())
        .issued_at(NumericDate::from_secs(now))
        .expires_at(NumericDate::from_secs(now.saturating_add(ttl)))
        .jwt_id(random_id()?);
        let access_token = self
            .keyring
            .signer
            .sign(&claims)
            .map_err(|e| Error::crypto(format!("signing failed: {e}")))?;
        let refresh_expires_in = self
            .config
            .refresh_idle_ttl
            .as_secs()
            .min(family.expires_at.saturating_sub(now));
        Ok(TokenPair {
            access_token,
            expires_in: ttl,
            refresh_token,
            refresh_expires_in,
        })
    }

    /// How long a revoked session's `sid` must stay denied: until every access token it issued has expired.
    fn sid_deny_until(&self, now: u64) -> u64 {
        now.saturating_add(self.config.access_token_ttl.as_secs())
            .saturating_add(LEEWAY.as_secs())
    }

    /// Exchanges a refresh token for a new pair, consuming it. A token presented a second time means it was
    /// stolen (or the client is broken): the whole session is revoked, its access tokens included.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let Some(digest) = refresh_token_digest(refresh_token) else {
            return Err(invalid_grant("the refresh token is not valid"));
        };
        let now = self.now();
        let successor = random_token()?;
        let record = self.refresh_record(&successor, now)?;
        let deny_until = self.sid_deny_until(now);
        let family = match self
            .store
            .rotate_refresh_token(&digest, &record, now, deny_until)
            .await?
        {
            Rotation::Rotated(family) => family,
            Rotation::Reused(family) => {
                self.write_denylist()
                    .sids
                    .insert(family.sid.clone(), deny_until);
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
        let user = self
            .store
            .user_by_id(&family.user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| invalid_grant("the account is disabled"))?;
        self.pair(&user, &family, successor, now)
    }

    /// Verifies an access token: signature, issuer, audience, `typ: at+jwt`, lifetime, then the denylist.
    pub fn verify_access(&self, token: &str) -> Result<Claims<AccessClaims>> {
        let claims = self
            .verifier
            .verify::<AccessClaims>(token)
            .map_err(|e| invalid_token(describe(&e)))?;
        let sub = claims.registered.sub.as_deref().unwrap_or_default();
        let jti = claims.registered.jti.as_deref().unwrap_or_default();
        let iat = claims.registered.iat.map_or(0, NumericDate::secs);
        if self
            .read_denylist()
            .refuses(jti, &claims.custom.sid, sub, iat)
        {
            return Err(invalid_token("the token has been revoked"));
        }
        Ok(claims)
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
        self.store.deny_jti(&jti, exp).await?;
        self.write_denylist().jtis.insert(jti, exp);
        let revoked = if all {
            let sids = self
                .store
                .revoke_all_sessions(&sub, now, deny_until)
                .await?;
            self.write_denylist().not_before.insert(sub.clone(), now);
            sids
        } else {
            let mut sids = vec![claims.custom.sid.clone()];
            if let Some(digest) = refresh_token.and_then(refresh_token_digest)
                && let Some(family) = self.store.family_of_token(&digest).await?
                && family.user_id == sub
                && family.sid != claims.custom.sid
            {
                sids.push(family.sid);
            }
            for sid in &sids {
                self.store.revoke_session(sid, now, deny_until).await?;
            }
            sids
        };
        let mut denylist = self.write_denylist();
        for sid in revoked {
            denylist.sids.insert(sid, deny_until);
        }
        denylist.prune(now);
        drop(denylist);
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
        assert!(denylist.refuses("jti-1999", "sid", "sub", 0));
        assert!(!denylist.refuses("jti-0", "sid", "sub", 0));
        denylist.not_before.insert("sub".into(), 20);
        assert!(denylist.refuses("x", "sid", "sub", 19));
        assert!(!denylist.refuses("x", "sid", "sub", 20));
    }

    #[test]
    fn token_pair_debug_hides_the_refresh_token() {
        let pair = TokenPair {
            access_token: "a.b.c".into(),
            expires_in: 1,
            refresh_token: Zeroizing::new("secret-refresh".into()),
            refresh_expires_in: 2,
        };
        assert!(!format!("{pair:?}").contains("secret-refresh"));
    }
}
