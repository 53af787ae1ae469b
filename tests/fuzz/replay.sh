#!/bin/sh
# The fuzz corpora as a regression run of one build, without clang: every file of
# tests/fuzz/corpus/<target> (the target's name without "fuzz_") and of
# tests/fuzz/seeds goes once through the target's LLVMFuzzerTestOneInput, in the
# replay binaries that `make all` builds with $(CC) into BUILD/fuzzreplay/
# (tests/fuzz/replay.c is their main()). A target that crashes, trips a
# sanitizer (the asan build) or takes over 300 s fails.
#   sh tests/fuzz/replay.sh build       sh tests/fuzz/replay.sh build/asan
cd "$(dirname "$0")/../.." || exit 1
b=${1:-build}
pass=0 fail=0 skip=0 ran=0
for f in "$b"/fuzzreplay/fuzz_*; do
    case $f in *.d) continue ;; esac
    [ -x "$f" ] && [ -f "$f" ] || continue
    ran=1
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    if [ ! -d "$corpus" ]; then
        echo "FAIL $name: no corpus folder $corpus"
        fail=$((fail + 1))
        continue
    fi
    log=$(mktemp)
    if timeout 300 "$f" "$corpus" tests/fuzz/seeds >"$log" 2>&1; then
        echo "PASS $name: $(tail -n 1 "$log") replayed ($corpus and tests/fuzz/seeds)"
        pass=$((pass + 1))
    else
        tail -n 40 "$log"
        echo "FAIL $name: replay of $corpus (REPLAY_VERBOSE=1 $f $corpus names each input)"
        fail=$((fail + 1))
    fi
    rm -f "$log"
done
if [ $ran = 0 ]; then
    echo "SKIP fuzz replay: no $b/fuzzreplay/fuzz_* (make all builds them)"
    skip=1
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
