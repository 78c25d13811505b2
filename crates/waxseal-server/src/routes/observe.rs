//! The request-latency layer: every response's latency recorded under its matched route template.
//!
//! A hand-written tower layer rather than `axum::middleware::from_fn`: `from_fn` boxes and clones the rest of the
//! stack for every request (its `Next`), which cost more instructions than the JWKS handler itself. This layer
//! calls the inner service directly (axum's routes are always ready) and wraps its future without allocating.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use tower::{Layer, Service};

use crate::metrics::RequestLatency;

/// Records each request's latency in [`RequestLatency`], labelled by route template, method and status class
/// (never the raw path, which a client chooses).
#[derive(Clone)]
pub(super) struct ObserveLayer(pub(super) Arc<RequestLatency>);

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            latency: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct Observe<S> {
    inner: S,
    latency: Arc<RequestLatency>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Observed {
            route: request.extensions().get::<MatchedPath>().cloned(),
            method: request.method().clone(),
            latency: self.latency.clone(),
            started: Instant::now(),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner response future, and what its latency is recorded under once it is ready.
    pub(super) struct Observed<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        method: Method,
        latency: Arc<RequestLatency>,
        started: Instant,
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = std::task::ready!(this.inner.poll(cx));
        this.latency.record(
            this.route.as_ref().map(MatchedPath::as_str),
            this.method.as_str(),
            response.status().as_u16(),
            this.started.elapsed(),
        );
        Poll::Ready(Ok(response))
    }
}
