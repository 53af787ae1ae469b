#!/bin/sh
# Every fuzz target built in build/fuzz (make fuzz, clang) runs its corpus
# (tests/fuzz/corpus/<name without fuzz_>), the shared seed inputs, and up to
# 3000 inputs of its own (fixed -seed; at most 5 s of new inputs a target): a
# target that crashes, leaks or trips a sanitizer on them fails here. The long
# runs are `make fuzz-run`; tests/fuzz/replay.sh replays the corpora without
# clang. Run by tests/run.sh once, after the suites.
cd "$(dirname "$0")/../.." || exit 1
pass=0 fail=0 skip=0
ran=0
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] && [ -f "$f" ] || continue
    ran=1
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    [ -d "$corpus" ] || corpus=""
    work=$(mktemp -d)
    if "$f" -runs=3000 -max_total_time=5 -seed=1 -max_len=16384 -timeout=20 -artifact_prefix=build/fuzz/smoke- "$work" $corpus tests/fuzz/seeds \
            >"$work.log" 2>&1; then
        echo "PASS $name: ${corpus:+$corpus, }seeds and $(grep -oE '^#[0-9]+' "$work.log" | tail -n 1 | tr -d '#') runs"
        pass=$((pass + 1))
    else
        tail -n 30 "$work.log"
        echo "FAIL $name (a crashing input is kept as build/fuzz/smoke-*)"
        fail=$((fail + 1))
    fi
    rm -rf "$work" "$work.log"
done
if [ $ran = 0 ]; then
    echo "SKIP fuzz targets: none built (make fuzz needs clang)"
    skip=1
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
