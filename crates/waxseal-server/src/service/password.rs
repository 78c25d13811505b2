//! Argon2id, kept off the async workers and off one core.
//!
//! Each hash or verification takes tens of milliseconds of one core by design. On the blocking pool it cannot stall
//! a worker thread, but a burst of logins would still fill every core with argon2 and leave token verification
//! waiting for CPU. At most `cores − 1` run at once (at least one): the remaining core keeps serving protected
//! requests, and the excess logins wait their turn, which throttling already keeps short.

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
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
        PasswordHash::new(&phc).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

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
