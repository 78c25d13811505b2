//! OAuth protected resource metadata (RFC 9728), as MCP servers need it: a client that knows nothing but the
//! resource's URL learns from a 401 where the metadata document is, and from the document which authorization
//! server issues tokens for it and with which scopes.
//!
//! [`ProtectedResource`] is the configuration: the resource identifier (the absolute URL clients call, such as
//! `https://mcp.example.com/mcp`), the issuers of its tokens, the scopes. [`ProtectedResource::build`] checks it and
//! makes a [`ResourceMetadata`]: the JSON document, serialized once, and the challenge parameters
//! (`resource_metadata="…"`, `scope="…"`), formatted once. Then
//!
//! * [`ResourceMetadata::router`] serves the document at the well-known URL RFC 9728 §3.1 derives from the
//!   identifier (`https://h/mcp` → `https://h/.well-known/oauth-protected-resource/mcp`) and at the plain
//!   `/.well-known/oauth-protected-resource`, as `application/json` with `Cache-Control: max-age`. Merge it
//!   into the outermost router *after* the [`crate::BearerAuthLayer`]: the document is public.
//! * [`crate::BearerAuthLayer::protected_resource`] makes every challenge of the layer, and of the route
//!   requirements behind it, carry `resource_metadata` (RFC 9728 §5.1), and every 401 the `scope` a token needs
//!   (a 403 `insufficient_scope` names the route's own scope: the client steps up to it).
//!
//! A layer with a [`Dpop`] policy should say so in the document too: [`ProtectedResource::dpop`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::dpop::Dpop;
use crate::error::{Error, ResourceChallenge};
use crate::require::is_scope_token;

/// The well-known path segment of RFC 9728 §3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// How long clients may cache the document by default.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The configuration of a protected resource's metadata (RFC 9728 §2), checked by [`ProtectedResource::build`].
///
/// Safe defaults: `bearer_methods_supported: ["header"]` (a token in a query or a body is not taken), no scopes
/// named, no DPoP members, `Cache-Control: public, max-age=3600`. Options:
/// [`authorization_server`](ProtectedResource::authorization_server), [`scopes`](ProtectedResource::scopes),
/// [`scopes_supported`](ProtectedResource::scopes_supported), [`resource_name`](ProtectedResource::resource_name),
/// [`resource_documentation`](ProtectedResource::resource_documentation), [`dpop`](ProtectedResource::dpop),
/// [`max_age`](ProtectedResource::max_age).
///
/// ```
/// use waxseal_axum::ProtectedResource;
///
/// let metadata = ProtectedResource::new("https://mcp.example.com/mcp")
///     .authorization_server("https://auth.example.com")
///     .scopes(["mcp:tools"])
///     .build()?;
/// assert_eq!(metadata.metadata_url(), "https://mcp.example.com/.well-known/oauth-protected-resource/mcp");
/// assert!(ProtectedResource::new("https://mcp.example.com/mcp#frag").build().is_err());
/// # Ok::<(), waxseal_axum::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    resource: String,
    authorization_servers: Vec<String>,
    scopes: Vec<String>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    dpop: Option<(Vec<String>, bool)>,
    max_age: Duration,
}

impl ProtectedResource {
    /// The resource whose identifier is `resource`: the absolute `http(s)` URL clients call it at (RFC 9728 §1.2;
    /// the audience its tokens are for, RFC 8707), without query or fragment.
    pub fn new(resource: impl Into<String>) -> Self {
        ProtectedResource {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes: Vec::new(),
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
            dpop: None,
            max_age: DEFAULT_MAX_AGE,
        }
    }

    /// Adds an authorization server, by its issuer identifier (RFC 8414: an absolute URL without query or
    /// fragment); clients find its metadata at the issuer's well-known URL.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes a token needs for this resource: named as `scope="…"` in every 401 challenge, so that a client
    /// asks for them, and listed in `scopes_supported`.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// More scopes for `scopes_supported` only (those of some routes, for [`crate::RequireScope`] to ask for).
    #[must_use]
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.scopes_supported
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// `resource_name`: a human-readable name for consent screens.
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// `resource_documentation`: the URL of documentation for developers.
    #[must_use]
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// `dpop_signing_alg_values_supported` (the proof algorithms `policy` accepts) and
    /// `dpop_bound_access_tokens_required` (whether it is [`Dpop::required`]): give the policy the layer has.
    #[must_use]
    pub fn dpop(mut self, policy: &Dpop) -> Self {
        let algs = policy
            .proof_verifier()
            .allowed_algorithms()
            .iter()
            .map(|a| a.name().to_owned())
            .collect();
        self.dpop = Some((algs, policy.is_required()));
        self
    }

    /// How long clients and caches may keep the document (`Cache-Control: public, max-age=…`).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The checked metadata: the document serialized and the challenge parameters formatted, once.
    ///
    /// An error ([`crate::ErrorKind::Misconfigured`]) when the resource or an issuer is not an absolute `http(s)`
    /// URL without user information, query or fragment, when there is no authorization server, when a scope is
    /// not an RFC 6749 scope token, or when the documentation URL is not an absolute `http(s)` URL.
    pub fn build(self) -> Result<ResourceMetadata, Error> {
        let resource = absolute_url("resource", &self.resource)?;
        if self.authorization_servers.is_empty() {
            return Err(Error::misconfigured(
                "a protected resource needs at least one authorization server (its issuer URL)",
            ));
        }
        for issuer in &self.authorization_servers {
            absolute_url("authorization server", issuer)?;
        }
        if let Some(url) = &self.resource_documentation {
            absolute_url("resource documentation", url)?;
        }
        let mut supported: Vec<&str> = Vec::new();
        for scope in self.scopes.iter().chain(&self.scopes_supported) {
            if !is_scope_token(scope) {
                return Err(Error::misconfigured(format!(
                    "{scope:?} is not an RFC 6749 scope token (non-empty, no space, '\"' or '\\')"
                )));
            }
            if !supported.contains(&scope.as_str()) {
                supported.push(scope);
            }
        }

        let (origin, path) = split_origin(resource);
        // RFC 9728 §3.1: the well-known segment goes between the host and the path; a lone `/` is no path.
        let suffix = if path == "/" { "" } else { path };
        let well_known_path = format!("{WELL_KNOWN}{suffix}");
        let metadata_url = format!("{origin}{well_known_path}");

        let mut document = Map::new();
        document.insert("resource".into(), self.resource.clone().into());
        document.insert(
            "authorization_servers".into(),
            self.authorization_servers.clone().into(),
        );
        if !supported.is_empty() {
            document.insert("scopes_supported".into(), supported.clone().into());
        }
        document.insert("bearer_methods_supported".into(), vec!["header"].into());
        if let Some(name) = &self.resource_name {
            document.insert("resource_name".into(), name.clone().into());
        }
        if let Some(url) = &self.resource_documentation {
            document.insert("resource_documentation".into(), url.clone().into());
        }
        if let Some((algs, required)) = &self.dpop {
            document.insert(
                "dpop_signing_alg_values_supported".into(),
                algs.clone().into(),
            );
            document.insert(
                "dpop_bound_access_tokens_required".into(),
                Value::Bool(*required),
            );
        }
        let document = serde_json::to_vec(&Value::Object(document))
            .map_err(|_| Error::misconfigured("the resource metadata could not be serialized"))?;
        let cache_control =
            HeaderValue::from_str(&format!("public, max-age={}", self.max_age.as_secs()))
                .map_err(|_| Error::misconfigured("the resource metadata's max-age"))?;

        let challenge = ResourceChallenge {
            // A checked URL is printable ASCII without `"` or `\`: a valid quoted-string as it is.
            metadata: format!("resource_metadata=\"{metadata_url}\"").into(),
            scope: (!self.scopes.is_empty())
                .then(|| format!("scope=\"{}\"", self.scopes.join(" ")).into()),
        };
        Ok(ResourceMetadata {
            inner: Arc::new(Inner {
                resource: self.resource,
                metadata_url,
                well_known_path,
                document: Bytes::from(document),
                cache_control,
                challenge: Arc::new(challenge),
            }),
        })
    }
}

/// A protected resource's checked metadata (from [`ProtectedResource::build`]): its document, the router serving
/// it, and the challenge parameters for [`crate::BearerAuthLayer::protected_resource`]. Cheap to clone.
#[derive(Clone)]
pub struct ResourceMetadata {
    inner: Arc<Inner>,
}

struct Inner {
    resource: String,
    metadata_url: String,
    well_known_path: String,
    document: Bytes,
    cache_control: HeaderValue,
    challenge: Arc<ResourceChallenge>,
}

impl fmt::Debug for ResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMetadata")
            .field("resource", &self.inner.resource)
            .field("metadata_url", &self.inner.metadata_url)
            .finish_non_exhaustive()
    }
}

impl ResourceMetadata {
    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// The document's URL (RFC 9728 §3.1), as the challenges' `resource_metadata` name it.
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// The path the document is served at: `/.well-known/oauth-protected-resource` followed by the resource's path.
    pub fn well_known_path(&self) -> &str {
        &self.inner.well_known_path
    }

    /// The JSON document, as served.
    pub fn document(&self) -> &Bytes {
        &self.inner.document
    }

    /// A router answering `GET` (and `HEAD`) at [`ResourceMetadata::well_known_path`] and, for a resource with a
    /// path, at the plain `/.well-known/oauth-protected-resource` too (for clients that look only there): the
    /// document, `Content-Type: application/json`, `Cache-Control: public, max-age=…`. Merge it outside the
    /// [`crate::BearerAuthLayer`].
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let inner = self.inner.clone();
        let serve = move || {
            let inner = inner.clone();
            async move {
                (
                    StatusCode::OK,
                    [
                        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                        (CACHE_CONTROL, inner.cache_control.clone()),
                    ],
                    inner.document.clone(),
                )
            }
        };
        let router = Router::new().route(&self.inner.well_known_path, get(serve.clone()));
        if self.inner.well_known_path == WELL_KNOWN {
            router
        } else {
            router.route(WELL_KNOWN, get(serve))
        }
    }

    /// The challenge parameters, for the layer.
    pub(crate) fn challenge(&self) -> Arc<ResourceChallenge> {
        self.inner.challenge.clone()
    }
}

/// `url` checked to be an absolute `http(s)` URL with a host, without user information, query or fragment, made
/// only of printable ASCII other than `"` and `\` (so that it can stand in a quoted-string).
fn absolute_url<'a>(what: &str, url: &'a str) -> Result<&'a str, Error> {
    let bad = |why: &str| {
        Error::misconfigured(format!(
            "the {what} URL {url:?} {why}; give an absolute https URL such as https://mcp.example.com/mcp"
        ))
    };
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err(bad("is not an http or https URL"));
    };
    if !url
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err(bad("has spaces or characters a URL cannot have"));
    }
    if url.contains('#') {
        return Err(bad("has a fragment"));
    }
    if url.contains('?') {
        return Err(bad("has a query"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.starts_with(':') {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("carries user information"));
    }
    Ok(url)
}

/// A checked URL's `scheme://authority` and its path (`""` when it has none).
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_url_goes_between_host_and_path() {
        let url = |resource: &str| {
            ProtectedResource::new(resource)
                .authorization_server("https://auth.example.com")
                .build()
                .map(|m| m.metadata_url().to_owned())
                .map_err(|e| e.kind())
        };
        assert_eq!(
            url("https://h.example").as_deref(),
            Ok("https://h.example/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            url("https://h.example/").as_deref(),
            Ok("https://h.example/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            url("http://h.example:8080/a/mcp").as_deref(),
            Ok("http://h.example:8080/.well-known/oauth-protected-resource/a/mcp")
        );
    }
}
