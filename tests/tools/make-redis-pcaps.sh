#!/bin/sh
# Re-create the Redis captures in pcaps/ from redis-server and redis-cli talking over the
# loopback interface: traffic whose "+OK" replies look like POP3 greetings to a one-sided
# probe, so that detection must ask the client direction too (Zeek logs no service).
#
#   sudo sh tests/tools/make-redis-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo) and redis (apt-get install redis-server redis-tools). Not run
# by the tests: the captures are committed; this script documents how they were made.
#
#   redis-cli-6379.pcap  redis-cli SET, GET, INCR, PING, SET with EX (a "+OK" from the server
#                        after each SET) on 127.0.0.1:6379
#   redis-cli-110.pcap   the same against a server on port 110, POP3's port: the port hint
#                        must not make it POP3 either
set -eu
. "$(dirname "$0")/lo-capture.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "needs redis-server and redis-cli (apt-get install redis-server redis-tools)"; exit 1; }

one() { # port file
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$WORK" >"$WORK/redis.log" 2>&1 &
    SERVER_PID=$!
    sleep 0.5
    tcpdump -Z root -i lo -s 0 -U -w "$OUT/$2" "tcp port $1" 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    sleep 1
    for c in "SET greeting hello" "GET greeting" "INCR counter" "PING" "SET session abc EX 60"; do
        # shellcheck disable=SC2086
        redis-cli -h 127.0.0.1 -p "$1" $c >/dev/null
    done
    sleep 1
    kill "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true; TCPDUMP_PID=
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
    echo "wrote $OUT/$2"
}
one 6379 redis-cli-6379.pcap
one 110 redis-cli-110.pcap
