#!/bin/sh
# End-to-end: odd but real HTTP logged the way Zeek logs it, on the captures made by
# tests/tools/make-httpodd-pcaps.sh (nginx 1.22, python3's http.server and socket clients and
# servers, curl --range; see that script for what each connection sends).
#
#   sh tests/e2e/test_httpodd.sh [BUILD_DIR]        (default: build)
#
# Checks, per capture (`engine -r CAP -o DIR`, the default scripts' http.log, weird.log,
# files.log; http.log rows in order of ts as "method|uri|version|status_code|
# request_body_len|response_body_len|resp_mime_types"):
#   http-odd-reqline.pcap  `OPTIONS HTTP/1.1` (uri ""), `GET / HTTP/1.1 cruft` (uri "/") and
#       a keep-alive GET then `OPTIONS HTTP/1.1` are logged and paired with nginx's 400s;
#       weird http_bad_request_line for each bad line, no http_unmatched_response; tshark's
#       methods and status codes per connection agree.
#   http-odd-09.pcap       HTTP/0.9 requests (GET and OPTIONS) answered without a status
#       line: status_code 0, version "0.9", response_body_len = the server's TCP payload
#       (tshark tcp.len); weird http_version_0_9 per request.
#   http-odd-bodies.pcap   bodies the client cut off: request_body_len counts the bytes
#       that arrived (6084, tshark: the client's payload after the header block), the 400
#       that came first is logged with it; the truncation weirds say what is missing.
#   http-odd-range.pcap    a 206 from the middle of a file has no resp_mime_types (the
#       fragment is not sniffed; no mime_type in files.log), a 206 from byte 0 does; the
#       response_body_len equal tshark's http.content_length; "<body>Not here</body>" is
#       text/plain (libmagic's verdict), nginx's and python's error pages text/html.
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
. "$top/tests/e2e/harness.sh"
if [ ! -x "$ENGINE" ]; then
    fail setup "$ENGINE is missing (make all)"
    finish
fi
if ! command -v python3 >/dev/null 2>&1; then
    skip httpodd "python3 is not installed"
    finish
fi
have_tshark=1
command -v tshark >/dev/null 2>&1 || have_tshark=0
[ $have_tshark = 1 ] || skip "tshark comparisons" "tshark is not installed"
TS="-o tcp.desegment_tcp_streams:TRUE -o tcp.reassemble_out_of_order:TRUE"

same() { # label want-file got-file
    if cmp -s "$2" "$3"; then
        pass "$1 ($(wc -l <"$2" | tr -d ' ') rows)"
    else
        fail "$1" "want $(tr '\n' '|' <"$2" | cut -c1-400) got $(tr '\n' '|' <"$3" | cut -c1-400)"
    fi
}
want() { # file, lines from stdin
    cat >"$1"
}

# http.log rows, ordered by ts
rows() {
    python3 - "$1/http.log" <<'EOF'
import json, sys
try:
    rs = [json.loads(l) for l in open(sys.argv[1])]
except OSError:
    rs = []
rs.sort(key=lambda r: r["ts"])
def v(x):
    if x is None: return "-"
    if isinstance(x, list): return ",".join(x)
    return str(x)
for r in rs:
    print("|".join(v(r.get(k)) for k in ("method", "uri", "version", "status_code",
          "request_body_len", "response_body_len", "resp_mime_types")))
EOF
}
# weird.log "name|addl" rows, ordered by ts
weirds() {
    python3 - "$1/weird.log" <<'EOF'
import json, sys
try:
    rs = [json.loads(l) for l in open(sys.argv[1])]
except OSError:
    rs = []
rs.sort(key=lambda r: r["ts"])
for r in rs:
    print("%s|%s" % (r.get("name"), r.get("addl", "-")))
EOF
}
# one field of http.log, ordered by ts
field() {
    python3 - "$1/http.log" "$2" <<'EOF'
import json, sys
try:
    rs = [json.loads(l) for l in open(sys.argv[1])]
except OSError:
    rs = []
rs.sort(key=lambda r: r["ts"])
for r in rs:
    print(r.get(sys.argv[2], "-"))
EOF
}
# the TCP payload each side sent per connection, from tshark: "stream client-bytes server-bytes
# client-bytes-after-the-first-header-block" in order of the first packet
tshark_bytes() {
    tshark -r "$1" $TS -T fields -e tcp.stream -e tcp.srcport -e tcp.payload 2>/dev/null |
        python3 -c '
import sys
st = {}
for l in sys.stdin:
    p = l.rstrip("\n").split("\t")
    if len(p) < 3: continue
    s = st.setdefault(int(p[0]), {"c": b"", "s": b"", "cport": p[1]})
    b = bytes.fromhex(p[2].replace(":", ""))
    s["c" if p[1] == s["cport"] else "s"] += b
for k in sorted(st):
    s = st[k]; i = s["c"].find(b"\r\n\r\n")
    print(k, len(s["c"]), len(s["s"]), len(s["c"]) - i - 4 if i >= 0 else -1)
'
}

for c in reqline 09 bodies range; do
    cap="pcaps/http-odd-$c.pcap"
    if [ ! -f "$cap" ]; then
        fail setup "$cap is missing"
        continue
    fi
    mkdir -p "$tmp/$c"
    "$ENGINE" -r "$cap" -o "$tmp/$c" >"$tmp/$c.out" 2>&1 || fail "$c run" "engine exit $? ($(tail -1 "$tmp/$c.out"))"
done

# ---------------------------------------------------------------- malformed request lines
d="$tmp/reqline"
want "$tmp/w" <<'EOF'
OPTIONS||1.1|400|0|157|text/html
GET|/|1.1|400|0|157|text/html
GET|/index.html|1.1|200|0|73|text/html
OPTIONS||1.1|400|0|157|text/html
EOF
rows "$d" >"$tmp/g"
same "http-odd-reqline http.log" "$tmp/w" "$tmp/g"
want "$tmp/w" <<'EOF'
http_bad_request_line|no target: OPTIONS HTTP/1.1
http_bad_request_line|bytes after the version: GET / HTTP/1.1 cruft
http_bad_request_line|no target: OPTIONS HTTP/1.1
EOF
weirds "$d" >"$tmp/g"
same "http-odd-reqline weird.log" "$tmp/w" "$tmp/g"
if [ $have_tshark = 1 ]; then
    # tshark reads the same four requests (method) and four answers (code), in order
    tshark -r pcaps/http-odd-reqline.pcap $TS -Y http -T fields -e http.request.method \
        -e http.response.code 2>/dev/null | tr -d '\t' >"$tmp/w"
    python3 - "$d/http.log" >"$tmp/g" <<'EOF'
import json, sys
rs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["ts"])
for r in rs:
    print(r.get("method", "-")); print(r.get("status_code", "-"))
EOF
    same "http-odd-reqline tshark methods and codes" "$tmp/w" "$tmp/g"
fi

# ---------------------------------------------------------------- HTTP/0.9
d="$tmp/09"
want "$tmp/w" <<'EOF'
GET|/index.html|0.9|0|0|73|text/html
GET|/HTTP/1.1|0.9|0|0|153|text/html
GET|/small.txt|0.9|0|0|16|text/plain
OPTIONS|/|0.9|0|0|369|text/html
EOF
rows "$d" >"$tmp/g"
same "http-odd-09 http.log" "$tmp/w" "$tmp/g"
want "$tmp/w" <<'EOF'
http_version_0_9|request without version
http_version_0_9|request without version
http_version_0_9|request without version
http_version_0_9|request without version
EOF
weirds "$d" >"$tmp/g"
same "http-odd-09 weird.log" "$tmp/w" "$tmp/g"
if [ $have_tshark = 1 ]; then
    # a 0.9 answer is all body: response_body_len = the server's payload
    tshark_bytes pcaps/http-odd-09.pcap | awk '{print $3}' >"$tmp/w"
    field "$d" response_body_len >"$tmp/g"
    same "http-odd-09 response_body_len = tshark server payload" "$tmp/w" "$tmp/g"
fi

# ---------------------------------------------------------------- unterminated bodies
d="$tmp/bodies"
want "$tmp/w" <<'EOF'
POST|/short|1.1|400|6084|12|text/plain
POST|/nolast|1.1|400|6084|12|text/plain
POST|/nocrlf|1.1|400|6084|12|text/plain
GET|/unterminated|1.0|200|0|34|text/plain
EOF
rows "$d" >"$tmp/g"
same "http-odd-bodies http.log" "$tmp/w" "$tmp/g"
want "$tmp/w" <<'EOF'
http_bad_chunk_end|chunk data not followed by CRLF
http_truncated_body|2 of 6086 Content-Length bytes missing
http_truncated_body|the empty line after the last chunk missing
EOF
weirds "$d" >"$tmp/g"
same "http-odd-bodies weird.log" "$tmp/w" "$tmp/g"
if [ $have_tshark = 1 ]; then
    # /short: the bytes after the header block are the body that arrived, and the 400's
    # Content-Length its body: both in the one record
    tshark_bytes pcaps/http-odd-bodies.pcap | awk 'NR == 1 {print $4}' >"$tmp/q"
    tshark -r pcaps/http-odd-bodies.pcap $TS -Y http.response -T fields -e http.content_length \
        2>/dev/null | sed -n 1p | paste -d' ' "$tmp/q" - >"$tmp/w"
    python3 - "$d/http.log" >"$tmp/g" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("uri") == "/short":
        print(r.get("request_body_len"), r.get("response_body_len"))
PY
    same "http-odd-bodies /short request_body_len, response_body_len = tshark payload after the headers, Content-Length" "$tmp/w" "$tmp/g"
fi

# ---------------------------------------------------------------- 206 and short pages
d="$tmp/range"
want "$tmp/w" <<'EOF'
GET|/doc.txt|1.1|206|0|200|-
GET|/doc.txt|1.1|206|0|100|text/plain
GET|/no/such/file.txt|1.1|404|0|153|text/html
GET|/no/such/file.txt|1.1|404|0|335|text/html
GET|/err.html|1.1|200|0|22|text/plain
EOF
rows "$d" >"$tmp/g"
same "http-odd-range http.log" "$tmp/w" "$tmp/g"
python3 - "$d/files.log" >"$tmp/g" <<'EOF'
import json, sys
rs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["ts"])
for r in rs:
    print(r.get("seen_bytes"), r.get("mime_type", "-"))
EOF
want "$tmp/w" <<'EOF'
200 -
100 text/plain
153 text/html
335 text/html
22 text/plain
EOF
same "http-odd-range files.log mime_type" "$tmp/w" "$tmp/g"
printf '%s\n' - text/plain text/html text/html text/plain >"$tmp/mimes"
if [ $have_tshark = 1 ]; then
    # the body lengths are tshark's Content-Length, each with its type (none for the fragment)
    tshark -r pcaps/http-odd-range.pcap $TS -Y http.response -T fields -e http.content_length \
        2>/dev/null | paste -d' ' - "$tmp/mimes" >"$tmp/w"
    python3 - "$d/http.log" >"$tmp/g" <<'PY'
import json, sys
rs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["ts"])
for r in rs:
    print(r.get("response_body_len"), ",".join(r.get("resp_mime_types", ["-"])))
PY
    same "http-odd-range response_body_len = tshark Content-Length, resp_mime_types" "$tmp/w" "$tmp/g"
fi

finish
