#!/usr/bin/env bash
# Several `waxseal serve` instances on PostgreSQL and Redis (issue 8), reproducing docs/BENCHMARKS.md §8:
#
#   a. POST /refresh throughput with 1, 2 and 3 instances on one PostgreSQL database (and one instance on SQLite,
#      the §5 set-up, for comparison), 64 connections in all: one wrk per instance, run at the same time
#   b. GET /api/me with a 10,000-entry denylist, Redis on (--redis-url) versus off, and on a database with an
#      empty denylist, alternating, several rounds
#   c. revocation propagation between two instances (revoke on A, poll GET /api/me on B), with and without Redis
#
# Everything runs on this machine: the instances, PostgreSQL, Redis and wrk share its cores.
# Needs wrk (apt-get install wrk), curl, psql, redis-cli; a PostgreSQL that lets the URL's user create databases
# and a Redis. The script creates a database of its own (dropped at the end) and uses a Redis key prefix of its own
# (its keys deleted at the end).
#
# usage: scripts/instances-bench.sh [SECONDS per run, default 15]
# env:   CARGO_TARGET_DIR (where the release build goes)
#        WAXSEAL_BENCH_POSTGRES  server URL without a database [postgres://postgres@127.0.0.1:5432]
#        WAXSEAL_BENCH_REDIS     [redis://127.0.0.1:6379]
#        WAXSEAL_BENCH_PORT      first of the loopback ports the instances listen on [18180]; their management
#                                listeners (/metrics, /readyz with details) listen 100 ports higher
#        WAXSEAL_BENCH_ROUNDS    rounds of the /api/me comparison [5]
#        WAXSEAL_BENCH_PROPAGATIONS  revocations timed with Redis [1000]; without Redis, a twentieth of it
#        WAXSEAL_BENCH_PAUSE     on a shared machine: a `pgrep` pattern of process *names* (not command lines:
#                                those of unrelated processes may mention cargo) of other jobs to stop (SIGSTOP)
#                                during each measurement and resume (SIGCONT) right after, e.g.
#                                '^(rustc|cargo|cc1|cc|ld|collect2|clang|cargo-fuzz)$'
set -euo pipefail

seconds=${1:-15}
postgres=${WAXSEAL_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
redis=${WAXSEAL_BENCH_REDIS:-redis://127.0.0.1:6379}
first_port=${WAXSEAL_BENCH_PORT:-18180}
rounds=${WAXSEAL_BENCH_ROUNDS:-5}
propagations=${WAXSEAL_BENCH_PROPAGATIONS:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
load="$root/scripts/load"
users=16
sessions=128
connections=64
password='bench-password-0123'
issuer="http://127.0.0.1:$first_port"

for tool in wrk curl psql redis-cli; do
    command -v "$tool" >/dev/null || { echo "instances-bench: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done

step() { printf '\n== %s\n' "$*" >&2; }

step "building the release binaries"
cargo build --release --quiet -p waxseal-cli -p waxseal-bench --bin waxseal --example instances \
    --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
waxseal="$target/release/waxseal"
instances="$target/release/examples/instances"

work=$(mktemp -d)
tag="waxseal_bench_$$_$RANDOM"
db_full="$tag"            # users, sessions, and the 10,000 revocations
db_empty="${tag}_empty"   # the same configuration with nothing revoked
prefix="waxseal-bench-$$-$RANDOM"
servers=()
paused=()

resume_others() {
    if [ "${#paused[@]}" -gt 0 ]; then
        kill -CONT "${paused[@]}" 2>/dev/null || true
        paused=()
    fi
}
# Stops the jobs WAXSEAL_BENCH_PAUSE names (never this script, its ancestors or its servers) until resume_others.
pause_others() {
    [ -n "${WAXSEAL_BENCH_PAUSE:-}" ] || return 0
    local pid=$$ mine=" ${servers[*]:-} "
    while [ "$pid" -gt 1 ] 2>/dev/null; do # the shells that started this one may carry the pattern in their command
        mine+="$pid "
        pid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    done
    paused=()
    for pid in $(pgrep "$WAXSEAL_BENCH_PAUSE" || true); do
        [[ $mine == *" $pid "* ]] || paused+=("$pid")
    done
    if [ "${#paused[@]}" -gt 0 ]; then
        kill -STOP "${paused[@]}" 2>/dev/null || true
    fi
}
stop_servers() {
    local pid
    for pid in "${servers[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    servers=()
}
sql() { psql -X -q -v ON_ERROR_STOP=1 "$postgres/postgres" -c "$1" >/dev/null; }
cleanup() {
    resume_others
    stop_servers
    sql "DROP DATABASE IF EXISTS $db_full WITH (FORCE)" || true
    sql "DROP DATABASE IF EXISTS $db_empty WITH (FORCE)" || true
    redis-cli -u "$redis" --scan --pattern "$prefix:*" | xargs -r redis-cli -u "$redis" del >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The same master key for every instance: it seals the signing keys stored in the database.
WAXSEAL_MASTER_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export WAXSEAL_MASTER_KEY
export RUST_LOG=warn

step "creating the databases $db_full and $db_empty, $users users and a client_credentials client in each"
sql "CREATE DATABASE $db_full"
sql "CREATE DATABASE $db_empty"
admin() { # database, arguments...
    local db=$1
    shift
    "$waxseal" "$@" --data-dir "$work/admin" --database-url "$postgres/$db" 2>>"$work/admin.log"
}
declare -A client_id client_secret
for db in "$db_full" "$db_empty"; do
    for i in $(seq 1 "$users"); do
        printf '%s\n' "$password" | admin "$db" user add "bench$i" --password-stdin >/dev/null \
            || { cat "$work/admin.log" >&2; exit 1; }
    done
    client=$(admin "$db" client add bench-minter --grant client_credentials)
    client_id[$db]=$(awk '/^client_id:/ {print $2}' <<<"$client")
    client_secret[$db]=$(awk '/^client_secret:/ {print $2}' <<<"$client")
done

base() { echo "http://127.0.0.1:$((first_port + $1))"; }
# Instance N's management listener: its metrics and readiness details (whether it is subscribed to Redis).
management() { echo "127.0.0.1:$((first_port + 100 + $1))"; }
# start_servers N DATABASE_URL [serve options...]: instances 0..N-1, each with a data directory of its own.
start_servers() {
    local n=$1 url=$2 i
    shift 2
    for i in $(seq 0 $((n - 1))); do
        "$waxseal" serve --data-dir "$work/serve$i" --database-url "$url" --issuer "$issuer" \
            --listen "127.0.0.1:$((first_port + i))" --management-listen "$(management "$i")" "$@" \
            >>"$work/serve.log" 2>&1 &
        servers+=($!)
    done
    for i in $(seq 0 $((n - 1))); do
        for _ in $(seq 1 100); do
            curl -sf "$(base "$i")/readyz" >/dev/null && break
            sleep 0.1
        done
        curl -sf "$(base "$i")/readyz" >/dev/null \
            || { tail -20 "$work/serve.log" >&2; echo "instances-bench: instance $i did not start" >&2; exit 1; }
    done
    if [[ " $* " == *" --redis-url "* ]]; then # wait for every subscription
        for i in $(seq 0 $((n - 1))); do
            for _ in $(seq 1 50); do
                curl -sf "http://$(management "$i")/readyz" | grep -q '"redis":"up"' && break
                sleep 0.1
            done
        done
    fi
}

login() { # instance, user number -> a refresh token (empty if the login failed)
    curl -sf "http://127.0.0.1:$((first_port + $1))/login" -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench$2\",\"password\":\"$password\"}" \
        | sed -nE 's/.*"refresh_token":"([^"]+)".*/\1/p'
}
export -f login
export first_port password
mint() { # instance, database -> an access token
    curl -sf "$(base "$1")/oauth/token" -d grant_type=client_credentials \
        -d "client_id=${client_id[$2]}" -d "client_secret=${client_secret[$2]}" \
        | sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}

# wrk's summary -> "req/s p50 p99 errors"
summarize() {
    awk '
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx or 3xx responses:/ { errors += $5 }
        /Socket errors:/ { errors += $4 + $6 + $8 + $10 }
        END { printf "%s req/s, p50 %s, p99 %s, errors %d", rps, p50, p99, errors }' "$1"
}
rps_of() { awk '/Requests\/sec:/ { print $2 }' "$1"; }
errors_of() { summarize "$1" | sed -E 's/.*errors //'; }

results=()
failed=0
result() {
    results+=("$1")
    echo "$1" >&2
}

# refresh_run NAME N [serve options...]: N instances (already started), $sessions sessions logged in round robin
# over them, then one wrk per instance on its own sessions, all at once, $connections connections in all.
refresh_run() {
    local name=$1 n=$2 i s total=0 errors=0 line=""
    step "$name: logging in $sessions sessions over $n instance(s)"
    for s in $(seq 0 $((sessions - 1))); do
        printf '%s %s\n' $((s % n)) $((s % users + 1))
    done | xargs -P 4 -n 2 bash -c 'echo "$0 $(login "$0" "$1")"' >"$work/logins.txt"
    for i in $(seq 0 $((n - 1))); do
        awk -v i="$i" '$1 == i { print $2 }' "$work/logins.txt" | grep . >"$work/refresh-$i.txt" || true
        [ "$(wc -l <"$work/refresh-$i.txt")" -ge $((connections / n + 1)) ] \
            || { echo "instances-bench: logins failed on instance $i" >&2; exit 1; }
    done
    step "$name: POST /refresh, $connections connections over $n instance(s), ${seconds}s"
    local loads=()
    pause_others
    for i in $(seq 0 $((n - 1))); do
        # Connections split as evenly as possible; each wrk thread rotates its own sessions' chains.
        local c=$(((connections + i) / n))
        wrk -t1 -c"$c" -d"${seconds}s" --latency -s "$load/refresh.lua" "$(base "$i")" -- "$work/refresh-$i.txt" 1 \
            >"$work/refresh-out-$i.txt" &
        loads+=($!)
    done
    wait "${loads[@]}"
    resume_others
    for i in $(seq 0 $((n - 1))); do
        total=$(awk -v a="$total" -v b="$(rps_of "$work/refresh-out-$i.txt")" 'BEGIN { printf "%.0f", a + b }')
        errors=$((errors + $(errors_of "$work/refresh-out-$i.txt")))
        line+=" [$(summarize "$work/refresh-out-$i.txt")]"
    done
    [ "$errors" = 0 ] || failed=1
    result "$name: $total req/s in all, non-2xx + socket errors $errors;$line"
}

step "a. POST /refresh"
mkdir -p "$work/sqlite"
for i in $(seq 1 "$users"); do
    printf '%s\n' "$password" | "$waxseal" user add "bench$i" --password-stdin --data-dir "$work/sqlite" >/dev/null 2>>"$work/admin.log"
done
"$waxseal" serve --data-dir "$work/sqlite" --issuer "$issuer" --listen "127.0.0.1:$first_port" \
    --management-listen "$(management 0)" >>"$work/serve.log" 2>&1 &
servers+=($!)
for _ in $(seq 1 100); do curl -sf "$(base 0)/readyz" >/dev/null && break; sleep 0.1; done
refresh_run "SQLite, 1 instance" 1
stop_servers
for n in 1 2 3; do
    start_servers "$n" "$postgres/$db_full" --redis-url "$redis" --redis-key-prefix "$prefix"
    refresh_run "PostgreSQL + Redis, $n instance(s)" "$n"
    stop_servers
done

step "b. GET /api/me: filling the denylist of $db_full (10,000 revoked access tokens)"
start_servers 1 "$postgres/$db_full" --redis-url "$redis" --redis-key-prefix "$prefix"
"$instances" revoke-many "$(base 0)" "${client_id[$db_full]}" "${client_secret[$db_full]}" 10000 8 >&2
stop_servers

declare -A me_runs
denylist_gauge() { curl -sf "http://$(management 0)/metrics" | awk '/^waxseal_denylist_entries/ { n += $2 } END { print n + 0 }'; }
me_run() { # mode: on | off | empty
    local mode=$1 db=$db_full token out="$work/me-$1-$2.txt" entries
    case $mode in
        on) start_servers 1 "$postgres/$db_full" --redis-url "$redis" --redis-key-prefix "$prefix" ;;
        off) start_servers 1 "$postgres/$db_full" ;;
        empty) db=$db_empty; start_servers 1 "$postgres/$db_empty" ;;
    esac
    token=$(mint 0 "$db")
    curl -sf -H "Authorization: Bearer $token" "$(base 0)/api/me" >/dev/null # into the verified-token cache
    entries=$(denylist_gauge)
    pause_others
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$(base 0)/api/me" >"$out"
    resume_others
    stop_servers
    [ "$(errors_of "$out")" = 0 ] || failed=1
    me_runs[$mode]+=" $(rps_of "$out")"
    local label="Redis $mode, 10,000 denied"
    [ "$mode" = empty ] && label="no Redis, empty denylist"
    result "  round $2, $label (denylist entries in memory: $entries): $(summarize "$out")"
}
for round in $(seq 1 "$rounds"); do
    step "b. round $round of $rounds: GET /api/me, one repeated token, $connections connections, ${seconds}s each"
    # The order rotates, so that drift during a round does not favour one mode.
    case $((round % 3)) in
        1) order="on off empty" ;;
        2) order="off empty on" ;;
        0) order="empty on off" ;;
    esac
    for mode in $order; do me_run "$mode" "$round"; done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratios() { # per-round ratios of two modes' req/s lists
    paste <(tr ' ' '\n' <<<"${me_runs[$1]}" | grep .) <(tr ' ' '\n' <<<"${me_runs[$2]}" | grep .) \
        | awk '{ printf " %.3f", $1 / $2 }'
}
on_off=$(ratios on off)
off_empty=$(ratios off empty)
result "GET /api/me req/s medians: Redis on $(median <<<"${me_runs[on]}"), off $(median <<<"${me_runs[off]}"), empty denylist $(median <<<"${me_runs[empty]}")"
result "  on / off per round:$on_off; median $(median <<<"$on_off")"
result "  off (10,000 denied) / empty denylist per round:$off_empty; median $(median <<<"$off_empty")"

step "c. revocation propagation, 2 instances with Redis: $propagations revocations"
start_servers 2 "$postgres/$db_full" --redis-url "$redis" --redis-key-prefix "$prefix"
pause_others
line=$("$instances" propagation "$(base 0)" "$(base 1)" "${client_id[$db_full]}" "${client_secret[$db_full]}" "$propagations") \
    || failed=1
resume_others
stop_servers
result "with Redis: $line"
without=$((propagations / 20 > 10 ? propagations / 20 : 10))
step "c. revocation propagation, 2 instances without Redis (database reload every second): $without revocations"
start_servers 2 "$postgres/$db_full"
pause_others
# Each revocation after a wait spread over 0..1 s, so that they fall evenly between two reloads.
line=$("$instances" propagation "$(base 0)" "$(base 1)" "${client_id[$db_full]}" "${client_secret[$db_full]}" "$without" 1000) \
    || failed=1
resume_others
stop_servers
result "without Redis: $line"

if grep -qiE 'panic|error' "$work/serve.log"; then
    failed=1
    echo "instances-bench: the servers logged errors:" >&2
    grep -iE 'panic|error' "$work/serve.log" | head -20 >&2
fi

step "results ($(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'); PostgreSQL $(psql -X -tA "$postgres/postgres" -c 'SHOW server_version'), Redis $(redis-cli -u "$redis" info server | sed -nE 's/^redis_version:(.*)\r?$/\1/p' | tr -d '\r'))"
printf '%s\n' "${results[@]}"
if [ "$failed" != 0 ]; then
    echo "instances-bench: some requests failed (see above): the figures are not valid" >&2
    exit 1
fi
