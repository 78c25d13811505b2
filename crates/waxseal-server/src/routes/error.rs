//! [`ApiError`]: everything a handler outside `/oauth/*` can fail with, and the one place such errors become
//! responses.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::REALM;
use crate::error::{Error, ErrorKind, UNAVAILABLE_RETRY_AFTER};

/// Everything a handler can fail with, and the one place errors become responses.
#[derive(Debug)]
pub enum ApiError {
    /// The bearer token is missing, malformed or refused: the RFC 6750 response of `waxseal_axum`, the same as the
    /// protected routes' layer gives.
    Bearer(waxseal_axum::Error),
    /// Login failed; one body for every reason.
    InvalidCredentials,
    /// The refresh token was refused.
    InvalidGrant(String),
    /// The request itself is wrong: status and a fixed description.
    BadRequest(StatusCode, &'static str),
    /// Too many failed logins: 429 with `Retry-After` in seconds.
    Throttled(u64),
    /// The database is unreachable: 503 with `Retry-After` in seconds.
    Unavailable(u64),
    /// A cookie-mode request failed the CSRF defences (foreign `Origin`, missing or wrong `X-CSRF-Token`): 403.
    CsrfRejected(&'static str),
    /// The request is well-formed but refused (e.g. a duplicate).
    Refused(StatusCode, String),
    /// Our fault; details are logged, not sent.
    Internal,
}

pub(super) fn body(error: &str, description: &str) -> Json<serde_json::Value> {
    Json(json!({ "error": error, "error_description": description }))
}

/// RFC 6750 §3: `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E.
pub(super) fn quoted_safe(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Bearer(e) => e.with_realm(Some(REALM.into())).into_response(),
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                body(
                    "invalid_credentials",
                    "the username or password is wrong, or the account is disabled",
                ),
            )
                .into_response(),
            ApiError::InvalidGrant(description) => (
                StatusCode::UNAUTHORIZED,
                body("invalid_grant", &description),
            )
                .into_response(),
            ApiError::Throttled(seconds) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    body(
                        "too_many_requests",
                        "too many failed logins; wait for the Retry-After seconds",
                    ),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
            ApiError::Unavailable(seconds) => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    body(
                        "temporarily_unavailable",
                        "the server cannot reach its database; retry after the Retry-After seconds",
                    ),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
            ApiError::BadRequest(status, description) => {
                (status, body("invalid_request", description)).into_response()
            }
            ApiError::CsrfRejected(description) => {
                (StatusCode::FORBIDDEN, body("csrf_rejected", description)).into_response()
            }
            ApiError::Refused(status, description) => {
                (status, body("invalid_request", &description)).into_response()
            }
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                body(
                    "server_error",
                    "the server failed; the operator can find details in its log",
                ),
            )
                .into_response(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidCredentials => ApiError::InvalidCredentials,
            ErrorKind::InvalidToken => {
                ApiError::Bearer(waxseal_axum::Error::invalid_token(e.message().to_owned()))
            }
            ErrorKind::InvalidGrant => ApiError::InvalidGrant(e.message().to_owned()),
            ErrorKind::CsrfRejected => ApiError::CsrfRejected(
                "the X-CSRF-Token header does not match this session: send the csrf_token of its login response",
            ),
            ErrorKind::InvalidRequest
            | ErrorKind::InvalidTarget
            | ErrorKind::DpopProof
            | ErrorKind::DpopNonce => {
                ApiError::Refused(StatusCode::BAD_REQUEST, e.message().to_owned())
            }
            ErrorKind::Conflict => ApiError::Refused(StatusCode::CONFLICT, e.message().to_owned()),
            ErrorKind::Throttled => ApiError::Throttled(e.retry_after().unwrap_or(1)),
            ErrorKind::Unavailable => {
                tracing::warn!(error = %e, "request refused: the database is unreachable");
                ApiError::Unavailable(e.retry_after().unwrap_or(UNAVAILABLE_RETRY_AFTER))
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                ApiError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_descriptions_fit_the_rfc_6750_grammar() {
        let shown = quoted_safe("audience \"api2\" not accepted \\ \u{e9}\n");
        assert_eq!(shown, "audience 'api2' not accepted ' ??");
        assert_eq!(quoted_safe(&"x".repeat(1000)).len(), 200);
    }
}
