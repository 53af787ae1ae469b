#!/bin/sh
# End-to-end: the SMTP decoder against tshark, on the SMTP captures in pcaps/ (and in the
# shared capture folder ../shared/pcaps/smtp/ or $PCAPS/smtp/, when present).
#
#   sh tests/e2e/test_smtp_tshark.sh [BUILD_DIR]        (default: build)
#
# For every capture, the engine runs with a small policy (written below) that prints the
# SMTP events as tagged lines, and tshark prints the same things from its SMTP and IMF
# dissectors; per TCP connection (keyed by the client port) and per tag the sequences must
# be equal:
#   C  command verbs (upper-case; tshark splits STARTTLS into "STAR" "TLS", undone here)
#   P  command parameters (non-empty ones; tshark leaves empty ones out of its lists; tshark
#      joins several in one segment with "|", so a parameter holding "|" would not compare)
#   R  reply codes, one per reply line, runs of the same code counted once (tshark shows
#      one code for a multi-line reply that came in one segment, one per line otherwise)
#   U/W/UP  AUTH LOGIN user / password and AUTH PLAIN credentials, base64 as tshark shows them
#   S/F  Subject and From headers as sent (mail.header raw) against imf.subject / imf.from
# Then, for the captures made by tests/tools/make-mail-pcaps.sh, the sha256 of every
# attachment (file.done) must equal sha256sum of the attached file (a base64 part and a
# quoted-printable part), and the whole SMTP transcript (commands, replies, auth, message
# fields, file digests; per connection and per tag, since the interleaving of the two
# directions changes with the segmentation) of mutated copies (build/tools/pcapmut --split 1;
# --split 3 --reorder 7; --split 1 --reorder 3; --dup 0.3,5) must equal that of the capture
# itself (the sha256 checks are repeated on them). The service is found by content
# detection in every run (the policy can force it with --set test.force=1).
#
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
PCAPMUT="$B/tools/pcapmut"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
res="$tmp/results"
: >"$res"

say() { echo "$*" | tee -a "$res"; }
finish() {
    p=$(grep -c '^PASS' "$res")
    f=$(grep -c '^FAIL' "$res")
    echo "$p passed, $f failed"
    [ "$f" -eq 0 ]
    exit $?
}

for x in "$ENGINE" "$PCAPMUT"; do
    if [ ! -x "$x" ]; then
        say "FAIL setup: $x not built (make)"
        finish
    fi
done
HAVE_TSHARK=1
command -v tshark >/dev/null 2>&1 || HAVE_TSHARK=0

# ---- the policy -------------------------------------------------------------------------
cat >"$tmp/policy.lua" <<'EOF'
local engine = require "engine"
engine.config_key("test.out", nil, "test harness: where the fields are written")
engine.config_key("test.force", nil, "test harness: write even without tshark")
local out = assert(io.open(engine.config["test.out"], "w"))
local force = tostring(engine.config["test.force"]) == "1"
local function key(flow) return tostring(flow.orig_p) end
local function w(flow, tag, v) out:write(key(flow), " ", tag, " ", v, "\n") end
local function esc(s) return (s:gsub("[%c\\]", function(c) return string.format("\\x%02x", c:byte()) end)) end
if force then
  engine.on("flow.start", function(flow)
    local p = flow.resp_p
    if p == 25 or p == 587 or p == 2525 then flow:set_service("smtp") end
  end)
end
engine.on("smtp.command", function(flow, ev)
  w(flow, "C", ev.verb)
  if ev.arg ~= "" then w(flow, "P", esc(ev.arg)) end
end)
engine.on("smtp.reply", function(flow, ev)
  local _, n = ev.text:gsub("\n", "")
  for _ = 0, n do w(flow, "R", ev.code) end
  w(flow, "X", ev.code .. " " .. esc(ev.text))
end)
engine.on("smtp.auth", function(flow, ev)
  local u, p = ev.user, ev.password
  if ev.mechanism == "LOGIN" then
    if u then w(flow, "U", engine.b64encode(u)) end
    if p then w(flow, "W", engine.b64encode(p)) end
  elseif ev.mechanism == "PLAIN" and u and p then
    w(flow, "UP", engine.b64encode("\0" .. u .. "\0" .. p))
  end
  w(flow, "A", string.format("%s %s %s %s", ev.mechanism, esc(u or "-"), esc(p or "-"), tostring(ev.success)))
end)
engine.on("smtp.mail_from", function(flow, ev) w(flow, "M", esc(ev.addr) .. " " .. esc(ev.params)) end)
engine.on("smtp.rcpt_to", function(flow, ev) w(flow, "T", esc(ev.addr) .. " " .. esc(ev.params)) end)
engine.on("smtp.starttls", function(flow) w(flow, "TLS", "") end)
engine.on("mail.header", function(flow, ev)
  local n = ev.name:lower()
  if n == "subject" then w(flow, "S", esc(ev.raw)) end
  if n == "from" then w(flow, "F", esc(ev.raw)) end
end)
engine.on("mail.message", function(flow, ev)
  w(flow, "MSG", esc(string.format("%s|%s|%s|%s|%s", ev.from or "-", ev.to or "-", ev.cc or "-",
    ev.subject or "-", ev.message_id or "-")))
end)
engine.on("file.done", function(flow, ev)
  if flow then w(flow, "H", ev.sha256 .. " " .. ev.size .. " " .. ev.missing_bytes) end
end)
engine.on("engine.done", function() out:close() end)
EOF

# run_engine PCAP OUT [force]
run_engine() {
    timeout 120 "$ENGINE" -q -r "$1" -s "$tmp/policy.lua" --set test.out="$2" \
        --set test.force="${3:-0}" -o "$tmp" </dev/null >"$2.stdout" 2>"$2.stderr"
}

# tshark's view, as the same tagged lines
run_tshark() {
    timeout 300 tshark -r "$1" -d tcp.port==2525,smtp -d tcp.port==587,smtp -Y "smtp || imf" \
        -T fields -E separator=/t -E occurrence=a -E aggregator='|' \
        -e tcp.srcport -e tcp.dstport -e smtp.req -e smtp.req.command -e smtp.req.parameter \
        -e smtp.response.code -e smtp.auth.username -e smtp.auth.password \
        -e smtp.auth.username_password -e imf.subject -e imf.from 2>/dev/null |
    awk -F'\t' '
    function esc(s,   o, i, c) {
        o = ""
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c ~ /[[:cntrl:]]/ || c == "\\") o = o sprintf("\\x%02x", ord[c]); else o = o c
        }
        return o
    }
    function emit(k, tag, list,   n, a, i) {
        if (list == "") return
        n = split(list, a, "|")
        for (i = 1; i <= n; i++) if (a[i] != "") print k, tag, a[i]
    }
    BEGIN { for (i = 1; i < 128; i++) ord[sprintf("%c", i)] = i }
    {
        # the client port: requests go to the server, replies come from it
        k = ($6 != "" && $3 == "") ? $2 : $1
        if ($4 != "") {
            n = split($4, cmd, "|"); m = split($5, par, "|")
            for (i = 1; i <= n; i++) {
                c = toupper(cmd[i])
                if (c == "STAR" && par[i] == "TLS") { c = "STARTTLS"; par[i] = "" }
                print k, "C", c
            }
            for (i = 1; i <= m; i++) if (par[i] != "") print k, "P", esc(par[i])
        }
        emit(k, "R", $6)
        emit(k, "U", $7)
        emit(k, "W", $8)
        emit(k, "UP", $9)
        if ($10 != "") print k, "S", esc($10)
        if ($11 != "") print k, "F", esc($11)
    }'
}

# per connection and tag, in order
view() { grep -E "^[0-9]+ ($2) " "$1" | sort -s -k1,1n; }

uniq_r() { if [ "$1" = R ]; then uniq; else cat; fi; }

compare_tshark() { # NAME PCAP
    name=$1 pcap=$2
    d="$tmp/$name"
    mkdir -p "$d"
    if ! run_engine "$pcap" "$d/engine.txt"; then
        say "FAIL $name/tshark: engine failed: $(head -c 300 "$d/engine.txt.stderr")"
        return
    fi
    if [ "$HAVE_TSHARK" -eq 0 ]; then
        say "SKIP $name/tshark: tshark not installed"
        return
    fi
    run_tshark "$pcap" >"$d/tshark.txt"
    if [ ! -s "$d/tshark.txt" ]; then
        say "SKIP $name/tshark: tshark dissected no SMTP"
        return
    fi
    bad=
    for tags in C P R "U|W|UP" S F; do
        view "$d/engine.txt" "$tags" | uniq_r "$tags" >"$d/e.txt"
        view "$d/tshark.txt" "$tags" | uniq_r "$tags" >"$d/t.txt"
        if ! cmp -s "$d/e.txt" "$d/t.txt"; then
            bad="$bad [$tags: $(diff "$d/e.txt" "$d/t.txt" | grep '^[<>]' | head -3 | tr '\n' ' ')]"
        fi
    done
    n=$(grep -c ' C ' "$d/engine.txt")
    if [ -n "$bad" ]; then
        say "FAIL $name/tshark:$bad"
    elif [ "$n" -eq 0 ]; then
        say "FAIL $name/tshark: no smtp.command events"
    else
        say "PASS $name/tshark ($n commands)"
    fi
}

# ---- the project's captures ----------------------------------------------------------
SHA_BIN=ced9095b74be3ebd5123ebcb4c4eb0206d1052bc240f385b7d7cfd9c47aef09e  # attach.bin, base64
SHA_TXT=b032823e0a90242d6010664097731064e8fe0bbb3d2e632cfc2411fce85b0857  # attach.txt, q-p

expect_sha() { # NAME FILE SHA...
    name=$1 f=$2
    shift 2
    for sha in "$@"; do
        if grep -q " H $sha [0-9]* 0\$" "$f"; then
            say "PASS $name: attachment sha256 ${sha%????????????????????????????????????????????????????}..."
        else
            say "FAIL $name: no file.done with sha256 $sha (got: $(grep ' H ' "$f" | cut -d' ' -f3 | tr '\n' ' '))"
        fi
    done
}

found=0
for pcap in pcaps/smtp-*.pcap; do
    [ -f "$pcap" ] || continue
    found=1
    base=$(basename "$pcap" .pcap)
    compare_tshark "$base" "$pcap"
    orig="$tmp/$base/engine.txt"
    [ -s "$orig" ] || continue
    shas=
    case $base in
    smtp-swaks-attach) shas=$SHA_BIN ;;
    smtp-python-two) shas=$SHA_TXT ;;
    esac
    # shellcheck disable=SC2086
    [ -n "$shas" ] && expect_sha "$base" "$orig" $shas
    case $base in
    smtp-swaks-starttls)
        if grep -q ' TLS ' "$orig" && ! grep -q ' C .*MAIL' "$orig"; then
            say "PASS $base: STARTTLS accepted, nothing decoded after it"
        else
            say "FAIL $base: expected smtp.starttls and no MAIL command"
        fi ;;
    esac
    # the same capture re-segmented and reordered: the same transcript
    cp "$orig" "$tmp/$base/ref.txt"
    for mut in "split1:--split 1" "split3-reorder7:--split 3 --reorder 7" \
        "split1-reorder3:--split 1 --reorder 3" "dup:--dup 0.3,5"; do
        mname=${mut%%:*} margs=${mut#*:}
        m="$tmp/$base/$mname.pcap"
        # shellcheck disable=SC2086
        if ! "$PCAPMUT" $margs "$pcap" "$m" 2>"$m.err"; then
            say "FAIL $base/$mname: pcapmut failed: $(head -c 200 "$m.err")"
            continue
        fi
        if ! run_engine "$m" "$m.txt"; then
            say "FAIL $base/$mname: engine failed: $(head -c 300 "$m.txt.stderr")"
            continue
        fi
        # per connection and tag (the interleaving of the two directions may change)
        sort -s -k1,1n -k2,2 "$tmp/$base/ref.txt" >"$tmp/$base/ref.sorted"
        sort -s -k1,1n -k2,2 "$m.txt" >"$m.sorted"
        if cmp -s "$tmp/$base/ref.sorted" "$m.sorted"; then
            say "PASS $base/$mname: same transcript ($(wc -l <"$m.txt") lines)"
        else
            say "FAIL $base/$mname: transcript differs: $(diff "$tmp/$base/ref.sorted" "$m.sorted" | grep '^[<>]' | head -4 | tr '\n' ' ')"
        fi
        # shellcheck disable=SC2086
        [ -n "$shas" ] && expect_sha "$base/$mname" "$m.txt" $shas
    done
done
[ "$found" -eq 1 ] || say "SKIP pcaps: no pcaps/smtp-*.pcap"

# ---- the smtp log (scripts/logs/smtp.lua) ------------------------------------------------
# has_record NAME LOG SUBSTRING...: one record of LOG holds every substring
has_record() {
    name=$1 log=$2
    shift 2
    cp "$log" "$tmp/rec.txt" 2>/dev/null || : >"$tmp/rec.txt"
    for s in "$@"; do grep -F -- "$s" "$tmp/rec.txt" >"$tmp/rec2.txt"; mv "$tmp/rec2.txt" "$tmp/rec.txt"; done
    if [ -s "$tmp/rec.txt" ]; then say "PASS $name"; else say "FAIL $name: no record with $*"; fi
}
smtp_log() { # PCAP DIR
    rm -rf "$2"
    timeout 60 "$ENGINE" -q -r "$1" -s scripts/logs/smtp.lua -o "$2" </dev/null >/dev/null 2>&1
}
if [ -f pcaps/smtp-python-two.pcap ]; then
    smtp_log pcaps/smtp-python-two.pcap "$tmp/log2"
    has_record "smtp.log python-two first" "$tmp/log2/smtp.log" '"trans_depth":1,"helo":"client.test"' \
        '"mailfrom":"alice@a.test","rcptto":["bob@b.test"]' '"msg_id":"<one@a.test>","subject":"first of two"' \
        '"user_agent":"smtplib-test","user":"alice","fuids":["F'
    has_record "smtp.log python-two second" "$tmp/log2/smtp.log" '"trans_depth":2' \
        '"rcptto":["carol@c.test","dave@d.test"]' '"cc":["dave@d.test"]' '"subject":"second '"$(printf '\342\234\223')"'"' '"user":"alice"'
    n=$(grep -c . "$tmp/log2/smtp.log" 2>/dev/null)
    if [ "$n" = 2 ]; then say "PASS smtp.log python-two: 2 records"; else say "FAIL smtp.log python-two: $n records, want 2"; fi
fi
if [ -f pcaps/smtp-swaks-starttls.pcap ]; then
    smtp_log pcaps/smtp-swaks-starttls.pcap "$tmp/log3"
    has_record "smtp.log starttls" "$tmp/log3/smtp.log" '"trans_depth":1,"helo":"client.test"' '"tls":true'
fi
if [ -f pcaps/smtp-swaks-attach.pcap ]; then
    smtp_log pcaps/smtp-swaks-attach.pcap "$tmp/log4"
    has_record "smtp.log attach" "$tmp/log4/smtp.log" '"subject":"with attachment"' '"user":"alice"' \
        '"user_agent":"swaks v20201014.0' '"fuids":["F' '","F'
fi

# ---- the shared collection -------------------------------------------------------------
shared=${PCAPS:-$top/../shared/pcaps}/smtp
if [ -d "$shared" ]; then
    n=0
    for pcap in "$shared"/*.pcap "$shared"/*.pcapng; do
        [ -f "$pcap" ] || continue
        n=$((n + 1))
        compare_tshark "shared-$(basename "$pcap")" "$pcap"
    done
    [ "$n" -gt 0 ] || say "SKIP shared: $shared holds no captures"
else
    say "SKIP shared: no $shared on this machine"
fi

finish
