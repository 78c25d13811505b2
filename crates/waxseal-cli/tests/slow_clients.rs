//! Issue 14, item 1, end to end: `waxseal serve` (the built binary) under the common 1,024 open-file limit,
//! attacked by thousands of slow and idle connections from several loopback addresses, stays reachable for a
//! well-behaved client on another address; the slow connections are closed within their timeouts and the server's
//! open files come back to where they were. A second test runs it out of file descriptors on purpose and checks
//! that it says so at most once a second and serves again once the idle connections are gone. A third checks the
//! limits' settings.
#![cfg(target_os = "linux")]
// A serve child that never listened has already exited; `Served`'s drop waits for the others.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const PASSWORD: &str = "a long passphrase for the slow clients test";
/// The open-file limit the server runs under: the common default soft limit.
const SERVER_NOFILE: u64 = 1024;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
const BODY_TIMEOUT: Duration = Duration::from_secs(3);
/// How much later than its timeout a slow connection may be closed: the accept queue and the scheduler of a busy
/// two-core machine delay a close, never hasten it.
const SLACK: Duration = Duration::from_secs(4);

/// Held by each test that runs a server out of connections: two at once would measure each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `waxseal serve` under `prlimit --nofile=N:N`, with its stderr collected; the child, its address, the log.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// The management listener's address (`/metrics`).
    management: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Served {
    fn start(dir: &Path, nofile: u64, flags: &[&str]) -> Served {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_waxseal"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(["--management-listen", "127.0.0.1:0"])
            .args([
                "--header-read-timeout",
                "2s",
                "--idle-timeout",
                "3s",
                "--body-timeout",
                "3s",
            ])
            .args(flags);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("WAXSEAL_") {
                cmd.env_remove(var);
            }
        }
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "serve exited before listening: {}",
                log.lock().unwrap()
            );
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.trim().trim_end_matches("\u{1b}[0m").parse().unwrap();
                // The management line comes right after.
                line.clear();
                stdout.read_line(&mut line).unwrap();
                let management = line
                    .strip_prefix("  management      http://")
                    .unwrap_or_else(|| panic!("no management line: {line}"))
                    .trim()
                    .parse()
                    .unwrap();
                std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
                return Served {
                    child,
                    addr,
                    management,
                    log,
                };
            }
        }
    }

    /// The CPU time the server has used (user and system), from /proc/PID/stat in clock ticks of 10 ms.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the command name, which ends at the last ')': utime and stime are the 12th and 13th.
        let fields: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        Duration::from_millis((fields[11] + fields[12]) * 10)
    }

    /// The server's open file descriptors.
    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Whether the test can run: `prlimit` present, and this process allowed `needed` open files (raising its own soft
/// limit to the hard one). Skips loudly otherwise.
fn can_run(test: &str, needed: u64) -> bool {
    if Command::new("prlimit").arg("--version").output().is_err() {
        return common::require_or_skip(test, "prlimit (util-linux) is not installed");
    }
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    if limit < needed {
        return common::require_or_skip(
            test,
            &format!("the open-file limit is {limit}, and the test needs {needed}"),
        );
    }
    true
}

fn add_user(dir: &Path) {
    let (code, _, err) = common::run_with_stdin(
        common::server_command()
            .args(["user", "add", "alice", "--password-stdin", "--data-dir"])
            .arg(dir),
        PASSWORD,
    );
    assert_eq!(code, 0, "{err}");
}

/// A connection to `server` from the loopback address 127.0.0.`from`.
async fn connect_from(from: u8, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, from)),
        0,
    ))?;
    socket.connect(server).await
}

/// Writes `bytes` one at a time, `every` apart, until the connection fails.
async fn trickle(mut writer: impl AsyncWrite + Unpin, bytes: &'static [u8], every: Duration) {
    for byte in bytes.iter().cycle() {
        if writer.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// What an attacking connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Sends nothing.
    Silent,
    /// A partial header, then a byte every 300 ms.
    SlowHeader,
    /// Complete headers announcing 100,000 bytes of body, then a byte every 300 ms.
    SlowBody,
    /// One request, answered, then nothing.
    IdleKeepAlive,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Silent,
        Kind::SlowHeader,
        Kind::SlowBody,
        Kind::IdleKeepAlive,
    ];

    /// The timeout that must close it.
    fn timeout(self) -> Duration {
        match self {
            Kind::Silent | Kind::SlowHeader => HEADER_READ_TIMEOUT,
            Kind::SlowBody => BODY_TIMEOUT,
            Kind::IdleKeepAlive => IDLE_TIMEOUT,
        }
    }
}

/// One attacking connection from 127.0.0.`from`: how long from the connect until the server closed it, or `None`
/// if it was still open at its timeout plus [`SLACK`].
async fn attack(kind: Kind, from: u8, server: SocketAddr) -> Option<Duration> {
    let started = Instant::now();
    let Ok(stream) = connect_from(from, server).await else {
        // Refused outright (a full accept queue): as closed as it gets.
        return Some(started.elapsed());
    };
    let (mut reader, mut writer) = stream.into_split();
    let every = Duration::from_millis(300);
    let writing = match kind {
        Kind::Silent => None,
        Kind::SlowHeader => {
            let _ = writer
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
                .await;
            Some(tokio::spawn(trickle(writer, b"X-Slow: a\r\n", every)))
        }
        Kind::SlowBody => {
            let _ = writer
                .write_all(
                    b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                      Content-Length: 100000\r\n\r\n{",
                )
                .await;
            Some(tokio::spawn(trickle(writer, b" ", every)))
        }
        Kind::IdleKeepAlive => {
            let _ = writer
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                .await;
            // Keep the writer open (and the connection not half-closed) while waiting.
            Some(tokio::spawn(async move {
                std::future::pending::<()>().await;
                drop(writer);
            }))
        }
    };
    let closed = tokio::time::timeout(kind.timeout() + SLACK, async {
        let mut buf = [0u8; 1024];
        while matches!(reader.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    let elapsed = started.elapsed();
    if let Some(writing) = writing {
        writing.abort();
    }
    closed.ok().map(|()| elapsed)
}

/// The `q` quantile of `samples` (sorted here).
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64) * q).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Logs in as alice and reads `/api/me` with the token, timing each request; an error names what failed.
async fn well_behaved_round(
    client: &reqwest::Client,
    base: &str,
    latencies: &mut Vec<Duration>,
) -> Result<(), String> {
    let started = Instant::now();
    let login = client
        .post(format!("{base}/login"))
        .json(&serde_json::json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    let status = login.status();
    let body: serde_json::Value = login.json().await.map_err(|e| format!("login: {e}"))?;
    latencies.push(started.elapsed());
    if status != 200 {
        return Err(format!("login: {status} {body}"));
    }
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    let started = Instant::now();
    let me = client
        .get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("/api/me: {e}"))?;
    let status = me.status();
    let _ = me.bytes().await.map_err(|e| format!("/api/me: {e}"))?;
    latencies.push(started.elapsed());
    if status != 200 {
        return Err(format!("/api/me: {status}"));
    }
    Ok(())
}

/// 127.0.0.2 to 127.0.0.9: the attackers' addresses.
const ATTACKERS: std::ops::RangeInclusive<u8> = 2..=9;
const PER_ADDRESS_CAP: usize = 90;
/// Over the eight attacking addresses' 720 slots, so one address more (the well-behaved client's) still fits.
const MAX_CONNECTIONS: usize = 800;
/// Connections each attacking address opens: 2,400 in all, most of them over its cap.
const ATTEMPTS_PER_ADDRESS: usize = 300;

/// Sets the scheduling policy of the calling thread with `chrt` (`-f -p 1`: real-time FIFO at the lowest real-time
/// priority; `-o -p 0`: the default), best effort; threads and processes it starts afterwards inherit it. The
/// real-time policy needs CAP_SYS_NICE; without it nothing changes and `false` says so.
fn schedule_this_thread(policy: &[&str]) -> bool {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return false;
    };
    let Some(tid) = link.file_name().map(|t| t.to_string_lossy().into_owned()) else {
        return false;
    };
    Command::new("chrt")
        .args(policy)
        .arg(&tid)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the attack on its own runtime, on threads of the default scheduling policy (see the test for why the
/// server and the well-behaved client may have another).
fn launch_attack(
    addr: SocketAddr,
    attempts: usize,
) -> std::thread::JoinHandle<Vec<(Kind, Option<Duration>)>> {
    std::thread::spawn(move || {
        schedule_this_thread(&["-o", "-p", "0"]);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Each connection opened at its own moment over the first 1.5 s, so the accept queue is never flooded
            // by the test itself.
            let spread = Duration::from_millis(1500);
            let mut attackers = Vec::with_capacity(attempts);
            for i in 0..attempts {
                let from = *ATTACKERS.start() + (i % ATTACKERS.len()) as u8;
                let kind = Kind::ALL[(i / ATTACKERS.len()) % Kind::ALL.len()];
                let delay = spread.mul_f64(i as f64 / attempts as f64);
                attackers.push(tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    (kind, attack(kind, from, addr).await)
                }));
            }
            let mut results = Vec::with_capacity(attempts);
            for attacker in attackers {
                results.push(attacker.await.unwrap());
            }
            results
        })
    })
}

#[test]
fn thousands_of_slow_and_idle_connections_leave_the_server_reachable_under_1024_open_files() {
    let test = "thousands_of_slow_and_idle_connections_leave_the_server_reachable";
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let attempts = ATTEMPTS_PER_ADDRESS * ATTACKERS.len();
    if !can_run(test, attempts as u64 + 512) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path());
    // The server and the well-behaved client run under the real-time scheduling policy where the test may set it
    // (root or CAP_SYS_NICE; the server inherits it from this thread): on a shared build machine the other jobs
    // would otherwise decide the latency — an argon2id login is 25 ms of CPU, and at a load average of 15 on two
    // cores its p99 was 120–150 ms with no attack at all, even at nice -20. The attackers keep the default policy:
    // on a real network their CPU is not the server's. Where the policy cannot be set, everything runs at the
    // default and the figures printed include the machine's load.
    let realtime = schedule_this_thread(&["-f", "-p", "1"]);
    let served = Served::start(
        dir.path(),
        SERVER_NOFILE,
        &[
            "--max-connections",
            &MAX_CONNECTIONS.to_string(),
            "--max-connections-per-address",
            &PER_ADDRESS_CAP.to_string(),
        ],
    );
    let addr = served.addr;
    let base = format!("http://{addr}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        // The same client without an attack first: the peer the figures under attack compare with.
        let mut baseline = Vec::new();
        let (cpu_start, wall_start) = (served.cpu_time(), Instant::now());
        for _ in 0..20 {
            well_behaved_round(&client, &base, &mut baseline).await.unwrap();
        }
        let (cpu_base, wall_base) = (served.cpu_time().saturating_sub(cpu_start), wall_start.elapsed());
        let files_before = served.open_files();

        let (cpu_start, wall_start) = (served.cpu_time(), Instant::now());
        let attack = launch_attack(addr, attempts);
        // The well-behaved client, for as long as the attack lasts (every attacker is closed within its timeout
        // plus the slack, or the test fails).
        let mut latencies = Vec::new();
        let mut failures = Vec::new();
        let mut rounds = 0;
        while !attack.is_finished() {
            if let Err(e) = well_behaved_round(&client, &base, &mut latencies).await {
                failures.push(e);
            }
            rounds += 1;
        }
        let (cpu_attack, wall_attack) = (served.cpu_time().saturating_sub(cpu_start), wall_start.elapsed());
        let mut admitted = 0;
        for (kind, closed) in attack.join().unwrap() {
            let elapsed = closed.unwrap_or_else(|| {
                panic!("a {kind:?} connection was still open {SLACK:?} after its timeout")
            });
            if elapsed >= kind.timeout() {
                admitted += 1;
            }
        }
        assert!(failures.is_empty(), "{} of {rounds} rounds failed: {failures:?}", failures.len());
        assert!(rounds >= 10, "only {rounds} rounds during the attack");
        // The caps admitted the attackers up to their share (the rest were closed at once), so the test did hold
        // hundreds of slow connections open.
        assert!(
            admitted >= 600 && admitted <= ATTACKERS.len() * PER_ADDRESS_CAP * 2,
            "{admitted} attacking connections were held to their timeout"
        );
        if std::env::var_os("WAXSEAL_SLOW_CLIENTS_TRACE").is_some() {
            eprintln!("baseline: {baseline:?}\nunder attack: {latencies:?}");
        }
        let (p50, p99) = (quantile(&mut latencies, 0.50), quantile(&mut latencies, 0.99));
        let (base_p50, base_p99) = (quantile(&mut baseline, 0.50), quantile(&mut baseline, 0.99));
        let figures = format!(
            "real-time scheduling {realtime}; under attack: p50 {p50:?}, p99 {p99:?} over {} requests, server CPU {cpu_attack:?} in \
             {wall_attack:?}; without: p50 {base_p50:?}, p99 {base_p99:?} over {}, server CPU {cpu_base:?} in \
             {wall_base:?}",
            latencies.len(),
            baseline.len()
        );
        assert!(p99 < Duration::from_millis(100), "{figures}");

        // Every attacking connection is closed: the server's open files come back to where they were.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let files = served.open_files();
            if files <= files_before + 4 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the server still has {files} files open, {files_before} before the attack"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let metrics = client
            .get(format!("http://{}/metrics", served.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let refused: f64 = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix("waxseal_connections_refused_total{cap=\"per_address\"} ")?
                    .parse()
                    .ok()
            })
            .unwrap();
        assert!(refused >= 1000.0, "{metrics}");
        eprintln!(
            "{rounds} rounds {figures}; {admitted} attackers held to their timeout, {refused} refused; \
             {files_before} files open before, and again after"
        );
    });
    let log = served.log();
    assert!(log.contains("open_file_limit=1024"), "{log}");
    assert!(!log.contains("does not fit"), "{log}");
}

#[test]
fn out_of_file_descriptors_the_server_says_so_once_a_second_and_recovers() {
    let test = "out_of_file_descriptors_the_server_says_so_once_a_second_and_recovers";
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let idle = 400;
    if !can_run(test, idle as u64 + 512) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A cap above the open-file limit: the server warns at start, and then runs out of descriptors.
    let served = Served::start(
        dir.path(),
        256,
        &[
            "--max-connections",
            "2000",
            "--max-connections-per-address",
            "2000",
        ],
    );
    let addr = served.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let started = Instant::now();
        let mut held = Vec::new();
        for _ in 0..idle {
            if let Ok(stream) = connect_from(2, addr).await {
                held.push(stream);
            }
        }
        // The header read timeout closes the silent connections the server took, then those waiting in the
        // accept queue get their turn and are closed in turn; meanwhile /healthz from another address waits.
        let client = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let healthz = client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        let elapsed = started.elapsed();
        assert_eq!(
            healthz.ok(),
            Some(200),
            "after {elapsed:?}: {}",
            served.log()
        );
        drop(held);
        let metrics = client
            .get(format!("http://{}/metrics", served.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let errors: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("waxseal_accept_errors_total ")?.parse().ok())
            .unwrap();
        assert!(errors >= 1.0, "{metrics}");
        let log = served.log();
        let logged = log.matches("cannot accept connections").count();
        let seconds = started.elapsed().as_secs() + 1;
        assert!(
            logged >= 1 && logged as u64 <= seconds,
            "{logged} accept errors logged in {seconds} s (counted {errors}):\n{log}"
        );
        assert!(log.contains("Too many open files"), "{log}");
    });
    let log = served.log();
    assert!(
        log.contains("does not fit under the open-file limit"),
        "{log}"
    );
}

/// `waxseal serve --print-config` with `flags` and `env`: (exit code, stdout, stderr).
fn print_config(file: Option<&str>, env: &[(&str, &str)], flags: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::server_command();
    cmd.current_dir(dir.path())
        .args(["serve", "--print-config"]);
    if let Some(text) = file {
        let path = dir.path().join("waxseal.toml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--config").arg(path);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.args(flags).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_listener_limits_come_from_flags_variables_and_the_file_and_bad_ones_are_refused() {
    let (code, out, err) = print_config(None, &[], &[]);
    assert_eq!(code, 0, "{err}");
    let shown: toml::Table = toml::from_str(&out).unwrap();
    assert_eq!(shown["header_read_timeout"].as_str(), Some("10s"), "{out}");
    assert_eq!(shown["idle_timeout"].as_str(), Some("1m"), "{out}");
    assert_eq!(shown["body_timeout"].as_str(), Some("30s"), "{out}");
    assert_eq!(shown["max_connections"].as_integer(), Some(10_000), "{out}");
    assert_eq!(
        shown["max_connections_per_address"].as_integer(),
        Some(256),
        "{out}"
    );

    let (code, out, err) = print_config(
        Some("idle_timeout = \"2m\"\nmax_connections = 5000\nbody_timeout = \"20s\"\n"),
        &[
            ("WAXSEAL_MAX_CONNECTIONS", "4000"),
            ("WAXSEAL_HEADER_READ_TIMEOUT", "5s"),
        ],
        &[
            "--max-connections-per-address",
            "4000",
            "--body-timeout",
            "15s",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let shown: toml::Table = toml::from_str(&out).unwrap();
    assert_eq!(shown["idle_timeout"].as_str(), Some("2m"), "{out}");
    assert_eq!(shown["max_connections"].as_integer(), Some(4000), "{out}");
    assert_eq!(shown["header_read_timeout"].as_str(), Some("5s"), "{out}");
    assert_eq!(shown["body_timeout"].as_str(), Some("15s"), "{out}");
    assert_eq!(
        shown["max_connections_per_address"].as_integer(),
        Some(4000),
        "{out}"
    );

    for (file, flags, reason) in [
        (None, &["--max-connections", "0"][..], "--max-connections"),
        (
            None,
            &[
                "--max-connections",
                "10",
                "--max-connections-per-address",
                "11",
            ][..],
            "--max-connections-per-address",
        ),
        (None, &["--idle-timeout", "2h"][..], "--idle-timeout"),
        (
            Some("header_read_timeout = \"0s\"\n"),
            &[][..],
            "--header-read-timeout",
        ),
        (
            Some("body_timeout = \"30\"\n"),
            &[][..],
            "config file key body_timeout",
        ),
    ] {
        let (code, out, err) = print_config(file, &[], flags);
        assert_eq!(code, 2, "{file:?} {flags:?}: {out}{err}");
        assert!(err.contains(reason), "{file:?} {flags:?}: {err}");
    }
}
