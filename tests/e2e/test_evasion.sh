#!/bin/sh
# test_evasion.sh - what the host accepts is what the engine delivers: captures written
# by tests/gen/evasion.py (one HTTP exchange each, with a packet the server's host would
# drop injected before the real one at the same sequence number), checked with the
# settings that model the host (tcp.checksum, ip.checksum, ip.min_ttl) and without
# them, plus SYN data (TCP Fast Open taken / refused), an out-of-window RST, data past the
# receiver's window, zero-window probes, urgent data under each tcp.urgent policy, and
# clear text after an accepted STARTTLS. tshark, when present, confirms that the injected
# packet really has the bad checksum, the zero window and probes, the urgent pointer.
#   sh tests/e2e/test_evasion.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/    /' "$T/err" | head -10; }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }
python3 tests/gen/evasion.py "$T/p" || { echo "FAIL generator"; echo "0 passed, 1 failed"; exit 1; }

# run CAPTURE [--set ...]: default scripts into $T/o; prints the http.log uris, then the weird names
run() {
    cap=$1; shift
    rm -rf "$T/o"
    "$ENG" -r "$T/p/$cap.pcap" -o "$T/o" "$@" 2>"$T/err"
    uris=$(grep -o '"uri":"[^"]*"' "$T/o/http.log" 2>/dev/null | cut -d'"' -f4 | tr '\n' ' ')
    weirds=$(grep -o '"name":"[^"]*"' "$T/o/weird.log" 2>/dev/null | cut -d'"' -f4 | sort -u | tr '\n' ' ')
}

if command -v tshark >/dev/null 2>&1; then
    st=$(tshark -r "$T/p/bad-tcp-checksum.pcap" -o tcp.check_checksum:TRUE -T fields -e tcp.checksum.status 2>/dev/null | sed -n 4p)
    check "tshark: the injected segment's TCP checksum is bad" [ "$st" = 0 ]
    st=$(tshark -r "$T/p/bad-ip-checksum.pcap" -o ip.check_checksum:TRUE -T fields -e ip.checksum.status 2>/dev/null | sed -n 4p)
    check "tshark: the injected packet's IP checksum is bad" [ "$st" = 0 ]
    st=$(tshark -r "$T/p/bad-tcp-checksum.pcap" -o tcp.check_checksum:TRUE -T fields -e tcp.checksum.status 2>/dev/null | grep -c '^1$')
    check "tshark: every other TCP checksum is good" [ "$st" = 8 ]
else
    echo "SKIP tshark checks: tshark is not installed"
fi

for c in bad-tcp-checksum:tcp.checksum=verify:bad_tcp_checksum bad-ip-checksum:ip.checksum=verify:bad_ip_checksum \
         low-ttl:ip.min_ttl=5:ip_ttl_below_min; do
    cap=${c%%:*} rest=${c#*:} set=${rest%%:*} weird=${rest#*:}
    run "$cap" --set "$set"
    check "$cap with $set: the host's request /evil0001" [ "$uris" = "/evil0001 " ]
    check "$cap with $set: weird $weird" sh -c "echo '$weirds' | grep -qw $weird"
    run "$cap"
    check "$cap without $set: the first copy (tcp.overlap=first) /innocent" [ "$uris" = "/innocent " ]
    run "$cap" --set "$set" --set tcp.overlap=last
    check "$cap with $set and tcp.overlap=last: still /evil0001" [ "$uris" = "/evil0001 " ]
done
run bad-tcp-checksum --set ip.min_ttl=1
check "ip.min_ttl=1 drops nothing" [ "$uris" = "/innocent " ]

run syn-data-tfo
check "SYN data acknowledged by the SYN-ACK (TCP Fast Open): delivered" [ "$uris" = "/tfo " ]
check "SYN data: weird tcp_syn_with_data" sh -c "echo '$weirds' | grep -qw tcp_syn_with_data"
check "SYN data taken: no tcp_syn_data_not_acked" sh -c "! echo '$weirds' | grep -qw tcp_syn_data_not_acked"
run syn-data-refused
check "SYN data not acknowledged: not delivered, the request sent after the handshake is" [ "$uris" = "/after-handshake " ]
check "SYN data refused: weird tcp_syn_data_not_acked" sh -c "echo '$weirds' | grep -qw tcp_syn_data_not_acked"

run rst-out-of-window
check "RST outside the window: ignored, the request is /evil" [ "$uris" = "/evil " ]
check "RST outside the window: weird tcp_rst_out_of_window" sh -c "echo '$weirds' | grep -qw tcp_rst_out_of_window"

# The receiver's window (tests/gen/evasion.py window_tests: the server offers 8 bytes,
# window scale 2, the client fills them with "GET /evi")
has() { echo "$weirds" | grep -qw "$1"; }
missed() { grep -o '"missed_bytes":[0-9]*' "$T/o/conn.log" | cut -d: -f2; }
if command -v tshark >/dev/null 2>&1; then
    st=$(tshark -r "$T/p/window-past.pcap" -T fields -e tcp.analysis.zero_window 2>/dev/null | sed -n 6p)
    check "tshark: the server advertises a zero window before the segment past it" [ "$st" = 1 ]
    st=$(tshark -r "$T/p/zwp-other.pcap" -T fields -e tcp.analysis.zero_window_probe 2>/dev/null | sed -n '7p;9p' | tr -d '\n')
    check "tshark: the 1-byte segments into the zero window are zero-window probes" [ "$st" = 11 ]
    st=$(tshark -r "$T/p/urgent.pcap" -Y tcp.flags.urg==1 -T fields -e tcp.urgent_pointer -e tcp.len 2>/dev/null | tr '\t' ' ')
    check "tshark: one segment with URG, urgent pointer 1, 28 bytes" [ "$st" = "1 28" ]
fi
run window-past
check "data past the window (host dropped it, the client sent the real bytes later): /evil0001" [ "$uris" = "/evil0001 " ]
check "data past the window: weird tcp_packet_out_of_window" has tcp_packet_out_of_window
check "data past the window: no gap" [ "$(missed)" = 0 ]
run window-past --set tcp.overlap=last
check "data past the window, tcp.overlap=last: still /evil0001" [ "$uris" = "/evil0001 " ]
run window-acked
check "data past the window, then acknowledged (window update missed): delivered, /evil0001" [ "$uris" = "/evil0001 " ]
check "data past the window, then acknowledged: no gap" [ "$(missed)" = 0 ]
check "data past the window, then acknowledged: weird tcp_packet_out_of_window" has tcp_packet_out_of_window
run window-shrunk
check "the receiver shrinks its window (RFC 9293 says it must not): weird window_recision" has window_recision
check "window shrunk: the edge offered before is kept, /evil0001" [ "$uris" = "/evil0001 " ]
run window-past
check "a window that only grows: no window_recision" sh -c "! echo '$weirds' | grep -qw window_recision"
run zwp-same
check "zero-window probe with the next byte, then the real byte: delivered once, /evil0001" [ "$uris" = "/evil0001 " ]
check "zero-window probe: weird tcp_zero_window_probe" has tcp_zero_window_probe
run zwp-other
check "zero-window probe with another byte, then the real byte: the real one, /evil0001" [ "$uris" = "/evil0001 " ]
run zwp-other --set tcp.overlap=last
check "zero-window probe, tcp.overlap=last: still /evil0001" [ "$uris" = "/evil0001 " ]
run zwp-acked
check "zero-window probe acknowledged (taken by the host): delivered once, /evil0001" [ "$uris" = "/evil0001 " ]
check "zero-window probe acknowledged: no gap" [ "$(missed)" = 0 ]
run urgent
check "urgent data, tcp.urgent=inline (default): the urgent byte in the stream, /eviXl0001" [ "$uris" = "/eviXl0001 " ]
check "urgent data: weird tcp_urgent_data" has tcp_urgent_data
run urgent --set tcp.urgent=oob
check "urgent data, tcp.urgent=oob: the urgent byte out of the stream (a host without SO_OOBINLINE), /evil0001" [ "$uris" = "/evil0001 " ]
check "urgent data, tcp.urgent=oob: no gap" [ "$(missed)" = 0 ]
check "urgent data, tcp.urgent=oob: weird tcp_urgent_data" has tcp_urgent_data
run urgent --set tcp.urgent=gap
check "urgent data, tcp.urgent=gap: the urgent byte is a 1-byte gap" [ "$(missed)" = 1 ]
check "urgent data, tcp.urgent=gap: not /eviXl0001" [ "$uris" != "/eviXl0001 " ]
run urgent --set tcp.urgent=drop
check "urgent data, tcp.urgent=drop: the segment's 28 bytes are not stream data (a gap)" [ "$(missed)" = 28 ]
check "urgent data, tcp.urgent=drop: weird tcp_urgent_data" has tcp_urgent_data
run urgent-later --set tcp.urgent=oob
check "urgent pointer into the next segment, tcp.urgent=oob: that segment's first byte removed, /evil0001" [ "$uris" = "/evil0001 " ]
run urgent-later
check "urgent pointer into the next segment, inline: /eviXl0001" [ "$uris" = "/eviXl0001 " ]

# the same in an SMTP session (smtp.log rcptto)
rcpt() { grep -o '"rcptto":\[[^]]*\]' "$T/o/smtp.log" | cut -d'"' -f4; }
run smtp-window-past
check "SMTP: RCPT TO past the zero window, then the real one: victim@example.org" [ "$(rcpt)" = victim@example.org ]
check "SMTP: RCPT TO past the window: weird tcp_packet_out_of_window" has tcp_packet_out_of_window
check "SMTP: the rest of the session within the window: no tcp_data_within_window_margin" sh -c "! echo '$weirds' | grep -qw tcp_data_within_window_margin"
run smtp-urgent
check "SMTP: urgent byte in RCPT TO, inline: vXictim@example.org" [ "$(rcpt)" = vXictim@example.org ]
run smtp-urgent --set tcp.urgent=oob
check "SMTP: urgent byte in RCPT TO, oob: victim@example.org" [ "$(rcpt)" = victim@example.org ]
check "SMTP: urgent, oob: weird tcp_urgent_data" has tcp_urgent_data

run syn-data-tfo
check "no URG flag: no tcp_urgent_data" sh -c "! echo '$weirds' | grep -qw tcp_urgent_data"
check "a window never exceeded: no tcp_packet_out_of_window" sh -c "! echo '$weirds' | grep -qw tcp_packet_out_of_window"
"$ENG" -r "$T/p/urgent.pcap" --set tcp.urgent=maybe -o "$T/o" 2>"$T/err"
check "tcp.urgent=maybe: a usage error that says what it expects" grep -q "inline, drop, oob or gap" "$T/err"

# STARTTLS accepted, then clear text from both sides (an SMTP session)
run starttls-cleartext
check "STARTTLS then clear text: weird tls_cleartext_after_starttls" has tls_cleartext_after_starttls
n=$(grep -c '"name":"tls_cleartext_after_starttls"' "$T/o/weird.log")
check "STARTTLS then clear text: one weird per direction" [ "$n" = 2 ]
check "STARTTLS then clear text: the client's is named, MAIL" grep -q 'orig sent clear text (\\"MAIL ' "$T/o/weird.log"
check "STARTTLS then clear text: smtp.log says tls" grep -q '"tls":true' "$T/o/smtp.log"

"$ENG" -r "$T/p/low-ttl.pcap" --set tcp.checksum=maybe -o "$T/o" 2>"$T/err"
check "tcp.checksum=maybe: a usage error" [ $? -ne 0 ]
check "tcp.checksum=maybe: says what it expects" grep -q "off or verify" "$T/err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
