#!/bin/sh
# test_refdocs.sh - docs/reference/ is the reference a user reads, and it cannot
# drift from the code: events.md and config.md are what the engine generates now
# (tests/tools/gen-refdocs.sh), every flow field the Lua proxy answers is in the
# generated list, every configuration key the code reads (dec_config*,
# engine.config[...]) is a known key or declared by its script, every column a log
# script declares is in logs.md, every function of the engine module is in
# lua-api.md, and docs/ points to nothing outside the repository. Then the typo
# checks of the Lua API and of --set (issue 11).
#   sh tests/e2e/test_refdocs.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
ENG="$B/engine"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
[ -x "$ENG" ] || { echo "no $ENG"; echo "0 passed, 1 failed"; exit 1; }
PCAP=pcaps/http-curl.pcap
R=docs/reference

# ---- generated pages are current ----------------------------------------------
"$ENG" --list-events --format=markdown >"$T/events.md"
check "events.md is what --list-events --format=markdown gives (run tests/tools/gen-refdocs.sh)" \
    cmp -s "$T/events.md" $R/events.md
"$ENG" --list-config --format=markdown >"$T/config.md"
check "config.md is what --list-config --format=markdown gives (run tests/tools/gen-refdocs.sh)" \
    cmp -s "$T/config.md" $R/config.md

# every event of events.def has its section, every field its row
miss=
for ev in $(sed -n 's/^ENG_EVENT([A-Z0-9_]*, "\([^"]*\)".*/\1/p' engine/events.def); do
    grep -q "^### \`$ev\`\$" $R/events.md || miss="$miss $ev"
done
check "every event of engine/events.def is in events.md${miss:+ (missing:$miss)}" [ -z "$miss" ]
nf=$(grep -c '^ENG_FIELD(' engine/events.def)
nrows=$(sed -n '/^## Events/,/^## Flow fields/p' $R/events.md | grep -c '^| `')
check "events.md has a row for each of the $nf fields of events.def ($nrows)" [ "$nf" -eq "$nrows" ]

# the Lua flow proxy answers exactly the names of engine/flowfields.def
"$ENG" -q -r $PCAP -e 'for _, n in ipairs(engine._flow_fields()) do print(n) end' | sort >"$T/lua_ff"
sed -n 's/^FLOW_FIELD(\([a-z_]*\),.*/\1/p' engine/flowfields.def | sort >"$T/def_ff"
check "flow fields of lua/engine.lua = engine/flowfields.def ($(wc -l <"$T/lua_ff"))" \
    sh -c "[ -s '$T/lua_ff' ] && cmp -s '$T/lua_ff' '$T/def_ff'"
miss=
for f in $(cat "$T/lua_ff"); do
    sed -n '/^## Flow fields/,$p' $R/events.md | grep -q "^| \`$f\` |" || miss="$miss $f"
done
check "every flow field is in events.md${miss:+ (missing:$miss)}" [ -z "$miss" ]

# every configuration key the code reads is a known key (config.md) or declared by the
# script that reads it (engine.config_key)
"$ENG" --list-config | grep -v '^ ' | sort >"$T/keys"
miss=
for k in $(grep -rhoE 'dec_config(_u64)?\([a-z]+, "[a-z0-9_.]+"' engine decoders | sed 's/.*"\(.*\)"/\1/' | sort -u); do
    grep -qx "$k" "$T/keys" || miss="$miss $k"
done
for f in scripts/*.lua scripts/*/*.lua; do
    for k in $(grep -oE 'config\["[a-z0-9_.]+"\]|cfg\("[a-z0-9_.]+"' "$f" | sed 's/.*"\(.*\)".*/\1/' | sort -u); do
        grep -qx "$k" "$T/keys" || grep -q "config_key(\"$k\"" "$f" || miss="$miss $k($f)"
    done
done
check "every key the code reads is in config.md or declared${miss:+ (missing:$miss)}" [ -z "$miss" ]
n=$(wc -l <"$T/keys")
check "config.md has a row for each of the $n keys" [ "$(grep -c '^| `[a-z]' $R/config.md)" -eq "$n" ]
check "decoders' keys are in config.md" sh -c "grep -q '^| \`tls.max_handshake\` | bytes | \`64KiB\`' $R/config.md && grep -q '^| \`dns.query_timeout\`' $R/config.md && grep -q '^| \`files.digests\`' $R/config.md"

# every column a log script declares is in logs.md, in its stream's section
miss=
for f in scripts/logs/*.lua; do
    awk '/log_columns\(/ { on = 1 } on { print } on && /\}\)/ { on = 0 }' "$f" |
        tr -d '\n' | sed 's/log_columns(/\n/g' | sed -n 's/^\(proto\|"[a-z0-9_]*"\), *{\(.*\)/\1|\2/p' >"$T/cols"
    echo >>"$T/cols" # tr removed the last newline: read would skip that line
    while IFS='|' read -r stream cols; do
        [ -n "$stream" ] || continue
        stream=$(echo "$stream" | tr -d '"')
        [ "$stream" = proto ] && stream=pop3 # mail_session.lua: pop3 and imap share one section
        sect=$(awk -v s="$stream" 'index($0, "## `" s "`") == 1 { on = 1; next } /^## / { on = 0 } on' $R/logs.md)
        [ -n "$sect" ] || { miss="$miss $stream(no section)"; continue; }
        for c in $(echo "$cols" | grep -oE '"[A-Za-z0-9_.]+"' | tr -d '"'); do
            echo "$sect" | grep -q "\`$c\`" || miss="$miss $stream.$c"
        done
    done <"$T/cols"
done
check "every declared log column is in logs.md${miss:+ (missing:$miss)}" [ -z "$miss" ]

# every public function of the engine module is in lua-api.md
miss=
for fn in $("$ENG" -q -r $PCAP -e 'for k in pairs(engine) do if k:sub(1, 1) ~= "_" then print(k) end end'); do
    grep -q "engine\.$fn\b" $R/lua-api.md || miss="$miss $fn"
done
check "every engine.* function is in lua-api.md${miss:+ (missing:$miss)}" [ -z "$miss" ]
miss=
for h in run step rewind flows flow collect stream show reload help; do
    grep -q "^| \`$h(" $R/lua-api.md || miss="$miss $h"
done
check "every REPL helper is in lua-api.md${miss:+ (missing:$miss)}" [ -z "$miss" ]
check "docs/ points nowhere outside the repository (../shared)" sh -c '! grep -rn "shared/spec" docs README.md'
for p in README.md lua-api.md events.md config.md logs.md cli.md; do
    check "docs/reference/$p exists" [ -s $R/$p ]
done
check "README.md links docs/reference/" grep -q 'docs/reference/' README.md
check "docs/guide.md links reference/" grep -q '(reference/' docs/guide.md

# ---- typos are errors --------------------------------------------------------
"$ENG" -q -r $PCAP --set lua.strcit=true -e 'x = 1' >"$T/out" 2>"$T/err"
check "--set of an unknown key exits 2" [ $? -eq 2 ]
check "--set: the message names the nearest key" \
    grep -qF "engine: --set lua.strcit: unknown key (did you mean 'lua.strict'?)" "$T/err"
"$ENG" -q -r $PCAP --set tls.max_handshak=2048 -e 'x = 1' >"$T/out" 2>"$T/err"
check "--set: a decoder's key is suggested too" grep -qF "(did you mean 'tls.max_handshake'?)" "$T/err"
"$ENG" -q -r $PCAP --set my.limit=5 \
    -e 'engine.config_key("my.limit", 3, "mine"); print(engine.config["my.limit"])' >"$T/out" 2>"$T/err"
rc=$?
check "--set of a key a script declares is accepted" sh -c "[ $rc -eq 0 ] && [ \"\$(cat '$T/out')\" = 5 ]"
"$ENG" -q -r $PCAP -e 'engine.config_key("my.limit", 3); print(engine.config["my.limit"])' >"$T/out" 2>"$T/err"
check "a declared key reads its default" [ "$(cat "$T/out")" = 3 ]
"$ENG" -q -r $PCAP --set my.limt=5 -e 'engine.config_key("my.limit", 3)' >"$T/out" 2>"$T/err"
rc=$?
check "--set: a declared key is suggested" sh -c "[ $rc -eq 2 ] && grep -qF \"(did you mean 'my.limit'?)\" '$T/err'"
"$ENG" -q -r $PCAP --set tcp.overlap=last --set files.digests=md5 -e 'x = 1' >"$T/out" 2>"$T/err"
check "--set of known keys still runs" [ $? -eq 0 ]
"$ENG" --list-config >"$T/out" 2>"$T/err"
rc=$?
check "--list-config prints keys with default and meaning" \
    sh -c "[ $rc -eq 0 ] && grep -q '^lua.strict\$' '$T/out' && grep -q 'type: bool  default: false' '$T/out'"
"$ENG" --format=markdown -r $PCAP >"$T/out" 2>"$T/err"
check "--format without a --list option is a usage error" [ $? -eq 2 ]
"$ENG" --list-events >"$T/out"
check "--list-events lists the flow fields" sh -c "grep -q '^flow ' '$T/out' && grep -q '^    orig_h ' '$T/out'"

cat >"$T/p.lua" <<'LUA'
engine.on("http.request", function(flow, ev)
  local ok, err = pcall(function() return ev.urii end)
  io.stderr:write("EV ", tostring(err), "\n")
  ok, err = pcall(function() return flow.orig_host end)
  io.stderr:write("FLOW ", tostring(err), "\n")
  io.stderr:write("ABSENT ", tostring(ev.referrer), "\n")
  local x = ev.uri_  -- not caught: a handler error at this line
end)
LUA
"$ENG" -q -r $PCAP -s "$T/p.lua" -e 'x = 1' >"$T/out" 2>"$T/err"
check "ev.urii: error naming the field and the nearest one, at the handler's line" \
    grep -qF "EV $T/p.lua:2: event 'http.request' has no field 'urii' (did you mean 'uri'?)" "$T/err"
check "flow.orig_host: error naming the nearest field" \
    grep -qF "FLOW $T/p.lua:4: flow has no field 'orig_host' (did you mean 'orig_h'?)" "$T/err"
check "a catalogue field absent in this event still reads nil" grep -qx "ABSENT nil" "$T/err"
check "an uncaught unknown field is a handler error with file:line (not strict)" \
    grep -qF "error in handler for http.request: $T/p.lua:7: event 'http.request' has no field 'uri_' (did you mean 'uri'?)" "$T/err"

"$ENG" -q -r $PCAP -e 'engine.on("HTTP.REQUEST", function() end)' >"$T/out" 2>"$T/err"
check "an upper-case event name suggests its lower-case match" \
    grep -qF "(-e):1: unknown event 'HTTP.REQUEST' (did you mean 'http.request'?)" "$T/err"
for c in 'engine.every(0, print)' 'engine.every(-1, print)' 'engine.after("x", print)' 'engine.after(1, 2)' 'engine.every(1)'; do
    printf 'local a = 1\n%s\n' "$c" >"$T/t.lua"
    "$ENG" -q -r $PCAP -s "$T/t.lua" >"$T/out" 2>"$T/err"
    check "$c: the error carries file:line" grep -qF "engine: $T/t.lua:2: engine." "$T/err"
done
"$ENG" -q -r $PCAP -e 'engine.on("flow.end", function(f) engine.log("t", { n = 1 }) end)
engine.on("engine.done", function() engine.log("t", { ts = 5 }) end)' >"$T/out" 2>"$T/err"
check "engine.log fills ts when the record has none" grep -q '^{"_path":"t","ts":1[0-9.]*,"n":1}$' "$T/out"
check "engine.log keeps a ts the record has" grep -q '^{"_path":"t","ts":5}$' "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
