#!/bin/sh
# End-to-end: files.log and built-in extraction (--set files.extract=DIR) on the
# project's own captures in pcaps/.
#
#   sh tests/e2e/test_files_extract.sh [BUILD_DIR]        (default: build)
#
#  - HTTP (http-curl, http-nginx): the extracted files are, byte for byte, the
#    objects `tshark --export-objects http` writes;
#  - SMTP (smtp-swaks-attach, smtp-python, smtp-python-two): the extracted
#    attachments are the attachments python3's email module decodes from the
#    messages `tshark --export-objects imf` writes;
#  - files.log against the directory: every `extracted` name is
#    extract-<ts>-<SOURCE>-<fuid> of its record, on disk, of extracted_size bytes,
#    whole (sha256 equal) without a cap, cut at files.extract_max_bytes with one;
#  - the records carry Zeek's files.log fields (tests/e2e/files_check.py lists
#    them, and the ones absent by design with the reason);
#  - a DIR that does not exist, or is a file, is one error line and exit 2, not
#    a crash; files.extract_mime=image/png extracts nothing from these captures.
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.

B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $B in /*) ;; *) B="$top/$B" ;; esac
ENGINE="$B/engine"
CHECK="python3 $top/tests/e2e/files_check.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
failn=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; failn=$((failn + 1)); }
check() { # name, then the command
    name=$1
    shift
    if out=$("$@" 2>&1); then ok "$name: $(echo "$out" | tail -1)"; else ko "$name"; echo "$out"; fi
}

if ! command -v tshark >/dev/null 2>&1; then
    echo "SKIP: tshark not installed"
    exit 0
fi

run() { # pcap, case dir, extra --set
    p=$1
    d=$2
    shift 2
    mkdir -p "$d/ex"
    "$ENGINE" -r "pcaps/$p.pcap" -o "$d/logs" -q --set files.extract="$d/ex" "$@" 2>"$d/stderr"
}

for p in http-curl http-nginx; do
    d="$tmp/$p"
    if ! run "$p" "$d"; then ko "$p: engine failed: $(cat "$d/stderr")"; continue; fi
    mkdir -p "$d/ref"
    tshark -r "pcaps/$p.pcap" -q --export-objects "http,$d/ref" >/dev/null 2>&1
    check "$p same bytes as tshark --export-objects http" $CHECK same-bytes "$d/logs" "$d/ex" "$d/ref" http
    check "$p files.log against the directory" $CHECK log "$d/logs" "$d/ex"
    check "$p Zeek's files.log fields" $CHECK zeek-fields "$d/logs" mime_type,total_bytes,extracted
done

for p in smtp-swaks-attach smtp-python smtp-python-two; do
    d="$tmp/$p"
    if ! run "$p" "$d"; then ko "$p: engine failed: $(cat "$d/stderr")"; continue; fi
    port=$(tshark -r "pcaps/$p.pcap" -T fields -e tcp.dstport -c 1 2>/dev/null)
    mkdir -p "$d/eml" "$d/ref"
    tshark -r "pcaps/$p.pcap" -d "tcp.port==$port,smtp" -q --export-objects "imf,$d/eml" >/dev/null 2>&1
    check "$p python email module decodes" $CHECK mail-ref "$d/eml" "$d/ref"
    check "$p attachments equal the email module's" $CHECK same-bytes "$d/logs" "$d/ex" "$d/ref" smtp
    check "$p files.log against the directory" $CHECK log "$d/logs" "$d/ex"
    check "$p Zeek's files.log fields" $CHECK zeek-fields "$d/logs" mime_type,filename,extracted
done

# a cap: every extracted file holds its first 100 bytes, cut when longer
d="$tmp/cap"
if run http-curl "$d" --set files.extract_max_bytes=100; then
    check "http-curl files.extract_max_bytes=100" $CHECK log "$d/logs" "$d/ex" 100
else
    ko "cap run failed: $(cat "$d/stderr")"
fi

# the MIME filter: no PNG in these captures, nothing extracted
d="$tmp/mime"
if run smtp-python "$d" --set files.extract_mime=image/png && [ -z "$(ls "$d/ex")" ] &&
    ! grep -q '"extracted"' "$d/logs/files.log"; then
    ok "files.extract_mime=image/png extracts nothing from smtp-python"
else
    ko "files.extract_mime=image/png: $(ls "$d/ex")"
fi
d="$tmp/mime2"
if run smtp-python "$d" --set files.extract_mime=text/ && [ -n "$(ls "$d/ex")" ] &&
    python3 -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
x=[q for q in r if "extracted" in q]
sys.exit(not x or any(not q["mime_type"].startswith("text/") for q in x)
         or any("extracted" in q for q in r if not q.get("mime_type","").startswith("text/")))' "$d/logs/files.log"; then
    ok "files.extract_mime=text/ extracts exactly the text/* files of smtp-python"
else
    ko "files.extract_mime=text/"
fi

# unusable directories: one clear error, exit 2, no crash, no log
for bad in "$tmp/does/not/exist" /etc/passwd; do
    "$ENGINE" -r pcaps/http-curl.pcap -o "$tmp/badlogs" -q --set files.extract="$bad" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "files.extract" "$tmp/err"; then
        ok "files.extract=$bad: exit 2, one line: $(cat "$tmp/err")"
    else
        ko "files.extract=$bad: rc $rc, stderr: $(cat "$tmp/err")"
    fi
done

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
