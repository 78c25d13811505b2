//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `GET/POST /session/end` and the signed-out page.
//!
//! A logout link is a plain GET that any page can make a browser follow, so the session is never ended by the GET
//! itself: it shows a confirmation whose form (CSRF token bound to the session) ends it. The
//! `post_logout_redirect_uri` is followed only when it is registered, exactly, for the client the request names
//! (by `client_id` or by the `aud` of a valid `id_token_hint`); otherwise the browser lands on the signed-out page.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::super::AppState;
use super::super::form::FormBody;
use super::pages;
use super::{
    Web, error_page, field, forged, form_pairs, render, same_origin, see_other, service_error_page,
    signed_in, with_cookie,
};
use crate::service::{AuthService, redirect_with};

/// The parameters of a logout request this server reads.
const LOGOUT_PARAMS: [&str; 4] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

/// A checked logout request.
struct LogoutRequest {
    /// Where to go afterwards: the registered post-logout URI with `state`, or the signed-out page.
    next: String,
    client_name: Option<String>,
    params: Vec<(&'static str, String)>,
}

/// Checks a logout request's parameters; `Err` is the error page.
async fn checked(
    service: &AuthService,
    web: &Web,
    pairs: &[(String, String)],
) -> Result<LogoutRequest, Response> {
    let mut params: Vec<(&'static str, String)> = Vec::new();
    for name in LOGOUT_PARAMS {
        let mut values = pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => {
                return Err(error_page(
                    web,
                    StatusCode::BAD_REQUEST,
                    "The sign-out request repeats a parameter.",
                ));
            }
            (Some(v), None) if !v.is_empty() && v.len() <= 4096 => params.push((name, v.clone())),
            _ => {}
        }
    }
    let value = |name: &str| {
        params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    let hinted = match value("id_token_hint") {
        Some(hint) => match service.id_token_hint(hint) {
            Some((client_id, _)) => Some(client_id),
            None => {
                return Err(error_page(
                    web,
                    StatusCode::BAD_REQUEST,
                    "The sign-out request's id_token_hint is not an ID token of this server.",
                ));
            }
        },
        None => None,
    };
    let client_id = match (hinted, value("client_id")) {
        (Some(h), Some(c)) if h != c => {
            return Err(error_page(
                web,
                StatusCode::BAD_REQUEST,
                "The sign-out request names two different applications.",
            ));
        }
        (Some(h), _) => Some(h),
        (None, c) => c.map(str::to_owned),
    };
    let client = match &client_id {
        Some(id) => match service.web_client(id).await {
            Ok(client) => client,
            Err(e) => return Err(service_error_page(web, &e)),
        },
        None => None,
    };
    let signed_out = format!("{}/signed-out", web.base);
    let next = match value("post_logout_redirect_uri") {
        None => signed_out,
        Some(uri) => {
            let registered = client
                .as_ref()
                .is_some_and(|c| c.web.post_logout_redirect_uris.iter().any(|r| r == uri));
            if !registered {
                return Err(error_page(
                    web,
                    StatusCode::BAD_REQUEST,
                    "The address to return to after signing out is not one the application registered.",
                ));
            }
            let state: Vec<(&str, &str)> =
                value("state").map(|s| ("state", s)).into_iter().collect();
            match redirect_with(uri, &state) {
                Ok(url) => url,
                Err(e) => return Err(service_error_page(web, &e)),
            }
        }
    };
    Ok(LogoutRequest {
        next,
        client_name: client.map(|c| c.name),
        params,
    })
}

/// `GET /session/end`: the confirmation page, or straight on when the browser is not signed in.
#[utoipa::path(
    get,
    path = "/session/end",
    tag = "openid",
    summary = "RP-initiated logout: the confirmation page",
    params(super::super::openapi::schema::LogoutParams),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn end_session_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (service, web) = (&state.service, &state.web);
    let Ok(pairs) = super::super::form::parse(query.unwrap_or_default().as_bytes()) else {
        return error_page(
            web,
            StatusCode::BAD_REQUEST,
            "The sign-out request's query string is not valid.",
        );
    };
    let pairs: Vec<(String, String)> = pairs.into_iter().map(|(n, v)| (n, v.to_string())).collect();
    let request = match checked(service, web, &pairs).await {
        Ok(request) => request,
        Err(page) => return page,
    };
    let session = match signed_in(service, web, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => return see_other(&request.next),
        Err(e) => return service_error_page(web, &e),
    };
    render(
        StatusCode::OK,
        &pages::SignOut {
            chrome: web.chrome(),
            username: &session.user.username,
            client_name: request.client_name.as_deref(),
            params: &request.params,
            csrf_token: &service.session_csrf_token(&session.session.id),
        },
        Some(&request.next),
    )
}

/// `POST /session/end`: the confirmation form; ends this browser's SSO session and what it started.
#[utoipa::path(
    post,
    path = "/session/end",
    tag = "openid",
    summary = "RP-initiated logout: the confirmation form",
    request_body(content = super::super::openapi::schema::LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn end_session_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let (service, web) = (&state.service, &state.web);
    let pairs = match form_pairs(web, form) {
        Ok(pairs) => pairs,
        Err(page) => return page,
    };
    let plain: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| (n.clone(), v.to_string()))
        .collect();
    let request = match checked(service, web, &plain).await {
        Ok(request) => request,
        Err(page) => return page,
    };
    let session = match signed_in(service, web, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => return with_cookie(see_other(&request.next), Some(web.clear_sso_cookie())),
        Err(e) => return service_error_page(web, &e),
    };
    let csrf_ok = field(&pairs, "csrf_token")
        .is_some_and(|t| service.session_csrf_ok(&session.session.id, t));
    if !same_origin(web, &headers) || !csrf_ok {
        return forged(web);
    }
    match service
        .end_sso_sessions(&session.user.id, Some(&session.session.id))
        .await
    {
        Ok(()) => with_cookie(see_other(&request.next), Some(web.clear_sso_cookie())),
        Err(e) => service_error_page(web, &e),
    }
}

/// `GET /signed-out`.
#[utoipa::path(
    get,
    path = "/signed-out",
    tag = "openid",
    summary = "The signed-out page",
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn signed_out(State(state): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &pages::Message {
            chrome: state.web.chrome(),
            heading: "You are signed out",
            text: "This browser's session has ended.",
            alert: false,
            next: Some("You can close this page."),
        },
        None,
    )
}
