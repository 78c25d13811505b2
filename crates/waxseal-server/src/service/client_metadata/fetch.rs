//! The one HTTP GET of a metadata document, made safe to point at any URL an attacker chooses.
//!
//! - No redirects: a 3xx is refused, so a public URL cannot bounce the server to an internal one.
//! - Only public addresses ([`refused_address`]): the resolver drops every other address a name resolves to and
//!   fails when none is left, and the address actually connected to is checked again from the response, so a
//!   name that resolves differently the second time (DNS rebinding) gains nothing. No proxy is used, so the
//!   address connected to is the document server's.
//! - Bounded: one timeout around the whole exchange (connect, TLS, headers, body), and the body refused after the
//!   first chunk past [`MAX_DOCUMENT_BYTES`], never downloaded whole.
//!
//! Hosts the operator allowed skip the address rules only (they are fetched with a client whose resolver keeps
//! every address); the rest applies to them as to any host.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Certificate, Client, StatusCode, Url, redirect};

use super::MAX_DOCUMENT_BYTES;
use super::address::refused_address;
use super::error::{MetadataError, Refusal, shorten};
use crate::error::{Error, Result};

/// A document as its server sent it, with its `Cache-Control` header.
#[derive(Debug)]
pub(super) struct Fetched {
    pub(super) body: Vec<u8>,
    pub(super) cache_control: Option<String>,
}

/// The resolver's refusal, found again in the error reqwest returns.
#[derive(Debug)]
struct AddressRefused(Refusal);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("address refused")
    }
}

impl std::error::Error for AddressRefused {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves with the system resolver and keeps only the public addresses.
struct PublicAddresses;

impl Resolve for PublicAddresses {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(public_addresses(host))
    }
}

/// The public addresses of `host`; none: the refusal, naming the first address found and its kind.
async fn public_addresses(host: String) -> std::result::Result<Addrs, BoxError> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
        .await
        .map_err(|_| AddressRefused(Refusal::Unresolvable))?
        .collect();
    let Some(first) = all.first() else {
        return Err(AddressRefused(Refusal::Unresolvable).into());
    };
    let public: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|a| refused_address(a.ip()).is_none())
        .collect();
    if public.is_empty() {
        let kind = refused_address(first.ip()).unwrap_or("a refused address");
        return Err(AddressRefused(Refusal::Address {
            ip: first.ip(),
            kind,
        })
        .into());
    }
    Ok(Box::new(public.into_iter()))
}

/// The HTTP clients of metadata document fetches: one for every host, one for the allowed hosts.
pub(super) struct Fetcher {
    public: Client,
    allowed: Client,
    timeout: Duration,
}

impl Fetcher {
    /// Clients trusting the system's roots and `extra_roots`, bounded by `timeout`.
    pub(super) fn new(timeout: Duration, extra_roots: &[Certificate]) -> Result<Fetcher> {
        let build = |public: bool| {
            let builder = Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(redirect::Policy::none())
                .no_proxy()
                .https_only(true)
                .user_agent(concat!("waxseal/", env!("CARGO_PKG_VERSION")))
                .tls_certs_merge(extra_roots.iter().cloned());
            let builder = if public {
                builder.dns_resolver(Arc::new(PublicAddresses))
            } else {
                builder
            };
            builder.build().map_err(|e| {
                Error::config(format!(
                    "cannot build the HTTP client for client metadata documents: {e}"
                ))
            })
        };
        Ok(Fetcher {
            public: build(true)?,
            allowed: build(false)?,
            timeout,
        })
    }

    /// GETs `url`; `allowed`: its host is one the operator allowed, so the address rules do not apply.
    pub(super) async fn get(
        &self,
        url: &Url,
        allowed: bool,
    ) -> std::result::Result<Fetched, MetadataError> {
        let host = url.host_str().unwrap_or_default();
        let refused = |refusal| MetadataError::at(host, refusal);
        match tokio::time::timeout(self.timeout, self.exchange(url, allowed)).await {
            Ok(result) => result.map_err(refused),
            Err(_) => Err(refused(Refusal::Timeout(self.timeout))),
        }
    }

    async fn exchange(&self, url: &Url, allowed: bool) -> std::result::Result<Fetched, Refusal> {
        let client = if allowed { &self.allowed } else { &self.public };
        let mut response = client
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.failed(&e))?;
        if !allowed {
            // The resolver kept only public addresses; this checks the one actually reached.
            let Some(remote) = response.remote_addr() else {
                return Err(Refusal::Unreachable(
                    "the address connected to is not known".into(),
                ));
            };
            if let Some(kind) = refused_address(remote.ip()) {
                return Err(Refusal::Address {
                    ip: remote.ip(),
                    kind,
                });
            }
        }
        let status = response.status();
        if status.is_redirection() {
            return Err(Refusal::Redirects);
        }
        if status != StatusCode::OK {
            return Err(Refusal::Status(status.as_u16()));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !is_json(&content_type) {
            return Err(Refusal::ContentType(shorten(&content_type)));
        }
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
            return Err(Refusal::TooLarge);
        }
        let cache_control = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .reduce(|a, b| format!("{a}, {b}"));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.failed(&e))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(Refusal::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            body,
            cache_control,
        })
    }

    /// What a failed request means: the resolver's refusal when it was one, else the kind of failure.
    fn failed(&self, e: &reqwest::Error) -> Refusal {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(error) = source {
            if let Some(AddressRefused(refusal)) = error.downcast_ref::<AddressRefused>() {
                return refusal.clone();
            }
            source = error.source();
        }
        if e.is_timeout() {
            Refusal::Timeout(self.timeout)
        } else if e.is_connect() {
            Refusal::Unreachable(format!(
                "no connection or TLS session could be made ({})",
                root_cause(e)
            ))
        } else {
            Refusal::Unreachable(format!("the exchange failed ({})", root_cause(e)))
        }
    }
}

/// The innermost error's text, bounded: what an operator needs (a certificate error, a refused connection).
fn root_cause(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(next) = last.source() {
        last = next;
    }
    shorten(&last.to_string())
}

/// `application/json` or a `+json` type, parameters ignored.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognized() {
        for good in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/x+json",
        ] {
            assert!(is_json(good), "{good}");
        }
        for bad in [
            "",
            "text/html",
            "text/json",
            "application/jsonp",
            "application/json-seq",
        ] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
