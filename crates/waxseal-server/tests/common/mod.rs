//! Shared fixtures: a real server on a loopback port over a real SQLite file, a clock tests can move, a client.
#![allow(dead_code)]

pub mod agent;
pub mod db;

pub use waxseal_testkit::TestClock;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use waxseal_server::{AuthService, Config, Server};
use waxseal_testkit::postgres::TestDatabase;

pub const PASSWORD: &str = "correct horse battery staple";

/// Log output captured in memory: give a clone to `tracing_subscriber::fmt().with_writer(move || c.clone())`.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes).expect("logs are UTF-8")
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A running server and a client for it. `stop` shuts it down gracefully and closes the database.
pub struct TestServer {
    pub url: String,
    /// The management listener's URL (`/metrics`, `/healthz`, `/readyz` with details), on a loopback port of its own.
    pub management_url: String,
    pub client: reqwest::Client,
    pub service: Arc<AuthService>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<waxseal_server::Result<()>>,
}

pub async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind loopback")
}

/// Where a test server keeps its state: the SQLite file in a temporary data directory, or a fresh PostgreSQL
/// database (with the temporary directory still holding the master key). Dropped after the server stops.
pub struct Backing {
    pub dir: tempfile::TempDir,
    pub pg: Option<TestDatabase>,
}

impl Backing {
    pub fn sqlite() -> Backing {
        Backing {
            dir: tempfile::tempdir().expect("a temporary directory"),
            pg: None,
        }
    }

    /// `None` (the test skips, loudly) when PostgreSQL is unreachable and not required.
    pub async fn postgres() -> Option<Backing> {
        Some(Backing {
            pg: Some(TestDatabase::create().await?),
            ..Backing::sqlite()
        })
    }

    pub fn config(&self) -> Config {
        Config {
            database: match &self.pg {
                Some(db) => waxseal_server::Database::Postgres(db.url.clone()),
                None => waxseal_server::Database::Embedded,
            },
            ..config(self.dir.path())
        }
    }

    pub async fn start(&self, clock: Arc<TestClock>) -> TestServer {
        TestServer::start_with(self.config(), clock).await
    }
}

/// Generates, for each `async fn name(backing: Backing)` listed, a test `sqlite::name` and a test
/// `postgres::name` running it on that backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Backing::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(backing) = super::common::Backing::postgres().await else { return };
                    super::$name(backing).await;
                }
            )*
        }
    };
}

pub fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start(dir: &Path, clock: Arc<TestClock>) -> TestServer {
        Self::start_with(config(dir), clock).await
    }

    pub async fn start_with(config: Config, clock: Arc<TestClock>) -> TestServer {
        Self::start_on(bind().await, config, clock).await
    }

    /// A server whose issuer is its own URL, as `waxseal serve` sets it: discovery's URLs are then fetchable.
    pub async fn start_at_own_url(dir: &Path, clock: Arc<TestClock>) -> TestServer {
        Self::start_at_own_url_with(config(dir), clock).await
    }

    /// [`TestServer::start_at_own_url`] with `config` (its issuer replaced by the listener's URL).
    pub async fn start_at_own_url_with(config: Config, clock: Arc<TestClock>) -> TestServer {
        let listener = bind().await;
        let config = Config {
            issuer: format!("http://{}", listener.local_addr().expect("local addr")),
            ..config
        };
        Self::start_on(listener, config, clock).await
    }

    /// A server on `listener` with `config.tls` set, and `client` (which must trust its certificate) for it.
    pub async fn start_https(
        listener: tokio::net::TcpListener,
        config: Config,
        clock: Arc<TestClock>,
        client: reqwest::Client,
    ) -> TestServer {
        Self::start_on_with(listener, config, clock, "https", client).await
    }

    async fn start_on(
        listener: tokio::net::TcpListener,
        config: Config,
        clock: Arc<TestClock>,
    ) -> TestServer {
        Self::start_on_with(listener, config, clock, "http", reqwest::Client::new()).await
    }

    async fn start_on_with(
        listener: tokio::net::TcpListener,
        config: Config,
        clock: Arc<TestClock>,
        scheme: &str,
        client: reqwest::Client,
    ) -> TestServer {
        let server = Server::open_with_clock(config, clock)
            .await
            .expect("server opens");
        let service = server.service().clone();
        let url = format!("{scheme}://{}", listener.local_addr().expect("local addr"));
        let management = bind().await;
        let management_url = format!(
            "{scheme}://{}",
            management.local_addr().expect("local addr")
        );
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(server.with_management(management).serve(listener, async {
            let _ = rx.await;
        }));
        TestServer {
            url,
            management_url,
            client,
            service,
            shutdown: Some(tx),
            handle,
        }
    }

    /// Starts the graceful shutdown without waiting for it; [`TestServer::stop`] then waits for it to end.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        drop(self.service);
        self.handle.await.expect("server task").expect("server ran");
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `path` on the management listener.
    pub fn management_at(&self, path: &str) -> String {
        format!("{}{path}", self.management_url)
    }

    /// The body of a GET without credentials.
    pub async fn get_text(&self, path: &str) -> String {
        let response = self.client.get(self.at(path)).send().await.expect("GET");
        response.text().await.expect("the body")
    }

    /// The body of a GET on the management listener.
    pub async fn get_management_text(&self, path: &str) -> String {
        let response = self
            .client
            .get(self.management_at(path))
            .send()
            .await
            .expect("GET");
        response.text().await.expect("the body")
    }

    /// The Prometheus text of the management listener's `/metrics`.
    pub async fn metrics(&self) -> String {
        self.get_management_text("/metrics").await
    }

    pub async fn add_user(&self, name: &str, scopes: &[&str]) {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.service
            .add_user(name, PASSWORD, &scopes)
            .await
            .expect("user added");
    }

    /// Adds alice (`PASSWORD`, scope `read`) with an e-mail address and a name: the person of the sign-in tests.
    pub async fn add_alice_with_profile(&self) {
        let profile = waxseal_server::Profile {
            email: Some("alice@example.com".into()),
            name: Some("Alice Liddell".into()),
        };
        self.service
            .add_user_with_profile("alice", PASSWORD, &["read".into()], profile)
            .await
            .expect("alice added");
    }

    /// Registers a client of the code flow (and the refresh grant) with `scopes` and `web`'s browser registration.
    pub async fn add_web_client(
        &self,
        name: &str,
        scopes: &[&str],
        web: waxseal_server::WebClient,
    ) -> waxseal_server::NewClient {
        let permissions = waxseal_server::ClientPermissions {
            web,
            ..waxseal_server::ClientPermissions::default()
        };
        self.add_web_client_with(name, scopes, permissions).await
    }

    /// [`TestServer::add_web_client`] with all of what the client registers beyond its grants.
    pub async fn add_web_client_with(
        &self,
        name: &str,
        scopes: &[&str],
        permissions: waxseal_server::ClientPermissions,
    ) -> waxseal_server::NewClient {
        use waxseal_server::GrantType;
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let grants = [GrantType::AuthorizationCode, GrantType::RefreshToken];
        self.service
            .add_client_with_permissions(name, &grants, &scopes, permissions)
            .await
            .expect("client registered")
    }

    /// POST a JSON body; returns status and parsed body (Null when empty or not JSON).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.at(path))
            .json(body)
            .send()
            .await
            .expect("request sent");
        status_and_json(response).await
    }

    pub async fn login(&self, name: &str, password: &str) -> (u16, Value) {
        self.post("/login", &json!({"username": name, "password": password}))
            .await
    }

    /// Logs in and returns (access token, refresh token).
    pub async fn login_ok(&self, name: &str) -> (String, String) {
        let (status, body) = self.login(name, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        tokens(&body)
    }

    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.post("/refresh", &json!({"refresh_token": refresh_token}))
            .await
    }

    /// GET with a bearer token: status, WWW-Authenticate (if any), body.
    pub async fn get_with(&self, path: &str, token: &str) -> (u16, Option<String>, Value) {
        let response = self
            .client
            .get(self.at(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let (status, body) = status_and_json(response).await;
        (status, challenge, body)
    }

    pub async fn logout(&self, access_token: &str, body: Option<Value>, all: bool) -> u16 {
        let mut request = self
            .client
            .post(self.at(if all { "/logout?all=true" } else { "/logout" }))
            .bearer_auth(access_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .expect("request sent")
            .status()
            .as_u16()
    }
}

pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn tokens(body: &Value) -> (String, String) {
    (
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
    )
}

/// Asserts an RFC 6750 invalid_token rejection.
/// A `POST /refresh` answer refusing a refresh token presented a second time (reuse: the family is revoked).
pub fn assert_reuse_refused(status: u16, body: &Value) {
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("already used")),
        "{body}"
    );
}

pub fn assert_invalid_token(status: u16, challenge: Option<&str>, containing: &str) {
    assert_eq!(status, 401);
    let challenge = challenge.expect("WWW-Authenticate present");
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(challenge.contains("error_description=\""), "{challenge}");
    assert!(
        challenge.contains(containing),
        "{challenge} should mention {containing}"
    );
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B).
pub fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

pub fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `Authorization: Basic` with the RFC 6749 §2.3.1 form-encoding of id and secret.
pub fn basic(client_id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", form_encode(client_id), form_encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The answer of an `/oauth/*` endpoint.
#[derive(Debug)]
pub struct OAuthResponse {
    pub status: u16,
    pub body: Value,
    pub cache_control: Option<String>,
    pub pragma: Option<String>,
    pub challenge: Option<String>,
}

impl OAuthResponse {
    /// Asserts an RFC 6749 §5.2 error.
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["error"], error, "{self:?}");
        assert!(self.body["error_description"].is_string(), "{self:?}");
    }
}

impl TestServer {
    /// Registers a client; returns (client_id, client_secret).
    pub async fn add_client(
        &self,
        name: &str,
        grants: &[waxseal_server::GrantType],
        scopes: &[&str],
    ) -> (String, String) {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let client = self
            .service
            .add_client(name, grants, &scopes)
            .await
            .expect("client added");
        (client.client_id.clone(), client.client_secret.to_string())
    }

    /// POSTs a raw body with the given content type and optional Authorization header.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: String,
    ) -> OAuthResponse {
        let mut request = self.client.post(self.at(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.expect("request sent");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("ascii").to_owned())
        };
        let (cache_control, pragma, challenge) = (
            header("cache-control"),
            header("pragma"),
            header("www-authenticate"),
        );
        let (status, body) = status_and_json(response).await;
        OAuthResponse {
            status,
            body,
            cache_control,
            pragma,
            challenge,
        }
    }

    /// `POST /oauth/token` with the refresh_token grant, client_secret_basic, and any further parameters.
    pub async fn refresh_grant(
        &self,
        authorization: &str,
        refresh_token: &str,
        more: &[(&str, &str)],
    ) -> OAuthResponse {
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        params.extend_from_slice(more);
        self.oauth("/oauth/token", Some(authorization), &params)
            .await
    }

    /// POSTs a form to an `/oauth/*` endpoint.
    pub async fn oauth(
        &self,
        path: &str,
        authorization: Option<&str>,
        params: &[(&str, &str)],
    ) -> OAuthResponse {
        self.post_raw(
            path,
            Some("application/x-www-form-urlencoded"),
            authorization,
            form(params),
        )
        .await
    }
}
