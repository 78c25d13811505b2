//! What the layer leaves in the request for handlers: the verified claims, typed, and the extractors that hand
//! them out.
//!
//! The layer stores one [`Authenticated`] in the request extensions: a shared pointer to the verified
//! `waxseal::jwt::Claims<T>` (the very one the verified-token cache holds, so a cache hit copies nothing). Route
//! requirements read it without knowing `T` ([`Authenticated::registered`], [`Authenticated::scopes`]); handlers
//! take [`Claims<T>`], which is a downcast when `T` is the layer's type and a deserialization from the verified JSON
//! when the layer keeps the default `serde_json::Map` and the handler wants its own struct.

use std::any::Any;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use waxseal::jwt::{self, RegisteredClaims};

use crate::error::{DpopChallenge, Error, ResourceChallenge};

/// A claims type the layer can carry: deserializable, shareable between threads, and able to say which scopes
/// the token grants (for [`crate::RequireScope`]).
///
/// Implemented for `serde_json::Map<String, Value>` (the layer's default) and `serde_json::Value`, reading the
/// `scope` claim (RFC 8693 §4.2, RFC 9068 §2.2.3: space-separated) or else `scp` (an array, as Okta and Entra ID
/// send). For your own struct, one line says where the scopes are; without it [`TokenClaims::scopes`] is empty
/// and every [`crate::RequireScope`] refuses — closed, never open.
///
/// ```
/// use waxseal_axum::{Scopes, TokenClaims};
/// #[derive(serde::Deserialize)]
/// struct Access { scope: Option<String>, tenant: String }
/// impl TokenClaims for Access {
///     fn scopes(&self) -> Scopes<'_> { Scopes::space_separated(self.scope.as_deref()) }
/// }
/// ```
pub trait TokenClaims: DeserializeOwned + Send + Sync + 'static {
    /// The scopes the token grants; none by default.
    fn scopes(&self) -> Scopes<'_> {
        Scopes::NONE
    }
}

impl TokenClaims for Map<String, Value> {
    fn scopes(&self) -> Scopes<'_> {
        Scopes::of_json(self.get("scope").or_else(|| self.get("scp")))
    }
}

impl TokenClaims for Value {
    fn scopes(&self) -> Scopes<'_> {
        self.as_object().map_or(Scopes::NONE, TokenClaims::scopes)
    }
}

/// The scopes of a token, borrowed from its claims: a space-separated string, a list, or none.
#[derive(Debug, Clone, Copy)]
pub struct Scopes<'a>(Repr<'a>);

#[derive(Debug, Clone, Copy)]
enum Repr<'a> {
    None,
    SpaceSeparated(&'a str),
    List(&'a [String]),
    Json(&'a [Value]),
}

impl<'a> Scopes<'a> {
    /// No scopes.
    pub const NONE: Scopes<'static> = Scopes(Repr::None);

    /// An RFC 6749 §3.3 `scope` value: scope tokens separated by spaces.
    pub fn space_separated(scope: Option<&'a str>) -> Self {
        scope.map_or(Scopes(Repr::None), |s| Scopes(Repr::SpaceSeparated(s)))
    }

    /// One scope per element.
    pub fn list(scopes: &'a [String]) -> Self {
        Scopes(Repr::List(scopes))
    }

    /// A JSON `scope`/`scp` value: a space-separated string or an array of strings (other elements ignored).
    pub fn of_json(value: Option<&'a Value>) -> Self {
        match value {
            Some(Value::String(s)) => Scopes(Repr::SpaceSeparated(s)),
            Some(Value::Array(items)) => Scopes(Repr::Json(items)),
            _ => Scopes(Repr::None),
        }
    }

    /// Each scope, in token order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (words, list, json): (Option<&'a str>, &'a [String], &'a [Value]) = match self.0 {
            Repr::None => (None, &[], &[]),
            Repr::SpaceSeparated(s) => (Some(s), &[], &[]),
            Repr::List(l) => (None, l, &[]),
            Repr::Json(j) => (None, &[], j),
        };
        words
            .into_iter()
            .flat_map(|s| s.split(' ').filter(|s| !s.is_empty()))
            .chain(list.iter().map(String::as_str))
            .chain(json.iter().filter_map(Value::as_str))
    }

    /// Whether `scope` is one of them (whole scope tokens only: `admin` is not in `administrator`).
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|s| s == scope)
    }
}

/// What the layer keeps of a verified token, whatever its claims type.
trait Erased: Send + Sync {
    fn registered(&self) -> &RegisteredClaims;
    fn scopes(&self) -> Scopes<'_>;
    /// The whole claims object, when the layer carries the default map.
    fn as_map(&self) -> Option<&Map<String, Value>>;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn type_name(&self) -> &'static str;
}

impl<T: TokenClaims> Erased for jwt::Claims<T> {
    fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }

    fn scopes(&self) -> Scopes<'_> {
        self.custom.scopes()
    }

    fn as_map(&self) -> Option<&Map<String, Value>> {
        (&self.custom as &dyn Any).downcast_ref::<Map<String, Value>>()
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

/// A request the layer let through: its token's verified claims, whatever their type. An extractor, and what
/// route requirements read.
///
/// ```
/// use waxseal_axum::Authenticated;
/// async fn whoami(auth: Authenticated) -> String {
///     format!("{} with {:?}", auth.subject().unwrap_or("?"), auth.scopes().iter().collect::<Vec<_>>())
/// }
/// ```
#[derive(Clone)]
pub struct Authenticated {
    claims: Arc<dyn Erased>,
    realm: Option<Arc<str>>,
    /// The layer's DPoP challenge, for errors raised after it.
    dpop: Option<Arc<DpopChallenge>>,
    /// The thumbprint of the key whose proof came with a DPoP-bound token.
    dpop_jkt: Option<Arc<str>>,
    /// The layer's protected resource challenge parameters, for errors raised after it.
    resource: Option<Arc<ResourceChallenge>>,
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("sub", &self.subject())
            .field("claims", &self.claims.type_name())
            .field("dpop_jkt", &self.dpop_jkt)
            .finish_non_exhaustive()
    }
}

impl Authenticated {
    pub(crate) fn new<T: TokenClaims>(
        claims: Arc<jwt::Claims<T>>,
        realm: Option<Arc<str>>,
    ) -> Self {
        Authenticated {
            claims,
            realm,
            dpop: None,
            dpop_jkt: None,
            resource: None,
        }
    }

    /// With the layer's protected resource challenge parameters.
    pub(crate) fn with_resource(mut self, resource: Option<Arc<ResourceChallenge>>) -> Self {
        self.resource = resource;
        self
    }

    /// With the layer's DPoP challenge, and the proof key's thumbprint when the token came with a proof.
    pub(crate) fn with_dpop(
        mut self,
        challenge: Option<Arc<DpopChallenge>>,
        jkt: Option<Arc<str>>,
    ) -> Self {
        self.dpop = challenge;
        self.dpop_jkt = jkt;
        self
    }

    /// The RFC 7638 thumbprint of the key that signed this request's DPoP proof — the token's `cnf.jkt` — when
    /// the token came as `Authorization: DPoP`; `None` for a bearer token. To tie what a handler stores to the
    /// client's key rather than to a token that will be replaced.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// The registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`).
    pub fn registered(&self) -> &RegisteredClaims {
        self.claims.registered()
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.claims.registered().sub.as_deref()
    }

    /// The scopes the token grants (see [`TokenClaims`]).
    pub fn scopes(&self) -> Scopes<'_> {
        self.claims.scopes()
    }

    /// The claims as `T`: shared when `T` is the layer's claims type; deserialized from the verified claims when
    /// the layer carries the default map. An error when they do not fit `T` (401) or the layer carries another
    /// type (500: a wiring mistake).
    pub fn claims<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
    ) -> Result<Arc<jwt::Claims<T>>, Error> {
        if let Ok(claims) = self.claims.clone().into_any().downcast::<jwt::Claims<T>>() {
            return Ok(claims);
        }
        if let Some(map) = self.claims.as_map() {
            return T::deserialize(map)
                .map(|custom| {
                    Arc::new(jwt::Claims {
                        registered: self.claims.registered().clone(),
                        custom,
                    })
                })
                .map_err(|_| {
                    self.error(Error::invalid_token(
                        "the token's claims do not have the form this resource expects",
                    ))
                });
        }
        let message = format!(
            "this route takes Claims<{}> but the BearerAuthLayer in front of it carries Claims<{}>",
            std::any::type_name::<T>(),
            self.claims.type_name()
        );
        tracing::error!("{message}");
        Err(Error::misconfigured(message))
    }

    /// `e` with the layer's realm, for errors raised after the layer (requirements, extractors).
    pub(crate) fn error(&self, e: Error) -> Error {
        let e = e
            .with_layer(self.realm.clone(), self.dpop.clone())
            .with_resource(self.resource.clone());
        if self.dpop_jkt.is_some() {
            e.in_dpop_scheme()
        } else {
            e
        }
    }
}

pub(crate) fn not_behind_the_layer(what: &str) -> Error {
    let message = format!(
        "{what} needs BearerAuthLayer in front of this route (Router::layer or route_layer)"
    );
    tracing::error!("{message}");
    Error::misconfigured(message)
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(|| not_behind_the_layer("the Authenticated extractor"))
    }
}

/// `None` for a request without a token under [`crate::BearerAuthLayer::optional`] (or on a route the layer does not
/// cover).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Error> {
        Ok(parts.extensions.get::<Authenticated>().cloned())
    }
}

/// The verified claims as `T`, for handlers: `Claims(claims): Claims<MyClaims>`, then `claims.registered.sub` and
/// `claims.custom.…`. Shared with the verified-token cache, never copied, when `T` is the layer's claims type.
///
/// Rejections: 500 when the route is not behind the layer or the layer carries another claims type (a wiring
/// mistake, logged); 401 `invalid_token` when the layer carries the default map and the claims do not fit `T`.
#[derive(Debug, Clone)]
pub struct Claims<T>(pub Arc<jwt::Claims<T>>);

impl<T> Deref for Claims<T> {
    type Target = jwt::Claims<T>;

    fn deref(&self) -> &jwt::Claims<T> {
        &self.0
    }
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let auth = parts
            .extensions
            .get::<Authenticated>()
            .ok_or_else(|| not_behind_the_layer("the Claims extractor"))?;
        auth.claims().map(Claims)
    }
}

/// `None` for a request without a token under [`crate::BearerAuthLayer::optional`].
impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Error> {
        match parts.extensions.get::<Authenticated>() {
            Some(auth) => auth.claims().map(|c| Some(Claims(c))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scopes_of(value: &Value) -> Vec<String> {
        value.scopes().iter().map(str::to_owned).collect()
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        assert_eq!(scopes_of(&json!({"scope": " a  b:c "})), ["a", "b:c"]);
        assert_eq!(scopes_of(&json!({"scp": ["a", 3, "b"]})), ["a", "b"]);
        assert_eq!(scopes_of(&json!({"scope": "a", "scp": ["b"]})), ["a"]);
        assert!(scopes_of(&json!({"scope": 3})).is_empty());
        assert!(scopes_of(&json!([])).is_empty());
        let list = vec!["x".to_owned()];
        assert!(Scopes::list(&list).contains("x"));
        assert!(!Scopes::space_separated(Some("administrator")).contains("admin"));
        assert!(!Scopes::NONE.contains(""));
    }
}
