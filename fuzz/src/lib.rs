//! The properties the fuzz targets check. `corpus.rs`, `dpop.rs`, `jose.rs`, `jwe.rs`, `jwe_json.rs` and `server.rs` are also
//! compiled into the workspace's `fuzz_regressions` tests (with `#[path]`), which replay `fuzz/regressions/` through
//! the same functions.

pub mod corpus;
pub mod dpop;
pub mod jose;
pub mod jwe;
pub mod jwe_json;
pub mod server;

pub use corpus::{Outcome, Seed};
