//! Per-route requirements, as route layers behind [`crate::BearerAuthLayer`]: a scope ([`RequireScope`]), an
//! audience ([`RequireAudience`]), or any predicate over the claims ([`RequireClaims`]).
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use waxseal_axum::{BearerAuthLayer, RequireScope};
//! # let verifier = waxseal::jwt::Verifier::new(waxseal::KeySet::new([])?);
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "orders" }).route_layer(RequireScope::all(["orders:read"])))
//!     .route("/orders", post(|| async { "made" }).route_layer(RequireScope::all(["orders:write"])))
//!     .layer(BearerAuthLayer::new(verifier)); // outermost: runs first
//! # Ok::<(), waxseal::Error>(())
//! ```
//!
//! A requirement reads the [`Authenticated`] the layer left in the request. Without one (the route is not behind
//! the layer) it answers 500 and logs the wiring mistake; behind an [`optional`](crate::BearerAuthLayer::optional)
//! layer, a request without a token gets the 401 challenge.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{Request, Response};
use serde::de::DeserializeOwned;
use tower::{Layer, Service};
use waxseal::jwt::Claims;

use crate::claims::{Authenticated, not_behind_the_layer};
use crate::error::Error;
use crate::layer::Anonymous;

/// A check of an authenticated request, made before the route's handler runs.
pub trait Requirement: Clone + Send + Sync + 'static {
    /// `Err` refuses the request with that error (its realm is the layer's).
    fn check(&self, auth: &Authenticated) -> Result<(), Error>;
}

/// The service of a requirement's route layer.
#[derive(Debug, Clone)]
pub struct Require<S, Q> {
    inner: S,
    requirement: Q,
}

/// A route layer that lets a request through only if `Q` accepts its verified token.
#[derive(Debug, Clone)]
pub struct RequireLayer<Q>(Q);

impl<Q: Requirement> RequireLayer<Q> {
    /// The layer for `requirement`.
    pub fn new(requirement: Q) -> Self {
        RequireLayer(requirement)
    }
}

impl<S, Q: Clone> Layer<S> for RequireLayer<Q> {
    type Service = Require<S, Q>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            requirement: self.0.clone(),
        }
    }
}

type BoxFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, Q, B, ResBody> Service<Request<B>> for Require<S, Q>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    Q: Requirement,
    ResBody: From<String> + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let verdict = match request.extensions().get::<Authenticated>() {
            Some(auth) => self.requirement.check(auth).map_err(|e| auth.error(e)),
            None => Err(match request.extensions().get::<Anonymous>() {
                Some(anonymous) => anonymous.missing_token(),
                None => not_behind_the_layer("a route requirement"),
            }),
        };
        match verdict {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(e) => {
                let response = e.to_response();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

macro_rules! requirement_layer {
    ($type:ty) => {
        impl<S> Layer<S> for $type {
            type Service = Require<S, $type>;

            fn layer(&self, inner: S) -> Self::Service {
                Require {
                    inner,
                    requirement: self.clone(),
                }
            }
        }
    };
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Requires scopes of the token (see [`crate::TokenClaims::scopes`]): all of them, or any one. Refusal: 403
/// `insufficient_scope` with `scope="…"` naming the scopes in the challenge (RFC 6750 §3.1).
#[derive(Debug, Clone)]
pub struct RequireScope {
    scopes: Arc<[String]>,
    all: bool,
    /// The scopes, space-separated, as the challenge names them.
    named: Arc<str>,
}

impl RequireScope {
    /// Every one of `scopes`.
    ///
    /// # Panics
    ///
    /// When a scope is not an RFC 6749 §3.3 scope token (empty, or with a space, `"` or `\`): the route table is
    /// wrong, and it is better to learn that at start-up than from a malformed challenge.
    pub fn all<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::new(scopes, true)
    }

    /// At least one of `scopes`. Panics as [`RequireScope::all`] does.
    pub fn any<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::new(scopes, false)
    }

    fn new<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I, all: bool) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        for scope in &scopes {
            assert!(
                is_scope_token(scope),
                "RequireScope: {scope:?} is not an RFC 6749 scope token"
            );
        }
        assert!(!scopes.is_empty(), "RequireScope: no scope given");
        RequireScope {
            named: scopes.join(" ").into(),
            scopes: scopes.into(),
            all,
        }
    }
}

impl Requirement for RequireScope {
    fn check(&self, auth: &Authenticated) -> Result<(), Error> {
        let granted = auth.scopes();
        let ok = if self.all {
            self.scopes.iter().all(|s| granted.contains(s))
        } else {
            self.scopes.iter().any(|s| granted.contains(s))
        };
        if ok {
            return Ok(());
        }
        let description = match (self.all, self.scopes.len()) {
            (_, 1) => format!("this resource requires the scope {}", self.named),
            (true, _) => format!("this resource requires the scopes {}", self.named),
            (false, _) => format!("this resource requires one of the scopes {}", self.named),
        };
        Err(Error::insufficient_scope(description, self.named.clone()))
    }
}

requirement_layer!(RequireScope);

/// Requires the token's `aud` to name one of these audiences; for a router serving several resources with one
/// verifier that accepts all of them. Refusal: 401 `invalid_token` (RFC 9068 §4: a token for another audience is
/// not valid here).
#[derive(Debug, Clone)]
pub struct RequireAudience {
    audiences: Arc<[String]>,
}

impl RequireAudience {
    /// At least one of `audiences`.
    pub fn any<I: IntoIterator<Item = S>, S: Into<String>>(audiences: I) -> Self {
        RequireAudience {
            audiences: audiences.into_iter().map(Into::into).collect(),
        }
    }
}

impl Requirement for RequireAudience {
    fn check(&self, auth: &Authenticated) -> Result<(), Error> {
        let accepted = auth
            .registered()
            .aud
            .as_ref()
            .is_some_and(|aud| self.audiences.iter().any(|a| aud.contains(a)));
        if accepted {
            Ok(())
        } else {
            Err(Error::invalid_token(
                "the token's audience (aud) is not this resource",
            ))
        }
    }
}

requirement_layer!(RequireAudience);

type Predicate = dyn Fn(&Authenticated) -> Result<bool, Error> + Send + Sync;

/// Requires a predicate over the claims to hold. Refusal: 403 `insufficient_scope` (RFC 6750: "the request
/// requires higher privileges than provided by the access token") with `message` as the description.
///
/// ```
/// use waxseal::jwt::Claims;
/// use waxseal_axum::RequireClaims;
/// #[derive(serde::Deserialize)]
/// struct Staff { role: String }
/// let admins_only = RequireClaims::new(|c: &Claims<Staff>| c.custom.role == "admin", "administrators only");
/// ```
#[derive(Clone)]
pub struct RequireClaims {
    predicate: Arc<Predicate>,
    message: Arc<str>,
}

impl std::fmt::Debug for RequireClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireClaims")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl RequireClaims {
    /// `predicate` over the claims as `T` (obtained as the [`crate::Claims`] extractor does); `message` is what the
    /// client is told when it is false.
    pub fn new<T, F>(predicate: F, message: impl Into<String>) -> Self
    where
        T: DeserializeOwned + Send + Sync + 'static,
        F: Fn(&Claims<T>) -> bool + Send + Sync + 'static,
    {
        RequireClaims {
            predicate: Arc::new(move |auth: &Authenticated| {
                auth.claims::<T>().map(|claims| predicate(&claims))
            }),
            message: message.into().into(),
        }
    }
}

impl Requirement for RequireClaims {
    fn check(&self, auth: &Authenticated) -> Result<(), Error> {
        if (self.predicate)(auth)? {
            Ok(())
        } else {
            Err(Error::insufficient(self.message.to_string()))
        }
    }
}

requirement_layer!(RequireClaims);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_per_rfc_6749() {
        assert!(is_scope_token("orders:read"));
        assert!(is_scope_token("!#[]~"));
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }

    #[test]
    #[should_panic(expected = "not an RFC 6749 scope token")]
    fn a_scope_with_a_quote_is_refused_at_start_up() {
        let _ = RequireScope::all(["a\"b"]);
    }
}
