//! Redis for tests: the machine's shared Redis (`WAXSEAL_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`) with a
//! key prefix of the test's own, or a private `redis-server` on a free port that a test may kill and restart.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::peers::require_or_skip;

/// The shared Redis's URL, or `None` (after the skip banner) when it does not answer.
pub fn shared_redis(test: &str) -> Option<String> {
    let url = std::env::var("WAXSEAL_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let address = url
        .trim_start_matches("redis://")
        .rsplit('@')
        .next()
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    if TcpStream::connect_timeout(
        &address
            .parse()
            .unwrap_or_else(|_| ([127, 0, 0, 1], 6379).into()),
        Duration::from_secs(1),
    )
    .is_err()
    {
        require_or_skip(test, &format!("Redis at {url} does not answer"));
        return None;
    }
    Some(url)
}

/// A key prefix no other test run uses.
pub fn unique_prefix(test: &str) -> String {
    let mut bytes = [0u8; 6];
    aws_lc_rs::rand::fill(&mut bytes).expect("randomness");
    format!(
        "waxseal-test-{test}-{:012x}",
        u64::from_be_bytes([
            0, 0, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]
        ])
    )
}

/// A `redis-server` of the test's own on a loopback port, killed when dropped.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one on a free port; `None` (after the skip banner) when `redis-server` is not installed.
    pub fn start(test: &str) -> Option<OwnRedis> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            require_or_skip(test, "redis-server is not installed (Debian: redis-server)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = OwnRedis { port, child: None };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would: SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
