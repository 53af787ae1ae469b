#!/bin/sh
# (Re)make the fuzz corpora tests/fuzz/corpus/<target> (the target's name without
# "fuzz_"): libFuzzer's set-cover merge (-set_cover_merge=1 -use_counters=0: a small
# set of inputs that reaches the same edges) of what is there already, what
# `make fuzz-run` (or any run) left in build/fuzz/corpus-<target>, and the inputs
# made here from the project's pcaps/: one connection each for the stream targets
# (tests/fuzz/stream2seed.py), every capture for fuzz_lua and fuzz_packets
# (tests/fuzz/pcap2seed.py; fuzz_lua's also with byte 0 = 0x40: the default log
# scripts loaded). Inputs are cut at MAX_LEN bytes (default 512: the corpora stay
# small; tests/fuzz/seeds, replayed with every corpus, has the longer ones).
# Files named crash-* (the inputs of fixed crashes) are kept whatever they cover.
# Needs `make fuzz` (clang).
#   sh tests/fuzz/make-corpus.sh                  every target
#   sh tests/fuzz/make-corpus.sh fuzz_stream_smtp fuzz_lua
cd "$(dirname "$0")/../.." || exit 1
MAX_LEN=${MAX_LEN:-512}
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
    for d in "$out" "build/fuzz/corpus-$t" "$seeds/$short"; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    if ! build/fuzz/"$t" -set_cover_merge=1 -use_counters=0 -max_len="$MAX_LEN" -timeout=20 "$new" $dirs >"$new.log" 2>&1; then
        tail -n 20 "$new.log"
        echo "$t: merge failed"
        rm -rf "$new" "$new.log"
        exit 1
    fi
    keep=$(mktemp -d)
    cp "$out"/crash-* "$keep"/ 2>/dev/null
    rm -rf "$out"
    mkdir -p "$out"
    cp "$new"/* "$keep"/* "$out"/ 2>/dev/null
    rm -rf "$keep"
    echo "$t: $(ls "$out" | wc -l) inputs, $(cat "$out"/* | wc -c) bytes"
    rm -rf "$new" "$new.log"
done
