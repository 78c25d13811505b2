#!/usr/bin/env bash
# waxseal serve beside node oidc-provider, in one run (issue 14, item 4), reproducing docs/BENCHMARKS.md §9:
#
#   1. POST token endpoint, client_credentials grant, client_secret_basic, an ES256 `at+jwt` access token
#   2. GET the JWKS
#
# Both servers run on loopback with one ES256 key and one client; one load generator (wrk, 2 threads, 32
# connections by default) drives each in turn on the same cores. For each run: requests/s, and the server's own
# CPU time (user + system, from /proc/PID/stat) per request, which the load generator's share of the cores does not
# cap. oidc-provider is installed by `npm ci` from scripts/oidc-provider/package-lock.json (pinned; nothing is
# fetched at run time) and configured by scripts/oidc-provider/server.js.
#
# Needs wrk (apt-get install wrk), curl, node >= 20.19 and npm.
#
# usage: scripts/oidc-provider-bench.sh [SECONDS per run, default 10]
# env:   CARGO_TARGET_DIR (where the release build goes), WAXSEAL_BENCH_PORT (default 18080),
#        OIDC_PROVIDER_PORT (default 18181), WAXSEAL_BENCH_CONNECTIONS (default 32),
#        WAXSEAL_BENCH_CALLGRIND=1 also counts waxseal's instructions per request under callgrind (valgrind)
set -euo pipefail

seconds=${1:-10}
port=${WAXSEAL_BENCH_PORT:-18080}
peer_port=${OIDC_PROVIDER_PORT:-18181}
connections=${WAXSEAL_BENCH_CONNECTIONS:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
load="$root/scripts/load"
peer_dir="$root/scripts/oidc-provider"

for tool in wrk curl node npm; do
    command -v "$tool" >/dev/null || { echo "oidc-provider-bench: $tool is needed" >&2; exit 1; }
done
step() { printf '\n== %s\n' "$*" >&2; }

step "installing oidc-provider from package-lock.json (npm ci)"
(cd "$peer_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
peer_version=$(node -p "require('$peer_dir/node_modules/oidc-provider/package.json').version")

step "building the release binary"
cargo build --release --quiet -p waxseal-cli --bin waxseal --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
waxseal="$target/release/waxseal"

work=$(mktemp -d)
pids=()
cleanup() {
    local status=$?
    # `|| true`: under `set -e` a killed server's status (143) from `wait` would become the script's.
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

wait_for() { # URL, log file, name
    for _ in $(seq 1 150); do
        curl -sf "$1" >/dev/null && return 0
        sleep 0.1
    done
    cat "$2" >&2
    echo "oidc-provider-bench: $3 did not start" >&2
    exit 1
}

step "waxseal: a data directory with an ES256 key and a client_credentials client"
data="$work/data"
client=$("$waxseal" client add bench-minter --grant client_credentials --data-dir "$data" 2>"$work/admin.log") ||
    { cat "$work/admin.log" >&2; exit 1; }
client_id=$(awk '/^client_id:/ {print $2}' <<<"$client")
client_secret=$(awk '/^client_secret:/ {print $2}' <<<"$client")
# Both servers get the same credentials: the same request bytes for both.
basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)

# The server's default logging (info), as it is deployed.
"$waxseal" serve --data-dir "$data" --listen "127.0.0.1:$port" --management-listen off >"$work/waxseal.log" 2>&1 &
waxseal_pid=$!
pids+=("$waxseal_pid")
wait_for "http://127.0.0.1:$port/readyz" "$work/waxseal.log" "waxseal serve"

step "oidc-provider $peer_version on port $peer_port"
PORT=$peer_port CLIENT_ID=$client_id CLIENT_SECRET=$client_secret NODE_ENV=production \
    node "$peer_dir/server.js" >"$work/peer.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")
wait_for "http://127.0.0.1:$peer_port/jwks" "$work/peer.log" "oidc-provider"

# name -> "token path" "jwks path" "pid"
declare -A token_path=([waxseal]=/oauth/token [oidc-provider]=/token)
declare -A jwks_path=([waxseal]=/.well-known/jwks.json [oidc-provider]=/jwks)
declare -A port_of=([waxseal]=$port [oidc-provider]=$peer_port)
declare -A pid_of=([waxseal]=$waxseal_pid [oidc-provider]=$peer_pid)

step "checking that both issue ES256 at+jwt access tokens"
for name in waxseal oidc-provider; do
    token=$(curl -sf "http://127.0.0.1:${port_of[$name]}${token_path[$name]}" -H "Authorization: Basic $basic" \
        -d grant_type=client_credentials | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    header=$(cut -d. -f1 <<<"$token" | tr '_-' '/+')
    while (( ${#header} % 4 )); do header+='='; done
    header=$(base64 -d <<<"$header")
    echo "$name: $header" >&2
    [[ $header == *'"alg":"ES256"'* && $header == *'"typ":"at+jwt"'* ]] ||
        { echo "oidc-provider-bench: $name did not issue an ES256 at+jwt token" >&2; exit 1; }
done

server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
declare -A rps cpu
failed=0
measure() { # name, kind (token|jwks)
    local name=$1 kind=$2 out="$work/$1-$2.txt" before n errors
    local url="http://127.0.0.1:${port_of[$name]}"
    before=$(server_cpu "${pid_of[$name]}")
    if [ "$kind" = token ]; then
        wrk -t2 -c"$connections" -d"${seconds}s" -s "$load/client-credentials.lua" "$url" \
            -- "${token_path[$name]}" "$basic" >"$out"
    else
        wrk -t2 -c"$connections" -d"${seconds}s" "$url${jwks_path[$name]}" >"$out"
    fi
    n=$(awk '/ requests in / { print $1 }' "$out")
    errors=$(awk '/Non-2xx or 3xx responses:/ { e += $5 } /Socket errors:/ { e += $4 + $6 + $8 + $10 } END { print e + 0 }' "$out")
    [ "$errors" = 0 ] || { failed=1; echo "$name $kind: $errors errors" >&2; }
    rps[$name-$kind]=$(awk '/Requests\/sec:/ { print $2 }' "$out")
    cpu[$name-$kind]=$(awk -v a="$before" -v b="$(server_cpu "${pid_of[$name]}")" -v n="$n" \
        'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
    echo "$name $kind: ${rps[$name-$kind]} req/s, ${cpu[$name-$kind]} µs server CPU per request" >&2
}

# Alternating, so that drift on a shared machine touches both.
for kind in token jwks; do
    for name in waxseal oidc-provider; do
        step "$name, $kind, $connections connections, ${seconds}s"
        measure "$name" "$kind"
    done
done

callgrind_line=
if [ "${WAXSEAL_BENCH_CALLGRIND:-0}" = 1 ]; then
    command -v valgrind >/dev/null || { echo "oidc-provider-bench: valgrind is needed for callgrind" >&2; exit 1; }
    step "waxseal under callgrind: instructions per request (user space only)"
    kill "$waxseal_pid"
    wait "$waxseal_pid" 2>/dev/null || true
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
        "$waxseal" serve --data-dir "$data" --listen "127.0.0.1:$port" --management-listen off \
            >"$work/callgrind.log" 2>&1 &
    waxseal_pid=$!
    pids+=("$waxseal_pid")
    wait_for "http://127.0.0.1:$port/readyz" "$work/callgrind.log" "waxseal serve under valgrind"
    per_request_ir() { # kind, requests -> instructions per request (counting on only around the requests)
        local kind=$1 n=$2 url="http://127.0.0.1:$port"
        callgrind_control -z "$waxseal_pid" >/dev/null
        callgrind_control -i on "$waxseal_pid" >/dev/null
        if [ "$kind" = token ]; then
            for _ in $(seq 1 "$n"); do printf 'url = "%s/oauth/token"\n' "$url"; done |
                curl -sf -K - -H "Authorization: Basic $basic" -d grant_type=client_credentials >/dev/null
        else
            for _ in $(seq 1 "$n"); do printf 'url = "%s/.well-known/jwks.json"\n' "$url"; done |
                curl -sf -K - >/dev/null
        fi
        callgrind_control -i off "$waxseal_pid" >/dev/null
        callgrind_control -d "$kind" "$waxseal_pid" >/dev/null
        sleep 1
        awk -v n="$n" '/^totals:/ { print int($2 / n); exit }' "$(ls -t "$work"/callgrind.out* | head -1)"
    }
    # Warm up (first requests fill caches, open connections), then count.
    per_request_ir token 50 >/dev/null
    token_ir=$(per_request_ir token 1000)
    per_request_ir jwks 50 >/dev/null
    jwks_ir=$(per_request_ir jwks 1000)
    callgrind_line="waxseal instructions per request (callgrind, 1,000 sequential requests on kept-alive connections): token $token_ir, JWKS $jwks_ir"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
step "results ($(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'); oidc-provider $peer_version on node $(node --version))"
printf '| run (%s s, %s connections, wrk -t2) | waxseal req/s | oidc-provider req/s | ratio | waxseal CPU / request | oidc-provider CPU / request | ratio |\n' "$seconds" "$connections"
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for kind in token jwks; do
    w=${rps[waxseal-$kind]} p=${rps[oidc-provider-$kind]}
    wc=${cpu[waxseal-$kind]} pc=${cpu[oidc-provider-$kind]}
    printf '| %s | %s | %s | %s× | %s µs | %s µs | %s× |\n' "$kind" "$w" "$p" "$(ratio "$w" "$p")" "$wc" "$pc" "$(ratio "$pc" "$wc")"
done
[ -z "$callgrind_line" ] || echo "$callgrind_line"
if grep -qiE 'panic|error' "$work/waxseal.log"; then
    failed=1
    grep -iE 'panic|error' "$work/waxseal.log" | head -20 >&2
fi
if [ "$failed" != 0 ]; then
    echo "oidc-provider-bench: some requests failed: the figures are not valid" >&2
    exit 1
fi
