//! Bounded HTTP GETs of JSON documents: `https` only (plain `http` only to a loopback address), a timeout, a body
//! size limit enforced while reading (a 50 MB answer is refused after the first chunk past the limit, not after
//! downloading it), at most three redirects each to an acceptable URL, and the response's `Cache-Control`.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, HeaderMap};
use reqwest::{Client, Url, redirect};

use crate::error::{Error, ErrorKind, Result};

/// A fetched document and how long its server says it may be cached.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) body: String,
    /// `Cache-Control: max-age`, or zero for `no-store` / `no-cache`; `None` without either.
    pub(crate) max_age: Option<Duration>,
}

/// Checks that `url` may be fetched: `https`, or `http` to a loopback address (tests, sidecars); no credentials.
pub(crate) fn check_url(url: &str) -> Result<Url> {
    let parsed = Url::parse(url).map_err(|e| {
        Error::new(
            ErrorKind::InsecureUrl,
            format!("{:?} is not a URL: {e}", shorten(url)),
        )
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::new(
            ErrorKind::InsecureUrl,
            format!(
                "{} carries credentials; key sets and discovery documents are public",
                parsed.origin().ascii_serialization()
            ),
        ));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        scheme => Err(Error::new(
            ErrorKind::InsecureUrl,
            format!(
                "{} uses {scheme}: keys must come over https (plain http is accepted only for a loopback address)",
                parsed.origin().ascii_serialization()
            ),
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The first 80 characters of attacker- or user-supplied text, for messages.
pub(crate) fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}

/// An HTTP client for documents: the timeout covers the whole exchange; redirects are checked like the first URL.
pub(crate) fn client(timeout: Duration) -> Result<Client> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("waxseal-remote/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 3 {
                attempt.error("more than 3 redirects")
            } else if check_url(attempt.url().as_str()).is_err() {
                attempt.error("redirect to a URL that is not https")
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Fetch,
                format!("cannot build an HTTP client: {e}"),
            )
        })
}

/// GETs `url` accepting `accept`; the body must be UTF-8 and at most `max_bytes`.
pub(crate) async fn get(
    client: &Client,
    url: &Url,
    accept: &str,
    max_bytes: usize,
) -> Result<Fetched> {
    let origin = url.as_str();
    let failed = |e: reqwest::Error| {
        let why = if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "could not connect".to_owned()
        } else if e.is_redirect() {
            "refused a redirect".to_owned()
        } else {
            "failed".to_owned()
        };
        Error::new(ErrorKind::Fetch, format!("GET {origin} {why}: {e}"))
    };
    let mut response = client
        .get(url.clone())
        .header(ACCEPT, accept)
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(Error::new(
            ErrorKind::Fetch,
            format!("GET {origin} answered {status}; expected 200"),
        ));
    }
    let too_big = || {
        Error::new(
            ErrorKind::LimitExceeded,
            format!("GET {origin}: the document is larger than the limit of {max_bytes} bytes"),
        )
    };
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return Err(too_big());
    }
    let max_age = cache_max_age(response.headers());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(body).map_err(|_| {
        Error::new(
            ErrorKind::InvalidDocument,
            format!("GET {origin}: the document is not UTF-8"),
        )
    })?;
    Ok(Fetched { body, max_age })
}

/// `max-age` from `Cache-Control`; zero for `no-store` or `no-cache`.
fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return Some(Duration::ZERO);
            }
            if let Some(secs) = lower.strip_prefix("max-age=") {
                if let Ok(secs) = secs.trim_matches('"').parse::<u64>() {
                    max_age = Some(Duration::from_secs(secs));
                }
            }
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn only_https_or_loopback_http_without_credentials() {
        for ok in [
            "https://issuer.example/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]:9/x",
            "http://localhost/x",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://issuer.example/jwks.json",
            "http://10.0.0.1/jwks",
            "ftp://issuer.example/",
            "https://user:pw@issuer.example/",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                check_url(bad).unwrap_err().kind(),
                ErrorKind::InsecureUrl,
                "{bad}"
            );
        }
    }

    #[test]
    fn cache_control_max_age_and_no_store() {
        let mut headers = HeaderMap::new();
        assert_eq!(cache_max_age(&headers), None);
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        assert_eq!(cache_max_age(&headers), Some(Duration::from_secs(300)));
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store, max-age=300"),
        );
        assert_eq!(cache_max_age(&headers), Some(Duration::ZERO));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=abc"));
        assert_eq!(cache_max_age(&headers), None);
    }
}
