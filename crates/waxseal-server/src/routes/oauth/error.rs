//! The errors of the `/oauth/*` endpoints (RFC 6749 §5.2): status, code, description and the headers some of them
//! carry (`WWW-Authenticate: Basic`, `Retry-After`, `DPoP-Nonce`), always `no-store`.

use axum::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::DPOP_NONCE;
use crate::error::{Error, ErrorKind, UNAVAILABLE_RETRY_AFTER};
use crate::routes::error::{body, quoted_safe};

/// An RFC 6749 §5.2 error of the `/oauth/*` endpoints.
#[derive(Debug)]
pub struct OAuthError {
    pub(in crate::routes) status: StatusCode,
    pub(in crate::routes) error: &'static str,
    pub(super) description: String,
    /// Answer with `WWW-Authenticate: Basic` (the client used Basic, or sent no credentials at all).
    pub(super) basic_challenge: bool,
    /// `Retry-After` seconds (a throttled password grant).
    pub(super) retry_after: Option<u64>,
    /// A fresh `DPoP-Nonce` (RFC 9449 §8) to send with a `use_dpop_nonce` answer.
    pub(super) dpop_nonce: Option<String>,
}

impl OAuthError {
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    pub(super) fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description)
    }

    pub(super) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(super) fn invalid_client(basic_challenge: bool) -> Self {
        Self::invalid_client_because(basic_challenge, "client authentication failed")
    }

    /// `invalid_client` saying why: the service's message (a client metadata document's refusal names what was
    /// wrong; an unknown id and a wrong secret are the same "client authentication failed").
    pub(super) fn invalid_client_because(
        basic_challenge: bool,
        description: impl Into<String>,
    ) -> Self {
        OAuthError {
            basic_challenge,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }

    /// The refusal of a DPoP proof: [`OAuthError::from_service`], but a 503 says that the replay store (Redis), not
    /// the database, does not answer.
    pub(super) fn from_dpop(e: &Error, basic: bool) -> Self {
        if e.kind() == ErrorKind::Unavailable {
            tracing::warn!(error = %e, "DPoP proof refused: the replay store does not answer");
            return OAuthError {
                retry_after: Some(e.retry_after().unwrap_or(UNAVAILABLE_RETRY_AFTER)),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the server cannot check DPoP proofs for replay now; retry after the Retry-After seconds",
                )
            };
        }
        Self::from_service(e, basic)
    }

    /// A service error, as the OAuth error it is; `basic` says whether the client authenticated with Basic.
    pub(super) fn from_service(e: &Error, basic: bool) -> Self {
        let (status, error) = match e.kind() {
            ErrorKind::InvalidClient => return Self::invalid_client_because(basic, e.message()),
            // RFC 6749 has no code for this; RFC 8628 §3.5's `slow_down` is the token endpoint's nearest one.
            ErrorKind::Throttled => {
                return OAuthError {
                    retry_after: e.retry_after(),
                    ..Self::new(StatusCode::TOO_MANY_REQUESTS, "slow_down", e.message())
                };
            }
            ErrorKind::InvalidGrant | ErrorKind::InvalidCredentials => {
                (StatusCode::BAD_REQUEST, "invalid_grant")
            }
            ErrorKind::UnauthorizedClient => (StatusCode::BAD_REQUEST, "unauthorized_client"),
            ErrorKind::InvalidScope => (StatusCode::BAD_REQUEST, "invalid_scope"),
            // RFC 8707 §2.
            ErrorKind::InvalidTarget => (StatusCode::BAD_REQUEST, "invalid_target"),
            ErrorKind::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request"),
            // RFC 9449 §5 and §8; the fresh nonce is added by the handler, which has the service.
            ErrorKind::DpopProof => (StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
            ErrorKind::DpopNonce => (StatusCode::BAD_REQUEST, "use_dpop_nonce"),
            ErrorKind::Unavailable => {
                tracing::warn!(error = %e, "request refused: the database is unreachable");
                return OAuthError {
                    retry_after: Some(e.retry_after().unwrap_or(UNAVAILABLE_RETRY_AFTER)),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "the server cannot reach its database; retry after the Retry-After seconds",
                    )
                };
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server failed; the operator can find details in its log",
                );
            }
        };
        Self::new(status, error, e.message())
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
        let mut response = (
            self.status,
            body(self.error, &quoted_safe(&self.description)),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            response.headers_mut().insert(DPOP_NONCE, nonce);
        }
        if self.status == StatusCode::UNAUTHORIZED && self.basic_challenge {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"waxseal\""),
            );
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1) on every `/oauth/*` response, errors included.
pub(super) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
