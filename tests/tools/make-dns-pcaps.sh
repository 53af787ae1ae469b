#!/bin/sh
# Re-create the DNS captures in pcaps/ from a real server and a real client talking over the
# loopback interface: dnsmasq (local records only: --no-resolv, nothing is forwarded) on
# 127.0.0.2:53, queried by dig (bind9-dnsutils).
#
#   sudo sh tests/tools/make-dns-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo), dnsmasq and bind9-dnsutils (apt-get install dnsmasq
# bind9-dnsutils). Not run by the tests: the captures are committed; this script documents
# how they were made. Ids, ports and timestamps differ on every run.
#
#   dns-dnsmasq-udp.pcap  one UDP query per record type dnsmasq was given (A, AAAA, a CNAME
#                         chain, MX, TXT, SRV, PTR, CAA, NAPTR, HTTPS, DS, DNSKEY, RRSIG, NSEC,
#                         an unknown type), NXDOMAIN, EDNS with a client subnet and a cookie,
#                         one without EDNS, and one query to 127.0.0.3 where no server listens
#                         (never answered)
#   dns-dnsmasq-tcp.pcap  several queries over one TCP connection (dig +tcp +keepopen)
#   dns-dnsmasq-tc.pcap   a TXT answer too big for 512 bytes: TC=1 over UDP, then dig's
#                         retry over TCP
#   dns-dnsmasq-dig.txt   what `dig +short +nosplit` printed for every query of
#                         dns-dnsmasq-udp.pcap ("type name: answer" lines), for the e2e test
set -eu
. "$(dirname "$0")/lo-capture.sh"
command -v dnsmasq >/dev/null && command -v dig >/dev/null || {
    echo "needs dnsmasq and dig (apt-get install dnsmasq bind9-dnsutils)"; exit 1; }

# A big TXT record: 12 strings of 60 characters (about 750 bytes of answer)
BIG=""
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
    BIG="$BIG,string-$i-abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxy"
done

# Raw records (--dns-rr takes the rdata as hex):
#  HTTPS  1 . alpn="h2,h3" port=443 ipv4hint=192.0.2.1
HTTPS=0001000001000602683202683300030002 HTTPS=${HTTPS}01bb00040004c0000201
#  DS     12345 8 2 <32-byte digest>
DS=303908020123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
#  DNSKEY 257 3 8 <key bytes>
DNSKEY=0101030803010001a1b2c3d4e5f60718293a4b5c6d7e8f90
#  RRSIG  A 8 2 3600 20300101000000 20260101000000 12345 test <signature>
RRSIG=000108020000 RRSIG=${RRSIG}0e1070dbd8806955b900303904746573740000112233445566778899aabbccddeeff
#  NSEC   (of nsec.test) www.test A AAAA RRSIG NSEC
NSEC=037777770474657374000006400000080003
#  type 65280 (private use): the generic \# form
PRIV=deadbeef

dnsmasq --no-daemon --no-resolv --no-hosts --no-poll --bind-interfaces \
    --listen-address=127.0.0.2 --port=53 --local=/test/ --local-ttl=300 --no-ident --log-facility=- \
    --host-record=www.test,192.0.2.1,2001:db8::1 \
    --cname=alias.test,alias2.test --cname=alias2.test,www.test \
    --mx-host=test,mail.test,10 --host-record=mail.test,192.0.2.25 \
    --txt-record=txt.test,"hello world","second \"quoted\" string" \
    --txt-record=big.test"$BIG" \
    --srv-host=_sip._udp.test,sip.test,5060,10,20 \
    --ptr-record=1.2.0.192.in-addr.arpa,www.test \
    --caa-record=test,0,issue,ca.example \
    --naptr-record=naptr.test,100,10,S,SIP+D2U,,_sip._udp.test \
    --dns-rr=svc.test,65,$HTTPS --dns-rr=test,43,$DS --dns-rr=test,48,$DNSKEY \
    --dns-rr=www.test,46,$RRSIG --dns-rr=nsec.test,47,$NSEC --dns-rr=priv.test,65280,$PRIV \
    >"$WORK/dnsmasq.log" 2>&1 &
SERVER_PID=$!
sleep 1

D="dig @127.0.0.2 -p 53 +tries=1 +timeout=2"

# ---------------------------------------------------------------- UDP
capture_start "$OUT/dns-dnsmasq-udp.pcap" "host 127.0.0.2 or host 127.0.0.3"
: >"$OUT/dns-dnsmasq-dig.txt"
for q in "A www.test" "AAAA www.test" "A alias.test" "MX test" "TXT txt.test" \
         "SRV _sip._udp.test" "PTR 1.2.0.192.in-addr.arpa" "CAA test" "NAPTR naptr.test" \
         "HTTPS svc.test" "DS test" "DNSKEY test" "RRSIG www.test" "NSEC nsec.test" \
         "TYPE65280 priv.test" "A nothing.test"; do
    set -- $q
    $D +short +nosplit "$2" "$1" | sed "s/^/$1 $2: /" >>"$OUT/dns-dnsmasq-dig.txt"
done
$D +subnet=192.0.2.0/24 +cookie www.test A >/dev/null
$D +noedns www.test AAAA >/dev/null
dig @127.0.0.3 -p 53 +tries=1 +timeout=1 never.test A >/dev/null || true
capture_stop dns-dnsmasq-udp.pcap

# ---------------------------------------------------------------- TCP
capture_start "$OUT/dns-dnsmasq-tcp.pcap" "host 127.0.0.2 and tcp"
$D +tcp +keepopen www.test A alias.test A txt.test TXT nothing.test A >/dev/null
capture_stop dns-dnsmasq-tcp.pcap

# ---------------------------------------------------------------- TC=1, then TCP
capture_start "$OUT/dns-dnsmasq-tc.pcap" "host 127.0.0.2"
$D +noedns big.test TXT >/dev/null
capture_stop dns-dnsmasq-tc.pcap
