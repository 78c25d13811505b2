//! `/account`: the signed-in user's browsers and applications, ending any of them, and changing the password.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::super::form::FormBody;
use super::super::{AppState, Peer};
use super::pages::{self, AppRow, BrowserRow};
use super::{
    Web, browser_id, field, render, see_other, service_error_page, session_form, signed_in,
    user_agent, with_cookie,
};
use crate::error::ErrorKind;
use crate::service::AuthService;
use crate::store::gate::rfc3339;

fn when(secs: u64) -> String {
    let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    rfc3339(at).replace('T', " ").replace('Z', " UTC")
}

/// The sign-in page for `/account` (no application asked): it posts `account=1`, and a successful sign-in comes back
/// here.
pub(crate) fn sign_in_page(
    service: &AuthService,
    web: &Web,
    headers: &HeaderMap,
    failed: Option<(&str, &str)>,
) -> Response {
    let (browser, set_cookie) = match browser_id(web, headers) {
        Ok(found) => found,
        Err(e) => return service_error_page(web, &e),
    };
    let (username, error) = failed.map_or(("", None), |(u, e)| (u, Some(e)));
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
                client_name: "your account",
                params: &[("account", "1".to_owned())],
                csrf_token: &service.sign_in_csrf_token(&browser),
                username,
                error,
            },
            None,
        ),
        set_cookie,
    )
}

/// `GET /account`: the page, or the sign-in page without a session.
#[utoipa::path(
    get,
    path = "/account",
    tag = "openid",
    summary = "The user's sessions and password (the sign-in page without a session)",
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn account(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (service, web) = (&state.service, &state.web);
    let session = match signed_in(service, web, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => return sign_in_page(service, web, &headers, None),
        Err(e) => return service_error_page(web, &e),
    };
    let sessions = match service.account_sessions(&session.user.id).await {
        Ok(sessions) => sessions,
        Err(e) => return service_error_page(web, &e),
    };
    let clients = service.client_names().await.unwrap_or_default();
    let browsers = sessions
        .browsers
        .into_iter()
        .map(|b| BrowserRow {
            current: b.id == session.session.id,
            user_agent: b.user_agent.unwrap_or_else(|| "Unknown browser".into()),
            address: b.address.unwrap_or_else(|| "unknown".into()),
            started: when(b.created_at),
            id: b.id,
        })
        .collect();
    let apps = sessions
        .apps
        .into_iter()
        .map(|a| AppRow {
            client: a.client_id.as_ref().map_or_else(
                || "Direct login (POST /login)".to_owned(),
                |id| clients.get(id).cloned().unwrap_or_else(|| id.clone()),
            ),
            started: when(a.created_at),
            refreshed: a.refreshed_at.map_or_else(|| "never".to_owned(), when),
            sid: a.sid,
        })
        .collect();
    render(
        StatusCode::OK,
        &pages::Account {
            chrome: web.chrome(),
            username: &session.user.username,
            browsers,
            apps,
            csrf_token: &service.session_csrf_token(&session.session.id),
            notice: None,
        },
        None,
    )
}

/// `POST /account/sessions/end`: ends one browser (`sso`), one application session (`sid`), or everything (`all`).
#[utoipa::path(
    post,
    path = "/account/sessions/end",
    tag = "openid",
    summary = "End a browser session, an application session, or all",
    request_body(content = super::super::openapi::schema::EndSessionForm, content_type = "application/x-www-form-urlencoded"),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let (service, web) = (&state.service, &state.web);
    let (pairs, session) = match session_form(service, web, &headers, form).await {
        Ok((pairs, Some(session))) => (pairs, session),
        Ok((_, None)) => return see_other(&format!("{}/account", web.base)),
        Err(page) => return page,
    };
    let user = &session.user.id;
    let (ended, this_browser) = if field(&pairs, "all") == Some("1") {
        (service.end_everything(user).await, true)
    } else if let Some(sso) = field(&pairs, "sso") {
        (
            service.end_sso_sessions(user, Some(sso)).await,
            sso == session.session.id,
        )
    } else if let Some(sid) = field(&pairs, "sid") {
        (service.end_app_session(user, sid).await, false)
    } else {
        return super::error_page(web, StatusCode::BAD_REQUEST, "Say which session to end.");
    };
    match ended {
        Ok(()) if this_browser => with_cookie(
            see_other(&format!("{}/signed-out", web.base)),
            Some(web.clear_sso_cookie()),
        ),
        Ok(()) => see_other(&format!("{}/account", web.base)),
        // Ended already (another tab): the page shows what is left.
        Err(e) if e.kind() == ErrorKind::InvalidRequest => {
            see_other(&format!("{}/account", web.base))
        }
        Err(e) => service_error_page(web, &e),
    }
}

/// `POST /account/password`: changes the password, ends every other session, and signs this browser in again.
#[utoipa::path(
    post,
    path = "/account/password",
    tag = "openid",
    summary = "Change one's password (ends every other session)",
    request_body(content = super::super::openapi::schema::PasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(super::super::openapi::responses::PageAnswers)
)]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    Peer(address): Peer,
    headers: HeaderMap,
    form: FormBody,
) -> Response {
    let (service, web) = (&state.service, &state.web);
    let (pairs, session) = match session_form(service, web, &headers, form).await {
        Ok((pairs, Some(session))) => (pairs, session),
        Ok((_, None)) => return see_other(&format!("{}/account", web.base)),
        Err(page) => return page,
    };
    let current = field(&pairs, "current_password").unwrap_or_default();
    let new = field(&pairs, "new_password").unwrap_or_default();
    if field(&pairs, "confirm_password").unwrap_or_default() != new {
        return super::error_page(
            web,
            StatusCode::BAD_REQUEST,
            "The new password and its repetition differ. Go back and type them again.",
        );
    }
    match service
        .change_own_password(&session, current, new, address, user_agent(&headers))
        .await
    {
        Ok(new) => with_cookie(
            see_other(&format!("{}/account", web.base)),
            Some(web.sso_cookie(&new.secret, service.config().refresh_absolute_ttl.as_secs())),
        ),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::InvalidCredentials | ErrorKind::Throttled
            ) =>
        {
            super::error_page(
                web,
                StatusCode::FORBIDDEN,
                "The current password is wrong (or there were too many attempts). Nothing was changed.",
            )
        }
        Err(e) => service_error_page(web, &e),
    }
}
