//! Helpers shared by the CLI's integration tests: running the binary, fixtures, tokens, and the peer rule.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
#[allow(unused_imports)] // each test binary uses a different subset
pub use waxseal_testkit::{repo_root, require_or_skip};

/// A fixed clock for reproducible tokens and output: 2026-11-24 15:28:06 UTC.
pub const NOW: u64 = 1_795_534_086;

/// The `waxseal` binary, with the environment that changes its output cleared.
pub fn waxseal() -> Command {
    let mut cmd = Command::cargo_bin("waxseal").unwrap();
    cmd.env_remove("WAXSEAL_NOW")
        .env_remove("WAXSEAL_COLOR")
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .timeout(std::time::Duration::from_secs(120));
    cmd
}

/// The `waxseal` binary as a plain process (servers run in the background), with every `WAXSEAL_*` setting and
/// `RUST_LOG` cleared from the environment, so only the test's own arguments and variables count.
pub fn server_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_waxseal"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("WAXSEAL_") {
            cmd.env_remove(var);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Runs `cmd` with `stdin` written to its standard input: (exit code, stdout, stderr).
pub fn run_with_stdin(cmd: &mut std::process::Command, stdin: &str) -> (i32, String, String) {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits before reading its input: the pipe then breaks,
    // and the exit code and the error it printed are what the test checks.
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    if let Err(e) = written {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("killed by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `waxseal` binary with the clock fixed at `now`.
pub fn waxseal_at(now: u64) -> Command {
    let mut cmd = waxseal();
    cmd.env("WAXSEAL_NOW", now.to_string());
    cmd
}

/// Runs a prepared command and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out: Output = cmd.output().unwrap();
    (
        out.status.code().expect("killed by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `waxseal ARGS` and returns (exit code, stdout, stderr).
pub fn run_args(args: &[&str]) -> (i32, String, String) {
    run(waxseal().args(args))
}

/// Path of a committed key fixture (made by OpenSSL 3).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../waxseal/tests/fixtures/keys"
    ))
    .join(name)
}

pub fn fixture_str(name: &str) -> String {
    fixture(name).to_str().unwrap().to_owned()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `waxseal sign ARGS` must succeed; returns the token.
pub fn sign(args: &[&str]) -> String {
    sign_at(None, args)
}

pub fn sign_at(now: Option<u64>, args: &[&str]) -> String {
    let mut cmd = match now {
        Some(now) => waxseal_at(now),
        None => waxseal(),
    };
    cmd.arg("sign").args(args);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "sign {args:?} failed: {err}");
    let token = out.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "not a compact JWS: {out}");
    token
}

/// The header and claims of a compact JWS, read without verification.
pub fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = waxseal::b64::decode(it.next().unwrap(), "header").unwrap();
    let claims = waxseal::b64::decode(it.next().unwrap(), "claims").unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&claims).unwrap(),
    )
}

/// A compact token from raw JSON header and payload bytes, with an arbitrary signature: for `decode` only.
pub fn unsigned_token(header: &str, payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        waxseal::b64::encode(header),
        waxseal::b64::encode(payload),
        waxseal::b64::encode(signature)
    )
}

/// `waxseal keygen --alg ALG --out DIR/NAME`: returns (private key path, public JWK printed on stdout, or None for
/// HMAC).
pub fn keygen(dir: &Path, alg: &str, name: &str, extra: &[&str]) -> (PathBuf, Option<Value>) {
    let out = dir.join(name);
    let (code, stdout, stderr) = run(waxseal()
        .args(["keygen", "--alg", alg, "--out"])
        .arg(&out)
        .args(extra));
    assert_eq!(code, 0, "keygen {alg} failed: {stderr}");
    let public = if stdout.trim().is_empty() {
        None
    } else {
        Some(serde_json::from_str(&stdout).expect("keygen prints the public JWK as JSON"))
    };
    (out, public)
}

/// Writes `value` as JSON to DIR/NAME and returns the path.
pub fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

/// The error contract for bad input: exit 1 or 2, and one line on stderr that is no panic.
pub fn assert_clean_error(what: &str, code: i32, stderr: &str) {
    assert!(
        code == 1 || code == 2,
        "{what}: exit code {code}, expected 1 or 2; stderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{what}: panic: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: stderr should be one line, got {}: {stderr:?}",
        lines.len()
    );
    assert!(
        lines[0].starts_with("error: "),
        "{what}: stderr should start with `error: `: {stderr:?}"
    );
    assert!(
        lines[0].len() < 400,
        "{what}: error line is too long: {} bytes",
        lines[0].len()
    );
}
