//! The pages a person sees: sign-in, consent, sign-out, `/account`, and the error and signed-out pages.
//!
//! Server-rendered from `askama` templates compiled into the binary; forms work without JavaScript and there is
//! none; one stylesheet, served from the binary under a name that carries its hash (so it can be cached for good).
//! Every page carries the same strict headers ([`page`]): a CSP that allows nothing but that stylesheet and forms
//! to this server (and, on a page whose form ends in a redirect to a client, that client's origin — Chromium
//! applies `form-action` to the redirect after a form post), `frame-ancestors 'none'` against clickjacking,
//! `no-store`, `nosniff`.
//!
//! `Referrer-Policy` is `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` on
//! the pages' own form posts (Fetch §3.1), and the check of [`same_origin`] — every form post must carry this
//! server's origin — would have nothing to compare. Cross-origin navigations still send no referrer.
//!
//! Cookies: the SSO session (`HttpOnly; Secure; SameSite=Lax`, `__Host-` prefixed) and, before there is a
//! session, a random browser id the sign-in form's CSRF token is bound to. Every form carries a CSRF token: an
//! HMAC of the SSO session id (or of the browser id) under a key derived from the master key.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN,
    REFERRER_POLICY, SET_COOKIE, USER_AGENT, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use zeroize::Zeroizing;

use super::AppState;
use super::form::FormBody;
use crate::config::{Config, PublicUrl};
use crate::error::{Error, ErrorKind};
use crate::secret::random_id;
use crate::service::{AuthService, SignedIn};

pub(super) mod account;
pub(super) mod authorize;
pub(super) mod logout;
mod pages;

/// The stylesheet, compiled in.
const STYLESHEET: &[u8] = include_bytes!("../../../assets/waxseal.css");

/// What the pages need from the configuration, computed once.
#[derive(Debug)]
pub(crate) struct Web {
    /// The issuer's origin: the only `Origin` a form post may carry.
    origin: String,
    /// The path prefix the server is served under (empty at the root).
    pub(crate) base: String,
    /// The SSO session cookie's name.
    sso_cookie: &'static str,
    /// The pre-session browser cookie's name.
    browser_cookie: &'static str,
    /// `Secure` on the cookies.
    secure: bool,
    /// `/assets/waxseal.<hash>.css`, under `base`.
    pub(crate) stylesheet: String,
    /// The stylesheet's file name.
    stylesheet_name: String,
}

impl Web {
    pub(crate) fn new(config: &Config) -> Web {
        let url = PublicUrl::parse(&config.issuer).unwrap_or(PublicUrl {
            origin: String::new(),
            path: String::new(),
            secure: false,
            loopback: false,
        });
        // Browsers take `Secure` cookies (and the `__Host-` prefix, which requires it) from https and from
        // loopback addresses; a plain-http issuer on another host gets cookies it can keep, without either.
        let secure = url.secure || url.loopback;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, STYLESHEET);
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&digest.as_ref()[..8]);
        let hash = format!("{:016x}", u64::from_be_bytes(prefix));
        let stylesheet_name = format!("waxseal.{hash}.css");
        Web {
            stylesheet: format!("{}/assets/{stylesheet_name}", url.path),
            stylesheet_name,
            origin: url.origin,
            base: url.path,
            sso_cookie: if secure {
                "__Host-waxseal-sso"
            } else {
                "waxseal-sso"
            },
            browser_cookie: if secure {
                "__Host-waxseal-browser"
            } else {
                "waxseal-browser"
            },
            secure,
        }
    }

    /// A `Set-Cookie` value: `HttpOnly; SameSite=Lax; Path=/`, `Secure` when possible; `max_age` 0 deletes.
    fn cookie(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly{secure}; SameSite=Lax"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    pub(crate) fn sso_cookie(&self, secret: &str, max_age: u64) -> HeaderValue {
        self.cookie(self.sso_cookie, secret, max_age)
    }

    pub(crate) fn clear_sso_cookie(&self) -> HeaderValue {
        self.cookie(self.sso_cookie, "", 0)
    }
}

/// The value of cookie `name` in the request, if sent once; a cookie sent twice (one planted for a parent domain
/// beside ours) counts as absent.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            if let Some((n, v)) = pair.trim().split_once('=')
                && n == name
            {
                if found.is_some() {
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found
}

/// What every page is rendered with.
pub(crate) struct Chrome<'a> {
    pub(crate) stylesheet: &'a str,
    pub(crate) base: &'a str,
}

impl Web {
    pub(crate) fn chrome(&self) -> Chrome<'_> {
        Chrome {
            stylesheet: &self.stylesheet,
            base: &self.base,
        }
    }
}

/// The CSP `form-action` source of a redirect URI: its origin, or its scheme for a private-use scheme.
fn form_action_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// An HTML page with the strict headers. `redirects_to`: the client redirect URI the page's form may end at.
pub(crate) fn page(status: StatusCode, html: String, redirects_to: Option<&str>) -> Response {
    let mut form_action = "'self'".to_owned();
    if let Some(source) = redirects_to.and_then(form_action_source) {
        form_action.push(' ');
        form_action.push_str(&source);
    }
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Renders a template into a page; a template that fails to render (it cannot: they are type-checked) is a 500.
pub(crate) fn render(
    status: StatusCode,
    template: &impl Template,
    redirects_to: Option<&str>,
) -> Response {
    match template.render() {
        Ok(html) => page(status, html, redirects_to),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The error page: what went wrong and what to do next, never an echo of the request.
pub(crate) fn error_page(web: &Web, status: StatusCode, text: &str) -> Response {
    render(
        status,
        &pages::Message {
            chrome: web.chrome(),
            heading: "Something went wrong",
            text,
            alert: true,
            next: Some("Go back to the application you came from and try again."),
        },
        None,
    )
}

/// The page of a service error: the database unreachable, or our own failure.
pub(crate) fn service_error_page(web: &Web, e: &Error) -> Response {
    match e.kind() {
        ErrorKind::Unavailable => {
            let mut response = error_page(
                web,
                StatusCode::SERVICE_UNAVAILABLE,
                "The sign-in service cannot reach its database right now. Try again in a few seconds.",
            );
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from(
                    e.retry_after()
                        .unwrap_or(crate::error::UNAVAILABLE_RETRY_AFTER),
                ),
            );
            response
        }
        ErrorKind::InvalidRequest => error_page(web, StatusCode::BAD_REQUEST, e.message()),
        _ => {
            tracing::error!(error = %e, "a page request failed");
            error_page(
                web,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server failed. The operator can find the details in its log.",
            )
        }
    }
}

/// A `303 See Other` to `location` (after a form post the browser follows it with a GET).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
        }
        Err(_) => *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether a form post came from this server's own pages: its `Origin`, when the browser sent one, is the
/// issuer's. (Every current browser sends `Origin` on a form post; a request without one is not a browser's.)
pub(crate) fn same_origin(web: &Web, headers: &HeaderMap) -> bool {
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|o| o == web.origin),
    }
}

/// A form post from a page of a signed-in browser: its fields and the browser's SSO session (`None`: signed out
/// meanwhile, which each handler answers its own way), or the page to answer with — the form unreadable, the
/// session unreadable, a foreign `Origin`, or a CSRF token that is not the session's.
pub(crate) async fn session_form(
    service: &AuthService,
    web: &Web,
    headers: &HeaderMap,
    form: FormBody,
) -> Result<(Vec<(String, Zeroizing<String>)>, Option<SignedIn>), Response> {
    let pairs = form_pairs(web, form)?;
    let session = signed_in(service, web, headers)
        .await
        .map_err(|e| service_error_page(web, &e))?;
    let csrf_ok = session.as_ref().is_none_or(|s| {
        field(&pairs, "csrf_token").is_some_and(|t| service.session_csrf_ok(&s.session.id, t))
    });
    if !same_origin(web, headers) || !csrf_ok {
        return Err(forged(web));
    }
    Ok((pairs, session))
}

/// The page a refused form post gets: a foreign origin or a wrong CSRF token.
pub(crate) fn forged(web: &Web) -> Response {
    error_page(
        web,
        StatusCode::FORBIDDEN,
        "This form was not sent from this sign-in service's own page, or the page was too old.",
    )
}

/// The browser's `User-Agent`, for its session.
pub(crate) fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(USER_AGENT).and_then(|v| v.to_str().ok())
}

/// The signed-in SSO session of this request's browser, if any.
pub(crate) async fn signed_in(
    service: &AuthService,
    web: &Web,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, Error> {
    match cookie(headers, web.sso_cookie) {
        Some(secret) => service.signed_in(secret).await,
        None => Ok(None),
    }
}

/// The browser id the sign-in form's CSRF token is bound to: the one the browser sent, or a new one with the
/// `Set-Cookie` that gives it to the browser.
pub(crate) fn browser_id(
    web: &Web,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), Error> {
    if let Some(id) = cookie(headers, web.browser_cookie).filter(|id| id.len() == 22) {
        return Ok((id.to_owned(), None));
    }
    let id = random_id()?;
    // A day is plenty for a sign-in form to be filled in.
    let set = web.cookie(web.browser_cookie, &id, 24 * 60 * 60);
    Ok((id, Some(set)))
}

/// The browser id cookie of this request, if any.
pub(crate) fn sent_browser_id<'h>(web: &Web, headers: &'h HeaderMap) -> Option<&'h str> {
    cookie(headers, web.browser_cookie)
}

/// Adds a `Set-Cookie` to a response.
pub(crate) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// A form post's pairs as plain strings (passwords stay in `Zeroizing` only as long as the form does), or the
/// error page when the body is not a form.
pub(crate) fn form_pairs(
    web: &Web,
    form: FormBody,
) -> Result<Vec<(String, Zeroizing<String>)>, Response> {
    form.0.map_err(|_| {
        error_page(
            web,
            StatusCode::BAD_REQUEST,
            "The form could not be read: it must be sent as application/x-www-form-urlencoded, in UTF-8.",
        )
    })
}

/// The one value of `name` in a form; absent, empty or repeated is `None`.
pub(crate) fn field<'f>(pairs: &'f [(String, Zeroizing<String>)], name: &str) -> Option<&'f str> {
    let mut found = pairs.iter().filter(|(n, _)| n == name);
    match (found.next(), found.next()) {
        (Some((_, v)), None) if !v.is_empty() => Some(v.as_str()),
        _ => None,
    }
}

/// `GET /assets/{name}`: the stylesheet, cached for good (its name changes with its content).
#[utoipa::path(
    get,
    path = "/assets/{name}",
    tag = "openid",
    summary = "The pages' stylesheet, under a name that carries its hash",
    params(("name" = String, Path, description = "`waxseal.<hash>.css`, as the pages link it")),
    responses(
        (status = 200, description = "The stylesheet", content_type = "text/css", body = String),
        (status = 404, description = "No such asset"),
    )
)]
pub(super) async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    if name != state.web.stylesheet_name {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = Bytes::from_static(STYLESHEET).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_sent_twice_counts_as_absent() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; b=2"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        headers.append(COOKIE, HeaderValue::from_static("a=3"));
        assert_eq!(cookie(&headers, "a"), None);
        assert_eq!(cookie(&headers, "b"), Some("2"));
    }

    #[test]
    fn form_action_allows_the_clients_origin_only() {
        assert_eq!(
            form_action_source("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            form_action_source("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
    }
}
