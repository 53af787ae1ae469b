#!/bin/sh
# test_memcap.sh - engine.memcap holds under a flood of unfinished request lines.
# tests/gen/soak.py writes (piped, nothing on disk) FLOWS TCP connections that each send
# an unfinished ~15 KB line, interleaved so that all of them hold it at once (without a
# budget: FLOWS x 16 KiB of line buffers, 1.6 GB at 100,000 flows), then one normal
# connection. Each flood runs with a small engine.memcap and the default scripts, and
# against a baseline run of the same flows with 100-byte lines (the per-flow state the
# budget does not cover: flow table, decoder state, logs). Checked: the peak RSS of the
# engine (ru_maxrss) stays under baseline + budget + a fixed allowance for the
# allocator; the budget's peak in --stats stays within it; flows were cut, each one a
# memcap_flow_cut weird at the 1st, 10th, 100th... cut (all counted in --stats); the connection after the flood still gets
# its records (http.log / smtp.log).
#   sh tests/e2e/test_memcap.sh [build-dir]
# SOAK_FLOWS=N sets the HTTP flow count (default 16000; SMTP uses half of it, with a quarter of the budget);
# SOAK_FULL=1 runs the full 100,000. SOAK_MEMCAP_MB sets the HTTP budget (default 64; 0
# turns the budget off, which must fail: the check that the test can fail).
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
. "$top/tests/e2e/harness.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
[ -x "$ENG" ] || { fail setup "no $ENG"; finish; }
FLOWS=${SOAK_FLOWS:-16000}
[ "${SOAK_FULL:-0}" = 1 ] && FLOWS=100000
# under ASan freed memory sits in its quarantine and shadow memory adds to the RSS:
# fewer flows, a smaller budget and no RSS check (every other check stands)
ASAN=0
MB=${SOAK_MEMCAP_MB:-64}
case "$B" in *asan*) ASAN=1; FLOWS=${SOAK_FLOWS:-4000}; MB=${SOAK_MEMCAP_MB:-16} ;; esac
# allowance over baseline + budget: the allocator's slack (freed line buffers between live
# ones), measured 37 MB at 16,000-20,000 flows, 53 MB at 100,000 flows (the weird is
# sampled, so its Lua garbage no longer grows with the cuts)
ALLOW_MB=$((64 + FLOWS / 1000))

# soak NAME PROTO FLOWS LINE [engine args]: sets rss (KiB) and rc; stderr in $T/NAME.err
soak() {
    name=$1 proto=$2 n=$3 line=$4
    shift 4
    set -- $(python3 tests/e2e/soak_run.py "$T/$name.err" "$proto" "$n" "$line" -- \
        "$ENG" -r - --stats -o "$T/$name" --set engine.seed=1 "$@")
    rss=${1:-0} rc=${2:-1}
}
stat() { # stat NAME LABEL: a number of the --stats output
    sed -n "s/^  $2  *\([0-9][0-9]*\)\$/\1/p" "$T/$1.err" | head -1
}

# check_flood PROTO FLOWS BUDGET_MB
check_flood() {
    proto=$1 n=$2 mb=$3
    soak "$proto-base" "$proto" "$n" 100
    base=$rss
    [ "$rc" = 0 ] || fail "$proto baseline run" "exit $rc: $(tail -3 "$T/$proto-base.err")"
    if [ "$mb" = 0 ]; then soak "$proto-flood" "$proto" "$n" 15000 --set engine.memcap=0
    else soak "$proto-flood" "$proto" "$n" 15000 --set "engine.memcap=${mb}MiB"; fi
    [ "$rc" = 0 ] && pass "$proto: $n flows of unfinished 15 KB lines, engine.memcap=${mb}MiB: exit 0" ||
        fail "$proto flood run" "exit $rc: $(tail -3 "$T/$proto-flood.err")"
    limit=$((base + (mb + ALLOW_MB) * 1024))
    if [ "$ASAN" = 1 ]; then skip "$proto: peak RSS" "not measured under ASan"
    elif [ "$rss" -le "$limit" ]; then
        pass "$proto: peak RSS $((rss / 1024)) MiB <= baseline $((base / 1024)) + budget $mb + $ALLOW_MB MiB"
    else fail "$proto: peak RSS" "$((rss / 1024)) MiB > baseline $((base / 1024)) + budget $mb + $ALLOW_MB MiB"
    fi
    peak=$(stat "$proto-flood" "bytes buffered at peak")
    # the budget is checked after each packet: one packet's growth (a line buffer
    # doubling to stream.max_line, 16 KiB) may pass it for that packet
    [ -n "$peak" ] && [ "$mb" != 0 ] && [ "$peak" -le $((mb * 1048576 + 16384)) ] && [ "$peak" -gt $((mb * 1048576 / 2)) ] &&
        pass "$proto: --stats bytes buffered at peak $peak, within the budget" ||
        fail "$proto: --stats bytes buffered at peak" "$peak for a budget of $mb MiB"
    cuts=$(stat "$proto-flood" "flows cut")
    wcount=$(stat "$proto-flood" "memcap_flow_cut")
    wlog=$(grep -c '"name":"memcap_flow_cut"' "$T/$proto-flood/weird.log" 2>/dev/null)
    # a weird at the 1st, 10th, 100th, ... cut (the rest counted in --stats "flows cut")
    sampled=0 p=1
    while [ -n "$cuts" ] && [ "$p" -le "$cuts" ]; do sampled=$((sampled + 1)); p=$((p * 10)); done
    [ -n "$cuts" ] && [ "$cuts" -gt 0 ] && [ "$wcount" = "$sampled" ] && [ "$wlog" = "$sampled" ] &&
        pass "$proto: $cuts flows cut, a memcap_flow_cut weird at the 1st, 10th, 100th... ($wlog in weird.log)" ||
        fail "$proto: cuts reported" "flows cut '$cuts', weird count '$wcount', weird.log '$wlog', expected $sampled"
    grep '"name":"memcap_flow_cut"' "$T/$proto-flood/weird.log" 2>/dev/null | head -1 |
        grep -q '"addl":"engine.memcap ([0-9]* bytes) reached with [0-9]* held in all: this flow held [0-9]* (cut 1 of the run)"' &&
        pass "$proto: the weird says what the cut flow held" ||
        fail "$proto: weird detail" "$(grep -m1 memcap_flow_cut "$T/$proto-flood/weird.log")"
    conns=$(grep -c '"uid"' "$T/$proto-flood/conn.log" 2>/dev/null)
    [ "$conns" = $((n + 1)) ] && pass "$proto: conn.log has all $conns connections" ||
        fail "$proto: conn.log" "$conns records for $((n + 1)) connections"
}

check_flood http "$FLOWS" "$MB"
grep '"uri":"/after-the-flood"' "$T/http-flood/http.log" 2>/dev/null | grep -q '"status_code":200' &&
    pass "http: the request after the flood is in http.log with its 200 reply" ||
    fail "http: the request after the flood" "not in http.log"

# -j 2: each worker holds half the budget; --stats sums the workers' peaks and cuts
JMB=$((MB / 4))
if [ "$JMB" -gt 0 ]; then
    soak http-j2 http $((FLOWS / 2)) 15000 -j 2 --set "engine.memcap=${JMB}MiB"
    peak=$(stat http-j2 "bytes buffered at peak")
    cuts=$(stat http-j2 "flows cut")
    [ "$rc" = 0 ] && [ -n "$peak" ] && [ "$peak" -le $((JMB * 1048576 + 2 * 16384)) ] && [ "$peak" -gt $((JMB * 1048576 / 2)) ] &&
        [ -n "$cuts" ] && [ "$cuts" -gt 0 ] &&
        pass "http -j 2: the workers' peaks sum to $peak, within the budget; $cuts flows cut" ||
        fail "http -j 2" "exit $rc, peak '$peak', cuts '$cuts' for a budget of $JMB MiB"
    grep -q '"uri":"/after-the-flood"' "$T/http-j2/http.log" 2>/dev/null &&
        pass "http -j 2: the request after the flood is in http.log" ||
        fail "http -j 2: the request after the flood" "not in http.log"
fi

SMTP_MB=$((MB / 4))
check_flood smtp $((FLOWS / 2)) "$SMTP_MB"
grep '"mailfrom":"after@flood.example"' "$T/smtp-flood/smtp.log" 2>/dev/null | grep -q '"subject":"after the flood"' &&
    pass "smtp: the mail after the flood is in smtp.log (mailfrom, subject)" ||
    fail "smtp: the mail after the flood" "not in smtp.log"

# every capture of pcaps/ with a budget of 1 byte: every flow that holds anything past a
# packet is cut (each cut path: reassembly ranges, readers, decoders ended), the run ends
# cleanly (under ASan: no report) and conn.log keeps every connection
bad="" ncut=0
for p in pcaps/*.pcap pcaps/*.pcapng; do
    [ -f "$p" ] || continue
    rm -rf "$T/m0" "$T/m1"
    "$ENG" -r "$p" -o "$T/m0" --set engine.seed=1 2>/dev/null
    "$ENG" -r "$p" -o "$T/m1" --set engine.seed=1 --set engine.memcap=1 --stats 2>"$T/m1.err"
    rc=$?
    c0=$(cat "$T/m0/conn.log" 2>/dev/null | wc -l)
    c1=$(cat "$T/m1/conn.log" 2>/dev/null | wc -l)
    [ "$rc" = 0 ] && [ "$c0" = "$c1" ] || bad="$bad $(basename "$p")(exit $rc, conn $c0/$c1)"
    n=$(stat m1 "flows cut")
    ncut=$((ncut + ${n:-0}))
done
[ -z "$bad" ] && [ "$ncut" -gt 0 ] && pass "pcaps/ with engine.memcap=1: $ncut cuts, every run clean, every conn.log record kept" ||
    fail "pcaps/ with engine.memcap=1" "${bad:-no cut at all}"
finish
