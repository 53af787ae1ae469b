#!/bin/sh
# test_log_writer.sh - the JSON writer (lua/engine/log.lua) byte for byte:
# log_writer_records.lua logs numbers (integers, -0, 2^53, shortest round-trip
# floats, NaN and infinities left out), strings (escapes, "/", control bytes,
# valid and invalid UTF-8, long ones), nested lists and maps, sparse and
# numeric keys, int64/uint64 cdata, declared columns then sorted keys; the
# output must equal log_writer_expected.txt, which the first writer (every
# string through lua-cjson, a string per field) produced, changed on purpose
# to Zeek's number layout (0.000097, 1e-7, 1e300; ts in microseconds). Standard output
# (with _path) and -o DIR (without) are both checked; the default logs of the
# project's captures must parse as JSON.
#   sh tests/e2e/test_log_writer.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/    /' "$T/err" | head -20; }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }

[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }
REC=tests/e2e/log_writer_records.lua
# it draws random records through ffi: outside the sandbox
UNSAFE="--set lua.unsafe=true"
# engine.log fills ts (engine.now(), 0 at engine.init) in a record that has none: the
# cjson writer's lines get "ts":0 after _path, the rest of each line unchanged
sed '/"ts":/!s/^\({"_path":"[^"]*"\)\([,}]\)/\1,"ts":0\2/' tests/e2e/log_writer_expected.txt >"$T/exp"
EXP="$T/exp"

"$ENG" -q -r pcaps/tcp-misc.pcap -s "$REC" $UNSAFE >"$T/out" 2>"$T/err"
check "stdout records as the cjson writer wrote them" cmp "$T/out" "$EXP"

mkdir "$T/d"
"$ENG" -q -r pcaps/tcp-misc.pcap -s "$REC" $UNSAFE -o "$T/d" 2>"$T/err"
grep '^{"_path":"w"[,}]' "$EXP" | sed 's/^{"_path":"w",/{/; s/^{"_path":"w"}/{}/' >"$T/w.exp"
grep '^{"_path":"other.stream-1",' "$EXP" | sed 's/^{"_path":"other.stream-1",/{/' >"$T/o.exp"
check "-o: w.log is the same without _path" cmp "$T/d/w.log" "$T/w.exp"
check "-o: a second stream in its own file" cmp "$T/d/other.stream-1.log" "$T/o.exp"

# the default scripts on every capture of the project: each line a JSON object
mkdir "$T/all"
bad=0
for p in pcaps/*.pcap; do
    rm -rf "$T/all"/*
    "$ENG" -q -r "$p" -o "$T/all" 2>>"$T/err" || bad=1
    for l in "$T/all"/*.log; do
        [ -f "$l" ] || continue
        python3 -c 'import json,sys
for line in open(sys.argv[1], encoding="utf-8"):
    assert isinstance(json.loads(line), dict)' "$l" 2>>"$T/err" || { bad=1; echo "    bad JSON in $p: $(basename "$l")"; }
    done
done
check "default logs of pcaps/*.pcap are JSON lines" [ "$bad" = 0 ]

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
