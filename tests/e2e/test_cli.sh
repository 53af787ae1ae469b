#!/bin/sh
# test_cli.sh - the `engine` command line (shared/spec/cli.md): exit codes,
# messages, --list-events, capture input edge cases, script errors.
#
#   sh tests/e2e/test_cli.sh [BUILD_DIR]      (default: build)
#
# Prints "PASS name" / "FAIL name: why" lines and a final "N passed, M failed".
BUILD=${1:-build}
ENGINE=$BUILD/engine
MKPCAP=$BUILD/tools/mkpcap
pass=0
fail=0
T=$(mktemp -d "${TMPDIR:-/tmp}/test_cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

if [ ! -x "$ENGINE" ]; then
    echo "FAIL setup: $ENGINE not built"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -x "$MKPCAP" ]; then # not built yet: build the generator by hand
    MKPCAP=$T/mkpcap
    ${CC:-cc} -std=gnu11 -D_GNU_SOURCE -o "$MKPCAP" "$(dirname "$0")/../tools/mkpcap.c" || {
        echo "FAIL setup: cannot build mkpcap"
        echo "0 passed, 1 failed"
        exit 1
    }
fi

# run NAME ARGS...: runs the engine, output in $T/out and $T/err, status in $rc
run() {
    "$ENGINE" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
}
# expect NAME STATUS [PATTERN [FILE]]: status is STATUS and FILE (default err) matches PATTERN
expect() {
    name=$1 want=$2 pat=$3 file=${4:-err}
    if [ "$rc" != "$want" ]; then
        bad "$name" "exit $rc, expected $want; stderr: $(head -c 300 "$T/err" | tr '\n' ' ')"
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$T/$file"; then
        bad "$name" "$file does not match '$pat': $(head -c 300 "$T/$file" | tr '\n' ' ')"
    else
        ok "$name"
    fi
}

# ---- inputs ----------------------------------------------------------------
ONE=$T/one.pcap
"$MKPCAP" "$ONE" udp:10.0.0.1:1234:10.0.0.2:5353:hello || bad mkpcap "cannot write $ONE"
"$MKPCAP" -n -b "$T/nano-be.pcap" udp:10.0.0.1:1234:10.0.0.2:5353:hello \
    udp:10.0.0.2:5353:10.0.0.1:1234:world
# two records, the second cut 3 bytes short of what its header claims
"$MKPCAP" -x 3 "$T/cut.pcap" udp:10.0.0.1:1234:10.0.0.2:5353:hello \
    udp:10.0.0.2:5353:10.0.0.1:1234:world
cp "$(dirname "$0")/test_cli.sh" "$T/notcap.pcap"
: >"$T/empty.pcap"
QUIET='-e return' # a chunk, so the default scripts (and their logs) stay out

# ---- usage errors: exit 2 ---------------------------------------------------
run --no-such-option -r "$ONE"
expect usage_unknown_option 2 'no-such-option'
run -x -r "$ONE"
expect usage_unknown_short_option 2 '\-x'
run -r
expect usage_missing_argument 2 'argument'
run --set
expect usage_missing_set_argument 2 'argument'
run -r "$ONE" -i lo
expect usage_r_and_i 2 'not both'
run $QUIET
expect usage_no_input 2 'no input'
run --set tcp.overlap=sideways -r "$ONE" $QUIET
expect usage_bad_set_value 2 'tcp.overlap'
run --set tcp.overlap -r "$ONE" $QUIET
expect usage_set_without_value 2 'KEY=VALUE'
run -j zero -r "$ONE" $QUIET
expect usage_bad_jobs 2 '\-j'
run --repl -i lo
expect usage_repl_with_interface 2 'repl'

# ---- help, version, catalogue: exit 0 ------------------------------------------
run -h
expect help 0 'usage: engine' out
run --help
expect help_long 0 '\-\-list-events' out
# the help's list of standard logs names every log scripts/default.lua loads
missing=
for m in $(sed -n 's/^require "logs\.\([a-z0-9_]*\)".*/\1/p' "$(dirname "$0")/../../scripts/default.lua"); do
    tr '\n' ' ' <"$T/out" | grep -q "standard logs ([^)]*\b$m\b" || missing="$missing $m"
done
if [ -z "$missing" ]; then ok help_lists_default_logs; else bad help_lists_default_logs "not in --help:$missing"; fi
run -V
expect version 0 '^engine [0-9]' out
run --list-events
expect list_events 0 '^tcp\.data' out
ok=1
for f in dir offset data; do
    sed -n '/^tcp\.data$/,/^$/p' "$T/out" | grep -q "^ *$f  *[a-z]" || ok=0
done
if [ $ok = 1 ]; then ok list_events_tcp_data_fields; else
    bad list_events_tcp_data_fields "tcp.data block lacks dir/offset/data: $(sed -n '/^tcp\.data$/,/^$/p' "$T/out" | tr '\n' '|')"
fi
run --list-events
expect list_events_http_or_udp 0 '^udp\.data' out

# ---- capture files -----------------------------------------------------------
run -r "$T/missing.pcap" $QUIET
expect missing_file 1 'missing.pcap: No such file or directory'
run -r "$T/notcap.pcap" $QUIET
expect not_a_capture 1 'notcap.pcap'
run -r "$T/empty.pcap" $QUIET
expect empty_file 1 'empty.pcap'
run -r "$T" $QUIET
expect directory 1 "$T"
run -r "$T/cut.pcap" $QUIET
expect cut_capture_warns_exit_0 0 'cut off mid-record after 1 packets'
run -r "$ONE" -f 'udp and and' $QUIET
expect bad_filter_is_usage_error 2 'udp and and'
run -r "$ONE" -f 'udp port 5353' $QUIET
expect filter_ok 0
"$ENGINE" -q -r - $QUIET <"$ONE" >"$T/out" 2>"$T/err"
rc=$?
expect stdin 0
run -r "$ONE" -o "$T/logs/deep/dir" $QUIET
if [ "$rc" = 0 ] && [ -d "$T/logs/deep/dir" ]; then ok outdir_created; else
    bad outdir_created "exit $rc, dir exists: $([ -d "$T/logs/deep/dir" ] && echo yes || echo no)"
fi
run -r "$ONE" -o "$T/notcap.pcap/sub" $QUIET
expect outdir_not_a_directory 1 'notcap.pcap'
# a log that cannot be written: exit 1 with one line naming the file and the cause
mkdir -p "$T/logs2/conn.log"
run -r "$ONE" -o "$T/logs2"
expect log_unwritable 1 'cannot open log .*conn.log: Is a directory'
if [ "$(wc -l <"$T/err")" = 1 ]; then ok log_unwritable_one_line; else
    bad log_unwritable_one_line "$(head -c 300 "$T/err" | tr '\n' '|')"
fi
if [ -w /dev/full ]; then
    "$ENGINE" -q -r "$ONE" >/dev/full 2>"$T/err"
    rc=$?
    expect stdout_full 1 'cannot write standard output: No space left on device'
    if [ "$(wc -l <"$T/err")" = 1 ]; then ok stdout_full_one_line; else
        bad stdout_full_one_line "$(head -c 300 "$T/err" | tr '\n' '|')"
    fi
fi

# payloads reach handlers from a nanosecond, big-endian pcap, with network time
cat >"$T/count.lua" <<'EOF'
local n, bytes = 0, 0
engine.on("udp.data", function(flow, ev)
  n = n + 1
  bytes = bytes + #ev.data
  if n == 2 then io.stderr:write(string.format("t2=%.3f\n", engine.now())) end
end)
engine.on("engine.done", function() io.stderr:write("udp ", n, " ", bytes, "\n") end)
EOF
run -q -r "$T/nano-be.pcap" -s "$T/count.lua"
expect nano_big_endian_payloads 0 'udp 2 10'
expect nano_big_endian_time 0 't2=1700000000.100'

# ---- scripts -------------------------------------------------------------------
printf 'local x = 1\nengine.on("udp.data", function(flow, ev)\n' >"$T/syntax.lua"
run -r "$ONE" -s "$T/syntax.lua"
expect script_syntax_error 1 'syntax.lua:[0-9]'
run -r "$ONE" -s "$T/does-not-exist.lua"
expect script_missing 1 'does-not-exist.lua'
run -r "$ONE" -e 'this is not lua'
expect chunk_syntax_error 1 ''

cat >"$T/raise.lua" <<'EOF'
-- a handler that raises on every datagram
engine.on("udp.data", function(flow, ev)
  error("boom in handler")
end)
EOF
run -q -r "$ONE" -s "$T/raise.lua"
expect handler_error_continues 0 'raise.lua:3'
if grep -qi 'traceback' "$T/err"; then ok handler_error_traceback; else
    bad handler_error_traceback "no traceback: $(head -c 300 "$T/err" | tr '\n' ' ')"
fi
run -q -r "$ONE" -s "$T/raise.lua" --set lua.strict=true
expect handler_error_strict 1 'raise.lua:3'
run -q -r "$ONE" -s "$T/raise.lua" --stats
expect stats_counts_handler_errors 0 'handler errors  *1'
expect stats_packets 0 'packets  *1$'

# a link type the engine does not decode (802.11, DLT 105): said once with its name, one weird
# with the count, exit 1 when no packet could be decoded
"$MKPCAP" -l 105 "$T/wifi.pcap" udp:10.0.0.1:1234:10.0.0.2:5353:a udp:10.0.0.1:1234:10.0.0.2:5353:b
run -r "$T/wifi.pcap" -o "$T/wifi"
expect unsupported_link_fails 1 'link type 105 (IEEE802_11.*2 packets skipped'
if [ "$(grep -c 'is not decoded' "$T/err")" = 1 ] && [ "$(grep -c unsupported_link_type "$T/wifi/weird.log")" = 1 ] &&
    grep -q '2 packets' "$T/wifi/weird.log"; then ok unsupported_link_said_once; else
    bad unsupported_link_said_once "$(tr '\n' ' ' <"$T/err") / $(cat "$T/wifi/weird.log" 2>/dev/null)"; fi

# uids: random per run (two runs never share one, as with Zeek); --set engine.seed=N repeats
uids() { "$ENGINE" -q -r "$ONE" "$@" </dev/null | grep -o '"uid":"C[^"]*"' | head -n 1; }
u1=$(uids) u2=$(uids) s1=$(uids --set engine.seed=5) s2=$(uids --set engine.seed=5)
if [ -n "$u1" ] && [ -n "$u2" ] && [ "$u1" != "$u2" ]; then ok uids_differ_per_run; else
    bad uids_differ_per_run "two runs gave '$u1' and '$u2'"; fi
if [ -n "$s1" ] && [ "$s1" = "$s2" ] && [ "$s1" != "$u1" ]; then ok uids_repeat_with_seed; else
    bad uids_repeat_with_seed "seed 5 gave '$s1' and '$s2'"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
