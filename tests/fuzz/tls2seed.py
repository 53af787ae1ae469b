#!/usr/bin/env python3
"""tls2seed.py - turn a TCP capture (classic pcap, Ethernet) of one connection into a
fuzz_tls / fuzz_pop3-style seed: records of [control][payload], control bit 7 = server
direction, payload length (control & 0x3f) + 1 (so at most 64 bytes a record).
Usage: tls2seed.py capture.pcap out.bin [max_bytes]"""
import struct
import sys


def main(src, dst, limit=12000):
    data = open(src, 'rb').read()
    endian = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    pos, out, client = 24, bytearray(), None
    while pos + 16 <= len(data) and len(out) < limit:
        _, _, incl, _ = struct.unpack(endian + 'IIII', data[pos:pos + 16])
        fr = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(fr) < 54 or fr[12:14] != b'\x08\x00' or fr[23] != 6:
            continue
        ihl = (fr[14] & 15) * 4
        tcp = fr[14 + ihl:]
        sport = struct.unpack('>H', tcp[0:2])[0]
        payload = tcp[(tcp[12] >> 4) * 4:]
        if not payload:
            continue
        if client is None:
            client = sport
        d = 0 if sport == client else 0x80
        for i in range(0, len(payload), 64):
            chunk = payload[i:i + 64]
            out += bytes([d | (len(chunk) - 1)]) + chunk
    open(dst, 'wb').write(out[:limit])


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
