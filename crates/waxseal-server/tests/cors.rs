//! CORS for browser clients, over real HTTP: the token, userinfo and revoke endpoints answer a page only when its
//! origin is registered by the client the answer is for (`--web-origin`, or a public client's redirect URIs'
//! origins); discovery and the JWKS are readable from anywhere; the sign-in pages, `/authorize`, `/login` and
//! `/refresh` never carry a CORS header. Each case with a registered origin, an unregistered one, `null` and a
//! look-alike. The whole flow in a real browser is in `browser.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{PASSWORD, TestClock, TestServer, basic, form};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use waxseal_server::{ClientPermissions, GrantType, WebClient};

/// The single-page app's origin, registered with `--web-origin`.
const APP: &str = "https://app.example.com";
/// The origin of another client (a public one, by its redirect URI).
const OTHER: &str = "https://other.example.com";
/// Origins nobody registered, among them what a careless comparison would let through.
const STRANGERS: [&str; 6] = [
    "https://app.example.com.evil.test",
    "https://evil.test",
    "null",
    "https://APP.example.com",
    "http://app.example.com",
    "https://app.example.com:8443",
];

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn allowed_origin(&self) -> Option<&str> {
        self.header("access-control-allow-origin")
    }

    /// No CORS header at all.
    fn assert_no_cors(&self, origin: &str) {
        for (name, _) in &self.headers {
            assert!(
                !name.as_str().starts_with("access-control-"),
                "{origin}: {name} on {} {:?}",
                self.status,
                self.headers
            );
        }
    }

    /// `Vary: Origin`, and never credentials.
    fn assert_varies_without_credentials(&self) {
        let vary: Vec<&str> = self
            .headers
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(
            vary.iter().any(|v| v
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("origin"))),
            "{vary:?}"
        );
        assert_eq!(self.header("access-control-allow-credentials"), None);
    }
}

/// A server with alice, the app's confidential client (its web origin registered; the password grant gives the
/// tests tokens without a browser) and another client, public, whose origin is its redirect URI's.
struct Setup {
    server: TestServer,
    app_id: String,
    app_secret: String,
    other_id: String,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start_at_own_url(dir.path(), TestClock::new()).await;
        // The password grant gives the intersection of the user's and the client's scopes.
        let profile = waxseal_server::Profile {
            email: None,
            name: Some("Alice".into()),
        };
        let openid: Vec<String> = ["openid", "profile", "read"].map(String::from).into();
        server
            .service
            .add_user_with_profile("alice", PASSWORD, &openid, profile)
            .await
            .unwrap();
        let scopes: Vec<String> = ["openid", "profile", "read"].map(String::from).into();
        let app = server
            .service
            .add_client_with_permissions(
                "Single Page App",
                &[
                    GrantType::AuthorizationCode,
                    GrantType::Password,
                    GrantType::RefreshToken,
                ],
                &scopes,
                ClientPermissions {
                    web: WebClient {
                        redirect_uris: vec![format!("{APP}/callback")],
                        web_origins: vec![APP.into()],
                        ..WebClient::default()
                    },
                    ..ClientPermissions::default()
                },
            )
            .await
            .unwrap();
        let other = server
            .add_web_client(
                "Other App",
                &["openid"],
                WebClient {
                    redirect_uris: vec![format!("{OTHER}/callback")],
                    public: true,
                    ..WebClient::default()
                },
            )
            .await;
        Setup {
            server,
            app_id: app.client_id.clone(),
            app_secret: app.client_secret.to_string(),
            other_id: other.client_id,
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let mut request = self.server.client.request(method, self.server.at(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// The app's password grant, from a page on `origin` (none: not from a browser).
    async fn token(&self, origin: Option<&str>) -> Answer {
        let authorization = basic(&self.app_id, &self.app_secret);
        let mut headers = vec![("authorization", authorization.as_str())];
        headers.extend(origin.map(|o| ("origin", o)));
        let body = form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
            ("scope", "openid profile"),
        ]);
        self.send(Method::POST, "/oauth/token", &headers, Some(body))
            .await
    }

    async fn preflight(&self, path: &str, origin: &str, method: &str) -> Answer {
        self.send(
            Method::OPTIONS,
            path,
            &[
                ("origin", origin),
                ("access-control-request-method", method),
                ("access-control-request-headers", "authorization,dpop"),
            ],
            None,
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_answers_are_readable_only_by_the_origins_of_the_client_they_are_for() {
    let s = Setup::start().await;
    let granted = s.token(Some(APP)).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    assert_eq!(granted.allowed_origin(), Some(APP));
    granted.assert_varies_without_credentials();
    let exposed = granted.header("access-control-expose-headers").unwrap();
    for header in ["WWW-Authenticate", "DPoP-Nonce"] {
        assert!(exposed.contains(header), "{exposed}");
    }

    // Another client's registered origin: the tokens are issued (nothing checks where a confidential client's
    // request comes from), but that page may not read them.
    let elsewhere = s.token(Some(OTHER)).await;
    assert_eq!(elsewhere.status, 200);
    assert_eq!(elsewhere.allowed_origin(), None);
    elsewhere.assert_varies_without_credentials();
    for stranger in STRANGERS {
        let answer = s.token(Some(stranger)).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.allowed_origin(), None, "{stranger}");
    }
    // Not from a browser: no CORS header, and still Vary, for caches between.
    let direct = s.token(None).await;
    assert_eq!(direct.status, 200);
    assert_eq!(direct.allowed_origin(), None);
    direct.assert_varies_without_credentials();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_readable_by_the_clients_origins_or_before_a_client_is_known_by_any_registered_origin()
 {
    let s = Setup::start().await;
    // A public client's bad code: the client is known, so only its own origin reads the refusal.
    let bad_code = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &s.other_id),
        ("code", "not-a-code"),
        ("code_verifier", &"v".repeat(43)),
        ("redirect_uri", &format!("{OTHER}/callback")),
    ]);
    let own = s
        .send(
            Method::POST,
            "/oauth/token",
            &[("origin", OTHER)],
            Some(bad_code.clone()),
        )
        .await;
    assert_eq!(own.body["error"], "invalid_grant", "{}", own.body);
    assert_eq!(own.allowed_origin(), Some(OTHER));
    let app = s
        .send(
            Method::POST,
            "/oauth/token",
            &[("origin", APP)],
            Some(bad_code),
        )
        .await;
    assert_eq!(app.body["error"], "invalid_grant");
    assert_eq!(app.allowed_origin(), None, "another client's origin");

    // No client identified (an unknown one): a registered origin may read why, a stranger may not.
    let unknown = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", "nobody"),
        ("code", "x"),
    ]);
    for origin in [APP, OTHER] {
        let answer = s
            .send(
                Method::POST,
                "/oauth/token",
                &[("origin", origin)],
                Some(unknown.clone()),
            )
            .await;
        assert_eq!(answer.body["error"], "invalid_client", "{}", answer.body);
        assert_eq!(answer.allowed_origin(), Some(origin));
        answer.assert_varies_without_credentials();
    }
    for stranger in STRANGERS {
        let answer = s
            .send(
                Method::POST,
                "/oauth/token",
                &[("origin", stranger)],
                Some(unknown.clone()),
            )
            .await;
        assert_eq!(answer.body["error"], "invalid_client");
        assert_eq!(answer.allowed_origin(), None, "{stranger}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_is_readable_by_the_origins_of_the_tokens_client() {
    let s = Setup::start().await;
    let tokens = s.token(None).await.body;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let userinfo = |origin: &'static str, authorization: String| {
        let s = &s;
        async move {
            s.send(
                Method::GET,
                "/userinfo",
                &[("origin", origin), ("authorization", &authorization)],
                None,
            )
            .await
        }
    };
    let read = userinfo(APP, bearer.clone()).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["preferred_username"], "alice");
    assert_eq!(read.allowed_origin(), Some(APP));
    read.assert_varies_without_credentials();
    let other = userinfo(OTHER, bearer.clone()).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.allowed_origin(), None);
    for stranger in STRANGERS {
        assert_eq!(
            userinfo(stranger, bearer.clone()).await.allowed_origin(),
            None,
            "{stranger}"
        );
    }
    // A refused token: the app can read the challenge (and so knows to refresh), a stranger cannot.
    let refused = userinfo(APP, "Bearer not.a.token".into()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.allowed_origin(), Some(APP));
    assert!(refused.header("www-authenticate").is_some());
    assert!(
        refused
            .header("access-control-expose-headers")
            .unwrap()
            .contains("WWW-Authenticate")
    );
    assert_eq!(
        userinfo("https://evil.test", "Bearer not.a.token".into())
            .await
            .allowed_origin(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_is_readable_by_the_clients_origins_only() {
    let s = Setup::start().await;
    let revoke = |origin: &'static str| {
        let s = &s;
        async move {
            let refresh = s.token(None).await.body["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let authorization = basic(&s.app_id, &s.app_secret);
            s.send(
                Method::POST,
                "/oauth/revoke",
                &[("origin", origin), ("authorization", &authorization)],
                Some(form(&[("token", &refresh)])),
            )
            .await
        }
    };
    let own = revoke(APP).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.allowed_origin(), Some(APP));
    own.assert_varies_without_credentials();
    assert_eq!(revoke(OTHER).await.allowed_origin(), None);
    assert_eq!(revoke("null").await.allowed_origin(), None);
    assert_eq!(
        revoke("https://app.example.com.evil.test")
            .await
            .allowed_origin(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_granted_to_registered_origins_only() {
    let s = Setup::start().await;
    for (path, method, methods) in [
        ("/oauth/token", "POST", "POST"),
        ("/oauth/revoke", "POST", "POST"),
        ("/userinfo", "GET", "GET, POST"),
    ] {
        // The app's registered origin, and the public client's by its redirect URI: a preflight names no client.
        for origin in [APP, OTHER] {
            let granted = s.preflight(path, origin, method).await;
            assert_eq!(granted.status, 204, "{path} {origin}: {}", granted.body);
            assert_eq!(granted.allowed_origin(), Some(origin));
            assert_eq!(
                granted.header("access-control-allow-methods"),
                Some(methods)
            );
            let headers = granted.header("access-control-allow-headers").unwrap();
            for header in ["Authorization", "Content-Type", "DPoP"] {
                assert!(headers.contains(header), "{headers}");
            }
            assert_eq!(granted.header("access-control-max-age"), Some("600"));
            granted.assert_varies_without_credentials();
        }
        for stranger in STRANGERS {
            let refused = s.preflight(path, stranger, method).await;
            assert_eq!(refused.status, 403, "{path} {stranger}");
            assert_eq!(refused.allowed_origin(), None);
            assert!(
                refused.body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("--web-origin"),
                "{}",
                refused.body
            );
            assert!(
                !refused.body.to_string().contains(stranger),
                "never an echo of the request: {}",
                refused.body
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_the_jwks_are_readable_from_any_origin() {
    let s = Setup::start().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ] {
        for origin in ["https://anyone.example", "null", APP] {
            let answer = s.send(Method::GET, path, &[("origin", origin)], None).await;
            assert_eq!(answer.status, 200, "{path}");
            assert_eq!(answer.allowed_origin(), Some("*"), "{path} {origin}");
            assert_eq!(answer.header("access-control-allow-credentials"), None);
            let preflight = s.preflight(path, origin, "GET").await;
            assert_eq!(preflight.status, 204, "{path}");
            assert_eq!(preflight.allowed_origin(), Some("*"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_pages_authorize_login_and_refresh_stay_same_origin() {
    let s = Setup::start().await;
    for (method, path) in [
        (Method::GET, "/authorize"),
        (Method::POST, "/authorize"),
        (Method::POST, "/signin"),
        (Method::POST, "/consent"),
        (Method::GET, "/account"),
        (Method::POST, "/login"),
        (Method::POST, "/refresh"),
        (Method::POST, "/logout"),
        (Method::POST, "/oauth/introspect"),
        (Method::POST, "/register"),
        (Method::GET, "/api/me"),
    ] {
        let answer = s
            .send(
                method.clone(),
                path,
                &[("origin", APP)],
                Some(String::new()),
            )
            .await;
        answer.assert_no_cors(APP);
        let preflight = s.preflight(path, APP, method.as_str()).await;
        assert_eq!(
            preflight.status, 405,
            "{path}: a preflight finds no OPTIONS there"
        );
        preflight.assert_no_cors(APP);
    }
}
