//! The properties the server fuzz targets check: the request bodies of `POST /login`, `POST /refresh` and the
//! `/oauth/*` forms (token, revocation, introspection), read by the server's own parsers
//! (`waxseal_server::routes::fuzzing`).
//!
//! Shared, like `jose.rs`, by the fuzz targets and `crates/waxseal-server/tests/fuzz_regressions.rs` (with `#[path]`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use waxseal_server::routes::fuzzing::{self, OAuthRequest};

use crate::{Outcome, Seed};

/// Percent-encodes every byte but unreserved ones: a spelling the form parser must read back exactly.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn form_body(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Target `server_form`: byte 0 picks the endpoint (bit 0: token or introspection/revocation) and whether an
/// `Authorization` header is sent (bit 1); with one, it is the text up to the first newline. The rest is the body.
pub fn oauth_form(data: &[u8]) -> Outcome {
    let Some((&mode, rest)) = data.split_first() else {
        return Outcome::Refused;
    };
    let required = if mode & 1 == 0 { "grant_type" } else { "token" };
    let (authorization, body) = if mode & 2 == 0 {
        (None, rest)
    } else {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (Some(rest), &b""[..]),
        }
    };

    // The form parser alone: strict, and a round trip through a canonical encoding gives the same pairs.
    let pairs = fuzzing::form(body);
    if let Some(pairs) = &pairs {
        let body_text = std::str::from_utf8(body).expect("an accepted form body is UTF-8");
        assert!(
            pairs.len() <= body_text.split('&').count(),
            "more pairs than the body has"
        );
        let again = fuzzing::form(form_body(pairs).as_bytes()).expect("canonical form parses");
        assert_eq!(&again, pairs, "form did not round-trip");
    }

    let Ok(request) = fuzzing::oauth_request(authorization, body, required) else {
        return Outcome::Refused;
    };
    let pairs = pairs.expect("an accepted request has a well-formed body");
    check_oauth_request(&request, &pairs, authorization, required);
    Outcome::Accepted
}

fn check_oauth_request(
    request: &OAuthRequest,
    pairs: &[(String, String)],
    authorization: Option<&[u8]>,
    required: &str,
) {
    // Parameters: every one named once (RFC 6749 §3.1), empty values absent, nothing invented.
    let mut expected = BTreeMap::new();
    for (name, value) in pairs {
        let mut same = pairs.iter().filter(|(n, _)| n == name);
        same.next();
        assert!(
            same.next().is_none(),
            "a repeated parameter {name:?} was accepted"
        );
        if !value.is_empty() {
            expected.insert(name.clone(), value.clone());
        }
    }
    assert_eq!(request.params, expected, "parameters differ from the body");
    assert!(
        request.params.contains_key(required),
        "accepted without {required}"
    );

    // Client authentication: one method, never both (RFC 6749 §2.3.1).
    if request.basic {
        let header = authorization.expect("Basic without an Authorization header");
        assert!(
            !request.params.contains_key("client_secret"),
            "both Basic and client_secret accepted"
        );
        if let Some(body_id) = request.params.get("client_id") {
            assert_eq!(
                body_id, &request.client_id,
                "two different client ids accepted"
            );
        }
        // The header, read independently: `Basic base64(form(id) ":" form(secret))`.
        let text = std::str::from_utf8(header).expect("an accepted header is text");
        let (scheme, encoded) = text.split_once(' ').expect("scheme and credentials");
        assert!(scheme.eq_ignore_ascii_case("basic"));
        let decoded = STANDARD
            .decode(encoded.trim())
            .expect("accepted Basic credentials are base64");
        let decoded = String::from_utf8(decoded).expect("accepted Basic credentials are UTF-8");
        let (id, secret) = decoded.split_once(':').expect("id:secret");
        let form = fuzzing::form(format!("i={id}&s={secret}").as_bytes());
        if !id.contains('&') && !secret.contains('&') && !id.contains('=') {
            let form = form.expect("Basic parts are form-encoded");
            assert_eq!(form[0].1, request.client_id);
            assert_eq!(form[1].1, request.client_secret);
        }
    } else {
        assert!(
            authorization.is_none(),
            "an Authorization header was ignored"
        );
        assert_eq!(request.params.get("client_id"), Some(&request.client_id));
        assert_eq!(
            request.params.get("client_secret"),
            Some(&request.client_secret)
        );
    }
}

/// Target `server_json`: the same bytes as a `POST /login` body and as a `POST /refresh` body. What is accepted
/// must be, read independently, a JSON object with exactly the expected string members.
pub fn json_bodies(data: &[u8]) -> Outcome {
    let mut outcome = Outcome::Refused;
    let exact = |names: &[&str]| -> serde_json::Map<String, Value> {
        let value: Value = serde_json::from_slice(data).expect("an accepted body is JSON");
        let object = value
            .as_object()
            .expect("an accepted body is an object")
            .clone();
        assert_eq!(
            object.len(),
            names.len(),
            "unknown members accepted: {object:?}"
        );
        for name in names {
            assert!(
                object.get(*name).is_some_and(Value::is_string),
                "{name} missing or not a string"
            );
        }
        object
    };
    if let Some((username, password)) = fuzzing::login(data) {
        let object = exact(&["username", "password"]);
        assert_eq!(object["username"], Value::String(username));
        assert_eq!(object["password"], Value::String(password));
        outcome = Outcome::Accepted;
    }
    if let Some(token) = fuzzing::refresh(data) {
        let object = exact(&["refresh_token"]);
        assert_eq!(object["refresh_token"], Value::String(token));
        outcome = Outcome::Accepted;
    }
    outcome
}

/// The seeds of the server targets: one request of each kind, and the malformed ones that must be refused.
pub fn seeds() -> Vec<Seed> {
    let basic =
        |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    // Byte 0: bit 0 = introspection/revocation (else token), bit 1 = an Authorization line follows.
    let form = |mode: u8, authorization: Option<String>, body: &str| {
        let mut bytes = vec![mode | if authorization.is_some() { 2 } else { 0 }];
        if let Some(header) = authorization {
            bytes.extend_from_slice(header.as_bytes());
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(body.as_bytes());
        bytes
    };
    let token_form = [
        (
            "ok-password-grant-basic",
            form(
                0,
                Some(basic("app", "s3cr%3At")),
                "grant_type=password&username=alice&password=a+long+passphrase&scope=read",
            ),
        ),
        (
            "ok-client-credentials-post",
            form(
                0,
                None,
                "grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=read+write",
            ),
        ),
        (
            "ok-refresh-grant",
            form(
                0,
                Some(basic("app", "s3cret")),
                "grant_type=refresh_token&refresh_token=rt_abc-DEF_123&client_id=app",
            ),
        ),
        (
            "ok-introspect",
            form(
                1,
                Some(basic("app", "s3cret")),
                "token=eyJhbGciOiJFUzI1NiJ9.e30.c2ln&token_type_hint=access_token",
            ),
        ),
        (
            "ok-revoke-post",
            form(
                1,
                None,
                "token=rt_abc&client_id=app&client_secret=s3cret&unknown=x&empty=",
            ),
        ),
        (
            "attack-repeated-grant-type",
            form(
                0,
                Some(basic("app", "s3cret")),
                "grant_type=password&grant_type=client_credentials",
            ),
        ),
        (
            "attack-repeated-empty",
            form(1, Some(basic("app", "s3cret")), "token=a&token="),
        ),
        (
            "attack-both-client-auth-methods",
            form(
                0,
                Some(basic("app", "s3cret")),
                "grant_type=client_credentials&client_secret=other",
            ),
        ),
        (
            "attack-other-client-id-in-body",
            form(
                0,
                Some(basic("app", "s3cret")),
                "grant_type=client_credentials&client_id=other",
            ),
        ),
        (
            "attack-broken-escape",
            form(
                0,
                None,
                "grant_type=password&username=%zz&client_id=a&client_secret=b",
            ),
        ),
        (
            "attack-not-utf8",
            form(
                0,
                None,
                "grant_type=password&username=%FF&client_id=a&client_secret=b",
            ),
        ),
        (
            "attack-no-credentials",
            form(0, None, "grant_type=client_credentials"),
        ),
        (
            "attack-bearer-instead-of-basic",
            form(1, Some("Bearer abc".into()), "token=a"),
        ),
        (
            "attack-missing-token",
            form(
                1,
                Some(basic("app", "s3cret")),
                "token_type_hint=access_token",
            ),
        ),
    ];
    let json_bodies: [(&str, &[u8]); 9] = [
        (
            "ok-login",
            br#"{"username":"alice","password":"a long passphrase"}"#,
        ),
        (
            "ok-login-escaped",
            br#" {"password":"p\u00e9\"x","username":"\u0061lice"} "#,
        ),
        ("ok-refresh", br#"{"refresh_token":"rt_abc-DEF_123"}"#),
        ("attack-array-body", br#"["alice","a long passphrase"]"#),
        (
            "attack-duplicate-member",
            br#"{"username":"alice","password":"x","username":"admin"}"#,
        ),
        (
            "attack-unknown-member",
            br#"{"username":"alice","password":"x","admin":true}"#,
        ),
        ("attack-null", b"null"),
        ("attack-trailing-garbage", br#"{"refresh_token":"a"} x"#),
        ("attack-number-for-string", br#"{"refresh_token":1}"#),
    ];
    token_form
        .into_iter()
        .map(|(name, bytes)| ("server_form", name, bytes))
        .chain(
            json_bodies
                .into_iter()
                .map(|(name, bytes)| ("server_json", name, bytes.to_vec())),
        )
        .map(|(target, name, bytes)| Seed {
            target,
            name: name.to_owned(),
            bytes,
            deterministic: true,
        })
        .collect()
}
