//! The input-hardening audit, as a table: every endpoint × every kind of bad input — malformed bodies, wrong or
//! missing content types, bodies over the limit, unknown fields, wrong JSON types, non-UTF-8, huge and repeated
//! headers, repeated parameters, empty values, wrong methods. Each must get a clear 4xx with the JSON error body
//! (`error`, `error_description`, short, never echoing the input), never a 5xx, and leave the store as it was.
//!
//! One deliberate exception, by the standard: unknown `/oauth/*` parameters are ignored (RFC 6749 §3.1 says they
//! MUST be), so those rows expect the request to go through. And requests the HTTP parser itself refuses (headers
//! past its limits, bytes that are not HTTP) never reach the routes: hyper answers 431 or 400 without a body.

mod common;

use std::fmt::Write as _;

use common::{PASSWORD, TestClock, TestServer, basic, db};
use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use waxseal_server::GrantType::{ClientCredentials, Password, RefreshToken};

/// Put into bad inputs wherever it fits: an error body must never contain it.
const CANARY: &str = "ECHO-CANARY-7f3a";

struct Case {
    endpoint: &'static str,
    kind: String,
    request: RequestBuilder,
    status: u16,
}

struct Table<'a> {
    server: &'a TestServer,
    cases: Vec<Case>,
}

impl Table<'_> {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.server.client.request(method, self.server.at(path))
    }

    fn body(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> RequestBuilder {
        let mut request = self.request(method, path).body(body.into());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request
    }

    fn add(&mut self, endpoint: &'static str, kind: &str, request: RequestBuilder, status: u16) {
        self.cases.push(Case {
            endpoint,
            kind: kind.to_owned(),
            request,
            status,
        });
    }
}

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// A JSON string value of `len` bytes: over the 16 KiB body limit for 32 KiB.
fn padding(len: usize) -> String {
    "p".repeat(len)
}

/// The rows for a JSON-body endpoint. `fields` is a well-formed body whose values are wrong (so it is refused
/// without changing anything), `field` the name of one string field, `auth` the bearer token the endpoint needs.
fn json_rows(
    t: &mut Table<'_>,
    endpoint: &'static str,
    fields: &str,
    field: &str,
    auth: Option<&str>,
    empty: (&str, u16),
) {
    let with_auth = |r: RequestBuilder| match auth {
        Some(token) => r.bearer_auth(token),
        None => r,
    };
    let post = |t: &Table<'_>, content_type: Option<&str>, body: Vec<u8>| {
        with_auth(t.body(Method::POST, endpoint, content_type, body))
    };
    let inner = &fields[1..fields.len() - 1];
    let rows: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        (
            "malformed JSON",
            JSON,
            format!("{{\"{field}\": \"{CANARY}").into_bytes(),
            400,
        ),
        (
            "trailing garbage",
            JSON,
            format!("{fields}{CANARY}").into_bytes(),
            400,
        ),
        ("deeply nested", JSON, "[".repeat(5000).into_bytes(), 400),
        (
            "not an object",
            JSON,
            format!("[\"{CANARY}\"]").into_bytes(),
            400,
        ),
        (
            "content type text/plain",
            Some("text/plain"),
            fields.as_bytes().to_vec(),
            415,
        ),
        ("content type form", FORM, fields.as_bytes().to_vec(), 415),
        (
            "content type missing",
            None,
            fields.as_bytes().to_vec(),
            415,
        ),
        (
            "content type near miss",
            Some("application/jsonx"),
            fields.as_bytes().to_vec(),
            415,
        ),
        (
            "body over the limit",
            JSON,
            format!("{{\"{field}\": \"{}\"}}", padding(32 * 1024)).into_bytes(),
            413,
        ),
        (
            "unknown field",
            JSON,
            format!("{{{inner}, \"{CANARY}\": 1}}").into_bytes(),
            400,
        ),
        (
            "wrong type: number",
            JSON,
            format!("{{\"{field}\": 1}}").into_bytes(),
            400,
        ),
        (
            "wrong type: null",
            JSON,
            format!("{{\"{field}\": null}}").into_bytes(),
            400,
        ),
        (
            "wrong type: array",
            JSON,
            format!("{{\"{field}\": [\"{CANARY}\"]}}").into_bytes(),
            400,
        ),
        ("missing field", JSON, b"{}".to_vec(), 400),
        (
            "not UTF-8",
            JSON,
            [
                format!("{{\"{field}\": \"").as_bytes(),
                &b"\xff\xfe"[..],
                b"\"}",
            ]
            .concat(),
            400,
        ),
        (
            "duplicate key",
            JSON,
            format!("{{{inner}, \"{field}\": \"{CANARY}\"}}").into_bytes(),
            400,
        ),
        ("empty values", JSON, empty.0.as_bytes().to_vec(), empty.1),
    ];
    for (kind, content_type, body, status) in rows {
        let request = post(t, content_type, body);
        t.add(endpoint, kind, request, status);
    }
    // A huge header the endpoint does not use, on a request it refuses anyway.
    let request = post(t, JSON, b"{".to_vec()).header("x-padding", padding(64 * 1024));
    t.add(endpoint, "huge header", request, 400);
    let request = with_auth(t.request(Method::GET, endpoint));
    t.add(endpoint, "wrong method", request, 405);
    let request = with_auth(t.request(Method::PUT, endpoint));
    t.add(endpoint, "wrong method PUT", request, 405);
}

/// The rows for an `/oauth/*` endpoint; `good` is a form the client is allowed that changes nothing.
fn form_rows(t: &mut Table<'_>, endpoint: &'static str, auth: &str, good: &str, required: &str) {
    let post = |t: &Table<'_>, content_type: Option<&str>, body: Vec<u8>| {
        t.body(Method::POST, endpoint, content_type, body)
            .header("authorization", auth)
    };
    let rows: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        (
            "malformed escape",
            FORM,
            format!("{good}&x=%zz{CANARY}").into_bytes(),
            400,
        ),
        (
            "truncated escape",
            FORM,
            format!("{good}&x=%4").into_bytes(),
            400,
        ),
        ("content type JSON", JSON, good.as_bytes().to_vec(), 415),
        (
            "content type text/plain",
            Some("text/plain"),
            good.as_bytes().to_vec(),
            415,
        ),
        ("content type missing", None, good.as_bytes().to_vec(), 415),
        (
            "JSON body",
            JSON,
            format!("{{\"{required}\": \"{CANARY}\"}}").into_bytes(),
            415,
        ),
        (
            "body over the limit",
            FORM,
            format!("{good}&pad={}", padding(32 * 1024)).into_bytes(),
            413,
        ),
        (
            "unknown parameter (ignored, RFC 6749 §3.1)",
            FORM,
            format!("{good}&{CANARY}=1").into_bytes(),
            200,
        ),
        (
            "wrong type: array syntax",
            FORM,
            format!("{required}[]={CANARY}").into_bytes(),
            400,
        ),
        (
            "not UTF-8, raw",
            FORM,
            [good.as_bytes(), &b"&scope=\xff\xfe"[..]].concat(),
            400,
        ),
        (
            "not UTF-8, escaped",
            FORM,
            format!("{good}&scope=%FF%FE").into_bytes(),
            400,
        ),
        (
            "repeated parameter",
            FORM,
            format!("{good}&{good}").into_bytes(),
            400,
        ),
        (
            "repeated parameter, one empty",
            FORM,
            format!("{required}=&{good}").into_bytes(),
            400,
        ),
        (
            "empty value",
            FORM,
            format!("{required}=").into_bytes(),
            400,
        ),
        ("no parameters", FORM, Vec::new(), 400),
    ];
    for (kind, content_type, body, status) in rows {
        let request = post(t, content_type, body);
        t.add(endpoint, kind, request, status);
    }
    let form = |t: &Table<'_>| t.body(Method::POST, endpoint, FORM, good.to_owned());
    let request = form(t).header("authorization", format!("Basic {}", padding(64 * 1024)));
    t.add(endpoint, "huge Authorization", request, 401);
    let request = form(t).header(
        "authorization",
        HeaderValue::from_bytes(b"Basic \xff\xfe").expect("obs-text is a valid header value"),
    );
    t.add(endpoint, "Authorization not UTF-8", request, 401);
    let request = form(t)
        .header("authorization", auth)
        .header("authorization", auth);
    t.add(endpoint, "repeated Authorization", request, 400);
    let request = form(t).header("x-padding", padding(64 * 1024));
    t.add(endpoint, "huge header (no credentials)", request, 401);
    let request = t
        .request(Method::GET, endpoint)
        .header("authorization", auth);
    t.add(endpoint, "wrong method", request, 405);
}

fn bearer_rows(t: &mut Table<'_>, endpoint: &'static str, valid: &str) {
    let get = |t: &Table<'_>| t.request(Method::GET, endpoint);
    let rows: Vec<(&str, RequestBuilder, u16)> = vec![
        ("no token", get(t), 401),
        ("garbage token", get(t).bearer_auth(CANARY), 401),
        (
            "empty token",
            get(t).header("authorization", "Bearer "),
            401,
        ),
        ("huge token", get(t).bearer_auth(padding(64 * 1024)), 401),
        (
            "token not UTF-8",
            get(t).header(
                "authorization",
                HeaderValue::from_bytes(b"Bearer \xff\xfe")
                    .expect("obs-text is a valid header value"),
            ),
            401,
        ),
        (
            "repeated Authorization",
            get(t)
                .bearer_auth(valid)
                .header("authorization", format!("Bearer {CANARY}")),
            400,
        ),
        (
            "Basic instead of Bearer",
            get(t).basic_auth("heidi", Some(PASSWORD)),
            401,
        ),
        (
            "wrong method",
            t.request(Method::POST, endpoint).bearer_auth(valid),
            405,
        ),
        (
            "wrong method DELETE",
            t.request(Method::DELETE, endpoint).bearer_auth(valid),
            405,
        ),
    ];
    for (kind, request, status) in rows {
        t.add(endpoint, kind, request, status);
    }
}

#[tokio::test]
async fn every_endpoint_refuses_every_kind_of_bad_input_with_a_clear_4xx_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("heidi", &["read"]).await;
    let (access, refresh) = server.login_ok("heidi").await;
    let (id, secret) = server
        .add_client(
            "app",
            &[Password, RefreshToken, ClientCredentials],
            &["read"],
        )
        .await;
    let auth = basic(&id, &secret);
    let before = db::dump(dir.path()).await;

    let mut t = Table {
        server: &server,
        cases: Vec::new(),
    };
    json_rows(
        &mut t,
        "/login",
        r#"{"username": "heidi", "password": "not the password"}"#,
        "username",
        None,
        (r#"{"username": "", "password": ""}"#, 401),
    );
    json_rows(
        &mut t,
        "/refresh",
        r#"{"refresh_token": "not-a-refresh-token"}"#,
        "refresh_token",
        None,
        (r#"{"refresh_token": ""}"#, 401),
    );
    json_rows(
        &mut t,
        "/logout",
        &format!(r#"{{"refresh_token": "{refresh}"}}"#),
        "refresh_token",
        Some(&access),
        (r#"{"refresh_token": ""}"#, 400),
    );
    // /logout: its bearer token and its query.
    for (kind, request, status) in [
        ("no token", t.request(Method::POST, "/logout"), 401),
        (
            "garbage token",
            t.request(Method::POST, "/logout").bearer_auth(CANARY),
            401,
        ),
        (
            "repeated Authorization",
            t.request(Method::POST, "/logout")
                .bearer_auth(&access)
                .header("authorization", format!("Bearer {access}")),
            400,
        ),
        (
            "query: wrong type",
            t.request(Method::POST, "/logout?all=maybe")
                .bearer_auth(&access),
            400,
        ),
        (
            "query: repeated",
            t.request(Method::POST, "/logout?all=true&all=false")
                .bearer_auth(&access),
            400,
        ),
        (
            "query: unknown",
            t.request(Method::POST, &format!("/logout?{CANARY}=1"))
                .bearer_auth(&access),
            400,
        ),
        (
            "query: not UTF-8",
            t.request(Method::POST, "/logout?all=%FF")
                .bearer_auth(&access),
            400,
        ),
    ] {
        t.add("/logout", kind, request, status);
    }
    form_rows(
        &mut t,
        "/oauth/token",
        &auth,
        "grant_type=client_credentials",
        "grant_type",
    );
    form_rows(&mut t, "/oauth/revoke", &auth, "token=not-a-token", "token");
    form_rows(
        &mut t,
        "/oauth/introspect",
        &auth,
        "token=not-a-token",
        "token",
    );
    // The token endpoint's grant parameters.
    for (kind, body) in [
        (
            "empty password",
            "grant_type=password&username=heidi&password=".to_owned(),
        ),
        (
            "empty username",
            format!("grant_type=password&username=&password={CANARY}"),
        ),
        (
            "empty refresh token",
            "grant_type=refresh_token&refresh_token=".to_owned(),
        ),
        (
            "repeated password",
            format!("grant_type=password&username=heidi&password={CANARY}&password={CANARY}"),
        ),
    ] {
        let request = t
            .body(Method::POST, "/oauth/token", FORM, body)
            .header("authorization", &auth);
        t.add("/oauth/token", kind, request, 400);
    }
    for endpoint in ["/api/me", "/api/protected", "/api/admin"] {
        bearer_rows(&mut t, endpoint, &access);
    }
    for endpoint in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/healthz",
        "/readyz",
    ] {
        let request = t.body(Method::POST, endpoint, JSON, "{}");
        t.add(endpoint, "wrong method", request, 405);
        let request = t.request(Method::DELETE, endpoint);
        t.add(endpoint, "wrong method DELETE", request, 405);
    }
    for (kind, path) in [
        ("unknown path", format!("/{CANARY}")),
        ("path not UTF-8", "/%FF%FE".to_owned()),
        ("near miss", "/login/".to_owned()),
    ] {
        let request = t.request(Method::GET, &path);
        t.add("(fallback)", kind, request, 404);
    }

    let cases = std::mem::take(&mut t.cases);
    let total = cases.len();
    let mut failures = Vec::new();
    for case in cases {
        let what = format!("{} — {}", case.endpoint, case.kind);
        let response = match case.request.send().await {
            Ok(response) => response,
            Err(e) => {
                failures.push(format!("{what}: no response: {e}"));
                continue;
            }
        };
        let status = response.status().as_u16();
        let allow = response.headers().get("allow").cloned();
        let text = response.text().await.unwrap_or_default();
        if status != case.status {
            failures.push(format!(
                "{what}: status {status}, expected {}: {text}",
                case.status
            ));
            continue;
        }
        if status == 200 {
            continue;
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !body["error"].is_string() || !body["error_description"].is_string() {
            failures.push(format!("{what}: not the JSON error body: {text:?}"));
        }
        if text.len() > 400 || text.contains(CANARY) {
            failures.push(format!(
                "{what}: error body echoes input or is long: {text}"
            ));
        }
        if status == 405 && allow.is_none() {
            failures.push(format!("{what}: 405 without Allow"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(total > 150, "{total} cases");
    assert_eq!(db::dump(dir.path()).await, before, "the store changed");
    // Still serving, and the tokens from before still work.
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    assert_eq!(server.refresh(&refresh).await.0, 200);
    server.stop().await;
}

/// Sends raw bytes and returns the status line and the rest of the answer (empty if the server only closed).
async fn raw(server: &TestServer, request: Vec<u8>) -> (String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = server.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the test server");
    // The server may answer and close before it has read everything: a failed write is part of the answer.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    match answer.split_once("\r\n") {
        Some((status, rest)) => (status.to_owned(), rest.to_owned()),
        None => (answer, String::new()),
    }
}

#[tokio::test]
async fn headers_past_what_the_http_parser_takes_are_refused_with_431_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let before = db::dump(dir.path()).await;
    let huge = format!(
        "GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let headers = (0..200).fold(String::new(), |mut out, i| {
        let _ = write!(out, "X-Header-{i}: {i}\r\n");
        out
    });
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n");
    for (what, request) in [("a 1 MiB header", huge), ("200 headers", many)] {
        let (status, rest) = raw(&server, request.into_bytes()).await;
        assert!(
            status.starts_with("HTTP/1.1 431"),
            "{what}: {status} {rest}"
        );
    }
    // Not HTTP at all: 400 from the parser.
    let (status, _) = raw(&server, b"\x16\x03\x01\x02\x00garbage\r\n\r\n".to_vec()).await;
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    assert_eq!(db::dump(dir.path()).await, before);
    let (status, _) = raw(
        &server,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    server.stop().await;
}
