#!/usr/bin/env python3
"""Turn a small Ethernet/IPv4 pcap of DNS into a fuzz_dns seed (tests/fuzz/fuzz_dns.c):
byte 0 = transport (0 UDP, 1 TCP), then [control][n - 1][n bytes] records, one per UDP
datagram or TCP segment payload (bit 7 of control: from port 53). Payloads over 256 bytes
are cut.   dns2seed.py IN.pcap OUT.bin [tcp]"""
import struct, sys

def main(src, dst, tcp):
    data = open(src, 'rb').read()
    endian = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    pos, out = 24, bytearray([1 if tcp else 0])
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + 'I', data[pos + 8:pos + 12])[0]
        f = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(f) < 34 or f[12:14] != b'\x08\x00':
            continue
        ihl = (f[14] & 15) * 4
        proto, l4 = f[23], f[14 + ihl:]
        if tcp and proto == 6:
            sport = struct.unpack('>H', l4[:2])[0]
            pay = l4[(l4[12] >> 4) * 4:]
        elif not tcp and proto == 17:
            sport = struct.unpack('>H', l4[:2])[0]
            pay = l4[8:]
        else:
            continue
        if not pay:
            continue
        pay = pay[:256]
        out += bytes([0x80 if sport == 53 else 0, len(pay) - 1]) + pay
    open(dst, 'wb').write(out)

if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], len(sys.argv) > 3)
