//! Throttling counted across instances: the counters of [`crate::throttle::LoginThrottle`] and
//! [`crate::throttle::RegistrationThrottle`] kept in Redis, each step one Lua script so that every instance sees and
//! updates the same counts atomically. While the subscription is down these refuse to run, and the caller counts on
//! its own.

use super::{BusState, RedisBus, with_timeout};
use crate::store::{StoreError, StoreResult};
use crate::throttle::{
    ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, BASE_DELAY_SECS, FORGET_AFTER, MAX_DELAY_SECS,
    registrant,
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

/// One registration from an address (`KEYS[1]`) in its fixed window, as [`crate::throttle::RegistrationThrottle`]
/// counts it: 0 when counted, else the seconds (1 to the window) until the window ends. The window's start is the
/// instances' clock, not Redis's, so every instance and the in-process counter agree on when it ends; the key
/// expires with the window.
/// ARGV: now, window, limit.
const REGISTRATION_BEGIN: &str = r"
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start = tonumber(redis.call('HGET', KEYS[1], 'start') or '-1')
if start < 0 or now >= start + window then
  redis.call('HSET', KEYS[1], 'start', now, 'count', 1)
  redis.call('EXPIRE', KEYS[1], window)
  return 0
end
if tonumber(redis.call('HGET', KEYS[1], 'count') or '0') >= limit then
  return math.min(math.max(start + window - now, 1), window)
end
redis.call('HINCRBY', KEYS[1], 'count', 1)
return 0
";

impl RedisBus {
    /// The shared form of [`crate::throttle::RegistrationThrottle::register`]: `Ok(Ok(()))` counts a registration
    /// from `address`, `Ok(Err(wait))` refuses it for `wait` seconds. `Err` when Redis does not answer: the caller
    /// counts on its own.
    pub async fn registration_begin(
        &self,
        address: std::net::IpAddr,
        limit: u32,
        now: u64,
    ) -> StoreResult<Result<(), u64>> {
        if self.state() == BusState::Down {
            return Err(StoreError::Backend(
                "redis: the subscription is down".into(),
            ));
        }
        let key = format!("{}:throttle:register:{}", self.prefix, registrant(address));
        let script = redis::Script::new(REGISTRATION_BEGIN);
        let mut invocation = script.prepare_invoke();
        invocation.key(key).arg(now).arg(FORGET_AFTER).arg(limit);
        let mut conn = self.commands.clone();
        let wait: u64 = with_timeout(invocation.invoke_async(&mut conn)).await?;
        Ok(if wait == 0 { Ok(()) } else { Err(wait) })
    }

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
