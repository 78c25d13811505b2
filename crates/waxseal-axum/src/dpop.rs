//! DPoP (RFC 9449) at a resource server: tokens bound to a key the client holds, accepted only with a fresh proof
//! by that key.
//!
//! A [`Dpop`] policy handed to [`crate::BearerAuthLayer::dpop`] makes the layer take `Authorization: DPoP <token>`
//! with one `DPoP: <proof>` header. For such a request the layer verifies the token (from the verified-token cache
//! when it holds it), then the proof against this request ([`waxseal::dpop::ProofVerifier`]: signature, `htm`,
//! `htu`, `iat`, `ath` of this token, the server nonce if required), then that the token's `cnf.jkt` is the proof
//! key's thumbprint, then that the proof was not used before ([`ReplayStore`]), then the revocation check. A cached
//! token skips its own signature check, never the proof's.
//!
//! Binding only protects if it is enforced everywhere: a token with `cnf` is refused as a bearer token by every
//! layer, with a DPoP policy or without.
//!
//! The proof's `htu` must be the URI the client called: the policy's public URL (scheme, host, port, path prefix,
//! as clients see it in front of any proxy) followed by the request's path as the layer receives it. Put the layer
//! on the outermost router: `Router::nest` strips its prefix from the path routes inside it see.

mod policy;
mod replay;

pub use policy::Dpop;
pub use replay::{MemoryReplayStore, ReplayStore, replay_key};
