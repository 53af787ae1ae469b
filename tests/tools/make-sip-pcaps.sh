#!/bin/sh
# Re-create the SIP captures in pcaps/ from real programs talking over the loopback interface.
#
#   sudo sh tests/tools/make-sip-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo), python3 and sipsak (apt-get install sipsak; not in tests/deps.sh:
# only this script uses it). Not run by the tests: the captures are committed; this script
# documents how they were made. Timestamps and TCP ports/ISNs differ on every run.
#
#   sip-udp-call.pcap   a whole call over UDP (5080 <-> 5082: not the SIP port, so detection
#                       is by content): INVITE with an SDP offer, 100, 180, 200 with the SDP
#                       answer, ACK, RTP (5 datagrams each way) and RTCP (one SR each way)
#                       between the SDP endpoints 127.0.0.1:40000 and :40002, BYE (compact
#                       header forms), 200.
#   sip-tcp-call.pcap   the same call over TCP to port 5060, media on 41000 / 41002: the
#                       INVITE spans three segments, 100 and 180 share one segment.
#   sip-sipsak-options.pcap   sipsak (a real SIP tool) sends OPTIONS over UDP to a UAS on
#                       port 5070 that answers 200 OK; twice (two Call-IDs).
# The UAC and UAS of the calls are tests/tools/sip-call.py (Debian 12 has no SIPp, and no
# packaged UA is practical to script headless): a generator, but over real sockets, so the
# kernel makes the datagrams and segments.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lo-capture.sh"
PY=/usr/bin/python3
capture_start "$OUT/sip-udp-call.pcap" "udp and (port 5080 or portrange 40000-40003)"
$PY "$HERE/sip-call.py" call udp 5080 40000
capture_stop sip-udp-call.pcap

capture_start "$OUT/sip-tcp-call.pcap" "(tcp port 5060) or (udp portrange 41000-41003)"
$PY "$HERE/sip-call.py" call tcp 5060 41000
capture_stop sip-tcp-call.pcap

command -v sipsak >/dev/null || { echo "sipsak: apt-get install sipsak"; exit 1; }
$PY "$HERE/sip-call.py" serve 5070 6 &
SERVER_PID=$!
sleep 0.5
capture_start "$OUT/sip-sipsak-options.pcap" "udp port 5070"
sipsak -s sip:bob@127.0.0.1:5070 -l 5072 -H 127.0.0.1 -vv >/dev/null || true
sipsak -s sip:carol@127.0.0.1:5070 -l 5072 -H 127.0.0.1 >/dev/null || true
capture_stop sip-sipsak-options.pcap
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
