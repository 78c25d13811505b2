//! The request and response types the document describes: what the handlers' `#[utoipa::path]` attributes name
//! as bodies. A leaf: the handlers import these, and the document ([`super`]) imports the handlers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error: an RFC 6749 §5.2 / RFC 6750 code and a human-readable description (bounded, never an echo).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// A stable code: `invalid_request`, `invalid_token`, `invalid_grant`, `invalid_client`,
    /// `invalid_credentials`, `insufficient_scope`, `too_many_requests`, `slow_down`, `csrf_rejected`,
    /// `server_error`, …
    error: String,
    /// What was wrong and what to do, for people.
    error_description: String,
}

/// The parameters of `POST /oauth/token`, form-encoded (RFC 6749 §4.3.2, §4.4.2, §6): one shape per grant. An
/// empty value counts as absent (RFC 6749 §3.1), a repeated one is refused and unknown ones are ignored.
/// `client_secret` in the body and `Authorization: Basic` together are refused (RFC 6749 §2.3: one authentication
/// method per request), as is a body `client_id` that differs from Basic's.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum TokenRequest {
    Password(PasswordGrant),
    RefreshToken(RefreshTokenGrant),
    ClientCredentials(ClientCredentialsGrant),
}

/// `grant_type=password`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum PasswordGrantType {
    Password,
}

/// `grant_type=refresh_token`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum RefreshTokenGrantType {
    RefreshToken,
}

/// `grant_type=client_credentials`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum ClientCredentialsGrantType {
    ClientCredentials,
}

/// The resource owner password credentials grant (RFC 6749 §4.3.2).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct PasswordGrant {
    grant_type: PasswordGrantType,
    /// The user's login name.
    #[schema(min_length = 1)]
    username: String,
    /// The user's password.
    #[schema(min_length = 1)]
    password: String,
    /// The requested scope, space-separated; at most what the client and the user may have.
    #[serde(default)]
    scope: String,
    /// RFC 8707: the registered resource the access token is for — its only `aud`, its scope narrowed to what the
    /// resource accepts. One value (several are refused with `invalid_target`: a token is for one audience).
    #[serde(default)]
    #[schema(format = "uri")]
    resource: String,
    /// `client_secret_post`: the client's id.
    #[serde(default)]
    client_id: String,
    /// `client_secret_post`: the client's secret. Never together with Basic.
    #[serde(default)]
    client_secret: String,
}

/// Refreshing (RFC 6749 §6): the refresh token is consumed and a new one issued.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct RefreshTokenGrant {
    grant_type: RefreshTokenGrantType,
    /// The refresh token, issued to this client.
    #[schema(min_length = 1)]
    refresh_token: String,
    /// A narrower scope than the session's, space-separated.
    #[serde(default)]
    scope: String,
    /// RFC 8707: the registered resource the access token is for — its only `aud`, its scope narrowed to what the
    /// resource accepts. One value (several are refused with `invalid_target`: a token is for one audience).
    /// On a refresh, only the session's own resource: another is refused with `invalid_target`.
    #[serde(default)]
    #[schema(format = "uri")]
    resource: String,
    /// `client_secret_post`: the client's id.
    #[serde(default)]
    client_id: String,
    /// `client_secret_post`: the client's secret. Never together with Basic.
    #[serde(default)]
    client_secret: String,
}

/// The client credentials grant (RFC 6749 §4.4.2): a token for the client itself, no refresh token.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct ClientCredentialsGrant {
    grant_type: ClientCredentialsGrantType,
    /// The requested scope, space-separated; at most what the client may have.
    #[serde(default)]
    scope: String,
    /// RFC 8707: the registered resource the access token is for — its only `aud`, its scope narrowed to what the
    /// resource accepts. One value (several are refused with `invalid_target`: a token is for one audience).
    #[serde(default)]
    #[schema(format = "uri")]
    resource: String,
    /// `client_secret_post`: the client's id.
    #[serde(default)]
    client_id: String,
    /// `client_secret_post`: the client's secret. Never together with Basic.
    #[serde(default)]
    client_secret: String,
}

/// The parameters of `POST /oauth/revoke` (RFC 7009 §2.1) and `POST /oauth/introspect` (RFC 7662 §2.1),
/// form-encoded. An empty value counts as absent, a repeated one is refused and unknown ones are ignored.
/// `client_secret` in the body and `Authorization: Basic` together are refused (RFC 6749 §2.3).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenLookup {
    /// The token.
    #[schema(min_length = 1)]
    token: String,
    /// `access_token` or `refresh_token`: only orders the lookups; other values are ignored.
    #[serde(default)]
    token_type_hint: String,
    /// `client_secret_post`: the client's id.
    #[serde(default)]
    client_id: String,
    /// `client_secret_post`: the client's secret. Never together with Basic.
    #[serde(default)]
    client_secret: String,
}

/// The verified claims of an access token (RFC 9068).
#[derive(Serialize, ToSchema)]
pub(crate) struct AccessTokenClaims {
    /// The issuer.
    iss: String,
    /// The user's id, or the client's for client-credentials tokens.
    sub: String,
    /// The audience.
    aud: String,
    /// Expiry, Unix seconds.
    exp: u64,
    /// Issue time, Unix seconds.
    iat: u64,
    /// The token's unique id.
    jti: String,
    /// The OAuth client the token was issued to.
    client_id: String,
    /// Space-separated scopes, when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    scope: Option<String>,
    /// The session; absent on client-credentials tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    sid: Option<String>,
}

/// RFC 7662 §2.2: `active`, and for an active token its claims, `token_type` and the user's `username`. An access
/// token carries its claims; a refresh token `client_id`, `sub`, `username`, `scope`, `iat` and `exp` (when the
/// refresh grant stops taking it). A client sees its own tokens; one added with `--may-introspect` also every
/// client's access tokens; anything else is `{"active": false}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct IntrospectionResponse {
    /// Whether the token is a valid, unexpired, unrevoked access token, or an unused, unexpired refresh token of a
    /// live session, that the calling client may see.
    active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    sid: Option<String>,
    /// `Bearer` for an access token, `DPoP` for one bound to a DPoP key, `refresh_token` for a refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    token_type: Option<String>,
    /// For a DPoP-bound access token: the thumbprint of its key (RFC 9449 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    cnf: Option<Confirmation>,
    /// The user's login name, for tokens issued to a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    username: Option<String>,
}

/// The key an access token is bound to (RFC 7800 `cnf`, RFC 9449 §6).
#[derive(Serialize, ToSchema)]
pub(crate) struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the DPoP key, base64url.
    jkt: String,
}

/// A public key (RFC 7517).
#[derive(Serialize, ToSchema)]
pub(crate) struct Jwk {
    /// Key type: `EC`, `RSA`, `OKP`.
    kty: String,
    /// Key id.
    kid: String,
    /// The algorithm the key signs with.
    alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    use_: String,
}

/// A JWK Set (RFC 7517 §5).
#[derive(Serialize, ToSchema)]
pub(crate) struct JwkSet {
    /// The keys that verify access tokens, the signing key first.
    keys: Vec<Jwk>,
}

/// Authorization server metadata (RFC 8414; OpenID Connect Discovery 1.0): only what the server implements.
#[derive(Serialize, ToSchema)]
#[allow(clippy::struct_excessive_bools)] // the fields of a JSON document, not a state machine
pub(crate) struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    end_session_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    /// Dynamic client registration (RFC 7591): only when the operator opened it.
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    /// `true` when a client may name itself by the https URL of its metadata document
    /// (draft-ietf-oauth-client-id-metadata-document); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id_metadata_document_supported: Option<bool>,
    scopes_supported: Vec<String>,
    /// `["code"]`.
    response_types_supported: Vec<String>,
    response_modes_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    /// `["S256"]`.
    code_challenge_methods_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    introspection_endpoint_auth_methods_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
    /// The key-management algorithms ID tokens can be encrypted to a client's public key with.
    id_token_encryption_alg_values_supported: Vec<String>,
    /// The content encryptions of encrypted ID tokens.
    id_token_encryption_enc_values_supported: Vec<String>,
    claims_supported: Vec<String>,
    prompt_values_supported: Vec<String>,
    authorization_response_iss_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
    claims_parameter_supported: bool,
    /// The algorithms a DPoP proof may be signed with (RFC 9449 §5.1).
    dpop_signing_alg_values_supported: Vec<String>,
}

/// A health answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` or `ready`.
    status: String,
}

/// `GET /readyz` when the store answers. Only the status: which dependency is in what state is the management
/// listener's to tell.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ready {
    /// `ready`; `degraded` when Redis is configured but not subscribed (requests are still served).
    status: String,
}

/// `GET /readyz` when the store does not answer. Only the status, as [`Ready`].
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Unavailable {
    /// `unavailable`.
    status: String,
}

/// The parameters of an authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1), as a query or a
/// form. Each at most once; unknown ones are ignored. The request must name a registered client and one of its
/// registered redirect URIs exactly, else the answer is an error page and nothing is redirected.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct AuthorizeParams {
    /// The client's id.
    client_id: Option<String>,
    /// One of the client's registered redirect URIs, exactly.
    redirect_uri: Option<String>,
    /// `code`, the only response type.
    response_type: Option<String>,
    /// Space-separated: `openid`, `profile`, `email`, `offline_access` and the client's registered scopes.
    scope: Option<String>,
    /// Returned to the client as given.
    state: Option<String>,
    /// Put in the ID token as given.
    nonce: Option<String>,
    /// PKCE (RFC 7636): base64url SHA-256 of the code verifier, 43 characters. Required.
    code_challenge: Option<String>,
    /// `S256`, the only method.
    code_challenge_method: Option<String>,
    /// `none`, `login`, `consent` (space-separated).
    prompt: Option<String>,
    /// Seconds: a sign-in older than this is repeated.
    max_age: Option<String>,
    /// A username to fill in.
    login_hint: Option<String>,
    /// RFC 9449 §10: the SHA-256 thumbprint (base64url, 43 characters) of the DPoP key the code's exchange must
    /// prove possession of.
    dpop_jkt: Option<String>,
}

/// The sign-in form: the authorization request's parameters as hidden fields (or `account=1` for `/account`), the
/// CSRF token of the page, and the credentials.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct SignInForm {
    username: Option<String>,
    password: Option<String>,
    csrf_token: Option<String>,
    /// `1`: the sign-in of `/account`, without an application.
    account: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
}

/// The consent form: the authorization request's parameters as hidden fields, the CSRF token and the decision.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct ConsentForm {
    /// `allow` or `deny`.
    decision: Option<String>,
    csrf_token: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
}

/// An RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0 §2), as a query or a form.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct LogoutParams {
    /// An ID token this server issued: names the client and the user.
    id_token_hint: Option<String>,
    /// The client, when there is no hint.
    client_id: Option<String>,
    /// Where to go afterwards: registered for the client, exactly.
    post_logout_redirect_uri: Option<String>,
    /// Returned as given.
    state: Option<String>,
}

/// The confirmation form of a logout: the request's parameters and the CSRF token.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct LogoutForm {
    csrf_token: Option<String>,
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// Ending sessions from `/account`: one browser (`sso`), one application session (`sid`) or all (`all=1`).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct EndSessionForm {
    csrf_token: Option<String>,
    sso: Option<String>,
    sid: Option<String>,
    all: Option<String>,
}

/// Changing one's password on `/account`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct PasswordForm {
    csrf_token: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
    confirm_password: Option<String>,
}

/// The userinfo claims (OpenID Connect Core §5.1), by scope.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct UserInfo {
    /// The user's id: the ID token's `sub`.
    sub: String,
    /// `profile`: the login name.
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<String>,
    /// `profile`: the full name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// `email`: the address, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// `email`: true (set by an operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}
