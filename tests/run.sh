#!/bin/sh
# Run every test suite against one or more build folders and add up the results.
#   sh tests/run.sh build [build/asan]
# Each suite prints "PASS/FAIL/SKIP" lines and ends with "N passed, M failed";
# this script sums them and fails when any suite fails, crashes, prints no
# summary, or when no test ran at all.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
[ $# -gt 0 ] || set -- build
total_pass=0 total_fail=0 total_skip=0 broken=""
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

run_suite() { # name command...
    name=$1; shift
    out="$log/out"
    t0=$(date +%s)
    "$@" >"$out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    summary=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$summary" ]; then
        cat "$out"
        echo "FAIL $name: no summary line (exit $rc)"
        broken="$broken $name"
        return
    fi
    p=$(echo "$summary" | sed -E 's/.*(^|[^0-9])([0-9]+) passed.*/\2/')
    f=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$summary" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + ${s:-0}))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        grep -vE '^(PASS|ok) ' "$out" | tail -n 60
        echo "FAIL $name: $summary (exit $rc, ${secs}s)"
        [ "$f" -ne 0 ] || broken="$broken $name"
    else
        grep -E '^SKIP' "$out"
        echo "ok   $name: $summary (${secs}s)"
    fi
}

for b in "$@"; do
    [ -x "$b/engine" ] || { echo "no $b/engine: build first (make all)"; exit 1; }
    echo "== tests with $b"
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        run_suite "$b/$(basename "$t")" "$t"
    done
    # The shared captures (../shared/pcaps, 140+ captures and their mutants) take most of
    # the end-to-end time: the first build runs them, the sanitizer build only the
    # project's own pcaps/ (E2E_SHARED_ALL=1 runs them in every build).
    shared_env=""
    [ "$b" != "$1" ] && [ "${E2E_SHARED_ALL:-0}" != 1 ] && shared_env="PCAPS=/nonexistent-shared-captures-skipped-in-this-build"
    for t in tests/e2e/test_*.sh; do
        [ -f "$t" ] || continue
        run_suite "$b:$(basename "$t" .sh)" env $shared_env sh "$t" "$b"
    done
    if ls tests/spec/*_spec.lua >/dev/null 2>&1; then
        # `engine test` runs busted under luajit with engine.testing on the paths;
        # the summary handler ends with the "N passed, M failed" line
        run_suite "$b:busted" env ENGINE_BUILD="$b" "$b/engine" test -o tests/spec/summary.lua tests/spec
    fi
done

# the fuzz targets (one build, clang) over their seeds and a short fixed run
run_suite "fuzz-smoke" sh tests/fuzz/smoke.sh

echo
[ -n "$broken" ] && echo "suites that did not finish:$broken"
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_pass" -gt 0 ] || { echo "no test ran"; exit 1; }
[ "$total_fail" -eq 0 ] && [ -z "$broken" ]
