#!/bin/sh
# Re-create the TLS captures in pcaps/ from a real server (openssl s_server) and a real
# client (curl) talking over the loopback interface, with throw-away certificates made
# here by openssl (a CA, a server certificate for tls.test with two DNS SANs, a client
# certificate).
#
#   sudo sh tests/tools/make-tls-pcaps.sh [OUTDIR]      (default: pcaps/)
#
# Needs root (tcpdump -i lo), openssl, curl. Not run by the tests: the captures are
# committed; this script documents how they were made (timestamps, ports, keys and
# randoms differ on every run). tests/e2e/test_tls_tshark.sh checks them against tshark
# and against the facts set here (SNI, ALPN, versions, certificate subjects and SANs).
#
#   tls12-sni-alpn.pcap    TLS 1.2, SNI tls.test, ALPN h2,http/1.1 (server picks http/1.1),
#                          server chain of two
#   tls13-sni-alpn.pcap    TLS 1.3, SNI tls.test, ALPN h2,http/1.1 (server picks http/1.1;
#                          certificates encrypted)
#   tls12-bare.pcap        TLS 1.2 to 127.0.0.1: no SNI, no ALPN
#   tls12-client-cert.pcap TLS 1.2 with a client certificate (CN=client.tls.test)
#   tls13-bare.pcap        TLS 1.3 to 127.0.0.1: no SNI, no ALPN
#   tls12-unknown-ca.pcap  TLS 1.2, curl does not trust the CA: a fatal unknown_ca alert
#                          in the clear
set -eu
. "$(dirname "$0")/lo-capture.sh"
PORT=44433
server_start() { # s_server options...
    openssl s_server -accept "127.0.0.1:$PORT" -cert "$WORK/server.pem" -key "$WORK/server.key" \
        -cert_chain "$WORK/ca.pem" -www -quiet "$@" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    sleep 1
}
server_stop() {
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# ---- certificates (valid for 10 years from today; serials fixed)
cd "$WORK"
cat >ext.cnf <<'X'
[srv]
subjectAltName = DNS:tls.test, DNS:www.tls.test
basicConstraints = CA:FALSE
[cli]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
X
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/C=ZZ/O=Engine Test CA/CN=Engine Test Root" -set_serial 0x1001 >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj "/C=ZZ/O=Engine Test/CN=tls.test" >/dev/null 2>&1
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x2002 -days 3650 \
    -extfile ext.cnf -extensions srv -out server.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr \
    -subj "/C=ZZ/O=Engine Test/CN=client.tls.test" >/dev/null 2>&1
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial 0x3003 -days 3650 \
    -extfile ext.cnf -extensions cli -out client.pem >/dev/null 2>&1
cd - >/dev/null

URL="https://tls.test:$PORT/"
RES="--resolve tls.test:$PORT:127.0.0.1"

one() { # name server-options -- curl-options
    name=$1; shift
    sopts=""
    while [ "$1" != "--" ]; do sopts="$sopts $1"; shift; done
    shift
    # shellcheck disable=SC2086
    server_start $sopts
    capture_start "$OUT/$name" "tcp port $PORT"
    curl -s -o /dev/null --max-time 5 "$@" || true
    capture_stop "$OUT/$name"
    server_stop
}

one tls12-sni-alpn.pcap -tls1_2 -alpn http/1.1 -- --cacert "$WORK/ca.pem" $RES --http2 "$URL"
one tls13-sni-alpn.pcap -tls1_3 -alpn http/1.1 -- --cacert "$WORK/ca.pem" $RES --http2 "$URL"
one tls12-bare.pcap -tls1_2 -- -k --no-alpn "https://127.0.0.1:$PORT/"
one tls13-bare.pcap -tls1_3 -- -k --no-alpn "https://127.0.0.1:$PORT/"
one tls12-client-cert.pcap -tls1_2 -Verify 1 -CAfile "$WORK/ca.pem" -- --cacert "$WORK/ca.pem" \
    $RES --cert "$WORK/client.pem" --key "$WORK/client.key" "$URL"
one tls12-unknown-ca.pcap -tls1_2 -- $RES "$URL"
