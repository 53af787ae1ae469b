#!/bin/sh
# Re-create the mail captures in pcaps/ (SMTP, POP3, IMAP) from real servers and clients
# talking over the loopback interface.
#
#   sudo sh tests/tools/make-mail-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo) and the packages each section names. Not run by the tests: the
# captures are committed; this script documents how they were made. Timestamps, ports and
# ISNs differ on every run, so the files are not byte-for-byte reproducible. Each protocol
# has its own section below (a shell function, called at its end).
set -eu
. "$(dirname "$0")/lo-capture.sh"
# ================================================================ SMTP (decoders/smtp.c)
# A real SMTP server (python3-aiosmtpd, with AUTH PLAIN/LOGIN for alice/s3cret, PIPELINING
# advertised, STARTTLS with a throw-away self-signed certificate) on 127.0.0.1:2525, and two
# real clients: swaks and python's smtplib. Attachments are generated deterministically;
# their sha256 are checked by tests/e2e/test_smtp_tshark.sh.
smtp_pcaps() {
    PY=/usr/bin/python3   # Debian's python, where python3-aiosmtpd is installed
    command -v swaks >/dev/null && $PY -c 'import aiosmtpd' || {
        echo "smtp: needs swaks and python3-aiosmtpd (apt-get install swaks python3-aiosmtpd)"; return 1; }
    $PY - "$WORK" <<'EOF'
import random, sys
w = sys.argv[1]
r = random.Random(25)
open(w + "/attach.bin", "wb").write(bytes(r.randrange(256) for _ in range(3000)))
lines = ["caf\u00e9 line %02d: %s = done\n" % (i, " ".join(r.choice(["alpha", "beta", "gamma=", "delta"]) for _ in range(6))) for i in range(30)]
open(w + "/attach.txt", "w", encoding="utf-8").write("".join(lines) + "trailing space \n")
EOF
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
        -days 2 -subj /CN=mx.test >/dev/null 2>&1
    cat > "$WORK/smtpd.py" <<'EOF'
import asyncio, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
w = sys.argv[1]
class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", responses[-1]]
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued as %d" % (len(envelope.content),)
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"alice" and data.password == b"s3cret"
    return AuthResult(success=ok)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(w + "/cert.pem", w + "/key.pem")
c = Controller(Handler(), hostname="127.0.0.1", port=2525, authenticator=auth,
               auth_require_tls=False, tls_context=ctx, ident="mx.test ESMTP aiosmtpd")
c.start()
open(w + "/smtpd.ready", "w").close()
try:
    while True: time.sleep(1)
finally:
    c.stop()
EOF
    $PY "$WORK/smtpd.py" "$WORK" & SERVER_PID=$!
    while [ ! -f "$WORK/smtpd.ready" ]; do sleep 0.2; done
    S="--server 127.0.0.1 --port 2525 --helo client.test --from alice@a.test --to bob@b.test"

    # plain message, no AUTH; the body has lines that start with "." (dot-stuffed on the wire)
    printf 'Hello Bob,\n.hidden line starting with a dot\n..two dots\n.\nbye\n' > "$WORK/body.txt"
    capture_start "$OUT/smtp-swaks-plain.pcap" "tcp port 2525"
    swaks $S --header "Subject: plain test" --header "X-Mailer: swaks-test" \
        --body "@$WORK/body.txt" >/dev/null
    capture_stop smtp-swaks-plain.pcap

    # AUTH PLAIN (initial response) and a binary attachment (base64)
    capture_start "$OUT/smtp-swaks-attach.pcap" "tcp port 2525"
    swaks $S --auth PLAIN --auth-user alice --auth-password s3cret \
        --header "Subject: with attachment" --attach-type application/octet-stream \
        --attach "@$WORK/attach.bin" >/dev/null
    capture_stop smtp-swaks-attach.pcap

    # AUTH LOGIN (challenges), PIPELINING (MAIL, RCPT, RCPT, DATA in one segment)
    capture_start "$OUT/smtp-swaks-login-pipe.pcap" "tcp port 2525"
    swaks $S --to bob@b.test,carol@c.test --auth LOGIN --auth-user alice --auth-password s3cret \
        --pipeline --header "Subject: pipelined" >/dev/null
    capture_stop smtp-swaks-login-pipe.pcap

    # STARTTLS: decoding stops at the 220, the flow goes on
    capture_start "$OUT/smtp-swaks-starttls.pcap" "tcp port 2525"
    swaks $S --tls --header "Subject: secret" >/dev/null
    capture_stop smtp-swaks-starttls.pcap

    # python smtplib: AUTH LOGIN, two messages on one connection (RSET between), the second
    # with a quoted-printable text attachment
    cat > "$WORK/two.py" <<'EOF'
import smtplib, sys
from email.message import EmailMessage
from email import charset
w = sys.argv[1]
m1 = EmailMessage()
m1["From"] = "Alice <alice@a.test>"; m1["To"] = "bob@b.test"; m1["Subject"] = "first of two"
m1["Message-ID"] = "<one@a.test>"; m1["User-Agent"] = "smtplib-test"
m1.set_content("first message\n.starts with a dot\n")
m2 = EmailMessage()
m2["From"] = "Alice <alice@a.test>"; m2["To"] = "carol@c.test"; m2["Cc"] = "dave@d.test"
m2["Subject"] = "=?utf-8?q?second_=E2=9C=93?="; m2["Message-ID"] = "<two@a.test>"
m2.set_content("second message, with a quoted-printable attachment\n")
data = open(w + "/attach.txt", "rb").read()
m2.add_attachment(data, maintype="text", subtype="plain", filename="attach.txt", cte="quoted-printable")
with smtplib.SMTP("127.0.0.1", 2525, local_hostname="client.test") as c:
    c.ehlo()
    c.user, c.password = "alice", "s3cret"
    c.auth("LOGIN", c.auth_login, initial_response_ok=False)
    c.send_message(m1)
    c.rset()
    c.send_message(m2, to_addrs=["carol@c.test", "dave@d.test"])
EOF
    capture_start "$OUT/smtp-python-two.pcap" "tcp port 2525"
    $PY "$WORK/two.py" "$WORK"
    capture_stop smtp-python-two.pcap

    echo "smtp attachments: $(sha256sum "$WORK/attach.bin" "$WORK/attach.txt" | awk '{print $1}' | tr '\n' ' ')"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
smtp_pcaps

# ================================================================ POP3, IMAP (decoders/pop3.c, imap.c)
# A real server: dovecot (apt-get install dovecot-imapd dovecot-pop3d) with its own
# configuration under $WORK: 127.0.0.1 ports 110 and 143, ssl = no,
# disable_plaintext_auth = no, mechanisms PLAIN LOGIN CRAM-MD5 APOP, a passwd-file user
# bob / s3cret, maildir with two messages written by hand (python's email package): 1
# "Quarterly report" with a base64 attachment report.bin (1200 bytes, sha256
# 7e161853efd32eae1c2817bf70571975348aeae9a7826fa344b22d92e911d5ca) and a line starting
# with a dot; 2 "Notes café" (RFC 2047 subject) with a quoted-printable attachment
# notes.txt (263 bytes, sha256 57761a6232693d13a1ec39b74c1e57ad8b80be886ff317462cc2080138535a6a).
# Clients: curl (pop3:// RETR, imap:// FETCH BODY[], both authenticating with CRAM-MD5),
# python poplib and imaplib-free raw sockets (see the client scripts below).
# Checked by tests/e2e/test_pop3_imap_tshark.sh.
pop3_imap_pcaps() {
    command -v dovecot >/dev/null || {
        echo "pop3/imap: needs dovecot (apt-get install dovecot-imapd dovecot-pop3d)"; return 1; }
    D="$WORK/dovecot"
    mkdir -p "$D/run" "$D/state" "$D/att" "$D/mail/bob/Maildir/cur" "$D/mail/bob/Maildir/new" \
        "$D/mail/bob/Maildir/tmp"
    cat >"$D/dovecot.conf" <<EOF
protocols = imap pop3
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
instance_name = mailtest
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop
mail_location = maildir:$D/mail/%u/Maildir
default_internal_user = dovecot
default_login_user = dovenull
log_path = $D/dovecot.log
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$D/mail/%u
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
    echo 'bob:{PLAIN}s3cret::::::' >"$D/passwd"
    python3 - "$D/att" "$D/mail/bob/Maildir/cur" <<'EOF'
import sys, os
from email.message import EmailMessage
d, out = sys.argv[1], sys.argv[2]
att1 = bytes((i * 7 + 3) % 256 for i in range(1200))
att2 = ("Caf\u00e9 cr\u00e8me = 100% na\u00efve r\u00e9sum\u00e9, a long line; " * 5 + "tab\there, end").encode("utf-8")
open(os.path.join(d, "report.bin"), "wb").write(att1)
open(os.path.join(d, "notes.txt"), "wb").write(att2)
m1 = EmailMessage()
m1["From"] = "Alice <alice@example.org>"; m1["To"] = "bob@example.org"
m1["Subject"] = "Quarterly report"; m1["Date"] = "Mon, 01 Jan 2024 10:00:00 +0000"
m1["Message-ID"] = "<m1@example.org>"
m1.set_content("Hello Bob,\n.a line starting with a dot\n\nsee attached.\n")
m1.add_attachment(att1, maintype="application", subtype="octet-stream", filename="report.bin")
m2 = EmailMessage()
m2["From"] = "Carol <carol@example.org>"; m2["To"] = "bob@example.org"
m2["Subject"] = "=?utf-8?q?Notes_caf=C3=A9?="; m2["Date"] = "Tue, 02 Jan 2024 11:00:00 +0000"
m2["Message-ID"] = "<m2@example.org>"
m2.set_content("Notes attached.\n")
m2.add_attachment(att2, maintype="text", subtype="plain", filename="notes.txt", cte="quoted-printable")
for i, m in enumerate((m1, m2), 1):
    open(os.path.join(out, "%d.1700000000.host:2,S" % i), "wb").write(m.as_bytes())
EOF
    chmod 755 "$WORK"   # dovecot's users must reach the maildir
    chmod -R a+rX "$D"
    chown -R dovecot:dovecot "$D/mail"
    # POP3: curl (CRAM-MD5, RETR 1); poplib USER/PASS, STAT, LIST, UIDL, UIDL 2, TOP 1 0,
    # RETR 2; APOP; raw CAPA + AUTH PLAIN with an initial response + LIST 1; a wrong PASS
    cat >"$D/pop3client.py" <<'EOF'
import poplib, sys, base64, socket
h, port = sys.argv[1], int(sys.argv[2])
p = poplib.POP3(h, port)
p.user("bob"); p.pass_("s3cret")
p.stat(); p.list(); p.uidl(); p.uidl(2); p.top(1, 0); p.retr(2)
p.quit()
p = poplib.POP3(h, port)
p.apop("bob", "s3cret")
p.quit()
s = socket.create_connection((h, port)); f = s.makefile("rb")
f.readline()
s.sendall(b"CAPA\r\n")
while f.readline().strip() != b".": pass
s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0bob\0s3cret") + b"\r\n"); f.readline()
s.sendall(b"LIST 1\r\n"); f.readline()
s.sendall(b"QUIT\r\n"); f.readline()
s.close()
p = poplib.POP3(h, port)
p.user("bob")
try: p.pass_("wrong")
except poplib.error_proto: pass
p.quit()
EOF
    # IMAP: curl (CRAM-MD5, FETCH 1 BODY[]); raw sockets: LOGIN with synchronising
    # literals, SELECT, FETCH 2 RFC822, IDLE/DONE; a quoted LOGIN refused, AUTHENTICATE
    # PLAIN after "+", UID FETCH of a header field; AUTHENTICATE PLAIN with SASL-IR;
    # LOGIN with LITERAL+ literals, STATUS
    cat >"$D/imapclient.py" <<'EOF'
import socket, sys, base64, time
h, port = sys.argv[1], int(sys.argv[2])
def session(steps):
    s = socket.create_connection((h, port)); f = s.makefile("rb")
    f.readline()
    for tag, parts in steps:
        for p in parts:
            s.sendall(p)
            if (p.endswith(b"}\r\n") and not p.endswith(b"+}\r\n")) or p.endswith(b"AUTHENTICATE PLAIN\r\n"):
                f.readline()
            elif p.endswith(b"IDLE\r\n"):
                f.readline(); time.sleep(0.2)
        while True:
            l = f.readline()
            if not l or l.split(b" ", 1)[0] == tag: break
            if l.rstrip().endswith(b"}"):
                f.read(int(l.rstrip()[l.rstrip().rindex(b"{") + 1:-1].rstrip(b"+")))
    s.close()
session([(b"a1", [b"a1 CAPABILITY\r\n"]),
         (b"a2", [b"a2 LOGIN {3}\r\n", b"bob {6}\r\n", b"s3cret\r\n"]),
         (b"a3", [b"a3 SELECT INBOX\r\n"]),
         (b"a4", [b"a4 FETCH 2 RFC822\r\n"]),
         (b"a5", [b"a5 IDLE\r\n", b"DONE\r\n"]),
         (b"a6", [b"a6 LOGOUT\r\n"])])
session([(b"b1", [b'b1 LOGIN "bob" "wr\\"ong"\r\n']),
         (b"b2", [b"b2 AUTHENTICATE PLAIN\r\n", base64.b64encode(b"\0bob\0s3cret") + b"\r\n"]),
         (b"b3", [b"b3 EXAMINE INBOX\r\n"]),
         (b"b4", [b"b4 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n"]),
         (b"b5", [b"b5 LOGOUT\r\n"])])
session([(b"c1", [b"c1 AUTHENTICATE PLAIN " + base64.b64encode(b"\0bob\0s3cret") + b"\r\n"]),
         (b"c2", [b"c2 LOGOUT\r\n"])])
session([(b"d1", [b"d1 LOGIN {3+}\r\nbob {6+}\r\ns3cret\r\n"]),
         (b"d2", [b"d2 STATUS INBOX (MESSAGES)\r\n"]),
         (b"d3", [b"d3 LOGOUT\r\n"])])
EOF
    dovecot -c "$D/dovecot.conf"
    trap 'doveadm -c "$D/dovecot.conf" stop 2>/dev/null; cleanup' EXIT INT TERM
    sleep 1
    capture_start "$OUT/pop3-dovecot.pcap" "tcp port 110"
    curl -s pop3://bob:s3cret@127.0.0.1/1 >/dev/null
    python3 "$D/pop3client.py" 127.0.0.1 110
    capture_stop pop3-dovecot.pcap
    capture_start "$OUT/imap-dovecot.pcap" "tcp port 143"
    curl -s 'imap://bob:s3cret@127.0.0.1/INBOX/;MAILINDEX=1' >/dev/null
    python3 "$D/imapclient.py" 127.0.0.1 143
    capture_stop imap-dovecot.pcap
    echo "pop3/imap attachments: $(sha256sum "$D/att/report.bin" "$D/att/notes.txt" | awk '{print $1}' | tr '\n' ' ')"
    doveadm -c "$D/dovecot.conf" stop 2>/dev/null || true
}
pop3_imap_pcaps
