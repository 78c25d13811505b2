//! One error type, and the one place it becomes a response: RFC 6750 §3 status codes and `WWW-Authenticate`
//! challenges, with the JSON body `{"error", "error_description"}` that OAuth clients already parse (RFC 6749 §5.2).
//!
//! | kind | status | challenge |
//! |---|---|---|
//! | [`ErrorKind::MissingToken`] | 401 | `Bearer realm="…"` — no error code (RFC 6750 §3.1: the client may not know it must authenticate) |
//! | [`ErrorKind::InvalidRequest`] | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` |
//! | [`ErrorKind::InvalidToken`] | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` |
//! | [`ErrorKind::InsufficientScope`] | 403 | `Bearer realm="…", error="insufficient_scope", scope="…"` (or `error_description` when no scope is involved) |
//! | [`ErrorKind::Unavailable`] | 503 | none: the token may be fine, the keys or the revocation list could not be read |
//! | [`ErrorKind::Misconfigured`] | 500 | none: a developer error (an extractor on a route without the layer) |
//!
//! Descriptions are built from fixed texts or from the verifier's messages, which name claims and never echo a token
//! unbounded; on the way in every description is cut to [`MAX_DESCRIPTION`] characters and made a valid
//! quoted-string (`"` and `\` become `'`, anything outside printable ASCII becomes `?`), so attacker bytes can neither
//! break the header nor make it long.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;

/// The longest `error_description` sent, in characters.
pub const MAX_DESCRIPTION: usize = 200;

/// What went wrong, for matching. New kinds may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request carries no bearer token (no `Authorization: Bearer`, no configured cookie): 401 with a bare
    /// challenge.
    MissingToken,
    /// The request is malformed: several `Authorization` headers, several tokens, the token cookie sent twice: 400.
    InvalidRequest,
    /// The token was refused: malformed, forged, expired, revoked, for another audience: 401.
    InvalidToken,
    /// A valid token without what the route requires (a scope, or a custom requirement): 403.
    InsufficientScope,
    /// The token could not be checked now (the issuer's keys or the revocation list are unreachable): 503.
    Unavailable,
    /// The application is wired wrongly (an extractor or requirement on a route the layer does not cover): 500.
    Misconfigured,
}

impl ErrorKind {
    /// The OAuth error code of the JSON body (and, for RFC 6750's three, of the challenge).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::MissingToken => "missing_token",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::InvalidToken => "invalid_token",
            ErrorKind::InsufficientScope => "insufficient_scope",
            ErrorKind::Unavailable => "temporarily_unavailable",
            ErrorKind::Misconfigured => "server_error",
        }
    }

    /// The response status.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::MissingToken | ErrorKind::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Why a request was not let through, and the response that says so ([`IntoResponse`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    description: Cow<'static, str>,
    /// The scopes an `insufficient_scope` challenge names (already checked to be scope tokens).
    scope: Option<Arc<str>>,
    realm: Option<Arc<str>>,
}

impl Error {
    fn new(kind: ErrorKind, description: Cow<'static, str>) -> Self {
        Error {
            kind,
            description: quoted_safe(description),
            scope: None,
            realm: None,
        }
    }

    /// No token in the request.
    pub fn missing_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::MissingToken, description.into())
    }

    /// A malformed request (400).
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, description.into())
    }

    /// A refused token (401); say why without echoing the token.
    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidToken, description.into())
    }

    /// A valid token without what the route requires (403), for requirements that are not scopes.
    pub fn insufficient(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InsufficientScope, description.into())
    }

    /// A valid token without the scopes `scope` (space-separated scope tokens) that the route requires (403).
    pub(crate) fn insufficient_scope(description: String, scope: Arc<str>) -> Self {
        Error {
            scope: Some(scope),
            ..Self::new(ErrorKind::InsufficientScope, description.into())
        }
    }

    /// The token could not be checked now (503); log the details, tell the client only to retry.
    pub fn unavailable(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unavailable, description.into())
    }

    /// A wiring mistake of the application (500).
    pub fn misconfigured(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Misconfigured, description.into())
    }

    /// The same error with the challenge's `realm`. The layer sets its own on every error it answers with.
    #[must_use]
    pub fn with_realm(mut self, realm: Option<Arc<str>>) -> Self {
        self.realm = realm;
        self
    }

    /// The kind, to match on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `error_description`: bounded, and a valid quoted-string.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `WWW-Authenticate` challenge this error is answered with, if any.
    pub fn challenge(&self) -> Option<String> {
        let code = match self.kind {
            ErrorKind::MissingToken => None,
            ErrorKind::InvalidRequest | ErrorKind::InvalidToken | ErrorKind::InsufficientScope => {
                Some(self.kind.code())
            }
            ErrorKind::Unavailable | ErrorKind::Misconfigured => return None,
        };
        let mut params: Vec<String> = Vec::with_capacity(3);
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{realm}\""));
        }
        if let Some(code) = code {
            params.push(format!("error=\"{code}\""));
            match &self.scope {
                Some(scope) => params.push(format!("scope=\"{scope}\"")),
                None => params.push(format!("error_description=\"{}\"", self.description)),
            }
        }
        Some(if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        })
    }

    /// The response, with a body of any type that takes a `String` (axum's `Body`, `Full<Bytes>`, …).
    pub fn to_response<B: From<String>>(&self) -> Response<B> {
        let body = serde_json::json!({
            "error": self.kind.code(),
            "error_description": &*self.description,
        })
        .to_string();
        let mut response = Response::new(B::from(body));
        *response.status_mut() = self.kind.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // Always a valid header value: every part is printable ASCII (see `quoted_safe` and `realm`).
        if let Some(value) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        response
    }

    /// From a core verification error: what the verifier said for checks of the claims and signature (those
    /// messages name claims and quote at most a bounded piece of the token), a fixed text for the rest.
    pub fn from_token_error(e: &waxseal::Error) -> Self {
        use waxseal::ErrorKind as K;
        match e.kind() {
            K::Expired
            | K::NotYetValid
            | K::IssuedAt
            | K::Issuer
            | K::Audience
            | K::Subject
            | K::Type
            | K::MissingClaim
            | K::InvalidSignature
            | K::KeyNotFound
            | K::AlgorithmNotAllowed
            | K::UnsupportedAlgorithm
            | K::UnsupportedCritical
            | K::Rejected
            | K::LimitExceeded => Self::invalid_token(e.message().to_owned()),
            K::Claims => Self::invalid_token("the token's claims do not have the expected form"),
            _ => Self::invalid_token("the token is malformed"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.description)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl std::error::Error for Error {}

impl IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        self.to_response()
    }
}

/// Cut to [`MAX_DESCRIPTION`] characters; RFC 6750 §3: `error_description` holds only %x20-21 / %x23-5B / %x5D-7E.
pub(crate) fn quoted_safe(text: Cow<'static, str>) -> Cow<'static, str> {
    let fine = text.len() <= MAX_DESCRIPTION
        && text
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
    if fine {
        return text;
    }
    Cow::Owned(
        text.chars()
            .take(MAX_DESCRIPTION)
            .map(|c| match c {
                '"' | '\\' => '\'',
                ' '..='~' => c,
                _ => '?',
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_fit_the_rfc_6750_grammar_and_are_bounded() {
        let e = Error::invalid_token("audience \"api2\" not accepted \\ \u{e9}\n\u{7f}".to_owned());
        assert_eq!(e.description(), "audience 'api2' not accepted ' ???");
        let long = Error::invalid_token("x".repeat(10_000));
        assert_eq!(long.description().len(), MAX_DESCRIPTION);
        assert!(matches!(
            Error::invalid_token("fixed").description,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn challenges_follow_rfc_6750_section_3() {
        let realm: Option<Arc<str>> = Some("api".into());
        assert_eq!(
            Error::missing_token("x")
                .with_realm(realm.clone())
                .challenge()
                .as_deref(),
            Some("Bearer realm=\"api\"")
        );
        assert_eq!(
            Error::missing_token("x").challenge().as_deref(),
            Some("Bearer")
        );
        assert_eq!(
            Error::invalid_token("expired")
                .with_realm(realm.clone())
                .challenge()
                .as_deref(),
            Some("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"expired\"")
        );
        assert_eq!(
            Error::insufficient_scope("needs a".into(), "a b".into())
                .challenge()
                .as_deref(),
            Some("Bearer error=\"insufficient_scope\", scope=\"a b\"")
        );
        assert_eq!(Error::unavailable("later").challenge(), None);
        assert_eq!(Error::misconfigured("wiring").challenge(), None);
    }
}
