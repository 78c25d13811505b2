//! `POST api/lint`: `waxseal lint`'s review, streamed as NDJSON so the page can show the weak-secret search's
//! progress: `{"progress": {"done", "total"}}` lines, then one `{"findings": [...]}` line.
//!
//! The search runs on the blocking pool in chunks of the built-in list; between chunks it checks that the response
//! is still being read. When the client goes away, hyper drops the body, the channel closes, and the search stops
//! within one chunk (a few milliseconds of HMACs).

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use waxseal::Limits;
use waxseal::jwt::decode_unverified_with_limits;

use super::{MAX_BODY_BYTES, body};
use crate::lint::finding::Finding;
use crate::lint::secrets::{self, Batch, Target};
use crate::lint::{review, weak_secret, wordlist};
use crate::time;

/// Candidates per chunk: a progress line each, and how late a disconnect is noticed.
const CHUNK: usize = 2_048;

#[derive(Deserialize)]
struct LintRequest {
    token: String,
    #[serde(default)]
    search_secrets: bool,
}

pub(super) async fn handle(headers: HeaderMap, bytes: Bytes) -> Response {
    let request = match body::<LintRequest>(&headers, &bytes) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || run(&request, &tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(line), rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The review, on the blocking pool. Returns early, silently, when the client has gone.
fn run(request: &LintRequest, tx: &mpsc::Sender<Bytes>) {
    let token = super::decode::strip(&request.token);
    let limits = Limits {
        max_token_bytes: MAX_BODY_BYTES,
        ..Limits::default()
    };
    let mut findings = match decode_unverified_with_limits(token, &limits) {
        Ok(decoded) => {
            let mut findings = review(&decoded, time::now());
            let target = (request.search_secrets && !decoded.is_jwe)
                .then(|| Target::from_token(token))
                .flatten();
            if let Some(target) = target {
                match search(&target, tx) {
                    Search::Found(finding) => findings.push(*finding),
                    Search::NotFound => {}
                    Search::ClientGone => return,
                }
            }
            findings
        }
        Err(e) => vec![Finding::error(
            "malformed",
            format!("the token cannot be read: {}", e.message()),
            "Paste the whole token: three (JWS) or five (JWE) base64url parts separated by dots.",
        )],
    };
    findings.sort_by_key(|f| f.severity);
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| json!({"id": f.code, "severity": f.severity.name(), "message": f.message, "fix": f.fix}))
        .collect();
    let _ = tx.blocking_send(line(&json!({"findings": findings})));
}

/// How the search ended.
enum Search {
    Found(Box<Finding>),
    NotFound,
    /// The response is no longer read: nothing more to do.
    ClientGone,
}

/// The built-in weak secrets, chunk by chunk, with a progress line after each.
fn search(target: &Target, tx: &mpsc::Sender<Bytes>) -> Search {
    let candidates = wordlist::builtin();
    let total = candidates.len();
    let progress = |done: usize| line(&json!({"progress": {"done": done, "total": total}}));
    if tx.blocking_send(progress(0)).is_err() {
        return Search::ClientGone;
    }
    let threads = secrets::default_threads();
    let mut done = 0;
    for chunk in candidates.chunks(CHUNK) {
        if tx.is_closed() {
            return Search::ClientGone;
        }
        let batch: Batch = chunk.iter().collect();
        if let Some(i) = secrets::search_batch(target, &batch, threads) {
            let _ = tx.blocking_send(progress(total));
            return Search::Found(Box::new(weak_secret(
                batch.get(i),
                "the built-in list of weak secrets",
            )));
        }
        done += chunk.len();
        if tx.blocking_send(progress(done)).is_err() {
            return Search::ClientGone;
        }
    }
    Search::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_stops_when_the_client_has_gone() {
        let header = waxseal::b64::encode(br#"{"alg":"HS256"}"#);
        let token = format!("{header}.e30.{}", waxseal::b64::encode([0u8; 32]));
        let target = Target::from_token(&token).unwrap_or_else(|| unreachable!());
        let (tx, rx) = mpsc::channel(8);
        drop(rx);
        assert!(matches!(search(&target, &tx), Search::ClientGone));
    }
}
