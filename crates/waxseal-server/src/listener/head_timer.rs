//! The header read and keep-alive idle timeouts, through hyper's own header-read timer.
//!
//! hyper starts its header read timer whenever it begins waiting for a request head — on a kept-alive connection
//! that is right after the previous response, so on its own it would make the idle time and the header time one
//! and the same. This module gives hyper a [`Timer`] whose sleeps know the connection: the first request's head
//! has [`Config::header_read_timeout`](crate::Config::header_read_timeout) from the start; a later one may wait
//! [`Config::idle_timeout`](crate::Config::idle_timeout) for its first byte, which the connection's reader
//! ([`Watched`]) reports, and from that byte has the header read timeout for the rest. hyper closes the connection
//! when the sleep completes, as it does with its stock timer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Sleep, Timer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What the timer needs to know about one connection.
#[derive(Debug, Default)]
struct Activity {
    /// How many request heads hyper has started waiting for.
    waits: u64,
    /// When the first byte since the current wait began was read.
    first_byte: Option<Instant>,
}

type Shared = Arc<Mutex<Activity>>;

fn lock(activity: &Shared) -> std::sync::MutexGuard<'_, Activity> {
    // Nothing panics while holding it; a poisoned lock still holds a usable state.
    activity.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `stream`, reporting the bytes it reads, and the timer to give the connection's hyper builder.
pub(crate) fn watch<S>(stream: S, header: Duration, idle: Duration) -> (Watched<S>, HeadTimer) {
    let activity = Shared::default();
    (
        Watched {
            inner: stream,
            activity: activity.clone(),
        },
        HeadTimer {
            activity,
            header,
            idle,
        },
    )
}

/// A connection's stream that notes when bytes arrive.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    activity: Shared,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let mut activity = lock(&this.activity);
            if activity.first_byte.is_none() {
                activity.first_byte = Some(Instant::now());
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// hyper's timer for one connection (see the module docs). hyper's HTTP/1.1 server uses its timer only for the
/// header read timeout.
#[derive(Debug, Clone)]
pub(crate) struct HeadTimer {
    activity: Shared,
    header: Duration,
    idle: Duration,
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadSleep {
            activity: None,
            header: duration,
            sleep: Box::pin(tokio::time::sleep(duration)),
        })
    }

    /// hyper asks for `now + header_read_timeout` when it starts waiting for a head; the deadline is this
    /// connection's instead.
    fn sleep_until(&self, _deadline: std::time::Instant) -> Pin<Box<dyn Sleep>> {
        let mut activity = lock(&self.activity);
        activity.waits += 1;
        activity.first_byte = None;
        let first_request = activity.waits == 1;
        drop(activity);
        let wait = if first_request {
            self.header
        } else {
            self.idle
        };
        Box::pin(HeadSleep {
            // The first request's whole wait is under the header timeout: nothing to watch for.
            activity: (!first_request).then(|| self.activity.clone()),
            header: self.header,
            sleep: Box::pin(tokio::time::sleep(wait)),
        })
    }
}

/// A header read (or idle) deadline.
struct HeadSleep {
    /// While waiting for the first byte of a kept-alive connection's next request: where that byte is reported.
    activity: Option<Shared>,
    header: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // hyper polls this after every read that left the head incomplete, so the first byte is seen here as
        // soon as it is read.
        let first_byte = this
            .activity
            .as_ref()
            .and_then(|activity| lock(activity).first_byte);
        if let Some(first_byte) = first_byte {
            this.activity = None;
            this.sleep.as_mut().reset(first_byte + this.header);
        }
        this.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadSleep {}
