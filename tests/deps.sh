#!/bin/sh
# Install the Debian packages the build and the tests need, when missing.
# Called by `make run` and `make test` (through `make deps`).
set -e
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
# LuaJIT: either Debian flavour will do (OpenResty's luajit2 is preferred)
if ! pkg-config --exists luajit 2>/dev/null; then need="$need libluajit2-5.1-dev"; fi
if ! command -v luajit >/dev/null 2>&1; then need="$need luajit2"; fi
for p in pkg-config libpcap-dev zlib1g-dev libedit-dev libmagic-dev nettle-dev libgnutls28-dev lua-cjson lua-busted tshark tcpdump clang tmux; do
    have "$p" || need="$need $p"
done
# `make bench` (BENCH=1) also wants the peers it compares with: tcpflow (tshark is above)
if [ "${BENCH:-0}" = 1 ]; then have tcpflow || need="$need tcpflow"; fi
# the sanitizer and fuzzer runtimes come with clang's compiler-rt
have libclang-rt-14-dev || need="$need libclang-rt-14-dev"
[ -z "$need" ] && exit 0
echo "installing Debian packages:$need"
if [ "$(id -u)" != 0 ]; then
    echo "not root: run as root, or install them yourself: apt-get install$need" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $need
