#!/bin/sh
# test_frag.sh - what a host receives from IP fragments is what the engine delivers.
# Captures written by tests/gen/fragments.py: a browser's HTTP request and an SMTP
# delivery whose client segments are IPv4 fragments of 8 and 24 bytes (in order, last
# first), overlapping IPv4 fragments with different bytes, and IPv6 fragments (in order,
# last first, atomic, overlapping). For each, the test states what a host of each policy
# (ip.frag_policy, ip.frag_policy_by_host) gets - the uri, the SMTP fields and the client's
# stream bytes (tests/e2e/dump_streams.lua) - and checks the engine delivers exactly that,
# with the overlap reported. tshark, when present, reassembles the trains without overlaps
# (its default): its request, SMTP parameters and client stream must be the engine's.
#   sh tests/e2e/test_frag.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -s "$T/err" ] && sed 's/^/    /' "$T/err" | head -10; }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }
python3 tests/gen/fragments.py "$T/p" || { echo "FAIL generator"; echo "0 passed, 1 failed"; exit 1; }

# run CAPTURE [--set ...]: default scripts and dump_streams.lua into $T/o; sets
#   uris (http.log uris), rcpt (smtp.log rcptto), from (mailfrom), subj (subject),
#   weirds (weird names, sorted, unique), orig (the client's stream, hex), serr (stream errors)
run() {
    cap=$1; shift
    rm -rf "$T/o"
    mkdir -p "$T/o"
    "$ENG" -r "$T/p/$cap.pcap" -o "$T/o" -s scripts/default.lua -s tests/e2e/dump_streams.lua \
        --set test.outdir="$T/o" "$@" 2>"$T/err"
    uris=$(grep -o '"uri":"[^"]*"' "$T/o/http.log" 2>/dev/null | cut -d'"' -f4 | tr '\n' ' ')
    rcpt=$(grep -o '"rcptto":\["[^"]*"' "$T/o/smtp.log" 2>/dev/null | cut -d'"' -f4 | tr '\n' ' ')
    from=$(grep -o '"mailfrom":"[^"]*"' "$T/o/smtp.log" 2>/dev/null | cut -d'"' -f4 | tr '\n' ' ')
    subj=$(grep -o '"subject":"[^"]*"' "$T/o/smtp.log" 2>/dev/null | cut -d'"' -f4 | tr '\n' ' ')
    weirds=$(grep -o '"name":"[^"]*"' "$T/o/weird.log" 2>/dev/null | cut -d'"' -f4 | sort -u | tr '\n' ' ')
    orig=$(awk '$1 == "S" && $6 == "orig" { print $7 }' "$T/o/streams.txt" 2>/dev/null)
    serr=$(grep -c '^E' "$T/o/streams.txt" 2>/dev/null)
}
has_weird() { echo " $weirds" | grep -q " $1 "; }
detail() { grep "\"name\":\"$1\"" "$T/o/weird.log" 2>/dev/null | grep -q "$2"; }

PATH0=/static/js/vendor/jquery-3.7.1.min.js?v=20231204
HTTP_TAIL=' HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n'
req_hex() { printf "GET %s$HTTP_TAIL" "$1" | od -An -v -tx1 | tr -d ' \n'; }
MSG='From: Alice Example <alice@example.org>\r\nTo: Bob <bob.office.innocent@example.com>\r\nSubject: quarterly report\r\nDate: Mon, 4 Dec 2023 10:00:00 +0000\r\nMessage-ID: <20231204100000.4F2A1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob,\r\n\r\nthe figures are attached as promised.\r\n\r\nAlice\r\n.\r\n'
smtp_hex() {
    printf "EHLO client.example.org\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n${MSG}QUIT\r\n" "$1" |
        od -An -v -tx1 | tr -d ' \n'
}
GOOD=bob.office.innocent@example.com

# ---- trains without overlaps: every host gets the session as sent -----------------
for v in frag8 frag24 frag8-rev frag24-rev v6-frag8 v6-frag8-rev v6-atomic; do
    run "http-$v"
    check "http-$v: the request's uri" [ "$uris" = "$PATH0 " ]
    check "http-$v: the client's stream is the request, byte for byte" [ "$orig" = "$(req_hex "$PATH0")" ]
    check "http-$v: no stream error" [ "$serr" = 0 ]
    # the atomic captures' decoy first fragments never complete: said when the input ends
    if [ "$v" = v6-atomic ]; then
        check "http-$v: only the decoys, incomplete at the end" [ "$weirds" = "frag_incomplete_at_end " ]
    else
        check "http-$v: no weird" [ -z "$weirds" ]
    fi
    run "smtp-$v"
    check "smtp-$v: mailfrom, rcptto, subject" \
        [ "$from|$rcpt|$subj" = "alice@example.org |$GOOD |quarterly report " ]
    check "smtp-$v: the client's stream, byte for byte" [ "$orig" = "$(smtp_hex "$GOOD")" ]
    if [ "$v" = v6-atomic ]; then
        check "smtp-$v: only the decoys, incomplete at the end" [ "$weirds" = "frag_incomplete_at_end " ]
        check "smtp-$v: the weird names a decoy's datagram" detail frag_incomplete_at_end 'IPv6 fragments 2001:db8::1 -> 2001:db8::3 id [0-9]* proto 6 dropped (the input ended): [0-9]* bytes held, last fragment not seen'
    else
        check "smtp-$v: no weird" [ -z "$weirds" ]
    fi
done
# the reassembled datagrams are counted
"$ENG" -r "$T/p/http-frag8-rev.pcap" --stats -o "$T/s" >/dev/null 2>"$T/stats"
check "http-frag8-rev: 45 fragments, one datagram (--stats)" \
    sh -c "grep -A2 '^IP fragments' '$T/stats' | tr -s ' ' | tr '\n' '|' | grep -q 'seen 45| reassembled 1|'"

# ---- overlapping IPv4 fragments: the host's policy decides -------------------------
# The request's path is 24 blocks of 8 bytes sent as Novak's pattern; block k holds the
# letter of the fragment that supplied it. What each host keeps (Novak, "Target-Based
# Fragmentation Reassembly"; Suricata's defrag tests; bsd-right as Snort):
expand() { echo "$1" | sed 's/./&&&&&&&&/g'; }
for pw in bsd:AAAJJBCCCLLLMMMFFFGGHHIQ linux:AAAJJBKKKLLLMMMFFFGGPHQQ \
          windows:AAAJBBCCCLLLMEEFFFGGHHIQ solaris:AAAJBBCCCLLLMMMFFFGGHHIQ \
          first:AAAJBBCCCLDLMEEFFFGGHHIQ last:AJJJJBKKKLLLMMMFNFGOPHQQ \
          bsd-right:AJJJBBKKKLLLMMMFFFGGHHQQ; do
    pol=${pw%%:*} want=/static/$(expand "${pw#*:}")
    run http-overlap --set ip.frag_policy="$pol"
    check "http-overlap, $pol host: uri ${pw#*:}" [ "$uris" = "$want " ]
    check "http-overlap, $pol host: the client's stream" [ "$orig" = "$(req_hex "$want")" ]
    check "http-overlap, $pol host: fragment_overlap_conflict" has_weird fragment_overlap_conflict
done
run http-overlap
check "http-overlap: the default is bsd" [ "$uris" = "/static/$(expand AAAJJBCCCLLLMMMFFFGGHHIQ) " ]
check "http-overlap: the conflict names both fragments (J over A)" \
    detail fragment_overlap_conflict 'offset 40 length 32 overlaps the fragment held at offset 32 length 24'
check "http-overlap: and says what bsd took" detail fragment_overlap_conflict 'policy bsd takes the held bytes'
n=$(grep -c '"name":"fragment_overlap_conflict"' "$T/o/weird.log" 2>/dev/null)
check "http-overlap: one conflict for each of the 8 overlapping fragments" [ "$n" = 8 ]
# by host: the destination's longest prefix, not the source's
run http-overlap --set ip.frag_policy_by_host=10.0.0.2=windows
check "by host: 10.0.0.2=windows gives the windows result" [ "$uris" = "/static/$(expand AAAJBBCCCLLLMEEFFFGGHHIQ) " ]
run http-overlap --set ip.frag_policy_by_host=10.0.0.0/8=last,10.0.0.0/24=linux --set ip.frag_policy=first
check "by host: the longest prefix (10.0.0.0/24=linux) wins" [ "$uris" = "/static/$(expand AAAJJBKKKLLLMMMFFFGGPHQQ) " ]
run http-overlap --set ip.frag_policy_by_host=10.0.0.1=last --set ip.frag_policy=solaris
check "by host: the source's entry does not apply (solaris)" [ "$uris" = "/static/$(expand AAAJBBCCCLLLMMMFFFGGHHIQ) " ]
rm -rf "$T/j2"
"$ENG" -r "$T/p/http-overlap.pcap" -j 2 -o "$T/j2" --set ip.frag_policy_by_host=10.0.0.2=windows 2>"$T/err"
u=$(grep -o '"uri":"[^"]*"' "$T/j2/http.log" 2>/dev/null | cut -d'"' -f4)
check "by host with -j 2: every worker has the table" [ "$u" = "/static/$(expand AAAJBBCCCLLLMEEFFFGGHHIQ)" ]
"$ENG" -r "$T/p/http-overlap.pcap" --set ip.frag_policy_by_host=10.0.0.2=vista >/dev/null 2>"$T/err"
check "by host: an unknown policy is a usage error" [ $? -ne 0 ]
check "by host: naming the entry" grep -q "entry 1 '10.0.0.2=vista'" "$T/err"
"$ENG" -r "$T/p/http-overlap.pcap" --set ip.frag_policy=macos >/dev/null 2>"$T/err"
check "ip.frag_policy=macos: a usage error listing the policies" grep -q "bsd-right, linux, windows or solaris" "$T/err"

# RCPT TO:<bob.office.innocent@example.com>: its last fragment [40, 63) comes first, then
# [32, 48) ".office.attacker" over "innocent": new bytes that start before the held ones
# and end before them. Kept: first, bsd-right, windows, solaris; taken: last, bsd, linux.
for pw in first:innocent bsd-right:innocent windows:innocent solaris:innocent \
          last:attacker bsd:attacker linux:attacker; do
    pol=${pw%%:*} who=bob.office.${pw#*:}@example.com
    run smtp-overlap --set ip.frag_policy="$pol"
    check "smtp-overlap, $pol host: rcptto $who" [ "$rcpt" = "$who " ]
    check "smtp-overlap, $pol host: the client's stream" [ "$orig" = "$(smtp_hex "$who")" ]
done
check "smtp-overlap: the conflict names both fragments" \
    detail fragment_overlap_conflict 'offset 32 length 16 overlaps the fragment held at offset 40 length 23'

# ---- overlapping IPv6 fragments: the datagram is dropped (RFC 5722) ----------------
# another version of the segment (/evil.php..., mallory@evil.example) comes as three
# fragments, two overlapping; the host drops it and takes the client's retransmission
run http-v6-overlap
check "http-v6-overlap: the retransmitted request's uri" [ "$uris" = "$PATH0 " ]
check "http-v6-overlap: the client's stream is the retransmission" [ "$orig" = "$(req_hex "$PATH0")" ]
check "http-v6-overlap: weird ipv6_fragment_overlap" has_weird ipv6_fragment_overlap
check "http-v6-overlap: saying the datagram is dropped" detail ipv6_fragment_overlap 'the datagram is dropped (RFC 5722)'
run http-v6-overlap --set ip.frag_policy=last
check "http-v6-overlap: no IPv4 policy changes it (last)" [ "$uris" = "$PATH0 " ]
run smtp-v6-overlap
check "smtp-v6-overlap: rcptto of the retransmission" [ "$rcpt" = "$GOOD " ]
check "smtp-v6-overlap: weird ipv6_fragment_overlap" has_weird ipv6_fragment_overlap

# ---- tshark, when present: its reassembly of the trains is the engine's ------------
if command -v tshark >/dev/null 2>&1; then
    for v in frag8 frag24 frag8-rev frag24-rev v6-frag8 v6-frag8-rev v6-atomic; do
        u=$(tshark -r "$T/p/http-$v.pcap" -Y http.request -T fields -e http.request.uri 2>/dev/null)
        check "tshark http-$v: uri $u" [ "$u" = "$PATH0" ]
        run "http-$v"
        ts=$(tshark -r "$T/p/http-$v.pcap" -q -z follow,tcp,raw,0 2>/dev/null | grep -E '^[0-9a-f]+$' | tr -d '\n')
        check "tshark http-$v: the client's stream is the engine's" [ -n "$ts" ] && [ "$ts" = "$orig" ]
        p=$(tshark -r "$T/p/smtp-$v.pcap" -Y smtp.req -T fields -e smtp.req.parameter 2>/dev/null | grep . | tr '\n' '|')
        check "tshark smtp-$v: EHLO, MAIL, RCPT parameters" \
            [ "$p" = "client.example.org|FROM:<alice@example.org>|TO:<$GOOD>|" ]
        run "smtp-$v"
        ts=$(tshark -r "$T/p/smtp-$v.pcap" -q -z follow,tcp,raw,0 2>/dev/null | grep -E '^[0-9a-f]+$' | tr -d '\n')
        check "tshark smtp-$v: the client's stream is the engine's" [ -n "$ts" ] && [ "$ts" = "$orig" ]
    done
    n=$(tshark -r "$T/p/http-frag8.pcap" -Y 'ip.flags.mf == 1 || ip.frag_offset > 0' 2>/dev/null | wc -l)
    check "tshark: http-frag8 holds the request as 45 8-byte fragments" [ "$n" = 45 ]
else
    echo "SKIP tshark checks: tshark is not installed"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
