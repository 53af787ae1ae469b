#!/bin/sh
# End-to-end: Zeek's retransmission letters t/T in conn.log history, against tshark.
# pcapmut --dup re-sends copies of TCP data segments of a project capture; tshark
# lists every data segment (port, seq, len), and a segment seen again is a
# retransmission. Zeek records the letter (T from the originator, t from the
# responder) at the 1st, 10th, 100th... retransmission of a side: the number of
# letters is checked against that count, for several duplication rates (with
# --split, enough segments for the 10th and 100th). Then orig_ip_bytes/resp_ip_bytes
# per flow against the sum of tshark's IP length fields.
#
#   sh tests/e2e/test_conn_history.sh [BUILD_DIR]        (default: build)
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed"; exits 1 on a failure.
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
if ! command -v tshark >/dev/null 2>&1; then echo "SKIP tshark not installed"; echo "0 passed, 0 failed"; exit 0; fi
check() { # pcap rate seed server_port [more pcapmut options]
    "$B/tools/pcapmut" $5 --dup "$2,$3" "pcaps/$1" "$T/in.pcap" || { echo "FAIL $1: pcapmut"; fail=$((fail+1)); return; }
    "$B/engine" -q -r "$T/in.pcap" -o "$T/out" >/dev/null 2>&1
    tshark -r "$T/in.pcap" -Y 'tcp.len>0' -T fields -e tcp.srcport -e tcp.seq_raw -e tcp.len 2>/dev/null >"$T/segs"
    got=$(python3 -c '
import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r=[x for x in r if x["proto"]=="tcp"]
assert len(r)==1, len(r)
h=r[0]["history"]
print(r[0]["id.resp_p"], h.count("T"), h.count("t"))' "$T/out/conn.log")
    want=$(python3 -c '
import sys
seen=set(); n={}
for l in open(sys.argv[1]):
  p,s,ln=l.split()
  k=(p,s,ln)
  if k in seen: n[p]=n.get(p,0)+1
  seen.add(k)
def letters(c):
  k,m=0,1
  while m<=c: k+=1; m*=10
  return k
srv=sys.argv[2]
o=sum(v for p,v in n.items() if p!=srv); r=n.get(srv,0)
print(srv, letters(o), letters(r), "(retransmissions: orig %d, resp %d)" % (o, r))' "$T/segs" "$4")
    case "$want" in "$got "*) echo "PASS $1 $5 --dup $2,$3: port/T/t $got; $want"; pass=$((pass+1));;
        *) echo "FAIL $1 $5 --dup $2,$3: engine $got, tshark $want"; fail=$((fail+1));; esac
}
check smtp-swaks-attach.pcap 1 3 2525
check smtp-swaks-attach.pcap 0.3 5 2525
check tls12-client-cert.pcap 1 9 44433
check smtp-swaks-attach.pcap 1 4 2525 "--split 40"
check smtp-swaks-attach.pcap 0.5 11 2525 "--split 7"
check smtp-swaks-plain.pcap 0 1 2525
check smtp-swaks-plain.pcap 0.5 7 2525
# orig_ip_bytes / resp_ip_bytes: the sum of IPv4 total length / IPv6 40 + payload
# length of each side's packets, per TCP and UDP flow, against tshark's fields
ipbytes() {
    "$B/engine" -q -r "pcaps/$1" -o "$T/ip" >/dev/null 2>&1
    tshark -r "pcaps/$1" -T fields -e ip.src -e ipv6.src -e tcp.srcport -e udp.srcport \
        -e ip.dst -e ipv6.dst -e tcp.dstport -e udp.dstport -e ip.len -e ipv6.plen 2>/dev/null >"$T/ipf"
    if r=$(python3 -c '
import json,sys,collections
sums=collections.Counter()
for l in open(sys.argv[2]):
  f=(l.rstrip("\n").split("\t")+[""]*10)[:10]
  if not (f[2] or f[3]): continue
  src=(f[0] or f[1]).split(",")[0]; dst=(f[4] or f[5]).split(",")[0]
  sp=int(f[2] or f[3]); dp=int(f[6] or f[7])
  n=int(f[8].split(",")[0]) if f[8] else 40+int(f[9].split(",")[0])
  sums[(src,sp,dst,dp)]+=n
bad=0; k=0
for l in open(sys.argv[1]):
  r=json.loads(l)
  if r["proto"] not in ("tcp","udp"): continue
  o=(r["id.orig_h"],r["id.orig_p"],r["id.resp_h"],r["id.resp_p"])
  w=(sums[o], sums[(o[2],o[3],o[0],o[1])]); g=(r["orig_ip_bytes"],r["resp_ip_bytes"])
  k+=1
  if w!=g: bad+=1; print("flow",o,"engine",g,"tshark",w)
print("%d flows" % k)
sys.exit(1 if bad or not k else 0)' "$T/ip/conn.log" "$T/ipf"); then
        echo "PASS $1 orig/resp_ip_bytes: $r"; pass=$((pass+1))
    else
        echo "FAIL $1 orig/resp_ip_bytes: $r"; fail=$((fail+1))
    fi
    rm -rf "$T/ip"
}
for p in tcp-misc.pcap udp-dns-like.pcap http-curl.pcap sip-udp-call.pcap ftp-vsftpd-pasv.pcap dns-dnsmasq-udp.pcap; do
    ipbytes "$p"
done
# conn.log community_id: computed again here, from each record's 5-tuple, with Python's
# hashlib (Community ID v1: seed, ordered addresses and ports, protocol), for every capture
cat >"$T/cid.py" <<'EOF'
import base64, hashlib, json, socket, struct, sys
bad = n = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        if r["proto"] not in ("tcp", "udp"):
            continue
        p = 6 if r["proto"] == "tcp" else 17
        fam = socket.AF_INET6 if ":" in r["id.orig_h"] else socket.AF_INET
        a, b = socket.inet_pton(fam, r["id.orig_h"]), socket.inet_pton(fam, r["id.resp_h"])
        sp, dp = r["id.orig_p"], r["id.resp_p"]
        if (a, sp) > (b, dp):
            a, b, sp, dp = b, a, dp, sp
        d = struct.pack("!H", 0) + a + b + struct.pack("!BBHH", p, 0, sp, dp)
        want = "1:" + base64.b64encode(hashlib.sha1(d).digest()).decode()
        n += 1
        if r.get("community_id") != want:
            bad += 1
            print("   ", path, r["uid"], r.get("community_id"), want)
print(n, bad)
EOF
cids=
for cap in pcaps/*.pcap; do
    d="$T/cid-$(basename "$cap" .pcap)"
    "$B/engine" -q -r "$cap" -o "$d" 2>/dev/null && cids="$cids $d/conn.log"
done
res=$(python3 "$T/cid.py" $cids | tail -n 1)
name="conn.log community_id of every TCP/UDP flow of pcaps/ = Python's hashlib ($res: flows, wrong)"
if [ "$(echo "$res" | cut -d' ' -f2)" = 0 ] && [ "$(echo "$res" | cut -d' ' -f1)" -gt 50 ]; then
    echo "PASS $name"; pass=$((pass + 1))
else
    echo "FAIL $name"; fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
