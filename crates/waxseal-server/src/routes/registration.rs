//! `POST /register`: dynamic client registration (RFC 7591), on only with `--allow-registration`; the rules are
//! in [`crate::service`]'s registration module.
//!
//! Off, the endpoint answers 404 with a description saying so, as an unserved path would: RFC 7591 defines no
//! error for "this server has no open registration" (§3.2.2's codes are all about the metadata), and a client that
//! found no `registration_endpoint` in the discovery document should not have called it. Refusals are §3.2.2's:
//! 400 with `invalid_redirect_uri` or `invalid_client_metadata` (a body that is not JSON, not an object, repeats a
//! member or gives one the wrong type included), 413 for a body over the limit, 415 for another content type.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CACHE_CONTROL, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::body;
use super::json::bytes_rejection;
use super::object::ObjectOnly;
use super::openapi::responses;
use super::openapi::schema::ErrorBody;
use super::{ApiError, Peer};
use crate::service::{AuthService, RegistrationError, RegistrationRequest};

/// The client metadata `POST /register` reads (RFC 7591 §2); other members are ignored, as §2 allows, but appear once
/// like these ([`ObjectOnly`]).
#[derive(Deserialize, ToSchema)]
pub(crate) struct RegistrationBody {
    /// Where the client may be sent back: https, http on 127.0.0.1 or [::1] (any port matches) or localhost, or a
    /// private-use scheme like `com.example.app:/cb`; no fragment.
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// The name people see on the consent page.
    #[serde(default)]
    client_name: Option<String>,
    /// Only `none`: registered clients are public clients and must use PKCE (S256).
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    /// `authorization_code`, optionally `refresh_token` (the default is both).
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    /// Only `code`.
    #[serde(default)]
    response_types: Option<Vec<String>>,
    /// Space-separated scopes; narrowed to those the server gives registered clients (all of them by default).
    #[serde(default)]
    scope: Option<String>,
}

/// The registered client's information (RFC 7591 §3.2.1): no `client_secret`, as it is a public client.
#[derive(Serialize, ToSchema)]
pub(crate) struct RegistrationResponse {
    client_id: String,
    /// Unix seconds.
    client_id_issued_at: u64,
    client_name: String,
    redirect_uris: Vec<String>,
    grant_types: Vec<&'static str>,
    response_types: Vec<&'static str>,
    /// Always `none`.
    token_endpoint_auth_method: &'static str,
    /// The scopes the client was given.
    scope: String,
}

/// A refusal of RFC 7591 §3.2.2 (or the 404, 413, 415 and 429 around it).
pub(super) enum Refusal {
    Status(StatusCode, &'static str, String),
    Throttled(u64),
    Api(ApiError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Status(status, error, description) => {
                (status, body(error, &description)).into_response()
            }
            Refusal::Throttled(seconds) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    body(
                        "too_many_requests",
                        "too many clients registered from this address; wait for the Retry-After seconds",
                    ),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
            Refusal::Api(e) => e.into_response(),
        }
    }
}

fn metadata(description: &str) -> Refusal {
    Refusal::Status(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        description.to_owned(),
    )
}

/// The body, its rejections as RFC 7591 errors.
pub(super) struct Body(RegistrationBody);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<ObjectOnly<RegistrationBody>>::from_request(req, state).await {
            Ok(Json(ObjectOnly(value))) => Ok(Body(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(Refusal::Api(ApiError::BadRequest(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "the request body must be JSON with Content-Type: application/json",
                )))
            }
            Err(JsonRejection::BytesRejection(rejection)) => {
                Err(Refusal::Api(bytes_rejection(&rejection)))
            }
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(metadata("the request body is not valid JSON"))
            }
            Err(_) => Err(metadata(
                "the client metadata must be one JSON object, each member once: redirect_uris an array of \
                 strings; client_name, token_endpoint_auth_method and scope strings; grant_types and \
                 response_types arrays of strings",
            )),
        }
    }
}

/// `POST /register`.
#[utoipa::path(
    post,
    path = "/register",
    tag = "oauth",
    summary = "Register a public OAuth client (RFC 7591 dynamic client registration)",
    description = "Only when the operator opened registration (`--allow-registration`; otherwise 404, and \
                   discovery does not list `registration_endpoint`). The client is public (no secret, PKCE S256 \
                   required), may use only the authorization code and refresh token grants, gets at most the \
                   operator's registration scopes, and its users are always asked for consent. Throttled per \
                   client address.",
    request_body(content = RegistrationBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The client's information", body = RegistrationResponse,
         headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_client_metadata` or `invalid_redirect_uri`, with what to change", body = ErrorBody),
        (status = 404, description = "Registration is off on this server", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        responses::TooManyRegistrations,
        responses::ServerFailed,
    )
)]
pub(super) async fn register(
    State(service): State<Arc<AuthService>>,
    Peer(address): Peer,
    request: Result<Body, Refusal>,
) -> Result<Response, Refusal> {
    if !service.config().allow_registration {
        return Err(disabled());
    }
    let Body(body) = request?;
    let request = RegistrationRequest {
        redirect_uris: body.redirect_uris,
        client_name: body.client_name,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        grant_types: body.grant_types,
        response_types: body.response_types,
        scope: body.scope,
    };
    let registered = service
        .register_client(request, address)
        .await
        .map_err(|e| match e {
            RegistrationError::Disabled => disabled(),
            RegistrationError::Metadata(m) => metadata(&m),
            RegistrationError::RedirectUri(m) => {
                Refusal::Status(StatusCode::BAD_REQUEST, "invalid_redirect_uri", m)
            }
            RegistrationError::Throttled(seconds) => Refusal::Throttled(seconds),
            RegistrationError::Failed(e) => Refusal::Api(ApiError::from(e)),
        })?;
    let mut response = (
        StatusCode::CREATED,
        Json(RegistrationResponse {
            client_id: registered.client_id,
            client_id_issued_at: registered.client_id_issued_at,
            client_name: registered.client_name,
            redirect_uris: registered.redirect_uris,
            grant_types: registered.grant_types.iter().map(|g| g.as_str()).collect(),
            response_types: vec!["code"],
            token_endpoint_auth_method: "none",
            scope: registered.scope,
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn disabled() -> Refusal {
    Refusal::Status(
        StatusCode::NOT_FOUND,
        "invalid_request",
        "dynamic client registration is off on this server: ask its operator for a client id (waxseal client \
         add), or to start it with --allow-registration"
            .to_owned(),
    )
}
