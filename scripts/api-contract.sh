#!/usr/bin/env bash
# API contract test: schemathesis generates requests from the server's own GET /openapi.json and checks every
# response against it. Two `waxseal serve` (the debug build, the one `cargo test` builds anyway) on free loopback
# ports, each over a fresh data directory with a user and an OAuth client made by the admin commands, and three
# passes over every operation:
#
#   anonymous         body mode, no credentials: what strangers can send, including generated Authorization headers;
#   authenticated     body mode, the client's Basic credentials on the /oauth/* operations and an access token
#                     (fetched from POST /oauth/token, and again whenever a generated POST /logout revoked it) on
#                     the bearer ones;
#   cookie-anonymous  cookie mode (--refresh-cookie), whose document differs, no credentials.
#
# Fails on any failed check. Reports (JUnit XML and the text output) go to $CARGO_TARGET_DIR/api-contract/ (default
# target/api-contract/). Deterministic and bounded: a fixed seed, a fixed number of examples per operation, no
# example database, and a hard time limit per pass. Needs python3 with scripts/requirements-api-contract.txt
# (`bash .ci/deps` installs it).
#
# Environment: API_CONTRACT_SEED (default 20261124), API_CONTRACT_EXAMPLES (per operation and phase; default 300),
# API_CONTRACT_TIMEOUT (seconds per pass before it is killed and fails; default 300: the 28 operations take about
# 100–130 s a pass on a quiet 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."

seed="${API_CONTRACT_SEED:-20261124}"
examples="${API_CONTRACT_EXAMPLES:-300}"
pass_timeout="${API_CONTRACT_TIMEOUT:-300}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
reports="$target_dir/api-contract"
requirements=scripts/requirements-api-contract.txt
pinned=$(sed -n 's/^schemathesis==//p' "$requirements")

# Only this script's settings reach the server.
for var in $(compgen -e); do
    case "$var" in WAXSEAL_* | RUST_LOG) unset "$var" ;; esac
done

work=$(mktemp -d)
servers=()
cleanup() {
    local pid
    for pid in "${servers[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# schemathesis through the python3 it was installed for, whatever the PATH holds.
st="$work/schemathesis"
printf '%s\n' '#!/usr/bin/env python3' 'import sys' 'from schemathesis.cli import schemathesis' \
    'sys.argv[0] = "schemathesis"' 'sys.exit(schemathesis())' >"$st"
chmod +x "$st"
installed=$("$st" --version 2>/dev/null | sed -n 's/^schemathesis, version //p' || true)
if [ "$installed" != "$pinned" ]; then
    echo "schemathesis $pinned is needed (found: ${installed:-none}): run bash .ci/deps" >&2
    exit 2
fi

started=$(date +%s)
# The debug binary, built exactly as `cargo test --workspace` builds it (same features, same artifacts): in CI the
# test step after this one then compiles nothing more. `cargo build -p waxseal-cli` alone would unify features
# differently and leave about 190 crates for the tests to compile again; a release build would be a third build.
echo "   building the waxseal binary (debug, with the workspace's tests: cargo test --workspace --no-run)"
cargo test --quiet --workspace --no-run
bin="$target_dir/debug/waxseal"
built=$(date +%s)

# A fresh master key in the environment, so nothing is written next to the database but the database.
WAXSEAL_MASTER_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export WAXSEAL_MASTER_KEY
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
admin_failed() { echo "waxseal $1 failed:" >&2; cat "$work/admin.log" >&2; exit 1; }

# start NAME [FLAG…]: a data directory $work/NAME with the user `contract` (scope admin) and the OAuth client
# `contract` (every grant, scope admin; its credentials in $work/NAME.client), and `waxseal serve` on a free
# loopback port over it; sets $base. Returns once the server is ready and the user's password login works.
start() {
    local name="$1" data="$work/$1" pid
    shift
    printf '%s\n' "$password" | "$bin" user add contract --password-stdin --scope admin --data-dir "$data" \
        --color never >/dev/null 2>>"$work/admin.log" || admin_failed "user add"
    "$bin" client add contract --grant password --grant refresh_token --grant client_credentials --scope admin \
        --data-dir "$data" --color never >"$work/$name.client" 2>>"$work/admin.log" || admin_failed "client add"
    "$bin" serve --listen 127.0.0.1:0 --management-listen off --data-dir "$data" --color never "$@" \
        >"$work/$name.out" 2>"$work/$name.log" &
    pid=$!
    servers+=("$pid")
    base=""
    for _ in $(seq 300); do
        base=$(sed -n 's/^waxseal serve listening on \(http:[^ ]*\).*/\1/p' "$work/$name.out")
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "waxseal serve exited:" >&2; cat "$work/$name.log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$base" ] || { echo "waxseal serve did not listen within 30 s" >&2; cat "$work/$name.log" >&2; exit 1; }
    python3 - "$base" "$password" <<'PY'
import json, sys, time, urllib.error, urllib.request
base, password = sys.argv[1], sys.argv[2]
for _ in range(100):
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
            if r.status == 200:
                break
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.1)
else:
    sys.exit("GET /readyz never answered 200")
body = json.dumps({"username": "contract", "password": password}).encode()
request = urllib.request.Request(base + "/login", body, {"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as r:
    assert r.status == 200 and "access_token" in json.load(r), "POST /login failed"
PY
    echo "   waxseal serve${*:+ $*} at $base: ready, user and client added, the user's login works"
}

start body
body_base="$base"
client_id=$(sed -n 's/^client_id: *//p' "$work/body.client")
client_secret=$(sed -n 's/^client_secret: *//p' "$work/body.client")
[ -n "$client_id" ] && [ -n "$client_secret" ] || { echo "waxseal client add printed no credentials" >&2; exit 1; }
# Cookie mode serves another document (/login, /refresh and /logout with the cookie, X-CSRF-Token and 403s).
start cookie --refresh-cookie
cookie_base="$base"

# The configuration shared by the passes. Every check is on; each exception below names the check, the
# operations and why.
cat >"$work/common.toml" <<EOF
seed = $seed

[generation]
max-examples = $examples
# No example database: a failure found once is not replayed first next time, so every run is the same run.
database = "none"

# Nor any state kept between runs (schemathesis would keep it in .schemathesis/ of the checkout).
[cache]
enabled = false

[checks]
enabled = true

# The credentials are this run's throwaway ones: show the requests as sent, so the curl lines reproduce them.
[output.sanitization]
enabled = false

# The sign-in pages and forms (OpenID Connect): a request is well-formed by the schema yet refused unless it names
# a registered client and one of its redirect URIs exactly, carries the CSRF token of a page this server showed
# the same browser, or comes with an SSO session cookie — none of which OpenAPI can express or schemathesis
# generate, so positive_data_acceptance would count every such refusal (an HTML error page, documented) as a
# valid request refused. Likewise /userinfo: its token must carry a user and the openid scope, which only a
# sign-in gives, and the passes' token comes from the client credentials grant. Every other check stays on for
# them, in every pass.
[[operations]]
include-path-regex = "^/(authorize|signin|consent|session/end|account(/.*)?|assets/.*|userinfo)$"
checks.positive_data_acceptance.enabled = false
EOF

# Anonymous pass: schemathesis also generates the Authorization header of the bearer operations. A generated
# value such as "Bearer a b" or "Bearer \x7f" is not an RFC 6750 token, and the server rightly answers it 400
# invalid_request (documented, with its WWW-Authenticate); OpenAPI has no way to say what a bearer token looks like,
# so positive_data_acceptance would count those 400s as valid requests refused. It stays on for every other
# operation here and for these ones in the authenticated pass, where the header is a real token.
cat "$work/common.toml" - >"$work/anonymous.toml" <<'EOF'

[[operations]]
include-path-regex = "^/(api/.*|logout|userinfo)$"
checks.positive_data_acceptance.enabled = false
EOF

# Authenticated pass. On the /oauth/* operations schemathesis sends the client's credentials with Basic and also
# generates client_id and client_secret in the form, which the schema must allow (client_secret_post). RFC 6749
# §2.3 forbids using both methods in one request and the server refuses that (400 invalid_request, documented);
# OpenAPI cannot tie a body member to the absence of a header, so positive_data_acceptance is off for these three
# operations in this pass only (the anonymous pass checks it, and the 400 itself still has to conform).
cat "$work/common.toml" - >"$work/authenticated.toml" <<'EOF'

[auth.openapi.client_basic]
username = "${WAXSEAL_CONTRACT_CLIENT_ID}"
password = "${WAXSEAL_CONTRACT_CLIENT_SECRET}"

# Not a password login: generated logins soon throttle this address (429), and a token fetch must not be refused.
[auth.dynamic.openapi.bearer]
path = "/oauth/token"
method = "post"
payload_content_type = "application/x-www-form-urlencoded"
payload = { grant_type = "client_credentials", scope = "admin", client_id = "${WAXSEAL_CONTRACT_CLIENT_ID}", client_secret = "${WAXSEAL_CONTRACT_CLIENT_SECRET}" }
extract_selector = "/access_token"
retry_on = [401]

[[operations]]
include-path-regex = "^/oauth/"
checks.positive_data_acceptance.enabled = false
EOF

mkdir -p "$reports"
failed=()
# PASS CONFIG URL: body mode anonymous and authenticated, cookie mode anonymous (its bearer and /oauth/* operations
# are the same code as in body mode; what differs is /login, /refresh and /logout without credentials).
for run in "anonymous anonymous $body_base" "authenticated authenticated $body_base" \
    "cookie-anonymous anonymous $cookie_base"; do
    read -r pass config url <<<"$run"
    echo "== schemathesis $pinned: $pass pass (seed $seed, at most $examples examples per operation and phase)"
    status=0
    # One worker: CPython 3.11 before 3.11.8 keeps the ast module's recursion depth in state shared by threads
    # (gh-106905), so two workers whose hypothesis describes a lambda (ast.parse) at once can stop a pass with
    # "SystemError: AST constructor recursion depth mismatch" — a crash of the tool, seen once in a CI rehearsal.
    WAXSEAL_CONTRACT_CLIENT_ID="$client_id" WAXSEAL_CONTRACT_CLIENT_SECRET="$client_secret" \
        timeout "$pass_timeout" "$st" --config-file "$work/$config.toml" run "$url/openapi.json" \
        --workers 1 --no-color \
        --report junit,json --report-junit-path "$reports/$pass.junit.xml" \
        --report-json-path "$reports/$pass.json" >"$reports/$pass.txt" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        failed+=("$pass")
        cat "$reports/$pass.txt"
        [ "$status" -eq 124 ] && echo "   the $pass pass was stopped after $pass_timeout s" >&2
    else
        # The summary: from the "SUMMARY" rule to the end.
        sed -n '/= SUMMARY =/,$p' "$reports/$pass.txt"
    fi
done
finished=$(date +%s)

# What the two passes did, from their JSON reports.
python3 - "$reports"/{anonymous,authenticated,cookie-anonymous}.json <<'PY' || true
import json, sys
for path in sys.argv[1:]:
    try:
        r = json.load(open(path))
    except (OSError, ValueError):
        continue
    t, o = r["test_cases"], r["operations"]
    print(f"   {path.rsplit('/', 1)[-1]}: {o['tested']} operations, {t['generated']} test cases, "
          f"{t['with_failures']} with failures, {r['running_time']:.1f} s")
PY
for name in body cookie; do
    if grep -q -E ' (ERROR|panicked)' "$work/$name.log"; then
        echo "---- the $name-mode server logged errors:" >&2
        grep -E ' (ERROR|panicked)' "$work/$name.log" | head -n 20 >&2
        failed+=("$name-mode server log")
    fi
done
echo "   build $((built - started)) s, servers and passes $((finished - built)) s; reports in $reports/"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "API CONTRACT BROKEN in: ${failed[*]} (the output above has each failure and a curl line to reproduce it)" >&2
    exit 1
fi
