#!/bin/sh
# test_logio.sh - log input/output of the command line (issue 11 items 2, 7, 9):
#  - several captures in one run (-r a -r b, files after the options) give the
#    records of each file, in order, as one timeline;
#  - numbers as Zeek's JSON writer writes them: no exponent from 1e-6 up, ts
#    with six decimals at most;
#  - a live capture on lo writes its records before the stop (flushed every
#    second): traffic this test sends itself to 127.0.0.1 (SKIP when live
#    capture on lo is impossible, e.g. not root).
#   sh tests/e2e/test_logio.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
T=$(mktemp -d)
LPID=
trap '[ -n "$LPID" ] && kill "$LPID" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/    /' "$T/err" | head -20; }
sk() { skip=$((skip + 1)); echo "SKIP $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }

[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }
A=pcaps/http-curl.pcap P=pcaps/pop3-dovecot.pcap D=pcaps/dns-dnsmasq-udp.pcap

# ---- several captures ------------------------------------------------------
# records without uid, fuid, resp_fuids... (they differ from run to run), one a line
strip() { python3 -c 'import json,sys
for f in sys.argv[1:]:
    for l in open(f):
        r = json.loads(l)
        for k in list(r):
            if k.endswith("uid") or k.endswith("uids"): r.pop(k)
        print(json.dumps(r, sort_keys=True))' "$@"; }
for f in A P D; do
    eval p=\$$f
    mkdir "$T/$f"
    "$ENG" -q -r "$p" -o "$T/$f" 2>>"$T/err"
done
mkdir "$T/two" "$T/pos"
"$ENG" -q -r "$A" -r "$P" -r "$D" -o "$T/two" 2>>"$T/err"; rc=$?
check "-r a -r b -r c exits 0" [ "$rc" = 0 ]
for s in conn http pop3 dns files; do
    : >"$T/want.$s"
    for f in A P D; do [ -f "$T/$f/$s.log" ] && strip "$T/$f/$s.log" >>"$T/want.$s"; done
    strip "$T/two/$s.log" >"$T/got.$s" 2>>"$T/err"
    check "-r a -r b -r c: $s.log holds the records of each file, in order" \
        sh -c "[ -s '$T/want.$s' ] && cmp -s '$T/want.$s' '$T/got.$s'"
done
"$ENG" -q -o "$T/pos" "$A" "$P" "$D" 2>>"$T/err"
strip "$T/pos/conn.log" >"$T/pos.conn"
check "files after the options are read like -r" cmp -s "$T/pos.conn" "$T/want.conn"
"$ENG" -q -r "$A" -r "$T/missing.pcap" -o "$T/bad" 2>"$T/bad.err"; rc=$?
check "a missing second file: exit 1 naming it" \
    sh -c "[ $rc = 1 ] && grep -q 'missing.pcap' '$T/bad.err'"
"$ENG" --repl -r "$A" -r "$P" </dev/null >/dev/null 2>"$T/repl.err"; rc=$?
check "--repl with two files is a usage error" [ "$rc" = 2 ]

# ---- number layout ------------------------------------------------------------
bad=0
for p in pcaps/*.pcap; do
    rm -rf "$T/n"; mkdir "$T/n"
    "$ENG" -q -r "$p" -o "$T/n" 2>>"$T/err"
    python3 - "$T/n"/*.log >>"$T/err" 2>&1 <<'EOF' || bad=1
import re, sys
num = re.compile(r'[:,\[](-?[0-9][0-9.eE+-]*)(?=[,}\]])')
for f in sys.argv[1:]:
    for line in open(f, encoding="utf-8"):
        # outside strings only: drop the string literals first
        bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
        for m in num.finditer(bare):
            t = m.group(1)
            if ("e" in t or "E" in t) and abs(float(t)) >= 1e-6:
                print("exponent form:", f, t); sys.exit(1)
        m = re.search(r'"ts":(-?[0-9.]+)', line)
        if m and "." in m.group(1) and len(m.group(1).split(".")[1]) > 6:
            print("ts with more than six decimals:", f, m.group(1)); sys.exit(1)
EOF
done
check "default logs of pcaps/*.pcap: no exponent from 1e-6 up, ts six decimals at most" [ "$bad" = 0 ]
# a sub-millisecond duration is written 0.000NNN
grep -h -o '"duration":0\.000[0-9]*' "$T"/[APD]/conn.log >"$T/small" 2>/dev/null
check "a sub-millisecond duration is written 0.000NNN" [ -s "$T/small" ]

# ---- Zeek TSV (--set log.format=tsv) --------------------------------------------------
mkdir "$T/tsv"
"$ENG" -q -r "$A" -r "$D" -o "$T/tsv" --set log.format=tsv --set engine.seed=1 2>"$T/tsv.err"; rc=$?
check "log.format=tsv: exit 0, no warning" sh -c "[ $rc = 0 ] && [ ! -s '$T/tsv.err' ]"
for f in conn dns http files; do
    echo "== $f.log"
    sed -E 's/^#(open|close)	.*/#\1	X/' "$T/tsv/$f.log"
done >"$T/tsv.got"
check "log.format=tsv: conn, dns, http, files as logio_tsv_expected.txt (#open/#close aside)" \
    cmp "$T/tsv.got" tests/e2e/logio_tsv_expected.txt
check "log.format=tsv: #open and #close are Zeek's date format" \
    sh -c "grep -Eq '^#open	[0-9]{4}(-[0-9]{2}){5}$' '$T/tsv/conn.log' && tail -1 '$T/tsv/conn.log' | grep -Eq '^#close	[0-9]{4}(-[0-9]{2}){5}$'"
# zeek-cut's way: find the columns by name on the #fields line
cut_tsv() { awk -F'\t' -v want="$2" '
    /^#fields/ { n = split(want, w, " "); for (i = 2; i <= NF; i++) for (j = 1; j <= n; j++) if ($i == w[j]) col[j] = i - 1; next }
    /^#/ { next }
    { line = ""; for (j = 1; j <= n; j++) line = line (j > 1 ? "\t" : "") $(col[j]); print line }' "$1"; }
cut_tsv "$T/tsv/dns.log" "query qtype_name rtt" >"$T/cut.dns"
mkdir "$T/js"
"$ENG" -q -r "$D" -o "$T/js" 2>>"$T/err"
python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print("%s\t%s\t%s" % (r.get("query", "-"), r.get("qtype_name", "-"),
        "%.6f" % r["rtt"] if "rtt" in r else "-"))' "$T/js/dns.log" >"$T/js.dns"
check "zeek-cut-style awk on #fields: dns query, qtype_name, rtt as in the JSON log" \
    sh -c "[ -s '$T/cut.dns' ] && cmp -s '$T/cut.dns' '$T/js.dns'"
n_types=$(awk -F'\t' '/^#types/ { print NF }' "$T/tsv/http.log")
n_fields=$(awk -F'\t' '/^#fields/ { print NF }' "$T/tsv/http.log")
bad_rows=$(awk -F'\t' -v n="$n_fields" '!/^#/ && NF != n - 1' "$T/tsv/http.log" | wc -l)
check "log.format=tsv: every row has as many columns as #fields and #types" \
    sh -c "[ '$n_types' = '$n_fields' ] && [ $bad_rows = 0 ]"
"$ENG" -q -r "$D" --set log.format=tsv >/dev/null 2>"$T/tsv2.err"; rc=$?
check "log.format=tsv without -o: exit 1, saying so" sh -c "[ $rc = 1 ] && grep -q 'give -o DIR' '$T/tsv2.err'"
"$ENG" -q -r "$D" -o "$T/tsv3" --set log.format=xml >/dev/null 2>"$T/tsv3.err"; rc=$?
check "log.format=xml: exit 1 naming the choices" sh -c "[ $rc = 1 ] && grep -q 'json or tsv' '$T/tsv3.err'"
cat >"$T/esc.lua" <<'EOF'
local engine = require "engine"
engine.log_types("e", { d = "double", t = "time", l = "vector[string]" })
engine.on("engine.init", function()
  engine.log("e", { ts = 1.5, s = "tab\there\\", d = 2, t = 3, l = { "a,b", "" }, u = "-", m = { k = 1 }, b = true })
  engine.log("e", { ts = 2, s = "", d = 0.25, l = {}, u = "(empty)", extra = 1 })
end)
EOF
mkdir "$T/esc"
"$ENG" -q -r "$D" -s "$T/esc.lua" -o "$T/esc" --set log.format=tsv 2>"$T/esc.err"
grep -v '^#' "$T/esc/e.log" >"$T/esc.got"
printf '1.500000\tT\t2.0\ta\\x2cb,(empty)\t{"k":1}\ttab\\x09here\\x5c\t3.000000\t\\x2d\n2.000000\t-\t0.25\t(empty)\t-\t(empty)\t-\t\\x28empty)\n' >"$T/esc.exp"
sed -n '/^#fields/p;/^#types/p' "$T/esc/e.log" >>"$T/esc.err"
check "log.format=tsv: escapes, (empty), unset -, double/time layout, map as JSON" cmp "$T/esc.got" "$T/esc.exp"
check "log.format=tsv: a key outside the header is said once on stderr" grep -q "field 'extra' is not a column" "$T/esc.err"

# ---- rotation (--set log.rotate=SECONDS) ------------------------------------------------
mkdir "$T/rot"
"$ENG" -q -r "$A" -r "$P" -o "$T/rot" --set log.rotate=60 2>"$T/rot.err"; rc=$?
check "log.rotate=60 on two captures: exit 0" [ "$rc" = 0 ]
check "log.rotate: no unrotated log left" sh -c "! ls '$T/rot' | grep -qv '__.log\$'"
check "log.rotate: conn.log rotated into two files (the captures are 25 minutes apart)" \
    [ "$(ls "$T/rot" | grep -c '^conn__')" = 2 ]
python3 - "$T/rot" >>"$T/rot.err" 2>&1 <<'EOF'
import json, os, re, sys, time
d = sys.argv[1]
pat = re.compile(r'^([a-z0-9_.-]+)__(\d{4}(?:-\d\d){5})__(\d{4}(?:-\d\d){5})__\.log$')
for name in os.listdir(d):
    m = pat.match(name)
    assert m, "not Zeek's archiver pattern: " + name
    t0 = time.mktime(time.strptime(m.group(2), "%Y-%m-%d-%H-%M-%S"))
    t1 = time.mktime(time.strptime(m.group(3), "%Y-%m-%d-%H-%M-%S"))
    assert t0 <= t1 and int(t0 // 60) == int((t1 - 1) // 60) or t1 == t0, "span crosses a minute: " + name
    for line in open(os.path.join(d, name)):
        ts = json.loads(line)["ts"]
        assert t0 - 60 <= ts <= t1 + 1, "record outside its file's span: %s %s" % (name, ts)
EOF
check "log.rotate: names conn__OPEN__CLOSE__.log, spans within one interval, records inside them" [ $? = 0 ]
strip "$T/rot"/conn__*.log >"$T/rot.conn"
strip "$T/A/conn.log" "$T/P/conn.log" >"$T/ap.conn"
check "log.rotate: the rotated conn files hold every record once" cmp -s "$T/rot.conn" "$T/ap.conn"
"$ENG" -q -r "$A" -o "$T/rot2" --set log.rotate=0 2>"$T/rot2.err"; rc=$?
check "log.rotate=0: exit 1, saying what is expected" sh -c "[ $rc = 1 ] && grep -q 'log.rotate' '$T/rot2.err'"

# no_live WHAT OUT: the live run ended at once: a skip when capturing is not allowed
# here (no CAP_NET_RAW, no lo), a failure for any other reason
no_live() {
    if grep -qiE 'permission|not permitted|no such device|socket' "$2"; then sk "$1 (no live capture on lo: $(head -1 "$2"))"
    else ko "$1: the engine ended at once: $(head -1 "$2")"; fi
}

# ---- live logs before the stop ---------------------------------------------------
PORT=$((47000 + $$ % 1000))
mkdir "$T/live"
"$ENG" -q -i lo -f "tcp port $PORT" -o "$T/live" >"$T/live.out" 2>&1 &
LPID=$!
sleep 1.5
if ! kill -0 "$LPID" 2>/dev/null; then
    no_live "live logs before the stop" "$T/live.out"
    LPID=
else
    python3 - "$PORT" <<'EOF' 2>>"$T/err"
import socket, sys
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1)
c = socket.create_connection(("127.0.0.1", port)); a, _ = s.accept()
c.sendall(b"GET /logio HTTP/1.0\r\nHost: localhost\r\n\r\n"); a.recv(1000)
a.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"); a.close()
c.recv(1000); c.close(); s.close()
EOF
    seen=0
    for i in 1 2 3 4 5 6; do
        sleep 0.5
        grep -q '"uri":"/logio"' "$T/live/http.log" 2>/dev/null && { seen=1; break; }
    done
    check "live -i lo: http.log holds the request within 3 s, before the stop" [ "$seen" = 1 ]
    check "live -i lo: the engine is still running then" kill -0 "$LPID"
    kill -INT "$LPID"; wait "$LPID"; rc=$?; LPID=
    check "live -i lo: SIGINT ends the run with exit 0" [ "$rc" = 0 ]
    check "live -i lo: conn.log written at the stop" grep -q "\"id.resp_p\":$PORT" "$T/live/conn.log"
fi

# ---- live with -j 2: every connection once, records before the stop ----------------
# Eight connections from 127.0.0.1 to 127.0.0.2..9: eight address pairs, spread over the
# two workers; flows end 1 s after their close, so conn.log fills while the run goes on.
PORT2=$((PORT + 1))
mkdir "$T/livej"
"$ENG" -q -j 2 -i lo -f "tcp port $PORT2" -o "$T/livej" --set flow.tcp_closed_timeout=1 >"$T/livej.out" 2>&1 &
LPID=$!
sleep 1.5
if ! kill -0 "$LPID" 2>/dev/null; then
    no_live "live -j 2" "$T/livej.out"
    LPID=
else
    python3 - "$PORT2" <<'EOF' 2>>"$T/err"
import socket, sys
port = int(sys.argv[1])
for k in range(2, 10):
    host = "127.0.0.%d" % k
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1)
    c = socket.create_connection((host, port)); a, _ = s.accept()
    c.sendall(b"GET /j2-%d HTTP/1.0\r\nHost: localhost\r\n\r\n" % k); a.recv(1000)
    a.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"); a.close()
    c.recv(1000); c.close(); s.close()
EOF
    n=0
    for i in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.5
        n=$(grep -c "\"id.resp_p\":$PORT2" "$T/livej/conn.log" 2>/dev/null)
        [ "${n:-0}" -ge 8 ] && break
    done
    check "live -j 2: conn.log holds the eight connections within 5 s, before the stop (has ${n:-0})" [ "${n:-0}" = 8 ]
    check "live -j 2: the engine is still running then" kill -0 "$LPID"
    kill -INT "$LPID"; wait "$LPID"; rc=$?; LPID=
    check "live -j 2: SIGINT ends the run with exit 0" [ "$rc" = 0 ]
    hosts=$(grep -o '"id.resp_h":"[^"]*"' "$T/livej/conn.log" | sort | uniq -c | awk '$1 == 1' | wc -l)
    nconn=$(grep -c "\"id.resp_p\":$PORT2" "$T/livej/conn.log")
    check "live -j 2: each of the eight connections once in conn.log" [ "$hosts:$nconn" = 8:8 ]
    uris=$(grep -o '"uri":"/j2-[0-9]*"' "$T/livej/http.log" | sort -u | wc -l)
    nuri=$(grep -c '"uri"' "$T/livej/http.log")
    check "live -j 2: each request once in http.log" [ "$uris:$nuri" = 8:8 ]
    uids=$(grep -o '"uid":"[^"]*"' "$T/livej/conn.log" | sort -u | wc -l)
    check "live -j 2: uids unique across the workers" [ "$uids" = 8 ]
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
