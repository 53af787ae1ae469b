#!/bin/sh
# test_overlap.sh - TCP overlap policies: what a target of each policy receives is what
# the engine delivers. Captures from tests/gen/overlap.py: an HTTP exchange and an SMTP
# session whose request path / sender address (16 bytes, U) is sent out of order with an
# old segment O ('1') and a new one N ('2') overlapping it (exact, before, after, inside,
# tail), or one byte a segment with every fourth byte sent twice (onebyte), or sent again
# after delivery (delivered). For each of the fifteen policies (--set tcp.overlap=P) it
# checks http.log uri / smtp.log mailfrom, the client's stream bytes (dump_streams.lua),
# and weird.log's tcp_overlap_conflict ("kept old|new (policy P)"). Then the policy by
# receiving host (tcp.overlap_by_host), the tcp.overlap event's fields, bad values, a
# 4-tuple reused after FIN and after RST, and a mid-stream pickup.
#   sh tests/e2e/test_overlap.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. "$top/tests/e2e/harness.sh"
B=${1:-build}
ENG="$B/engine"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
[ -x "$ENG" ] || { fail engine "no $ENG"; finish; }
python3 tests/gen/overlap.py "$T/p" || { fail generator "tests/gen/overlap.py failed"; finish; }

POLICIES="first last linux old-linux bsd bsd-right old-solaris solaris hpux10 hpux11 irix macos vista windows windows2k3"

# What a target of each policy receives. For each case: U when the old copy stays,
# U when the new one wins, and the policies whose target takes the new one (by where N
# starts and ends relative to O; docs/architecture.md, "Overlap policies").
old_exact=aaaa11111111aaaa   new_exact=aaaa22222222aaaa   takes_exact="last old-linux old-solaris solaris hpux11"
old_before=aa2222111111aaaa  new_before=aa2222222111aaaa  takes_before="last linux old-linux bsd bsd-right hpux10 irix macos windows windows2k3"
old_after=aaaa11112222aaaa   new_after=aaaa22222222aaaa   takes_after="last linux old-linux old-solaris solaris hpux11"
old_inside=aa111111111111aa  new_inside=aa111222211111aa  takes_inside="last"
old_tail=aa1111112222aaaa    new_tail=aa1112222222aaaa    takes_tail="last old-solaris solaris hpux11"
old_onebyte=abcdefghijklmnop new_onebyte='abc#efg#ijk#mno#' takes_onebyte="last old-linux old-solaris solaris hpux11"
# conflicting overlaps (tcp_overlap_conflict weirds) each case makes
nconf_exact=1 nconf_before=1 nconf_after=1 nconf_inside=1 nconf_tail=1 nconf_onebyte=4

HTTP_SUFFIX=' HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: overlap-test\r\n\r\n'
SMTP_MAIL_PREFIX='EHLO client.example.org\r\nMAIL FROM:<'
SMTP_MAIL_SUFFIX='@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n'

hex() { printf "$1" | od -An -v -tx1 | tr -d ' \n'; }
contains() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

# run CAPTURE ARGS...: default scripts and dump_streams.lua into $T/o
run() {
    cap=$1; shift
    rm -rf "$T/o"; mkdir -p "$T/o"
    "$ENG" -r "$T/p/$cap.pcap" -o "$T/o" -s scripts/default.lua -s tests/e2e/dump_streams.lua \
        --set test.outdir="$T/o" "$@" 2>"$T/err"
}
field() { grep -o "\"$1\":\"[^\"]*\"" "$T/o/$2.log" 2>/dev/null | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//'; }
# the client's bytes of the flow to port $1
orig_hex() { awk -v p="$1" '$1 == "S" && $5 == p && $6 == "orig" { print $7 }' "$T/o/streams.txt"; }
stream_errors() { grep -c '^E' "$T/o/streams.txt"; }
conflicts() { grep '"name":"tcp_overlap_conflict"' "$T/o/weird.log" 2>/dev/null | grep -c "$1"; }

for pol in $POLICIES; do
    for c in exact before after inside tail onebyte; do
        eval "old=\$old_$c new=\$new_$c takes=\$takes_$c nconf=\$nconf_$c"
        if contains "$takes" "$pol"; then u=$new kept=new; else u=$old kept=old; fi

        run "http-$c" --set tcp.overlap="$pol"
        got=$(field uri http)
        [ "$got" = "/$u" ] && pass "$pol $c: http uri /$u" || fail "$pol $c: http uri" "got '$got', a $pol target gets '/$u'"
        want=$(hex "GET /$u$HTTP_SUFFIX")
        [ "$(orig_hex 80)" = "$want" ] && [ "$(stream_errors)" = 0 ] \
            && pass "$pol $c: the request's stream bytes" || fail "$pol $c: stream bytes" "$(orig_hex 80) != $want"
        n=$(conflicts "kept $kept (policy $pol)")
        [ "$n" = "$nconf" ] && pass "$pol $c: weird tcp_overlap_conflict x$nconf, kept $kept" \
            || fail "$pol $c: weird" "$n of $nconf tcp_overlap_conflict saying 'kept $kept (policy $pol)'"

        run "smtp-$c" --set tcp.overlap="$pol"
        got=$(field mailfrom smtp)
        [ "$got" = "$u@example.com" ] && pass "$pol $c: smtp mailfrom $u@example.com" \
            || fail "$pol $c: smtp mailfrom" "got '$got', a $pol target gets '$u@example.com'"
        want=$(hex "$SMTP_MAIL_PREFIX$u$SMTP_MAIL_SUFFIX")
        case "$(orig_hex 25)" in
            "$want"*) pass "$pol $c: the SMTP client's stream bytes" ;;
            *) fail "$pol $c: SMTP stream bytes" "$(orig_hex 25 | cut -c1-200) does not start with $want" ;;
        esac
        n=$(conflicts "kept $kept (policy $pol)")
        [ "$n" = "$nconf" ] && pass "$pol $c: smtp weird x$nconf, kept $kept" || fail "$pol $c: smtp weird" "$n of $nconf"
    done
    # bytes already delivered are never taken back, whatever the policy; the conflict is reported
    run http-delivered --set tcp.overlap="$pol"
    got=$(field uri http)
    [ "$got" = "/aaaaaaaaaaaaaaaa" ] && pass "$pol delivered: the delivered bytes stay" || fail "$pol delivered" "uri '$got'"
    n=$(conflicts "already delivered; kept old (policy $pol)")
    [ "$n" = 1 ] && pass "$pol delivered: weird says already delivered, kept old" || fail "$pol delivered: weird" "$n"
done

# the policy of the receiving host: the request goes to 10.0.0.2, so its entry counts
run http-before --set tcp.overlap=first --set tcp.overlap_by_host=10.0.0.2=linux
[ "$(field uri http)" = "/$new_before" ] && pass "by host: the server's policy (linux) takes the new" || fail "by host server" "$(field uri http)"
run http-before --set tcp.overlap=linux --set tcp.overlap_by_host=10.0.0.1=first
[ "$(field uri http)" = "/$new_before" ] && pass "by host: the client's entry does not apply to what the server receives" || fail "by host client" "$(field uri http)"
run http-before --set tcp.overlap=first --set tcp.overlap_by_host=10.0.0.1=linux
[ "$(field uri http)" = "/$old_before" ] && pass "by host: other hosts follow tcp.overlap (first)" || fail "by host default" "$(field uri http)"
run http-before --set 'tcp.overlap_by_host=10.0.0.0/8=bsd, 10.0.0.0/24=windows ,10.0.0.2/31=solaris,2001:db8::/32=linux'
[ "$(field uri http)" = "/$old_before" ] && pass "by host: the longest prefix wins (/31 solaris over /24 windows and /8 bsd)" || fail "by host longest" "$(field uri http)"
[ "$(conflicts 'kept old (policy solaris)')" = 1 ] && pass "by host: the weird names the host's policy" || fail "by host weird" "$(cat "$T/o/weird.log")"
# IPv6: the server 2001:db8:1::2 is in 2001:db8::/32 and in 2001:db8:1::/48
run http6-before --set tcp.overlap_by_host=2001:db8::/32=first,2001:db8:1::/48=linux,10.0.0.2=first
[ "$(field uri http)" = "/$new_before" ] && pass "by host, IPv6: the longest prefix (/48 linux) takes the new" || fail "by host v6 /48" "$(field uri http)"
run http6-before --set tcp.overlap=linux --set tcp.overlap_by_host=2001:db8:1::2=vista
[ "$(field uri http)" = "/$old_before" ] && pass "by host, IPv6: a host entry (vista) keeps the old" || fail "by host v6 host" "$(field uri http)"
[ "$(conflicts 'kept old (policy vista)')" = 1 ] && pass "by host, IPv6: the weird names vista" || fail "by host v6 weird" "$(cat "$T/o/weird.log")"
run http6-before --set tcp.overlap=first --set tcp.overlap_by_host=2001:db8::1=linux
[ "$(field uri http)" = "/$old_before" ] && pass "by host, IPv6: the client's entry does not apply to the request" || fail "by host v6 client" "$(field uri http)"
# the table from a file (@FILE): one or more entries a line, comments, blank lines
printf '# overlap policies by host\n10.0.0.0/8=bsd   # the LAN\n\n10.0.0.0/24=windows, 10.0.0.2/31=solaris\n2001:db8::/32=linux\n' >"$T/hosts.txt"
run http-before --set "tcp.overlap_by_host=@$T/hosts.txt"
[ "$(field uri http)" = "/$old_before" ] && [ "$(conflicts 'kept old (policy solaris)')" = 1 ] \
    && pass "by host, @FILE: the file's entries (the /31 solaris) as given inline" || fail "by host @FILE" "$(field uri http)"
printf '10.0.0.0/8=bsd\n10.0.0.2=nope\n' >"$T/bad-hosts.txt"
msg=$("$ENG" -r "$T/p/http-before.pcap" -q --set "tcp.overlap_by_host=@$T/bad-hosts.txt" 2>&1 >/dev/null); rc=$?
case "$rc:$msg" in
    2:*"entry 2 '10.0.0.2=nope'"*) pass "by host, @FILE: a bad entry names it (exit 2)" ;;
    *) fail "by host @FILE bad" "exit $rc: $msg" ;;
esac
msg=$("$ENG" -r "$T/p/http-before.pcap" -q --set "tcp.overlap_by_host=@$T/absent.txt" 2>&1 >/dev/null); rc=$?
case "$rc:$msg" in
    2:*"cannot read $T/absent.txt"*) pass "by host, @FILE: a file that cannot be read is a usage error" ;;
    *) fail "by host @FILE absent" "exit $rc: $msg" ;;
esac
# with worker threads each worker has the table
run http-before -j 2 --set tcp.overlap=first --set tcp.overlap_by_host=10.0.0.2=linux
[ "$(field uri http)" = "/$new_before" ] && pass "by host, -j 2: the same" || fail "by host -j 2" "$(field uri http)"
# the reply goes to the client (10.0.0.1): the client's entry counts for it
run http-resp-before --set tcp.overlap_by_host=10.0.0.1=windows,10.0.0.2=first
[ "$(field status_msg http)" = "$new_before" ] && pass "by host: the reply follows the client's policy (windows)" || fail "by host reply" "$(field status_msg http)"
run http-resp-before --set tcp.overlap_by_host=10.0.0.1=first,10.0.0.2=windows
[ "$(field status_msg http)" = "$old_before" ] && pass "by host: the server's entry does not apply to the reply" || fail "by host reply 2" "$(field status_msg http)"
[ "$(conflicts 'resp bytes .* kept old (policy first)')" = 1 ] && pass "by host: the reply's weird names the client's policy" || fail "by host reply weird" "$(cat "$T/o/weird.log")"
run smtp-tail --set tcp.overlap_by_host=0.0.0.0/0=hpux11
[ "$(field mailfrom smtp)" = "$new_tail@example.com" ] && pass "by host: 0.0.0.0/0 covers every IPv4 host" || fail "by host /0" "$(field mailfrom smtp)"
run smtp-tail --set tcp.overlap=hpux11 --set tcp.overlap_by_host=::/0=first
[ "$(field mailfrom smtp)" = "$new_tail@example.com" ] && pass "by host: an IPv6 entry does not match an IPv4 host" || fail "by host v6" "$(field mailfrom smtp)"

# the tcp.overlap event: kept, policy, delivered besides dir, offset, len, conflict
ev='local engine = require "engine"
engine.on("tcp.overlap", function(f, ev)
  print(ev.dir, ev.offset, ev.len, tostring(ev.conflict), ev.kept, ev.policy, tostring(ev.delivered))
end)'
got=$("$ENG" -r "$T/p/http-exact.pcap" -e "$ev" --set tcp.overlap=hpux11 2>"$T/err" | tr '\t' ' ')
[ "$got" = "orig 9 8 true new hpux11 false" ] && pass "tcp.overlap event: kept new, policy hpux11, not delivered" || fail "event exact" "'$got'"
got=$("$ENG" -r "$T/p/http-delivered.pcap" -e "$ev" --set tcp.overlap=last 2>"$T/err" | tr '\t' ' ')
[ "$got" = "orig 9 8 true old last true" ] && pass "tcp.overlap event: delivered bytes, kept old even with last" || fail "event delivered" "'$got'"

# bad values: usage errors that say what is wrong
"$ENG" -r "$T/p/http-exact.pcap" --set tcp.overlap=solaris9 >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "expected a policy: first, last, linux" "$T/err" && pass "tcp.overlap=solaris9: usage error listing the policies" || fail "bad policy" "$(cat "$T/err")"
"$ENG" -r "$T/p/http-exact.pcap" --set tcp.overlap_by_host=10.0.0.0/8=bsd,10.1.0.0/33=linux >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "entry 2 '10.1.0.0/33=linux': prefix length must be 0 to 32" "$T/err" && pass "tcp.overlap_by_host: a bad entry is named" || fail "bad host entry" "$(cat "$T/err")"
"$ENG" -r "$T/p/http-exact.pcap" --set tcp.overlap_by_host=10.0.0.1=beos >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "entry 1 '10.0.0.1=beos': unknown name (one of: first, last" "$T/err" && pass "tcp.overlap_by_host: an unknown policy is named" || fail "bad host policy" "$(cat "$T/err")"

# a 4-tuple used again after FIN and after RST: a new flow with the new bytes
for how in fin rst; do
    run "reuse-$how"
    [ "$(field uri http)" = "/first /second" ] && pass "reuse after $how: both requests" || fail "reuse $how uris" "$(field uri http)"
    nuid=$(grep -o '"uid":"[^"]*"' "$T/o/conn.log" | sort -u | wc -l)
    [ "$nuid" -eq 2 ] && pass "reuse after $how: two flows in conn.log" || fail "reuse $how flows" "$nuid uids"
    second=$(awk '$1 == "S" && $6 == "orig" { print $7 }' "$T/o/streams.txt" | sed -n 2p)
    [ "$second" = "$(hex 'GET /second HTTP/1.1\r\nHost: www.example.com\r\n\r\n')" ] && [ "$(stream_errors)" = 0 ] \
        && pass "reuse after $how: the second flow's stream is the new request, no gap" || fail "reuse $how stream" "$second"
done

# picked up mid-stream (no handshake in the capture): the request from its first byte
run midstream
[ "$(field uri http)" = "/midstream" ] && pass "mid-stream pickup: the request" || fail "midstream uri" "$(field uri http)"
[ "$(orig_hex 80)" = "$(hex 'GET /midstream HTTP/1.1\r\nHost: www.example.com\r\n\r\n')" ] && [ "$(stream_errors)" = 0 ] \
    && pass "mid-stream pickup: the stream bytes, no gap" || fail "midstream stream" "$(orig_hex 80)"
grep -q '"history":"Dd' "$T/o/conn.log" && pass "mid-stream pickup: conn history starts with data, no handshake letters" || fail "midstream history" "$(cat "$T/o/conn.log")"

# tshark, when present, reads the same segments: O and N (the 2nd and 3rd client data
# segments) at the places the case says (relative seq = 6 + position in U, length)
if command -v tshark >/dev/null 2>&1; then
    for c in exact:10:8:10:8 before:12:6:8:7 after:10:4:10:8 inside:8:12:11:4 tail:8:6:11:7; do
        name=${c%%:*} g=${c#*:}
        got=$(tshark -r "$T/p/http-$name.pcap" -Y 'tcp.len > 0 && tcp.srcport == 40000' -T fields \
              -e tcp.seq -e tcp.len 2>/dev/null | sed -n 2,3p | tr '\t\n' '::' | sed 's/:$//')
        [ "$got" = "$g" ] && pass "tshark: http-$name's O and N are seq:len $g" || fail "tshark $name" "'$got' != '$g'"
    done
    bad=$(tshark -r "$T/p/http6-before.pcap" -o tcp.check_checksum:TRUE -T fields -e ipv6.dst -e tcp.checksum.status 2>/dev/null \
          | grep -vc '^2001:db8[:0-9a-f]*	1$')
    [ "$bad" = 0 ] && pass "tshark: http6-before is IPv6 with good TCP checksums" || fail "tshark v6" "$bad packets not IPv6 with a good checksum"
else
    skip "tshark checks" "tshark is not installed"
fi
finish
