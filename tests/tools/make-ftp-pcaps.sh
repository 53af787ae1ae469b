#!/bin/sh
# Re-create the FTP captures in pcaps/ from a real server (vsftpd) and a real client (curl)
# talking over the loopback interface.
#
#   sudo sh tests/tools/make-ftp-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo, vsftpd binding port 21 and, in active mode, port 20) and
# apt-get install vsftpd curl tcpdump. Not run by the tests: the captures are committed;
# this script documents how they were made. Timestamps, ports and ISNs differ on every run.
#
# One capture per data-channel mode, each one control connection (curl reuses it) with
#   LIST /pub/   RETR /pub/report.bin   STOR /upload/<mode>.txt
#   ftp-vsftpd-pasv.pcap   PASV (curl --disable-epsv)
#   ftp-vsftpd-epsv.pcap   EPSV (curl's default)
#   ftp-vsftpd-port.pcap   PORT (curl -P 127.0.0.1 --disable-eprt)
#   ftp-vsftpd-eprt.pcap   EPRT (curl -P 127.0.0.1)
# and ftp-vsftpd-port-reuse.pcap: active mode with a fixed client port
# (curl -P 127.0.0.1:50021 --disable-eprt), LIST then RETR: both data connections run from
# the server's port 20 to the client's port 50021, one 4-tuple twice; plus a failed login.
# report.bin (20000 random bytes, seed 21) and upload.txt (text) are generated here; their
# sha256 are checked by tests/e2e/test_ftp_tshark.sh.
set -eu
. "$(dirname "$0")/lo-capture.sh"
command -v vsftpd >/dev/null || [ -x /usr/sbin/vsftpd ] || { echo "needs vsftpd (apt-get install vsftpd)"; exit 1; }

# the files
ROOT=$WORK/root
mkdir -p "$ROOT/pub" "$ROOT/upload"
python3 - "$ROOT" "$WORK" <<'EOF'
import random, sys
root, work = sys.argv[1], sys.argv[2]
r = random.Random(21)
open(root + "/pub/report.bin", "wb").write(bytes(r.randrange(256) for _ in range(20000)))
open(root + "/pub/readme.txt", "w").write("read me\n")
lines = ["upload line %03d: %s\n" % (i, " ".join(r.choice(["ftp", "data", "channel", "stor"]) for _ in range(8))) for i in range(150)]
open(work + "/upload.txt", "w").write("".join(lines))
EOF
sha256sum "$ROOT/pub/report.bin" "$WORK/upload.txt"

# a local user for the login, the tree as its home
id ftptest >/dev/null 2>&1 || useradd -M -d "$ROOT" -s /bin/bash ftptest
echo 'ftptest:s3cret' | chpasswd
usermod -d "$ROOT" ftptest
chown -R ftptest "$ROOT"
chmod 755 "$WORK"
mkdir -p /var/run/vsftpd/empty
cat >"$WORK/vsftpd.conf" <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=21
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
connect_from_port_20=YES
ftp_data_port=20
pasv_enable=YES
pasv_min_port=40000
pasv_max_port=40100
seccomp_sandbox=NO
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
ftpd_banner=vsFTPd test server ready
xferlog_enable=NO
EOF
/usr/sbin/vsftpd "$WORK/vsftpd.conf" & SERVER_PID=$!
sleep 1

U="-s -S -u ftptest:s3cret"
H=ftp://127.0.0.1
session() { # name curl-mode-options...
    name=$1; shift
    capture_start "$OUT/$name" "tcp and host 127.0.0.1"
    # one curl run, one control connection: LIST, RETR, then (--next) STOR
    curl $U "$@" "$H/pub/" -o "$WORK/list.out" "$H/pub/report.bin" -o "$WORK/report.out" \
        --next $U "$@" -T "$WORK/upload.txt" "$H/upload/${name%.pcap}.txt"
    capture_stop "$name"
    cmp "$WORK/report.out" "$ROOT/pub/report.bin"
}
session ftp-vsftpd-pasv.pcap --disable-epsv
session ftp-vsftpd-epsv.pcap
session ftp-vsftpd-port.pcap -P 127.0.0.1 --disable-eprt
session ftp-vsftpd-eprt.pcap -P 127.0.0.1

# active mode, one client port for both data connections; then a wrong password
capture_start "$OUT/ftp-vsftpd-port-reuse.pcap" "tcp and host 127.0.0.1"
curl $U -P 127.0.0.1:50021 --disable-eprt "$H/pub/" -o "$WORK/list.out" \
    "$H/pub/readme.txt" -o "$WORK/readme.out"
curl -s -u ftptest:wrong "$H/pub/" -o /dev/null || true
capture_stop ftp-vsftpd-port-reuse.pcap
