#!/usr/bin/env bash
# Load benchmarks of `waxseal serve` (issue 5), reproducing the figures in docs/BENCHMARKS.md §5:
#
#   1. GET /api/me with one repeated ES256 token (the verified-token cache)
#   2. GET /api/me with a fresh token per request, beside the bare verification rate of the same tokens
#   3. POST /refresh (rotation on SQLite)
#   4. GET /api/me latency while logins saturate argon2
#
# Server and load generator share this machine's cores, as the issue asks. Needs wrk (apt-get install wrk), curl.
#
# usage: scripts/load-bench.sh [SECONDS per run, default 15]
# env:   CARGO_TARGET_DIR (where the release build goes), WAXSEAL_BENCH_PORT (default 18080)
set -euo pipefail

seconds=${1:-15}
port=${WAXSEAL_BENCH_PORT:-18080}
root=$(cd "$(dirname "$0")/.." && pwd)
load="$root/scripts/load"
users=16
password='bench-password-0123'
bench=load-bench
# shellcheck source=load/lib.sh
source "$load/lib.sh"
need_tools wrk curl

step "building the release binaries"
cargo build --release --quiet -p waxseal-cli -p waxseal-bench --bin waxseal --example verify_rate --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
waxseal="$target/release/waxseal"
verify_rate="$target/release/examples/verify_rate"

step "creating $users users and a client_credentials client in $data"
for i in $(seq 1 "$users"); do
    printf '%s\n' "$password" | "$waxseal" user add "bench$i" --password-stdin --data-dir "$data" \
        >/dev/null 2>"$work/admin.log" || { cat "$work/admin.log" >&2; exit 1; }
done
add_client_credentials_client bench-minter
start_server
audience=waxseal-api

login() { # user number -> the /login response body
    curl -sf "$base/login" -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench$1\",\"password\":\"$password\"}"
}
field() { # a string member of a one-line JSON body, on a line of its own (the body ends without a newline)
    sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/"
    echo
}

# CPU seconds used so far by this shell's finished children (wrk, verify_rate), and by the server.
# `times` must run in this shell, not in a $(...) subshell, which has no finished children of its own.
kids_cpu() { # sets $kids
    times >"$work/times"
    kids=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$work/times")
}
measure() { # name, output file, wrk arguments...: runs wrk, records its figures and the CPU per request of both sides
    local name=$1 out=$2 kids0 server0 n
    shift 2
    kids_cpu
    kids0=$kids server0=$(server_cpu)
    wrk "$@" >"$out"
    kids_cpu
    record "$name" "$out"
    n=$(requests_of "$out")
    results+=("  CPU per request: server $(per_request "$server0" "$(server_cpu)" "$n") µs, wrk $(per_request "$kids0" "$kids" "$n") µs")
}

results=()
failed=0
record() { # name, wrk output file
    local line
    line="$1: $(summarize "$2")"
    [[ $line == *"errors 0" ]] || failed=1
    results+=("$line")
    echo "$line" >&2
}

step "1. GET /api/me, one repeated token, 64 connections, ${seconds}s"
token=$(login 1 | field access_token)
measure "repeated token" "$work/repeated.txt" \
    -t2 -c64 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$base/api/me"

step "2. minting access tokens (client_credentials) for the fresh-token run"
mkdir -p "$work/minted"
# Enough for 30,000 fresh requests a second through the whole run.
WAXSEAL_BENCH_OUT="$work/minted" wrk -t2 -c16 -d"$((seconds * 4))s" -s "$load/mint.lua" "$base" \
    -- "$client_id" "$client_secret" >"$work/mint.txt"
cat "$work"/minted/tokens-*.txt >"$work/tokens.txt"
minted=$(wc -l <"$work/tokens.txt")
echo "minted $minted tokens" >&2
curl -sf "$base/.well-known/jwks.json" >"$work/jwks.json"

step "2a. bare verification rate of the same tokens: core library, 2 threads, no HTTP, 10s"
kids_cpu
kids0=$kids
"$verify_rate" "$work/jwks.json" "$work/tokens.txt" "$issuer" "$audience" 2 10 >"$work/bare.txt"
kids_cpu
bare=$(awk '{print $2}' "$work/bare.txt")
bare_cpu=$(per_request "$kids0" "$kids" "$(awk -v r="$bare" 'BEGIN { print r * 10 }')")
results+=("bare ES256 verification (2 threads): $bare verifications/s, ${bare_cpu} µs CPU each")
echo "bare: $bare verifications/s, ${bare_cpu} µs CPU each" >&2

step "2b. GET /api/me, each token once, 64 connections"
measure "fresh token per request" "$work/fresh.txt" \
    -t2 -c64 -d"${seconds}s" --latency -s "$load/fresh.lua" "$base/api/me" -- "$work/tokens.txt" 2
if grep -q 'fresh tokens exhausted' "$work/fresh.txt"; then
    grep 'fresh tokens exhausted' "$work/fresh.txt" >&2
    echo "load-bench: not enough minted tokens for a fresh token per request; shorten the run" >&2
    failed=1
fi
fresh=$(awk '/Requests\/sec:/ {print $2}' "$work/fresh.txt")
results+=("fresh / bare = $(awk -v f="$fresh" -v b="$bare" 'BEGIN { printf "%.2f", f / b }')")

step "3. POST /refresh, 64 connections, ${seconds}s (seeding 128 sessions by login first)"
for i in $(seq 1 128); do
    login $(((i - 1) % users + 1)) | field refresh_token
done >"$work/refresh-tokens.txt"
measure "POST /refresh" "$work/refresh.txt" \
    -t2 -c64 -d"${seconds}s" --latency -s "$load/refresh.lua" "$base" -- "$work/refresh-tokens.txt" 2

step "4. GET /api/me (64 connections) while 8 connections log in without pause, ${seconds}s"
wrk -t1 -c8 -d"$((seconds + 2))s" --latency -s "$load/login.lua" "$base" -- "$users" "$password" >"$work/logins.txt" &
logins=$!
sleep 1
wrk -t1 -c64 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$base/api/me" >"$work/under-logins.txt"
wait "$logins"
record "/api/me during logins" "$work/under-logins.txt"
record "  the logins themselves" "$work/logins.txt"

server_log_clean

step "results ($(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'))"
printf '%s\n' "${results[@]}"
if [ "$failed" != 0 ]; then
    echo "load-bench: some requests failed (see the errors above): the figures are not valid" >&2
    exit 1
fi
