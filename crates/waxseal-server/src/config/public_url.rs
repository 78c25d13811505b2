//! The issuer taken apart for cookie mode: the origin browsers send in `Origin`, the path the cookies are scoped
//! to, and whether the scheme and host allow a `Secure` cookie. Checked once by [`super::Config::validate`] and
//! read again by the cookie layer.

use crate::error::{Error, Result};

/// The parts of the issuer, the server's public base URL, that cookie mode needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicUrl {
    /// The origin browsers send in `Origin` (RFC 6454): lowercase scheme and host, the port only when not the
    /// scheme's default.
    pub(crate) origin: String,
    /// The path prefix the server is served under, without a trailing `/` (empty at the root).
    pub(crate) path: String,
    /// `https`.
    pub(crate) secure: bool,
    /// The host is `localhost` or a loopback address.
    pub(crate) loopback: bool,
}

impl PublicUrl {
    /// Parses an absolute `http` or `https` URL without user info, query or fragment.
    pub(crate) fn parse(url: &str) -> Result<PublicUrl> {
        let bad = |why: &str| {
            Error::config(format!(
                "the issuer {:?} is not usable for cookie mode: {why}; write it as https://host[:port][/path]",
                url.chars().take(100).collect::<String>()
            ))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let (secure, default_port) = match scheme.as_str() {
            "https" => (true, "443"),
            "http" => (false, "80"),
            _ => return Err(bad("the scheme is not http or https")),
        };
        if rest.contains(['?', '#']) {
            return Err(bad("it has a query or fragment"));
        }
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("the host is missing or has user info"));
        }
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                (&authority[..i], Some(&authority[i + 1..]))
            }
            _ => (authority, None),
        };
        if host.is_empty()
            || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("the host or port is not valid"));
        }
        let host = host.to_ascii_lowercase();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = bare == "localhost"
            || bare.ends_with(".localhost")
            || bare
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let origin = match port {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        };
        Ok(PublicUrl {
            origin,
            path: path.trim_end_matches('/').to_owned(),
            secure,
            loopback,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_gives_the_origin_and_path_browsers_see() {
        let url = |s: &str| PublicUrl::parse(s).unwrap();
        assert_eq!(
            url("https://Auth.Example.com").origin,
            "https://auth.example.com"
        );
        assert_eq!(
            url("https://auth.example.com:443/").origin,
            "https://auth.example.com"
        );
        assert_eq!(
            url("https://auth.example.com:8443/id/").origin,
            "https://auth.example.com:8443"
        );
        assert_eq!(url("https://auth.example.com:8443/id/").path, "/id");
        assert_eq!(url("http://127.0.0.1:8080").path, "");
        assert!(url("http://127.0.0.1:8080").loopback);
        assert!(url("http://[::1]:8080").loopback);
        assert_eq!(url("http://[::1]:8080").origin, "http://[::1]:8080");
        assert!(url("http://localhost").loopback);
        assert!(!url("http://10.0.0.1").loopback);
        for bad in [
            "auth.example.com",
            "ftp://x",
            "https://",
            "https://u@x",
            "https://x:y",
            "https://x/?a",
            "https://x:",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
