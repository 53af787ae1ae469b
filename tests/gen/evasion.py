#!/usr/bin/env python3
"""evasion.py OUTDIR - write the captures of tests/e2e/test_evasion.sh.

Each is one HTTP exchange (client 10.0.0.1:40000 -> server 10.0.0.2:80) into which
packets the server's host would not accept are injected: a segment with a bad TCP
checksum, one with a bad IPv4 header checksum, one whose TTL expires before the host,
data on the SYN (taken with TCP Fast Open, refused without), an out-of-window RST.
The test states what the server received and checks that the engine delivers it.
Pure Python (struct), no dependency.
"""
import os
import struct
import sys

CLI, SRV = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
CP, SP = 40000, 80
ISN_C, ISN_S = 1000, 5000
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_pkt(src, dst, sp, dp, seq, ack, flags, data=b"", win=65535, ttl=64,
            bad_tcp=False, bad_ip=False):
    off = 5 << 4
    hdr = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off, flags, win, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr) + len(data))
    c = csum(pseudo + hdr + data)
    if bad_tcp:
        c ^= 0x5A5A
    hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
    tot = 20 + len(hdr) + len(data)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 1, 0x4000, ttl, 6, 0, src, dst)
    ic = csum(ip)
    if bad_ip:
        ic ^= 0x1234
    ip = ip[:10] + struct.pack("!H", ic) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + hdr + data


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


class Conv:
    def __init__(self):
        self.pkts = []
        self.c, self.s = ISN_C + 1, ISN_S + 1

    def add(self, frm_client, flags, data=b"", seq=None, ack=None, **kw):
        if frm_client:
            p = tcp_pkt(CLI, SRV, CP, SP, self.c if seq is None else seq,
                        self.s if ack is None else ack, flags, data, **kw)
        else:
            p = tcp_pkt(SRV, CLI, SP, CP, self.s if seq is None else seq,
                        self.c if ack is None else ack, flags, data, **kw)
        self.pkts.append(p)

    def handshake(self):
        self.add(True, SYN, seq=ISN_C, ack=0)
        self.add(False, SYN | ACK, seq=ISN_S, ack=ISN_C + 1)
        self.add(True, ACK)

    def send(self, frm_client, data, **kw):
        self.add(frm_client, PSH | ACK, data, **kw)
        if frm_client:
            self.c += len(data)
        else:
            self.s += len(data)

    def close(self):
        self.add(True, FIN | ACK)
        self.c += 1
        self.add(False, FIN | ACK)
        self.s += 1
        self.add(True, ACK)


def write(path, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", 1700000000 + i // 10, (i % 10) * 100000, len(p), len(p)))
            f.write(p)


def req(uri):
    return b"GET " + uri + b" HTTP/1.1\r\nHost: x\r\n\r\n"


def injected(**bad):
    """a segment the host drops, then the real one at the same sequence number"""
    v = Conv()
    v.handshake()
    v.add(True, PSH | ACK, req(b"/innocent"), **bad)
    v.send(True, req(b"/evil0001"))
    v.send(False, RESP)
    v.close()
    return v.pkts


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "bad-tcp-checksum.pcap"), injected(bad_tcp=True))
    write(os.path.join(out, "bad-ip-checksum.pcap"), injected(bad_ip=True))
    write(os.path.join(out, "low-ttl.pcap"), injected(ttl=1))

    # TCP Fast Open: the SYN-ACK acknowledges the SYN's data
    d = req(b"/tfo")
    v = Conv()
    v.add(True, SYN, d, seq=ISN_C, ack=0)
    v.add(False, SYN | ACK, seq=ISN_S, ack=ISN_C + 1 + len(d))
    v.c = ISN_C + 1 + len(d)
    v.add(True, ACK)
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "syn-data-tfo.pcap"), v.pkts)

    # data on the SYN that the host does not take: the client sends its request again
    v = Conv()
    v.add(True, SYN, req(b"/on-the-syn"), seq=ISN_C, ack=0)
    v.add(False, SYN | ACK, seq=ISN_S, ack=ISN_C + 1)
    v.add(True, ACK)
    v.send(True, req(b"/after-handshake"))
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "syn-data-refused.pcap"), v.pkts)

    # a RST far outside the window in the middle of the request
    v = Conv()
    v.handshake()
    v.send(True, b"GET /ev")
    v.add(True, RST, seq=v.c + 3000000, ack=0)
    v.send(True, b"il HTTP/1.1\r\nHost: x\r\n\r\n")
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "rst-out-of-window.pcap"), v.pkts)


if __name__ == "__main__":
    main()
