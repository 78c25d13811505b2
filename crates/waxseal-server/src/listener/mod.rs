//! The listener: accepts TCP connections, optionally wraps them in TLS, and serves each with hyper's HTTP/1.1
//! connection code, with the limits a server on the public internet needs so that slow or idle clients cannot make
//! it unreachable.
//!
//! - **Connection caps**, in total and per client address ([`caps`]): a connection over either is closed at once,
//!   before anything is read from it, and counted in `waxseal_connections_refused_total`. The total cap keeps the
//!   process under its open-file limit, which is raised to the hard limit at start ([`fd_limit`]); the per-address
//!   cap keeps one client from taking every slot.
//! - **A header read timeout and a keep-alive idle timeout** ([`head_timer`]): a new connection must send its
//!   request headers within [`Config::header_read_timeout`]; a kept-alive one may wait [`Config::idle_timeout`] for
//!   the first byte of its next request, and then has the header read timeout for the rest of the head. A client
//!   that sends nothing, or a header a byte at a time, is closed when its time is up.
//! - **A body deadline** (tower-http's `DeadlineBody`): the whole request body must arrive within
//!   [`Config::body_timeout`] of the headers; a body trickled slower is cut off (the request fails with 400 and the
//!   connection is closed). Not tower-http's `TimeoutBody`, whose timer restarts with every frame: a client sending
//!   a byte just under the timeout each time would hold the request open indefinitely.
//! - **Accept errors** (out of file descriptors) are counted in `waxseal_accept_errors_total`, logged at most once a
//!   second, and followed by a short pause instead of a busy loop.
//!
//! HTTPS speaks HTTP/1.1 only (ALPN `http/1.1`): the API is small JSON requests that gain nothing from HTTP/2's
//! multiplexing, and HTTP/1.1 keeps HTTP/2's own denial-of-service surface (rapid reset, CONTINUATION floods,
//! stream limits) out of an auth server. The TLS handshake has its own deadline ([`HANDSHAKE_TIMEOUT`]) and runs in
//! the connection's task, never in the accept loop.
//!
//! Graceful shutdown is hyper-util's: stop accepting, let every connection finish its request in flight (and a
//! connection in its TLS handshake finish that), then return.

pub(crate) mod caps;
pub(crate) mod fd_limit;
pub(crate) mod head_timer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_http::timeout::DeadlineBody;

use crate::config::Config;
use crate::metrics::Connections;

/// How long a client may take to complete the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after an error that is not about one connection (out of file descriptors):
/// long enough not to spin, short enough that service resumes as soon as connections close.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// Accept errors are logged at most once per this interval; the metric counts all of them.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The limits one listener applies, from the [`Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_address: usize,
}

impl Limits {
    pub(crate) fn of(config: &Config) -> Limits {
        Limits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            body_timeout: config.body_timeout,
            max_connections: config.max_connections,
            max_connections_per_address: config.max_connections_per_address,
        }
    }
}

/// Accept errors that concern one connection only (it was reset before we took it); anything else (out of file
/// descriptors) is worth a pause.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Logs accept errors at most once per [`ACCEPT_ERROR_LOG_INTERVAL`], saying how many were not logged.
#[derive(Debug, Default)]
struct AcceptErrorLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrorLog {
    fn record(&mut self, e: &std::io::Error, max_connections: usize) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < ACCEPT_ERROR_LOG_INTERVAL)
        {
            self.unlogged += 1;
            return;
        }
        tracing::warn!(
            error = %e,
            not_logged_since_last = self.unlogged,
            max_connections,
            "cannot accept connections; if this is \"Too many open files\", lower --max-connections under the \
             open-file limit (ulimit -n) or raise that limit"
        );
        self.last = Some(now);
        self.unlogged = 0;
    }
}

/// Serves `router` on `listener` — over TLS when `tls` is set — with `limits`, until `shutdown` completes; then
/// waits for the connections in flight to finish their requests. The caller raises the open-file limit first
/// ([`fd_limit::raise_and_check`]), once for the process however many listeners it serves.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    limits: Limits,
    metrics: Connections,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let caps = caps::ConnectionCaps::new(
        limits.max_connections,
        limits.max_connections_per_address,
        metrics.open.clone(),
    );
    let graceful = GracefulShutdown::new();
    let mut errors = AcceptErrorLog::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                metrics.accept_errors.increment(1);
                errors.record(&e, limits.max_connections);
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let guard = match caps.admit(peer.ip()) {
            Ok(guard) => guard,
            Err(refused) => {
                metrics.refused(refused).increment(1);
                // Dropping the socket closes it; nothing has been read from it.
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        // Taken before the handshake, so a connection still shaking hands at shutdown is waited for too.
        let watcher = graceful.watcher();
        let router = router.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // Held for the life of the connection: its slot under the caps is freed when this task ends.
            let _guard = guard;
            match acceptor {
                None => serve_connection(tcp, peer, router, limits, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, router, limits, watcher).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves HTTP/1.1 on one connection with the header, idle and body limits, the peer address in each request's
/// extensions (`ConnectInfo<SocketAddr>`, as `axum::serve` puts it).
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (io, timer) = head_timer::watch(stream, limits.header_read_timeout, limits.idle_timeout);
    let body_timeout = limits.body_timeout;
    let service = tower::ServiceExt::map_request(
        router,
        move |request: hyper::Request<hyper::body::Incoming>| {
            let mut request = request.map(|body| DeadlineBody::new(body_timeout, body));
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            request
        },
    );
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(timer)
        // The timer decides between the header read and idle timeouts; this only switches it on.
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
