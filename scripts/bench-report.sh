#!/usr/bin/env bash
# Runs the JWT comparison benchmark (crates/waxseal-bench/benches/jwt.rs) and prints Markdown tables of the
# criterion medians: time per operation per library, each library's ratio to the bare aws-lc-rs primitive, and
# each library's ratio to jsonwebtoken.
#
#   scripts/bench-report.sh              # run the benchmark, then print the tables
#   REPORT_ONLY=1 scripts/bench-report.sh  # only print the tables from the last run's results
#
# Honours CARGO_TARGET_DIR (criterion writes to $CARGO_TARGET_DIR/criterion). Extra arguments go to criterion,
# e.g. `scripts/bench-report.sh ES256` to run one algorithm only.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "${REPORT_ONLY:-0}" != 1 ]; then
    cargo bench -p waxseal-bench --bench jwt -- --noplot "$@" >&2
fi

python3 - "$target_dir/criterion" <<'PY'
import json
import os
import sys

root = sys.argv[1]
algs = ["HS256", "RS256", "PS256", "ES256", "ES384", "EdDSA"]
libs = ["waxseal", "jsonwebtoken", "jwt-simple"]
results = {}  # (group, function) -> median ns
for group_dir in sorted(os.listdir(root)) if os.path.isdir(root) else []:
    for bench_dir in sorted(os.listdir(os.path.join(root, group_dir))):
        base = os.path.join(root, group_dir, bench_dir, "new")
        try:
            with open(os.path.join(base, "benchmark.json")) as f:
                meta = json.load(f)
            with open(os.path.join(base, "estimates.json")) as f:
                est = json.load(f)
        except (FileNotFoundError, NotADirectoryError):
            continue
        results[(meta["group_id"], meta["function_id"])] = est["median"]["point_estimate"]
if not results:
    sys.exit(f"no criterion results under {root}")


def fmt_time(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def fmt_ratio(a, b):
    return "–" if a is None or b is None else f"{a / b:.2f}×"


rows = []
for alg in algs:
    for op in ["sign", "verify"]:
        group = f"{alg}-{op}"
        get = lambda fn: results.get((group, fn))
        if not any(get(lib) is not None for lib in libs):
            continue
        prim = get("aws-lc-rs")
        unparsed = get("aws-lc-rs-unparsed")
        parsed = get("aws-lc-rs-parsed")
        rows.append((alg, op, {lib: get(lib) for lib in libs}, prim, unparsed, parsed))

print("### Median time per operation\n")
print("| Alg | Op | waxseal | jsonwebtoken | jwt-simple | aws-lc-rs primitive | primitive, parsed key |")
print("|---|---|---:|---:|---:|---:|---:|")
for alg, op, t, prim, unparsed, parsed in rows:
    p = prim if prim is not None else unparsed
    print(f"| {alg} | {op} | {fmt_time(t['waxseal'])} | {fmt_time(t['jsonwebtoken'])} | {fmt_time(t['jwt-simple'])} "
          f"| {fmt_time(p)} | {fmt_time(parsed)} |")

print("\n### Ratio to the primitive (lower is better; 1.00× = no overhead)\n")
print("Signing: the primitive signs the precomputed signing input. Verification: `UnparsedPublicKey::verify` "
      "(key parsed on every call, what most crates do) and `ParsedPublicKey::verify_sig` (key parsed once); "
      "HS256 has one primitive, `hmac::verify`.\n")
print("| Alg | Op | waxseal ÷ prim | jsonwebtoken ÷ prim | jwt-simple ÷ prim | waxseal ÷ parsed | jsonwebtoken ÷ parsed |")
print("|---|---|---:|---:|---:|---:|---:|")
for alg, op, t, prim, unparsed, parsed in rows:
    p = prim if prim is not None else unparsed
    print(f"| {alg} | {op} | {fmt_ratio(t['waxseal'], p)} | {fmt_ratio(t['jsonwebtoken'], p)} "
          f"| {fmt_ratio(t['jwt-simple'], p)} | {fmt_ratio(t['waxseal'], parsed)} "
          f"| {fmt_ratio(t['jsonwebtoken'], parsed)} |")

print("\n### Ratio to jsonwebtoken (lower is better; < 1.00× = faster than jsonwebtoken)\n")
print("| Alg | Op | waxseal ÷ jsonwebtoken | jwt-simple ÷ jsonwebtoken | waxseal ÷ jwt-simple |")
print("|---|---|---:|---:|---:|")
for alg, op, t, prim, unparsed, parsed in rows:
    print(f"| {alg} | {op} | {fmt_ratio(t['waxseal'], t['jsonwebtoken'])} "
          f"| {fmt_ratio(t['jwt-simple'], t['jsonwebtoken'])} | {fmt_ratio(t['waxseal'], t['jwt-simple'])} |")
PY
