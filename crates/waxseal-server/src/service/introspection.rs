//! Token introspection (RFC 7662) for an authenticated client: who may learn what about which token.
//!
//! A client may introspect its own tokens, access and refresh. A resource server checking access tokens of every
//! client needs the permission recorded on its client (`waxseal client add NAME --may-introspect`); it covers
//! access tokens only, since a resource server never holds a refresh token and has no business testing one.
//! Everything else — another client's token, a token that is expired, rotated, revoked, reused, malformed or
//! unknown — is the same `{"active": false}` (RFC 7662 §2.2): the answer never tells a caller that a token it may
//! not see exists.

use std::sync::Arc;

use waxseal::jwt::Claims;

use super::{AccessClaims, AuthService};
use crate::error::Result;
use crate::secret::refresh_token_digest;
use crate::store::Client;

/// What introspection learned about a token the asking client may see.
#[derive(Debug, Clone)]
pub enum Introspected {
    /// A valid access token: its claims and its user's name.
    Access(Introspection),
    /// A live refresh token: unused, unexpired, its session not revoked, its user enabled.
    Refresh(RefreshIntrospection),
}

/// A live refresh token as RFC 7662 §2.2 describes it (`token_type: refresh_token`). Never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshIntrospection {
    /// The client the token was issued to.
    pub client_id: String,
    /// The user's id (the `sub` of the session's access tokens).
    pub sub: String,
    /// The user's login name.
    pub username: String,
    /// The space-separated scope granted to the session, if any.
    pub scope: Option<String>,
    /// When this token was issued (Unix seconds).
    pub iat: u64,
    /// When it stops being accepted: its idle limit, already capped by the session's end (Unix seconds).
    pub exp: u64,
}

impl AuthService {
    /// Token introspection (RFC 7662) by `client`: what an access or refresh token is, when `client` may see it,
    /// and `None` otherwise — for a token of another client (unless `client` may introspect access tokens of
    /// all clients) exactly as for an invalid one.
    pub async fn introspect_for(
        &self,
        client: &Client,
        token: &str,
    ) -> Result<Option<Introspected>> {
        // The two shapes never overlap: a refresh token is 43 base64url characters, an access token has dots.
        if let Some(digest) = refresh_token_digest(token) {
            return Ok(self
                .introspect_refresh(client, &digest)
                .await?
                .map(Introspected::Refresh));
        }
        let Ok(claims) = self.verify_issued_access(token).await else {
            return Ok(None);
        };
        if !may_see_access_token(client, &claims) {
            return Ok(None);
        }
        Ok(Some(Introspected::Access(
            self.introspection_of(claims).await?,
        )))
    }

    /// A refresh token of `client` that would still be accepted by the refresh grant now; one indexed read for
    /// the token and its session, one for its user.
    pub(super) async fn introspect_refresh(
        &self,
        client: &Client,
        digest: &[u8; 32],
    ) -> Result<Option<RefreshIntrospection>> {
        let Some((token, family)) = self.store.refresh_token_state(digest).await? else {
            return Ok(None);
        };
        // Only the client it was issued to; a POST /login session's token belongs to no OAuth client.
        if family.client_id.as_deref() != Some(client.client_id.as_str()) {
            return Ok(None);
        }
        let now = self.now();
        let live = token.used_at.is_none()
            && family.revoked_at.is_none()
            && now < token.record.expires_at
            && now < family.expires_at;
        if !live {
            return Ok(None);
        }
        // The refresh grant refuses a disabled (or deleted) user, so introspection does too.
        let Some(user) = self
            .store
            .user_by_id(&family.user_id)
            .await?
            .filter(|u| !u.disabled)
        else {
            return Ok(None);
        };
        Ok(Some(RefreshIntrospection {
            client_id: client.client_id.clone(),
            sub: family.user_id,
            username: user.username,
            scope: family.scope,
            iat: token.record.created_at,
            exp: token.record.expires_at.min(family.expires_at),
        }))
    }
}

/// Its own access tokens, or any client's with the permission.
pub(super) fn may_see_access_token(client: &Client, claims: &Arc<Claims<AccessClaims>>) -> bool {
    client.may_introspect || claims.custom.client_id == client.client_id
}

/// What introspection learned about an active access token.
#[derive(Debug, Clone)]
pub struct Introspection {
    /// The verified claims.
    pub claims: Arc<Claims<AccessClaims>>,
    /// The user's login name, when the token was issued to a user.
    pub username: Option<String>,
}

impl AuthService {
    /// Token introspection (RFC 7662): the claims of a valid access token — for this server or for a registered
    /// resource (RFC 8707) — and its user's name, `None` for anything else (expired, revoked, malformed, a refresh
    /// token).
    pub async fn introspect(&self, token: &str) -> Result<Option<Introspection>> {
        let Ok(claims) = self.verify_issued_access(token).await else {
            return Ok(None);
        };
        Ok(Some(self.introspection_of(claims).await?))
    }

    /// What introspection tells of a verified access token: its claims and its user's name.
    async fn introspection_of(&self, claims: Arc<Claims<AccessClaims>>) -> Result<Introspection> {
        let username = match (&claims.custom.sid, claims.registered.sub.as_deref()) {
            (Some(_), Some(sub)) => self.store.user_by_id(sub).await?.map(|u| u.username),
            _ => None,
        };
        Ok(Introspection { claims, username })
    }
}
