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
# The peer: node oidc-provider (panva), the certified OpenID provider (interop/node/oidc_peer.mjs: the same client,
# PKCE S256, ES256 ID token and JWT access token, a first-party grant without consent, an in-memory store), measured
# after waxseal with the same three runs, the same wrk settings and the same Lua script; the table then has its
# figures and the ratios waxseal/peer. Skipped, with the reason, without node or when oidc-provider cannot be installed
# (npm ci --prefix interop/node).
#
# Needs wrk (apt-get install wrk), curl, python3; for the peer node and npm.
# usage: scripts/sign-in-bench.sh [SECONDS per run, default 10]
# env:   CARGO_TARGET_DIR, WAXSEAL_BENCH_PORT (default 18090), WAXSEAL_BENCH_CONNECTIONS (default 32),
#        WAXSEAL_BENCH_CODES (codes minted for run 3, default 50000: more than 10 s of exchanges on this machine, minted
#        well within the codes' 60 s lifetime),
#        WAXSEAL_BENCH_BIN (a waxseal binary to use instead of building one),
#        WAXSEAL_BENCH_PEER_PORT (default WAXSEAL_BENCH_PORT + 1), WAXSEAL_BENCH_PEER=0 (no peer)
set -euo pipefail

seconds=${1:-10}
port=${WAXSEAL_BENCH_PORT:-18090}
connections=${WAXSEAL_BENCH_CONNECTIONS:-32}
codes_wanted=${WAXSEAL_BENCH_CODES:-50000}
root=$(cd "$(dirname "$0")/.." && pwd)
load="$root/scripts/load"
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "sign-in-bench: $tool is needed" >&2; exit 1; }
done
step() { printf '\n== %s\n' "$*" >&2; }

if [ -n "${WAXSEAL_BENCH_BIN:-}" ]; then
    waxseal=$WAXSEAL_BENCH_BIN
else
    step "building the release binary"
    cargo build --release --quiet -p waxseal-cli --bin waxseal --manifest-path "$root/Cargo.toml"
    waxseal="${CARGO_TARGET_DIR:-$root/target}/release/waxseal"
fi

# The peer, if it can run: node, and oidc-provider as interop/node/package-lock.json pins it.
peer_dir="$root/interop/node"
peer_skipped=
if [ "${WAXSEAL_BENCH_PEER:-1}" = 0 ]; then
    peer_skipped="WAXSEAL_BENCH_PEER=0"
elif ! command -v node >/dev/null; then
    peer_skipped="node is not installed"
elif [ ! -d "$peer_dir/node_modules/oidc-provider" ]; then
    if ! command -v npm >/dev/null; then
        peer_skipped="oidc-provider is not installed (npm ci --prefix interop/node) and npm is missing"
    elif ! npm ci --prefix "$peer_dir" --silent --no-audit --no-fund >/dev/null 2>&1 ||
        [ ! -d "$peer_dir/node_modules/oidc-provider" ]; then
        peer_skipped="npm ci --prefix interop/node failed"
    fi
fi

work=$(mktemp -d)
pid=
stop_server() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }; pid=; }
cleanup() {
    local status=$?
    stop_server
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

"$waxseal" serve --data-dir "$data" --listen "127.0.0.1:$port" --management-listen off >"$work/waxseal.log" 2>&1 &
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
measure() { # name, wrk arguments... (of the server whose process is $pid)
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

stop_server

if [ -z "$peer_skipped" ]; then
    peer_port=${WAXSEAL_BENCH_PEER_PORT:-$((port + 1))}
    peer_versions="oidc-provider $(node -p "require('$peer_dir/node_modules/oidc-provider/package.json').version") on node $(node --version)"
    step "the peer: $peer_versions, same client, same runs"
    peer_secret=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
    # node itself in the background (no wrapper), so that $pid is the process whose CPU time is read
    NODE_ENV=production node "$peer_dir/oidc_peer.mjs" "$peer_port" bench-web "$peer_secret" "$redirect" \
        alice 'bench passphrase 1' >"$work/peer.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$peer_port/jwks" >/dev/null && break; sleep 0.1; done
    curl -sf "http://127.0.0.1:$peer_port/jwks" >/dev/null || { cat "$work/peer.log" >&2; exit 1; }

    step "the peer: signing in once (python3) and minting $codes_wanted codes through GET /authorize"
    mkdir "$work/peer"
    python3 - "$peer_port" bench-web "$redirect" "$codes_wanted" "$work/peer" alice 'bench passphrase 1' <<'PY'
import base64, hashlib, http.client, sys, urllib.parse
port, client_id, redirect, wanted, work, username, password = sys.argv[1:8]
verifier = base64.urlsafe_b64encode(b"\x07" * 32).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
path = "/authorize?" + urllib.parse.urlencode({
    "client_id": client_id, "redirect_uri": redirect, "response_type": "code", "scope": "openid",
    "code_challenge": challenge, "code_challenge_method": "S256", "state": "bench"})
conn = http.client.HTTPConnection("127.0.0.1", int(port))
jar = {}  # the sign-in's cookies; their paths ignored: each request sends them all
def request(method, url, body=None, headers={}):
    conn.request(method, url, body=body, headers=headers)
    r = conn.getresponse()
    r.read()
    for c in r.headers.get_all("Set-Cookie") or []:
        name, value = c.split(";")[0].split("=", 1)
        jar[name] = value
    return r
def cookies(prefix=""):
    return "; ".join(f"{n}={v}" for n, v in jar.items() if n.startswith(prefix))
# /authorize → 303 /interaction/UID (the sign-in form) → POST → 303 /authorize/UID (resume) → 303 redirect_uri?code=
r = request("GET", path)
assert r.status == 303, r.status
r = request("POST", r.getheader("Location"), urllib.parse.urlencode({"username": username, "password": password}),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies()})
assert r.status == 303, r.status
r = request("GET", urllib.parse.urlparse(r.getheader("Location")).path, headers={"Cookie": cookies()})
assert r.status == 303 and r.getheader("Location").startswith(redirect + "?code="), (r.status, r.getheader("Location"))
session = cookies("_session")  # _session and its signature: what a signed-in browser sends to /authorize
codes = []
for _ in range(int(wanted)):
    r = request("GET", path, headers={"Cookie": session})
    assert r.status == 303 and r.getheader("Location").startswith(redirect + "?code="), r.status
    codes.append(urllib.parse.parse_qs(urllib.parse.urlparse(r.getheader("Location")).query)["code"][0])
open(f"{work}/cookie", "w").write(session)
open(f"{work}/path", "w").write(path)
open(f"{work}/verifier", "w").write(verifier)
open(f"{work}/codes", "w").write("\n".join(codes) + "\n")
PY
    peer_path=$(cat "$work/peer/path")
    peer_basic=$(printf '%s:%s' bench-web "$peer_secret" | base64 -w0)
    step "the peer: 3. authorization_code exchange"
    measure peer-exchange -s "$load/code-exchange.lua" "http://127.0.0.1:$peer_port" -- \
        "$work/peer/codes" 2 "$peer_basic" "$redirect" "$(cat "$work/peer/verifier")"
    step "the peer: 1. /authorize with a live session"
    measure peer-authorize -H "Cookie: $(cat "$work/peer/cookie")" "http://127.0.0.1:$peer_port$peer_path"
    # A browser without a session first gets a 303 to the sign-in (interaction) page; that answer is what is
    # measured, not the page it then loads.
    step "the peer: 2. /authorize without a session: the 303 to its sign-in page"
    measure peer-sign-in-page "http://127.0.0.1:$peer_port$peer_path"
    stop_server
    if grep -qiE 'error' "$work/peer.log"; then
        failed=1
        grep -iE 'error' "$work/peer.log" | head -20 >&2
    fi
fi

step "results ($(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'))"
if [ -n "$peer_skipped" ]; then
    echo "sign-in-bench: the peer (node oidc-provider) was skipped: $peer_skipped" >&2
    printf '| run (%s s, %s connections, wrk -t2) | req/s | server CPU / request |\n|---|---:|---:|\n' "$seconds" "$connections"
    for name in authorize sign-in-page exchange; do
        printf '| %s | %s | %s µs |\n' "$name" "${rps[$name]}" "${cpu[$name]}"
    done
else
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
    printf '| run (%s s, %s connections, wrk -t2) | waxseal req/s | waxseal CPU / request | peer req/s | peer CPU / request | req/s waxseal/peer | CPU / request waxseal/peer |\n|---|---:|---:|---:|---:|---:|---:|\n' \
        "$seconds" "$connections"
    for name in authorize sign-in-page exchange; do
        printf '| %s | %s | %s µs | %s | %s µs | %s | %s |\n' "$name" "${rps[$name]}" "${cpu[$name]}" \
            "${rps[peer-$name]}" "${cpu[peer-$name]}" "$(ratio "${rps[$name]}" "${rps[peer-$name]}")" \
            "$(ratio "${cpu[$name]}" "${cpu[peer-$name]}")"
    done
    printf '\n%s\n' "The peer: $peer_versions. It runs its JavaScript on one thread (one Node process; libuv's pool may sign on others), waxseal on all $(nproc) cores: req/s compares the two servers as each runs on this machine, CPU per request (all threads, /proc/PID/stat) compares the work each does per request, the fair figure. The peer's sign-in-page row is its first answer to a browser without a session: a 303 to its sign-in page (waxseal's is the page itself)."
fi
if grep -qiE 'panic|error' "$work/waxseal.log"; then
    failed=1
    grep -iE 'panic|error' "$work/waxseal.log" | head -20 >&2
fi
[ "$failed" = 0 ] || { echo "sign-in-bench: some requests failed: the figures are not valid" >&2; exit 1; }
