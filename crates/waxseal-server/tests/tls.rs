//! HTTPS: a certificate made here, a real TLS client trusting only it, plain HTTP refused, a graceful shutdown
//! that finishes the request in flight, clear start-up errors, and the warning for a clear-text public listener.
// The helpers (certificate, client, connection) unwrap too: a failure there is the test's failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Capture, PASSWORD, TestClock, TestServer, bind, config, tokens};
use rustls::pki_types::pem::PemObject as _;
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use waxseal_server::{Config, ErrorKind, Server, TlsFiles};

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files in `dir`.
struct Certificate {
    files: TlsFiles,
    pem: String,
}

fn certificate(dir: &Path, name: &str) -> Certificate {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    Certificate {
        files: TlsFiles { cert, key },
        pem: made.cert.pem(),
    }
}

/// A client that trusts `pem` and nothing else.
fn client(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

async fn https_server(dir: &Path) -> (TestServer, Certificate) {
    let cert = certificate(dir, "server");
    let server = TestServer::start_https(
        bind().await,
        Config {
            tls: Some(cert.files.clone()),
            ..config(&dir.join("data"))
        },
        TestClock::new(),
        client(&cert.pem),
    )
    .await;
    (server, cert)
}

#[tokio::test]
async fn the_flow_works_over_https_with_the_certificate_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = https_server(dir.path()).await;
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    server.add_user("alice", &[]).await;
    let (access, refresh) = server.login_ok("alice").await;
    let (status, _, body) = server.get_with("/api/me", &access).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.refresh(&refresh).await;
    assert_eq!(status, 200, "{body}");
    let (access, _) = tokens(&body);
    assert_eq!(server.logout(&access, None, false).await, 204);

    // A client that does not trust the certificate refuses the connection.
    let stranger = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(
            certificate(dir.path(), "other").pem.as_bytes(),
        )
        .unwrap()])
        .build()
        .unwrap();
    assert!(stranger.get(server.at("/healthz")).send().await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn the_management_listener_serves_https_with_the_same_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = https_server(dir.path()).await;
    assert!(
        server.management_url.starts_with("https://127.0.0.1:"),
        "{}",
        server.management_url
    );
    let response = server
        .client
        .get(server.management_at("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let plain = server.management_url.replace("https://", "http://");
    let answer = reqwest::Client::new()
        .get(format!("{plain}/metrics"))
        .send()
        .await;
    assert!(answer.is_err(), "{answer:?}");
    server.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_no_http_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = https_server(dir.path()).await;
    let plain = server.url.replace("https://", "http://");
    let answer = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(answer.is_err(), "{answer:?}");
    // The TLS port still serves HTTPS afterwards.
    let status = server
        .client
        .get(server.at("/healthz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    server.stop().await;
}

/// A TLS connection of our own, to hold a request half-sent across the shutdown.
async fn connect(
    addr: SocketAddr,
    pem: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("127.0.0.1".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_request_in_flight_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, cert) = https_server(dir.path()).await;
    server.add_user("bob", &[]).await;
    let addr: SocketAddr = server.url.trim_start_matches("https://").parse().unwrap();

    // Headers first, with `Expect: 100-continue`: the server answers 100 only once the handler is reading the
    // body, so the request is provably in flight before the shutdown starts.
    let body = json!({"username": "bob", "password": PASSWORD}).to_string();
    let mut stream = BufReader::new(connect(addr, &cert.pem).await);
    stream
        .get_mut()
        .write_all(
            format!(
                "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.get_mut().flush().await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("HTTP/1.1 100"), "{line:?}");
    stream.read_line(&mut line).await.unwrap(); // the blank line after 100 Continue

    server.begin_stop();
    // New connections are refused once the listener is closed; wait for that without sleeping blindly.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(refused, "the listener closed on shutdown");

    stream.get_mut().write_all(body.as_bytes()).await.unwrap();
    stream.get_mut().flush().await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"access_token\""), "{response}");
    server.stop().await;
}

fn open_error(files: TlsFiles, dir: &Path) -> waxseal_server::Error {
    let config = Config {
        tls: Some(files),
        ..config(&dir.join("data"))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime
        .block_on(Server::open_with_clock(config, TestClock::new()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(
        !dir.join("data").exists(),
        "nothing is created before the TLS files are checked"
    );
    err
}

#[test]
fn unusable_certificates_and_keys_are_refused_at_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = certificate(dir.path(), "good");
    let other = certificate(dir.path(), "other");
    let missing: PathBuf = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::File::create(&garbage)
        .unwrap()
        .write_all(b"not a PEM file\n")
        .unwrap();

    let err = open_error(
        TlsFiles {
            cert: missing.clone(),
            key: good.files.key.clone(),
        },
        dir.path(),
    );
    assert!(
        err.message().contains("cannot read the TLS certificate")
            && err.message().contains("missing.pem")
            && err.message().contains("--tls-cert"),
        "{err}"
    );

    let err = open_error(
        TlsFiles {
            cert: good.files.cert.clone(),
            key: missing,
        },
        dir.path(),
    );
    assert!(
        err.message().contains("cannot read the TLS private key")
            && err.message().contains("--tls-key"),
        "{err}"
    );

    let err = open_error(
        TlsFiles {
            cert: good.files.key.clone(),
            key: good.files.cert.clone(),
        },
        dir.path(),
    );
    assert!(
        err.message()
            .contains("holds no -----BEGIN CERTIFICATE-----"),
        "swapped files: {err}"
    );

    let err = open_error(
        TlsFiles {
            cert: good.files.cert.clone(),
            key: garbage,
        },
        dir.path(),
    );
    assert!(err.message().contains("holds no PEM private key"), "{err}");

    let err = open_error(
        TlsFiles {
            cert: good.files.cert.clone(),
            key: other.files.key.clone(),
        },
        dir.path(),
    );
    assert!(
        err.message().contains("does not belong to the certificate"),
        "mismatched key: {err}"
    );
}

/// The warning is logged by `Server::serve` as it starts; a current-thread runtime keeps every event on this
/// thread, so a thread-local subscriber sees it.
async fn serve_briefly(listen: SocketAddr, tls: Option<TlsFiles>, dir: &Path) -> String {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    let server = Server::open_with_clock(Config { tls, ..config(dir) }, TestClock::new())
        .await
        .unwrap();
    server.serve(listener, async {}).await.unwrap();
    capture.text()
}

#[tokio::test]
async fn listening_beyond_loopback_without_tls_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let cert = certificate(dir.path(), "server");

    let logs = serve_briefly(any, None, &dir.path().join("a")).await;
    assert!(
        logs.contains("WARN") && logs.contains("listening beyond loopback without TLS"),
        "{logs}"
    );
    assert!(
        logs.contains("--tls-cert"),
        "the warning says what to do: {logs}"
    );

    let logs = serve_briefly(any, Some(cert.files.clone()), &dir.path().join("b")).await;
    assert!(!logs.contains("without TLS"), "{logs}");
    let logs = serve_briefly(loopback, None, &dir.path().join("c")).await;
    assert!(!logs.contains("without TLS"), "{logs}");
    assert!(
        logs.contains("generated a signing key"),
        "the capture works: {logs}"
    );
}
