#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 30): builds once, seeds each working corpus
# (fuzz/corpus/<target>, git-ignored) from the committed regression corpus and the conformance vectors, runs the
# targets two at a time, and prints execs/s and corpus size per target.
#
# A crash (any input that panics, i.e. breaks a property, or times out) fails the run; its input is copied into
# fuzz/regressions/<target>/, where `cargo test` replays it from then on — commit it with the fix.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`; .ci/run installs it) and python3. There is no nightly
# toolchain here: RUSTC_BOOTSTRAP=1 lets the stable compiler take cargo-fuzz's unstable flags. The build uses no
# sanitizer (waxseal forbids unsafe code, so AddressSanitizer would find nothing the Rust checks miss) and keeps
# debug assertions and overflow checks on.
#
# Environment: FUZZ_TARGET_DIR (default fuzz/target), FUZZ_JOBS (targets run at once, one core each; default: the
# core count), FUZZ_TARGETS (a subset, space-separated).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
case "$seconds" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
target_dir="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
vectors="../shared/vectors"
export RUSTC_BOOTSTRAP=1
build_flags=(--sanitizer none --target-dir "$target_dir")

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
command -v python3 >/dev/null 2>&1 || { echo "python3 is needed to seed the corpora from the vectors" >&2; exit 2; }

read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"
started=$(date +%s)

echo "   building ${#targets[@]} targets"
cargo fuzz build "${build_flags[@]}"
built=$(date +%s)

echo "   seeding fuzz/corpus/ from fuzz/regressions/ and $vectors"
python3 scripts/fuzz-seeds.py "$vectors" fuzz/corpus
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    if [ -d "fuzz/regressions/$target" ]; then
        cp -p fuzz/regressions/"$target"/* "fuzz/corpus/$target/"
    fi
done

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

run_one() {
    local target="$1"
    local artifacts="$logs/$target.artifacts"
    mkdir -p "$artifacts"
    # -timeout: an input that takes 10 s is a denial of service, reported like a crash.
    if cargo fuzz run "${build_flags[@]}" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$logs/$target.log" 2>&1; then
        echo ok >"$logs/$target.status"
    else
        echo failed >"$logs/$target.status"
    fi
}

running=0
for target in "${targets[@]}"; do
    run_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true
finished=$(date +%s)

stat() { sed -n "s/^stat::$2: *//p" "$logs/$1.log" | tail -n 1; }
failed=()
printf '   %-14s %10s %10s %8s %10s %s\n' target execs execs/s corpus new-units result
for target in "${targets[@]}"; do
    status="$(cat "$logs/$target.status" 2>/dev/null || echo failed)"
    corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
    printf '   %-14s %10s %10s %8s %10s %s\n' "$target" "$(stat "$target" number_of_executed_units)" \
        "$(stat "$target" average_exec_per_sec)" "$corpus" "$(stat "$target" new_units_added)" "$status"
    if [ "$status" != ok ]; then
        failed+=("$target")
        echo "---- $target: the end of its log" >&2
        tail -n 40 "$logs/$target.log" >&2
        mkdir -p "fuzz/regressions/$target"
        for artifact in "$logs/$target.artifacts"/*; do
            [ -f "$artifact" ] || continue
            cp -p "$artifact" "fuzz/regressions/$target/"
            echo "   $target: the input is now fuzz/regressions/$target/$(basename "$artifact")" >&2
        done
    fi
done
echo "   build $((built - started)) s, runs $((finished - built)) s (${#targets[@]} targets x ${seconds} s, $jobs at a time)"

if [ "${#failed[@]}" -ne 0 ]; then
    echo "FUZZING FOUND A CRASH in: ${failed[*]}" >&2
    echo "The inputs are now in fuzz/regressions/<target>/ and \`cargo test\` replays them: fix the bug, then commit" >&2
    echo "them (git add fuzz/regressions). Reproduce one with: RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET FILE" >&2
    exit 1
fi
