//! `GET /metrics` over real HTTP: exact counter values after a known sequence of requests, latency histograms
//! labelled by route template only, and one recorder per server.

mod common;

use common::{PASSWORD, TestClock, TestServer, basic, tokens};
use serde_json::json;
use waxseal_server::GrantType;

/// `GET /metrics`: the exposition text.
async fn scrape(server: &TestServer) -> String {
    let response = server
        .client
        .get(server.management_at("/metrics"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.text().await.expect("body")
}

/// The value of one series (`name{labels}` exactly as rendered), or `None` when it is not there.
fn series<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
}

/// The value of a counter or a histogram count, which are whole numbers.
fn value(text: &str, name: &str) -> u64 {
    let shown = series(text, name).unwrap_or_else(|| panic!("{name} not in\n{text}"));
    shown
        .parse()
        .unwrap_or_else(|_| panic!("{name} is {shown}, not a count"))
}

/// Requests observed for a route, method and status class.
fn requests(text: &str, route: &str, method: &str, status: &str) -> u64 {
    value(
        text,
        &format!(
            "waxseal_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        ),
    )
}

#[tokio::test]
async fn counters_count_exactly_what_the_flows_did() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("alice", &["read"]).await;
    server.add_user("mallory", &[]).await;
    server.add_user("victim", &[]).await;
    let (client_id, secret) = server
        .add_client(
            "app",
            &[
                GrantType::Password,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ],
            &["read"],
        )
        .await;
    let auth = basic(&client_id, &secret);

    // Logins: 2 ok, 1 wrong password; then failures for `mallory` until throttled, counting what we saw.
    let (access, refresh) = server.login_ok("alice").await;
    let (_, refresh_b) = server.login_ok("alice").await;
    assert_eq!(server.login("alice", "wrong").await.0, 401);
    let (mut failed, mut throttled) = (1_u64, 0_u64);
    for _ in 0..8 {
        match server.login("mallory", "wrong").await.0 {
            401 => failed += 1,
            429 => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(throttled > 0, "the account was throttled");

    // Refreshes: 1 ok; the consumed token again (reuse: failed, session revoked); garbage (failed).
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.refresh(&refresh).await.0, 401);
    assert_eq!(server.refresh("not-a-refresh-token").await.0, 401);

    // OAuth: a password grant, a refresh_token grant, a client_credentials grant, a revocation that revoked and
    // one of an unknown token (not counted).
    let token = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(token.status, 200, "{token:?}");
    let oauth_refresh = token.body["refresh_token"].as_str().unwrap().to_owned();
    let rotated = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &oauth_refresh),
            ],
        )
        .await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let cc = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(cc.status, 200, "{cc:?}");
    let revoked = server
        .oauth(
            "/oauth/revoke",
            Some(&auth),
            &[("token", rotated.body["refresh_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(revoked.status, 200);
    let unknown = server
        .oauth("/oauth/revoke", Some(&auth), &[("token", "unknown")])
        .await;
    assert_eq!(unknown.status, 200);

    // Logout of one session, logout of all, and an admin ending a user's sessions.
    let (status, body) = server.refresh(&refresh_b).await;
    assert_eq!(status, 200, "{body}");
    let (access_b, _) = tokens(&body);
    assert_eq!(server.logout(&access_b, None, false).await, 204);
    let (access_v, _) = server.login_ok("victim").await;
    assert_eq!(server.logout(&access_v, None, true).await, 204);
    server
        .service
        .set_user_disabled("victim", true)
        .await
        .unwrap();
    // `access` belongs to the session revoked by reuse detection.
    assert_eq!(server.get_with("/api/me", &access).await.0, 401);

    let text = scrape(&server).await;
    let logins_ok = 4; // alice twice, the password grant, victim
    assert_eq!(
        value(&text, "waxseal_logins_total{result=\"ok\"}"),
        logins_ok
    );
    assert_eq!(
        value(&text, "waxseal_logins_total{result=\"failed\"}"),
        failed
    );
    assert_eq!(
        value(&text, "waxseal_logins_total{result=\"throttled\"}"),
        throttled
    );
    assert_eq!(value(&text, "waxseal_refreshes_total{result=\"ok\"}"), 3);
    assert_eq!(
        value(&text, "waxseal_refreshes_total{result=\"failed\"}"),
        2
    );
    assert_eq!(value(&text, "waxseal_refresh_token_reuse_total"), 1);
    assert_eq!(value(&text, "waxseal_revocations_total{via=\"logout\"}"), 1);
    assert_eq!(
        value(&text, "waxseal_revocations_total{via=\"logout_all\"}"),
        1
    );
    assert_eq!(
        value(&text, "waxseal_revocations_total{via=\"oauth_revoke\"}"),
        1
    );
    assert_eq!(value(&text, "waxseal_revocations_total{via=\"admin\"}"), 1);
    for (grant, issued) in [
        ("login", 3),
        ("refresh", 2),
        ("password", 1),
        ("refresh_token", 1),
        ("client_credentials", 1),
    ] {
        let name = format!("waxseal_tokens_issued_total{{grant=\"{grant}\"}}");
        assert_eq!(value(&text, &name), issued, "{name}");
    }
    assert_eq!(
        value(&text, "waxseal_csrf_refusals_total{reason=\"origin\"}"),
        0
    );
    assert!(text.contains("# HELP waxseal_logins_total "), "{text}");
    assert!(
        text.contains("# TYPE waxseal_http_request_duration_seconds histogram"),
        "{text}"
    );

    // Latency: every request above, by route template, method and status class.
    assert_eq!(requests(&text, "/login", "POST", "2xx"), 3);
    assert_eq!(requests(&text, "/login", "POST", "4xx"), 1 + 8);
    assert_eq!(requests(&text, "/refresh", "POST", "2xx"), 2);
    assert_eq!(requests(&text, "/refresh", "POST", "4xx"), 2);
    assert_eq!(requests(&text, "/oauth/token", "POST", "2xx"), 3);
    assert_eq!(requests(&text, "/oauth/revoke", "POST", "2xx"), 2);
    assert_eq!(requests(&text, "/logout", "POST", "2xx"), 2);
    assert_eq!(requests(&text, "/api/me", "GET", "4xx"), 1);
    let bucket = "waxseal_http_request_duration_seconds_bucket{route=\"/login\",method=\"POST\",status=\"2xx\",le=\"+Inf\"}";
    assert_eq!(value(&text, bucket), 3);
    let sum = series(
        &text,
        "waxseal_http_request_duration_seconds_sum{route=\"/login\",method=\"POST\",status=\"2xx\"}",
    );
    let seconds: f64 = sum.and_then(|s| s.parse().ok()).expect("a latency sum");
    assert!(seconds > 0.0, "{seconds}");
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_never_become_label_values() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    for i in 0..5 {
        let path = format!("/no-such-path-{i}?token=secret-{i}");
        assert_eq!(
            server
                .client
                .get(server.at(&path))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            404
        );
    }
    let custom = reqwest::Method::from_bytes(b"BREW").unwrap();
    let response = server
        .client
        .request(custom, server.at("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let response = server
        .client
        .delete(server.at("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);

    let text = scrape(&server).await;
    assert_eq!(requests(&text, "unmatched", "GET", "4xx"), 5);
    assert_eq!(requests(&text, "/login", "OTHER", "4xx"), 1);
    assert_eq!(requests(&text, "/api/me", "DELETE", "4xx"), 1);
    assert!(
        !text.contains("no-such-path") && !text.contains("secret-") && !text.contains("BREW"),
        "{text}"
    );
    let series_count = text
        .lines()
        .filter(|l| l.starts_with("waxseal_http_request_duration_seconds_count"))
        .count();
    assert_eq!(
        series_count, 3,
        "one series per route, method and class seen:\n{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn each_server_counts_only_its_own_traffic() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::start(dir_a.path(), TestClock::new()).await;
    let b = TestServer::start(dir_b.path(), TestClock::new()).await;
    a.add_user("ann", &[]).await;
    a.login_ok("ann").await;
    let (status, _) = a
        .post("/login", &json!({"username": "ann", "password": "nope"}))
        .await;
    assert_eq!(status, 401);

    let text_a = scrape(&a).await;
    let text_b = scrape(&b).await;
    assert_eq!(value(&text_a, "waxseal_logins_total{result=\"ok\"}"), 1);
    assert_eq!(value(&text_a, "waxseal_logins_total{result=\"failed\"}"), 1);
    assert_eq!(
        value(&text_b, "waxseal_logins_total{result=\"ok\"}"),
        0,
        "{text_b}"
    );
    assert_eq!(value(&text_b, "waxseal_logins_total{result=\"failed\"}"), 0);
    assert_eq!(
        series(
            &text_b,
            "waxseal_http_request_duration_seconds_count{route=\"/login\",method=\"POST\",status=\"2xx\"}"
        ),
        None
    );
    // The first scrape of `a` is itself observed by the second.
    assert_eq!(requests(&scrape(&a).await, "/metrics", "GET", "2xx"), 1);
    a.stop().await;
    b.stop().await;
}

/// The value of a gauge, a whole number of entries.
fn gauge(text: &str, name: &str) -> u64 {
    value(text, name)
}

#[tokio::test]
async fn denylist_gauges_follow_revocations_and_fall_when_expired_entries_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    let jtis = "waxseal_denylist_entries{kind=\"jti\"}";
    let sids = "waxseal_denylist_entries{kind=\"sid\"}";
    let not_before = "waxseal_denylist_entries{kind=\"not_before\"}";
    let cached = "waxseal_verified_tokens_cached";
    let text = scrape(&server).await;
    for name in [jtis, sids, not_before, cached] {
        assert_eq!(gauge(&text, name), 0, "{name}");
    }
    assert!(
        text.contains("# TYPE waxseal_denylist_entries gauge"),
        "{text}"
    );

    // One logout denies its access token and its session; a logout of all sessions also sets a "not before".
    server.add_user("alice", &[]).await;
    server.add_user("bob", &[]).await;
    let (access, _) = server.login_ok("alice").await;
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    assert_eq!(server.logout(&access, None, false).await, 204);
    let (access_b, _) = server.login_ok("bob").await;
    assert_eq!(server.logout(&access_b, None, true).await, 204);
    let text = scrape(&server).await;
    assert_eq!(gauge(&text, jtis), 2);
    assert_eq!(gauge(&text, sids), 2);
    assert_eq!(gauge(&text, not_before), 1);
    assert!(gauge(&text, cached) >= 1, "{text}");

    // Fill the denylist to its first amortised prune with revoked client-credentials tokens, all still live.
    let (client_id, secret) = server
        .add_client("app", &[GrantType::ClientCredentials], &[])
        .await;
    let client = server
        .service
        .authenticate_client(&client_id, &secret)
        .await
        .unwrap();
    let revoke = async |n: u64| {
        for _ in 0..n {
            let token = server
                .service
                .client_credentials_grant(&client, None, None, None)
                .await
                .unwrap();
            server
                .service
                .revoke(&client, &token.access_token, None)
                .await
                .unwrap();
        }
    };
    revoke(1000).await;
    let text = scrape(&server).await;
    assert_eq!(gauge(&text, jtis), 1002);
    assert_eq!(gauge(&text, sids), 2);

    // Once every one of those tokens has expired (plus the leeway), the next revocation that reaches the
    // threshold prunes them: only what is still in force remains.
    clock.advance(server.service.config().access_token_ttl + std::time::Duration::from_secs(61));
    revoke(20).await;
    let text = scrape(&server).await;
    assert!(
        gauge(&text, jtis) <= 20,
        "expired denials were not pruned: {}",
        gauge(&text, jtis)
    );
    assert_eq!(gauge(&text, sids), 0);
    server.stop().await;
}
