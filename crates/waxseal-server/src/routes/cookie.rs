//! Cookie mode: the refresh token lives in an `HttpOnly` cookie, out of reach of the page's scripts.
//!
//! A browser app that keeps its refresh token in `localStorage` hands it to any script injected into the page, and
//! the refresh token is the long-lived secret. With cookie mode on (`Config::refresh_cookie`), `POST /login` and
//! `POST /refresh` send it only as
//!
//! ```text
//! Set-Cookie: __Secure-waxseal-refresh=<token>; Path=/refresh; Max-Age=<its lifetime>; HttpOnly; Secure; SameSite=Strict
//! ```
//!
//! and never in the JSON body; `POST /refresh` reads it from the cookie and `POST /logout` clears it (`Max-Age=0`).
//! `HttpOnly` keeps it from scripts, `Secure` (and the `__Secure-` prefix, which browsers enforce) from plain HTTP,
//! `Path` (the issuer's path + `/refresh`) from every other request, and `Max-Age` from outliving the token.
//!
//! A cookie is sent by the browser on its own, so cookie-authenticated requests need CSRF defences. Three layers,
//! each enough against a cross-site attacker on its own today, together robust to one of them failing (an old
//! browser without SameSite, a sibling subdomain, which SameSite counts as the same site):
//!
//! 1. `SameSite=Strict`: the browser does not attach the cookie to requests started by another site.
//! 2. `Origin`: a request that carries an `Origin` header must carry the issuer's origin, else 403 before
//!    anything else happens. Browsers send `Origin` on every cross-origin request and on every `POST`; clients
//!    that are not browsers send none and are not affected. (Applied to `/login` and `/logout` too: they set cookies.)
//! 3. `X-CSRF-Token`: the login and refresh responses carry a `csrf_token` that `POST /refresh` must echo in the
//!    `X-CSRF-Token` header. A cross-site page can neither read that response nor set a custom header without a
//!    CORS preflight, which this server never grants. The token is an HMAC of the session id under a key derived
//!    from the master key (see `service::csrf`): bound to the session, so it survives refresh-token rotation and
//!    works from every tab; stateless; compared in constant time; and checked *before* the refresh token is
//!    consumed, so a refused request leaves the victim's session intact.
//!
//! The CSRF token is readable by the page's scripts, as it must be; the refresh token is not. Script injected into
//! the page can still refresh while the page is open (nothing stops that), but it cannot carry the refresh token
//! away to use elsewhere. Presenting an old cookie again with the session's CSRF token still triggers reuse
//! detection and revokes the session; an old cookie without it (a stolen cookie) is refused and useless.
//!
//! With cookie mode off, cookies are never read and never set.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CACHE_CONTROL, COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiError;
use super::json::bytes_rejection;
use crate::config::{Config, PublicUrl};
use crate::error::ErrorKind;
use crate::service::{AuthService, RefreshCredential, TokenPair};

/// The name of the refresh-token cookie. The `__Secure-` prefix makes browsers refuse it unless it is `Secure`.
pub const REFRESH_COOKIE: &str = "__Secure-waxseal-refresh";
/// The header that carries the CSRF token on `POST /refresh`.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What cookie mode needs from the configuration, computed once.
#[derive(Debug)]
pub struct CookiePolicy {
    /// The only `Origin` accepted (the issuer's).
    origin: String,
    /// The cookie's `Path`: the issuer's path + `/refresh`.
    path: String,
}

/// Cookie mode, on (with its policy) or off.
#[derive(Debug, Clone)]
pub struct CookieMode(Option<Arc<CookiePolicy>>);

/// A new access token and refresh token (`POST /login`, `POST /refresh`).
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenResponse<'a> {
    /// The access token: a JWT (`typ: at+jwt`, RFC 9068) to send as `Authorization: Bearer`.
    access_token: &'a str,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// The refresh token: opaque, usable once.
    refresh_token: &'a str,
    /// Seconds until the refresh token expires unless used.
    refresh_expires_in: u64,
}

/// The body-mode answer carrying a token pair: both tokens in the JSON body.
pub(super) fn token_response(pair: &TokenPair) -> Response {
    let mut response = Json(TokenResponse {
        access_token: &pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: &pair.refresh_token,
        refresh_expires_in: pair.refresh_expires_in,
    })
    .into_response();
    // RFC 6749 §5.1: responses carrying tokens must not be cached.
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The answer of `POST /login` and `POST /refresh` in cookie mode: the refresh token is in the cookie instead.
#[derive(Serialize, ToSchema)]
pub(crate) struct CookieTokenResponse<'a> {
    /// The access token: a JWT (`typ: at+jwt`, RFC 9068) to send as `Authorization: Bearer`.
    access_token: &'a str,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// Seconds until the refresh cookie expires unless used.
    refresh_expires_in: u64,
    /// The session's CSRF token: send it as `X-CSRF-Token` on `POST /refresh`. The same for the whole session.
    csrf_token: &'a str,
}

impl CookieMode {
    /// Cookie mode as `config` says. The configuration has been validated (the issuer parses); should it not, the
    /// policy fails closed: no `Origin` matches.
    pub fn new(config: &Config) -> CookieMode {
        if !config.refresh_cookie {
            return CookieMode(None);
        }
        let (origin, prefix) = PublicUrl::parse(&config.issuer).map_or_else(
            |_| (String::new(), String::new()),
            |url| (url.origin, url.path),
        );
        CookieMode(Some(Arc::new(CookiePolicy {
            origin,
            path: format!("{prefix}/refresh"),
        })))
    }

    /// Whether cookie mode is on.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    pub(super) fn policy(&self) -> Option<&CookiePolicy> {
        self.0.as_deref()
    }

    /// In cookie mode, refuses a request whose `Origin` is present and not the issuer's.
    pub(super) fn check_origin(
        &self,
        headers: &HeaderMap,
        service: &AuthService,
    ) -> Result<(), ApiError> {
        match self.policy() {
            Some(policy) => policy.check_origin(headers, service),
            None => Ok(()),
        }
    }

    /// The answer carrying a new pair: the body-mode JSON, or the cookie-mode JSON and cookie.
    pub(super) fn token_response(&self, service: &AuthService, pair: &TokenPair) -> Response {
        match self.policy() {
            Some(policy) => policy.token_response(service, pair),
            None => token_response(pair),
        }
    }

    /// `204 No Content`, clearing the cookie in cookie mode.
    pub(super) fn logged_out(&self) -> Response {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(policy) = self.policy() {
            response
                .headers_mut()
                .insert(SET_COOKIE, policy.clear_cookie());
        }
        response
    }
}

impl CookiePolicy {
    fn check_origin(&self, headers: &HeaderMap, service: &AuthService) -> Result<(), ApiError> {
        let Some(origin) = headers.get(ORIGIN) else {
            return Ok(());
        };
        let same = !self.origin.is_empty()
            && origin
                .to_str()
                .is_ok_and(|origin| origin.eq_ignore_ascii_case(&self.origin));
        if same {
            Ok(())
        } else {
            service.metrics().csrf_refusals.origin.increment(1);
            Err(ApiError::CsrfRejected(
                "the Origin header is not this server's origin (the issuer's); cross-site requests are refused",
            ))
        }
    }

    /// `Set-Cookie` for `token`, living `max_age` seconds.
    fn set_cookie(&self, token: &str, max_age: u64) -> Option<HeaderValue> {
        HeaderValue::from_str(&format!(
            "{REFRESH_COOKIE}={token}; Path={}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict",
            self.path
        ))
        .ok()
    }

    /// `Set-Cookie` that makes the browser drop the cookie.
    fn clear_cookie(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "{REFRESH_COOKIE}=; Path={}; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
            self.path
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("__Secure-waxseal-refresh=; Max-Age=0"))
    }

    fn token_response(&self, service: &AuthService, pair: &TokenPair) -> Response {
        // Refresh tokens are base64url: always a valid header value. Should one not be, answer 500 rather than
        // put it in the body.
        let Some(cookie) = self.set_cookie(&pair.refresh_token, pair.refresh_expires_in) else {
            tracing::error!("a refresh token is not a valid cookie value");
            return ApiError::Internal.into_response();
        };
        let csrf_token = service.csrf_token(&pair.sid);
        let mut response = Json(CookieTokenResponse {
            access_token: &pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_expires_in: pair.refresh_expires_in,
            csrf_token: &csrf_token,
        })
        .into_response();
        let headers = response.headers_mut();
        headers.insert(SET_COOKIE, cookie);
        // RFC 6749 §5.1: responses carrying tokens must not be cached.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// A refused refresh: the error, and the cookie cleared when the token itself is dead.
    fn refused(&self, error: ApiError) -> Response {
        let clear = matches!(error, ApiError::InvalidGrant(_));
        let mut response = error.into_response();
        if clear {
            response
                .headers_mut()
                .insert(SET_COOKIE, self.clear_cookie());
        }
        response
    }
}

/// The refresh token in the request's cookies, if any (the first one of that name: the most specific path).
fn refresh_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// `POST /refresh` in cookie mode: `Origin`, then the cookie, then `X-CSRF-Token` against the cookie's session, and
/// only then the rotation, which answers with the next cookie.
pub(super) async fn refresh(
    service: &AuthService,
    policy: &CookiePolicy,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if let Err(e) = policy.check_origin(&headers, service) {
        return e.into_response();
    }
    match Bytes::from_request(request, &()).await {
        Ok(body) if body.is_empty() => {}
        Ok(_) => {
            return ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "in cookie mode POST /refresh takes no body: the refresh token comes from its cookie and the \
                 CSRF token from the X-CSRF-Token header",
            )
            .into_response();
        }
        Err(rejection) => return bytes_rejection(&rejection).into_response(),
    }
    let Some(token) = refresh_cookie(&headers) else {
        return ApiError::InvalidGrant(
            "no refresh cookie: log in first (the browser sends it only over HTTPS, to this path)"
                .into(),
        )
        .into_response();
    };
    let Some(presented) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) else {
        service.metrics().csrf_refusals.token.increment(1);
        return ApiError::CsrfRejected(
            "the X-CSRF-Token header is missing: send the csrf_token of the login response",
        )
        .into_response();
    };
    let credential = RefreshCredential::Cookie {
        refresh_token: token,
        csrf_token: presented.trim(),
    };
    match service.refresh(credential).await {
        Ok(pair) => policy.token_response(service, &pair),
        Err(e) if e.kind() == ErrorKind::InvalidGrant => policy.refused(e.into()),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        assert_eq!(refresh_cookie(&headers), None);
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=1; __Secure-waxseal-refresh=tok; b=2"),
        );
        assert_eq!(refresh_cookie(&headers), Some("tok"));
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1"));
        headers.append(
            COOKIE,
            HeaderValue::from_static("__Secure-waxseal-refresh=first"),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_static("__Secure-waxseal-refresh=second"),
        );
        assert_eq!(refresh_cookie(&headers), Some("first"));
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("waxseal-refresh=x; __Secure-waxseal-refresh="),
        );
        assert_eq!(
            refresh_cookie(&headers),
            None,
            "other names and empty values do not count"
        );
    }
}
