#!/usr/bin/env python3
"""Turn a small Ethernet pcap into a fuzz_packets seed (see tests/fuzz/fuzz_packets.c):
byte 0 = link selector (0: Ethernet), then [len:2][time step:1][frame] records."""
import struct, sys

def main(src, dst, maxpkts=60):
    data = open(src, 'rb').read()
    magic = data[:4]
    endian = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    pos, out, n, last = 24, bytearray([0]), 0, None
    while pos + 16 <= len(data) and n < maxpkts:
        sec, frac, incl, orig = struct.unpack(endian + 'IIII', data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + incl][:1400]
        pos += 16 + incl
        step = 0 if last is None else min(255, max(0, int((sec - last) * 4)))
        last = sec
        out += struct.pack('>HB', len(frame), step) + frame
        n += 1
    open(dst, 'wb').write(out)

if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
