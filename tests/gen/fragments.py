#!/usr/bin/env python3
"""fragments.py OUTDIR - write the captures of tests/e2e/test_frag.sh.

Two real-shaped sessions, a browser's HTTP request (client 10.0.0.1:40000 -> server
10.0.0.2:80) and an SMTP delivery (10.0.0.1:40001 -> 10.0.0.3:25), whose client data
segments are sent as IP fragments:

  {http,smtp}-frag8.pcap        IPv4, 8-byte fragments, in order
  {http,smtp}-frag24.pcap       IPv4, 24-byte fragments, in order
  {http,smtp}-frag8-rev.pcap    IPv4, 8-byte fragments, last first
  {http,smtp}-frag24-rev.pcap   IPv4, 24-byte fragments, last first
  {http,smtp}-overlap.pcap      IPv4, one segment as overlapping fragments whose bytes differ
                                (the rest as 24-byte fragments):
      http: the request's path is 24 blocks of 8 bytes sent as the pattern of Novak's
            "Target-Based Fragmentation Reassembly" (nine fragments A..I, then J..P overlapping
            them, then Q); each block is its fragment's letter, so the path a host gets spells
            its policy's result
      smtp: RCPT TO:<bob.office.innocent@example.com>: the fragment [40, 63) "innocent@..."
            (the last one) comes first, then [32, 48) ".office.attacker" over it
  {http,smtp}-v6-frag8.pcap     IPv6 (2001:db8::1 -> ::2 / ::3), 8-byte fragments, in order
  {http,smtp}-v6-frag8-rev.pcap IPv6, 8-byte fragments, last first
  {http,smtp}-v6-atomic.pcap    IPv6, every client segment in an atomic fragment (offset 0,
                                M 0), each after a first fragment of the same id carrying other
                                bytes that never completes
  {http,smtp}-v6-overlap.pcap   IPv6, the request / RCPT segment as three fragments, one
                                overlapping another (the path /evil.php, the recipient
                                mallory@evil.example); the host drops that datagram (RFC 5722)
                                and the client's retransmission, unfragmented, is what it gets

Server segments and the handshake are not fragmented. TCP checksums are right for the
bytes of the unfragmented session (for the overlap captures: of the first version sent).
Pure Python (struct), no dependency.
"""
import os
import struct
import sys

FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
CLI4, CLI6 = bytes([10, 0, 0, 1]), bytes.fromhex("20010db8000000000000000000000001")
HTTP_SRV4, HTTP_SRV6 = bytes([10, 0, 0, 2]), bytes.fromhex("20010db8000000000000000000000002")
SMTP_SRV4, SMTP_SRV6 = bytes([10, 0, 0, 3]), bytes.fromhex("20010db8000000000000000000000003")

# the pattern: (offset, length, letter) relative to the path's first byte
NOVAK = [(0, 24, "A"), (32, 16, "B"), (48, 24, "C"), (80, 8, "D"), (104, 16, "E"),
         (120, 24, "F"), (144, 16, "G"), (160, 16, "H"), (176, 8, "I"),
         (8, 32, "J"), (48, 24, "K"), (72, 24, "L"), (96, 24, "M"), (128, 8, "N"),
         (152, 8, "O"), (160, 8, "P"), (176, 16, "Q")]

HTTP_TAIL = (b" HTTP/1.1\r\nHost: www.example.com\r\n"
             b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
             b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
             b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
             b"Connection: keep-alive\r\n\r\n")
HTTP_PATH = b"/static/js/vendor/jquery-3.7.1.min.js?v=20231204"
HTTP_RESP = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
             b"Content-Length: 13\r\n\r\n<html></html>")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_seg(src, dst, sp, dp, seq, ack, flags, data):
    hdr = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      64240, 0, 0)
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr) + len(data))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(hdr) + len(data), 6)
    c = csum(pseudo + hdr + data)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + data


def eth(payload, v6):
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + (b"\x86\xdd" if v6 else b"\x08\x00") + payload


class Ids:
    n = 0x1000

    @classmethod
    def next(cls):
        cls.n += 1
        return cls.n


def ip4(src, dst, ident, off, mf, payload, df=False):
    fo = (off // 8) | (0x2000 if mf else 0) | (0x4000 if df else 0)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, fo, 64, 6, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return eth(h + payload, False)


def ip6(src, dst, payload, frag=None):
    """frag: (ident, off, m) for a fragment header before payload"""
    if frag is None:
        nh, body = 6, payload
    else:
        ident, off, m = frag
        nh, body = 44, struct.pack("!BBHI", 6, 0, off | (1 if m else 0), ident) + payload
    h = struct.pack("!IHBB16s16s", 6 << 28, len(body), nh, 64, src, dst)
    return eth(h + body, True)


def frags(dgram, size):
    """(offset, bytes, more) of dgram cut into size-byte pieces"""
    out = []
    for off in range(0, len(dgram), size):
        part = dgram[off:off + size]
        out.append((off, part, off + len(part) < len(dgram)))
    return out


class Session:
    """one TCP connection; client data segments go through `send`"""

    def __init__(self, cli, srv, cp, sp, v6):
        self.cli, self.srv, self.cp, self.sp, self.v6 = cli, srv, cp, sp, v6
        self.c, self.s = 1000, 5000
        self.frames = []

    def whole(self, frm_client, seg):
        src, dst = (self.cli, self.srv) if frm_client else (self.srv, self.cli)
        if self.v6:
            self.frames.append(ip6(src, dst, seg))
        else:
            self.frames.append(ip4(src, dst, Ids.next(), 0, False, seg, df=True))

    def seg(self, frm_client, flags, data=b""):
        if frm_client:
            return tcp_seg(self.cli, self.srv, self.cp, self.sp, self.c, self.s, flags, data)
        return tcp_seg(self.srv, self.cli, self.sp, self.cp, self.s, self.c, flags, data)

    def handshake(self):
        self.c -= 1
        self.whole(True, self.seg(True, SYN))
        self.c += 1
        self.s -= 1
        self.whole(False, self.seg(False, SYN | ACK))
        self.s += 1
        self.whole(True, self.seg(True, ACK))

    def server(self, data):
        self.whole(False, self.seg(False, PSH | ACK, data))
        self.s += len(data)
        self.whole(True, self.seg(True, ACK))

    def client(self, data, mode, special=None):
        """mode: how client data is fragmented; special(self, seg) may send it instead"""
        seg = self.seg(True, PSH | ACK, data)
        if special:
            special(self, seg)
        else:
            self.fragment(seg, mode)
        self.c += len(data)

    def fragment(self, seg, mode):
        src, dst = self.cli, self.srv
        ident = Ids.next()
        if mode == "atomic":
            decoy = bytearray(seg[:24])
            decoy[20:24] = b"XXXX"
            self.frames.append(ip6(src, dst, bytes(decoy), (ident, 0, True)))
            self.frames.append(ip6(src, dst, seg, (ident, 0, False)))
            return
        size = 8 if "8" in mode else 24
        parts = frags(seg, size)
        if mode.endswith("rev"):
            parts.reverse()
        for off, part, more in parts:
            if self.v6:
                self.frames.append(ip6(src, dst, part, (ident, off, more)))
            else:
                self.frames.append(ip4(src, dst, ident, off, more, part))

    def close(self):
        self.whole(True, self.seg(True, FIN | ACK))
        self.c += 1
        self.whole(False, self.seg(False, FIN | ACK))
        self.s += 1
        self.whole(True, self.seg(True, ACK))


def novak_request(sess, seg):
    """the request's path region (datagram bytes 32..224) as the Novak pattern"""
    ident = Ids.next()
    assert seg[20:32] == b"GET /static/"
    out = [(0, seg[:32], True)]
    for off, ln, letter in NOVAK:
        out.append((32 + off, letter.encode() * ln, True))
    out += [(o + 224, p, m) for o, p, m in frags(seg[224:], 24)]
    for off, part, more in out:
        sess.frames.append(ip4(sess.cli, sess.srv, ident, off, more, part))


def rcpt_overlap(sess, seg):
    ident = Ids.next()
    assert seg[20:32] == b"RCPT TO:<bob" and seg[40:48] == b"innocent"
    sess.frames.append(ip4(sess.cli, sess.srv, ident, 0, True, seg[:32]))
    sess.frames.append(ip4(sess.cli, sess.srv, ident, 40, False, seg[40:]))
    sess.frames.append(ip4(sess.cli, sess.srv, ident, 32, True, seg[32:40] + b"attacker"))


def v6_overlap(evil):
    """another version of the segment as three fragments, the second overlapping the
    first; then the segment itself, whole (the client's retransmission)"""
    def send(sess, seg):
        ident = Ids.next()
        bad = seg[:20] + evil + seg[20 + len(evil):]
        assert len(bad) == len(seg)
        mid = (len(bad) // 2) // 8 * 8
        sess.frames.append(ip6(sess.cli, sess.srv, bad[:mid], (ident, 0, True)))
        sess.frames.append(ip6(sess.cli, sess.srv, bad[mid - 16:mid + 8], (ident, mid - 16, True)))
        sess.frames.append(ip6(sess.cli, sess.srv, bad[mid:], (ident, mid, False)))
        sess.whole(True, seg)
    return send


def http(mode, v6=False, special=None, path=HTTP_PATH):
    s = Session(CLI6 if v6 else CLI4, HTTP_SRV6 if v6 else HTTP_SRV4, 40000, 80, v6)
    s.handshake()
    s.client(b"GET " + path + HTTP_TAIL, mode, special)
    s.server(HTTP_RESP)
    s.close()
    return s.frames


SMTP_MSG = (b"From: Alice Example <alice@example.org>\r\nTo: Bob <bob.office.innocent@example.com>\r\n"
            b"Subject: quarterly report\r\nDate: Mon, 4 Dec 2023 10:00:00 +0000\r\n"
            b"Message-ID: <20231204100000.4F2A1@example.org>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Hello Bob,\r\n\r\nthe figures are attached as promised.\r\n\r\nAlice\r\n.\r\n")


def smtp(mode, v6=False, rcpt_special=None):
    s = Session(CLI6 if v6 else CLI4, SMTP_SRV6 if v6 else SMTP_SRV4, 40001, 25, v6)
    s.handshake()
    s.server(b"220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n")
    s.client(b"EHLO client.example.org\r\n", mode)
    s.server(b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
             b"250 SMTPUTF8\r\n")
    s.client(b"MAIL FROM:<alice@example.org>\r\n", mode)
    s.server(b"250 2.1.0 Ok\r\n")
    s.client(b"RCPT TO:<bob.office.innocent@example.com>\r\n", mode, rcpt_special)
    s.server(b"250 2.1.5 Ok\r\n")
    s.client(b"DATA\r\n", mode)
    s.server(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    s.client(SMTP_MSG, mode)
    s.server(b"250 2.0.0 Ok: queued as 4F2A1\r\n")
    s.client(b"QUIT\r\n", mode)
    s.server(b"221 2.0.0 Bye\r\n")
    s.close()
    return s.frames


def write(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000, len(p), len(p)))
            f.write(p)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for mode in ("frag8", "frag24", "frag8-rev", "frag24-rev"):
        write(os.path.join(out, "http-%s.pcap" % mode), http(mode))
        write(os.path.join(out, "smtp-%s.pcap" % mode), smtp(mode))
    path = b"/static/" + b"x" * 192
    write(os.path.join(out, "http-overlap.pcap"), http("frag24", special=novak_request, path=path))
    write(os.path.join(out, "smtp-overlap.pcap"), smtp("frag24", rcpt_special=rcpt_overlap))
    for mode in ("frag8", "frag8-rev", "atomic"):
        write(os.path.join(out, "http-v6-%s.pcap" % mode), http(mode, v6=True))
        write(os.path.join(out, "smtp-v6-%s.pcap" % mode), smtp(mode, v6=True))
    evil_req = b"GET /evil.php?cmd=id"
    write(os.path.join(out, "http-v6-overlap.pcap"),
          http("frag24", v6=True, special=v6_overlap(evil_req)))
    write(os.path.join(out, "smtp-v6-overlap.pcap"),
          smtp("frag24", v6=True, rcpt_special=v6_overlap(b"RCPT TO:<mallory@evil.example>\r\n")))


if __name__ == "__main__":
    main()
