#!/bin/sh
# test_guide.sh - the commands of docs/guide.md work as written: every fenced
# ```sh block is run, in order, as one `sh -e` script in a fresh folder that
# holds links to the build folder (as build/), pcaps/, scripts/ and tests/, and
# must exit 0. The guide's first policy is also checked to alert as it says.
#   sh tests/e2e/test_guide.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
case $B in /*) ;; *) B="$top/$B" ;; esac
GUIDE=docs/guide.md
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); printf 'PASS %s\n' "$1"; }
ko() { fail=$((fail + 1)); printf 'FAIL %s\n' "$1"; [ -f "$2" ] && sed 's/^/    /' "$2" | tail -25; }

[ -x "$B/engine" ] || { echo "no $B/engine"; echo "0 passed, 1 failed"; exit 1; }
[ -f "$GUIDE" ] || { echo "no $GUIDE"; echo "0 passed, 1 failed"; exit 1; }

mkdir -p "$T/work" "$T/blocks"
ln -s "$B" "$T/work/build"
for d in pcaps scripts tests lua; do ln -s "$top/$d" "$T/work/$d"; done

# split the ```sh blocks into files 01.sh, 02.sh, ... with the guide's line number
awk -v dir="$T/blocks" '
    /^```sh[ \t]*$/ { n++; f = sprintf("%s/%02d.sh", dir, n); printf "" > f;
                      printf "%d\n", NR + 1 > (f ".line"); inblock = 1; next }
    /^```/ && inblock { inblock = 0; close(f); next }
    inblock { print >> f }
' "$GUIDE"

nblocks=0
for f in "$T"/blocks/*.sh; do
    [ -f "$f" ] || continue
    nblocks=$((nblocks + 1))
    line=$(cat "$f.line")
    first=$(grep -v '^[[:space:]]*$' "$f" | head -n 1 | cut -c1-60)
    (cd "$T/work" && sh -e "$f") >"$T/out" 2>&1 </dev/null
    rc=$?
    if [ $rc -eq 0 ]; then ok "guide.md:$line: $first"; else ko "guide.md:$line: $first (exit $rc)" "$T/out"; fi
done
if [ $nblocks -ge 5 ]; then ok "the guide has $nblocks sh blocks"; else ko "the guide has only $nblocks sh blocks"; fi

# what the guide says its first policy prints
if [ -f "$T/work/not_found.lua" ]; then
    (cd "$T/work" && build/engine -r pcaps/http-curl.pcap -s not_found.lua) >"$T/out" 2>&1
    if grep -q '"msg":"page not found".*"uri":"/no/such/page"' "$T/out"; then
        ok "the first policy alerts on /no/such/page"
    else
        ko "the first policy alerts on /no/such/page" "$T/out"
    fi
else
    ko "the guide creates not_found.lua"
fi

# the files the guide links to exist
for l in $(grep -o '](\([A-Za-z./_-]*\))' "$GUIDE" | sed 's/^](//; s/)$//'); do
    if [ -e "docs/$l" ]; then ok "link $l"; else ko "link $l (no docs/$l)"; fi
done
for s in scripts/examples/cleartext_creds.lua scripts/examples/http_watchlist.lua \
         scripts/examples/mail_attachment_hashes.lua; do
    if grep -q "$s" "$GUIDE" && [ -f "$s" ]; then ok "example $s"; else ko "example $s"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
