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
bench=dpop-bench
# shellcheck source=load/lib.sh
source "$load/lib.sh"
need_tools wrk curl

step "building the release binaries"
cargo build --release --quiet -p waxseal-cli -p waxseal-bench --bin waxseal --example dpop_proofs \
    --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
waxseal="$target/release/waxseal"
dpop_proofs="$target/release/examples/dpop_proofs"

step "a client_credentials client in $data"
add_client_credentials_client bench-dpop
start_server

field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/"; }
grant() { # [DPoP proof] -> the token response
    curl -sf "$base/oauth/token" -u "$client_id:$client_secret" -d grant_type=client_credentials \
        ${1:+-H "DPoP: $1"}
}

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

server_log_clean

step "results ($(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'))"
printf '%s\n' "${results[@]}"
if [ "$failed" != 0 ]; then
    echo "dpop-bench: some requests failed (see the errors above): the figures are not valid" >&2
    exit 1
fi
