//! The one answer shape of `POST /oauth/token`, whichever grant issued it, and the session of a password grant
//! that comes without a refresh token.

use waxseal::dpop::VerifiedProof;
use zeroize::Zeroizing;

use super::{AuthService, ClientToken, TokenPair};
use crate::error::Result;
use crate::secret::{random_id, random_token};
use crate::store::{Client, TokenFamily, User};

/// What the token endpoint issues: an access token, and a refresh token only where RFC 6749 allows one — for the
/// password grant only to a client that may use the `refresh_token` grant (§4.3.3), never for client credentials
/// (§4.4.3). The refresh token is a secret: `Debug` hides it.
pub struct GrantedTokens {
    /// The signed access token (`typ: at+jwt`).
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The opaque refresh token, when one is issued.
    pub refresh_token: Option<Zeroizing<String>>,
    /// The space-separated scope of the access token, if any.
    pub scope: Option<String>,
    /// The OpenID Connect ID token, when the `openid` scope was granted (authorization code grant).
    pub id_token: Option<String>,
}

impl std::fmt::Debug for GrantedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantedTokens")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl From<TokenPair> for GrantedTokens {
    fn from(pair: TokenPair) -> Self {
        GrantedTokens {
            access_token: pair.access_token,
            expires_in: pair.expires_in,
            refresh_token: Some(pair.refresh_token),
            scope: pair.scope,
            id_token: None,
        }
    }
}

impl From<ClientToken> for GrantedTokens {
    fn from(token: ClientToken) -> Self {
        GrantedTokens {
            access_token: token.access_token,
            expires_in: token.expires_in,
            refresh_token: None,
            scope: token.scope,
            id_token: None,
        }
    }
}

impl AuthService {
    /// A password grant's session for a client that may not refresh: the access token alone, in a session that
    /// ends when it expires. The session still exists because a user's tokens are ended through their sessions
    /// (logout, password change, disable, delete deny the `sid` at once); a "not before" alone has one-second
    /// resolution and would let a token issued in the same second survive. The family's first refresh token is
    /// generated and stored like any other but never leaves this function, so nobody can present it.
    pub(super) async fn start_unrefreshable_session(
        &self,
        user: &User,
        client: &Client,
        scope: String,
        resource: Option<String>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<GrantedTokens> {
        let now = self.now();
        let family = TokenFamily {
            sid: random_id()?,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.config.access_token_ttl.as_secs()),
            revoked_at: None,
            client_id: Some(client.client_id.clone()),
            scope: Some(scope),
            // Nothing to refresh: nothing to bind.
            dpop_jkt: None,
            resource,
        };
        let unreachable = random_token()?;
        let record = self.refresh_record(&unreachable, now)?;
        self.store.create_session(&family, &record).await?;
        tracing::info!(
            user_id = %user.id,
            sid = %family.sid,
            client_id = %client.client_id,
            "login without a refresh token (the client may not refresh)"
        );
        let mut granted = GrantedTokens::from(self.pair(
            client.encrypt_access_tokens,
            &user.scopes,
            &family,
            unreachable,
            now,
            None,
            dpop.map(|p| p.jkt.as_str()),
        )?);
        granted.refresh_token = None;
        Ok(granted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_refresh_token() {
        let granted = GrantedTokens::from(TokenPair {
            access_token: "a.b.c".into(),
            expires_in: 1,
            refresh_token: Zeroizing::new("secret-refresh".into()),
            refresh_expires_in: 2,
            scope: None,
            sid: "session".into(),
        });
        let shown = format!("{granted:?}");
        assert!(
            !shown.contains("secret-refresh") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
