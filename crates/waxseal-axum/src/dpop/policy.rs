//! The layer's DPoP policy: where clients call the API from (the base of every proof's `htu`), how proofs are
//! checked, where used proofs are remembered, and whether plain bearer tokens are still taken.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, Method};
use waxseal::dpop::{Expected, ProofVerifier, VerifiedProof};
use waxseal::jwt::{Confirmation, NumericDate};

use super::replay::{MemoryReplayStore, ReplayStore};
use crate::error::{DpopChallenge, Error};

/// The request header a DPoP proof travels in (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// How a [`crate::BearerAuthLayer`] takes DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with a proof
/// in a `DPoP` header, checked against this request and remembered so that it is used once.
///
/// Safe defaults: [`ProofVerifier::new`] (every asymmetric algorithm, `iat` within 60 s either way, no server
/// nonce), a [`MemoryReplayStore`] of a million proofs (one instance; several need a shared store), bearer tokens
/// without `cnf` still accepted. Options: [`verifier`](Dpop::verifier), [`replay_store`](Dpop::replay_store),
/// [`required`](Dpop::required).
///
/// ```
/// use std::time::Duration;
/// use waxseal::dpop::{Nonces, ProofVerifier};
/// use waxseal_axum::dpop::{Dpop, MemoryReplayStore};
///
/// let dpop = Dpop::new("https://example.com/orders-api")?
///     .verifier(ProofVerifier::new().nonces(Nonces::new(&[7; 32], Duration::from_secs(300))?))
///     .replay_store(MemoryReplayStore::new(100_000))
///     .required();
/// assert_eq!(dpop.public_url(), "https://example.com/orders-api");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Dpop {
    public_url: Arc<str>,
    verifier: ProofVerifier,
    replay: Arc<dyn ErasedReplay>,
    required: bool,
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("public_url", &self.public_url)
            .field("verifier", &self.verifier)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    /// A policy for an API that clients call at `public_url`: the absolute `http(s)` URL of the layer's root as
    /// clients see it — scheme, host, port if not the default, and the path prefix a proxy in front adds
    /// (`https://example.com/orders-api`). A proof's `htu` must be this URL followed by the request's path (its
    /// query ignored), so a proxy or a prefix in front does not break proofs, and a proof made for another host,
    /// port or prefix is refused.
    ///
    /// An error ([`crate::ErrorKind::Misconfigured`]) when `public_url` is not such a URL: not `http` or `https`,
    /// no host, user information, a query or a fragment.
    pub fn new(public_url: impl Into<String>) -> Result<Dpop, Error> {
        Ok(Dpop {
            public_url: base_url(&public_url.into())?.into(),
            verifier: ProofVerifier::new(),
            replay: Arc::new(MemoryReplayStore::default()),
            required: false,
        })
    }

    /// Checks proofs with `verifier`: its algorithms (the challenges' `algs`), `iat` window, clock, and server
    /// nonces ([`ProofVerifier::nonces`]: a proof without a fresh one gets 401 `use_dpop_nonce` and a
    /// `DPoP-Nonce` to retry with).
    #[must_use]
    pub fn verifier(mut self, verifier: ProofVerifier) -> Self {
        self.verifier = verifier;
        self
    }

    /// Remembers used proofs in `store`: one shared by every instance when there are several (otherwise a proof
    /// refused as a replay at one is accepted at the next).
    #[must_use]
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.replay = Arc::new(store);
        self
    }

    /// Accepts only DPoP: `Authorization: Bearer` (and a token cookie) is answered 401 with a `DPoP` challenge, for
    /// APIs whose every client holds a key.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The public URL proofs' `htu` start with, without a trailing `/`.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The proof verifier.
    pub fn proof_verifier(&self) -> &ProofVerifier {
        &self.verifier
    }

    /// Whether bearer tokens are refused ([`Dpop::required`]).
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// What the layer's challenges say of DPoP.
    pub(crate) fn challenge(&self) -> DpopChallenge {
        let algs: Vec<&str> = self
            .verifier
            .allowed_algorithms()
            .iter()
            .map(waxseal::Algorithm::name)
            .collect();
        DpopChallenge {
            algs: algs.join(" ").into(),
            bearer: !self.required,
        }
    }

    /// Every DPoP check of a request whose token verified, but revocation: one proof header, the proof for this
    /// request and this token, made by the key the token is bound to, used for the first time.
    pub(crate) async fn check(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        token: &str,
        cnf: Option<&Confirmation>,
    ) -> Result<VerifiedProof, Error> {
        let proof = proof_header(headers)?;
        let mut htu = String::with_capacity(self.public_url.len() + path.len());
        htu.push_str(&self.public_url);
        htu.push_str(path);
        let verified = self
            .verifier
            .verify(
                proof,
                &Expected::new(method.as_str(), &htu).access_token(token),
            )
            .map_err(|e| self.proof_error(&e))?;
        match cnf.and_then(|cnf| cnf.jkt.as_deref()) {
            None if self.required => {
                return Err(Error::invalid_token(
                    "this token is not DPoP-bound (it has no cnf.jkt); this API takes only DPoP-bound tokens",
                ));
            }
            None => {
                return Err(Error::invalid_token(
                    "this token is not DPoP-bound (it has no cnf.jkt); send it as Authorization: Bearer",
                ));
            }
            Some(jkt) if jkt != verified.jkt => {
                return Err(Error::invalid_token(
                    "the DPoP proof is signed by another key than the one this token is bound to (cnf.jkt)",
                ));
            }
            Some(_) => {}
        }
        let first = self
            .replay
            .first_use(
                &verified.jkt,
                &verified.jti,
                verified.remember_until,
                self.verifier.now(),
            )
            .await?;
        if !first {
            return Err(Error::invalid_dpop_proof(
                "this proof was used before; make a fresh one per request",
            ));
        }
        Ok(verified)
    }

    /// The answer to a refused proof: `use_dpop_nonce` with a fresh nonce when only the nonce is wanting.
    fn proof_error(&self, e: &waxseal::Error) -> Error {
        match (e.kind(), self.verifier.nonce_issuer()) {
            (waxseal::ErrorKind::DpopNonce, Some(nonces)) => Error::use_dpop_nonce(
                format!(
                    "{}; make a new proof with the nonce of this response's DPoP-Nonce header",
                    e.message()
                ),
                nonces.issue(self.verifier.now()),
            ),
            (waxseal::ErrorKind::DpopProof | waxseal::ErrorKind::DpopNonce, _) => {
                Error::invalid_dpop_proof(e.message().to_owned())
            }
            _ => Error::invalid_dpop_proof("the DPoP proof could not be checked"),
        }
    }
}

/// The one `DPoP` header of a request (RFC 9449 §7.1: "exactly one").
fn proof_header(headers: &HeaderMap) -> Result<&str, Error> {
    let mut values = headers.get_all(DPOP).iter();
    let value = values.next().ok_or_else(|| {
        Error::invalid_dpop_proof(
            "a DPoP-bound token needs a proof: send a DPoP header with a proof made for this request",
        )
    })?;
    if values.next().is_some() {
        return Err(Error::invalid_dpop_proof(
            "send one DPoP header, not several",
        ));
    }
    value.to_str().map_err(|_| {
        Error::invalid_dpop_proof("the DPoP header has characters a proof cannot have")
    })
}

/// `url` checked to be an absolute `http(s)` URL without user information, query or fragment, its trailing `/`
/// removed so that appending a path makes no `//`.
fn base_url(url: &str) -> Result<String, Error> {
    let bad = |why: &str| {
        Error::misconfigured(format!(
            "the DPoP public URL {url:?} {why}; give the absolute URL clients call, such as \
             https://api.example.com or https://example.com/orders-api"
        ))
    };
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err(bad("is not an http or https URL"));
    };
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("has spaces or characters a URL cannot have"));
    }
    if url.contains(['?', '#']) {
        return Err(bad("has a query or fragment"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.starts_with(':') {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("carries user information"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`ReplayStore`] behind a pointer, so that the store's type is no parameter of the layer.
trait ErasedReplay: Send + Sync {
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        until: NumericDate,
        now: NumericDate,
    ) -> BoxFuture<'a, Result<bool, Error>>;
}

impl<S: ReplayStore> ErasedReplay for S {
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        until: NumericDate,
        now: NumericDate,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(ReplayStore::first_use(self, jkt, jti, until, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_url_is_an_absolute_http_url_without_query() {
        let ok = |url: &str| base_url(url).map_err(|e| e.kind());
        assert_eq!(
            ok("https://example.com").as_deref(),
            Ok("https://example.com")
        );
        assert_eq!(
            ok("HTTP://example.com:8080/orders-api/").as_deref(),
            Ok("HTTP://example.com:8080/orders-api")
        );
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://",
            "https:///path",
            "https://:443",
            "https://user@example.com",
            "https://example.com/?q=1",
            "https://example.com/#top",
            "https://exa mple.com",
            "",
        ] {
            assert_eq!(ok(bad), Err(crate::ErrorKind::Misconfigured), "{bad}");
        }
    }
}
