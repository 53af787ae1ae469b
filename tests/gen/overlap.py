#!/usr/bin/env python3
"""overlap.py OUTDIR - write the captures of tests/e2e/test_overlap.sh.

TCP overlaps carrying conflicting bytes, inside a real-shaped HTTP exchange (client
10.0.0.1:40000 -> server 10.0.0.2:80: handshake, request, response, FINs) and SMTP
session (10.0.0.1:40001 -> 10.0.0.2:25: banner, EHLO, MAIL, RCPT, DATA with a message,
QUIT). The overlaps fall on a 16-byte field U: the HTTP request's path
("GET /" U " HTTP/1.1 ...") and the SMTP sender ("MAIL FROM:<" U "@example.com>").

U is "a" * 16, except where an "old" segment O (bytes '1') and a "new" segment N (bytes
'2', sent after O) lie. Every segment of the field is sent before the one that starts the
command, so both copies are still buffered out of order when they meet: which one the
receiver keeps is its overlap policy. The cases (positions in U, end excluded):

  exact   O [4,12)  N [4,12)    N covers O exactly
  before  O [6,12)  N [2,9)     N starts before O, ends inside it
  after   O [4,8)   N [4,12)    N starts with O, ends after it
  inside  O [2,14)  N [5,9)     N inside O
  tail    O [2,8)   N [5,12)    N starts inside O, ends after it
  onebyte               U = "abcdefghijklmnop" one byte a segment; every fourth byte
                        (d, h, l, p) sent again at once as '#'
  delivered             (HTTP) the request sent in order, then bytes [4,12) of U sent
                        again as '2': already delivered when they come
  resp-before           (HTTP) the case "before" in the server's reply: the reason phrase
                        ("HTTP/1.1 200 " U), received by the client

Files: http-CASE.pcap and smtp-CASE.pcap; http6-before.pcap is http-before over IPv6
(client 2001:db8::1, server 2001:db8:1::2). Also, for the flow table:
  reuse-fin.pcap  an HTTP exchange (/first) closed with FINs, then the same 4-tuple
                  with a new handshake and ISN (/second)
  reuse-rst.pcap  the same, the first connection reset after its response
  midstream.pcap  no handshake: the capture starts with the request (/midstream)
Pure Python (struct), no dependency; the packet writer is evasion.py's.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evasion import ACK, FIN, PSH, RST, SYN, csum, tcp_pkt, write  # noqa: E402

CLI, SRV = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
CLI6 = bytes.fromhex("20010db8000000000000000000000001")  # 2001:db8::1
SRV6 = bytes.fromhex("20010db8000100000000000000000002")  # 2001:db8:1::2


def tcp6_pkt(src, dst, sp, dp, seq, ack, flags, data=b"", win=65535):
    hdr = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, win, 0, 0)
    pseudo = src + dst + struct.pack("!IxxxB", len(hdr) + len(data), 6)
    c = csum(pseudo + hdr + data)
    hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
    ip = struct.pack("!IHBB", 6 << 28, len(hdr) + len(data), 6, 64) + src + dst
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x86\xdd"
    return eth + ip + hdr + data


def pkt(src, dst, sp, dp, seq, ack, flags, data=b""):
    if len(src) == 16:
        return tcp6_pkt(src, dst, sp, dp, seq, ack, flags, data)
    return tcp_pkt(src, dst, sp, dp, seq, ack, flags, data)

CASES = {
    "exact": ((4, 12), (4, 12)),
    "before": ((6, 12), (2, 9)),
    "after": ((4, 8), (4, 12)),
    "inside": ((2, 14), (5, 9)),
    "tail": ((2, 8), (5, 12)),
}


class Conn:
    def __init__(self, cp, sp, isn_c=1000, isn_s=5000, v6=False):
        self.cp, self.sp = cp, sp
        self.cli, self.srv = (CLI6, SRV6) if v6 else (CLI, SRV)
        self.pkts = []
        self.isn_c, self.isn_s = isn_c, isn_s
        self.c, self.s = isn_c + 1, isn_s + 1

    def raw(self, frm_client, flags, seq, data=b""):
        if frm_client:
            self.pkts.append(pkt(self.cli, self.srv, self.cp, self.sp, seq, self.s, flags, data))
        else:
            self.pkts.append(pkt(self.srv, self.cli, self.sp, self.cp, seq, self.c, flags, data))

    def handshake(self):
        self.pkts.append(pkt(self.cli, self.srv, self.cp, self.sp, self.isn_c, 0, SYN))
        self.pkts.append(pkt(self.srv, self.cli, self.sp, self.cp, self.isn_s, self.isn_c + 1, SYN | ACK))
        self.raw(True, ACK, self.c)

    def send(self, frm_client, data):
        if frm_client:
            self.raw(True, PSH | ACK, self.c, data)
            self.c += len(data)
        else:
            self.raw(False, PSH | ACK, self.s, data)
            self.s += len(data)

    def send_pieces(self, pieces, total, frm_client=True):
        """segments (offset, bytes) relative to the sender's next sequence number,
        in the order given; then it moves past the `total` bytes they make up"""
        for off, data in pieces:
            self.raw(frm_client, PSH | ACK, (self.c if frm_client else self.s) + off, data)
        if frm_client:
            self.c += total
        else:
            self.s += total

    def ack(self, frm_client):
        self.raw(frm_client, ACK, self.c if frm_client else self.s)

    def close(self):
        self.raw(True, FIN | ACK, self.c)
        self.c += 1
        self.raw(False, FIN | ACK, self.s)
        self.s += 1
        self.raw(True, ACK, self.c)


def overlapped(prefix, suffix, case):
    """the segments of prefix + U + suffix for one case, in the order sent:
    the rest after U, O, N, then the head (prefix and U up to the overlaps)"""
    base = len(prefix)
    if case == "onebyte":
        u = b"abcdefghijklmnop"
        segs = [(base + 16, suffix)]
        for i in range(16):
            segs.append((base + i, u[i:i + 1]))
            if i % 4 == 3:
                segs.append((base + i, b"#"))
        segs.append((0, prefix))
        return segs, base + 16 + len(suffix)
    (o0, o1), (n0, n1) = CASES[case]
    lo, hi = min(o0, n0), max(o1, n1)
    segs = [
        (base + hi, b"a" * (16 - hi) + suffix),
        (base + o0, b"1" * (o1 - o0)),
        (base + n0, b"2" * (n1 - n0)),
        (0, prefix + b"a" * lo),
    ]
    return segs, base + 16 + len(suffix)


HTTP_RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def http(case, v6=False):
    v = Conn(40000, 80, v6=v6)
    v.handshake()
    prefix, suffix = b"GET /", b" HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: overlap-test\r\n\r\n"
    if case == "resp-before":  # the server's reason phrase overlapped instead
        v.send(True, prefix + b"a" * 16 + suffix)
        segs, total = overlapped(b"HTTP/1.1 200 ", b"\r\nContent-Length: 2\r\n\r\nok", "before")
        v.send_pieces(segs, total, frm_client=False)
        v.ack(True)
        v.close()
        return v.pkts
    if case == "delivered":
        req = prefix + b"a" * 16 + suffix
        v.send(True, req[:len(prefix) + 12])
        v.raw(True, PSH | ACK, v.c - 8, b"2" * 8)  # U[4,12) again, other bytes
        v.send(True, req[len(prefix) + 12:])
    else:
        segs, total = overlapped(prefix, suffix, case)
        v.send_pieces(segs, total)
    v.send(False, HTTP_RESP)
    v.ack(True)
    v.close()
    return v.pkts


def smtp(case):
    v = Conn(40001, 25, 2000, 9000)
    v.handshake()
    v.send(False, b"220 mail.example.com ESMTP ready\r\n")
    v.send(True, b"EHLO client.example.org\r\n")
    v.send(False, b"250-mail.example.com\r\n250 8BITMIME\r\n")
    segs, total = overlapped(b"MAIL FROM:<", b"@example.com>\r\n", case)
    v.send_pieces(segs, total)
    v.send(False, b"250 2.1.0 Ok\r\n")
    v.send(True, b"RCPT TO:<bob@example.net>\r\n")
    v.send(False, b"250 2.1.5 Ok\r\n")
    v.send(True, b"DATA\r\n")
    v.send(False, b"354 End data with <CR><LF>.<CR><LF>\r\n")
    v.send(True, b"From: alice@example.com\r\nTo: bob@example.net\r\nSubject: overlap test\r\n\r\n"
                 b"Hello Bob.\r\n.\r\n")
    v.send(False, b"250 2.0.0 Ok: queued\r\n")
    v.send(True, b"QUIT\r\n")
    v.send(False, b"221 2.0.0 Bye\r\n")
    v.close()
    return v.pkts


def exchange(v, uri):
    v.send(True, b"GET " + uri + b" HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
    v.send(False, HTTP_RESP)
    v.ack(True)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for case in list(CASES) + ["onebyte", "delivered", "resp-before"]:
        write(os.path.join(out, "http-%s.pcap" % case), http(case))
        if case in CASES or case == "onebyte":
            write(os.path.join(out, "smtp-%s.pcap" % case), smtp(case))

    # over IPv6: client 2001:db8::1, server 2001:db8:1::2
    write(os.path.join(out, "http6-before.pcap"), http("before", v6=True))

    for how in ("fin", "rst"):
        a = Conn(40002, 80, 1000, 5000)
        a.handshake()
        exchange(a, b"/first")
        if how == "fin":
            a.close()
        else:
            a.raw(True, RST | ACK, a.c)
        b = Conn(40002, 80, 700000, 900000)  # the same 4-tuple, new ISNs
        b.handshake()
        exchange(b, b"/second")
        b.close()
        write(os.path.join(out, "reuse-%s.pcap" % how), a.pkts + b.pkts)

    m = Conn(40003, 80, 3000, 7000)  # picked up mid-stream: no SYN seen
    exchange(m, b"/midstream")
    m.close()
    write(os.path.join(out, "midstream.pcap"), m.pkts)


if __name__ == "__main__":
    main()
