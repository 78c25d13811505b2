//! The request body deadline: the whole body must arrive within [`crate::Config::body_timeout`] of the headers.
//!
//! tower-http's `RequestBodyTimeoutLayer` restarts its timer on every frame, so a client sending a byte just under
//! the timeout each time would hold the request open indefinitely; this deadline is fixed when the headers have
//! been read. When it passes, the body yields an error: the extractor answers 400 and hyper closes the connection,
//! since the rest of the body was never read.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// The error a body yields when its deadline passes.
#[derive(Debug)]
pub(crate) struct TooSlow(Duration);

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} ms of the headers; send it at once",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for TooSlow {}

/// A request body with a deadline.
#[derive(Debug)]
pub(crate) struct Deadline<B> {
    inner: B,
    due: Instant,
    timeout: Duration,
    /// Created on the first poll: most requests (GET) never read their body, and need no timer entry.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> Deadline<B> {
    /// `inner`, which must be complete within `timeout` from now.
    pub(crate) fn new(inner: B, timeout: Duration) -> Deadline<B> {
        Deadline {
            inner,
            due: Instant::now() + timeout,
            timeout,
            sleep: None,
        }
    }
}

impl<B> Body for Deadline<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let due = this.due;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(TooSlow(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
