#!/bin/sh
# test_sandbox.sh - what scripts may call (docs/lua.md, "Sandbox"): each refused
# call fails with a message naming the script and line; writing only inside the
# log folder; lua.unsafe=true lifts it; os.exit stops the run cleanly (logs
# flushed, engine.done run, the code kept); a compiled-looking runaway loop in a
# script is stopped and the run goes on; a handler timing out again and again is
# switched off; lua.max_memory fails the handler, not the run.
#   sh tests/e2e/test_sandbox.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
PCAP=pcaps/http-nginx.pcap   # four HTTP requests on two connections
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/    /' "$T/err" | head -20; }
check() { # name, then a command whose success means PASS
    name=$1; shift
    if "$@"; then ok "$name"; else ko "$name"; fi
}
[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }
nreq=$(tshark -r "$PCAP" -Y http.request 2>/dev/null | wc -l)
[ "$nreq" -gt 0 ] || nreq=4

# ---- each refused call, at load time: exit 1, "script:line: ... not available"
n=0
for call in 'os.execute("true")' 'os.exit(0)' 'os.remove("/tmp/x")' 'os.rename("/tmp/a", "/tmp/b")' \
        'io.popen("ls")' 'require("ffi")' 'require("debug")' 'package.loadlib("libc.so.6", "puts")' \
        'debug.sethook(print, "l")' 'debug.getupvalue(print, 1)' 'io.open("/tmp/sandbox-escape", "w")' \
        'assert(load(string.dump(function() end)))' 'assert(loadstring(string.dump(function() end)))'; do
    n=$((n + 1))
    printf 'local x = 1\n%s\n' "$call" >"$T/p$n.lua"
    "$ENG" -q -r "$PCAP" -s "$T/p$n.lua" >"$T/out" 2>"$T/err"
    rc=$?
    check "refused at load: $call: exit 1" [ $rc -eq 1 ]
    check "refused at load: $call: names $T/p$n.lua:2" grep -q "p$n.lua:2:" "$T/err"
done
check "no file was written outside the log folder" [ ! -e /tmp/sandbox-escape ]

# ---- in a handler: the error names the line, the run goes on, exit 0, summary line
cat >"$T/h.lua" <<'EOF'
local n = 0
engine.on("http.request", function(flow, ev)
  n = n + 1
  os.execute("touch /tmp/sandbox-escape-2")
end)
engine.on("engine.done", function() print("handled " .. n) end)
EOF
"$ENG" -r "$PCAP" -s "$T/h.lua" >"$T/out" 2>"$T/err"
rc=$?
check "refused in a handler: exit 0" [ $rc -eq 0 ]
check "refused in a handler: h.lua:4 and the sandbox named" grep -q 'h.lua:4: os.execute is not available to scripts (the sandbox' "$T/err"
check "refused in a handler: every request still handled" grep -qx "handled $nreq" "$T/out"
check "refused in a handler: a summary line at the end" sh -c "tail -n 1 '$T/err' | grep -q '^engine: $nreq handler errors during the run'"
check "refused in a handler: nothing ran" [ ! -e /tmp/sandbox-escape-2 ]

# ---- writing: inside -o DIR yes, outside (.. or absolute) no, reading yes
mkdir -p "$T/logs"
cat >"$T/w.lua" <<EOF
local f = assert(io.open("$T/logs/mine.txt", "w")); f:write("ok\n"); f:close()
local ok1 = pcall(io.open, "$T/logs/../escape.txt", "w")
local ok2 = pcall(io.open, "$T/escape.txt", "a")
local ok3 = pcall(io.output, "$T/escape.txt")
local r = assert(io.open("$T/logs/mine.txt", "r")); local s = r:read("*l"); r:close()
print("w", ok1, ok2, ok3, s)
EOF
"$ENG" -q -r "$PCAP" -o "$T/logs" -s "$T/w.lua" >"$T/out" 2>"$T/err"
check "write inside the log folder: allowed" [ -s "$T/logs/mine.txt" ]
check "write outside (.., absolute, io.output): refused; reading allowed" grep -qx "w	false	false	false	ok" "$T/out"
check "nothing written outside" [ ! -e "$T/escape.txt" ]
"$ENG" -q -r "$PCAP" -e 'io.open("mine.txt", "w")' >"$T/out" 2>"$T/err"
check "write without -o: refused, the message says why" grep -q "has none (-o DIR" "$T/err"

# ---- lua.unsafe=true: the whole standard library
"$ENG" -q -r "$PCAP" --set lua.unsafe=true -e 'local ffi = require "ffi"; assert(os.execute("true")); print(type(ffi.new))' \
    >"$T/out" 2>"$T/err"
check "lua.unsafe=true: ffi and os.execute" grep -qx "function" "$T/out"

# ---- os.exit (unsafe): stop reading, end the flows, engine.done, logs flushed, exit code
cat >"$T/x.lua" <<'EOF'
local n = 0
engine.on("http.request", function() n = n + 1; if n == 1 then os.exit(3) end end)
engine.on("engine.done", function() print("done after " .. n) end)
EOF
rm -rf "$T/xl"
"$ENG" -r "$PCAP" --set lua.unsafe=true -s scripts/default.lua -s "$T/x.lua" -o "$T/xl" >"$T/out" 2>"$T/err"
rc=$?
check "os.exit(3): exit status 3" [ $rc -eq 3 ]
check "os.exit(3): engine.done ran, after the first request only" grep -qx "done after 1" "$T/out"
check "os.exit(3): conn.log flushed" [ -s "$T/xl/conn.log" ]
check "os.exit(3): http.log has the request" grep -q '"method":"GET"' "$T/xl/http.log"
check "os.exit(3): not a handler error" sh -c "! grep -q 'error in handler' '$T/err'"

# runaway LABEL SCRIPT ERRORS: SCRIPT's handlers run away on the first requests;
# with a 100 ms watchdog each is stopped by the hook (not the last resort, which
# ends the run), the run exits 0 having seen every request, with ERRORS errors.
# The messages are in $T/err for the caller's own checks.
runaway() {
    timeout 60 "$ENG" -r "$PCAP" -s "$2" --set lua.handler_timeout_ms=100 >"$T/out" 2>"$T/err"
    rc=$?
    check "$1: stopped, exit 0" [ $rc -eq 0 ]
    check "$1: the run went on to every request, $3 error(s)" grep -qx "requests $nreq	errors $3" "$T/out"
    check "$1: stopped by the hook, not the last resort" sh -c "! grep -q 'could not be interrupted' '$T/err'"
}

# ---- a runaway loop (LuaJIT would compile it): stopped, the run goes on
cat >"$T/loop.lua" <<'EOF'
local n = 0
engine.on("http.request", function()
  n = n + 1
  if n == 1 then local x = 0 while true do x = x + 1 end end
end)
engine.on("engine.done", function() print("requests " .. n, "errors " .. engine.stats().handler_errors) end)
EOF
runaway "compiled-style loop" "$T/loop.lua" 1
check "compiled-style loop: message with file:line" grep -q "loop.lua:4: handler exceeded lua.handler_timeout_ms (100 ms)" "$T/err"

# ---- runaway tail recursion (LuaJIT would link it into a looping trace, with
# no loop instruction for the interpreted-loops rule to catch): stopped too,
# for a function calling itself and for two calling each other
cat >"$T/tailrec.lua" <<'EOF'
local n = 0
local function spin(x) if x < 0 then return x end return spin(x + 1) end
local ping, pong
function ping(x) return pong(x + 1) end
function pong(x) if x < 0 then return x end return ping(x + 1) end
engine.on("http.request", function()
  n = n + 1
  if n == 1 then spin(0) elseif n == 2 then ping(0) end
end)
engine.on("engine.done", function() print("requests " .. n, "errors " .. engine.stats().handler_errors) end)
EOF
runaway "tail recursion" "$T/tailrec.lua" 2
check "tail recursion: self-call named with file:line" grep -q "tailrec.lua:2: handler exceeded lua.handler_timeout_ms (100 ms)" "$T/err"
check "tail recursion: mutual calls named with file:line" grep -q "tailrec.lua:[45]: handler exceeded lua.handler_timeout_ms (100 ms)" "$T/err"

# ---- a handler that times out again and again is switched off
cat >"$T/strike.lua" <<'EOF'
local n = 0
engine.on("http.request", function() n = n + 1; while true do end end)
engine.on("engine.done", function() print("entered " .. n, "errors " .. engine.stats().handler_errors) end)
EOF
timeout 60 "$ENG" -r "$PCAP" -s "$T/strike.lua" --set lua.handler_timeout_ms=50 --set lua.max_timeouts=2 \
    >"$T/out" 2>"$T/err"
check "strikes: switched off after lua.max_timeouts=2" grep -q "handler for http.request (.*strike.lua:2) switched off after 2 timeouts" "$T/err"
check "strikes: entered twice, two errors" grep -qx "entered 2	errors 2" "$T/out"

# ---- lua.max_memory: the allocation fails in the handler, the run goes on
cat >"$T/mem.lua" <<'EOF'
local n = 0
engine.on("http.request", function()
  n = n + 1
  if n == 1 then local t = {} for i = 1, 1e8 do t[i] = ("x"):rep(4000) .. i end end
end)
engine.on("engine.done", function() print("requests " .. n, "errors " .. engine.stats().handler_errors) end)
EOF
timeout 120 "$ENG" -r "$PCAP" -s "$T/mem.lua" --set lua.max_memory=32MiB --set lua.handler_timeout_ms=60000 \
    >"$T/out" 2>"$T/err"
rc=$?
check "lua.max_memory: exit 0" [ $rc -eq 0 ]
check "lua.max_memory: the handler failed, named" grep -q "not enough memory: the Lua state is at lua.max_memory (33554432 bytes)" "$T/err"
check "lua.max_memory: the memory is given back, the run went on, one error" grep -qx "requests $nreq	errors 1" "$T/out"

# ---- modules a script requires run under the same rules (jit off, sandbox)
mkdir -p "$T/mod"
printf 'return { f = function() local r = os.execute("true"); return r end }\n' >"$T/mod/mymod.lua"
printf 'package.path = "%s/mod/?.lua;" .. package.path\nlocal m = require "mymod"\nprint(pcall(m.f))\n' "$T" >"$T/r.lua"
"$ENG" -q -r "$PCAP" -s "$T/r.lua" >"$T/out" 2>"$T/err"
check "a required module is sandboxed too" grep -q "^false	.*mymod.lua:1: os.execute is not available" "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
