//! The token debugger: a page in the browser, the JOSE work in this process.
//!
//! The page (`assets/`, compiled into the binary) only draws; every decode, verification, review and signature goes
//! through the small JSON API here, which calls the same code as `waxseal decode`, `verify`, `lint`, `sign` and
//! `keygen`. So there is one engine, and no JOSE logic in JavaScript. The contract between page and API is in
//! `CONTRACT.md` beside this file.
//!
//! The API runs with the user's keys on the user's machine, so the one thing it must never do is answer another web
//! site the user happens to visit. [`guard`] checks every request (page and API): the `Host` must be one of this
//! listener's own names, which defeats DNS rebinding (a hostile name re-pointed at 127.0.0.1 still sends its own
//! name as `Host`); a request carrying `Origin` must carry exactly the page's origin; and a POST without `Origin`
//! must at least say `Sec-Fetch-Site: same-origin` (browsers send `Origin` on every POST fetch, so a POST without
//! either is not from the page). Nothing the user pastes is logged or kept after the response.

mod decode;
mod decrypt;
mod keys;
mod lint;
mod sign;
mod verify;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, LOCATION, ORIGIN, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const INDEX_HTML: &str = include_str!("assets/index.html");
const DEBUGGER_CSS: &str = include_str!("assets/debugger.css");
const DEBUGGER_JS: &str = include_str!("assets/debugger.js");
const DECRYPT_JS: &str = include_str!("assets/decrypt.js");
const TIMELINE_JS: &str = include_str!("assets/timeline.js");

/// The page's policy: its own script and style files only, no inline code, fetches to itself only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The largest request body: a 100 KB token with room to spare, and a JWK Set or PEM chain.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Where the debugger is served and whom it answers.
#[derive(Debug, Clone)]
pub struct Options {
    /// The path of the page, ending in `/`: `/` for `waxseal debugger`, `/debugger/` in `waxseal serve`.
    pub base: String,
    /// The origins the page may be loaded from (`http://127.0.0.1:7519`, …): a request's `Host` must be the
    /// authority of one of them, and its `Origin`, when sent, that very origin.
    pub origins: Vec<String>,
    /// When the listener is reachable beyond loopback (`--allow-remote`, `serve` on `0.0.0.0`): its port and scheme.
    /// Any IP literal with that port is then accepted as `Host`: DNS rebinding needs a name, and the machine's
    /// addresses are not known in advance.
    pub remote: Option<(u16, &'static str)>,
    /// The key the page starts with: the JWK Set URL of the server the debugger is mounted in.
    pub preselected_jwks: Option<String>,
}

impl Options {
    /// The origins of a listener on `port`: `127.0.0.1`, `localhost` and `[::1]`.
    pub fn loopback_origins(scheme: &str, port: u16) -> Vec<String> {
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|host| format!("{scheme}://{host}:{port}"))
            .collect()
    }
}

pub(crate) struct Shared {
    options: Options,
}

/// The debugger's routes under `options.base`, guarded. Merge it into any router; it sets no fallback.
pub fn router(options: Options) -> Router {
    let base = options.base.clone();
    let shared = Arc::new(Shared { options });
    let mut router = Router::new()
        .route(&base, get(index))
        .route(&format!("{base}assets/debugger.css"), get(css))
        .route(&format!("{base}assets/debugger.js"), get(js))
        .route(&format!("{base}assets/decrypt.js"), get(decrypt_js))
        .route(&format!("{base}assets/timeline.js"), get(timeline_js))
        .route(&format!("{base}api/config"), get(config))
        .route(&format!("{base}api/decode"), post(decode::handle))
        .route(&format!("{base}api/verify"), post(verify::handle))
        .route(&format!("{base}api/decrypt"), post(decrypt::handle))
        .route(&format!("{base}api/lint"), post(lint::handle))
        .route(&format!("{base}api/sign"), post(sign::sign))
        .route(&format!("{base}api/keygen"), post(sign::keygen));
    if let Some(bare) = base.strip_suffix('/').filter(|b| !b.is_empty()) {
        // The page loads `assets/…` relative to its own URL, which must therefore end in `/`.
        let to = base.clone();
        router = router.route(
            bare,
            get(move || async move {
                let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
                if let Ok(location) = HeaderValue::from_str(&to) {
                    response.headers_mut().insert(LOCATION, location);
                }
                response
            }),
        );
    }
    router
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .layer(axum::middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses any request that is not from the debugger's own page; see the module documentation.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match check(&shared.options, request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

fn check(options: &Options, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let first = options.origins.first().map_or("", String::as_str);
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let own: Vec<String> = options
        .origins
        .iter()
        .filter(|o| authority(o).eq_ignore_ascii_case(host))
        .cloned()
        .chain(remote_origin(options, host))
        .collect();
    if own.is_empty() {
        return Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "host_refused",
            format!(
                "Host {} is not this debugger's address; open {first}{} instead (a page reached under another \
                 name could be a DNS-rebinding attack)",
                quoted(host),
                options.base
            ),
        ));
    }
    let origin = headers.get(ORIGIN).map(|o| o.to_str().unwrap_or("?"));
    match origin {
        Some(origin) if own.iter().any(|o| o == origin) => Ok(()),
        Some(origin) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_refused",
            format!(
                "Origin {} is not this debugger's page ({}): only the debugger's own page may use its API",
                quoted(origin),
                own.first().map_or("", String::as_str)
            ),
        )),
        None if method == Method::POST => {
            let same = headers
                .get("sec-fetch-site")
                .is_some_and(|v| v.as_bytes() == b"same-origin");
            if same {
                Ok(())
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "origin_missing",
                    format!(
                        "a POST to the debugger's API must carry the page's Origin header ({}); a browser sends it, \
                         a script must add it",
                        own.first().map_or("", String::as_str)
                    ),
                ))
            }
        }
        None => Ok(()),
    }
}

/// `http://127.0.0.1:7519` → `127.0.0.1:7519`.
fn authority(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, rest)| rest)
}

/// The origin a remote listener's page has under `host`, when `host` is an IP literal with the listener's port.
fn remote_origin(options: &Options, host: &str) -> Option<String> {
    let (port, scheme) = options.remote?;
    let (ip, host_port) = host.rsplit_once(':')?;
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    (ip.parse::<IpAddr>().is_ok() && host_port.parse::<u16>().ok() == Some(port))
        .then(|| format!("{scheme}://{host}"))
}

/// Attacker-controlled text in a message: quoted, cut to 64 characters.
fn quoted(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!("{cut:?}{more}")
}

async fn index() -> Response {
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], INDEX_HTML).into_response()
}

/// Assets have fixed names, so they are cached for a day, not forever: a new version of the binary shows up the next
/// day at the latest (the page itself is never cached).
const ASSET_CACHE: &str = "public, max-age=86400";

async fn css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        DEBUGGER_CSS,
    )
        .into_response()
}

async fn js() -> Response {
    script(DEBUGGER_JS)
}

async fn decrypt_js() -> Response {
    script(DECRYPT_JS)
}

async fn timeline_js() -> Response {
    script(TIMELINE_JS)
}

fn script(source: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        source,
    )
        .into_response()
}

async fn config(State(shared): State<Arc<Shared>>) -> Response {
    let preselected = shared.options.preselected_jwks.as_ref().map_or(
        Value::Null,
        |url| json!({"format": "jwks_url", "value": url}),
    );
    json_response(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "preselected_key": preselected,
    }))
}

/// An API error: `{"error": {"code", "message"}}` with a 4xx status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = json_response(&body);
        *response.status_mut() = self.status;
        response
    }
}

/// A JSON response, never cached (it may hold claims or keys).
pub(crate) fn json_response(value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The request body as `T`: JSON, said to be JSON. Serde's message names the field at fault, never its value.
pub(crate) fn body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "send the request body as JSON with Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's messages quote at most a type or field name ("invalid type: string, expected …").
        let message = e.to_string();
        let cut: String = message.chars().take(200).collect();
        ApiError::bad_request(
            "bad_request",
            format!("the request body is not what this operation takes: {cut}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            base: "/".to_owned(),
            origins: Options::loopback_origins("http", 7519),
            remote: None,
            preselected_jwks: None,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                *name,
                HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("?")),
            );
        }
        map
    }

    #[test]
    fn the_guard_takes_only_the_page_itself() {
        let o = options();
        let ok = headers(&[
            ("host", "127.0.0.1:7519"),
            ("origin", "http://127.0.0.1:7519"),
        ]);
        assert!(check(&o, &Method::POST, &ok).is_ok());
        let ok = headers(&[
            ("host", "localhost:7519"),
            ("origin", "http://localhost:7519"),
        ]);
        assert!(check(&o, &Method::POST, &ok).is_ok());
        // The origin of another loopback name is another origin.
        let mixed = headers(&[
            ("host", "localhost:7519"),
            ("origin", "http://127.0.0.1:7519"),
        ]);
        assert!(check(&o, &Method::POST, &mixed).is_err());
        let rebinding = headers(&[("host", "evil.example:7519")]);
        assert!(check(&o, &Method::GET, &rebinding).is_err());
        let no_origin = headers(&[("host", "127.0.0.1:7519")]);
        assert!(check(&o, &Method::POST, &no_origin).is_err());
        assert!(check(&o, &Method::GET, &no_origin).is_ok());
        let fetch = headers(&[
            ("host", "127.0.0.1:7519"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check(&o, &Method::POST, &fetch).is_ok());
        let null = headers(&[("host", "127.0.0.1:7519"), ("origin", "null")]);
        assert!(check(&o, &Method::POST, &null).is_err());
    }

    #[test]
    fn a_remote_listener_takes_ip_literals_with_its_port_only() {
        let mut o = options();
        o.remote = Some((7519, "http"));
        let ip = headers(&[
            ("host", "192.0.2.7:7519"),
            ("origin", "http://192.0.2.7:7519"),
        ]);
        assert!(check(&o, &Method::POST, &ip).is_ok());
        let v6 = headers(&[("host", "[2001:db8::1]:7519")]);
        assert!(check(&o, &Method::GET, &v6).is_ok());
        let name = headers(&[("host", "evil.example:7519")]);
        assert!(check(&o, &Method::GET, &name).is_err());
        let port = headers(&[("host", "192.0.2.7:80")]);
        assert!(check(&o, &Method::GET, &port).is_err());
    }
}
