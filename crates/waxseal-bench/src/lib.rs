//! Benchmarks comparing waxseal with `jsonwebtoken`, `jwt-simple`, `josekit` and the bare aws-lc-rs primitives.
//!
//! JWS/JWT in `benches/jwt.rs` (run `scripts/bench-report.sh` for a table); JWE in `benches/jwe.rs`, with
//! `examples/jwe_profile.rs` for instruction counts. See `docs/BENCHMARKS.md`, sections 1, 2 and 13.
