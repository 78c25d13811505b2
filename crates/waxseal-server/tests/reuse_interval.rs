//! The refresh-token reuse interval (`Config::refresh_reuse_interval`) over real HTTP, on both backends, with the
//! injected clock moved to either side of its end (no sleeps): a client whose refresh answer was lost retries with
//! the same token and its session goes on; after the interval, past the bound, for an older ancestor or for a
//! superseded branch, a second presentation revokes the session as it always does; and without the setting nothing
//! changes. Then across instances: two servers on one PostgreSQL database, the retry going to the other one.
// The bodies shared by the SQLite and PostgreSQL variants are plain functions, not `#[test]`s.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    Backing, TestClock, TestServer, assert_invalid_token, assert_reuse_refused, basic, tokens,
};
use serde_json::Value;
use waxseal_server::{Config, GrantType, MAX_REFRESH_REISSUES};

const INTERVAL: Duration = Duration::from_secs(30);
/// The last second within the interval: a token rotated at t may come back until t + 29 (strictly before t + 30).
const LAST_SECOND_WITHIN: Duration = Duration::from_secs(29);

fn with_interval(config: Config) -> Config {
    Config {
        refresh_reuse_interval: INTERVAL,
        ..config
    }
}

async fn start(backing: &Backing, clock: Arc<TestClock>) -> TestServer {
    let server = TestServer::start_with(with_interval(backing.config()), clock).await;
    server.add_user("alice", &["read"]).await;
    server
}

/// A `POST /refresh` that must succeed: (access token, refresh token, sid of the access token).
async fn refreshed(server: &TestServer, refresh: &str) -> (String, String, String) {
    let (status, body) = server.refresh(refresh).await;
    assert_eq!(status, 200, "{body}");
    let (access, refresh) = tokens(&body);
    let sid = sid(server, &access).await;
    (access, refresh, sid)
}

async fn sid(server: &TestServer, access: &str) -> String {
    let (status, _, me) = server.get_with("/api/me", access).await;
    assert_eq!(status, 200, "{me}");
    me["sid"].as_str().unwrap().to_owned()
}

/// The value of a counter without labels in `GET /metrics`.
async fn counter(server: &TestServer, name: &str) -> u64 {
    let text = server.metrics().await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
        .parse()
        .unwrap()
}

async fn assert_revoked(server: &TestServer, access: &str) {
    let (status, challenge, _) = server.get_with("/api/me", access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
}

async fn a_retry_within_the_interval_continues_the_session(backing: Backing) {
    let clock = TestClock::new();
    let server = start(&backing, clock.clone()).await;
    let (login_access, r0) = server.login_ok("alice").await;
    let session = sid(&server, &login_access).await;
    // The answer to this refresh is lost: the client never sees `first` (but may: it is still valid).
    let (_, first, _) = refreshed(&server, &r0).await;
    clock.advance(LAST_SECOND_WITHIN);
    let (retry_access, retry, retry_sid) = refreshed(&server, &r0).await;
    assert_eq!(retry_sid, session, "the same session");
    assert_ne!(retry, first, "a new refresh token");
    assert_eq!(
        counter(&server, "waxseal_refresh_token_reissues_total").await,
        1
    );
    assert_eq!(
        counter(&server, "waxseal_refresh_token_reuse_total").await,
        0
    );
    // The client goes on with what the retry gave it.
    let (next_access, next, _) = refreshed(&server, &retry).await;
    let (_, _, _) = refreshed(&server, &next).await;
    // `first` was never used, but the session moved on from a sibling: a token of that superseded branch coming
    // back is theft (or a broken client), and ends the session.
    let (status, body) = server.refresh(&first).await;
    assert_reuse_refused(status, &body);
    for access in [&login_access, &retry_access, &next_access] {
        assert_revoked(&server, access).await;
    }
    assert_eq!(
        counter(&server, "waxseal_refresh_token_reuse_total").await,
        1
    );
    server.stop().await;
}

async fn the_first_successor_still_works_after_a_retry(backing: Backing) {
    let clock = TestClock::new();
    let server = start(&backing, clock.clone()).await;
    let (_, r0) = server.login_ok("alice").await;
    // The answer was only slow: the client got `first` after all, and its retry's answer too.
    let (_, first, session) = refreshed(&server, &r0).await;
    let (_, retry, _) = refreshed(&server, &r0).await;
    let (_, next, next_sid) = refreshed(&server, &first).await;
    assert_eq!(next_sid, session);
    let (status, body) = server.refresh(&retry).await;
    assert_reuse_refused(status, &body);
    assert_eq!(server.refresh(&next).await.0, 401, "the session is revoked");
    server.stop().await;
}

async fn after_the_interval_reuse_revokes_the_session(backing: Backing) {
    let clock = TestClock::new();
    let server = start(&backing, clock.clone()).await;
    let (login_access, r0) = server.login_ok("alice").await;
    let (first_access, first, _) = refreshed(&server, &r0).await;
    clock.advance(INTERVAL);
    let (status, body) = server.refresh(&r0).await;
    assert_reuse_refused(status, &body);
    assert_eq!(server.refresh(&first).await.0, 401, "the successor too");
    for access in [&login_access, &first_access] {
        assert_revoked(&server, access).await;
    }
    assert_eq!(
        counter(&server, "waxseal_refresh_token_reissues_total").await,
        0
    );
    server.stop().await;
}

async fn retries_beyond_the_bound_revoke_the_session(backing: Backing) {
    let clock = TestClock::new();
    let server = start(&backing, clock.clone()).await;
    let (_, r0) = server.login_ok("alice").await;
    let (_, first, _) = refreshed(&server, &r0).await;
    let mut successors = vec![first];
    for _ in 0..MAX_REFRESH_REISSUES {
        clock.advance(Duration::from_secs(1));
        successors.push(refreshed(&server, &r0).await.1);
    }
    let (status, body) = server.refresh(&r0).await;
    assert_reuse_refused(status, &body);
    for token in &successors {
        assert_eq!(server.refresh(token).await.0, 401);
    }
    assert_eq!(
        counter(&server, "waxseal_refresh_token_reissues_total").await,
        u64::from(MAX_REFRESH_REISSUES)
    );
    server.stop().await;
}

async fn an_older_ancestor_revokes_the_session_within_the_interval(backing: Backing) {
    let clock = TestClock::new();
    let server = start(&backing, clock.clone()).await;
    let (_, r0) = server.login_ok("alice").await;
    let (_, r1, _) = refreshed(&server, &r0).await;
    let (latest_access, r2, _) = refreshed(&server, &r1).await;
    // r0 was rotated a second ago, but r1 was rotated since: r0 is not the one a lost answer explains.
    let (status, body) = server.refresh(&r0).await;
    assert_reuse_refused(status, &body);
    assert_eq!(server.refresh(&r2).await.0, 401);
    assert_revoked(&server, &latest_access).await;
    server.stop().await;
}

async fn without_the_setting_any_reuse_revokes_the_session(backing: Backing) {
    let server = backing.start(TestClock::new()).await;
    assert_eq!(
        server.service.config().refresh_reuse_interval,
        Duration::ZERO
    );
    server.add_user("alice", &[]).await;
    let (_, r0) = server.login_ok("alice").await;
    let (_, first, _) = refreshed(&server, &r0).await;
    let (status, body) = server.refresh(&r0).await;
    assert_reuse_refused(status, &body);
    assert_eq!(server.refresh(&first).await.0, 401);
    assert_eq!(
        counter(&server, "waxseal_refresh_token_reissues_total").await,
        0
    );
    server.stop().await;
}

async fn the_refresh_token_grant_retries_too_but_only_for_its_client(backing: Backing) {
    let clock = TestClock::new();
    let server = start(&backing, clock.clone()).await;
    let grants = [GrantType::Password, GrantType::RefreshToken];
    let (id, secret) = server.add_client("app", &grants, &["read"]).await;
    let (other_id, other_secret) = server.add_client("other", &grants, &["read"]).await;
    let (auth, other) = (basic(&id, &secret), basic(&other_id, &other_secret));
    let login = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", common::PASSWORD),
            ],
        )
        .await;
    assert_eq!(login.status, 200, "{login:?}");
    let r0 = login.body["refresh_token"].as_str().unwrap().to_owned();
    let first = server.refresh_grant(&auth, &r0, &[]).await;
    assert_eq!(first.status, 200, "{first:?}");
    // Another client presenting it is refused before the token is looked at, and changes nothing.
    server
        .refresh_grant(&other, &r0, &[])
        .await
        .assert_error(400, "invalid_grant");
    let retry = server.refresh_grant(&auth, &r0, &[("scope", "read")]).await;
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(retry.body["scope"], "read");
    let next: &Value = &retry.body["refresh_token"];
    let next = server
        .refresh_grant(&auth, next.as_str().unwrap(), &[])
        .await;
    assert_eq!(next.status, 200, "{next:?}");
    server.stop().await;
}

on_both_backends!(
    a_retry_within_the_interval_continues_the_session,
    the_first_successor_still_works_after_a_retry,
    after_the_interval_reuse_revokes_the_session,
    retries_beyond_the_bound_revoke_the_session,
    an_older_ancestor_revokes_the_session_within_the_interval,
    without_the_setting_any_reuse_revokes_the_session,
    the_refresh_token_grant_retries_too_but_only_for_its_client,
);

/// Two instances on one PostgreSQL database (one data directory for the master key), sharing a clock.
async fn two_instances(backing: &Backing, clock: &Arc<TestClock>) -> (TestServer, TestServer) {
    let a = start(backing, clock.clone()).await;
    let b = TestServer::start_with(with_interval(backing.config()), clock.clone()).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_to_another_instance_continues_the_session() {
    let Some(backing) = Backing::postgres().await else {
        return;
    };
    let clock = TestClock::new();
    let (a, b) = two_instances(&backing, &clock).await;
    let (_, r0) = a.login_ok("alice").await;
    // A committed the rotation, and its answer was lost; the load balancer sends the retry to B.
    let (_, first, session) = refreshed(&a, &r0).await;
    clock.advance(LAST_SECOND_WITHIN);
    let (_, retry, retry_sid) = refreshed(&b, &r0).await;
    assert_eq!(retry_sid, session);
    assert_eq!(counter(&b, "waxseal_refresh_token_reissues_total").await, 1);
    // The session goes on on either instance; the retry's branch is the live one from here.
    let (_, next, _) = refreshed(&a, &retry).await;
    clock.advance(INTERVAL);
    // Past the interval, the token rotated last comes back on the other instance: reuse, on both.
    let (status, body) = b.refresh(&retry).await;
    assert_reuse_refused(status, &body);
    assert_eq!(a.refresh(&next).await.0, 401);
    assert_eq!(b.refresh(&first).await.0, 401);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_across_instances_stay_within_the_bound() {
    let Some(backing) = Backing::postgres().await else {
        return;
    };
    let clock = TestClock::new();
    let (a, b) = two_instances(&backing, &clock).await;
    for round in 0..3 {
        let (_, r0) = a.login_ok("alice").await;
        let (_, first, _) = refreshed(&b, &r0).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..10 {
            let server = if i % 2 == 0 { &a } else { &b };
            let (client, url) = (server.client.clone(), server.at("/refresh"));
            let body = serde_json::json!({"refresh_token": r0});
            tasks.spawn(async move {
                let response = client.post(url).json(&body).send().await.unwrap();
                response.status().as_u16()
            });
        }
        let statuses = tasks.join_all().await;
        assert_eq!(
            statuses.iter().filter(|&&s| s == 200).count(),
            usize::try_from(MAX_REFRESH_REISSUES).unwrap(),
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|&s| s == 200 || s == 401),
            "round {round}: {statuses:?}"
        );
        assert_eq!(a.refresh(&first).await.0, 401, "round {round}: revoked");
    }
    a.stop().await;
    b.stop().await;
}
