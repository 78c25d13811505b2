//! The properties the server fuzz targets check: the request bodies of `POST /login`, `POST /refresh`, the
//! `/oauth/*` forms (token, revocation, introspection), the query and body of `POST /logout` and the query of
//! `GET /authorize`, read by the
//! server's own parsers (`waxseal_server::routes::fuzzing`).
//!
//! Shared, like `jose.rs`, by the fuzz targets and `crates/waxseal-server/tests/fuzz_regressions.rs` (with `#[path]`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use waxseal_server::routes::fuzzing::{self, OAuthRequest};
use waxseal_server::service::AuthorizeError;
use waxseal_server::service::authorize::{AUTHORIZE_PARAMS, MAX_PARAM_LEN, OIDC_SCOPES};
use waxseal_server::{Client, GrantType, WebClient};

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
            assert_eq!(Some(&form[1].1), request.client_secret.as_ref());
        }
    } else {
        assert!(
            authorization.is_none(),
            "an Authorization header was ignored"
        );
        // client_secret_post, or a public client's client_id alone (token_endpoint_auth_method none).
        assert_eq!(request.params.get("client_id"), Some(&request.client_id));
        assert_eq!(
            request.params.get("client_secret"),
            request.client_secret.as_ref()
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

/// `application/x-www-form-urlencoded` read leniently, the way a browser's `URLSearchParams` does: empty segments
/// skipped, `+` is a space, a `%` not followed by two hex digits kept as it is, bytes that are not UTF-8 replaced.
fn lenient_query(query: &[u8]) -> Vec<(String, String)> {
    let decode = |text: &[u8]| {
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            let hex = |b: u8| char::from(b).to_digit(16);
            match text[i] {
                b'+' => out.push(b' '),
                b'%' => match (
                    text.get(i + 1).and_then(|&b| hex(b)),
                    text.get(i + 2).and_then(|&b| hex(b)),
                ) {
                    (Some(high), Some(low)) => {
                        out.push(u8::try_from(high * 16 + low).expect("two hex digits are a byte"));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    query
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (decode(&pair[..i]), decode(&pair[i + 1..])),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Target `server_logout`: a `POST /logout` request past its bearer token. The input is the query (the text up to
/// the first newline; an empty one is no query), the `Content-Type` (up to the second newline; empty is none) and
/// the body (the rest).
pub fn logout(data: &[u8]) -> Outcome {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let query = parts.next().filter(|q| !q.is_empty());
    let content_type = parts.next().filter(|c| !c.is_empty());
    let body = parts.next().unwrap_or_default();
    // The query read independently: `None` unless it is nothing or one `all=true|false`. It ends at a `#`, where
    // the URI's fragment begins (RFC 3986 §3.4; clients do not send one, and the URI parser drops it).
    let query_part = query
        .unwrap_or_default()
        .split(|&b| b == b'#')
        .next()
        .unwrap_or_default();
    let pairs = lenient_query(query_part);
    let expected_all = match pairs.as_slice() {
        [] => Some(false),
        [(name, value)] if name == "all" && (value == "true" || value == "false") => {
            Some(value == "true")
        }
        _ => None,
    };
    // A header value with bytes outside visible ASCII, tab and space cannot be read as text (`HeaderValue::to_str`),
    // so it names no media type, however much of it looks like one.
    let is_json = content_type
        .filter(|c| c.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)))
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));

    let request = match fuzzing::logout(query, content_type, body) {
        Ok(request) => request,
        Err(status) => {
            assert!(
                status == 400 || status == 415,
                "refused with {status}, not 400 or 415"
            );
            if status == 415 {
                assert!(
                    !body.is_empty() && !is_json,
                    "415 for an empty body or a JSON one"
                );
            }
            // What is certainly valid is never refused: a valid query with no body, or with a JSON `null`.
            let trivial_body = body.is_empty() || (is_json && body == b"null");
            let plain_header = content_type.is_none_or(header_ok);
            assert!(
                !(expected_all.is_some() && trivial_body && plain_header && uri_ok(query)),
                "a valid logout request was refused with {status}"
            );
            return Outcome::Refused;
        }
    };

    // Accepted: the query said exactly this, …
    assert_eq!(
        Some(request.all),
        expected_all,
        "query {:?} read as all={}",
        String::from_utf8_lossy(query_part),
        request.all
    );
    // … and the body is empty, JSON null, or exactly one non-empty string member `refresh_token`.
    if body.is_empty() {
        assert_eq!(request.refresh_token, None, "a token from an empty body");
        return Outcome::Accepted;
    }
    assert!(
        is_json,
        "a body accepted without Content-Type: application/json"
    );
    let value: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
    match value {
        Value::Null => assert_eq!(request.refresh_token, None, "a token from null"),
        Value::Object(object) => {
            assert_eq!(object.len(), 1, "unknown members accepted: {object:?}");
            let token = object["refresh_token"]
                .as_str()
                .expect("refresh_token is a string");
            assert!(!token.is_empty(), "an empty refresh token accepted");
            assert_eq!(request.refresh_token.as_deref(), Some(token));
        }
        other => panic!("accepted a body that is neither null nor an object: {other}"),
    }
    Outcome::Accepted
}

/// Bytes that are certainly a header value hyper lets through (visible ASCII and spaces, not at the ends).
fn header_ok(value: &[u8]) -> bool {
    value.iter().all(|&b| b == b' ' || b.is_ascii_graphic())
        && value.first() != Some(&b' ')
        && value.last() != Some(&b' ')
}

/// Whether `/logout?QUERY` is certainly a request target hyper accepts (a conservative set of characters).
fn uri_ok(query: Option<&[u8]>) -> bool {
    query.is_none_or(|q| {
        q.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"=&+-._~".contains(&b))
    })
}

/// The seeds of the server targets: one request of each kind, and the malformed ones that must be refused.
/// The redirect URIs the fuzzed client registered.
const REGISTERED: [&str; 2] = ["https://app.example/cb", "com.example.app:/cb"];

fn registered_client() -> Client {
    Client {
        client_id: "app".into(),
        secret_hash: [0; 32],
        name: "App".into(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["read".into()],
        created_at: 0,
        may_introspect: false,
        web: WebClient {
            redirect_uris: REGISTERED.map(String::from).to_vec(),
            ..WebClient::default()
        },
        encrypt_access_tokens: false,
        require_dpop: false,
    }
}

fn plain(value: &str) -> bool {
    value.len() <= MAX_PARAM_LEN && !value.chars().any(char::is_control)
}

/// Target `server_authorize`: the bytes are the query string of `GET /authorize` for a registered client. An error
/// is redirected only to a registered URI, and never before the redirect URI is known good (no open redirect); an
/// accepted request has an exact registered redirect URI, an S256 challenge, known scopes, and bounded values.
pub fn authorize(data: &[u8]) -> Outcome {
    let Some(checked) = fuzzing::authorize(data, registered_client()) else {
        return Outcome::Refused;
    };
    let pairs = fuzzing::form(data).expect("a checked query parsed");
    let redirect_uris: Vec<&str> = pairs
        .iter()
        .filter(|(n, _)| n == "redirect_uri")
        .map(|(_, v)| v.as_str())
        .collect();
    let known_good = matches!(redirect_uris.as_slice(), [uri] if REGISTERED.contains(uri));
    match checked {
        Ok(request) => {
            assert!(
                known_good,
                "accepted without exactly one registered redirect URI"
            );
            assert!(REGISTERED.contains(&request.redirect_uri.as_str()));
            let challenge = request.code_challenge.as_deref().expect("PKCE is required");
            assert_eq!(challenge.len(), 43, "not an S256 challenge");
            for (i, scope) in request.scope.iter().enumerate() {
                assert!(
                    OIDC_SCOPES.contains(&scope.as_str()) || scope == "read",
                    "scope {scope:?} granted"
                );
                assert!(!request.scope[..i].contains(scope), "scope {scope:?} twice");
            }
            for (i, (name, value)) in request.params.iter().enumerate() {
                assert!(AUTHORIZE_PARAMS.contains(name), "{name} carried");
                assert!(!value.is_empty());
                assert!(
                    request.params[..i].iter().all(|(n, _)| n != name),
                    "{name} carried twice"
                );
            }
            for value in [&request.state, &request.nonce, &request.login_hint]
                .into_iter()
                .flatten()
            {
                assert!(
                    plain(value),
                    "an unbounded or control-character value accepted"
                );
            }
            assert!(
                !(request.prompt.none && (request.prompt.login || request.prompt.consent)),
                "prompt=none combined"
            );
            Outcome::Accepted
        }
        Err(AuthorizeError::Page(message)) => {
            assert!(
                !known_good,
                "an error page for a good redirect URI: {message}"
            );
            Outcome::Refused
        }
        Err(AuthorizeError::Redirect(e)) => {
            assert!(
                known_good,
                "redirected to an unchecked URI {:?}",
                e.redirect_uri
            );
            assert!(REGISTERED.contains(&e.redirect_uri.as_str()));
            assert!(
                e.state.as_deref().is_none_or(plain),
                "an unbounded state echoed"
            );
            Outcome::Refused
        }
    }
}

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
            "ok-public-client",
            form(
                0,
                None,
                "grant_type=authorization_code&client_id=spa&code=c0de&code_verifier=v3r1f13r",
            ),
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
    // Query, newline, Content-Type, newline, body.
    let logout: [(&str, &[u8]); 16] = [
        ("ok-nothing", b"\n\n"),
        ("ok-all-true", b"all=true\n\n"),
        ("ok-all-escaped", b"%61ll=false&\n\n"),
        ("ok-null", b"all=false\napplication/json\n null "),
        (
            "ok-refresh-token",
            b"\napplication/json; charset=utf-8\n{\"refresh_token\":\"rt_abc-DEF_123\"}",
        ),
        ("ok-empty-body-any-type", b"all=true\ntext/plain\n"),
        ("attack-unknown-parameter", b"all=true&admin=1\n\n"),
        ("attack-not-a-bool", b"all=yes\n\n"),
        ("attack-repeated-all", b"all=false&all=true\n\n"),
        (
            "attack-text-body",
            b"\ntext/plain\n{\"refresh_token\":\"rt_abc\"}",
        ),
        (
            "attack-no-content-type",
            b"\n\n{\"refresh_token\":\"rt_abc\"}",
        ),
        (
            "attack-empty-refresh-token",
            b"\napplication/json\n{\"refresh_token\":\"\"}",
        ),
        ("attack-array-body", b"\napplication/json\n[\"rt_abc\"]"),
        (
            "attack-duplicate-member",
            b"\napplication/json\n{\"refresh_token\":\"a\",\"refresh_token\":\"b\"}",
        ),
        (
            "attack-unknown-member",
            b"\napplication/json\n{\"refresh_token\":\"a\",\"all\":true}",
        ),
        ("attack-trailing-garbage", b"\napplication/json\nnull x"),
    ];
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let good = format!(
        "client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid+read\
         &state=xyz&nonce=n1&code_challenge={challenge}&code_challenge_method=S256"
    );
    let authorize: [(&str, String); 12] = [
        ("ok-minimal", good.clone()),
        (
            "ok-everything",
            format!("{good}&prompt=login+consent&max_age=300&login_hint=alice&ui_locales=fr"),
        ),
        (
            "ok-private-use-scheme",
            good.replace("https%3A%2F%2Fapp.example%2Fcb", "com.example.app%3A%2Fcb"),
        ),
        ("attack-trailing-slash", good.replace("%2Fcb", "%2Fcb%2F")),
        (
            "attack-other-host",
            good.replace("app.example", "app.example.evil"),
        ),
        (
            "attack-repeated-redirect-uri",
            format!("{good}&redirect_uri=https%3A%2F%2Fevil.example"),
        ),
        ("attack-plain-pkce", good.replace("S256", "plain")),
        ("attack-no-pkce", good.replace("code_challenge=", "x=")),
        ("attack-request-object", format!("{good}&request=eyJ.e30.")),
        (
            "attack-token-response-type",
            good.replace("response_type=code", "response_type=token"),
        ),
        ("attack-broken-escape", format!("{good}&state=%zz")),
        (
            "attack-unknown-scope",
            good.replace("openid+read", "openid+admin"),
        ),
    ];
    token_form
        .into_iter()
        .map(|(name, bytes)| ("server_form", name, bytes))
        .chain(
            authorize
                .into_iter()
                .map(|(name, query)| ("server_authorize", name, query.into_bytes())),
        )
        .chain(
            json_bodies
                .into_iter()
                .map(|(name, bytes)| ("server_json", name, bytes.to_vec())),
        )
        .chain(
            logout
                .into_iter()
                .map(|(name, bytes)| ("server_logout", name, bytes.to_vec())),
        )
        .map(|(target, name, bytes)| Seed {
            target,
            name: name.to_owned(),
            bytes,
            deterministic: true,
        })
        .collect()
}
