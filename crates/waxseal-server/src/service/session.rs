//! Sessions: login (with the throttle), refresh-token rotation with reuse detection, and logout.

use std::net::IpAddr;
use std::sync::Arc;

use waxseal::dpop::VerifiedProof;
use waxseal::jwt::NumericDate;
use zeroize::Zeroizing;

use super::resources::invalid_target;
use super::{
    AccessClaims, AuthService, ErrorKind, MAX_PASSWORD_LEN, MAX_USERNAME_LEN, TokenPair,
    invalid_credentials, invalid_grant, invalid_token, password, random_id, random_token,
    refresh_token_digest, resolve_scope, unauthorized_client,
};
use crate::config::CLOCK_LEEWAY as LEEWAY;
use crate::error::{Error, Result};
use crate::store::{
    Client, DenylistSnapshot, GrantType, Logout, LogoutScope, RefreshTokenRecord, ReuseAllowance,
    Rotation, TokenFamily, User,
};
use crate::throttle::Attempt;
use password::password_matches;

/// What a client presents to refresh its session.
#[derive(Clone, Copy)]
pub enum RefreshCredential<'a> {
    /// The refresh token itself, from a JSON body or an OAuth form.
    Token(&'a str),
    /// Cookie mode: the refresh token from its `HttpOnly` cookie, which the browser sends on any request to the
    /// refresh path, and the session's CSRF token from the `X-CSRF-Token` header, which only the application's own
    /// pages can read.
    Cookie {
        /// The cookie's refresh token.
        refresh_token: &'a str,
        /// The `X-CSRF-Token` header.
        csrf_token: &'a str,
    },
}

impl RefreshCredential<'_> {
    fn refresh_token(&self) -> &str {
        match self {
            RefreshCredential::Token(token)
            | RefreshCredential::Cookie {
                refresh_token: token,
                ..
            } => token,
        }
    }
}

// No `Debug`: both variants hold secrets.

/// What a refresh asks for besides a new pair: a narrower `scope`, and the `resource` (RFC 8707), which can only
/// be the session's own.
#[derive(Clone, Copy, Default)]
struct Requested<'a> {
    scope: Option<&'a str>,
    resource: Option<&'a str>,
}

/// RFC 9449 §5: a refresh token bound to a DPoP key (a public client's) is refreshed only with a proof by that
/// key. Without a proof the request is not a DPoP one at all (`invalid_dpop_proof`); with another key's, the
/// presenter is not the token's holder (`invalid_grant`).
fn check_refresh_binding(family: &TokenFamily, dpop: Option<&VerifiedProof>) -> Result<()> {
    let Some(bound) = &family.dpop_jkt else {
        return Ok(());
    };
    match dpop {
        Some(proof) if proof.jkt == *bound => Ok(()),
        Some(_) => Err(invalid_grant(
            "the refresh token is bound to another DPoP key than the proof's",
        )),
        None => Err(Error::new(
            ErrorKind::DpopProof,
            "the refresh token is bound to a DPoP key: send a DPoP proof made with it",
        )),
    }
}

impl AuthService {
    /// RFC 8707 on a refresh: a session's tokens stay for its resource. Asking for it again is allowed (it narrows
    /// nothing), asking for another — or for one at all in a session for this server's own API — is refused, and a
    /// session whose resource was removed since is refreshed no more.
    async fn check_refresh_resource(
        &self,
        family: &TokenFamily,
        requested: Option<&str>,
    ) -> Result<()> {
        if requested.is_some_and(|r| family.resource.as_deref() != Some(r)) {
            return Err(invalid_target(
                "resource must be the one the grant was issued for (or absent): a refresh keeps its token's audience",
            ));
        }
        if let Some(uri) = &family.resource {
            self.registered_resource(uri).await?;
        }
        Ok(())
    }

    /// Lets a login attempt start or says how many seconds to wait: counted in Redis, shared by every instance,
    /// when it is configured and answers; else in this process.
    pub(super) async fn begin_attempt(
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

    pub(super) async fn attempt_succeeded(&self, attempt: &Attempt) {
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
    pub(super) async fn check_password(
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
        let pair = self.start_session(&user, None, None, None, None).await?;
        self.metrics.issued.login.increment(1);
        Ok(pair)
    }

    /// Starts a session (token family) for `user`, on behalf of `client` with `scope` when an OAuth client
    /// asked (`None`, `None` for `POST /login`), its access tokens for the registered `resource` when given. With
    /// a DPoP proof, the access token is bound to its key.
    pub(super) async fn start_session(
        &self,
        user: &User,
        client: Option<&Client>,
        scope: Option<String>,
        resource: Option<String>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<TokenPair> {
        let now = self.now();
        let family = TokenFamily {
            sid: random_id()?,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.config.refresh_absolute_ttl.as_secs()),
            revoked_at: None,
            client_id: client.map(|c| c.client_id.clone()),
            scope,
            // RFC 9449 §5: a public client's refresh tokens are bound to the key of its proof.
            dpop_jkt: dpop
                .filter(|_| client.is_some_and(|c| c.web.public))
                .map(|proof| proof.jkt.clone()),
            resource,
        };
        let refresh_token = random_token()?;
        let record = self.refresh_record(&refresh_token, now)?;
        self.store.create_session(&family, &record).await?;
        tracing::info!(user_id = %user.id, sid = %family.sid, client_id = ?family.client_id, "login");
        let encrypt = client.is_some_and(|c| c.encrypt_access_tokens);
        let jkt = dpop.map(|p| p.jkt.as_str());
        self.pair(
            encrypt,
            &user.scopes,
            &family,
            refresh_token,
            now,
            None,
            jkt,
        )
    }

    pub(super) fn refresh_record(&self, token: &str, now: u64) -> Result<RefreshTokenRecord> {
        Ok(RefreshTokenRecord {
            hash: refresh_token_digest(token).ok_or_else(|| Error::crypto("bad refresh token"))?,
            sid: String::new(),
            created_at: now,
            expires_at: now.saturating_add(self.config.refresh_idle_ttl.as_secs()),
        })
    }

    /// An access token for the session `family` (its user's) with the rotated `refresh_token`, encrypted under the
    /// server's key when `encrypt` (the client's `--encrypt-access-tokens`). Its scope is `narrowed` when given,
    /// else the session's, else (a `POST /login` session) the user's current `user_scopes`. The access token is
    /// bound to the DPoP key of thumbprint `jkt` when given.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pair(
        &self,
        encrypt: bool,
        user_scopes: &[String],
        family: &TokenFamily,
        refresh_token: Zeroizing<String>,
        now: u64,
        narrowed: Option<String>,
        jkt: Option<&str>,
    ) -> Result<TokenPair> {
        let scope = narrowed
            .or_else(|| family.scope.clone())
            .unwrap_or_else(|| user_scopes.join(" "));
        let scope = (!scope.is_empty()).then_some(scope);
        let client_id = family
            .client_id
            .clone()
            .unwrap_or_else(|| self.config.client_id.clone());
        let (access_token, expires_in) = self.sign_access(
            &family.user_id,
            AccessClaims {
                client_id,
                scope: scope.clone(),
                sid: Some(family.sid.clone()),
            },
            now,
            encrypt,
            jkt,
            family.resource.as_deref(),
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
    pub(super) fn sid_deny_until(&self, now: u64) -> u64 {
        now.saturating_add(self.config.access_token_ttl.as_secs())
            .saturating_add(LEEWAY.as_secs())
    }

    /// Exchanges a refresh token for a new pair, consuming it. A token presented a second time means it was
    /// stolen (or the client is broken): the whole session is revoked, its access tokens included — unless it is
    /// the session's most recently rotated token, back within [`Config::refresh_reuse_interval`] (a retry after a
    /// lost answer), which gets a new pair in the same session a bounded number of times.
    ///
    /// In cookie mode ([`RefreshCredential::Cookie`]) the CSRF token is checked against the session the refresh
    /// token belongs to before anything is consumed: a mismatch is [`ErrorKind::CsrfRejected`] and leaves the token
    /// usable. The session is looked up once for both checks.
    pub async fn refresh(&self, credential: RefreshCredential<'_>) -> Result<TokenPair> {
        let rotated = self
            .rotate(credential, None, Requested::default(), None)
            .await;
        // A CSRF refusal is counted as one (`waxseal_csrf_refusals_total`), not as a failed refresh.
        if !matches!(&rotated, Err(e) if e.kind() == ErrorKind::CsrfRejected) {
            self.count_refresh(rotated.is_ok(), &self.metrics.issued.refresh);
        }
        rotated
    }

    pub(super) fn count_refresh(&self, ok: bool, issued: &::metrics::Counter) {
        if ok {
            self.metrics.refreshes.ok.increment(1);
            issued.increment(1);
        } else {
            self.metrics.refreshes.failed.increment(1);
        }
    }

    /// [`AuthService::refresh`] for an authenticated OAuth client (RFC 6749 §6): the token must have been issued
    /// to that client, a requested `scope` must be within the session's, and a requested `resource` (RFC 8707)
    /// must be the session's. With a DPoP proof, the new access token is bound to its key.
    pub async fn refresh_for_client(
        &self,
        client: &Client,
        refresh_token: &str,
        scope: Option<&str>,
        resource: Option<&str>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<TokenPair> {
        let rotated = if !client.grant_types.contains(&GrantType::RefreshToken) {
            Err(unauthorized_client(GrantType::RefreshToken))
        } else if let Err(e) = Self::require_dpop_if_registered(client, dpop) {
            Err(e)
        } else {
            self.rotate(
                RefreshCredential::Token(refresh_token),
                Some(client),
                Requested { scope, resource },
                dpop,
            )
            .await
        };
        self.count_refresh(rotated.is_ok(), &self.metrics.issued.refresh_token);
        rotated
    }

    async fn rotate(
        &self,
        credential: RefreshCredential<'_>,
        client: Option<&Client>,
        requested: Requested<'_>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<TokenPair> {
        let Requested { scope, resource } = requested;
        let Some(digest) = refresh_token_digest(credential.refresh_token()) else {
            return Err(invalid_grant("the refresh token is not valid"));
        };
        // Checked before the token is consumed: presenting another client's token must not use it up.
        let mut narrowed = None;
        // Read before the token is consumed too: once the rotation has committed, nothing may fail, or the client
        // is answered 503 ("retry") holding a token the store already calls used, and its retry revokes the session.
        let mut owner = None;
        let family = self.store.family_of_token(&digest).await?;
        if let RefreshCredential::Cookie { csrf_token, .. } = credential {
            // A token of no session cannot be rotated either: refused here, before a write.
            let Some(family) = &family else {
                return Err(invalid_grant("the refresh token is not valid"));
            };
            if !self.csrf.verify(&family.sid, csrf_token) {
                self.metrics.csrf_refusals.token.increment(1);
                return Err(Error::new(
                    ErrorKind::CsrfRejected,
                    "the CSRF token is not this session's",
                ));
            }
        }
        if let Some(family) = family {
            owner = self.store.user_by_id(&family.user_id).await?;
            if family.client_id.as_deref() != client.map(|c| c.client_id.as_str()) {
                return Err(invalid_grant(
                    "the refresh token was not issued to this client",
                ));
            }
            // Checked before the token is consumed: a refusal rotates nothing.
            check_refresh_binding(&family, dpop)?;
            self.check_refresh_resource(&family, resource).await?;
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
        debug_assert_eq!(user.id, family.user_id);
        let encrypt = client.is_some_and(|c| c.encrypt_access_tokens);
        let jkt = dpop.map(|p| p.jkt.as_str());
        self.pair(
            encrypt,
            &user.scopes,
            &family,
            successor,
            now,
            narrowed,
            jkt,
        )
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
        if claims.registered.cnf.is_some() {
            // A bound token is worth nothing without its key, and `/logout` takes no proof: as a bearer token here it
            // would let whoever copied it end the session.
            return Err(invalid_token(
                "this token is DPoP-bound and /logout takes bearer tokens only; revoke its refresh token at \
                 /oauth/revoke, or end the session at /session/end",
            ));
        }
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
            LogoutScope::Everywhere
        } else {
            LogoutScope::Sessions {
                sid: claims.custom.sid.as_deref(),
                refresh: digest.as_ref(),
            }
        };
        let logout = Logout {
            user_id: &sub,
            jti: &jti,
            jti_until: exp,
            scope,
            now,
            deny_until,
        };
        // One transaction: the jti denied and the sessions ended together, or nothing.
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
}
