//! Why a `client_id` URL gave no client. Each refusal says what was wrong in words an operator or the client's
//! developer can act on, shown on the error page (never redirected: the redirect URIs are not known good yet) and
//! in the token endpoint's `invalid_client` answer. Attacker-chosen text is shortened before it is shown.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::MAX_DOCUMENT_BYTES;

/// The most characters of a URL or a document's value shown in a message.
const SHOWN_CHARS: usize = 80;

/// The first characters of `text`, for messages.
pub(super) fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(SHOWN_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// What was wrong with the `client_id` URL or the document it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The `client_id` is not an acceptable URL: the rule it breaks.
    Url(String),
    /// The document's server answered with a redirect.
    Redirects,
    /// The host resolves to (or the connection reached) an address of a refused kind.
    Address {
        /// The address.
        ip: IpAddr,
        /// Its kind, in words ("a loopback address").
        kind: &'static str,
    },
    /// The host name does not resolve.
    Unresolvable,
    /// No connection or TLS session could be made.
    Unreachable(String),
    /// The exchange took longer than the configured timeout.
    Timeout(Duration),
    /// The body is larger than [`MAX_DOCUMENT_BYTES`].
    TooLarge,
    /// The status was not 200.
    Status(u16),
    /// The content type is not JSON.
    ContentType(String),
    /// The body is not a client metadata document: why.
    Document(String),
    /// The document's `client_id` is not the URL it was fetched from.
    ClientIdMismatch(String),
    /// The document asks for a confidential client: its `token_endpoint_auth_method`.
    Confidential(String),
}

/// A refused `client_id` URL: the host it names (when it has one) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError {
    host: Option<String>,
    refusal: Refusal,
}

impl MetadataError {
    /// A refusal of the document at `host`.
    pub(super) fn at(host: &str, refusal: Refusal) -> MetadataError {
        MetadataError {
            host: Some(shorten(host)),
            refusal,
        }
    }

    /// A refusal of the URL itself, before any host is known good.
    pub(super) fn url(rule: impl Into<String>) -> MetadataError {
        MetadataError {
            host: None,
            refusal: Refusal::Url(rule.into()),
        }
    }

    /// What was wrong, to match on.
    pub fn refusal(&self) -> &Refusal {
        &self.refusal
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |f: &mut fmt::Formatter<'_>| match &self.host {
            Some(host) => write!(f, "the client's metadata document at {host}"),
            None => write!(f, "the client's metadata document"),
        };
        match &self.refusal {
            Refusal::Url(rule) => write!(f, "the client_id URL is not acceptable: {rule}"),
            Refusal::Redirects => {
                at(f)?;
                write!(
                    f,
                    " redirects; client metadata documents must be served directly"
                )
            }
            Refusal::Address { ip, kind } => {
                at(f)?;
                write!(
                    f,
                    " resolves to {ip}, {kind}; this server fetches documents only from public addresses"
                )
            }
            Refusal::Unresolvable => {
                at(f)?;
                write!(f, " cannot be fetched: its host name does not resolve")
            }
            Refusal::Unreachable(why) => {
                at(f)?;
                write!(f, " cannot be fetched: {why}")
            }
            Refusal::Timeout(limit) => {
                at(f)?;
                write!(f, " did not answer within {}s", limit.as_secs())
            }
            Refusal::TooLarge => {
                at(f)?;
                write!(f, " is larger than {} KiB", MAX_DOCUMENT_BYTES / 1024)
            }
            Refusal::Status(status) => {
                at(f)?;
                write!(f, " answered HTTP {status}; expected 200")
            }
            Refusal::ContentType(given) => {
                at(f)?;
                write!(f, " is served as {given:?}, not as JSON (application/json)")
            }
            Refusal::Document(why) => {
                at(f)?;
                write!(f, " is not a usable client metadata document: {why}")
            }
            Refusal::ClientIdMismatch(named) => {
                at(f)?;
                write!(
                    f,
                    " names client_id {named:?}, not the URL it was fetched from"
                )
            }
            Refusal::Confidential(method) => {
                at(f)?;
                write!(
                    f,
                    " declares token_endpoint_auth_method {method:?}; a client known by its metadata document \
                     is a public client (\"none\", with PKCE): it has no secret or key registered here"
                )
            }
        }
    }
}

impl std::error::Error for MetadataError {}
