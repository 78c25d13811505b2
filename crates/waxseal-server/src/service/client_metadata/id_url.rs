//! The `client_id` URLs accepted (draft-ietf-oauth-client-id-metadata-document §3) and the operator's allowed
//! hosts.
//!
//! The URL is the client's identity and the key of everything remembered about it (consent, sessions), so it is
//! taken only in the one form the URL standard serializes it to: `HTTPS://App.Example/x` or `/a/../x` would
//! otherwise be a second name for the same document. IP literals are refused because the address rules are meant
//! for names an operator can reason about; an allowed host (an internal deployment) may be one.

use url::{Host, Url};

use super::error::{MetadataError, shorten};

/// The longest `client_id` URL accepted, in bytes.
pub const MAX_CLIENT_ID_URL_LEN: usize = 2048;

/// Whether `client_id` is meant as a metadata document URL (and so never looked up in the store).
pub(super) fn looks_like_url(client_id: &str) -> bool {
    let prefix = client_id.get(..8).unwrap_or(client_id);
    prefix.to_ascii_lowercase().starts_with("https:")
        || prefix.to_ascii_lowercase().starts_with("http:")
}

/// Checks `client_id` as a metadata document URL; `allowed` says whether its host is one the operator allowed.
pub(super) fn check_client_id_url(
    client_id: &str,
    allowed: impl Fn(&Url) -> bool,
) -> Result<Url, MetadataError> {
    if client_id.len() > MAX_CLIENT_ID_URL_LEN {
        return Err(MetadataError::url(format!(
            "it is longer than {MAX_CLIENT_ID_URL_LEN} bytes"
        )));
    }
    let url = Url::parse(client_id)
        .map_err(|e| MetadataError::url(format!("{:?} is not a URL: {e}", shorten(client_id))))?;
    if url.scheme() != "https" {
        return Err(MetadataError::url(format!(
            "it uses {}; a client metadata document is fetched over https only",
            shorten(url.scheme())
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(MetadataError::url("it carries a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(MetadataError::url("it has a fragment (#…)"));
    }
    if has_dot_segment(client_id) {
        return Err(MetadataError::url("its path has a \".\" or \"..\" segment"));
    }
    if matches!(url.path(), "" | "/") {
        return Err(MetadataError::url(
            "it has no path; the document is at a path such as https://app.example/oauth/client.json",
        ));
    }
    if url.as_str() != client_id {
        return Err(MetadataError::url(format!(
            "it is not in its normal form {:?} (lower-case scheme and host, no default port)",
            shorten(url.as_str())
        )));
    }
    match url.host() {
        Some(Host::Domain(_)) => {}
        Some(Host::Ipv4(_) | Host::Ipv6(_)) if allowed(&url) => {}
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Err(MetadataError::url(
                "its host is an IP address; a client metadata document is fetched by host name",
            ));
        }
        None => return Err(MetadataError::url("it has no host")),
    }
    Ok(url)
}

/// Whether the path of `text` (the part after the authority) has a `.` or `..` segment, percent-encoded or not;
/// the URL parser would silently remove them.
fn has_dot_segment(text: &str) -> bool {
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let path_and_more = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
    let path = path_and_more.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    })
}

/// Whether `pattern` is an allowed-host entry: a host name or IP address, optionally with `:port`.
pub fn is_host_pattern(pattern: &str) -> bool {
    if pattern.is_empty()
        || pattern.contains(['/', '@', '?', '#', '\\'])
        || pattern.contains(char::is_whitespace)
    {
        return false;
    }
    Url::parse(&format!("https://{pattern}/"))
        .is_ok_and(|url| url.host().is_some() && url.path() == "/")
}

/// Whether `url`'s host (and port) is one of `patterns`: `name` allows every port, `name:port` that port.
pub(super) fn host_allowed(url: &Url, patterns: &[String]) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let port = url.port_or_known_default();
    patterns.iter().any(|pattern| {
        let (name, wanted) = match pattern.rsplit_once(':') {
            Some((name, digits))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (name, digits.parse::<u16>().ok())
            }
            _ => (pattern.as_str(), None),
        };
        // The name as the URL parser writes it (lower case, IPv6 in brackets), as `url`'s host is.
        let normal = Url::parse(&format!("https://{name}/")).ok();
        let same_host = normal.as_ref().and_then(Url::host_str) == Some(host);
        same_host && wanted.is_none_or(|wanted| Some(wanted) == port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Url, String> {
        check_client_id_url(text, |_| false).map_err(|e| e.to_string())
    }

    #[test]
    fn client_id_urls_are_https_host_names_with_a_path_in_normal_form() {
        assert!(check("https://app.example/client.json").is_ok());
        assert!(check("https://app.example:8443/oauth/client?v=1").is_ok());
        for (bad, why) in [
            ("http://app.example/client.json", "https only"),
            ("https://user:pw@app.example/c", "user name"),
            ("https://app.example/c#x", "fragment"),
            ("https://app.example/", "no path"),
            ("https://app.example", "no path"),
            ("https://app.example/a/../c", "\"..\""),
            ("https://app.example/a/./c", "\".\""),
            ("https://app.example/a/%2E%2e/c", "\"..\""),
            ("https://10.0.0.1/client.json", "IP address"),
            ("https://[::1]/client.json", "IP address"),
            ("https://APP.example/c", "normal form"),
            ("https://app.example:443/c", "normal form"),
            ("not a url", "not a URL"),
        ] {
            let got = check(bad);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(why)),
                "{bad}: {got:?}"
            );
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_CLIENT_ID_URL_LEN));
        assert!(check(&long).is_err_and(|e| e.contains("longer than")));
    }

    #[test]
    fn allowed_hosts_match_by_name_or_name_and_port() {
        let url = |text: &str| Url::parse(text).unwrap();
        let patterns = vec!["localhost".to_owned(), "10.0.0.5:8443".to_owned()];
        assert!(host_allowed(&url("https://localhost:1234/c"), &patterns));
        assert!(host_allowed(&url("https://localhost/c"), &patterns));
        assert!(host_allowed(&url("https://10.0.0.5:8443/c"), &patterns));
        assert!(!host_allowed(&url("https://10.0.0.5/c"), &patterns));
        assert!(!host_allowed(&url("https://10.0.0.5:22/c"), &patterns));
        assert!(!host_allowed(&url("https://app.example/c"), &patterns));
        assert!(
            check_client_id_url("https://10.0.0.5:8443/c", |u| host_allowed(u, &patterns)).is_ok()
        );
        for good in [
            "mcp.internal",
            "mcp.internal:8443",
            "10.0.0.5",
            "[::1]:8443",
        ] {
            assert!(is_host_pattern(good), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "user@host",
            "https://host",
            "host name",
            "host:port",
        ] {
            assert!(!is_host_pattern(bad), "{bad}");
        }
    }
}
