#!/bin/sh
# End-to-end: the engine against tshark, on real captures and mutated copies of them.
#
#   sh tests/e2e/test_tshark.sh [BUILD_DIR]        (default: build)
#
# For every capture in pcaps/ (and in the shared capture folder, $PCAPS or ../shared/pcaps
# next to the repository, when present) and for every mutation made by build/tools/pcapmut
# (1-byte split; split 3 + reorder; duplicates; IPv4/IPv6 fragments of 16 and 24 bytes
# of segments cut to 1000 bytes;
# 802.1Q; QinQ; Linux SLL; SLL2; raw IP; BSD null), two checks:
#
#   <capture>/<mutation> streams  for every TCP connection and direction, the bytes the
#       engine delivers in tcp.data events (tests/e2e/dump_streams.lua) equal what
#       `tshark -z follow,tcp,raw,N` reassembles.  Connections are matched by their
#       endpoints (tshark's "Node 0" is the sender of the stream's first packet, not
#       necessarily the originator), several connections on one 5-tuple in order.
#   <capture>/<mutation> conn     the engine's conn.log (default scripts, -o DIR) agrees
#       with tshark on the TCP and UDP packets sent by each endpoint towards each other
#       (what `tshark -z conv,tcp` / `conv,udp` count), summed per directed 5-tuple; UDP
#       payload bytes equal the sum of udp.length - 8; TCP payload bytes equal either the
#       sum of tcp.len or the reassembled stream length (Zeek counts the latter).
#
# Known tshark problems, worked around here:
#   * tshark 4.0's follow,tcp output is wrong when a TCP segment arrives before an earlier
#     one (it prints the bytes in arrival order with "[N bytes missing in capture file]"
#     markers, even with tcp.reassemble_out_of_order:TRUE).  For the reorder mutation the
#     reference is therefore tshark's reassembly of the unmutated capture: the mutation
#     moves packets, it does not change the byte streams (checked independently with a
#     sequence-number reassembly of tshark's per-packet tcp.payload while writing this).
#   * tshark re-dissecting HTTP over 1-byte segments is quadratic (70 s for 100 KB), so it
#     runs with tcp.desegment_tcp_streams:FALSE; "follow" does not depend on it.
#   * "[N bytes missing in capture file]" markers are removed from tshark's output; a
#     stream with such a marker may have engine tcp.gap events in that direction.
#
# E2E_ONLY=REGEX limits the run to the captures whose label matches.
#
# E2E_JOBS=N runs the captures in N processes (default: the number of cores, at most 4);
# each runs every N-th capture and the results are added up at the end.
#
# The shared captures are many: tshark runs once per capture (unmutated), and their mutants
# are checked for streams only, against that reference (E2E_FULL=1: tshark on each mutant,
# and conn too, as for the project's own captures in pcaps/).
#
# Every shared capture gets the mutations that move bytes through reassembly and fragments
# (split1, split3-reorder, dup, frag16) and one of the others (frag24 and the link-layer
# re-wraps), in turn by its place in the sorted list, so each of those still runs on a
# seventh of the shared captures; the project's captures get every mutation.
#
# Limits keeping the run short (E2E_FULL=1 lifts them): the 1-byte split only for captures
# with at most 200 KB of TCP payload, split 3 up to 600 KB, other mutations for captures up
# to 5 MB, the unmutated comparison up to 50 MB, the first 300 TCP streams of a capture.
#
# Prints PASS/FAIL/SKIP lines and "N passed, M failed, K skipped"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
PCAPMUT="$B/tools/pcapmut"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
res="$tmp/results"
: >"$res"

say() { echo "$*" | tee -a "$res"; }

. "$top/tests/e2e/known_failures.sh"
finish() {
    if [ -n "${E2E_SHARD:-}" ]; then exit 0; fi   # a shard: the parent adds up and judges
    [ -n "${kf_done:-}" ] || known_failures
    p=$(grep -c '^PASS' "$res")
    f=$(grep -c '^FAIL' "$res")
    s=$(grep -c '^SKIP' "$res")
    echo "$p passed, $f failed, $s skipped"
    [ "$f" -eq 0 ]
    exit $?
}

if ! command -v tshark >/dev/null 2>&1; then
    say "SKIP tshark: tshark is not installed"
    finish
fi
if ! command -v python3 >/dev/null 2>&1; then
    say "SKIP tshark: python3 is not installed"
    finish
fi
for x in "$ENGINE" "$PCAPMUT"; do
    if [ ! -x "$x" ]; then
        say "FAIL setup: $x is missing (make all)"
        finish
    fi
done

# ---------------------------------------------------------------- parallel shards
JOBS=${E2E_JOBS:-}
if [ -z "$JOBS" ]; then
    JOBS=$(nproc 2>/dev/null || echo 1)
    [ "$JOBS" -gt 4 ] && JOBS=4
fi
if [ -z "${E2E_SHARD:-}" ] && [ "$JOBS" -gt 1 ]; then
    k=0 pids=""
    while [ "$k" -lt "$JOBS" ]; do
        E2E_SHARD="$k/$JOBS" sh "$0" "$B" >"$tmp/shard.$k" 2>&1 &
        pids="$pids $!"
        k=$((k + 1))
    done
    rc=0
    for pid in $pids; do wait "$pid" || rc=1; done
    k=0
    while [ "$k" -lt "$JOBS" ]; do
        grep -vE '^(PASS|FAIL|SKIP)' "$tmp/shard.$k" || true
        grep -E '^(PASS|FAIL|SKIP)' "$tmp/shard.$k" >>"$res"
        k=$((k + 1))
    done
    [ "$rc" = 0 ] || say "FAIL setup: a shard of this suite exited with an error"
    sort -o "$res" "$res"
    known_failures >/dev/null
    kf_done=1
    cat "$res"
    finish
fi
SHARD_K=${E2E_SHARD%/*} SHARD_N=${E2E_SHARD#*/}
[ -n "${E2E_SHARD:-}" ] || { SHARD_K=0 SHARD_N=1; }
ci=-1   # the place of the current capture in the run, for the shards and the rotation
mine() { ci=$((ci + 1)); [ $((ci % SHARD_N)) = "$SHARD_K" ]; }

FULL=${E2E_FULL:-0}
MAX_STREAMS=300
[ "$FULL" = 1 ] && MAX_STREAMS=100000

TSHARK="tshark -n -o tcp.desegment_tcp_streams:FALSE"
FIELDS="-T fields -E separator=| -E occurrence=l -e tcp.stream -e udp.stream -e ip.src -e ipv6.src
 -e tcp.srcport -e udp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport -e udp.dstport -e tcp.len
 -e udp.length -e icmp.type -e icmpv6.type"

# ---------------------------------------------------------------- comparator
cat >"$tmp/cmp.py" <<'EOF'
import sys, json, re, ipaddress, os
from collections import defaultdict

SEP = "=" * 67
MISSING = re.compile(rb"^\[\d+ bytes missing in capture file\]\x00?$")

def norm(a):
    a = a.strip("[]")
    try:
        return ipaddress.ip_address(a).compressed
    except ValueError:
        return a

def parse_tshark(path):
    """-> (rows, follows): field rows, and stream index -> dict(nodes, data[2], missing[2])"""
    rows, follows, cur, infollow = [], {}, None, False
    with open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\r\n").decode("latin-1")
            if line == SEP:
                infollow = True
                cur = None
                continue
            if not infollow:
                if "|" in line:
                    rows.append(line.split("|"))
                continue
            m = re.match(r"Filter: tcp\.stream eq (\d+)$", line)
            if m:
                cur = {"nodes": [None, None], "data": [[], []], "missing": [False, False]}
                follows[int(m.group(1))] = cur
                continue
            if cur is None or not line or line.startswith("Follow:"):
                continue
            m = re.match(r"Node ([01]): (.*):(\d+)$", line)
            if m:
                cur["nodes"][int(m.group(1))] = (norm(m.group(2)), int(m.group(3)))
                continue
            d = 1 if line.startswith("\t") else 0
            h = line.strip()
            try:
                b = bytes.fromhex(h)
            except ValueError:
                continue
            if MISSING.match(b):
                cur["missing"][d] = True
                continue
            cur["data"][d].append(h)
    for s in follows.values():
        s["data"] = ["".join(x) for x in s["data"]]
    return rows, follows

def ep(a, p):
    return "%s:%s" % (a if ":" not in a else "[%s]" % a, p)

def first_diff(a, b):
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i // 2

def cmp_streams(name, follows, streams_path, max_streams):
    eng = defaultdict(list)   # unordered endpoint pair -> flows in end order
    errs = defaultdict(list)  # (orig, resp) -> messages
    if not os.path.exists(streams_path):
        return ["engine wrote no streams.txt"]
    with open(streams_path) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 6)
            if len(parts) < 6:
                continue
            kind, oh, op, rh, rp = parts[0], norm(parts[1]), int(parts[2]), norm(parts[3]), int(parts[4])
            o, r = (oh, op), (rh, rp)
            if kind == "S":
                key = tuple(sorted([o, r]))
                lst = eng[key]
                if not lst or lst[-1]["orig"] != o or parts[5] in lst[-1]["data"]:
                    lst.append({"orig": o, "resp": r, "data": {}})
                lst[-1]["data"][parts[5]] = parts[6] if len(parts) > 6 else ""
            elif kind == "E":
                errs[(o, r)].append(" ".join(parts[5:]))
    problems = []
    capped = len(follows) >= max_streams
    for idx in sorted(follows):
        s = follows[idx]
        n0, n1 = s["nodes"]
        if n0 is None or n1 is None:
            continue
        key = tuple(sorted([n0, n1]))
        tdata = s["data"]
        if not eng[key]:
            if tdata[0] or tdata[1]:
                problems.append("stream %d %s <-> %s: no engine flow (tshark: %d and %d bytes)"
                                % (idx, ep(*n0), ep(*n1), len(tdata[0]) // 2, len(tdata[1]) // 2))
            continue
        fl = eng[key].pop(0)
        # tshark's node 0 sent the stream's first packet; map engine orig/resp onto it
        if fl["orig"] == n0:
            e = [fl["data"].get("orig", ""), fl["data"].get("resp", "")]
            dnames = ["orig", "resp"]
        else:
            e = [fl["data"].get("resp", ""), fl["data"].get("orig", "")]
            dnames = ["resp", "orig"]
        # the last tshark stream of these endpoints, and the engine has more flows on them:
        # the connection went idle past flow.tcp_timeout and the engine (as Zeek) ended the
        # flow and picked the rest up as a new one. All the bytes must still be there.
        if eng[key] and not any(tuple(sorted([x for x in follows[j]["nodes"] if x] or [None])) == key
                                for j in follows if j > idx):
            for more in eng[key]:
                first = "orig" if more["orig"] == n0 else "resp"
                second = "resp" if first == "orig" else "orig"
                e[0] += more["data"].get(first, "")
                e[1] += more["data"].get(second, "")
            eng[key] = []
        for d in (0, 1):
            if e[d] != tdata[d]:
                problems.append("stream %d %s -> %s (engine %s): engine %d bytes, tshark %d, first difference at byte %d"
                                % (idx, ep(*s["nodes"][d]), ep(*s["nodes"][1 - d]), dnames[d],
                                   len(e[d]) // 2, len(tdata[d]) // 2, first_diff(e[d], tdata[d])))
        for msg in errs.pop((fl["orig"], fl["resp"]), []):
            d = 0 if msg.split(" ")[0] == dnames[0] else 1
            m = re.match(r"\w+ gap at (\d+), \d+ bytes$", msg)
            # a gap tshark marks, or one at the very end of what tshark has: bytes the
            # receiver acknowledged but the capture lacks, which tshark cannot show
            if m and (s["missing"][d] or int(m.group(1)) == len(tdata[d]) // 2):
                continue
            problems.append("stream %d %s <-> %s: engine: %s" % (idx, ep(*n0), ep(*n1), msg))
    if not capped:
        for key, lst in eng.items():
            for fl in lst:
                if any(fl["data"].values()):
                    problems.append("engine flow %s -> %s not seen by tshark" % (ep(*fl["orig"]), ep(*fl["resp"])))
    for (o, r), msgs in errs.items():
        for msg in msgs:
            problems.append("%s -> %s: engine: %s" % (ep(*o), ep(*r), msg))
    return problems

def gap_bytes(streams_path):
    """directed 5-tuple -> bytes the engine declared lost (tcp.gap) in that direction:
    conn.log counts them as payload, as Zeek's sequence-number based counts do"""
    gaps = defaultdict(int)
    if not os.path.exists(streams_path):
        return gaps
    with open(streams_path) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 11 or parts[0] != "E" or parts[6] != "gap":
                continue
            o, r = (norm(parts[1]), int(parts[2])), (norm(parts[3]), int(parts[4]))
            a, b = (o, r) if parts[5] == "orig" else (r, o)
            gaps[("tcp",) + a + b] += int(parts[9])
    return gaps

def cmp_conn(rows, follows, conn_path, gaps):
    tsh = defaultdict(lambda: [0, 0])   # (proto, src, sport, dst, dport) -> [pkts, bytes]
    for r in rows:
        if len(r) < 14 or r[12] or r[13]:
            continue  # ICMP errors quote transport headers: not a packet of the flow
        if r[0]:
            proto, sp, dp, ln = "tcp", r[4], r[8], int(r[10] or 0)
        elif r[1]:
            proto, sp, dp, ln = "udp", r[5], r[9], max(int(r[11] or 8) - 8, 0)
        else:
            continue
        src, dst = r[2] or r[3], r[6] or r[7]
        if not src or not dst or not sp or not dp:
            continue
        k = (proto, norm(src), int(sp), norm(dst), int(dp))
        tsh[k][0] += 1
        tsh[k][1] += ln
    slen = defaultdict(int)             # reassembled stream lengths per directed 5-tuple
    for s in follows.values():
        n0, n1 = s["nodes"]
        if n0 and n1:
            slen[("tcp",) + n0 + n1] += len(s["data"][0]) // 2
            slen[("tcp",) + n1 + n0] += len(s["data"][1]) // 2
    eng = defaultdict(lambda: [0, 0])
    nobytes = set()                     # directed 5-tuples of records without byte counts
    if not os.path.exists(conn_path):
        # no flow at all (an empty capture, or nothing but undecodable packets) writes no
        # conn.log, as Zeek does: right when tshark has no TCP or UDP packet either
        return ["engine wrote no conn.log"] if tsh else []
    with open(conn_path) as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
            except ValueError as e:
                return ["conn.log line %d is not JSON: %s" % (n, e)]
            proto = rec.get("proto")
            if proto not in ("tcp", "udp"):
                continue
            if rec.get("service") in ("vxlan", "geneve", "gtpv1"):
                # the outer UDP flow of a tunnel: tshark's row of an encapsulated
                # packet holds the innermost transport (occurrence=l), so it has
                # no count for it; the inner flows are compared
                continue
            try:
                o = (norm(str(rec["id.orig_h"])), int(rec["id.orig_p"]))
                r = (norm(str(rec["id.resp_h"])), int(rec["id.resp_p"]))
            except (KeyError, ValueError):
                return ["conn.log line %d lacks id.* fields" % n]
            for a, b, pk, by in ((o, r, "orig_pkts", "orig_bytes"), (r, o, "resp_pkts", "resp_bytes")):
                k = (proto,) + a + b
                eng[k][0] += int(rec.get(pk) or 0)
                eng[k][1] += int(rec.get(by) or 0)
                if by not in rec:
                    # Zeek's rule, kept by scripts/logs/conn.lua: a flow of duration 0
                    # (one packet, or all in one instant) logs no duration and no bytes
                    if rec.get("duration") is not None:
                        return ["conn.log line %d has a duration but no %s" % (n, by)]
                    nobytes.add(k)
    problems = []
    for k in sorted(set(tsh) | set(eng)):
        t, e = tsh.get(k, [0, 0]), eng.get(k, [0, 0])
        if t[0] == 0 and e[0] == 0:
            continue
        what = "%s %s -> %s" % (k[0], ep(k[1], k[2]), ep(k[3], k[4]))
        if t[0] != e[0]:
            problems.append("%s: engine %d packets, tshark %d" % (what, e[0], t[0]))
        elif k in nobytes:
            continue
        elif k[0] == "udp" and t[1] != e[1]:
            problems.append("%s: engine %d payload bytes, tshark %d" % (what, e[1], t[1]))
        elif k[0] == "tcp" and e[1] not in (t[1], slen.get(k, -1), slen.get(k, -1) + gaps.get(k, 0)):
            problems.append("%s: engine %d payload bytes, tshark %d in segments, %d in the stream%s"
                            % (what, e[1], t[1], slen.get(k, 0),
                               " + %d in engine gaps" % gaps[k] if gaps.get(k) else ""))
    return problems

def report(name, problems, note=""):
    if problems:
        more = " (+%d more)" % (len(problems) - 3) if len(problems) > 3 else ""
        print("FAIL %s: %s%s%s" % (name, "; ".join(problems[:3]), more, note))
    else:
        print("PASS %s" % name)

def main():
    name, fields_file, follow_file, base_file, streams, conn, max_streams = sys.argv[1:8]
    rows, follows = parse_tshark(fields_file)
    if follow_file != fields_file:
        _, follows = parse_tshark(follow_file)
    note = ""
    sp = cmp_streams(name, follows, streams, int(max_streams))
    if sp and base_file != "-" and base_file != follow_file:
        _, base = parse_tshark(base_file)
        same = {k: v["data"] for k, v in base.items()} == {k: v["data"] for k, v in follows.items()}
        if not same:
            note = " [tshark's own reassembly of this mutant differs from the unmutated capture's]"
    report(name + " streams", sp, note)
    if conn != "-":
        report(name + " conn", cmp_conn(rows, follows, conn, gap_bytes(streams)))

main()
EOF

# ---------------------------------------------------------------- per capture
# frag16/frag24 first cut TCP payloads to 1000 bytes: loopback segments of 32 KB would make
# 2000 fragments each and the run slow; the fragment reassembly is what is tested.
MUTATIONS="split1:--split,1 split3-reorder:--split,3,--reorder,7 dup:--dup,0.3,5
frag16:--split,1000,--frag,16 frag24:--split,1000,--frag,24 vlan:--vlan,100 qinq:--vlan,100,200 sll:--link,sll sll2:--link,sll2 raw:--link,raw
null:--link,null"
# The sanitizer build (a build folder ending in "asan") runs the mutations that move bytes
# through reassembly and fragments; the link-layer re-wraps only change a header the normal
# build checks (E2E_FULL=1 runs all).
NROT=$(( $(echo $MUTATIONS | wc -w) - 4 ))   # the mutations shared captures take in turn
[ "$NROT" -gt 0 ] || NROT=1
case $B in
    *asan) [ "${E2E_FULL:-0}" = 1 ] ||
        MUTATIONS="split1:--split,1 split3-reorder:--split,3,--reorder,7 dup:--dup,0.3,5 frag16:--split,1000,--frag,16" ;;
esac

# run_variant NAME FILE BASE_TSHARK_OUT [streams]: engine twice, tshark once, compare.
# With "streams", tshark does not run again: the mutant's streams are compared with the
# unmutated capture's (a mutation moves, cuts, copies or re-wraps packets, it does not
# change the byte streams) and its conn.log is not compared (packet counts change).
run_variant() {
    name=$1 file=$2 base=$3 only=${4:-} d="$tmp/v"
    rm -rf "$d"; mkdir -p "$d/logs"
    if [ "$only" = streams ]; then
        if ! timeout 120 "$ENGINE" -q -r "$file" -o "$d" -s tests/e2e/dump_streams.lua --set test.outdir="$d" \
                </dev/null >"$d/engine1.out" 2>"$d/engine1.err"; then
            say "FAIL $name streams: engine exited with an error: $(grep -v '^$' "$d/engine1.err" | head -n 2 | tr '\n' ' ')"
            return 1
        fi
        python3 "$tmp/cmp.py" "$name" "$base" "$base" "$base" "$d/streams.txt" - "$MAX_STREAMS" | tee -a "$res"
        return 0
    fi
    if [ "$base" = "-" ]; then
        # unmutated capture: count its streams first
        $TSHARK -r "$file" -T fields -e tcp.stream 2>/dev/null | grep -E "^[0-9]+$" | sort -n | tail -n 1 >"$d/nstreams"
        nstreams=$(($(cat "$d/nstreams" | grep -E '^[0-9]+$' || echo -1) + 1))
        echo "$nstreams" >"$tmp/nstreams"
    else
        nstreams=$(cat "$tmp/nstreams")
    fi
    [ "$nstreams" -gt "$MAX_STREAMS" ] && nstreams=$MAX_STREAMS
    i=0 follow=""
    while [ "$i" -lt "$nstreams" ]; do
        follow="$follow -z follow,tcp,raw,$i"
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    if ! $TSHARK -r "$file" $FIELDS $follow </dev/null >"$d/tshark.out" 2>"$d/tshark.err"; then
        say "SKIP $name: tshark failed: $(head -n 1 "$d/tshark.err")"
        return 1
    fi
    if ! timeout 120 "$ENGINE" -q -r "$file" -o "$d" -s tests/e2e/dump_streams.lua --set test.outdir="$d" \
            </dev/null >"$d/engine1.out" 2>"$d/engine1.err"; then
        say "FAIL $name streams: engine exited with an error: $(grep -v '^$' "$d/engine1.err" | head -n 2 | tr '\n' ' ')"
        return 1
    fi
    if ! timeout 120 "$ENGINE" -q -r "$file" -o "$d/logs" </dev/null >"$d/engine2.out" 2>"$d/engine2.err"; then
        say "FAIL $name conn: engine exited with an error: $(grep -v '^$' "$d/engine2.err" | head -n 2 | tr '\n' ' ')"
        return 1
    fi
    follow_src="$d/tshark.out"
    case $name in
        */split3-reorder) follow_src=$base ;;   # tshark's follow breaks on reordering (see top)
    esac
    python3 "$tmp/cmp.py" "$name" "$d/tshark.out" "$follow_src" "$base" "$d/streams.txt" \
        "$d/logs/conn.log" "$MAX_STREAMS" | tee -a "$res"
    [ "$base" = "-" ] && cp "$d/tshark.out" "$tmp/base.out"
    return 0
}

# link types the engine reads (cli.md), as `capinfos -T -E` names them
link_ok() {
    case $1 in
        ether|linux-sll|linux-sll2|rawip|rawip4|rawip6|null|loop|arcnet_linux|ppp|nflog) return 0 ;;
    esac
    return 1
}

do_capture() {
    cap=$1 label=$2
    # E2E_ONLY=REGEX: only the captures whose label matches (while working on one)
    if [ -n "${E2E_ONLY:-}" ] && ! echo "$label" | grep -Eq "$E2E_ONLY"; then return; fi
    size=$(wc -c <"$cap")
    if command -v capinfos >/dev/null 2>&1; then
        enc=$(capinfos -T -E -r "$cap" 2>/dev/null | cut -f 2)
    else
        enc=ether   # no capinfos: let tshark and the engine say what they cannot read
    fi
    if [ -z "$enc" ]; then
        say "SKIP $label: tshark cannot read it"
        return
    fi
    if ! link_ok "$enc"; then
        say "SKIP $label: link type '$enc' is not one the engine reads"
        return
    fi
    if [ "$FULL" != 1 ] && [ "$size" -gt 50000000 ]; then
        say "SKIP $label: $size bytes (over 50 MB; E2E_FULL=1 runs it)"
        return
    fi
    run_variant "$label/orig" "$cap" - || return
    base="$tmp/base.$$.out"
    cp "$tmp/base.out" "$base"
    payload=$(awk -F'|' '$1 != "" { s += $11 } END { print s + 0 }' "$base")
    mi=0
    for m in $MUTATIONS; do
        mname=${m%%:*}
        case $label/$mname in
            */split1|*/split3-reorder|*/dup|*/frag16) ;;
            shared/*)   # one of the other mutations per shared capture, in turn
                mi=$((mi + 1))
                [ "$FULL" = 1 ] || [ $(( (ci + mi) % NROT )) = 0 ] || continue ;;
        esac
        margs=$(echo "${m#*:}" | tr ',' ' ')
        case $mname in dup) margs="--dup 0.3,5" ;; qinq) margs="--vlan 100,200" ;; esac
        if [ "$FULL" != 1 ]; then
            lim=5000000 why="capture over 5 MB"
            case $mname in
                split1) lim=200000 why="TCP payload over 200 KB" ;;
                split3-reorder) lim=600000 why="TCP payload over 600 KB" ;;
            esac
            n=$size
            case $mname in split*) n=$payload ;; esac
            if [ "$n" -gt "$lim" ]; then
                say "SKIP $label/$mname: $why (E2E_FULL=1 runs it)"
                continue
            fi
        fi
        # shellcheck disable=SC2086
        if ! "$PCAPMUT" $margs "$cap" "$tmp/mut.pcap" 2>"$tmp/mut.err"; then
            if grep -q 'unsupported link type' "$tmp/mut.err"; then  # a tool limit, not an engine fault
                say "SKIP $label/$mname: pcapmut cannot rewrite this capture: $(head -n 1 "$tmp/mut.err")"
                continue
            fi
            say "FAIL $label/$mname: pcapmut failed: $(head -n 1 "$tmp/mut.err")"
            continue
        fi
        # tshark itself runs on the project's captures for the mutations that change
        # segmentation or order (split1, split3-reorder, frag16: conn counts are checked);
        # the other mutants, and every mutant of a shared capture, are checked for streams
        # against the unmutated capture's (E2E_FULL=1: tshark on every mutant)
        case $label/$mname in
            shared/*) [ "$FULL" = 1 ] || { run_variant "$label/$mname" "$tmp/mut.pcap" "$base" streams; continue; } ;;
            */split1|*/split3-reorder|*/frag16) ;;
            *) [ "$FULL" = 1 ] || { run_variant "$label/$mname" "$tmp/mut.pcap" "$base" streams; continue; } ;;
        esac
        run_variant "$label/$mname" "$tmp/mut.pcap" "$base"
    done
    rm -f "$base"
}

found=0
for cap in pcaps/*.pcap pcaps/*.pcapng; do
    [ -f "$cap" ] || continue
    found=1
    mine || continue
    do_capture "$cap" "$(basename "$cap")"
done
[ "$found" = 1 ] || [ "$SHARD_K" != 0 ] || say "FAIL setup: no captures in pcaps/"

shared=${PCAPS:-$top/../shared/pcaps}
if [ -d "$shared" ]; then
    find "$shared" -maxdepth 3 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort >"$tmp/shared"
    while IFS= read -r cap; do
        mine || continue
        do_capture "$cap" "shared/${cap#"$shared"/}"
    done <"$tmp/shared"
elif [ "$SHARD_K" = 0 ]; then
    say "SKIP shared captures: $shared is absent (set PCAPS=DIR to use a folder of captures)"
fi

finish
