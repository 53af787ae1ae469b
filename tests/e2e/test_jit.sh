#!/bin/sh
# test_jit.sh - the hot Lua paths compile: LuaJIT's trace log (jit.v) shows no
# aborted trace for a reason that would leave them interpreted ("NYI: ...",
# among them a tail call of a builtin at a trace's base, and the loop or call
# unroll limits)
#   - with the default scripts (-o DIR) on benchgen inputs made of pcaps/'s HTTP
#     and SMTP captures, the two inputs of make bench's default rows;
#   - with a handler on every event of the protocol that reads every field of
#     the event and every field of its flow (generated from --list-events).
# jit.v is switched on at engine.init, once every script has loaded: what
# loading does runs once and does not matter. Aborts for loops ("leaving loop
# in root trace", "inner loop in root trace") are the JIT choosing where a
# trace starts, not code it cannot compile, and are allowed; so is "trace too
# long" (LuaJIT's maxrecord: a handler that reads all 30 flow fields on every
# event is longer than a trace may be, and its accessors compile on their own).
# A failure prints the aborts; docs/lua.md ("What compiles") says what each
# means and how the engine's Lua avoids it.
#   sh tests/e2e/test_jit.sh [BUILD]
B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/e2e/harness.sh
ENGINE="$B/engine"
GEN="$B/bench/benchgen"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ ! -x "$GEN" ]; then
    skip "jit" "no $GEN (make all builds it)"
    finish
fi

# jit.v needs the jit.* Lua modules and lua.unsafe (the sandbox keeps them from
# scripts). A second run lists, through jit.attach (one callback per event, so
# not in the same run as jit.v), the functions recorded into the traces that
# completed (source:line where each is defined), in funcs.txt.
cat >"$tmp/jitv.lua" <<EOF
engine.on("engine.init", function() require("jit.v").on("$tmp/jitv.txt") end)
EOF
cat >"$tmp/funcs.lua" <<EOF
local jutil = require "jit.util"
local cur, done = {}, {}
engine.on("engine.init", function()
  jit.attach(function(tr, func) cur[func] = true end, "record")
  jit.attach(function(what)
    if what == "stop" then for f in pairs(cur) do done[f] = true end end
    if what ~= "flush" then cur = {} end
  end, "trace")
end)
engine.on("engine.done", function()
  local fh = io.open("$tmp/funcs.txt", "w")
  for f in pairs(done) do
    local i = jutil.funcinfo(f)
    if i.source then fh:write((i.source:gsub("^@", "")), ":", i.linedefined, "\\n") end
  end
  fh:close()
end)
EOF

# compiled FILE LINE: the function defined at FILE:LINE went into a completed trace
compiled() { grep -qE "(^|/)$1:$2\$" "$tmp/funcs.txt"; }
line_of() { grep -n -F "$2" "$1" | head -n 1 | cut -d: -f1; }

# a handler on each event whose name starts with one of the prefixes, reading
# every field of the event and of the flow, straight-line (no loop)
gen_all_fields() { # OUT PREFIX...
    out=$1; shift
    "$ENGINE" --list-events | awk -v prefixes="$*" '
        BEGIN { np = split(prefixes, pre, " ") }
        function wanted(e,   i) { for (i = 1; i <= np; i++) if (index(e, pre[i]) == 1) return 1; return 0 }
        /^[a-z]/ { cur = $1; sect = ($0 ~ /^flow \(fields/) ? "flow" : "ev"; if (sect == "ev") order[++ne] = cur; next }
        /^    [a-z_]+ / && $1 != "when:" {
            if (sect == "flow") { if ($2 != "method") ff[++nf] = $1 }
            else fields[cur] = fields[cur] " " $1
        }
        END {
            print "local n = 0"
            print "local function len(v) if type(v) == \"string\" then return #v end return v ~= nil and 1 or 0 end"
            for (i = 1; i <= ne; i++) {
                e = order[i]
                if (!wanted(e)) continue
                printf "engine.on(\"%s\", function(flow, ev)\n", e
                k = split(fields[e], fl, " ")
                for (j = 1; j <= k; j++) printf "  n = n + len(ev.%s)\n", fl[j]
                print "  if flow then"
                for (j = 1; j <= nf; j++) printf "    n = n + len(flow.%s)\n", ff[j]
                print "  end"
                print "end)"
            }
            print "engine.on(\"engine.done\", function() io.stderr:write(\"fields read: \", n, \"\\n\") end)"
        }' >"$out"
}

# the aborts that leave code interpreted (the trace log's "[TRACE --- ...]" lines).
# "loop unroll limit reached" has two causes: more tail calls in one trace than
# loopunroll (what the accessors did: the same sites abort again and again, 100+
# times on these inputs) and a side trace running into a loop it may not start
# (the loop then gets its own trace: once or twice a run, varying). Up to 3 of
# those are the second kind; NYI is never allowed.
bad_aborts() {
    grep -E '^\[TRACE --- ' "$1" |
        grep -vE 'leaving loop in root trace|inner loop in root trace|down-recursion|trace too long' >"$tmp/aborts"
    if [ "$(grep -c 'unroll limit reached' "$tmp/aborts")" -le 3 ]; then
        grep -v 'unroll limit reached' "$tmp/aborts"
    else
        cat "$tmp/aborts"
    fi
}

check_run() { # NAME INPUT SCRIPT-ARGS...
    name=$1 in=$2; shift 2
    rm -f "$tmp/jitv.txt"
    if ! "$ENGINE" -q -r "$in" --set lua.unsafe=true -s "$tmp/jitv.lua" "$@" >"$tmp/out" 2>"$tmp/err"; then
        fail "$name" "engine failed: $(head -n 3 "$tmp/err")"
        return
    fi
    if [ ! -s "$tmp/jitv.txt" ]; then
        fail "$name" "no trace log (jit.v wrote nothing)"
        return
    fi
    rm -f "$tmp/funcs.txt"
    "$ENGINE" -q -r "$in" --set lua.unsafe=true -s "$tmp/funcs.lua" "$@" >/dev/null 2>&1
    [ -s "$tmp/funcs.txt" ] || fail "$name: functions in traces" "funcs.txt is empty"
    traces=$(grep -cE '^\[TRACE +[0-9]+ ' "$tmp/jitv.txt")
    bad=$(bad_aborts "$tmp/jitv.txt")
    if [ -n "$bad" ]; then
        fail "$name" "$(echo "$bad" | wc -l) aborted traces of $((traces + $(echo "$bad" | wc -l))):
$(echo "$bad" | sed 's/^\[TRACE --- //; s/\]$//' | sort | uniq -c | sort -rn | head -n 12)"
    else
        pass "$name ($traces traces, no abort that leaves code interpreted)"
    fi
}

HTTP="pcaps/http-nginx.pcap pcaps/http-curl.pcap"
SMTP=$(ls pcaps/smtp-*.pcap)
# shellcheck disable=SC2086
"$GEN" -s 3 -m 4 -k 200 -M "$tmp/http.meta" -o "$tmp/http.pcap" $HTTP >/dev/null 2>&1 &&
    "$GEN" -s 3 -m 4 -k 200 -M "$tmp/smtp.meta" -o "$tmp/smtp.pcap" $SMTP >/dev/null 2>&1
if [ $? -ne 0 ] || [ ! -s "$tmp/http.pcap" ] || [ ! -s "$tmp/smtp.pcap" ]; then
    fail "benchgen inputs" "benchgen failed"
    finish
fi

mkdir -p "$tmp/logs-http" "$tmp/logs-smtp"
check_run "default scripts, http (4 MiB)" "$tmp/http.pcap" -s scripts/default.lua -o "$tmp/logs-http"
for h in "conn.lua flow.end" "http.lua http.request" "files.lua file.done"; do
    set -- $h
    l=$(line_of "scripts/logs/$1" "engine.on(\"$2\"")
    if [ -n "$l" ] && compiled "$1" "$l"; then pass "$1's $2 handler is compiled"
    else fail "$1's $2 handler is compiled" "scripts/logs/$1:$l is in no completed trace"; fi
done
check_run "default scripts, smtp (4 MiB)" "$tmp/smtp.pcap" -s scripts/default.lua -o "$tmp/logs-smtp"

gen_all_fields "$tmp/all-http.lua" http. file. flow.
gen_all_fields "$tmp/all-smtp.lua" smtp. mail. mime. file. flow.
if grep -q 'ev.uri' "$tmp/all-http.lua" && grep -q 'flow.community_id' "$tmp/all-http.lua" &&
    grep -q 'ev.mail_from\|ev.from' "$tmp/all-smtp.lua"; then
    pass "every-field handlers generated from --list-events"
else
    fail "every-field handlers generated from --list-events" "$(head -n 20 "$tmp/all-http.lua")"
fi
check_run "every field of every http event and its flow" "$tmp/http.pcap" -s "$tmp/all-http.lua"
check_run "every field of every smtp event and its flow" "$tmp/smtp.pcap" -s "$tmp/all-smtp.lua"
# the handler itself becomes one trace: http.request's fields and the flow's
# 5-tuple and uid, as a log script reads them (hot: one call per request)
cat >"$tmp/req.lua" <<'EOF'
local n = 0
engine.on("http.request", function(flow, ev)
  local r = { uid = flow.uid, oh = flow.orig_h, op = flow.orig_p, rh = flow.resp_h, rp = flow.resp_p,
    method = ev.method, uri = ev.uri, version = ev.version, host = ev.host,
    user_agent = ev.user_agent, headers = ev.headers, offset = ev.offset, referrer = ev.referrer }
  n = n + #r.uri
end)
EOF
check_run "a log-style http.request handler" "$tmp/http.pcap" -s "$tmp/req.lua"
if compiled req.lua 2; then
    pass "the log-style http.request handler is compiled"
else
    fail "the log-style http.request handler is compiled" "req.lua:2 is in no completed trace"
fi
finish
