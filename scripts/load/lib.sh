# What the load benchmarks (scripts/load-bench.sh, scripts/dpop-bench.sh) share: sourced, not run. The sourcing
# script sets `bench` (its name, for messages), `port`, `waxseal` (the release binary) before start_server.

need_tools() { # tool... -> exits naming the first one missing
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$bench: $tool is needed (apt-get install $tool)" >&2; exit 1; }
    done
}

step() { printf '\n== %s\n' "$*" >&2; }

# A scratch directory ($work, the server's data in $data), removed with the server on exit.
work=$(mktemp -d)
data="$work/data"
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

start_server() { # -> $server (its pid), $base, $issuer; the log in $work/serve.log
    base="http://127.0.0.1:$port"
    step "starting waxseal serve on $base"
    # No management listener: nothing here reads its metrics, and the default port may be taken.
    RUST_LOG=warn "$waxseal" serve --data-dir "$data" --listen "127.0.0.1:$port" --management-listen off \
        >"$work/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        curl -sf "$base/readyz" >/dev/null && break
        sleep 0.1
    done
    curl -sf "$base/readyz" >/dev/null || {
        cat "$work/serve.log" >&2
        echo "$bench: the server did not start" >&2
        exit 1
    }
    issuer=$(curl -sf "$base/.well-known/openid-configuration" | sed -E 's/.*"issuer":"([^"]+)".*/\1/')
}

add_client_credentials_client() { # name -> $client_id, $client_secret
    local client
    client=$("$waxseal" client add "$1" --grant client_credentials --data-dir "$data" 2>/dev/null)
    client_id=$(awk '/^client_id:/ {print $2}' <<<"$client")
    client_secret=$(awk '/^client_secret:/ {print $2}' <<<"$client")
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
per_request() { # CPU seconds before, after, count -> microseconds each
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }'
}
requests_of() { awk '/ requests in / { print $1 }' "$1"; }

server_log_clean() { # fails the run (failed=1) when the server logged a panic or an error
    if grep -qiE 'panic|error' "$work/serve.log"; then
        failed=1
        echo "$bench: the server logged errors:" >&2
        grep -iE 'panic|error' "$work/serve.log" | head -20 >&2
    fi
}
