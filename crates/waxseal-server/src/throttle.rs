//! Login throttling: exponential backoff per account and per client address, so a password guesser gets a few
//! tries and then waits twice as long after each further failure.
//!
//! Every attempt counts as a failure the moment it starts and only a success takes it back: a burst of concurrent
//! guesses cannot all slip through while their argon2id verifications run. Accounts are keyed by the name as
//! submitted, whether or not such a user exists, so the throttle answers the same for unknown and known names and
//! tells an attacker nothing. A success resets its account's counter; it does not reset its address's, so an
//! attacker holding one valid account cannot launder guesses at others from the same address.
//!
//! The state is in memory, per process: a restart forgets it, and several servers behind a load balancer each
//! keep their own (a shared backend is for the Redis issue). An entry is forgotten [`FORGET_AFTER`] seconds after its
//! last failure; the maps are pruned when they have doubled, so memory follows the number of recently failing names
//! and addresses — itself bounded by the per-address limit.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failed attempts per account before any delay.
pub const ACCOUNT_FREE_FAILURES: u32 = 5;
/// Failed attempts per client address before any delay (several users may share one address).
pub const ADDRESS_FREE_FAILURES: u32 = 20;
/// The first delay, in seconds; each further failure doubles it.
pub const BASE_DELAY_SECS: u64 = 1;
/// The longest delay, in seconds.
pub const MAX_DELAY_SECS: u64 = 15 * 60;
/// A counter with no failure for this long starts again from zero.
pub const FORGET_AFTER: u64 = 60 * 60;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    failures: u32,
    blocked_until: u64,
    last_failure: u64,
}

/// The delay after the `failures`-th consecutive failure, with `free` failures allowed without one.
fn delay(failures: u32, free: u32) -> u64 {
    let Some(over) = failures.checked_sub(free + 1) else {
        return 0;
    };
    BASE_DELAY_SECS
        .checked_shl(over.min(63))
        .unwrap_or(MAX_DELAY_SECS)
        .min(MAX_DELAY_SECS)
}

#[derive(Debug)]
struct Counters<K> {
    entries: HashMap<K, Entry>,
    free: u32,
    prune_at: usize,
}

impl<K: Hash + Eq + Clone> Counters<K> {
    fn new(free: u32) -> Self {
        Counters {
            entries: HashMap::new(),
            free,
            prune_at: 1024,
        }
    }

    /// Seconds until `key` may try again; 0 when it may now.
    fn wait(&self, key: &K, now: u64) -> u64 {
        self.entries
            .get(key)
            .filter(|e| now < e.last_failure.saturating_add(FORGET_AFTER))
            .map_or(0, |e| e.blocked_until.saturating_sub(now))
    }

    fn fail(&mut self, key: &K, now: u64) {
        let free = self.free;
        let entry = self.entries.entry(key.clone()).or_default();
        if now >= entry.last_failure.saturating_add(FORGET_AFTER) {
            *entry = Entry::default();
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        entry.blocked_until = now.saturating_add(delay(entry.failures, free));
        if self.entries.len() >= self.prune_at {
            self.entries
                .retain(|_, e| now < e.last_failure.saturating_add(FORGET_AFTER));
            self.prune_at = (2 * self.entries.len()).max(1024);
        }
    }

    /// Takes back one failure counted in advance; the delay it caused stays (it was short, and a success cannot
    /// be told from a concurrent guess's failure here).
    fn take_back(&mut self, key: &K) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.failures = entry.failures.saturating_sub(1);
        }
    }
}

/// The throttle state of one server process.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    state: Mutex<(Counters<String>, Counters<IpAddr>)>,
}

/// An attempt the throttle let through; report how it ended with [`LoginThrottle::succeeded`] — or, when it was
/// counted in Redis ([`Attempt::is_shared`]), with the Redis counterpart.
#[derive(Debug)]
pub(crate) struct Attempt {
    account: String,
    address: Option<IpAddr>,
    shared: bool,
}

impl Attempt {
    /// An attempt counted in Redis.
    pub(crate) fn shared(account: String, address: Option<IpAddr>) -> Attempt {
        Attempt {
            account,
            address,
            shared: true,
        }
    }

    pub(crate) fn is_shared(&self) -> bool {
        self.shared
    }

    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    pub(crate) fn address(&self) -> Option<IpAddr> {
        self.address
    }
}

impl LoginThrottle {
    pub(crate) fn new() -> Self {
        LoginThrottle {
            state: Mutex::new((
                Counters::new(ACCOUNT_FREE_FAILURES),
                Counters::new(ADDRESS_FREE_FAILURES),
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Counters<String>, Counters<IpAddr>)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lets an attempt at `account` from `address` start, counting it as a failure until it succeeds; or the
    /// seconds to wait (at least 1) while either is throttled.
    pub(crate) fn begin(
        &self,
        account: String,
        address: Option<IpAddr>,
        now: u64,
    ) -> Result<Attempt, u64> {
        let mut state = self.lock();
        let (accounts, addresses) = &mut *state;
        let wait = accounts
            .wait(&account, now)
            .max(address.map_or(0, |a| addresses.wait(&a, now)));
        if wait > 0 {
            return Err(wait);
        }
        accounts.fail(&account, now);
        if let Some(address) = &address {
            addresses.fail(address, now);
        }
        Ok(Attempt {
            account,
            address,
            shared: false,
        })
    }

    /// The attempt succeeded: its account starts afresh and its address gets the failure back.
    pub(crate) fn succeeded(&self, attempt: &Attempt) {
        let mut state = self.lock();
        let (accounts, addresses) = &mut *state;
        accounts.entries.remove(&attempt.account);
        if let Some(address) = &attempt.address {
            addresses.take_back(address);
        }
    }
}

/// What registrations are counted by: the address, an IPv6 one as its /64 (one subscriber's network), an
/// IPv4-mapped one as the IPv4 address.
pub(crate) fn registrant(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Registrations (`POST /register`) per client address: at most `limit` in a fixed window of [`FORGET_AFTER`]
/// seconds, by [`registrant`]. In memory, per process: what counts when no Redis is configured or it does not answer
/// (then [`crate::bus::RedisBus::registration_begin`] counts for every instance); the map is pruned when it has
/// doubled, so it holds at most the addresses of the last window.
#[derive(Debug)]
pub(crate) struct RegistrationThrottle {
    state: Mutex<Windows>,
}

/// Each address's window: its start and the registrations counted in it.
#[derive(Debug)]
struct Windows {
    by_address: HashMap<IpAddr, (u64, u32)>,
    prune_at: usize,
}

impl RegistrationThrottle {
    pub(crate) fn new() -> Self {
        RegistrationThrottle {
            state: Mutex::new(Windows {
                by_address: HashMap::new(),
                prune_at: 1024,
            }),
        }
    }

    /// Counts a registration from `address`, or the seconds (at least 1) until its window ends when it already
    /// registered `limit` clients in it.
    pub(crate) fn register(&self, address: IpAddr, limit: u32, now: u64) -> Result<(), u64> {
        let key = registrant(address);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Windows {
            by_address: windows,
            prune_at,
        } = &mut *state;
        let window = windows.entry(key).or_insert((now, 0));
        let ends = window.0.saturating_add(FORGET_AFTER);
        if now >= ends {
            *window = (now, 0);
        } else if window.1 >= limit {
            return Err(ends.saturating_sub(now).max(1));
        }
        window.1 = window.1.saturating_add(1);
        if windows.len() >= *prune_at {
            windows.retain(|_, w| now < w.0.saturating_add(FORGET_AFTER));
            *prune_at = (2 * windows.len()).max(1024);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_free_then_doubles_up_to_the_cap() {
        let delays: Vec<u64> = (1..=9).map(|f| delay(f, 5)).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 1, 2, 4, 8]);
        assert_eq!(delay(40, 5), MAX_DELAY_SECS);
        assert_eq!(delay(u32::MAX, 5), MAX_DELAY_SECS);
    }

    #[test]
    fn registrations_are_counted_per_address_and_window() {
        let throttle = RegistrationThrottle::new();
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::ffff".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        throttle.register(a, 2, 100).unwrap();
        throttle.register(same_64, 2, 100).unwrap();
        assert_eq!(throttle.register(a, 2, 110).unwrap_err(), FORGET_AFTER - 10);
        throttle.register(other, 2, 110).unwrap();
        throttle.register(a, 2, 100 + FORGET_AFTER).unwrap();
    }

    #[test]
    fn counters_are_forgotten_after_a_quiet_hour() {
        let throttle = LoginThrottle::new();
        for _ in 0..=ACCOUNT_FREE_FAILURES {
            throttle.begin("mallory".into(), None, 100).unwrap();
        }
        assert_eq!(throttle.begin("mallory".into(), None, 100).unwrap_err(), 1);
        throttle
            .begin("mallory".into(), None, 100 + FORGET_AFTER)
            .unwrap();
        throttle
            .begin("mallory".into(), None, 100 + FORGET_AFTER)
            .unwrap();
    }
}
