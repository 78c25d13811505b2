//! Who is asking: the form of an OAuth request (each parameter once) and the client's authentication from it —
//! `client_secret_basic`, `client_secret_post`, or a public client's `client_id` alone.

use std::collections::HashMap;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::OAuthError;
use crate::routes::form::{FormBody, FormError, form_decode};
use crate::service::AuthService;
use crate::store::{Client, GrantType};

/// The parameters of a form-encoded OAuth request. A parameter without a value counts as absent, none may be
/// included more than once, not even with an empty value (RFC 6749 §3.1, §3.2); unknown ones are ignored.
pub(in crate::routes) struct OAuthParams(pub(in crate::routes) HashMap<String, Zeroizing<String>>);

impl OAuthParams {
    pub(in crate::routes) fn parse(FormBody(form): FormBody) -> Result<Self, OAuthError> {
        let pairs = form.map_err(|e| match e {
            FormError::ContentType => OAuthError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "the request body must be Content-Type: application/x-www-form-urlencoded",
            ),
            FormError::TooLarge => OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the request body is too large",
            ),
            FormError::Malformed => OAuthError::invalid_request(
                "the request body is not a valid form: UTF-8 text, each % followed by two hex digits",
            ),
            FormError::Unreadable => {
                OAuthError::invalid_request("the request body could not be read")
            }
        })?;
        let mut params = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in pairs {
            if !seen.insert(name.clone()) {
                if name == "resource" {
                    return Err(OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_target",
                        crate::service::ONE_RESOURCE,
                    ));
                }
                let name: String = name.chars().take(40).collect();
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {name} is repeated"
                )));
            }
            if !value.is_empty() {
                params.insert(name, value);
            }
        }
        Ok(OAuthParams(params))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.as_str())
    }

    pub(in crate::routes) fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the parameter {name} is missing")))
    }
}

/// The client's credentials: `client_secret_basic` or `client_secret_post`, never both — or, for a public client
/// (`token_endpoint_auth_method: none`), its `client_id` alone.
pub(in crate::routes) struct ClientCredentials {
    pub(in crate::routes) client_id: Zeroizing<String>,
    /// `None`: a public client's request, which carries no secret.
    pub(in crate::routes) secret: Option<Zeroizing<String>>,
    pub(in crate::routes) basic: bool,
}

pub(in crate::routes) fn client_credentials(
    headers: &HeaderMap,
    params: &OAuthParams,
) -> Result<ClientCredentials, OAuthError> {
    if repeated_authorization(headers) {
        return Err(OAuthError::invalid_request(ONE_AUTHORIZATION));
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return match (params.get("client_id"), params.get("client_secret")) {
            (Some(id), secret) => Ok(ClientCredentials {
                client_id: Zeroizing::new(id.to_owned()),
                secret: secret.map(|s| Zeroizing::new(s.to_owned())),
                basic: false,
            }),
            _ => Err(OAuthError::invalid_client(true)),
        };
    };
    let basic = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim());
    let Some(encoded) = basic else {
        return Err(OAuthError::invalid_client(true));
    };
    if params.get("client_secret").is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method: Authorization: Basic or client_secret in the body",
        ));
    }
    let decoded = STANDARD
        .decode(encoded)
        .ok()
        .map(Zeroizing::new)
        .and_then(|d| String::from_utf8(d.to_vec()).ok())
        .map(Zeroizing::new)
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let (Some(client_id), Some(secret)) = (form_decode(id), form_decode(secret)) else {
        return Err(OAuthError::invalid_client(true));
    };
    if params
        .get("client_id")
        .is_some_and(|body_id| body_id != client_id.as_str())
    {
        return Err(OAuthError::invalid_request(
            "the client_id in the body differs from the one in Authorization: Basic",
        ));
    }
    Ok(ClientCredentials {
        client_id,
        secret: Some(secret),
        basic: true,
    })
}

/// Parses the form and authenticates the client; the `bool` says whether Basic was used.
pub(super) async fn oauth_client(
    service: &AuthService,
    headers: &HeaderMap,
    form: FormBody,
    required: &str,
) -> Result<(OAuthParams, Client, bool), OAuthError> {
    let params = OAuthParams::parse(form)?;
    params.require(required)?;
    let credentials = client_credentials(headers, &params)?;
    // Only the client credentials grant may authenticate from the service's client cache (see its docs).
    let authenticated = match &credentials.secret {
        None => {
            service
                .authenticate_public_client(&credentials.client_id)
                .await
        }
        Some(secret) if params.get("grant_type") == Some(GrantType::ClientCredentials.as_str()) => {
            service
                .authenticate_client_for_client_credentials(&credentials.client_id, secret)
                .await
        }
        Some(secret) => {
            service
                .authenticate_client(&credentials.client_id, secret)
                .await
        }
    };
    let client = authenticated.map_err(|e| OAuthError::from_service(&e, credentials.basic))?;
    Ok((params, client, credentials.basic))
}

/// RFC 9110 §5.3: Authorization is not a list, so a second one is malformed — and which of the two a proxy in
/// front acted on is unknowable.
const ONE_AUTHORIZATION: &str = "send one Authorization header, not several";

fn repeated_authorization(headers: &HeaderMap) -> bool {
    headers.get_all(AUTHORIZATION).iter().nth(1).is_some()
}

#[cfg(test)]
mod tests {
    use crate::routes::form::form_decode;

    #[test]
    pub(super) fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c%2B").unwrap().as_str(), "a:b c+");
        assert_eq!(form_decode("plain-_.~").unwrap().as_str(), "plain-_.~");
        assert!(form_decode("%zz").is_none());
        assert!(form_decode("%4").is_none());
        assert!(form_decode("%ff").is_none(), "not UTF-8");
    }
}
