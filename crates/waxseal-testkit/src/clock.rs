use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use waxseal::jwt::{Clock, NumericDate};

/// A clock that stands still until a test moves it. Clones share one time, so a verifier given a clone sees the
/// test's [`TestClock::advance`].
///
/// The constructors hand out an `Arc`, which is what a server takes as its clock (`Arc<dyn Clock>`).
#[derive(Clone, Debug)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    /// A clock standing at the system's time now.
    pub fn new() -> Arc<TestClock> {
        TestClock::at(NumericDate::now().secs())
    }

    /// A clock standing at `secs` (Unix seconds): a fixed date for reproducible tokens, or a time in the past to
    /// issue tokens already expired by the wall clock that other implementations check against.
    pub fn at(secs: u64) -> Arc<TestClock> {
        Arc::new(TestClock(Arc::new(AtomicU64::new(secs))))
    }

    /// Moves the clock forward by whole seconds.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// The time it stands at, in Unix seconds.
    pub fn secs(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for TestClock {
    fn now(&self) -> NumericDate {
        NumericDate::from_secs(self.secs())
    }
}
