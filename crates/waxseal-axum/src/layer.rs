//! [`BearerAuthLayer`]: find the token, verify it (or find it in the verified-token cache), check its DPoP proof when
//! it is DPoP-bound, ask the revocation check, then hand the request on with an [`Authenticated`] in its extensions —
//! or answer with the RFC 6750 (or RFC 9449) error.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::http::{HeaderMap, Method, Request, Response};
use serde_json::{Map, Value};
use tower::{Layer, Service};
use waxseal::jwt::Claims;

use crate::claims::{Authenticated, TokenClaims};
use crate::dpop::Dpop;
use crate::error::{DpopChallenge, Error, ResourceChallenge, quoted_safe};
use crate::resource::ResourceMetadata;
use crate::token::{Credential, credential};
use crate::verified_cache::VerifiedCache;
use crate::verifier::{NoRevocation, RevocationCheck, TokenVerifier};

/// Protects every route under it: a request gets through only with a valid bearer token, its claims in the
/// request for [`crate::Claims`] and [`Authenticated`] to extract.
///
/// * `V` verifies ([`TokenVerifier`]: a core `Verifier`, a `RemoteVerifier`, your own).
/// * `T` is the claims type kept per token ([`TokenClaims`]); by default the whole claims object as a JSON map,
///   from which handlers can still extract their own types. [`BearerAuthLayer::claims`] picks a struct instead, so
///   it is deserialized once per token (and cached with it) rather than per extraction.
/// * `R` is the revocation check, none by default ([`BearerAuthLayer::revocation`]).
///
/// Safe defaults: the `Authorization: Bearer` header only, no cache, no realm, every request must carry a token, and
/// a DPoP-bound token (one with `cnf`) is refused as a bearer token. Options: [`cookie`](BearerAuthLayer::cookie),
/// [`cache`](BearerAuthLayer::cache), [`revocation`](BearerAuthLayer::revocation), [`realm`](BearerAuthLayer::realm),
/// [`optional`](BearerAuthLayer::optional), [`dpop`](BearerAuthLayer::dpop),
/// [`protected_resource`](BearerAuthLayer::protected_resource).
pub struct BearerAuthLayer<V, T = Map<String, Value>, R = NoRevocation> {
    verifier: Arc<V>,
    revocation: Arc<R>,
    cache: Option<Arc<VerifiedCache<Claims<T>>>>,
    /// The key generation the cache was last emptied for; shared by every route the layer covers.
    cache_keys: Arc<AtomicU64>,
    cookie: Option<Arc<str>>,
    realm: Option<Arc<str>>,
    optional: bool,
    dpop: Option<Arc<Dpop>>,
    /// What the challenges say of DPoP, made once from `dpop`.
    dpop_challenge: Option<Arc<DpopChallenge>>,
    /// What the challenges say of the protected resource's metadata (RFC 9728 §5.1), formatted once.
    resource: Option<Arc<ResourceChallenge>>,
    claims: PhantomData<fn() -> T>,
}

impl<V, T, R> Clone for BearerAuthLayer<V, T, R> {
    fn clone(&self) -> Self {
        BearerAuthLayer {
            verifier: self.verifier.clone(),
            revocation: self.revocation.clone(),
            cache: self.cache.clone(),
            cache_keys: self.cache_keys.clone(),
            cookie: self.cookie.clone(),
            realm: self.realm.clone(),
            optional: self.optional,
            dpop: self.dpop.clone(),
            dpop_challenge: self.dpop_challenge.clone(),
            resource: self.resource.clone(),
            claims: PhantomData,
        }
    }
}

impl<V, T, R> std::fmt::Debug for BearerAuthLayer<V, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("claims", &std::any::type_name::<T>())
            .field("cookie", &self.cookie)
            .field("cache", &self.cache.as_ref().map(|c| c.capacity()))
            .field("realm", &self.realm)
            .field("optional", &self.optional)
            .field("dpop", &self.dpop)
            .field("protected_resource", &self.resource.is_some())
            .finish_non_exhaustive()
    }
}

impl<V: TokenVerifier> BearerAuthLayer<V> {
    /// A layer that lets through only requests whose `Authorization: Bearer` token `verifier` accepts.
    pub fn new(verifier: V) -> Self {
        BearerAuthLayer {
            verifier: Arc::new(verifier),
            revocation: Arc::new(NoRevocation),
            cache: None,
            cache_keys: Arc::new(AtomicU64::new(0)),
            cookie: None,
            realm: None,
            optional: false,
            dpop: None,
            dpop_challenge: None,
            resource: None,
            claims: PhantomData,
        }
    }
}

impl<V: TokenVerifier, T: TokenClaims, R: RevocationCheck<T>> BearerAuthLayer<V, T, R> {
    /// Keeps the claims as `U` (verified into it once per token). Call it before [`BearerAuthLayer::cache`] or
    /// [`BearerAuthLayer::revocation`], whose types depend on it: a cache set earlier is replaced by an empty one of
    /// the same capacity, and the revocation check is reset to none.
    pub fn claims<U: TokenClaims>(self) -> BearerAuthLayer<V, U, NoRevocation> {
        BearerAuthLayer {
            verifier: self.verifier,
            revocation: Arc::new(NoRevocation),
            cache: self
                .cache
                .map(|c| Arc::new(VerifiedCache::new(c.capacity()))),
            cache_keys: self.cache_keys,
            cookie: self.cookie,
            realm: self.realm,
            optional: self.optional,
            dpop: self.dpop,
            dpop_challenge: self.dpop_challenge,
            resource: self.resource,
            claims: PhantomData,
        }
    }

    /// Also takes the token from the cookie `name` when the request has no `Authorization: Bearer` header (the
    /// header wins; a cookie sent twice is refused). For browser apps that keep the access token in an `HttpOnly`
    /// cookie — protect state-changing routes against CSRF yourself (`SameSite`, an `Origin` check), as for any
    /// cookie credential.
    #[must_use]
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into().into());
        self
    }

    /// Keeps up to about `capacity` verified tokens so that a token seen again skips the signature check (see
    /// [`crate::verified_cache`] for what keeps that safe: exact token bytes as the key, the verifier's time window
    /// checked on every hit, emptied when the verifier's keys change). The revocation check still runs on every
    /// request.
    #[must_use]
    pub fn cache(mut self, capacity: usize) -> Self {
        self.cache = Some(Arc::new(VerifiedCache::new(capacity)));
        self
    }

    /// Uses `cache`, shared with code that verifies tokens outside a request (and that must then insert only what
    /// the same verifier accepted, and [`VerifiedCache::clear`] it when the keys change).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<VerifiedCache<Claims<T>>>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The layer's cache, if it has one: to empty it when keys change outside the verifier's knowledge, or to see
    /// how full it is.
    pub fn token_cache(&self) -> Option<&Arc<VerifiedCache<Claims<T>>>> {
        self.cache.as_ref()
    }

    /// Asks `check` on every request whether the verified token has been revoked.
    pub fn revocation<R2: RevocationCheck<T>>(self, check: R2) -> BearerAuthLayer<V, T, R2> {
        BearerAuthLayer {
            verifier: self.verifier,
            revocation: Arc::new(check),
            cache: self.cache,
            cache_keys: self.cache_keys,
            cookie: self.cookie,
            realm: self.realm,
            optional: self.optional,
            dpop: self.dpop,
            dpop_challenge: self.dpop_challenge,
            resource: self.resource,
            claims: PhantomData,
        }
    }

    /// The `realm` of every challenge (RFC 7235 §2.2). Characters a quoted-string cannot hold are replaced.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(quoted_safe(realm.into().into()).into());
        self
    }

    /// Also takes DPoP-bound tokens (RFC 9449) as `policy` says: `Authorization: DPoP <token>` with one `DPoP`
    /// proof header, made by the key of the token's `cnf.jkt` for this request (method, the policy's public URL and
    /// this path, this token) and never used before. With [`Dpop::required`], only those. See [`crate::dpop`].
    #[must_use]
    pub fn dpop(mut self, policy: Dpop) -> Self {
        self.dpop_challenge = Some(Arc::new(policy.challenge()));
        self.dpop = Some(Arc::new(policy));
        self
    }

    /// Points every challenge at the protected resource's metadata (RFC 9728 §5.1): `resource_metadata="<its
    /// URL>"` in the layer's 401s and 400s and in the 403s of the route requirements behind it, Bearer and DPoP
    /// alike, and in every 401 the `scope` the resource needs ([`crate::ProtectedResource::scopes`]), so that a
    /// client that knows only the resource's URL can find its authorization server. The parameters are formatted
    /// when `metadata` is built; serve the document itself with [`ResourceMetadata::router`]. See
    /// [`crate::resource`].
    #[must_use]
    pub fn protected_resource(mut self, metadata: &ResourceMetadata) -> Self {
        self.resource = Some(metadata.challenge());
        self
    }

    /// Lets requests without any token through, unauthenticated (handlers take `Option<Claims<T>>` or
    /// `Option<Authenticated>`); a token that is present must still be valid. For routes that serve everyone but
    /// show more to signed-in users.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

impl<S, V, T, R> Layer<S> for BearerAuthLayer<V, T, R> {
    type Service = BearerAuth<S, V, T, R>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            shared: Arc::new(self.clone()),
        }
    }
}

/// The 401 of a request without a token, for a layer with (`dpop`) or without a DPoP policy.
pub(crate) fn missing_token(dpop: Option<&Arc<DpopChallenge>>) -> Error {
    let description = match dpop {
        None => "an access token is required: Authorization: Bearer <token>",
        Some(d) if d.bearer => {
            "an access token is required: Authorization: Bearer <token>, or Authorization: DPoP <token> with a DPoP proof"
        }
        Some(_) => {
            "a DPoP-bound access token is required: Authorization: DPoP <token> with a DPoP proof"
        }
    };
    Error::missing_token(description).with_layer(None, dpop.cloned())
}

/// Left in a request without a token that an [`BearerAuthLayer::optional`] layer let through, so that a route
/// requirement behind it answers 401 with the layer's challenge rather than a wiring error.
#[derive(Debug, Clone)]
pub(crate) struct Anonymous {
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) dpop: Option<Arc<DpopChallenge>>,
    pub(crate) resource: Option<Arc<ResourceChallenge>>,
}

impl Anonymous {
    /// The 401 a route requirement answers this request with.
    pub(crate) fn missing_token(&self) -> Error {
        missing_token(self.dpop.as_ref())
            .with_layer(self.realm.clone(), self.dpop.clone())
            .with_resource(self.resource.clone())
    }
}

/// The service [`BearerAuthLayer`] wraps around a route.
pub struct BearerAuth<S, V, T = Map<String, Value>, R = NoRevocation> {
    inner: S,
    shared: Arc<BearerAuthLayer<V, T, R>>,
}

impl<S: Clone, V, T, R> Clone for BearerAuth<S, V, T, R> {
    fn clone(&self) -> Self {
        BearerAuth {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: std::fmt::Debug, V, T, R> std::fmt::Debug for BearerAuth<S, V, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("layer", &self.shared)
            .finish()
    }
}

impl<V: TokenVerifier, T: TokenClaims, R: RevocationCheck<T>> BearerAuthLayer<V, T, R> {
    /// The whole check of one request: `Ok(None)` only for a request without a token under
    /// [`BearerAuthLayer::optional`]. `path` is the request's path as received (for a DPoP proof's `htu`).
    async fn authenticate(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Option<Authenticated>, Error> {
        let found = credential(headers, self.cookie.as_deref(), self.dpop.is_some())?;
        let (token, dpop) = match (found, &self.dpop) {
            (Some(Credential::Dpop(token)), Some(dpop)) => (token, dpop),
            (Some(Credential::Bearer(_)), Some(dpop)) if dpop.is_required() => {
                return Err(missing_token(self.dpop_challenge.as_ref()));
            }
            (Some(Credential::Bearer(token)), _) => {
                let claims = self.verified(token).await?;
                refuse_bound_as_bearer(&claims.registered)?;
                self.not_revoked(&claims).await?;
                return Ok(Some(
                    Authenticated::new(claims, self.realm.clone())
                        .with_dpop(self.dpop_challenge.clone(), None)
                        .with_resource(self.resource.clone()),
                ));
            }
            // `credential` finds a DPoP one only for a layer with a policy; without, it is an unsupported scheme.
            (Some(Credential::Dpop(_)) | None, _) if self.optional => return Ok(None),
            (Some(Credential::Dpop(_)) | None, _) => {
                return Err(missing_token(self.dpop_challenge.as_ref()));
            }
        };
        let checked = async {
            let claims = self.verified(token).await?;
            let proof = dpop
                .check(method, path, headers, token, claims.registered.cnf.as_ref())
                .await?;
            self.not_revoked(&claims).await?;
            Ok(Authenticated::new(claims, self.realm.clone())
                .with_dpop(self.dpop_challenge.clone(), Some(proof.jkt.into()))
                .with_resource(self.resource.clone()))
        };
        checked.await.map(Some).map_err(Error::in_dpop_scheme)
    }

    async fn not_revoked(&self, claims: &Claims<T>) -> Result<(), Error> {
        if self.revocation.is_revoked(claims).await? {
            return Err(Error::invalid_token("the token has been revoked"));
        }
        Ok(())
    }

    /// The token's claims: from the cache when it holds them and the verifier's time window allows, else from the
    /// verifier (and then cached).
    async fn verified(&self, token: &str) -> Result<Arc<Claims<T>>, Error> {
        // A cache of capacity 0 (turned off by configuration) is not even asked.
        let Some(cache) = self.cache.as_ref().filter(|c| c.capacity() > 0) else {
            return Ok(Arc::new(
                self.verifier.verify_token::<T>(token).await?.claims,
            ));
        };
        let keys = self.verifier.key_generation().await?;
        if self.cache_keys.load(Ordering::Acquire) != keys {
            // Emptied before the new generation is recorded: a request that sees it recorded finds no entry
            // verified under the old keys.
            cache.clear();
            self.cache_keys.store(keys, Ordering::Release);
        }
        let now = self.verifier.now();
        let miss = match cache.lookup(token, now) {
            Ok(claims) => return Ok(claims),
            Err(miss) => miss,
        };
        let verified = self.verifier.verify_token::<T>(token).await?;
        let claims = Arc::new(verified.claims);
        cache.fill(miss, claims.clone(), verified.valid, now);
        Ok(claims)
    }
}

impl<S, V, T, R, B, ResBody> Service<Request<B>> for BearerAuth<S, V, T, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    V: TokenVerifier,
    T: TokenClaims,
    R: RevocationCheck<T>,
    B: Send + 'static,
    ResBody: From<String> + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let verdict = shared
                .authenticate(request.method(), request.uri().path(), request.headers())
                .await;
            match verdict {
                Ok(Some(auth)) => {
                    request.extensions_mut().insert(auth);
                    inner.call(request).await
                }
                Ok(None) => {
                    request.extensions_mut().insert(Anonymous {
                        realm: shared.realm.clone(),
                        dpop: shared.dpop_challenge.clone(),
                        resource: shared.resource.clone(),
                    });
                    inner.call(request).await
                }
                Err(e) => Ok(e
                    .with_layer(shared.realm.clone(), shared.dpop_challenge.clone())
                    .with_resource(shared.resource.clone())
                    .to_response()),
            }
        })
    }
}

/// A token bound to a key is no bearer token: with `cnf.jkt` it needs its DPoP proof, with another confirmation
/// method (mTLS's `x5t#S256`, …) a check this layer cannot make. Refused on every layer, with a DPoP policy or
/// without: a binding that some layer skips binds nothing.
fn refuse_bound_as_bearer(claims: &waxseal::jwt::RegisteredClaims) -> Result<(), Error> {
    match &claims.cnf {
        None => Ok(()),
        Some(cnf) if cnf.jkt.is_some() => Err(Error::invalid_token(
            "this token is DPoP-bound; send it as Authorization: DPoP with a proof",
        )),
        Some(_) => Err(Error::invalid_token(
            "this token is bound to a key (cnf) that this API cannot check; it is not accepted as a bearer token",
        )),
    }
}
