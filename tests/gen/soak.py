#!/usr/bin/env python3
"""soak.py PROTO FLOWS [LINE_BYTES] - write a memory soak capture (pcap) to stdout.

FLOWS TCP connections (clients 10.x.y.z, server 192.0.2.1, port 80 for PROTO http,
25 for smtp) each open with a handshake and then send one unfinished request line of
LINE_BYTES bytes (default 15000: "GET /AAAA..." for http; for smtp the server greets
with "220 ..." and the client sends "MAIL FROM:<AAAA..."), with no line ending, in
1400-byte segments. The flows are interleaved segment by segment, so that every flow
holds its partial line at the same time: without a memory budget the engine holds
FLOWS x the line (1.6 GB for 100,000 flows). After the flood, one normal connection
(client 10.255.255.254) makes a complete exchange and closes: its events must still come.
Pure Python (struct), no dependency; checksums are left zero (the engine does not
verify them by default). Written to stdout so the test pipes it into the engine.
"""
import struct
import sys

SRV = bytes([192, 0, 2, 1])
FIN, SYN, PSH, ACK = 1, 2, 8, 16
SEG = 1400


def pkt(src, dst, sp, dp, seq, ack, flags, data=b""):
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 1, 0x4000, 64, 6, 0, src, dst)
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp + data


class Out:
    def __init__(self, f):
        self.f = f
        self.t = 1_700_000_000 * 1_000_000  # microseconds
        self.buf = []
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def put(self, frame):
        self.t += 1
        self.buf.append(struct.pack("<IIII", self.t // 1_000_000, self.t % 1_000_000,
                                    len(frame), len(frame)) + frame)
        if len(self.buf) >= 4096:
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.buf))
        self.buf = []


def client(i):
    return bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])


def main():
    proto = sys.argv[1]
    n = int(sys.argv[2])
    line_len = int(sys.argv[3]) if len(sys.argv) > 3 else 15000
    dport = 80 if proto == "http" else 25
    if proto == "http":
        line = (b"GET /" + b"A" * line_len)[:line_len]
    else:
        line = (b"MAIL FROM:<" + b"A" * line_len)[:line_len]
    greet = b"220 soak.example ESMTP\r\n"
    o = Out(sys.stdout.buffer)
    isn_c, isn_s = 1000, 5000
    for i in range(n):  # handshakes (and the SMTP greeting)
        c, sp = client(i + 1), 1024 + (i % 60000)
        o.put(pkt(c, SRV, sp, dport, isn_c, 0, SYN))
        o.put(pkt(SRV, c, dport, sp, isn_s, isn_c + 1, SYN | ACK))
        o.put(pkt(c, SRV, sp, dport, isn_c + 1, isn_s + 1, ACK))
        if proto == "smtp":
            o.put(pkt(SRV, c, dport, sp, isn_s + 1, isn_c + 1, PSH | ACK, greet))
    srv_next = isn_s + 1 + (len(greet) if proto == "smtp" else 0)
    for k in range(0, line_len, SEG):  # segment k of every flow, flow after flow
        seg = line[k:k + SEG]
        for i in range(n):
            c, sp = client(i + 1), 1024 + (i % 60000)
            o.put(pkt(c, SRV, sp, dport, isn_c + 1 + k, srv_next, PSH | ACK, seg))
    # one normal connection after the flood
    c, sp = bytes([10, 255, 255, 254]), 40000
    cs, ss = isn_c + 1, isn_s + 1
    o.put(pkt(c, SRV, sp, dport, isn_c, 0, SYN))
    o.put(pkt(SRV, c, dport, sp, isn_s, cs, SYN | ACK))
    o.put(pkt(c, SRV, sp, dport, cs, ss, ACK))
    if proto == "http":
        talk = [(1, b"GET /after-the-flood HTTP/1.1\r\nHost: soak.example\r\n\r\n"),
                (0, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")]
    else:
        talk = [(0, greet), (1, b"EHLO client.example\r\n"), (0, b"250 soak.example\r\n"),
                (1, b"MAIL FROM:<after@flood.example>\r\n"), (0, b"250 OK\r\n"),
                (1, b"RCPT TO:<rcpt@soak.example>\r\n"), (0, b"250 OK\r\n"),
                (1, b"DATA\r\n"), (0, b"354 go ahead\r\n"),
                (1, b"Subject: after the flood\r\nFrom: after@flood.example\r\n\r\nhello\r\n.\r\n"),
                (0, b"250 queued\r\n"), (1, b"QUIT\r\n"), (0, b"221 bye\r\n")]
    for frm_client, data in talk:
        if frm_client:
            o.put(pkt(c, SRV, sp, dport, cs, ss, PSH | ACK, data))
            cs += len(data)
            o.put(pkt(SRV, c, dport, sp, ss, cs, ACK))
        else:
            o.put(pkt(SRV, c, dport, sp, ss, cs, PSH | ACK, data))
            ss += len(data)
            o.put(pkt(c, SRV, sp, dport, cs, ss, ACK))
    o.put(pkt(c, SRV, sp, dport, cs, ss, FIN | ACK))
    o.put(pkt(SRV, c, dport, sp, ss, cs + 1, FIN | ACK))
    o.put(pkt(c, SRV, sp, dport, cs + 1, ss + 1, ACK))
    o.flush()


if __name__ == "__main__":
    main()
