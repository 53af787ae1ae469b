#!/usr/bin/env python3
"""replay-pcap.py - repeat the flows of a small capture under fresh addresses,
for measuring throughput (the inputs stay outside the repository).

    replay-pcap.py IN.pcap OUT.pcap MEGABYTES

Each copy of IN gets a fresh client address 10.a.b.c (the server side keeps its
address; the server is the side whose port received a SYN) and timestamps
shifted past the previous copy, so every copy is a new set of flows, in order.
Ethernet, IPv4 and classic little- or big-endian pcap only; checksums are not
updated (the engine does not verify them)."""
import struct
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    data = open(sys.argv[1], "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        e = "<"
    elif magic == 0xD4C3B2A1:
        e = ">"
    else:
        sys.exit("replay-pcap: not a microsecond pcap")
    if struct.unpack(e + "I", data[20:24])[0] != 1:
        sys.exit("replay-pcap: Ethernet only")
    pkts, off = [], 24
    while off + 16 <= len(data):
        ts_s, ts_u, cap, wire = struct.unpack(e + "IIII", data[off:off + 16])
        pkts.append((ts_s * 1000000 + ts_u, wire, data[off + 16:off + 16 + cap]))
        off += 16 + cap
    servers = set()
    for _, _, p in pkts:
        if len(p) >= 34 + 20 and p[12:14] == b"\x08\x00" and p[23] == 6:
            ihl = (p[14] & 15) * 4
            t = 14 + ihl
            if p[t + 13] & 0x12 == 0x02:  # SYN without ACK
                servers.add(struct.unpack(">H", p[t + 2:t + 4])[0])
    t0, t1 = pkts[0][0], pkts[-1][0]
    span = t1 - t0 + 1000
    limit = int(float(sys.argv[3]) * 1e6)
    out = open(sys.argv[2], "wb")
    out.write(data[:24])
    written, i = 24, 0
    while written < limit:
        i += 1
        addr = bytes((10, (i >> 16) & 255, (i >> 8) & 255, i & 255))
        shift = i * span
        for ts, wire, p in pkts:
            q = bytearray(p)
            if len(q) >= 34 and q[12:14] == b"\x08\x00":
                ihl = (q[14] & 15) * 4
                t = 14 + ihl
                if len(q) >= t + 4 and q[23] in (6, 17):
                    dport = struct.unpack(">H", q[t + 2:t + 4])[0]
                    if dport in servers:
                        q[26:30] = addr
                    else:
                        q[30:34] = addr
            ts += shift
            out.write(struct.pack(e + "IIII", ts // 1000000, ts % 1000000, len(q), wire))
            out.write(q)
            written += 16 + len(q)
    out.close()
    print("%d copies, %d bytes" % (i, written))


main()
