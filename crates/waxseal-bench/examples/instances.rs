//! Helpers of `scripts/instances-bench.sh` (issue 8): several `waxseal serve` processes on loopback sharing
//! PostgreSQL and, optionally, Redis. Two commands, both through the client-credentials grant (no argon2id login,
//! so they cost the server little besides what they measure):
//!
//! ```sh
//! # mint N access tokens on URL and revoke each (RFC 7009), CONCURRENCY at a time: fills the denylist
//! instances revoke-many URL CLIENT_ID CLIENT_SECRET N CONCURRENCY
//! # N times: mint a token on A, see B accept it, revoke it on A, poll B until it refuses; prints p50/p99/max
//! instances propagation A_URL B_URL CLIENT_ID CLIENT_SECRET N [SPREAD_MS]
//! ```
//!
//! Without Redis, B learns of a revocation at its next database reload (every second), and a loop that revokes
//! right after B refused the previous token would revoke just after each reload and always wait nearly a whole
//! interval. `SPREAD_MS` (default 0) waits a different time in `0..SPREAD_MS` before each revocation, so that
//! revocations fall evenly over the reload interval, as they do in real traffic.
//!
//! The propagation delay is timed, as in `crates/waxseal-server/tests/redis.rs`, from A's answer to the
//! revocation (what the client was told) to B's first 401, and also from the start of the revocation request. B is
//! polled over one kept-alive connection, so each poll costs one loopback round trip (~0.1–0.3 ms): that is the
//! resolution of the figures. B has the token in its verified-token cache when it is revoked (it accepted it just
//! before), which is the case that matters: a cached token must still be refused at once.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Form bodies are written by hand (reqwest is built without its `form` feature): every value here — client ids,
/// secrets, JWTs — is base64url or alphanumeric, which needs no escaping.
const FORM: &str = "application/x-www-form-urlencoded";

/// How long B may keep accepting a revoked token before the run fails: well past the database reload (1 s).
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start tokio: {e}")),
    };
    let result = match args.as_slice() {
        [cmd, url, id, secret, n, concurrency] if cmd == "revoke-many" => {
            match (n.parse(), concurrency.parse()) {
                (Ok(n), Ok(c)) if c >= 1 => {
                    runtime.block_on(revoke_many(url, Client::new(id, secret), n, c))
                }
                _ => Err("N and CONCURRENCY are numbers, CONCURRENCY at least 1".into()),
            }
        }
        [cmd, a, b, id, secret, n, spread @ ..] if cmd == "propagation" && spread.len() <= 1 => {
            let spread = spread.first().map_or(Ok(0), |s| s.parse());
            match (n.parse(), spread) {
                (Ok(n), Ok(spread)) if n >= 1 => {
                    runtime.block_on(propagation(a, b, Client::new(id, secret), n, spread))
                }
                _ => Err("N is a number, at least 1, and SPREAD_MS a number".into()),
            }
        }
        _ => Err("unknown command or wrong number of arguments".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("instances: {message}");
    eprintln!("usage: instances revoke-many URL CLIENT_ID CLIENT_SECRET N CONCURRENCY");
    eprintln!("       instances propagation A_URL B_URL CLIENT_ID CLIENT_SECRET N [SPREAD_MS]");
    ExitCode::FAILURE
}

/// A `client_credentials` client and one HTTP connection pool.
#[derive(Clone)]
struct Client {
    id: String,
    secret: String,
    http: reqwest::Client,
}

impl Client {
    fn new(id: &str, secret: &str) -> Client {
        Client {
            id: id.to_owned(),
            secret: secret.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn mint(&self, base: &str) -> Result<String, String> {
        let response = self
            .http
            .post(format!("{base}/oauth/token"))
            .header("content-type", FORM)
            .body(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                self.id, self.secret
            ))
            .send()
            .await
            .map_err(|e| format!("POST {base}/oauth/token: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("POST {base}/oauth/token: {e}"))?;
        match body["access_token"].as_str() {
            Some(token) if status.is_success() => Ok(token.to_owned()),
            _ => Err(format!("POST {base}/oauth/token: {status} {body}")),
        }
    }

    async fn revoke(&self, base: &str, token: &str) -> Result<(), String> {
        let response = self
            .http
            .post(format!("{base}/oauth/revoke"))
            .header("content-type", FORM)
            .body(format!(
                "token={token}&token_type_hint=access_token&client_id={}&client_secret={}",
                self.id, self.secret
            ))
            .send()
            .await
            .map_err(|e| format!("POST {base}/oauth/revoke: {e}"))?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!(
                "POST {base}/oauth/revoke: {s} {}",
                response.text().await.unwrap_or_default()
            )),
        }
    }

    /// The status of `GET /api/me` with `token`.
    async fn me(&self, base: &str, token: &str) -> Result<u16, String> {
        self.http
            .get(format!("{base}/api/me"))
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| format!("GET {base}/api/me: {e}"))
    }
}

async fn revoke_many(url: &str, client: Client, n: u64, concurrency: u64) -> Result<(), String> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, url) = (client.clone(), next.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let token = client.mint(&url).await?;
                client.revoke(&url, &token).await?;
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| format!("a task failed: {e}"))??;
    }
    println!(
        "revoked {n} access tokens in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn propagation(
    a: &str,
    b: &str,
    client: Client,
    n: usize,
    spread_ms: u64,
) -> Result<(), String> {
    let mut after_answer = Vec::with_capacity(n);
    let mut after_request = Vec::with_capacity(n);
    for i in 0..n {
        let token = client.mint(a).await?;
        let status = client.me(b, &token).await?;
        if status != 200 {
            return Err(format!("B answered {status} to a token A had just issued"));
        }
        if spread_ms > 0 {
            // A fixed, evenly spread sequence (golden-ratio steps): reproducible, and no random source needed.
            let step = (i as u64).wrapping_mul(618_034) % 1_000_000;
            tokio::time::sleep(Duration::from_micros(step * spread_ms / 1000)).await;
        }
        let requested = Instant::now();
        client.revoke(a, &token).await?;
        let answered = Instant::now();
        loop {
            match client.me(b, &token).await? {
                401 => break,
                200 if answered.elapsed() < GIVE_UP_AFTER => {}
                200 => {
                    return Err(format!(
                        "revocation {i}: B still accepts the token {} s after A acknowledged its revocation",
                        GIVE_UP_AFTER.as_secs()
                    ));
                }
                status => return Err(format!("revocation {i}: B answered {status}")),
            }
        }
        after_answer.push(answered.elapsed());
        after_request.push(requested.elapsed());
    }
    let summary = |delays: &mut Vec<Duration>| {
        delays.sort();
        let at = |q: f64| {
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let i = ((delays.len() - 1) as f64 * q) as usize;
            delays[i].as_secs_f64() * 1e3
        };
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            at(0.5),
            at(0.99),
            at(1.0)
        )
    };
    println!(
        "propagation over {n} revocations: after A's answer {}; after the revocation request {}",
        summary(&mut after_answer),
        summary(&mut after_request)
    );
    Ok(())
}
