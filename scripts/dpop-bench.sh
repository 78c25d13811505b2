#!/usr/bin/env bash
# What DPoP costs at the server (issue 19), reproducing docs/BENCHMARKS.md's DPoP figures:
#
#   1. GET /api/me with one repeated bearer token (the verified-token cache): the baseline
#   2. GET /api/me with one repeated DPoP-bound token and a fresh proof per request: the cache still serves the
#      token, so the difference is the proof (one ES256 verification, the htu/ath checks, the replay store)
#
# Server and load generator share this machine's cores. Needs wrk (apt-get install wrk), curl.
#
# usage: scripts/dpop-bench.sh [SECONDS per run, default 15]
# env:   CARGO_TARGET_DIR (where the release build goes), WAXSEAL_BENCH_PORT (default 18081)
set -euo pipefail

seconds=${1:-15}
port=${WAXSEAL_BENCH_PORT:-18081}
root=$(cd "$(dirname "$0")/.." && pwd)
load="$root/scripts/load"
base="http://127.0.0.1:$port"

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "dpop-bench: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
step() { printf '\n== %s\n' "$*" >&2; }

step "building the release binaries"
cargo build --release --quiet -p waxseal-cli -p waxseal-bench --bin waxseal --example dpop_proofs \
    --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
waxseal="$target/release/waxseal"
dpop_proofs="$target/release/examples/dpop_proofs"

work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
data="$work/data"

step "a client_credentials client in $data"
client=$("$waxseal" client add bench-dpop --grant client_credentials --data-dir "$data" 2>/dev/null)
client_id=$(awk '/^client_id:/ {print $2}' <<<"$client")
client_secret=$(awk '/^client_secret:/ {print $2}' <<<"$client")

step "starting waxseal serve on $base"
RUST_LOG=warn "$waxseal" serve --data-dir "$data" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -sf "$base/readyz" >/dev/null && break
    sleep 0.1
done
curl -sf "$base/readyz" >/dev/null || { cat "$work/serve.log" >&2; echo "dpop-bench: the server did not start" >&2; exit 1; }
issuer=$(curl -sf "$base/.well-known/openid-configuration" | sed -E 's/.*"issuer":"([^"]+)".*/\1/')
field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/"; }
grant() { # [DPoP proof] -> the token response
    curl -sf "$base/oauth/token" -u "$client_id:$client_secret" -d grant_type=client_credentials \
        ${1:+-H "DPoP: $1"}
}

summarize() { # wrk's summary -> "req/s p50 p99 errors"
    awk '
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx or 3xx responses:/ { errors += $5 }
        /Socket errors:/ { errors += $4 + $6 + $8 + $10 }
        END { printf "%s req/s, p50 %s, p99 %s, errors %d\n", rps, p50, p99, errors }' "$1"
}
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$server/stat"; }
per_request() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }'; }
requests_of() { awk '/ requests in / { print $1 }' "$1"; }
results=()
failed=0
measure() { # name, output file, wrk arguments...
    local name=$1 out=$2 before line
    shift 2
    before=$(server_cpu)
    wrk "$@" >"$out"
    line="$name: $(summarize "$out")"
    [[ $line == *"errors 0" ]] || failed=1
    results+=("$line" "  server CPU per request: $(per_request "$before" "$(server_cpu)" "$(requests_of "$out")") µs")
    echo "$line" >&2
}

step "1. GET /api/me, one repeated bearer token, 64 connections, ${seconds}s"
bearer=$(grant | field access_token)
measure "bearer, repeated token" "$work/bearer.txt" \
    -t2 -c64 -d"${seconds}s" --latency -H "Authorization: Bearer $bearer" "$base/api/me"

step "2. a DPoP-bound token, and fresh proofs for ${seconds}s of requests"
key="$work/client.jwk"
token_proof=$("$dpop_proofs" "$key" POST "$issuer/oauth/token" 1 2>/dev/null)
response=$(grant "$token_proof")
bound=$(field access_token <<<"$response")
[[ $response == *'"token_type":"DPoP"'* ]] || { echo "dpop-bench: no DPoP token: $response" >&2; exit 1; }
# Room for 40,000 requests a second through the run.
"$dpop_proofs" "$key" GET "$issuer/api/me" "$((seconds * 40000))" "$bound" >"$work/proofs.txt"

step "2a. GET /api/me, the bound token with a fresh proof per request, 64 connections, ${seconds}s"
measure "DPoP, repeated token, fresh proof" "$work/dpop.txt" \
    -t2 -c64 -d"${seconds}s" --latency -s "$load/dpop.lua" "$base/api/me" -- "$work/proofs.txt" 2 "$bound"
if grep -q 'fresh proofs exhausted' "$work/dpop.txt"; then
    grep 'fresh proofs exhausted' "$work/dpop.txt" >&2
    echo "dpop-bench: not enough proofs for one per request; shorten the run" >&2
    failed=1
fi
rate() { awk '/Requests\/sec:/ {print $2}' "$1"; }
results+=("DPoP / bearer = $(awk -v d="$(rate "$work/dpop.txt")" -v b="$(rate "$work/bearer.txt")" 'BEGIN { printf "%.2f", d / b }')")

if grep -qiE 'panic|error' "$work/serve.log"; then
    failed=1
    echo "dpop-bench: the server logged errors:" >&2
    grep -iE 'panic|error' "$work/serve.log" | head -20 >&2
fi

step "results ($(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'))"
printf '%s\n' "${results[@]}"
if [ "$failed" != 0 ]; then
    echo "dpop-bench: some requests failed (see the errors above): the figures are not valid" >&2
    exit 1
fi
