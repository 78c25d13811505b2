//! PostgreSQL stopped under load, as issue 14 (item 6) describes it: `waxseal serve` answers the requests that need
//! the database 503 with `Retry-After` at once (p99 under 100 ms) instead of after the pool's 3 s acquire timeout,
//! access tokens verify throughout, `/readyz` names the dependency that is down, and service is back within 2 s of
//! PostgreSQL accepting connections again — with every session intact.
//!
//! The PostgreSQL is a cluster of the test's own (`initdb` in a temporary directory), killed and started again;
//! the machine's shared server is never touched. Without the PostgreSQL server binaries or Redis the test says so
//! loudly and skips — or fails, with `WAXSEAL_REQUIRE_SERVICES=1` or `CI=true`.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[allow(dead_code)]
#[path = "instances/services.rs"]
mod services;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use services::{Deployment, OwnPostgres, PASSWORD};

const TEST: &str = "database_down";
/// Clients refreshing their own sessions at once.
const CLIENTS: usize = 8;
/// Each client's pause between requests: enough load to measure, without burning the shared cores on 503s.
const PACE: Duration = Duration::from_millis(20);
/// The issue's bounds. The p99 one is checked on the server's own latency histogram: as the client sees it, a
/// 503 also waits for the client's and the server's turn on two cores that other builds keep busy (p50 ~5 ms, p99
/// 54–116 ms measured here), which is the machine, not the server; the client-side p99 must stay under a third of
/// the pool's 3 s wait, which every 503 would take without the gate.
const P99_BOUND: Duration = Duration::from_millis(100);
const CLIENT_P99_BOUND: Duration = Duration::from_secs(1);
const BACK_BOUND: Duration = Duration::from_secs(2);
/// The refreshes answered while PostgreSQL is down that the test waits for: enough for a p99.
const MIN_REFUSED: usize = 100;

/// The value of one series of `GET /metrics`, exactly as rendered.
fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
        .parse()
        .expect("a number")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Refresh,
    Verify,
}

/// One request as a client saw it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    kind: Kind,
    start: Instant,
    took: Duration,
    status: u16,
    /// For a 503: whether `Retry-After` was a number of seconds.
    retry_after: bool,
}

impl Sample {
    fn end(&self) -> Instant {
        self.start + self.took
    }
}

type Samples = Arc<Mutex<Vec<Sample>>>;

async fn send(request: reqwest::RequestBuilder) -> (u16, bool, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.parse::<u64>().is_ok());
    let text = response.text().await.expect("a body");
    (
        status,
        retry_after,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Refreshes one session in a loop until `stop`, keeping the token of every 503 (which must change nothing).
async fn refresher(
    http: reqwest::Client,
    base: String,
    mut token: String,
    stop: Arc<AtomicBool>,
    samples: Samples,
) -> Vec<String> {
    let mut violations = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let (status, retry_after, body) = send(
            http.post(format!("{base}/refresh"))
                .json(&json!({ "refresh_token": token })),
        )
        .await;
        let took = start.elapsed();
        match status {
            200 => {
                token = body["refresh_token"]
                    .as_str()
                    .expect("a refresh token")
                    .to_owned();
            }
            503 => {}
            _ => violations.push(format!("refresh answered {status}: {body}")),
        }
        samples.lock().unwrap().push(Sample {
            kind: Kind::Refresh,
            start,
            took,
            status,
            retry_after,
        });
        tokio::time::sleep(PACE).await;
    }
    violations
}

/// Calls `/api/me` with one access token in a loop until `stop`.
async fn verifier(
    http: reqwest::Client,
    base: String,
    access: String,
    stop: Arc<AtomicBool>,
    samples: Samples,
) {
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let (status, _, _) = send(http.get(format!("{base}/api/me")).bearer_auth(&access)).await;
        samples.lock().unwrap().push(Sample {
            kind: Kind::Verify,
            start,
            took: start.elapsed(),
            status,
            retry_after: false,
        });
        tokio::time::sleep(PACE).await;
    }
}

/// Polls `condition` every 50 ms for up to `limit`; `None` when it never held.
async fn within<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut condition: impl FnMut() -> F,
) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        if condition().await {
            return Some(Instant::now());
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The nearest-rank `percent`-th percentile of `sorted` (not empty).
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_is_answered_at_once_and_service_returns_with_it() {
    let Some(postgres) = OwnPostgres::start(TEST) else {
        return;
    };
    let Some(redis) = services::shared_redis(TEST) else {
        return;
    };
    let deployment = Deployment::new(postgres.url("postgres"), redis, TEST);
    deployment.add_user("alice");
    let instances = deployment.start(&["A"], &[]);
    let base = instances[0].base();
    let management = instances[0].management_base();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let readyz = || async {
        let (status, _, body) = send(http.get(format!("{management}/readyz"))).await;
        (status, body)
    };

    let stop = Arc::new(AtomicBool::new(false));
    let samples: Samples = Arc::default();
    let mut tokens = Vec::new();
    for _ in 0..CLIENTS {
        let (status, _, body) = send(
            http.post(format!("{base}/login"))
                .json(&json!({ "username": "alice", "password": PASSWORD })),
        )
        .await;
        assert_eq!(status, 200, "login: {body}");
        tokens.push((
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }
    let verifying = tokio::spawn(verifier(
        http.clone(),
        base.clone(),
        tokens[0].0.clone(),
        stop.clone(),
        samples.clone(),
    ));
    let refreshing: Vec<_> = tokens
        .into_iter()
        .map(|(_, refresh)| {
            tokio::spawn(refresher(
                http.clone(),
                base.clone(),
                refresh,
                stop.clone(),
                samples.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // PostgreSQL dies (SIGKILL: open connections cut, the port refuses).
    let killed = Instant::now();
    let postgres = tokio::task::spawn_blocking(move || {
        let mut postgres = postgres;
        postgres.kill();
        postgres
    })
    .await
    .unwrap();
    let opened = within(Duration::from_secs(20), || async {
        let (status, body) = readyz().await;
        status == 503
            && body["database"]
                .as_str()
                .is_some_and(|d| d.starts_with("unreachable since "))
    })
    .await
    .expect("/readyz never said the database is unreachable");
    eprintln!(
        "postgres killed: /readyz names it after {:?}",
        opened.duration_since(killed)
    );
    let (status, body) = readyz().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["redis"], "up", "{body}");

    // Down under load for at least three seconds (a dozen probes every 250 ms), and until enough refreshes were
    // answered for the p99 below to mean something: a busy machine takes longer to send them, and a fixed sleep
    // made the sample size depend on how busy it was (24 in three seconds in one rehearsal, with builds running).
    let enough = within(Duration::from_secs(60), || async {
        opened.elapsed() >= Duration::from_secs(3)
            && samples
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.kind == Kind::Refresh && s.start >= opened)
                .count()
                >= MIN_REFUSED
    })
    .await;
    assert!(
        enough.is_some(),
        "fewer than {MIN_REFUSED} refreshes answered in a minute while PostgreSQL was down"
    );

    // PostgreSQL comes back (crash recovery, same port); `restart` returns once it accepts connections. Until the
    // restart begins it is certainly down; between then and `accepting` the server may find it up before this test
    // does (its probe can beat `restart`'s own poll), so a refresh then may be served.
    let restarting = Instant::now();
    let postgres = tokio::task::spawn_blocking(move || {
        let mut postgres = postgres;
        postgres.restart();
        postgres
    })
    .await
    .unwrap();
    let accepting = Instant::now();
    let served = within(Duration::from_secs(20), || async {
        samples
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.kind == Kind::Refresh && s.status == 200 && s.start >= accepting)
    })
    .await;
    assert!(
        served.is_some(),
        "no refresh served after PostgreSQL came back"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut violations = Vec::new();
    for client in refreshing {
        violations.extend(client.await.unwrap());
    }
    verifying.await.unwrap();
    let (status, body) = readyz().await;
    assert_eq!(
        (status, &body["database"]),
        (200, &Value::from("up")),
        "{body}"
    );
    let (_, _, metrics) = send(http.get(format!("{management}/metrics"))).await;
    let metrics = metrics.as_str().expect("the exposition text").to_owned();
    drop(postgres);

    let samples = std::mem::take(&mut *samples.lock().unwrap());
    assert!(violations.is_empty(), "sessions lost: {violations:?}");
    // While the gate is open, every refresh is a 503 with Retry-After, answered at once.
    let mut refused: Vec<Duration> = samples
        .iter()
        .filter(|s| s.kind == Kind::Refresh && s.start >= opened && s.end() <= restarting)
        .map(|s| {
            assert_eq!(s.status, 503, "a refresh while PostgreSQL was down: {s:?}");
            assert!(s.retry_after, "a 503 without Retry-After: {s:?}");
            s.took
        })
        .collect();
    refused.sort();
    assert!(
        refused.len() >= MIN_REFUSED,
        "only {} refreshes while down",
        refused.len()
    );
    let p99 = percentile(&refused, 99);
    eprintln!(
        "{} refreshes answered 503 while PostgreSQL was down: p50 {:?}, p99 {p99:?}, max {:?}",
        refused.len(),
        percentile(&refused, 50),
        refused.last().unwrap()
    );
    assert!(p99 < CLIENT_P99_BOUND, "p99 of the 503s {p99:?}");
    // As the server measured them (from the request's arrival to its answer), 99 % of its 503s to /refresh took
    // at most 100 ms — leaving aside the requests already waiting on PostgreSQL when it died (at most one per
    // client), which the gate cannot answer sooner than the dead connection fails. Counting those among the 1 %
    // made the bound depend on how many 503s a busy machine managed to send (6 slow of 381 in one CI rehearsal).
    let labels = r#"route="/refresh",method="POST",status="5xx""#;
    let fast = series(
        &metrics,
        &format!("waxseal_http_request_duration_seconds_bucket{{{labels},le=\"0.1\"}}"),
    );
    let all = series(
        &metrics,
        &format!("waxseal_http_request_duration_seconds_count{{{labels}}}"),
    );
    eprintln!("server-side: {fast} of {all} 503s to /refresh within 100 ms");
    let in_flight_at_death = CLIENTS as f64;
    assert!(
        all >= 100.0 && fast >= (all - in_flight_at_death) * 0.99,
        "{fast} of {all} 503s within {P99_BOUND:?}"
    );
    // Every 503 at all (also those of the first seconds, before the gate knew) carried Retry-After.
    assert!(
        samples
            .iter()
            .filter(|s| s.status == 503)
            .all(|s| s.retry_after)
    );
    // Back within 2 s of PostgreSQL accepting connections: the first refresh sent after that and served.
    let back = samples
        .iter()
        .filter(|s| s.kind == Kind::Refresh && s.status == 200 && s.start >= accepting)
        .map(Sample::end)
        .min()
        .unwrap();
    eprintln!(
        "service back {:?} after PostgreSQL accepted connections",
        back.duration_since(accepting)
    );
    assert!(
        back.duration_since(accepting) <= BACK_BOUND,
        "back after {:?}",
        back.duration_since(accepting)
    );
    // Verification never needed the database.
    let verified: Vec<&Sample> = samples.iter().filter(|s| s.kind == Kind::Verify).collect();
    let during = verified
        .iter()
        .filter(|s| s.start >= killed && s.end() <= accepting)
        .count();
    assert!(during > 0, "no verification while PostgreSQL was down");
    assert!(
        verified.iter().all(|s| s.status == 200),
        "a verification failed: {:?}",
        verified.iter().find(|s| s.status != 200)
    );
}
