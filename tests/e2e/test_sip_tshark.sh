#!/bin/sh
# End-to-end: the SIP decoder (decoders/sip.c) against tshark, on the project's captures
# pcaps/sip-*.pcap (tests/tools/make-sip-pcaps.sh: sipsak, and a UAC/UAS over real sockets
# on lo) and the SIP captures of ../shared/pcaps (INDEX.tsv; skipped, saying so, when that
# folder is absent), and on mutated copies made by build/tools/pcapmut.
#
#   sh tests/e2e/test_sip_tshark.sh [BUILD_DIR]        (default: build)
#
# Checks, per capture:
#   <cap> messages   every sip.request (method, Call-ID, From URI, To URI, CSeq) and
#                    sip.response (status, the same) in order equal tshark's SIP messages
#                    (sip.Method / sip.Status-Code, sip.Call-ID, sip.from.addr, sip.to.addr,
#                    sip.CSeq), several messages per frame (TCP) included
#   <cap> rtp        (captures with media) rtp.end: the RTP and RTCP flows are linked to
#                    the call (service rtp, parent_uid = the SIP flow, the Call-ID), and
#                    their datagram counts equal tshark's rtp / rtcp frames (tshark links
#                    them from the SDP too)
#   <cap>/<mutation> the engine's lines (messages, SDP media, rtp.end) are the same set
#                    after --split 1, --split 3 --reorder 7 --dup 0.3,5, and --frag 64
#                    (IP fragments of every datagram and segment)
#   pcaps/sip-*: known facts: the number of messages and both RTP flows of each call
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
PCAPMUT="$B/tools/pcapmut"
FIELDS="$top/tests/e2e/sip_fields.lua"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
. "$top/tests/e2e/harness.sh"
if [ ! -x "$ENGINE" ] || [ ! -x "$PCAPMUT" ]; then
    fail setup "$ENGINE or $PCAPMUT is missing (make all)"
    finish
fi
if ! command -v tshark >/dev/null 2>&1; then
    skip tshark "tshark not installed: only the known-fact checks run"
    HAVE_TSHARK=0
else
    HAVE_TSHARK=1
fi

PCAPS=${PCAPS:-}
[ -z "$PCAPS" ] && [ -d "$top/../shared/pcaps" ] && PCAPS="$top/../shared/pcaps"
[ -z "$PCAPS" ] && [ -d /work/shared/pcaps ] && PCAPS=/work/shared/pcaps

run_engine() { # capture out
    "$ENGINE" -q -r "$1" -o "$(dirname "$2")" -s "$FIELDS" --set "test.out=$2" 2>"$tmp/engine.err"
}

# the engine's messages as "Q method call_id from to cseq" / "R status call_id from to cseq"
engine_msgs() {
    awk -F'\t' -v OFS='\t' '$1 == "Q" { print "Q", $3, $2, $5, $6, $7 }
                            $1 == "R" { print "R", $3, $2, $5, $6, $7 }' "$1"
}
# tshark's, one line per SIP message (a frame with several: aggregated with "|")
tshark_msgs() {
    tshark -r "$1" -Y sip -T fields -E aggregator='|' -e sip.Method -e sip.Status-Code \
        -e sip.Call-ID -e sip.from.addr -e sip.to.addr -e sip.CSeq 2>/dev/null |
    awk -F'\t' -v OFS='\t' '{
        nm = $1 == "" ? 0 : split($1, m, "|"); ns = $2 == "" ? 0 : split($2, s, "|")
        split($3, c, "|"); split($4, f, "|"); split($5, t, "|"); split($6, q, "|")
        n = nm + ns
        if (nm && ns) { print "MIXED", NR; next }   # requests and responses in one frame
        for (i = 1; i <= n; i++)
            if (nm) print "Q", m[i], c[i], f[i], t[i], q[i]
            else print "R", s[i], c[i], f[i], t[i], q[i]
    }'
}

check_capture() { # name path [expected-messages expected-rtp-lines]
    name=$1 cap=$2
    if ! run_engine "$cap" "$tmp/e.out"; then
        fail "$name messages" "engine failed: $(head -n 1 "$tmp/engine.err")"
        return
    fi
    engine_msgs "$tmp/e.out" >"$tmp/e.msgs"
    n=$(wc -l <"$tmp/e.msgs")
    if [ "$HAVE_TSHARK" = 1 ]; then
        tshark_msgs "$cap" >"$tmp/t.msgs"
        if [ ! -s "$tmp/t.msgs" ]; then
            fail "$name messages" "tshark found no SIP message"
        elif cmp -s "$tmp/e.msgs" "$tmp/t.msgs"; then
            pass "$name messages ($n)"
        else
            fail "$name messages" "engine and tshark differ: $(diff "$tmp/e.msgs" "$tmp/t.msgs" | head -n 4 | tr '\n' ' ')"
        fi
        if grep -q '^P' "$tmp/e.out"; then
            bad=$(awk -F'\t' '$1 == "P" && ($6 != "rtp" || $7 != 1 || $2 == "-")' "$tmp/e.out" | wc -l)
            erp=$(awk -F'\t' '$1 == "P" && $4 == 0 { n += $5 } END { print n + 0 }' "$tmp/e.out")
            erc=$(awk -F'\t' '$1 == "P" && $4 == 1 { n += $5 } END { print n + 0 }' "$tmp/e.out")
            trp=$(tshark -r "$cap" -Y 'rtp && !icmp' 2>/dev/null | wc -l)
            trc=$(tshark -r "$cap" -Y 'rtcp && !icmp' 2>/dev/null | wc -l)
            if [ "$bad" -ne 0 ]; then
                fail "$name rtp" "an rtp.end without service rtp, SIP parent or Call-ID"
            elif [ "$erp" -ne "$trp" ] || [ "$erc" -ne "$trc" ]; then
                fail "$name rtp" "RTP/RTCP datagrams: engine $erp/$erc, tshark $trp/$trc"
            else
                pass "$name rtp ($erp RTP, $erc RTCP datagrams linked)"
            fi
        fi
    fi
    if [ $# -ge 4 ]; then
        np=$(grep -c '^P' "$tmp/e.out")
        if [ "$n" -eq "$3" ] && [ "$np" -eq "$4" ]; then
            pass "$name known ($3 messages, $4 media flows)"
        else
            fail "$name known" "$n messages, $np media flows; expected $3 and $4"
        fi
    fi
    sort "$tmp/e.out" >"$tmp/e.sorted"
    for m in "split1:--split 1" "split3-reorder7-dup:--split 3 --reorder 7 --dup 0.3,5" "frag64:--frag 64"; do
        mname=${m%%:*}
        # shellcheck disable=SC2086
        if ! "$PCAPMUT" ${m#*:} "$cap" "$tmp/mut.pcap" 2>"$tmp/mut.err"; then
            fail "$name/$mname" "pcapmut failed: $(head -n 1 "$tmp/mut.err")"
            continue
        fi
        run_engine "$tmp/mut.pcap" "$tmp/m.out"
        sort "$tmp/m.out" >"$tmp/m.sorted"
        if cmp -s "$tmp/e.sorted" "$tmp/m.sorted"; then
            pass "$name/$mname same events"
        else
            fail "$name/$mname" "events differ: $(diff "$tmp/e.sorted" "$tmp/m.sorted" | head -n 4 | tr '\n' ' ')"
        fi
    done
}

check_capture sip-udp-call pcaps/sip-udp-call.pcap 7 2
check_capture sip-tcp-call pcaps/sip-tcp-call.pcap 7 2
check_capture sip-sipsak-options pcaps/sip-sipsak-options.pcap 4 0

if [ -z "$PCAPS" ]; then
    skip shared "no ../shared/pcaps (set PCAPS=DIR): the public SIP captures are not checked"
else
    for c in protolens/sip.pcap ndpi/sip.pcap ndpi/sip_hello.pcapng suricata-verify/sip-body-large.pcap \
             suricata-verify/sip-compact-form.pcap suricata-verify/sip-sdp.pcap \
             suricata-verify/sip-tcp-method.pcap; do
        if [ -f "$PCAPS/$c" ]; then check_capture "$c" "$PCAPS/$c"
        else skip "$c" "not in $PCAPS"; fi
    done
fi
finish
