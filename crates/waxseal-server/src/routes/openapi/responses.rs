//! The refusals several operations share, each described once. A `#[utoipa::path]` lists these types in its
//! `responses(...)` beside its own tuples (they implement utoipa's `IntoResponses`); each adds its statuses to the
//! operation, inlined as if written there.

use std::collections::BTreeMap;

use utoipa::openapi::schema::{Object, Ref, Type};
use utoipa::openapi::{ContentBuilder, Header, HeaderBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, PartialSchema};

/// A response with an [`ErrorBody`](super::schema::ErrorBody).
pub(super) fn refusal(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

/// A string-valued response header.
pub(super) fn header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Object::with_type(Type::String))
        .description(Some(description))
        .build()
}

/// The map `IntoResponses` wants.
fn set<const N: usize>(
    responses: [(u16, ResponseBuilder); N],
) -> BTreeMap<String, RefOr<Response>> {
    responses
        .into_iter()
        .map(|(status, response)| (status.to_string(), RefOr::T(response.build())))
        .collect()
}

const TOO_LARGE: &str = "The body is over 16 KiB";
const SERVER_FAILED: &str = "The server failed; details are in its log";
const UNAUTHENTICATED: &str = "The access token is missing or refused";

/// 413: the body is over [`MAX_BODY_BYTES`](crate::routes::MAX_BODY_BYTES).
pub(crate) struct TooLarge;

impl IntoResponses for TooLarge {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set([(413, refusal(TOO_LARGE))])
    }
}

/// 500: our fault, logged.
pub(crate) struct ServerFailed;

impl IntoResponses for ServerFailed {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set([(500, refusal(SERVER_FAILED))])
    }
}

/// The refusals of an operation with a JSON body (`JsonBody`): 400, 413, 415 and 500.
pub(crate) struct JsonBodyRefusals;

impl IntoResponses for JsonBodyRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set([
            (
                400,
                refusal("The body is not valid JSON or does not have the expected fields"),
            ),
            (413, refusal(TOO_LARGE)),
            (415, refusal("The body is not `application/json`")),
            (500, refusal(SERVER_FAILED)),
        ])
    }
}

/// 429 with `Retry-After`: too many failed logins.
pub(crate) struct TooManyLogins;

impl IntoResponses for TooManyLogins {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let retry_after = HeaderBuilder::new()
            .schema(u64::schema())
            .description(Some("Seconds to wait before trying again"))
            .build();
        set([(
            429,
            refusal("Too many failed logins").header("Retry-After", retry_after),
        )])
    }
}

/// 429 with `Retry-After`: too many registrations from the address.
pub(crate) struct TooManyRegistrations;

impl IntoResponses for TooManyRegistrations {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let retry_after = HeaderBuilder::new()
            .schema(u64::schema())
            .description(Some("Seconds to wait before registering again"))
            .build();
        set([(
            429,
            refusal("Too many clients registered from this address this hour")
                .header("Retry-After", retry_after),
        )])
    }
}

/// 401 with an RFC 6750 challenge: the access token is missing or refused.
pub(crate) struct Unauthenticated;

impl IntoResponses for Unauthenticated {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set([(401, bearer_refusal(UNAUTHENTICATED))])
    }
}

fn bearer_refusal(description: &str) -> ResponseBuilder {
    refusal(description).header("WWW-Authenticate", header("RFC 6750 `Bearer` challenge"))
}

/// The refusals of the bearer layer on the `/api/*` routes: 400 and 401, with RFC 6750 challenges.
pub(crate) struct BearerRefusals;

impl IntoResponses for BearerRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set([
            (
                400,
                bearer_refusal(
                    "`invalid_request`: several Authorization headers, or several tokens in one",
                ),
            ),
            (401, bearer_refusal(UNAUTHENTICATED)),
        ])
    }
}

/// The refusals every `/oauth/*` endpoint shares: client authentication (401), the form body (413, 415) and 500.
pub(crate) struct ClientRefusals;

impl IntoResponses for ClientRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let challenge =
            header("`Basic realm=\"waxseal\"` when the client used Basic or sent no credentials");
        set([
            (
                401,
                refusal("`invalid_client`: client authentication failed")
                    .header("WWW-Authenticate", challenge),
            ),
            (413, refusal(TOO_LARGE)),
            (
                415,
                refusal("The body is not `application/x-www-form-urlencoded`"),
            ),
            (500, refusal(SERVER_FAILED)),
        ])
    }
}

/// A page (`text/html`).
fn html(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "text/html",
        ContentBuilder::new()
            .schema(Some(Object::with_type(Type::String)))
            .build(),
    )
}

/// What a page route answers: the page, a redirect, or an error page. Pages may set the pre-session browser cookie
/// (the sign-in form's CSRF binding) or the SSO session cookie, and clear it.
pub(crate) struct PageAnswers;

impl IntoResponses for PageAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        const COOKIE: &str = "The SSO session cookie, or the browser cookie the sign-in form's CSRF token is bound to";
        const WAIT: &str = "Seconds to wait before trying again";
        set([
            (200, html("The page").header("Set-Cookie", header(COOKIE))),
            (
                303,
                ResponseBuilder::new()
                    .description(
                        "On to the next step: back to the client (with a code or an error), or another page",
                    )
                    .header("Location", header("Where to go"))
                    .header("Set-Cookie", header(COOKIE)),
            ),
            (
                400,
                html("The error page: the request is not acceptable (it is never redirected to an unchecked URI)"),
            ),
            (
                401,
                html("The sign-in page again: the username or password is wrong").header("Set-Cookie", header(COOKIE)),
            ),
            (
                403,
                html("The error page: the form was not sent from this server's page, or its CSRF token is wrong"),
            ),
            (
                429,
                html("The sign-in page again: too many failed sign-ins")
                    .header("Retry-After", header(WAIT))
                    .header("Set-Cookie", header(COOKIE)),
            ),
            (500, html(SERVER_FAILED)),
            (
                503,
                html("The error page: the database is unreachable").header("Retry-After", header(WAIT)),
            ),
        ])
    }
}
