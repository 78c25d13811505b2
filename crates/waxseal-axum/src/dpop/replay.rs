//! Remembering the proofs already used, so that a proof captured on the way (a log, a proxy) is refused the second
//! time (RFC 9449 §11.1). A proof is remembered by its key's thumbprint and its `jti` for as long as the proof
//! verifier would accept it again ([`waxseal::dpop::VerifiedProof::remember_until`]), and then forgotten.
//!
//! [`MemoryReplayStore`] serves one instance. Several instances behind a load balancer need a store they share —
//! the auth server's Redis store (`SET NX` with an expiry) is one — or a proof refused at one is accepted at the
//! next.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, ready};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::digest::{SHA256, digest};
use waxseal::jwt::NumericDate;

use crate::error::Error;

/// Where used proofs are remembered.
pub trait ReplayStore: Send + Sync + 'static {
    /// Records the use of proof `jti` signed by the key of thumbprint `jkt`, to be remembered until `until`, as of
    /// `now` (the verifier's clock). `Ok(true)` the first time; `Ok(false)` when the pair was used before (a
    /// replay); [`Error::unavailable`] when the store cannot answer (the request then fails closed with 503).
    fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        until: NumericDate,
        now: NumericDate,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
}

impl<S: ReplayStore> ReplayStore for Arc<S> {
    fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        until: NumericDate,
        now: NumericDate,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        (**self).first_use(jkt, jti, until, now)
    }
}

/// The key a pair is stored under: SHA-256 over both, length-prefixed so that no two pairs share it. The
/// attacker chooses `jti`; a digest keeps every entry the same small size and the map's buckets unaimable.
pub fn replay_key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(8 + jkt.len() + jti.len());
    input.extend_from_slice(&(jkt.len() as u64).to_be_bytes());
    input.extend_from_slice(jkt.as_bytes());
    input.extend_from_slice(jti.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &input).as_ref());
    out
}

const SHARDS: usize = 16;

/// Used proofs in this process's memory, in sixteen locked shards, bounded.
///
/// Memory is bounded by `capacity` entries (about 60 bytes each). Expired entries are dropped as new ones come;
/// when the store is full of unexpired ones it refuses new proofs with 503 rather than forget one early (which
/// would let its replay through). Size it for the proof rate times the proof lifetime: 10,000 proofs/s remembered
/// for 60 s is 600,000 entries.
#[derive(Debug)]
pub struct MemoryReplayStore {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Debug, Default)]
struct Shard {
    until: HashMap<[u8; 32], u64>,
    /// Entries in the order they came; expiry times are nearly ordered, so expired ones gather at the front.
    order: VecDeque<([u8; 32], u64)>,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl MemoryReplayStore {
    /// A store for about `capacity` unexpired proofs.
    pub fn new(capacity: usize) -> Self {
        MemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// The number of proofs remembered now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).until.len())
            .sum()
    }

    /// True when no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, key: [u8; 32], until: u64, now: u64) -> Result<bool, Error> {
        let mut shard = self.shards[usize::from(key[0]) % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *shard;
        // Drop what has expired at the front: amortised O(1) per insert.
        while let Some(&(old, old_until)) = shard.order.front() {
            if old_until >= now {
                break;
            }
            shard.order.pop_front();
            if shard.until.get(&old) == Some(&old_until) {
                shard.until.remove(&old);
            }
        }
        if let Some(&seen_until) = shard.until.get(&key) {
            if seen_until >= now {
                return Ok(false);
            }
        }
        if shard.until.len() >= self.per_shard {
            // Full of unexpired proofs: sweep once for expired ones behind a long-lived front entry.
            shard.until.retain(|_, u| *u >= now);
            shard.order.retain(|(_, u)| *u >= now);
            if shard.until.len() >= self.per_shard {
                tracing::warn!(
                    capacity = self.per_shard * SHARDS,
                    "the DPoP replay store is full; raise its capacity"
                );
                return Err(Error::unavailable(
                    "too many DPoP proofs in flight to check for replay; try again shortly",
                ));
            }
        }
        shard.until.insert(key, until);
        shard.order.push_back((key, until));
        Ok(true)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        until: NumericDate,
        now: NumericDate,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        ready(self.record(replay_key(jkt, jti), until.secs(), now.secs()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(secs: u64) -> NumericDate {
        NumericDate::from_secs(secs)
    }

    #[tokio::test]
    async fn a_proof_is_accepted_once_until_it_expires() {
        let store = MemoryReplayStore::new(100);
        assert!(store.first_use("k", "j1", at(160), at(100)).await.unwrap());
        assert!(!store.first_use("k", "j1", at(160), at(150)).await.unwrap());
        assert!(
            store
                .first_use("other-key", "j1", at(160), at(150))
                .await
                .unwrap()
        );
        // Past its expiry it is forgotten (the proof verifier refuses it as too old by then anyway).
        assert!(store.first_use("k", "j1", at(300), at(161)).await.unwrap());
    }

    #[tokio::test]
    async fn the_pair_is_length_prefixed() {
        assert_ne!(replay_key("ab", "c"), replay_key("a", "bc"));
    }

    #[tokio::test]
    async fn a_full_store_refuses_rather_than_forgets_and_recovers_as_entries_expire() {
        let store = MemoryReplayStore::new(SHARDS);
        let mut accepted = Vec::new();
        let mut refused = 0;
        for i in 0..200 {
            match store.first_use("k", &i.to_string(), at(200), at(100)).await {
                Ok(first) => {
                    assert!(first);
                    accepted.push(i);
                }
                Err(e) => {
                    assert_eq!(e.kind(), crate::ErrorKind::Unavailable);
                    refused += 1;
                }
            }
        }
        assert!(refused > 0, "the store grew past its capacity");
        assert!(store.len() <= SHARDS);
        // Every remembered proof is still refused as a replay: none was forgotten to make room.
        for i in accepted {
            let again = store.first_use("k", &i.to_string(), at(200), at(150)).await;
            assert_eq!(again.ok(), Some(false), "proof {i} forgotten");
        }
        // Once they expire there is room again.
        assert!(
            store
                .first_use("k", "late", at(400), at(201))
                .await
                .unwrap()
        );
    }
}
