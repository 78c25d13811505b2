//! `GET/POST /authorize`, `POST /signin`, `POST /consent`: the authorization code flow as the browser walks it.
//!
//! Each handler checks the authorization request again from its parameters (see [`crate::service::authorize`]),
//! then asks the service what comes next ([`Step`]) and shows it: the sign-in page, the consent page, or a `303` back
//! to the client.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::super::form::FormBody;
use super::super::{AppState, Peer};
use super::pages::{self, describe_scope};
use super::{
    Web, browser_id, error_page, field, forged, form_pairs, render, same_origin, see_other,
    sent_browser_id, service_error_page, session_form, signed_in, user_agent, with_cookie,
};
use crate::error::ErrorKind;
use crate::service::client_metadata::metadata_client_host;
use crate::service::{AuthService, AuthorizationRequest, AuthorizeError, SignedIn, Step};

/// The pairs of a query string; `None` when it is not valid UTF-8 form encoding.
fn query_pairs(query: Option<&str>) -> Option<Vec<(String, String)>> {
    let query = query.unwrap_or_default();
    super::super::form::parse(query.as_bytes())
        .ok()
        .map(|pairs| pairs.into_iter().map(|(n, v)| (n, v.to_string())).collect())
}

/// Checks the request, or the page or redirect its error gets.
async fn checked(
    service: &AuthService,
    web: &Web,
    params: &[(String, String)],
) -> Result<AuthorizationRequest, Response> {
    match service.authorization_request(params).await {
        Ok(Ok(request)) => Ok(request),
        Ok(Err(AuthorizeError::Page(message))) => {
            Err(error_page(web, StatusCode::BAD_REQUEST, &message))
        }
        Ok(Err(AuthorizeError::Redirect(e))) => Err(match service.error_url(&e) {
            Ok(url) => see_other(&url),
            Err(e) => service_error_page(web, &e),
        }),
        Err(e) => Err(service_error_page(web, &e)),
    }
}

/// Shows what `step` says.
fn show(
    service: &AuthService,
    web: &Web,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    step: Step,
    signed_in: Option<&SignedIn>,
    failed: Option<(&str, &str)>,
) -> Response {
    match step {
        Step::Redirect(url) => see_other(&url),
        Step::SignIn => {
            let (browser, set_cookie) = match browser_id(web, headers) {
                Ok(found) => found,
                Err(e) => return service_error_page(web, &e),
            };
            let csrf = service.sign_in_csrf_token(&browser);
            let (username, error) = failed.map_or(
                (request.login_hint.as_deref().unwrap_or_default(), None),
                |(u, e)| (u, Some(e)),
            );
            let status = if error.is_some() {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            with_cookie(
                render(
                    status,
                    &pages::SignIn {
                        chrome: web.chrome(),
                        client_name: &request.client.name,
                        params: &request.params,
                        csrf_token: &csrf,
                        username,
                        error,
                    },
                    Some(&request.redirect_uri),
                ),
                set_cookie,
            )
        }
        Step::Consent(scopes) => {
            let Some(signed_in) = signed_in else {
                return error_page(web, StatusCode::BAD_REQUEST, "Sign in first.");
            };
            let host = metadata_client_host(&request.client);
            render(
                StatusCode::OK,
                &pages::Consent {
                    chrome: web.chrome(),
                    client_name: &request.client.name,
                    client_host: host.as_deref(),
                    username: &signed_in.user.username,
                    scopes: scopes.iter().map(|s| describe_scope(s)).collect(),
                    params: &request.params,
                    csrf_token: &service.session_csrf_token(&signed_in.session.id),
                },
                Some(&request.redirect_uri),
            )
        }
    }
}

/// The start of the flow, from the query or a form post.
async fn start(state: &AppState, headers: &HeaderMap, params: &[(String, String)]) -> Response {
    let (service, web) = (&state.service, &state.web);
    let request = match checked(service, web, params).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let session = match signed_in(service, web, headers).await {
        Ok(session) => session,
        Err(e) => return service_error_page(web, &e),
    };
    match service
        .authorize(&request, session.as_ref(), false, false)
        .await
    {
        Ok(step) => show(
            service,
            web,
            headers,
            &request,
            step,
            session.as_ref(),
            None,
        ),
        Err(e) => service_error_page(web, &e),
    }
}

/// `GET /authorize`: the authorization request as a query (RFC 6749 §4.1.1).
#[utoipa::path(
    get,
    path = "/authorize",
    tag = "openid",
    summary = "OpenID Connect authorization endpoint (authorization code with PKCE)",
    params(super::super::openapi::schema::AuthorizeParams),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn authorize_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match query_pairs(query.as_deref()) {
        Some(params) => start(&state, &headers, &params).await,
        None => error_page(
            &state.web,
            StatusCode::BAD_REQUEST,
            "The request's query string is not valid: UTF-8, each % followed by two hex digits.",
        ),
    }
}

/// `POST /authorize`: the authorization request as a form post (OpenID Connect Core §3.1.2.1).
#[utoipa::path(
    post,
    path = "/authorize",
    tag = "openid",
    summary = "The authorization request as a form post",
    request_body(content = super::super::openapi::schema::AuthorizeParams, content_type = "application/x-www-form-urlencoded"),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn authorize_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    match form_pairs(&state.web, form) {
        Ok(pairs) => {
            let params: Vec<(String, String)> =
                pairs.into_iter().map(|(n, v)| (n, v.to_string())).collect();
            start(&state, &headers, &params).await
        }
        Err(page) => page,
    }
}

/// The authorization parameters of a form (the hidden fields), without the credentials beside them.
fn request_params(pairs: &[(String, zeroize::Zeroizing<String>)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(n, _)| {
            !matches!(
                n.as_str(),
                "username" | "password" | "csrf_token" | "decision"
            )
        })
        .map(|(n, v)| (n.clone(), v.to_string()))
        .collect()
}

/// `POST /signin`: the sign-in form. On success the browser gets its SSO session cookie and the flow goes on.
#[utoipa::path(
    post,
    path = "/signin",
    tag = "openid",
    summary = "The sign-in form",
    request_body(content = super::super::openapi::schema::SignInForm, content_type = "application/x-www-form-urlencoded"),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Peer(address): Peer,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let (service, web) = (&state.service, &state.web);
    let pairs = match form_pairs(web, form) {
        Ok(pairs) => pairs,
        Err(page) => return page,
    };
    let csrf_ok = sent_browser_id(web, &headers)
        .zip(field(&pairs, "csrf_token"))
        .is_some_and(|(browser, token)| service.sign_in_csrf_ok(browser, token));
    if !same_origin(web, &headers) || !csrf_ok {
        return forged(web);
    }
    let for_account = field(&pairs, "account") == Some("1");
    let params = request_params(&pairs);
    let request = if for_account {
        None
    } else {
        match checked(service, web, &params).await {
            Ok(request) => Some(request),
            Err(response) => return response,
        }
    };
    let username = field(&pairs, "username").unwrap_or_default();
    let password = field(&pairs, "password").unwrap_or_default();
    let new = match service
        .sign_in(username, password, address, user_agent(&headers))
        .await
    {
        Ok(new) => new,
        Err(e) => {
            return sign_in_failed(service, web, &headers, request.as_ref(), username, &e);
        }
    };
    let cookie = Some(web.sso_cookie(&new.secret, service.config().refresh_absolute_ttl.as_secs()));
    let Some(request) = request else {
        return with_cookie(see_other(&format!("{}/account", web.base)), cookie);
    };
    let response = match service
        .authorize(&request, Some(&new.signed_in), true, false)
        .await
    {
        Ok(step) => show(
            service,
            web,
            &headers,
            &request,
            step,
            Some(&new.signed_in),
            None,
        ),
        Err(e) => service_error_page(web, &e),
    };
    with_cookie(response, cookie)
}

/// The sign-in page again, saying why the attempt failed: wrong credentials (one message for every reason, as
/// `POST /login`), or too many attempts.
fn sign_in_failed(
    service: &AuthService,
    web: &Web,
    headers: &HeaderMap,
    request: Option<&AuthorizationRequest>,
    username: &str,
    e: &crate::error::Error,
) -> Response {
    let message = match e.kind() {
        ErrorKind::InvalidCredentials => "The username or password is wrong.",
        ErrorKind::Throttled => "Too many failed sign-ins. Wait a minute, then try again.",
        _ => return service_error_page(web, e),
    };
    let mut response = match request {
        Some(request) => show(
            service,
            web,
            headers,
            request,
            Step::SignIn,
            None,
            Some((username, message)),
        ),
        None => super::account::sign_in_page(service, web, headers, Some((username, message))),
    };
    if e.kind() == ErrorKind::Throttled {
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Some(wait) = e.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(wait));
        }
    }
    response
}

/// How long after entering their password a user's consent counts as part of that sign-in (for `prompt=login` and
/// `max_age`, which the consent step must not ask again).
const SIGN_IN_WINDOW_SECS: u64 = 600;

/// `POST /consent`: the user allows or denies the client.
#[utoipa::path(
    post,
    path = "/consent",
    tag = "openid",
    summary = "The consent form",
    request_body(content = super::super::openapi::schema::ConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let (service, web) = (&state.service, &state.web);
    let (pairs, session) = match session_form(service, web, &headers, form).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let params = request_params(&pairs);
    let Some(session) = session else {
        // Signed out in between (another tab, /account): start over, which shows the sign-in page.
        return start(&state, &headers, &params).await;
    };
    let request = match checked(service, web, &params).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    if field(&pairs, "decision") != Some("allow") {
        return match service
            .error_url(&request.error("access_denied", "the user denied the request"))
        {
            Ok(url) => see_other(&url),
            Err(e) => service_error_page(web, &e),
        };
    }
    if let Err(e) = service.remember_consent(&request, &session).await {
        return service_error_page(web, &e);
    }
    let now = service.now_secs();
    let fresh = now.saturating_sub(session.session.auth_time) <= SIGN_IN_WINDOW_SECS;
    match service
        .authorize(&request, Some(&session), fresh, true)
        .await
    {
        Ok(step) => show(service, web, &headers, &request, step, Some(&session), None),
        Err(e) => service_error_page(web, &e),
    }
}
