#!/bin/sh
# End-to-end: the FTP decoder (decoders/ftp.c) against tshark and known values, on the
# captures pcaps/ftp-vsftpd-*.pcap (vsftpd and curl on loopback,
# tests/tools/make-ftp-pcaps.sh), on mutated copies made by build/tools/pcapmut, and on the
# FTP captures of the shared folder ($PCAPS or ../shared/pcaps) when it exists.
#
#   sh tests/e2e/test_ftp_tshark.sh [BUILD_DIR]        (default: build)
#
# Checks, per capture:
#   <cap> commands    ftp.command (command, arg) in order equal tshark's
#                     ftp.request.command / ftp.request.arg rows
#   <cap> replies     ftp.reply codes in order equal tshark's ftp.response.code (the
#                     first line's code of each reply; tshark gives one per reply)
#   <cap> transfers   the sorted byte counts of ftp.transfer equal those of the TCP
#                     streams tshark marks ftp-data (payload, retransmissions left out),
#                     and every data connection got service ftp-data
#   <cap> known       (own captures) the transfers LIST, RETR, STOR with their sizes and
#                     directions, the sha256 of report.bin and upload.txt in file.done,
#                     the login; port-reuse: LIST and RETR each on its own connection
#   shared captures   the checks above that tshark can make, and: ftp_failed's login
#                     refused; ftp-start-tls: AUTH TLS, TLS handed over and back, clear text after CCC;
#                     ftp-too-long-response: the weird ftp_line_too_long
#   <cap>/<mutation>  the same events (commands, replies, auth, transfers, files) after
#                     --split 1, --split 3 --reorder 7 (transfer sizes aside, see
#                     normalise_reorder), and --split 1000 --frag 24
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
PCAPMUT="$B/tools/pcapmut"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
npass=0
nfail=0
nskip=0
pass() { echo "PASS $1"; npass=$((npass + 1)); }
fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
skip() { echo "SKIP $1: $2"; nskip=$((nskip + 1)); }
finish() {
    echo "$npass passed, $nfail failed, $nskip skipped"
    [ "$nfail" -eq 0 ]
    exit $?
}

SHA_REPORT=4c4f06d2201ce215a76280c9b5a5d25e8d300b6a4b569f54ed82e75112114979   # report.bin, 20000 bytes
SHA_UPLOAD=853ffb72fa3e261c654dca05fc56c70910ed0da996152e7ea676164515c9195a   # upload.txt, 9146 bytes
SHA_README=65ce01fcc3e22e78b63419ef0f4493b0950daac7cee97329b428f5cafd395cda   # "read me\n"

if [ ! -x "$ENGINE" ]; then
    fail setup "$ENGINE is missing (make all)"
    finish
fi

cat >"$tmp/print.lua" <<'LUA'
local engine = require "engine"
local function s(v) if v == nil then return "-" end return tostring(v) end
engine.on("ftp.command", function(f, ev) print("CMD\t" .. ev.command .. "\t" .. ev.arg) end)
engine.on("ftp.reply", function(f, ev) print("REPLY\t" .. ev.code .. "\t" .. s(ev.command)) end)
engine.on("ftp.auth", function(f, ev) print("AUTH\t" .. s(ev.user) .. "\t" .. s(ev.password) .. "\t" .. s(ev.success)) end)
engine.on("ftp.transfer", function(f, ev)
  print("XFER\t" .. s(ev.command) .. "\t" .. s(ev.arg) .. "\t" .. ev.bytes .. "\t" .. s(ev.dir) .. "\t" ..
        (ev.fuid and "file" or "-") .. "\t" .. (f.uid == ev.data_uid and "on-data" or "on-control"))
end)
engine.on("file.done", function(f, ev) print("FILE\t" .. s(ev.sha256) .. "\t" .. ev.size .. "\t" .. ev.missing_bytes) end)
engine.on("flow.end", function(f) if f.service == "ftp-data" then print("DATAFLOW\t" .. f.parent_uid) end end)
engine.on("weird", function(f, ev) print("WEIRD\t" .. ev.name) end)
LUA

run_engine() { # capture out
    "$ENGINE" -q -r "$1" -s "$tmp/print.lua" >"$2" 2>"$tmp/err"
}

# tshark's view: commands, reply codes, data stream byte counts
tshark_views() { # capture prefix
    tshark -r "$1" -Y 'ftp.request.command' -T fields -E separator=/t -e ftp.request.command \
        -e ftp.request.arg 2>/dev/null >"$2.cmd"
    # tshark gives the code of each packet's first reply line; a multi-line reply whose
    # last line ("211 End") comes in a packet of its own gets a second code there: such a
    # row (the packet starts with "ddd ", the previous row's packet opened "ddd-" and did
    # not end it) is dropped
    tshark -r "$1" -Y 'ftp.response.code' -T fields -E occurrence=f -e ftp.response.code \
        -e tcp.payload 2>/dev/null | LC_ALL=C awk -F'\t' '
        BEGIN { for (i = 0; i < 256; i++) hx[sprintf("%02x", i)] = sprintf("%c", i) }
        function txt(h,   s, i) { s = ""; for (i = 1; i < length(h); i += 2) s = s hx[substr(h, i, 2)]; return s }
        {
            p = txt($2); c = substr(p, 1, 3)
            if (open != "" && c == open && substr(p, 4, 1) == " ") { open = ""; next }
            print c
            open = ""
            if (substr(p, 4, 1) == "-" && index(p, "\n" c " ") == 0) open = c
        }' >"$2.codes"
    tshark -r "$1" -Y ftp-data -T fields -e tcp.stream 2>/dev/null | sort -u >"$2.streams"
    : >"$2.bytes"
    if [ -s "$2.streams" ]; then
        tshark -r "$1" -Y '!tcp.analysis.retransmission && tcp.len > 0' -T fields -e tcp.stream \
            -e tcp.len 2>/dev/null |
            awk -F'\t' 'NR == FNR { s[$1] = 1; next } ($1 in s) { b[$1] += $2 } END { for (k in s) print b[k] + 0 }' \
                "$2.streams" - | sort -n >"$2.bytes"
    fi
}

compare() { # label want got
    if cmp -s "$2" "$3"; then
        pass "$1 ($(wc -l <"$2" | tr -d ' ') rows)"
    else
        fail "$1" "$(diff "$2" "$3" | head -n 6 | tr '\n' ' ')"
    fi
}

# the events that must survive mutations (order-free between flows)
normalise() { grep -E '^(CMD|REPLY|AUTH|XFER|FILE)' "$1" | sort; }
# after --reorder a data connection's first segments can come before the segments of the
# command that announced it (pcapmut shuffles each direction on its own, so one flow's
# packets can overtake another's): bytes delivered before the expectation exists are
# not the transfer's (docs/decoders.md), so transfer sizes are left out there
normalise_reorder() { normalise "$1" | awk -F'\t' 'BEGIN { OFS = "\t" } $1 == "XFER" { $4 = "?" } { print }'; }

do_capture() { # capture label own
    cap=$1 name=$2
    if ! run_engine "$cap" "$tmp/eng.out"; then
        fail "$name" "engine failed: $(head -n 1 "$tmp/err")"
        return
    fi
    if command -v tshark >/dev/null 2>&1; then
        tshark_views "$cap" "$tmp/ts"
        grep '^CMD' "$tmp/eng.out" | cut -f2- >"$tmp/eng.cmd"
        grep '^REPLY' "$tmp/eng.out" | cut -f2 >"$tmp/eng.codes"
        grep '^XFER' "$tmp/eng.out" | cut -f4 | sort -n >"$tmp/eng.bytes"
        if [ -s "$tmp/ts.cmd" ]; then compare "$name commands" "$tmp/ts.cmd" "$tmp/eng.cmd"
        else fail "$name commands" "tshark found no FTP requests"; fi
        compare "$name replies" "$tmp/ts.codes" "$tmp/eng.codes"
        if [ -s "$tmp/ts.bytes" ]; then
            compare "$name transfers" "$tmp/ts.bytes" "$tmp/eng.bytes"
            nd=$(grep -c '^DATAFLOW' "$tmp/eng.out")
            nt=$(wc -l <"$tmp/ts.streams" | tr -d ' ')
            if [ "$nd" = "$nt" ]; then pass "$name data flows ($nd with service ftp-data and a parent)"
            else fail "$name data flows" "engine $nd ftp-data flows, tshark $nt ftp-data streams"; fi
        fi
    else
        skip "$name tshark" "tshark is not installed"
    fi
}

check_known() { # label out want-file
    grep -E '^(XFER|FILE|AUTH)' "$2" >"$tmp/known.got"
    compare "$1 known" "$3" "$tmp/known.got"
}

for mode in pasv epsv port eprt port-reuse; do
    cap=pcaps/ftp-vsftpd-$mode.pcap
    name=ftp-vsftpd-$mode
    if [ ! -f "$cap" ]; then
        fail "$name" "capture missing"
        continue
    fi
    do_capture "$cap" "$name"
    if [ "$mode" = port-reuse ]; then
        printf 'AUTH\tftptest\ts3cret\ttrue\nXFER\tLIST\t\t136\tdownload\t-\ton-control\nAUTH\tftptest\twrong\tfalse\nFILE\t%s\t8\t0\nXFER\tRETR\treadme.txt\t8\tdownload\tfile\ton-control\n' \
            "$SHA_README" >"$tmp/want"
    else
        printf 'AUTH\tftptest\ts3cret\ttrue\nXFER\tLIST\t\t136\tdownload\t-\ton-control\nFILE\t%s\t20000\t0\nXFER\tRETR\treport.bin\t20000\tdownload\tfile\ton-control\nFILE\t%s\t9146\t0\nXFER\tSTOR\tftp-vsftpd-%s.txt\t9146\tupload\tfile\ton-control\n' \
            "$SHA_REPORT" "$SHA_UPLOAD" "$mode" >"$tmp/want"
    fi
    check_known "$name" "$tmp/eng.out" "$tmp/want"
    if grep -q '^WEIRD' "$tmp/eng.out"; then
        fail "$name weirds" "$(grep '^WEIRD' "$tmp/eng.out" | sort | uniq -c | tr '\n' ' ')"
    else
        pass "$name weirds (none)"
    fi
    if [ ! -x "$PCAPMUT" ]; then
        fail "$name mutations" "$PCAPMUT is missing (make all)"
        continue
    fi
    normalise "$tmp/eng.out" >"$tmp/base.norm"
    for m in "split1:--split 1" "split3-reorder7:--split 3 --reorder 7" "frag24:--split 1000 --frag 24"; do
        mname=${m%%:*}
        # shellcheck disable=SC2086
        if ! "$PCAPMUT" ${m#*:} "$cap" "$tmp/mut.pcap" 2>"$tmp/mut.err"; then
            fail "$name/$mname" "pcapmut failed: $(head -n 1 "$tmp/mut.err")"
            continue
        fi
        run_engine "$tmp/mut.pcap" "$tmp/mut.out" || { fail "$name/$mname" "engine failed"; continue; }
        case $mname in
        *reorder*)
            normalise_reorder "$tmp/eng.out" >"$tmp/base.rnorm"
            normalise_reorder "$tmp/mut.out" >"$tmp/mut.norm"
            compare "$name/$mname same events (transfer sizes aside)" "$tmp/base.rnorm" "$tmp/mut.norm" ;;
        *)
            normalise "$tmp/mut.out" >"$tmp/mut.norm"
            compare "$name/$mname same events" "$tmp/base.norm" "$tmp/mut.norm" ;;
        esac
    done
done

shared=${PCAPS:-$top/../shared/pcaps}
if [ -d "$shared" ]; then
    for rel in protolens/ftp_pasv.pcap ndpi/ftp.pcap ndpi/ftp_failed.pcap \
        suricata-verify/ftp-download-active.pcap suricata-verify/ftp-download-passive.pcap \
        suricata-verify/ftp-upload-active.pcap suricata-verify/ftp-epsv.pcap \
        suricata-verify/ftp-ipv6-data.pcap suricata-verify/ftp-too-long-response.pcap \
        ndpi/ftp-start-tls.pcap; do
        cap=$shared/$rel
        if [ ! -f "$cap" ]; then
            skip "shared/$rel" "not in $shared"
            continue
        fi
        do_capture "$cap" "shared/$rel"
        case $rel in
        ndpi/ftp_failed.pcap)
            printf 'AUTH\thello\t-\tfalse\n' >"$tmp/want"
            grep '^AUTH' "$tmp/eng.out" >"$tmp/got"
            compare "shared/$rel auth" "$tmp/want" "$tmp/got" ;;
        ndpi/ftp-start-tls.pcap)
            # AUTH TLS answered 234: the flow goes to the TLS decoder (test_tls_tshark checks
            # the handshake); the clear text after it (close_notify, then PASV) hands it back
            # and PASV, STOR are decoded (the commands check above compares them)
            if grep -q '^REPLY	234	AUTH' "$tmp/eng.out" && grep -A 100 '^REPLY	234' "$tmp/eng.out" | grep -q '^CMD	PASV'; then
                pass "shared/$rel AUTH TLS: TLS handed over, clear text after it decoded"
            else
                fail "shared/$rel AUTH TLS" "$(grep -E '^(CMD|REPLY)' "$tmp/eng.out" | tail -n 3 | tr '\n' ' ')"
            fi ;;
        suricata-verify/ftp-too-long-response.pcap)
            if grep -q '^WEIRD	ftp_line_too_long' "$tmp/eng.out"; then pass "shared/$rel weird ftp_line_too_long"
            else fail "shared/$rel weird" "no ftp_line_too_long: $(grep '^WEIRD' "$tmp/eng.out" | sort -u | tr '\n' ' ')"; fi ;;
        esac
    done
else
    skip "shared captures" "$shared is absent"
fi
finish
