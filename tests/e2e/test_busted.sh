#!/bin/sh
# test_busted.sh - `engine test`, the documented command that runs a user's
# busted specs (docs/testing.md): passing specs exit 0, a broken expectation
# exits non-zero with a message naming the spec's file:line, a policy's
# handler error names the policy's file:line, DIR defaults to spec/.
#   sh tests/e2e/test_busted.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
case $B in /*) ;; *) B="$top/$B" ;; esac
ENG="$B/engine"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/out" ] && sed 's/^/    /' "$T/out" | head -30; }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }

[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }
if ! command -v luajit >/dev/null 2>&1 || [ ! -f /usr/bin/busted ]; then
    echo "SKIP luajit or busted not installed"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
if [ ! -f "$B/engine_core.so" ]; then
    echo "FAIL no $B/engine_core.so (make all)"; echo "0 passed, 1 failed"; exit 1
fi

mkdir -p "$T/proj/spec" "$T/proj/policies"
cat >"$T/proj/policies/small.lua" <<'LUA'
local engine = require "engine"
engine.on("http.request", function(flow, ev)
  if ev.uri == "/small.txt" then
    engine.alert(flow, "small file requested", { uri = ev.uri })
  end
end)
LUA
cat >"$T/proj/policies/broken.lua" <<'LUA'
local engine = require "engine"
engine.on("http.request", function(flow, ev)
  local n = ev.uri + 1
end)
LUA
cat >"$T/proj/spec/good_spec.lua" <<LUA
local T = require "engine.testing"
describe("small policy", function()
  it("alerts once on the capture", function()
    local out = T.run { pcap = "$top/pcaps/http-curl.pcap", scripts = { "policies/small.lua" } }
    assert.are.equal(1, #out.alert)
    assert.are.equal("small file requested", out.alert[1].msg)
  end)
  it("ignores other paths with a synthetic event", function()
    local eng = T.load { "policies/small.lua" }
    eng:fire("http.request", { method = "GET", uri = "/index.html", host = "h" },
             { orig_h = "10.0.0.1", orig_p = 5555, resp_h = "10.0.0.2", resp_p = 80, proto = "tcp" })
    assert.are.equal(0, #eng:records("alert"))
  end)
end)
LUA

# 1. the default folder spec/, all passing
(cd "$T/proj" && "$ENG" test) >"$T/out" 2>&1
rc=$?
check "passing specs exit 0 (DIR defaults to spec/)" [ $rc -eq 0 ]
check "busted reports 2 successes" grep -q "2 successes / 0 failures / 0 errors" "$T/out"

# 2. an expectation broken on purpose: exit non-zero, message at the spec's line
cat >"$T/proj/spec/bad_spec.lua" <<LUA
local T = require "engine.testing"
describe("small policy, wrong expectation", function()
  it("expects two alerts", function()
    local out = T.run { pcap = "$top/pcaps/http-curl.pcap", scripts = { "policies/small.lua" } }
    assert.are.equal(2, #out.alert)
  end)
end)
LUA
(cd "$T/proj" && "$ENG" test spec) >"$T/out" 2>&1
rc=$?
check "a failing spec exits non-zero" [ $rc -ne 0 ]
check "the failure names the spec file:line" grep -q "spec/bad_spec.lua:5: Expected objects to be equal" "$T/out"
check "the other specs still pass" grep -q "2 successes / 1 failure" "$T/out"
rm "$T/proj/spec/bad_spec.lua"

# 3. a policy's handler error fails the spec, naming the spec line and the policy line
cat >"$T/proj/spec/err_spec.lua" <<'LUA'
local T = require "engine.testing"
describe("broken policy", function()
  it("raises", function()
    local eng = T.load { "policies/broken.lua" }
    eng:fire("http.request", { uri = "/" })
  end)
end)
LUA
(cd "$T/proj" && "$ENG" test spec/err_spec.lua) >"$T/out" 2>&1
rc=$?
check "a handler error exits non-zero" [ $rc -ne 0 ]
check "the error names the spec line and the policy line" \
    grep -q "spec/err_spec.lua:5: error in handler for http.request (lua.strict): policies/broken.lua:3:" "$T/out"
rm "$T/proj/spec/err_spec.lua"

# 4. a spec file that does not load fails the run
printf 'describe("x", function()\n  it("y", function() end)\n' >"$T/proj/spec/syntax_spec.lua"
(cd "$T/proj" && "$ENG" test) >"$T/out" 2>&1
rc=$?
check "a spec with a syntax error exits non-zero" [ $rc -ne 0 ]
check "the syntax error names the spec file" grep -q "syntax_spec.lua" "$T/out"
rm "$T/proj/spec/syntax_spec.lua"

# 5. the project's summary handler prints the closing count line
(cd "$T/proj" && "$ENG" test -o "$top/tests/spec/summary.lua") >"$T/out" 2>&1
check "summary handler: 2 passed, 0 failed" grep -q "^2 passed, 0 failed" "$T/out"

# 6. specs are isolated: a global set by a policy in one spec is not seen by the next
cat >"$T/proj/spec/iso_spec.lua" <<'LUA'
local T = require "engine.testing"
describe("isolation", function()
  it("a policy's globals stay in its engine", function()
    local a = T.load { code = "LEAK = 42; engine.on('flow.start', function() end)" }
    local b = T.load { code = "engine.log('g', { leak = LEAK or 'none' })" }
    assert.is_nil(LEAK)
    assert.are.equal("none", b:records("g")[1].leak)
    a:close(); b:close()
  end)
end)
LUA
(cd "$T/proj" && "$ENG" test spec/iso_spec.lua) >"$T/out" 2>&1
check "policies run in their own Lua state" [ $? -eq 0 ]
rm "$T/proj/spec/iso_spec.lua"

"$ENG" -h >"$T/out" 2>&1
check "engine -h documents engine test" grep -q "engine test" "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
