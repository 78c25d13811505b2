//! A bounded cache of tokens that already passed full verification, so a token presented again skips the
//! signature check (an ES256 verification is ~50–70 µs; a hit is a SHA-256 of the token and a hash-map lookup).
//!
//! Gateways do the same (Envoy's JWT filter keeps a per-worker cache of verified tokens). What keeps it safe:
//!
//! * **Only fully verified tokens go in.** A miss runs the complete verifier; whatever fails it is never inserted,
//!   so a flood of garbage — however valid it looks — costs the cache nothing: no memory, no eviction.
//! * **The key is the SHA-256 of the token bytes**, so two tokens share an entry only if they are byte-for-byte the
//!   same token, and an attacker cannot aim hash-map collisions at a bucket without a SHA-256 preimage. The token
//!   itself is never stored.
//! * **Time is checked on every hit.** Each entry carries the window in which the verifier would accept the token
//!   ([`Validity`]: `nbf` and `exp` with the verifier's leeway already applied); outside it the lookup misses and
//!   drops the entry, so the caller runs the verifier and refuses the token with the verifier's own message.
//!   Whatever else must be checked per request (a denylist) stays the caller's job: the cache only stands in for
//!   the signature and claim checks.
//! * **A key-set change empties the cache.** [`VerifiedCache::clear`] is called whenever the verifier's keys
//!   change; it also moves the [`Generation`], and an insert carries the generation seen *before* its
//!   verification started, so a token verified under the old keys can never be inserted after the clear.
//! * **Bounded, scan-resistant eviction** (S3-FIFO, Yang et al., SOSP 2023). A new entry enters a small probation
//!   queue (a tenth of the room); it is promoted to the main queue if it was hit while on probation, and the main
//!   queue evicts with second chance (CLOCK). An entry that leaves probation unused leaves only its digest in a
//!   "ghost" queue; a token whose digest is there when it is verified again goes straight to the main queue, so a
//!   token reused at longer intervals is cached from its second verification on. A stream of tokens seen once — a
//!   client fetching a new token per request, or someone minting tokens to push the useful ones out — only churns
//!   the probation and ghost queues: entries in use are not displaced by tokens that are never reused.
//! * **Sharded locks.** Sixteen `RwLock`ed shards chosen by the digest; a hit takes a read lock and sets its
//!   "referenced" bit atomically, so hits on several cores do not serialize.
//!
//! The cache is generic over the claims type and knows nothing of HTTP: [`crate::BearerAuthLayer::cache`] puts one in
//! front of any verifier, and code that verifies tokens outside a request (the auth server's logout, introspection
//! and revocation) can share the layer's cache through [`crate::BearerAuthLayer::with_cache`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use aws_lc_rs::digest::{SHA256, digest};

/// The number of shards of a cache built with [`VerifiedCache::new`].
const SHARDS: usize = 16;

/// The SHA-256 of a token's bytes: what the cache is keyed by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of `token`.
    pub fn of(token: &str) -> TokenDigest {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        TokenDigest(out)
    }

    fn shard(&self, shards: usize) -> usize {
        // The first bytes feed the map's own hash; the last one picks the shard.
        usize::from(self.0[31]) % shards
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A digest identifies a bearer token to anyone holding the token; keep it out of logs anyway.
        f.write_str("TokenDigest(<redacted>)")
    }
}

/// The Unix seconds in which the verifier accepts a token, its leeway included: `from <= now <= until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// The first second the token is accepted (`nbf` − leeway, or 0 without `nbf`).
    pub from: u64,
    /// The last second the token is accepted (`exp` + leeway).
    pub until: u64,
}

impl Validity {
    /// Whether `now` is inside the window.
    pub fn contains(&self, now: u64) -> bool {
        self.from <= now && now <= self.until
    }
}

/// From [`waxseal::jwt::Verifier::accepted_during`]; an empty range gives a window that contains no second.
impl From<std::ops::RangeInclusive<u64>> for Validity {
    fn from(range: std::ops::RangeInclusive<u64>) -> Self {
        Validity {
            from: *range.start(),
            until: *range.end(),
        }
    }
}

/// The key-set generation an insert was verified under; take it with [`VerifiedCache::generation`] before
/// verifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

struct Entry<C> {
    claims: Arc<C>,
    validity: Validity,
    /// Hit since it was inserted or last passed by the eviction hand.
    referenced: AtomicBool,
    /// In the main queue (else on probation).
    main: bool,
}

/// A token [`VerifiedCache::lookup`] did not find: its digest and the generation read before it is verified.
#[derive(Debug)]
#[must_use = "verify the token, then fill the cache with it"]
pub struct Miss {
    digest: TokenDigest,
    generation: Generation,
}

struct Shard<C> {
    map: HashMap<TokenDigest, Entry<C>>,
    /// New entries, oldest first. May hold digests already removed from `map` (expired, cleared); those are
    /// skipped when they reach the front, and the queue never grows beyond its room.
    probation: VecDeque<TokenDigest>,
    /// Entries that were hit while on probation, or verified again while ghosts, in CLOCK order.
    main: VecDeque<TokenDigest>,
    /// Digests of entries that left probation unused, oldest first, and the same as a set; bounded like `main`.
    ghosts: VecDeque<TokenDigest>,
    ghost_set: HashSet<TokenDigest>,
    probation_room: usize,
    main_room: usize,
}

impl<C> Shard<C> {
    fn new(room: usize) -> Self {
        let probation_room = (room / 10).max(1);
        let main_room = room.saturating_sub(probation_room).max(1);
        Shard {
            map: HashMap::new(),
            probation: VecDeque::new(),
            main: VecDeque::new(),
            ghosts: VecDeque::new(),
            ghost_set: HashSet::new(),
            probation_room,
            main_room,
        }
    }

    fn clear(&mut self) {
        self.map.clear();
        self.probation.clear();
        self.main.clear();
        self.ghosts.clear();
        self.ghost_set.clear();
    }

    fn insert(&mut self, key: TokenDigest, claims: Arc<C>, validity: Validity, now: u64) {
        if self.map.contains_key(&key) {
            return;
        }
        let seen_before = self.ghost_set.remove(&key);
        if seen_before {
            self.make_room_in_main(now);
        } else {
            while self.probation.len() >= self.probation_room {
                self.leave_probation(now);
            }
        }
        self.map.insert(
            key,
            Entry {
                claims,
                validity,
                referenced: AtomicBool::new(false),
                main: seen_before,
            },
        );
        if seen_before {
            self.main.push_back(key);
        } else {
            self.probation.push_back(key);
        }
    }

    fn make_room_in_main(&mut self, now: u64) {
        while self.main.len() >= self.main_room {
            self.evict_main(now);
        }
    }

    /// Remembers the digest of an entry that left probation unused (a stale copy may remain in the queue: the
    /// ghosts are a hint, and their queue stays within its room).
    fn add_ghost(&mut self, key: TokenDigest) {
        while self.ghosts.len() >= self.main_room {
            if let Some(old) = self.ghosts.pop_front() {
                self.ghost_set.remove(&old);
            }
        }
        if self.ghost_set.insert(key) {
            self.ghosts.push_back(key);
        }
    }

    /// Takes the oldest probation entry out: to the main queue if it was hit, else out of the cache.
    fn leave_probation(&mut self, now: u64) {
        let Some(key) = self.probation.pop_front() else {
            return;
        };
        let promote = match self.map.get(&key) {
            Some(entry) if !entry.main => {
                entry.validity.contains(now) && entry.referenced.swap(false, Ordering::Relaxed)
            }
            // Already gone (expired, cleared) or already promoted: nothing to do.
            _ => return,
        };
        if !promote {
            self.map.remove(&key);
            self.add_ghost(key);
            return;
        }
        self.make_room_in_main(now);
        if let Some(entry) = self.map.get_mut(&key) {
            entry.main = true;
        }
        self.main.push_back(key);
    }

    /// CLOCK over the main queue: an entry hit since the hand last passed gets a second chance; the first that
    /// was not (or that has expired) leaves. Ends within two turns, since each pass clears the bits it meets.
    fn evict_main(&mut self, now: u64) {
        while let Some(key) = self.main.pop_front() {
            let Some(entry) = self.map.get(&key).filter(|e| e.main) else {
                continue;
            };
            if entry.validity.contains(now) && entry.referenced.swap(false, Ordering::Relaxed) {
                self.main.push_back(key);
                continue;
            }
            self.map.remove(&key);
            return;
        }
    }
}

/// A bounded, sharded cache of verified tokens' claims, keyed by [`TokenDigest`]. See the module docs for what
/// makes it safe.
///
/// ```
/// use std::sync::Arc;
/// use waxseal_axum::verified_cache::{TokenDigest, Validity, VerifiedCache};
///
/// let cache: VerifiedCache<String> = VerifiedCache::new(1024);
/// let token = "eyJ...a verified token";
/// let digest = TokenDigest::of(token);
/// let generation = cache.generation(); // before verifying
/// // ... the full verifier accepted `token`, valid until second 2_000 (leeway included) ...
/// cache.insert(generation, digest, Arc::new("claims".to_owned()), Validity { from: 0, until: 2_000 }, 1_000);
/// assert_eq!(cache.get(&digest, 1_500).as_deref().map(String::as_str), Some("claims"));
/// assert!(cache.get(&digest, 2_001).is_none(), "expired: the caller verifies again, and refuses");
/// cache.clear(); // the key set changed
/// ```
pub struct VerifiedCache<C> {
    shards: Box<[RwLock<Shard<C>>]>,
    generation: AtomicU64,
    capacity: usize,
}

impl<C> std::fmt::Debug for VerifiedCache<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<C> VerifiedCache<C> {
    /// A cache holding at most about `capacity` entries (rounded up to a multiple of the shard count). A capacity
    /// of 0 makes a cache that holds nothing.
    pub fn new(capacity: usize) -> Self {
        Self::with_shards(capacity, SHARDS)
    }

    /// [`VerifiedCache::new`] with a chosen number of shards (at least one); tests use one to see exact eviction.
    pub fn with_shards(capacity: usize, shards: usize) -> Self {
        let shards = shards.max(1);
        let room = capacity.div_ceil(shards);
        VerifiedCache {
            shards: (0..shards).map(|_| RwLock::new(Shard::new(room))).collect(),
            generation: AtomicU64::new(0),
            capacity,
        }
    }

    /// The configured capacity; 0 means the cache is off.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn read(&self, key: &TokenDigest) -> RwLockReadGuard<'_, Shard<C>> {
        self.shards[key.shard(self.shards.len())]
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, key: &TokenDigest) -> RwLockWriteGuard<'_, Shard<C>> {
        self.shards[key.shard(self.shards.len())]
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The one way through the cache, for every verifier of a request's token (the bearer layer, and a server
    /// checking tokens outside a request): the cached claims of `token` for `now`, or a [`Miss`] to verify the token
    /// fully and hand to [`VerifiedCache::fill`]. The caller then asks its revocation check either way: the cache
    /// remembers signatures and claims, never that a token is not revoked.
    pub fn lookup(&self, token: &str, now: u64) -> Result<Arc<C>, Miss> {
        let digest = TokenDigest::of(token);
        if let Some(claims) = self.get(&digest, now) {
            return Ok(claims);
        }
        // Read before verifying: if the keys change meanwhile, `fill` is refused.
        let generation = self.generation();
        Err(Miss { digest, generation })
    }

    /// Caches the claims of the token a [`VerifiedCache::lookup`] missed, now that the full verifier accepted it
    /// (see [`VerifiedCache::insert`] for when that is refused).
    #[expect(
        clippy::needless_pass_by_value,
        reason = "taken by value so that one miss fills the cache at most once"
    )]
    pub fn fill(&self, miss: Miss, claims: Arc<C>, validity: Validity, now: u64) -> bool {
        self.insert(miss.generation, miss.digest, claims, validity, now)
    }

    /// The claims of a cached token if `now` is within its [`Validity`]; `None` otherwise (an entry outside its
    /// window is dropped). `None` means: run the full verifier.
    pub fn get(&self, key: &TokenDigest, now: u64) -> Option<Arc<C>> {
        {
            let shard = self.read(key);
            let entry = shard.map.get(key)?;
            if entry.validity.contains(now) {
                entry.referenced.store(true, Ordering::Relaxed);
                return Some(entry.claims.clone());
            }
        }
        let mut shard = self.write(key);
        if shard
            .map
            .get(key)
            .is_some_and(|entry| !entry.validity.contains(now))
        {
            // Its digest stays in a queue until it reaches the front; the queues are bounded, so is the garbage.
            shard.map.remove(key);
        }
        None
    }

    /// The current key-set generation. Read it *before* verifying a token and pass it to [`VerifiedCache::insert`].
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Caches the claims of a token that the full verifier accepted, under the `generation` read before the
    /// verification. Refused (returns `false`) when the key set changed since, when `now` is outside
    /// `validity`, or when the cache is off. Never call it for a token that did not fully verify.
    pub fn insert(
        &self,
        generation: Generation,
        key: TokenDigest,
        claims: Arc<C>,
        validity: Validity,
        now: u64,
    ) -> bool {
        if self.capacity == 0 || !validity.contains(now) {
            return false;
        }
        let mut shard = self.write(&key);
        // Checked under the shard lock: `clear` moves the generation before it takes the shard locks, so either
        // this insert sees the new generation and stops, or the clear that follows removes what it inserted.
        if self.generation.load(Ordering::Acquire) != generation.0 {
            return false;
        }
        shard.insert(key, claims, validity, now);
        true
    }

    /// Empties the cache and moves to a new generation. Call it whenever the verifier's key set changes (a key
    /// added, retired or removed), so that no token is accepted on the strength of a key no longer trusted.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// The number of cached tokens.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
