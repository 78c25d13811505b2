//! Login throttling over real HTTP: a few free failures per account and per client address, then a doubling wait
//! answered with 429 and `Retry-After`; the injected clock moves time, nothing sleeps.

mod common;

use std::time::Duration;

use common::{PASSWORD, TestClock, TestServer, basic, status_and_json};
use serde_json::{Value, json};
use waxseal_server::{ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, GrantType};

/// `POST /login`: (status, Retry-After, body).
async fn attempt(server: &TestServer, name: &str, password: &str) -> (u16, Option<u64>, Value) {
    attempt_with(server, name, password, &[]).await
}

async fn attempt_with(
    server: &TestServer,
    name: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<u64>, Value) {
    let mut request = server
        .client
        .post(server.at("/login"))
        .json(&json!({"username": name, "password": password}));
    for (header, value) in headers {
        request = request.header(*header, *value);
    }
    let response = request.send().await.expect("request sent");
    let retry_after = response.headers().get("retry-after").map(|v| {
        v.to_str()
            .expect("ascii")
            .parse()
            .expect("Retry-After in seconds")
    });
    let (status, body) = status_and_json(response).await;
    (status, retry_after, body)
}

/// The statuses and Retry-After values of the throttling sequence for `name`.
async fn sequence(server: &TestServer, clock: &TestClock, name: &str) -> Vec<(u16, Option<u64>)> {
    let mut seen = Vec::new();
    for _ in 0..=ACCOUNT_FREE_FAILURES {
        let (status, retry, _) = attempt(server, name, "a wrong password").await;
        seen.push((status, retry));
    }
    // Throttled: even the right password is not checked, so the answer tells nothing.
    let (status, retry, body) = attempt(server, name, PASSWORD).await;
    if status == 429 {
        assert_eq!(body["error"], "too_many_requests", "{body}");
    }
    seen.push((status, retry));
    clock.advance(Duration::from_secs(1));
    seen.push({
        let (status, retry, _) = attempt(server, name, "a wrong password").await;
        (status, retry)
    });
    seen.push({
        let (status, retry, _) = attempt(server, name, "a wrong password").await;
        (status, retry)
    });
    clock.advance(Duration::from_secs(1));
    seen.push({
        let (status, retry, _) = attempt(server, name, "a wrong password").await;
        (status, retry)
    });
    seen
}

#[tokio::test]
async fn failures_back_off_exponentially_with_retry_after_and_success_resets_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;

    let seen = sequence(&server, &clock, "alice").await;
    let free = usize::try_from(ACCOUNT_FREE_FAILURES).unwrap() + 1;
    assert!(seen[..free].iter().all(|s| *s == (401, None)), "{seen:?}");
    assert_eq!(
        seen[free..],
        [(429, Some(1)), (401, None), (429, Some(2)), (429, Some(1))],
        "the wait doubles after each further failure"
    );

    clock.advance(Duration::from_secs(1));
    assert_eq!(attempt(&server, "alice", PASSWORD).await.0, 200);
    // The success started the account afresh: the free failures are there again.
    for _ in 0..=ACCOUNT_FREE_FAILURES {
        assert_eq!(attempt(&server, "alice", "a wrong password").await.0, 401);
    }
    assert_eq!(attempt(&server, "alice", PASSWORD).await.1, Some(1));

    // The cap: however many failures, never more than 15 minutes.
    for _ in 0..20 {
        clock.advance(Duration::from_secs(15 * 60));
        assert_eq!(attempt(&server, "alice", "a wrong password").await.0, 401);
    }
    assert_eq!(
        attempt(&server, "alice", PASSWORD).await.1,
        Some(15 * 60),
        "capped"
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_usernames_are_throttled_like_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let known = sequence(&server, &clock, "alice").await;
    let unknown = sequence(&server, &clock, "nobody").await;
    assert_eq!(known, unknown);
    server.stop().await;
}

#[tokio::test]
async fn one_address_is_throttled_across_accounts_and_forwarded_for_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    // One failure per name: no account is throttled, the address is.
    for i in 0..=ADDRESS_FREE_FAILURES {
        let (status, _, _) = attempt(&server, &format!("guess{i}"), "a wrong password").await;
        assert_eq!(status, 401, "failure {i} is free");
    }
    let (status, retry, _) = attempt_with(
        &server,
        "alice",
        PASSWORD,
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-real-ip", "203.0.113.7"),
        ],
    )
    .await;
    assert_eq!(
        (status, retry),
        (429, Some(1)),
        "the TCP peer is the address"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(attempt(&server, "alice", PASSWORD).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn the_oauth_password_grant_is_throttled_too() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let (id, secret) = server.add_client("app", &[GrantType::Password], &[]).await;
    let auth = basic(&id, &secret);
    let grant = |password: &'static str| {
        let auth = auth.clone();
        let server = &server;
        async move {
            let mut request = server
                .client
                .post(server.at("/oauth/token"))
                .header("authorization", auth)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(common::form(&[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", password),
                ]));
            request = request.header("accept", "application/json");
            let response = request.send().await.unwrap();
            let retry = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let (status, body) = status_and_json(response).await;
            (status, retry, body)
        }
    };
    for _ in 0..=ACCOUNT_FREE_FAILURES {
        let (status, _, body) = grant("a wrong password").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    let (status, retry, body) = grant(PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(body["error"], "slow_down");
    // /login and the password grant share the account's counter.
    assert_eq!(attempt(&server, "alice", PASSWORD).await.0, 429);
    clock.advance(Duration::from_secs(1));
    assert_eq!(grant(PASSWORD).await.0, 200);
    server.stop().await;
}
