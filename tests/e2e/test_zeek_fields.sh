#!/bin/sh
# End-to-end: Zeek's smtp.log and http.log fields on the captures made by
# tests/tools/make-zeek-fields-pcaps.sh, checked against tshark's view of the same bytes.
#
#   sh tests/e2e/test_zeek_fields.sh [BUILD_DIR]        (default: build)
#
# The engine runs with the default scripts (-o DIR); then:
#   smtp transactions  RFC 5321 3.3 applied to tshark's commands and reply codes (a MAIL
#       answered 2xx starts a transaction, a RCPT answered 2xx inside one adds its address,
#       the end of DATA, RSET, HELO/EHLO end it) gives, per transaction, the sender and
#       the recipients: they must equal smtp.log's mailfrom and rcptto, in order.
#   smtp last_reply    the code of the reply after the message (tshark) starts the message
#       record's last_reply.
#   smtp weirds        weird.log holds exactly smtp_mail_transaction_invalid (the RCPT
#       before MAIL) and smtp_nested_mail_transaction (the second MAIL).
#   smtp mutations   1-byte segments (and reordered): the same records and weirds.
#   http credentials   tshark's http.authbasic "user:password" of each request equals
#       http.log's username ":" password with --set http.capture_password=true, and
#       http.log has no password without it.
#   http info_code     the last 1xx code tshark shows before a final response equals the
#       record's info_code.
# The field-list (golden) comparison with Zeek's logs is tests/spec/zeek_fields_spec.lua.
# Needs tshark; a missing capture or tshark is a SKIP. Ends with "N passed, M failed".

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0 skip=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
sk() { echo "SKIP $*"; skip=$((skip + 1)); }

# field F of JSON lines (strings, numbers, lists written as they are)
field() { sed -n "s/.*\"$1\":\(\"\([^\"\\\\]\|\\\\.\)*\"\|\[[^]]*\]\|[-0-9.a-z]*\).*/\1/p" "$2"; }

if ! command -v tshark >/dev/null 2>&1; then
    sk "zeek fields: tshark is not installed"
    echo "$pass passed, $fail failed, $skip skipped"
    exit 0
fi

# ---- SMTP ---------------------------------------------------------------------------------
P=pcaps/smtp-python-invalid.pcap
if [ -f "$P" ]; then
    mkdir -p "$tmp/s"
    "$ENGINE" -q -r "$P" -s scripts/default.lua -o "$tmp/s" >/dev/null 2>&1 </dev/null
    tshark -n -r "$P" -d tcp.port==2525,smtp -Y smtp -T fields -E separator=/t \
        -e smtp.req.command -e smtp.req.parameter -e smtp.response.code 2>/dev/null >"$tmp/ts"
    # RFC 5321 on tshark's lines: a command, then the first reply code after it
    awk -F'\t' '
        function addr(p) { sub(/^[A-Za-z]+:[ ]*</, "", p); sub(/>.*/, "", p); return p }
        function flush() { if (from != "") print from " " rc; from = ""; rc = ""; open = 0 }
        $1 != "" { cmd = toupper($1); par = $2; want = 1; next }
        $3 != "" && want {
            want = 0; ok = ($3 ~ /^2/)
            if (cmd == "MAIL" && ok) { if (open) flush(); from = addr(par); open = 1 }
            else if (cmd == "RCPT" && ok && open) { a = addr(par); if (index("," rc ",", "," a ",") == 0) rc = rc (rc == "" ? "" : ",") a }
            else if ((cmd == "RSET" || cmd == "EHLO" || cmd == "HELO") && ok) flush()
            else if (cmd == "DATA" && $3 == "354") { cmd = "."; want = 1; lastdot = 1 }
            else if (cmd == ".") { dotcode = $3; flush() }
        }
        END { flush(); print "DOT " dotcode }' "$tmp/ts" >"$tmp/want"
    grep -v '^DOT ' "$tmp/want" >"$tmp/want.tx"
    field mailfrom "$tmp/s/smtp.log" | tr -d '"' >"$tmp/mf"
    field rcptto "$tmp/s/smtp.log" | tr -d '"[]' >"$tmp/rc"
    paste -d' ' "$tmp/mf" "$tmp/rc" >"$tmp/got.tx"
    if [ -s "$tmp/want.tx" ] && cmp -s "$tmp/want.tx" "$tmp/got.tx"; then
        ok "smtp transactions: $(tr '\n' ';' <"$tmp/got.tx")"
    else
        ko "smtp transactions: tshark+RFC 5321 [$(tr '\n' ';' <"$tmp/want.tx")] engine [$(tr '\n' ';' <"$tmp/got.tx")]"
    fi
    dot=$(sed -n 's/^DOT //p' "$tmp/want")
    lr=$(grep '"subject"' "$tmp/s/smtp.log" | field last_reply /dev/stdin | tr -d '"')
    case "$lr" in
        "$dot "*) [ -n "$dot" ] && ok "smtp last_reply: $lr" || ko "smtp last_reply: tshark shows no reply to the message" ;;
        *) ko "smtp last_reply: engine [$lr], tshark's code $dot" ;;
    esac
    w=$(field name "$tmp/s/weird.log" | tr -d '"' | tr '\n' ' ')
    [ "$w" = "smtp_mail_transaction_invalid smtp_nested_mail_transaction " ] &&
        ok "smtp weirds: $w" || ko "smtp weirds: [$w]"
    # the same records and weirds from 1-byte segments, reordered (build/tools/pcapmut)
    for margs in "--split 1" "--split 1 --reorder 3"; do
        rm -rf "$tmp/m"; mkdir -p "$tmp/m"
        if ! "$B/tools/pcapmut" $margs "$P" "$tmp/m.pcap" 2>/dev/null; then
            ko "smtp $margs: pcapmut failed"; continue
        fi
        "$ENGINE" -q -r "$tmp/m.pcap" -s scripts/default.lua -o "$tmp/m" >/dev/null 2>&1 </dev/null
        for f in mailfrom rcptto last_reply to cc path; do field $f "$tmp/s/smtp.log"; done >"$tmp/r0"
        for f in mailfrom rcptto last_reply to cc path; do field $f "$tmp/m/smtp.log"; done >"$tmp/r1"
        w1=$(field name "$tmp/m/weird.log" | tr -d '"' | tr '\n' ' ')
        if [ -s "$tmp/r0" ] && cmp -s "$tmp/r0" "$tmp/r1" && [ "$w1" = "$w" ]; then
            ok "smtp $margs: same records and weirds"
        else
            ko "smtp $margs: records or weirds differ ([$w1])"
        fi
    done
else
    sk "smtp: no $P"
fi

# ---- HTTP ---------------------------------------------------------------------------------
P=pcaps/http-basic-info.pcap
if [ -f "$P" ]; then
    mkdir -p "$tmp/h0" "$tmp/h1"
    "$ENGINE" -q -r "$P" -s scripts/default.lua -o "$tmp/h0" >/dev/null 2>&1 </dev/null
    "$ENGINE" -q -r "$P" -s scripts/default.lua --set http.capture_password=true -o "$tmp/h1" \
        >/dev/null 2>&1 </dev/null
    tshark -n -r "$P" -Y http -T fields -E separator=/t -e tcp.stream -e http.authbasic \
        -e http.response.code 2>/dev/null >"$tmp/th"
    cut -f2 "$tmp/th" | sed '/^$/d' >"$tmp/want.cred"
    field username "$tmp/h1/http.log" | tr -d '"' >"$tmp/u"
    field password "$tmp/h1/http.log" | tr -d '"' >"$tmp/p"
    paste -d: "$tmp/u" "$tmp/p" >"$tmp/got.cred"
    if [ -s "$tmp/want.cred" ] && cmp -s "$tmp/want.cred" "$tmp/got.cred"; then
        ok "http credentials: $(tr '\n' ' ' <"$tmp/got.cred")"
    else
        ko "http credentials: tshark [$(tr '\n' ' ' <"$tmp/want.cred")] engine [$(tr '\n' ' ' <"$tmp/got.cred")]"
    fi
    if grep -q '"password"' "$tmp/h0/http.log"; then ko "http password logged without the setting"
    else ok "http no password without http.capture_password"; fi
    # per final response: the last 1xx before it (or "-")
    awk -F'\t' '$3 ~ /^1/ && $3 != "101" { info[$1] = $3; next }
        $3 != "" { print (($1 in info) ? info[$1] : "-"); delete info[$1] }' "$tmp/th" >"$tmp/want.info"
    awk '{ if (match($0, /"info_code":[0-9]+/)) print substr($0, RSTART + 12, RLENGTH - 12); else print "-" }' \
        "$tmp/h0/http.log" >"$tmp/got.info"
    if grep -q '^1' "$tmp/want.info" && cmp -s "$tmp/want.info" "$tmp/got.info"; then
        ok "http info_code: $(tr '\n' ' ' <"$tmp/got.info")"
    else
        ko "http info_code: tshark [$(tr '\n' ' ' <"$tmp/want.info")] engine [$(tr '\n' ' ' <"$tmp/got.info")]"
    fi
else
    sk "http: no $P"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
