//! One error type for the whole crate.
//!
//! Callers branch on [`Error::kind`]; people read [`Error`]'s `Display`, which says what was wrong and, where it
//! helps, what to do about it. Messages never echo attacker-controlled input unbounded: any piece of a token that
//! appears in a message goes through [`quote`], which truncates it.

use std::fmt;

/// What went wrong, for matching. New kinds may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not well-formed: bad base64url, bad JSON, wrong number of segments, a member of the wrong type.
    Malformed,
    /// An input exceeds a configured bound (token size, JSON depth, number of keys).
    LimitExceeded,
    /// The algorithm is not implemented (or is `none`, which the JWT API never accepts).
    UnsupportedAlgorithm,
    /// The algorithm is known but not allowed by this verifier's keys and configuration.
    AlgorithmNotAllowed,
    /// A key could not be built: wrong type, too short, inconsistent parameters, unsupported curve.
    InvalidKey,
    /// No key in the key set can verify this token (by `kid`, `alg`, `kty`, `use`).
    KeyNotFound,
    /// The signature does not match.
    InvalidSignature,
    /// The header names a critical extension (`crit`) this verifier does not understand.
    UnsupportedCritical,
    /// `exp` is in the past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future, or the token is older than the configured maximum age.
    IssuedAt,
    /// `iss` is missing or not one of the accepted issuers.
    Issuer,
    /// `aud` is missing or names none of the accepted audiences.
    Audience,
    /// `sub` is missing or not the expected subject.
    Subject,
    /// A required claim is missing.
    MissingClaim,
    /// The `typ` header is missing or not the expected type.
    Type,
    /// A caller-supplied check rejected the claims.
    Rejected,
    /// The claims are valid JSON but do not fit the caller's type.
    Claims,
    /// The cryptographic library failed for a reason that is not the input's fault (e.g. key generation).
    Crypto,
    /// A JWE could not be decrypted: the key did not unwrap the content key, or the authentication tag (or, for
    /// AES-CBC, the padding) is wrong. One kind for all of them, so the error is no oracle.
    DecryptionFailed,
    /// A JWE is compressed (`zip`), which this decrypter does not accept.
    CompressionUnsupported,
    /// A DPoP proof was refused (RFC 9449 §4.3): malformed, signed badly, for another request, too old, or with an
    /// `ath` of another token. Answer `invalid_dpop_proof`.
    DpopProof,
    /// A DPoP proof lacks the server nonce, or carries a stale one (RFC 9449 §8). Answer `use_dpop_nonce` with a
    /// fresh nonce in `DPoP-Nonce`.
    DpopNonce,
}

/// The error of every fallible operation in this crate.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The category of the error, stable across releases.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// A stable code for logs and APIs, in the style of `ERR_JWT_EXPIRED`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Malformed => "ERR_MALFORMED",
            ErrorKind::LimitExceeded => "ERR_LIMIT_EXCEEDED",
            ErrorKind::UnsupportedAlgorithm => "ERR_ALG_UNSUPPORTED",
            ErrorKind::AlgorithmNotAllowed => "ERR_ALG_NOT_ALLOWED",
            ErrorKind::InvalidKey => "ERR_KEY_INVALID",
            ErrorKind::KeyNotFound => "ERR_KEY_NOT_FOUND",
            ErrorKind::InvalidSignature => "ERR_SIGNATURE_INVALID",
            ErrorKind::UnsupportedCritical => "ERR_CRIT_UNSUPPORTED",
            ErrorKind::Expired => "ERR_JWT_EXPIRED",
            ErrorKind::NotYetValid => "ERR_JWT_NOT_YET_VALID",
            ErrorKind::IssuedAt => "ERR_JWT_IAT",
            ErrorKind::Issuer => "ERR_JWT_ISSUER",
            ErrorKind::Audience => "ERR_JWT_AUDIENCE",
            ErrorKind::Subject => "ERR_JWT_SUBJECT",
            ErrorKind::MissingClaim => "ERR_JWT_CLAIM_MISSING",
            ErrorKind::Type => "ERR_JWT_TYP",
            ErrorKind::Rejected => "ERR_JWT_REJECTED",
            ErrorKind::Claims => "ERR_JWT_CLAIMS",
            ErrorKind::Crypto => "ERR_CRYPTO",
            ErrorKind::DecryptionFailed => "ERR_JWE_DECRYPTION_FAILED",
            ErrorKind::CompressionUnsupported => "ERR_JWE_ZIP_UNSUPPORTED",
            ErrorKind::DpopProof => "ERR_DPOP_PROOF_INVALID",
            ErrorKind::DpopNonce => "ERR_DPOP_NONCE",
        }
    }

    /// The human-readable message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, message)
    }

    pub(crate) fn invalid_key(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidKey, message)
    }

    pub(crate) fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::LimitExceeded, message)
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

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Quotes a piece of untrusted input for an error message: at most 64 characters, control characters escaped.
pub(crate) fn quote(untrusted: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::with_capacity(untrusted.len().min(MAX) + 4);
    out.push('"');
    for (i, c) in untrusted.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}

/// "3 min", "2 h", "5 days": how far apart two instants are, for messages like "token expired 3 min ago".
pub(crate) fn human_duration(seconds: u64) -> String {
    match seconds {
        0..=89 => format!("{seconds} s"),
        90..=5_399 => format!("{} min", (seconds + 30) / 60),
        5_400..=129_599 => format!("{} h", (seconds + 1_800) / 3_600),
        _ => format!("{} days", (seconds + 43_200) / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_truncates_and_escapes() {
        let long = "a".repeat(1000);
        assert!(quote(&long).chars().count() < 70);
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn human_durations_read_naturally() {
        assert_eq!(human_duration(5), "5 s");
        assert_eq!(human_duration(180), "3 min");
        assert_eq!(human_duration(7200), "2 h");
        assert_eq!(human_duration(3 * 86_400), "3 days");
    }
}
