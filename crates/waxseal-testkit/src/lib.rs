//! Test support shared by the waxseal crates' integration tests; a dev-dependency only, never published.
//!
//! What lives here is what more than one crate's `tests/` needs: where the repository is, the rule for tests that
//! need something outside Rust ([`require_or_skip`]), a clock tests move by hand, a PostgreSQL database and a Redis
//! key prefix of each test's own, the other JOSE implementations the interop tests talk to, and a headless browser
//! for the server's HTML pages (feature `browser`). Fixtures that belong to one crate (a running server, the CLI
//! binary) stay in that crate's `tests/common`.
//!
//! A test that needs a service or tool the machine lacks skips loudly, with a banner libtest does not capture;
//! with `CI=true` or `WAXSEAL_REQUIRE_SERVICES=1` it fails instead, so a CI run cannot pass by skipping.
//!
//! This crate depends on `waxseal` (for the clock) but on no other waxseal crate: the server's and the CLI's own
//! tests use it, and a dependency on them would be a cycle.
#![allow(clippy::missing_panics_doc, clippy::expect_used)]

#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "clock")]
mod clock;
pub mod peers;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;

#[cfg(feature = "clock")]
pub use clock::TestClock;

use std::io::Write as _;
use std::path::PathBuf;

/// The repository's root (the workspace folder), where `interop/` and `.ci/` are.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// True when tests that need outside tools must fail rather than skip: `CI=true` or `WAXSEAL_REQUIRE_SERVICES=1`.
pub fn services_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("WAXSEAL_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// `test` cannot run because `missing`: fails when services are required, otherwise prints a skip banner and
/// returns `false` (so a test can `return require_or_skip(..)` from a function saying whether it may go on).
pub fn require_or_skip(test: &str, missing: &str) -> bool {
    let message =
        format!("{test}: {missing}; run `bash .ci/deps` (from the repository root) to install it");
    assert!(!services_required(), "{message}");
    let bar = "!".repeat(100);
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!!! SKIPPING {test} (set CI=true or WAXSEAL_REQUIRE_SERVICES=1 to fail instead)\n!!! {message}\n{bar}\n"
    );
    false
}

/// Every file directly in `dir`, name and bytes, read as one consistent set. A store may still remove a file as
/// it closes (SQLite deletes its `-wal` and `-shm` files when its last connection does): a pass that meets a
/// vanished file starts over, so the files returned all existed together and none is left out.
pub fn read_files(dir: &std::path::Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let read_all = || -> std::io::Result<Vec<(std::ffi::OsString, Vec<u8>)>> {
        std::fs::read_dir(dir)?
            .map(|entry| {
                let entry = entry?;
                Ok((entry.file_name(), std::fs::read(entry.path())?))
            })
            .collect()
    };
    (0..100)
        .find_map(|_| match read_all() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            read => Some(read.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))),
        })
        .unwrap_or_else(|| panic!("the files in {} keep changing", dir.display()))
}
