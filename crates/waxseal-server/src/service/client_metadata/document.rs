//! A client metadata document (RFC 7591 §2 member names) read into the client it describes.
//!
//! The client is what open registration would create (`service::registration`): public, PKCE S256, only the
//! `authorization_code` and `refresh_token` grants, scopes narrowed to the operator's registration scope, never
//! first-party, its redirect URIs passing the same checks as an operator's. Unknown members are ignored; a member
//! this server reads given twice is refused (serde refuses duplicate fields).

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::error::{Refusal, shorten};
use crate::service::clients::MAX_REDIRECT_URIS;
use crate::service::redirect_uri::check_redirect_uri;
use crate::service::registration::third_party_scopes;
use crate::store::{Client, GrantType, WebClient};

/// The longest `client_name` accepted, in bytes (as for registered clients).
const MAX_NAME_LEN: usize = 100;

/// The members this server reads.
#[derive(Deserialize)]
struct Document {
    client_id: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    scope: Option<String>,
    client_secret: Option<IgnoredAny>,
}

fn refuse(why: impl Into<String>) -> Refusal {
    Refusal::Document(why.into())
}

/// Reads `body`, fetched from `url`, into a public client allowed at most `registration_scope`.
pub(super) fn read_document(
    body: &[u8],
    url: &str,
    registration_scope: &str,
) -> Result<Client, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| refuse(format!("it is not JSON ({})", shorten(&e.to_string()))))?;
    if !value.is_object() {
        return Err(refuse("it is not a JSON object"));
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|e| refuse(shorten(&e.to_string())))?;
    match document.client_id.as_deref() {
        Some(id) if id == url => {}
        Some(other) => return Err(Refusal::ClientIdMismatch(shorten(other))),
        None => return Err(refuse("it has no client_id")),
    }
    if let Some(method) = &document.token_endpoint_auth_method
        && method != "none"
    {
        return Err(Refusal::Confidential(shorten(method)));
    }
    if document.client_secret.is_some() {
        return Err(refuse(
            "it carries a client_secret; a document is public, so a client known by one has no secret",
        ));
    }
    let redirect_uris = document.redirect_uris.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(refuse("redirect_uris must name at least one redirect URI"));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(refuse(format!(
            "it names more than {MAX_REDIRECT_URIS} redirect URIs"
        )));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri)
            .map_err(|why| refuse(format!("redirect_uris: {}", shorten(&why))))?;
    }
    let grant_types = grants(document.grant_types.as_deref())?;
    if let Some(types) = &document.response_types
        && types.iter().any(|t| t != "code")
    {
        return Err(refuse("response_types may be only \"code\""));
    }
    let name = document.client_name.unwrap_or_default();
    // Without a name, the pages name the client by its host, the one thing about it that is checked.
    let name = if name.is_empty() {
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    } else {
        name
    };
    if name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(refuse(format!(
            "client_name is at most {MAX_NAME_LEN} bytes without control characters"
        )));
    }
    let scopes = third_party_scopes(registration_scope, document.scope.as_deref());
    if scopes.is_empty() {
        return Err(refuse(
            "its scope names none of the scopes this server gives such clients",
        ));
    }
    Ok(Client {
        client_id: url.to_owned(),
        // Never compared: a public client presents no secret, and `check_client_secret` refuses public clients.
        secret_hash: [0; 32],
        name,
        grant_types,
        scopes,
        // Constant, so a code issued before a refetch of the document is still this client's at the exchange:
        // the URL, not a registration, is its identity.
        created_at: 0,
        may_introspect: false,
        web: WebClient {
            redirect_uris,
            public: true,
            ..WebClient::default()
        },
        encrypt_access_tokens: false,
        require_dpop: false,
    })
}

/// The grants of `asked`: `authorization_code` (required) and optionally `refresh_token`; absent: both.
fn grants(asked: Option<&[String]>) -> Result<Vec<GrantType>, Refusal> {
    let Some(asked) = asked else {
        return Ok(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    };
    if !asked.iter().any(|g| g == "authorization_code") {
        return Err(refuse("grant_types must include \"authorization_code\""));
    }
    let mut grants = vec![GrantType::AuthorizationCode];
    for grant in asked {
        match grant.as_str() {
            "authorization_code" => {}
            "refresh_token" => {
                if !grants.contains(&GrantType::RefreshToken) {
                    grants.push(GrantType::RefreshToken);
                }
            }
            _ => {
                return Err(refuse(
                    "grant_types may be only \"authorization_code\" and \"refresh_token\"",
                ));
            }
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://app.example/client.json";
    const SCOPE: &str = "openid profile email offline_access";

    fn read(document: &serde_json::Value) -> Result<Client, Refusal> {
        read_document(document.to_string().as_bytes(), URL, SCOPE)
    }

    #[test]
    fn a_minimal_document_is_a_public_pkce_client_with_the_registration_scope() {
        let client =
            read(&json!({"client_id": URL, "redirect_uris": ["http://127.0.0.1/cb"], "extra": 1}))
                .unwrap();
        assert!(client.web.public && !client.web.first_party && !client.web.pkce_exempt);
        assert_eq!(
            client.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(client.scopes.join(" "), SCOPE);
        let narrowed = read(
            &json!({"client_id": URL, "redirect_uris": ["https://app.example/cb"],
            "scope": "openid admin", "grant_types": ["authorization_code"], "client_name": "App"}),
        )
        .unwrap();
        assert_eq!(
            (narrowed.scopes.join(" "), narrowed.name),
            ("openid".into(), "App".into())
        );
        assert_eq!(narrowed.grant_types, [GrantType::AuthorizationCode]);
    }

    #[test]
    fn documents_that_are_not_safe_public_clients_are_refused() {
        let base = || json!({"client_id": URL, "redirect_uris": ["https://app.example/cb"]});
        let with = |key: &str, value: serde_json::Value| {
            let mut d = base();
            d[key] = value;
            d
        };
        assert!(
            matches!(read(&with("client_id", json!("https://other.example/c"))),
            Err(Refusal::ClientIdMismatch(id)) if id == "https://other.example/c")
        );
        for method in [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ] {
            assert!(matches!(
                read(&with("token_endpoint_auth_method", json!(method))),
                Err(Refusal::Confidential(_))
            ));
        }
        for bad in [
            with("client_secret", json!("s")),
            with("redirect_uris", json!([])),
            with("redirect_uris", json!(["http://app.example/cb"])),
            with("redirect_uris", json!("https://app.example/cb")),
            with(
                "grant_types",
                json!(["client_credentials", "authorization_code"]),
            ),
            with("grant_types", json!(["refresh_token"])),
            with("response_types", json!(["token"])),
            with("client_name", json!("x".repeat(101))),
            with("scope", json!("admin")),
            json!({"redirect_uris": ["https://app.example/cb"]}),
            json!([1]),
        ] {
            assert!(matches!(read(&bad), Err(Refusal::Document(_))), "{bad}");
        }
        let twice = format!(
            r#"{{"client_id":"{URL}","client_id":"{URL}","redirect_uris":["https://a.example/cb"]}}"#
        );
        assert!(read_document(twice.as_bytes(), URL, SCOPE).is_err());
        assert!(read_document(b"not json", URL, SCOPE).is_err());
    }
}
