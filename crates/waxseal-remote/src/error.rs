//! One error type with a kind to match on; messages name the URL and what to do, never echo a response body.

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL is not acceptable: not `https` (except on a loopback address), or malformed.
    InsecureUrl,
    /// The request failed: connection, timeout, or a status other than 200.
    Fetch,
    /// The response exceeds a bound (body size, number of keys).
    LimitExceeded,
    /// The response is not a usable document (not JSON, no usable key, missing metadata).
    InvalidDocument,
    /// The discovery document's `issuer` is not the URL that was asked for (OpenID Discovery §4.3, RFC 8414 §3.3).
    IssuerMismatch,
    /// The keys could not be refreshed for longer than the allowed staleness: verification fails closed.
    Stale,
    /// The token was refused; [`Error::token_error`] has the core's reason.
    Token,
}

/// The error of remote key sets and discovery.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    token: Option<waxseal::Error>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            token: None,
        }
    }

    pub(crate) fn token(e: waxseal::Error) -> Self {
        Error {
            kind: ErrorKind::Token,
            message: e.to_string(),
            token: Some(e),
        }
    }

    /// The kind, to match on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What went wrong and, where it helps, what to do.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The core's error when the token itself was refused ([`ErrorKind::Token`]).
    pub fn token_error(&self) -> Option<&waxseal::Error> {
        self.token.as_ref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The result of this crate's operations.
pub type Result<T> = std::result::Result<T, Error>;
