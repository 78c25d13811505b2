//! Cookie mode's `/login`, `/refresh` and `/logout`. The handlers' attributes describe body mode; cookie mode changes
//! what those three answer (the refresh cookie, the CSRF token, the 403 refusals), so the generated document is edited
//! here rather than the operations written twice.

use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{Object, Ref, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, Required, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use super::responses::{header, refusal};
use crate::routes::cookie::{CookieTokenResponse, REFRESH_COOKIE};

/// Turns the body-mode description of the session endpoints into cookie mode's.
pub(super) fn edit(doc: &mut OpenApi) {
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .insert(
            CookieTokenResponse::name().into_owned(),
            CookieTokenResponse::schema(),
        );
    let foreign_origin = "`csrf_rejected`: the `Origin` header is not the issuer's origin";
    if let Some(login) = post(doc, "/login") {
        login.summary = Some("Log in with a username and password (cookie mode)".into());
        login.description = Some(
            "Checks the password (argon2id) and starts a session. The refresh token is set as the \
             `__Secure-waxseal-refresh` cookie (HttpOnly; Secure; SameSite=Strict; Path=/refresh), not returned \
             in the body; the body carries the session's CSRF token for `POST /refresh`."
                .into(),
        );
        cookie_tokens(
            login,
            "The refresh token: `__Secure-waxseal-refresh=…; Path=/refresh; Max-Age=…; HttpOnly; Secure; \
             SameSite=Strict`",
        );
        respond(login, 403, refusal(foreign_origin));
    }
    if let Some(refresh) = post(doc, "/refresh") {
        refresh.summary = Some("Exchange the refresh cookie for new tokens (cookie mode)".into());
        refresh.description = Some(
            "Takes no body. The refresh token comes from the cookie, and `X-CSRF-Token` must be the session's \
             CSRF token; both are checked before the token is consumed. The cookie is rotated; presenting a \
             consumed one again (with the CSRF token) revokes the whole session."
                .into(),
        );
        refresh.request_body = None;
        refresh.parameters = Some(vec![
            parameter(
                REFRESH_COOKIE,
                ParameterIn::Cookie,
                "The refresh token, set by the login or the last refresh",
            ),
            parameter(
                "X-CSRF-Token",
                ParameterIn::Header,
                "The `csrf_token` of the login response",
            ),
        ]);
        cookie_tokens(refresh, "The next refresh token");
        respond(refresh, 400, refusal("A request body was sent"));
        respond(
            refresh,
            401,
            refusal(
                "`invalid_grant`: no cookie, or its token is unknown, expired, revoked or was already used",
            )
            .header("Set-Cookie", header("Clears a cookie whose token is dead")),
        );
        respond(
            refresh,
            403,
            refusal(
                "`csrf_rejected`: a foreign `Origin`, or `X-CSRF-Token` missing or not this session's; the token \
                 is not consumed",
            ),
        );
        refresh.responses.responses.remove("415");
    }
    if let Some(logout) = post(doc, "/logout") {
        logout.summary = Some("End the session and clear the refresh cookie (cookie mode)".into());
        if let Some(RefOr::T(logged_out)) = logout.responses.responses.get_mut("204") {
            logged_out.headers.insert(
                "Set-Cookie".into(),
                header("Clears the refresh cookie (`Max-Age=0`)"),
            );
        }
        respond(logout, 403, refusal(foreign_origin));
    }
}

/// The `POST` operation of `path`.
fn post<'a>(doc: &'a mut OpenApi, path: &str) -> Option<&'a mut Operation> {
    doc.paths.paths.get_mut(path)?.post.as_mut()
}

/// Answers `status` with `response`, in place of what the handler's attribute says.
fn respond(operation: &mut Operation, status: u16, response: ResponseBuilder) {
    operation
        .responses
        .responses
        .insert(status.to_string(), RefOr::T(response.build()));
}

/// A 200 of cookie mode: [`CookieTokenResponse`] for the body-mode tokens, and the refresh cookie.
fn cookie_tokens(operation: &mut Operation, cookie: &str) {
    if let Some(RefOr::T(tokens)) = operation.responses.responses.get_mut("200") {
        tokens.content.insert(
            "application/json".into(),
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(CookieTokenResponse::name())))
                .build(),
        );
        tokens.headers.insert("Set-Cookie".into(), header(cookie));
    }
}

/// A required string parameter.
fn parameter(name: &str, location: ParameterIn, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(Object::with_type(Type::String)))
        .build()
}
