//! Resource indicators (RFC 8707): the resource servers a token may be asked for, and what asking for one does.
//!
//! A token here is for one audience. RFC 8707 lets a request name several resources, which would make one token
//! good at each of them, so that any of those servers (or whoever stole the token from one) could replay it at the
//! others. A request names one resource, and its access token then has that URI as its only `aud` and only the
//! scopes the resource accepts. The server's own `/api/*` and `/userinfo` accept only its configured audience, so
//! a token for a resource is refused there. A session remembers its resource: a refresh keeps it, and asking a
//! refresh for another one is refused before the refresh token is used.
//!
//! Resources are registered (`waxseal resource add`), never taken from the request as given: an audience the
//! operator did not name is a token for a server nobody vouched for.

use url::Url;

use super::AuthService;
use super::authorize::OIDC_SCOPES;
use super::clients::check_scope_tokens;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{Client, Resource};

/// The longest resource URI registered or asked for, in bytes.
pub const MAX_RESOURCE_URI_LEN: usize = 512;

/// What a request naming several resources is told.
pub const ONE_RESOURCE: &str = "send one resource parameter: RFC 8707 allows several, but a token of this server is \
     for one audience; ask for one token per resource";

/// The scopes about the grant itself rather than a resource: kept when a grant is narrowed to a resource.
const GRANT_SCOPES: [&str; 2] = ["openid", "offline_access"];

pub(super) fn invalid_target(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidTarget, message)
}

/// Checks the shape of a resource URI (RFC 8707 §2): absolute, https — or http to a loopback host —, no fragment,
/// no user info, at most [`MAX_RESOURCE_URI_LEN`] bytes of the characters RFC 3986 allows in a URI. Returns what
/// is wrong, without echoing it.
pub fn check_resource_uri(uri: &str) -> std::result::Result<(), &'static str> {
    let uri_char = |b: u8| b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b);
    if uri.len() > MAX_RESOURCE_URI_LEN || !uri.bytes().all(uri_char) {
        return Err(
            "a resource URI is at most 512 bytes of the characters a URI may hold (RFC 3986), percent-encoded",
        );
    }
    let Ok(parsed) = Url::parse(uri) else {
        return Err("a resource must be an absolute URI (RFC 8707 §2)");
    };
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err("a resource URI may not have a fragment (RFC 8707 §2)");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a resource URI may not hold user info");
    }
    let loopback = matches!(parsed.host(), Some(url::Host::Domain("localhost")))
        || matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(
            "a resource URI uses https (http only for 127.0.0.1, [::1] or localhost) and names a host",
        ),
    }
}

/// `granted` narrowed to what `resource` accepts, keeping the scopes about the grant itself (`openid`,
/// `offline_access`), in the order given.
pub(super) fn narrow_to_resource(granted: &[String], resource: &Resource) -> Vec<String> {
    granted
        .iter()
        .filter(|s| GRANT_SCOPES.contains(&s.as_str()) || resource.scopes.contains(s))
        .cloned()
        .collect()
}

/// Whether `client` may ask for `resource`: it may hold at least one scope the resource accepts.
pub(super) fn client_may_ask(client: &Client, resource: &Resource) -> bool {
    client.scopes.iter().any(|s| resource.scopes.contains(s))
}

impl AuthService {
    /// Registers a resource server tokens may be asked for with `resource`: its URI, exactly as clients will send
    /// it (compared byte for byte, never normalized), and the scopes it accepts (at least one).
    pub async fn add_resource(&self, uri: &str, scopes: &[String]) -> Result<Resource> {
        check_resource_uri(uri).map_err(|m| Error::new(ErrorKind::InvalidRequest, m))?;
        if scopes.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "a resource accepts at least one scope: give --scope",
            ));
        }
        check_scope_tokens(scopes)?;
        let mut accepted: Vec<String> = Vec::new();
        for scope in scopes {
            if OIDC_SCOPES.contains(&scope.as_str()) {
                return Err(Error::new(
                    ErrorKind::InvalidRequest,
                    format!("{scope} is a scope of this server's sign-in, not of a resource"),
                ));
            }
            if !accepted.contains(scope) {
                accepted.push(scope.clone());
            }
        }
        let resource = Resource {
            uri: uri.to_owned(),
            scopes: accepted,
            created_at: self.now(),
        };
        self.store
            .create_resource(&resource)
            .await
            .map_err(|e| match Error::from(e) {
                e if e.kind() == ErrorKind::Conflict => Error::new(
                    ErrorKind::Conflict,
                    "this resource is registered already; `waxseal resource remove` it first to change its scopes",
                ),
                e => e,
            })?;
        tracing::info!(resource = %resource.uri, "resource added");
        Ok(resource)
    }

    /// Every registered resource, by URI.
    pub async fn resources(&self) -> Result<Vec<Resource>> {
        Ok(self.store.list_resources().await?)
    }

    /// Removes a resource: no token is issued for it from now on, and sessions bound to it can no longer be
    /// refreshed. Access tokens already issued for it keep their `aud` until they expire.
    pub async fn remove_resource(&self, uri: &str) -> Result<()> {
        if uri.len() > MAX_RESOURCE_URI_LEN || !self.store.delete_resource(uri).await? {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "no such resource; `waxseal resource list` shows the registered URIs",
            ));
        }
        tracing::info!(resource = %uri, "resource removed");
        Ok(())
    }

    /// The registered resource `requested` names, if `client` may ask for it; [`ErrorKind::InvalidTarget`]
    /// otherwise.
    pub(super) async fn resource_for(&self, client: &Client, requested: &str) -> Result<Resource> {
        check_resource_uri(requested).map_err(invalid_target)?;
        let resource = self.registered_resource(requested).await?;
        if !client_may_ask(client, &resource) {
            return Err(invalid_target(
                "this client may hold none of the scopes the resource accepts",
            ));
        }
        Ok(resource)
    }

    /// The resource registered as `uri`; [`ErrorKind::InvalidTarget`] when there is none (any more).
    pub(super) async fn registered_resource(&self, uri: &str) -> Result<Resource> {
        self.store
            .resource_by_uri(uri)
            .await?
            .ok_or_else(|| invalid_target("the resource is not registered with this server"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_uris_are_absolute_https_or_loopback_http_without_fragment() {
        for good in [
            "https://api.example",
            "https://api.example/mcp",
            "https://api.example:8443/v1?tenant=a",
            "http://127.0.0.1:8080/mcp",
            "http://localhost/",
            "http://[::1]/",
        ] {
            assert!(check_resource_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "https://api.example/#frag",
            "https://api.example/#",
            "http://api.example/",
            "/relative",
            "urn:example:api",
            "https://user@api.example/",
            "https://api.example/a b",
            "https://api.example/\"x\"",
            "https://api.example/é",
            &format!("https://api.example/{}", "a".repeat(MAX_RESOURCE_URI_LEN)),
        ] {
            assert!(check_resource_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn narrowing_keeps_the_resources_scopes_and_the_grants_own() {
        let resource = Resource {
            uri: "https://api.example".into(),
            scopes: vec!["read".into()],
            created_at: 0,
        };
        let granted: Vec<String> = ["openid", "read", "write", "offline_access", "profile"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            narrow_to_resource(&granted, &resource),
            ["openid", "read", "offline_access"]
        );
    }
}
