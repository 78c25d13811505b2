//! Argon2id, kept off the async workers and off one core.
//!
//! Each hash or verification takes tens of milliseconds of one core by design. On the blocking pool it cannot stall
//! a worker thread, but a burst of logins would still fill every core with argon2 and leave token verification
//! waiting for CPU. At most `cores − 1` run at once (at least one): the remaining core keeps serving protected
//! requests, and the excess logins wait their turn, which throttling already keeps short.
//!
//! A verification fills `m_cost` KiB of memory (19 MiB with the OWASP parameters). Allocated afresh per login, those
//! blocks are freed into glibc's per-thread arenas, which keep them after the first one (its mmap threshold rises to
//! the freed size), so resident memory grew by ~19 MiB per blocking-pool thread that ever verified: +211 MiB in a
//! four-minute soak. Verifications therefore reuse buffers from [`ARGON2_MEMORY`], at most one per slot.

use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Cores are a process-wide resource, so the limit is too.
static ARGON2_SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(argon2_parallelism()));

fn argon2_parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

/// Argon2 working memory kept between verifications: never more buffers than slots, since only a slot holder takes
/// one. Each is as large as the largest parameters it has served.
static ARGON2_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn take_memory() -> Vec<Block> {
    ARGON2_MEMORY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop()
        .unwrap_or_default()
}

fn give_back_memory(memory: Vec<Block>) {
    ARGON2_MEMORY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(memory);
}

/// Whether `password` matches the PHC string `phc`, computed in `memory` (grown if the parameters need more). The
/// same computation as argon2's `verify_password`, without its allocation; the comparison is constant-time.
fn verify_in(memory: &mut Vec<Block>, password: &[u8], phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut computed, &mut memory[..blocks])
        .is_ok()
        && bool::from(computed.ct_eq(expected.as_bytes()))
}

/// Runs `work` on the blocking pool once a slot is free.
async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    // The semaphore is never closed, so acquiring only waits.
    let _slot = ARGON2_SLOTS.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

pub(super) async fn hash_password(password: Zeroizing<String>) -> Result<String> {
    run(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h: PasswordHash| h.to_string())
            .map_err(|_| Error::crypto("password hashing failed"))
    })
    .await
    .ok_or_else(|| Error::crypto("password hashing was interrupted"))?
}

pub(super) async fn password_matches(password: Zeroizing<String>, phc: Arc<str>) -> bool {
    run(move || {
        let mut memory = take_memory();
        let matches = verify_in(&mut memory, password.as_bytes(), &phc);
        give_back_memory(memory);
        matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes made by argon2 itself, with small parameters so the test is quick.
    fn phc(password: &str, params: Params) -> String {
        Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes())
            .unwrap()
            .to_string()
    }

    #[test]
    fn verification_in_reused_memory_agrees_with_argon2() {
        use argon2::password_hash::PasswordVerifier as _;
        let small = Params::new(64, 2, 1, Some(32)).unwrap();
        let larger = Params::new(256, 1, 2, Some(32)).unwrap();
        let mut memory = Vec::new();
        for params in [larger, small.clone(), small] {
            let stored = phc("right", params);
            let parsed = PasswordHash::new(&stored).unwrap();
            for attempt in ["right", "wrong", ""] {
                let theirs = Argon2::default()
                    .verify_password(attempt.as_bytes(), &parsed)
                    .is_ok();
                assert_eq!(verify_in(&mut memory, attempt.as_bytes(), &stored), theirs);
                assert_eq!(theirs, attempt == "right");
            }
        }
        // Grown once to the largest need, then reused.
        assert_eq!(memory.len(), 256);
        for malformed in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=2,p=1$c2FsdHNhbHQ",
            "$scrypt$x",
        ] {
            assert!(!verify_in(&mut memory, b"right", malformed), "{malformed}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn verification_memory_is_kept_for_at_most_one_run_per_slot() {
        let stored: Arc<str> = phc("pw", Params::new(128, 1, 1, Some(32)).unwrap()).into();
        let runs: Vec<_> = (0..16)
            .map(|_| {
                tokio::spawn(password_matches(
                    Zeroizing::new("pw".into()),
                    stored.clone(),
                ))
            })
            .collect();
        for run in runs {
            assert!(run.await.unwrap());
        }
        // Other tests of this binary may hold a buffer right now, so fewer may be kept, never more.
        let kept = ARGON2_MEMORY.lock().unwrap().len();
        assert!(kept <= argon2_parallelism(), "{kept} buffers kept");
    }

    #[test]
    fn argon2_leaves_a_core_for_verification() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let slots = argon2_parallelism();
        assert!(slots >= 1);
        assert!(
            slots < cores || cores == 1,
            "{slots} argon2 slots on {cores} cores"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_runs_at_most_its_slots_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(run(|| {
                    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                    PEAK.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    RUNNING.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_some());
        }
        // Other tests of this binary may hold slots too, so the peak can be lower, never higher.
        let peak = PEAK.load(Ordering::SeqCst);
        assert!((1..=argon2_parallelism()).contains(&peak), "peak {peak}");
    }
}
