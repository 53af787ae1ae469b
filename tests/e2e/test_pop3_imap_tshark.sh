#!/bin/sh
# End-to-end: the POP3 and IMAP decoders against tshark and known values, on the real
# captures pcaps/pop3-dovecot.pcap and pcaps/imap-dovecot.pcap (dovecot, curl, python;
# tests/tools/make-mail-pcaps.sh) and on mutated copies made by build/tools/pcapmut.
#
#   sh tests/e2e/test_pop3_imap_tshark.sh [BUILD_DIR]        (default: build)
#
# Checks, per capture:
#   <cap> commands     the engine's pop3.command (command, arg) / imap.command (tag,
#                      command) in order equal tshark's pop.request / imap.request rows,
#                      leaving out the rows tshark makes of SASL responses, literal
#                      continuation lines and IMAP's DONE (they are not commands)
#   <cap> auth         the pop3.auth / imap.auth events equal the known logins
#   <cap> subjects     (IMAP) the set of mail.message subjects equals tshark's imf.subject
#                      set, for subjects that are not RFC 2047 encoded (tshark does not
#                      decode them; tshark's IMF on POP3 bodies gives nothing here)
#   <cap>/<mutation> attachments   file.done sha256 of the attachments equal the
#                      sha256 of the attached files (report.bin, base64; notes.txt,
#                      quoted-printable), unmutated, after --split 1 and after
#                      --split 3 --reorder 7 (a script attaches the decoder by port: the
#                      content probes see one segment at a time)
# Also runs every POP3 and IMAP capture that ../shared/pcaps/INDEX.tsv lists and compares its
# commands with tshark's (skipped, saying so, when the folder is absent).
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
PCAPMUT="$B/tools/pcapmut"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
. "$top/tests/e2e/harness.sh"

SHA_BIN=7e161853efd32eae1c2817bf70571975348aeae9a7826fa344b22d92e911d5ca   # report.bin
SHA_TXT=57761a6232693d13a1ec39b74c1e57ad8b80be886ff317462cc2080138535a6a   # notes.txt

if [ ! -x "$ENGINE" ]; then
    fail setup "$ENGINE is missing (make all)"
    finish
fi

cat >"$tmp/print.lua" <<'LUA'
local engine = require "engine"
local function s(v) if v == nil then return "-" end return tostring(v) end
engine.on("flow.start", function(flow)
  if os.getenv("FORCE_SERVICE") then
    if flow.resp_p == 110 then flow:set_service("pop3") elseif flow.resp_p == 143 then flow:set_service("imap") end
  end
end)
engine.on("pop3.command", function(f, ev) print("CMD\t" .. ev.command .. "\t" .. ev.arg) end)
engine.on("imap.command", function(f, ev) print("CMD\t" .. ev.tag .. "\t" .. ev.command) end)
engine.on("pop3.auth", function(f, ev)
  print("AUTH\t" .. ev.mechanism .. "\t" .. s(ev.user) .. "\t" .. s(ev.password) .. "\t" .. s(ev.success)) end)
engine.on("imap.auth", function(f, ev)
  print("AUTH\t" .. ev.mechanism .. "\t" .. s(ev.user) .. "\t" .. s(ev.password) .. "\t" .. s(ev.success)) end)
engine.on("mail.message", function(f, ev) print("SUBJ\t" .. s(ev.subject)) end)
engine.on("file.done", function(f, ev) print("FILE\t" .. s(ev.sha256) .. "\t" .. ev.size .. "\t" .. ev.missing_bytes) end)
LUA

run_engine() { # capture out [force]
    if [ -n "$3" ]; then
        FORCE_SERVICE=1 "$ENGINE" -q -r "$1" -s "$tmp/print.lua" >"$2" 2>"$tmp/err"
    else
        "$ENGINE" -q -r "$1" -s "$tmp/print.lua" >"$2" 2>"$tmp/err"
    fi
}

check_attachments() { # label out
    if grep -q "^FILE	$SHA_BIN	" "$2" && grep -q "^FILE	$SHA_TXT	" "$2"; then
        pass "$1 attachments"
    else
        fail "$1 attachments" "sha256 of report.bin or notes.txt not among file.done: $(grep '^FILE' "$2" | cut -f2 | tr '\n' ' ')"
    fi
}

check_auth() { # label out want
    grep '^AUTH' "$2" >"$tmp/auth.got"
    if cmp -s "$tmp/auth.got" "$3"; then
        pass "$1 auth"
    else
        fail "$1 auth" "$(diff "$3" "$tmp/auth.got" | head -n 4 | tr '\n' ' ')"
    fi
}

# tshark takes lines of an APPEND literal for requests: only rows whose second word is an
# IMAP command (RFC 9051, RFC 3501 and common extensions) are compared
IMAP_CMDS='^(CAPABILITY|NOOP|LOGOUT|STARTTLS|AUTHENTICATE|LOGIN|ENABLE|SELECT|EXAMINE|CREATE|DELETE|RENAME|SUBSCRIBE|UNSUBSCRIBE|LIST|LSUB|NAMESPACE|STATUS|APPEND|IDLE|CHECK|CLOSE|UNSELECT|EXPUNGE|SEARCH|FETCH|STORE|COPY|MOVE|UID|ID|GETQUOTA|GETQUOTAROOT|SETQUOTA|GETACL|SETACL|MYRIGHTS|COMPRESS|XLIST)$'
POP3_CMDS='^(USER|PASS|APOP|AUTH|STAT|LIST|RETR|DELE|NOOP|RSET|QUIT|TOP|UIDL|CAPA|STLS|UTF8|LANG)$'

# compare_commands PROTO CAPTURE NAME ENGINE_OUT [subseq]: the engine's commands equal
# tshark's requests, in order; with subseq, tshark's are a subsequence of the engine's (on
# shared captures tshark loses sync after some IMAP literals and misses the commands there)
compare_commands() {
    proto=$1 cap=$2 name=$3 out=$4 mode=${5:-}
    grep '^CMD' "$out" | cut -f2- >"$tmp/eng.cmd"
    if [ "$proto" = pop3 ]; then
        tshark -r "$cap" -Y pop.request -T fields -E separator=/t -e pop.request.command \
            -e pop.request.parameter 2>/dev/null >"$tmp/ts.cmd.raw"
        # keep rows whose command is a POP3 verb (SASL responses are not)
        # (tshark keeps the client's case, the engine upper-cases the verb)
        awk -F'\t' -v re="$POP3_CMDS" 'toupper($1) ~ re { print toupper($1) "\t" $2 }' "$tmp/ts.cmd.raw" >"$tmp/ts.cmd"
    else
        # imap.request is the whole line: its first two words are tag and command;
        # rows without imap.request.command are continuation lines / SASL / DONE
        tshark -r "$cap" -Y imap.request -T fields -E separator=/t -e imap.request.command \
            -e imap.request 2>/dev/null |
            awk -F'\t' -v re="$IMAP_CMDS" '$1 != "" && $1 !~ /^[{~]/ { split($2, w, " "); c = toupper(w[2]); if (c ~ re) print w[1] "\t" c }' >"$tmp/ts.cmd"
    fi
    if [ ! -s "$tmp/ts.cmd" ]; then
        fail "$name commands" "tshark found no requests"
    elif cmp -s "$tmp/eng.cmd" "$tmp/ts.cmd"; then
        pass "$name commands ($(wc -l <"$tmp/ts.cmd") commands)"
    elif [ "$mode" = subseq ] && awk 'NR == FNR { t[++n] = $0; next } i < n && $0 == t[i + 1] { i++ }
            END { exit i == n ? 0 : 1 }' "$tmp/ts.cmd" "$tmp/eng.cmd"; then
        pass "$name commands ($(wc -l <"$tmp/ts.cmd") of tshark's among the engine's $(wc -l <"$tmp/eng.cmd"), in order)"
    else
        fail "$name commands" "$(diff "$tmp/ts.cmd" "$tmp/eng.cmd" | head -n 6 | tr '\n' ' ')"
    fi
}

do_capture() { # proto capture
    proto=$1 cap=$2 name=$(basename "$2")
    if [ ! -f "$cap" ]; then
        fail "$name" "capture missing"
        return
    fi
    run_engine "$cap" "$tmp/eng.out" || { fail "$name" "engine failed: $(head -n 1 "$tmp/err")"; return; }
    # commands against tshark
    if command -v tshark >/dev/null 2>&1; then
        compare_commands "$proto" "$cap" "$name" "$tmp/eng.out"
        if [ "$proto" = imap ]; then
            tshark -r "$cap" -Y imf -T fields -e imf.subject 2>/dev/null | tr ',' '\n' |
                grep -v '=?' | grep -v '^$' | sort -u >"$tmp/ts.subj"
            grep '^SUBJ' "$tmp/eng.out" | cut -f2 | grep -F -x -f "$tmp/ts.subj" | sort -u >"$tmp/eng.subj"
            if [ -s "$tmp/ts.subj" ] && cmp -s "$tmp/eng.subj" "$tmp/ts.subj"; then
                pass "$name subjects"
            else
                fail "$name subjects" "engine: $(tr '\n' '|' <"$tmp/eng.subj") tshark: $(tr '\n' '|' <"$tmp/ts.subj")"
            fi
        fi
    else
        skip "$name commands" "tshark is not installed"
    fi
    if [ "$proto" = pop3 ]; then
        printf 'AUTH\tCRAM-MD5\tbob\t-\ttrue\nAUTH\tUSER\tbob\ts3cret\ttrue\nAUTH\tAPOP\tbob\t-\ttrue\nAUTH\tPLAIN\tbob\ts3cret\ttrue\nAUTH\tUSER\tbob\twrong\tfalse\n' >"$tmp/auth.want"
    else
        printf 'AUTH\tCRAM-MD5\tbob\t-\ttrue\nAUTH\tLOGIN\tbob\ts3cret\ttrue\nAUTH\tLOGIN\tbob\twr"ong\tfalse\nAUTH\tPLAIN\tbob\ts3cret\ttrue\nAUTH\tPLAIN\tbob\ts3cret\ttrue\nAUTH\tLOGIN\tbob\ts3cret\ttrue\n' >"$tmp/auth.want"
    fi
    check_auth "$name" "$tmp/eng.out" "$tmp/auth.want"
    check_attachments "$name" "$tmp/eng.out"
    if [ ! -x "$PCAPMUT" ]; then
        fail "$name mutations" "$PCAPMUT is missing (make all)"
        return
    fi
    for m in "split1:--split 1" "split3-reorder7:--split 3 --reorder 7"; do
        mname=${m%%:*}
        # shellcheck disable=SC2086
        if ! "$PCAPMUT" ${m#*:} "$cap" "$tmp/mut.pcap" 2>"$tmp/mut.err"; then
            fail "$name/$mname" "pcapmut failed: $(head -n 1 "$tmp/mut.err")"
            continue
        fi
        run_engine "$tmp/mut.pcap" "$tmp/mut.out" force || { fail "$name/$mname" "engine failed"; continue; }
        check_attachments "$name/$mname" "$tmp/mut.out"
        check_auth "$name/$mname" "$tmp/mut.out" "$tmp/auth.want"
    done
}

do_capture pop3 pcaps/pop3-dovecot.pcap
do_capture imap pcaps/imap-dovecot.pcap

# Redis answers "+OK" as a POP3 server greets: detection asks the client's first command
# too (pop3_probe_pair), so neither capture is POP3, even on port 110 (Zeek: no service)
for cap in pcaps/redis-cli-6379.pcap pcaps/redis-cli-110.pcap; do
    rm -rf "$tmp/rd"
    if ! "$ENGINE" -q -r "$cap" -o "$tmp/rd" 2>"$tmp/err"; then
        fail "$(basename "$cap")" "engine failed: $(head -n 1 "$tmp/err")"
        continue
    fi
    n=$(grep -c '"proto":"tcp"' "$tmp/rd/conn.log" 2>/dev/null || echo 0)
    svc=$(grep -c '"service"' "$tmp/rd/conn.log" 2>/dev/null || true)
    if [ "$n" -eq 5 ] && [ "${svc:-0}" -eq 0 ] && [ ! -e "$tmp/rd/pop3.log" ]; then
        pass "$(basename "$cap"): 5 Redis connections, none taken for POP3"
    else
        fail "$(basename "$cap")" "$n TCP records, $svc with a service$([ -e "$tmp/rd/pop3.log" ] && echo ', a pop3.log')"
    fi
done

shared=${PCAPS:-$top/../shared/pcaps}
found=0
if [ -f "$shared/INDEX.tsv" ]; then
    # every POP3 and IMAP capture of the index: the engine runs, and its commands equal
    # tshark's (up to STARTTLS/STLS, after which neither decodes the mail protocol)
    for rel in $(awk -F'\t' 'NR > 1 && $2 ~ /(^|,)(pop|imap)(,|$)/ { print $1 }' "$shared/INDEX.tsv"); do
        cap=$shared/$rel
        [ -f "$cap" ] || continue
        found=1
        case ",$(awk -F'\t' -v r="$rel" '$1 == r { print $2 }' "$shared/INDEX.tsv")," in
            *,pop,*) proto=pop3 ;;
            *) proto=imap ;;
        esac
        if ! run_engine "$cap" "$tmp/sh.out"; then
            fail "shared/$rel" "engine failed: $(head -n 1 "$tmp/err")"
            continue
        fi
        pass "shared/$rel runs ($(grep -c '^CMD' "$tmp/sh.out") commands, $(grep -c '^FILE' "$tmp/sh.out") files)"
        if command -v tshark >/dev/null 2>&1; then
            compare_commands "$proto" "$cap" "shared/$rel" "$tmp/sh.out" subseq
        fi
    done
fi
[ "$found" = 1 ] || skip "shared captures" "no POP3 or IMAP capture listed in $shared/INDEX.tsv"
finish
