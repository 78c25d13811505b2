#!/usr/bin/env bash
# The speed of `waxseal debugger` (release build), for docs/BENCHMARKS.md §12:
#
#   1. a decode round trip: POST /api/decode of a 1 KB ES256 token, one connection, one request at a time
#      (wrk -t1 -c1): what each keystroke costs, page to process and back
#   2. the page: navigation timing in headless Chromium over WebDriver (scripts/load/page-timing.py): the first
#      load with cold caches (after the browser itself is warm), then the median of LOADS loads
#
# Needs wrk, curl, python3, chromium and chromedriver (bash .ci/deps installs the last two).
# usage: scripts/debugger-bench.sh [SECONDS for run 1, default 10] [LOADS for run 2, default 20]
# env:   CARGO_TARGET_DIR, WAXSEAL_BENCH_PORT (default 17519), WAXSEAL_BENCH_BIN (a waxseal binary to use instead)
set -euo pipefail

seconds=${1:-10}
loads=${2:-20}
port=${WAXSEAL_BENCH_PORT:-17519}
root=$(cd "$(dirname "$0")/.." && pwd)
for tool in wrk curl python3 chromedriver; do
    command -v "$tool" >/dev/null || { echo "debugger-bench: $tool is needed" >&2; exit 1; }
done
step() { printf '\n== %s\n' "$*" >&2; }

if [ -n "${WAXSEAL_BENCH_BIN:-}" ]; then
    waxseal=$WAXSEAL_BENCH_BIN
else
    step "building the release binary"
    cargo build --release --quiet -p waxseal-cli --bin waxseal --manifest-path "$root/Cargo.toml"
    waxseal="${CARGO_TARGET_DIR:-$root/target}/release/waxseal"
fi

work=$(mktemp -d)
pid=
cleanup() {
    local status=$?
    [ -z "$pid" ] || { kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

url="http://127.0.0.1:$port/"
"$waxseal" debugger --listen "127.0.0.1:$port" >"$work/debugger.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
curl -sf "$url" >/dev/null || { cat "$work/debugger.log" >&2; exit 1; }

step "1. decode round trip of a 1 KB token (wrk -t1 -c1, ${seconds} s)"
"$waxseal" keygen --alg ES256 --out "$work/key.jwk" >/dev/null 2>&1
padding=$(python3 -c "print('x' * 640)")
token=$("$waxseal" sign --key "$work/key.jwk" --sub alice --iss https://issuer.example --aud api --exp 1h \
    --claims "{\"note\":\"$padding\",\"roles\":[\"reader\",\"writer\"]}" 2>/dev/null)
printf '{"token":"%s"}' "$token" >"$work/decode.json"
cat >"$work/decode.lua" <<LUA
local f = io.open("$work/decode.json"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "http://127.0.0.1:$port"
LUA
wrk -t1 -c1 -d"${seconds}s" --latency -s "$work/decode.lua" "${url}api/decode" >"$work/decode.txt"
grep -q "Non-2xx" "$work/decode.txt" && { cat "$work/decode.txt" >&2; echo "debugger-bench: decode failed" >&2; exit 1; }
echo "token: ${#token} characters" >&2
grep -E "^ +(50|90|99)%|Requests/sec" "$work/decode.txt" >&2

step "2. the page in headless Chromium ($loads loads)"
python3 "$root/scripts/load/page-timing.py" "$url" "$loads"
