//! This server's access tokens as the bearer layer of its protected routes sees them (`waxseal_axum`): verified by
//! the service's keyring, whose every change empties the shared verified-token cache, and refused when the
//! denylist says so. No HTTP here: the routes build the layer from these.

use std::future::{Future, ready};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use waxseal::jwt::Claims;
use waxseal_axum::verified_cache::Validity;
use waxseal_axum::{RevocationCheck, Scopes, TokenClaims, TokenVerifier, Verified};

use super::verify::validity;
use super::{AccessClaims, AuthService};

/// The scopes of an access token are its space-separated `scope` claim (RFC 9068 §2.2.3).
impl TokenClaims for AccessClaims {
    fn scopes(&self) -> Scopes<'_> {
        Scopes::space_separated(self.scope.as_deref())
    }
}

/// Verifies access tokens with the service's current keys and rules (issuer, audience, `typ: at+jwt`, required
/// claims, leeway, the service's clock). The service clears the cache itself when its keys change, so the key
/// generation the layer watches never moves.
#[derive(Debug, Clone)]
pub struct AccessTokenVerifier(pub Arc<AuthService>);

impl TokenVerifier for AccessTokenVerifier {
    fn verify_token<T: DeserializeOwned + Send + 'static>(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Verified<T>, waxseal_axum::Error>> + Send {
        ready(
            self.0
                .verify_signed::<T>(token)
                .map(|claims| Verified {
                    // Never cached without `exp` (which the verifier requires anyway): an empty window.
                    valid: validity(&claims.registered).unwrap_or(Validity { from: 1, until: 0 }),
                    claims,
                })
                .map_err(|e| waxseal_axum::Error::invalid_token(e.message().to_owned())),
        )
    }

    fn now(&self) -> u64 {
        self.0.now()
    }
}

/// The service's denylist: revoked `jti`s, ended sessions, users' "not before" times.
#[derive(Debug, Clone)]
pub struct Denylisted(pub Arc<AuthService>);

impl RevocationCheck<AccessClaims> for Denylisted {
    fn is_revoked(
        &self,
        claims: &Claims<AccessClaims>,
    ) -> impl Future<Output = Result<bool, waxseal_axum::Error>> + Send {
        ready(Ok(self.0.is_revoked(claims)))
    }
}
