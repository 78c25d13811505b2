//! DPoP (RFC 9449) at the authorization server: checking the proof a request carries, and what the token
//! endpoint and the resource routes share to do it.
//!
//! A proof is checked against the URI the client called — the configured public issuer URL and the path, never
//! the address the request arrived on (behind a proxy or a path prefix the two differ) — then remembered, so that
//! the same proof is refused the second time: in this process's memory for one instance, or in Redis when
//! `--redis-url` is set, so that a proof replayed at another instance is refused there too. Redis failing refuses
//! the request (503) rather than let a replay through.
//!
//! Server nonces (RFC 9449 §8), when turned on, are stateless: an HMAC under a key derived from the master key,
//! so every instance sharing the master key accepts the nonces any of them issued.

use std::sync::Arc;
use std::time::Duration;

use waxseal::AlgorithmSet;
use waxseal::dpop::{Expected, Nonces, ProofVerifier, VerifiedProof};
use waxseal::jwt::{Clock, NumericDate};
use waxseal_axum::dpop::{MemoryReplayStore, ReplayStore};

use super::{AuthService, SharedClock};
use crate::bus::{RedisBus, RedisReplayStore};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::master_key::MasterKey;
use crate::store::Client;

/// What the nonce key is derived for (HKDF info): no other derived key equals it.
const NONCE_PURPOSE: &[u8] = b"waxseal DPoP nonce";

/// How long one nonce step lasts: a nonce is accepted during its step and the next, so one to two minutes.
pub const DPOP_NONCE_STEP: Duration = Duration::from_secs(60);

/// The used proofs: in this process ([`MemoryReplayStore`]) for one instance, in Redis ([`RedisReplayStore`])
/// for several. The resource routes' layer takes it as its [`ReplayStore`], so a proof used at the token endpoint
/// cannot be used at `/api/*` and the other way round.
#[derive(Debug)]
pub enum DpopReplay {
    /// One instance: this process's memory.
    Memory(MemoryReplayStore),
    /// Several instances on one Redis.
    Redis(RedisReplayStore),
}

impl ReplayStore for DpopReplay {
    async fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        until: NumericDate,
        now: NumericDate,
    ) -> std::result::Result<bool, waxseal_axum::Error> {
        match self {
            DpopReplay::Memory(store) => store.first_use(jkt, jti, until, now).await,
            DpopReplay::Redis(store) => store.first_use(jkt, jti, until, now).await,
        }
    }
}

/// The service's DPoP state: the proof verifier (with the nonces when they are required) and the used proofs.
pub(super) struct DpopState {
    verifier: ProofVerifier,
    replay: Arc<DpopReplay>,
}

impl DpopState {
    pub(super) fn new(
        config: &Config,
        clock: Arc<dyn Clock>,
        master_key: &MasterKey,
        bus: Option<&Arc<RedisBus>>,
    ) -> Result<DpopState> {
        let window = config.dpop_proof_window;
        let mut verifier = ProofVerifier::new()
            .iat_window(window, window)
            .clock(SharedClock(clock));
        if config.dpop_nonces {
            let secret = master_key.derive_secret(NONCE_PURPOSE)?;
            let nonces = Nonces::new(&secret[..], DPOP_NONCE_STEP)
                .map_err(|e| Error::crypto(format!("DPoP nonces: {e}")))?;
            verifier = verifier.nonces(nonces);
        }
        let replay = match bus {
            Some(bus) => DpopReplay::Redis(RedisReplayStore::new(bus.clone())),
            None => DpopReplay::Memory(MemoryReplayStore::default()),
        };
        Ok(DpopState {
            verifier,
            replay: Arc::new(replay),
        })
    }
}

/// The core's refusal as the service's: `use_dpop_nonce` stays itself, everything else is `invalid_dpop_proof`.
fn refused(e: &waxseal::Error) -> Error {
    let kind = if e.kind() == waxseal::ErrorKind::DpopNonce {
        ErrorKind::DpopNonce
    } else {
        ErrorKind::DpopProof
    };
    Error::new(kind, e.to_string())
}

impl AuthService {
    /// Checks the DPoP proof of a request: `proof` (the `DPoP` header's value) for a `method` request to `path`
    /// under the public issuer URL, with `access_token` when the request presents one (the proof's `ath`), then
    /// records its use so that it is refused the next time, here and at every instance sharing this one's Redis.
    ///
    /// Errors: [`ErrorKind::DpopProof`] (answer `invalid_dpop_proof`), [`ErrorKind::DpopNonce`] (answer
    /// `use_dpop_nonce` with [`AuthService::dpop_nonce`]), [`ErrorKind::Unavailable`] when Redis cannot say
    /// whether the proof was used before (503).
    pub async fn check_dpop_proof(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<VerifiedProof> {
        let uri = self.public_uri(path);
        let mut expected = Expected::new(method, &uri);
        if let Some(token) = access_token {
            expected = expected.access_token(token);
        }
        let verified = self
            .dpop
            .verifier
            .verify(proof, &expected)
            .map_err(|e| refused(&e))?;
        let now = self.dpop.verifier.now();
        match self
            .dpop
            .replay
            .first_use(&verified.jkt, &verified.jti, verified.remember_until, now)
            .await
        {
            Ok(true) => Ok(verified),
            Ok(false) => {
                tracing::warn!(jkt = %verified.jkt, "a DPoP proof presented a second time was refused");
                Err(Error::new(
                    ErrorKind::DpopProof,
                    "this DPoP proof was used before; make a fresh proof, with a new jti, for every request",
                ))
            }
            Err(e) => Err(Error::unavailable(e.to_string())),
        }
    }

    /// The absolute URI of `path` on this server as clients call it: the issuer URL (the public one) and the path.
    pub fn public_uri(&self, path: &str) -> String {
        format!("{}{path}", self.config.issuer.trim_end_matches('/'))
    }

    /// A fresh DPoP nonce, when nonces are required: for `use_dpop_nonce` answers and the `DPoP-Nonce` header of
    /// successful ones. `None` when they are not.
    pub fn dpop_nonce(&self) -> Option<String> {
        self.dpop
            .verifier
            .nonce_issuer()
            .map(|nonces| nonces.issue(self.dpop.verifier.now()))
    }

    /// The proof verifier, for the resource routes' layer: the same algorithms, window, clock and nonces as the
    /// token endpoint's. It checks `htu` against what it is given: give it [`AuthService::public_uri`].
    pub fn dpop_verifier(&self) -> ProofVerifier {
        self.dpop.verifier.clone()
    }

    /// The used proofs, shared with the resource routes' layer (one store for every route and, with Redis, every
    /// instance).
    pub fn dpop_replay(&self) -> Arc<DpopReplay> {
        self.dpop.replay.clone()
    }

    /// The proof algorithms accepted: discovery's `dpop_signing_alg_values_supported`.
    pub fn dpop_algorithms(&self) -> AlgorithmSet {
        self.dpop.verifier.allowed_algorithms()
    }

    /// A client registered as requiring DPoP (`dpop_bound_access_tokens`) sends a proof with every token request,
    /// or gets nothing.
    pub(super) fn require_dpop_if_registered(
        client: &Client,
        proof: Option<&VerifiedProof>,
    ) -> Result<()> {
        if client.require_dpop && proof.is_none() {
            return Err(Error::new(
                ErrorKind::DpopProof,
                "this client must send a DPoP proof (a DPoP header) with every token request",
            ));
        }
        Ok(())
    }
}
