//! The other JOSE implementations, as the interop tests elsewhere in the workspace run them: the peer scripts
//! `interop/python/jose_peer.py` (PyJWT) and `interop/node/jose_peer.mjs` (npm `jose`), one process answering a
//! batch of JSON requests, at the versions `bash .ci/deps` installs (`interop/python/requirements.txt`,
//! `interop/node/package-lock.json`). A missing or wrongly versioned peer is skipped loudly, or fails the test when
//! `CI=true` or `WAXSEAL_REQUIRE_SERVICES=1`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// One peer: how to start it and which package's pinned version it must report.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub name: &'static str,
    program: &'static str,
    script: &'static str,
    /// The package in the peer's `info` versions, and the file that pins it.
    package: &'static str,
}

pub const PEERS: [Peer; 2] = [
    Peer {
        name: "pyjwt",
        program: "python3",
        script: "interop/python/jose_peer.py",
        package: "PyJWT",
    },
    Peer {
        name: "node-jose",
        program: "node",
        script: "interop/node/jose_peer.mjs",
        package: "jose",
    },
];

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn pinned(package: &str) -> String {
    let root = repo_root();
    if package == "jose" {
        let lock: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("interop/node/package-lock.json"))
                .expect("read interop/node/package-lock.json"),
        )
        .expect("package-lock.json is JSON");
        return lock["packages"]["node_modules/jose"]["version"]
            .as_str()
            .expect("package-lock.json pins jose")
            .to_owned();
    }
    let requirements = std::fs::read_to_string(root.join("interop/python/requirements.txt"))
        .expect("read interop/python/requirements.txt");
    let pin = requirements
        .lines()
        .filter_map(|l| l.split('#').next()?.trim().split_once("=="))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(package));
    match pin {
        Some((_, version)) => version.trim().to_owned(),
        None => panic!("requirements.txt pins no {package}"),
    }
}

impl Peer {
    /// Runs one batch; one answer per request, in order (each may be `{"error": …}`).
    pub fn call(&self, requests: &[Value]) -> Result<Vec<Value>, String> {
        let mut child = Command::new(self.program)
            .arg(repo_root().join(self.script))
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program))?;
        let input = json!({ "requests": requests }).to_string();
        child
            .stdin
            .take()
            .ok_or_else(|| format!("{}: no standard input", self.name))?
            .write_all(input.as_bytes())
            .map_err(|e| format!("{}: cannot write the requests: {e}", self.name))?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "{} exited with {}: {}",
                self.name,
                out.status,
                err.lines().last().unwrap_or("")
            ));
        }
        let answer: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{} answered with no JSON ({e})", self.name))?;
        let responses = answer["responses"].as_array().cloned().unwrap_or_default();
        if responses.len() != requests.len() {
            return Err(format!("{} answered {answer}", self.name));
        }
        Ok(responses)
    }

    /// `Ok` when the peer runs and reports its pinned version; why not otherwise.
    pub fn probe(&self) -> Result<(), String> {
        let info = self.call(&[json!({"op": "info"})])?.remove(0);
        if let Some(error) = info.get("error") {
            return Err(error.to_string());
        }
        let wanted = pinned(self.package);
        let found = info["versions"][self.package].as_str().unwrap_or("(none)");
        if found != wanted {
            return Err(format!(
                "{} {found} is installed, but {wanted} is pinned",
                self.package
            ));
        }
        Ok(())
    }
}

/// True when tests that need outside tools must fail rather than skip.
pub fn services_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("WAXSEAL_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Fails when services are required; otherwise prints a skip banner that libtest does not capture.
pub fn require_or_skip(test: &str, missing: &str) {
    let message =
        format!("{test}: {missing}; run `bash .ci/deps` (from the repository root) to install it");
    assert!(!services_required(), "{message}");
    let bar = "!".repeat(100);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!!! SKIPPING {test} (set CI=true or WAXSEAL_REQUIRE_SERVICES=1 to fail instead)\n!!! {message}\n{bar}\n"
    );
}
