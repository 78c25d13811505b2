//! `waxseal serve` and `waxseal user add` as a user runs them: the real binary, a real data directory, raw HTTP
//! on loopback, SIGTERM to stop.
#![cfg(unix)]
// Helpers outside #[test] functions unwrap too; a serve child that never listened has already exited (its stdout
// closed), so it cannot linger when the assertion fires.
#![allow(clippy::unwrap_used, clippy::zombie_processes)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::server_command as waxseal;

const PASSWORD: &str = "a long passphrase for the cli test";

fn user_add(dir: &Path, name: &str, stdin: &str) -> (i32, String, String) {
    user(
        dir,
        &["add", name, "--password-stdin", "--scope", "read:orders"],
        stdin,
    )
}

/// Starts `waxseal serve` on a free port; returns the child and the base URL's host:port.
fn serve(dir: &Path) -> (Child, String) {
    serve_with(dir, &[])
}

/// [`serve`] with extra flags.
fn serve_with(dir: &Path, flags: &[&str]) -> (Child, String) {
    let (child, addr, _) = serve_managed(dir, flags);
    (child, addr)
}

/// [`serve_with`], also returning the management listener's host:port from the banner (`None`: no such line).
/// Without `--management-listen` among `flags` it listens on a free port: never the default one, which tests
/// running in parallel would fight over.
fn serve_managed(dir: &Path, flags: &[&str]) -> (Child, String, Option<String>) {
    let mut command = waxseal();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir);
    if !flags.contains(&"--management-listen") {
        command.args(["--management-listen", "127.0.0.1:0"]);
    }
    let mut child = command
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.trim().trim_end_matches("\u{1b}[0m").to_owned();
            // The management line, when there is one, comes right after.
            line.clear();
            stdout.read_line(&mut line).unwrap();
            let management = line
                .strip_prefix("  management      http://")
                .map(|rest| rest.trim().to_owned());
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            return (child, addr, management);
        }
    }
}

/// One HTTP/1.1 request; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    http_with(addr, method, path, "", body)
}

/// One HTTP/1.1 request with extra header lines (each ending in CRLF); returns (status, body).
fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&str>,
) -> (u16, String) {
    let (status, _, body) = http_full(addr, method, path, headers, body);
    (status, body)
}

/// One HTTP/1.1 request with extra header lines; returns (status, response head, body).
fn http_full(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         {headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (status, head.to_owned(), body.to_owned())
}

fn terminate(child: Child) -> (bool, String) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn user_add_then_serve_then_login_then_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = user_add(&data, "alice", &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added user \"alice\""), "{out}");
    assert!(
        err.contains("master key"),
        "first start warns about the generated key file: {err}"
    );
    assert!(data.join("master.key").exists());

    let (code, _, err) = user_add(&data, "alice", &format!("{PASSWORD}\n"));
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = user_add(&data, "bob", "");
    assert_eq!(code, 2);
    assert!(err.contains("no password"), "{err}");

    let (child, addr) = serve(&data);
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);
    assert_eq!(http(&addr, "GET", "/readyz", None).0, 200);
    let (status, discovery) = http(&addr, "GET", "/.well-known/openid-configuration", None);
    assert_eq!(status, 200, "{discovery}");
    let discovery: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    assert_eq!(discovery["issuer"], format!("http://{addr}"));
    let (status, body) = http(
        &addr,
        "POST",
        "/login",
        Some(&format!(
            r#"{{"username":"alice","password":"{PASSWORD}"}}"#
        )),
    );
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let access = body["access_token"].as_str().unwrap();
    let claims = waxseal::jwt::decode_unverified(access)
        .unwrap()
        .claims
        .unwrap();
    assert_eq!(
        claims["iss"],
        format!("http://{addr}"),
        "the issuer follows the listen address"
    );
    assert_eq!(claims["scope"], "read:orders");

    let (clean, err) = terminate(child);
    assert!(clean, "graceful shutdown exits 0: {err}");
    assert!(err.contains("shutting down"), "{err}");
    assert!(
        !err.contains(PASSWORD) && !err.contains(access),
        "secrets in the log: {err}"
    );
}

/// `waxseal client add` with the given extra arguments: (code, stdout, stderr).
fn client_add(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = waxseal()
        .args(["client", "add"])
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value after `label` on its line of `text`.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} in {text}"))
        .trim()
}

#[test]
fn client_add_prints_the_secret_once_stores_its_hash_and_the_client_gets_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = client_add(
        &data,
        &[
            "batch",
            "--grant",
            "client_credentials",
            "--scope",
            "read:metrics",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("added client \"batch\" (grants: client_credentials)"),
        "{out}"
    );
    assert!(err.contains("shown only this once"), "{err}");
    let client_id = field(&out, "client_id:").to_owned();
    let secret = field(&out, "client_secret:").to_owned();
    assert_eq!(secret.len(), 43, "{out}");
    assert!(!err.contains(&secret), "the secret is not logged: {err}");
    for (_, bytes) in waxseal_testkit::read_files(&data) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is stored in the clear"
        );
    }
    let (code, _, err) = client_add(&data, &["bad", "--grant", "implicit"]);
    assert_eq!(code, 2, "{err}");

    let (child, addr) = serve(&data);
    let body =
        format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json: serde_json::Value =
        serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(json["scope"], "read:metrics");
    assert!(json["refresh_token"].is_null());
    let (clean, err) = terminate(child);
    assert!(clean, "{err}");
    assert!(!err.contains(&secret), "the secret is not logged: {err}");
}

#[test]
fn a_malformed_master_key_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = waxseal()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "off",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("WAXSEAL_MASTER_KEY", "not-a-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WAXSEAL_MASTER_KEY is not usable"), "{err}");
    assert!(
        !err.contains("not-a-key"),
        "the key's value is not echoed: {err}"
    );
}

#[test]
fn serve_and_user_help_have_examples() {
    for sub in [
        &["serve"][..],
        &["user", "add"],
        &["user", "set-password"],
        &["client", "add"],
        &["client", "delete"],
        &["client", "rotate-secret"],
        &["resource", "add"],
        &["resource", "remove"],
    ] {
        let out = waxseal().args(sub).arg("--help").output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:"), "{sub:?}: {text}");
        assert!(text.contains("WAXSEAL_DATA_DIR"), "{sub:?}: {text}");
    }
}

/// `waxseal serve --print-config` with the given settings file (if any), variables and flags: (code, stdout, stderr).
fn print_config(file: Option<&str>, env: &[(&str, &str)], flags: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = waxseal();
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
    assert!(
        !dir.path().join("waxseal-data").exists(),
        "printing the settings creates nothing"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The effective settings printed, parsed back as the TOML they are.
fn printed(stdout: &str) -> toml::Table {
    toml::from_str(stdout).unwrap()
}

#[test]
fn settings_precedence_is_flag_over_variable_over_file_over_default() {
    let file = r#"
audience = "from-file"
issuer = "https://file.example"
access_ttl = "5m"
refresh_idle_ttl = "2d"
"#;
    let (code, out, err) = print_config(
        Some(file),
        &[
            ("WAXSEAL_AUDIENCE", "from-env"),
            ("WAXSEAL_ISSUER", "https://env.example"),
            ("WAXSEAL_REFRESH_ABSOLUTE_TTL", "10d"),
        ],
        &["--audience", "from-flag", "--listen", "127.0.0.1:9123"],
    );
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    // Set in all three: the flag wins. In the file and the environment: the variable wins.
    assert_eq!(shown["audience"].as_str(), Some("from-flag"), "{out}");
    assert_eq!(
        shown["issuer"].as_str(),
        Some("https://env.example"),
        "{out}"
    );
    // Only in the file, only in the environment, only a flag, nowhere.
    assert_eq!(shown["access_ttl"].as_str(), Some("5m"), "{out}");
    assert_eq!(shown["refresh_idle_ttl"].as_str(), Some("2d"), "{out}");
    assert_eq!(shown["refresh_absolute_ttl"].as_str(), Some("10d"), "{out}");
    assert_eq!(shown["listen"].as_str(), Some("127.0.0.1:9123"), "{out}");
    assert_eq!(shown["data_dir"].as_str(), Some("./waxseal-data"), "{out}");
}

#[test]
fn print_config_shows_the_client_metadata_settings_by_file_variable_and_flag() {
    let (code, out, err) = print_config(None, &[], &[]);
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    assert_eq!(
        shown["allow_client_metadata_documents"].as_bool(),
        Some(false)
    );
    assert_eq!(shown["client_metadata_timeout"].as_str(), Some("5s"));
    assert_eq!(
        shown["client_metadata_allowed_hosts"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert!(shown.get("client_metadata_ca_file").is_none(), "{out}");
    let (code, out, err) = print_config(
        Some(
            "client_metadata_allowed_hosts = [\"from-file.internal\"]\nclient_metadata_ca_file = \"/etc/ca.pem\"\n",
        ),
        &[("WAXSEAL_CLIENT_METADATA_TIMEOUT", "2s")],
        &["--allow-client-metadata-documents"],
    );
    assert_eq!(code, 0, "{err}");
    let set = printed(&out);
    assert_eq!(set["allow_client_metadata_documents"].as_bool(), Some(true));
    assert_eq!(set["client_metadata_timeout"].as_str(), Some("2s"));
    assert_eq!(set["client_metadata_ca_file"].as_str(), Some("/etc/ca.pem"));
    assert_eq!(
        set["client_metadata_allowed_hosts"][0].as_str(),
        Some("from-file.internal")
    );
    let (code, out, err) = print_config(
        Some("client_metadata_allowed_hosts = [\"from-file.internal\"]\n"),
        &[],
        &[
            "--client-metadata-allow-host",
            "mcp.internal",
            "--client-metadata-allow-host=10.0.0.5:8443",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let hosts = printed(&out)["client_metadata_allowed_hosts"].clone();
    assert_eq!(
        hosts.as_array().map(Vec::len),
        Some(2),
        "flags replace the file: {out}"
    );
    assert_eq!(hosts[1].as_str(), Some("10.0.0.5:8443"));
    for bad in [
        "--client-metadata-timeout=1m",
        "--client-metadata-allow-host=https://x.example/",
    ] {
        let (code, _, err) = print_config(None, &[], &[bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("--client-metadata-"), "{err}");
    }
}

#[test]
fn print_config_shows_the_defaults_and_where_the_master_key_comes_from_never_the_key() {
    let (code, out, err) = print_config(None, &[], &[]);
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    assert_eq!(shown["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(
        shown["issuer"].as_str(),
        Some("http://127.0.0.1:8080"),
        "the issuer follows the listen address"
    );
    assert_eq!(shown["audience"].as_str(), Some("waxseal-api"));
    assert_eq!(shown["access_ttl"].as_str(), Some("15m"));
    assert_eq!(shown["refresh_idle_ttl"].as_str(), Some("7d"));
    assert_eq!(shown["refresh_absolute_ttl"].as_str(), Some("30d"));
    assert_eq!(shown["dpop_nonce"].as_bool(), Some(false));
    assert_eq!(shown["dpop_proof_window"].as_str(), Some("1m"));
    assert_eq!(shown["allow_registration"].as_bool(), Some(false));
    assert_eq!(
        shown["registration_scope"].as_str(),
        Some("openid profile email offline_access")
    );
    assert_eq!(shown["registrations_per_hour"].as_integer(), Some(10));
    assert_eq!(shown["registered_client_expiry"].as_str(), Some("30d"));
    let (code, out, err) = print_config(
        Some("registrations_per_hour = 3\n"),
        &[("WAXSEAL_REGISTERED_CLIENT_EXPIRY", "7d")],
        &["--allow-registration", "--registration-scope=openid"],
    );
    assert_eq!(code, 0, "{err}");
    let set = printed(&out);
    assert_eq!(set["allow_registration"].as_bool(), Some(true));
    assert_eq!(set["registration_scope"].as_str(), Some("openid"));
    assert_eq!(set["registrations_per_hour"].as_integer(), Some(3));
    assert_eq!(set["registered_client_expiry"].as_str(), Some("7d"));
    let (code, _, err) = print_config(None, &[], &["--registered-client-expiry=1d"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at least 2d"), "{err}");

    let key = "5a".repeat(32);
    let (code, out, err) = print_config(
        None,
        &[("WAXSEAL_MASTER_KEY", &key)],
        // Not 9000, the management listener's default port, which the public one may not share.
        &["--listen", "127.0.0.1:9090"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# master key: from WAXSEAL_MASTER_KEY"),
        "{out}"
    );
    assert!(!out.contains(&key) && !err.contains(&key), "{out}{err}");
    assert_eq!(
        printed(&out)["issuer"].as_str(),
        Some("http://127.0.0.1:9090")
    );
}

#[test]
fn bad_settings_exit_2_with_the_reason() {
    let cases: [(Option<&str>, &[&str], &str); 7] = [
        (Some("listen = [\n"), &[], "is not usable: TOML parse error"),
        (
            Some("acces_ttl = \"5m\"\n"),
            &[],
            "unknown field `acces_ttl`",
        ),
        (
            Some("access_ttl = \"2h\"\n"),
            &[],
            "maximum of 3600 s (1 hour)",
        ),
        (
            Some("access_ttl = \"15\"\n"),
            &[],
            "config file key access_ttl",
        ),
        (None, &["--access-ttl", "61m"], "maximum of 3600 s (1 hour)"),
        (
            Some("management_listen = \"9000\"\n"),
            &[],
            "config file key management_listen",
        ),
        (
            None,
            &["--listen", "127.0.0.1:9000"],
            "cannot share the public listener's address 127.0.0.1:9000",
        ),
    ];
    for (file, flags, reason) in cases {
        let (code, out, err) = print_config(file, &[], flags);
        assert_eq!(code, 2, "{file:?} {flags:?}: {out}{err}");
        assert!(err.contains(reason), "{file:?} {flags:?}: {err}");
        assert!(out.is_empty(), "{out}");
    }
    let (code, _, err) = print_config(None, &[("WAXSEAL_ACCESS_TTL", "3h")], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("maximum of 3600 s"), "{err}");
}

#[test]
fn the_refresh_reuse_interval_is_off_by_default_settable_everywhere_and_at_most_a_minute() {
    let shown = |file: Option<&str>, env: &[(&str, &str)], flags: &[&str]| {
        let (code, out, err) = print_config(file, env, flags);
        assert_eq!(code, 0, "{file:?} {env:?} {flags:?}: {err}");
        printed(&out)["refresh_reuse_interval"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(
        shown(None, &[], &[]).as_deref(),
        Some("0s"),
        "off by default"
    );
    assert_eq!(
        shown(None, &[], &["--refresh-reuse-interval", "30s"]).as_deref(),
        Some("30s")
    );
    assert_eq!(
        shown(Some("refresh_reuse_interval = \"10s\"\n"), &[], &[]).as_deref(),
        Some("10s")
    );
    assert_eq!(
        shown(
            Some("refresh_reuse_interval = \"10s\"\n"),
            &[("WAXSEAL_REFRESH_REUSE_INTERVAL", "off")],
            &[]
        )
        .as_deref(),
        Some("0s"),
        "the variable over the file"
    );
    assert_eq!(
        shown(None, &[], &["--refresh-reuse-interval", "0"]).as_deref(),
        Some("0s")
    );
    let cases: [(Option<&str>, &[&str], &str); 3] = [
        (None, &["--refresh-reuse-interval", "2m"], "maximum of 60 s"),
        (
            Some("refresh_reuse_interval = \"1h\"\n"),
            &[],
            "maximum of 60 s",
        ),
        (
            Some("refresh_reuse_interval = \"15\"\n"),
            &[],
            "config file key refresh_reuse_interval",
        ),
    ];
    for (file, flags, reason) in cases {
        let (code, out, err) = print_config(file, &[], flags);
        assert_eq!(code, 2, "{file:?} {flags:?}: {out}{err}");
        assert!(err.contains(reason), "{file:?} {flags:?}: {err}");
    }
}

#[test]
fn tls_settings_make_the_default_issuer_https_and_come_in_pairs() {
    let (code, out, err) = print_config(
        Some("tls_key = \"/etc/waxseal/key.pem\"\ntoken_cache = 100\n"),
        &[("WAXSEAL_TLS_CERT", "/etc/waxseal/cert.pem")],
        &["--listen", "127.0.0.1:8443"],
    );
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    assert_eq!(
        shown["issuer"].as_str(),
        Some("https://127.0.0.1:8443"),
        "{out}"
    );
    assert_eq!(
        shown["tls_cert"].as_str(),
        Some("/etc/waxseal/cert.pem"),
        "{out}"
    );
    assert_eq!(
        shown["tls_key"].as_str(),
        Some("/etc/waxseal/key.pem"),
        "{out}"
    );
    assert_eq!(shown["token_cache"].as_integer(), Some(100), "{out}");

    let (code, out, err) = print_config(None, &[], &[]);
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    assert!(
        shown.get("tls_cert").is_none(),
        "TLS is off by default: {out}"
    );
    assert_eq!(shown["token_cache"].as_integer(), Some(16_384), "{out}");

    let (code, _, err) = print_config(None, &[], &["--tls-cert", "cert.pem"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("without its key") && err.contains("--tls-key"),
        "{err}"
    );
    let (code, _, err) = print_config(None, &[("WAXSEAL_TLS_KEY", "key.pem")], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("without its certificate") && err.contains("--tls-cert"),
        "{err}"
    );
}

#[test]
fn serve_with_an_unreadable_certificate_exits_2_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = waxseal()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "off",
        ])
        .arg("--tls-cert")
        .arg(dir.path().join("nope.crt"))
        .arg("--tls-key")
        .arg(dir.path().join("nope.key"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read the TLS certificate") && err.contains("nope.crt"),
        "{err}"
    );
    assert!(!data.exists());
}

/// `waxseal user ARGS… --data-dir DIR` with `stdin`: (code, stdout, stderr).
fn user(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    common::run_with_stdin(
        waxseal().arg("user").args(args).arg("--data-dir").arg(dir),
        stdin,
    )
}

fn login(addr: &str, name: &str, password: &str) -> (u16, String) {
    http(
        addr,
        "POST",
        "/login",
        Some(&format!(
            r#"{{"username":"{name}","password":"{password}"}}"#
        )),
    )
}

fn me(addr: &str, access: &str) -> u16 {
    http_with(
        addr,
        "GET",
        "/api/me",
        &format!("Authorization: Bearer {access}\r\n"),
        None,
    )
    .0
}

/// Polls `GET /api/me` until the running server refuses the token (it reloads the store's denylist every second).
fn refused_soon(addr: &str, access: &str) {
    let started = std::time::Instant::now();
    while me(addr, access) == 200 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the access token is still accepted"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(me(addr, access), 401);
}

#[test]
fn user_list_disable_enable_delete() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = user(&data, &["list"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no users yet"), "{err}");
    assert_eq!(user_add(&data, "alice", &format!("{PASSWORD}\n")).0, 0);
    let (code, _, err) = user(&data, &["add", "bob", "--password-stdin"], PASSWORD);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = user(&data, &["disable", "bob"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("disabled user \"bob\""), "{out}");
    let (code, out, err) = user(&data, &["list"], "");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("NAME"), "{out}");
    assert!(
        lines[1].starts_with("alice")
            && lines[1].contains("enabled")
            && lines[1].contains("read:orders"),
        "{out}"
    );
    assert!(lines[1].contains(" UTC"), "the creation time: {out}");
    assert!(
        lines[2].starts_with("bob") && lines[2].contains("disabled") && lines[2].ends_with('-'),
        "{out}"
    );
    assert!(!out.contains("argon2"), "never a hash: {out}");

    let (code, out, err) = user(&data, &["enable", "bob"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("enabled user \"bob\""), "{out}");
    let (_, out, _) = user(&data, &["list"], "");
    assert!(!out.contains("disabled"), "{out}");

    let (code, out, err) = user(&data, &["delete", "bob"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted user \"bob\""), "{out}");
    let (_, out, _) = user(&data, &["list"], "");
    assert!(!out.contains("bob"), "{out}");

    for args in [
        &["disable", "bob"][..],
        &["enable", "bob"],
        &["delete", "bob"],
    ] {
        let (code, _, err) = user(&data, args, "");
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("no user named \"bob\""), "{args:?}: {err}");
    }
}

#[test]
fn user_set_password_ends_the_sessions_of_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert_eq!(user_add(&data, "alice", &format!("{PASSWORD}\n")).0, 0);
    assert_eq!(user_add(&data, "carol", &format!("{PASSWORD}\n")).0, 0);
    let (child, addr) = serve(&data);
    let token = |name: &str, password: &str| {
        let (status, body) = login(&addr, name, password);
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let alice = token("alice", PASSWORD);
    let carol = token("carol", PASSWORD);
    assert_eq!(me(&addr, &alice), 200);

    let new = "an entirely new passphrase";
    let (code, out, err) = user(
        &data,
        &["set-password", "alice", "--password-stdin"],
        &format!("{new}\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("every session"), "{out}");
    assert!(
        !out.contains(new) && !err.contains(new),
        "the password is echoed"
    );
    refused_soon(&addr, &alice);
    assert_eq!(login(&addr, "alice", PASSWORD).0, 401);
    let alice = token("alice", new);
    assert_eq!(me(&addr, &alice), 200);

    let (code, _, err) = user(&data, &["disable", "carol"], "");
    assert_eq!(code, 0, "{err}");
    refused_soon(&addr, &carol);
    assert_eq!(login(&addr, "carol", PASSWORD).0, 401);

    let (code, _, err) = user(&data, &["delete", "alice"], "");
    assert_eq!(code, 0, "{err}");
    refused_soon(&addr, &alice);

    let (code, _, err) = user(&data, &["set-password", "alice", "--password-stdin"], "x\n");
    assert_eq!(code, 2);
    assert!(err.contains("no user named"), "{err}");
    let (code, _, err) = user(&data, &["set-password", "carol", "--password-stdin"], "");
    assert_eq!(code, 2);
    assert!(err.contains("no password"), "{err}");
    let (clean, err) = terminate(child);
    assert!(clean, "{err}");
    assert!(!err.contains(new), "the password in the log: {err}");
}

/// `waxseal COMMAND ARGS… --data-dir DIR` (an admin command: `keys`, `client`): (code, stdout, stderr).
fn admin(command: &str, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = waxseal()
        .arg(command)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn keys_list_and_rotate_publish_a_key_before_it_signs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = user_add(&data, "alice", &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = admin("keys", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.is_empty() && err.contains("no signing keys yet"),
        "{out}{err}"
    );

    let (child, _) = serve(&data);
    assert!(terminate(child).0);
    let (code, out, err) = admin("keys", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(
        rows.len(),
        2,
        "the signing key and the RS256 key of ID tokens: {out}"
    );
    for alg in [" ES256 ", " RS256 "] {
        assert!(
            rows.iter()
                .any(|r| r.contains(alg) && r.contains(" active ")),
            "{out}"
        );
    }

    let (code, out, err) = admin("keys", &data, &["rotate", "--alg", "EdDSA"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("published key") && out.contains("(EdDSA)"),
        "{out}"
    );
    assert!(out.contains("it signs new tokens from"), "{out}");
    let (_, out, _) = admin("keys", &data, &["list"]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows[2].contains(" EdDSA ") && rows[2].contains(" pending "),
        "{out}"
    );
    assert!(rows[2].contains("published; signs from"), "{out}");

    let (code, _, err) = admin("keys", &data, &["rotate"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("already published and waiting to sign"),
        "{err}"
    );
    let (code, _, err) = admin("keys", &data, &["rotate", "--alg", "none"]);
    assert_eq!(code, 2);
    assert!(err.contains("--alg"), "{err}");
}

/// The kid of the row of `waxseal keys list` in `state`, of the signing series (not the RS256 key of ID tokens).
fn listed_kid(out: &str, state: &str) -> String {
    out.lines()
        .skip(1)
        .find(|row| {
            let mut columns = row.split_whitespace().skip(1);
            columns.next() != Some("RS256") && columns.next() == Some(state)
        })
        .and_then(|row| row.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {state} key in {out}"))
        .to_owned()
}

/// The kid in a token's header.
fn kid_of(token: &str) -> String {
    waxseal::jwt::decode_unverified(token).unwrap().header["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn keys_revoke_withdraws_a_leaked_key_from_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert_eq!(user_add(&data, "alice", &format!("{PASSWORD}\n")).0, 0);
    let (child, addr) = serve(&data);
    let access = |addr: &str| {
        let (status, body) = login(addr, "alice", PASSWORD);
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let old = access(&addr);
    // Twice: the second answer comes from the verified-token cache, which the revocation must empty.
    assert_eq!(me(&addr, &old), 200);
    assert_eq!(me(&addr, &old), 200);
    let (_, out, _) = admin("keys", &data, &["list"]);
    let leaked = listed_kid(&out, "active");
    assert_eq!(kid_of(&old), leaked);
    let dump = dir.path().join("before.json");
    let out = waxseal()
        .arg("export")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&dump, &out.stdout).unwrap();

    let (code, out, err) = admin("keys", &data, &["revoke", &leaked]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("revoked key {leaked} (ES256)")),
        "{out}"
    );
    assert!(out.contains("signs new tokens from"), "{out}");
    assert!(out.contains("within a second"), "no Redis given: {out}");
    assert!(out.contains("sign in again"), "{out}");
    refused_soon(&addr, &old);
    let (status, jwks) = http(&addr, "GET", "/.well-known/jwks.json", None);
    assert_eq!(status, 200);
    assert!(!jwks.contains(&leaked), "{jwks}");
    let new = access(&addr);
    assert_ne!(kid_of(&new), leaked, "a fresh key signs");
    assert!(jwks.contains(&kid_of(&new)), "{jwks}");
    assert_eq!(me(&addr, &new), 200);

    let (_, out, _) = admin("keys", &data, &["list"]);
    assert_eq!(listed_kid(&out, "revoked"), leaked, "{out}");
    assert_eq!(listed_kid(&out, "active"), kid_of(&new), "{out}");
    assert!(out.contains("its tokens refused"), "{out}");

    let (code, _, err) = admin("keys", &data, &["revoke", &leaked]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already revoked"), "{err}");
    let (code, _, err) = admin("keys", &data, &["revoke", "no-such-kid"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no signing key has kid \"no-such-kid\""),
        "{err}"
    );
    // The dump taken before the revocation would bring the key back: refused, naming it.
    let dump = dump.to_str().unwrap();
    let (code, _, err) = admin("import", &data, &["--replace", "--input", dump]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("signing key {leaked} in the dump was revoked")),
        "{err}"
    );
    refused_soon(&addr, &old);
    let (clean, err) = terminate(child);
    assert!(clean, "{err}");
}

#[test]
fn serve_signs_with_the_configured_algorithm_and_hmac_needs_the_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = waxseal()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "off",
            "--signing-alg",
            "EdDSA",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("signing key") {
        assert!(stdout.read_line(&mut banner).unwrap() > 0, "{banner}");
    }
    assert!(banner.contains("signing key     EdDSA, kid "), "{banner}");
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    assert!(terminate(child).0);

    let (code, out, err) = print_config(
        Some("signing_alg = \"PS256\"\nkey_rotation = \"30d\"\n"),
        &[("WAXSEAL_KEY_ROTATION", "off")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    assert_eq!(shown["signing_alg"].as_str(), Some("PS256"), "{out}");
    assert_eq!(shown["key_rotation"].as_str(), Some("off"), "{out}");
    assert_eq!(
        shown["allow_symmetric_signing"].as_bool(),
        Some(false),
        "{out}"
    );

    let (code, _, err) = print_config(None, &[], &["--signing-alg", "HS256"]);
    assert_eq!(code, 2);
    assert!(err.contains("--allow-symmetric-signing"), "{err}");
    let (code, out, err) = print_config(
        None,
        &[],
        &["--signing-alg", "HS256", "--allow-symmetric-signing"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(printed(&out)["signing_alg"].as_str(), Some("HS256"));
    for (flags, reason) in [
        (["--signing-alg", "ES256K"], "does not sign with ES256K"),
        (["--signing-alg", "none"], "signing algorithm \"none\""),
        (["--key-rotation", "1h"], "minimum of once a day"),
    ] {
        let (code, _, err) = print_config(None, &[], &flags);
        assert_eq!(code, 2, "{flags:?}");
        assert!(err.contains(reason), "{flags:?}: {err}");
    }
}

/// `POST /oauth/token` with a form body and client_secret_post: (status, JSON body).
fn token_request(addr: &str, form: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

#[test]
fn client_add_may_introspect_is_recorded_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = client_add(&data, &["orders-api", "--may-introspect"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("may introspect every client's access tokens"),
        "{out}"
    );
    let rs = field(&out, "client_id:").to_owned();
    let (code, out, err) = client_add(&data, &["app", "--grant", "password"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("introspect"), "{out}");
    let app = field(&out, "client_id:").to_owned();
    let (code, out, err) = admin("client", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("INTROSPECT"), "{out}");
    let row = |id: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not listed: {out}"))
    };
    assert!(row(&rs).contains("  all  "), "{out}");
    assert!(row(&app).contains("  own  "), "{out}");
}

#[test]
fn client_add_web_origins_default_to_a_public_clients_redirect_uris_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let code_flow = ["--grant", "authorization_code", "--redirect-uri"];
    let (code, out, err) = client_add(
        &data,
        &[
            &["spa", "--public"][..],
            &code_flow,
            &["https://spa.example.com/cb"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Pages on https://spa.example.com may read its answers")
            && err.contains("redirect URIs' origins"),
        "{err}"
    );
    let spa = field(&out, "client_id:").to_owned();
    let (code, out, err) = client_add(
        &data,
        &[
            &["web"][..],
            &code_flow,
            &["https://app.example.com/cb"],
            &["--web-origin", "https://app.example.com"],
            &["--web-origin", "http://localhost:5173"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Pages on https://app.example.com, http://localhost:5173 may read"),
        "{err}"
    );
    let web = field(&out, "client_id:").to_owned();
    let (code, out, err) = admin("client", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("WEB_ORIGINS"), "{out}");
    let row = |id: &str| *lines.iter().find(|l| l.starts_with(id)).unwrap();
    assert!(row(&spa).contains("https://spa.example.com "), "{out}");
    assert!(
        row(&web).contains("https://app.example.com,http://localhost:5173 "),
        "{out}"
    );

    for (origin, says) in [
        (
            "https://app.example.com/",
            "register \"https://app.example.com\"",
        ),
        ("null", "any page"),
        ("*", "any page"),
        ("http://app.example.com", "use https"),
    ] {
        let (code, _, err) = client_add(
            &data,
            &[
                &["bad"][..],
                &code_flow,
                &["https://app.example.com/cb", "--web-origin", origin],
            ]
            .concat(),
        );
        assert_ne!(code, 0, "{origin}");
        assert!(err.contains(says), "{origin}: {err}");
    }
    let (code, _, err) = client_add(
        &data,
        &[
            "batch",
            "--grant",
            "client_credentials",
            "--web-origin",
            "https://app.example.com",
        ],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("only for a client that signs people in"),
        "{err}"
    );
    let (_, out, _) = admin("client", &data, &["list"]);
    assert!(
        !out.contains("bad") && !out.contains("batch"),
        "nothing refused was added: {out}"
    );
}

#[test]
fn resource_add_list_remove_and_the_refusals_of_add() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = admin("resource", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.is_empty() && err.contains("no resources yet"),
        "{out}{err}"
    );
    let mcp = "https://mcp.example.com/mcp";
    let (code, out, err) = admin(
        "resource",
        &data,
        &[
            "add",
            mcp,
            "--scope",
            "mcp:tools",
            "--scope",
            "mcp:resources",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("added resource https://mcp.example.com/mcp"),
        "{out}"
    );
    let (code, _, err) = admin(
        "resource",
        &data,
        &["add", "http://127.0.0.1:8931/mcp", "--scope", "x"],
    );
    assert_eq!(code, 0, "loopback http: {err}");
    let (code, out, err) = admin("resource", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("URI") && lines[0].contains("SCOPES"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("http://127.0.0.1:8931/mcp"),
        "by URI: {out}"
    );
    assert!(
        lines[2].starts_with(mcp) && lines[2].ends_with("mcp:tools mcp:resources"),
        "{out}"
    );

    for (args, why) in [
        (&[mcp, "--scope", "other"][..], "registered already"),
        (
            &["https://mcp.example.com/mcp#frag", "--scope", "x"],
            "fragment",
        ),
        (
            &["http://mcp.example.com/mcp", "--scope", "x"],
            "http to another host",
        ),
        (&["mcp.example.com", "--scope", "x"], "not absolute"),
        (
            &["https://other.example/", "--scope", "openid"],
            "a sign-in scope",
        ),
        (&["https://other.example/"], "no scope"),
    ] {
        let mut all = vec!["add"];
        all.extend_from_slice(args);
        let (code, _, err) = admin("resource", &data, &all);
        assert_ne!(code, 0, "{why}: {err}");
        assert!(!err.is_empty(), "{why}: says what is wrong");
    }

    let (code, out, err) = admin("resource", &data, &["remove", mcp]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("removed resource"), "{out}");
    let (code, _, err) = admin("resource", &data, &["remove", mcp]);
    assert_ne!(code, 0);
    assert!(err.contains("waxseal resource list"), "{err}");
    let (_, out, _) = admin("resource", &data, &["list"]);
    assert!(!out.contains(mcp), "{out}");
}

#[test]
fn client_list_rotate_secret_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = admin("client", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.is_empty() && err.contains("no clients yet"),
        "{out}{err}"
    );
    assert_eq!(user_add(&data, "alice", &format!("{PASSWORD}\n")).0, 0);
    let (code, out, err) = client_add(
        &data,
        &[
            "mobile-app",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--scope",
            "read:orders",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = field(&out, "client_id:").to_owned();
    let old_secret = field(&out, "client_secret:").to_owned();
    let (code, out, _) = client_add(&data, &["batch"]);
    assert_eq!(code, 0);
    let batch_secret = field(&out, "client_secret:").to_owned();

    let (code, out, err) = admin("client", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("CLIENT_ID") && lines[0].contains("GRANTS"),
        "{out}"
    );
    assert!(
        lines[1].contains("batch") && lines[1].contains("client_credentials"),
        "{out}"
    );
    assert!(lines[1].ends_with('-'), "no scopes: {out}");
    assert!(
        lines[2].starts_with(&id)
            && lines[2].contains("mobile-app")
            && lines[2].contains("password refresh_token")
            && lines[2].ends_with("read:orders")
            && lines[2].contains(" UTC"),
        "{out}"
    );
    for secret in [&old_secret, &batch_secret] {
        assert!(
            !out.contains(secret.as_str()) && !err.contains(secret.as_str()),
            "a secret is shown"
        );
    }
    assert!(!out.to_lowercase().contains("hash"), "{out}");

    let (child, addr) = serve(&data);
    let password_grant = |secret: &str| {
        token_request(
            &addr,
            &format!(
                "grant_type=password&username=alice&password={}&client_id={id}&client_secret={secret}",
                PASSWORD.replace(' ', "+")
            ),
        )
    };
    let (status, body) = password_grant(&old_secret);
    assert_eq!(status, 200, "{body}");
    let first_access = body["access_token"].as_str().unwrap().to_owned();
    let first_refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // Rotation: the new secret is printed once, the old one is refused by the running server at once.
    let (code, out, err) = admin("client", &data, &["rotate-secret", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("rotated the secret of client {id}")),
        "{out}"
    );
    let new_secret = field(&out, "client_secret:").to_owned();
    assert_eq!(new_secret.len(), 43);
    assert_ne!(new_secret, old_secret);
    assert!(
        err.contains("old secret no longer works") && !err.contains(&new_secret),
        "{err}"
    );
    let (status, body) = password_grant(&old_secret);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = password_grant(&new_secret);
    assert_eq!(status, 200, "{body}");
    assert_eq!(me(&addr, &first_access), 200, "a rotation revokes nothing");

    // Deletion: its sessions end in the running server, its refresh tokens are refused.
    let (code, out, err) = admin("client", &data, &["delete", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("deleted client {id}")), "{out}");
    refused_soon(&addr, &first_access);
    let (status, body) = token_request(
        &addr,
        &format!(
            "grant_type=refresh_token&refresh_token={first_refresh}&client_id={id}&client_secret={new_secret}"
        ),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, _) = http(
        &addr,
        "POST",
        "/refresh",
        Some(&format!(r#"{{"refresh_token":"{first_refresh}"}}"#)),
    );
    assert_eq!(status, 401);
    let (_, out, _) = admin("client", &data, &["list"]);
    assert!(!out.contains(&id) && out.contains("batch"), "{out}");

    for args in [
        &["delete", id.as_str()][..],
        &["rotate-secret", id.as_str()],
    ] {
        let (code, out, err) = admin("client", &data, args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(
            err.contains("no client with id") && err.contains("client list"),
            "{err}"
        );
    }
    let (clean, err) = terminate(child);
    assert!(clean, "{err}");
    for secret in [&old_secret, &new_secret, &first_refresh] {
        assert!(!err.contains(secret.as_str()), "a secret in the log");
    }
}

#[test]
fn refresh_cookie_comes_from_the_flag_the_variable_or_the_file() {
    let shown = |file: Option<&str>, env: &[(&str, &str)], flags: &[&str]| {
        let (code, out, err) = print_config(file, env, flags);
        assert_eq!(code, 0, "{err}");
        printed(&out)["refresh_cookie"].as_bool()
    };
    let on = Some("refresh_cookie = true\n");
    assert_eq!(shown(None, &[], &[]), Some(false), "off by default");
    assert_eq!(shown(on, &[], &[]), Some(true));
    assert_eq!(
        shown(on, &[("WAXSEAL_REFRESH_COOKIE", "false")], &[]),
        Some(false)
    );
    assert_eq!(
        shown(None, &[("WAXSEAL_REFRESH_COOKIE", "1")], &[]),
        Some(true)
    );
    assert_eq!(
        shown(
            on,
            &[("WAXSEAL_REFRESH_COOKIE", "true")],
            &["--refresh-cookie=false"]
        ),
        Some(false)
    );
    assert_eq!(
        shown(
            None,
            &[("WAXSEAL_REFRESH_COOKIE", "no")],
            &["--refresh-cookie"]
        ),
        Some(true)
    );

    // Browsers keep Secure cookies only from https (or loopback): a plain-http public issuer is refused.
    let (code, _, err) = print_config(None, &[], &["--refresh-cookie", "--listen", "0.0.0.0:8080"]);
    assert_eq!(code, 2);
    assert!(err.contains("cookie mode needs an https issuer"), "{err}");
    let (code, out, err) = print_config(
        None,
        &[],
        &[
            "--refresh-cookie",
            "--listen",
            "0.0.0.0:8080",
            "--issuer",
            "https://auth.example.com",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(printed(&out)["refresh_cookie"].as_bool(), Some(true));
    let (code, _, err) = print_config(Some("refresh_cookie = \"yes\"\n"), &[], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("refresh_cookie"), "{err}");
}

#[test]
fn serve_in_cookie_mode_sets_the_refresh_cookie_and_serves_metrics_and_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = user_add(&data, "alice", &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    let (child, addr, management) = serve_managed(&data, &["--refresh-cookie"]);
    let management = management.expect("a management line in the banner");
    let (status, head, body) = http_full(
        &addr,
        "POST",
        "/login",
        "",
        Some(&format!(
            r#"{{"username":"alice","password":"{PASSWORD}"}}"#
        )),
    );
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no Set-Cookie in {head}"));
    assert!(cookie.starts_with("__Secure-waxseal-refresh="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/refresh; Max-Age=604800; HttpOnly; Secure; SameSite=Strict"),
        "{cookie}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        body.get("refresh_token").is_none() && body["csrf_token"].is_string(),
        "{body}"
    );
    let (status, metrics) = http(&management, "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("waxseal_logins_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    let (status, openapi) = http(&addr, "GET", "/openapi.json", None);
    assert_eq!(status, 200);
    let openapi: serde_json::Value = serde_json::from_str(&openapi).unwrap();
    assert!(
        openapi["paths"]["/refresh"]["post"]["requestBody"].is_null(),
        "cookie mode is documented"
    );
    let (stopped, _) = terminate(child);
    assert!(stopped);
}

/// `waxseal verify ARGS TOKEN`: (code, stdout, stderr).
fn verify(args: &[&str], token: &str) -> (i32, String, String) {
    let out = waxseal()
        .env_remove("WAXSEAL_NOW")
        .arg("verify")
        .args(args)
        .arg(token)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn verify_issuer_and_jwks_url_check_the_tokens_of_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert_eq!(user_add(&data, "alice", PASSWORD).0, 0);
    let (child, addr) = serve(&data);
    let (status, body) = login(&addr, "alice", PASSWORD);
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let access = body["access_token"].as_str().unwrap();
    let issuer = format!("http://{addr}");

    // Discovery from the server's own metadata, then its JWKS; iss and aud as the server issues them.
    let (code, out, err) = verify(&["--issuer", &issuer, "--aud", "waxseal-api"], access);
    assert_eq!(code, 0, "{err}");
    let claims: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["scope"], "read:orders");
    let (code, _, err) = verify(
        &[
            "--jwks",
            &format!("{issuer}/.well-known/jwks.json"),
            "--aud",
            "waxseal-api",
        ],
        access,
    );
    assert_eq!(code, 0, "{err}");
    // Another audience is still another audience.
    let (code, _, err) = verify(&["--issuer", &issuer, "--aud", "billing"], access);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ERR_JWT_AUDIENCE"), "{err}");

    let (stopped, _) = terminate(child);
    assert!(stopped);
}

#[test]
fn client_add_registers_the_id_token_algorithm_and_the_pkce_exemption_and_refuses_what_cannot_work()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let redirect = ["--redirect-uri", "https://rp.example/cb"];
    let (code, out, err) = client_add(
        &data,
        &[
            &["legacy-rp", "--id-token-alg", "RS256", "--pkce-exempt"][..],
            &redirect[..],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let rp = field(&out, "client_id:").to_owned();
    let (code, out, err) = client_add(&data, &[&["spa", "--public"][..], &redirect[..]].concat());
    assert_eq!(code, 0, "{err}");
    let spa = field(&out, "client_id:").to_owned();
    let (code, out, err) = admin("client", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("ID_TOKEN") && lines[0].contains("PKCE"),
        "{out}"
    );
    let row = |id: &str| *lines.iter().find(|l| l.starts_with(id)).unwrap();
    assert!(
        row(&rp).contains("  RS256  ") && row(&rp).contains("  exempt  "),
        "{out}"
    );
    assert!(
        row(&spa).contains("  default  ") && row(&spa).contains("  required  "),
        "{out}"
    );

    for (flags, reason) in [
        (
            &["--public", "--pkce-exempt"][..],
            "--pkce-exempt is only for a confidential client",
        ),
        (
            &["--id-token-alg", "PS256"][..],
            "--id-token-alg PS256 is not offered: ID tokens are signed with ES256 or RS256",
        ),
        (&["--id-token-alg", "nope"][..], "--id-token-alg"),
    ] {
        let (code, _, err) = client_add(&data, &[&["x"][..], flags, &redirect[..]].concat());
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert!(err.contains(reason), "{flags:?}: {err}");
    }
}

#[test]
fn client_add_require_dpop_is_recorded_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = client_add(
        &data,
        &["strict", "--grant", "client_credentials", "--require-dpop"],
    );
    assert_eq!(code, 0, "{err}");
    let strict = field(&out, "client_id:").to_owned();
    let (code, out, err) = client_add(&data, &["lax", "--grant", "client_credentials"]);
    assert_eq!(code, 0, "{err}");
    let lax = field(&out, "client_id:").to_owned();
    let (code, out, err) = admin("client", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("DPOP"), "{out}");
    let row = |id: &str| *lines.iter().find(|l| l.starts_with(id)).unwrap();
    assert!(row(&strict).contains("required"), "{out}");
    assert!(!row(&lax).contains("required"), "{out}");
}

#[test]
fn client_add_registers_token_encryption_and_refuses_keys_the_server_cannot_encrypt_to() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let redirect = ["--redirect-uri", "https://rp.example/cb"];
    let mut private = waxseal::SigningKey::generate(waxseal::Algorithm::RS256)
        .unwrap()
        .to_jwk()
        .unwrap();
    private.alg = Some("RSA-OAEP-256".into());
    private.use_ = Some("enc".into());
    private.key_ops = None;
    let public = private.to_public().unwrap().to_json();
    let key_file = dir.path().join("rp.pub.jwk");
    std::fs::write(&key_file, &public).unwrap();
    let key_path = key_file.to_str().unwrap();

    // From a file, with the default enc; inline, with another enc and encrypted access tokens.
    let (code, out, err) = client_add(
        &data,
        &[
            &["file-rp", "--encryption-key", key_path][..],
            &redirect[..],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let file_rp = field(&out, "client_id:").to_owned();
    let (code, out, err) = client_add(
        &data,
        &[
            &[
                "inline-rp",
                "--encryption-key",
                &public,
                "--encryption-enc",
                "A256GCM",
            ][..],
            &["--encrypt-access-tokens"][..],
            &redirect[..],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let inline_rp = field(&out, "client_id:").to_owned();
    let (code, out, err) = admin("client", &data, &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("ID_TOKEN_ENCRYPTION") && lines[0].contains("AT_ENCRYPT"),
        "{out}"
    );
    let row = |id: &str| *lines.iter().find(|l| l.starts_with(id)).unwrap();
    assert!(
        row(&file_rp).contains("RSA-OAEP-256/A128CBC-HS256"),
        "{out}"
    );
    assert!(!row(&file_rp).contains("server"), "{out}");
    assert!(
        row(&inline_rp).contains("RSA-OAEP-256/A256GCM") && row(&inline_rp).contains("server"),
        "{out}"
    );

    let private_json = private.to_json();
    for (flags, reason) in [
        (
            vec!["--encryption-key", private_json.as_str()],
            "pass the client's public key",
        ),
        (
            vec![
                "--encryption-key",
                r#"{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","alg":"A128KW"}"#,
            ],
            "store the client's secret",
        ),
        (
            vec!["--encryption-key", key_path, "--encryption-enc", "A512GCM"],
            "--encryption-enc",
        ),
        (
            vec!["--encryption-key", "/no/such/file.jwk"],
            "--encryption-key",
        ),
    ] {
        let (code, _, err) = client_add(&data, &[&["x"][..], &flags, &redirect[..]].concat());
        assert_ne!(code, 0, "{flags:?}: {err}");
        assert!(err.contains(reason), "{flags:?}: {err}");
        assert!(!err.contains("AAAAAAAAAAAAAAAA"), "no secret echoed: {err}");
    }
}

#[test]
fn serve_prints_the_management_listener_which_alone_serves_metrics_and_readiness_details() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, management) = serve_managed(&dir.path().join("data"), &[]);
    let management = management.expect("a management line in the banner");
    assert_ne!(management, addr);
    assert!(!management.ends_with(":0"), "the real port: {management}");

    let (status, head, metrics) = http_full(&management, "GET", "/metrics", "", None);
    assert_eq!(status, 200, "{metrics}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(metrics.contains("waxseal_logins_total"), "{metrics}");
    let (status, body) = http(&addr, "GET", "/metrics", None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("\"error\""), "the router's JSON 404: {body}");

    let (status, body) = http(&management, "GET", "/readyz", None);
    assert_eq!(status, 200);
    let details: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(details["database"], "up", "{body}");
    let (status, body) = http(&addr, "GET", "/readyz", None);
    assert_eq!(status, 200);
    let public: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(public, serde_json::json!({"status": "ready"}));
    let (stopped, err) = terminate(child);
    assert!(stopped, "{err}");
}

#[test]
fn management_address_in_use_is_refused_at_start_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Held for the whole test, so the port is taken when the server tries it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = taken.local_addr().unwrap().to_string();
    let out = waxseal()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            &at,
        ])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&at), "names the address: {err}");
    assert!(
        err.contains("pass --management-listen with a free address, or --management-listen off"),
        "{err}"
    );
    drop(taken);
}

#[test]
fn management_listen_off_serves_no_management_listener_and_prints_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = waxseal()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "off",
        ])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("Press Ctrl-C to stop.") {
        assert!(stdout.read_line(&mut banner).unwrap() > 0, "{banner}");
    }
    assert!(!banner.contains("management"), "{banner}");
    assert!(
        !banner.contains("/metrics"),
        "no metrics anywhere: {banner}"
    );
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let (stopped, err) = terminate(child);
    assert!(stopped, "{err}");

    let (code, out, err) = print_config(None, &[], &["--management-listen", "off"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        printed(&out)["management_listen"].as_str(),
        Some("off"),
        "{out}"
    );
    let (code, out, err) = print_config(None, &[], &[]);
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    assert_eq!(
        shown["management_listen"].as_str(),
        Some("127.0.0.1:9000"),
        "{out}"
    );
    assert_eq!(shown["public_metrics"].as_bool(), Some(false), "{out}");
    let (code, out, err) = print_config(
        Some("management_listen = \"127.0.0.1:9100\"\npublic_metrics = true\n"),
        &[("WAXSEAL_MANAGEMENT_LISTEN", "127.0.0.1:9200")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let shown = printed(&out);
    assert_eq!(
        shown["management_listen"].as_str(),
        Some("127.0.0.1:9200"),
        "{out}"
    );
    assert_eq!(shown["public_metrics"].as_bool(), Some(true), "{out}");
}

#[test]
fn public_metrics_serves_them_on_the_public_listener_too() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, management) = serve_managed(&dir.path().join("data"), &["--public-metrics"]);
    assert!(management.is_some());
    let (status, metrics) = http(&addr, "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(metrics.contains("waxseal_logins_total"), "{metrics}");
    let (stopped, err) = terminate(child);
    assert!(stopped, "{err}");
}
