#!/usr/bin/env bash
# Soak run of `waxseal serve` (issue 7), reproducing the figures in docs/BENCHMARKS.md §7: builds the release
# binary and the driver (crates/waxseal-bench/examples/soak.rs), which starts the server on a free loopback port
# with a fresh data directory and short lifetimes, creates its users with `waxseal user add`, drives login /
# GET /api/me / refresh / reuse / logout traffic from several clients and samples the server's memory and gauges
# every second. Exits non-zero on any unexpected answer, on resident-memory growth after warm-up beyond the stated
# bound, or when the denylist was not pruned.
#
# usage: scripts/soak.sh [SECONDS, default 240] [CLIENTS, default 8]
# env:   CARGO_TARGET_DIR (where the release build goes)
set -euo pipefail

seconds=${1:-240}
clients=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)

echo "== building the release binary and the soak driver" >&2
cargo build --release --quiet -p waxseal-cli -p waxseal-bench --bin waxseal --example soak \
    --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}

echo "== $(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$target/release/examples/soak" "$target/release/waxseal" "$seconds" "$clients"
