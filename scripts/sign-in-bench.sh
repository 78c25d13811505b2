#!/usr/bin/env bash
# The speed of OpenID Connect sign-in on `waxseal serve` (SQLite, release build), for docs/BENCHMARKS.md §11:
#
#   1. GET /authorize with a live SSO session (a first-party client: no consent) → 303 with a new code
#   2. GET /authorize without a session → the sign-in page (its server CPU time per request)
#   3. POST /oauth/token, authorization_code grant (PKCE S256, openid scope: an access token and an ES256 ID token)
#
# One load generator (wrk, 2 threads) on the same cores. For each: requests/s and the server's own CPU time (user +
# system, /proc/PID/stat) per request. The codes for 3 are minted beforehand through 1's path (python3).
#
# Needs wrk (apt-get install wrk), curl, python3.
# usage: scripts/sign-in-bench.sh [SECONDS per run, default 10]
# env:   CARGO_TARGET_DIR, WAXSEAL_BENCH_PORT (default 18090), WAXSEAL_BENCH_CONNECTIONS (default 32),
#        WAXSEAL_BENCH_CODES (codes minted for run 3, default 30000: more than 10 s of exchanges at the target rate)
set -euo pipefail

seconds=${1:-10}
port=${WAXSEAL_BENCH_PORT:-18090}
connections=${WAXSEAL_BENCH_CONNECTIONS:-32}
codes_wanted=${WAXSEAL_BENCH_CODES:-30000}
root=$(cd "$(dirname "$0")/.." && pwd)
load="$root/scripts/load"
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "sign-in-bench: $tool is needed" >&2; exit 1; }
done
step() { printf '\n== %s\n' "$*" >&2; }

step "building the release binary"
cargo build --release --quiet -p waxseal-cli --bin waxseal --manifest-path "$root/Cargo.toml"
waxseal="${CARGO_TARGET_DIR:-$root/target}/release/waxseal"

work=$(mktemp -d)
pid=
cleanup() {
    local status=$?
    [ -z "$pid" ] || { kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

step "a data directory with a user and a first-party web client"
data="$work/data"
redirect="http://127.0.0.1:9/callback"
printf '%s' 'bench passphrase 1' | "$waxseal" user add alice --password-stdin --data-dir "$data" 2>"$work/admin.log" ||
    { cat "$work/admin.log" >&2; exit 1; }
client=$("$waxseal" client add bench-web --redirect-uri "$redirect" --first-party --data-dir "$data" 2>>"$work/admin.log") ||
    { cat "$work/admin.log" >&2; exit 1; }
client_id=$(awk '/^client_id:/ {print $2}' <<<"$client")
client_secret=$(awk '/^client_secret:/ {print $2}' <<<"$client")
basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)

"$waxseal" serve --data-dir "$data" --listen "127.0.0.1:$port" >"$work/waxseal.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/waxseal.log" >&2; exit 1; }

step "signing in once (python3) and minting $codes_wanted codes through GET /authorize"
python3 - "$port" "$client_id" "$redirect" "$codes_wanted" "$work" <<'PY'
import base64, hashlib, html, http.client, re, sys, urllib.parse
port, client_id, redirect, wanted, work = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
verifier = base64.urlsafe_b64encode(b"\x07" * 32).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
path = "/authorize?" + urllib.parse.urlencode({
    "client_id": client_id, "redirect_uri": redirect, "response_type": "code", "scope": "openid",
    "code_challenge": challenge, "code_challenge_method": "S256", "state": "bench"})
conn = http.client.HTTPConnection("127.0.0.1", int(port))
def request(method, url, body=None, headers={}):
    conn.request(method, url, body=body, headers=headers)
    r = conn.getresponse()
    return r, r.read().decode()
r, page = request("GET", path)
browser = r.getheader("Set-Cookie").split(";")[0]
form = {html.unescape(n): html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page)}
form.update(username="alice", password="bench passphrase 1")
r, _ = request("POST", "/signin", urllib.parse.urlencode(form), {
    "Content-Type": "application/x-www-form-urlencoded", "Cookie": browser, "Origin": f"http://127.0.0.1:{port}"})
assert r.status == 303, r.status
sso = [c.split(";")[0] for c in r.headers.get_all("Set-Cookie") if "sso" in c][0]
codes = []
for _ in range(wanted):
    r, _ = request("GET", path, headers={"Cookie": sso})
    assert r.status == 303, r.status
    codes.append(urllib.parse.parse_qs(urllib.parse.urlparse(r.getheader("Location")).query)["code"][0])
open(f"{work}/cookie", "w").write(sso)
open(f"{work}/path", "w").write(path)
open(f"{work}/verifier", "w").write(verifier)
open(f"{work}/codes", "w").write("\n".join(codes) + "\n")
PY
path=$(cat "$work/path")
cookie=$(cat "$work/cookie")

server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$pid/stat"; }
failed=0
declare -A rps cpu
measure() { # name, wrk arguments...
    local name=$1 out="$work/$1.txt" before n errors
    shift
    before=$(server_cpu)
    wrk -t2 -c"$connections" -d"${seconds}s" "$@" >"$out"
    n=$(awk '/ requests in / { print $1 }' "$out")
    errors=$(awk '/Non-2xx or 3xx responses:/ { e += $5 } /Socket errors:/ { e += $4 + $6 + $8 + $10 } END { print e + 0 }' "$out")
    [ "$errors" = 0 ] || { failed=1; echo "$name: $errors errors" >&2; }
    rps[$name]=$(awk '/Requests\/sec:/ { print $2 }' "$out")
    cpu[$name]=$(awk -v a="$before" -v b="$(server_cpu)" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
    echo "$name: ${rps[$name]} req/s, ${cpu[$name]} µs server CPU per request ($n requests)" >&2
}

# The exchange first: a code lives 60 s, and the oldest was minted at the start of the minting.
step "3. authorization_code exchange"
measure exchange -s "$load/code-exchange.lua" "http://127.0.0.1:$port" -- "$work/codes" 2 "$basic" "$redirect" "$(cat "$work/verifier")"
step "1. /authorize with a live SSO session"
measure authorize -H "Cookie: $cookie" "http://127.0.0.1:$port$path"
step "2. /authorize without a session: the sign-in page"
measure sign-in-page "http://127.0.0.1:$port$path"

step "results ($(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'))"
printf '| run (%s s, %s connections, wrk -t2) | req/s | server CPU / request |\n|---|---:|---:|\n' "$seconds" "$connections"
for name in authorize sign-in-page exchange; do
    printf '| %s | %s | %s µs |\n' "$name" "${rps[$name]}" "${cpu[$name]}"
done
if grep -qiE 'panic|error' "$work/waxseal.log"; then
    failed=1
    grep -iE 'panic|error' "$work/waxseal.log" | head -20 >&2
fi
[ "$failed" = 0 ] || { echo "sign-in-bench: some requests failed: the figures are not valid" >&2; exit 1; }
