//! The listener's limits over real loopback connections: the header read, idle and body timeouts close slow and
//! idle clients, and the connection caps close new connections at once, per address and in total — over plain
//! HTTP and over TLS, which share the listener. Timeouts are set small through `Config` so the suite stays fast;
//! every bound on the far side of a timeout is generous (a busy machine delays the close, never hastens it), and
//! the near side is the timeout itself (timers never fire early).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestClock, TestServer, bind, config};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use waxseal_server::{Config, TlsFiles};

/// How much later than its timeout a close may come on a busy two-core machine.
const SLACK: Duration = Duration::from_secs(4);
/// How long a connection closed "at once" may take to see it: far below every timeout the tests set.
const AT_ONCE: Duration = Duration::from_secs(3);
/// Timeouts not under test: longer than any test runs.
const NOT_UNDER_TEST: Duration = Duration::from_secs(120);

fn limits(dir: &std::path::Path) -> Config {
    Config {
        header_read_timeout: NOT_UNDER_TEST,
        idle_timeout: NOT_UNDER_TEST,
        body_timeout: NOT_UNDER_TEST,
        ..config(dir)
    }
}

async fn start(config: Config) -> (TestServer, SocketAddr) {
    let server = TestServer::start_with(config, TestClock::new()).await;
    let addr = server.url.trim_start_matches("http://").parse().unwrap();
    (server, addr)
}

/// A connection to `server` from the loopback address 127.0.0.`from` (all of 127.0.0.0/8 is local on Linux).
async fn connect_from(from: u8, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, from)),
            0,
        ))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes the connection; `Err` with what was read if it is still open at `limit`.
async fn closed_within(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> Result<String, String> {
    let mut seen = Vec::new();
    let outcome = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    match outcome {
        Ok(()) => Ok(text),
        Err(_) => Err(text),
    }
}

/// Sends `request` and reads one response whose body has a Content-Length; returns the response head and body.
async fn exchange(stream: &mut (impl AsyncRead + AsyncWrite + Unpin), request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        assert!(n > 0, "closed before the response: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return text.into_owned();
            }
        }
    }
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

/// Writes `bytes` one at a time, `every` apart, until the connection fails; returns when it does.
async fn trickle(mut writer: impl AsyncWrite + Unpin, bytes: &'static [u8], every: Duration) {
    for byte in bytes.iter().cycle() {
        if writer.write_all(&[*byte]).await.is_err() || writer.flush().await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_sent_a_byte_at_a_time_is_closed_at_the_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(1);
    let (server, addr) = start(Config {
        header_read_timeout: timeout,
        ..limits(dir.path())
    })
    .await;
    let started = Instant::now();
    let stream = connect_from(1, addr).await;
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    // A byte every 200 ms: each one well inside any per-read timeout, the header never complete.
    let writing = tokio::spawn(trickle(
        writer,
        b"X-Slow: a\r\n",
        Duration::from_millis(200),
    ));
    let closed = closed_within(&mut reader, timeout + SLACK).await;
    let elapsed = started.elapsed();
    writing.abort();
    let answer = closed.unwrap_or_else(|seen| panic!("still open after {elapsed:?}: {seen:?}"));
    assert!(
        elapsed >= timeout,
        "closed after {elapsed:?}, before the timeout"
    );
    assert!(!answer.contains("200 OK"), "{answer}");
    // A client that sends its request at once is served.
    let mut prompt = connect_from(1, addr).await;
    assert!(
        exchange(&mut prompt, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(1);
    let (server, addr) = start(Config {
        header_read_timeout: timeout,
        ..limits(dir.path())
    })
    .await;
    let started = Instant::now();
    let mut silent = connect_from(1, addr).await;
    let closed = closed_within(&mut silent, timeout + SLACK).await;
    let elapsed = started.elapsed();
    closed.unwrap_or_else(|seen| panic!("still open after {elapsed:?}: {seen:?}"));
    assert!(elapsed >= timeout, "closed after {elapsed:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_waits_the_idle_timeout_for_its_next_request_then_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let header = Duration::from_millis(500);
    let idle = Duration::from_secs(2);
    let (server, addr) = start(Config {
        header_read_timeout: header,
        idle_timeout: idle,
        ..limits(dir.path())
    })
    .await;

    // Longer than the header read timeout between requests is fine: the idle timeout applies.
    let mut patient = connect_from(1, addr).await;
    assert!(
        exchange(&mut patient, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    tokio::time::sleep(header * 2).await;
    assert!(
        exchange(&mut patient, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );

    // Idle past the idle timeout: closed.
    let mut idler = connect_from(1, addr).await;
    // Taken before the request: the server's wait begins after its response, so no later than we see it.
    let answered = Instant::now();
    assert!(
        exchange(&mut idler, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    let closed = closed_within(&mut idler, idle + SLACK).await;
    let elapsed = answered.elapsed();
    closed.unwrap_or_else(|seen| panic!("still open after {elapsed:?}: {seen:?}"));
    assert!(
        elapsed >= idle,
        "closed after {elapsed:?}, before the idle timeout"
    );

    // Once the next request has begun, its head has the header read timeout from its first byte.
    let mut slow = connect_from(1, addr).await;
    assert!(
        exchange(&mut slow, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    let (mut reader, mut writer) = slow.into_split();
    let first_byte = Instant::now();
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let writing = tokio::spawn(trickle(
        writer,
        b"X-Slow: a\r\n",
        Duration::from_millis(100),
    ));
    let closed = closed_within(&mut reader, header + SLACK).await;
    let elapsed = first_byte.elapsed();
    writing.abort();
    closed.unwrap_or_else(|seen| panic!("still open after {elapsed:?}: {seen:?}"));
    assert!(elapsed >= header, "closed after {elapsed:?}");
    assert!(
        elapsed < idle + SLACK / 2,
        "closed after {elapsed:?}: the idle timeout applied to a request under way"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_at_the_body_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(1);
    let (server, addr) = start(Config {
        body_timeout: timeout,
        ..limits(dir.path())
    })
    .await;
    let stream = connect_from(1, addr).await;
    let (mut reader, mut writer) = stream.into_split();
    let headers_sent = Instant::now();
    writer
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
        )
        .await
        .unwrap();
    // A byte every 200 ms: a timer restarted by each byte would never fire.
    let writing = tokio::spawn(trickle(writer, b" ", Duration::from_millis(200)));
    let closed = closed_within(&mut reader, timeout + SLACK).await;
    let elapsed = headers_sent.elapsed();
    writing.abort();
    let answer = closed.unwrap_or_else(|seen| panic!("still open after {elapsed:?}: {seen:?}"));
    assert!(elapsed >= timeout, "closed after {elapsed:?}");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    server.stop().await;
}

/// Waits until `condition` holds, checking every 20 ms, for at most 10 s.
async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of the series `name` in the server's metrics (read in process: a request would take a slot).
fn metric(server: &TestServer, name: &str) -> u64 {
    let text = server.service.render_metrics();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Opens `n` connections from 127.0.0.`from`, each served one request (so each has surely been admitted) and
/// kept alive.
async fn hold(addr: SocketAddr, from: u8, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut stream = connect_from(from, addr).await;
        assert!(
            exchange(&mut stream, HEALTHZ)
                .await
                .starts_with("HTTP/1.1 200")
        );
        held.push(stream);
    }
    held
}

/// Whether a fresh connection from 127.0.0.`from` is served.
async fn served_from(from: u8, addr: SocketAddr) -> bool {
    let mut stream = connect_from(from, addr).await;
    if stream.write_all(HEALTHZ.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    matches!(
        tokio::time::timeout(AT_ONCE, stream.read_exact(&mut buf)).await,
        Ok(Ok(_))
    ) && &buf == b"HTTP/1.1 200"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_per_address_cap_is_closed_at_once_and_other_addresses_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = start(Config {
        max_connections_per_address: 3,
        ..limits(dir.path())
    })
    .await;
    let mut held = hold(addr, 2, 3).await;
    assert_eq!(metric(&server, "waxseal_connections_open"), 3);
    let mut over = connect_from(2, addr).await;
    closed_within(&mut over, AT_ONCE)
        .await
        .unwrap_or_else(|seen| {
            panic!("the fourth connection from one address stayed open: {seen:?}")
        });
    assert_eq!(
        metric(
            &server,
            "waxseal_connections_refused_total{cap=\"per_address\"}"
        ),
        1
    );
    // Another address is served, and so are the held connections.
    assert!(served_from(3, addr).await);
    assert!(
        exchange(&mut held[0], HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    // A slot freed is a slot again.
    held.pop();
    eventually("a freed slot is taken", async || served_from(2, addr).await).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_total_cap_is_closed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = start(Config {
        max_connections: 4,
        max_connections_per_address: 3,
        ..limits(dir.path())
    })
    .await;
    let _first = hold(addr, 2, 3).await;
    let fourth = hold(addr, 3, 1).await;
    let mut over = connect_from(4, addr).await;
    closed_within(&mut over, AT_ONCE)
        .await
        .unwrap_or_else(|seen| panic!("a connection over the total cap stayed open: {seen:?}"));
    drop(fourth);
    eventually("the total cap admits again", async || {
        served_from(4, addr).await
    })
    .await;
    assert!(metric(&server, "waxseal_connections_refused_total{cap=\"total\"}") >= 1);
    server.stop().await;
}

#[test]
fn zero_and_absurd_limits_are_refused_with_the_setting_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let base = || config(dir.path());
    let cases = [
        (
            Config {
                header_read_timeout: Duration::ZERO,
                ..base()
            },
            "--header-read-timeout",
        ),
        (
            Config {
                idle_timeout: Duration::from_secs(2 * 60 * 60),
                ..base()
            },
            "--idle-timeout",
        ),
        (
            Config {
                body_timeout: Duration::ZERO,
                ..base()
            },
            "--body-timeout",
        ),
        (
            Config {
                max_connections: 0,
                ..base()
            },
            "--max-connections",
        ),
        (
            Config {
                max_connections: 100,
                max_connections_per_address: 101,
                ..base()
            },
            "--max-connections-per-address",
        ),
    ];
    for (config, flag) in cases {
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains(flag), "{flag}: {err}");
    }
    assert!(base().validate().is_ok());
}

/// A self-signed certificate for 127.0.0.1, and a TLS client trusting it that offers `alpn`.
fn tls_fixture(dir: &std::path::Path, alpn: &[&[u8]]) -> (TlsFiles, tokio_rustls::TlsConnector) {
    use rustls::pki_types::pem::PemObject as _;
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, made.cert.pem()).unwrap();
    std::fs::write(&files.key, made.signing_key.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(made.cert.pem().as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    (files, tokio_rustls::TlsConnector::from(Arc::new(client)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_get_the_same_limits_and_http2_is_not_negotiated() {
    let dir = tempfile::tempdir().unwrap();
    let (files, connector) = tls_fixture(dir.path(), &[b"h2", b"http/1.1"]);
    let timeout = Duration::from_secs(1);
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    let server = TestServer::start_https(
        listener,
        Config {
            tls: Some(files),
            header_read_timeout: timeout,
            max_connections_per_address: 2,
            ..limits(&dir.path().join("data"))
        },
        TestClock::new(),
        reqwest::Client::new(),
    )
    .await;
    let handshake = async |from: u8| {
        connector
            .connect(
                "127.0.0.1".try_into().unwrap(),
                connect_from(from, addr).await,
            )
            .await
    };
    // Two kept-alive connections from one address fill its cap (the idle timeout is long); an h2-capable client
    // is answered in HTTP/1.1: the server offers nothing else.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = handshake(2).await.unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert!(
            exchange(&mut stream, HEALTHZ)
                .await
                .starts_with("HTTP/1.1 200")
        );
        held.push(stream);
    }
    // The per-address cap: the third connection is closed before its handshake.
    assert!(
        handshake(2).await.is_err(),
        "a third connection from one address was served"
    );
    // The header read timeout, counted from the end of the handshake.
    // Taken before the handshake, which ends (and starts the timer) on the server after it does here.
    let handshaken = Instant::now();
    let mut silent = handshake(3).await.unwrap();
    let closed = closed_within(&mut silent, timeout + SLACK).await;
    let elapsed = handshaken.elapsed();
    closed.unwrap_or_else(|seen| panic!("still open after {elapsed:?}: {seen:?}"));
    assert!(elapsed >= timeout, "closed after {elapsed:?}");
    server.stop().await;
}
