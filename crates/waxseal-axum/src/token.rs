//! Finding the access token in a request: the `Authorization` header (RFC 6750 §2.1, and with a DPoP policy RFC 9449
//! §7.1's `DPoP` scheme), else a configured cookie.
//!
//! What is refused, and how:
//!
//! * **Two `Authorization` headers** — 400 `invalid_request`. The field is not a list (RFC 9110 §11.6.2), and which
//!   of the two a proxy in front acted on is unknowable.
//! * **Two tokens** (`Bearer a b`) — 400 `invalid_request`: `b64token` has no spaces (RFC 6750 §2.1).
//! * **The token cookie sent twice** — 400 `invalid_request`. Browsers send every cookie whose domain and path
//!   match, so a sibling subdomain can plant a second one ("cookie tossing"); choosing either would let it choose.
//! * **`Bearer` without a token, or with bytes a token cannot have** — 401 `invalid_token`. The same for `DPoP`, whose
//!   token has the same syntax (RFC 9449 §7.1).
//! * **No `Authorization` header, or another scheme (`Basic …`, or `DPoP …` on a layer without a DPoP policy), and
//!   no token cookie** — 401 with the bare challenge: RFC 6750 §3.1 counts "an unsupported authentication method"
//!   as no authentication information.
//!
//! The header wins over the cookie: a cookie is consulted only when no bearer `Authorization` header is present,
//! so an API client's explicit token is never overridden by whatever cookie its browser holds. Query-string tokens
//! (RFC 6750 §2.3) are never read: they end up in logs.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};

use crate::error::{Error, ErrorKind};

/// The bearer token of a request, from the `Authorization` header or, when `cookie` names one, that cookie.
/// `Ok(None)` when there is none at all (the bare 401); the errors are those the module docs list. The token is
/// borrowed from the headers: nothing is copied.
///
/// ```
/// use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer eyJ.eyJ.sig"));
/// assert_eq!(waxseal_axum::bearer_token(&headers, None)?, Some("eyJ.eyJ.sig"));
/// headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer other"));
/// assert_eq!(
///     waxseal_axum::bearer_token(&headers, None).unwrap_err().kind(),
///     waxseal_axum::ErrorKind::InvalidRequest,
/// );
/// # Ok::<(), waxseal_axum::Error>(())
/// ```
pub fn bearer_token<'h>(
    headers: &'h HeaderMap,
    cookie: Option<&str>,
) -> Result<Option<&'h str>, Error> {
    match credential(headers, cookie, false)? {
        Some(Credential::Bearer(token)) => Ok(Some(token)),
        Some(Credential::Dpop(_)) | None => Ok(None),
    }
}

/// An access token and the scheme it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential<'h> {
    /// `Authorization: Bearer`, or the token cookie.
    Bearer(&'h str),
    /// `Authorization: DPoP` (RFC 9449 §7.1): good only with a proof.
    Dpop(&'h str),
}

/// The request's token, as [`bearer_token`] finds it, and with `dpop` also from `Authorization: DPoP` (otherwise
/// that scheme is one more unsupported one). An error about a `DPoP` credential is marked for the DPoP challenge.
pub(crate) fn credential<'h>(
    headers: &'h HeaderMap,
    cookie: Option<&str>,
    dpop: bool,
) -> Result<Option<Credential<'h>>, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    if let Some(value) = values.next() {
        if values.next().is_some() {
            return Err(Error::invalid_request(
                "send one Authorization header, not several",
            ));
        }
        if let Some(credential) = from_authorization(value.as_bytes(), dpop)? {
            return Ok(Some(credential));
        }
    }
    match cookie {
        Some(name) => Ok(from_cookies(headers, name)?.map(Credential::Bearer)),
        None => Ok(None),
    }
}

/// The token of a `Bearer` credential (or, with `dpop`, a `DPoP` one); `None` for another scheme.
fn from_authorization(value: &[u8], dpop: bool) -> Result<Option<Credential<'_>>, Error> {
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(at) => (&value[..at], &value[at + 1..]),
        None => (value, &value[value.len()..]),
    };
    let is_dpop = if scheme.eq_ignore_ascii_case(b"bearer") {
        false
    } else if dpop && scheme.eq_ignore_ascii_case(b"dpop") {
        true
    } else {
        return Ok(None);
    };
    let name = if is_dpop { "DPoP" } else { "Bearer" };
    let in_scheme = |e: Error| if is_dpop { e.in_dpop_scheme() } else { e };
    // 1*SP before the token; trailing whitespace is not part of the field value.
    let rest = trim(rest);
    if rest.is_empty() {
        return Err(in_scheme(Error::invalid_token(format!(
            "the Authorization header names the {name} scheme but carries no token"
        ))));
    }
    match token_text(rest, name) {
        Ok(token) if is_dpop => Ok(Some(Credential::Dpop(token))),
        Ok(token) => Ok(Some(Credential::Bearer(token))),
        Err(e) => Err(in_scheme(e)),
    }
}

/// The named cookie's value across every `Cookie` header (HTTP/2 may split them); `None` when absent or empty.
fn from_cookies<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Error> {
    let mut found: Option<&'h [u8]> = None;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let pair = trim(pair);
            let Some(at) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if trim(&pair[..at]) != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err(Error::invalid_request(
                    "the token cookie is sent more than once; clear the stale one",
                ));
            }
            let mut value = trim(&pair[at + 1..]);
            // RFC 6265 §4.1.1: cookie-value may be wrapped in double quotes.
            if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
                value = &value[1..value.len() - 1];
            }
            found = Some(value);
        }
    }
    match found {
        None | Some([]) => Ok(None),
        // A space in a cookie value is no second token, just a stray byte.
        Some(value) => token_text(value, "Bearer")
            .map(Some)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidRequest => stray_bytes("Bearer"),
                _ => e,
            }),
    }
}

/// The bytes of RFC 6750 §2.1's `b64token`: `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"` (and `=`, allowed
/// only at the end, checked apart).
static B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

/// A `b64token` (`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`) as text. Spaces inside mean
/// several tokens: 400; any other stray byte: 401. One table lookup per byte, no branch: this runs on every request.
fn token_text<'b>(bytes: &'b [u8], scheme: &str) -> Result<&'b str, Error> {
    let body_end = bytes
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |at| at + 1);
    let body = &bytes[..body_end];
    let valid = !body.is_empty()
        && body
            .iter()
            .fold(true, |ok, &b| ok & B64TOKEN[usize::from(b)]);
    if valid {
        // Only ASCII passed the table.
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Ok(text);
        }
    }
    if bytes.iter().any(|&b| b == b' ' || b == b'\t') {
        return Err(Error::invalid_request(format!(
            "send one token after {scheme}, with no spaces in it"
        )));
    }
    Err(stray_bytes(scheme))
}

fn stray_bytes(scheme: &str) -> Error {
    Error::invalid_token(if scheme == "DPoP" {
        "the DPoP-bound token has characters a token cannot have"
    } else {
        "the bearer token has characters a token cannot have"
    })
}

fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn kind(pairs: &[(&str, &[u8])], cookie: Option<&str>) -> Result<Option<String>, ErrorKind> {
        bearer_token(&headers(pairs), cookie)
            .map(|t| t.map(str::to_owned))
            .map_err(|e| e.kind())
    }

    #[test]
    fn the_authorization_header_per_rfc_6750() {
        let ok = |v: &[u8]| kind(&[("authorization", v)], None);
        assert_eq!(
            ok(b"Bearer abc.DEF-_~+/=="),
            Ok(Some("abc.DEF-_~+/==".into()))
        );
        assert_eq!(
            ok(b"bearer   abc"),
            Ok(Some("abc".into())),
            "scheme case and 1*SP"
        );
        assert_eq!(ok(b"BEARER abc  "), Ok(Some("abc".into())));
        assert_eq!(
            ok(b"Basic dXNlcjpwYXNz"),
            Ok(None),
            "another scheme: no token"
        );
        assert_eq!(ok(b"Bearerabc"), Ok(None), "not the Bearer scheme");
        assert_eq!(ok(b"Bearer"), Err(ErrorKind::InvalidToken));
        assert_eq!(ok(b"Bearer   "), Err(ErrorKind::InvalidToken));
        assert_eq!(ok(b"Bearer a b"), Err(ErrorKind::InvalidRequest));
        assert_eq!(ok(b"Bearer a\tb"), Err(ErrorKind::InvalidRequest));
        assert_eq!(ok(b"Bearer \xff\xfe"), Err(ErrorKind::InvalidToken));
        assert_eq!(ok(b"Bearer a,b"), Err(ErrorKind::InvalidToken));
        assert_eq!(ok(b"Bearer \"abc\""), Err(ErrorKind::InvalidToken));
        assert_eq!(ok(b"Bearer ==="), Err(ErrorKind::InvalidToken));
        assert_eq!(
            ok(b"Bearer a=b"),
            Err(ErrorKind::InvalidToken),
            "= only at the end"
        );
        assert_eq!(kind(&[], None), Ok(None));
        assert_eq!(
            kind(
                &[
                    ("authorization", b"Bearer a"),
                    ("authorization", b"Bearer a")
                ],
                None
            ),
            Err(ErrorKind::InvalidRequest)
        );
    }

    #[test]
    fn the_cookie_only_when_no_bearer_header() {
        let c = Some("at");
        assert_eq!(
            kind(&[("cookie", b"x=1; at=tok.en; y=2")], c),
            Ok(Some("tok.en".into()))
        );
        assert_eq!(
            kind(&[("cookie", b"at=\"tok\"")], c),
            Ok(Some("tok".into()))
        );
        assert_eq!(
            kind(&[("cookie", b"x=1"), ("cookie", b"at=tok")], c),
            Ok(Some("tok".into()))
        );
        assert_eq!(
            kind(&[("cookie", b"at=tok")], None),
            Ok(None),
            "no cookie configured"
        );
        assert_eq!(
            kind(&[("cookie", b"at=")], c),
            Ok(None),
            "an emptied cookie is none"
        );
        assert_eq!(
            kind(&[("cookie", b"xat=tok; atx=tok")], c),
            Ok(None),
            "names match exactly"
        );
        assert_eq!(
            kind(&[("cookie", b"at=a"), ("cookie", b"at=b")], c),
            Err(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            kind(&[("cookie", b"at=a b")], c),
            Err(ErrorKind::InvalidToken)
        );
        assert_eq!(
            kind(
                &[("authorization", b"Bearer head"), ("cookie", b"at=tok")],
                c
            ),
            Ok(Some("head".into())),
            "the header wins"
        );
        assert_eq!(
            kind(&[("authorization", b"Basic x"), ("cookie", b"at=tok")], c),
            Ok(Some("tok".into())),
            "another scheme leaves the cookie"
        );
    }

    #[test]
    fn the_dpop_scheme_only_when_the_layer_takes_it() {
        let h = headers(&[("authorization", b"DPoP abc.def")]);
        assert_eq!(
            credential(&h, None, false),
            Ok(None),
            "an unsupported scheme"
        );
        assert_eq!(
            credential(&h, None, true),
            Ok(Some(Credential::Dpop("abc.def")))
        );
        assert_eq!(
            credential(&headers(&[("authorization", b"dpop   abc ")]), None, true),
            Ok(Some(Credential::Dpop("abc"))),
            "scheme case and 1*SP"
        );
        let e = credential(&headers(&[("authorization", b"DPoP a b")]), None, true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
        assert!(e.challenge().unwrap().starts_with("DPoP "), "{e:?}");
        let e = credential(&headers(&[("authorization", b"DPoP")]), None, true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidToken);
        assert!(e.challenge().unwrap().starts_with("DPoP "), "{e:?}");
        assert_eq!(
            bearer_token(&h, None),
            Ok(None),
            "bearer_token never hands out a DPoP-bound token"
        );
    }
}
