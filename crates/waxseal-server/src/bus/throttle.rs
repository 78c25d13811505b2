//! Login throttling counted across instances: the counters of [`crate::throttle::LoginThrottle`] kept in Redis,
//! each step one Lua script so that every instance sees and updates the same counts atomically. While the
//! subscription is down these refuse to run, and the caller counts on its own.

use super::{BusState, RedisBus, with_timeout};
use crate::store::{StoreError, StoreResult};
use crate::throttle::{
    ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, BASE_DELAY_SECS, FORGET_AFTER, MAX_DELAY_SECS,
};

/// The throttle step, atomically for every key given: the wait if any key is blocked (nothing counted), else
/// each key's failure counted in advance, its backoff set once the free failures are spent, and its expiry pushed
/// to an hour after this failure. A free failure writes no `blocked_until`: "blocked until my now" would read as a
/// block on an instance whose clock is a second behind.
/// ARGV: now, base delay, max delay, forget-after, then each key's free failures.
const THROTTLE_BEGIN: &str = r"
local now = tonumber(ARGV[1])
local wait = 0
for _, key in ipairs(KEYS) do
  local blocked = tonumber(redis.call('HGET', key, 'blocked_until') or '0')
  if blocked > now and blocked - now > wait then wait = blocked - now end
end
if wait > 0 then return wait end
local base, max, forget = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i, key in ipairs(KEYS) do
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  local over = failures - tonumber(ARGV[4 + i]) - 1
  if over >= 0 then
    redis.call('HSET', key, 'blocked_until', now + math.min(base * 2 ^ math.min(over, 30), max))
  end
  redis.call('EXPIRE', key, forget)
end
return 0
";

/// A success: the account (`KEYS[1]`) starts afresh; the address (`KEYS[2]`, if given) gets one failure back.
const THROTTLE_SUCCEEDED: &str = r"
redis.call('DEL', KEYS[1])
if KEYS[2] and tonumber(redis.call('HGET', KEYS[2], 'failures') or '0') > 0 then
  redis.call('HINCRBY', KEYS[2], 'failures', -1)
end
return 0
";

impl RedisBus {
    fn throttle_keys(&self, account: &str, address: Option<std::net::IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("{}:throttle:account:{account}", self.prefix)];
        if let Some(address) = address {
            keys.push(format!("{}:throttle:address:{address}", self.prefix));
        }
        keys
    }

    /// The shared form of [`crate::throttle::LoginThrottle::begin`]: `Ok(Ok(()))` lets the attempt start (counted
    /// as a failure until [`RedisBus::throttle_succeeded`]), `Ok(Err(wait))` refuses it for `wait` seconds.
    /// `Err` when Redis does not answer: the caller falls back to its own counters.
    pub async fn throttle_begin(
        &self,
        account: &str,
        address: Option<std::net::IpAddr>,
        now: u64,
    ) -> StoreResult<Result<(), u64>> {
        if self.state() == BusState::Down {
            return Err(StoreError::Backend(
                "redis: the subscription is down".into(),
            ));
        }
        let keys = self.throttle_keys(account, address);
        let script = redis::Script::new(THROTTLE_BEGIN);
        let mut invocation = script.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation
            .arg(now)
            .arg(BASE_DELAY_SECS)
            .arg(MAX_DELAY_SECS)
            .arg(FORGET_AFTER)
            .arg(ACCOUNT_FREE_FAILURES)
            .arg(ADDRESS_FREE_FAILURES);
        let mut conn = self.commands.clone();
        let wait: u64 = with_timeout(invocation.invoke_async(&mut conn)).await?;
        Ok(if wait == 0 { Ok(()) } else { Err(wait) })
    }

    /// The shared form of [`crate::throttle::LoginThrottle::succeeded`].
    pub async fn throttle_succeeded(
        &self,
        account: &str,
        address: Option<std::net::IpAddr>,
    ) -> StoreResult<()> {
        let keys = self.throttle_keys(account, address);
        let script = redis::Script::new(THROTTLE_SUCCEEDED);
        let mut invocation = script.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        let mut conn = self.commands.clone();
        with_timeout(invocation.invoke_async::<()>(&mut conn)).await
    }
}
