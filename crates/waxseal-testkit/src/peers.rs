//! The other JOSE implementations the interop tests talk to: PyJWT and joserfc (both through
//! `interop/python/jose_peer.py`) and npm `jose` (`interop/node/jose_peer.mjs`). A peer is one process answering a
//! batch of JSON requests; it must run the versions `bash .ci/deps` installs (`interop/python/requirements.txt`,
//! `interop/node/package-lock.json`), since a peer of another version (say Debian's own PyJWT) is not the one the
//! tests were written against.

use std::collections::BTreeMap;
use std::io::{Read, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::repo_root;

/// How long one peer process may take to answer its whole batch.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// How to start one peer.
#[derive(Debug, Clone, Copy)]
pub struct PeerSpec {
    /// The peer's name in messages: `pyjwt`, `joserfc`, `node-jose`.
    pub name: &'static str,
    /// The interpreter, looked up on `PATH`.
    pub program: &'static str,
    /// The script, relative to the repository root.
    pub script: &'static str,
    /// The implementation the Python peer should use (it speaks for both PyJWT and joserfc).
    pub library: Option<&'static str>,
    /// The packages this peer depends on, whose installed versions must be the pinned ones.
    pub pinned: &'static [&'static str],
}

/// PyJWT, through the Python peer.
pub const PYJWT: PeerSpec = PeerSpec {
    name: "pyjwt",
    program: "python3",
    script: "interop/python/jose_peer.py",
    library: Some("pyjwt"),
    pinned: &["PyJWT", "cryptography"],
};

/// joserfc, through the Python peer.
pub const JOSERFC: PeerSpec = PeerSpec {
    name: "joserfc",
    program: "python3",
    script: "interop/python/jose_peer.py",
    library: Some("joserfc"),
    pinned: &["joserfc", "cryptography"],
};

/// npm `jose`, through the Node peer.
pub const NODE_JOSE: PeerSpec = PeerSpec {
    name: "node-jose",
    program: "node",
    script: "interop/node/jose_peer.mjs",
    library: None,
    pinned: &["jose"],
};

/// Every peer.
pub const PEERS: [PeerSpec; 3] = [PYJWT, JOSERFC, NODE_JOSE];

/// The versions `.ci/deps` installs, by lowercase package name: `interop/python/requirements.txt`
/// (`name==version`) and the `jose` of `interop/node/package-lock.json`.
pub fn pinned_versions() -> BTreeMap<String, String> {
    let root = repo_root();
    let mut pins = BTreeMap::new();
    let requirements = std::fs::read_to_string(root.join("interop/python/requirements.txt"))
        .expect("read interop/python/requirements.txt");
    for line in requirements
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
    {
        let (name, version) = line
            .split_once("==")
            .expect("requirements.txt pins every package with ==");
        pins.insert(name.trim().to_ascii_lowercase(), version.trim().to_owned());
    }
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("interop/node/package-lock.json"))
            .expect("read interop/node/package-lock.json"),
    )
    .expect("package-lock.json is JSON");
    let jose = lock["packages"]["node_modules/jose"]["version"]
        .as_str()
        .expect("package-lock.json pins jose");
    pins.insert("jose".to_owned(), jose.to_owned());
    pins
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A peer that answered `info` at its pinned versions: where it runs, what it is, which algorithms it supports.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The peer's name in messages.
    pub name: &'static str,
    program: PathBuf,
    script: PathBuf,
    library: Option<&'static str>,
    /// Its packages and their versions, for the test's output: `jose 6.1.0` or `cryptography 46.0.3, pyjwt 2.10.1`.
    pub versions: String,
    /// The algorithm names (`ES256`, …) it supports.
    pub algorithms: Vec<String>,
    /// The JWE key-management algorithms (`A128KW`, …) it supports; empty for a peer without JWE.
    pub jwe_algorithms: Vec<String>,
    /// The JWE content encryptions (`A128GCM`, …) it supports.
    pub jwe_encryptions: Vec<String>,
    /// The curves (`P-256`, …, `X25519`) it does ECDH-ES on.
    pub jwe_curves: Vec<String>,
    /// The algorithms (JWS and JWE) and curves it does not support, each with its stated reason.
    pub unsupported: BTreeMap<String, String>,
}

impl Peer {
    /// Starts the peer once to ask what it is; `Err` says why it cannot be used (not installed, another version).
    pub fn probe(spec: &PeerSpec) -> Result<Peer, String> {
        let program =
            on_path(spec.program).ok_or_else(|| format!("`{}` is not on PATH", spec.program))?;
        let script = repo_root().join(spec.script);
        if !script.is_file() {
            return Err(format!("{} is missing", script.display()));
        }
        let mut peer = Peer {
            name: spec.name,
            program,
            script,
            library: spec.library,
            versions: String::new(),
            algorithms: Vec::new(),
            jwe_algorithms: Vec::new(),
            jwe_encryptions: Vec::new(),
            jwe_curves: Vec::new(),
            unsupported: BTreeMap::new(),
        };
        let info = peer.call(&[json!({"op": "info"})])?.remove(0);
        if let Some(error) = info.get("error") {
            return Err(format!("{error}"));
        }
        let versions: BTreeMap<String, String> = info["versions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, version)| {
                (
                    name.to_ascii_lowercase(),
                    version.as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect();
        let pins = pinned_versions();
        for name in spec.pinned {
            let pinned = &pins[&name.to_ascii_lowercase()];
            match versions.get(&name.to_ascii_lowercase()) {
                Some(found) if found == pinned => {}
                found => {
                    return Err(format!(
                        "{name} {} is installed for {}, but {pinned} is pinned",
                        found.map_or("(none)", String::as_str),
                        peer.program.display()
                    ));
                }
            }
        }
        peer.versions = versions
            .iter()
            .map(|(name, version)| format!("{name} {version}"))
            .collect::<Vec<_>>()
            .join(", ");
        let names = |member: &str| -> Vec<String> {
            info[member]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        };
        peer.algorithms = names("algorithms");
        peer.jwe_algorithms = names("jwe_algorithms");
        peer.jwe_encryptions = names("jwe_encryptions");
        peer.jwe_curves = names("jwe_curves");
        if let Some(unsupported) = info.get("unsupported").and_then(Value::as_object) {
            for (alg, why) in unsupported {
                peer.unsupported.insert(
                    alg.clone(),
                    why.as_str().unwrap_or("unsupported").to_owned(),
                );
            }
        }
        Ok(peer)
    }

    /// Whether it supports the algorithm named `alg` (`ES256`, …).
    pub fn supports(&self, alg: &str) -> bool {
        self.algorithms.iter().any(|a| a == alg)
    }

    /// Whether it supports the JWE key-management algorithm, content encryption or ECDH curve named `name`.
    pub fn supports_jwe(&self, name: &str) -> bool {
        [
            &self.jwe_algorithms,
            &self.jwe_encryptions,
            &self.jwe_curves,
        ]
        .into_iter()
        .flatten()
        .any(|a| a == name)
    }

    /// Runs the peer once with a batch of requests; one answer per request, in order (each may be
    /// `{"error": …}`). A peer that takes longer than [`PEER_TIMEOUT`] is killed.
    pub fn call(&self, requests: &[Value]) -> Result<Vec<Value>, String> {
        let requests: Vec<Value> = requests
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(library) = self.library {
                    r["library"] = json!(library);
                }
                r
            })
            .collect();
        let input = serde_json::to_vec(&json!({ "requests": requests })).expect("JSON");
        let mut child = Command::new(&self.program)
            .arg(&self.script)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", self.program.display()))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let read_all = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                pipe.read_to_end(&mut bytes).map(|_| bytes)
            })
        };
        let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
        // A peer that hangs must not hang the test suite.
        let deadline = Instant::now() + PEER_TIMEOUT;
        let status = loop {
            if let Some(status) = child
                .try_wait()
                .map_err(|e| format!("{}: {e}", self.name))?
            {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not answer within {PEER_TIMEOUT:?}",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        writer
            .join()
            .expect("the writer thread")
            .map_err(|e| format!("could not write to {}: {e}", self.name))?;
        let stdout = stdout
            .join()
            .expect("the stdout reader")
            .map_err(|e| format!("{}: {e}", self.name))?;
        let stderr = stderr
            .join()
            .expect("the stderr reader")
            .map_err(|e| format!("{}: {e}", self.name))?;
        let stderr = String::from_utf8_lossy(&stderr);
        if !status.success() {
            let tail: Vec<&str> = stderr
                .lines()
                .rev()
                .take(6)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(format!(
                "{} exited with {status}: {}",
                self.name,
                tail.join(" | ")
            ));
        }
        let answer: Value = serde_json::from_slice(&stdout).map_err(|e| {
            format!(
                "{} answered with something that is not JSON ({e}); stderr: {stderr}",
                self.name
            )
        })?;
        let responses = answer["responses"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("{} answered without \"responses\": {answer}", self.name))?;
        if responses.len() != requests.len() {
            return Err(format!(
                "{} answered {} of {} requests",
                self.name,
                responses.len(),
                requests.len()
            ));
        }
        Ok(responses)
    }
}
