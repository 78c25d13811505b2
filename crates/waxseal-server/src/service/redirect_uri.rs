//! The redirect URIs a client may register (RFC 6749 §3.1.2, RFC 8252 §7): checked once, at registration, so that
//! the authorization request can compare a presented URI with the registered ones exactly and nothing more.

use url::Url;

/// Checks a redirect URI a client registers: absolute, no fragment, https — or http only to a loopback address,
/// or a private-use scheme with a dot for native apps (RFC 8252 §7.1, §7.3). Returns what is wrong.
pub fn check_redirect_uri(uri: &str) -> std::result::Result<(), String> {
    if uri.len() > 512 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a redirect URI is at most 512 bytes, without spaces".into());
    }
    let parsed = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!(
            "{uri:?} has a fragment, which a redirect URI may not (RFC 6749 §3.1.2)"
        ));
    }
    let loopback = matches!(parsed.host(), Some(url::Host::Domain("localhost")))
        || matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "{uri:?} uses http to a host other than this machine: use https (http only for 127.0.0.1, [::1] or localhost)"
        )),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(format!(
            "{uri:?} has neither https nor a private-use scheme like com.example.app (RFC 8252 §7.1)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_loopback_http_or_private_use() {
        for good in [
            "https://app.example/cb",
            "https://app.example/cb?x=1",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example/a b",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
