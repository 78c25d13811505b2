//! DPoP proofs already used, remembered in Redis so that every instance refuses a proof any of them accepted
//! (RFC 9449 §11.1): one `SET NX` with an absolute expiry per proof, the key under the deployment's prefix.
//!
//! Unlike revocations, this fails closed: when Redis does not answer, a proof cannot be checked for replay and the
//! request is refused with 503 rather than let a replay through.

use std::future::Future;
use std::sync::Arc;

use waxseal::jwt::NumericDate;
use waxseal_axum::dpop::{ReplayStore, replay_key};

use super::{RedisBus, with_timeout};

/// Used DPoP proofs in the Redis of a [`RedisBus`], shared by every instance on it.
#[derive(Debug, Clone)]
pub struct RedisReplayStore {
    bus: Arc<RedisBus>,
}

impl RedisReplayStore {
    /// A replay store in `bus`'s Redis, under its key prefix.
    pub fn new(bus: Arc<RedisBus>) -> Self {
        RedisReplayStore { bus }
    }

    /// `PREFIX:dpop:HEX`: the digest of the pair, so the attacker-chosen `jti` never reaches a key name.
    fn key(&self, jkt: &str, jti: &str) -> String {
        let digest = replay_key(jkt, jti);
        let mut key = String::with_capacity(self.bus.prefix.len() + 6 + 64);
        key.push_str(&self.bus.prefix);
        key.push_str(":dpop:");
        for byte in digest {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        key
    }

    async fn record(&self, key: String, until: u64, now: u64) -> Result<bool, waxseal_axum::Error> {
        // EXAT in the past would make Redis refuse the command; a proof that old was refused by the verifier anyway.
        let until = until.max(now.saturating_add(1));
        let mut conn = self.bus.commands.clone();
        let set: Option<String> = with_timeout(
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("EXAT")
                .arg(until)
                .query_async(&mut conn),
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "DPoP proof refused: Redis cannot say whether it was used before");
            waxseal_axum::Error::unavailable(
                "the DPoP replay store (Redis) does not answer; try again shortly",
            )
        })?;
        Ok(set.is_some())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl ReplayStore for RedisReplayStore {
    fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        until: NumericDate,
        now: NumericDate,
    ) -> impl Future<Output = Result<bool, waxseal_axum::Error>> + Send {
        self.record(self.key(jkt, jti), until.secs(), now.secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_under_the_prefix_and_hide_the_jti() {
        let Ok(bus) = RedisBus::new("redis://127.0.0.1:1", "deploy-a") else {
            panic!("a lazy bus needs no Redis")
        };
        let store = RedisReplayStore::new(Arc::new(bus));
        let key = store.key("thumbprint", "a-jti-of-the-attacker's");
        assert!(key.starts_with("deploy-a:dpop:"), "{key}");
        assert_eq!(key.len(), "deploy-a:dpop:".len() + 64);
        assert!(!key.contains("attacker"));
        assert_ne!(key, store.key("thumbprint", "another"));
    }
}
