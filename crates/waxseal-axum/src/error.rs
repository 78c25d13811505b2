//! One error type, and the one place it becomes a response: RFC 6750 §3 status codes and `WWW-Authenticate`
//! challenges, with the JSON body `{"error", "error_description"}` that OAuth clients already parse (RFC 6749 §5.2).
//!
//! | kind | status | challenge |
//! |---|---|---|
//! | [`ErrorKind::MissingToken`] | 401 | `Bearer realm="…"` — no error code (RFC 6750 §3.1: the client may not know it must authenticate) |
//! | [`ErrorKind::InvalidRequest`] | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` |
//! | [`ErrorKind::InvalidToken`] | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` |
//! | [`ErrorKind::InsufficientScope`] | 403 | `Bearer realm="…", error="insufficient_scope", scope="…"` (or `error_description` when no scope is involved) |
//! | [`ErrorKind::InvalidDpopProof`] | 401 | `DPoP realm="…", error="invalid_dpop_proof", error_description="…", algs="…"` (RFC 9449 §7.1) |
//! | [`ErrorKind::UseDpopNonce`] | 401 | `DPoP realm="…", error="use_dpop_nonce", error_description="…", algs="…"` and a `DPoP-Nonce: <fresh nonce>` header (RFC 9449 §9) |
//! | [`ErrorKind::Unavailable`] | 503 | none: the token may be fine, the keys, the revocation list or the replay store could not be read |
//! | [`ErrorKind::Misconfigured`] | 500 | none: a developer error (an extractor on a route without the layer) |
//!
//! The scheme of a challenge is the request's: an error about a token sent as `Authorization: DPoP` (RFC 9449 §7.1)
//! is answered `DPoP …, algs="…"` with the proof algorithms the layer accepts, one about a bearer token `Bearer …`.
//! When the layer has a DPoP policy the bare 401 names both schemes (`Bearer realm="…", DPoP realm="…", algs="…"`),
//! or only `DPoP` when the policy is [`crate::Dpop::required`].
//!
//! A layer with protected resource metadata ([`crate::BearerAuthLayer::protected_resource`], RFC 9728 §5.1) adds
//! `resource_metadata="<the document's URL>"` to every challenge, in both schemes, and to every 401 the `scope` the
//! resource needs when one is configured (`Bearer realm="…", scope="mcp:tools", resource_metadata="…"`); a 403
//! `insufficient_scope` keeps the route's own `scope`.
//!
//! Descriptions are built from fixed texts or from the verifier's messages, which name claims and never echo a token
//! unbounded; on the way in every description is cut to [`MAX_DESCRIPTION`] characters and made a valid
//! quoted-string (`"` and `\` become `'`, anything outside printable ASCII becomes `?`), so attacker bytes can neither
//! break the header nor make it long.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;

/// The header a fresh DPoP server nonce is sent in (RFC 9449 §8.1).
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

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
    /// The DPoP proof was refused (RFC 9449 §7.1): missing, several, malformed, for another request, too old,
    /// replayed: 401.
    InvalidDpopProof,
    /// The DPoP proof lacks a fresh server nonce (RFC 9449 §9): 401 with a `DPoP-Nonce` header to retry with.
    UseDpopNonce,
    /// The token could not be checked now (the issuer's keys, the revocation list or the replay store are
    /// unreachable): 503.
    Unavailable,
    /// The application is wired wrongly (an extractor or requirement on a route the layer does not cover): 500.
    Misconfigured,
}

impl ErrorKind {
    /// The OAuth error code of the JSON body (and, for RFC 6750's three and RFC 9449's two, of the challenge).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::MissingToken => "missing_token",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::InvalidToken => "invalid_token",
            ErrorKind::InsufficientScope => "insufficient_scope",
            ErrorKind::InvalidDpopProof => "invalid_dpop_proof",
            ErrorKind::UseDpopNonce => "use_dpop_nonce",
            ErrorKind::Unavailable => "temporarily_unavailable",
            ErrorKind::Misconfigured => "server_error",
        }
    }

    /// The response status.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::MissingToken
            | ErrorKind::InvalidToken
            | ErrorKind::InvalidDpopProof
            | ErrorKind::UseDpopNonce => StatusCode::UNAUTHORIZED,
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
    /// The request sent its token as `Authorization: DPoP`: the challenge is in that scheme.
    dpop_scheme: bool,
    /// The DPoP side of the layer that answers, when it has a DPoP policy.
    dpop: Option<Arc<DpopChallenge>>,
    /// A fresh server nonce, sent as `DPoP-Nonce` (with `use_dpop_nonce`).
    nonce: Option<Arc<str>>,
    /// The protected resource's challenge parameters, when the layer has its metadata.
    resource: Option<Arc<ResourceChallenge>>,
}

/// What a layer with protected resource metadata adds to its challenges (RFC 9728 §5.1), formatted once by
/// [`crate::ProtectedResource::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceChallenge {
    /// `resource_metadata="<URL of the document>"`, in every challenge.
    pub(crate) metadata: Box<str>,
    /// `scope="<the scopes a token needs>"`, in every 401 challenge, when configured.
    pub(crate) scope: Option<Box<str>>,
}

/// What a layer with a DPoP policy adds to its challenges: the proof algorithms it accepts (`algs`, RFC 9449 §7.1)
/// and whether it still takes bearer tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpopChallenge {
    /// Space-separated algorithm names, already a valid quoted-string.
    pub(crate) algs: Arc<str>,
    /// Bearer tokens are accepted too (the policy is not [`crate::Dpop::required`]).
    pub(crate) bearer: bool,
}

impl Error {
    fn new(kind: ErrorKind, description: Cow<'static, str>) -> Self {
        Error {
            kind,
            description: quoted_safe(description),
            scope: None,
            realm: None,
            dpop_scheme: false,
            dpop: None,
            nonce: None,
            resource: None,
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

    /// A refused DPoP proof (401 `invalid_dpop_proof`); say why without echoing the proof.
    pub fn invalid_dpop_proof(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidDpopProof, description.into())
    }

    /// A DPoP proof without a fresh server nonce (401 `use_dpop_nonce`); `nonce` is the one to retry with, sent as
    /// `DPoP-Nonce` (base64url, as `waxseal::dpop::Nonces` issues them).
    pub(crate) fn use_dpop_nonce(description: impl Into<Cow<'static, str>>, nonce: String) -> Self {
        Error {
            nonce: Some(nonce.into()),
            ..Self::new(ErrorKind::UseDpopNonce, description.into())
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

    /// The same error answered by a layer: its realm and, with a DPoP policy, its DPoP challenge.
    pub(crate) fn with_layer(
        mut self,
        realm: Option<Arc<str>>,
        dpop: Option<Arc<DpopChallenge>>,
    ) -> Self {
        self.realm = realm;
        self.dpop = dpop;
        self
    }

    /// The same error answered by a layer with protected resource metadata (or without: `None`).
    pub(crate) fn with_resource(mut self, resource: Option<Arc<ResourceChallenge>>) -> Self {
        self.resource = resource;
        self
    }

    /// The same error about a token sent as `Authorization: DPoP`: its challenge is in the DPoP scheme.
    pub(crate) fn in_dpop_scheme(mut self) -> Self {
        self.dpop_scheme = true;
        self
    }

    /// The fresh nonce a `use_dpop_nonce` error sends as `DPoP-Nonce`.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The kind, to match on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `error_description`: bounded, and a valid quoted-string.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `WWW-Authenticate` challenge this error is answered with, if any (several, comma-separated, for a bare
    /// 401 from a layer that takes both schemes).
    pub fn challenge(&self) -> Option<String> {
        let code = match self.kind {
            ErrorKind::MissingToken => None,
            ErrorKind::InvalidRequest
            | ErrorKind::InvalidToken
            | ErrorKind::InsufficientScope
            | ErrorKind::InvalidDpopProof
            | ErrorKind::UseDpopNonce => Some(self.kind.code()),
            ErrorKind::Unavailable | ErrorKind::Misconfigured => return None,
        };
        let realm = self
            .realm
            .as_ref()
            .map(|realm| format!("realm=\"{realm}\""));
        let algs = |params: &mut Vec<String>| {
            if let Some(dpop) = &self.dpop {
                params.push(format!("algs=\"{}\"", dpop.algs));
            }
        };
        // RFC 9728 §5.1: where the resource's metadata is, and on a 401 the scope a token needs (a 403 names the
        // route's own scope instead).
        let resource = |params: &mut Vec<String>| {
            if let Some(resource) = &self.resource {
                if self.scope.is_none() && self.kind.status() == StatusCode::UNAUTHORIZED {
                    params.extend(resource.scope.as_deref().map(str::to_owned));
                }
                params.push(resource.metadata.to_string());
            }
        };
        let Some(code) = code else {
            // No credentials: name every scheme the layer takes, with no error code (RFC 6750 §3.1).
            let mut params: Vec<String> = realm.into_iter().collect();
            resource(&mut params);
            let bearer = if params.is_empty() {
                "Bearer".to_owned()
            } else {
                format!("Bearer {}", params.join(", "))
            };
            let Some(dpop) = &self.dpop else {
                return Some(bearer);
            };
            algs(&mut params);
            let dpop_challenge = format!("DPoP {}", params.join(", "));
            return Some(if dpop.bearer {
                format!("{bearer}, {dpop_challenge}")
            } else {
                dpop_challenge
            });
        };
        let mut params: Vec<String> = Vec::with_capacity(6);
        params.extend(realm);
        params.push(format!("error=\"{code}\""));
        match &self.scope {
            Some(scope) => params.push(format!("scope=\"{scope}\"")),
            None => params.push(format!("error_description=\"{}\"", self.description)),
        }
        resource(&mut params);
        let dpop = self.dpop_scheme
            || matches!(
                self.kind,
                ErrorKind::InvalidDpopProof | ErrorKind::UseDpopNonce
            );
        Some(if dpop {
            algs(&mut params);
            format!("DPoP {}", params.join(", "))
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
        if let Some(nonce) = self
            .nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            headers.insert(DPOP_NONCE, nonce);
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

    #[test]
    fn dpop_challenges_follow_rfc_9449_section_7_1() {
        let realm: Option<Arc<str>> = Some("api".into());
        let both = Some(Arc::new(DpopChallenge {
            algs: "ES256 EdDSA".into(),
            bearer: true,
        }));
        let only = Some(Arc::new(DpopChallenge {
            algs: "ES256".into(),
            bearer: false,
        }));
        assert_eq!(
            Error::missing_token("x")
                .with_layer(realm.clone(), both.clone())
                .challenge()
                .as_deref(),
            Some("Bearer realm=\"api\", DPoP realm=\"api\", algs=\"ES256 EdDSA\"")
        );
        assert_eq!(
            Error::missing_token("x")
                .with_layer(None, only.clone())
                .challenge()
                .as_deref(),
            Some("DPoP algs=\"ES256\"")
        );
        assert_eq!(
            Error::invalid_dpop_proof("old")
                .with_layer(None, only.clone())
                .challenge()
                .as_deref(),
            Some("DPoP error=\"invalid_dpop_proof\", error_description=\"old\", algs=\"ES256\"")
        );
        assert_eq!(
            Error::invalid_token("revoked")
                .in_dpop_scheme()
                .with_layer(realm.clone(), both.clone())
                .challenge()
                .as_deref(),
            Some(
                "DPoP realm=\"api\", error=\"invalid_token\", error_description=\"revoked\", algs=\"ES256 EdDSA\""
            )
        );
        // A bearer request to a layer with DPoP keeps the Bearer scheme.
        assert_eq!(
            Error::invalid_token("expired")
                .with_layer(None, both)
                .challenge()
                .as_deref(),
            Some("Bearer error=\"invalid_token\", error_description=\"expired\"")
        );
        let nonce = Error::use_dpop_nonce("needs a nonce", "bm9uY2U".into()).with_layer(None, only);
        let response: Response<String> = nonce.to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["dpop-nonce"], "bm9uY2U");
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "DPoP error=\"use_dpop_nonce\", error_description=\"needs a nonce\", algs=\"ES256\""
        );
    }
}
