//! What the multi-instance tests run against: a fresh database on the machine's PostgreSQL or a private PostgreSQL
//! cluster that a test may kill, the machine's Redis with a key prefix of the test's own or a private
//! `redis-server`, and `waxseal serve` instances as child processes. Everything is stopped (and the database
//! dropped) when its value is dropped, also when the test panics.

use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::common::{require_or_skip, server_command};

// The machine's PostgreSQL and Redis, with a database and a key prefix of each test's own, and a private Redis.
#[allow(unused_imports)] // each test binary uses a different subset
pub use waxseal_testkit::{
    postgres::TestDatabase,
    redis::{OwnRedis, shared_redis, unique_prefix},
};

/// The master key every instance of a deployment shares (64 hex digits).
pub const MASTER_KEY: &str = "6a0c9e41d3b2f85e7c1a4d9b0e3f62a8c5d7e1f0b9a38c2d4e6f7a1b3c5d9e0f";
/// The issuer every instance puts in its tokens (by default each would name its own listen address).
pub const ISSUER: &str = "http://waxseal.test";
/// The users' password.
pub const PASSWORD: &str = "a long passphrase for the instances test";

/// A free loopback port (free when asked; the caller binds it soon after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Polls `condition` every 20 ms for up to `limit`: how long it took, or `None` when it never held.
pub fn poll(limit: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if condition() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// True while `pid` is a process that has not exited (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .is_some_and(|ppid| ppid == pid.to_string())
            })
        })
        .collect()
}

/// The last `bytes` of a log file, for a failure message.
fn tail(path: &Path, bytes: u64) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(bytes)));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text
}

// --- PostgreSQL ----------------------------------------------------------------------------------------------------

/// A PostgreSQL cluster of the test's own (initdb into a temporary directory, a free loopback port), which the
/// test may kill as a crash would and start again on the same data. Killed when dropped.
pub struct OwnPostgres {
    dir: TempDir,
    bin: PathBuf,
    as_postgres_user: bool,
    pub port: u16,
    server: Option<Child>,
}

impl OwnPostgres {
    /// Creates and starts a cluster; `None` (after the skip banner) when the PostgreSQL server binaries are not
    /// installed.
    pub fn start(test: &str) -> Option<OwnPostgres> {
        let Some(bin) = postgres_bin() else {
            require_or_skip(
                test,
                "the PostgreSQL server binaries (initdb, postgres) are not in /usr/lib/postgresql/*/bin \
                 (Debian: postgresql); or set WAXSEAL_TEST_PG_BIN",
            );
            return None;
        };
        // PostgreSQL refuses to run as root: then the cluster belongs to the `postgres` user.
        let as_postgres_user = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("sock")).expect("socket dir");
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let mut pg = OwnPostgres {
            dir,
            bin,
            as_postgres_user,
            port: free_port(),
            server: None,
        };
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(pg.data())
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.restart();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Kills the postmaster and its backends with SIGKILL (a crash: no shutdown checkpoint, open connections cut)
    /// and waits until they are gone.
    pub fn kill(&mut self) {
        let postmaster = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok());
        if let Some(pid) = postmaster.filter(|pid| alive(*pid)) {
            let mut pids = children_of(pid);
            pids.push(pid);
            for pid in &pids {
                signal(*pid, "-KILL");
            }
            let gone = poll(Duration::from_secs(10), || !pids.iter().any(|p| alive(*p)));
            assert!(
                gone.is_some(),
                "PostgreSQL processes {pids:?} survived SIGKILL"
            );
        }
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts connections (after crash
    /// recovery when it was killed).
    pub fn restart(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .expect("open the PostgreSQL log");
        let sock = self.dir.path().join("sock");
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-c", "fsync=off", "-c", "max_connections=100", "-k"])
            .arg(&sock)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.server = Some(child);
        let ready = poll(Duration::from_secs(30), || {
            Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(
            ready.is_some(),
            "PostgreSQL did not start on {}: {}",
            self.port,
            tail(&self.dir.path().join("postgres.log"), 2000)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb` in it, or `WAXSEAL_TEST_PG_BIN`.
fn postgres_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WAXSEAL_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

// --- waxseal -------------------------------------------------------------------------------------------------------

/// One deployment: a database, a Redis and a key prefix, the master key; instances and admin commands share them.
pub struct Deployment {
    pub database_url: String,
    pub redis_url: String,
    pub prefix: String,
    pub dir: TempDir,
}

impl Deployment {
    pub fn new(database_url: String, redis_url: String, test: &str) -> Deployment {
        Deployment {
            database_url,
            redis_url,
            prefix: unique_prefix(test),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// `waxseal ARGS --database-url URL` with the master key, as an operator runs admin commands.
    pub fn admin(&self, args: &[&str]) -> Command {
        let mut cmd = server_command();
        cmd.args(args)
            .arg("--database-url")
            .arg(&self.database_url)
            .arg("--data-dir")
            .arg(self.dir.path().join("admin"))
            .env("WAXSEAL_MASTER_KEY", MASTER_KEY);
        cmd
    }

    /// Adds user `name` with [`PASSWORD`].
    pub fn add_user(&self, name: &str) {
        let (code, _, err) = crate::common::run_with_stdin(
            &mut self.admin(&["user", "add", name, "--password-stdin"]),
            &format!("{PASSWORD}\n"),
        );
        assert_eq!(code, 0, "user add {name}: {err}");
    }

    /// Starts instances with these names at once (extra `serve` flags for all); waits until each listens.
    pub fn start(&self, names: &[&'static str], flags: &[&str]) -> Vec<Instance> {
        let children: Vec<(&'static str, Child, PathBuf)> = names
            .iter()
            .map(|name| {
                let log = self.dir.path().join(format!("{name}.log"));
                let child = server_command()
                    .args(["serve", "--listen", "127.0.0.1:0", "--issuer", ISSUER])
                    // A free port each: instances side by side, and tests in parallel, never share the default.
                    .args(["--management-listen", "127.0.0.1:0"])
                    .arg("--data-dir")
                    .arg(self.dir.path().join(name))
                    .arg("--database-url")
                    .arg(&self.database_url)
                    .arg("--redis-url")
                    .arg(&self.redis_url)
                    .arg("--redis-key-prefix")
                    .arg(&self.prefix)
                    .args(flags)
                    .env("WAXSEAL_MASTER_KEY", MASTER_KEY)
                    .env("WAXSEAL_COLOR", "never")
                    .stdout(Stdio::piped())
                    .stderr(std::fs::File::create(&log).expect("create the instance log"))
                    .spawn()
                    .expect("start waxseal serve");
                (*name, child, log)
            })
            .collect();
        children
            .into_iter()
            .map(|(name, mut child, log)| {
                let stdout = child.stdout.take().expect("stdout is piped");
                let mut instance = Instance {
                    name,
                    addr: String::new(),
                    management: String::new(),
                    child: Some(child),
                    log,
                };
                (instance.addr, instance.management) = listening(stdout).unwrap_or_else(|| {
                    panic!(
                        "instance {name} exited before listening: {}",
                        tail(&instance.log, 3000)
                    )
                });
                instance
            })
            .collect()
    }
}

/// Reads `serve`'s stdout until it says where it listens, publicly and for management (the line right after);
/// keeps draining it afterwards.
fn listening(stdout: std::process::ChildStdout) -> Option<(String, String)> {
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.trim().trim_end_matches("\u{1b}[0m").to_owned();
            line.clear();
            stdout.read_line(&mut line).ok()?;
            let management = line
                .strip_prefix("  management      http://")?
                .trim()
                .to_owned();
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            return Some((addr, management));
        }
    }
}

/// A running `waxseal serve`; SIGKILLed when dropped (its log tail is printed when the test failed).
pub struct Instance {
    pub name: &'static str,
    pub addr: String,
    /// The management listener's host:port (`/metrics`, `/readyz` with details).
    pub management: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Instance {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The management listener's base URL.
    pub fn management_base(&self) -> String {
        format!("http://{}", self.management)
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "-KILL");
            let _ = child.wait();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            // Without the per-request lines, which would push out what explains a failure.
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log
                .lines()
                .filter(|line| {
                    ![
                        "service: login ",
                        "service: logout ",
                        "on_failure: response failed",
                    ]
                    .iter()
                    .any(|routine| line.contains(routine))
                })
                .collect();
            eprintln!(
                "--- instance {}'s log, without per-request lines (last 60) ---\n{}",
                self.name,
                lines[lines.len().saturating_sub(60)..].join("\n")
            );
        }
    }
}
