//! One error type for the server library, with a [`ErrorKind`] the HTTP layer turns into a status code.

use std::fmt;

use crate::store::StoreError;

/// The `Retry-After` of a 503 while the database is unreachable: a few seconds, about how long a PostgreSQL restart
/// or fail-over takes, so clients neither hammer the server nor wait much longer than needed.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Login failed: unknown user, wrong password or disabled account — deliberately not told apart.
    InvalidCredentials,
    /// An access token is missing, malformed, expired or revoked.
    InvalidToken,
    /// A refresh token is unknown, expired, revoked or was already used.
    InvalidGrant,
    /// Cookie mode: the `X-CSRF-Token` header is not the CSRF token of the refresh cookie's session (HTTP 403).
    CsrfRejected,
    /// OAuth client authentication failed: unknown client or wrong secret — deliberately not told apart.
    InvalidClient,
    /// The authenticated client may not use the requested grant type.
    UnauthorizedClient,
    /// The requested scope is unknown, malformed or more than the client or user may have.
    InvalidScope,
    /// The `resource` asked for (RFC 8707) is not a registered resource, is malformed, was sent more than once,
    /// or is not the resource of the grant: `invalid_target`.
    InvalidTarget,
    /// The request is well-formed but its content is not acceptable (e.g. an empty username).
    InvalidRequest,
    /// Too many failed logins for the account or from the client address: wait [`Error::retry_after`] seconds.
    Throttled,
    /// The thing to create already exists (e.g. the username is taken).
    Conflict,
    /// The configuration is not usable; the message says which setting and why.
    Config,
    /// The database failed.
    Storage,
    /// The database cannot be reached right now: retry after [`Error::retry_after`] seconds (HTTP 503).
    Unavailable,
    /// A DPoP proof (RFC 9449) is missing where one is required, malformed, for another request, too old, replayed,
    /// or by another key than the one a token is bound to: `invalid_dpop_proof`.
    DpopProof,
    /// DPoP server nonces are required and the proof's is missing or stale: `use_dpop_nonce`, with a fresh nonce.
    DpopNonce,
    /// The network or the file system failed.
    Io,
    /// A cryptographic operation failed for a reason that is not the input's fault.
    Crypto,
}

/// The error of the server library: a kind to match on and a message safe to show (it never holds a secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    retry_after: Option<u64>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn throttled(retry_after: u64) -> Self {
        Error {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorKind::Throttled,
                format!("too many failed logins; try again in {retry_after} s"),
            )
        }
    }

    /// For [`ErrorKind::Throttled`] and [`ErrorKind::Unavailable`]: the seconds to wait before trying again.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// [`ErrorKind::Unavailable`]: a shared service (the database, Redis) cannot answer now; retry after
    /// [`UNAVAILABLE_RETRY_AFTER`] seconds.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Error {
            retry_after: Some(UNAVAILABLE_RETRY_AFTER),
            ..Self::new(ErrorKind::Unavailable, message)
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }

    pub(crate) fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }

    pub(crate) fn crypto(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Crypto, message)
    }

    /// What went wrong, to match on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable description.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}: {})", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Error::new(ErrorKind::Conflict, "already exists"),
            StoreError::Unavailable(msg) => Error {
                retry_after: Some(UNAVAILABLE_RETRY_AFTER),
                ..Error::new(
                    ErrorKind::Unavailable,
                    format!("the database is unreachable: {msg}"),
                )
            },
            StoreError::Backend(msg) => Error::storage(msg),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
