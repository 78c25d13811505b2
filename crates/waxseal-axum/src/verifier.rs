//! The two things the layer is plugged with: who verifies tokens ([`TokenVerifier`]) and who says whether a verified
//! token has been revoked since ([`RevocationCheck`]).

use std::future::{Future, ready};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use waxseal::jwt::{Claims, NumericDate, Verifier};
use waxseal_remote::RemoteVerifier;

use crate::error::Error;
use crate::verified_cache::Validity;

/// A token that passed full verification, and the seconds during which the verifier would accept it again (the
/// verified-token cache serves it only inside that window).
#[derive(Debug, Clone)]
pub struct Verified<T> {
    /// The verified claims.
    pub claims: Claims<T>,
    /// When the verifier accepts the token: `exp`, `nbf` and the `iat` rules with its leeway
    /// ([`Verifier::accepted_during`]).
    pub valid: Validity,
}

/// Something that fully verifies a token: signature, issuer, audience, lifetime, claims type. Implemented for the
/// core [`Verifier`] (local keys), for [`RemoteVerifier`] (an issuer's JWK Set, fetched and cached), and for
/// `Arc<V>`; implement it to verify with keys that change at run time (the auth server does).
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` completely and returns its claims as `T`. Errors are [`Error::invalid_token`] (say why,
    /// without echoing the token; [`Error::from_token_error`] does that for core errors) or
    /// [`Error::unavailable`] when the keys cannot be had now.
    fn verify_token<T: DeserializeOwned + Send + 'static>(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Verified<T>, Error>> + Send;

    /// A number that changes whenever the keys this verifier trusts change. With a cache, the layer asks on every
    /// request and empties the cache when it moves, so no token is served from the cache on the strength of a key
    /// no longer trusted. Keys that never change (the default) say 0.
    fn key_generation(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        ready(Ok(0))
    }

    /// Now, by the clock the verifier checks `exp` against: the cache checks its windows by the same clock.
    fn now(&self) -> u64 {
        NumericDate::now().secs()
    }
}

impl TokenVerifier for Verifier {
    fn verify_token<T: DeserializeOwned + Send + 'static>(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Verified<T>, Error>> + Send {
        ready(
            self.verify::<T>(token)
                .map(|claims| Verified {
                    valid: self.accepted_during(&claims.registered).into(),
                    claims,
                })
                .map_err(|e| Error::from_token_error(&e)),
        )
    }

    fn now(&self) -> u64 {
        Verifier::now(self).secs()
    }
}

/// The remote key set's failures (issuer down past the staleness bound, no keys yet) are 503s: the token may be
/// fine, and a client that retries later gets in. The details go to the log, never to the client.
fn remote_error(e: &waxseal_remote::Error) -> Error {
    match e.token_error() {
        Some(token) => Error::from_token_error(token),
        None => {
            tracing::warn!(error = %e, "cannot verify bearer tokens: the issuer's keys are unavailable");
            Error::unavailable("the keys to verify the token with are unavailable; try again later")
        }
    }
}

/// The cache's windows are checked against the system clock ([`TokenVerifier::now`]'s default), which is what a
/// `RemoteVerifier` uses unless a clock is configured into it.
impl TokenVerifier for RemoteVerifier {
    async fn verify_token<T: DeserializeOwned + Send + 'static>(
        &self,
        token: &str,
    ) -> Result<Verified<T>, Error> {
        let (claims, window) = self
            .verify_with_window::<T>(token)
            .await
            .map_err(|e| remote_error(&e))?;
        Ok(Verified {
            claims,
            valid: window.into(),
        })
    }

    /// The generation of the key set in force, which the key set refreshes when it is stale (and refuses past its
    /// staleness bound, failing closed for cached tokens too).
    async fn key_generation(&self) -> Result<u64, Error> {
        self.key_set()
            .keys()
            .await
            .map(|keys| keys.generation)
            .map_err(|e| remote_error(&e))
    }
}

impl<V: TokenVerifier> TokenVerifier for Arc<V> {
    fn verify_token<T: DeserializeOwned + Send + 'static>(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Verified<T>, Error>> + Send {
        (**self).verify_token(token)
    }

    fn key_generation(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        (**self).key_generation()
    }

    fn now(&self) -> u64 {
        (**self).now()
    }
}

/// Says whether a verified token has been revoked since it was issued (a denylist of `jti`s, ended sessions,
/// a user's "not before"). The layer asks on every request, cache hit or not, after the token verified; a revoked
/// token gets 401 `invalid_token` "the token has been revoked". Keep it cheap: it is on every request's path.
///
/// A closure `Fn(&Claims<T>) -> bool` is one:
///
/// ```
/// use std::collections::HashSet;
/// use std::sync::{Arc, RwLock};
/// use waxseal::jwt::Claims;
/// let denied: Arc<RwLock<HashSet<String>>> = Arc::default();
/// let check = {
///     let denied = denied.clone();
///     move |claims: &Claims<serde_json::Map<String, serde_json::Value>>| {
///         claims.registered.jti.as_ref().is_some_and(|jti| denied.read().unwrap().contains(jti))
///     }
/// };
/// let layer = waxseal_axum::BearerAuthLayer::new(waxseal::jwt::Verifier::new(waxseal::KeySet::new([])?))
///     .revocation(check);
/// # Ok::<(), waxseal::Error>(())
/// ```
pub trait RevocationCheck<T>: Send + Sync + 'static {
    /// `Ok(true)` when the token must be refused; [`Error::unavailable`] when the answer cannot be had (the
    /// request then fails closed with 503).
    fn is_revoked(&self, claims: &Claims<T>) -> impl Future<Output = Result<bool, Error>> + Send;
}

impl<T, F> RevocationCheck<T> for F
where
    F: Fn(&Claims<T>) -> bool + Send + Sync + 'static,
{
    fn is_revoked(&self, claims: &Claims<T>) -> impl Future<Output = Result<bool, Error>> + Send {
        ready(Ok(self(claims)))
    }
}

/// No revocation check: the layer's default. Tokens are valid until they expire.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRevocation;

impl<T> RevocationCheck<T> for NoRevocation {
    fn is_revoked(&self, _: &Claims<T>) -> impl Future<Output = Result<bool, Error>> + Send {
        ready(Ok(false))
    }
}
