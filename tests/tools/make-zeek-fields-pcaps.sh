#!/bin/sh
# Re-create the captures behind tests/e2e/test_zeek_fields.sh (Zeek's smtp.log and
# http.log fields) from real servers and clients on the loopback interface.
#
#   sudo sh tests/tools/make-zeek-fields-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo), python3-aiosmtpd and curl. Not run by the tests: the
# captures are committed; this script documents how they were made.
#  - smtp-python-invalid.pcap: python3-aiosmtpd on 127.0.0.1:2525 (it refuses RCPT
#    nobody@b.test with 550) and python's smtplib sending invalid sequences: RCPT
#    before MAIL, a second MAIL, RSET, a refused recipient, one message with the
#    headers Zeek logs (Reply-To, In-Reply-To, X-Originating-IP, two Received, a
#    webmail X-Mailer, To/Cc lists), then a transaction ended by RSET.
#  - http-basic-info.pcap: python's http.server on 127.0.0.1:8080 answering a POST
#    with "100 Continue" (to curl's Expect) and "102 Processing" before the 200, and
#    curl with -u (Basic auth), Origin and X-Forwarded-For.
set -eu
. "$(dirname "$0")/lo-capture.sh"
PY=/usr/bin/python3

smtp_invalid() {
    $PY -c 'import aiosmtpd' || { echo "needs python3-aiosmtpd"; return 1; }
    cat > "$WORK/smtpd.py" <<'EOF'
import sys, time
from aiosmtpd.controller import Controller
w = sys.argv[1]
class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued as %d" % (len(envelope.content),)
c = Controller(Handler(), hostname="127.0.0.1", port=2525, ident="mx.test ESMTP aiosmtpd")
c.start()
open(w + "/smtpd.ready", "w").close()
try:
    while True: time.sleep(1)
finally:
    c.stop()
EOF
    $PY "$WORK/smtpd.py" "$WORK" & SERVER_PID=$!
    while [ ! -f "$WORK/smtpd.ready" ]; do sleep 0.2; done
    cat > "$WORK/client.py" <<'EOF'
import smtplib
msg = ("Received: from relay.b.test (relay.b.test [192.0.2.7]) by mx.test with ESMTP id 1\r\n"
       "Received: from [10.1.2.3] (client.a.test [198.51.100.20]) by relay.b.test\r\n"
       "From: Alice <alice@a.test>\r\n"
       "To: Bob <bob@b.test>, \"Carol, C.\" <carol@b.test>\r\n"
       "Cc: dave@b.test, Bob <bob@b.test>\r\n"
       "Reply-To: replies@a.test\r\n"
       "Subject: invalid sequences\r\n"
       "Message-ID: <inv-1@a.test>\r\n"
       "In-Reply-To: <orig-1@b.test>\r\n"
       "X-Originating-IP: [203.0.113.9]\r\n"
       "X-Mailer: Roundcube Webmail/1.6.5\r\n"
       "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
       "\r\n"
       "body\r\n")
with smtplib.SMTP("127.0.0.1", 2525, local_hostname="client.test") as c:
    c.ehlo()
    print(c.docmd("RCPT", "TO:<early@b.test>"))       # before any MAIL: 503
    print(c.docmd("MAIL", "FROM:<alice@a.test>"))
    print(c.docmd("RCPT", "TO:<bob@b.test>"))
    print(c.docmd("MAIL", "FROM:<second@a.test>"))    # nested: 503
    print(c.docmd("RSET"))                            # ends it without a message
    print(c.docmd("MAIL", "FROM:<alice@a.test>"))
    print(c.docmd("RCPT", "TO:<carol@b.test>"))
    print(c.docmd("RCPT", "TO:<nobody@b.test>"))      # refused: 550
    print(c.docmd("RCPT", "TO:<dave@b.test>"))
    print(c.docmd("RCPT", "TO:<carol@b.test>"))       # the same recipient again
    print(c.data(msg.encode()))
    print(c.docmd("MAIL", "FROM:<later@a.test>"))
    print(c.docmd("RCPT", "TO:<erin@b.test>"))
    print(c.docmd("RSET"))                            # a transaction without a message
EOF
    capture_start "$OUT/smtp-python-invalid.pcap" "tcp port 2525"
    $PY "$WORK/client.py"
    capture_stop smtp-python-invalid.pcap
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

http_basic_info() {
    cat > "$WORK/httpd.py" <<'EOF'
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.wfile.write(b"HTTP/1.1 102 Processing\r\n\r\n")
        out = b"got %d bytes\n" % len(body)
        self.send_response(200, "OK")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def do_GET(self):
        out = b"hello\n"
        self.send_response(200, "OK")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 8080), H)
open(sys.argv[1] + "/httpd.ready", "w").close()
s.serve_forever()
EOF
    $PY "$WORK/httpd.py" "$WORK" & SERVER_PID=$!
    while [ ! -f "$WORK/httpd.ready" ]; do sleep 0.2; done
    $PY -c 'import sys; sys.stdout.write("field=" + "x" * 2000)' > "$WORK/form.txt"
    capture_start "$OUT/http-basic-info.pcap" "tcp port 8080"
    curl -s -o /dev/null -u alice:s3cret -H "Expect: 100-continue" -H "Origin: http://app.test" \
        --data-binary @"$WORK/form.txt" http://127.0.0.1:8080/submit
    curl -s -o /dev/null -u bob:hunter2 -H "X-Forwarded-For: 192.0.2.44" http://127.0.0.1:8080/page
    capture_stop http-basic-info.pcap
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

smtp_invalid
http_basic_info
