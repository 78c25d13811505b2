//! `application/x-www-form-urlencoded` bodies (the `/oauth/*` endpoints), parsed strictly.
//!
//! A lenient parser turns a broken escape (`%zz`) into literal text and bytes that are not UTF-8 into U+FFFD, so a
//! password or a token that is not what the client sent would reach the flows. Here such a body is refused as a
//! whole, and values are held in [`Zeroizing`] strings from the start: they may be passwords and secrets.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use zeroize::Zeroizing;

/// Why a form body was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormError {
    /// The content type is not `application/x-www-form-urlencoded`.
    ContentType,
    /// Over [`super::MAX_BODY_BYTES`].
    TooLarge,
    /// The body could not be read (the connection failed).
    Unreadable,
    /// Not UTF-8, or a `%` escape that is not two hex digits of UTF-8.
    Malformed,
}

/// The name–value pairs of a form body in order (repeats included: the caller decides), or why there are none.
pub(crate) struct FormBody(pub(crate) Result<Vec<(String, Zeroizing<String>)>, FormError>);

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Ok(FormBody(Err(FormError::ContentType)));
        }
        let parsed = match Bytes::from_request(req, state).await {
            Ok(body) => parse(&body),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(FormError::TooLarge)
            }
            Err(_) => Err(FormError::Unreadable),
        };
        Ok(FormBody(parsed))
    }
}

/// Splits on `&` and `=`, undoes `+` and `%XX`; empty pairs (`a=1&&b=2`) are skipped, a pair without `=` is a name
/// with an empty value.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<(String, Zeroizing<String>)>, FormError> {
    let text = std::str::from_utf8(body).map_err(|_| FormError::Malformed)?;
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = form_decode(name).ok_or(FormError::Malformed)?;
            let value = form_decode(value).ok_or(FormError::Malformed)?;
            Ok((name.to_string(), value))
        })
        .collect()
}

/// Undoes `application/x-www-form-urlencoded` (RFC 6749 §2.3.1 applies it to the Basic user and password).
pub(super) fn form_decode(text: &str) -> Option<Zeroizing<String>> {
    let bytes = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out.to_vec()).ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
        parse(body).map(|p| p.into_iter().map(|(n, v)| (n, v.to_string())).collect())
    }

    #[test]
    fn strict_form_parsing() {
        assert_eq!(
            pairs(b"a=1&b=x+y%2B&&c&d=").unwrap(),
            [("a", "1"), ("b", "x y+"), ("c", ""), ("d", "")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(pairs(b"").unwrap(), []);
        assert_eq!(pairs(b"a=1&a=2").unwrap().len(), 2, "repeats are kept");
        assert_eq!(pairs(b"p=%C3%A9").unwrap()[0].1, "\u{e9}");
        for bad in [&b"a=%zz"[..], b"a=%4", b"a=%FF", b"a=\xff", b"%ZZ=1"] {
            assert_eq!(pairs(bad), Err(FormError::Malformed), "{bad:?}");
        }
    }
}
