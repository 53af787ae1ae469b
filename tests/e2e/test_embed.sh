#!/bin/sh
# test_embed.sh - the C embedding example (c-api.md, tests/embed/http_smtp_print.c):
# a program using libengine alone, without Lua, prints the HTTP request lines
# and SMTP senders of the shipped captures; checked against tshark, both with
# eng_read_file() and with the program's own packet loop (eng_feed, -p).
#   sh tests/e2e/test_embed.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
EX="$B/embed/http_smtp_print"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/diff" ] && sed 's/^/    /' "$T/diff" | head -20; }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
same() { diff "$1" "$2" >"$T/diff" 2>&1; }

[ -x "$EX" ] || { echo "FAIL no $EX (make all)"; echo "0 passed, 1 failed"; exit 1; }

check "the example does not link Lua" sh -c "! ldd '$EX' | grep -qi luajit"

have_tshark=1
command -v tshark >/dev/null 2>&1 || have_tshark=0

# HTTP: method and uri of every request
for pcap in pcaps/*http*.pcap; do
    [ -f "$pcap" ] || continue
    cap=$(basename "$pcap" .pcap)
    # the malformed request lines and HTTP/0.9 of http-odd-* are read as Zeek reads them, not
    # as tshark does (tests/e2e/test_httpodd.sh checks them, with the differences)
    case $cap in http-odd-*) continue ;; esac
    for mode in file packets; do
        flag=""; [ $mode = packets ] && flag=-p
        "$EX" $flag "$pcap" >"$T/out" 2>"$T/err"
        check "$cap ($mode): exit 0" [ $? -eq 0 ]
        awk '$1 == "http" { print $3 "\t" $4 }' "$T/out" >"$T/http"
        check "$cap ($mode): prints requests" [ -s "$T/http" ]
        if [ $have_tshark = 1 ]; then
            tshark -r "$pcap" -Y http.request -T fields -e http.request.method -e http.request.uri \
                2>/dev/null >"$T/want"
            check "$cap ($mode): request lines match tshark" same "$T/want" "$T/http"
        fi
    done
done

# SMTP: MAIL FROM addresses (tshark's smtp.req.parameter is "FROM:<addr> params")
smtp=""
for p in pcaps/*smtp*.pcap pcaps/*mail*.pcap; do [ -f "$p" ] && smtp="$smtp $p"; done
if [ -z "$smtp" ]; then
    echo "SKIP no SMTP capture in pcaps/"; skip=$((skip + 1))
fi
for pcap in $smtp; do
    cap=$(basename "$pcap" .pcap)
    for mode in file packets; do
        flag=""; [ $mode = packets ] && flag=-p
        "$EX" $flag "$pcap" >"$T/out" 2>"$T/err"
        check "$cap ($mode): exit 0" [ $? -eq 0 ]
        awk '$1 == "smtp" && $3 == "MAIL" { print $5 }' "$T/out" >"$T/smtp"
        # (a STARTTLS capture has its senders encrypted: tshark then sees none either)
        [ $have_tshark = 1 ] || check "$cap ($mode): prints senders" [ -s "$T/smtp" ]
        if [ $have_tshark = 1 ]; then
            # decode every TCP port seen as SMTP where the capture uses a non-standard one
            ports=$(tshark -r "$pcap" -T fields -e tcp.dstport 2>/dev/null | sort -u | tr '\n' ' ')
            dec=""
            for port in $ports; do [ "$port" -lt 1024 ] || dec="$dec -d tcp.port==$port,smtp"; done
            tshark -r "$pcap" $dec -Y smtp.req -T fields -e smtp.req.command -e smtp.req.parameter \
                2>/dev/null | awk -F'\t' '{
                    # pipelined commands in one segment come comma-joined
                    n = split($1, c, ","); split($2, p, ",")
                    for (i = 1; i <= n; i++) if (toupper(c[i]) == "MAIL") {
                        s = p[i]; sub(/^[^<]*</, "", s); sub(/>.*$/, "", s); print s } }' >"$T/want"
            check "$cap ($mode): senders match tshark" same "$T/want" "$T/smtp"
        fi
    done
done
[ $have_tshark = 1 ] || { echo "SKIP tshark not installed: outputs not compared"; skip=$((skip + 1)); }

if [ -f pcaps/smtp-python.pcap ]; then
    "$EX" pcaps/smtp-python.pcap 2>/dev/null | grep -qx "smtp C[0-9A-Za-z]* MAIL FROM alice@example.com"
    check "smtp-python: the sender is alice@example.com" [ $? -eq 0 ]
fi

"$EX" /nonexistent.pcap >/dev/null 2>"$T/err"
check "an unreadable capture exits 1 with a message" sh -c "[ $? -eq 1 ] && [ -s '$T/err' ]"

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
