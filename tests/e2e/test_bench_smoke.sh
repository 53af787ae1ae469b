#!/bin/sh
# Smoke test of `make bench` (docs/performance.md): its generator and harness run, at 1 MiB.
#
#   sh tests/e2e/test_bench_smoke.sh [BUILD_DIR]        (default: build)
#
# Checks, on inputs generated into a temporary folder from pcaps/:
#   - benchgen is deterministic (same seed: same bytes; another seed: other bytes)
#   - the replayed flows are whole and well-formed: tshark (when installed) counts as many TCP
#     conversations and as many TCP payload bytes as benchgen's .meta says, and finds no bad
#     checksum; the engine's reassembly delivers exactly those payload bytes with no gap and
#     no weird, in as many flows
#   - `--set engine.detect=false` (the reassembly mode) attaches no decoder: conn.log has no
#     service, while the same run without it has http
#   - the readline inputs decode as one SMTP message, in order and with packets 4..99
#     reversed (the same events and the same file size)
#   - bench.py runs end to end (BENCH_MB=1, one run, http only) and prints a row for every
#     mode and the seed suite's rows (or SKIP rows when ../shared/pcaps is absent)
# Needs build/bench/benchgen and benchrun (make bench-bins); SKIPs when they are missing.
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
GEN="$B/bench/benchgen"
RUN="$B/bench/benchrun"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0 skip=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
sk() { echo "SKIP $1"; skip=$((skip + 1)); }
check() { name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
meta() { sed -n "s/^$2 //p" "$1"; }

if [ ! -x "$GEN" ] || [ ! -x "$RUN" ]; then
    sk "bench binaries missing in $B/bench (make bench-bins)"
    echo "$pass passed, $fail failed, $skip skipped"
    exit 0
fi

HTTP="pcaps/http-nginx.pcap pcaps/http-curl.pcap"
# shellcheck disable=SC2086
"$GEN" -s 7 -m 1 -k 300 -M "$tmp/a.meta" -o "$tmp/a.pcap" $HTTP &&
    "$GEN" -s 7 -m 1 -k 300 -M "$tmp/b.meta" -o "$tmp/b.pcap" $HTTP &&
    "$GEN" -s 8 -m 1 -k 300 -M "$tmp/c.meta" -o "$tmp/c.pcap" $HTTP
rc=$?
check "benchgen runs" [ $rc -eq 0 -a -s "$tmp/a.pcap" ]
check "same seed, same bytes" cmp -s "$tmp/a.pcap" "$tmp/b.pcap"
check "another seed, other bytes" sh -c "! cmp -s '$tmp/a.pcap' '$tmp/c.pcap'"
flows=$(meta "$tmp/a.meta" flows)
payload=$(meta "$tmp/a.meta" payload_bytes)
size=$(wc -c <"$tmp/a.pcap")
check "about 1 MiB ($size bytes), several flows ($flows), meta file size right" \
    [ "$size" -gt 700000 -a "$size" -lt 1600000 -a "${flows:-0}" -gt 20 -a \
    "$(meta "$tmp/a.meta" file_bytes)" = "$size" ]

if command -v tshark >/dev/null 2>&1; then
    tconv=$(tshark -n -r "$tmp/a.pcap" -q -z conv,tcp 2>/dev/null | grep -c '<->')
    check "tshark: $tconv TCP conversations = meta flows $flows" [ "$tconv" = "$flows" ]
    tbytes=$(tshark -n -r "$tmp/a.pcap" -T fields -e tcp.len 2>/dev/null | awk '{s += $1} END {print s}')
    check "tshark: $tbytes TCP payload bytes = meta $payload" [ "$tbytes" = "$payload" ]
    all=$(tshark -n -r "$tmp/a.pcap" 2>/dev/null | wc -l)
    good=$(tshark -n -r "$tmp/a.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
        -Y 'tcp.checksum.status == 1 && ip.checksum.status == 1 && !_ws.malformed' 2>/dev/null | wc -l)
    check "tshark: IP and TCP checksums good in all $all packets ($good)" [ "$good" -eq "$all" -a "$all" -gt 100 ]
else
    sk "tshark not installed: conversation and payload counts not compared"
fi

"$RUN" reassembly "$tmp/a.pcap" 2>"$tmp/re.err"
re=$(cat "$tmp/re.err")
check "reassembly delivers meta's payload bytes in meta's flows, no weird: $re" \
    sh -c "echo '$re' | grep -q 'flows $flows delivered $payload events 0 field bytes 0 weirds 0'"
"$RUN" decode http "$tmp/a.pcap" 2>"$tmp/de.err"
ev=$(sed -n 's/.* events \([0-9]*\) .*/\1/p' "$tmp/de.err")
check "decode counts events (${ev:-none}) on the http input" [ "${ev:-0}" -gt "$flows" ]

mkdir -p "$tmp/o1" "$tmp/o2"
"$B/engine" -q -r "$tmp/a.pcap" -o "$tmp/o1" --set engine.detect=false
"$B/engine" -q -r "$tmp/a.pcap" -o "$tmp/o2"
check "engine.detect=false: no service in conn.log, no http.log" \
    sh -c "! grep -q '\"service\"' '$tmp/o1/conn.log' && [ ! -e '$tmp/o1/http.log' ]"
check "engine.detect=true (default): http in conn.log" grep -q '"service":"http"' "$tmp/o2/conn.log"

"$GEN" -R 500 -o "$tmp/rl.pcap" && "$GEN" -R 500 -r -o "$tmp/rlr.pcap"
n=$(tshark -n -r "$tmp/rl.pcap" 2>/dev/null | wc -l)
command -v tshark >/dev/null 2>&1 && check "readline input: 100 packets ($n)" [ "$n" -eq 100 ]
"$RUN" decode readline "$tmp/rl.pcap" 2>"$tmp/rl.err"
"$RUN" decode readline "$tmp/rlr.pcap" 2>"$tmp/rlr.err"
check "readline: in order and reversed give the same events ($(cat "$tmp/rl.err"))" \
    sh -c "[ -s '$tmp/rl.err' ] && diff '$tmp/rl.err' '$tmp/rlr.err' >/dev/null && grep -q 'weirds 1' '$tmp/rl.err'"
# the one weird: the micro-benchmark sends DATA without MAIL and RCPT, as the seed's does
# (smtp_mail_transaction_invalid, RFC 5321's transaction states)
"$B/engine" -q -r "$tmp/rl.pcap" -o "$tmp/rlw"
check "readline: its one weird is smtp_mail_transaction_invalid" grep -q '"name":"smtp_mail_transaction_invalid","addl":"DATA without RCPT"' "$tmp/rlw/weird.log"
mkdir -p "$tmp/rlo"
"$B/engine" -q -r "$tmp/rlr.pcap" -o "$tmp/rlo"
# the message is 97 packets of 500 bytes; its body is what follows "Subject: bench" and the
# blank line (18 bytes) up to the lone "." (3 bytes): 48500 - 21 = 48479 bytes
check "readline reversed: one SMTP message, subject bench" grep -q '"subject":"bench"' "$tmp/rlo/smtp.log"
check "readline reversed: one file of 48479 bytes" \
    sh -c "[ \$(wc -l <'$tmp/rlo/files.log') -eq 1 ] && grep -q '\"seen_bytes\":48479' '$tmp/rlo/files.log'"

python3 tests/bench/bench.py --build "$B" --mb 1 --runs 1 --peer-runs 1 --only http \
    --seed-seconds 0.02 --j2 http >"$tmp/table" 2>"$tmp/bench.err"
rc=$?
check "bench.py exits 0" [ $rc -eq 0 ]
for m in reassembly decode lua default default-j2; do
    check "table has a $m row with a figure" grep -Eq "^\| http .*\| $m \| +[0-9.]+ \(" "$tmp/table"
done
if [ -d "${PCAPS:-../shared/pcaps}/protolens" ]; then
    check "seed suite rows with figures" sh -c "grep -Eq '^\| smtp \(smtp.pcap\) \| [0-9]+ ' '$tmp/table' &&
        grep -Eq '^\| readline100 \| [0-9]+ ' '$tmp/table' && grep -q 'new flow + decoder' '$tmp/table'"
else
    check "seed rows say SKIP without the shared captures" grep -q 'SKIP' "$tmp/table"
fi
[ $rc -eq 0 ] || tail -5 "$tmp/bench.err"

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
