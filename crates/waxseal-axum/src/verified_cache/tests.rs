//! The cache's own tests: hits, expiry, eviction, generations.
use super::*;

const NOW: u64 = 1_000;
const VALID: Validity = Validity {
    from: 0,
    until: 10_000,
};

fn key(i: usize) -> TokenDigest {
    TokenDigest::of(&format!("token-{i}"))
}

fn put(cache: &VerifiedCache<usize>, i: usize) -> bool {
    cache.insert(cache.generation(), key(i), Arc::new(i), VALID, NOW)
}

#[test]
fn a_hit_returns_the_same_claims_without_copying_them() {
    let cache = VerifiedCache::new(64);
    assert!(put(&cache, 1));
    let a = cache.get(&key(1), NOW).unwrap();
    let b = cache.get(&key(1), NOW).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(cache.get(&key(2), NOW).is_none());
    assert_eq!(
        TokenDigest::of("a.b.c"),
        TokenDigest::of("a.b.c"),
        "same bytes, same key"
    );
    assert_ne!(TokenDigest::of("a.b.c"), TokenDigest::of("a.b.d"));
    assert_eq!(format!("{:?}", key(1)), "TokenDigest(<redacted>)");
}

#[test]
fn an_entry_outside_its_validity_misses_and_is_dropped() {
    let cache = VerifiedCache::new(64);
    let window = Validity {
        from: 900,
        until: 1_100,
    };
    assert!(cache.insert(cache.generation(), key(1), Arc::new(1), window, NOW));
    assert!(
        cache.get(&key(1), 1_100).is_some(),
        "the last second counts"
    );
    assert!(cache.get(&key(1), 899).is_none(), "before nbf - leeway");
    assert!(cache.get(&key(1), 1_101).is_none(), "after exp + leeway");
    assert_eq!(cache.len(), 0, "dropped once seen outside its window");
    assert!(
        !cache.insert(cache.generation(), key(2), Arc::new(2), window, 1_101),
        "an already expired token is not inserted"
    );
}

#[test]
fn clear_empties_and_refuses_inserts_verified_under_the_old_keys() {
    let cache = VerifiedCache::new(64);
    assert!(put(&cache, 1));
    let before = cache.generation();
    cache.clear();
    assert!(cache.get(&key(1), NOW).is_none());
    assert!(cache.is_empty());
    assert_ne!(cache.generation(), before);
    assert!(
        !cache.insert(before, key(2), Arc::new(2), VALID, NOW),
        "verified before the key set changed"
    );
    assert!(cache.get(&key(2), NOW).is_none());
    assert!(put(&cache, 3), "verified after the change");
}

#[test]
fn capacity_zero_caches_nothing() {
    let cache = VerifiedCache::new(0);
    assert!(!put(&cache, 1));
    assert!(cache.get(&key(1), NOW).is_none());
}

#[test]
fn size_stays_bounded_whatever_is_inserted() {
    let cache = VerifiedCache::new(100);
    for i in 0..10_000 {
        put(&cache, i);
        let _ = cache.get(&key(i / 2), NOW);
    }
    // 16 shards of ceil(100/16) = 7 rooms.
    assert!(cache.len() <= 112, "{}", cache.len());
    for shard in &cache.shards {
        let shard = shard.read().unwrap();
        assert!(shard.probation.len() <= shard.probation_room);
        assert!(shard.main.len() <= shard.main_room);
    }
}

#[test]
fn a_flood_of_tokens_used_once_does_not_evict_tokens_in_use() {
    let cache = VerifiedCache::with_shards(100, 1);
    // Ninety tokens in use: each is seen again while on probation, so each is promoted.
    for i in 0..90 {
        put(&cache, i);
        assert!(cache.get(&key(i), NOW).is_some());
    }
    // A million-strong flood would do the same; a hundred thousand tokens, each seen exactly once.
    for i in 1_000..101_000 {
        put(&cache, i);
        // The tokens in use keep being used, as a client does.
        if i % 1_000 == 0 {
            for j in 0..90 {
                let _ = cache.get(&key(j), NOW);
            }
        }
    }
    let kept = (0..90)
        .filter(|&i| cache.get(&key(i), NOW).is_some())
        .count();
    assert_eq!(kept, 90, "every token in use survived the flood");
    assert!(cache.len() <= 100);
}

/// Each token comes back only after many others, more than probation holds but fewer than the cache holds: it
/// is cached in the main queue from its second verification on.
#[test]
fn tokens_reused_at_long_intervals_are_kept_from_their_second_verification() {
    let cache = VerifiedCache::with_shards(100, 1); // probation 10, main 90
    let mut misses = 0;
    for round in 0..5 {
        for i in 0..80 {
            let generation = cache.generation();
            if cache.get(&key(i), NOW).is_none() {
                misses += 1;
                assert!(round < 2, "token {i} missed in round {round}");
                cache.insert(generation, key(i), Arc::new(i), VALID, NOW);
            }
        }
    }
    assert!(misses <= 160, "{misses}");
    assert!((0..80).all(|i| cache.get(&key(i), NOW).is_some()));
}

#[test]
fn the_main_queue_evicts_what_was_not_used_since_the_hand_passed() {
    let cache = VerifiedCache::with_shards(20, 1); // probation 2, main 18
    for i in 0..18 {
        put(&cache, i);
        cache.get(&key(i), NOW);
    }
    put(&cache, 100);
    put(&cache, 101); // pushes the last of 0..18 into main
    for i in 0..17 {
        cache.get(&key(i), NOW); // all but key 17 used again
    }
    // A new hot token: promotes into a full main, which must evict exactly one unused entry.
    put(&cache, 200);
    cache.get(&key(200), NOW);
    put(&cache, 201);
    put(&cache, 202);
    assert!(cache.get(&key(200), NOW).is_some(), "promoted");
    assert!(cache.get(&key(17), NOW).is_none(), "the unused one left");
    assert_eq!(
        (0..17)
            .filter(|&i| cache.get(&key(i), NOW).is_some())
            .count(),
        17
    );
}

#[test]
fn concurrent_hits_inserts_and_clears_stay_consistent() {
    let cache = Arc::new(VerifiedCache::new(1_000));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let mut hits = 0_u64;
                for round in 0..20_000_usize {
                    let i = (round * 7 + t) % 500;
                    let generation = cache.generation();
                    match cache.get(&key(i), NOW) {
                        Some(claims) => {
                            assert_eq!(*claims, i, "a hit returns the claims of its own token");
                            hits += 1;
                        }
                        None => {
                            cache.insert(generation, key(i), Arc::new(i), VALID, NOW);
                        }
                    }
                    if t == 0 && round % 5_000 == 4_999 {
                        cache.clear();
                    }
                }
                hits
            })
        })
        .collect();
    let hits: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(hits > 40_000, "the cache served most lookups: {hits}");
    assert!(cache.len() <= 1_008);
    // After a final clear no insert from an earlier generation can land.
    let stale = cache.generation();
    cache.clear();
    assert!(!cache.insert(stale, key(1), Arc::new(1), VALID, NOW));
    assert!(cache.is_empty());
}

#[test]
fn lookup_misses_then_hits_after_fill_and_a_key_change_in_between_refuses_the_fill() {
    let cache: VerifiedCache<usize> = VerifiedCache::new(64);
    let miss = cache
        .lookup("token-a", NOW)
        .expect_err("nothing cached yet");
    assert!(cache.fill(miss, Arc::new(7), VALID, NOW));
    assert_eq!(*cache.lookup("token-a", NOW).expect("cached"), 7);

    // Verified under keys that changed before the fill: not cached.
    let miss = cache.lookup("token-b", NOW).expect_err("not cached");
    cache.clear();
    assert!(!cache.fill(miss, Arc::new(8), VALID, NOW));
    assert!(cache.lookup("token-b", NOW).is_err());
}
