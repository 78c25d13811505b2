//! HTTPS: the certificate and key loaded once at start-up, connections served by rustls (aws-lc-rs provider).
//!
//! Built on `tokio-rustls` and `hyper-util` rather than a server framework such as `axum-server`: axum already
//! runs on hyper, so this is the same HTTP/1.1 connection code the plain listener uses with a TLS stream under it,
//! and the pieces that matter for an auth server stay in view — the handshake runs in each connection's own task
//! with a deadline (a client that stalls it holds one socket, never the accept loop), and graceful shutdown is
//! hyper-util's: stop accepting, let every connection finish its request in flight, then return.
//!
//! Errors at start-up name the file and the flag to fix; a private key that does not belong to the certificate
//! is refused before the port is served, instead of failing every handshake later.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::error::{Error, Result};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers (also bounds an idle kept-alive connection's wait).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

fn read(path: &Path, what: &str, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::config(format!(
            "cannot read the TLS {what} {}: {e}; check {flag}",
            path.display()
        ))
    })
}

/// Reads and checks the certificate chain and key: the rustls configuration to serve with.
pub(crate) fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>> {
    let cert_pem = read(&files.cert, "certificate", "--tls-cert / WAXSEAL_TLS_CERT")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(format!(
                "the TLS certificate file {} is not valid PEM ({e}); it must hold the certificate chain, \
                 leaf first, as -----BEGIN CERTIFICATE----- blocks",
                files.cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(Error::config(format!(
            "the TLS certificate file {} holds no -----BEGIN CERTIFICATE----- block; --tls-cert takes the \
             certificate chain in PEM (did you swap it with the key?)",
            files.cert.display()
        )));
    }
    let key_pem = zeroize::Zeroizing::new(read(
        &files.key,
        "private key",
        "--tls-key / WAXSEAL_TLS_KEY",
    )?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        Error::config(format!(
            "the TLS key file {} holds no PEM private key (PKCS#8 \"PRIVATE KEY\", SEC1 \"EC PRIVATE KEY\" or \
             PKCS#1 \"RSA PRIVATE KEY\"); --tls-key takes the certificate's private key, unencrypted",
            files.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::crypto(format!("TLS set-up failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => Error::config(format!(
                "the TLS private key {} does not belong to the certificate {}; give --tls-key the key the \
                 certificate was issued for",
                files.key.display(),
                files.cert.display()
            )),
            other => Error::config(format!(
                "the TLS certificate {} and key {} cannot be used together: {other}",
                files.cert.display(),
                files.key.display()
            )),
        })?;
    // The server speaks HTTP/1.1 only; saying so lets clients that offer h2 fall back at once.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accept errors that concern one connection only; anything else (out of file descriptors) is worth a pause.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then waits for the connections in flight
/// to finish their requests (connections still in their handshake included).
pub(crate) async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; retrying in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = tower::ServiceExt::map_request(
            router.clone(),
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            },
        );
        // Taken before the handshake, so a connection still shaking hands at shutdown is waited for too.
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    return;
                }
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "HTTPS connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
