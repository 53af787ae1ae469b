#!/bin/sh
# Re-create the STARTTLS captures in pcaps/ (one session per protocol that upgrades a
# clear-text connection to TLS) from real servers and a real client (curl 7.88, OpenSSL
# 3.0) talking over the loopback interface, with a throw-away CA and server certificate
# made here by openssl.
#
#   sudo sh tests/tools/make-starttls-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo, servers on ports 21, 110, 143, a local user), openssl, curl
# and: apt-get install dovecot-pop3d dovecot-imapd vsftpd libhiredis0.14 libmemcached11
# libmemcachedutil2 libpcre2-posix3 (for capturing only; not in tests/deps.sh). proftpd
# conflicts with vsftpd in Debian, so it is not installed: the script fetches its two
# packages with `apt-get download proftpd-core proftpd-mod-crypto` and unpacks them
# under a temporary directory (dpkg -x); the libraries above are what they link to. Not
# run by the tests: the captures are committed; this script documents how they were made
# (ports, ISNs, keys, randoms and timestamps differ on every run). tests/e2e/test_starttls.sh checks them against tshark.
#
#   pop3-dovecot-stls.pcap      dovecot 2.3 pop3d on 127.0.0.1:110: CAPA, STLS, then in
#                               TLS 1.3 (SNI mail.test) AUTH PLAIN, LIST, RETR 1, QUIT
#   imap-dovecot-starttls.pcap  dovecot 2.3 imapd on 127.0.0.1:143: CAPABILITY, STARTTLS,
#                               then in TLS 1.2 (SNI mail.test, the server chain in the
#                               clear) AUTHENTICATE PLAIN, SELECT INBOX, FETCH 1 BODY[]
#   ftp-vsftpd-authtls.pcap     vsftpd 3.0 on 127.0.0.1:21 (ssl_enable=YES), python ftplib:
#                               AUTH TLS, then in TLS 1.2 (SNI ftp.test) USER/PASS, PBSZ,
#                               PROT P, PASV + LIST, PASV + RETR, each data connection in
#                               TLS too
#   ftp-vsftpd-authssl.pcap     the same server, curl --ssl-reqd: "AUTH SSL" (curl's first
#                               try; tshark 4.0 follows only AUTH TLS), TLS 1.2, EPSV + LIST,
#                               EPSV + RETR over TLS data connections resuming the session
#   ftp-proftpd-ccc.pcap        proftpd 1.3.8 mod_tls on 127.0.0.1:21, python ftplib:
#                               AUTH TLS, TLS 1.2 login, PBSZ, PROT C, CCC: close_notify both
#                               ways, then PASV + LIST, PASV + RETR and QUIT in clear text
#                               again (vsftpd has no CCC)
set -eu
. "$(dirname "$0")/lo-capture.sh"
DOVECOT_CONF=
cleanup_extra() { # run by lo-capture.sh's cleanup at exit
    [ -n "$DOVECOT_CONF" ] && doveadm -c "$DOVECOT_CONF" stop 2>/dev/null || true
}

for p in openssl curl tcpdump dovecot /usr/sbin/vsftpd; do
    command -v "$p" >/dev/null || [ -x "$p" ] || {
        echo "needs $p (apt-get install dovecot-pop3d dovecot-imapd vsftpd curl tcpdump)"
        exit 1; }
done
for port in 21 110 143; do
    if ss -ltn "sport = :$port" | grep -q LISTEN; then echo "port $port is in use"; exit 1; fi
done

# ---- certificates: a CA and one server certificate for mail.test and ftp.test
cd "$WORK"
printf '[srv]\nsubjectAltName = DNS:mail.test, DNS:ftp.test\nbasicConstraints = CA:FALSE\n' >ext.cnf
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/C=ZZ/O=Engine Test CA/CN=Engine STARTTLS Root" -set_serial 0x1101 >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj "/C=ZZ/O=Engine Test/CN=mail.test" >/dev/null 2>&1
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x2102 -days 3650 \
    -extfile ext.cnf -extensions srv -out server.pem >/dev/null 2>&1
cat server.pem ca.pem >chain.pem
chmod 644 ./*.pem ./*.key
cd - >/dev/null
CA="--cacert $WORK/ca.pem"

# ================================================================ POP3 STLS, IMAP STARTTLS
# dovecot with its own configuration under $WORK (ssl = yes: STLS / STARTTLS offered, not
# required), a passwd-file user bob / s3cret, a maildir with one message.
D="$WORK/dovecot"
mkdir -p "$D/run" "$D/state" "$D/mail/bob/Maildir/cur" "$D/mail/bob/Maildir/new" \
    "$D/mail/bob/Maildir/tmp"
cat >"$D/dovecot.conf" <<EOF
protocols = imap pop3
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
instance_name = starttlstest
ssl = yes
ssl_cert = <$WORK/chain.pem
ssl_key = <$WORK/server.key
disable_plaintext_auth = yes
auth_mechanisms = plain login
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
cat >"$D/mail/bob/Maildir/cur/1.1700000000.host:2,S" <<'EOF'
From: Alice <alice@example.org>
To: bob@example.org
Subject: secret report
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <tls1@example.org>

This message only travels inside TLS.
EOF
chmod 755 "$WORK"
chmod -R a+rX "$D"
chown -R dovecot:dovecot "$D/mail"
dovecot -c "$D/dovecot.conf"
DOVECOT_CONF="$D/dovecot.conf"
sleep 1

# POP3: one curl run, one connection: CAPA, STLS, CAPA, AUTH PLAIN, LIST, RETR 1, QUIT
capture_start "$OUT/pop3-dovecot-stls.pcap" "tcp port 110"
curl -s -S --ssl-reqd $CA --resolve mail.test:110:127.0.0.1 -u bob:s3cret \
    pop3://mail.test/ -o /dev/null pop3://mail.test/1 -o "$WORK/pop3.out"
capture_stop pop3-dovecot-stls.pcap
grep -q "only travels inside TLS" "$WORK/pop3.out"

# IMAP: CAPABILITY, STARTTLS, CAPABILITY, AUTHENTICATE PLAIN, SELECT, FETCH 1 BODY[];
# TLS 1.2 so that the server's chain is in the clear
capture_start "$OUT/imap-dovecot-starttls.pcap" "tcp port 143"
curl -s -S --ssl-reqd --tls-max 1.2 $CA --resolve mail.test:143:127.0.0.1 -u bob:s3cret \
    'imap://mail.test/INBOX/;MAILINDEX=1' -o "$WORK/imap.out"
capture_stop imap-dovecot-starttls.pcap
grep -q "only travels inside TLS" "$WORK/imap.out"
doveadm -c "$D/dovecot.conf" stop
DOVECOT_CONF=
sleep 1

# ================================================================ FTP AUTH TLS
ROOT=$WORK/root
mkdir -p "$ROOT/pub"
printf 'this file crosses a TLS data channel\n' >"$ROOT/pub/readme.txt"
id ftptest >/dev/null 2>&1 || useradd -M -d "$ROOT" -s /bin/bash ftptest
echo 'ftptest:s3cret' | chpasswd
usermod -d "$ROOT" ftptest
chown -R ftptest "$ROOT"
mkdir -p /var/run/vsftpd/empty
cat >"$WORK/vsftpd.conf" <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=21
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=NO
pasv_enable=YES
pasv_min_port=40000
pasv_max_port=40100
seccomp_sandbox=NO
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
ftpd_banner=vsFTPd test server ready
xferlog_enable=NO
ssl_enable=YES
rsa_cert_file=$WORK/chain.pem
rsa_private_key_file=$WORK/server.key
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=NO
EOF
cat >"$WORK/ftpclient.py" <<'EOF'
import ftplib, ssl, sys
ca, mode = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
f = ftplib.FTP_TLS(context=ctx)
f.connect("127.0.0.1", 21)
f.host = "ftp.test"          # the name TLS checks and sends as SNI
f.auth()
f.login("ftptest", "s3cret")
if mode == "prot_p":
    f.prot_p()
else:
    f.prot_c()
    f.ccc()
f.retrlines("LIST pub")
f.retrbinary("RETR pub/readme.txt", lambda b: sys.stdout.write(b.decode()))
f.quit()
EOF
/usr/sbin/vsftpd "$WORK/vsftpd.conf" & SERVER_PID=$!
sleep 1
# curl: "AUTH SSL" (curl's first try), TLS 1.2 (SNI ftp.test), PBSZ 0, PROT P, one
# control connection: EPSV + LIST /pub/, EPSV + RETR /pub/readme.txt, both data
# connections in TLS, resuming the control channel's session
capture_start "$OUT/ftp-vsftpd-authssl.pcap" "tcp and host 127.0.0.1"
curl -s -S --ssl-reqd --tls-max 1.2 $CA --resolve ftp.test:21:127.0.0.1 -u ftptest:s3cret \
    ftp://ftp.test/pub/ -o "$WORK/list.out" ftp://ftp.test/pub/readme.txt -o "$WORK/readme.out"
capture_stop ftp-vsftpd-authssl.pcap
cmp "$WORK/readme.out" "$ROOT/pub/readme.txt"
# python ftplib: "AUTH TLS" (the command tshark follows), TLS 1.2 (SNI ftp.test), PBSZ 0,
# PROT P, PASV + LIST pub, PASV + RETR pub/readme.txt, both data connections in TLS
capture_start "$OUT/ftp-vsftpd-authtls.pcap" "tcp and host 127.0.0.1"
python3 "$WORK/ftpclient.py" "$WORK/ca.pem" prot_p >"$WORK/ftplib.out"
capture_stop ftp-vsftpd-authtls.pcap
grep -q "crosses a TLS data channel" "$WORK/ftplib.out"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
sleep 1

# ================================================================ FTP AUTH TLS + CCC
# proftpd with mod_tls (TLSRequired off, so that PROT C and CCC are allowed), unpacked
# from its Debian packages (see above)
P="$WORK/proftpd"
mkdir -p "$P/pkg"
(cd "$P/pkg" && apt-get download proftpd-core proftpd-mod-crypto >/dev/null 2>&1)
for deb in "$P"/pkg/*.deb; do dpkg -x "$deb" "$P/root"; done
cat >"$P/proftpd.conf" <<EOF
ServerName "proftpd test server"
ServerType standalone
DefaultServer on
DefaultAddress 127.0.0.1
Port 21
UseIPv6 off
ModulePath $P/root/usr/lib/proftpd
User nobody
Group nogroup
PidFile $P/proftpd.pid
ScoreboardFile $P/proftpd.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
RequireValidShell off
AuthOrder mod_auth_unix.c
PassivePorts 40000 40100
LoadModule mod_tls.c
<IfModule mod_tls.c>
  TLSEngine on
  TLSLog $P/tls.log
  TLSProtocol TLSv1.2
  TLSRSACertificateFile $WORK/server.pem
  TLSRSACertificateKeyFile $WORK/server.key
  TLSCertificateChainFile $WORK/ca.pem
  TLSRequired off
  TLSOptions NoSessionReuseRequired
  TLSVerifyClient off
</IfModule>
EOF
"$P/root/usr/sbin/proftpd" -n -c "$P/proftpd.conf" >"$P/out.log" 2>&1 & SERVER_PID=$!
sleep 2
# python ftplib: AUTH TLS, TLS 1.2 login, PBSZ 0, PROT C, CCC (close_notify both ways),
# then PASV + LIST pub and PASV + RETR pub/readme.txt in clear text, QUIT. (curl's
# --ftp-ssl-ccc does the same after "AUTH SSL", which tshark does not follow.)
capture_start "$OUT/ftp-proftpd-ccc.pcap" "tcp and host 127.0.0.1"
python3 "$WORK/ftpclient.py" "$WORK/ca.pem" ccc >"$WORK/ccc.out"
capture_stop ftp-proftpd-ccc.pcap
grep -q "crosses a TLS data channel" "$WORK/ccc.out"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
