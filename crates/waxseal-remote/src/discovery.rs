//! OpenID Connect Discovery 1.0 and RFC 8414 metadata: where an issuer's keys are, and a verifier preset for it.

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::fetch;
use crate::key_set::{Options, RemoteKeySet};
use crate::verifier::RemoteVerifier;

/// The largest metadata document accepted.
const MAX_METADATA_BYTES: usize = 64 * 1024;

/// An issuer whose metadata has been fetched and checked.
#[derive(Debug, Clone)]
pub struct Issuer {
    identifier: String,
    metadata: Map<String, Value>,
    keys: RemoteKeySet,
}

impl Issuer {
    /// Fetches the issuer's metadata: `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery §4),
    /// else RFC 8414's `/.well-known/oauth-authorization-server` inserted before the issuer's path. The document's
    /// `issuer` must equal `issuer` exactly — otherwise anyone able to serve a document there could impersonate
    /// another issuer — and its `jwks_uri` must be `https` (or loopback `http`).
    pub async fn discover(issuer: &str) -> Result<Issuer> {
        Self::discover_with_options(issuer, Options::default()).await
    }

    /// [`Issuer::discover`] with options for the metadata request and the key set.
    pub async fn discover_with_options(issuer: &str, options: Options) -> Result<Issuer> {
        let base = fetch::check_url(issuer)?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(Error::new(
                ErrorKind::InsecureUrl,
                "an issuer identifier has no query or fragment (RFC 8414 §2)",
            ));
        }
        let client = fetch::client(options.timeout)?;
        let trimmed = issuer.trim_end_matches('/');
        let openid = format!("{trimmed}/.well-known/openid-configuration");
        let path = base.path().trim_end_matches('/');
        let rfc8414 = format!(
            "{}/.well-known/oauth-authorization-server{path}",
            base.origin().ascii_serialization()
        );
        let accept = "application/json";
        let mut fetched = Err(Error::new(ErrorKind::Fetch, "not fetched"));
        for url in [openid, rfc8414] {
            let url = fetch::check_url(&url)?;
            fetched = fetch::get(&client, &url, accept, MAX_METADATA_BYTES).await;
            if fetched.is_ok() {
                break;
            }
        }
        let fetched = fetched?;
        let metadata: Map<String, Value> = serde_json::from_str(&fetched.body).map_err(|e| {
            Error::new(
                ErrorKind::InvalidDocument,
                format!("the metadata of {issuer} is not a JSON object: {e}"),
            )
        })?;
        let announced = metadata.get("issuer").and_then(Value::as_str).unwrap_or("");
        if announced != issuer {
            return Err(Error::new(
                ErrorKind::IssuerMismatch,
                format!(
                    "the metadata fetched for {issuer} names the issuer {:?}; they must be identical \
                     (check the URL, including a trailing slash)",
                    fetch::shorten(announced)
                ),
            ));
        }
        let Some(jwks_uri) = metadata.get("jwks_uri").and_then(Value::as_str) else {
            return Err(Error::new(
                ErrorKind::InvalidDocument,
                format!("the metadata of {issuer} has no jwks_uri"),
            ));
        };
        let keys = RemoteKeySet::with_options(jwks_uri, options)?;
        Ok(Issuer {
            identifier: issuer.to_owned(),
            metadata,
            keys,
        })
    }

    /// The issuer identifier (the `iss` its tokens carry).
    pub fn issuer(&self) -> &str {
        &self.identifier
    }

    /// The whole metadata document.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The issuer's keys.
    pub fn key_set(&self) -> &RemoteKeySet {
        &self.keys
    }

    /// A verifier of this issuer's tokens: its keys, and `iss` required to be this issuer. Add the audience and
    /// other rules with [`RemoteVerifier::configure`].
    pub fn verifier(&self) -> RemoteVerifier {
        let issuer = self.identifier.clone();
        RemoteVerifier::new(self.keys.clone()).configure(move |v| v.issuer(issuer.clone()))
    }
}
