#!/usr/bin/env python3
"""evasion.py OUTDIR - write the captures of tests/e2e/test_evasion.sh.

Each is one HTTP exchange (client 10.0.0.1:40000 -> server 10.0.0.2:80) into which
packets the server's host would not accept are injected: a segment with a bad TCP
checksum, one with a bad IPv4 header checksum, one whose TTL expires before the host,
data on the SYN (taken with TCP Fast Open, refused without), an out-of-window RST.
Then what the server's receive window lets in (window_tests): a segment past a small
window, the same bytes acknowledged after all, zero-window probes, urgent data; and an
SMTP session where clear text follows an accepted STARTTLS (starttls_cleartext).
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
            bad_tcp=False, bad_ip=False, opts=b"", urp=0):
    opts += b"\0" * (-len(opts) % 4)
    off = (5 + len(opts) // 4) << 4
    hdr = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off, flags, win, 0, urp) + opts
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr) + len(data))
    c = csum(pseudo + hdr + data)
    if bad_tcp:
        c ^= 0x5A5A
    hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(hdr) + len(data), 1, 0x4000, ttl, 6, 0, src, dst)
    ic = csum(ip)
    if bad_ip:
        ic ^= 0x1234
    ip = ip[:10] + struct.pack("!H", ic) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + hdr + data


FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32


def wscale(n):
    """the window scale option (kind 3), after a NOP"""
    return b"\x01\x03\x03" + bytes([n])


class Conv:
    def __init__(self, sp=SP):
        self.pkts = []
        self.c, self.s = ISN_C + 1, ISN_S + 1
        self.sp = sp

    def add(self, frm_client, flags, data=b"", seq=None, ack=None, **kw):
        if frm_client:
            p = tcp_pkt(CLI, SRV, CP, self.sp, self.c if seq is None else seq,
                        self.s if ack is None else ack, flags, data, **kw)
        else:
            p = tcp_pkt(SRV, CLI, self.sp, CP, self.s if seq is None else seq,
                        self.c if ack is None else ack, flags, data, **kw)
        self.pkts.append(p)

    def handshake(self, cws=None, sws=None, swin=65535):
        """the SYNs offer window scaling when cws and sws are given (shift counts); swin:
        the SYN-ACK's window (never scaled)"""
        self.add(True, SYN, seq=ISN_C, ack=0, opts=wscale(cws) if cws is not None else b"")
        self.add(False, SYN | ACK, seq=ISN_S, ack=ISN_C + 1, win=swin,
                 opts=wscale(sws) if sws is not None else b"")
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

    window_tests(out)
    smtp_window_tests(out)
    starttls_cleartext(out)


def window_tests(out):
    """what the server's host takes when its window is small or zero (window scale 2:
    the window field counts 4-byte units once the handshake is over)"""
    def start():
        v = Conv()
        v.handshake(cws=7, sws=2, swin=8)  # the server offers 8 bytes
        v.add(False, ACK, win=2)          # still 8 (2 units of 4)
        v.send(True, b"GET /evi")         # they fill it
        return v

    rest = b"l0001 HTTP/1.1\r\nHost: x\r\n\r\n"
    # past the window: the host drops the segment; the client sends the real bytes once
    # the window opens
    v = start()
    v.add(False, ACK, win=0)              # acknowledged, nothing free
    v.add(True, PSH | ACK, b"nnocent HTTP/1.1\r\nHost: x\r\n\r\n")
    v.add(False, ACK, win=64)             # the window opens (256 bytes)
    v.send(True, rest)
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "window-past.pcap"), v.pkts)

    # the same bytes past the window the capture knows, then acknowledged: the capture
    # missed the window update the client had seen; the host took them
    v = start()
    v.add(False, ACK, win=0)
    v.send(True, rest)
    v.add(False, ACK, win=64)             # acknowledges them
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "window-acked.pcap"), v.pkts)

    # the server takes back what it offered: 16 bytes, then (8 acknowledged) none
    v = Conv()
    v.handshake(cws=7, sws=2, swin=16)
    v.send(True, b"GET /evi")
    v.add(False, ACK, win=0)              # the edge moves back 8 bytes
    v.add(False, ACK, win=64)
    v.send(True, rest)
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "window-shrunk.pcap"), v.pkts)

    # zero-window probes: a byte sent into a zero window is dropped by the host; the
    # real one comes when the window opens. Same byte as the data, then another byte.
    for name, probe in (("zwp-same", b"l"), ("zwp-other", b"X")):
        v = start()
        v.add(False, ACK, win=0)
        v.add(True, PSH | ACK, probe)     # the probe
        v.add(False, ACK, win=0)          # not taken: still acknowledging the same byte
        v.add(True, PSH | ACK, probe)     # again
        v.add(False, ACK, win=64)         # the window opens, the probe was not taken
        v.send(True, rest)
        v.send(False, RESP)
        v.close()
        write(os.path.join(out, name + ".pcap"), v.pkts)

    # a probe the host took (its window had opened): acknowledged, delivered once
    v = start()
    v.add(False, ACK, win=0)
    v.add(True, PSH | ACK, b"l")
    v.c += 1
    v.add(False, ACK, win=64)             # acknowledges the probe byte
    v.send(True, rest[1:])
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "zwp-acked.pcap"), v.pkts)

    # urgent data: "X" is the urgent byte (pointer 1: the byte after it, RFC 6093)
    v = Conv()
    v.handshake()
    v.send(True, b"GET /evi")
    v.add(True, PSH | ACK | URG, b"X" + rest, urp=1)
    v.c += 1 + len(rest)
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "urgent.pcap"), v.pkts)

    # the urgent pointer of a segment points into the next one (pointer 9 on "GET /evi":
    # the urgent byte is the 9th, the "X" that follows)
    v = Conv()
    v.handshake()
    v.add(True, PSH | ACK | URG, b"GET /evi", urp=9)
    v.c += 8
    v.send(True, b"X" + rest)
    v.send(False, RESP)
    v.close()
    write(os.path.join(out, "urgent-later.pcap"), v.pkts)


def smtp_window_tests(out):
    """an SMTP session whose server offers a 32-byte window (no scaling): a RCPT TO past it
    that the host drops, the real one once the window opens; urgent data in MAIL FROM"""
    def session(evil):
        v = Conv(sp=25)
        v.handshake(swin=32)
        v.send(False, b"220 mail.example.org ESMTP\r\n", win=32)
        v.send(True, b"HELO client\r\n")
        v.send(False, b"250 mail.example.org\r\n", win=17)  # room for MAIL FROM
        v.send(True, b"MAIL FROM:<a@b>\r\n")
        v.send(False, b"250 2.1.0 Ok\r\n", win=0)
        evil(v)
        v.send(False, b"250 2.1.5 Ok\r\n")
        v.send(True, b"QUIT\r\n")
        v.send(False, b"221 2.0.0 Bye\r\n")
        v.close()
        return v.pkts

    def past(v):
        v.add(True, PSH | ACK, b"RCPT TO:<innocent@example.org>\r\n")  # into the zero window
        v.add(False, ACK, win=512)                                       # the window opens
        v.send(True, b"RCPT TO:<victim@example.org>\r\n")
    write(os.path.join(out, "smtp-window-past.pcap"), session(past))

    def urgent(v):
        v.add(False, ACK, win=512)
        v.add(True, PSH | ACK | URG, b"RCPT TO:<vXictim@example.org>\r\n", urp=11)
        v.c += 31
    write(os.path.join(out, "smtp-urgent.pcap"), session(urgent))


def starttls_cleartext(out):
    """an SMTP session: STARTTLS accepted, then the client goes on in clear text"""
    v = Conv(sp=25)
    v.handshake()
    v.send(False, b"220 mail.example.org ESMTP\r\n")
    v.send(True, b"EHLO client.example.org\r\n")
    v.send(False, b"250-mail.example.org\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
    v.send(True, b"STARTTLS\r\n")
    v.send(False, b"220 2.0.0 Ready to start TLS\r\n")
    v.send(True, b"MAIL FROM:<attacker@example.org>\r\n")
    v.send(False, b"250 2.1.0 Ok\r\n")
    v.send(True, b"RCPT TO:<victim@example.org>\r\n")
    v.send(False, b"250 2.1.5 Ok\r\n")
    v.send(True, b"QUIT\r\n")
    v.send(False, b"221 2.0.0 Bye\r\n")
    v.close()
    write(os.path.join(out, "starttls-cleartext.pcap"), v.pkts)


if __name__ == "__main__":
    main()
