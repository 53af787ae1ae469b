#!/bin/sh
# Run every test suite against one or more build folders and add up the results.
#   sh tests/run.sh build [build/asan]
# Each suite prints "PASS/FAIL/SKIP" lines and ends with "N passed, M failed";
# this script sums them and fails when any suite fails, crashes, prints no
# summary, or when no test ran at all.
# The suites of one build run TEST_JOBS at a time (default: the number of cores),
# longest first; builds run one after the other (some unit tests use fixed /tmp
# names). A line per suite is printed as it ends; the output of failed suites and
# the totals come at the end of each build, in the suites' order.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

# one suite: sh tests/run.sh --suite DIR IDX NAME COMMAND... (run through xargs)
if [ "$1" = "--suite" ]; then
    dir=$2 idx=$3 name=$4; shift 4
    t0=$(date +%s)
    "$@" >"$dir/$idx.out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    summary=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed' "$dir/$idx.out" | tail -n 1)
    printf '%s\n%s\n%s\n%s\n' "$name" "$rc" "$secs" "$summary" >"$dir/$idx.res"
    if [ -z "$summary" ]; then st="FAIL $name: no summary line (exit $rc)"
    elif [ "$rc" -ne 0 ] || ! echo "$summary" | grep -qE ' 0 failed'; then st="FAIL $name: $summary (exit $rc, ${secs}s)"
    else st="ok   $name: $summary (${secs}s)"; fi
    echo "$st"
    exit 0
fi

[ $# -gt 0 ] || set -- build
total_pass=0 total_fail=0 total_skip=0 broken=""
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

JOBS=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
n=0

# q ARG: ARG in single quotes, for a shell script
q() { printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# add NAME COMMAND...: queue a suite, as a one-line script $log/q.IDX
add() {
    n=$((n + 1))
    idx=$(printf '%03d' $n)
    { printf 'exec '; for a in sh "$top/tests/run.sh" --suite "$log" "$idx" "$@"; do q "$a"; done; echo; } >"$log/q.$idx"
}

# run the queued suites, TEST_JOBS at a time, then read their results in order
run_queue() {
    # the longest first, so that none is left running alone at the end
    for f in "$log"/q.*; do
        [ -f "$f" ] || continue
        case "$(cat "$f")" in
        *test_tshark.sh*|*test_http_tshark.sh*|*test_workers*|*test_smtp_tshark*|*test_memcap*|*fuzz*) echo "0 $f" ;;
        *) echo "1 $f" ;;
        esac
    done | sort -k1,1n -k2,2 | cut -d' ' -f2 >"$log/order"
    xargs -P "$JOBS" -n 1 sh <"$log/order"
    for r in "$log"/*.res; do
        [ -f "$r" ] || continue
        idx=$(basename "$r" .res)
        name=$(sed -n 1p "$r") rc=$(sed -n 2p "$r") secs=$(sed -n 3p "$r") summary=$(sed -n 4p "$r")
        out="$log/$idx.out"
        if [ -z "$summary" ]; then
            cat "$out"
            echo "FAIL $name: no summary line (exit $rc)"
            broken="$broken $name"
            continue
        fi
        p=$(echo "$summary" | sed -E 's/.*(^|[^0-9])([0-9]+) passed.*/\2/')
        f=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        s=$(echo "$summary" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
        total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + ${s:-0}))
        if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
            echo "---- $name"
            grep -vE '^(PASS|ok) ' "$out" | tail -n 60
            echo "FAIL $name: $summary (exit $rc, ${secs}s)"
            [ "$f" -ne 0 ] || broken="$broken $name"
        else
            grep -E '^SKIP' "$out" | sed "s|^|[$name] |"
        fi
    done
    rm -f "$log"/q.* "$log"/*.res "$log"/*.out "$log/order"
}

for b in "$@"; do
    [ -x "$b/engine" ] || { echo "no $b/engine: build first (make all)"; exit 1; }
    echo "== tests with $b ($JOBS at a time)"
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        add "$b/$(basename "$t")" "$t"
    done
    # The shared captures (../shared/pcaps, 140+ captures and their mutants) take most of
    # the end-to-end time: the first build runs them, the sanitizer build only the
    # project's own pcaps/ (E2E_SHARED_ALL=1 runs them in every build).
    shared_env=""
    [ "$b" != "$1" ] && [ "${E2E_SHARED_ALL:-0}" != 1 ] && shared_env="PCAPS=/nonexistent-shared-captures-skipped-in-this-build"
    for t in tests/e2e/test_*.sh; do
        [ -f "$t" ] || continue
        add "$b:$(basename "$t" .sh)" env $shared_env sh "$t" "$b"
    done
    if ls tests/spec/*_spec.lua >/dev/null 2>&1; then
        # `engine test` runs busted under luajit with engine.testing on the paths;
        # the summary handler ends with the "N passed, M failed" line
        add "$b:busted" env ENGINE_BUILD="$b" "$b/engine" test -o tests/spec/summary.lua tests/spec
    fi
    # the fuzz corpora through the replay binaries of this build (no clang needed)
    add "$b:fuzz-replay" sh tests/fuzz/replay.sh "$b"
    # the fuzz targets (one build, clang) over their seeds, corpora and a short fixed run
    [ "$b" = "$1" ] && add "fuzz-smoke" sh tests/fuzz/smoke.sh
    run_queue
done

echo
[ -n "$broken" ] && echo "suites that did not finish:$broken"
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_pass" -gt 0 ] || { echo "no test ran"; exit 1; }
[ "$total_fail" -eq 0 ] && [ -z "$broken" ]
