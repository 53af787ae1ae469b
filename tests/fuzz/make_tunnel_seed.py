#!/usr/bin/env python3
"""Write the fuzz_packets seed tests/fuzz/seeds/tunnels.bin (see tests/fuzz/fuzz_packets.c):
one TCP exchange (SYN, SYN-ACK, a request, its reply) inside each encapsulation engine/tunnel.c
decodes - GRE with checksum/key/sequence, GRE/Ethernet, ERSPAN II and III, PPTP enhanced GRE,
VXLAN, Geneve with options, GTP-U with an extension header - and VXLAN inside GRE.
Usage: make_tunnel_seed.py [OUT]"""
import struct, sys

def ip4(proto, src, dst, payload):
    return struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                       bytes(src), bytes(dst)) + payload

def eth(etype, payload):
    return bytes(range(1, 13)) + struct.pack('>H', etype) + payload

def udp(sport, dport, payload):
    return struct.pack('>HHHH', sport, dport, 8 + len(payload), 0) + payload

def tcp(sport, dport, seq, ack, flags, data=b''):
    return struct.pack('>HHIIBBHHH', sport, dport, seq, ack, 0x50, flags, 65535, 0, 0) + data

A, B = (10, 0, 0, 1), (10, 0, 0, 2)
O1, O2 = (172, 16, 0, 1), (172, 16, 0, 2)

def inner_packets():
    req, rep = b'GET / HTTP/1.1\r\nHost: a\r\n\r\n', b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
    return [ip4(6, A, B, tcp(1234, 80, 1000, 0, 0x02)),
            ip4(6, B, A, tcp(80, 1234, 5000, 1001, 0x12)),
            ip4(6, A, B, tcp(1234, 80, 1001, 5001, 0x18, req)),
            ip4(6, B, A, tcp(80, 1234, 5001, 1001 + len(req), 0x18, rep))]

def gre(hdr, inner):
    return eth(0x0800, ip4(47, O1, O2, hdr + inner))

def over_udp(sport, dport, hdr, inner):
    return eth(0x0800, ip4(17, O1, O2, udp(sport, dport, hdr + inner)))

def wraps():
    yield lambda p: gre(bytes.fromhex('b0000800') + bytes(4) + struct.pack('>II', 42, 1), p)
    yield lambda p: gre(bytes.fromhex('00006558'), eth(0x0800, p))
    yield lambda p: gre(bytes.fromhex('100088be00000003') + bytes.fromhex('1064000500000000'), eth(0x0800, p))
    yield lambda p: gre(bytes.fromhex('100022eb00000003') + bytes.fromhex('20640005010203040000') + b'\x00\x01' + bytes(8),
                        eth(0x0800, p))
    yield lambda p: gre(bytes.fromhex('3001880b') + struct.pack('>HHI', len(p) + 4, 5, 1) + b'\xff\x03\x00\x21', p)
    yield lambda p: over_udp(50000, 4789, bytes.fromhex('0800000000123400'), eth(0x0800, p))
    yield lambda p: over_udp(40000, 6081, bytes.fromhex('0200655800000a00') + bytes.fromhex('0102030100000000'),
                             eth(0x0800, p))
    yield lambda p: over_udp(2152, 2152, bytes([0x36, 0xff]) + struct.pack('>H', 8 + len(p)) +
                             bytes.fromhex('000000070001008501100500'), p)
    yield lambda p: gre(bytes.fromhex('00000800'),
                        ip4(17, O2, O1, udp(50001, 4789, bytes.fromhex('0800000000000100') + eth(0x0800, p)))[0:])

def main(out):
    rec = bytearray([0])
    for w in wraps():
        for i, p in enumerate(inner_packets()):
            f = w(p)
            rec += struct.pack('>HB', len(f), 1 if i == 0 else 0) + f
    open(out, 'wb').write(rec)

if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'tests/fuzz/seeds/tunnels.bin')
