# lo-capture.sh - sourced by the tests/tools/make-*-pcaps.sh scripts: the output folder
# (OUT, from $1, default pcaps/), a work folder (WORK) removed at exit with the server
# (SERVER_PID) and tcpdump (TCPDUMP_PID) still running, and a capture on lo:
#   capture_start FILE FILTER    tcpdump on lo (Ethernet link type, zero MACs), packet-buffered
#   capture_stop FILE            stops it and says how many packets it captured
# A script that needs more at exit defines cleanup_extra before it exits.
OUT=${1:-pcaps}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
TCPDUMP_PID=
SERVER_PID=
cleanup() {
    command -v cleanup_extra >/dev/null 2>&1 && cleanup_extra
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

capture_start() {
    tcpdump -Z root -i lo -s 0 -U -w "$1" "$2" 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    sleep 1
}
capture_stop() {
    sleep 1
    kill "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=
    echo "$1: $(grep captured "$WORK/tcpdump.err")"
}
