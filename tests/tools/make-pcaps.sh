#!/bin/sh
# Re-create the captures in pcaps/ from real programs talking over the loopback interface.
#
#   sudo sh tests/tools/make-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo), python3 and curl.  Not run by the tests: the captures are
# committed; this script documents how they were made.  Timestamps, ports and ISNs differ
# on every run, so the files are not byte-for-byte reproducible.
set -eu
. "$(dirname "$0")/lo-capture.sh"
# ---------------------------------------------------------------- http-curl.pcap
# An HTTP/1.1 server (python http.server with keep-alive and a POST handler) and curl:
# two GETs on one keep-alive connection, a POST, a 404, and a ~100 KB body.
mkdir -p "$WORK/www"
printf '<html><body><h1>hello</h1></body></html>\n' > "$WORK/www/index.html"
printf 'small text file\n' > "$WORK/www/small.txt"
python3 -c '
import random
r = random.Random(7)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
lines = []
n = 0
while n < 100000:
    l = " ".join(r.choice(words) for _ in range(10)) + "\n"
    lines.append(l); n += len(l)
open("big.txt", "w").write("".join(lines))
' && mv big.txt "$WORK/www/big.txt"
cat > "$WORK/httpd.py" <<'EOF'
import http.server, sys, os
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        out = b"received %d bytes\n" % len(body)
        self.send_response(201)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
os.chdir(sys.argv[1])
http.server.ThreadingHTTPServer(("127.0.0.1", 8080), H).serve_forever()
EOF
python3 "$WORK/httpd.py" "$WORK/www" & SERVER_PID=$!
sleep 1
capture_start "$OUT/http-curl.pcap" "tcp port 8080"
curl -s -o /dev/null -o /dev/null -A "curl-test" http://127.0.0.1:8080/index.html http://127.0.0.1:8080/small.txt
curl -s -o /dev/null -X POST -H "Content-Type: application/x-www-form-urlencoded" \
     -d "user=alice&comment=hello+world" http://127.0.0.1:8080/submit
curl -s -o /dev/null http://127.0.0.1:8080/no/such/page
curl -s -o /dev/null http://127.0.0.1:8080/big.txt
capture_stop http-curl.pcap
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

# ---------------------------------------------------------------- tcp-misc.pcap
# Short TCP connections from python sockets, ports 9100-9105:
#  9100 refused (nothing listens: SYN, RST-ACK -> REJ)
#  9101 data both ways, then the client aborts with RST (SO_LINGER 0)
#  9102 data both ways, normal FIN close by both
#  9103 half-closed: the client shuts down its write side first, the server keeps sending
#  9104 IPv6 [::1] connection with data both ways, FIN close
#  9105 left open: handshake and data, no FIN before the capture stops
cat > "$WORK/tcpmisc.py" <<'EOF'
import socket, struct, threading, time, sys
phase = sys.argv[1]
def listener(fam, addr, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(4); return s
def serve(s, fn):
    def run():
        c, _ = s.accept(); fn(c)
    t = threading.Thread(target=run); t.start(); return t
def recv_all(c):
    out = b""
    while True:
        d = c.recv(65536)
        if not d: return out
        out += d
if phase == "run":
    # refused
    c = socket.socket(); 
    try: c.connect(("127.0.0.1", 9100))
    except ConnectionRefusedError: pass
    c.close()
    time.sleep(0.1)
    # reset by the client
    s = listener(socket.AF_INET, "127.0.0.1", 9101)
    def srv1(c):
        c.recv(100); c.sendall(b"hello from server 9101\n")
        try: c.recv(100)
        except ConnectionResetError: pass
        c.close()
    t = serve(s, srv1)
    c = socket.create_connection(("127.0.0.1", 9101))
    c.sendall(b"ping 9101\n"); c.recv(100)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close(); t.join(); s.close()
    time.sleep(0.1)
    # data both ways, FIN close
    s = listener(socket.AF_INET, "127.0.0.1", 9102)
    def srv2(c):
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d.upper())
        c.close()
    t = serve(s, srv2)
    c = socket.create_connection(("127.0.0.1", 9102))
    for i in range(5):
        c.sendall(b"line %d: the quick brown fox jumps over the lazy dog\n" % i); c.recv(4096)
    c.shutdown(socket.SHUT_WR); recv_all(c); c.close(); t.join(); s.close()
    time.sleep(0.1)
    # half-closed: client FIN first, server keeps talking
    s = listener(socket.AF_INET, "127.0.0.1", 9103)
    def srv3(c):
        req = recv_all(c)
        for i in range(3):
            c.sendall(b"reply part %d to %d request bytes\n" % (i, len(req))); time.sleep(0.05)
        c.close()
    t = serve(s, srv3)
    c = socket.create_connection(("127.0.0.1", 9103))
    c.sendall(b"request then half-close\n"); c.shutdown(socket.SHUT_WR)
    recv_all(c); c.close(); t.join(); s.close()
    time.sleep(0.1)
    # IPv6
    s = listener(socket.AF_INET6, "::1", 9104)
    t = serve(s, srv2)
    c = socket.create_connection(("::1", 9104))
    c.sendall(b"ipv6 loopback data\n"); c.recv(4096)
    c.sendall(b"x" * 3000); time.sleep(0.05)
    c.shutdown(socket.SHUT_WR); recv_all(c); c.close(); t.join(); s.close()
    time.sleep(0.1)
    # left open: the sockets are closed only after the capture stops (phase "close")
    s = listener(socket.AF_INET, "127.0.0.1", 9105)
    def srv5(c):
        c.recv(100); c.sendall(b"still open\n"); time.sleep(4); c.close()
    t = serve(s, srv5)
    c = socket.create_connection(("127.0.0.1", 9105))
    c.sendall(b"open connection\n"); c.recv(100)
    open("/dev/stdout", "w").write("ready\n")
    time.sleep(4); c.close(); t.join()
EOF
capture_start "$OUT/tcp-misc.pcap" "tcp portrange 9100-9105"
python3 "$WORK/tcpmisc.py" run > "$WORK/tcpmisc.out" &
PY_PID=$!
while ! grep -q ready "$WORK/tcpmisc.out" 2>/dev/null; do sleep 0.2; done
sleep 0.5
capture_stop tcp-misc.pcap
wait "$PY_PID"

# ---------------------------------------------------------------- udp-dns-like.pcap
# A tiny DNS responder on 127.0.0.1:53 and [::1]:53 (A and AAAA answers, NXDOMAIN for
# unknown names), queried by a python client; plus a few plain UDP echo datagrams on
# port 9200 (v4) and 9201 (v6) to show non-DNS payloads both ways.
cat > "$WORK/udp.py" <<'EOF'
import socket, struct, threading, time
def qname(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
def query(tid, name, qtype):
    return struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0) + qname(name) + struct.pack(">HH", qtype, 1)
def parse_q(d):
    i = 12; labels = []
    while i < len(d) and d[i]:
        labels.append(d[i+1:i+1+d[i]].decode()); i += 1 + d[i]
    qtype = struct.unpack(">H", d[i+1:i+3])[0]
    return ".".join(labels), qtype, d[12:i+5]
def answer(d):
    tid = struct.unpack(">H", d[:2])[0]
    name, qtype, q = parse_q(d)
    if name == "www.example.com" and qtype == 1:
        rr = [b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + bytes([93, 184, 216, 34])]
        rc = 0
    elif name == "www.example.com" and qtype == 28:
        rr = [b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 300, 16) +
              socket.inet_pton(socket.AF_INET6, "2606:2800:220:1:248:1893:25c8:1946")]
        rc = 0
    elif name == "mail.example.org" and qtype == 1:
        rr = [b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, n]) for n in (10, 11)]
        rc = 0
    else:
        rr = []; rc = 3
    return struct.pack(">HHHHHH", tid, 0x8180 | rc, 1, len(rr), 0, 0) + q + b"".join(rr)
servers = []
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((addr, 53)); servers.append(s)
    e = socket.socket(fam, socket.SOCK_DGRAM); e.bind((addr, 9200 if fam == socket.AF_INET else 9201)); servers.append(e)
def loop(s, fn):
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(fn(d), a)
ts = [threading.Thread(target=loop, daemon=True,
                       args=(s, answer if s.getsockname()[1] == 53 else (lambda d: b"echo: " + d)))
      for s in servers]
for t in ts: t.start()
tid = 0x1000
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    c = socket.socket(fam, socket.SOCK_DGRAM)
    for name, qt in (("www.example.com", 1), ("www.example.com", 28), ("mail.example.org", 1), ("nothing.invalid", 1)):
        tid += 1; c.sendto(query(tid, name, qt), (addr, 53)); c.recvfrom(2048)
    port = 9200 if fam == socket.AF_INET else 9201
    for i in range(3):
        c.sendto(b"datagram %d over %s\n" % (i, addr.encode()), (addr, port)); c.recvfrom(2048)
    c.close()
EOF
capture_start "$OUT/udp-dns-like.pcap" "udp port 53 or udp portrange 9200-9201"
python3 "$WORK/udp.py"
capture_stop udp-dns-like.pcap

# ---------------------------------------------------------------- smtp-python.pcap
# python smtplib (EHLO, AUTH PLAIN, MAIL, RCPT x2, DATA with a MIME message, QUIT) against
# a minimal line-based SMTP server on 127.0.0.1:2525.
cat > "$WORK/smtp.py" <<'EOF'
import socket, smtplib, threading
from email.message import EmailMessage
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2525)); s.listen(1)
def server():
    c, _ = s.accept(); f = c.makefile("rb")
    c.sendall(b"220 mail.test ESMTP ready\r\n")
    indata = False
    for line in f:
        if indata:
            if line == b".\r\n":
                indata = False; c.sendall(b"250 2.0.0 Ok: queued as 4F2A1\r\n")
            continue
        verb = line.split(b" ")[0].strip().upper()
        if verb == b"EHLO":
            c.sendall(b"250-mail.test\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
        elif verb == b"AUTH": c.sendall(b"235 2.7.0 Authentication successful\r\n")
        elif verb in (b"MAIL", b"RCPT"): c.sendall(b"250 2.1.0 Ok\r\n")
        elif verb == b"DATA": indata = True; c.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT": c.sendall(b"221 2.0.0 Bye\r\n"); break
        else: c.sendall(b"502 5.5.2 Error: command not recognized\r\n")
    c.close()
t = threading.Thread(target=server); t.start()
m = EmailMessage()
m["From"] = "Alice <alice@example.com>"
m["To"] = "bob@example.org, carol@example.org"
m["Subject"] = "Quarterly report"
m["Message-ID"] = "<report-1@example.com>"
m["Date"] = "Mon, 01 Jan 2024 10:00:00 +0000"
m.set_content("Hello Bob,\n\nthe report is attached.\n\nAlice\n")
m.add_attachment(b"col1,col2\n1,2\n3,4\n", maintype="text", subtype="csv", filename="report.csv")
with smtplib.SMTP("127.0.0.1", 2525, local_hostname="client.example.com") as c:
    c.login("alice", "s3cret")
    c.send_message(m)
t.join(); s.close()
EOF
capture_start "$OUT/smtp-python.pcap" "tcp port 2525"
python3 "$WORK/smtp.py"
capture_stop smtp-python.pcap

ls -l "$OUT"/*.pcap

# ---------------------------------------------------------------- http-nginx.pcap
# nginx (private config, 127.0.0.1:8081, gzip on for text/plain and application/json, so
# bodies are gzip-encoded and chunked) and curl --compressed: a ~20 KB text file, HEAD, a
# 304 (If-Modified-Since equal to the file's mtime), a 404, two GETs on one keep-alive
# connection, a POST of 1500 bytes with "Expect: 100-continue" (proxied to a second server
# block on 8082, not captured, so that nginx reads the body and answers 100 first), and a
# request with a User-Agent and a Referer.  The served files are generated from a fixed
# seed, so their digests are stable (tests/e2e/test_http_tshark.sh checks them):
#   doc.txt (20020 bytes)        05da86e4d7227137851c0a81080231634302db076b08ce27ca064531f2d76a9e
#   api/items.json (2355 bytes)  e2b6b876f3b6aa75e0e8be99f715d0d73a533e297f99f7f5beefad4cc8a9624a
#   notes.txt (1497 bytes)       3ae6870a051690697137e8cdf78c2efad67173ad092e489509b919dd0cb3743b
#   index.html (178 bytes)       7da963c826e69d176121924dec4d50b6b4651aab01dfe10c396be59b1b7d7def
#   upload.bin (1500 bytes, the POST body)
#                                14afbec9e245cc6ac90da9062e30e5dca8c4e6b60042ce986029a175039daa3b
# Needs nginx (apt-get install nginx-light); run as root, nginx stays in the foreground
# (master_process off) with all its paths under $WORK.
NGX="$WORK/nginx"
mkdir -p "$NGX/www/api" "$NGX/tmp"
python3 - "$NGX/www" <<'EOF'
import random, sys, json
d = sys.argv[1]
r = random.Random(8081)
words = ["nginx", "gzip", "chunk", "header", "keep-alive", "status", "body", "reply",
         "request", "loopback", "curl", "engine"]
out, n = [], 0
while n < 20000:
    l = "%05d " % len(out) + " ".join(r.choice(words) for _ in range(9)) + "\n"
    out.append(l); n += len(l)
open(d + "/doc.txt", "w").write("".join(out))
items = [{"id": i, "name": r.choice(words), "score": r.randint(0, 1000)} for i in range(40)]
open(d + "/api/items.json", "w").write(json.dumps({"items": items}, indent=1) + "\n")
open(d + "/notes.txt", "w").write("".join("note %d: %s\n" % (i, " ".join(r.choice(words) for _ in range(6)))
                                         for i in range(30)))
open(d + "/index.html", "w").write("<html><head><title>nginx test</title></head><body>"
                                   "<h1>hello from nginx</h1><p>" + " ".join(words) + "</p></body></html>\n")
open(d + "/upload.bin", "wb").write(bytes(r.randrange(256) for _ in range(1500)))
EOF
mv "$NGX/www/upload.bin" "$NGX/upload.bin"
touch -d "2024-01-01 00:00:00 UTC" "$NGX/www/doc.txt" "$NGX/www/notes.txt" \
    "$NGX/www/api/items.json" "$NGX/www/index.html"
cat > "$NGX/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log;
events { worker_connections 64; }
http {
    types { text/html html; text/plain txt; application/json json; }
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    keepalive_timeout 10;
    gzip on;
    gzip_types text/plain application/json;
    gzip_min_length 1;
    server {
        listen 127.0.0.1:8081;
        server_name localhost;
        root $NGX/www;
        location = /upload { proxy_pass http://127.0.0.1:8082/stored; }
    }
    server {
        listen 127.0.0.1:8082;
        location / { default_type text/plain; return 201 "stored\n"; }
    }
}
EOF
nginx -c "$NGX/nginx.conf" -p "$NGX" & SERVER_PID=$!
sleep 1
capture_start "$OUT/http-nginx.pcap" "tcp port 8081"
U=http://127.0.0.1:8081
curl -s --compressed -o /dev/null "$U/doc.txt"
curl -s --compressed -o /dev/null -I "$U/doc.txt"
curl -s --compressed -o /dev/null -H "If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT" "$U/doc.txt"
curl -s --compressed -o /dev/null "$U/no/such/file.txt"
curl -s --compressed -o /dev/null -o /dev/null "$U/api/items.json" "$U/notes.txt"
curl -s --compressed -o /dev/null -H "Expect: 100-continue" -H "Content-Type: application/octet-stream" \
     --data-binary @"$NGX/upload.bin" "$U/upload"
curl -s --compressed -o /dev/null -A "Mozilla/5.0 (X11; Linux x86_64) capture-test/1.0" \
     -e "$U/index.html" "$U/index.html"
capture_stop http-nginx.pcap
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
(cd "$NGX/www" && sha256sum doc.txt api/items.json notes.txt index.html)
ls -l "$OUT/http-nginx.pcap"
