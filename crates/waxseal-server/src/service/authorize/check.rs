//! The checks of one authorization request, in the order that decides where an error goes (see the parent module):
//! pure functions of the parameters and the client, which the fuzz target calls directly.

use super::{
    AUTHORIZE_PARAMS, AuthorizationRequest, AuthorizeError, ErrorRedirect, MAX_ID_TOKEN_HINT_LEN,
    MAX_PARAM_LEN, OIDC_SCOPES, Prompt,
};
use crate::service::redirect_uri::redirect_uri_matches;
use crate::store::{Client, GrantType};

/// The value of `name`: `Ok(None)` when absent or empty (an empty parameter counts as absent, RFC 6749 §3.1),
/// `Err` when given more than once.
pub(super) fn single<'p>(
    params: &'p [(String, String)],
    name: &str,
) -> std::result::Result<Option<&'p str>, ()> {
    let mut found = None;
    for (n, v) in params {
        if n == name {
            if found.is_some() {
                return Err(());
            }
            found = Some(v.as_str());
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

/// Whether `challenge` has the shape of an RFC 7636 `S256` code challenge: 43 base64url characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `value` is printable and bounded: what `state`, `nonce` and `login_hint` must be.
fn is_plain(value: &str) -> bool {
    value.len() <= MAX_PARAM_LEN && !value.chars().any(char::is_control)
}

/// The checks of an authorization request from its client on: the redirect URI, then everything else, whose errors
/// go back to the client. Pure (no store, no clock), so the fuzz target reaches all of it.
pub fn check_authorization_request(
    params: &[(String, String)],
    client: Client,
) -> std::result::Result<AuthorizationRequest, AuthorizeError> {
    let page = |message: &str| Err(AuthorizeError::Page(message.to_owned()));
    let Ok(redirect_uri) = single(params, "redirect_uri") else {
        return page("The request names its redirect URI more than once.");
    };
    let Some(redirect_uri) = redirect_uri else {
        return page("The request does not say where to return (redirect_uri is missing).");
    };
    if !client
        .web
        .redirect_uris
        .iter()
        .any(|r| redirect_uri_matches(r, redirect_uri))
    {
        return page(
            "The request's redirect URI is not one the application registered, so you are not sent back to it.",
        );
    }
    let redirect_uri = redirect_uri.to_owned();
    // From here on, errors go back to the client. `state` first, so that every error can carry it.
    let state = match single(params, "state") {
        Ok(state) => state.filter(|s| is_plain(s)).map(str::to_owned),
        Err(()) => None,
    };
    let refuse = |error: &'static str, description: &'static str| {
        Err(AuthorizeError::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone(),
        }))
    };
    // RFC 8707 allows several; a token here is for one audience (see `service::resources`).
    if single(params, "resource").is_err() {
        return refuse(
            "invalid_target",
            "send one resource parameter: a token of this server is for one audience",
        );
    }
    let mut given: Vec<(&'static str, String)> = Vec::new();
    for name in AUTHORIZE_PARAMS {
        match single(params, name) {
            Ok(Some(value)) => given.push((name, value.to_owned())),
            Ok(None) => {}
            Err(()) => return refuse("invalid_request", "a parameter is repeated"),
        }
    }
    if single(params, "state").is_ok_and(|s| s.is_some_and(|s| !is_plain(s))) {
        return refuse(
            "invalid_request",
            "state is longer than 1024 bytes or holds control characters",
        );
    }
    let value = |name: &str| {
        given
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    if single(params, "request").ok().flatten().is_some() {
        return refuse("request_not_supported", "request objects are not supported");
    }
    if single(params, "request_uri").ok().flatten().is_some() {
        return refuse("request_uri_not_supported", "request_uri is not supported");
    }
    match value("response_type") {
        Some("code") => {}
        None => return refuse("invalid_request", "response_type is missing"),
        Some(_) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return refuse(
            "unauthorized_client",
            "this client may not use the authorization code grant",
        );
    }
    let code_challenge = match (value("code_challenge"), value("code_challenge_method")) {
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {
            Some(challenge.to_owned())
        }
        (Some(_), Some("S256")) => {
            return refuse(
                "invalid_request",
                "code_challenge is not an S256 challenge (43 base64url characters)",
            );
        }
        (Some(_), Some(_) | None) => {
            return refuse(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            );
        }
        // A public client is never exempt, whatever its row says: PKCE is all that binds its code to it.
        (None, None) if client.web.pkce_exempt && !client.web.public => None,
        (None, Some(_)) if client.web.pkce_exempt && !client.web.public => {
            return refuse(
                "invalid_request",
                "code_challenge_method was sent without code_challenge",
            );
        }
        (None, _) => {
            return refuse(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
    };
    let mut scope: Vec<String> = Vec::new();
    for s in value("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !OIDC_SCOPES.contains(&s) && !client.scopes.iter().any(|c| c == s) {
            return refuse(
                "invalid_scope",
                "a requested scope is not available to this client",
            );
        }
        if !scope.iter().any(|g| g == s) {
            scope.push(s.to_owned());
        }
    }
    let mut prompt = Prompt::default();
    for p in value("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => {
                return refuse(
                    "invalid_request",
                    "prompt holds a value other than none, login, consent or select_account",
                );
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return refuse(
            "invalid_request",
            "prompt=none cannot be combined with another value",
        );
    }
    let max_age = match value("max_age") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(age) if v.len() <= 10 => Some(age),
            _ => return refuse("invalid_request", "max_age is not a number of seconds"),
        },
    };
    for name in ["nonce", "login_hint"] {
        if value(name).is_some_and(|v| !is_plain(v)) {
            return refuse(
                "invalid_request",
                "nonce or login_hint is longer than 1024 bytes or holds control characters",
            );
        }
    }
    if value("id_token_hint").is_some_and(|v| v.len() > MAX_ID_TOKEN_HINT_LEN) {
        return refuse("invalid_request", "id_token_hint is longer than 4096 bytes");
    }
    // An RFC 7638 SHA-256 thumbprint has the shape of an S256 challenge: 43 base64url characters.
    if value("dpop_jkt").is_some_and(|v| !is_s256_challenge(v)) {
        return refuse(
            "invalid_request",
            "dpop_jkt is not a JWK SHA-256 thumbprint (43 base64url characters)",
        );
    }
    if value("resource").is_some_and(|v| crate::service::resources::check_resource_uri(v).is_err())
    {
        return refuse(
            "invalid_target",
            "resource is not an absolute https URI (http only on loopback) without a fragment",
        );
    }
    Ok(AuthorizationRequest {
        dpop_jkt: value("dpop_jkt").map(str::to_owned),
        resource: value("resource").map(str::to_owned),
        id_token_hint: value("id_token_hint").map(str::to_owned),
        nonce: value("nonce").map(str::to_owned),
        login_hint: value("login_hint").map(str::to_owned),
        client,
        redirect_uri,
        state,
        scope,
        code_challenge,
        prompt,
        max_age,
        params: given,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s256_shaped_challenges_pass() {
        assert!(is_s256_challenge(&"a".repeat(43)));
        assert!(!is_s256_challenge(&"a".repeat(44)));
        assert!(!is_s256_challenge(&format!("{}=", "a".repeat(42))));
    }
}
