#!/bin/sh
# (Re)make the fuzz corpora tests/fuzz/corpus/<target> (the target's name without
# "fuzz_") by minimising, with libFuzzer's -merge=1, what is there already, what
# `make fuzz-run` (or any run) left in build/fuzz/corpus-<target>, the shared seeds
# tests/fuzz/seeds and the inputs made here from the project's pcaps/: one
# connection each for the stream targets (tests/fuzz/stream2seed.py), whole small
# captures for fuzz_lua and fuzz_packets (tests/fuzz/pcap2seed.py; fuzz_lua's with
# byte 0 = 0x40 too: the default log scripts loaded). Needs `make fuzz` (clang).
#   sh tests/fuzz/make-corpus.sh                  every target
#   sh tests/fuzz/make-corpus.sh fuzz_stream_smtp fuzz_lua
# Inputs are cut at MAX_LEN bytes (default 16384, as smoke.sh and fuzz-run use).
cd "$(dirname "$0")/../.." || exit 1
MAX_LEN=${MAX_LEN:-16384}
[ $# -gt 0 ] || set -- $(ls build/fuzz/fuzz_* 2>/dev/null | grep -v '\.d$' | xargs -n 1 basename)
[ $# -gt 0 ] || { echo "no build/fuzz/fuzz_*: make fuzz first (clang)"; exit 1; }
seeds=build/fuzz/pcap-seeds
rm -rf "$seeds"
mkdir -p "$seeds/lua" "$seeds/packets"
s() { # decoder capture connection-index
    mkdir -p "$seeds/stream_$1"
    python3 tests/fuzz/stream2seed.py "pcaps/$2.pcap" "$seeds/stream_$1/$2-$3.bin" "$3"
}
s http http-curl 0; s http http-curl 3; s http http-nginx 0; s http http-nginx 4
s http http-odd-bodies 1; s http http-odd-09 0; s http http-odd-reqline 2
s smtp smtp-python 0; s smtp smtp-swaks-attach 0; s smtp smtp-swaks-login-pipe 0
s smtp smtp-swaks-starttls 0; s smtp smtp-python-two 0
s pop3 pop3-dovecot 0; s pop3 pop3-dovecot 1; s pop3 pop3-dovecot 2; s pop3 pop3-dovecot-stls 0
s imap imap-dovecot 0; s imap imap-dovecot 1; s imap imap-dovecot 2; s imap imap-dovecot-starttls 0
s ftp ftp-vsftpd-pasv 0; s ftp ftp-proftpd-ccc 0; s ftp ftp-vsftpd-eprt 0; s ftp ftp-vsftpd-authtls 0
s sip sip-tcp-call 0
s ssl tls12-client-cert 0; s ssl tls13-sni-alpn 0; s ssl tls12-sni-alpn 0; s ssl tls12-unknown-ca 0
for p in pcaps/*.pcap; do
    n=$(basename "$p" .pcap)
    python3 tests/fuzz/pcap2seed.py "$p" "$seeds/packets/$n.bin"
    cp "$seeds/packets/$n.bin" "$seeds/lua/$n.bin"
    python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(b"\x40" + d[1:])' \
        "$seeds/packets/$n.bin" "$seeds/lua/$n-logs.bin"
done
for t in "$@"; do
    short=${t#fuzz_}
    out=tests/fuzz/corpus/$short
    new=$(mktemp -d)
    dirs=""
    for d in "$out" "build/fuzz/corpus-$t" "$seeds/$short" tests/fuzz/seeds; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    if ! build/fuzz/"$t" -merge=1 -max_len="$MAX_LEN" -timeout=20 "$new" $dirs >"$new.log" 2>&1; then
        tail -n 20 "$new.log"
        echo "$t: merge failed"
        rm -rf "$new" "$new.log"
        exit 1
    fi
    rm -rf "$out"
    mkdir -p "$out"
    cp "$new"/* "$out"/ 2>/dev/null
    echo "$t: $(ls "$out" | wc -l) inputs, $(du -sk "$out" | cut -f1) KB"
    rm -rf "$new" "$new.log"
done
