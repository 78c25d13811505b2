//! The `htu` comparison of RFC 9449 §4.3 step 9: both URIs normalised (RFC 3986 §6.2.2 syntax-based and §6.2.3
//! scheme-based), without query and fragment, then compared byte for byte.
//!
//! What normalisation makes equal: the case of the scheme and host, a default port written out (`:443` for
//! `https`, `:80` for `http`) or left empty, an empty path and `/`, percent-encoded unreserved characters and the
//! characters themselves (`%7E` and `~`), the case of percent-encodings' hex digits (`%2f` and `%2F`), and `.` /
//! `..` segments. What it keeps apart: the path's case, a percent-encoded reserved character and the character
//! (`%2F` is not `/`), another port, another scheme. User information (`user@host`) is refused: no client has a
//! reason to send it, and it is the classic way to make a URI look like another host.

use crate::error::{Error, ErrorKind, Result, quote};

/// The normal form of an `http` or `https` URI, without its query and fragment.
pub(crate) fn normalize(uri: &str) -> Result<String> {
    let uri = uri.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(bad(uri, "is not an absolute http(s) URI"));
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(bad(uri, "is not an http or https URI")),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(bad(uri, "carries user information"));
    }
    // The port is after the last ':' outside an IPv6 literal's brackets.
    let (host, port) = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => (&authority[..at], &authority[at + 1..]),
        _ => (authority, ""),
    };
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(uri, "has no valid host"));
    }
    let port = if port.is_empty() {
        String::new()
    } else {
        let number: u16 = port
            .parse()
            .ok()
            .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(uri, "has an invalid port"))?;
        let number = number.to_string();
        if number == default_port {
            String::new()
        } else {
            number
        }
    };
    let mut out = String::with_capacity(uri.len());
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&host.to_ascii_lowercase());
    if !port.is_empty() {
        out.push(':');
        out.push_str(&port);
    }
    let path = normalize_percent(path).ok_or_else(|| bad(uri, "has a malformed path"))?;
    out.push_str(&remove_dot_segments(&path));
    Ok(out)
}

/// Percent-encodings with upper-case hex digits, unreserved characters decoded, anything that may not appear in a
/// path unencoded (spaces, controls, non-ASCII) encoded as UTF-8. `None` for a `%` not followed by two hex digits.
fn normalize_percent(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if is_unreserved(value) {
                out.push(char::from(value));
            } else {
                push_encoded(&mut out, value);
            }
            i += 3;
        } else {
            if b.is_ascii_graphic() {
                out.push(char::from(b));
            } else {
                push_encoded(&mut out, b);
            }
            i += 1;
        }
    }
    Some(out)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_encoded(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

/// RFC 3986 §5.2.4 on an absolute path; an empty path is `/` (§6.2.3).
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = path.split('/').skip(1).peekable();
    let mut trailing_slash = false;
    while let Some(segment) = parts.next() {
        let last = parts.peek().is_none();
        match segment {
            "." => trailing_slash = last,
            ".." => {
                segments.pop();
                trailing_slash = last;
            }
            _ => {
                segments.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out
}

fn bad(uri: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::DpopProof,
        format!("DPoP htu {} {what}", quote(uri)),
    )
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn equal_after_normalisation() {
        let same = [
            (
                "https://Server.Example.COM/api/me",
                "https://server.example.com/api/me",
            ),
            (
                "HTTPS://server.example.com:443/api/me",
                "https://server.example.com/api/me",
            ),
            ("http://h:80", "http://h/"),
            ("https://h/api/%6De", "https://h/api/me"),
            ("https://h/a%2fb", "https://h/a%2Fb"),
            ("https://h/a/./b/../c", "https://h/a/c"),
            ("https://h/a/b/..", "https://h/a/"),
            ("https://h/api/me?x=1#frag", "https://h/api/me"),
            ("https://h:0443/x", "https://h/x"),
            ("https://[::1]:8443/x", "https://[::1]:8443/x"),
            ("https://h/caf\u{e9}", "https://h/caf%C3%A9"),
        ];
        for (a, b) in same {
            assert_eq!(normalize(a).unwrap(), normalize(b).unwrap(), "{a} vs {b}");
        }
    }

    #[test]
    fn different_after_normalisation() {
        let different = [
            ("https://h/api/me", "https://h/API/me"),
            ("https://h/api/me", "https://h/api%2Fme"),
            ("https://h/api/me", "https://h:8443/api/me"),
            ("https://h/api/me", "http://h/api/me"),
            ("https://h/api/me", "https://h/api/me/"),
            ("https://h/api/me", "https://g/api/me"),
        ];
        for (a, b) in different {
            assert_ne!(normalize(a).unwrap(), normalize(b).unwrap(), "{a} vs {b}");
        }
    }

    #[test]
    fn refused() {
        for uri in [
            "",
            "/api/me",
            "ftp://h/x",
            "https://user@h/x",
            "https://h:99999/x",
            "https://h:8a/x",
            "https:///x",
            "https://h/%zz",
            "https://h/%4",
        ] {
            assert!(normalize(uri).is_err(), "{uri:?} accepted");
        }
    }
}
