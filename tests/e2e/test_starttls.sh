#!/bin/sh
# End-to-end: STARTTLS hand-offs (SMTP STARTTLS, POP3 STLS, IMAP STARTTLS, FTP AUTH TLS /
# AUTH SSL, and FTP's CCC hand-back) on the real captures made by
# tests/tools/make-starttls-pcaps.sh (dovecot, vsftpd, proftpd; curl, python ftplib) and
# tests/tools/make-mail-pcaps.sh (smtp-swaks-starttls.pcap), against tshark.
#
#   sh tests/e2e/test_starttls.sh [BUILD_DIR]        (default: build)
#
# Checks, per capture (`engine -r CAP -o DIR`, the default scripts' logs, and the events
# printed by tests/e2e/starttls_fields.lua):
#   <cap> service      conn.log's service of the control connection is "<proto>,ssl"
#   <cap> ssl.log      one row per TLS connection: client port, server port, server_name,
#                      version, cipher, ja3, ja3s equal tshark's ClientHello /
#                      ServerHello fields (version from supported_versions else legacy,
#                      named as Zeek does: TLSv12; the cipher named by tshark's own
#                      value table, tshark -G values)
#   <cap> certificates the cert_chain_fps of each ssl.log row equal the sha256 of
#                      tshark's tls.handshake.certificate of that connection (TLS 1.2)
#   <cap> commands     the clear-text commands (smtp/pop3/imap/ftp .command events, in
#                      order) equal tshark's requests (the ones before the TLS records,
#                      and for CCC the ones after them)
#   <cap> mail log     pop3.log / imap.log / smtp.log / ftp.log still has the session or
#                      the commands sent before STARTTLS
#   <cap> weirds       no weird event, no weird.log
#   <cap> pcapmut      the same ssl.log rows, the same commands and no weird after
#                      re-segmenting to 1 byte and after --split 3 --reorder 7 (the
#                      ClientHello in pieces across the hand-off; for CCC, the server's
#                      clear text decoded before the client's close_notify)
# Fixed facts: the SNI each client was given (mail.test, ftp.test); the CCC capture's
# flow goes ftp -> ssl -> ftp and its two data connections are ftp-data with the 37-byte
# readme.txt in files.log; tshark 4.0 does not follow FTP "AUTH SSL" (curl's first try),
# so on ftp-vsftpd-authssl.pcap the control connection's ClientHello is checked against
# the ja3 tshark computes for the same client's data-channel ClientHellos.
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
PCAPMUT="$B/tools/pcapmut"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
. "$top/tests/e2e/harness.sh"
if [ ! -x "$ENGINE" ]; then
    fail setup "$ENGINE is missing (make all)"
    finish
fi
have_tshark=1
command -v tshark >/dev/null 2>&1 || have_tshark=0
[ $have_tshark = 1 ] && { tshark -G fields 2>/dev/null | grep -q 'tls.handshake.ja3s' || have_tshark=0; }
have_py=1
command -v python3 >/dev/null 2>&1 || have_py=0
[ $have_tshark = 1 ] || skip "tshark comparisons" "tshark (with tls.handshake.ja3s) is not installed"
[ $have_py = 1 ] || skip "certificate comparisons" "python3 is not installed"

same() { # label want got
    if cmp -s "$2" "$3"; then
        pass "$1 ($(wc -l <"$2" | tr -d ' ') rows)"
    else
        fail "$1" "want $(tr '\n' '|' <"$2" | cut -c1-300) got $(tr '\n' '|' <"$3" | cut -c1-300)"
    fi
}
has() { # label file fixed-string...
    l=$1 f=$2; shift 2
    for s in "$@"; do
        grep -qF -- "$s" "$f" 2>/dev/null || { fail "$l" "no line with: $s"; return; }
    done
    pass "$l"
}
# a line of DIR/LOG.log holding all the strings
has_record() { # label log string...
    l=$1 f=$2; shift 2
    cp "$f" "$tmp/sel" 2>/dev/null || { fail "$l" "$(basename "$f") missing"; return; }
    for s in "$@"; do
        grep -F -- "$s" "$tmp/sel" >"$tmp/sel2"; mv "$tmp/sel2" "$tmp/sel"
    done
    if [ -s "$tmp/sel" ]; then pass "$l"; else fail "$l" "no record with all of: $*"; fi
}

# jrow KEY... : the values of those keys of each JSON line of stdin, tab-separated, "-"
# when absent (the logs are flat JSON objects; strings here hold no quotes or commas);
# a list value (cert_chain_fps) is printed comma-separated
jrow() {
    awk -v keys="$*" '
    function val(line, k,   i, r) {
        i = index(line, "\"" k "\":")
        if (!i) return "-"
        r = substr(line, i + length(k) + 3)
        if (substr(r, 1, 1) == "\"") { r = substr(r, 2); return substr(r, 1, index(r, "\"") - 1) }
        if (substr(r, 1, 1) == "[") { r = substr(r, 2, index(r, "]") - 2); gsub(/"/, "", r); return r }
        match(r, /^[^,}]*/); return substr(r, 1, RLENGTH)
    }
    BEGIN { n = split(keys, K, " ") }
    { out = ""; for (j = 1; j <= n; j++) out = out (j > 1 ? "\t" : "") val($0, K[j]); print out }'
}

# ssl.log rows: client port, server port, server_name, version, cipher, ja3, ja3s
ssl_rows() { # dir
    jrow id.orig_p id.resp_p server_name version cipher ja3 ja3s <"$1/ssl.log" 2>/dev/null | sort
}

# the same from tshark: ClientHello and ServerHello of each TCP stream
[ $have_tshark = 1 ] && tshark -G values 2>/dev/null |
    awk -F'\t' '$1 == "V" && $2 == "tls.handshake.ciphersuite" { print $3 "\t" $4 }' >"$tmp/ciphers"
tshark_rows() { # capture [tshark options]
    cap=$1; shift
    tshark -r "$cap" "$@" -Y 'tcp && (tls.handshake.type == 1 || tls.handshake.type == 2)' -T fields \
        -E occurrence=f -e tcp.stream -e tcp.srcport -e tcp.dstport -e tls.handshake.type \
        -e tls.handshake.extensions_server_name -e tls.handshake.ja3 -e tls.handshake.ja3s \
        -e tls.handshake.version -e tls.handshake.extensions.supported_version \
        -e tls.handshake.ciphersuite 2>/dev/null |
    awk -F'\t' -v names="$tmp/ciphers" '
    BEGIN { while ((getline l < names) > 0) { split(l, a, "\t"); C[a[1]] = a[2] }
            V["0x0300"] = "SSLv3"; V["0x0301"] = "TLSv10"; V["0x0302"] = "TLSv11"
            V["0x0303"] = "TLSv12"; V["0x0304"] = "TLSv13" }
    function d(s) { return s == "" ? "-" : s }
    $4 == "1" && !(($1) in ch) { ch[$1] = $2 "\t" $3 "\t" d($5) "\t"; ja3[$1] = d($6); order[++n] = $1 }
    $4 == "2" && !(($1) in sh) { v = $9 != "" ? $9 : $8; c = sprintf("%d", $10)
            sh[$1] = d(V[v]) "\t" (c in C ? C[c] : "unknown-" c) "\t" ja3[$1] "\t" d($7) }
    END { for (i = 1; i <= n; i++) { s = order[i]
              print ch[s] ((s in sh) ? sh[s] : "-\t-\t" ja3[s] "\t-") } }' | sort
}

# the server certificates of each TLS connection, "client-port<TAB>sha256,sha256"
tshark_certs() { # capture
    tshark -r "$1" -Y 'tcp && tls.handshake.type == 11' -T fields -E occurrence=a \
        -E aggregator=, -e tcp.dstport -e tls.handshake.certificate 2>/dev/null |
    python3 -c '
import sys, hashlib
for l in sys.stdin:
    port, certs = l.rstrip("\n").split("\t")
    if not certs: continue  # an empty Certificate message (a client without one)
    print(port + "\t" + ",".join(hashlib.sha256(bytes.fromhex(c)).hexdigest() for c in certs.split(",")))
' | sort
}

# the clear-text commands tshark dissects, as "VERB arg" (IMAP: "tag COMMAND")
tshark_cmds() { # capture proto [tshark options]
    cap=$1 proto=$2; shift 2
    case $proto in
        smtp) tshark -r "$cap" "$@" -Y smtp.req -T fields -e smtp.command_line 2>/dev/null |
                  sed 's/\\r\\n$//; s/ *$//' ;;
        pop3) tshark -r "$cap" "$@" -Y pop.request.command -T fields -e pop.request.command \
                  -e pop.request.parameter 2>/dev/null | sed 's/\t$//; s/\t/ /' ;;
        imap) tshark -r "$cap" "$@" -Y 'imap.isrequest == 1' -T fields -e imap.request_tag \
                  -e imap.request.command 2>/dev/null | sed 's/\t/ /' ;;
        # tshark shows the TLS records after an AUTH it does not follow as garbage
        # requests: keep the verbs only
        ftp) tshark -r "$cap" "$@" -Y ftp.request.command -T fields -e ftp.request.command \
                 -e ftp.request.arg 2>/dev/null | grep -aE '^[A-Za-z]{3,4}	' |
                 sed 's/\t$//; s/\t/ /' ;;
    esac
}

# check CAPTURE PORT PROTO [tshark options...]; with NOTSHARK=PORT set, the TLS
# connection to that server port is left out of the comparisons with tshark (checked on
# its own by the caller)
check() {
    cap=$1 port=$2 proto=$3; shift 3
    name=$(basename "$cap" .pcap)
    if [ ! -f "$cap" ]; then fail "$name" "capture missing"; return; fi
    out=$tmp/$name
    rm -rf "$out"; mkdir -p "$out"
    if ! "$ENGINE" -q -r "$cap" -o "$out/logs" 2>"$tmp/err"; then
        fail "$name" "engine failed: $(head -n 1 "$tmp/err")"; return
    fi
    "$ENGINE" -q -r "$cap" -s tests/e2e/starttls_fields.lua >"$out/ev" 2>"$tmp/err" ||
        { fail "$name events" "engine failed: $(head -n 1 "$tmp/err")"; return; }
    has_record "$name service $proto,ssl" "$out/logs/conn.log" "\"id.resp_p\":$port," "\"service\":\"$proto,ssl\""
    if grep -q '^WEIRD' "$out/ev" || [ -s "$out/logs/weird.log" ]; then
        fail "$name weirds" "$(grep '^WEIRD' "$out/ev" | sort -u | tr '\n' ' ')"
    else
        pass "$name weirds: none"
    fi
    ssl_rows "$out/logs" >"$out/ssl"
    [ -s "$out/ssl" ] || fail "$name ssl.log" "no ssl.log rows"
    awk -F'\t' -v p="${NOTSHARK:-}" '$2 != p' "$out/ssl" >"$out/ssl.ts"
    if [ $have_tshark = 1 ]; then
        tshark_rows "$cap" "$@" >"$out/ts.ssl"
        same "$name ssl.log = tshark (ports, server_name, version, cipher, ja3, ja3s)" \
            "$out/ts.ssl" "$out/ssl.ts"
        grep '^CMD' "$out/ev" | cut -f2- >"$out/cmds"
        tshark_cmds "$cap" "$proto" "$@" >"$out/ts.cmds"
        if [ -s "$out/ts.cmds" ]; then same "$name commands = tshark" "$out/ts.cmds" "$out/cmds"
        else fail "$name commands" "tshark shows no command"; fi
        if [ $have_py = 1 ]; then
            tshark_certs "$cap" >"$out/ts.certs"
            jrow id.orig_p cert_chain_fps id.resp_p <"$out/logs/ssl.log" |
                awk -F'\t' -v p="${NOTSHARK:-}" '$2 != "-" && $3 != p { print $1 "\t" $2 }' | sort >"$out/certs"
            same "$name certificates = tshark" "$out/ts.certs" "$out/certs"
        fi
    fi
    if [ -x "$PCAPMUT" ]; then
        for m in "--split 1" "--split 3 --reorder 7"; do
            # shellcheck disable=SC2086
            "$PCAPMUT" $m "$cap" "$tmp/mut.pcap" 2>/dev/null || { fail "$name pcapmut $m" "pcapmut failed"; continue; }
            rm -rf "$tmp/mut"
            "$ENGINE" -q -r "$tmp/mut.pcap" -o "$tmp/mut" 2>/dev/null
            ssl_rows "$tmp/mut" >"$tmp/mut.ssl"
            same "$name pcapmut $m: ssl.log" "$out/ssl" "$tmp/mut.ssl"
            "$ENGINE" -q -r "$tmp/mut.pcap" -s tests/e2e/starttls_fields.lua >"$tmp/mut.ev" 2>/dev/null
            grep '^CMD' "$out/ev" >"$tmp/orig.cmds"; grep -e '^CMD' -e '^WEIRD' "$tmp/mut.ev" >"$tmp/mut.cmds"
            same "$name pcapmut $m: commands, no weird" "$tmp/orig.cmds" "$tmp/mut.cmds"
        done
    fi
}

# ---- SMTP (tshark dissects port 2525 as SMTP only when told)
check pcaps/smtp-swaks-starttls.pcap 2525 smtp -d tcp.port==2525,smtp
L=$tmp/smtp-swaks-starttls/logs
has_record "smtp-swaks-starttls smtp.log: helo before STARTTLS, tls" "$L/smtp.log" '"helo":"client.test"' '"tls":true'

# ---- POP3 STLS (dovecot, curl; TLS 1.3)
check pcaps/pop3-dovecot-stls.pcap 110 pop3
L=$tmp/pop3-dovecot-stls/logs
has_record "pop3-dovecot-stls pop3.log: the session, CAPA and STLS counted" "$L/pop3.log" '"id.resp_p":110' '"commands":2'
has_record "pop3-dovecot-stls facts: SNI mail.test, TLS 1.3, chain encrypted" "$L/ssl.log" \
    '"version":"TLSv13"' '"server_name":"mail.test"' '"cert_chain_encrypted":true'

# ---- IMAP STARTTLS (dovecot, curl; TLS 1.2)
check pcaps/imap-dovecot-starttls.pcap 143 imap
L=$tmp/imap-dovecot-starttls/logs
has_record "imap-dovecot-starttls imap.log: the session, CAPABILITY and STARTTLS counted" "$L/imap.log" '"id.resp_p":143' '"commands":2'
has_record "imap-dovecot-starttls facts: SNI mail.test, TLS 1.2, server certificate" "$L/ssl.log" \
    '"version":"TLSv12"' '"server_name":"mail.test"' '"subject":"CN=mail.test,O=Engine Test,C=ZZ"' \
    '"issuer":"CN=Engine STARTTLS Root,O=Engine Test CA,C=ZZ"'

# ---- FTP AUTH TLS (vsftpd, ftplib): control and both data connections in TLS
check pcaps/ftp-vsftpd-authtls.pcap 21 ftp
L=$tmp/ftp-vsftpd-authtls/logs
has_record "ftp-vsftpd-authtls ftp.log: AUTH TLS answered 234" "$L/ftp.log" '"command":"AUTH","arg":"TLS","reply_code":234'
n=$(grep -c '"server_name":"ftp.test"' "$L/ssl.log" 2>/dev/null)
[ "$n" = 3 ] && pass "ftp-vsftpd-authtls facts: 3 TLS connections with SNI ftp.test" ||
    fail "ftp-vsftpd-authtls facts" "$n TLS connections with SNI ftp.test, want 3 (control, LIST, RETR)"

# ---- FTP AUTH SSL (vsftpd, curl): tshark does not follow AUTH SSL on the control
# connection, only the data connections' TLS
NOTSHARK=21
check pcaps/ftp-vsftpd-authssl.pcap 21 ftp
NOTSHARK=
L=$tmp/ftp-vsftpd-authssl/logs
has_record "ftp-vsftpd-authssl ftp.log: AUTH SSL answered 234" "$L/ftp.log" '"command":"AUTH","arg":"SSL","reply_code":234'
jrow id.resp_p server_name version ja3 <"$L/ssl.log" 2>/dev/null | awk -F'\t' '$1 == 21' >"$tmp/ctl"
if [ $have_tshark = 1 ]; then
    ja3=$(cut -f6 "$tmp/ftp-vsftpd-authssl/ts.ssl" | sort -u)
    printf '21\tftp.test\tTLSv12\t%s\n' "$ja3" >"$tmp/ctl.want"
    same "ftp-vsftpd-authssl control ClientHello: SNI ftp.test, TLS 1.2, the ja3 tshark gives the same curl's data channels" \
        "$tmp/ctl.want" "$tmp/ctl"
    # the same server certificate as in ftp-vsftpd-authtls.pcap (one run of the script)
    if [ $have_py = 1 ]; then
        cut -f2 "$tmp/ftp-vsftpd-authtls/ts.certs" | sort -u >"$tmp/ctl.certs.want"
        jrow id.resp_p cert_chain_fps <"$L/ssl.log" | awk -F'\t' '$1 == 21 { print $2 }' >"$tmp/ctl.certs"
        same "ftp-vsftpd-authssl control certificates = tshark's of ftp-vsftpd-authtls (same server)" \
            "$tmp/ctl.certs.want" "$tmp/ctl.certs"
    fi
fi

# ---- FTP AUTH TLS + CCC (proftpd, ftplib): TLS hands the flow back to FTP
check pcaps/ftp-proftpd-ccc.pcap 21 ftp
L=$tmp/ftp-proftpd-ccc/logs
E=$tmp/ftp-proftpd-ccc/ev
if grep '^SVC	21	' "$E" | cut -f3 | tr '\n' ' ' | grep -qx 'ftp ssl ftp '; then
    pass "ftp-proftpd-ccc hand-off: ftp, then ssl, then ftp again"
else
    fail "ftp-proftpd-ccc hand-off" "services of port 21: $(grep '^SVC	21	' "$E" | cut -f3 | tr '\n' ' ')"
fi
has_record "ftp-proftpd-ccc ftp.log: RETR after CCC, 37 bytes" "$L/ftp.log" '"command":"RETR","arg":"pub/readme.txt"' '"file_size":37' '"reply_code":226'
has_record "ftp-proftpd-ccc ftp.log: QUIT after CCC" "$L/ftp.log" '"command":"QUIT"' '"reply_code":221'
n=$(grep -c '"service":"ftp-data"' "$L/conn.log" 2>/dev/null)
[ "$n" = 2 ] && pass "ftp-proftpd-ccc facts: 2 ftp-data connections after CCC" ||
    fail "ftp-proftpd-ccc facts" "$n ftp-data connections, want 2 (LIST, RETR)"
# sha256 of readme.txt as the script writes it ("this file crosses a TLS data channel\n")
has_record "ftp-proftpd-ccc files.log: readme.txt over ftp-data, sha256" "$L/files.log" '"source":"ftp"' \
    '"filename":"pub/readme.txt"' '"seen_bytes":37' '"missing_bytes":0' \
    '"sha256":"ea42ccf78b8d70c1760ee03a9c2b3152d1f3eb4b2aca936e37bded5b663dd2d1"'
finish
