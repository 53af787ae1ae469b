#!/bin/sh
# End-to-end: the DNS decoder against tshark and dig, on the captures made with dnsmasq and
# dig (pcaps/dns-dnsmasq-*.pcap, tests/tools/make-dns-pcaps.sh), pcaps/udp-dns-like.pcap,
# mutated copies made by build/tools/pcapmut, and the DNS captures of ../shared/pcaps/.
#
#   sh tests/e2e/test_dns_tshark.sh [BUILD_DIR]        (default: build)
#
# Checks:
#   <cap> tshark      every query question (id, name, type) and every response (id, first
#                     question's name and type, rcode, the name and type of every record of
#                     the three sections but OPT, in order, and the A, AAAA and CNAME data)
#                     equal tshark's dns.* fields for the same messages (tests/e2e/dns_fields.lua
#                     prints the engine's side). Two tshark habits are evened out on both
#                     sides: the owner name of SRV records (tshark splits it into service,
#                     proto and name and gives dns.resp.name "<Root>") is not compared, and
#                     responses with NSEC or NSEC3 records compare only their id, question
#                     and rcode (tshark lists the types of the type bitmap as dns.resp.type).
#   udp dig           the data of every answer of dns-dnsmasq-udp.pcap equals what
#                     `dig +short +nosplit` printed when the capture was made
#                     (pcaps/dns-dnsmasq-dig.txt), names without dig's trailing dot
#   <cap>/<mutation>  the engine's lines are unchanged after --split 1, --split 3
#                     --reorder 7, --dup 0.3,5 (TCP) and --frag 64 (UDP, IP fragments)
#   log               dns.log on the captures: the TC=1 answer and the TCP retry are two
#                     records, the query never answered is one record without rcode_name,
#                     NXDOMAIN (with an OPT record) is not "rejected" (Zeek: no record at all)
# ../shared/pcaps/ (or $PCAPS) is skipped, saying so, when absent. Prints PASS/FAIL/SKIP
# lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
PCAPMUT="$B/tools/pcapmut"
FIELDS="$top/tests/e2e/dns_fields.lua"
SHARED=${PCAPS:-$top/../shared/pcaps}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
. "$top/tests/e2e/harness.sh"

if [ ! -x "$ENGINE" ]; then
    fail setup "$ENGINE is missing (make all)"
    finish
fi
if ! command -v tshark >/dev/null 2>&1; then
    skip tshark "tshark is not installed"
    HAVE_TSHARK=
else
    HAVE_TSHARK=1
fi

# the engine's lines (Q and R) of a capture, sorted; $3 non-empty: FORCE_DNS
engine_lines() { # pcap out [force]
    if [ -n "$3" ]; then
        FORCE_DNS=1 "$ENGINE" -q -r "$1" -s "$FIELDS" >"$2.raw" 2>"$tmp/err"
    else
        "$ENGINE" -q -r "$1" -s "$FIELDS" >"$2.raw" 2>"$tmp/err"
    fi
    grep -E '^(Q|R)	' "$2.raw" | even_out | sort >"$2"
}

# tshark's lines of a capture, sorted; extra tshark options in $3
tshark_lines() { # pcap out [options]
    # shellcheck disable=SC2086
    tshark -r "$1" $3 -Y "dns && !icmp" -T fields -E separator=/t -E aggregator='|' \
        -E occurrence=a -e dns.flags.response -e dns.id -e dns.qry.name -e dns.qry.type \
        -e dns.flags.rcode -e dns.resp.name -e dns.resp.type -e dns.a -e dns.aaaa \
        -e dns.cname 2>/dev/null |
    awk -F'\t' 'BEGIN { OFS = "\t" }
    {
        nq = split($3, qn, "|"); split($4, qt, "|")
        if ($1 == "False" || $1 == "0") {
            for (i = 1; i <= nq; i++) print "Q", $2, qn[i], qt[i]
            next
        }
        split($6, rn, "|"); nt = split($7, rt, "|"); names = ""; types = ""
        for (i = 1; i <= nt; i++) if (rt[i] != 41) {
            names = names (names == "" ? "" : "|") rn[i]
            types = types (types == "" ? "" : "|") rt[i]
        }
        print "R", $2, qn[1], qt[1], $5, names, types, $8, $9, $10
    }' | even_out | sort >"$2"
}

# both sides: SRV owner names as "*"; NSEC/NSEC3 responses cut to id, question, rcode
even_out() {
    awk -F'\t' 'BEGIN { OFS = "\t" }
    $1 == "R" {
        nt = split($7, t, "|"); split($6, n, "|")
        for (i = 1; i <= nt; i++) if (t[i] == 47 || t[i] == 50) { print $1, $2, $3, $4, $5, "(nsec)"; next }
        names = ""
        for (i = 1; i <= nt; i++) names = names (i > 1 ? "|" : "") (t[i] == 33 ? "*" : n[i])
        $6 = names
        print; next
    }
    { print }'
}

compare_tshark() { # label pcap [force] [tshark options]
    engine_lines "$2" "$tmp/e" "$3"
    tshark_lines "$2" "$tmp/t" "$4"
    n=$(wc -l <"$tmp/e")
    if [ "$n" -eq 0 ]; then
        fail "$1 tshark" "the engine printed no DNS message"
    elif cmp -s "$tmp/e" "$tmp/t"; then
        pass "$1 tshark ($n messages/questions)"
    else
        fail "$1 tshark" "$(diff "$tmp/e" "$tmp/t" | head -n 6 | cut -c1-200 | tr '\n' ' ')"
    fi
}

OWN="pcaps/dns-dnsmasq-udp.pcap pcaps/dns-dnsmasq-tcp.pcap pcaps/dns-dnsmasq-tc.pcap pcaps/udp-dns-like.pcap"
if [ -n "$HAVE_TSHARK" ]; then
    for p in $OWN; do
        compare_tshark "$(basename "$p" .pcap)" "$p"
    done
fi

# ---------------------------------------------------------------- dig's text
"$ENGINE" -q -r pcaps/dns-dnsmasq-udp.pcap -s "$FIELDS" 2>/dev/null | sed -n 's/^DIG //p' |
    sort >"$tmp/dig.e"
# dig writes names with a trailing dot: drop it where a name ends (not the root ".")
sed -E 's/([^ ."])\.( |$)/\1\2/g' pcaps/dns-dnsmasq-dig.txt | sort >"$tmp/dig.d"
n=$(wc -l <"$tmp/dig.d")
if [ "$n" -lt 15 ]; then
    fail "udp dig" "pcaps/dns-dnsmasq-dig.txt has $n lines"
elif comm -23 "$tmp/dig.d" "$tmp/dig.e" | grep -q .; then
    fail "udp dig" "$(comm -23 "$tmp/dig.d" "$tmp/dig.e" | head -n 4 | tr '\n' ' ') not in the engine's answers"
else
    pass "udp dig ($n answers as dig printed them)"
fi

# ---------------------------------------------------------------- mutations
if [ -x "$PCAPMUT" ]; then
    for p in pcaps/dns-dnsmasq-tcp.pcap pcaps/dns-dnsmasq-tc.pcap pcaps/dns-dnsmasq-udp.pcap; do
        name=$(basename "$p" .pcap)
        engine_lines "$p" "$tmp/base"
        for m in "split1:--split 1" "split3-reorder7:--split 3 --reorder 7" "dup:--dup 0.3,5" "frag64:--frag 64"; do
            mname=${m%%:*}
            # shellcheck disable=SC2086
            if ! "$PCAPMUT" ${m#*:} "$p" "$tmp/mut.pcap" 2>"$tmp/mut.err"; then
                fail "$name/$mname" "pcapmut failed: $(head -n 1 "$tmp/mut.err")"
                continue
            fi
            engine_lines "$tmp/mut.pcap" "$tmp/mut"
            if cmp -s "$tmp/base" "$tmp/mut"; then
                pass "$name/$mname ($(wc -l <"$tmp/mut") lines unchanged)"
            else
                fail "$name/$mname" "$(diff "$tmp/base" "$tmp/mut" | head -n 4 | cut -c1-160 | tr '\n' ' ')"
            fi
        done
    done
else
    skip mutations "$PCAPMUT is missing (make all)"
fi

# ---------------------------------------------------------------- dns.log
"$ENGINE" -q -r pcaps/dns-dnsmasq-tc.pcap -s scripts/logs/dns.lua >"$tmp/tc.log" 2>/dev/null
if [ "$(grep -c '"query":"big.test"' "$tmp/tc.log")" -eq 2 ] &&
   grep '"proto":"udp"' "$tmp/tc.log" | grep -q '"TC":true' &&
   grep '"proto":"tcp"' "$tmp/tc.log" | grep '"TC":false' | grep -q '"answers":\["\\"string-01-'; then
    pass "log tc-then-tcp (two records)"
else
    fail "log tc-then-tcp" "$(cut -c1-300 "$tmp/tc.log" | tr '\n' ' ')"
fi
"$ENGINE" -q -r pcaps/dns-dnsmasq-udp.pcap -s scripts/logs/dns.lua >"$tmp/udp.log" 2>/dev/null
if grep '"query":"never.test"' "$tmp/udp.log" | grep -v rcode_name | grep -q '"rejected":false' &&
   grep '"query":"nothing.test"' "$tmp/udp.log" | grep '"rcode_name":"NXDOMAIN"' | grep -q '"rejected":false' &&
   [ "$(grep -c '"_path":"dns"' "$tmp/udp.log")" -eq 19 ]; then
    pass "log udp (19 records, unanswered and NXDOMAIN)"
else
    fail "log udp" "$(grep -c . "$tmp/udp.log") records: $(grep -E 'never|nothing' "$tmp/udp.log" | cut -c1-300 | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- shared captures
if [ ! -d "$SHARED" ]; then
    skip shared "$SHARED is absent"
elif [ -z "$HAVE_TSHARK" ]; then
    skip shared "tshark is not installed"
else
    for rel in protolens/dns_tcp.pcap protolens/dns_udp_qa.pcap ndpi/dns.pcap \
               ndpi/dns-invalid-chars.pcap ndpi/dns_fragmented.pcap ndpi/dns_long_domainname.pcap \
               ndpi/malformed_dns.pcap suricata-verify/dns-reversed-tcp-1.pcap \
               suricata-verify/dns-tcp-ts-gap.pcap suricata-verify/dns-udp-junkrequest-first.pcap \
               tcpdump/dns_tcp.pcap tcpdump/dns_udp.pcap tcpdump/dnssec.pcap \
               tcpdump/edns-opts.pcap tcpdump/dns-zlip-1.pcap tcpdump/dns-zlip-3.pcap; do
        p="$SHARED/$rel"
        if [ ! -f "$p" ]; then skip "$rel" "not in $SHARED"; continue; fi
        case $rel in
        tcpdump/dns-zlip-*)
            # the compression loops lie past the UDP length (8: no payload), so what the
            # decoder sees is an empty datagram: a weird, nothing read past the payload
            out=$("$ENGINE" -q -r "$p" -s scripts/logs/weird.lua -s scripts/logs/dns.lua 2>&1)
            if echo "$out" | grep -q '"name":"dns_truncated_header","addl":"0 bytes"'; then
                pass "$rel weird dns_truncated_header (payload past the UDP length not read)"
            else
                fail "$rel" "no dns_truncated_header weird: $(echo "$out" | head -c 300)"
            fi ;;
        *) compare_tshark "$rel" "$p" ;;
        esac
    done
    # a non-standard port: found by content; tshark is told
    p="$SHARED/tcpdump/dns_tcp_8053.pcap"
    [ -f "$p" ] && compare_tshark "tcpdump/dns_tcp_8053.pcap (port 8053, by content)" "$p" "" "-d tcp.port==8053,dns"
    # a bad-label response from port 53 to port 500 (no port hint): the decoder forced
    p="$SHARED/tcpdump/dns-badlabel.pcap"
    [ -f "$p" ] && compare_tshark "tcpdump/dns-badlabel.pcap (forced)" "$p" 1
fi
finish
