//! Cookie mode over real HTTP: the refresh token travels only in an `HttpOnly; Secure; SameSite=Strict` cookie,
//! `POST /refresh` needs the session's CSRF token in `X-CSRF-Token` and refuses foreign origins before consuming
//! anything, reuse detection still revokes the session, logout clears the cookie, and with cookie mode off cookies
//! are ignored.

mod common;

use common::{PASSWORD, TestClock, TestServer, config, tokens};
use serde_json::{Value, json};
use waxseal_server::Config;

const COOKIE: &str = "__Secure-waxseal-refresh";

async fn cookie_server(dir: &std::path::Path) -> TestServer {
    TestServer::start_with(
        Config {
            refresh_cookie: true,
            ..config(dir)
        },
        TestClock::new(),
    )
    .await
}

/// What a login or refresh answered.
#[derive(Debug)]
struct Reply {
    status: u16,
    set_cookie: Option<String>,
    cache_control: Option<String>,
    body: Value,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Reply {
        let header = |name: &str| {
            let mut values = response.headers().get_all(name).iter();
            let first = values.next().map(|v| v.to_str().expect("ascii").to_owned());
            assert!(values.next().is_none(), "one {name} header");
            first
        };
        let (set_cookie, cache_control) = (header("set-cookie"), header("cache-control"));
        let (status, body) = common::status_and_json(response).await;
        Reply {
            status,
            set_cookie,
            cache_control,
            body,
        }
    }

    /// The refresh token the `Set-Cookie` header carries.
    fn cookie(&self) -> String {
        let header = self
            .set_cookie
            .as_deref()
            .unwrap_or_else(|| panic!("no Set-Cookie: {self:?}"));
        let value = header.split(';').next().expect("a name=value pair");
        value
            .strip_prefix(&format!("{COOKIE}="))
            .expect("the refresh cookie")
            .to_owned()
    }

    fn csrf(&self) -> String {
        self.body["csrf_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no csrf_token: {self:?}"))
            .to_owned()
    }
}

async fn login(server: &TestServer, name: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = server
        .client
        .post(server.at("/login"))
        .json(&json!({"username": name, "password": PASSWORD}));
    for (header, value) in headers {
        request = request.header(*header, *value);
    }
    Reply::from(request.send().await.expect("request sent")).await
}

/// `POST /refresh` with the cookie and the CSRF header when given, and extra headers.
async fn refresh(
    server: &TestServer,
    cookie: Option<&str>,
    csrf: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = server.client.post(server.at("/refresh"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("theme=dark; {COOKIE}={cookie}"));
    }
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    for (header, value) in headers {
        request = request.header(*header, *value);
    }
    Reply::from(request.send().await.expect("request sent")).await
}

fn assert_csrf_rejected(reply: &Reply) {
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(reply.body["error"], "csrf_rejected", "{reply:?}");
    assert_eq!(
        reply.set_cookie, None,
        "a refused request changes no cookie"
    );
}

#[tokio::test]
async fn login_sets_the_refresh_cookie_and_keeps_it_out_of_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let reply = login(&server, "ada", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let token = reply.cookie();
    assert_eq!(token.len(), 43);
    assert_eq!(
        reply.set_cookie.as_deref(),
        Some(
            format!(
                "{COOKIE}={token}; Path=/refresh; Max-Age=604800; HttpOnly; Secure; SameSite=Strict"
            )
            .as_str()
        )
    );
    assert_eq!(reply.cache_control.as_deref(), Some("no-store"));
    let members: Vec<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        [
            "access_token",
            "token_type",
            "expires_in",
            "refresh_expires_in",
            "csrf_token"
        ]
    );
    assert!(
        !reply.body.to_string().contains(&token),
        "the refresh token is not in the body"
    );
    assert_eq!(reply.body["refresh_expires_in"], 604_800);
    assert_eq!(reply.csrf().len(), 43);
    let (status, _, _) = server
        .get_with("/api/me", reply.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn refresh_by_cookie_rotates_the_cookie_and_keeps_the_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let first = login(&server, "ada", &[]).await;
    let (cookie, csrf) = (first.cookie(), first.csrf());

    let second = refresh(&server, Some(&cookie), Some(&csrf), &[]).await;
    assert_eq!(second.status, 200, "{second:?}");
    let rotated = second.cookie();
    assert_ne!(rotated, cookie, "the cookie is rotated");
    assert_eq!(second.csrf(), csrf, "the CSRF token is the session's");
    assert!(second.body.get("refresh_token").is_none());
    assert!(
        second
            .set_cookie
            .as_deref()
            .unwrap()
            .ends_with("; Path=/refresh; Max-Age=604800; HttpOnly; Secure; SameSite=Strict")
    );
    assert_eq!(second.cache_control.as_deref(), Some("no-store"));

    // The same Origin as the issuer is fine (browsers send it on every POST).
    let third = refresh(
        &server,
        Some(&rotated),
        Some(&csrf),
        &[("origin", "http://127.0.0.1:8080")],
    )
    .await;
    assert_eq!(third.status, 200, "{third:?}");
    // Another session's CSRF token does not fit this one.
    let other = login(&server, "ada", &[]).await;
    assert_ne!(other.csrf(), csrf);
    assert_csrf_rejected(&refresh(&server, Some(&third.cookie()), Some(&other.csrf()), &[]).await);
    server.stop().await;
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_header_is_403_and_the_token_is_not_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let issued = login(&server, "ada", &[]).await;
    let (cookie, csrf) = (issued.cookie(), issued.csrf());
    let mut forged = csrf.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();

    let missing = refresh(&server, Some(&cookie), None, &[]).await;
    assert_csrf_rejected(&missing);
    assert!(
        missing.body["error_description"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    for wrong in [
        forged.as_str(),
        "",
        "short",
        &"A".repeat(43),
        &format!("{csrf}="),
    ] {
        assert_csrf_rejected(&refresh(&server, Some(&cookie), Some(wrong), &[]).await);
    }
    // Nothing was consumed: the token still refreshes, once.
    let reply = refresh(&server, Some(&cookie), Some(&csrf), &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let metrics = server
        .client
        .get(server.management_at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("waxseal_csrf_refusals_total{reason=\"csrf_token\"} 6\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("waxseal_refreshes_total{result=\"failed\"} 0\n"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_foreign_origin_is_403_before_anything_happens() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let issued = login(&server, "ada", &[]).await;
    let (cookie, csrf) = (issued.cookie(), issued.csrf());
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1:8081",
        "https://127.0.0.1:8080",
    ] {
        let reply = refresh(&server, Some(&cookie), Some(&csrf), &[("origin", origin)]).await;
        assert_csrf_rejected(&reply);
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains("Origin"),
            "{reply:?}"
        );
        assert_csrf_rejected(&login(&server, "ada", &[("origin", origin)]).await);
    }
    let access = issued.body["access_token"].as_str().unwrap().to_owned();
    let logout = server
        .client
        .post(server.at("/logout"))
        .bearer_auth(&access)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status().as_u16(), 403);
    assert_eq!(
        server.get_with("/api/me", &access).await.0,
        200,
        "the session was not ended"
    );
    // The token was not consumed.
    assert_eq!(
        refresh(&server, Some(&cookie), Some(&csrf), &[])
            .await
            .status,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn reuse_detection_still_revokes_the_session_in_cookie_mode() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let issued = login(&server, "ada", &[]).await;
    let (stolen, csrf) = (issued.cookie(), issued.csrf());
    let legit = refresh(&server, Some(&stolen), Some(&csrf), &[]).await;
    assert_eq!(legit.status, 200);
    let access = legit.body["access_token"].as_str().unwrap().to_owned();

    let replay = refresh(&server, Some(&stolen), Some(&csrf), &[]).await;
    assert_eq!(replay.status, 401, "{replay:?}");
    assert_eq!(replay.body["error"], "invalid_grant");
    assert!(
        replay.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{replay:?}"
    );
    assert_eq!(
        replay.set_cookie.as_deref(),
        Some(
            "__Secure-waxseal-refresh=; Path=/refresh; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
        ),
        "a dead cookie is cleared"
    );
    // The whole session is gone: the legitimate successor and its access token too.
    let after = refresh(&server, Some(&legit.cookie()), Some(&csrf), &[]).await;
    assert_eq!(after.status, 401, "{after:?}");
    assert_eq!(server.get_with("/api/me", &access).await.0, 401);
    server.stop().await;
}

#[tokio::test]
async fn logout_clears_the_cookie_and_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let issued = login(&server, "ada", &[]).await;
    let response = server
        .client
        .post(server.at("/logout"))
        .bearer_auth(issued.body["access_token"].as_str().unwrap())
        .header("origin", "http://127.0.0.1:8080")
        .send()
        .await
        .unwrap();
    let reply = Reply::from(response).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(
        reply.set_cookie.as_deref(),
        Some(
            "__Secure-waxseal-refresh=; Path=/refresh; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
        )
    );
    let after = refresh(&server, Some(&issued.cookie()), Some(&issued.csrf()), &[]).await;
    assert_eq!(after.status, 401, "{after:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_refresh_without_cookie_or_with_a_body_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let issued = login(&server, "ada", &[]).await;

    let none = refresh(&server, None, Some(&issued.csrf()), &[]).await;
    assert_eq!(none.status, 401, "{none:?}");
    assert!(
        none.body["error_description"]
            .as_str()
            .unwrap()
            .contains("no refresh cookie")
    );
    let unknown = refresh(&server, Some(&"A".repeat(43)), Some(&issued.csrf()), &[]).await;
    assert_eq!(
        (unknown.status, &unknown.body["error"]),
        (401, &json!("invalid_grant"))
    );
    // The body way of body mode is refused, not silently ignored.
    let (status, body) = server.refresh(&issued.cookie()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("cookie mode"),
        "{body}"
    );
    assert_eq!(
        refresh(&server, Some(&issued.cookie()), Some(&issued.csrf()), &[])
            .await
            .status,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn the_csrf_token_survives_a_restart_and_the_cookie_path_follows_the_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        refresh_cookie: true,
        issuer: "http://localhost:8080/auth/".into(),
        ..config(dir.path())
    };
    let server = TestServer::start_with(config.clone(), TestClock::new()).await;
    server.add_user("ada", &[]).await;
    let issued = login(&server, "ada", &[]).await;
    assert!(
        issued
            .set_cookie
            .as_deref()
            .unwrap()
            .contains("; Path=/auth/refresh; "),
        "{issued:?}"
    );
    server.stop().await;

    let server = TestServer::start_with(config, TestClock::new()).await;
    let reply = refresh(
        &server,
        Some(&issued.cookie()),
        Some(&issued.csrf()),
        &[("origin", "http://localhost:8080")],
    )
    .await;
    assert_eq!(
        reply.status, 200,
        "the CSRF key comes from the master key, not the process: {reply:?}"
    );
    assert_eq!(reply.csrf(), issued.csrf());
    server.stop().await;
}

#[tokio::test]
async fn with_cookie_mode_off_cookies_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("ada", &[]).await;
    let reply = login(&server, "ada", &[("origin", "https://evil.example")]).await;
    assert_eq!(
        reply.status, 200,
        "no Origin check without cookie mode: {reply:?}"
    );
    assert_eq!(reply.set_cookie, None);
    assert!(reply.body.get("csrf_token").is_none());
    let (_, token) = tokens(&reply.body);

    // A cookie alone is not a refresh request, and next to a body it is not read.
    let cookie_only = refresh(&server, Some(&token), Some("x"), &[]).await;
    assert_eq!(cookie_only.status, 415, "{cookie_only:?}");
    let response = server
        .client
        .post(server.at("/refresh"))
        .header("cookie", format!("{COOKIE}={token}"))
        .json(&json!({"refresh_token": "A".repeat(43)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let (status, body) = server.refresh(&token).await;
    assert_eq!(status, 200, "the cookie's token was never used: {body}");
    assert!(body.get("refresh_token").is_some());
    server.stop().await;
}

/// `waxseal_store_operations_total` by operation, without what the server does in the background on its own
/// schedule (denylist and key reloads, pruning), which may run at any moment of a test.
async fn request_operations(server: &TestServer) -> std::collections::BTreeMap<String, u64> {
    let text = server
        .client
        .get(server.management_at("/metrics"))
        .send()
        .await
        .expect("request sent")
        .text()
        .await
        .expect("a body");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("waxseal_store_operations_total{operation=\"")?;
            let (operation, value) = rest.split_once("\"} ")?;
            Some((operation.to_owned(), value.parse().expect("a count")))
        })
        .filter(|(operation, _)| {
            !matches!(operation.as_str(), "load_denylist" | "keys" | "delete_key")
                && !operation.starts_with("prune")
        })
        .collect()
}

/// What happened between two readings of [`request_operations`].
fn operations_between(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> Vec<(String, u64)> {
    after
        .iter()
        .map(|(operation, n)| {
            (
                operation.clone(),
                n - before.get(operation).copied().unwrap_or(0),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The cookie-mode refresh looks its session up once for both the CSRF check and the rotation: three store
/// operations (the session, its user, the rotation), as a refresh by body costs. A wrong CSRF token costs the one
/// lookup and consumes nothing.
#[tokio::test]
async fn a_cookie_refresh_makes_three_store_operations() {
    let dir = tempfile::tempdir().unwrap();
    let server = cookie_server(dir.path()).await;
    server.add_user("ada", &[]).await;
    let first = login(&server, "ada", &[]).await;
    let (cookie, csrf) = (first.cookie(), first.csrf());
    let other = login(&server, "ada", &[]).await;

    let before = request_operations(&server).await;
    assert_csrf_rejected(&refresh(&server, Some(&cookie), Some(&other.csrf()), &[]).await);
    let refused = request_operations(&server).await;
    assert_eq!(
        operations_between(&before, &refused),
        [("family_of_token".to_owned(), 1)]
    );

    let second = refresh(&server, Some(&cookie), Some(&csrf), &[]).await;
    assert_eq!(
        second.status, 200,
        "the refused request consumed nothing: {second:?}"
    );
    let after = request_operations(&server).await;
    assert_eq!(
        operations_between(&refused, &after),
        [
            ("family_of_token".to_owned(), 1),
            ("rotate_refresh_token_with_reuse".to_owned(), 1),
            ("user_by_id".to_owned(), 1),
        ]
    );
    server.stop().await;
}
