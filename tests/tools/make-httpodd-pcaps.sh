#!/bin/sh
# Re-create the odd-HTTP captures in pcaps/ (issue 14 items 1, 2, 3 and 8): real servers on
# the loopback interface and a python socket client typing the odd requests, curl --range for
# the partial content.
#
#   sudo sh tests/tools/make-httpodd-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo), python3, curl and nginx (apt-get install nginx-light; it runs in
# the foreground with every path under the work folder). Not run by the tests: the captures
# are committed (tests/e2e/test_httpodd.sh reads them). Ports, ISNs and timestamps differ on
# every run.
#   http-odd-reqline.pcap  nginx 1.22 on 127.0.0.1:8080: `OPTIONS HTTP/1.1` (no target),
#       `GET / HTTP/1.1 cruft` (bytes after the version), and a keep-alive connection with
#       `GET /index.html HTTP/1.1` then `OPTIONS HTTP/1.1`; nginx answers each bad line 400.
#   http-odd-09.pcap       HTTP/0.9: nginx answers `GET /index.html` and `GET /HTTP/1.1` (no
#       space before the version: a 0.9 request for /HTTP/1.1, a 404 page) with the body
#       only; python3 -m http.server on 127.0.0.1:8000 answers `GET /small.txt` likewise
#       and `OPTIONS /` with its 400 page, also without a status line.
#   http-odd-bodies.pcap   bodies not terminated, to a python socket server on 127.0.0.1:8000
#       that reads until the client shuts its side, then answers: a POST with
#       Content-Length 6086 and 6084 bytes sent; a chunked POST of 6084 bytes whose last
#       chunk `0` has no CRLF nor empty line after it; a chunked POST whose data chunk
#       lacks its CRLF before `0`; and a response without Content-Length whose last line
#       has no line ending (ended by close).
#   http-odd-range.pcap    nginx: curl --range 100-299 (206 from the middle of a text file),
#       --range 0-99 (206 from offset 0), a 404 for a missing file, and a python3
#       http.server 404 (a short HTML error page); and a short `<body>` error page served
#       as a file (libmagic: text/plain).
set -eu
. "$(dirname "$0")/lo-capture.sh"

NGX="$WORK/nginx"
mkdir -p "$NGX/www" "$NGX/tmp"
python3 - "$NGX/www" <<'EOF'
import random, sys
d = sys.argv[1]
r = random.Random(14)
words = ["odd", "request", "line", "range", "partial", "content", "zeek", "engine"]
open(d + "/doc.txt", "w").write("".join("%04d %s\n" % (i, " ".join(r.choice(words) for _ in range(8)))
                                        for i in range(60)))
open(d + "/index.html", "w").write("<html><head><title>odd</title></head><body><p>odd http</p></body></html>\n")
open(d + "/small.txt", "w").write("small text file\n")
open(d + "/err.html", "w").write("<body>Not here</body>\n")
EOF
cat > "$NGX/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log;
events { worker_connections 64; }
http {
    types { text/html html; text/plain txt; }
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    keepalive_timeout 10;
    server {
        listen 127.0.0.1:8080;
        server_name localhost;
        root $NGX/www;
    }
}
EOF

# the client: one connection per argument group, bytes typed as given, then read to close
cat > "$WORK/client.py" <<'EOF'
import socket, sys, time
def conn(port, *parts, shut=False, wait=0.3):
    s = socket.create_connection(("127.0.0.1", port))
    for p in parts:
        s.sendall(p)
        time.sleep(wait)
    if shut:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(3)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        pass
    s.close()
    time.sleep(0.2)
which = sys.argv[1]
H = b"Host: odd.test\r\nUser-Agent: odd-client/1.0\r\n\r\n"
if which == "reqline":
    conn(8080, b"OPTIONS HTTP/1.1\r\n" + H)
    conn(8080, b"GET / HTTP/1.1 cruft\r\n" + H)
    conn(8080, b"GET /index.html HTTP/1.1\r\n" + H, b"OPTIONS HTTP/1.1\r\n" + H)
elif which == "09-nginx":
    conn(8080, b"GET /index.html\r\n")
    conn(8080, b"GET /HTTP/1.1\r\n")
elif which == "09-python":
    conn(8000, b"GET /small.txt\r\n")
    conn(8000, b"OPTIONS /\r\n")
elif which == "bodies":
    body = bytes((65 + i % 26) for i in range(6084))
    conn(8000, b"POST /short HTTP/1.1\r\nHost: odd.test\r\nContent-Length: 6086\r\n\r\n" + body, shut=True)
    conn(8000, b"POST /nolast HTTP/1.1\r\nHost: odd.test\r\nTransfer-Encoding: chunked\r\n\r\n"
         + b"%x\r\n" % len(body) + body + b"\r\n0", shut=True)
    conn(8000, b"POST /nocrlf HTTP/1.1\r\nHost: odd.test\r\nTransfer-Encoding: chunked\r\n\r\n"
         + b"%x\r\n" % len(body) + body + b"0\r\n\r\n", shut=True)
    conn(8000, b"GET /unterminated HTTP/1.0\r\nHost: odd.test\r\n\r\n", shut=True)
EOF
# the bodies server: reads a request until the client shuts its side, then answers
cat > "$WORK/server.py" <<'EOF'
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8000)); s.listen(4)
while True:
    c, _ = s.accept()
    data = b""
    while True:
        d = c.recv(65536)
        if not d: break
        data += d
    if data.startswith(b"GET /unterminated"):
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two, no line ending")
    else:
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\nConnection: close\r\n\r\nincomplete\r\n")
    c.close()
EOF

nginx -c "$NGX/nginx.conf" -p "$NGX" & SERVER_PID=$!
sleep 1
capture_start "$OUT/http-odd-reqline.pcap" "tcp port 8080"
python3 "$WORK/client.py" reqline
capture_stop http-odd-reqline.pcap

# HTTP/0.9: nginx, then python's http.server
PY_PID=
cleanup_extra() { [ -n "$PY_PID" ] && kill "$PY_PID" 2>/dev/null || true; }
(cd "$NGX/www" && exec python3 -m http.server --bind 127.0.0.1 8000) >/dev/null 2>&1 & PY_PID=$!
sleep 1
capture_start "$OUT/http-odd-09.pcap" "tcp port 8080 or tcp port 8000"
python3 "$WORK/client.py" 09-nginx
python3 "$WORK/client.py" 09-python
capture_stop http-odd-09.pcap

# partial content and short error pages
capture_start "$OUT/http-odd-range.pcap" "tcp port 8080 or tcp port 8000"
curl -s -o /dev/null -A odd-range --range 100-299 http://127.0.0.1:8080/doc.txt
curl -s -o /dev/null -A odd-range --range 0-99 http://127.0.0.1:8080/doc.txt
curl -s -o /dev/null -A odd-range http://127.0.0.1:8080/no/such/file.txt
curl -s -o /dev/null -A odd-range http://127.0.0.1:8000/no/such/file.txt
curl -s -o /dev/null -A odd-range http://127.0.0.1:8080/err.html
capture_stop http-odd-range.pcap
kill "$PY_PID"; wait "$PY_PID" 2>/dev/null || true; PY_PID=

python3 "$WORK/server.py" & PY_PID=$!
sleep 1
capture_start "$OUT/http-odd-bodies.pcap" "tcp port 8000"
python3 "$WORK/client.py" bodies
capture_stop http-odd-bodies.pcap
