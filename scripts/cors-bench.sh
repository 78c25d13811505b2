#!/usr/bin/env bash
# What CORS costs `waxseal serve` (issue 21), reproducing the figures in docs/BENCHMARKS.md:
#
#   1. GET /userinfo from no page (no Origin): the baseline, no CORS work at all
#   2. GET /userinfo from the client's registered origin: the client's web origins looked up (cached) and the
#      headers added
#   3. the userinfo preflight from a registered origin: one store query (the origin is in no index)
#   4. the same preflight from an origin no client registered: the same query, answered 403
#
# One token, repeated (the verified-token cache), 32 connections each. Server and wrk share this machine's cores.
# Needs wrk (apt-get install wrk), curl.
#
# usage: scripts/cors-bench.sh [SECONDS per run, default 10]
# env:   CARGO_TARGET_DIR (where the release build goes), WAXSEAL_BENCH_PORT (default 18081)
set -euo pipefail

seconds=${1:-10}
port=${WAXSEAL_BENCH_PORT:-18081}
root=$(cd "$(dirname "$0")/.." && pwd)
password='bench-password-0123'
app=https://app.example.com
bench=cors-bench
# shellcheck source=load/lib.sh
source "$root/scripts/load/lib.sh"
need_tools wrk curl

step "building the release binary"
cargo build --release --quiet -p waxseal-cli --bin waxseal --manifest-path "$root/Cargo.toml"
waxseal="${CARGO_TARGET_DIR:-$root/target}/release/waxseal"

step "a user and a client whose web origin is $app, in $data"
printf '%s\n' "$password" | "$waxseal" user add alice --password-stdin --scope openid --scope profile \
    --data-dir "$data" >/dev/null 2>"$work/admin.log" || { cat "$work/admin.log" >&2; exit 1; }
client=$("$waxseal" client add spa --grant authorization_code --grant password \
    --redirect-uri "$app/callback" --web-origin "$app" --scope openid --scope profile \
    --data-dir "$data" 2>>"$work/admin.log") || { cat "$work/admin.log" >&2; exit 1; }
client_id=$(awk '/^client_id:/ {print $2}' <<<"$client")
client_secret=$(awk '/^client_secret:/ {print $2}' <<<"$client")
start_server
token=$(curl -sf "$base/oauth/token" -u "$client_id:$client_secret" \
    -d grant_type=password -d username=alice -d "password=$password" -d 'scope=openid profile' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# The answers each run expects, checked once with curl before it is measured.
expect() { # name, the header line wanted in the answer, curl arguments...
    local name=$1 wanted=$2
    shift 2
    curl -s -o /dev/null -D "$work/headers" "$@"
    grep -qi "^$wanted" "$work/headers" || {
        echo "$bench: $name: no \"$wanted\" in the answer:" >&2
        cat "$work/headers" >&2
        exit 1
    }
}
auth="Authorization: Bearer $token"
preflight=(-X OPTIONS -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: authorization')
expect "no Origin" "HTTP/1.1 200" -H "$auth" "$base/userinfo"
expect "registered origin" "access-control-allow-origin: $app" -H "$auth" -H "Origin: $app" "$base/userinfo"
expect "preflight" "access-control-allow-origin: $app" "${preflight[@]}" -H "Origin: $app" "$base/userinfo"
expect "stranger's preflight" "HTTP/1.1 403" "${preflight[@]}" -H "Origin: https://evil.test" "$base/userinfo"

results=()
failed=0
run() { # name, wrk arguments... (a run whose every answer is not 2xx counts errors; the stranger's are 403s)
    local name=$1 out="$work/run.txt" server0 n line
    shift
    server0=$(server_cpu)
    wrk -t2 -c32 -d"${seconds}s" --latency "$@" >"$out"
    n=$(requests_of "$out")
    line="$name: $(summarize "$out"), server CPU $(per_request "$server0" "$(server_cpu)" "$n") µs per request"
    results+=("$line")
    echo "$line" >&2
    rates+=("$(awk '/Requests\/sec:/ {print $2}' "$out")")
}
rates=()
step "1. GET /userinfo, no Origin, ${seconds}s"
run "userinfo, no Origin" -H "$auth" "$base/userinfo"
step "2. GET /userinfo, Origin: $app, ${seconds}s"
run "userinfo, registered Origin" -H "$auth" -H "Origin: $app" "$base/userinfo"
# wrk sets the method from a script only.
echo 'wrk.method = "OPTIONS"' >"$work/options.lua"
step "3. OPTIONS /userinfo preflight, Origin: $app, ${seconds}s"
run "preflight, registered origin" -s "$work/options.lua" -H 'Access-Control-Request-Method: GET' \
    -H 'Access-Control-Request-Headers: authorization' -H "Origin: $app" "$base/userinfo"
step "4. OPTIONS /userinfo preflight, an origin no client registered (403), ${seconds}s"
run "preflight, unregistered origin (403 expected)" -s "$work/options.lua" \
    -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: authorization' \
    -H 'Origin: https://evil.test' "$base/userinfo"
for line in "${results[@]:0:3}"; do
    [[ $line == *"errors 0,"* ]] || failed=1
done
server_log_clean

printf '\n%s\n' "cors-bench: $(nproc) cores, $seconds s per run"
printf '%s\n' "${results[@]}"
awk -v a="${rates[0]}" -v b="${rates[1]}" 'BEGIN { printf "registered Origin / no Origin = %.2f\n", b / a }'
exit "$failed"
