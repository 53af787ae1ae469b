#!/usr/bin/env python3
# sip-call.py - a small SIP UAC and UAS (RFC 3261) that talk over real sockets on 127.0.0.1,
# used by tests/tools/make-sip-pcaps.sh to make the SIP captures in pcaps/ (Debian 12 has no
# SIPp; sipsak only sends single requests, so a whole call needs this generator). The kernel
# does the UDP datagrams and the TCP segmentation; nothing here writes packets by hand.
#
#   sip-call.py call udp|tcp SIP_PORT RTP_BASE    a whole call: INVITE (SDP offer), 100, 180,
#                                                 200 (SDP answer), ACK, RTP and RTCP both
#                                                 ways between the SDP endpoints, BYE, 200
#   sip-call.py serve SIP_PORT SECONDS            a UDP UAS answering every request 200 OK
#                                                 (for sipsak's OPTIONS), then exit
#
# Over TCP, the INVITE is written in three pieces (TCP_NODELAY, pauses), so one message spans
# several segments, and 100 Trying + 180 Ringing go in one write (one segment, two messages).
# The BYE and its 200 use compact header forms (i, f, t, v, l, m). The UAC's SDP offers
# RTP_BASE (RTCP RTP_BASE+1), the UAS answers RTP_BASE+2 (RTCP +3).
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"


def sdp(port, sess):
    return ("v=0\r\n"
            "o=- %d 1 IN IP4 127.0.0.1\r\n"
            "s=%s\r\n"
            "c=IN IP4 127.0.0.1\r\n"
            "t=0 0\r\n"
            "m=audio %d RTP/AVP 0 8 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            "a=sendrecv\r\n" % (port, sess, port))


def msg(start, headers, body=""):
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    return (start + "\r\n" + h + "Content-Length: %d\r\n\r\n" % len(body.encode()) + body).encode()


def compact(start, headers, body=""):
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    return (start + "\r\n" + h + "l: %d\r\n\r\n" % len(body.encode()) + body).encode()


class Dialog:
    def __init__(self, transport, uac_port, uas_port):
        t = transport.upper()
        self.t = t
        self.call_id = "call-%s-4711@127.0.0.1" % transport
        self.frm = '"Alice" <sip:alice@127.0.0.1:%d>;tag=a1ce' % uac_port
        self.to = "<sip:bob@127.0.0.1:%d>" % uas_port
        self.to_tag = self.to + ";tag=b0b"
        self.via = lambda br: "SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (t, uac_port, br)
        self.ruri = "sip:bob@127.0.0.1:%d;transport=%s" % (uas_port, transport)
        self.contact_uac = "<sip:alice@127.0.0.1:%d;transport=%s>" % (uac_port, transport)
        self.contact_uas = "<sip:bob@127.0.0.1:%d;transport=%s>" % (uas_port, transport)

    def invite(self, rtp):
        return msg("INVITE %s SIP/2.0" % self.ruri, [
            ("Via", self.via("inv1")), ("Max-Forwards", "70"), ("From", self.frm), ("To", self.to),
            ("Call-ID", self.call_id), ("CSeq", "1 INVITE"), ("Contact", self.contact_uac),
            ("User-Agent", "sip-call.py UAC"), ("Content-Type", "application/sdp")],
            sdp(rtp, "offer"))

    def resp(self, code, reason, req_via, cseq, to, body="", ctype=None):
        h = [("Via", req_via), ("From", self.frm), ("To", to), ("Call-ID", self.call_id),
             ("CSeq", cseq), ("Server", "sip-call.py UAS")]
        if code >= 200 and code < 300 and cseq.endswith("INVITE"):
            h.append(("Contact", self.contact_uas))
        if ctype:
            h.append(("Content-Type", ctype))
        return msg("SIP/2.0 %d %s" % (code, reason), h, body)

    def ack(self):
        return msg("ACK %s SIP/2.0" % self.ruri, [
            ("Via", self.via("ack1")), ("Max-Forwards", "70"), ("From", self.frm),
            ("To", self.to_tag), ("Call-ID", self.call_id), ("CSeq", "1 ACK")])

    def bye(self):
        return compact("BYE %s SIP/2.0" % self.ruri, [
            ("v", self.via("bye1")), ("Max-Forwards", "70"), ("f", self.frm), ("t", self.to_tag),
            ("i", self.call_id), ("CSeq", "2 BYE"), ("m", self.contact_uac)])

    def bye_ok(self):
        return compact("SIP/2.0 200 OK", [
            ("v", self.via("bye1")), ("f", self.frm), ("t", self.to_tag), ("i", self.call_id),
            ("CSeq", "2 BYE")])


def rtp_exchange(base):
    """a few RTP datagrams each way between base and base+2, one RTCP SR each way"""
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind((HOST, base))
    b.bind((HOST, base + 2))
    ac = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ac.bind((HOST, base + 1))
    bc.bind((HOST, base + 3))
    for i in range(5):
        for s, dst, ssrc in ((a, base + 2, 0x11111111), (b, base, 0x22222222)):
            hdr = struct.pack("!BBHII", 0x80, 0, 1000 + i, 160 * i, ssrc)
            s.sendto(hdr + bytes([0xff]) * 160, (HOST, dst))
        time.sleep(0.02)
    for s, dst, ssrc in ((ac, base + 3, 0x11111111), (bc, base + 1, 0x22222222)):
        sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 0, 0, 0, 5, 800)
        s.sendto(sr, (HOST, dst))
    time.sleep(0.05)
    for s in (a, b, ac, bc):
        s.close()


def call_udp(port, rtp):
    uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uas.bind((HOST, port))
    uac = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uac.bind((HOST, port + 2))
    d = Dialog("udp", port + 2, port)
    dst_uas, dst_uac = (HOST, port), (HOST, port + 2)
    uac.sendto(d.invite(rtp), dst_uas)
    uas.recvfrom(65535)
    via = d.via("inv1")
    uas.sendto(d.resp(100, "Trying", via, "1 INVITE", d.to), dst_uac)
    uas.sendto(d.resp(180, "Ringing", via, "1 INVITE", d.to_tag), dst_uac)
    uas.sendto(d.resp(200, "OK", via, "1 INVITE", d.to_tag, sdp(rtp + 2, "answer"),
                      "application/sdp"), dst_uac)
    for _ in range(3):
        uac.recvfrom(65535)
    uac.sendto(d.ack(), dst_uas)
    uas.recvfrom(65535)
    rtp_exchange(rtp)
    uac.sendto(d.bye(), dst_uas)
    uas.recvfrom(65535)
    uas.sendto(d.bye_ok(), dst_uac)
    uac.recvfrom(65535)


def recv_msg(sock, buf):
    """one SIP message from a TCP stream (Content-Length framing); returns (msg, rest)"""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65535)
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() in (b"content-length", b"l"):
            n = int(v)
    while len(rest) < n:
        rest += sock.recv(65535)
    return head + b"\r\n\r\n" + rest[:n], rest[n:]


def call_tcp(port, rtp):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, port))
    ls.listen(1)
    uac = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    uac.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    uac.connect((HOST, port))
    uac_port = uac.getsockname()[1]
    uas, _ = ls.accept()
    uas.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    d = Dialog("tcp", uac_port, port)
    inv = d.invite(rtp)
    for piece in (inv[:20], inv[20:200], inv[200:]):  # one message, three segments
        uac.sendall(piece)
        time.sleep(0.05)
    buf_uas, buf_uac = b"", b""
    _, buf_uas = recv_msg(uas, buf_uas)
    via = d.via("inv1")
    uas.sendall(d.resp(100, "Trying", via, "1 INVITE", d.to) +
                d.resp(180, "Ringing", via, "1 INVITE", d.to_tag))  # two messages, one segment
    time.sleep(0.05)
    uas.sendall(d.resp(200, "OK", via, "1 INVITE", d.to_tag, sdp(rtp + 2, "answer"),
                       "application/sdp"))
    for _ in range(3):
        _, buf_uac = recv_msg(uac, buf_uac)
    uac.sendall(d.ack())
    _, buf_uas = recv_msg(uas, buf_uas)
    rtp_exchange(rtp)
    uac.sendall(d.bye())
    _, buf_uas = recv_msg(uas, buf_uas)
    uas.sendall(d.bye_ok())
    _, buf_uac = recv_msg(uac, buf_uac)
    uac.close()
    uas.close()
    ls.close()


def serve(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, port))
    s.settimeout(0.2)
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        if not head or head[0].startswith("SIP/2.0"):
            continue
        keep = [l for l in head[1:] if l.split(":", 1)[0].strip().lower() in
                ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
        keep = [l + ";tag=srv1" if l.split(":", 1)[0].strip().lower() in ("to", "t") and
                "tag=" not in l else l for l in keep]
        out = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + \
            "\r\nServer: sip-call.py\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n" \
            "Content-Length: 0\r\n\r\n"
        s.sendto(out.encode(), peer)


if __name__ == "__main__":
    if sys.argv[1] == "call":
        (call_udp if sys.argv[2] == "udp" else call_tcp)(int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
