#!/usr/bin/env python3
"""stream2seed.py - turn one TCP connection of a capture (classic pcap, Ethernet, IPv4 or
IPv6) into an input of the stream targets (tests/fuzz/stream.c, build/fuzz/fuzz_stream_*):
byte 0 = options (default 0x09: attach the decoder by script, end with FINs), then one
chunk per segment with payload, [ctl][len hi][len lo][payload], ctl bit 0 = from the
server. Retransmitted bytes are left out. The input stops before max_bytes.
Usage: stream2seed.py IN.pcap OUT.bin [conn-index (0)] [options (9)] [max_bytes (12000)]"""
import struct
import sys


def packets(path):
    data = open(path, 'rb').read()
    endian = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + 'I', data[pos + 8:pos + 12])[0]
        yield data[pos + 16:pos + 16 + incl]
        pos += 16 + incl


def tcp_of(fr):
    """(src, dst, sport, dport, seq, flags, payload) or None"""
    if len(fr) < 14:
        return None
    et = fr[12:14]
    if et == b'\x08\x00' and len(fr) >= 34 and fr[23] == 6:
        ihl = (fr[14] & 15) * 4
        tot = struct.unpack('>H', fr[16:18])[0]
        src, dst, seg = fr[26:30], fr[30:34], fr[14 + ihl:14 + tot]
    elif et == b'\x86\xdd' and len(fr) >= 54 and fr[20] == 6:
        plen = struct.unpack('>H', fr[18:20])[0]
        src, dst, seg = fr[22:38], fr[38:54], fr[54:54 + plen]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport, seq = struct.unpack('>HHI', seg[:8])
    return src, dst, sport, dport, seq, seg[13], seg[(seg[12] >> 4) * 4:]


def main(src, dst, conn=0, opts=0x09, limit=12000):
    conns, out, nxt = [], bytearray([opts]), {}
    for fr in packets(src):
        t = tcp_of(fr)
        if t is None:
            continue
        s, d, sp, dp, seq, flags, payload = t
        key = (s, sp, d, dp)
        if flags & 0x12 == 0x02 and key not in conns:  # a SYN: a new connection
            conns.append(key)
        if conn >= len(conns):
            continue
        c = conns[conn]
        if key == c:
            direction = 0
        elif key == (c[2], c[3], c[0], c[1]):
            direction = 1
        else:
            continue
        if flags & 0x02:
            nxt[direction] = (seq + 1) & 0xffffffff
            continue
        if not payload or direction not in nxt:
            continue
        skip = (nxt[direction] - seq) & 0xffffffff
        if skip >= 0x80000000:  # a hole before it: keep the bytes as they come
            skip = 0
        if skip >= len(payload):
            continue  # a retransmission
        payload = payload[skip:]
        if len(out) + 3 + len(payload) > limit:
            break
        out += struct.pack('>BH', direction, len(payload)) + payload
        nxt[direction] = (seq + skip + len(payload)) & 0xffffffff
    open(dst, 'wb').write(out)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], *(int(a, 0) for a in sys.argv[3:]))
