//! Benchmarks comparing waxseal with `jsonwebtoken`, `jwt-simple` and the bare aws-lc-rs primitives.
//!
//! Everything lives in `benches/jwt.rs`; run `scripts/bench-report.sh` for a table. See `docs/BENCHMARKS.md`.
