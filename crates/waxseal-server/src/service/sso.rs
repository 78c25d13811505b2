//! The browser's sign-in (the SSO session): a server-side row referenced by 256 random bits in a cookie, stored as
//! their SHA-256 like a refresh token. Checked against the store on every use, so that ending it — logout,
//! `/account`, a password change, the user disabled or deleted — takes effect at once on every instance.

use std::net::IpAddr;

use zeroize::Zeroizing;

use super::{AuthService, random_id, random_token, refresh_token_digest};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{AppSession, DenylistSnapshot, SsoSession, User};

/// The longest `User-Agent` kept with a session, in characters.
const MAX_USER_AGENT: usize = 200;

/// A live SSO session and its user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: SsoSession,
    /// Its user, enabled.
    pub user: User,
}

/// A new SSO session: the secret for the cookie (shown nowhere else) and the session.
pub struct NewSsoSession {
    /// The cookie's value.
    pub secret: Zeroizing<String>,
    /// The session stored.
    pub signed_in: SignedIn,
}

/// What `/account` shows: the user's browsers and the applications' sessions.
#[derive(Debug, Clone)]
pub struct AccountSessions {
    /// Live SSO sessions, newest first.
    pub browsers: Vec<SsoSession>,
    /// Live token families, newest first.
    pub apps: Vec<AppSession>,
}

impl AuthService {
    /// Checks a username and password (throttled, failures indistinguishable, as `POST /login`) and starts an SSO
    /// session for the browser at `address` with `user_agent`.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSsoSession> {
        let user = self.check_password(username, password, address).await?;
        self.start_sso_session(user, address, user_agent).await
    }

    async fn start_sso_session(
        &self,
        user: User,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSsoSession> {
        let now = self.now();
        let secret = random_token()?;
        let hash =
            refresh_token_digest(&secret).ok_or_else(|| Error::crypto("bad session secret"))?;
        let session = SsoSession {
            id: random_id()?,
            hash,
            user_id: user.id.clone(),
            auth_time: now,
            created_at: now,
            expires_at: now.saturating_add(self.config.refresh_absolute_ttl.as_secs()),
            ended_at: None,
            address: address.map(|a| a.to_string()),
            user_agent: user_agent.map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT)
                    .collect()
            }),
        };
        self.store.create_sso_session(&session).await?;
        tracing::info!(user_id = %user.id, sso = %session.id, "signed in");
        Ok(NewSsoSession {
            secret,
            signed_in: SignedIn { session, user },
        })
    }

    /// The live SSO session whose cookie holds `secret`, with its user: `None` when there is none, it ended or
    /// expired, or its user is disabled or gone. A malformed secret is `None` without a store read.
    pub async fn signed_in(&self, secret: &str) -> Result<Option<SignedIn>> {
        let Some(hash) = refresh_token_digest(secret) else {
            return Ok(None);
        };
        let Some((session, user)) = self.store.sso_session(&hash).await? else {
            return Ok(None);
        };
        let live = session.ended_at.is_none() && session.expires_at > self.now();
        Ok((live && !user.disabled).then_some(SignedIn { session, user }))
    }

    /// Ends one SSO session of the user (`Some(id)`) or all of them, and the token families started from them:
    /// their refresh tokens are refused and their access tokens denied, on every instance.
    pub async fn end_sso_sessions(&self, user_id: &str, id: Option<&str>) -> Result<()> {
        let now = self.now();
        let deny_until = self.sid_deny_until(now);
        let Some(sids) = self
            .store
            .end_sso_sessions(user_id, id, now, deny_until)
            .await?
        else {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "no such session: it has ended already",
            ));
        };
        self.sessions_revoked(&sids, deny_until).await;
        tracing::info!(user_id, ended = ?id, revoked = sids.len(), "sso session ended");
        Ok(())
    }

    /// Ends one token family of the user (an application's session, from `/account`).
    pub async fn end_app_session(&self, user_id: &str, sid: &str) -> Result<()> {
        let now = self.now();
        let sessions = self.store.app_sessions_of_user(user_id, now).await?;
        if !sessions.iter().any(|s| s.sid == sid) {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "no such session: it has ended already",
            ));
        }
        let deny_until = self.sid_deny_until(now);
        self.store.revoke_session(sid, now, deny_until).await?;
        self.sessions_revoked(&[sid.to_owned()], deny_until).await;
        tracing::info!(user_id, sid, "application session ended from /account");
        Ok(())
    }

    /// Takes revoked sessions into effect in this process's denylist and announces them to the others.
    async fn sessions_revoked(&self, sids: &[String], deny_until: u64) {
        if sids.is_empty() {
            return;
        }
        self.revoked(DenylistSnapshot {
            sids: sids.iter().map(|sid| (sid.clone(), deny_until)).collect(),
            ..DenylistSnapshot::default()
        })
        .await;
        self.metrics.revocations.logout.increment(1);
    }

    /// Ends every session of the user — browsers and applications — and refuses their access tokens issued until
    /// now ("sign out everywhere" on `/account`).
    pub async fn end_everything(&self, user_id: &str) -> Result<()> {
        self.end_all_sessions(user_id).await
    }

    /// The signed-in user changes their own password: `current` is checked as a sign-in is (throttled), every
    /// session of the user ends (browsers and applications, this browser's included), and this browser gets a new
    /// SSO session.
    pub async fn change_own_password(
        &self,
        signed_in: &SignedIn,
        current: &str,
        new: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSsoSession> {
        super::users::check_password_shape(new)?;
        let user = self
            .check_password(&signed_in.user.username, current, address)
            .await?;
        let hash = super::password::hash_password(Zeroizing::new(new.to_owned())).await?;
        if !self.store.set_password_hash(&user.id, &hash).await? {
            return Err(Error::new(ErrorKind::InvalidRequest, "the user is gone"));
        }
        self.end_all_sessions(&user.id).await?;
        tracing::info!(user_id = %user.id, "password changed by the user");
        self.start_sso_session(user, address, user_agent).await
    }

    /// The client this `id_token_hint` was issued to (its `aud`) and its subject, if it is an ID token this server
    /// signed with a key it still publishes. Expiry is allowed, up to the SSO session lifetime: a hint is typically
    /// presented long after its ID token expired (OpenID Connect RP-Initiated Logout §2).
    pub fn id_token_hint(&self, token: &str) -> Option<(String, String)> {
        #[derive(serde::Deserialize)]
        struct Hint {}
        let keyring = self.keyring();
        keyring.key_sets.iter().find_map(|set| {
            let claims = waxseal::jwt::Verifier::new(set.clone())
                .issuer(self.config.issuer.clone())
                .any_audience()
                .typ("JWT")
                .require(["sub", "aud"])
                .leeway(self.config.refresh_absolute_ttl)
                .clock(super::SharedClock(self.clock.clone()))
                .verify::<Hint>(token)
                .ok()?;
            let aud = claims.registered.aud.as_ref()?.iter().next()?.to_owned();
            Some((aud, claims.registered.sub?))
        })
    }

    /// A registered client, read through the client cache (for the pages, which only show and check its
    /// registration).
    pub async fn web_client(&self, client_id: &str) -> Result<Option<crate::store::Client>> {
        if let Some(outcome) = self.metadata_client(client_id).await {
            return Ok(outcome.ok());
        }
        if client_id.len() > super::clients::MAX_CLIENT_ID_LEN {
            return Ok(None);
        }
        self.registered_client(client_id).await
    }

    /// The names of the registered clients, by id (for `/account`).
    pub async fn client_names(&self) -> Result<std::collections::HashMap<String, String>> {
        Ok(self
            .store
            .list_clients()
            .await?
            .into_iter()
            .map(|c| (c.client_id, c.name))
            .collect())
    }

    /// The user's live browser and application sessions.
    pub async fn account_sessions(&self, user_id: &str) -> Result<AccountSessions> {
        let now = self.now();
        Ok(AccountSessions {
            browsers: self.store.sso_sessions_of_user(user_id, now).await?,
            apps: self.store.app_sessions_of_user(user_id, now).await?,
        })
    }

    /// The CSRF token of the forms shown to the browser of SSO session `sso_id`.
    pub fn session_csrf_token(&self, sso_id: &str) -> String {
        self.csrf.token(&format!("sso:{sso_id}"))
    }

    /// Whether `presented` is the CSRF token of SSO session `sso_id`'s forms.
    pub fn session_csrf_ok(&self, sso_id: &str, presented: &str) -> bool {
        self.csrf.verify(&format!("sso:{sso_id}"), presented)
    }

    /// The CSRF token of a sign-in form shown to the browser whose pre-session cookie holds `browser`: there is
    /// no session yet to bind it to, and a login form that anyone could post to signs victims in as the attacker.
    pub fn sign_in_csrf_token(&self, browser: &str) -> String {
        self.csrf.token(&format!("sign-in:{browser}"))
    }

    /// Whether `presented` is the CSRF token of the sign-in form of browser `browser`.
    pub fn sign_in_csrf_ok(&self, browser: &str, presented: &str) -> bool {
        self.csrf.verify(&format!("sign-in:{browser}"), presented)
    }
}
