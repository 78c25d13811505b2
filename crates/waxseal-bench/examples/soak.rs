//! Soak run of `waxseal serve` (issue 7): several clients on loopback drive a mix of login, `GET /api/me`, refresh
//! with rotation, refresh-token reuse, abandoned sessions and logout for a bounded time, while the server's resident
//! memory and its in-memory gauges are sampled every second. `scripts/soak.sh` builds the release binary and runs
//! this; the figures go in `docs/BENCHMARKS.md`.
//!
//! ```sh
//! cargo run --release -p waxseal-bench --example soak -- WAXSEAL_BINARY SECONDS [CLIENTS]
//! ```
//!
//! The server runs with the shortest lifetimes that let sessions live through a client's use of them: access
//! tokens of 1 s (the configuration's minimum; the server accepts them for 60 s more, its clock-skew leeway, so a
//! denial lasts 61 s), refresh tokens idle for at most [`IDLE_TTL`] and sessions of at most [`ABSOLUTE_TTL`]. So
//! within a few minutes denials expire and are pruned, and abandoned refresh tokens expire and are checked to be
//! refused.
//!
//! The run fails (exit status 1) when any request got an answer other than the one the flow must give (each is
//! printed), when the highest resident memory of the last 10 s exceeds that of the 10 s after warm-up by more than
//! [`rss_bound`], or when
//! the in-memory denylist never shrank although denials had expired.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Users the clients log in as, round robin.
const USERS: usize = 32;
const PASSWORD: &str = "soak-password-0123";
/// A refresh token unused this long expires.
const IDLE_TTL: u64 = 20;
/// A session ends this long after login.
const ABSOLUTE_TTL: u64 = 40;
/// How long a denial lasts: the access-token lifetime (1 s) plus the server's clock-skew leeway (60 s).
const DENIAL_LIFETIME: u64 = 61;
/// The verified-token cache, smaller than the default 16,384 so that it is full before warm-up ends and its
/// (bounded) growth does not count as growth of the process.
const TOKEN_CACHE: usize = 2048;
/// `GET /api/me` calls per access token, and rotations per session: about 300 requests per login, so argon2id
/// logins (tens of milliseconds of CPU each, one at a time on two cores) stay a small share of the work.
const CALLS_PER_TOKEN: usize = 30;
const ROTATIONS_PER_SESSION: usize = 10;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (binary, seconds, clients) = match args.as_slice() {
        [binary, seconds, rest @ ..] if rest.len() <= 1 => {
            let clients = rest.first().map_or(Ok(8), |c| c.parse());
            match (seconds.parse::<u64>(), clients) {
                (Ok(seconds), Ok(clients)) if seconds >= 10 && clients >= 1 => {
                    (binary.clone(), seconds, clients)
                }
                _ => return usage("SECONDS is at least 10 and CLIENTS at least 1"),
            }
        }
        _ => return usage("two or three arguments are needed"),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return usage(&format!("cannot start tokio: {e}")),
    };
    match runtime.block_on(run(Path::new(&binary), seconds, clients)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("soak: {message}");
            ExitCode::FAILURE
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("soak: {message}");
    eprintln!("usage: soak WAXSEAL_BINARY SECONDS [CLIENTS, default 8]");
    ExitCode::FAILURE
}

/// The allowed growth of resident memory from the end of warm-up to the end of the run: 10 % of the warm-up
/// figure, at least 8 MiB. What may still grow after warm-up is bounded and small: the in-memory denylist swings
/// between its live size and twice that (about 2,000–4,000 entries of ~150 bytes here, under 1 MiB); SQLite's page
/// caches fill up to 2 MiB per connection as the database grows (pruning runs every 10 minutes, so the tables only
/// grow in a run this short); and one argon2id verification holds 19 MiB while it runs, which the allocator may keep
/// or return. A leak of one allocation per request (≈ 10⁶ requests) would exceed it many times over.
fn rss_bound(warm_kib: u64) -> u64 {
    (warm_kib / 10).max(8 * 1024)
}

/// Requests by kind, and what went wrong.
#[derive(Default)]
struct Counts {
    login: AtomicU64,
    me: AtomicU64,
    refresh: AtomicU64,
    logout: AtomicU64,
    /// Revoked or expired credentials presented on purpose, which must be refused.
    refused_as_expected: AtomicU64,
    reuse_detected: AtomicU64,
    abandoned: AtomicU64,
    errors: AtomicU64,
    /// The first errors, for the report.
    first_errors: Mutex<Vec<String>>,
}

impl Counts {
    fn error(&self, what: String) {
        let n = self.errors.fetch_add(1, Ordering::Relaxed);
        if n < 20 {
            eprintln!("soak: ERROR {what}");
            if let Ok(mut first) = self.first_errors.lock() {
                first.push(what);
            }
        }
    }
}

/// One sample of the server process and its gauges.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    rss_kib: u64,
    hwm_kib: u64,
    denied_jtis: u64,
    denied_sids: u64,
    cached: u64,
    threads: u64,
}

/// The server process, killed when dropped (a panic or an early return must not leave it running).
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[allow(clippy::too_many_lines)]
async fn run(binary: &Path, seconds: u64, clients: usize) -> Result<bool, String> {
    let work =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let data = work.path().join("data");
    eprintln!("soak: creating {USERS} users in {}", data.display());
    for i in 0..USERS {
        let mut child = Command::new(binary)
            .args([
                "user",
                "add",
                &format!("soak{i}"),
                "--password-stdin",
                "--data-dir",
            ])
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            stdin
                .write_all(PASSWORD.as_bytes())
                .map_err(|e| format!("user add: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("user add: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "user add failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }

    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free loopback port: {e}"))
    };
    let port = free_port()?;
    // The gauges are read from the management listener, on a free port of its own.
    let management_port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let management = format!("http://127.0.0.1:{management_port}");
    let log = std::fs::File::create(work.path().join("serve.log"))
        .map_err(|e| format!("cannot create the server log: {e}"))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let server = ServerProcess(
        Command::new(binary)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--management-listen",
                &format!("127.0.0.1:{management_port}"),
            ])
            .args(["--access-ttl", "1s"])
            .args(["--refresh-idle-ttl", &format!("{IDLE_TTL}s")])
            .args(["--refresh-absolute-ttl", &format!("{ABSOLUTE_TTL}s")])
            .args(["--token-cache", &TOKEN_CACHE.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?,
    );
    let pid = server.0.id();
    let probe = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if probe
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !ready {
        let log = std::fs::read_to_string(work.path().join("serve.log")).unwrap_or_default();
        return Err(format!("the server did not become ready:\n{log}"));
    }
    eprintln!(
        "soak: server pid {pid} on {base}; {clients} clients for {seconds} s \
         (access 1 s, refresh idle {IDLE_TTL} s, session {ABSOLUTE_TTL} s, token cache {TOKEN_CACHE})"
    );

    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let sampler = {
        let (samples, stop, management) = (samples.clone(), stop.clone(), management.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let sample = sample(&client, &management, pid, started).await;
                match sample {
                    Ok(s) => {
                        if let Ok(mut all) = samples.lock() {
                            all.push(s);
                        }
                    }
                    Err(e) => eprintln!("soak: sampling failed: {e}"),
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        })
    };
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (counts, stop, base) = (counts.clone(), stop.clone(), base.clone());
            tokio::spawn(async move { client_loop(i, clients, &base, &counts, &stop).await })
        })
        .collect();
    let deadline = Duration::from_secs(seconds);
    let mut last_report = Instant::now();
    while started.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let s = samples.lock().ok().and_then(|s| s.last().copied());
            if let Some(s) = s {
                eprintln!(
                    "soak: {:>4.0} s  requests {:>9}  errors {}  RSS {} KiB  denylist jti {} sid {}  cached {}",
                    s.at,
                    total(&counts),
                    counts.errors.load(Ordering::Relaxed),
                    s.rss_kib,
                    s.denied_jtis,
                    s.denied_sids,
                    s.cached
                );
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        if task.await.is_err() {
            counts.error("a client task panicked".into());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = sampler.await;
    let cpu = server_cpu_seconds(pid);
    drop(server);
    let log = std::fs::read_to_string(work.path().join("serve.log")).unwrap_or_default();
    let log_problems: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("panic"))
        .take(10)
        .collect();
    for line in &log_problems {
        counts.error(format!("server log: {line}"));
    }

    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(report(&counts, &samples, elapsed, clients, cpu))
}

/// Requests sent, all kinds.
fn total(c: &Counts) -> u64 {
    [
        &c.login,
        &c.me,
        &c.refresh,
        &c.logout,
        &c.refused_as_expected,
    ]
    .iter()
    .map(|n| n.load(Ordering::Relaxed))
    .sum()
}

/// The server's user + system CPU seconds so far.
fn server_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// One sample of the process (from /proc) and its gauges (from /metrics of the management listener at
/// `management`).
async fn sample(
    client: &reqwest::Client,
    management: &str,
    pid: u32,
    started: Instant,
) -> Result<Sample, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let metrics = client
        .get(format!("{management}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?
        .text()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    let gauge = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };
    Ok(Sample {
        at: started.elapsed().as_secs_f64(),
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        threads: field("Threads:"),
        denied_jtis: gauge("waxseal_denylist_entries{kind=\"jti\"}"),
        denied_sids: gauge("waxseal_denylist_entries{kind=\"sid\"}"),
        cached: gauge("waxseal_verified_tokens_cached"),
    })
}

/// A session as a client holds it.
struct Session {
    access: String,
    refresh: String,
    sub: String,
}

/// What one client does until told to stop: sessions one after another. Of every eight sessions, one ends by
/// presenting a consumed refresh token again (reuse: the session is revoked), one is abandoned (its refresh token is
/// presented again once it must have expired) and six end with a logout; every revoked or expired credential is
/// then presented once and must be refused.
async fn client_loop(index: usize, clients: usize, base: &str, counts: &Counts, stop: &AtomicBool) {
    let http = match reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(http) => http,
        Err(e) => return counts.error(format!("client {index}: {e}")),
    };
    let c = Client {
        http,
        base,
        counts,
        index,
    };
    let mut abandoned: VecDeque<(Instant, String)> = VecDeque::new();
    let mut session_no = 0usize;
    while !stop.load(Ordering::Relaxed) {
        // Abandoned refresh tokens past their idle limit (and a second of rounding) must be refused.
        while abandoned
            .front()
            .is_some_and(|(at, _)| at.elapsed() > Duration::from_secs(IDLE_TTL + 2))
        {
            if let Some((_, token)) = abandoned.pop_front() {
                c.refresh_refused(&token, "an abandoned refresh token past its idle limit")
                    .await;
            }
        }
        let user = format!("soak{}", (index + session_no * clients) % USERS);
        session_no += 1;
        let Some(mut session) = c.login(&user).await else {
            continue;
        };
        let started = Instant::now();
        let mut previous_refresh = None;
        for _ in 0..ROTATIONS_PER_SESSION {
            for _ in 0..CALLS_PER_TOKEN {
                c.me(&session).await;
            }
            // Sessions end before their absolute limit, with room for a slow machine.
            if stop.load(Ordering::Relaxed)
                || started.elapsed() > Duration::from_secs(ABSOLUTE_TTL / 2)
            {
                break;
            }
            let Some(next) = c.refresh(&session).await else {
                break;
            };
            previous_refresh = Some(std::mem::replace(&mut session, next).refresh);
        }
        match (session_no % 8, previous_refresh) {
            (0, Some(consumed)) => {
                // Reuse: the consumed token is refused and revokes the session, so the current pair is refused.
                c.refresh_refused(&consumed, "a consumed refresh token")
                    .await;
                counts.reuse_detected.fetch_add(1, Ordering::Relaxed);
                c.refresh_refused(
                    &session.refresh,
                    "the refresh token of a session revoked by reuse",
                )
                .await;
                c.me_refused(
                    &session.access,
                    "the access token of a session revoked by reuse",
                )
                .await;
            }
            (1, _) => {
                counts.abandoned.fetch_add(1, Ordering::Relaxed);
                abandoned.push_back((Instant::now(), session.refresh));
            }
            _ => {
                if c.logout(&session).await {
                    c.me_refused(&session.access, "a logged-out access token")
                        .await;
                    c.refresh_refused(&session.refresh, "a logged-out refresh token")
                        .await;
                }
            }
        }
    }
}

/// One client's connection pool and the shared counts.
struct Client<'a> {
    http: reqwest::Client,
    base: &'a str,
    counts: &'a Counts,
    index: usize,
}

impl Client<'_> {
    /// Sends a request; returns the status and the body as JSON (`Null` when empty or not JSON).
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Option<(u16, Value)> {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.ok()?;
                Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
            }
            Err(e) => {
                self.counts
                    .error(format!("client {}: {what}: transport: {e}", self.index));
                None
            }
        }
    }

    fn unexpected(&self, what: &str, status: u16, body: &Value) {
        let mut shown = body.to_string();
        shown.truncate(300);
        self.counts.error(format!(
            "client {}: {what}: unexpected {status} {shown}",
            self.index
        ));
    }

    fn pair(&self, what: &str, body: &Value, sub: Option<String>) -> Option<Session> {
        let access = body["access_token"].as_str()?.to_owned();
        let refresh = body["refresh_token"].as_str()?.to_owned();
        let sub = sub.or_else(|| claims_sub(&access));
        if sub.is_none() {
            self.unexpected(what, 200, body);
        }
        Some(Session {
            access,
            refresh,
            sub: sub?,
        })
    }

    async fn login(&self, user: &str) -> Option<Session> {
        self.counts.login.fetch_add(1, Ordering::Relaxed);
        let body = json!({"username": user, "password": PASSWORD});
        let (status, body) = self
            .send(
                "login",
                self.http.post(format!("{}/login", self.base)).json(&body),
            )
            .await?;
        if status != 200 {
            self.unexpected("login", status, &body);
            return None;
        }
        self.pair("login", &body, None)
    }

    async fn me(&self, session: &Session) {
        self.counts.me.fetch_add(1, Ordering::Relaxed);
        let request = self
            .http
            .get(format!("{}/api/me", self.base))
            .bearer_auth(&session.access);
        if let Some((status, body)) = self.send("GET /api/me", request).await
            && (status != 200 || body["sub"].as_str() != Some(&session.sub))
        {
            self.unexpected("GET /api/me", status, &body);
        }
    }

    async fn refresh(&self, session: &Session) -> Option<Session> {
        self.counts.refresh.fetch_add(1, Ordering::Relaxed);
        let body = json!({"refresh_token": session.refresh});
        let (status, body) = self
            .send(
                "refresh",
                self.http.post(format!("{}/refresh", self.base)).json(&body),
            )
            .await?;
        if status != 200 {
            self.unexpected("refresh", status, &body);
            return None;
        }
        self.pair("refresh", &body, Some(session.sub.clone()))
    }

    async fn logout(&self, session: &Session) -> bool {
        self.counts.logout.fetch_add(1, Ordering::Relaxed);
        let request = self
            .http
            .post(format!("{}/logout", self.base))
            .bearer_auth(&session.access)
            .json(&json!({"refresh_token": session.refresh}));
        match self.send("logout", request).await {
            Some((204, _)) => true,
            Some((status, body)) => {
                self.unexpected("logout", status, &body);
                false
            }
            None => false,
        }
    }

    async fn me_refused(&self, access: &str, what: &str) {
        self.counts
            .refused_as_expected
            .fetch_add(1, Ordering::Relaxed);
        let request = self
            .http
            .get(format!("{}/api/me", self.base))
            .bearer_auth(access);
        if let Some((status, body)) = self.send(what, request).await
            && status != 401
        {
            self.unexpected(&format!("GET /api/me with {what}"), status, &body);
        }
    }

    async fn refresh_refused(&self, refresh: &str, what: &str) {
        self.counts
            .refused_as_expected
            .fetch_add(1, Ordering::Relaxed);
        let request = self
            .http
            .post(format!("{}/refresh", self.base))
            .json(&json!({"refresh_token": refresh}));
        if let Some((status, body)) = self.send(what, request).await
            && status != 401
        {
            self.unexpected(&format!("refresh with {what}"), status, &body);
        }
    }
}

/// The `sub` of a JWT's claims, read without verification (the server verified it; the client only needs to
/// know whose it is).
fn claims_sub(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

#[allow(clippy::too_many_lines)]
fn report(c: &Counts, samples: &[Sample], elapsed: f64, clients: usize, cpu: Option<f64>) -> bool {
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let requests = total(c);
    let errors = n(&c.errors);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== soak: {elapsed:.0} s, {clients} clients, {} cores",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    let _ = writeln!(
        out,
        "requests {requests} ({:.0}/s): login {}, GET /api/me {}, refresh {}, logout {}, refused as expected {}",
        requests as f64 / elapsed,
        n(&c.login),
        n(&c.me),
        n(&c.refresh),
        n(&c.logout),
        n(&c.refused_as_expected)
    );
    let _ = writeln!(
        out,
        "sessions ended by reuse detection {}, abandoned {}; errors {errors}",
        n(&c.reuse_detected),
        n(&c.abandoned)
    );
    if let Some(cpu) = cpu {
        let _ = writeln!(
            out,
            "server CPU {cpu:.1} s ({:.0} µs per request)",
            cpu * 1e6 / requests.max(1) as f64
        );
    }
    let mut ok = errors == 0;

    // Memory: after warm-up (a quarter of the run, and at least one denial lifetime so the denylist has had its
    // first prunes) against the end.
    let warm_at = (elapsed / 4.0)
        .max(DENIAL_LIFETIME as f64)
        .min(elapsed / 2.0);
    let warm = samples.iter().find(|s| s.at >= warm_at);
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        println!("{out}no samples");
        return false;
    };
    let _ = writeln!(
        out,
        "\n{:>6} {:>10} {:>10} {:>8} {:>8} {:>8} {:>7}",
        "t (s)", "RSS KiB", "peak KiB", "deny jti", "deny sid", "cached", "threads"
    );
    let step = (samples.len() / 20).max(1);
    for (i, s) in samples.iter().enumerate() {
        if i % step == 0 || i + 1 == samples.len() {
            let _ = writeln!(
                out,
                "{:>6.0} {:>10} {:>10} {:>8} {:>8} {:>8} {:>7}",
                s.at, s.rss_kib, s.hwm_kib, s.denied_jtis, s.denied_sids, s.cached, s.threads
            );
        }
    }
    let peak = samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "\nRSS: start {} KiB, peak (VmHWM) {peak} KiB, end {} KiB",
        first.rss_kib, last.rss_kib
    );
    // One login maps 19 MiB for as long as its verification runs, so single samples differ by that much depending
    // on whether one was running: compare the highest RSS of the 10 s after warm-up with that of the last 10 s.
    let window_max = |from: f64, to: f64| {
        samples
            .iter()
            .filter(|s| s.at >= from && s.at < to)
            .map(|s| s.rss_kib)
            .max()
    };
    match (
        warm,
        window_max(warm_at, warm_at + 10.0),
        window_max(last.at - 10.0, f64::INFINITY),
    ) {
        (Some(warm), Some(warm_kib), Some(end_kib)) => {
            let bound = rss_bound(warm_kib);
            let grew = end_kib.saturating_sub(warm_kib);
            let verdict = if grew <= bound { "ok" } else { "FAILED" };
            let _ = writeln!(
                out,
                "RSS, highest of 10 s: after warm-up ({:.0} s) {warm_kib} KiB -> last 10 s {end_kib} KiB: {:+} KiB \
                 ({:+.1} %); bound +{bound} KiB: {verdict}",
                warm.at,
                i128::from(end_kib) - i128::from(warm_kib),
                (end_kib as f64 / warm_kib as f64 - 1.0) * 100.0
            );
            ok &= grew <= bound;
        }
        _ => {
            let _ = writeln!(out, "RSS: the run was too short for a warm-up sample");
            ok = false;
        }
    }

    // The denylist: denials last DENIAL_LIFETIME s and are dropped by the amortised prune, so in a run of more
    // than twice that the gauge must have fallen at least once, and end below the number of denials made.
    let denied = |s: &Sample| s.denied_jtis + s.denied_sids;
    let falls = samples
        .windows(2)
        .filter(|w| denied(&w[1]) < denied(&w[0]))
        .count();
    let max_denied = samples.iter().map(denied).max().unwrap_or(0);
    let made = n(&c.logout) * 2 + n(&c.reuse_detected);
    let _ = writeln!(
        out,
        "denylist: {made} denials made (a jti and a sid per logout, a sid per reuse); in memory at most {max_denied}, \
         at the end {}; it fell {falls} times",
        denied(last)
    );
    if elapsed >= 2.0 * DENIAL_LIFETIME as f64 {
        let pruned = falls > 0 && denied(last) < made;
        let _ = writeln!(
            out,
            "denylist pruned as denials expired: {}",
            if pruned { "ok" } else { "FAILED" }
        );
        ok &= pruned;
    } else {
        let _ = writeln!(
            out,
            "denylist pruning not checked: the run is shorter than {} s",
            2 * DENIAL_LIFETIME
        );
    }
    if errors > 0 {
        let _ = writeln!(out, "FAILED: {errors} errors, the first ones:");
        if let Ok(first) = c.first_errors.lock() {
            for e in first.iter() {
                let _ = writeln!(out, "  {e}");
            }
        }
    }
    let _ = writeln!(out, "result: {}", if ok { "PASS" } else { "FAIL" });
    println!("{out}");
    ok
}
