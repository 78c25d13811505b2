//! User administration (`waxseal user …`): creating, disabling, re-passwording and deleting users, each change
//! that weakens an account ending every session of the user.

use zeroize::Zeroizing;

use super::{
    AuthService, MAX_PASSWORD_LEN, MAX_USERNAME_LEN, check_scope_tokens, password, random_id,
};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{DenylistSnapshot, Profile, User};
use password::hash_password;

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
    /// Profile claims.
    pub profile: Profile,
}

/// The longest `email` or `name`, in bytes.
pub const MAX_PROFILE_CLAIM_LEN: usize = 256;

fn check_profile(profile: &Profile) -> Result<()> {
    for value in [&profile.email, &profile.name].into_iter().flatten() {
        if value.is_empty()
            || value.len() > MAX_PROFILE_CLAIM_LEN
            || value.chars().any(char::is_control)
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "an email or name is 1 to {MAX_PROFILE_CLAIM_LEN} bytes without control characters"
                ),
            ));
        }
    }
    if let Some(email) = &profile.email
        && (email.chars().any(char::is_whitespace) || !email.contains('@'))
    {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            "an email address has an @ and no spaces",
        ));
    }
    Ok(())
}

pub(super) fn check_password_shape(password: &str) -> Result<()> {
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("a password is 1 to {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

impl AuthService {
    /// Creates a user with an argon2id hash of `password`.
    pub async fn add_user(&self, username: &str, password: &str, scopes: &[String]) -> Result<()> {
        self.add_user_with_profile(username, password, scopes, Profile::default())
            .await
    }

    /// [`AuthService::add_user`] with the user's profile claims (OpenID Connect `email`, `name`).
    pub async fn add_user_with_profile(
        &self,
        username: &str,
        password: &str,
        scopes: &[String],
        profile: Profile,
    ) -> Result<()> {
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
        check_profile(&profile)?;
        let user = User {
            id: random_id()?,
            username: username.to_owned(),
            password_hash: hash_password(Zeroizing::new(password.to_owned())).await?,
            disabled: false,
            scopes: scopes.to_vec(),
            created_at: self.now(),
            profile,
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
                profile: u.profile,
            })
            .collect())
    }

    pub(super) async fn existing_user(&self, username: &str) -> Result<User> {
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

    /// Replaces a user's profile claims (what userinfo and ID tokens tell clients from now on).
    pub async fn set_profile(&self, username: &str, profile: Profile) -> Result<()> {
        check_profile(&profile)?;
        let user = self.existing_user(username).await?;
        if !self.store.set_profile(&user.id, &profile).await? {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("no user named {username:?}"),
            ));
        }
        tracing::info!(user_id = %user.id, "profile changed");
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
    pub(super) async fn end_all_sessions(&self, user_id: &str) -> Result<()> {
        let now = self.now();
        let deny_until = self.sid_deny_until(now);
        let mut sids = self
            .store
            .revoke_all_sessions(user_id, now, deny_until)
            .await?;
        // And the user's browsers: their SSO sessions could otherwise start new sessions without a password.
        if let Some(more) = self
            .store
            .end_sso_sessions(user_id, None, now, deny_until)
            .await?
        {
            sids.extend(more);
        }
        self.revoked(DenylistSnapshot {
            sids: sids.into_iter().map(|sid| (sid, deny_until)).collect(),
            not_before: vec![(user_id.to_owned(), now)],
            ..DenylistSnapshot::default()
        })
        .await;
        self.metrics.revocations.admin.increment(1);
        Ok(())
    }
}
