//! The OAuth 2.0 grants a registered client uses (RFC 6749 §4.3, §4.4, §6 through [`AuthService::refresh_for_client`]),
//! scope resolution, and token revocation (RFC 7009).

use std::net::IpAddr;

use waxseal::dpop::VerifiedProof;
use waxseal::jwt::{Claims, NumericDate};

use super::resources::narrow_to_resource;
use super::{
    AccessClaims, AuthService, GrantedTokens, invalid_grant, refresh_token_digest,
    unauthorized_client,
};
use crate::config::CLOCK_LEEWAY as LEEWAY;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{Client, DenylistSnapshot, GrantType};

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

/// The scopes to grant: all of `allowed` when nothing was requested, else the requested ones, each of which
/// must be allowed ([`ErrorKind::InvalidScope`] names the first that is not, truncated).
pub(super) fn resolve_scope(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>> {
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
    /// The resource owner password credentials grant (RFC 6749 §4.3): a session for the user on behalf of
    /// `client`, with the requested scope (default: all the user has that the client may ask for).
    ///
    /// Only a client allowed the `refresh_token` grant gets a refresh token; any other gets the access token alone
    /// (§4.3.3), in a session that ends when it expires (the session is how a user's tokens are ended at once).
    #[allow(clippy::too_many_arguments)]
    pub async fn password_grant(
        &self,
        client: &Client,
        username: &str,
        password: &str,
        scope: Option<&str>,
        resource: Option<&str>,
        address: Option<IpAddr>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<GrantedTokens> {
        if !client.grant_types.contains(&GrantType::Password) {
            return Err(unauthorized_client(GrantType::Password));
        }
        Self::require_dpop_if_registered(client, dpop)?;
        // Before the password is checked: a refused target costs no argon2id verification and no attempt.
        let resource = match resource {
            Some(uri) => Some(self.resource_for(client, uri).await?),
            None => None,
        };
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
        let mut granted = resolve_scope(scope, &allowed)?;
        if let Some(resource) = &resource {
            granted = narrow_to_resource(&granted, resource);
        }
        let granted = granted.join(" ");
        let resource = resource.map(|r| r.uri);
        self.metrics.issued.password.increment(1);
        if !client.grant_types.contains(&GrantType::RefreshToken) {
            return self
                .start_unrefreshable_session(&user, client, granted, resource, dpop)
                .await;
        }
        let pair = self
            .start_session(&user, Some(client), Some(granted), resource, dpop)
            .await?;
        Ok(pair.into())
    }

    /// The client credentials grant (RFC 6749 §4.4): an access token whose subject is the client itself, no
    /// refresh token and no session; with a DPoP proof, bound to its key. With a `resource` (RFC 8707), the token
    /// is for that registered resource alone, its scope narrowed to what the resource accepts.
    pub async fn client_credentials_grant(
        &self,
        client: &Client,
        scope: Option<&str>,
        resource: Option<&str>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<ClientToken> {
        if !client.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(unauthorized_client(GrantType::ClientCredentials));
        }
        Self::require_dpop_if_registered(client, dpop)?;
        let mut granted = resolve_scope(scope, &client.scopes)?;
        let resource = match resource {
            Some(uri) => {
                let resource = self.resource_for(client, uri).await?;
                granted = narrow_to_resource(&granted, &resource);
                Some(resource.uri)
            }
            None => None,
        };
        let granted = granted.join(" ");
        let scope = (!granted.is_empty()).then_some(granted);
        let (access_token, expires_in) = self.sign_access(
            &client.client_id,
            AccessClaims {
                client_id: client.client_id.clone(),
                scope: scope.clone(),
                sid: None,
            },
            self.now(),
            client.encrypt_access_tokens,
            dpop.map(|p| p.jkt.as_str()),
            resource.as_deref(),
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

    /// Token revocation (RFC 7009) by `client`: a refresh token ends its session; an access token is denied until
    /// it expires. Unknown tokens, and tokens issued to another client, change nothing and are no error.
    pub async fn revoke(&self, client: &Client, token: &str, hint: Option<&str>) -> Result<()> {
        // Its own access tokens, for this server or for a resource (RFC 8707).
        let as_access = async |service: &Self| {
            service
                .verify_issued_access(token)
                .await
                .ok()
                .filter(|claims| claims.custom.client_id == client.client_id)
        };
        // The hint only orders the lookups (RFC 7009 §2.1).
        let access_first = hint == Some("access_token");
        if access_first && let Some(claims) = as_access(self).await {
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
        if !access_first && let Some(claims) = as_access(self).await {
            return self.deny_access_token(&claims).await;
        }
        Ok(())
    }

    pub(super) async fn deny_access_token(&self, claims: &Claims<AccessClaims>) -> Result<()> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
