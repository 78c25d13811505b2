//! Access-token verification: the verified-token cache, then (for an encrypted token) decryption under the
//! server's own key, signature and claims, then the denylist.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use waxseal::ErrorKind as JwtErrorKind;
use waxseal::jwt::{Audience, Claims, RegisteredClaims, Verifier};

use super::encrypt::is_jwe;
use super::{AccessClaims, AuthService, invalid_token};
use crate::config::CLOCK_LEEWAY as LEEWAY;
use crate::error::Result;
use waxseal_axum::verified_cache::{Validity, VerifiedCache};

impl AuthService {
    /// Verifies an access token: signature, issuer, audience, `typ: at+jwt`, lifetime, then the denylist. An
    /// encrypted one (a five-segment JWE, issued to a client registered with `--encrypt-access-tokens`) is opened
    /// with the server's access-token key first and its inner JWS verified the same way; one that does not open is
    /// refused as any invalid token is.
    ///
    /// A token that fully verified before is found in the verified-token cache by its SHA-256 and skips the
    /// signature and claim checks; its lifetime (with the same leeway) and the denylist are still checked on
    /// every call, so a revocation or an expiry refuses a cached token at once. The claims are shared, not copied.
    pub fn verify_access(&self, token: &str) -> Result<Arc<Claims<AccessClaims>>> {
        let now = self.now();
        // The same cache → verify → revocation order as the bearer layer's (`waxseal_axum`), through the same
        // `lookup` / `fill`.
        let claims = match self.verified.lookup(token, now) {
            Ok(claims) => claims,
            Err(miss) => {
                let claims = Arc::new(self.verify_signed::<AccessClaims>(token)?);
                if let Some(validity) = validity(&claims.registered) {
                    self.verified.fill(miss, claims.clone(), validity, now);
                }
                claims
            }
        };
        if self.is_revoked(&claims) {
            return Err(invalid_token("the token has been revoked"));
        }
        Ok(claims)
    }

    /// Signature and claims by the verifier of the token's kind of key; the second verifier (present only during a
    /// change between HMAC and public keys) is asked only when the first has no key for the token. An encrypted
    /// access token is opened first ([`super::encrypt`]); only the server's own access-token key opens one.
    pub(super) fn verify_signed<T: DeserializeOwned>(&self, token: &str) -> Result<Claims<T>> {
        self.verify_signed_by(token, self.keyring().verifiers())
    }

    /// An access token this server issued, for itself ([`AuthService::verify_access`]) or for a registered
    /// resource (RFC 8707): what introspection and revocation accept. A resource token is verified with the same
    /// rules except the audience, which must be exactly one resource registered now; it never enters the
    /// verified-token cache, which the bearer layer of `/api/*` shares and which must hold only tokens for this
    /// server's own audience.
    pub(super) async fn verify_issued_access(
        &self,
        token: &str,
    ) -> Result<Arc<Claims<AccessClaims>>> {
        let own = match self.verify_access(token) {
            Ok(claims) => return Ok(claims),
            Err(e) => e,
        };
        let keyring = self.keyring();
        let verifiers: Vec<Verifier> = keyring
            .key_sets
            .iter()
            .map(|set| self.resource_access_verifier(set.clone()))
            .collect();
        let Ok(claims) = self.verify_signed_by::<AccessClaims>(token, &verifiers) else {
            return Err(own);
        };
        let Some(Audience::One(aud)) = &claims.registered.aud else {
            return Err(own);
        };
        if *aud == self.config.audience || self.registered_resource(aud).await.is_err() {
            return Err(own);
        }
        if self.is_revoked(&claims) {
            return Err(invalid_token("the token has been revoked"));
        }
        Ok(Arc::new(claims))
    }

    fn verify_signed_by<T: DeserializeOwned>(
        &self,
        token: &str,
        verifiers: &[Verifier],
    ) -> Result<Claims<T>> {
        let opened;
        let token = if is_jwe(token) {
            opened = self.access_sealing.open(token).ok_or_else(|| {
                invalid_token(
                    "the encrypted token does not decrypt with this server's access-token key",
                )
            })?;
            opened.as_str()
        } else {
            token
        };
        let mut outcome = Err(invalid_token("the server has no key to verify tokens with"));
        for verifier in verifiers {
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
}

/// The seconds in which the server's verifier accepts a token with these claims: `nbf` and `exp` widened by the
/// same [`LEEWAY`]. `None` (never cached) without `exp`, which the verifier requires anyway.
pub(super) fn validity(claims: &RegisteredClaims) -> Option<Validity> {
    let leeway = LEEWAY.as_secs();
    let until = claims.exp?.secs().saturating_add(leeway);
    let from = claims
        .nbf
        .map_or(0, |nbf| nbf.secs().saturating_sub(leeway));
    Some(Validity { from, until })
}

/// What to tell a client about a rejected access token: the core error's message for validation failures (they
/// name claims, never echo the token), a fixed text otherwise.
pub(super) fn describe(e: &waxseal::Error) -> String {
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
    use crate::{Config, ErrorKind, MasterKey};
    use waxseal::jwt::Clock;

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
            .sign_access("user-1", custom, service.now(), false, None, None)
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
}
