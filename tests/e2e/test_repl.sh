#!/bin/sh
# test_repl.sh - `engine --repl` (docs/repl.md): (a) statements piped on
# standard input; (b) keystrokes under a pseudo-terminal driven with tmux
# (completion, history, multi-line input, errors, Ctrl-C, Ctrl-D), skipped
# when tmux cannot run.
#   sh tests/e2e/test_repl.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$top/$B/engine"
case "$B" in /*) ENG="$B/engine" ;; esac
PCAP=pcaps/http-curl.pcap
T=$(mktemp -d)
SOCK="$T/tmux.sock"
cleanup() {
    [ -S "$SOCK" ] && tmux -S "$SOCK" kill-server 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/show" ] && grep -v '^ *$' "$T/show" | sed 's/^/    /' | tail -25; }
check() { # name, then a command whose success means PASS
    name=$1; shift
    if "$@"; then ok "$name"; else ko "$name"; fi
}

[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }

# ---- (a) piped standard input --------------------------------------------
cat >"$T/in" <<'EOF'
function add(a, b)
  local s = a + b
  return s
end
add(40, 2)
{ name = "x", list = { 1, 2, 3 }, nested = { deep = true } }
error("first failure")
add(1,
  1)
step(5)
flows()
c = collect("http.request", 1)
c[1].method .. " " .. c[1].uri
s = stream(c[1].uid, "orig")
s:sub(1, 4) == "GET " and "stream ok" or s
run()
#flows({ service = "http" })
#flows(function(f) return f.orig_bytes > 100 end)
flow(c[1].uid).events[1].event
#collect("http.request")
rewind()
#collect("http.request", 2)
undefined_function()
engine.config
"still alive"
EOF
"$ENG" --repl -r "$PCAP" <"$T/in" >"$T/out" 2>"$T/err"
rc=$?
cp "$T/out" "$T/show"; cat "$T/err" >>"$T/show"
check "piped: exit 0 at end of input" [ $rc -eq 0 ]
check "piped: multi-line function definition" grep -qx '42' "$T/out"
check "piped: expression printed as a table" \
    grep -qx '{ list = { 1, 2, 3 }, name = "x", nested = { deep = true } }' "$T/out"
check "piped: error message on stderr" grep -q 'first failure' "$T/err"
check "piped: the line after an error still runs" grep -qx '2' "$T/out"
check "piped: step(5) reports packets" grep -q '^-- 5 packets read (5 in all)' "$T/out"
check "piped: flows() lists a flow" grep -Eq '^ +1  C[0-9A-Za-z]+ +tcp +127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:8080' "$T/out"
check "piped: collect returns an http.request" grep -Eqx '"GET /[a-z.]+"' "$T/out"
check "piped: stream(uid, \"orig\") starts with the request" grep -qx '"stream ok"' "$T/out"
check "piped: run() reaches the end" grep -q 'end of capture' "$T/out"
check "piped: flows with a table filter" grep -qx '4' "$T/out"
check "piped: flow(uid) has its events" grep -qx '"flow.start"' "$T/out"
check "piped: collect after the end is empty" grep -qx '0' "$T/out"
check "piped: rewind then collect again" sh -c "grep -q '^-- rewound' '$T/out' && grep -qx '2' '$T/out'"
check "piped: undefined function is an error" grep -q "attempt to call global 'undefined_function'" "$T/err"
check "piped: last line still evaluated" grep -qx '"still alive"' "$T/out"
check "piped: engine.config printed with its values" grep -q '^  \["flow.max"\] = 1000000,' "$T/out"
check "piped: no prompts when not a terminal" sh -c "! grep -q 'engine>' '$T/out'"

# -s scripts and reload()
cat >"$T/s.lua" <<'EOF'
count = 0
engine.on("http.request", function() count = count + 1 end)
EOF
printf 'run()\ncount\nrewind()\nreload()\nrun()\ncount\n' >"$T/in2"
"$ENG" --repl -s "$T/s.lua" -r "$PCAP" <"$T/in2" >"$T/out" 2>"$T/err"
rc=$?
cp "$T/out" "$T/show"; cat "$T/err" >>"$T/show"
check "reload: replaces the script's handler" sh -c \
    "[ $rc -eq 0 ] && grep -q '^-- reloaded .*s.lua: 1 handler dropped, 1 registered' '$T/out' && [ \$(grep -cx '5' '$T/out') -eq 2 ]"

# usage
"$ENG" --repl -r - </dev/null >/dev/null 2>"$T/err"
check "usage: --repl with -r - is exit 2" [ $? -eq 2 ]
"$ENG" -h >"$T/out"
check "usage: --help describes --repl" grep -q 'run()/step()' "$T/out"
echo 'syntax error here' >"$T/bad.lua"
"$ENG" --repl -s "$T/bad.lua" </dev/null >/dev/null 2>"$T/err"
check "a -s script that fails to load is exit 1" [ $? -eq 1 ]

# ---- the capture browser (step lines, show, go, filters) against tshark ----
# tshark's per-packet fields, written as step() writes a summary line (the uid
# and service, which tshark has not, are cut off the REPL's lines)
tshark_lines() { # pcap
    tshark -r "$1" -T fields -E separator='|' -e frame.number -e frame.time_epoch \
        -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport \
        -e udp.srcport -e udp.dstport -e tcp.flags -e frame.len -e frame.cap_len -e tcp.len \
        -e udp.length 2>/dev/null |
    while IFS='|' read -r num t src dst src6 dst6 tsp tdp usp udp fl len cap tlen ulen; do
        [ -n "$src" ] || src="[$src6]" dst="[$dst6]"
        if [ -n "$fl" ]; then
            f=$(printf '%d' "$fl") l=""
            for x in 2:S 1:F 4:R 8:P 16:A 32:U 64:E 128:C; do
                [ $((f & ${x%:*})) -ne 0 ] && l="$l${x#*:}"
            done
            printf '%4d  %.6f  %s:%s -> %s:%s  tcp [%s]  len %s cap %s payload %s\n' \
                "$num" "$t" "$src" "$tsp" "$dst" "$tdp" "$l" "$len" "$cap" "$tlen"
        else
            printf '%4d  %.6f  %s:%s -> %s:%s  udp  len %s cap %s payload %d\n' \
                "$num" "$t" "$src" "$usp" "$dst" "$udp" "$len" "$cap" $((ulen - 8))
        fi
    done
}
repl_lines() { # file: the summary lines without uid and service
    grep -E '^ *[0-9]+  [0-9]+\.[0-9]{6}  ' "$1" | sed -E 's/  (C[0-9A-Za-z]+|-) [^ ]+$//'
}
if ! command -v tshark >/dev/null 2>&1; then
    skip=$((skip + 1))
    echo "SKIP capture browser tests against tshark: tshark is not installed"
else
    for cap in http-curl.pcap tcp-misc.pcap sip-udp-call.pcap; do
        printf 'step(100000)\n' | "$ENG" --repl -r "pcaps/$cap" >"$T/out" 2>"$T/err"
        repl_lines "$T/out" >"$T/got"
        tshark_lines "pcaps/$cap" >"$T/want"
        cp "$T/got" "$T/show"; diff "$T/want" "$T/got" >>"$T/show"
        check "browse: step() lines of $cap equal tshark's fields ($(wc -l <"$T/want") packets)" \
            sh -c "[ -s '$T/want' ] && cmp -s '$T/want' '$T/got'"
    done
    cat >"$T/in3" <<'EOF'
step(4)
show(packet(4))
go(10)
go(3)
go{ time = 0.05 }
run()
rewind()
step(2, "http.request")
step(1, { event = "http.request", dport = 8080 })
run()
u = flows()[2].uid
"n=" .. #packets{ uid = u }
"svc=" .. #packets{ service = "http" }
EOF
    "$ENG" --repl -r pcaps/http-curl.pcap <"$T/in3" >"$T/out" 2>"$T/err"
    cp "$T/out" "$T/show"; cat "$T/err" >>"$T/show"
    # show(packet(4)): its hex dump is the frame's bytes (tshark -x)
    sed -n '/^packet 4 /,/^ *10  /p' "$T/out" | grep -E '^[0-9a-f]{4}  ' | cut -c7-53 | tr -d ' \n' >"$T/hex"
    tshark -r pcaps/http-curl.pcap -Y frame.number==4 -x 2>/dev/null | grep -E '^[0-9a-f]{4}  ' |
        cut -c7-53 | tr -d ' \n' >"$T/hexw"
    check "browse: show(packet(4)) hex dump equals the frame's bytes ($(($(wc -c <"$T/hexw") / 2)) bytes)" \
        sh -c "[ -s '$T/hexw' ] && cmp -s '$T/hex' '$T/hexw'"
    check "browse: show(packet(4)) lists its layers" sh -c \
        "grep -q '^  Ethernet  dst 00:00:00:00:00:00' '$T/out' && grep -q '^  IPv4  127.0.0.1 -> 127.0.0.1  hlen 20  len 138' '$T/out' && grep -Eq '^  TCP  41048 -> 8080  seq [0-9]+  ack [0-9]+  hlen 32  flags \[PA\]' '$T/out' && grep -q '^  events  .*http.request' '$T/out'"
    check "browse: go(10) stops at packet 10" grep -Eq '^  10  1795434438\.217166  ' "$T/out"
    check "browse: go(3) after 10 rewinds and stops at 3" sh -c \
        "sed -n '/^-- rewound\$/,\$p' '$T/out' | grep -Eq '^   3  1795434438\.210860  '"
    tfirst=$(tshark -r pcaps/http-curl.pcap -Y 'frame.time_relative >= 0.05' -T fields -e frame.number 2>/dev/null | head -1)
    check "browse: go{ time = 0.05 } stops at tshark's first frame at +0.05 s (#$tfirst)" \
        grep -Eq "^ +$tfirst  [0-9.]+  .* http\$" "$T/out"
    want=$(tshark -r pcaps/http-curl.pcap -Y http.request -T fields -e frame.number 2>/dev/null | head -3 | tr '\n' ' ')
    got=$(sed -n '/^-- rewound: the next/,$p' "$T/out" | grep -E '^ +[0-9]+  [0-9]+\.' | awk '{printf "%s ", $1}')
    check "browse: step(n, event filter) stops at tshark's http.request frames ($want)" [ "$got" = "$want" ]
    nstream=$(tshark -r pcaps/http-curl.pcap -Y 'tcp.stream == 1' 2>/dev/null | wc -l)
    check "browse: packets{ uid = u } has tshark's $nstream frames of the second flow" grep -qx "\"n=$nstream\"" "$T/out"
    check "browse: packets{ service = \"http\" } keeps frames after detection" grep -Eqx '"svc=[0-9]+"' "$T/out"
fi

# ---- (b) a terminal, driven with tmux --------------------------------------
tm() { tmux -S "$SOCK" "$@"; }
screen() { tm capture-pane -p -t repl 2>/dev/null; }
wait_for() { # grep -E pattern on the screen, up to 5 s
    i=0
    while [ $i -lt 50 ]; do
        screen >"$T/show"
        grep -Eq -- "$1" "$T/show" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
keys() { tm send-keys -t repl -l -- "$1"; }
key() { tm send-keys -t repl "$@"; }
# ready: wait until the last line on the screen is an empty prompt, so that
# the next keystrokes reach the line editor and not the terminal's own echo
# while a statement still runs (slow under ASan on a loaded machine).
ready() {
    i=0
    while [ $i -lt 100 ]; do
        screen | grep -v '^ *$' | tail -1 | grep -Eq '^(engine|   \.\.\.)> ?$' && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
enter() { key Enter; ready; }

tmux_ok=0
if command -v tmux >/dev/null 2>&1; then
    unset TMUX
    if tm -f /dev/null new-session -d -s probe -x 100 -y 40 "sleep 5" 2>/dev/null; then
        tm kill-session -t probe 2>/dev/null
        tmux_ok=1
    fi
fi
if [ $tmux_ok -eq 0 ]; then
    skip=$((skip + 1))
    echo "SKIP terminal tests: tmux is not installed or cannot start a server"
else
    H="$T/history"
    printf '_HiStOrY_V2_\nold\\040line\\040from\\040before\n' >"$H"
    tm -f /dev/null new-session -d -s repl -x 120 -y 50 \
        "cd '$top' && HOME='$T' ENGINE_HISTORY='$H' '$ENG' --repl -r '$PCAP'; echo REPL-EXIT-\$?; sleep 30"
    check "tty: banner and prompt" wait_for '^engine> ?$'

    keys 'engine.log_f'; key Tab
    check "tty: Tab completes engine.log_f to engine.log_flow" wait_for '^engine> engine\.log_flow$'
    key C-u
    keys 'engine.lo'; key Tab; key Tab
    check "tty: Tab Tab on engine.lo lists engine.log and engine.load_list" \
        wait_for 'engine\.load_list +engine\.log +engine\.log_columns'
    key C-u
    keys 'engine.on("tcp.d'; key Tab
    check "tty: Tab completes event names in engine.on(\"..." wait_for '^engine> engine\.on\("tcp\.data$'
    key C-u
    keys 'coll'; key Tab
    check "tty: Tab completes globals (collect)" wait_for '^engine> collect$'
    key C-u

    keys 'x = 41'; enter
    keys 'x + 1'; enter
    check "tty: expression result" wait_for '^42$'
    key Up
    check "tty: Up recalls the previous line" wait_for '^engine> x \+ 1$'
    enter
    twice() { wait_for '^42$' && [ "$(screen | grep -cx 42)" -ge 2 ]; }
    check "tty: recalled line runs again" twice

    keys 'function f()'; enter
    check "tty: continuation prompt" wait_for '^   \.\.\.> ?$'
    keys 'return 7'; enter
    keys 'end'; enter
    keys 'f() * 6'; enter
    check "tty: multi-line function" wait_for '^42$'
    keys 'f() * 100'; enter
    check "tty: multi-line function result" wait_for '^700$'

    keys 'error("tty failure")'; enter
    check "tty: error message" wait_for 'tty failure'
    keys 'f() + 1'; enter
    check "tty: prompt works after an error" wait_for '^8$'

    keys 'some half-typed garbage'; key C-c
    check "tty: Ctrl-C abandons the line" wait_for '^engine> some half-typed garbage\^C$'
    ready
    keys 'while true do local s = tostring({}) end'; key Enter
    sleep 0.3; key C-c
    check "tty: Ctrl-C interrupts running code" wait_for 'interrupted'
    ready
    keys 'step(2)'; enter
    check "tty: step after an interrupt" wait_for '^-- 2 packets read \(2 in all\)'

    keys 'f = flow(1)'; enter
    keys 'f.events[1].ev'; key Tab
    check "tty: Tab completes after an index (f.events[1].ev -> f.events[1].event)" \
        wait_for '^engine> f\.events\[1\]\.event$'
    key C-u
    keys 'f.events[1].'; key Tab; key Tab
    check "tty: Tab Tab after an index lists the event's fields" \
        wait_for 'f\.events\[1\]\.event +f\.events\[1\]\.packet +f\.events\[1\]\.ts'
    key C-u
    keys 'x = t[coll'; key Tab
    check "tty: Tab still completes a global after [ (t[coll -> t[collect)" wait_for '^engine> x = t\[collect$'
    key C-u

    key C-d
    check "tty: Ctrl-D leaves with status 0" wait_for '^REPL-EXIT-0'
    check "tty: history saved to ENGINE_HISTORY" grep -q 'x\\040+\\0401' "$H"
    check "tty: older history kept" grep -q 'old\\040line' "$H"
    tm kill-server 2>/dev/null
fi

rm -f "$T/show"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
