#!/bin/sh
# End-to-end soak: a SYN flood under flow.max. tests/tools/floodgen writes, into a
# temporary directory, FLOOD_FLOWS (default 200000) half-open TCP flows from
# distinct sources (a SYN and one data segment each, detection left undecided)
# interleaved with one long-lived HTTP session that sends a request after every
# 10000 flood flows. With flow.max lowered to 5000 the engine must evict only flood
# flows (--stats: all half-open, none established), say so in a few weirds (at the
# 1st, 10th, 100th, ... eviction), keep its memory flat, and keep the session whole:
# one conn.log record (SF) and every request in http.log under its uid. A small
# version is checked against tshark first (the requests the capture holds).
#
# FLOOD_FULL=1 adds the million: 1,000,000 flood flows with the default flow.max
# (1000000), peak RSS (VmHWM, from /usr/bin/time) under 1 GiB and the bytes per flow
# over an empty run printed; the session still whole. Not timed.
#
#   sh tests/e2e/test_flood.sh [BUILD_DIR]        (default: build)
B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/e2e/harness.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
GEN="$B/tools/floodgen"
N=${FLOOD_FLOWS:-200000}
EVERY=10000
MAX=5000
case "$B" in *asan*|*tsan*) san=1 ;; *) san=0 ;; esac

# peak RSS in KiB of a command (GNU time's %M), its stderr kept in $T/err
rss_of() { # out_dir pcap [engine options]
    o=$1 p=$2
    shift 2
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f 'MAXRSS %M' -o "$T/time" "$B/engine" -r "$p" -o "$o" --stats "$@" 2>"$T/err"
        rc=$?
        sed -n 's/^MAXRSS //p' "$T/time"
    else
        "$B/engine" -r "$p" -o "$o" --stats "$@" 2>"$T/err"
        rc=$?
        echo 0
    fi
    return $rc
}
stat_of() { sed -n "s/^  $1  *\([0-9]*\)\$/\1/p" "$T/err" | head -n 1; }

# the session's records: one conn.log record, every request under its uid, in order
check_session() { # name out_dir requests
    if python3 - "$2" "$3" <<'EOF'; then pass "$1: the session is one SF flow with all $3 requests in http.log"; else fail "$1" "session records"; fi
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
rd = lambda f: [json.loads(l) for l in open(f"{d}/{f}") if l.strip()]
conn = [r for r in rd("conn.log") if r["id.orig_h"] == "172.16.0.1"]
assert len(conn) == 1, f"{len(conn)} conn.log records of the session"
c = conn[0]
assert c["conn_state"] == "SF" and c["history"].startswith("ShAD"), (c["conn_state"], c["history"])
http = rd("http.log")
uris = [r["uri"] for r in http]
assert uris == [f"/req/{k}" for k in range(1, n + 1)], uris[:5]
assert all(r["uid"] == c["uid"] and r["status_code"] == 200 for r in http)
EOF
}

[ -x "$GEN" ] || { fail floodgen "$GEN not built"; finish; }

# ---- small, against tshark ---------------------------------------------------
"$GEN" -n 2000 -e 100 "$T/small.pcap" 2>/dev/null || fail floodgen "small capture"
if command -v tshark >/dev/null 2>&1; then
    want=$(tshark -r "$T/small.pcap" -Y http.request -T fields -e http.request.uri 2>/dev/null | tr '\n' ' ')
    exp=$(seq 1 20 | sed 's|^|/req/|' | tr '\n' ' ')
    [ "$want" = "$exp" ] && pass "small: tshark sees the session's 20 requests" ||
        fail small "tshark requests: $want"
    syns=$(tshark -r "$T/small.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' 2>/dev/null | wc -l)
    [ "$syns" -eq 2001 ] && pass "small: tshark counts 2001 SYNs (2000 flood flows + the session)" ||
        fail small "tshark SYNs: $syns"
else
    skip small "tshark not installed"
fi
rm -rf "$T/o"
"$B/engine" -q -r "$T/small.pcap" -o "$T/o" --stats --set flow.max=50 2>"$T/err"
check_session small "$T/o" 20
ev=$(stat_of evicted) hv=$(stat_of "evicted half-open") es=$(stat_of "evicted established")
[ "$ev" = 1951 ] && [ "$hv" = 1951 ] && [ "$es" = 0 ] && pass "small: 1951 evictions, all half-open" ||
    fail small "evicted $ev, half-open $hv, established $es"

# ---- the flood under flow.max -----------------------------------------------------
"$GEN" -n "$N" -e "$EVERY" "$T/flood.pcap" 2>/dev/null || fail floodgen "flood capture"
REQ=$((N / EVERY))
[ "$REQ" -ge 1 ] || REQ=1
rm -rf "$T/o"
rss=$(rss_of "$T/o" "$T/flood.pcap" --set flow.max=$MAX)
check_session "flood $N" "$T/o" "$REQ"
want=$((N + 1 - MAX))
ev=$(stat_of evicted) hv=$(stat_of "evicted half-open") es=$(stat_of "evicted established")
[ "$ev" = "$want" ] && [ "$hv" = "$want" ] && [ "$es" = 0 ] &&
    pass "flood $N: $want evictions at flow.max $MAX, all half-open, none established" ||
    fail "flood $N" "evicted $ev, half-open $hv, established $es (want $want half-open)"
# one weird at the 1st, 10th, 100th, ... half-open eviction, on the evicted flow
nw=$(grep -c '"name":"flow_evicted_half_open"' "$T/o/weird.log" 2>/dev/null)
k=0 p=1
while [ "$p" -le "$want" ]; do k=$((k + 1)); p=$((p * 10)); done
[ "$nw" = "$k" ] && pass "flood $N: $k flow_evicted_half_open weirds, not one per flow" ||
    fail "flood $N" "$nw flow_evicted_half_open weirds, want $k"
grep '"name":"flow_evicted_half_open"' "$T/o/weird.log" | head -n 1 | grep -q '"uid":"C' &&
    pass "flood $N: the weird names the evicted flow (uid)" || fail "flood $N" "weird without uid"
if [ "$san" = 0 ] && [ "${rss:-0}" -gt 0 ]; then
    # flow.max bounds the table: 5000 flows, far from N flows' worth (~0.8 KiB each)
    [ "$rss" -lt 100000 ] && pass "flood $N: peak RSS $rss KiB stays flat under flow.max" ||
        fail "flood $N" "peak RSS $rss KiB"
fi

# ---- the million (FLOOD_FULL=1) ---------------------------------------------------
if [ "${FLOOD_FULL:-0}" = 1 ]; then
    "$GEN" -n 0 "$T/empty.pcap" 2>/dev/null
    "$GEN" -n 1000000 -e "$EVERY" "$T/m.pcap" 2>/dev/null || fail floodgen "million capture"
    rm -rf "$T/o"
    base=$(rss_of "$T/o" "$T/empty.pcap")
    rm -rf "$T/o" "$T/empty.pcap"
    rss=$(rss_of "$T/o" "$T/m.pcap")
    check_session "million" "$T/o" 100
    ev=$(stat_of evicted) hv=$(stat_of "evicted half-open")
    [ "$ev" = 1 ] && [ "$hv" = 1 ] && pass "million: one eviction at the default flow.max, half-open" ||
        fail million "evicted $ev, half-open $hv"
    if [ "$san" = 1 ] || [ "${rss:-0}" -eq 0 ]; then
        skip million "peak RSS: sanitizer build or no /usr/bin/time"
    else
        per=$(( (rss - base) * 1024 / 1000000 ))
        echo "million: peak RSS $rss KiB, empty run $base KiB: $per bytes a flow"
        [ "$rss" -lt 1048576 ] && pass "million: peak RSS $rss KiB under 1 GiB ($per bytes a flow)" ||
            fail million "peak RSS $rss KiB"
    fi
fi
finish
