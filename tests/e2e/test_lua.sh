#!/bin/sh
# test_lua.sh - the Lua layer through the engine binary: default logs, -e/-s
# scripts, load errors, handler errors (continue / lua.strict), the watchdog,
# JSON validity with invalid UTF-8, timers, write failures.
#   sh tests/e2e/test_lua.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
PCAP=pcaps/http-curl.pcap
UDP=pcaps/udp-dns-like.pcap
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/    /' "$T/err" | head -20; }
check() { # name, then a command whose success means PASS
    name=$1; shift
    if "$@"; then ok "$name"; else ko "$name"; fi
}
valid_json() { # every line of $1 is a JSON object
    python3 -c 'import json,sys
for l in open(sys.argv[1], encoding="utf-8"):
    assert isinstance(json.loads(l), dict)' "$1" 2>>"$T/err"
}

[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }

# default scripts: conn log on stdout with _path, valid JSON
"$ENG" -r "$PCAP" --set engine.seed=3 >"$T/out" 2>"$T/err"
check "default scripts exit 0" [ $? -eq 0 ]
check "default conn records on stdout" grep -q '^{"_path":"conn","ts":[0-9.]*,"uid":"C' "$T/out"
check "stdout records are valid JSON" valid_json "$T/out"

# -o: one file per stream, same records without _path
"$ENG" -r "$PCAP" --set engine.seed=3 -o "$T/logs" 2>"$T/err"
check "-o writes conn.log" [ -s "$T/logs/conn.log" ]
check "-o records have no _path" sh -c "! grep -q _path '$T/logs/conn.log'"
check "conn field order" grep -Eq '"id.resp_p":8080,"proto":"tcp",("service":"[a-z]+",)?"duration":[0-9.]+,"orig_bytes":' "$T/logs/conn.log"
check "same records with and without -o" sh -c \
    "grep '^{\"_path\":\"conn\",' '$T/out' | sed 's/^{\"_path\":\"conn\",/{/' | cmp -s - '$T/logs/conn.log'"

# engine.hash: digests of known strings
"$ENG" -r "$UDP" -s /dev/null -e 'print(engine.hash("md5", "abc"), engine.hash("sha1", "abc"), engine.hash("sha256", ""))' >"$T/out" 2>"$T/err"
check "engine.hash md5/sha1/sha256" grep -q "^900150983cd24fb0d6963f7d28e17f72	a9993e364706816aba3e25717850c26c9cd0d89d	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855$" "$T/out"

# unknown event: load error naming file:line and the nearest name, exit 1
"$ENG" -r "$PCAP" -e 'engine.on("flow.ends", print)' >"$T/out" 2>"$T/err"
rc=$?
check "unknown event exits 1" [ $rc -eq 1 ]
check "unknown event suggests flow.end" grep -q "unknown event 'flow.ends' (did you mean 'flow.end'?)" "$T/err"

printf 'local x = 1\nengine.on("flow.end", function() end\n' >"$T/bad.lua"
"$ENG" -r "$PCAP" -s "$T/bad.lua" >/dev/null 2>"$T/err"
rc=$?
check "syntax error exits 1 with file:line" sh -c "[ $rc -eq 1 ] && grep -q 'bad.lua:[0-9]*:' '$T/err'"

# handler errors: reported with traceback, counted, the next handler still runs
cat >"$T/err.lua" <<'EOF'
local n = 0
engine.on("flow.end", function() error("boom") end)
engine.on("flow.end", function() n = n + 1 end)
engine.on("engine.done", function()
  engine.log("t", { n = n, errors = engine.stats().handler_errors })
end)
EOF
"$ENG" -r "$PCAP" -s "$T/err.lua" >"$T/out" 2>"$T/err"
rc=$?
check "handler errors: exit 0" [ $rc -eq 0 ]
check "handler errors: reported with file:line" grep -q "error in handler for flow.end: .*err.lua:2: boom" "$T/err"
check "handler errors: traceback" grep -q "stack traceback" "$T/err"
check "handler errors: counted, next handler ran" grep -Eq '"_path":"t","ts":[0-9.]+,"errors":([1-9][0-9]*),"n":\1}' "$T/out"

"$ENG" -r "$PCAP" -s "$T/err.lua" --set lua.strict=true >"$T/out" 2>"$T/err"
check "lua.strict: handler error exits 1" [ $? -eq 1 ]

# booleans read back as booleans whatever the spelling ("0" would be true in Lua)
"$ENG" -r "$PCAP" --set lua.strict=0 -e 'engine.log("t", { s = engine.config["lua.strict"] })' >"$T/out" 2>"$T/err"
check "config: lua.strict=0 reads false" grep -q '"_path":"t","ts":0,"s":false' "$T/out"
"$ENG" -r "$PCAP" --set lua.strict=ON -e 'engine.log("t", { s = engine.config["lua.strict"] })' >"$T/out" 2>"$T/err"
check "config: lua.strict=ON reads true" grep -q '"_path":"t","ts":0,"s":true' "$T/out"

# watchdog: a runaway handler is interrupted, counted, and the run goes on
cat >"$T/loop.lua" <<'EOF'
local first = true
engine.on("flow.end", function()
  if first then
    first = false
    local t = {}
    while true do for k, v in pairs({ 1, 2, 3 }) do t[k] = v end end
  end
end)
engine.on("engine.done", function() engine.log("t", { errors = engine.stats().handler_errors }) end)
EOF
"$ENG" -r "$PCAP" -s "$T/loop.lua" --set lua.handler_timeout_ms=100 >"$T/out" 2>"$T/err"
rc=$?
check "watchdog: interrupted, exit 0" [ $rc -eq 0 ]
check "watchdog: message" grep -q "handler exceeded lua.handler_timeout_ms (100 ms)" "$T/err"
check "watchdog: counted, run continued" grep -q '"errors":1' "$T/out"

echo 'engine.on("flow.end", function() local x = 0 while true do x = x + 1 end end)' >"$T/hard.lua"
timeout 20 "$ENG" -r "$PCAP" -s "$T/hard.lua" --set lua.handler_timeout_ms=100 --set lua.jit_scripts=true \
    >"$T/out" 2>"$T/err"
rc=$?
check "watchdog: with lua.jit_scripts, a compiled loop stops the run with exit 1" [ $rc -eq 1 ]
check "watchdog: with lua.jit_scripts, the message says so" grep -q "compiled loop" "$T/err"

# invalid UTF-8 from the wire stays valid JSON (\xNN escapes); / is not escaped
cat >"$T/utf.lua" <<'EOF'
engine.on("udp.data", function(flow, ev) engine.log_flow("raw", flow, { data = ev.data, p = "a/b" }) end)
engine.on("engine.init", function() engine.log("raw", { data = "\255\254ok\226\130\172" }) end)
EOF
"$ENG" -r "$UDP" -s "$T/utf.lua" -o "$T/u" 2>"$T/err"
check "invalid UTF-8: exit 0" [ $? -eq 0 ]
check "invalid UTF-8: valid JSON" valid_json "$T/u/raw.log"
check "invalid UTF-8: \\xNN escapes" grep -q '"data":"\\\\xff\\\\xfeok€"' "$T/u/raw.log"
check "slash not escaped" grep -q '"p":"a/b"' "$T/u/raw.log"
check "log_flow adds uid and id.*" grep -q '"uid":"C[^"]*","id.orig_h":"[^"]*","id.orig_p":[0-9]*,"id.resp_h"' "$T/u/raw.log"

# timers in network time
cat >"$T/timer.lua" <<'EOF'
local ticks, first = 0, nil
engine.every(0.01, function() ticks = ticks + 1 end)
engine.after(0.001, function() first = engine.now() end)
engine.on("engine.done", function() engine.log("t", { ticks = ticks, fired = first ~= nil }) end)
EOF
"$ENG" -r "$PCAP" -s "$T/timer.lua" >"$T/out" 2>"$T/err"
check "timers fire in network time" grep -q '"fired":true,"ticks":[1-9]' "$T/out"

# a timer still pending at the end of the capture fires at engine.done, before
# its handlers, with engine.now() the last packet's time; one made then does not
cat >"$T/pending.lua" <<'EOF'
local seq, last, set = {}, 0, false
engine.on("flow.start", function()
  if set then return end
  set = true
  engine.after(100, function()
    seq[#seq + 1] = engine.now() == last and "timer@last" or "timer@" .. engine.now()
    engine.after(1, function() seq[#seq + 1] = "made-at-done" end)
  end)
end)
engine.on("flow.end", function(flow) last = engine.now() end)
engine.on("engine.done", function() seq[#seq + 1] = "done"; engine.log("p", { seq = table.concat(seq, " ") }) end)
EOF
"$ENG" -r "$PCAP" -s "$T/pending.lua" >"$T/out" 2>"$T/err"
check "pending timer fires at engine.done, before its handlers" grep -q '"seq":"timer@last done"' "$T/out"

# a log that cannot be written fails the run
if [ -w /dev/full ]; then
    "$ENG" -r "$PCAP" >/dev/full 2>"$T/err"
    check "unwritable output exits 1" [ $? -eq 1 ]
fi

# engine.flows(): from a timer, every flow that is open; proxies of flows that end later
# answer from their copy (no handler on any flow event: flow.end is subscribed for them)
cat >"$T/flows.lua" <<'EOF'
local seen, kept = {}, nil
engine.every(0.001, function()
  for f in engine.flows() do seen[f.uid] = true; kept = kept or f end
end)
engine.on("engine.done", function()
  local n, open = 0, 0
  for _ in pairs(seen) do n = n + 1 end
  for _ in engine.flows() do open = open + 1 end
  engine.log("flows", { distinct = n, open_at_done = open, kept_state = kept and kept.state,
    kept_ended = kept and kept.ended })
end)
EOF
"$ENG" -r pcaps/http-nginx.pcap -s scripts/default.lua -s "$T/flows.lua" -o "$T/fl" 2>"$T/err"
check "engine.flows: exit 0" [ $? -eq 0 ]
nconn=$(wc -l <"$T/fl/conn.log")
check "engine.flows: every flow of conn.log was seen open ($nconn)" grep -q "\"distinct\":$nconn," "$T/fl/flows.log"
check "engine.flows: none open at engine.done; a kept proxy answers after its end" \
    grep -q '"kept_ended":true,"kept_state":"[A-Z0-9]*","open_at_done":0' "$T/fl/flows.log"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
