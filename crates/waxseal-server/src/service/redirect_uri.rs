//! The redirect URIs a client may register (RFC 6749 §3.1.2, RFC 8252 §7): checked once, at registration, so that
//! the authorization request can compare a presented URI with the registered ones exactly and nothing more.
//!
//! One exception to exactness, [`redirect_uri_matches`]: a native app's loopback redirect URI on an IP literal
//! (`http://127.0.0.1/…`, `http://[::1]/…`) matches on any port, since the app listens on whatever port the
//! operating system gives it at the time of the request (RFC 8252 §7.3). Only the port is ignored, compared as
//! text, never normalized; `localhost` is not given the exception (RFC 8252 §8.3 advises against it: the name may
//! resolve elsewhere, and a firewall may let it through to another interface), so its URIs match exactly.

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

/// The loopback IP-literal prefixes whose port is ignored when matching (RFC 8252 §7.3).
const LOOPBACK_PREFIXES: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// `uri` without its port, when it is an http URI on a loopback IP literal: the prefix then the rest after the
/// port, or `None` for any other URI (or a port that is not 1 to 5 digits).
fn without_loopback_port(uri: &str) -> Option<(&'static str, &str)> {
    LOOPBACK_PREFIXES.into_iter().find_map(|prefix| {
        let rest = uri.strip_prefix(prefix)?;
        let rest = match rest.strip_prefix(':') {
            Some(port_and_rest) => {
                let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 || digits > 5 {
                    return None;
                }
                &port_and_rest[digits..]
            }
            None => rest,
        };
        (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
            .then_some((prefix, rest))
    })
}

/// Whether a `redirect_uri` presented in an authorization request is the registered one: exactly the same text,
/// except that for an http URI on a loopback IP literal the port may differ (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (
        without_loopback_port(registered),
        without_loopback_port(presented),
    ) {
        (Some(registered), Some(presented)) => registered == presented,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ip_redirect_uris_match_on_any_port_and_nothing_else() {
        for (registered, presented) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb"),
            ("http://127.0.0.1:8080/cb", "http://127.0.0.1:1/cb"),
            ("http://[::1]/cb?x=1", "http://[::1]:65000/cb?x=1"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:9"),
            ("https://app.example/cb", "https://app.example/cb"),
        ] {
            assert!(
                redirect_uri_matches(registered, presented),
                "{registered} {presented}"
            );
        }
        for (registered, presented) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:49152/other"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb/"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb?x=1"),
            ("http://127.0.0.1/cb", "http://[::1]:49152/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:123456/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1@evil.example/cb"),
            ("http://127.0.0.1/cb", "https://127.0.0.1:443/cb"),
            ("http://localhost/cb", "http://localhost:3000/cb"),
            ("https://app.example/cb", "https://app.example:444/cb"),
        ] {
            assert!(
                !redirect_uri_matches(registered, presented),
                "{registered} {presented}"
            );
        }
    }

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
