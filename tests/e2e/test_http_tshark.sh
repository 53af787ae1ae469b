#!/bin/sh
# End-to-end: the HTTP/1.x decoder against tshark, on the HTTP captures in pcaps/
# (http-curl.pcap, http-nginx.pcap) and in the shared capture folder ($PCAPS, default
# ../shared/pcaps next to the repository: everything under http/ and every capture whose
# name contains "http"), unmutated and mutated by build/tools/pcapmut.
#
#   sh tests/e2e/test_http_tshark.sh [BUILD_DIR]        (default: build)
#
# The engine runs once per capture with the default scripts plus tests/e2e/http_fields.lua
# (one line per http.request / http.response / file.done with the flow's uid and 5-tuple)
# and -o DIR (http.log, files.log).  Checks:
#
#   <capture>/<mutation> http   per TCP connection (matched with tshark's tcp.stream by the
#       5-tuple; several connections on one 5-tuple in order), the requests in order
#       (method, uri, host, user agent) and the response status codes in order, 100 Continue
#       included, are equal.  Requests and responses are compared as two sequences: tshark
#       shows a request when its body is complete, so a "100 Continue" precedes its POST.
#   <capture>/<mutation> sha256 (http-nginx.pcap only) files.log's sha256 of each
#       gzip-encoded, chunked response (found through http.log's uri and resp_fuids) equals
#       the sha256 of the file nginx served (tests/tools/make-pcaps.sh generates them from a
#       fixed seed; digests below), with no missing bytes; and the 1500-byte body of the
#       "Expect: 100-continue" POST has the digest of the file curl sent.  For --split 3
#       --reorder 7 only the digests in files.log are checked, not the http.log pairing:
#       pcapmut reorders each direction's packets in windows of 8, which swaps the last
#       segments of a request with the client's later pure ACKs, so they come after the
#       response has started (the server ACKs request bytes the capture has not shown yet);
#       the engine then delivers the response first and http.log logs an unmatched response
#       (weird http_unmatched_response) and a request without a response.
#
# Expected differences: where tshark is wrong, or the engine deliberately differs (each case
# argued in docs/decoders.md, HTTP section), tests/e2e/http_tshark_expected.txt gives the value
# the engine must produce at that place of that connection; the tshark comparison puts it into
# tshark's output before comparing, so the engine's exact output is still asserted there, and an
# entry that no longer applies (or that tshark now agrees with) fails.
#
# The reference for the comparison:
#   none, --dup 0.2,3, --vlan 5   tshark on the capture itself (-o tcp.desegment_tcp_streams:TRUE,
#       -o tcp.reassemble_out_of_order:TRUE, -d tcp.port==8081,http).
#   --split 1, --split 3 --reorder 7   the engine's own output for the unmutated capture (the
#       mutations move bytes between packets, they do not change the HTTP messages), which
#       has just been checked against tshark.  tshark is not usable as the reference here:
#       with desegmentation on it takes 45 s on http-curl.pcap split in 3-byte segments, and
#       tshark 4.0 loses messages on such captures (split 1 of http-nginx.pcap: no status
#       code on the gzip/chunked responses; split 3 + reorder: requests and codes missing or
#       attached to the wrong frames; GET /big.txt missing from http-curl.pcap).
#
# Limits keeping the run short (E2E_FULL=1 lifts them): mutations only for captures up to
# 2 MB, the unmutated comparison up to 50 MB; with the ASan build (a BUILD_DIR ending in
# "asan") the --split 1 mutation runs only for captures up to 200 KB, and the shared captures
# run unmutated only.
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
    known_failures
    p=$(grep -c '^PASS' "$res")
    f=$(grep -c '^FAIL' "$res")
    s=$(grep -c '^SKIP' "$res")
    echo "$p passed, $f failed, $s skipped"
    [ "$f" -eq 0 ]
    exit $?
}

if ! command -v python3 >/dev/null 2>&1; then
    say "SKIP http: python3 is not installed"
    finish
fi
for x in "$ENGINE" "$PCAPMUT"; do
    if [ ! -x "$x" ]; then
        say "FAIL setup: $x is missing (make all)"
        finish
    fi
done
HAVE_TSHARK=1
command -v tshark >/dev/null 2>&1 || HAVE_TSHARK=0
FULL=${E2E_FULL:-0}
ASAN=0
case $B in *asan) ASAN=1 ;; esac

US=$(printf '\037')   # tshark's aggregator for several messages in one frame

# ---------------------------------------------------------------- comparator
cat >"$tmp/cmp.py" <<'EOF'
import sys, json, ipaddress, os
from collections import OrderedDict

US = "\x1f"

def norm(a):
    try:
        return ipaddress.ip_address(a.strip("[]")).compressed
    except ValueError:
        return a

def conn_key(a, b):
    return tuple(sorted([a, b]))

def load_engine(path):
    """-> list of [key, requests, responses] in order of first HTTP event, one per flow uid"""
    conns = OrderedDict()
    if not os.path.exists(path):
        return None
    with open(path, encoding="latin-1") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 7 or p[0] not in ("Q", "R"):
                continue
            o, r = (norm(p[2]), int(p[3])), (norm(p[4]), int(p[5]))
            c = conns.setdefault(p[1], [conn_key(o, r), [], []])
            if p[0] == "Q":
                c[1].append(tuple((p[6:10] + ["", "", "", ""])[:4]))
            else:
                c[2].append(p[6])
    return list(conns.values())

def load_tshark(path):
    """-> list of [key, requests, responses] in tcp.stream order"""
    conns = OrderedDict()
    with open(path, encoding="latin-1") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 12 or not p[0]:
                continue
            src = (norm(p[1] or p[2]), int(p[3] or 0))
            dst = (norm(p[4] or p[5]), int(p[6] or 0))
            key = conn_key(src, dst)
            c = conns.setdefault((int(p[0].split(US)[0]), key), [key, [], []])
            meths = p[7].split(US) if p[7] else []
            cols = [x.split(US) if x else [] for x in p[8:11]]
            for i, m in enumerate(meths):
                c[1].append((m,) + tuple(col[i] if i < len(col) else "" for col in cols))
            if p[11]:
                c[2].extend(p[11].split(US))
    return list(conns.values())

def ep(e):
    return "%s:%d" % (e[0] if ":" not in e[0] else "[%s]" % e[0], e[1])

def first_diff(a, b):
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "(none)"
        y = b[i] if i < len(b) else "(none)"
        if x != y:
            return i, x, y
    return None

def compare(ref, eng, refname):
    problems = []
    pool = list(eng)
    for key, reqs, resps in ref:
        if not reqs and not resps:
            continue
        idx = next((i for i, c in enumerate(pool) if c[0] == key), None)
        what = "%s <-> %s" % (ep(key[0]), ep(key[1]))
        if idx is None:
            problems.append("%s: no HTTP from the engine (%s: %d requests, %d responses)"
                            % (what, refname, len(reqs), len(resps)))
            continue
        _, ereqs, eresps = pool.pop(idx)
        d = first_diff(ereqs, reqs)
        if d:
            problems.append("%s: request %d: engine %s, %s %s" % (what, d[0] + 1, "|".join(d[1]) if isinstance(d[1], tuple) else d[1],
                                                                refname, "|".join(d[2]) if isinstance(d[2], tuple) else d[2]))
        d = first_diff(eresps, resps)
        if d:
            problems.append("%s: response %d: engine status %s, %s %s" % (what, d[0] + 1, d[1], refname, d[2]))
    for key, reqs, resps in pool:
        if reqs or resps:
            problems.append("%s <-> %s: engine %d requests, %d responses, %s none"
                            % (ep(key[0]), ep(key[1]), len(reqs), len(resps), refname))
    return problems

def check_digests(logdir, fields, expected_file, loose):
    problems = []
    exp = [l.split() for l in open(expected_file) if l.strip() and not l.startswith("#")]
    http, files = [], {}
    try:
        with open(os.path.join(logdir, "http.log")) as f:
            http = [json.loads(l) for l in f]
        with open(os.path.join(logdir, "files.log")) as f:
            for l in f:
                r = json.loads(l)
                files[r.get("fuid")] = r
    except (OSError, ValueError) as e:
        return ["cannot read the logs: %s" % e]
    hlines = []
    if os.path.exists(fields):
        with open(fields, encoding="latin-1") as f:
            hlines = [l.rstrip("\n").split("\t") for l in f]
    for kind, uri, size, digest in exp:
        size = int(size)
        if kind == "resp" and loose:
            got = [(r.get("sha256"), r.get("seen_bytes"), r.get("missing_bytes")) for r in files.values()]
            if (digest, size, 0) not in got:
                problems.append("%s: no file in files.log with sha256 %s, %d bytes, 0 missing" % (uri, digest, size))
        elif kind == "resp":
            recs = [r for r in http if r.get("uri") == uri and r.get("status_code") == 200
                    and r.get("method") == "GET"]
            if len(recs) != 1:
                problems.append("%s: %d GET 200 records in http.log, expected 1" % (uri, len(recs)))
                continue
            fuids = recs[0].get("resp_fuids") or []
            if len(fuids) != 1 or fuids[0] not in files:
                problems.append("%s: resp_fuids %s not in files.log" % (uri, fuids))
                continue
            fr = files[fuids[0]]
            got = (fr.get("sha256"), fr.get("seen_bytes"), fr.get("missing_bytes"))
            if got != (digest, size, 0):
                problems.append("%s: files.log sha256 %s, %s bytes, %s missing; expected %s, %d bytes"
                                % (uri, got[0], got[1], got[2], digest, size))
        else:  # a request body: the file.done of the flow carrying "POST <uri>"
            uids = {p[1] for p in hlines if len(p) > 7 and p[0] == "Q" and p[6] == "POST" and p[7] == uri}
            got = [(p[6], p[7], p[8]) for p in hlines if len(p) > 8 and p[0] == "H" and p[1] in uids]
            if (digest, str(size), "0") not in got:
                problems.append("POST %s body: expected sha256 %s (%d bytes) among the flow's files %s"
                                % (uri, digest, size, got))
    return problems

def report(name, problems, what=""):
    if problems:
        more = " (+%d more)" % (len(problems) - 3) if len(problems) > 3 else ""
        print("FAIL %s: %s%s" % (name, "; ".join(problems[:3]), more))
    else:
        print("PASS %s%s" % (name, what))

def summary(conns):
    if conns is None:
        return ""
    c = [x for x in conns if x[1] or x[2]]
    return " (%d connections, %d requests, %d responses)" % (
        len(c), sum(len(x[1]) for x in c), sum(len(x[2]) for x in c))

def parse_ep(s):
    h, _, p = s.rpartition(":")
    return (norm(h), int(p))

def load_expected(path, capture):
    """-> rows of the expected-differences table for this capture"""
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            p = line.rstrip("\n").split("\t")
            if len(p) < 6 or p[0] != capture:
                continue
            a, b = p[1].split()
            rows.append((conn_key(parse_ep(a), parse_ep(b)), p[2], int(p[3]), p[4], p[5]))
    return rows

def apply_expected(ref, rows):
    """put the engine's expected values into tshark's reference; -> problems with the table"""
    problems = []
    for key, kind, n, value, reason in sorted(rows, key=lambda r: r[2]):
        c = next((c for c in ref if c[0] == key), None)
        if c is None:
            c = [key, [], []]
            ref.append(c)
        seq = c[1] if kind == "request" else c[2]
        want = None if value == "(none)" else (
            tuple((value.split("|") + ["", "", "", ""])[:4]) if kind == "request" else value)
        what = "%s <-> %s %s %d" % (ep(key[0]), ep(key[1]), kind, n)
        if want is None:
            if n - 1 < len(seq):
                seq.pop(n - 1)
            else:
                problems.append("expected difference %s: tshark has none there (stale entry)" % what)
        elif n - 1 < len(seq):
            if seq[n - 1] == want:
                problems.append("expected difference %s: tshark now agrees (remove the entry)" % what)
            seq[n - 1] = want
        elif n - 1 == len(seq):
            seq.append(want)
        else:
            problems.append("expected difference %s: position beyond tshark's %d (stale entry)" % (what, len(seq)))
    return problems

mode, name = sys.argv[1], sys.argv[2]
if mode == "tshark":
    eng = load_engine(sys.argv[4])
    ref = load_tshark(sys.argv[3])
    exp = load_expected(sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else []
    probs = apply_expected(ref, exp)
    note = " (%d expected differences from tshark)" % len(exp) if exp else ""
    report(name, ["engine wrote no output"] if eng is None else probs + compare(ref, eng, "tshark"),
           summary(eng) + note)
elif mode == "engine":
    ref, eng = load_engine(sys.argv[3]), load_engine(sys.argv[4])
    report(name, ["engine wrote no output"] if eng is None or ref is None
           else compare(ref, eng, "unmutated"), summary(eng))
elif mode == "digests":
    report(name, check_digests(sys.argv[3], sys.argv[4], sys.argv[5], len(sys.argv) > 6 and sys.argv[6] == "loose"))
EOF

# digests of the files served and sent in http-nginx.pcap (tests/tools/make-pcaps.sh)
cat >"$tmp/nginx.sha256" <<'EOF'
# kind  uri  size  sha256
resp /doc.txt 20020 05da86e4d7227137851c0a81080231634302db076b08ce27ca064531f2d76a9e
resp /api/items.json 2355 e2b6b876f3b6aa75e0e8be99f715d0d73a533e297f99f7f5beefad4cc8a9624a
resp /notes.txt 1497 3ae6870a051690697137e8cdf78c2efad67173ad092e489509b919dd0cb3743b
resp /index.html 178 7da963c826e69d176121924dec4d50b6b4651aab01dfe10c396be59b1b7d7def
post /upload 1500 14afbec9e245cc6ac90da9062e30e5dca8c4e6b60042ce986029a175039daa3b
EOF

# run_engine PCAP OUTDIR: default scripts + http_fields.lua, logs and fields in OUTDIR
run_engine() {
    rm -rf "$2"; mkdir -p "$2"
    timeout 120 "$ENGINE" -q -r "$1" -s scripts/default.lua -s tests/e2e/http_fields.lua \
        --set test.out="$2/fields.txt" -o "$2" </dev/null >"$2/stdout" 2>"$2/stderr"
}

run_tshark() {
    timeout 300 tshark -n -r "$1" -d tcp.port==8081,http \
        -o tcp.desegment_tcp_streams:TRUE -o tcp.reassemble_out_of_order:TRUE -Y http \
        -T fields -E separator=/t -E occurrence=a -E "aggregator=$US" \
        -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
        -e http.request.method -e http.request.uri -e http.host -e http.user_agent \
        -e http.response.code </dev/null >"$2" 2>"$2.err"
}

MUTATIONS="split1:--split,1 split3-reorder:--split,3,--reorder,7 dup:--dup,0.2,3 vlan:--vlan,5"

# expected differences from tshark, per capture (see the file)
EXPECTED="$top/tests/e2e/http_tshark_expected.txt"

# do_capture FILE LABEL DIGESTS(file or -) [MUTATIONS]
do_capture() {
    cap=$1 label=$2 digests=$3 muts=${4-$MUTATIONS}
    capname=${label#shared/}
    size=$(wc -c <"$cap")
    if [ "$FULL" != 1 ] && [ "$size" -gt 50000000 ]; then
        say "SKIP $label: $size bytes (over 50 MB; E2E_FULL=1 runs it)"
        return
    fi
    base="$tmp/base"
    if ! run_engine "$cap" "$base"; then
        say "FAIL $label/orig http: engine exited with an error: $(grep -v '^$' "$base/stderr" | head -n 2 | tr '\n' ' ')"
        return
    fi
    if [ "$HAVE_TSHARK" = 1 ]; then
        if run_tshark "$cap" "$tmp/tshark.out"; then
            python3 "$tmp/cmp.py" tshark "$label/orig http" "$tmp/tshark.out" "$base/fields.txt" \
                "$EXPECTED" "$capname" | tee -a "$res"
        else
            say "SKIP $label/orig http: tshark failed: $(head -n 1 "$tmp/tshark.out.err")"
        fi
    else
        say "SKIP $label/orig http: tshark is not installed"
    fi
    [ "$digests" != - ] &&
        python3 "$cmp" digests "$label/orig sha256" "$base" "$base/fields.txt" "$digests" | tee -a "$res"
    for m in $muts; do
        mname=${m%%:*}
        margs=$(echo "${m#*:}" | tr ',' ' ')
        case $mname in dup) margs="--dup 0.2,3" ;; esac
        if [ "$FULL" != 1 ]; then
            if [ "$size" -gt 2000000 ]; then
                say "SKIP $label/$mname: capture over 2 MB (E2E_FULL=1 runs it)"
                continue
            fi
            if [ "$ASAN" = 1 ] && [ "$mname" = split1 ] && [ "$size" -gt 200000 ]; then
                say "SKIP $label/$mname: capture over 200 KB with the ASan build (E2E_FULL=1 runs it)"
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
        mut="$tmp/mut"
        if ! run_engine "$tmp/mut.pcap" "$mut"; then
            say "FAIL $label/$mname http: engine exited with an error: $(grep -v '^$' "$mut/stderr" | head -n 2 | tr '\n' ' ')"
            continue
        fi
        case $mname in
            split*)  # reference: the engine on the unmutated capture (see the top)
                python3 "$cmp" engine "$label/$mname http" "$base/fields.txt" "$mut/fields.txt" | tee -a "$res" ;;
            *)
                if [ "$HAVE_TSHARK" = 0 ]; then
                    say "SKIP $label/$mname http: tshark is not installed"
                elif run_tshark "$tmp/mut.pcap" "$tmp/tshark.out"; then
                    python3 "$cmp" tshark "$label/$mname http" "$tmp/tshark.out" "$mut/fields.txt" \
                        "$EXPECTED" "$capname" | tee -a "$res"
                else
                    say "SKIP $label/$mname http: tshark failed: $(head -n 1 "$tmp/tshark.out.err")"
                fi ;;
        esac
        # reordering moves some request segments after the start of the response (see the
        # top): the files are right but http.log cannot pair them with their requests
        loose=strict
        [ "$mname" = split3-reorder ] && loose=loose
        [ "$digests" != - ] &&
            python3 "$cmp" digests "$label/$mname sha256" "$mut" "$mut/fields.txt" "$digests" $loose | tee -a "$res"
    done
}
cmp="$tmp/cmp.py"

for c in http-curl.pcap http-nginx.pcap; do
    if [ ! -f "pcaps/$c" ]; then
        say "FAIL setup: pcaps/$c is missing"
        continue
    fi
    d=-
    [ "$c" = http-nginx.pcap ] && d="$tmp/nginx.sha256"
    do_capture "pcaps/$c" "$c" "$d"
done

shared=${PCAPS:-$top/../shared/pcaps}
if [ -d "$shared" ]; then
    {
        [ -d "$shared/http" ] && find "$shared/http" -type f
        find "$shared" -type f -iname '*http*'
    } | grep -E '\.(pcap|pcapng|cap)$' | sort -u >"$tmp/shared"
    [ -s "$tmp/shared" ] || say "SKIP shared captures: no HTTP captures in $shared"
    smuts=$MUTATIONS
    if [ "$ASAN" = 1 ] && [ "$FULL" != 1 ]; then
        smuts=""
        say "SKIP shared captures: mutated copies with the ASan build (E2E_FULL=1 runs them)"
    fi
    while IFS= read -r cap; do
        do_capture "$cap" "shared/${cap#"$shared"/}" - "$smuts"
    done <"$tmp/shared"
else
    say "SKIP shared captures: $shared is absent (set PCAPS=DIR to use a folder of captures)"
fi

finish
