#!/bin/sh
# test_evasion.sh - what the host accepts is what the engine delivers: captures written
# by tests/gen/evasion.py (one HTTP exchange each, with a packet the server's host would
# drop injected before the real one at the same sequence number), checked with the
# settings that model the host (tcp.checksum, ip.checksum, ip.min_ttl) and without
# them, plus SYN data (TCP Fast Open taken / refused) and an out-of-window RST. tshark,
# when present, confirms that the injected packet really has the bad checksum.
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

"$ENG" -r "$T/p/low-ttl.pcap" --set tcp.checksum=maybe -o "$T/o" 2>"$T/err"
check "tcp.checksum=maybe: a usage error" [ $? -ne 0 ]
check "tcp.checksum=maybe: says what it expects" grep -q "off or verify" "$T/err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
