//! Several `waxseal serve` processes behind an imaginary load balancer, sharing PostgreSQL and Redis, as an operator
//! runs them: a logout on one instance is honoured by the others, concurrent refreshes of one token across instances
//! let exactly one through and revoke the family, a key rotation reaches every instance and any JWKS consumer, and
//! faults — Redis killed, PostgreSQL killed, an instance killed with SIGKILL — lose no refresh and let no revoked
//! token through, with no instance restarted.
//!
//! Each test has its own database (or its own PostgreSQL cluster) and its own Redis key prefix (or its own
//! `redis-server`), so tests run in parallel and repeat. Without PostgreSQL or Redis the tests say so loudly and
//! skip — or fail, with `WAXSEAL_REQUIRE_SERVICES=1` or `CI=true`.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "instances/services.rs"]
mod services;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use services::{Deployment, Instance, OwnPostgres, OwnRedis, PASSWORD, TestDatabase};

/// What the instances answered.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Reply {
    fn field(&self, name: &str) -> String {
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
            .to_owned()
    }
}

/// The HTTP client of the tests: one connection pool, no proxy, and a timeout far above any answer a working
/// server gives (a 503 waits at most the pool's 3 s acquire timeout), so a hang fails the test.
#[derive(Clone)]
struct Http(reqwest::Client);

impl Http {
    fn new() -> Http {
        Http(
            reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap(),
        )
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Result<Reply> {
        let mut request = self.0.request(method, url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }

    async fn try_login(&self, base: &str, user: &str) -> reqwest::Result<Reply> {
        self.send(
            reqwest::Method::POST,
            format!("{base}/login"),
            None,
            Some(json!({ "username": user, "password": PASSWORD })),
        )
        .await
    }

    async fn login(&self, base: &str, user: &str) -> Reply {
        self.try_login(base, user).await.unwrap()
    }

    /// Logs in (must succeed): (access token, refresh token).
    async fn login_ok(&self, base: &str, user: &str) -> (String, String) {
        let reply = self.login(base, user).await;
        assert_eq!(reply.status, 200, "login on {base}: {reply:?}");
        (reply.field("access_token"), reply.field("refresh_token"))
    }

    async fn try_refresh(&self, base: &str, refresh_token: &str) -> reqwest::Result<Reply> {
        self.send(
            reqwest::Method::POST,
            format!("{base}/refresh"),
            None,
            Some(json!({ "refresh_token": refresh_token })),
        )
        .await
    }

    async fn refresh(&self, base: &str, refresh_token: &str) -> Reply {
        self.try_refresh(base, refresh_token).await.unwrap()
    }

    async fn logout(&self, base: &str, access_token: &str) -> Reply {
        self.send(
            reqwest::Method::POST,
            format!("{base}/logout"),
            Some(access_token),
            None,
        )
        .await
        .unwrap()
    }

    async fn me(&self, base: &str, access_token: &str) -> u16 {
        self.send(
            reqwest::Method::GET,
            format!("{base}/api/me"),
            Some(access_token),
            None,
        )
        .await
        .unwrap()
        .status
    }

    async fn get(&self, base: &str, path: &str) -> Reply {
        self.send(reqwest::Method::GET, format!("{base}{path}"), None, None)
            .await
            .unwrap()
    }

    /// A counter's value in `/metrics` of a management listener at `base` (0 when absent).
    async fn metric(&self, base: &str, series: &str) -> f64 {
        let text = self.get(base, "/metrics").await.body;
        text.as_str()
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

/// Polls `condition` every 20 ms until it holds: the time it took, or `None` after `limit`.
async fn within<F, Fut>(limit: Duration, mut condition: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if condition().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until every instance refuses `access_token`; returns how long each took after `since`.
async fn refused_everywhere(
    http: &Http,
    instances: &[&Instance],
    access_token: &str,
    since: Instant,
    limit: Duration,
) -> Vec<(&'static str, Duration)> {
    let mut delays = Vec::new();
    for instance in instances {
        let base = instance.base();
        let took = within(limit, || async {
            http.me(&base, access_token).await == 401
        })
        .await;
        assert!(
            took.is_some(),
            "instance {} still accepts the token {limit:?} after the logout was acknowledged",
            instance.name
        );
        delays.push((instance.name, since.elapsed()));
    }
    delays
}

/// The signing key id in a compact JWS's header.
fn kid(token: &str) -> String {
    let (header, _) = common::parts(token);
    header["kid"].as_str().expect("a kid").to_owned()
}

/// The shared PostgreSQL database and Redis of a test, or `None` when skipped.
async fn shared(test: &str) -> Option<(TestDatabase, Deployment)> {
    let redis = services::shared_redis(test)?;
    let database = TestDatabase::create().await?;
    let deployment = Deployment::new(database.url.clone(), redis, test);
    Some((database, deployment))
}

/// Waits until the detailed `/readyz` of `instance` (on its management listener) says `redis` is `state`.
async fn wait_redis(http: &Http, instance: &Instance, state: &str) -> Duration {
    let base = instance.management_base();
    within(Duration::from_secs(15), || async {
        http.get(&base, "/readyz").await.body["redis"] == state
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "instance {} never reported redis {state}: {:?}",
            instance.name,
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(http.get(&base, "/readyz"))
            })
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_on_a_refresh_on_b_logout_on_c_is_refused_everywhere() {
    let Some((_database, deployment)) = shared("logout_everywhere").await else {
        return;
    };
    deployment.add_user("alice");
    let instances = deployment.start(&["A", "B", "C"], &[]);
    let [a, b, c] = [&instances[0], &instances[1], &instances[2]];
    let http = Http::new();
    for instance in &instances {
        wait_redis(&http, instance, "up").await;
    }

    let mut delays = Vec::new();
    for round in 0..5 {
        let (access, refresh) = http.login_ok(&a.base(), "alice").await;
        let refreshed = http.refresh(&b.base(), &refresh).await;
        assert_eq!(refreshed.status, 200, "refresh on B: {refreshed:?}");
        let (access2, refresh2) = (
            refreshed.field("access_token"),
            refreshed.field("refresh_token"),
        );
        for instance in &instances {
            assert_eq!(http.me(&instance.base(), &access).await, 200);
            assert_eq!(http.me(&instance.base(), &access2).await, 200);
        }
        let logout = http.logout(&c.base(), &access).await;
        assert_eq!(logout.status, 204, "logout on C: {logout:?}");
        let acknowledged = Instant::now();
        assert_eq!(http.me(&c.base(), &access).await, 401, "C itself refuses");
        let took = refused_everywhere(
            &http,
            &[a, b],
            &access,
            acknowledged,
            Duration::from_secs(5),
        )
        .await;
        delays.push(took);
        // The session is over: the token refreshed on B is dead everywhere too.
        for instance in &instances {
            assert_eq!(http.me(&instance.base(), &access2).await, 401);
            let reply = http.refresh(&instance.base(), &refresh2).await;
            assert_eq!(
                (reply.status, reply.body["error"].as_str()),
                (401, Some("invalid_grant")),
                "round {round}: refresh after logout on {}: {reply:?}",
                instance.name
            );
        }
    }
    eprintln!("logout on C refused by A and B after (since the 204): {delays:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_across_instances_let_exactly_one_through_and_revoke_the_family() {
    let Some((_database, deployment)) = shared("concurrent_refresh").await else {
        return;
    };
    deployment.add_user("alice");
    let instances = deployment.start(&["A", "B", "C"], &[]);
    let bases: Vec<String> = instances.iter().map(Instance::base).collect();
    let http = Http::new();

    for round in 0..3 {
        let (access, refresh) = http.login_ok(&bases[0], "alice").await;
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut racers = tokio::task::JoinSet::new();
        for i in 0..RACERS {
            let (http, base, refresh, barrier) = (
                http.clone(),
                bases[i % bases.len()].clone(),
                refresh.clone(),
                barrier.clone(),
            );
            racers.spawn(async move {
                barrier.wait().await;
                http.refresh(&base, &refresh).await
            });
        }
        let replies: Vec<Reply> = racers.join_all().await;
        let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one refresh succeeds: {replies:?}"
        );
        for loser in replies.iter().filter(|r| r.status != 200) {
            assert_eq!(
                (loser.status, loser.body["error"].as_str()),
                (401, Some("invalid_grant")),
                "round {round}: {loser:?}"
            );
        }
        // The reuse revoked the family: the winner's tokens are refused too.
        let (successor_access, successor) = (
            winners[0].field("access_token"),
            winners[0].field("refresh_token"),
        );
        for base in &bases {
            let reply = http.refresh(base, &successor).await;
            assert_eq!(
                (reply.status, reply.body["error"].as_str()),
                (401, Some("invalid_grant")),
                "round {round}: the successor of a reused token on {base}: {reply:?}"
            );
        }
        let since = Instant::now();
        let all: Vec<&Instance> = instances.iter().collect();
        let took = refused_everywhere(
            &http,
            &all,
            &successor_access,
            since,
            Duration::from_secs(5),
        )
        .await;
        let took_first =
            refused_everywhere(&http, &all, &access, since, Duration::from_secs(5)).await;
        eprintln!(
            "round {round}: 1 of {RACERS} refreshes won; its access token refused everywhere after {took:?}, the \
             login's after {took_first:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_on_a_signs_tokens_that_b_c_and_a_jwks_consumer_accept() {
    let Some((_database, deployment)) = shared("key_rotation").await else {
        return;
    };
    deployment.add_user("alice");
    let instances = deployment.start(&["A", "B", "C"], &[]);
    let [a, b, c] = [&instances[0], &instances[1], &instances[2]];
    let http = Http::new();

    let (old_access, _) = http.login_ok(&a.base(), "alice").await;
    let old_kid = kid(&old_access);

    let out = deployment
        .admin(&["keys", "rotate", "--signs-after", "0s"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keys rotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated = Instant::now();

    // A picks the new key up from the database within its reload interval; so do B and C.
    let mut new_tokens = Vec::new();
    for instance in &instances {
        let base = instance.base();
        let start = Instant::now();
        let token = loop {
            let token = http.login_ok(&base, "alice").await.0;
            if kid(&token) != old_kid {
                break token;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{} never signed with the new key",
                instance.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        eprintln!(
            "{} signs with the new key {:?} after the rotation",
            instance.name,
            rotated.elapsed()
        );
        new_tokens.push(token);
    }
    let new_kid = kid(&new_tokens[0]);
    assert!(
        new_tokens.iter().all(|t| kid(t) == new_kid),
        "one new key for all instances"
    );

    for token in new_tokens.iter().chain([&old_access]) {
        for instance in [a, b, c] {
            assert_eq!(
                http.me(&instance.base(), token).await,
                200,
                "{} accepts a token of key {}",
                instance.name,
                kid(token)
            );
        }
    }
    let jwks = http.get(&b.base(), "/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .expect("a JWK Set")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&new_kid.as_str()) && kids.contains(&old_kid.as_str()),
        "{kids:?}"
    );
    // A JWKS consumer: `waxseal verify` against B's and C's published set, for tokens A signed with either key.
    for (instance, token) in [(b, &new_tokens[0]), (c, &new_tokens[0]), (c, &old_access)] {
        let (code, out, err) = common::run(common::waxseal().args([
            "verify",
            "--jwks",
            &format!("{}/.well-known/jwks.json", instance.base()),
            "--iss",
            services::ISSUER,
            "--aud",
            "waxseal-api",
            token,
        ]));
        assert_eq!(code, 0, "verify with {}'s JWKS: {out}{err}", instance.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_by_the_admin_command_is_refused_by_every_instance_and_a_fresh_key_signs() {
    let Some((_database, deployment)) = shared("key_revocation").await else {
        return;
    };
    deployment.add_user("alice");
    let instances = deployment.start(&["A", "B", "C"], &[]);
    let [a, b, c] = [&instances[0], &instances[1], &instances[2]];
    let http = Http::new();
    for instance in [a, b, c] {
        wait_redis(&http, instance, "up").await;
    }
    let (leaked_access, _) = http.login_ok(&a.base(), "alice").await;
    let leaked = kid(&leaked_access);
    for instance in [a, b, c] {
        // Twice: the second answer comes from the instance's verified-token cache.
        for _ in 0..2 {
            assert_eq!(http.me(&instance.base(), &leaked_access).await, 200);
        }
    }

    let out = deployment
        .admin(&[
            "keys",
            "revoke",
            &leaked,
            "--redis-url",
            &deployment.redis_url,
            "--redis-key-prefix",
            &deployment.prefix,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "keys revoke: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("announced through Redis"), "{stdout}");
    let revoked = Instant::now();

    let delays = refused_everywhere(
        &http,
        &[a, b, c],
        &leaked_access,
        revoked,
        Duration::from_secs(10),
    )
    .await;
    eprintln!("the leaked key's token refused after {delays:?}");
    let mut fresh = Vec::new();
    for instance in [a, b, c] {
        let jwks = http.get(&instance.base(), "/.well-known/jwks.json").await;
        let kids: Vec<&str> = jwks.body["keys"]
            .as_array()
            .expect("a JWK Set")
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert!(
            !kids.contains(&leaked.as_str()),
            "{}: {kids:?}",
            instance.name
        );
        let (access, _) = http.login_ok(&instance.base(), "alice").await;
        assert_ne!(
            kid(&access),
            leaked,
            "{} signs with a fresh key",
            instance.name
        );
        fresh.push(access);
    }
    assert!(
        fresh.iter().all(|t| kid(t) == kid(&fresh[0])),
        "one fresh key for all instances"
    );
    for token in &fresh {
        for instance in [a, b, c] {
            assert_eq!(
                http.me(&instance.base(), token).await,
                200,
                "{}",
                instance.name
            );
        }
    }
}

/// Concurrent presentations of one refresh token.
const RACERS: usize = 30;
/// Load clients of the fault test.
const FAULT_CLIENTS: usize = 4;
/// Load clients of the instance-kill test (even: on A until it dies; odd: on B).
const KILL_CLIENTS: usize = 6;

/// The stage of the fault test; load clients check their answers against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
enum Stage {
    Normal = 0,
    RedisDown = 1,
    DatabaseDown = 2,
    DatabaseBack = 3,
    AllBack = 4,
}

impl Stage {
    fn from_u8(v: u8) -> Stage {
        [
            Stage::Normal,
            Stage::RedisDown,
            Stage::DatabaseDown,
            Stage::DatabaseBack,
            Stage::AllBack,
        ][usize::from(v)]
    }

    /// Whether a 503 is an acceptable answer to a refresh in this stage.
    fn database_may_be_down(self) -> bool {
        matches!(self, Stage::DatabaseDown | Stage::DatabaseBack)
    }
}

/// One client's session: the refresh token it holds (the latest one a 200 gave it) and the one before.
#[derive(Debug, Clone)]
struct Chain {
    latest: String,
    previous: Option<String>,
    refreshes: usize,
}

/// What the load clients saw.
#[derive(Debug, Default)]
struct Observed {
    /// (stage, status) → count.
    answers: HashMap<(Stage, u16), usize>,
    /// Chain index → time of its last 200.
    last_ok: HashMap<usize, Instant>,
    violations: Vec<String>,
}

/// Logged-out access tokens, with when the logout was acknowledged; a background checker presents them again.
type Revoked = Arc<Mutex<Vec<(String, Instant)>>>;

/// The bound within which an acknowledged logout must be honoured everywhere, with or without Redis.
const PROPAGATION_BOUND: Duration = Duration::from_secs(2); // DENYLIST_RELOAD_INTERVAL + 1 s

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_then_postgres_die_and_come_back_under_load_without_a_lost_refresh_or_a_late_revocation()
 {
    const TEST: &str = "faults";
    let Some(mut redis) = OwnRedis::start(TEST) else {
        return;
    };
    let Some(mut postgres) = OwnPostgres::start(TEST) else {
        return;
    };
    let deployment = Deployment::new(postgres.url("postgres"), redis.url(), TEST);
    deployment.add_user("alice");
    let instances = deployment.start(&["A", "B"], &[]);
    let (a, b) = (&instances[0], &instances[1]);
    let bases: Vec<String> = instances.iter().map(Instance::base).collect();
    let http = Http::new();
    for instance in &instances {
        wait_redis(&http, instance, "up").await;
    }

    let stage = Arc::new(AtomicU8::new(Stage::Normal as u8));
    let stop = Arc::new(AtomicBool::new(false));
    let observed = Arc::new(Mutex::new(Observed::default()));
    let revoked: Revoked = Arc::default();

    // Load: each client refreshes its own session, alternating between A and B.
    let mut clients = tokio::task::JoinSet::new();
    for id in 0..FAULT_CLIENTS {
        let (_, refresh) = http.login_ok(&bases[id % 2], "alice").await;
        let (http, bases, stage, stop, observed) = (
            http.clone(),
            bases.clone(),
            stage.clone(),
            stop.clone(),
            observed.clone(),
        );
        clients.spawn(async move {
            let mut chain = Chain {
                latest: refresh,
                previous: None,
                refreshes: 0,
            };
            let mut turn = id;
            while !stop.load(Ordering::Relaxed) {
                turn += 1;
                let base = &bases[turn % 2];
                let now = Stage::from_u8(stage.load(Ordering::Relaxed));
                let reply = http.try_refresh(base, &chain.latest).await;
                // A request that began before a fault may be answered after it: the later stage decides.
                let ended = Stage::from_u8(stage.load(Ordering::Relaxed));
                let backoff = {
                    let mut observed = observed.lock().unwrap();
                    match reply {
                        Err(e) => {
                            observed.violations.push(format!(
                                "{now:?}: client {id}: refresh on {base} failed: {e}"
                            ));
                            false
                        }
                        Ok(reply) => {
                            *observed.answers.entry((now, reply.status)).or_default() += 1;
                            match reply.status {
                                200 => {
                                    chain.previous = Some(std::mem::replace(
                                        &mut chain.latest,
                                        reply.field("refresh_token"),
                                    ));
                                    chain.refreshes += 1;
                                    observed.last_ok.insert(id, Instant::now());
                                    false
                                }
                                503 if (now.database_may_be_down() || ended.database_may_be_down())
                                    && reply.retry_after.is_some() =>
                                {
                                    true
                                }
                                _ => {
                                    observed.violations.push(format!(
                                        "{now:?}: client {id}: refresh #{} on {base}: {} {:?} (Retry-After {:?})",
                                        chain.refreshes + 1,
                                        reply.status,
                                        reply.body,
                                        reply.retry_after
                                    ));
                                    false
                                }
                            }
                        }
                    }
                };
                if backoff {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            chain
        });
    }

    // The revocation checker: every logged-out access token is presented to both instances again and again; one
    // accepted in a request sent after its logout was acknowledged + the bound is a violation.
    let checker = {
        let (http, bases, stop, observed, revoked) = (
            http.clone(),
            bases.clone(),
            stop.clone(),
            observed.clone(),
            revoked.clone(),
        );
        tokio::spawn(async move {
            let mut checks = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let tokens = revoked.lock().unwrap().clone();
                for (token, acknowledged) in &tokens {
                    for base in &bases {
                        let sent = Instant::now();
                        let status = http.me(base, token).await;
                        checks += 1;
                        if status == 200 && sent > *acknowledged + PROPAGATION_BOUND {
                            observed.lock().unwrap().violations.push(format!(
                                "{base} accepted an access token {:?} after its logout was acknowledged",
                                sent - *acknowledged
                            ));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            checks
        })
    };

    // A logout on A, timed until B refuses the token; the token joins the checker's list.
    let logout_on_a_seen_by_b = || async {
        let (access, _) = http.login_ok(&a.base(), "alice").await;
        assert_eq!(http.me(&b.base(), &access).await, 200);
        let received_before = http
            .metric(
                &b.management_base(),
                "waxseal_revocation_announcements_total{result=\"received\"}",
            )
            .await;
        let reply = http.logout(&a.base(), &access).await;
        assert_eq!(reply.status, 204, "logout on A: {reply:?}");
        let acknowledged = Instant::now();
        revoked.lock().unwrap().push((access.clone(), acknowledged));
        let took = refused_everywhere(&http, &[b], &access, acknowledged, PROPAGATION_BOUND * 3)
            .await[0]
            .1;
        let received_after = http
            .metric(
                &b.management_base(),
                "waxseal_revocation_announcements_total{result=\"received\"}",
            )
            .await;
        (took, received_after > received_before)
    };
    let wait_for_answer = |status: u16, at: Stage, limit: Duration| {
        let observed = observed.clone();
        async move {
            within(limit, || async {
                observed
                    .lock()
                    .unwrap()
                    .answers
                    .get(&(at, status))
                    .is_some_and(|n| *n > 0)
            })
            .await
        }
    };

    tokio::time::sleep(Duration::from_millis(800)).await;
    let (took, via_redis) = logout_on_a_seen_by_b().await;
    eprintln!("normal: a logout on A refused by B after {took:?} (through Redis: {via_redis})");
    assert!(
        via_redis,
        "with Redis up, B hears of the logout on A through Redis"
    );

    // 1. Redis dies: nothing fails, readiness says degraded, revocations travel through the database.
    stage.store(Stage::RedisDown as u8, Ordering::Relaxed);
    redis.kill();
    for instance in &instances {
        let took = wait_redis(&http, instance, "down").await;
        let ready = http.get(&instance.base(), "/readyz").await;
        assert_eq!(
            (ready.status, ready.body["status"].as_str()),
            (200, Some("degraded")),
            "{ready:?}"
        );
        eprintln!(
            "redis killed: {} reports degraded after {took:?}",
            instance.name
        );
    }
    for base in &bases {
        http.login_ok(base, "alice").await;
    }
    let (took, _) = logout_on_a_seen_by_b().await;
    eprintln!(
        "redis down: a logout on A refused by B after {took:?} (bound {PROPAGATION_BOUND:?})"
    );
    assert!(took <= PROPAGATION_BOUND, "{took:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 2. PostgreSQL dies too: login and refresh answer 503 with Retry-After, access tokens still verify.
    let (held_access, _) = http.login_ok(&b.base(), "alice").await;
    stage.store(Stage::DatabaseDown as u8, Ordering::Relaxed);
    let killed = Instant::now();
    postgres.kill();
    eprintln!("postgres killed in {:?}", killed.elapsed());
    assert!(
        wait_for_answer(503, Stage::DatabaseDown, Duration::from_secs(15))
            .await
            .is_some(),
        "no refresh answered 503 after PostgreSQL was killed"
    );
    eprintln!(
        "postgres killed: first refresh 503 after {:?}",
        killed.elapsed()
    );
    for base in &bases {
        let reply = http.login(base, "alice").await;
        assert_eq!(reply.status, 503, "login with PostgreSQL down: {reply:?}");
        assert!(
            reply
                .retry_after
                .as_deref()
                .is_some_and(|s| s.parse::<u64>().is_ok()),
            "{reply:?}"
        );
        assert_eq!(
            http.me(base, &held_access).await,
            200,
            "verification goes on"
        );
        assert_eq!(http.get(base, "/readyz").await.status, 503);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 3. PostgreSQL comes back (crash recovery, same port): the same processes reconnect and serve again.
    stage.store(Stage::DatabaseBack as u8, Ordering::Relaxed);
    postgres.restart();
    let restarted = Instant::now();
    let every_client_served = within(Duration::from_secs(20), || async {
        let observed = observed.lock().unwrap();
        (0..FAULT_CLIENTS).all(|id| observed.last_ok.get(&id).is_some_and(|t| *t > restarted))
    })
    .await;
    assert!(
        every_client_served.is_some(),
        "refreshes never succeeded again after PostgreSQL came back"
    );
    eprintln!(
        "postgres back: every client refreshed again after {:?}",
        restarted.elapsed()
    );
    for base in &bases {
        http.login_ok(base, "alice").await;
    }
    let (took, _) = logout_on_a_seen_by_b().await;
    eprintln!("postgres back, redis down: a logout on A refused by B after {took:?}");
    assert!(took <= PROPAGATION_BOUND, "{took:?}");

    // 4. Redis comes back: ready again, and revocations travel through Redis again.
    stage.store(Stage::AllBack as u8, Ordering::Relaxed);
    redis.restart();
    for instance in &instances {
        let took = wait_redis(&http, instance, "up").await;
        let ready = http.get(&instance.base(), "/readyz").await;
        assert_eq!(ready.body["status"], "ready", "{ready:?}");
        eprintln!("redis back: {} ready after {took:?}", instance.name);
    }
    let (took, via_redis) = logout_on_a_seen_by_b().await;
    eprintln!("all back: a logout on A refused by B after {took:?} (through Redis: {via_redis})");
    assert!(
        via_redis,
        "after Redis came back, B hears of logouts through it again"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    stop.store(true, Ordering::Relaxed);
    let chains = clients.join_all().await;
    let checks = checker.await.unwrap();
    let observed = std::mem::take(&mut *observed.lock().unwrap());
    let mut answers: Vec<_> = observed.answers.iter().collect();
    answers.sort_by_key(|((stage, status), _)| (*stage as u8, *status));
    eprintln!(
        "refresh answers by stage: {answers:?}; {} refreshes in {} chains; {checks} checks of revoked tokens",
        chains.iter().map(|c| c.refreshes).sum::<usize>(),
        chains.len()
    );
    assert!(
        observed.violations.is_empty(),
        "violations: {:#?}",
        observed.violations
    );
    assert_every_chain_works_exactly_once(&http, &chains, &bases[1]).await;
}

/// Each chain's latest refresh token is accepted once, and then neither it nor the one before is accepted again.
async fn assert_every_chain_works_exactly_once(http: &Http, chains: &[Chain], base: &str) {
    for (id, chain) in chains.iter().enumerate() {
        let reply = http.refresh(base, &chain.latest).await;
        assert_eq!(
            reply.status, 200,
            "chain {id}: the latest refresh token a 200 gave is refused: {reply:?}"
        );
        let again = http.refresh(base, &chain.latest).await;
        assert_eq!(again.status, 401, "chain {id}: accepted twice: {again:?}");
        if let Some(previous) = &chain.previous {
            let reply = http.refresh(base, previous).await;
            assert_eq!(
                reply.status, 401,
                "chain {id}: a used token again: {reply:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_an_instance_under_refresh_load_loses_no_refresh_token() {
    let Some((_database, deployment)) = shared("kill_instance").await else {
        return;
    };
    deployment.add_user("alice");
    let mut instances = deployment.start(&["A", "B"], &[]);
    let bases: Vec<String> = instances.iter().map(Instance::base).collect();
    let http = Http::new();

    // Clients 0, 2, 4 use A until it dies, then B; clients 1, 3, 5 use B throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let a_dead = Arc::new(AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for id in 0..KILL_CLIENTS {
        let (_, refresh) = http.login_ok(&bases[id % 2], "alice").await;
        let (http, bases, stop, a_dead) =
            (http.clone(), bases.clone(), stop.clone(), a_dead.clone());
        clients.spawn(async move {
            let mut chain = Chain {
                latest: refresh,
                previous: None,
                refreshes: 0,
            };
            let mut moved = false;
            let mut outcome = "never on A".to_owned();
            while !stop.load(Ordering::Relaxed) {
                let on_a = id % 2 == 0 && !moved;
                let base = &bases[usize::from(!on_a)];
                match http.try_refresh(base, &chain.latest).await {
                    Ok(reply) if reply.status == 200 => {
                        chain.previous = Some(std::mem::replace(
                            &mut chain.latest,
                            reply.field("refresh_token"),
                        ));
                        chain.refreshes += 1;
                    }
                    Ok(reply) => panic!(
                        "client {id}: refresh #{} on {base}: {reply:?}",
                        chain.refreshes + 1
                    ),
                    Err(e) => {
                        assert!(
                            on_a && a_dead.load(Ordering::Relaxed),
                            "client {id}: {base} failed: {e}"
                        );
                        moved = true;
                        // The request either never reached A (it could not connect) or A may have died between
                        // committing the rotation and answering. In the first case the token must work on B; in
                        // the second, the token was used once already, and B calls it used.
                        let reply = http.refresh(&bases[1], &chain.latest).await;
                        if e.is_connect() || reply.status == 200 {
                            assert_eq!(
                                reply.status, 200,
                                "client {id}: a refresh token a 200 gave, never presented to A, refused by B: \
                                 {reply:?}"
                            );
                            outcome = format!(
                                "moved to B, its token accepted there ({})",
                                if e.is_connect() { "A refused the connection" } else { "A died in the request" }
                            );
                        } else {
                            assert_eq!(
                                (reply.status, reply.body["error_description"].as_str()),
                                (
                                    401,
                                    Some("the refresh token was already used; the session is revoked")
                                ),
                                "client {id}"
                            );
                            outcome = "in doubt: A died in the request after using its token; B calls it used".to_owned();
                            let (_, refresh) = http.login_ok(&bases[1], "alice").await;
                            chain = Chain {
                                latest: refresh,
                                previous: None,
                                refreshes: chain.refreshes,
                            };
                            continue;
                        }
                        chain.previous = Some(std::mem::replace(
                            &mut chain.latest,
                            reply.field("refresh_token"),
                        ));
                        chain.refreshes += 1;
                    }
                }
                // Think time: when A dies, most of its clients hold a token and are not in a request.
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            (id, chain, outcome)
        });
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    a_dead.store(true, Ordering::Relaxed);
    instances[0].kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut results = clients.join_all().await;
    results.sort_by_key(|(id, _, _)| *id);
    for (id, chain, outcome) in &results {
        eprintln!("client {id}: {} refreshes; {outcome}", chain.refreshes);
        assert!(chain.refreshes > 5, "client {id} hardly refreshed");
    }
    let chains: Vec<Chain> = results.into_iter().map(|(_, chain, _)| chain).collect();
    assert_every_chain_works_exactly_once(&http, &chains, &bases[1]).await;
}

/// The issue's migration path, as an operator runs it: a SQLite deployment with a live session is exported with
/// `waxseal export`, the PostgreSQL schema applied with `waxseal migrate`, the dump loaded with `waxseal import`, and
/// a server on PostgreSQL then accepts the access token and the refresh token issued before the move. A second
/// import into the now non-empty database is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_moves_to_postgresql_without_logging_anyone_out() {
    let test = "sqlite_to_postgresql";
    let Some((database, target)) = shared(test).await else {
        return;
    };
    let sqlite = tempfile::tempdir().unwrap();
    let source = Deployment::new(
        format!("sqlite://{}", sqlite.path().join("waxseal.db").display()),
        target.redis_url.clone(),
        test,
    );
    source.add_user("alice");
    let http = Http::new();
    let (access, refresh) = {
        let old = source.start(&["old"], &[]);
        http.login_ok(&old[0].base(), "alice").await
    };

    let export = source.admin(&["export"]).output().unwrap();
    assert!(
        export.status.success(),
        "export: {}",
        String::from_utf8_lossy(&export.stderr)
    );
    let dump = String::from_utf8(export.stdout).unwrap();
    let migrate = target.admin(&["migrate"]).output().unwrap();
    assert!(
        migrate.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let (code, _, err) = common::run_with_stdin(&mut target.admin(&["import"]), &dump);
    assert_eq!(code, 0, "import: {err}");

    let new = target.start(&["new"], &[]);
    let base = new[0].base();
    assert_eq!(
        http.me(&base, &access).await,
        200,
        "the access token still verifies"
    );
    let refreshed = http.refresh(&base, &refresh).await;
    assert_eq!(
        refreshed.status, 200,
        "the refresh token still works: {refreshed:?}"
    );
    let again = http.refresh(&base, &refresh).await;
    assert_eq!(again.status, 401, "and reuse is still detected: {again:?}");

    let (code, _, err) = common::run_with_stdin(&mut target.admin(&["import"]), &dump);
    assert_ne!(
        code, 0,
        "a second import into a non-empty database is refused"
    );
    assert!(err.contains("--replace"), "{err}");
    drop(new);
    drop(database);
}
