//! The metadata documents fetched recently, and the refusals, so that neither a busy client nor an attacker makes
//! the server fetch on every request.
//!
//! A document is kept as long as its `Cache-Control` says (`max-age`, at most [`MAX_LIFETIME`]; [`DEFAULT_LIFETIME`]
//! without one; `no-store` or `no-cache`: not kept), a refusal for [`REFUSAL_LIFETIME`]. Times are the service
//! clock's seconds, so tests move them. At most `capacity` entries: when full, expired ones go first, then the
//! oldest.

use std::collections::HashMap;
use std::sync::Mutex;

use super::error::MetadataError;
use crate::store::Client;

/// How long a document is kept when its server says nothing.
pub const DEFAULT_LIFETIME: u64 = 5 * 60;
/// The longest a document is kept, whatever its server says.
pub const MAX_LIFETIME: u64 = 24 * 60 * 60;
/// How long a refusal is kept: long enough that requests naming a bad URL do not each cost a fetch, short
/// enough that a fixed document is used soon.
pub const REFUSAL_LIFETIME: u64 = 30;
/// The most documents and refusals kept at once.
pub const CAPACITY: usize = 1024;

/// The client a document describes, or why there is none.
pub(super) type Outcome = Result<Client, MetadataError>;

struct Entry {
    outcome: Outcome,
    expires_at: u64,
    /// Insertion order, for evicting the oldest.
    serial: u64,
}

/// The cache of one service.
pub(super) struct DocumentCache {
    entries: Mutex<(HashMap<String, Entry>, u64)>,
    capacity: usize,
}

/// How many seconds a document may be kept, from its `Cache-Control` header.
pub(super) fn lifetime(cache_control: Option<&str>) -> u64 {
    let Some(header) = cache_control else {
        return DEFAULT_LIFETIME;
    };
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return 0;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            // A value that is not a number is no instruction; a huge one is capped.
            let seconds = seconds.trim_matches('"');
            if seconds.bytes().all(|b| b.is_ascii_digit()) && !seconds.is_empty() {
                max_age = Some(seconds.parse::<u64>().unwrap_or(u64::MAX));
            }
        }
    }
    max_age.map_or(DEFAULT_LIFETIME, |age| age.min(MAX_LIFETIME))
}

impl DocumentCache {
    pub(super) fn new(capacity: usize) -> DocumentCache {
        DocumentCache {
            entries: Mutex::new((HashMap::new(), 0)),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, Entry>, u64)> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What is kept for `url` at `now`, unless expired.
    pub(super) fn get(&self, url: &str, now: u64) -> Option<Outcome> {
        let entries = self.lock();
        let entry = entries.0.get(url)?;
        (now < entry.expires_at).then(|| entry.outcome.clone())
    }

    /// Keeps `outcome` for `url` for `seconds` from `now` (0: not at all, and any older entry is dropped).
    pub(super) fn insert(&self, url: &str, outcome: Outcome, now: u64, seconds: u64) {
        let mut guard = self.lock();
        let (entries, serial) = &mut *guard;
        if seconds == 0 {
            entries.remove(url);
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(url) {
            entries.retain(|_, e| now < e.expires_at);
            if entries.len() >= self.capacity
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.serial)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        *serial += 1;
        entries.insert(
            url.to_owned(),
            Entry {
                outcome,
                expires_at: now.saturating_add(seconds),
                serial: *serial,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_decides_the_lifetime() {
        assert_eq!(lifetime(None), DEFAULT_LIFETIME);
        assert_eq!(lifetime(Some("public")), DEFAULT_LIFETIME);
        assert_eq!(lifetime(Some("max-age=60")), 60);
        assert_eq!(lifetime(Some("public, Max-Age=120")), 120);
        assert_eq!(lifetime(Some("max-age=0")), 0);
        assert_eq!(lifetime(Some("max-age=999999999")), MAX_LIFETIME);
        assert_eq!(
            lifetime(Some("max-age=99999999999999999999999")),
            MAX_LIFETIME
        );
        assert_eq!(lifetime(Some("max-age=-5")), DEFAULT_LIFETIME);
        assert_eq!(lifetime(Some("no-store")), 0);
        assert_eq!(lifetime(Some("max-age=60, no-store")), 0);
        assert_eq!(lifetime(Some("no-cache")), 0);
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = DocumentCache::new(3);
        let refused = || Err(MetadataError::url("test"));
        cache.insert("a", refused(), 100, 10);
        assert!(cache.get("a", 109).is_some());
        assert!(cache.get("a", 110).is_none());
        for i in 0..10 {
            cache.insert(&format!("u{i}"), refused(), 100, 60);
            assert!(cache.len() <= 3);
        }
        // The oldest went first; the newest is kept.
        assert!(cache.get("u9", 100).is_some() && cache.get("u0", 100).is_none());
        cache.insert("u9", refused(), 100, 0);
        assert!(cache.get("u9", 100).is_none());
    }
}
