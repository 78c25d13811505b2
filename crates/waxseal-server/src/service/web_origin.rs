//! Web origins: the pages that may read a client's answers from another origin (CORS), as Keycloak's "Web Origins"
//! and Auth0's "Allowed Web Origins".
//!
//! An origin is registered exactly as browsers send it in `Origin` — `scheme://host[:port]`, lower case, no default
//! port, no path — and compared as text, never normalized at request time: what was checked once here is all a
//! request can match. `null` (sandboxed frames, `file:` pages, some redirects) and `*` are never registered: any page
//! can produce the first, and the second is every page.
//!
//! A client that registers none gets a default: a public client (a single-page app) the origins of its http(s)
//! redirect URIs, which is where its pages run; a confidential client none, as its secret must not be in a page.

use url::Url;

use super::AuthService;
use super::redirect_uri::check_redirect_uri;
use crate::error::Result;
use crate::store::WebClient;

/// The most web origins a client registers.
pub const MAX_WEB_ORIGINS: usize = 16;
/// The longest web origin accepted: a scheme, a DNS name of at most 253 bytes and a port.
const MAX_WEB_ORIGIN_LEN: usize = 300;

/// Checks a web origin a client registers: an https origin, or http on this machine, written as browsers send it.
/// Returns what is wrong and how to write it.
pub fn check_web_origin(origin: &str) -> std::result::Result<(), String> {
    if origin == "null" || origin == "*" {
        return Err(format!(
            "{origin:?} cannot be registered as a web origin: it would let any page read the answers; register \
             the origin your app is served from, such as https://app.example.com"
        ));
    }
    if origin.len() > MAX_WEB_ORIGIN_LEN
        || origin.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "a web origin is at most {MAX_WEB_ORIGIN_LEN} bytes, without spaces"
        ));
    }
    let parsed = Url::parse(origin).map_err(|e| {
        format!("{origin:?} is not an origin ({e}): write it as scheme://host[:port], such as https://app.example.com")
    })?;
    // The scheme and host rules are the redirect URIs' (https, or http to this machine only); a private-use scheme
    // has no origin a browser would send.
    check_redirect_uri(origin).map_err(|e| e.replace("redirect URI", "web origin"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(format!(
            "{origin:?} is not a web origin: browsers send https or http origins only"
        ));
    }
    let serialized = parsed.origin().ascii_serialization();
    if serialized != origin {
        return Err(format!(
            "{origin:?} is not written as browsers send it in Origin: register {serialized:?} (scheme, host and \
             port only, lower case, no default port, no path)"
        ));
    }
    Ok(())
}

/// The origin of an http(s) URI, as a browser would send it; `None` for any other URI.
fn origin_of(uri: &str) -> Option<String> {
    let parsed = Url::parse(uri).ok()?;
    matches!(parsed.scheme(), "https" | "http").then(|| parsed.origin().ascii_serialization())
}

/// The origins whose pages may read this client's answers: those it registered, else, for a public client, the
/// origins of its http(s) redirect URIs.
pub fn allowed_origins(web: &WebClient) -> Vec<String> {
    if !web.web_origins.is_empty() || !web.public {
        return web.web_origins.clone();
    }
    let mut origins: Vec<String> = Vec::new();
    for origin in web.redirect_uris.iter().filter_map(|uri| origin_of(uri)) {
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    origins
}

/// Whether `origin` is one of the client's [`allowed_origins`], compared exactly.
pub fn allows(web: &WebClient, origin: &str) -> bool {
    allowed_origins(web).iter().any(|allowed| allowed == origin)
}

/// Whether `origin` could be one a client registers: a cheap test before a store query, refusing what no check of
/// [`check_web_origin`] lets through (and what a `LIKE` pattern would read as a wildcard).
fn could_be_registered(origin: &str) -> bool {
    (origin.starts_with("https://") || origin.starts_with("http://"))
        && origin.len() <= MAX_WEB_ORIGIN_LEN
        && origin.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'.' | b'-' | b'[' | b']')
        })
}

impl AuthService {
    /// The origins whose pages may read the answers given to `client_id` (nothing for an unknown client).
    pub async fn client_web_origins(&self, client_id: &str) -> Result<Vec<String>> {
        if let Some(outcome) = self.metadata_client(client_id).await {
            return Ok(outcome
                .map(|client| allowed_origins(&client.web))
                .unwrap_or_default());
        }
        Ok(self
            .registered_client(client_id)
            .await?
            .map(|client| allowed_origins(&client.web))
            .unwrap_or_default())
    }

    /// Whether `origin` is an allowed web origin of some registered client: what a CORS preflight, which names no
    /// client, can be granted on.
    pub async fn is_web_origin(&self, origin: &str) -> Result<bool> {
        if !could_be_registered(origin) {
            return Ok(false);
        }
        Ok(self
            .store
            .clients_with_web_origin(origin)
            .await?
            .iter()
            .any(|web| allows(web, origin)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_registered_as_browsers_send_it() {
        for good in [
            "https://app.example.com",
            "https://app.example.com:8443",
            "http://127.0.0.1:5173",
            "http://localhost:3000",
            "http://[::1]:8080",
        ] {
            assert_eq!(check_web_origin(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("null", "any page"),
            ("*", "any page"),
            (
                "https://app.example.com/",
                "register \"https://app.example.com\"",
            ),
            (
                "https://app.example.com/app",
                "register \"https://app.example.com\"",
            ),
            (
                "https://App.Example.com",
                "register \"https://app.example.com\"",
            ),
            (
                "https://app.example.com:443",
                "register \"https://app.example.com\"",
            ),
            (
                "https://user@app.example.com",
                "register \"https://app.example.com\"",
            ),
            (
                "https://app.example.com?x",
                "register \"https://app.example.com\"",
            ),
            ("http://app.example.com", "use https"),
            (
                "com.example.app://cb",
                "browsers send https or http origins only",
            ),
            ("app.example.com", "not an origin"),
            ("https://app example.com", "without spaces"),
        ] {
            let error = check_web_origin(bad).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn a_public_client_defaults_to_its_redirect_uris_origins_a_confidential_one_to_none() {
        let public = WebClient {
            redirect_uris: vec![
                "https://app.example.com/cb".into(),
                "https://app.example.com/other".into(),
                "http://127.0.0.1:5173/cb".into(),
                "com.example.app:/cb".into(),
            ],
            public: true,
            ..WebClient::default()
        };
        assert_eq!(
            allowed_origins(&public),
            ["https://app.example.com", "http://127.0.0.1:5173"]
        );
        assert!(allows(&public, "https://app.example.com"));
        assert!(!allows(&public, "https://app.example.com.evil.test"));
        assert!(!allows(&public, "null"));
        let registered = WebClient {
            web_origins: vec!["https://spa.example.com".into()],
            ..public.clone()
        };
        assert_eq!(allowed_origins(&registered), ["https://spa.example.com"]);
        let confidential = WebClient {
            public: false,
            ..public
        };
        assert!(allowed_origins(&confidential).is_empty());
    }

    #[test]
    fn what_a_like_pattern_would_read_as_a_wildcard_is_never_looked_up() {
        assert!(could_be_registered("https://app.example.com:8443"));
        for odd in [
            "https://%",
            "https://a_b",
            "null",
            "https://a\\b",
            "file://x",
        ] {
            assert!(!could_be_registered(odd), "{odd}");
        }
    }
}
