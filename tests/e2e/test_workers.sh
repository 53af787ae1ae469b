#!/bin/sh
# -j N (docs/architecture.md "Workers"): the same records with -j 1, -j 2 and -j 4.
#
#   sh tests/e2e/test_workers.sh [BUILD_DIR]        (default: build)
#   WORKERS_J="2 4" (the -j values compared with -j 1)
#
# Compares, after tests/e2e/workers_norm.py (uids and fuids replaced by what they name,
# records sorted), every log of:
#   - each capture of pcaps/ (loopback captures: one address pair, so one worker gets all)
#   - a mix made by benchgen from every capture of pcaps/ (2 MiB, flows replayed under
#     thousands of address pairs): the check that the flows really spread over the workers
#     is part of it
#   - a handful of ../shared/pcaps (or $PCAPS) captures: FTP with data connections (the
#     expectation is learnt and met in the control connection's worker), SIP with RTP, DNS,
#     IPv4 fragments, tunnels, IPv6, mixed LAN traffic; SKIPs when the folder is absent
# and, on the mix: log.ordered (network-time order; -j 1's order but for the end-of-run
# flush), standard output (whole lines, the same records), standard input, uids
# unique across workers, --stats counting every packet once, a failing script (exit 1).
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENG="$B/engine"
GEN="$B/bench/benchgen"
NORM="python3 $top/tests/e2e/workers_norm.py"
JS=${WORKERS_J:-2 4}
# under make SANITIZE=thread: the watchdog's sampling is suppressed (tests/tsan.supp); a report
# goes to stderr, which must be the same with -j N as with -j 1 (none)
TSAN_OPTIONS=${TSAN_OPTIONS:-suppressions=$top/tests/tsan.supp}
export TSAN_OPTIONS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0 skip=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() {
    # captures where -j N differs from -j 1 by design (docs/architecture.md, "Workers"): a
    # FAIL becomes a SKIP that says why; a PASS stays a PASS (the workers may happen to meet)
    case $1 in
    shared-ndpi/sip.pcap:*)
        echo "SKIP known (routing by address pair): its RTP to 212.242.33.36, announced by SIP with 212.242.33.35, meets the expectation only when both pairs hash to one worker: $1"
        skip=$((skip + 1)); return ;;
    esac
    echo "FAIL $1"; fail=$((fail + 1))
}
sk() { echo "SKIP $1"; skip=$((skip + 1)); }

# split_stdout FILE DIR: the lines of each "_path" into DIR/<path>.log, without "_path"
split_stdout() {
    mkdir -p "$2"
    python3 -c '
import json, sys
files = {}
for line in open(sys.argv[1], encoding="utf-8", errors="surrogateescape"):
    r = json.loads(line)  # a cut or interleaved line fails here
    p = r.pop("_path")
    if p not in files:
        files[p] = open("%s/%s.log" % (sys.argv[2], p), "w", encoding="utf-8", errors="surrogateescape")
    files[p].write(json.dumps(r) + "\n")
' "$1" "$2"
}

# same NAME CAPTURE [ENGINE-ARG]...: the records of -j 1 and of each -j in $JS
same() {
    name=$1 pcap=$2
    shift 2
    rm -rf "$tmp/j1"
    if ! eng -r "$pcap" -o "$tmp/j1" -q "$@" 2>"$tmp/err1"; then
        [ -s "$tmp/err1" ] && grep -qv 'warning' "$tmp/err1" && { ko "$name: -j 1 failed: $(head -1 "$tmp/err1")"; return; }
    fi
    $NORM "$tmp/j1" >"$tmp/n1" || { ko "$name: -j 1 logs unreadable"; return; }
    n=$(wc -l <"$tmp/n1")
    for j in $JS; do
        rm -rf "$tmp/jn"
        eng -r "$pcap" -o "$tmp/jn" -q -j "$j" "$@" 2>"$tmp/errn"
        if ! cmp -s "$tmp/err1" "$tmp/errn"; then
            ko "$name: -j $j says other things on stderr than -j 1: $(diff "$tmp/err1" "$tmp/errn" | sed -n 2p)"
            continue
        fi
        if ! $NORM "$tmp/jn" >"$tmp/nn"; then
            ko "$name: -j $j logs unreadable"
            continue
        fi
        if cmp -s "$tmp/n1" "$tmp/nn"; then
            ok "$name: -j $j writes the $n records of -j 1"
        else
            ko "$name: -j $j: $(diff "$tmp/n1" "$tmp/nn" | grep -c '^[<>]') records differ, first: $(diff "$tmp/n1" "$tmp/nn" | grep '^[<>]' | head -1 | cut -c1-200)"
        fi
    done
}

[ -x "$ENG" ] || { echo "no $ENG: build first (make all)"; exit 1; }
# the engine, with a watchdog patient enough for a sanitizer build on a busy machine (a
# handler that times out changes the records, and that is not what is compared here)
eng() { "$ENG" --set lua.handler_timeout_ms=60000 "$@"; }

# ---- the project's captures ----
for p in pcaps/*.pcap; do
    same "$(basename "$p")" "$p"
done

# ---- a mix over many address pairs ----
if [ -x "$GEN" ]; then
    "$GEN" -s 3 -m 2 -o "$tmp/mix.pcap" pcaps/*.pcap 2>/dev/null
    same "mix" "$tmp/mix.pcap"
    # the flows spread: with -j 4 every worker gets some
    cat >"$tmp/wid.lua" <<'EOF'
local n = 0
engine.on("flow.start", function() n = n + 1 end)
engine.on("engine.done", function()
  engine.log("wid", { ts = 0, worker = engine.worker.id, count = engine.worker.count, flows = n })
end)
EOF
    eng -r "$tmp/mix.pcap" -j 4 -q -s "$tmp/wid.lua" >"$tmp/wid.out"
    busy=$(grep -c '"count":4,"flows":[1-9]' "$tmp/wid.out")
    total=$(sed 's/.*"flows":\([0-9]*\).*/\1/' "$tmp/wid.out" | awk '{s+=$1} END {print s+0}')
    eng -r "$tmp/mix.pcap" -q -s "$tmp/wid.lua" >"$tmp/wid1.out"
    total1=$(sed 's/.*"flows":\([0-9]*\).*/\1/' "$tmp/wid1.out" | awk '{s+=$1} END {print s+0}')
    if [ "$busy" = 4 ] && [ "$total" = "$total1" ] && [ "$total1" -gt 100 ]; then
        ok "mix: -j 4 spreads the $total1 flows over the 4 workers (engine.worker, engine.done once per worker)"
    else
        ko "mix: -j 4: $busy busy workers, $total flows ($total1 with -j 1)"
    fi

    # log.ordered (the default): each log in the order of the network time its records were
    # written at, as -j 1 writes them; log.ordered=false: each worker's blocks as they come
    # (the check that the ordered one can fail). A bigger mix, so that blocks interleave.
    "$GEN" -s 4 -m 8 -o "$tmp/mix8.pcap" pcaps/*.pcap 2>/dev/null
    cat >"$tmp/now.lua" <<'EOF'
engine.on("tcp.data", function() engine.log("pkt", { now = engine.now() }) end)
engine.on("flow.end", function() engine.log("fend", { now = engine.now() }) end)
EOF
    # inversions DIR: records whose "now" is less than the one before, over DIR's logs
    inversions() {
        python3 -c '
import json, sys, glob
bad = n = 0
for p in glob.glob(sys.argv[1] + "/*.log"):
    prev = None
    for line in open(p):
        t = json.loads(line)["now"]; n += 1
        if prev is not None and t < prev: bad += 1
        prev = t
print(bad if n > 10000 else "few:%d" % n)' "$1"
    }
    rm -rf "$tmp/o1" "$tmp/o2"
    eng -r "$tmp/mix8.pcap" -q -j 4 -s "$tmp/now.lua" -o "$tmp/o1" 2>"$tmp/oerr"
    eng -r "$tmp/mix8.pcap" -q -j 4 -s "$tmp/now.lua" -o "$tmp/o2" --set log.ordered=false
    i1=$(inversions "$tmp/o1") i2=$(inversions "$tmp/o2")
    if [ "$i1" = 0 ] && [ "$i2" -gt 0 ] 2>/dev/null && [ ! -s "$tmp/oerr" ]; then
        ok "mix: -j 4 writes every log in network-time order (log.ordered=false: $i2 records out of order)"
    else
        ko "mix: log.ordered: $i1 records out of order ($i2 with log.ordered=false); $(head -1 "$tmp/oerr")"
    fi
    # the default logs in the order of -j 1; the flows still open at the end are written at
    # the same instant by each worker, in worker order: at most 3 places where -j 4 goes back
    rm -rf "$tmp/d1" "$tmp/d4"
    eng -r "$tmp/mix8.pcap" -q -o "$tmp/d1"
    eng -r "$tmp/mix8.pcap" -q -j 4 -o "$tmp/d4"
    desc=$(python3 -c '
import json, sys, os
def load(p):
    out = []
    for line in open(p):
        r = json.loads(line)
        for k in list(r):
            if k == "fuid" or k.endswith("uid") or k.endswith("uids") or k.endswith("fuids"): r.pop(k)
        out.append(json.dumps(r, sort_keys=True))
    return out
worst = 0; total = 0
for name in sorted(os.listdir(sys.argv[1])):
    a = load(os.path.join(sys.argv[1], name)); b = load(os.path.join(sys.argv[2], name))
    pos = {}
    for i, x in enumerate(a): pos.setdefault(x, []).append(i)
    seq = [pos[x].pop(0) if pos.get(x) else -1 for x in b]
    if -1 in seq: print("missing"); sys.exit()
    d = sum(1 for i in range(1, len(seq)) if seq[i] < seq[i - 1])
    worst = max(worst, d); total += len(seq)
print(worst if total > 1000 else "few")' "$tmp/d1" "$tmp/d4")
    if [ "$desc" -le 3 ] 2>/dev/null; then
        ok "mix: -j 4's logs follow -j 1's order (at most $desc steps back, at the end-of-run flush)"
    else
        ko "mix: -j 4's logs against -j 1's order: $desc"
    fi

    # standard output: whole JSON lines, the same records as -j 1
    eng -r "$tmp/mix.pcap" -q >"$tmp/out1" 2>/dev/null
    eng -r "$tmp/mix.pcap" -q -j 4 >"$tmp/out4" 2>/dev/null
    rm -rf "$tmp/s1" "$tmp/s4"
    if split_stdout "$tmp/out1" "$tmp/s1" && split_stdout "$tmp/out4" "$tmp/s4" &&
        [ "$($NORM "$tmp/s1" | md5sum)" = "$($NORM "$tmp/s4" | md5sum)" ] && [ "$(wc -l <"$tmp/out1")" -gt 100 ]; then
        ok "mix: -j 4 to standard output: whole lines, the $(wc -l <"$tmp/out1") records of -j 1"
    else
        ko "mix: -j 4 to standard output differs from -j 1 (or a line is not whole)"
    fi

    # standard input
    rm -rf "$tmp/jin"
    eng -r - -o "$tmp/jin" -q -j 2 <"$tmp/mix.pcap"
    rm -rf "$tmp/j1"
    eng -r "$tmp/mix.pcap" -o "$tmp/j1" -q
    if [ "$($NORM "$tmp/jin" | md5sum)" = "$($NORM "$tmp/j1" | md5sum)" ]; then
        ok "mix: -j 2 -r - (standard input) writes the records of -j 1"
    else
        ko "mix: -j 2 -r - differs from -j 1"
    fi

    # uids and fuids unique across the workers
    rm -rf "$tmp/j4"
    eng -r "$tmp/mix.pcap" -o "$tmp/j4" -q -j 4 --set engine.seed=5
    nu=$(grep -o '"uid":"C[0-9A-Za-z]*"' "$tmp/j4/conn.log" | sort | uniq -d | wc -l)
    nc=$(wc -l <"$tmp/j4/conn.log")
    nf=$(grep -o '"fuid":"F[0-9A-Za-z]*"' "$tmp/j4/files.log" | sort | uniq -d | wc -l)
    if [ "$nu" = 0 ] && [ "$nf" = 0 ] && [ "$nc" -gt 100 ]; then
        ok "mix: -j 4 uids unique over the $nc conn records, fuids over files.log"
    else
        ko "mix: -j 4: $nu uids and $nf fuids used twice"
    fi

    # --stats: every packet counted once, the merged weirds
    eng -r "$tmp/mix.pcap" -q -s "$tmp/wid.lua" --stats >/dev/null 2>"$tmp/st1"
    eng -r "$tmp/mix.pcap" -q -s "$tmp/wid.lua" --stats -j 4 >/dev/null 2>"$tmp/st4"
    p1=$(awk '$1 == "packets" && NF == 2 {print $2; exit}' "$tmp/st1")
    p4=$(awk '$1 == "packets" && NF == 2 {print $2; exit}' "$tmp/st4")
    f1=$(sed -n '/^flows/,/^TCP/p' "$tmp/st1" | awk '$1 == "total" {print $2}')
    f4=$(sed -n '/^flows/,/^TCP/p' "$tmp/st4" | awk '$1 == "total" {print $2}')
    if [ -n "$p1" ] && [ "$p1" = "$p4" ] && [ "$f1" = "$f4" ]; then
        ok "mix: --stats -j 4 counts the $p1 packets and $f1 flows of -j 1"
    else
        ko "mix: --stats: -j 1 $p1 packets $f1 flows, -j 4 $p4 packets $f4 flows"
    fi

    # a script that fails under lua.strict: exit 1 (each worker that met the error may say it)
    eng -r "$tmp/mix.pcap" -q -j 4 --set lua.strict=true \
        -e 'engine.on("flow.start", function() error("boom") end)' >/dev/null 2>"$tmp/ferr"
    rc=$?
    nm=$(grep -c 'boom' "$tmp/ferr")
    if [ "$rc" = 1 ] && grep -q '(lua.strict): (-e):1: boom' "$tmp/ferr" && [ "$nm" -le 8 ]; then
        ok "mix: a failing handler under lua.strict: -j 4 exits 1 and says why"
    else
        ko "mix: failing handler: exit $rc, $nm messages"
    fi
else
    sk "mix: no $GEN (make all)"
fi

# ---- the shared collection ----
shared=${PCAPS:-$top/../shared/pcaps}
if [ -d "$shared" ]; then
    for p in ndpi/ftp.pcap protolens/ftp_pasv.pcap suricata-verify/ftp-download-active.pcap \
             suricata-verify/ftp-download-passive.pcap suricata-verify/ftp-upload-active.pcap \
             suricata-verify/ftp-ipv6-data.pcap ndpi/sip.pcap suricata-verify/sip-tcp-method.pcap \
             ndpi/dns.pcap ndpi/dns_fragmented.pcap ja4/gre-erspan-vxlan.pcap ja4/gre-sample.pcap \
             ja4/latest.pcapng ja4/v6.pcap ja4/ssh2.pcapng; do
        if [ -f "$shared/$p" ]; then same "shared-$p" "$shared/$p"
        else sk "shared-$p: not in $shared"
        fi
    done
else
    sk "shared: no $shared on this machine"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
